/*
 * The ring between a sensor and the store (ring.h): records go through
 * whole and in order, across the wrap; a writer killed at any point
 * publishes nothing half-written; a new writer and a new reader go on
 * where the last ones stopped; a full ring keeps records waiting; a
 * corrupt ring is skipped, not trusted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ring.h"
#include "sensor.h"

#define SIZE	(64 * 1024)

/* A record whose bytes say which record it is. */
static size_t
test_fill(uint8_t *buf, uint32_t n)
{
	size_t	len = 1 + (n * 7919) % 3000, i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)(n + i);
	return len;
}

static void
test_check(const struct ring_rec *rec, const void *p, uint32_t n)
{
	uint8_t	want[4096];
	size_t	len = test_fill(want, n);

	assert_int_equal(rec->type, RING_EVENT);
	assert_int_equal(rec->len, len);
	assert_memory_equal(p, want, len);
}

/* Reads everything published; checks it is records from..; returns next. */
static uint32_t
test_drain(struct ring *r, uint32_t from)
{
	struct ring_rec	 rec;
	const void	*p;

	while (ring_read(r, &rec, &p) == 1)
		test_check(&rec, p, from++);
	ring_commit(r);
	return from;
}

static void
test_roundtrip_and_wrap(void **state)
{
	struct ring	*r = ring_create(3, SIZE);
	uint8_t		 buf[4096];
	uint32_t	 n, got = 0;
	size_t		 len;

	assert_non_null(r);
	assert_int_equal(ring_size(r), SIZE);
	/* Ten times round the ring, some records across its end. */
	for (n = 0; n < 500; n++) {
		len = test_fill(buf, n);
		assert_int_equal(ring_put(r, RING_EVENT, 0, buf, len, NULL, 0),
		    0);
		if (n % 7 == 6)
			got = test_drain(r, got);
	}
	got = test_drain(r, got);
	assert_int_equal(got, 500);
	assert_int_equal(ring_used(r), 0);
	assert_int_equal(ring_pending(r), 0);
	ring_free(r);
}

/* Two parts of a record (a file's header and its bytes) arrive as one. */
static void
test_two_parts(void **state)
{
	struct ring	*r = ring_create(0, SIZE);
	struct ring_rec	 rec;
	const void	*p;

	assert_non_null(r);
	assert_int_equal(ring_put(r, RING_FILE, 64, "head", 4, "body!", 5), 0);
	assert_int_equal(ring_read(r, &rec, &p), 1);
	assert_int_equal(rec.type, RING_FILE);
	assert_int_equal(rec.len, 9);
	assert_int_equal(rec.id, 64);
	assert_memory_equal(p, "headbody!", 9);
	assert_int_equal(ring_read(r, &rec, &p), 0);
	ring_free(r);
}

/*
 * A ring sized for the largest file (download.max_size, up to 64 MiB)
 * takes that file with its head and the largest context a sensor sends:
 * none is lost (ring_put takes up to a quarter of the ring).
 */
static void
test_size_for_largest_file(void **state)
{
	static const uint64_t	 sizes[] = { 16u << 20, 20u << 20, 64u << 20 };
	struct ring		*r;
	struct ring_rec		 rec;
	const void		*p;
	char			*head, *data;
	size_t			 i, hlen = sizeof(struct ring_file) +
				    SENSOR_FILE_CTX;

	(void)state;
	assert_int_equal(ring_size_for(0), 64u << 20);
	assert_int_equal(ring_size_for(4u << 20), 64u << 20);
	head = calloc(1, hlen);
	data = calloc(1, 64u << 20);
	assert_non_null(head);
	assert_non_null(data);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		r = ring_create(0, ring_size_for(sizes[i]));
		assert_non_null(r);
		data[sizes[i] - 1] = (char)(i + 1);
		assert_int_equal(ring_put(r, RING_FILE, 64, head, hlen, data,
		    sizes[i]), 0);
		assert_int_equal(ring_read(r, &rec, &p), 1);
		assert_int_equal(rec.len, hlen + sizes[i]);
		assert_int_equal(((const char *)p)[hlen + sizes[i] - 1],
		    (char)(i + 1));
		ring_free(r);
	}
	free(data);
	free(head);
}

