/*
 * Arbitrary bytes through the whole analyser: pre-filter, pattern layer,
 * emulation.  It must never crash, and every result it gives must be
 * well-formed (bounded counts, terminated strings).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sc.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_sc_check(const struct sc_result *res)
{
	size_t	i;

	if (res->nactions > SC_MAX_ACTIONS ||
	    res->ndecoders > SC_MAX_DECODERS || res->offset < -1)
		abort();
	if (memchr(res->family, '\0', sizeof(res->family)) == NULL)
		abort();
	for (i = 0; i < res->nactions; i++) {
		const struct sc_action *a = &res->actions[i];

		if (a->kind < SC_BIND_SHELL || a->kind > SC_RECEIVE_FILE ||
		    a->evidence > SC_EV_EMULATED)
			abort();
		if (memchr(a->url, '\0', sizeof(a->url)) == NULL ||
		    memchr(a->host, '\0', sizeof(a->host)) == NULL ||
		    memchr(a->command, '\0', sizeof(a->command)) == NULL)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sc_result	 res;
	struct sc_limits	 lim;
	char			*cmd;

	lim.max_steps = 20000;
	lim.max_usec = 20000;
	lim.max_candidates = 4;
	(void)sc_prefilter(data, size);
	if (sc_analyze(data, size, &lim, NULL, &res) == 0)
		fuzz_sc_check(&res);
	/* The same bytes as a command line. */
	if ((cmd = malloc(size + 1)) != NULL) {
		memcpy(cmd, data, size);
		cmd[size] = '\0';
		memset(&res, 0, sizeof(res));
		sc_cmd_downloads(cmd, "203.0.113.1", &res);
		fuzz_sc_check(&res);
		free(cmd);
	}
	return 0;
}
