/*
 * Downloads (download.c, download_curl.c) on a real libevent loop with
 * real libcurl, the real egress policy and resolver, against an HTTP
 * server of libevent's in this process on 127.0.0.1.  The sensor's side
 * (sensor.h) is replaced by the few functions below, which keep the
 * events and files the downloads send, as the store would get them.
 * Loopback is refused by the policy: the tests reach the server through
 * download.connect_to rules (files.test:80 -> the server), as operators
 * and the integration tests do.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/dns.h>
#include <event2/dns_struct.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <sys/wait.h>

#include "capture.h"
#include "config.h"
#include "download.h"
#include "egress.h"
#include "event.h"
#include "log.h"
#include "sandbox.h"
#include "sensor.h"
#include "store.h"

#define MAX_EVENTS	64
#define MAX_SIZE	(64 * 1024)

static struct event_base	*base;
static struct config		 conf;
static struct egress_shared	*shared;
static struct evhttp		*http;
static uint16_t			 http_port;
static char			 hosts_path[64];
static char			 resolv_path[64];	/* dns_cb's */
static int			 dns_queries;

/* What the downloads sent to the "store". */
static char	*events[MAX_EVENTS];
static size_t	 nevents;
static int	 file_kind;
static char	 file_ctx[SENSOR_FILE_CTX + 1];
static uint8_t	*file_data;
static size_t	 file_len, nfiles;
static int	 file_lost;	/* the ring is full: files are lost */

/* /huge: its bytes, and the requests waiting for their end. */
#define HUGE		(33u << 20)
static uint8_t			*huge;
static struct evhttp_request	*huge_reqs[8];
static size_t			 nhuge;

/* Requests the server got, by path. */
static int	 hits_file, hits_count, hits_error, hits_slow;
static struct evhttp_request *slow_req;

static struct sensor_stats	 stats;

const struct config *sensor_conf(void) { return &conf; }
struct event_base *sensor_base(void) { return base; }
int sensor_index(void) { return 0; }
struct connlimit *sensor_limits(void) { return NULL; }
struct sensor_stats *sensor_stats(void) { return &stats; }
void sensor_pause_accept(int pause) { (void)pause; }
struct ledger *sensor_ledger(void) { return NULL; }
const struct listener *sensor_listener(size_t i) { return NULL; }
struct egress_shared *sensor_egress(void) { return shared; }

int
sensor_analyse(const struct capture_origin *o, const void *p, size_t n)
{
	return 0;
}

void
sensor_send_event(struct event_buf *ev)
{
	event_end(ev);
	assert_true(nevents < MAX_EVENTS);
	events[nevents++] = strdup(ev->buf);
}

int
sensor_send_file(int kind, const char *ctx, size_t ctxlen, const void *p,
    size_t n)
{
	assert_true(ctxlen <= SENSOR_FILE_CTX);
	file_kind = kind;
	memcpy(file_ctx, ctx, ctxlen);
	file_ctx[ctxlen] = '\0';
	free(file_data);
	file_data = malloc(n);
	memcpy(file_data, p, n);
	file_len = n;
	nfiles++;
	return file_lost ? -1 : 0;
}

/* The body of /file: 40 KiB that are not all the same byte. */
static uint8_t	body[40 * 1024];

static void
http_reply(struct evhttp_request *req, int code, const void *p, size_t n)
{
	struct evbuffer	*b = evbuffer_new();

	evbuffer_add(b, p, n);
	evhttp_send_reply(req, code, code == 200 ? "OK" : "Other", b);
	evbuffer_free(b);
}

static void
http_redirect(struct evhttp_request *req, const char *to)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Location",
	    to);
	http_reply(req, 302, "", 0);
}

