/*
 * Processes and the messages between them (DESIGN.md section 3).
 *
 * Data channels (sensor <-> analyser) are SOCK_STREAM socketpairs carrying
 * framed messages: a struct msg_hdr, then len bytes.  Control channels
 * (parent <-> child) are SOCK_SEQPACKET socketpairs, one message a packet,
 * and may carry a file descriptor.  Every receiver checks type and size; a
 * malformed internal message is a bug and fatal.
 */
#ifndef SUNDEW_PROC_H
#define SUNDEW_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sc.h"

struct evbuffer;

enum msg_type {
	MSG_LINK = 1,		/* parent -> child: new data channel (fd) */
	MSG_REOPEN,		/* parent -> store: reopen logs */
	MSG_ANALYSE,		/* sensor -> analyser: struct msg_analyse + ctx + payload */
	MSG_RESULT,		/* analyser -> sensor: struct msg_result */
	MSG_MAX_TYPE
};

struct msg_hdr {
	uint32_t	type;
	uint32_t	len;		/* bytes after this header */
};

#define MSG_MAX_LEN	(64u * 1024 * 1024 + 65536)

struct msg_link {
	uint32_t	sensor;		/* which sensor the channel serves */
	uint32_t	peer;		/* PROC_STORE or PROC_ANALYSER */
	uint32_t	lost;		/* the last analyser died on ... */
	uint32_t	pad;
	uint64_t	lost_seq;	/* ... this sensor's analysis lost_seq */
};

/*
 * The analysis the analyser is running, in memory shared with the parent
 * (which reads it when the analyser dies): the sensor's index + 1 (0:
 * none) and the sensor's number for it.
 */
struct analysis_now {
	_Atomic uint32_t	sensor;
	_Atomic uint64_t	seq;
};

struct msg_analyse {
	uint64_t	seq;		/* the sensor's number for it */
	uint32_t	ctxlen;		/* the session's JSON fields that follow */
	/* ctxlen bytes of context, then the payload */
};

/*
 * The verdict on analysis seq; res is checked by the receiver.  The
 * session's fields are the sensor's own copy: the analyser, which runs
 * attacker code, never says whose payload it was.
 */
struct msg_result {
	uint64_t	seq;
	struct sc_result res;
};

enum proc_id {
	PROC_PARENT = 0,
	PROC_SENSOR,
	PROC_STORE,
	PROC_ANALYSER
};

/* Writes one framed message into a data channel's output buffer. */
int	msg_frame(struct evbuffer *out, uint32_t type, const void *a,
	    size_t alen, const void *b, size_t blen);
/*
 * Takes one whole framed message off in, if there is one: returns 1 and
 * fills *hdr and *payload (malloc'd, the caller frees), 0 if more bytes are
 * needed.  A bad type or size is fatal.
 */
int	msg_unframe(struct evbuffer *in, struct msg_hdr *hdr, void **payload);

/* Control channels: one packet, optionally with a descriptor. */
int	ctl_send(int sock, uint32_t type, const void *p, size_t len, int fd);
/*
 * Returns 1 with a message (its payload length in *got), 0 at EOF, -1 on
 * error; *fd is the descriptor that came with it, or -1.
 */
int	ctl_recv(int sock, uint32_t *type, void *p, size_t len, size_t *got,
	    int *fd);
/*
 * A child's read of its non-blocking control channel: 1 with a message, 0
 * if none was waiting, -1 when the parent is gone (logged).  An error is
 * fatal.
 */
int	ctl_read(int sock, uint32_t *type, void *p, size_t len, size_t *got,
	    int *fd);

#endif