/* Ids: unique across rings and across restarts of the ring's process. */
static void
test_ids(void **state)
{
	struct ring	*a = ring_create(0, 0), *b = ring_create(5, 0);
	uint64_t	 x, y, z;
	pid_t		 pid;
	int		 status;

	assert_non_null(a);
	assert_non_null(b);
	x = ring_next_id(a);
	y = ring_next_id(b);
	assert_int_equal(x % RING_INDEXES, 0);
	assert_int_equal(y % RING_INDEXES, 5);
	assert_true(x != y);
	/* A child (a sensor) takes ids and dies: the next one goes on. */
	if ((pid = fork()) == 0) {
		ring_next_id(a);
		ring_next_id(a);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	z = ring_next_id(a);
	assert_int_equal(z, x + 3 * RING_INDEXES);
	/* Ids begin with the second the ring was made: later runs are higher. */
	assert_true(x >> 31 >= (uint64_t)time(NULL) - 5);
	ring_free(a);
	ring_free(b);
}

/*
 * A writer (a sensor) killed by SIGKILL while it writes: what it had
 * published is there, whole; nothing half-written shows; the next writer
 * goes on after it.
 */
static void
test_writer_killed(void **state)
{
	struct ring	*r = ring_create(1, 16 * 1024 * 1024);
	uint8_t		 buf[4096];
	uint32_t	 n, got;
	pid_t		 pid;
	int		 status;

	assert_non_null(r);
	if ((pid = fork()) == 0) {
		for (n = 0;; n++) {	/* until killed, or the ring is full */
			size_t len = test_fill(buf, n);

			if (ring_put(r, RING_EVENT, 0, buf, len, NULL, 0) == -1 ||
			    ring_flush(r) > 0)
				pause();
		}
	}
	usleep(20000);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	got = test_drain(r, 0);
	assert_true(got > 100);
	/* A second writer takes up the numbering where the ring stands. */
	if ((pid = fork()) == 0) {
		for (n = got; n < got + 1000; n++) {
			size_t len = test_fill(buf, n);

			while (ring_put(r, RING_EVENT, 0, buf, len, NULL, 0) ==
			    -1 || ring_flush(r) > 0)
				usleep(1000);
		}
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(test_drain(r, got), got + 1000);
	ring_free(r);
}

/*
 * A reader (the store) killed after reading, before committing: the next
 * one reads the same records again, from the commit position.
 */
static void
test_reader_killed(void **state)
{
	struct ring	*r = ring_create(2, SIZE);
	struct ring_rec	 rec;
	const void	*p;
	uint8_t		 buf[4096];
	uint32_t	 n;
	pid_t		 pid;
	int		 status;

	assert_non_null(r);
	for (n = 0; n < 5; n++)
		assert_int_equal(ring_put(r, RING_EVENT, 0, buf,
		    test_fill(buf, n), NULL, 0), 0);
	assert_int_equal(test_drain(r, 0), 5);
	for (n = 5; n < 10; n++)
		assert_int_equal(ring_put(r, RING_EVENT, 0, buf,
		    test_fill(buf, n), NULL, 0), 0);
	if ((pid = fork()) == 0) {
		ring_rewind(r);
		while (ring_read(r, &rec, &p) == 1)
			;
		kill(getpid(), SIGKILL);	/* before ring_commit */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	ring_rewind(r);
	assert_int_equal(test_drain(r, 5), 10);
	ring_free(r);
}

/* A full ring: records wait in memory and go in once room is made. */
static void
test_full_ring_waits(void **state)
{
	struct ring	*r = ring_create(0, SIZE);
	uint8_t		 buf[4096];
	uint32_t	 n, got;

	assert_non_null(r);
	for (n = 0; n < 200; n++)
		assert_int_equal(ring_put(r, RING_EVENT, 0, buf,
		    test_fill(buf, n), NULL, 0), 0);
	assert_true(ring_flush(r) > 0);
	assert_true(ring_used(r) > SIZE);
	got = test_drain(r, 0);
	assert_true(got < 200);
	while (ring_flush(r) > 0 || ring_pending(r))
		got = test_drain(r, got);
	assert_int_equal(got, 200);
	assert_int_equal(ring_used(r), 0);
	ring_free(r);
}

/* More than RING_OVERFLOW waiting: the rest is lost, and said so. */
static void
test_overflow_is_bounded(void **state)
{
	struct ring	*r = ring_create(0, 1024 * 1024);
	static uint8_t	 big[200 * 1024];
	size_t		 n, lost = 0;

	assert_non_null(r);
	for (n = 0; n < RING_OVERFLOW / sizeof(big) + 20; n++)
		if (ring_put(r, RING_EVENT, 0, big, sizeof(big), NULL, 0) == -1)
			lost++;
	assert_true(lost >= 5);
	assert_true(ring_used(r) <= RING_OVERFLOW + 1024 * 1024);
	/* A record larger than a quarter of the ring can never go in. */
	assert_int_equal(ring_put(r, RING_EVENT, 0, big, 300 * 1024, NULL, 0),
	    -1);
	ring_free(r);
}

/*
 * What a compromised sensor could write: a record longer than what is
 * published, an unknown type, positions out of bounds.  The reader skips
 * to the write position; nothing is read out of bounds.
 */
static void
test_corrupt_ring_is_skipped(void **state)
{
	struct ring	*r = ring_create(4, SIZE);
	struct ring_rec	 rec, *hdr;
	const void	*p;
	uint8_t		 buf[64] = { 0 };

	assert_non_null(r);
	assert_int_equal(ring_put(r, RING_EVENT, 0, buf, 16, NULL, 0), 0);
	/* The record's header is the first thing in the data area. */
	assert_int_equal(ring_read(r, &rec, &p), 1);
	hdr = (struct ring_rec *)((uint8_t *)p - sizeof(*hdr));
	ring_rewind(r);
	hdr->len = 1u << 30;
	assert_int_equal(ring_read(r, &rec, &p), 0);
	assert_int_equal(ring_pending(r), 0);
	ring_commit(r);

	assert_int_equal(ring_put(r, RING_EVENT, 0, buf, 16, NULL, 0), 0);
	hdr = (struct ring_rec *)((uint8_t *)hdr + sizeof(*hdr) + 16);
	hdr->type = 77;
	assert_int_equal(ring_read(r, &rec, &p), 0);
	ring_commit(r);

	/* An id of another ring is not taken. */
	assert_int_equal(ring_put(r, RING_EVENT, 64 * 9 + 2, buf, 8, NULL, 0),
	    0);
	assert_int_equal(ring_read(r, &rec, &p), 1);
	assert_int_equal(rec.id, 0);
	ring_commit(r);
	ring_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_and_wrap),
		cmocka_unit_test(test_two_parts),
		cmocka_unit_test(test_size_for_largest_file),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_writer_killed),
		cmocka_unit_test(test_reader_killed),
		cmocka_unit_test(test_full_ring_waits),
		cmocka_unit_test(test_overflow_is_bounded),
		cmocka_unit_test(test_corrupt_ring_is_skipped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
