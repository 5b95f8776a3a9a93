/*
 * Inside the SMB emulator: the session state that NetBIOS framing
 * (smb.c), SMB1 (smb1.c), SMB1 transactions with EternalBlue and
 * DoublePulsar (smb1_trans.c, doublepulsar.c) and SMB2/3 (smb2.c) share.
 *
 * Leniency is deliberate: an exploit must believe it has won, so unknown
 * user, tree and file ids are accepted as the last ones given.
 */
#ifndef SUNDEW_SMB_INT_H
#define SUNDEW_SMB_INT_H

#include <stddef.h>
#include <stdint.h>

#include "ntlm.h"

struct conn;
struct dce;
struct host_share;
struct smb1_trans;
struct smb2_state;
struct smb_dp;

/* An NBSS message held whole; a larger one only as an SMB2 WRITE. */
#define SMB_FRAME_MAX	(128u * 1024)
#define SMB_MAX_TREES	8
#define SMB_MAX_FILES	16
/* A file written to a disk share is kept up to this much, then stored. */
#define SMB_FILE_MAX	(8u * 1024 * 1024)

/* NT status codes the emulator answers with (MS-ERREF 2.3). */
#define SMB_OK				0x00000000
#define SMB_MORE_PROCESSING		0xc0000016
#define SMB_NOT_IMPLEMENTED		0xc0000002
#define SMB_INVALID_PARAMETER		0xc000000d
#define SMB_ACCESS_DENIED		0xc0000022
#define SMB_OBJECT_NAME_NOT_FOUND	0xc0000034
#define SMB_BAD_NETWORK_NAME		0xc00000cc
#define SMB_NOT_SUPPORTED		0xc00000bb
#define SMB_INSUFF_SERVER_RESOURCES	0xc0000205
#define SMB_BUFFER_OVERFLOW		0x80000005
#define SMB_PIPE_EMPTY			0xc00000d9
#define SMB_END_OF_FILE			0xc0000011
#define SMB_INVALID_HANDLE		0xc0000008
#define SMB_NO_MORE_FILES		0x80000006

/* The dialect the session speaks. */
#define SMB_DIALECT_NONE	0
#define SMB_DIALECT_LANMAN	1	/* a LANMAN dialect of SMB1 */
#define SMB_DIALECT_NT1		2	/* NT LM 0.12 */
/* SMB2: the dialect revision itself (0x0202, 0x0210, 0x0300, ...). */

struct smb_tree {
	uint16_t		 tid;		/* 0: free */
	const struct host_share	*share;
};

struct smb_file {
	uint16_t	 fid;		/* 0: free; SMB2: both halves of FileId */
	uint16_t	 tid;
	char		 name[64];	/* as opened, in ASCII, '?' for the rest */
	/* A write went past a cap (or never ended): never stored. */
	int		 cut;
	struct dce	*dce;		/* a named pipe's endpoint */
	uint8_t		*data;		/* a file on a disk share: what came */
	size_t		 len;		/* its end, never past cap */
	size_t		 cap;
};

struct smb_conn {
	struct conn		*c;
	int			 netbios;	/* port 139: session request first */
	int			 nb_ready;	/* it was answered */
	int			 netdde;	/* 139: a NetDDE session, not SMB */
	int			 dialect;	/* SMB_DIALECT_*, or SMB2's */
	uint32_t		 seen;		/* exploit bits (exploit.h) */
	size_t			 in_at;		/* input offset of this message */
	uint16_t		 next_uid, next_tid, next_fid;
	uint16_t		 uid;		/* the last given */
	struct ntlm_state	 ntlm;
	struct smb_tree		 trees[SMB_MAX_TREES];
	struct smb_file		 files[SMB_MAX_FILES];
	size_t			 file_mem;	/* what files' data holds */
	uint16_t		 nevents;	/* sundew.request events said */
	uint32_t		 dce_events;	/* its pipes' (dcerpc.h) */
	uint16_t		 nstored;	/* files stored */
	uint16_t		 nsetups;	/* session setups taken */
	struct smb1_trans	*trans;		/* smb1_trans.c: in progress */
	struct smb_dp		*dp;		/* doublepulsar.c: an upload */
	struct smb2_state	*s2;		/* smb2.c */
	/* An SMB2 frame larger than SMB_FRAME_MAX: bytes of it still due. */
	size_t			 large_left;
};

/* smb.c: the session's trees and files, NetBIOS framing, events. */

