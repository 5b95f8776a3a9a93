/*
 * libFuzzer target for the DCERPC endpoint (dcerpc.c) and, behind it, the
 * interfaces (dce_*.c): the first byte picks the transport (TCP or a
 * named pipe) and how the rest is cut into writes and how the answers
 * are read; the rest is what a client writes.  It must never crash, leak
 * or overrun; every answer is a PDU of ours (version 5.0, a type a
 * server sends, its frag_length what dce_read gave whole), and a pipe
 * read never takes more than one PDU.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "config.h"
#include "conn.h"
#include "dcerpc.h"
#include "event.h"
#include "listen.h"
#include "proto.h"
#include "sensor.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#include "fuzz_sensor.h"

static struct listener		fuzz_lst;
static const struct service_def	fuzz_def = { "dcerpc", SERVICE_TCP, { 135 },
	NULL };

/* A small generator for the cuts: the same input cuts the same way. */
static uint32_t
fuzz_next(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 16;
}

/* An answer PDU being read, in pieces over a pipe. */
static uint8_t	fuzz_pdu[65536];
static size_t	fuzz_pdulen;

/* A whole answer: one of ours, of a type a server sends. */
static void
fuzz_check(const uint8_t *p, size_t n)
{
	if (n < 16 || p[0] != 5 || p[1] != 0 || p[4] != 0x10 ||
	    (p[8] | (size_t)p[9] << 8) != n || p[10] != 0 || p[11] != 0)
		abort();
	switch (p[2]) {
	case 2: case 3: case 12: case 13: case 15:
		break;
	default:
		abort();
	}
}

/*
 * Reads what the endpoint answered: over TCP at once, over a pipe in
 * reads of any size, none of which may run into the next PDU.
 */
static void
fuzz_drain(struct dce *d, int pipe, uint32_t *rng)
{
	size_t	n, cap, frag;

	while (dce_pending(d) > 0) {
		cap = sizeof(fuzz_pdu) - fuzz_pdulen;
		if (pipe && cap > 1)
			cap = 1 + fuzz_next(rng) % (cap < 5000 ? cap : 5000);
		n = dce_read(d, fuzz_pdu + fuzz_pdulen, cap);
		if (n == 0 || n > cap)
			abort();
		fuzz_pdulen += n;
		if (fuzz_pdulen < 10)
			continue;
		frag = fuzz_pdu[8] | (size_t)fuzz_pdu[9] << 8;
		if (fuzz_pdulen > frag)
			abort();
		if (fuzz_pdulen == frag) {
			fuzz_check(fuzz_pdu, frag);
			fuzz_pdulen = 0;
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in	*sin;
	struct conn		 c;
	struct dce		*d;
	uint32_t		 seen = 0, nev = 0, rng;
	size_t			 off, n;
	int			 pipe;

	if (size < 1)
		return 0;
	pipe = data[0] & 1;
	rng = data[0];
	memset(&c, 0, sizeof(c));
	fuzz_lst.def = &fuzz_def;
	fuzz_lst.transport = SERVICE_TCP;
	c.lst = &fuzz_lst;
	sin = (struct sockaddr_in *)&c.dst;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(135);
	c.src = c.dst;
	memcpy(c.session, "0000000000000000", CONN_ID_LEN);
	if ((d = dce_new(&c, pipe ? "lsarpc" : NULL, &seen, &nev)) == NULL)
		return 0;
	fuzz_pdulen = 0;
	for (off = 1; off < size; off += n) {
		/* Whole, or cut anywhere: mostly small pieces, some large. */
		n = (data[0] & 2) ? size - off : 1 + fuzz_next(&rng) %
		    (fuzz_next(&rng) % 4 == 0 ? 4096 : 32);
		if (n > size - off)
			n = size - off;
		if (dce_write(d, data + off, n, off - 1) == -1)
			break;
		if (!(data[0] & 4))
			fuzz_drain(d, pipe, &rng);
	}
	if (dce_pending(d) > DCE_OUT_MAX)
		abort();
	fuzz_drain(d, pipe, &rng);
	if (fuzz_pdulen != 0)
		abort();		/* a PDU cut short */
	dce_free(d);
	if (dce_mem_used() != 0)
		abort();		/* the budget not given back */
	return 0;
}