static void
http_cb(struct evhttp_request *req, void *arg)
{
	const char	*uri = evhttp_request_get_uri(req);
	char		 to[128];
	uint8_t		*big;
	int		 n;

	if (strcmp(uri, "/file") == 0) {
		hits_file++;
		http_reply(req, 200, body, sizeof(body));
	} else if (strcmp(uri, "/count") == 0) {
		hits_count++;
		http_reply(req, 200, "counted", 7);
	} else if (strcmp(uri, "/big") == 0) {
		/* One byte past the cap, its length announced. */
		big = calloc(1, MAX_SIZE + 1);
		http_reply(req, 200, big, MAX_SIZE + 1);
		free(big);
	} else if (strcmp(uri, "/bigchunked") == 0) {
		/* The same without a length: chunks until past the cap. */
		big = calloc(1, 16 * 1024);
		evhttp_send_reply_start(req, 200, "OK");
		for (n = 0; n < 5; n++) {
			struct evbuffer	*b = evbuffer_new();

			evbuffer_add(b, big, 16 * 1024);
			evhttp_send_reply_chunk(req, b);
			evbuffer_free(b);
		}
		evhttp_send_reply_end(req);
		free(big);
	} else if (strncmp(uri, "/huge", 5) == 0) {
		/* HUGE bytes, then the end only when the test says. */
		struct evbuffer	*b = evbuffer_new();

		if (huge == NULL)
			huge = calloc(1, HUGE);
		evbuffer_add_reference(b, huge, HUGE, NULL, NULL);
		evhttp_send_reply_start(req, 200, "OK");
		evhttp_send_reply_chunk(req, b);
		evbuffer_free(b);
		huge_reqs[nhuge++] = req;
	} else if (strcmp(uri, "/error") == 0) {
		hits_error++;
		http_reply(req, 503, "busy", 4);
	} else if (strcmp(uri, "/missing") == 0) {
		hits_error++;
		http_reply(req, 404, "no", 2);
	} else if (strcmp(uri, "/slow") == 0) {
		hits_slow++;
		slow_req = req;		/* no answer */
	} else if (strcmp(uri, "/to-loopback") == 0) {
		snprintf(to, sizeof(to), "http://127.0.0.1:%u/count",
		    http_port);
		http_redirect(req, to);
	} else if (strcmp(uri, "/to-file") == 0) {
		http_redirect(req, "/file");
	} else if (strncmp(uri, "/loop", 5) == 0) {
		n = atoi(uri + 5);
		snprintf(to, sizeof(to), "http://files.test/loop%d", n + 1);
		http_redirect(req, to);
	} else
		http_reply(req, 404, "", 0);
}

/*
 * The name server of the tests (libevent's), on 127.0.0.1: dns-private.test
 * is 10.1.2.3, any other name does not exist.
 */
static void
dns_cb(struct evdns_server_request *req, void *arg)
{
	struct in_addr	a;
	int		i, found = 0;

	dns_queries++;
	a.s_addr = htonl(0x0a010203);
	for (i = 0; i < req->nquestions; i++) {
		if (strcasecmp(req->questions[i]->name,
		    "dns-private.test") != 0)
			continue;
		found = 1;
		if (req->questions[i]->type == EVDNS_TYPE_A)
			evdns_server_request_add_a_reply(req,
			    req->questions[i]->name, 1, &a, 60);
	}
	evdns_server_request_respond(req, found ? 0 : DNS_ERR_NOTEXIST);
}

/* The configuration: defaults, then the test's overrides. */
static void
test_config(const char *extra)
{
	char	 rule[128], hosts[96], resolv[96], *ov[8];
	char	 err[512];
	size_t	 n = 0;

	snprintf(rule, sizeof(rule), "download.connect_to=files.test:80:"
	    "127.0.0.1:%u", http_port);
	snprintf(hosts, sizeof(hosts), "download.hosts=%s", hosts_path);
	snprintf(resolv, sizeof(resolv), "download.resolv_conf=%s",
	    resolv_path);
	ov[n++] = rule;
	ov[n++] = hosts;
	ov[n++] = resolv;
	ov[n++] = "download.retry_delay=1s";
	ov[n++] = "download.per_source=0";
	ov[n++] = "download.max_size=64KiB";
	if (extra != NULL)
		ov[n++] = (char *)extra;
	config_free(&conf);
	memset(&conf, 0, sizeof(conf));
	if (config_load(&conf, NULL, ov, n, err, sizeof(err)) == -1)
		fail_msg("config: %s", err);
}

