/*
 * The ftp -s: script handling of the emulated cmd.exe (sc_cmd.c):
 * arbitrary bytes as a script in the session's file system, run with
 * and without -n and with a host on the command line.  It must never
 * crash or leak, and every URL must be a well-formed ftp:// one: a host
 * of its own characters, a port, no blank or control character.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sc_cmd.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_fetch(void *arg, const char *url)
{
	const char	*p;

	(void)arg;
	if (strncmp(url, "ftp://", 6) != 0 || strchr(url + 6, '/') == NULL)
		abort();
	for (p = url; *p != '\0'; p++)
		if (!isgraph((unsigned char)*p))
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const runs[] = { "ftp -s:s", "ftp -n -s:s",
	    "ftp -i -v -s:s 198.51.100.1", "ftp -n -s:s 10.0.0.1" };
	struct sc_cmd_ops	 ops = { .fetch = fuzz_fetch };
	struct sc_cmd		*st;
	size_t			 i;

	if ((st = sc_cmd_new(NULL, &ops, "203.0.113.1")) == NULL)
		return 0;
	if (sc_cmd_file_put(st, "s", (const char *)data, size) == 0)
		for (i = 0; i < sizeof(runs) / sizeof(runs[0]); i++)
			sc_cmd_run(st, runs[i], strlen(runs[i]));
	sc_cmd_free(st);
	return 0;
}
