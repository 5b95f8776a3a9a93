/*
 * Fuzzes config_load(): the bytes up to the first NUL are the YAML file,
 * what follows are -o overrides, one a line.  The file lives in a memfd
 * that config_load() opens through /proc/self/fd/N, so nothing touches the
 * disk.  A load that succeeds is dumped too, and must load back.
 */
#include <sys/mman.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#define FUZZ_MAX_OVERRIDES	8

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int	fuzz_fd = -1;
static char	fuzz_path[64];

/* Replaces the memfd's content with len bytes of p. */
static void
fuzz_put(const void *p, size_t len)
{
	if (fuzz_fd == -1) {
		if ((fuzz_fd = memfd_create("fuzz_config.yaml", 0)) == -1)
			abort();
		snprintf(fuzz_path, sizeof(fuzz_path), "/proc/self/fd/%d",
		    fuzz_fd);
	}
	if (ftruncate(fuzz_fd, 0) == -1)
		abort();
	if (len > 0 && pwrite(fuzz_fd, p, len, 0) != (ssize_t)len)
		abort();
}

/* Dumps conf, loads the dump back and checks it dumps the same. */
static void
fuzz_roundtrip(const struct config *conf)
{
	struct config	 again;
	char		*a = NULL, *b = NULL, err[512];
	size_t		 alen = 0, blen = 0;
	FILE		*fp;

	if ((fp = open_memstream(&a, &alen)) == NULL)
		abort();
	config_dump(conf, fp);
	fclose(fp);
	fuzz_put(a, alen);
	if (config_load(&again, fuzz_path, NULL, 0, err, sizeof(err)) != 0) {
		fprintf(stderr, "dump does not load: %s\n%s", err, a);
		abort();
	}
	if ((fp = open_memstream(&b, &blen)) == NULL)
		abort();
	config_dump(&again, fp);
	fclose(fp);
	if (alen != blen || memcmp(a, b, alen) != 0) {
		fprintf(stderr, "dump changed:\n%s---\n%s", a, b);
		abort();
	}
	free(a);
	free(b);
	config_free(&again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config	 conf;
	const uint8_t	*nul = memchr(data, '\0', size);
	size_t		 flen = nul != NULL ? (size_t)(nul - data) : size;
	char		*text = NULL, *ov[FUZZ_MAX_OVERRIDES], *p, *nl;
	char		 err[512];
	size_t		 nov = 0;

	fuzz_put(data, flen);
	if (nul != NULL) {
		/* The rest, NUL-terminated, split into lines. */
		if ((text = malloc(size - flen)) == NULL)
			abort();
		memcpy(text, nul + 1, size - flen - 1);
		text[size - flen - 1] = '\0';
		for (p = text; p != NULL && nov < FUZZ_MAX_OVERRIDES; p = nl) {
			if ((nl = strchr(p, '\n')) != NULL)
				*nl++ = '\0';
			ov[nov++] = p;
		}
	}
	if (config_load(&conf, fuzz_path, ov, nov, err, sizeof(err)) == 0) {
		(void)config_service(&conf, "smb");
		fuzz_roundtrip(&conf);
	} else if (memchr(err, '\n', strlen(err)) != NULL)
		abort();	/* the error is one line */
	config_free(&conf);
	free(text);
	return 0;
}
