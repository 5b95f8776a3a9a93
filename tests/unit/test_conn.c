/*
 * Sessions (conn.c) over a socketpair, with a test service: input a
 * service leaves unconsumed, the cap on it, the output queue, the linger
 * after close and its end.  The sensor's side (sensor.h) is replaced by
 * the few functions below; the events are kept to be read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "config.h"
#include "conn.h"
#include "connlimit.h"
#include "event.h"
#include "listen.h"
#include "proto.h"
#include "sensor.h"

static struct config		 conf;
static struct event_base	*base;
static struct connlimit		*limits;
static struct sensor_stats	 stats;
static char			 closed_reason[64];

const struct config *sensor_conf(void) { return &conf; }
struct event_base *sensor_base(void) { return base; }
int sensor_index(void) { return 0; }
struct connlimit *sensor_limits(void) { return limits; }
/* No capture here: capture_init() is not called. */
struct egress_shared *sensor_egress(void) { return NULL; }
struct sensor_stats *sensor_stats(void) { return &stats; }
void sensor_pause_accept(int pause) { (void)pause; }
/* No ledger: sessions are not recorded for a successor here. */
struct ledger *sensor_ledger(void) { return NULL; }
const struct listener *sensor_listener(size_t i);

void
sensor_send_event(struct event_buf *ev)
{
	const char	*r;

	event_end(ev);
	if (strstr(ev->buf, "\"sundew.connection.close\"") != NULL &&
	    (r = strstr(ev->buf, "\"reason\":\"")) != NULL)
		snprintf(closed_reason, sizeof(closed_reason), "%.*s",
		    (int)strcspn(r + 10, "\""), r + 10);
}

int
sensor_send_file(int kind, const char *ctx, size_t ctxlen, const void *p,
    size_t n)
{
	return 0;
}

int
sensor_analyse(const struct capture_origin *o, const void *p, size_t n)
{
	return 0;
}

/* The test service: what it consumes, and what it writes. */
#define RECORD		1000
#define BIG		(1u << 20)	/* conn.c queues at most 1 MiB */

enum mode { WHOLE_RECORDS, NOTHING, WRITER, ANSWER };

static enum mode mode;
static size_t	 seen;		/* bytes consumed, checked */
static size_t	 offered;	/* bytes the service was handed last */
static int	 wrong;

static uint8_t
pattern(size_t off)
{
	return (uint8_t)(off * 7 % 251);
}

static ssize_t
svc_data(struct conn *c, void *st, const uint8_t *p, size_t n)
{
	size_t	i, use;

	switch (mode) {
	case WHOLE_RECORDS:
		use = n / RECORD * RECORD;
		for (i = 0; i < use; i++)
			if (p[i] != pattern(seen + i))
				wrong++;
		seen += use;
		return (ssize_t)use;
	case NOTHING:
		offered = n;
		return 0;
	case WRITER:
		if (memchr(p, 'q', n) != NULL)
			conn_close(c, "quit");
		return (ssize_t)n;
	case ANSWER:
		/* Each byte is a request; its answer is the byte made upper. */
		for (i = 0; i < n; i++) {
			uint8_t	a = (uint8_t)(p[i] - 'a' + 'A');

			assert_int_equal(conn_write(c, &a, 1), 0);
		}
		seen += n;
		return (ssize_t)n;
	}
	return -1;
}

static void
svc_connect(struct conn *c, void *st)
{
	uint8_t	*big;
	size_t	 i;

	if (mode != WRITER)
		return;
	big = malloc(BIG);
	assert_non_null(big);
	for (i = 0; i < BIG; i++)
		big[i] = pattern(i);
	assert_int_equal(conn_write(c, big, BIG), 0);
	free(big);
}

static void *svc_new(struct conn *c) { return malloc(1); }
static void svc_free(void *st) { free(st); }

static const struct service	svc = {
	.name = "test", .transport = SERVICE_TCP, .session_new = svc_new,
	.session_free = svc_free, .on_connect = svc_connect,
	.on_data = svc_data,
};
static const struct service_def	def = { "test", SERVICE_TCP, { 1 }, &svc };
static struct listener		lst;

const struct listener *
sensor_listener(size_t i)
{
	return i == 0 ? &lst : NULL;
}
static int			peer;

/*
 * A session on one end of a socketpair, the service in the mode *state
 * names; the test holds the other end.
 */
static int
setup(void **state)
{
	struct sockaddr_in	sin;
	int			sv[2], sz = 1 << 16;

	mode = *(const enum mode *)*state;
	signal(SIGPIPE, SIG_IGN);
	memset(&conf, 0, sizeof(conf));
	conf.max_input = 100u << 20;
	conf.idle_timeout = 30;
	conf.session_timeout = 300;
	memset(&stats, 0, sizeof(stats));
	closed_reason[0] = '\0';
	seen = 0;
	offered = 0;
	wrong = 0;
	memset(&lst, 0, sizeof(lst));
	lst.transport = SERVICE_TCP;
	lst.def = &def;
	lst.port = 1;
	lst.fd = -1;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	peer = sv[0];
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(4444);
	conn_accept(&lst, sv[1], (struct sockaddr *)&sin, sizeof(sin));
	assert_int_equal(stats.accepted, 1);
	return 0;
}

static int
teardown(void **state)
{
	conn_close_all("shutdown");
	close(peer);
	return 0;
}

/* One loop for all: conn.c keeps its idle timeout queue for the base. */
static int
group_setup(void **state)
{
	base = event_base_new();
	limits = connlimit_create(1, 0, 0);
	return base == NULL || limits == NULL ? -1 : 0;
}

static int
group_teardown(void **state)
{
	event_base_free(base);
	connlimit_free(limits);
	return 0;
}

