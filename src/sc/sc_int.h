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
 * sc_emu.c: emulates each candidate offset in a fake Windows process
 * (and Linux int 0x80), within the limits; hooks add actions to res and
 * set res->shellcode and res->offset for the offset that did something.
 */
int	sc_emu_run(const uint8_t *buf, size_t len, const long *offsets,
	    size_t n, const struct sc_limits *, struct sc_result *res);

#endif