static void
test_start(const char *extra)
{
	test_config(extra);
	shared = egress_shared_new(&conf);
	egress_init(&conf, shared);
	download_init(&conf);
	download_start_loop(base);
}

static void
test_origin(struct capture_origin *o, const char *session)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&o->attacker;
	int			 n;

	memset(o, 0, sizeof(*o));
	snprintf(o->session, sizeof(o->session), "%s", session);
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(0x7f000002);
	n = snprintf(o->ctx, sizeof(o->ctx), "\"session\":\"%s\",\"src_ip\":"
	    "\"127.0.0.2\",\"src_port\":40000,\"dst_ip\":\"127.0.0.1\","
	    "\"dst_port\":445,\"transport\":\"tcp\",\"service\":\"generic\"",
	    session);
	o->ctxlen = (size_t)n;
}

/* Events whose eventid is id. */
static size_t
count(const char *id)
{
	char	 want[96];
	size_t	 i, n = 0;

	snprintf(want, sizeof(want), "\"eventid\":\"%s\"", id);
	for (i = 0; i < nevents; i++)
		n += strstr(events[i], want) != NULL;
	return n;
}

/* The last event whose eventid is id, or NULL. */
static const char *
last(const char *id)
{
	char	 want[96];
	size_t	 i;

	snprintf(want, sizeof(want), "\"eventid\":\"%s\"", id);
	for (i = nevents; i > 0; i--)
		if (strstr(events[i - 1], want) != NULL)
			return events[i - 1];
	return NULL;
}

