/*
 * bench_sc: the shellcode analyser's figures for `make bench`.
 *
 *   bench_sc SHELLCODE_DIR TRAFFIC_FILE...
 *
 * Prints the pre-filter's throughput over ordinary traffic (the files,
 * cut into 1460-byte segments as they would arrive) next to memchr over
 * the same bytes, a trivial baseline measured in the same run; then the
 * median time of a whole analysis (pattern layer and emulation) of each
 * sample of the shellcode directory, the engine kept between analyses as
 * in the running analyser.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sc.h"

#define BENCH_SEGMENT	1460
#define BENCH_ROUNDS	25

static double
bench_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint8_t *
bench_read(const char *path, size_t *len)
{
	FILE	*fp = fopen(path, "rb");
	uint8_t	*buf = NULL;
	long	 n;

	if (fp == NULL || fseek(fp, 0, SEEK_END) == -1 || (n = ftell(fp)) < 0 ||
	    fseek(fp, 0, SEEK_SET) == -1 || (buf = malloc((size_t)n + 1)) == NULL ||
	    fread(buf, 1, (size_t)n, fp) != (size_t)n) {
		fprintf(stderr, "bench_sc: cannot read %s\n", path);
		exit(2);
	}
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

static int
bench_cmp(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* MB/s of fn over buf in segments, for at least a second. */
static double
bench_scan(const uint8_t *buf, size_t len, int (*fn)(const uint8_t *, size_t),
    size_t *hits)
{
	double	t0 = bench_now(), t;
	size_t	off, done = 0, seg;

	*hits = 0;
	do {
		for (off = 0; off < len; off += seg) {
			seg = len - off < BENCH_SEGMENT ? len - off : BENCH_SEGMENT;
			*hits += fn(buf + off, seg) != 0;
		}
		done += len;
		t = bench_now() - t0;
	} while (t < 1.0);
	return (double)done / t / 1e6;
}

static int
bench_memchr(const uint8_t *p, size_t n)
{
	return memchr(p, 0xcc, n) != NULL;
}

static double
bench_analyze(const char *path)
{
	struct sc_limits	 lim;
	struct sc_result	*res = malloc(sizeof(*res));
	double			 t[BENCH_ROUNDS], t0;
	size_t			 len;
	uint8_t			*buf = bench_read(path, &len);
	int			 i;

	sc_limits_default(&lim);
	for (i = 0; i < BENCH_ROUNDS; i++) {
		t0 = bench_now();
		sc_analyze(buf, len, &lim, NULL, res);
		t[i] = bench_now() - t0;
	}
	qsort(t, BENCH_ROUNDS, sizeof(t[0]), bench_cmp);
	free(buf);
	free(res);
	return t[BENCH_ROUNDS / 2];
}

int
main(int argc, char **argv)
{
	struct dirent	*de;
	DIR		*dir;
	uint8_t		*all = NULL, *buf;
	size_t		 total = 0, len, hits, base_hits, n = 0;
	double		 med[256], mbs, base;
	char		 path[4096];
	int		 i;

	if (argc < 3) {
		fprintf(stderr, "usage: bench_sc SHELLCODE_DIR TRAFFIC_FILE...\n");
		return 2;
	}
	for (i = 2; i < argc; i++) {
		buf = bench_read(argv[i], &len);
		if ((all = realloc(all, total + len)) == NULL)
			return 2;
		memcpy(all + total, buf, len);
		total += len;
		free(buf);
	}
	base = bench_scan(all, total, bench_memchr, &base_hits);
	mbs = bench_scan(all, total, sc_prefilter, &hits);
	printf("prefilter %.0f MB/s memchr %.0f MB/s segments %zu flagged %zu\n",
	    mbs, base, (total + BENCH_SEGMENT - 1) / BENCH_SEGMENT, hits);
	if ((dir = opendir(argv[1])) == NULL) {
		fprintf(stderr, "bench_sc: cannot open %s\n", argv[1]);
		return 2;
	}
	while ((de = readdir(dir)) != NULL && n < 256) {
		if (strstr(de->d_name, ".bin") == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/%s", argv[1], de->d_name);
		med[n++] = bench_analyze(path);
	}
	closedir(dir);
	if (n == 0)
		return 2;
	qsort(med, n, sizeof(med[0]), bench_cmp);
	printf("analysis median %.2f ms max %.2f ms samples %zu\n",
	    med[n / 2] * 1e3, med[n - 1] * 1e3, n);
	free(all);
	return 0;
}
