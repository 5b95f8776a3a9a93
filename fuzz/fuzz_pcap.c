/*
 * libFuzzer target for the capture parser of `sundew replay`: any bytes
 * as a pcap or pcapng file.  The parser must return a model or an error,
 * never crash, leak or run away; every chunk of the model is read so
 * that the sanitizers check where its pointers go, and the model's
 * invariants are checked.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "replay_int.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_pcap_check(const struct replay_capture *cap)
{
	const struct replay_flow	*f;
	const struct replay_step	*st;
	volatile uint8_t		 sink = 0;
	uint64_t			 n;
	size_t				 i, j, k;

	for (i = 0; i < cap->nflows; i++) {
		f = &cap->flows[i];
		for (j = 0, n = 0; j < f->nchunks; j++) {
			for (k = 0; k < f->chunks[j].len; k++)
				sink ^= f->chunks[j].data[k];
			n += f->chunks[j].len;
		}
		if (n != f->client_bytes && f->skip == REPLAY_PLAY)
			abort();
		if (f->skip != REPLAY_PLAY && f->nchunks != 0)
			abort();
	}
	for (i = 0; i < cap->nsteps; i++) {
		st = &cap->steps[i];
		if (st->flow >= cap->nflows ||
		    cap->flows[st->flow].skip != REPLAY_PLAY)
			abort();
		if ((st->kind == REPLAY_STEP_SEND ||
		    st->kind == REPLAY_STEP_DGRAM) &&
		    st->chunk >= cap->flows[st->flow].nchunks)
			abort();
	}
	(void)sink;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct replay_pcap_opts	 po = { 0 };
	struct replay_capture	*cap;
	char			 err[256];

	/* smaller caps than the tool's: the same code paths, faster */
	po.max_bytes = (size_t)32 << 20;
	po.max_flows = 2000;
	po.max_events = (size_t)1 << 16;
	cap = replay_pcap_read_buffer(data, size, &po, err, sizeof(err));
	if (cap != NULL)
		fuzz_pcap_check(cap);
	replay_pcap_free(cap);
	return 0;
}