/* Runs the loop for ms milliseconds. */
static void
run_for(int ms)
{
	struct timeval	tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* Runs the loop until n downloads ended (failed or to the store). */
static void
run_until(size_t ended, int seconds)
{
	time_t	end = time(NULL) + seconds;

	while (count("sundew.download.failed") + nfiles < ended &&
	    time(NULL) < end)
		run_for(20);
	/* Whatever else would come (a second request, say) comes now. */
	run_for(100);
}

static void
fetch(const char *url)
{
	struct capture_origin	o;

	test_origin(&o, "00000000000000aa");
	download_url(&o, url);
}

static int
setup(void **state)
{
	size_t	i;

	nevents = nfiles = 0;
	file_len = 0;
	hits_file = hits_count = hits_error = hits_slow = 0;
	slow_req = NULL;
	for (i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)(i * 7 + i / 251);
	return 0;
}

/* Forgets the events kept so far. */
static void
events_clear(void)
{
	while (nevents > 0)
		free(events[--nevents]);
}

static int
teardown(void **state)
{
	download_stop();
	events_clear();
	if (shared != NULL)
		egress_shared_free(shared);
	shared = NULL;
	return 0;
}

/*
 * The session's fields, the URL, the body whole: a file for the store
 * marked as a download, with origin and url in its context; an offer
 * and nothing failed.
 */
static void
test_http_complete(void **state)
{
	test_start(NULL);
	fetch("http://files.test/file");
	run_until(1, 10);
	assert_int_equal(count("sundew.download.offer"), 1);
	assert_int_equal(count("sundew.download.failed"), 0);
	assert_int_equal(nfiles, 1);
	assert_int_equal(file_kind, STORE_BINARY | STORE_DOWNLOAD);
	assert_int_equal(file_len, sizeof(body));
	assert_memory_equal(file_data, body, sizeof(body));
	assert_non_null(strstr(file_ctx, "\"session\":\"00000000000000aa\""));
	assert_non_null(strstr(file_ctx, "\"origin\":\"download\",\"url\":"
	    "\"http://files.test/file\""));
	assert_null(strstr(file_ctx, "hop_url"));
	assert_non_null(strstr(last("sundew.download.offer"),
	    "\"origin\":\"download\",\"url\":\"http://files.test/file\""));
	assert_int_equal(hits_file, 1);
}

/*
 * A file the ring to the store cannot take (the store far behind) is a
 * failed download ("store_behind"), and the same URL may be fetched
 * again at once: it is not a duplicate.
 */
static void
test_store_behind(void **state)
{
	test_start(NULL);
	file_lost = 1;
	fetch("http://files.test/file");
	run_until(1, 10);
	file_lost = 0;
	assert_int_equal(count("sundew.download.failed"), 1);
	assert_non_null(strstr(last("sundew.download.failed"),
	    "\"reason\":\"store_behind\""));
	fetch("http://files.test/file");
	run_until(2, 10);
	assert_int_equal(count("sundew.download.failed"), 1);
	assert_int_equal(nfiles, 2);
	assert_int_equal(hits_file, 2);
}

/* Past download.max_size, announced or not: refused, nothing stored. */
static void
test_max_size(void **state)
{
	test_start(NULL);
	fetch("http://files.test/big");
	fetch("http://files.test/bigchunked");
	run_until(2, 10);
	assert_int_equal(count("sundew.download.failed"), 2);
	assert_int_equal(nfiles, 0);
	assert_non_null(strstr(events[2], "\"reason\":\"max_size\""));
	assert_non_null(strstr(events[3], "\"reason\":\"max_size\""));
}

/*
 * Loopback, private, link-local, by address or by a name of
 * download.hosts: each refused with its reason before any connection.
 */
static void
test_policy_refusals(void **state)
{
	static const struct {
		const char	*host;
		const char	*reason;
	} cases[] = {
		{ "127.0.0.1", "loopback" },
		{ "10.0.0.1", "private" },
		{ "169.254.169.254", "link-local" },
		{ "[::1]", "loopback" },
		{ "private.test", "private" },
		{ "loop6.test", "loopback" },
		{ "meta.test", "link-local" },
		{ "localhost.test", "loopback" },
	};
	char	url[128], want[64];
	size_t	i;

	test_start(NULL);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		events_clear();
		snprintf(url, sizeof(url), "http://%s:%u/count",
		    cases[i].host, http_port);
		fetch(url);
		run_until(1, 10);
		snprintf(want, sizeof(want), "\"reason\":\"%s\"",
		    cases[i].reason);
		if (count("sundew.download.failed") != 1 ||
		    strstr(last("sundew.download.failed"), want) == NULL)
			fail_msg("%s: %s", url, nevents > 1 ? events[1] :
			    "no failed event");
	}
	assert_int_equal(hits_count, 0);
	assert_int_equal(nfiles, 0);
}

/*
 * A redirect is checked like the first hop: to 127.0.0.1, refused
 * (nothing reaches the server); to the mapped host, followed.
 */
static void
test_redirects(void **state)
{
	const char	*e;

	test_start(NULL);
	fetch("http://files.test/to-loopback");
	run_until(1, 10);
	e = last("sundew.download.failed");
	assert_non_null(e);
	assert_non_null(strstr(e, "\"reason\":\"loopback\""));
	assert_non_null(strstr(e, "\"url\":\"http://files.test/to-loopback\""));
	assert_non_null(strstr(e, "\"hop_url\":\"http://127.0.0.1:"));
	assert_int_equal(hits_count, 0);

	fetch("http://files.test/to-file");
	run_until(2, 10);
	assert_int_equal(nfiles, 1);
	assert_memory_equal(file_data, body, sizeof(body));
	assert_non_null(strstr(file_ctx,
	    "\"url\":\"http://files.test/to-file\","
	    "\"hop_url\":\"http://files.test/file\""));

	fetch("http://files.test/loop0");
	run_until(3, 10);
	assert_non_null(strstr(last("sundew.download.failed"),
	    "\"reason\":\"redirects\""));
}

