/*
 * Inside SMB2/3 (MS-SMB2): what smb2.c (header, compounds, negotiate,
 * sessions, trees) and smb2_file.c (create, read, write, ioctl, info,
 * large writes) share.  Nothing outside them includes this.
 */
#ifndef SUNDEW_SMB2_INT_H
#define SUNDEW_SMB2_INT_H

#include <stddef.h>
#include <stdint.h>

struct smb_conn;

#define SMB2_HDR		64

/* Commands (MS-SMB2 2.2.1.2). */
#define SMB2_NEGOTIATE		0x00
#define SMB2_SESSION_SETUP	0x01
#define SMB2_LOGOFF		0x02
#define SMB2_TREE_CONNECT	0x03
#define SMB2_TREE_DISCONNECT	0x04
#define SMB2_CREATE		0x05
#define SMB2_CLOSE		0x06
#define SMB2_FLUSH		0x07
#define SMB2_READ		0x08
#define SMB2_WRITE		0x09
#define SMB2_LOCK		0x0a
#define SMB2_IOCTL		0x0b
#define SMB2_CANCEL		0x0c
#define SMB2_ECHO		0x0d
#define SMB2_QUERY_DIRECTORY	0x0e
#define SMB2_CHANGE_NOTIFY	0x0f
#define SMB2_QUERY_INFO		0x10
#define SMB2_SET_INFO		0x11

/* Header flags. */
#define SMB2_FLAGS_SERVER_TO_REDIR	0x00000001
#define SMB2_FLAGS_ASYNC_COMMAND	0x00000002
#define SMB2_FLAGS_RELATED		0x00000004
#define SMB2_FLAGS_SIGNED		0x00000008

/* Statuses smb_int.h does not list. */
#define SMB2_NOT_FOUND			0xc0000225
#define SMB2_INVALID_DEVICE_REQUEST	0xc0000010
#define SMB2_INVALID_INFO_CLASS		0xc0000003
#define SMB2_FILE_CLOSED		0xc0000128
#define SMB2_NO_PREAUTH_OVERLAP		0xc05d0000

/* Dialects. */
#define SMB2_DIALECT_202	0x0202
#define SMB2_DIALECT_210	0x0210
#define SMB2_DIALECT_300	0x0300
#define SMB2_DIALECT_302	0x0302
#define SMB2_DIALECT_311	0x0311
#define SMB2_DIALECT_WILD	0x02ff

/* The most one compound answer may take (a READ's data is capped below). */
#define SMB2_OUT_MAX		(256u * 1024)
/* The most data one READ or IOCTL answers with (a short read past it). */
#define SMB2_DATA_MAX		(64u * 1024)

/* A WRITE larger than SMB_FRAME_MAX, taken in pieces. */
struct smb2_large {
	int		 active;
	uint8_t		 hdr[SMB2_HDR];	/* the request's, for the answer */
	struct smb_file	*file;		/* NULL: answered with status */
	uint32_t	 status;
	size_t		 skip;		/* bytes before the data */
	size_t		 left;		/* data bytes still due */
	uint32_t	 count;		/* data length, for the answer */
	uint64_t	 off;		/* where the next bytes go in the file */
};

/* What smb2 keeps of a session, made at its first SMB2 message. */
struct smb2_state {
	uint64_t	 sid;		/* the session given, 0: none yet */
	uint16_t	 nsess;		/* sessions given on the connection */
	int		 anonymous;	/* the last login was the null session */
	/* The client's negotiate, for FSCTL_VALIDATE_NEGOTIATE_INFO. */
	uint32_t	 client_caps;
	uint16_t	 client_secmode;
	uint8_t		 negotiated;	/* an SMB2 NEGOTIATE was answered */
	uint8_t		 client_guid[16];
	/* Signing, when the login's key is known (smb2_sign.c). */
	int		 signing;	/* SMB2_SIGN_* */
	uint8_t		 sign_key[16];
	uint8_t		 preauth_conn[64];	/* 3.1.1: after the negotiate */
	uint8_t		 preauth_sess[64];	/* ... and the session setup */
	/* Per slot of sc->files: opened as a directory; listed already. */
	uint16_t	 dirs, listed;
	struct smb2_large large;
};

