/* The shared connection caps: per source, global, and a dead sensor's row. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/wait.h>
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

static void
test_per_source(void **state)
{
	struct connlimit		*l = connlimit_create(2);
	struct sockaddr_in	 a = addr4("198.51.100.7", 1000);
	struct sockaddr_in	 a2 = addr4("198.51.100.7", 2000);
	struct sockaddr_in	 b = addr4("203.0.113.9", 1000);
	uint32_t		 ba = connlimit_bucket(l, (void *)&a);

	/* The port does not matter, the address does. */
	assert_int_equal(ba, connlimit_bucket(l, (void *)&a2));
	assert_int_equal(connlimit_acquire(l, 0, ba, 0, 3), CONNLIMIT_OK);
	assert_int_equal(connlimit_acquire(l, 1, ba, 0, 3), CONNLIMIT_OK);
	assert_int_equal(connlimit_acquire(l, 0, ba, 0, 3), CONNLIMIT_OK);
	/* Three open across both sensors: the fourth is refused. */
	assert_int_equal(connlimit_acquire(l, 1, ba, 0, 3), CONNLIMIT_SOURCE);
	assert_int_equal(connlimit_acquire(l, 1, connlimit_bucket(l, (void *)&b), 0,
	    3), CONNLIMIT_OK);
	connlimit_release(l, 0, ba);
	assert_int_equal(connlimit_acquire(l, 1, ba, 0, 3), CONNLIMIT_OK);
	assert_int_equal(connlimit_total(l), 4);
}

static void
test_global_and_reset(void **state)
{
	struct connlimit	*l = connlimit_create(2);
	uint32_t	 i;

	for (i = 0; i < 10; i++)
		assert_int_equal(connlimit_acquire(l, i % 2, i, 10, 0), CONNLIMIT_OK);
	assert_int_equal(connlimit_acquire(l, 0, 99, 10, 0), CONNLIMIT_GLOBAL);
	/* Sensor 1 died holding five: its row is cleared. */
	connlimit_reset_sensor(l, 1);
	assert_int_equal(connlimit_total(l), 5);
	assert_int_equal(connlimit_acquire(l, 1, 99, 10, 0), CONNLIMIT_OK);
}

static void
test_shared_across_fork(void **state)
{
	struct connlimit	*l = connlimit_create(2);
	pid_t		 pid;
	int		 status;

	pid = fork();
	assert_true(pid != -1);
	if (pid == 0)
		_exit(connlimit_acquire(l, 1, 5, 0, 1) == CONNLIMIT_OK ? 0 : 1);
	waitpid(pid, &status, 0);
	assert_int_equal(WEXITSTATUS(status), 0);
	/* The child's connection counts in the parent. */
	assert_int_equal(connlimit_acquire(l, 0, 5, 0, 1), CONNLIMIT_SOURCE);
}

static void
test_ipv6(void **state)
{
	struct connlimit		*l = connlimit_create(1);
	struct sockaddr_in6	 a, b;

	memset(&a, 0, sizeof(a));
	a.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::1", &a.sin6_addr);
	b = a;
	inet_pton(AF_INET6, "2001:db8::2", &b.sin6_addr);
	assert_true(connlimit_bucket(l, (void *)&a) < CONNLIMIT_BUCKETS);
	assert_int_not_equal(connlimit_bucket(l, (void *)&a),
	    connlimit_bucket(l, (void *)&b));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_per_source),
		cmocka_unit_test(test_global_and_reset),
		cmocka_unit_test(test_shared_across_fork),
		cmocka_unit_test(test_ipv6),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