/*
 * A server error is tried again (download.retries, 2 by default), a
 * missing file is not; the URL is then not fetched again.
 */
static void
test_retries(void **state)
{
	test_start(NULL);
	fetch("http://files.test/error");
	run_until(1, 10);
	assert_int_equal(hits_error, 3);
	assert_non_null(strstr(last("sundew.download.failed"),
	    "\"reason\":\"http_503\""));
	assert_non_null(strstr(last("sundew.download.failed"),
	    "\"attempts\":3"));
	hits_error = 0;
	fetch("http://files.test/missing");
	run_until(2, 10);
	assert_int_equal(hits_error, 1);
	assert_non_null(strstr(last("sundew.download.failed"),
	    "\"reason\":\"http_404\""));
	fetch("http://files.test/error");
	run_until(3, 10);
	assert_non_null(strstr(last("sundew.download.failed"),
	    "\"reason\":\"duplicate\""));
	assert_int_equal(hits_error, 1);
}

/*
 * The bodies of the running downloads share one budget (256 MiB): five
 * downloads of 33 MiB, whose buffers double to 64 MiB, do not all fit;
 * the fourth to grow fails ("memory") and gives its room back, and the
 * others complete.
 */
static void
test_bodies_budget(void **state)
{
	char	url[64];
	size_t	i;
	time_t	end;

	test_start("download.max_size=64MiB");
	nhuge = 0;
	for (i = 0; i < 5; i++) {
		snprintf(url, sizeof(url), "http://files.test/huge%zu", i);
		fetch(url);
	}
	end = time(NULL) + 60;
	while (count("sundew.download.failed") == 0 && time(NULL) < end)
		run_for(20);
	assert_int_equal(nhuge, 5);
	for (i = 0; i < nhuge; i++)
		evhttp_send_reply_end(huge_reqs[i]);
	run_until(5, 60);
	assert_int_equal(count("sundew.download.failed"), 1);
	assert_non_null(strstr(last("sundew.download.failed"),
	    "\"reason\":\"memory\""));
	assert_int_equal(nfiles, 4);
	assert_int_equal(file_len, HUGE);
	free(file_data);
	file_data = NULL;
}

/* A server that does not answer: the time cap, no retry. */
static void
test_timeout(void **state)
{
	test_start("download.timeout=1s");
	fetch("http://files.test/slow");
	run_until(1, 10);
	assert_non_null(strstr(last("sundew.download.failed"),
	    "\"reason\":\"timeout\""));
	assert_non_null(strstr(last("sundew.download.failed"),
	    "\"origin\":\"download\",\"url\":\"http://files.test/slow\""));
	assert_int_equal(hits_slow, 1);
	if (slow_req != NULL)
		evhttp_send_reply(slow_req, 200, "OK", NULL);
}

/*
 * A server that sends nothing for download.min_speed_time, long before
 * download.timeout: "too_slow", final (no retry).
 */
static void
test_too_slow(void **state)
{
	time_t	start = time(NULL);

	test_start("download.min_speed_time=1s");
	fetch("http://files.test/slow");
	run_until(1, 10);
	assert_int_equal(count("sundew.download.failed"), 1);
	assert_non_null(strstr(last("sundew.download.failed"),
	    "\"reason\":\"too_slow\""));
	assert_non_null(strstr(last("sundew.download.failed"),
	    "\"attempts\":1"));
	assert_true(time(NULL) - start < 5);
	assert_int_equal(hits_slow, 1);
	if (slow_req != NULL)
		evhttp_send_reply(slow_req, 200, "OK", NULL);
}

/* The same URL offered while it is being fetched: fetched once. */
static void
test_duplicate(void **state)
{
	size_t	i;

	test_start(NULL);
	for (i = 0; i < 20; i++)
		fetch("http://files.test/count");
	run_until(20, 10);
	assert_int_equal(count("sundew.download.offer"), 20);
	assert_int_equal(nfiles, 1);
	assert_int_equal(count("sundew.download.failed"), 19);
	assert_int_equal(hits_count, 1);
}