/* Sends one SMB message (SMB1 or SMB2) in its NBSS frame; 0, or -1. */
int	smb_send(struct smb_conn *, const void *msg, size_t len);
/* A new tree for a share; NULL if all are taken. */
struct smb_tree	*smb_tree_add(struct smb_conn *, const struct host_share *);
/* The share of a tree id; an unknown tid is taken as the last tree. */
const struct host_share *smb_tree_share(struct smb_conn *, uint16_t tid);
void	smb_tree_del(struct smb_conn *, uint16_t tid);
/*
 * Opens name (UTF-16LE when unicode, else ASCII; "\\PIPE\\", "\\" and
 * case ignored) on tree tid: a named pipe on IPC$ that the host serves
 * (a DCERPC endpoint), or a file on a disk share.  NULL with *status set
 * (SMB_OBJECT_NAME_NOT_FOUND, SMB_INSUFF_SERVER_RESOURCES).
 */
struct smb_file	*smb_file_open(struct smb_conn *, uint16_t tid,
		    const uint8_t *name, size_t len, int unicode,
		    uint32_t *status);
/* A file by id; an unknown id is taken as the last file opened (NULL: none). */
struct smb_file	*smb_file_find(struct smb_conn *, uint16_t fid);
/* Closes a file: one written to a disk share is stored (a binary). */
void	smb_file_close(struct smb_conn *, struct smb_file *);
/*
 * Bytes written to a file at offset at of the session's input: a pipe's
 * go to its endpoint, a file's are kept.  0, or -1 (protocol_error).
 */
int	smb_file_write(struct smb_conn *, struct smb_file *, const uint8_t *,
	    size_t, size_t at);
/*
 * Bytes written at offset off of a file on a disk share (SMB1 and SMB2
 * writes say where; smb_file_write appends).  0, or -1 for a pipe.
 */
int	smb_file_pwrite(struct smb_conn *, struct smb_file *, const uint8_t *,
	    size_t, uint64_t off);
/* Reads from a pipe what its endpoint answered; bytes copied. */
size_t	smb_file_read(struct smb_conn *, struct smb_file *, uint8_t *,
	    size_t cap);
/*
 * Reads up to cap bytes at offset off of a file on a disk share (zeros
 * where nothing was written); bytes copied, 0 at or past its end.
 */
size_t	smb_file_pread(const struct smb_file *, uint8_t *, size_t cap,
	    uint64_t off);
/*
 * A sundew.request event for an SMB command of interest ("negotiate",
 * "tree_connect", "create", ...), with one more field if key is not NULL;
 * past a session's cap (smb.c) only a limit.hit, once.
 */
void	smb_request_event(struct smb_conn *, const char *command,
	    const char *key, const uint8_t *val, size_t vallen);
/*
 * 1 if the session may make one more session setup (each login is an
 * event); 0 past the cap, said once with a limit.hit: refuse it.
 */
int	smb_setup_allowed(struct smb_conn *);
/* Any payload the pre-filter likes goes to the analyser. */
void	smb_payload(struct smb_conn *, const uint8_t *, size_t, size_t at);

/* smb_util.c */
/* UTF-16LE to ASCII ('?' for what is not ASCII), NUL-terminated; length. */
size_t	smb_utf16_ascii(const uint8_t *, size_t nbytes, char *, size_t cap);
/*
 * A client's string of n bytes, UTF-16LE or ASCII, to printable ASCII
 * ('?' for the rest) up to a NUL, NUL-terminated; its length.
 */
size_t	smb_str_ascii(const uint8_t *, size_t n, int unicode, char *,
	    size_t cap);
/* ASCII to UTF-16LE, no NUL; bytes written, 0 if cap is too small. */
size_t	smb_ascii_utf16(const char *, uint8_t *, size_t cap);
uint16_t smb_get16(const uint8_t *);
uint32_t smb_get32(const uint8_t *);
uint64_t smb_get64(const uint8_t *);
void	smb_put16(uint8_t *, uint16_t);
void	smb_put32(uint8_t *, uint32_t);
void	smb_put64(uint8_t *, uint64_t);

/* smb1.c */

/* One SMB1 request, its header parsed (MS-CIFS 2.2.3.1). */
struct smb1_req {
	const uint8_t	*msg;		/* the whole message, from 0xff 'SMB' */
	size_t		 msglen;
	size_t		 at;		/* msg's offset in the session's input */
	uint8_t		 cmd;
	uint32_t	 status;
	uint8_t		 flags;
	uint16_t	 flags2;
	uint16_t	 pid_high;
	uint8_t		 signature[8];	/* the reply's: zero (never signed) */
	uint16_t	 tid, pid, uid, mid;	/* copied into the reply */
	uint8_t		 wct;
	const uint8_t	*words;		/* wct 16-bit words */
	uint16_t	 bcc;
	const uint8_t	*bytes;		/* bcc bytes */
};

