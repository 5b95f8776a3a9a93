/*
 * The emulated cmd.exe's line parser (sc_cmd.c): arbitrary bytes as the
 * lines a peer types into a shell, one session for all of them, so that
 * the file system, the current directory and the nested levels carry
 * from one line to the next.  It must never crash or leak, every URL it
 * offers must be one of its two kinds, and its output stays bounded.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sc_cmd.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static size_t	fuzz_out;

static void
fuzz_output(void *arg, const char *text, size_t len)
{
	(void)arg;
	(void)text;
	fuzz_out += len;
}

static void
fuzz_fetch(void *arg, const char *url)
{
	(void)arg;
	if (strncmp(url, "ftp://", 6) != 0 && strncmp(url, "tftp://", 7) != 0)
		abort();
	if (strlen(url) >= 512)
		abort();
}

static void
fuzz_command(void *arg, const char *text, size_t outlen)
{
	(void)arg;
	if (strlen(text) > SC_CMD_LINE)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sc_cmd_ops	 ops = { .output = fuzz_output,
				    .fetch = fuzz_fetch,
				    .command = fuzz_command };
	struct sc_cmd		*st;
	const uint8_t		*p = data, *e, *end = data + size;
	char			 prompt[SC_CMD_PATH + 2];

	if ((st = sc_cmd_new(NULL, &ops, "203.0.113.1")) == NULL)
		return 0;
	fuzz_out = 0;
	while (p < end) {
		e = memchr(p, '\n', (size_t)(end - p));
		if (e == NULL)
			e = end;
		if (sc_cmd_run(st, (const char *)p, (size_t)(e - p)))
			break;
		/* A line's output: at most a file system's worth and a dir. */
		if (fuzz_out > SC_CMD_OUT_MAX)
			abort();
		fuzz_out = 0;
		if (sc_cmd_prompt(st, prompt, sizeof(prompt)) == 0)
			abort();
		p = e + 1;
	}
	sc_cmd_free(st);
	return 0;
}