/* Unknown schemes and bad URLs: refused before anything goes out. */
static void
test_bad_urls(void **state)
{
	test_start(NULL);
	fetch("gopher://files.test/x");
	fetch("http://");
	fetch("http://files.test/\x01");
	run_until(3, 5);
	assert_int_equal(count("sundew.download.failed"), 3);
	assert_non_null(strstr(events[1], "\"reason\":\"scheme\""));
	assert_non_null(strstr(events[3], "\"reason\":\"url\""));
	assert_non_null(strstr(events[5], "\"reason\":\"url\""));
}

/* Shutdown ends a running download with its event. */
static void
test_stop(void **state)
{
	test_start(NULL);
	fetch("http://files.test/slow");
	while (hits_slow == 0)
		run_for(20);
	download_stop();
	assert_int_equal(count("sundew.download.failed"), 1);
	assert_non_null(strstr(last("sundew.download.failed"),
	    "\"reason\":\"shutdown\""));
	if (slow_req != NULL)
		evhttp_send_reply(slow_req, 200, "OK", NULL);
}

/*
 * A name the name server resolves to a private address: asked, then
 * refused by the policy; a name that does not exist: "resolve".
 */
static void
test_dns(void **state)
{
	test_start(NULL);
	dns_queries = 0;
	fetch("http://dns-private.test/count");
	run_until(1, 10);
	assert_non_null(strstr(last("sundew.download.failed"),
	    "\"reason\":\"private\""));
	assert_true(dns_queries >= 1);
	fetch("http://nx.test/count");
	run_until(2, 10);
	assert_non_null(strstr(last("sundew.download.failed"),
	    "\"reason\":\"resolve\""));
	assert_int_equal(hits_count, 0);
}

/*
 * The servers of the tests on a new loop: HTTP and DNS on 127.0.0.1, and
 * the files download.hosts and download.resolv_conf name.
 */
static int
servers_start(void)
{
	struct evhttp_bound_socket	*bs;
	struct sockaddr_in		 sin;
	socklen_t			 len = sizeof(sin);
	FILE				*f;
	int				 fd, u;

	base = event_base_new();
	http = evhttp_new(base);
	if (base == NULL || http == NULL)
		return -1;
	evhttp_set_gencb(http, http_cb, NULL);
	if ((bs = evhttp_bind_socket_with_handle(http, "127.0.0.1",
	    0)) == NULL)
		return -1;
	getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sin,
	    &len);
	http_port = ntohs(sin.sin_port);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	len = sizeof(sin);
	if ((u = socket(AF_INET, SOCK_DGRAM, 0)) == -1 ||
	    bind(u, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(u, (struct sockaddr *)&sin, &len) == -1 ||
	    evutil_make_socket_nonblocking(u) == -1 ||
	    evdns_add_server_port_with_base(base, u, 0, dns_cb, NULL) == NULL)
		return -1;

	snprintf(hosts_path, sizeof(hosts_path),
	    "/tmp/sundew-test-hosts-XXXXXX");
	if ((fd = mkstemp(hosts_path)) == -1 || (f = fdopen(fd, "w")) == NULL)
		return -1;
	fprintf(f, "10.0.0.1 private.test\n::1 loop6.test\n"
	    "169.254.169.254 meta.test\n127.0.0.1 localhost.test\n");
	fclose(f);
	snprintf(resolv_path, sizeof(resolv_path),
	    "/tmp/sundew-test-resolv-XXXXXX");
	if ((fd = mkstemp(resolv_path)) == -1 ||
	    (f = fdopen(fd, "w")) == NULL)
		return -1;
	fprintf(f, "nameserver 127.0.0.1:%u\noptions timeout:1 attempts:1\n",
	    ntohs(sin.sin_port));
	fclose(f);
	return 0;
}

