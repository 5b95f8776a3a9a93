/*
 * The shared connection caps: exact per-source counts however many
 * sources share a home slot, the global cap, the full table, and a
 * sensor that dies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "connlimit.h"

static struct sockaddr_in
addr4(const char *ip, uint16_t port)
{
	struct sockaddr_in	sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	inet_pton(AF_INET, ip, &sin.sin_addr);
	return sin;
}

/* 10.x.y.z for i, the addresses of the tests with many sources. */
static struct sockaddr_in
addr_n(uint32_t i)
{
	struct sockaddr_in	sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)(1024 + i % 60000));
	sin.sin_addr.s_addr = htonl(0x0a000000u + i);
	return sin;
}

static void
test_per_source(void **state)
{
	struct connlimit	*l = connlimit_create(2, 0, 3);
	struct sockaddr_in	 a = addr4("198.51.100.7", 1000);
	struct sockaddr_in	 a2 = addr4("198.51.100.7", 2000);
	struct sockaddr_in	 b = addr4("203.0.113.9", 1000);

	/* The port does not matter, the address does. */
	assert_int_equal(connlimit_acquire(l, 0, (void *)&a), CONNLIMIT_OK);
	assert_int_equal(connlimit_acquire(l, 1, (void *)&a2), CONNLIMIT_OK);
	assert_int_equal(connlimit_acquire(l, 0, (void *)&a), CONNLIMIT_OK);
	/* Three open across both sensors: the fourth is refused. */
	assert_int_equal(connlimit_acquire(l, 1, (void *)&a), CONNLIMIT_SOURCE);
	assert_int_equal(connlimit_acquire(l, 1, (void *)&b), CONNLIMIT_OK);
	assert_int_equal(connlimit_source(l, (void *)&a), 3);
	connlimit_release(l, 0, (void *)&a2);
	assert_int_equal(connlimit_acquire(l, 1, (void *)&a), CONNLIMIT_OK);
	assert_int_equal(connlimit_total(l), 4);
	assert_int_equal(connlimit_sensor(l, 0), 1);
	assert_int_equal(connlimit_sensor(l, 1), 3);
	connlimit_free(l);
}

/*
 * The defect of the hashed buckets: 400 sources holding 50 each under a
 * cap of 64 had 72 refused, two sources of a bucket sharing its count.
 * 20,000 sources of 3 under a cap of 3 in a table of 2^17 slots share
 * home slots by the thousand (and 65,536 buckets did by the thousand
 * too: 8,148 refusals): none is refused, each fourth is.
 */
static void
test_many_sources_exact(void **state)
{
	struct connlimit	*l = connlimit_create(2, 60000, 3);
	struct sockaddr_in	 sin;
	uint32_t		 i, k;

	for (i = 0; i < 20000; i++) {
		sin = addr_n(i);
		for (k = 0; k < 3; k++)
			assert_int_equal(connlimit_acquire(l, (int)(k % 2),
			    (void *)&sin), CONNLIMIT_OK);
	}
	assert_int_equal(connlimit_total(l), 60000);
	for (i = 0; i < 20000; i += 7) {
		sin = addr_n(i);
		assert_int_equal(connlimit_source(l, (void *)&sin), 3);
	}
	/* The global cap comes first; below it the per-source cap, exactly. */
	sin = addr_n(20000);
	assert_int_equal(connlimit_acquire(l, 0, (void *)&sin),
	    CONNLIMIT_GLOBAL);
	sin = addr_n(5);
	connlimit_release(l, 1, (void *)&sin);
	sin = addr_n(6);
	assert_int_equal(connlimit_acquire(l, 0, (void *)&sin),
	    CONNLIMIT_SOURCE);
	sin = addr_n(5);
	assert_int_equal(connlimit_acquire(l, 0, (void *)&sin), CONNLIMIT_OK);
	connlimit_free(l);
}

/*
 * A small table (1,000 sources in 2,048 slots: long runs of sources that
 * share a home) through random opens and closes, against a plain count
 * per source: removing a source from the middle of a run keeps every
 * other one reachable, with its own count.
 */
