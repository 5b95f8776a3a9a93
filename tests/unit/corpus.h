/*
 * The unit tests' access to ../shared/corpora (CORPORA in the environment,
 * set by tests/unit/meson.build).  Include after <cmocka.h>.
 */
#ifndef SUNDEW_TEST_CORPUS_H
#define SUNDEW_TEST_CORPUS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Reads at most max bytes of the file at path into buf; fails if none. */
static inline size_t
corpus_read(const char *path, uint8_t *buf, size_t max)
{
	FILE	*f;
	size_t	 n;

	if ((f = fopen(path, "rb")) == NULL)
		fail_msg("cannot open %s", path);
	n = fread(buf, 1, max, f);
	fclose(f);
	assert_true(n > 0);
	return n;
}

/* The same for shellcode/name of the corpora. */
static inline size_t
corpus_shellcode(const char *name, uint8_t *buf, size_t max)
{
	const char	*dir = getenv("CORPORA");
	char		 path[1024];

	assert_non_null(dir);
	snprintf(path, sizeof(path), "%s/shellcode/%s", dir, name);
	return corpus_read(path, buf, max);
}

#endif