static void
servers_files_remove(void)
{
	unlink(hosts_path);
	unlink(resolv_path);
}

/* Enters the sensor's live seccomp filter (not privileged: no chroot). */
static void
sensor_filter_enter(void)
{
	struct sandbox	sb;

	memset(&sb, 0, sizeof(sb));
	sb.seccomp = 1;
	sb.uid = getuid();
	sb.gid = getgid();
	sandbox_enter(&sb, ".", SANDBOX_SENSOR);
}

/*
 * Waits for the child pid: it must exit 0.  Killed by SIGSYS, it made a
 * system call the filter lacks.
 */
static void
child_wait(pid_t pid)
{
	int	status;

	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		fail_msg("killed by signal %d (%d: SIGSYS)", WTERMSIG(status),
		    SIGSYS);
	assert_int_equal(WEXITSTATUS(status), 0);
}

/*
 * Everything above that makes system calls, in a child under the
 * sensor's live seccomp filter (sandbox_enter, not privileged: no
 * chroot): libcurl, OpenSSL's and libevent's set-up before it, then a
 * whole http download and a DNS query after.  A call the filter lacks
 * kills the child (SIGSYS).
 */
static void
test_under_sensor_filter(void **state)
{
	pid_t	pid;

	fflush(NULL);
	if ((pid = fork()) == 0) {
		nevents = nfiles = 0;
		if (servers_start() == -1)
			_exit(2);
		test_start(NULL);
		sensor_filter_enter();
		fetch("http://files.test/file");
		fetch("http://dns-private.test/count");
		run_until(2, 10);
		if (nfiles != 1 || file_len != sizeof(body) ||
		    memcmp(file_data, body, sizeof(body)) != 0)
			_exit(3);
		if (count("sundew.download.failed") != 1 ||
		    strstr(last("sundew.download.failed"),
		    "\"reason\":\"private\"") == NULL || dns_queries < 1)
			_exit(4);
		download_stop();
		_exit(0);
	}
	child_wait(pid);
}