/* Runs the sensor's loop for about ms milliseconds. */
static void
run(int ms)
{
	struct timeval	tv = { 0, ms * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Input arrives in pieces that split records: the service sees them whole. */
static void
test_unconsumed_input_is_kept(void **state)
{
	uint8_t	buf[777];
	size_t	sent = 0, total = 50 * RECORD, i, k;
	ssize_t	r;

	while (sent < total) {
		k = total - sent < sizeof(buf) ? total - sent : sizeof(buf);
		for (i = 0; i < k; i++)
			buf[i] = pattern(sent + i);
		if ((r = send(peer, buf, k, 0)) > 0)
			sent += (size_t)r;
		run(1);
	}
	run(20);
	assert_int_equal(seen, total);
	assert_int_equal(wrong, 0);
	assert_int_equal(stats.protocol_errors, 0);
	assert_int_equal(stats.closed, 0);
}

/* Sends n bytes from the peer, running the loop until they are all read. */
static void
send_all(size_t n)
{
	static uint8_t	buf[65536];
	size_t		sent = 0;
	ssize_t		r;
	int		i;

	for (i = 0; i < 20000 && sent < n; i++) {
		r = send(peer, buf, n - sent < sizeof(buf) ? n - sent :
		    sizeof(buf), MSG_DONTWAIT);
		if (r > 0)
			sent += (size_t)r;
		run(1);
	}
	assert_int_equal(sent, n);
	run(20);
}

/*
 * A service that never consumes may leave exactly 256 KiB unconsumed
 * (CONN_READ_HIGH, README "Ports"); a byte more ends the session.
 */
static void
test_unconsumed_input_is_capped(void **state)
{
	send_all(256 * 1024);
	assert_int_equal(offered, 256 * 1024);
	assert_int_equal(stats.closed, 0);
	assert_int_equal(stats.protocol_errors, 0);
	send_all(1);
	assert_int_equal(offered, 256 * 1024 + 1);
	assert_int_equal(stats.closed, 1);
	assert_int_equal(stats.protocol_errors, 1);
	assert_string_equal(closed_reason, "protocol_error");
}

/* What the socket did not take goes out later, in order, all of it. */
static void
test_queued_output_arrives(void **state)
{
	static uint8_t	buf[65536];
	size_t		got = 0, i;
	ssize_t		r;
	int		bad = 0, rounds;

	/* The session has not yet met a reader: its connect wrote 1 MiB. */
	for (rounds = 0; rounds < 20000 && got < BIG; rounds++) {
		while ((r = recv(peer, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
			for (i = 0; i < (size_t)r; i++)
				bad += buf[i] != pattern(got + i);
			got += (size_t)r;
		}
		run(1);
	}
	assert_int_equal(got, BIG);
	assert_int_equal(bad, 0);
	assert_int_equal(stats.closed, 0);
}

/*
 * Closed with output queued, the session lingers while the peer reads,
 * but no longer than CONN_LINGER_SECS (5 s) however slowly it reads.
 */
static void
test_linger_ends(void **state)
{
	uint8_t	buf[4096];
	double	t0;

	run(10);
	assert_int_equal(send(peer, "q", 1, 0), 1);
	run(10);
	assert_string_equal(closed_reason, "quit");
	assert_int_equal(stats.closed, 0);	/* lingering */
	t0 = now();
	while (stats.closed == 0 && now() - t0 < 10) {
		(void)recv(peer, buf, sizeof(buf), MSG_DONTWAIT);
		run(100);
	}
	assert_int_equal(stats.closed, 1);
	assert_true(now() - t0 > 4.5);
	assert_true(now() - t0 < 6.5);
}

/* The peer's bytes so far, as a string (at most 63). */
static const char *
peer_read(void)
{
	static char	buf[64];
	ssize_t		r;

	r = recv(peer, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	buf[r > 0 ? r : 0] = '\0';
	return buf;
}

/*
 * A conversation: once a request is answered the session stops reading
 * until the loop says there is more; what came after the answer, and then
 * the end, are still read.
 */
static void
test_answered_then_more(void **state)
{
	run(10);
	assert_int_equal(send(peer, "a", 1, 0), 1);
	run(10);
	assert_string_equal(peer_read(), "A");
	assert_int_equal(send(peer, "b", 1, 0), 1);
	assert_int_equal(send(peer, "c", 1, 0), 1);
	run(10);
	assert_string_equal(peer_read(), "BC");
	assert_int_equal(send(peer, "d", 1, 0), 1);
	assert_int_equal(shutdown(peer, SHUT_WR), 0);
	run(20);
	assert_string_equal(peer_read(), "D");
	assert_int_equal(seen, 4);
	assert_int_equal(stats.closed, 1);
	assert_string_equal(closed_reason, "peer_closed");
}

/* The peer's end of input ends the session. */
static void
test_peer_closed(void **state)
{
	assert_int_equal(shutdown(peer, SHUT_WR), 0);
	run(20);
	assert_int_equal(stats.closed, 1);
	assert_string_equal(closed_reason, "peer_closed");
}

#define TEST(f, m)	cmocka_unit_test_prestate_setup_teardown(f, setup, \
	teardown, (void *)&modes[m])

int
main(void)
{
	static const enum mode		modes[] = { WHOLE_RECORDS, NOTHING,
	    WRITER, ANSWER };
	const struct CMUnitTest		tests[] = {
		TEST(test_unconsumed_input_is_kept, WHOLE_RECORDS),
		TEST(test_unconsumed_input_is_capped, NOTHING),
		TEST(test_queued_output_arrives, WRITER),
		TEST(test_linger_ends, WRITER),
		TEST(test_peer_closed, WHOLE_RECORDS),
		TEST(test_answered_then_more, ANSWER),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
