/* Internal interfaces between the analyser's layers. */
#ifndef SUNDEW_SC_INT_H
#define SUNDEW_SC_INT_H

#include <stddef.h>
#include <stdint.h>

#include "sc.h"

#define SC_MAX_CANDIDATES	64

/*
 * sc_pattern.c: the offsets worth emulating (GetPC sequences, decoder
 * heads, the start of a NOP sled's end), best first; at most max.
 */
size_t	sc_pattern_candidates(const uint8_t *buf, size_t len, long *offsets,
	    size_t max);
/*
 * sc_pattern.c: signatures, known decoders (decoded, then scanned again),
 * URLs and commands in clear, known worm bodies.  Adds to res.
 */
void	sc_pattern_scan(const uint8_t *buf, size_t len, struct sc_result *res);

/*
 * sc_alpha.c: an alphanumeric decoder stub (ALPHA2 and Metasploit's
 * alpha_mixed, alpha_upper, unicode_mixed, unicode_upper; Pex alpha) and
 * the encoded payload after it.
 */
struct sc_alpha {
	const char	*family;	/* "alpha_mixed", "pexalpha", ... */
	size_t		 kind;		/* index of the family */
	size_t		 head;		/* where the stub's fixed body starts */
	size_t		 start;		/* the payload's first character */
	size_t		 npairs;	/* payload bytes (0: none to decode) */
	size_t		 stride;	/* 1, or 2 when seen in UTF-16 */
};

/*
 * sc_alpha.c: finds the next stub at or after *from, fills a and moves
 * *from past its data; 0 when there is none.  Linear in len.
 */
int	sc_alpha_next(const uint8_t *buf, size_t len, size_t *from,
	    struct sc_alpha *a);
/*
 * sc_alpha.c: decodes the payload a describes into out (at most outmax
 * bytes, never more than a->npairs); returns the bytes written.
 */
size_t	sc_alpha_decode(const uint8_t *buf, size_t len,
	    const struct sc_alpha *a, uint8_t *out, size_t outmax);

/*
 * sc_emu.c: emulates each candidate offset in a fake Windows process
 * (and Linux int 0x80), within the limits; hooks add actions to res and
 * set res->shellcode and res->offset for the offset that did something.
 */
int	sc_emu_run(const uint8_t *buf, size_t len, const long *offsets,
	    size_t n, const struct sc_limits *, struct sc_result *res);

#endif