/* A UDP socket on addr (a text address), any port; its port in *port. */
static int
udp_socket(const char *addr, uint16_t *port)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t		 len = sizeof(ss);
	int			 fd, six = strchr(addr, ':') != NULL;

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = six ? AF_INET6 : AF_INET;
	if (six)
		assert_int_equal(inet_pton(AF_INET6, addr, &sin6->sin6_addr), 1);
	else
		assert_int_equal(inet_pton(AF_INET, addr, &sin->sin_addr), 1);
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	assert_true(fd != -1);
	assert_int_equal(bind(fd, (struct sockaddr *)&ss, six ?
	    sizeof(*sin6) : sizeof(*sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	*port = ntohs(six ? sin6->sin6_port : sin->sin_port);
	return fd;
}

/*
 * tftp from a server on addr: it gets the read request; rogue (-1: none),
 * another address, sends DATA block 1 first; the sensor must answer
 * nothing to rogue and take the server's block, which it ACKs.
 */
static void
tftp_exchange(const char *addr, const char *rogue_addr)
{
	static const uint8_t	 real[] = "\0\3\0\1MZ the server's";
	static const uint8_t	 fake[] = "\0\3\0\1MZ another address's";
	struct sockaddr_storage	 peer;
	socklen_t		 plen = sizeof(peer);
	char			 rule[128], buf[600];
	uint16_t		 port, rport;
	int			 srv, rogue = -1, i;
	ssize_t			 n = -1;

	srv = udp_socket(addr, &port);
	if (rogue_addr != NULL)
		rogue = udp_socket(rogue_addr, &rport);
	snprintf(rule, sizeof(rule), strchr(addr, ':') != NULL ?
	    "download.connect_to=tftp.test:69:[%s]:%u" :
	    "download.connect_to=tftp.test:69:%s:%u", addr, port);
	test_start(rule);
	fetch("tftp://tftp.test/t.exe");
	for (i = 0; i < 250 && n == -1; i++) {
		run_for(20);
		n = recvfrom(srv, buf, sizeof(buf), 0,
		    (struct sockaddr *)&peer, &plen);
	}
	assert_true(n > 2 && memcmp(buf, "\0\1t.exe\0", 8) == 0);
	if (rogue != -1) {
		assert_int_equal(sendto(rogue, fake, sizeof(fake) - 1, 0,
		    (struct sockaddr *)&peer, plen), sizeof(fake) - 1);
		run_for(500);
		assert_int_equal(recv(rogue, buf, sizeof(buf), 0), -1);
	}
	assert_int_equal(sendto(srv, real, sizeof(real) - 1, 0,
	    (struct sockaddr *)&peer, plen), sizeof(real) - 1);
	run_until(1, 10);
	assert_int_equal(nfiles, 1);
	assert_int_equal(file_len, sizeof(real) - 5);
	assert_memory_equal(file_data, real + 4, sizeof(real) - 5);
	/* The ACK of block 1 (after repeated requests, if any). */
	do
		n = recv(srv, buf, sizeof(buf), 0);
	while (n > 0 && buf[1] == 1);
	assert_int_equal(n, 4);
	assert_memory_equal(buf, "\0\4\0\1", 4);
	close(srv);
	if (rogue != -1)
		close(rogue);
}

/* tftp hears the pinned address only (IPv4: another loopback address). */
static void
test_tftp_pinned(void **state)
{
	tftp_exchange("127.0.0.1", "127.0.0.77");
}

/* The same filter lets the pinned IPv6 address through. */
static void
test_tftp_pinned6(void **state)
{
	tftp_exchange("::1", NULL);
}

/*
 * Proxies in the environment are not followed: a named one (curl would
 * start its threaded resolver, a clone the sensor's filter kills) set
 * before the set-up, and a numeric one set after it (curl reads the
 * environment at each connection: the socket guard would refuse it).
 * In a child under the sensor's live filter; the file comes straight
 * from the server.
 */
static void
test_proxy_env(void **state)
{
	pid_t	pid;

	fflush(NULL);
	if ((pid = fork()) == 0) {
		nevents = nfiles = 0;
		setenv("http_proxy", "http://proxy.example:3128", 1);
		setenv("HTTPS_PROXY", "http://proxy.example:3128", 1);
		setenv("ALL_PROXY", "socks5://proxy.example:1080", 1);
		setenv("SSLKEYLOGFILE", "/tmp/sundew-test-keys", 1);
		if (servers_start() == -1)
			_exit(2);
		test_start(NULL);
		servers_files_remove();
		if (getenv("http_proxy") != NULL ||
		    getenv("SSLKEYLOGFILE") != NULL)
			_exit(2);
		sensor_filter_enter();
		fetch("http://files.test/file");
		run_until(1, 10);
		if (nfiles != 1)
			_exit(3);
		setenv("http_proxy", "http://127.0.0.1:1", 1);
		fetch("http://files.test/count");
		run_until(2, 10);
		if (nfiles != 2 || count("sundew.download.failed") != 0)
			_exit(4);
		download_stop();
		_exit(0);
	}
	child_wait(pid);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_http_complete, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_store_behind, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_max_size, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_policy_refusals, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_dns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redirects, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_retries, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bodies_budget, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_too_slow, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_duplicate, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_urls, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_under_sensor_filter,
		    setup, NULL),
		cmocka_unit_test_setup_teardown(test_proxy_env, setup, NULL),
		cmocka_unit_test_setup_teardown(test_tftp_pinned, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tftp_pinned6, setup,
		    teardown),
	};
	int	r;

	log_init("test_download", 1, 0);
	event_set_sensor("t1");
	if (servers_start() == -1) {
		servers_files_remove();
		return 1;
	}
	r = cmocka_run_group_tests(tests, NULL, NULL);
	servers_files_remove();
	return r;
}
