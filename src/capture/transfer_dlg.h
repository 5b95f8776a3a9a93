/*
 * The framing of Nepenthes' file transfers, apart from any socket, so
 * that the unit tests and the fuzzer drive it with bytes in pieces of any
 * size.  What the peer sends is network input: every length is checked,
 * the file never grows past its cap.
 *
 *   link, blink	the peer speaks first (the second stage of the
 *			linkbot's shellcode, any bytes); the sensor answers
 *			the key; everything after is the file, until the
 *			peer closes.  A peer that waits for the key instead
 *			is answered when it has been quiet a while
 *			(transfer_dlg_quiet), and then sends only file.
 *   csend, creceive	everything is the file, until the peer closes;
 *			with a length prefix, 4 bytes little-endian (the
 *			x86 order the shellcode reads them in) announce
 *			the file, which is complete at that many bytes.
 */
#ifndef SUNDEW_TRANSFER_DLG_H
#define SUNDEW_TRANSFER_DLG_H

#include <stddef.h>
#include <stdint.h>

/* The file buffer's first allocation; it doubles up to the cap. */
#define TRANSFER_DLG_CHUNK	4096

enum transfer_dlg_state {
	TRANSFER_DLG_STAGE,	/* keyed: the peer's turn */
	TRANSFER_DLG_PREFIX,	/* reading the 4-byte length */
	TRANSFER_DLG_FILE,	/* reading the file */
	TRANSFER_DLG_DONE,	/* complete: the file is buf[0..len) */
	TRANSFER_DLG_FAILED	/* why says why; nothing is kept */
};

/* What transfer_dlg_input() asks of the caller. */
enum transfer_dlg_next {
	TRANSFER_DLG_MORE,	/* read on */
	TRANSFER_DLG_SEND_KEY,	/* send the key now, then read on */
	TRANSFER_DLG_COMPLETE,	/* the announced length arrived: stop */
	TRANSFER_DLG_ERROR	/* failed: why */
};

struct transfer_dlg {
	enum transfer_dlg_state	 state;
	unsigned		 prefix;	/* 0 or 4 */
	uint8_t			 lenbuf[4];
	size_t			 lenhave;
	uint64_t		 expect;	/* announced by the prefix */
	uint64_t		 max;		/* cap on the file */
	uint64_t		 stage;		/* before the key */
	uint64_t		 ignored;	/* past the end */
	uint8_t			*buf;
	size_t			 len;
	size_t			 cap;
	const char		*why;		/* when FAILED */
};

/*
 * keyed: link or blink (the peer speaks first, then the key); prefix: 0,
 * or 4 for a little-endian length before the file; max: the size cap.
 * Allocates nothing yet.
 */
void	transfer_dlg_init(struct transfer_dlg *, int keyed, unsigned prefix,
	    uint64_t max);
/*
 * n bytes that arrived (one read: for a keyed dialogue the first read is
 * the peer's whole turn).  Failures, with why: "max_size" (the file or
 * its announced length passes the cap), "memory".
 */
enum transfer_dlg_next transfer_dlg_input(struct transfer_dlg *,
	    const uint8_t *p, size_t n);
/*
 * The peer has been quiet since the connection: a keyed dialogue still
 * waiting for the peer's turn gives it up (SEND_KEY: the key now, what
 * follows is file); otherwise nothing changes (MORE).
 */
enum transfer_dlg_next transfer_dlg_quiet(struct transfer_dlg *);
/*
 * The peer closed: 0 when the file is complete (buf, len), else -1 with
 * why: "closed_early" (before the key's turn, inside the length, or
 * short of the announced length), "empty" (no byte of file).
 */
int	transfer_dlg_eof(struct transfer_dlg *);
/* Fails the dialogue with why (a time-out, a reset), freeing the file. */
void	transfer_dlg_fail(struct transfer_dlg *, const char *why);
void	transfer_dlg_free(struct transfer_dlg *);

#endif
