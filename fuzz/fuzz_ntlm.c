/*
 * The NTLMSSP and SPNEGO parsers (ntlm.c, spnego.c): arbitrary bytes as
 * the security blobs of two session setups of one session, the state of
 * the first carried into the second (the input is split at its first
 * byte's value).  Nothing may crash or read out of bounds, an answer
 * must fit its buffer, and each answer to a SPNEGO token must be one.
 * The sensor's side (sensor.h) is replaced by the few functions below.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "conn.h"
#include "event.h"
#include "ntlm.h"
#include "sensor.h"
#include "spnego.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#include "fuzz_sensor.h"

/* One blob in a buffer of its own size, so that ASan sees past its end. */
static void
fuzz_one(struct ntlm_state *st, struct conn *c, uint32_t *seen,
    const uint8_t *p, size_t n)
{
	static uint8_t		 out[NTLM_OUT_MAX];
	struct spnego_in	 sp;
	uint8_t			*buf;
	size_t			 outlen = 0;
	enum ntlm_rc		 rc;

	if ((buf = malloc(n > 0 ? n : 1)) == NULL)
		return;
	memcpy(buf, p, n);
	rc = ntlm_accept(st, c, seen, buf, n, 0, out, sizeof(out), &outlen);
	if (outlen > sizeof(out) || (rc == NTLM_ERROR && outlen != 0))
		abort();
	/* What we answer a SPNEGO token with is SPNEGO itself. */
	if (outlen > 0 && st->spnego && (spnego_parse(out, outlen, &sp) != 0 ||
	    sp.kind != SPNEGO_RESP))
		abort();
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char		 fields[] = "\"session\":\"fuzz\"";
	struct conn		 c;
	struct ntlm_state	 st;
	uint32_t		 seen = 0;
	size_t			 cut;

	memset(&c, 0, sizeof(c));
	c.fields = fields;
	c.nfields = (uint16_t)strlen(fields);
	memset(&st, 0, sizeof(st));
	if (size == 0)
		return 0;
	cut = data[0] < size - 1 ? data[0] : size - 1;
	fuzz_one(&st, &c, &seen, data + 1, cut);
	fuzz_one(&st, &c, &seen, data + 1 + cut, size - 1 - cut);
	return 0;
}