static void
test_churn_matches_model(void **state)
{
	enum { NADDR = 1000, STEPS = 200000, CAP = 4 };
	static uint32_t		 model[NADDR][2];
	struct connlimit	*l = connlimit_create(2, NADDR * CAP, CAP);
	struct sockaddr_in	 sin;
	uint32_t		 x = 12345, i, n, total = 0;
	int			 s, step;
	enum connlimit_verdict	 v;

	memset(model, 0, sizeof(model));
	for (step = 0; step < STEPS; step++) {
		x = x * 1103515245u + 12345u;
		i = (x >> 8) % NADDR;
		s = (int)(x >> 30) & 1;
		sin = addr_n(i * 7919);
		n = model[i][0] + model[i][1];
		if ((x >> 4) % 3 != 0) {
			v = connlimit_acquire(l, s, (void *)&sin);
			assert_int_equal(v, n < CAP ? CONNLIMIT_OK :
			    CONNLIMIT_SOURCE);
			if (v == CONNLIMIT_OK) {
				model[i][s]++;
				total++;
			}
		} else if (model[i][s] > 0) {
			connlimit_release(l, s, (void *)&sin);
			model[i][s]--;
			total--;
		}
		if (step % 50000 == 0)
			for (n = 0; n < NADDR; n++) {
				sin = addr_n(n * 7919);
				assert_int_equal(connlimit_source(l,
				    (void *)&sin), model[n][0] + model[n][1]);
			}
	}
	assert_int_equal(connlimit_total(l), total);
	/* Everything closed: the table is empty and whole again. */
	for (i = 0; i < NADDR; i++)
		for (s = 0; s < 2; s++)
			while (model[i][s]-- > 0) {
				sin = addr_n(i * 7919);
				connlimit_release(l, s, (void *)&sin);
			}
	assert_int_equal(connlimit_total(l), 0);
	for (i = 0; i < NADDR; i++) {
		sin = addr_n(i * 7919);
		assert_int_equal(connlimit_source(l, (void *)&sin), 0);
	}
	connlimit_free(l);
}

/*
 * Without a global cap the table holds CONNLIMIT_MAX_SOURCES sources: a
 * new one past them is refused as such, never as per_source; a source
 * already in keeps its place.
 */
static void
test_table_full(void **state)
{
	struct connlimit	*l = connlimit_create(1, 0, 2);
	struct sockaddr_in	 sin;
	uint32_t		 i;

	assert_int_equal(connlimit_max_sources(l), CONNLIMIT_MAX_SOURCES);
	for (i = 0; i < CONNLIMIT_MAX_SOURCES; i++) {
		sin = addr_n(i);
		assert_int_equal(connlimit_acquire(l, 0, (void *)&sin),
		    CONNLIMIT_OK);
	}
	sin = addr_n(CONNLIMIT_MAX_SOURCES);
	assert_int_equal(connlimit_acquire(l, 0, (void *)&sin),
	    CONNLIMIT_SOURCES);
	sin = addr_n(17);
	assert_int_equal(connlimit_acquire(l, 0, (void *)&sin), CONNLIMIT_OK);
	connlimit_release(l, 0, (void *)&sin);
	connlimit_release(l, 0, (void *)&sin);
	sin = addr_n(CONNLIMIT_MAX_SOURCES);
	assert_int_equal(connlimit_acquire(l, 0, (void *)&sin), CONNLIMIT_OK);
	connlimit_free(l);
	/* Sized by the global cap, the table takes every source it allows. */
	l = connlimit_create(2, 5, 2);
	assert_int_equal(connlimit_max_sources(l), 5);
	connlimit_free(l);
}

static void
test_global_and_reset(void **state)
{
	struct connlimit	*l = connlimit_create(2, 10, 4);
	struct sockaddr_in	 sin;
	uint32_t		 i;

	for (i = 0; i < 10; i++) {
		sin = addr_n(i);
		assert_int_equal(connlimit_acquire(l, (int)(i % 2),
		    (void *)&sin), CONNLIMIT_OK);
	}
	sin = addr_n(99);
	assert_int_equal(connlimit_acquire(l, 0, (void *)&sin),
	    CONNLIMIT_GLOBAL);
	/* Sensor 1 died holding five: they are free, sensor 0's stay. */
	connlimit_reset_sensor(l, 1);
	assert_int_equal(connlimit_total(l), 5);
	assert_int_equal(connlimit_sensor(l, 1), 0);
	for (i = 0; i < 10; i++) {
		sin = addr_n(i);
		assert_int_equal(connlimit_source(l, (void *)&sin),
		    i % 2 == 0 ? 1 : 0);
	}
	sin = addr_n(99);
	assert_int_equal(connlimit_acquire(l, 1, (void *)&sin), CONNLIMIT_OK);
	connlimit_free(l);
}

/* Caps off: nothing is refused, the totals still count. */
static void
test_no_caps(void **state)
{
	struct connlimit	*l = connlimit_create(1, 0, 0);
	struct sockaddr_in	 a = addr4("198.51.100.7", 1000);
	int			 i;

	for (i = 0; i < 1000; i++)
		assert_int_equal(connlimit_acquire(l, 0, (void *)&a),
		    CONNLIMIT_OK);
	assert_int_equal(connlimit_total(l), 1000);
	connlimit_release(l, 0, (void *)&a);
	assert_int_equal(connlimit_sensor(l, 0), 999);
	connlimit_free(l);
}