/* The SMB1 message in an NBSS frame: 0, or -1 (protocol_error). */
int	smb1_message(struct smb_conn *, const uint8_t *, size_t, size_t at);
/*
 * Sends the reply to a (non-AndX) request with the header fields of *req
 * (a caller may change mid or signature in a copy): status, wct words
 * and bcc bytes.  0, or -1.
 */
int	smb1_reply(struct smb_conn *, const struct smb1_req *, uint32_t status,
	    const void *words, uint8_t wct, const void *bytes, size_t bcc);

/* smb1_trans.c: Transaction, Transaction2, NT Transact and secondaries. */
int	smb1_trans(struct smb_conn *, const struct smb1_req *);
void	smb1_trans_free(struct smb_conn *);
/*
 * A complete transaction's answer, in the shape of req->cmd's family
 * (Trans, Trans2 or NT Transact): status, setup words, parameters and
 * data.  0, or -1.
 */
int	smb1_trans_reply(struct smb_conn *, const struct smb1_req *,
	    uint32_t status, const uint16_t *setup, uint8_t nsetup,
	    const void *params, size_t plen, const void *data, size_t dlen);

/* smb1_rap.c: a RAP call on \PIPE\LANMAN (MS-RAP); answered, 0 or -1. */
int	smb1_rap(struct smb_conn *, const struct smb1_req *,
	    const uint8_t *params, size_t plen, uint16_t maxdata);

/* smb2.c */

/* The SMB2 message in an NBSS frame: 0, or -1. */
int	smb2_message(struct smb_conn *, const uint8_t *, size_t, size_t at);
/*
 * An SMB1 negotiate offering "SMB 2.002" and/or "SMB 2.???": the SMB2
 * negotiate response of the multi-protocol upgrade.  0, or -1.
 */
int	smb2_negotiate_smb1(struct smb_conn *, int wildcard);
/*
 * An SMB2 frame larger than SMB_FRAME_MAX, only a WRITE: its first
 * SMB2_LARGE_HEAD bytes (the header and WRITE's fixed part) with the
 * frame's length, then the rest in pieces as it arrives, then its end.
 * Each 0, or -1 (protocol_error).
 */
#define SMB2_LARGE_HEAD	(64 + 48)
int	smb2_large_begin(struct smb_conn *, const uint8_t *, size_t framelen,
	    size_t at);
int	smb2_large_data(struct smb_conn *, const uint8_t *, size_t, size_t at);
int	smb2_large_end(struct smb_conn *);
/* The session ends in a large WRITE: its file, incomplete, is cut. */
void	smb2_large_cut(struct smb_conn *);
void	smb2_free(struct smb_conn *);

/* doublepulsar.c */
void	smb_dp_free(struct smb_conn *);
/*
 * A Trans2 SESSION_SETUP, the implant's channel: answered as an infected
 * host answers (ping, exec upload, kill).  0, or -1.
 */
int	smb_dp_trans2(struct smb_conn *, const struct smb1_req *,
	    uint32_t timeout, const uint8_t *params, size_t plen,
	    const uint8_t *data, size_t len, size_t at);
/* The implant's command in a Timeout field, and its key from a seed. */
uint8_t	smb_dp_opcode(uint32_t timeout);
uint32_t smb_dp_key(uint32_t seed);
/* The size of the PE at p (its headers and sections), 0 if it is none. */
size_t	smb_dp_pe_size(const uint8_t *, size_t);
/* An upload in chunks, without the session (for doublepulsar.c, tests). */
#define SMB_DP_MORE	0	/* taken, bytes still missing */
#define SMB_DP_DONE	1	/* taken, every byte is there */
#define SMB_DP_BAD	2	/* no key makes sense of it */
#define SMB_DP_NOMEM	3
#define SMB_DP_OTHER	4	/* another upload's: end this one first */
struct smb_dp	*smb_dp_new(void);
void		 smb_dp_reset(struct smb_dp *);
void		 smb_dp_delete(struct smb_dp *);
int		 smb_dp_chunk(struct smb_dp *, const uint8_t *params,
		    size_t plen, const uint8_t *data, size_t len, size_t max,
		    size_t at);
/* Decrypts a complete upload in place; its total bytes. */
const uint8_t	*smb_dp_decrypt(struct smb_dp *);
uint64_t	 smb_dp_received(const struct smb_dp *);
uint32_t	 smb_dp_total(const struct smb_dp *);
uint32_t	 smb_dp_upload_key(const struct smb_dp *);

#endif