#define SMB2_SIGN_NONE	0
#define SMB2_SIGN_HMAC	1		/* 2.0.2, 2.1: HMAC-SHA256 */
#define SMB2_SIGN_CMAC	2		/* 3.x: AES-128-CMAC */

/* One command of a (compound) request, its header parsed. */
struct smb2_req {
	const uint8_t	*msg;		/* from its header; offsets count from here */
	size_t		 len;		/* to NextCommand, or the frame's end */
	size_t		 at;		/* msg's offset in the session's input */
	const uint8_t	*body;		/* msg + SMB2_HDR */
	size_t		 bodylen;
	uint16_t	 cmd;
	uint16_t	 credits;	/* asked */
	uint16_t	 charge;
	uint32_t	 flags;
	uint64_t	 mid;
	uint32_t	 tid;		/* related: resolved from the previous */
	uint64_t	 sid;
};

/* The answer being built for one frame, and the compound's chain. */
struct smb2_out {
	struct smb_conn	*sc;
	struct smb2_state *s;
	uint8_t		*buf;
	size_t		 len, cap;
	size_t		 last;		/* the previous answer's offset */
	int		 nreplies;
	uint16_t	 fid;		/* the last CREATE's, for related ops */
	int		 have_fid;
	uint32_t	 create_status;	/* ... or how it failed */
};

/* smb2.c */
/*
 * Room for a response body of n bytes (zeroed) after its header; NULL if
 * the answer would pass SMB2_OUT_MAX.
 */
uint8_t	*smb2_body(struct smb2_out *, size_t n);
/* Ends the response started by smb2_body(): header of req, status, n. */
void	 smb2_done(struct smb2_out *, const struct smb2_req *, uint32_t status,
	    size_t n);
/* An error response (2.2.2); 0, or -1. */
int	 smb2_error(struct smb2_out *, const struct smb2_req *, uint32_t status);
/* A simple response of a 4-byte body {size, 0}: ECHO, LOGOFF ...; 0 or -1. */
int	 smb2_small(struct smb2_out *, const struct smb2_req *, uint16_t size);
/* Signs what asks for it and sends the answer; 0, or -1. */
int	 smb2_send(struct smb2_out *);
/* A buffer (offset, length) inside req: 0 with *p set, or -1. */
int	 smb2_buf(const struct smb2_req *, size_t off, size_t len,
	    const uint8_t **p);
/* The capabilities the host announces for a dialect to a client's. */
uint32_t smb2_caps(uint16_t dialect, uint32_t client);
/* The state, made on first use; NULL if out of memory. */
struct smb2_state *smb2_state(struct smb_conn *);

/* smb2_sign.c */
/* The preauth integrity hash h over one more message (3.1.1). */
void	smb2_preauth(uint8_t h[64], const uint8_t *msg, size_t len);
/* Signing from now on with the session key of a login; 0, or -1. */
int	smb2_sign_begin(struct smb2_state *, uint16_t dialect,
	    const uint8_t key[16]);
/* Signs one message of len bytes in place (if signing); 0, or -1. */
int	smb2_sign(const struct smb2_state *, uint8_t *msg, size_t len);

/* smb2_file.c: each 0, or -1 (protocol_error). */
int	smb2_create(struct smb2_out *, const struct smb2_req *);
int	smb2_close(struct smb2_out *, const struct smb2_req *);
int	smb2_read(struct smb2_out *, const struct smb2_req *);
int	smb2_write(struct smb2_out *, const struct smb2_req *);
int	smb2_ioctl(struct smb2_out *, const struct smb2_req *);
int	smb2_query_info(struct smb2_out *, const struct smb2_req *);
int	smb2_query_directory(struct smb2_out *, const struct smb2_req *);

#endif
