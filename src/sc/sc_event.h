/* The analyser's results as event fields, and their check on receipt. */
#ifndef SUNDEW_SC_EVENT_H
#define SUNDEW_SC_EVENT_H

#include <stddef.h>

struct sc_result;

/*
 * A result that crossed from the analyser process: counts within bounds,
 * every string terminated, every kind known.  0, or -1 if malformed.
 */
int	sc_result_check(const struct sc_result *);
/*
 * Renders "shellcode":..,"offset":..,"decoders":[..],"family":..,
 * "actions":[{..}] (no braces) into buf; returns the length, 0 if it does
 * not fit.  Strings are escaped as event.h does.
 */
size_t	sc_event_fields(const struct sc_result *, char *buf, size_t len);
/* The name of an action kind in events ("bind_shell", ...). */
const char *sc_action_name(int kind);
/*
 * The name of an action's evidence in events and in `sundew analyze`:
 * "emulated", "decoded" or "clear"; NULL for an unknown value.
 */
const char *sc_evidence_name(int evidence);

#endif