static void
test_shared_across_fork(void **state)
{
	struct connlimit	*l = connlimit_create(2, 0, 1);
	struct sockaddr_in	 a = addr4("198.51.100.7", 1000);
	pid_t		 pid;
	int		 status;

	pid = fork();
	assert_true(pid != -1);
	if (pid == 0)
		_exit(connlimit_acquire(l, 1, (void *)&a) == CONNLIMIT_OK ?
		    0 : 1);
	waitpid(pid, &status, 0);
	assert_int_equal(WEXITSTATUS(status), 0);
	/* The child's connection counts in the parent. */
	assert_int_equal(connlimit_acquire(l, 0, (void *)&a), CONNLIMIT_SOURCE);
	connlimit_free(l);
}

/*
 * A sensor killed in the middle of its work, perhaps holding the lock:
 * the reset gives back all it held and the lock, and nothing of the
 * other sensor's is lost.
 */
static void
test_sensor_killed(void **state)
{
	struct connlimit	*l = connlimit_create(2, 100000, 8);
	struct sockaddr_in	 sin;
	struct timespec		 ts = { 0, 20 * 1000 * 1000 }, t0, t1;
	uint32_t		 i, x;
	pid_t			 pid;
	int			 round;

	for (i = 0; i < 500; i++) {
		sin = addr_n(i);
		assert_int_equal(connlimit_acquire(l, 0, (void *)&sin),
		    CONNLIMIT_OK);
	}
	for (round = 0; round < 5; round++) {
		pid = fork();
		assert_true(pid != -1);
		if (pid == 0) {
			for (x = (uint32_t)round;; x = x * 1103515245u + 12345u) {
				sin = addr_n((x >> 8) % 2000);
				if (connlimit_acquire(l, 1, (void *)&sin) ==
				    CONNLIMIT_OK && (x & 0x100))
					connlimit_release(l, 1, (void *)&sin);
			}
		}
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		connlimit_reset_sensor(l, 1);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		/* At once, not after the wait for a live holder. */
		assert_true((t1.tv_sec - t0.tv_sec) * 1000 +
		    (t1.tv_nsec - t0.tv_nsec) / 1000000 < 500);
		assert_int_equal(connlimit_sensor(l, 1), 0);
		assert_int_equal(connlimit_total(l), 500);
		for (i = 0; i < 2000; i++) {
			sin = addr_n(i);
			assert_int_equal(connlimit_source(l, (void *)&sin),
			    i < 500 ? 1 : 0);
		}
	}
	connlimit_free(l);
}

/* An IPv4 source is the same over IPv6 (::ffff:a.b.c.d). */
static void
test_ipv6(void **state)
{
	struct connlimit	*l = connlimit_create(1, 0, 2);
	struct sockaddr_in6	 a, b, m;
	struct sockaddr_in	 v4 = addr4("198.51.100.7", 1000);

	memset(&a, 0, sizeof(a));
	a.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::1", &a.sin6_addr);
	b = a;
	inet_pton(AF_INET6, "2001:db8::2", &b.sin6_addr);
	m = a;
	inet_pton(AF_INET6, "::ffff:198.51.100.7", &m.sin6_addr);
	assert_int_equal(connlimit_acquire(l, 0, (void *)&a), CONNLIMIT_OK);
	assert_int_equal(connlimit_acquire(l, 0, (void *)&a), CONNLIMIT_OK);
	assert_int_equal(connlimit_acquire(l, 0, (void *)&a), CONNLIMIT_SOURCE);
	assert_int_equal(connlimit_acquire(l, 0, (void *)&b), CONNLIMIT_OK);
	assert_int_equal(connlimit_acquire(l, 0, (void *)&v4), CONNLIMIT_OK);
	assert_int_equal(connlimit_acquire(l, 0, (void *)&m), CONNLIMIT_OK);
	assert_int_equal(connlimit_acquire(l, 0, (void *)&v4),
	    CONNLIMIT_SOURCE);
	connlimit_free(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_per_source),
		cmocka_unit_test(test_many_sources_exact),
		cmocka_unit_test(test_churn_matches_model),
		cmocka_unit_test(test_table_full),
		cmocka_unit_test(test_global_and_reset),
		cmocka_unit_test(test_no_caps),
		cmocka_unit_test(test_shared_across_fork),
		cmocka_unit_test(test_sensor_killed),
		cmocka_unit_test(test_ipv6),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
