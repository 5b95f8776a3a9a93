/*
 * The unit tests' access to ../shared/corpora (CORPORA in the environment,
 * set by tests/unit/meson.build).  Include after <cmocka.h>.
 *
 * A clone without ../shared must still pass: a test that needs the
 * corpora and does not find them is skipped, with one line in the
 * marker's words that scripts/corpus-skips.sh counts for the summary of
 * `make unit` and `make test`.  Call corpus_dir() before the test
 * allocates anything: skip() leaves the test by longjmp.
 */
#ifndef SUNDEW_TEST_CORPUS_H
#define SUNDEW_TEST_CORPUS_H

#include <sys/stat.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define CORPUS_SKIP_MARK	"corpus test skipped"

/* The corpora's directory; skips the running test if it is not there. */
static inline const char *
corpus_dir(void)
{
	const char	*dir = getenv("CORPORA");
	struct stat	 sb;

	if (dir == NULL || *dir == '\0' || stat(dir, &sb) == -1 ||
	    !S_ISDIR(sb.st_mode)) {
		print_message("%s: %s not found\n", CORPUS_SKIP_MARK,
		    dir != NULL && *dir != '\0' ? dir : "CORPORA (unset)");
		skip();
	}
	return dir;
}

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

/* The same for shellcode/name of the corpora (skipped without them). */
static inline size_t
corpus_shellcode(const char *name, uint8_t *buf, size_t max)
{
	char	path[1024];

	snprintf(path, sizeof(path), "%s/shellcode/%s", corpus_dir(), name);
	return corpus_read(path, buf, max);
}

#endif
