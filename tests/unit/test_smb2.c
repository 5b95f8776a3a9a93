/*
 * SMB2 (src/proto/smb2.c) through the real SMB service on a socketpair:
 * the header's and the compound chain's bounds, the credits and message
 * ids echoed, the dialect chosen against the host's highest, and the
 * 3.1.1 negotiate contexts, whole and truncated.  The sensor's side
 * (sensor.h) is replaced by the few functions below; events are kept.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "config.h"
#include "conn.h"
#include "connlimit.h"
#include "event.h"
#include "host.h"
#include "listen.h"
#include "proto.h"
#include "sensor.h"
#include "smb.h"
#include "smb_int.h"
#include "smb2_int.h"

static struct config		 conf;
static struct event_base	*base;
static struct connlimit		*limits;
static struct sensor_stats	 stats;
static char			 closed_reason[64];
static char			 events[16][1024];
static int			 nevents;
static int			 nlimits;
static char			 last_limit[1024];

const struct config *sensor_conf(void) { return &conf; }
struct event_base *sensor_base(void) { return base; }
int sensor_index(void) { return 0; }
struct connlimit *sensor_limits(void) { return limits; }
struct egress_shared *sensor_egress(void) { return NULL; }
struct sensor_stats *sensor_stats(void) { return &stats; }
void sensor_pause_accept(int pause) { (void)pause; }
struct ledger *sensor_ledger(void) { return NULL; }
const struct listener *sensor_listener(size_t i);

void
sensor_send_event(struct event_buf *ev)
{
	const char	*r;

	event_end(ev);
	if (strstr(ev->buf, "\"sundew.limit.hit\"") != NULL) {
		nlimits++;
		snprintf(last_limit, sizeof(last_limit), "%.1000s", ev->buf);
	}
	if (nevents < 16)
		snprintf(events[nevents++], sizeof(events[0]), "%.1000s", ev->buf);
	if (strstr(ev->buf, "\"sundew.connection.close\"") != NULL &&
	    (r = strstr(ev->buf, "\"reason\":\"")) != NULL)
		snprintf(closed_reason, sizeof(closed_reason), "%.*s",
		    (int)strcspn(r + 10, "\""), r + 10);
}

static int			 nfiles;
static size_t			 file_size;

int
sensor_send_file(int kind, const char *ctx, size_t ctxlen, const void *p,
    size_t n)
{
	nfiles++;
	file_size = n;
	return 0;
}

int
sensor_analyse(const struct capture_origin *o, const void *p, size_t n)
{
	return 0;
}

static const struct service_def	def = { "smb", SERVICE_TCP, { 445 },
				    &service_smb };
static struct listener		lst;
static int			peer;

const struct listener *
sensor_listener(size_t i)
{
	return i == 0 ? &lst : NULL;
}

/* The host of a version (host.* keys). */
static void
host(const char *version)
{
	struct config	c;
	char		opt[64], err[512];
	char	       *ov[1] = { opt };

	snprintf(opt, sizeof(opt), "host.version=%s", version);
	if (config_load(&c, NULL, ov, 1, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(host_init(&c), 0);
	config_free(&c);
}

/* A session of the SMB service on one end of a socketpair. */
static int
setup(void **state)
{
	struct sockaddr_in	sin;
	int			sv[2];

	signal(SIGPIPE, SIG_IGN);
	memset(&conf, 0, sizeof(conf));
	conf.max_input = 100u << 20;
	conf.idle_timeout = 30;
	conf.session_timeout = 300;
	memset(&stats, 0, sizeof(stats));
	closed_reason[0] = '\0';
	nevents = 0;
	nfiles = 0;
	nlimits = 0;
	memset(&lst, 0, sizeof(lst));
	lst.transport = SERVICE_TCP;
	lst.def = &def;
	lst.port = 445;
	lst.fd = -1;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
	peer = sv[0];
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(4444);
	conn_accept(&lst, sv[1], (struct sockaddr *)&sin, sizeof(sin));
	assert_int_equal(stats.accepted, 1);
	host(*state != NULL ? (const char *)*state : "5.1.2600");
	return 0;
}

static int
teardown(void **state)
{
	conn_close_all("shutdown");
	close(peer);
	return 0;
}

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

static void
run(int ms)
{
	struct timeval	tv = { 0, ms * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* Builds requests. */
struct msg {
	uint8_t	b[4096];
	size_t	len;
	size_t	last;		/* the last command's header */
};

static void
put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void
put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }
static uint16_t
get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t
get32(const uint8_t *p) { return get16(p) | (uint32_t)get16(p + 2) << 16; }

/*
 * Appends a command (its header, then body of n bytes) to m, chained to
 * the previous one (8-byte aligned, NextCommand) if there is one.
 */
static uint8_t *
cmd(struct msg *m, uint16_t command, uint64_t mid, uint16_t credits,
    uint32_t flags, const void *body, size_t n)
{
	uint8_t	*h;

	if (m->len > 0) {
		m->len = (m->len + 7) & ~(size_t)7;
		put32(m->b + m->last + 20, (uint32_t)(m->len - m->last));
	}
	h = m->b + m->len;
	memset(h, 0, 64);
	memcpy(h, "\xfeSMB", 4);
	put16(h + 4, 64);
	put16(h + 12, command);
	put16(h + 14, credits);
	put32(h + 16, flags);
	put32(h + 24, (uint32_t)mid);
	memcpy(h + 64, body, n);
	m->last = m->len;
	m->len += 64 + n;
	return h;
}

/* Sends m in one NBSS frame. */
static void
send_msg(const struct msg *m)
{
	uint8_t	nb[4] = { 0, (uint8_t)(m->len >> 16), (uint8_t)(m->len >> 8),
		    (uint8_t)m->len };

	assert_int_equal(write(peer, nb, 4), 4);
	assert_int_equal(write(peer, m->b, m->len), (ssize_t)m->len);
	run(30);
}

/* The next NBSS frame's message into buf; its length, -1 if none. */
static ssize_t
recv_msg(uint8_t *buf, size_t cap)
{
	uint8_t	nb[4];
	size_t	len;

	if (read(peer, nb, 4) != 4)
		return -1;
	len = (size_t)nb[1] << 16 | (size_t)nb[2] << 8 | nb[3];
	assert_true(len <= cap);
	assert_int_equal(read(peer, buf, len), (ssize_t)len);
	return (ssize_t)len;
}

/* A NEGOTIATE body offering dialects, and contexts (3.1.1) if any. */
static size_t
negotiate(uint8_t *b, const uint16_t *d, size_t nd, const uint8_t *ctx,
    size_t ctxlen, uint16_t nctx)
{
	size_t	n, i;

	memset(b, 0, 512);
	put16(b, 36);
	put16(b + 2, (uint16_t)nd);
	put16(b + 4, 1);
	memcpy(b + 12, "client-guid-0001", 16);
	for (i = 0; i < nd; i++)
		put16(b + 36 + 2 * i, d[i]);
	n = 36 + 2 * nd;
	if (ctx != NULL) {
		n = (n + 64 + 7) / 8 * 8 - 64;
		put32(b + 28, (uint32_t)(n + 64));
		put16(b + 32, nctx);
		memcpy(b + n, ctx, ctxlen);
		n += ctxlen;
	}
	return n;
}

/* A 3.1.1 client's contexts: preauth (SHA-512 if sha) and encryption. */
static size_t
contexts(uint8_t *c, int sha)
{
	memset(c, 0, 128);
	put16(c, 1);
	put16(c + 2, 38);
	put16(c + 8, 1);
	put16(c + 10, 32);
	put16(c + 12, sha ? 1 : 2);
	put16(c + 48, 2);
	put16(c + 50, 6);
	put16(c + 56, 2);
	put16(c + 58, 1);
	put16(c + 60, 2);
	return 62;
}

static const char *
event_with(const char *needle)
{
	int	i;

	for (i = 0; i < nevents; i++)
		if (strstr(events[i], needle) != NULL)
			return events[i];
	return NULL;
}

/* The dialect the host of *state answers to what a client offers. */
static uint16_t
answered(const uint16_t *d, size_t nd, uint32_t *status)
{
	struct msg	m = { .len = 0 };
	uint8_t		body[512], ctx[128], r[4096];
	size_t		n;
	ssize_t		rl;

	n = negotiate(body, d, nd, ctx, contexts(ctx, 1), 2);
	cmd(&m, 0, 0, 1, 0, body, n);
	send_msg(&m);
	rl = recv_msg(r, sizeof(r));
	assert_true(rl >= 64 + 9);
	*status = get32(r + 8);
	return *status == 0 ? get16(r + 64 + 4) : 0;
}

static const uint16_t all[] = { 0x0202, 0x0210, 0x0300, 0x0302, 0x0311 };

/* XP's host answers 2.0.2 to a client offering everything. */
static void
test_dialect_xp(void **state)
{
	uint32_t	st;

	assert_int_equal(answered(all, 5, &st), 0x0202);
	assert_non_null(event_with("\"dialect\":\"2.0.2\""));
}

/* ... and STATUS_NOT_SUPPORTED to one that offers 3.x only. */
static void
test_dialect_none(void **state)
{
	static const uint16_t	d[] = { 0x0300, 0x0311, 0x02ff };
	uint32_t		st;

	assert_int_equal(answered(d, 3, &st), 0);
	assert_int_equal(st, 0xc00000bb);
	assert_string_equal(closed_reason, "");
}

/* Windows 2012 (3.0) takes the highest offered not above its own. */
static void
test_dialect_2012(void **state)
{
	static const uint16_t	d[] = { 0x0210, 0x0311, 0x0202 };
	uint32_t		st;

	assert_int_equal(answered(all, 5, &st), 0x0300);
	/* A connection negotiates once: the second offer on a new one. */
	teardown(state);
	setup(state);
	assert_int_equal(answered(d, 3, &st), 0x0210);
}

/*
 * A second NEGOTIATE on a connection that has its dialect: no answer,
 * the connection ends, as Windows disconnects (MS-SMB2 3.3.5.3.1).
 */
static void
test_second_negotiate(void **state)
{
	struct msg	m = { .len = 0 };
	uint8_t		body[512], r[4096];
	size_t		n;
	uint32_t	st;

	assert_int_equal(answered(all, 5, &st), 0x0202);
	n = negotiate(body, all, 5, NULL, 0, 0);
	cmd(&m, 0, 1, 1, 0, body, n);
	send_msg(&m);
	assert_int_equal(recv_msg(r, sizeof(r)), -1);
	assert_string_equal(closed_reason, "protocol_error");
}

/* 2016 speaks 3.1.1: preauth with a 32-byte salt, the cipher answered. */
static void
test_dialect_311_contexts(void **state)
{
	struct msg	m = { .len = 0 };
	uint8_t		body[512], ctx[128], r[4096];
	size_t		n, off, i, count;
	ssize_t		rl;
	int		preauth = 0, cipher = 0;

	n = negotiate(body, all, 5, ctx, contexts(ctx, 1), 2);
	cmd(&m, 0, 7, 1, 0, body, n);
	send_msg(&m);
	rl = recv_msg(r, sizeof(r));
	assert_true(rl > 128);
	assert_int_equal(get32(r + 8), 0);
	assert_int_equal(get32(r + 24), 7);		/* MessageId */
	assert_int_equal(get16(r + 64 + 4), 0x0311);
	assert_int_equal(get16(r + 64 + 2), 1);		/* signing enabled */
	count = get16(r + 64 + 6);
	off = get32(r + 64 + 60);
	assert_int_equal(count, 2);
	assert_int_equal(off % 8, 0);
	for (i = 0; i < count; i++) {
		off = (off + 7) & ~(size_t)7;
		assert_true(off + 8 <= (size_t)rl);
		if (get16(r + off) == 1) {
			assert_int_equal(get16(r + off + 8), 1);
			assert_int_equal(get16(r + off + 10), 32);
			assert_int_equal(get16(r + off + 12), 1);
			preauth = 1;
		} else if (get16(r + off) == 2) {
			assert_int_equal(get16(r + off + 10), 2);	/* GCM */
			cipher = 1;
		}
		off += 8 + get16(r + off + 2);
	}
	assert_int_equal(off, (size_t)rl);
	assert_true(preauth && cipher);
	assert_non_null(event_with("\"dialect\":\"3.1.1\""));
}

/* A preauth context without SHA-512: the status Windows gives. */
static void
test_contexts_no_sha512(void **state)
{
	uint8_t		ctx[128];
	uint32_t	st;
	struct msg	m = { .len = 0 };
	uint8_t		body[512], r[4096];
	size_t		n;

	n = negotiate(body, all, 5, ctx, contexts(ctx, 0), 2);
	cmd(&m, 0, 0, 1, 0, body, n);
	send_msg(&m);
	assert_true(recv_msg(r, sizeof(r)) >= 73);
	st = get32(r + 8);
	assert_int_equal(st, 0xc05d0000);
	assert_string_equal(closed_reason, "");
}

/* Contexts cut short, or more counted than sent: garbage, the end. */
static void
test_contexts_truncated(void **state)
{
	struct msg	m = { .len = 0 };
	uint8_t		body[512], ctx[128], r[64];
	size_t		n, clen = contexts(ctx, 1);

	/* The encryption context says 6 bytes of data, 4 are sent. */
	n = negotiate(body, all, 5, ctx, clen - 2, 2);
	cmd(&m, 0, 0, 1, 0, body, n);
	send_msg(&m);
	assert_int_equal(recv_msg(r, sizeof(r)), -1);
	assert_string_equal(closed_reason, "protocol_error");
}

static void
test_contexts_miscounted(void **state)
{
	struct msg	m = { .len = 0 };
	uint8_t		body[512], ctx[128], r[64];
	size_t		n;

	n = negotiate(body, all, 5, ctx, contexts(ctx, 1), 3);
	cmd(&m, 0, 0, 1, 0, body, n);
	send_msg(&m);
	assert_int_equal(recv_msg(r, sizeof(r)), -1);
	assert_string_equal(closed_reason, "protocol_error");
}

/* More dialects counted than the message holds. */
static void
test_dialects_truncated(void **state)
{
	struct msg	m = { .len = 0 };
	uint8_t		body[512], r[64];
	size_t		n;

	n = negotiate(body, all, 5, NULL, 0, 0);
	put16(body + 2, 40);
	cmd(&m, 0, 0, 1, 0, body, n);
	send_msg(&m);
	assert_int_equal(recv_msg(r, sizeof(r)), -1);
	assert_string_equal(closed_reason, "protocol_error");
}

static const uint8_t echo[4] = { 4, 0, 0, 0 };

/* Two ECHOs in a compound: one frame, two answers chained, credits. */
static void
test_compound(void **state)
{
	struct msg	m = { .len = 0 };
	uint8_t		r[512];
	ssize_t		rl;

	cmd(&m, 0x0d, 11, 0, 0, echo, 4);
	cmd(&m, 0x0d, 12, 9, 4, echo, 4);
	send_msg(&m);
	rl = recv_msg(r, sizeof(r));
	assert_int_equal(rl, 72 + 68);
	assert_int_equal(get32(r + 20), 72);		/* NextCommand */
	assert_int_equal(get32(r + 24), 11);
	assert_int_equal(get16(r + 14), 1);		/* at least one */
	assert_int_equal(get32(r + 16), 1);		/* a response */
	assert_int_equal(get32(r + 72 + 20), 0);
	assert_int_equal(get32(r + 72 + 24), 12);
	assert_int_equal(get16(r + 72 + 14), 9);	/* as asked */
	assert_int_equal(get32(r + 72 + 16), 5);	/* related, kept */
	assert_int_equal(get16(r + 72 + 64), 4);
	assert_int_equal(recv_msg(r, sizeof(r)), -1);	/* nothing more */
}

/* A NextCommand past the frame, or not 8-byte aligned, is garbage. */
static void
test_compound_bounds(void **state)
{
	struct msg	m = { .len = 0 };
	uint8_t		r[512];

	cmd(&m, 0x0d, 1, 1, 0, echo, 4);
	cmd(&m, 0x0d, 2, 1, 0, echo, 4);
	put32(m.b + 20, 144);			/* past the frame's end */
	send_msg(&m);
	assert_int_equal(recv_msg(r, sizeof(r)), -1);
	assert_string_equal(closed_reason, "protocol_error");
}

static void
test_compound_unaligned(void **state)
{
	struct msg	m = { .len = 0 };
	uint8_t		r[512];

	/* The second ECHO right after the first, at 68: not 8-aligned. */
	cmd(&m, 0x0d, 1, 1, 0, echo, 4);
	memcpy(m.b + 68, m.b, 68);
	put32(m.b + 20, 68);
	m.len = 136;
	send_msg(&m);
	assert_int_equal(recv_msg(r, sizeof(r)), -1);
	assert_string_equal(closed_reason, "protocol_error");
}

/* A header's StructureSize other than 64, or a body shorter than its own. */
static void
test_header_size(void **state)
{
	struct msg	m = { .len = 0 };
	uint8_t		r[512];

	cmd(&m, 0x0d, 1, 1, 0, echo, 4);
	put16(m.b + 4, 65);
	send_msg(&m);
	assert_int_equal(recv_msg(r, sizeof(r)), -1);
	assert_string_equal(closed_reason, "protocol_error");
}

static void
test_body_short(void **state)
{
	static const uint8_t	tc[4] = { 9, 0, 0, 0 };
	struct msg		m = { .len = 0 };
	uint8_t			r[512];

	cmd(&m, 0x03, 1, 1, 0, tc, 4);		/* TREE_CONNECT: 8 fixed */
	send_msg(&m);
	assert_int_equal(recv_msg(r, sizeof(r)), -1);
	assert_string_equal(closed_reason, "protocol_error");
}

/* An unknown command: STATUS_NOT_SUPPORTED, and the session goes on. */
static void
test_unknown_command(void **state)
{
	struct msg	m = { .len = 0 };
	uint8_t		r[512];

	cmd(&m, 0x30, 5, 1, 0, echo, 4);
	send_msg(&m);
	assert_int_equal(recv_msg(r, sizeof(r)), 64 + 9);
	assert_int_equal(get32(r + 8), 0xc00000bb);
	m.len = 0;
	cmd(&m, 0x0d, 6, 1, 0, echo, 4);
	send_msg(&m);
	assert_int_equal(recv_msg(r, sizeof(r)), 64 + 4);
	assert_int_equal(get32(r + 8), 0);
}

/* A share the host has not: STATUS_BAD_NETWORK_NAME; IPC$ is a pipe tree. */
static void
test_tree_connect(void **state)
{
	struct msg	m = { .len = 0 };
	uint8_t		body[128], r[512];
	const char	*paths[] = { "\\\\h\\NOPE", "\\\\h\\ipc$" };
	size_t		i, j, n;

	for (i = 0; i < 2; i++) {
		memset(body, 0, sizeof(body));
		put16(body, 9);
		put16(body + 4, 64 + 8);
		n = strlen(paths[i]);
		for (j = 0; j < n; j++)
			body[8 + 2 * j] = (uint8_t)paths[i][j];
		put16(body + 6, (uint16_t)(2 * n));
		m.len = 0;
		cmd(&m, 0x03, i, 1, 0, body, 8 + 2 * n);
		send_msg(&m);
		assert_true(recv_msg(r, sizeof(r)) >= 64 + 9);
		if (i == 0)
			assert_int_equal(get32(r + 8), 0xc00000cc);
		else {
			assert_int_equal(get32(r + 8), 0);
			assert_int_equal(r[64 + 2], 2);
			assert_int_not_equal(get32(r + 36), 0);
		}
	}
	assert_non_null(event_with("\"path\":\"\\\\\\\\h\\\\ipc$\""));
}

/* A TREE_CONNECT to path; its answer's TreeId. */
static uint32_t
tree(const char *path)
{
	struct msg	m = { .len = 0 };
	uint8_t		body[64], r[256];
	size_t		j, n = strlen(path);

	memset(body, 0, sizeof(body));
	put16(body, 9);
	put16(body + 4, 64 + 8);
	put16(body + 6, (uint16_t)(2 * n));
	for (j = 0; j < n; j++)
		body[8 + 2 * j] = (uint8_t)path[j];
	cmd(&m, 0x03, 1, 1, 0, body, 8 + 2 * n);
	send_msg(&m);
	assert_true(recv_msg(r, sizeof(r)) >= 64 + 16);
	assert_int_equal(get32(r + 8), 0);
	return get32(r + 36);
}

/* A TREE_CONNECT to \\\\h\\IPC$; its answer's TreeId. */
static uint32_t
tree_ipc(void)
{
	return tree("\\\\h\\IPC$");
}

/* Appends a CREATE of pipe on tree tid to m. */
static void
create_req(struct msg *m, const char *pipe, uint32_t tid, uint64_t mid)
{
	uint8_t		body[128];
	size_t		j, n = strlen(pipe);

	memset(body, 0, sizeof(body));
	put16(body, 57);
	put16(body + 44, 64 + 56);
	put16(body + 46, (uint16_t)(2 * n));
	for (j = 0; j < n; j++)
		body[56 + 2 * j] = (uint8_t)pipe[j];
	put32(cmd(m, 0x05, mid, 1, 0, body, 56 + 2 * n) + 36, tid);
}

/* CREATE of pipe, then a related CLOSE of "the file just opened". */
static ssize_t
create_close(const char *pipe, uint32_t tid, uint8_t *r, size_t cap)
{
	struct msg	m = { .len = 0 };
	uint8_t		cl[24];

	create_req(&m, pipe, tid, 20);
	memset(cl, 0, sizeof(cl));
	put16(cl, 24);
	memset(cl + 8, 0xff, 16);
	cmd(&m, 0x06, 21, 1, 4, cl, 24);
	send_msg(&m);
	return recv_msg(r, cap);
}

/* A compound CREATE + CLOSE: both answered, the CLOSE of the new file. */
static void
test_compound_create_close(void **state)
{
	uint8_t		r[1024];
	uint32_t	tid = tree_ipc();
	ssize_t		rl;
	size_t		next;

	rl = create_close("srvsvc", tid, r, sizeof(r));
	next = get32(r + 20);
	assert_int_equal(next, 64 + 88);
	assert_int_equal(get32(r + 8), 0);
	assert_int_equal(get32(r + 36), tid);
	assert_int_not_equal(get32(r + 64 + 64), 0);	/* FileId */
	assert_int_equal(rl, (ssize_t)(next + 64 + 60));
	assert_int_equal(get32(r + next + 8), 0);
	assert_int_equal(get32(r + next + 24), 21);
	assert_int_equal(get32(r + next + 36), tid);	/* related: kept */
	assert_non_null(event_with("\"name\":\"srvsvc\""));
}

/*
 * A pipe opened as "\\PIPE\\SRVSVC": its create event names it as the
 * host serves it, as SMB1's does.
 */
static void
test_create_event_name(void **state)
{
	uint8_t	r[1024];

	create_close("\\PIPE\\SRVSVC", tree_ipc(), r, sizeof(r));
	assert_int_equal(get32(r + 8), 0);
	assert_non_null(event_with("\"name\":\"srvsvc\""));
	assert_null(event_with("PIPE"));
}

/* ... and when the CREATE fails, the CLOSE fails the same way. */
static void
test_compound_create_fails(void **state)
{
	uint8_t		r[1024];
	uint32_t	tid = tree_ipc();
	size_t		next;

	create_close("nosuchpipe", tid, r, sizeof(r));
	next = get32(r + 20);
	assert_int_equal(next, 64 + 16);	/* 73, 8-aligned */
	assert_int_equal(get32(r + 8), 0xc0000034);
	assert_int_equal(get32(r + next + 8), 0xc0000034);
	assert_string_equal(closed_reason, "");
}

/* A CREATE of a pipe on tree tid, alone; the FileId's first half. */
static uint64_t
open_pipe(const char *pipe, uint32_t tid)
{
	struct msg	m = { .len = 0 };
	uint8_t		r[1024];

	create_req(&m, pipe, tid, 30);
	send_msg(&m);
	assert_int_equal(recv_msg(r, sizeof(r)), 64 + 88);
	assert_int_equal(get32(r + 8), 0);
	return get32(r + 64 + 64);
}

/* Nothing written to the pipe yet: a READ finds it empty. */
static void
test_read_empty_pipe(void **state)
{
	struct msg	m = { .len = 0 };
	uint8_t		body[64], r[256];
	uint64_t	fid = open_pipe("srvsvc", tree_ipc());

	memset(body, 0, sizeof(body));
	put16(body, 49);
	put32(body + 4, 4280);
	put32(body + 16, (uint32_t)fid);
	put32(body + 24, (uint32_t)fid);
	cmd(&m, 0x08, 40, 1, 0, body, 49);
	send_msg(&m);
	assert_int_equal(recv_msg(r, sizeof(r)), 64 + 9);
	assert_int_equal(get32(r + 8), 0xc00000d9);
}

/*
 * A WRITE to fid as message msgid in a frame of n bytes (big) larger than
 * the emulator holds, its data all 'A': the frame's length, then its
 * first sent bytes as the socket takes them, the loop run between.
 */
static void
big_write(uint8_t *big, size_t n, uint64_t fid, uint32_t msgid, size_t sent)
{
	uint8_t	nb[4];
	size_t	off;
	ssize_t	w;

	memset(big, 0x41, n);
	memset(big, 0, 64 + 48);
	memcpy(big, "\xfeSMB", 4);
	put16(big + 4, 64);
	put16(big + 12, 0x09);
	put16(big + 14, 1);
	put32(big + 24, msgid);
	put16(big + 64, 49);
	put16(big + 66, 64 + 48);
	put32(big + 68, (uint32_t)(n - 64 - 48));
	put32(big + 80, (uint32_t)fid);
	put32(big + 88, (uint32_t)fid);
	nb[0] = 0;
	nb[1] = (uint8_t)(n >> 16);
	nb[2] = (uint8_t)(n >> 8);
	nb[3] = (uint8_t)n;
	assert_int_equal(write(peer, nb, 4), 4);
	for (off = 0; off < sent; off += (size_t)w) {
		w = write(peer, big + off, sent - off);
		if (w < 0)
			w = 0;
		run(5);
	}
}

/*
 * A WRITE larger than a frame the emulator holds, to a pipe: taken in
 * pieces and refused whole (no DCERPC message is that long); the
 * session goes on.
 */
static void
test_large_write_to_pipe(void **state)
{
	static uint8_t	big[64 + 48 + 140000];
	struct msg	m = { .len = 0 };
	uint8_t		r[256];
	uint64_t	fid = open_pipe("srvsvc", tree_ipc());

	big_write(big, sizeof(big), fid, 50, sizeof(big));
	run(30);
	assert_int_equal(recv_msg(r, sizeof(r)), 64 + 9);
	assert_int_equal(get32(r + 8), 0xc000000d);
	assert_int_equal(get32(r + 24), 50);
	cmd(&m, 0x0d, 51, 1, 0, echo, 4);
	send_msg(&m);
	assert_int_equal(recv_msg(r, sizeof(r)), 64 + 4);
	assert_string_equal(closed_reason, "");
}

/* A WRITE of n bytes of data at off of file fid; the answer's status. */
static uint32_t
write_at(uint64_t fid, uint64_t off, const uint8_t *data, size_t n)
{
	struct msg	m = { .len = 0 };
	uint8_t		body[48 + 256], r[256];

	memset(body, 0, sizeof(body));
	put16(body, 49);
	put16(body + 2, 64 + 48);
	put32(body + 4, (uint32_t)n);
	put32(body + 8, (uint32_t)off);
	put32(body + 12, (uint32_t)(off >> 32));
	put32(body + 16, (uint32_t)fid);
	put32(body + 24, (uint32_t)fid);
	memcpy(body + 48, data, n);
	cmd(&m, 0x09, 60, 1, 0, body, 48 + n);
	send_msg(&m);
	assert_true(recv_msg(r, sizeof(r)) >= 64 + 9);
	return get32(r + 8);
}

/* A READ of want bytes at off of file fid into r; the answer's length. */
static ssize_t
read_at(uint64_t fid, uint64_t off, uint32_t want, uint8_t *r, size_t cap)
{
	struct msg	m = { .len = 0 };
	uint8_t		body[64];

	memset(body, 0, sizeof(body));
	put16(body, 49);
	put32(body + 4, want);
	put32(body + 8, (uint32_t)off);
	put32(body + 12, (uint32_t)(off >> 32));
	put32(body + 16, (uint32_t)fid);
	put32(body + 24, (uint32_t)fid);
	cmd(&m, 0x08, 61, 1, 0, body, 49);
	send_msg(&m);
	return recv_msg(r, cap);
}

/*
 * A file on a disk share whose write went past the 8 MiB it keeps, then
 * read: only what it holds comes back (nothing, here: it holds nothing),
 * never bytes past its buffer, and the session goes on.
 */
static void
test_read_cut_file(void **state)
{
	static uint8_t	r[70000];
	uint8_t		data[16];
	uint32_t	tid = tree("\\\\h\\C$");
	uint64_t	fid = open_pipe("big.bin", tid), fid2;

	memset(data, 0x41, sizeof(data));
	assert_int_equal(write_at(fid, 9u << 20, data, sizeof(data)), 0);
	assert_int_equal(read_at(fid, 0, 65536, r, sizeof(r)), 64 + 9);
	assert_int_equal(get32(r + 8), 0xc0000011);	/* END_OF_FILE */
	/* Some bytes, then a write past the cap: those bytes read back. */
	fid2 = open_pipe("small.bin", tid);
	assert_int_equal(write_at(fid2, 0, data, 10), 0);
	assert_int_equal(write_at(fid2, 9u << 20, data, sizeof(data)), 0);
	assert_int_equal(read_at(fid2, 0, 65536, r, sizeof(r)), 64 + 16 + 10);
	assert_int_equal(get32(r + 8), 0);
	assert_int_equal(get32(r + 64 + 4), 10);
	assert_memory_equal(r + 64 + 16, data, 10);
	assert_string_equal(closed_reason, "");
}

/*
 * A WRITE larger than a frame to a file on a disk share, the session
 * ending in its middle: the file, incomplete, is not stored; the same
 * WRITE whole is, closed at the session's end.
 */
static void
test_large_write_cut(void **state)
{
	static uint8_t	big[64 + 48 + 200000];
	uint64_t	fid = open_pipe("w.exe", tree("\\\\h\\C$"));

	big_write(big, sizeof(big), fid, 0,
	    *state != NULL ? sizeof(big) : 150000);
	run(30);
	shutdown(peer, SHUT_WR);
	run(30);
	assert_string_equal(closed_reason, "peer_closed");
	if (*state != NULL) {
		assert_int_equal(nfiles, 1);
		assert_int_equal(file_size, 200000);
	} else
		assert_int_equal(nfiles, 0);
}

/*
 * 512 session setups in a session (an NTLMSSP NEGOTIATE each, answered
 * with a challenge); the 513th is refused, said once, the session goes on.
 */
static void
test_session_setups_cap(void **state)
{
	static const uint8_t	neg[] = "NTLMSSP\0\x01\0\0\0\x07\x82\x08\xa2"
				    "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
	struct msg		m;
	uint8_t			body[128], r[1024], nb[4] = { 0 };
	ssize_t			rl;
	int			i, j;

	memset(body, 0, sizeof(body));
	put16(body, 25);
	put16(body + 12, 64 + 24);
	put16(body + 14, 32);
	memcpy(body + 24, neg, 32);
	/* 32 at a time (a send_msg each would take seconds) ... */
	for (i = 0; i < 514; i++) {
		m.len = 0;
		cmd(&m, 0x01, (uint64_t)i, 1, 0, body, 24 + 32);
		nb[2] = (uint8_t)(m.len >> 8);
		nb[3] = (uint8_t)m.len;
		assert_int_equal(write(peer, nb, 4), 4);
		assert_int_equal(write(peer, m.b, m.len), (ssize_t)m.len);
		if (i % 32 != 31 && i != 513)
			continue;
		/* ... and their answers read, in order. */
		for (j = i - i % 32; j <= i; j++) {
			while ((rl = recv_msg(r, sizeof(r))) == -1)
				run(10);
			assert_true(rl >= 64 + 9);
			assert_int_equal(get32(r + 24), j);
			assert_int_equal(get32(r + 8), j < 512 ?
			    0xc0000016 : 0xc0000205);
		}
	}
	assert_int_equal(nlimits, 1);
	assert_non_null(strstr(last_limit, "\"limit\":\"smb_logins\""));
	m.len = 0;
	cmd(&m, 0x0d, 600, 1, 0, echo, 4);
	send_msg(&m);
	assert_int_equal(recv_msg(r, sizeof(r)), 64 + 4);
	assert_string_equal(closed_reason, "");
}

/* SMBGhost: a compressed message whose sizes overflow, on 1903. */
static void
test_smbghost_compressed(void **state)
{
	struct msg	m = { .len = 0 };
	uint8_t		r[64];

	memset(m.b, 0x90, 64);
	memcpy(m.b, "\xfcSMB", 4);
	put32(m.b + 4, 0xffffffff);		/* OriginalCompressedSegmentSize */
	put16(m.b + 8, 1);			/* LZNT1 */
	put32(m.b + 12, 0x10);			/* Offset */
	m.len = 64;
	send_msg(&m);
	assert_int_equal(recv_msg(r, sizeof(r)), -1);
	assert_string_equal(closed_reason, "compressed");
	if (strcmp((const char *)*state, "10.0.18362") == 0)
		assert_non_null(event_with("\"cve\":\"CVE-2020-0796\""));
	else
		assert_null(event_with("sundew.exploit.detected"));
}

/* An encrypted message the host never offered: the session ends. */
static void
test_transform(void **state)
{
	struct msg	m = { .len = 0 };
	uint8_t		r[512];

	memset(m.b, 0, 52 + 16);
	memcpy(m.b, "\xfdSMB", 4);
	put32(m.b + 36, 16);
	m.len = 52 + 16;
	send_msg(&m);
	assert_int_equal(recv_msg(r, sizeof(r)), -1);
	assert_string_equal(closed_reason, "encrypted");
}

/* An IOCTL on the FileId of the compound's last CREATE (all ones). */
static ssize_t
ioctl(uint32_t ctl, const uint8_t *in, size_t inlen, uint32_t maxout,
    uint8_t *r, size_t cap)
{
	struct msg	m = { .len = 0 };
	uint8_t		body[256];

	memset(body, 0, sizeof(body));
	put16(body, 57);
	put32(body + 4, ctl);
	memset(body + 8, 0xff, 16);
	put32(body + 24, 64 + 56);
	put32(body + 28, (uint32_t)inlen);
	put32(body + 44, maxout);
	put32(body + 48, 1);			/* SMB2_0_IOCTL_IS_FSCTL */
	memcpy(body + 56, in, inlen);
	cmd(&m, 0x0b, 3, 1, 0, body, 56 + inlen);
	send_msg(&m);
	return recv_msg(r, cap);
}

/* VALIDATE_NEGOTIATE_INFO says what the negotiate said (3.0). */
static void
test_validate_negotiate(void **state)
{
	static const uint16_t	d[] = { 0x0202, 0x0210, 0x0300 };
	struct msg		m = { .len = 0 };
	uint8_t			body[512], neg[4096], r[512], in[64];
	size_t			n;

	n = negotiate(body, d, 3, NULL, 0, 0);
	put32(body + 8, 0x20);			/* directory leasing */
	cmd(&m, 0, 1, 1, 0, body, n);
	send_msg(&m);
	assert_true(recv_msg(neg, sizeof(neg)) > 128);
	assert_int_equal(get16(neg + 64 + 4), 0x0300);
	memset(in, 0, sizeof(in));
	put32(in, 0x20);
	memcpy(in + 4, "client-guid-0001", 16);
	put16(in + 20, 1);
	put16(in + 22, 3);
	memcpy(in + 24, "\x02\x02\x10\x02\x00\x03", 6);
	assert_int_equal(ioctl(0x00140204, in, 30, 24, r, sizeof(r)),
	    64 + 48 + 24);
	assert_int_equal(get32(r + 8), 0);
	assert_int_equal(get32(r + 64 + 32), 64 + 48);	/* OutputOffset */
	assert_int_equal(get32(r + 64 + 36), 24);
	assert_memory_equal(r + 112, neg + 64 + 24, 4);	/* capabilities */
	assert_true(get32(r + 112) & 0x20);
	assert_memory_equal(r + 116, neg + 64 + 8, 16);	/* server GUID */
	assert_int_equal(get16(r + 132), 1);
	assert_int_equal(get16(r + 134), 0x0300);
	/* DFS referrals: the host is no DFS root. */
	assert_int_equal(ioctl(0x00060194, in, 4, 1024, r, sizeof(r)),
	    64 + 9);
	assert_int_equal(get32(r + 8), 0xc0000225);
}

/* On 3.1.1 the preauth hash protects the negotiate: Windows hangs up. */
static void
test_validate_negotiate_311(void **state)
{
	struct msg	m = { .len = 0 };
	uint8_t		body[512], ctx[128], r[4096], in[64];
	size_t		n;

	n = negotiate(body, all, 5, ctx, contexts(ctx, 1), 2);
	cmd(&m, 0, 1, 1, 0, body, n);
	send_msg(&m);
	assert_true(recv_msg(r, sizeof(r)) > 128);
	memset(in, 0, sizeof(in));
	assert_int_equal(ioctl(0x00140204, in, 24, 24, r, sizeof(r)), -1);
	assert_string_equal(closed_reason, "validate_negotiate");
}

/*
 * The same in a compound, ahead of more commands: the session ends at
 * the IOCTL, the rest is neither run nor answered (sc is gone).
 */
static void
test_validate_negotiate_compound(void **state)
{
	struct msg	m = { .len = 0 };
	uint8_t		body[512], ctx[128], r[4096];
	const char	*path = "\\\\h\\IPC$";
	size_t		n, j;

	n = negotiate(body, all, 5, ctx, contexts(ctx, 1), 2);
	cmd(&m, 0, 1, 1, 0, body, n);
	send_msg(&m);
	assert_true(recv_msg(r, sizeof(r)) > 128);
	m.len = 0;
	cmd(&m, 0x0d, 2, 1, 0, echo, 4);
	memset(body, 0, sizeof(body));
	put16(body, 57);
	put32(body + 4, 0x00140204);
	memset(body + 8, 0xff, 16);
	put32(body + 24, 64 + 56);
	put32(body + 28, 24);
	put32(body + 44, 24);
	put32(body + 48, 1);
	cmd(&m, 0x0b, 3, 1, 0, body, 56 + 24);
	memset(body, 0, sizeof(body));
	put16(body, 9);
	put16(body + 4, 64 + 8);
	n = strlen(path);
	put16(body + 6, (uint16_t)(2 * n));
	for (j = 0; j < n; j++)
		body[8 + 2 * j] = (uint8_t)path[j];
	cmd(&m, 0x03, 4, 1, 0, body, 8 + 2 * n);
	send_msg(&m);
	assert_int_equal(recv_msg(r, sizeof(r)), -1);
	assert_string_equal(closed_reason, "validate_negotiate");
	assert_null(event_with("\"command\":\"tree_connect\""));
}

/*
 * Signatures against an independent implementation (Python's hmac and
 * cryptography's CMAC) under RFC 4493's key, of an ECHO answer.
 */
static void
test_sign_vectors(void **state)
{
	static const uint8_t	key[16] = { 0x2b, 0x7e, 0x15, 0x16, 0x28,
	    0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c };
	static const uint8_t	hmac[16] = { 0xcb, 0x99, 0x32, 0x6a, 0x43,
	    0xe0, 0x56, 0x93, 0xfc, 0xd9, 0xe5, 0xee, 0xd8, 0x3e, 0x5c, 0x10 };
	static const uint8_t	cmac[16] = { 0x63, 0xea, 0xb9, 0xb8, 0x8d,
	    0x37, 0x4c, 0x9c, 0x2b, 0x2f, 0x00, 0xd2, 0xec, 0xbb, 0x48, 0x3c };
	struct smb2_state	s;
	uint8_t			msg[68];
	int			i;

	for (i = 0; i < 2; i++) {
		memset(&s, 0, sizeof(s));
		memset(msg, 0, sizeof(msg));
		memcpy(msg, "\xfeSMB", 4);
		msg[4] = 64;
		msg[12] = 0x0d;
		msg[14] = 1;
		msg[16] = 1;
		msg[24] = 7;
		msg[64] = 4;
		memset(msg + 48, 0xaa, 16);	/* whatever was there */
		s.signing = i == 0 ? SMB2_SIGN_HMAC : SMB2_SIGN_CMAC;
		memcpy(s.sign_key, key, 16);
		assert_int_equal(smb2_sign(&s, msg, sizeof(msg)), 0);
		assert_int_equal(msg[16], 1 | 8);
		assert_memory_equal(msg + 48, i == 0 ? hmac : cmac, 16);
	}
}

#define T(f, v)	cmocka_unit_test_prestate_setup_teardown(f, setup, \
		    teardown, (void *)(v))

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_dialect_xp, NULL),
		T(test_dialect_none, NULL),
		T(test_dialect_2012, "6.2.9200"),
		T(test_second_negotiate, NULL),
		T(test_dialect_311_contexts, "10.0.14393"),
		T(test_contexts_no_sha512, "10.0.14393"),
		T(test_contexts_truncated, "10.0.14393"),
		T(test_contexts_miscounted, "10.0.14393"),
		T(test_dialects_truncated, NULL),
		T(test_compound, NULL),
		T(test_compound_bounds, NULL),
		T(test_compound_unaligned, NULL),
		T(test_header_size, NULL),
		T(test_body_short, NULL),
		T(test_unknown_command, NULL),
		T(test_tree_connect, NULL),
		T(test_transform, NULL),
		T(test_compound_create_close, NULL),
		T(test_compound_create_fails, NULL),
		T(test_create_event_name, NULL),
		T(test_read_empty_pipe, NULL),
		T(test_read_cut_file, NULL),
		T(test_session_setups_cap, NULL),
		T(test_large_write_cut, NULL),
		/* The same host; a state that says: send the WRITE whole. */
		T(test_large_write_cut, "5.1.2600"),
		T(test_large_write_to_pipe, NULL),
		T(test_smbghost_compressed, "10.0.18362"),
		T(test_smbghost_compressed, "10.0.14393"),
		T(test_validate_negotiate, "6.2.9200"),
		T(test_validate_negotiate_311, "10.0.14393"),
		T(test_validate_negotiate_compound, "10.0.14393"),
		cmocka_unit_test(test_sign_vectors),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
