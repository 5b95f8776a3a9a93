/*
 * The ledger of a sensor's open sessions (ledger.h): what a sensor killed
 * at any point left open is what its successor finds, once; slots are
 * reused; a full ledger refuses, it does not overwrite.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ledger.h"

static void
test_entry(struct ledger_entry *e, unsigned n)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&e->src;

	memset(e, 0, sizeof(*e));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)n);
	e->start_us = n;
	snprintf(e->session, sizeof(e->session), "%016x", n);
}

/* What ledger_orphans reports: a bitmap of the entries' numbers. */
static void
test_collect(const struct ledger_entry *e, void *arg)
{
	uint8_t		*seen = arg;
	unsigned	 n = (unsigned)e->start_us;

	assert_true(n < 1024);
	assert_int_equal(seen[n], 0);
	seen[n] = 1;
	assert_int_equal(ntohs(((const struct sockaddr_in *)&e->src)->sin_port),
	    n);
	assert_int_equal(e->bytes_in, n * 10);
}

static void
test_take_release_orphans(void **state)
{
	struct ledger		*l = ledger_create(1000);
	struct ledger_entry	 e;
	uint8_t			 seen[1024] = { 0 };
	int			 slot[100], i;

	assert_non_null(l);
	for (i = 0; i < 100; i++) {
		test_entry(&e, (unsigned)i);
		slot[i] = ledger_take(l, &e);
		assert_true(slot[i] >= 0);
		ledger_bytes(l, slot[i], (uint64_t)i * 10, 0);
	}
	/* The even ones end; their slots are taken again by 100..149. */
	for (i = 0; i < 100; i += 2)
		ledger_release(l, slot[i]);
	for (i = 100; i < 150; i++) {
		test_entry(&e, (unsigned)i);
		ledger_bytes(l, ledger_take(l, &e), (uint64_t)i * 10, 0);
	}
	assert_int_equal(ledger_orphans(l, test_collect, seen), 100);
	for (i = 0; i < 150; i++)
		assert_int_equal(seen[i], i >= 100 || (i & 1));
	/* Once reported, gone. */
	memset(seen, 0, sizeof(seen));
	assert_int_equal(ledger_orphans(l, test_collect, seen), 0);
	ledger_free(l);
}

/* A sensor killed with sessions open: the next process finds them. */
static void
test_killed_holder(void **state)
{
	struct ledger		*l = ledger_create(1000);
	struct ledger_entry	 e;
	uint8_t			 seen[1024] = { 0 };
	pid_t			 pid;
	int			 status, i, s;

	assert_non_null(l);
	if ((pid = fork()) == 0) {
		int	slots[30];

		for (i = 0; i < 30; i++) {
			test_entry(&e, (unsigned)i);
			s = slots[i] = ledger_take(l, &e);
			ledger_bytes(l, s, (uint64_t)i * 10, 0);
		}
		/* Ended, and not taken again: their slots stay free. */
		for (i = 0; i < 30; i += 3)
			ledger_release(l, slots[i]);
		kill(getpid(), SIGKILL);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(ledger_orphans(l, test_collect, seen), 20);
	for (i = 0; i < 30; i++)
		assert_int_equal(seen[i], i % 3 != 0);
	ledger_free(l);
}

/* Full: a new session gets no slot (and no close from a successor). */
static void
test_full(void **state)
{
	struct ledger		*l = ledger_create(8);
	struct ledger_entry	 e;
	int			 i, s;

	assert_non_null(l);
	test_entry(&e, 1);
	for (i = 0; i < 8; i++)
		assert_int_equal(ledger_take(l, &e), i);
	assert_int_equal(ledger_take(l, &e), -1);
	ledger_release(l, 5);
	s = ledger_take(l, &e);
	assert_int_equal(s, 5);
	/* No ledger (unit tests of conn.c): nothing recorded, no crash. */
	assert_int_equal(ledger_take(NULL, &e), -1);
	ledger_bytes(NULL, -1, 0, 0);
	ledger_release(NULL, -1);
	ledger_free(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_take_release_orphans),
		cmocka_unit_test(test_killed_holder),
		cmocka_unit_test(test_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
