/*
 * A session of the SMB service driven through its on_data as the core
 * drives it (what a call leaves unconsumed comes again with the next
 * bytes), its replies read from the other end of a socketpair.  The
 * sensor's side (sensor.h) is replaced by the functions below: events,
 * stored files and the analyser's hand-offs are kept to be read.  For
 * test_smb.c, test_smb1_trans.c and test_doublepulsar.c.
 */
/* Each test uses some of the builders below. */
#pragma GCC diagnostic ignored "-Wunused-function"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/sha.h>

#include "config.h"
#include "conn.h"
#include "event.h"
#include "host.h"
#include "listen.h"
#include "proto.h"
#include "sensor.h"
#include "smb.h"
#include "smb_int.h"
#include "store.h"

static struct config		 conf;
static struct event_base	*base;
static struct sensor_stats	 stats;
static char			 events[262144];
static size_t			 eventslen;
/* Every event counted, also those past events' room. */
static int			 nrequests, nlimits, nlogins;
static char			 last_limit[1024];

#define MAX_STORED	16
static struct {
	int		 kind;
	uint8_t		 sha[SHA256_DIGEST_LENGTH];
	size_t		 len;
}				 stored[MAX_STORED];
static int			 nstored;
/* The last file stored: its kind, its first bytes, its whole length. */
static struct {
	int		 kind;
	uint8_t		 buf[65536];
	size_t		 len, total;
}				 last_stored;
/* Payloads handed to the analyser, and how many after the close event. */
static int			 nanalysed, nanalysed_late;

const struct config *sensor_conf(void) { return &conf; }
struct event_base *sensor_base(void) { return base; }
int sensor_index(void) { return 0; }
struct connlimit *sensor_limits(void) { return NULL; }
struct egress_shared *sensor_egress(void) { return NULL; }
struct sensor_stats *sensor_stats(void) { return &stats; }
void sensor_pause_accept(int pause) { (void)pause; }
struct ledger *sensor_ledger(void) { return NULL; }
const struct listener *sensor_listener(size_t i) { return NULL; }

void
sensor_send_event(struct event_buf *ev)
{
	size_t	n = event_end(ev);

	if (strstr(ev->buf, "\"sundew.request\"") != NULL)
		nrequests++;
	if (strstr(ev->buf, "\"sundew.login.attempt\"") != NULL)
		nlogins++;
	if (strstr(ev->buf, "\"sundew.limit.hit\"") != NULL) {
		nlimits++;
		snprintf(last_limit, sizeof(last_limit), "%.1000s", ev->buf);
	}
	if (eventslen + n + 1 < sizeof(events)) {
		memcpy(events + eventslen, ev->buf, n);
		eventslen += n;
		events[eventslen++] = '\n';
		events[eventslen] = '\0';
	}
}

int
sensor_send_file(int kind, const char *ctx, size_t ctxlen, const void *p,
    size_t n)
{
	if (nstored < MAX_STORED) {
		stored[nstored].kind = kind;
		stored[nstored].len = n;
		SHA256(p, n, stored[nstored].sha);
		nstored++;
	}
	last_stored.kind = kind;
	last_stored.total = n;
	last_stored.len = n < sizeof(last_stored.buf) ? n :
	    sizeof(last_stored.buf);
	memcpy(last_stored.buf, p, last_stored.len);
	return 0;
}

int
sensor_analyse(const struct capture_origin *o, const void *p, size_t n)
{
	nanalysed++;
	if (strstr(events, "\"sundew.connection.close\"") != NULL)
		nanalysed_late++;
	return 0;
}

/* How many times s occurs in the events. */
static int
events_count(const char *s)
{
	const char	*e;
	int		 n = 0;

	for (e = events; (e = strstr(e, s)) != NULL; e++)
		n++;
	return n;
}

/* A session of the service under test, as the core holds it. */
struct tsess {
	struct conn		 c;
	struct listener		 lst;
	const struct service	*svc;
	int			 peer;		/* the client's end */
	uint8_t			 pending[300000];
	size_t			 plen;
};

/* A session of the service name (e.g. "smb", "netbios-ssn"). */
static void
tsess_open(struct tsess *t, const char *name)
{
	int	sv[2];

	memset(t, 0, sizeof(*t));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	/* Room for the answers a test reads only at its end. */
	for (int i = 0; i < 2; i++) {
		int	sz = 1 << 20;

		setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	}
	t->lst.transport = SERVICE_TCP;
	t->lst.def = proto_find(name);
	assert_non_null(t->lst.def);
	t->svc = proto_emulator(t->lst.def);
	t->c.lst = &t->lst;
	t->c.svc = t->svc;
	t->c.fd = sv[0];
	t->c.slot = -1;
	t->c.rev = event_new(base, -1, 0, NULL, NULL);
	t->c.wev = event_new(base, -1, 0, NULL, NULL);
	strcpy(t->c.session, "0123456789abcdef");
	/* As inside the core's call: a conn_close() leaves c to us. */
	t->c.in_callback = 1;
	t->peer = sv[1];
	fcntl(t->peer, F_SETFL, O_NONBLOCK);
	t->c.state = t->svc->session_new(&t->c);
	assert_non_null(t->c.state);
	eventslen = 0;
	events[0] = '\0';
	nstored = 0;
	nrequests = nlimits = nlogins = 0;
	nanalysed = nanalysed_late = 0;
}

static void
tsess_close(struct tsess *t)
{
	if (!t->c.closing)
		t->svc->session_free(t->c.state);
	event_free(t->c.rev);
	event_free(t->c.wev);
	if (t->c.out != NULL)
		evbuffer_free(t->c.out);
	free(t->c.fields);
	close(t->c.fd);
	close(t->peer);
}

/* Sends n bytes in one piece; -1 if on_data says so. */
static int
tsess_send(struct tsess *t, const uint8_t *p, size_t n)
{
	ssize_t	used;

	assert_true(t->plen + n <= sizeof(t->pending));
	memcpy(t->pending + t->plen, p, n);
	t->plen += n;
	t->c.bytes_in += n;
	used = t->svc->on_data(&t->c, t->c.state, t->pending, t->plen);
	if (used < 0)
		return -1;
	assert_true((size_t)used <= t->plen);
	memmove(t->pending, t->pending + used, t->plen - (size_t)used);
	t->plen -= (size_t)used;
	return 0;
}

/* Sends n bytes in pieces of piece bytes; -1 as soon as on_data says so. */
static int
tsess_send_pieces(struct tsess *t, const uint8_t *p, size_t n, size_t piece)
{
	size_t	i, k;

	for (i = 0; i < n; i += k) {
		k = n - i < piece ? n - i : piece;
		if (tsess_send(t, p + i, k) == -1)
			return -1;
	}
	return 0;
}

/* The next reply the service wrote (its NBSS frame stripped), or 0. */
static size_t
tsess_reply(struct tsess *t, uint8_t *buf, size_t cap)
{
	uint8_t	h[4];
	size_t	len, n = 0;
	ssize_t	r;

	if (read(t->peer, h, 4) != 4)
		return 0;
	len = (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
	assert_true(len <= cap);
	while (n < len) {
		r = read(t->peer, buf + n, len - n);
		assert_true(r > 0);
		n += (size_t)r;
	}
	return len;
}

/* All the service wrote so far, frames and all. */
static size_t
tsess_recv(struct tsess *t, uint8_t *buf, size_t cap)
{
	ssize_t	r;
	size_t	n = 0;

	while (n < cap && (r = read(t->peer, buf + n, cap - n)) > 0)
		n += (size_t)r;
	return n;
}

/* The header fields a request's sender chooses; the others are zero. */
struct smb1_ids {
	uint16_t	flags2, tid, pid, uid, mid;
};

/* An SMB1 request in its NBSS frame: header, words, bytes. */
static size_t
smb1_frame(uint8_t *out, uint8_t cmd, const struct smb1_ids *id,
    const uint8_t *words, uint8_t wct, const uint8_t *bytes, size_t bcc)
{
	size_t	len = 32 + 1 + 2 * (size_t)wct + 2 + bcc;
	uint8_t	*h = out + 4;

	out[0] = 0;
	out[1] = (uint8_t)(len >> 16);
	out[2] = (uint8_t)(len >> 8);
	out[3] = (uint8_t)len;
	memset(h, 0, 32);
	memcpy(h, "\xffSMB", 4);
	h[4] = cmd;
	h[9] = 0x18;
	smb_put16(h + 10, id->flags2);
	smb_put16(h + 24, id->tid);
	smb_put16(h + 26, id->pid);
	smb_put16(h + 28, id->uid);
	smb_put16(h + 30, id->mid);
	h[32] = wct;
	if (wct > 0)
		memcpy(h + 33, words, 2 * (size_t)wct);
	smb_put16(h + 33 + 2 * wct, (uint16_t)bcc);
	if (bcc > 0)
		memcpy(h + 35 + 2 * wct, bytes, bcc);
	return 4 + len;
}

/* A client's request with its flags2, no tid or uid yet: pid 0x1234, mid 7. */
static size_t
smb1_build(uint8_t *out, uint8_t cmd, uint16_t flags2, const uint8_t *words,
    uint8_t wct, const uint8_t *bytes, size_t bcc)
{
	struct smb1_ids	id = { .flags2 = flags2, .pid = 0x1234,
	    .mid = 7 };

	return smb1_frame(out, cmd, &id, words, wct, bytes, bcc);
}

/* A request with its mid, as EternalBlue's tools send it. */
static size_t
smb1_build_mid(uint8_t *out, uint8_t cmd, uint16_t mid,
    const uint8_t *words, uint8_t wct, const uint8_t *bytes, size_t bcc)
{
	struct smb1_ids	id = { .flags2 = 0xc007, .tid = 0x0800,
	    .pid = 0xfeff, .uid = 0x0800, .mid = mid };

	return smb1_frame(out, cmd, &id, words, wct, bytes, bcc);
}

/*
 * A Trans or Trans2 primary (cmd 0x25, 0x32): totals, this message's
 * parameters and data (after a name for Trans), one or two setup words.
 */
static size_t
trans_primary_build(uint8_t *out, uint8_t cmd, uint16_t mid,
    const uint16_t *setup, uint8_t nsetup, uint32_t timeout, uint16_t tpc,
    uint16_t tdc, const uint8_t *params, uint16_t pc, const uint8_t *data,
    uint16_t dc, const char *name)
{
	uint8_t	w[2 * 16], b[70000];
	size_t	wct = 14 + nsetup, start, nl = 0, bl, po, doff;

	memset(w, 0, sizeof(w));
	smb_put16(w, tpc);
	smb_put16(w + 2, tdc);
	smb_put16(w + 4, 1024);
	smb_put16(w + 6, 4280);
	smb_put16(w + 10, 0);
	smb_put32(w + 12, timeout);
	start = 32 + 1 + 2 * wct + 2;
	if (name != NULL) {
		nl = strlen(name) + 1;
		memcpy(b, name, nl);
	}
	po = start + nl;
	doff = po + pc;
	smb_put16(w + 18, pc);
	smb_put16(w + 20, (uint16_t)po);
	smb_put16(w + 22, dc);
	smb_put16(w + 24, (uint16_t)doff);
	w[26] = nsetup;
	for (size_t i = 0; i < nsetup; i++)
		smb_put16(w + 28 + 2 * i, setup[i]);
	if (pc > 0)
		memcpy(b + nl, params, pc);
	if (dc > 0)
		memcpy(b + nl + pc, data, dc);
	bl = nl + pc + dc;
	return smb1_build_mid(out, cmd, mid, w, (uint8_t)wct, b, bl);
}

/* A Trans (0x26) or Trans2 (0x33) secondary. */
static size_t
trans_secondary_build(uint8_t *out, uint8_t cmd, uint16_t mid,
    uint16_t tpc, uint16_t tdc, const uint8_t *params, uint16_t pc,
    uint16_t pd, const uint8_t *data, uint16_t dc, uint16_t dd)
{
	uint8_t	w[18], b[70000];
	size_t	wct = cmd == 0x33 ? 9 : 8, start;

	memset(w, 0, sizeof(w));
	start = 32 + 1 + 2 * wct + 2;
	smb_put16(w, tpc);
	smb_put16(w + 2, tdc);
	smb_put16(w + 4, pc);
	smb_put16(w + 6, (uint16_t)start);
	smb_put16(w + 8, pd);
	smb_put16(w + 10, dc);
	smb_put16(w + 12, (uint16_t)(start + pc));
	smb_put16(w + 14, dd);
	if (pc > 0)
		memcpy(b, params, pc);
	if (dc > 0)
		memcpy(b + pc, data, dc);
	return smb1_build_mid(out, cmd, mid, w, (uint8_t)wct, b, pc + dc);
}

/* A PE of size bytes (at least 0x400): headers, one section, a pattern. */
static void
pe_build(uint8_t *p, size_t size, uint8_t seed)
{
	size_t	i;

	for (i = 0; i < size; i++)
		p[i] = (uint8_t)(seed + i * 7 + (i >> 8));
	memset(p, 0, 0x200);
	p[0] = 'M';
	p[1] = 'Z';
	smb_put32(p + 0x3c, 0x80);
	memcpy(p + 0x80, "PE\0\0", 4);
	smb_put16(p + 0x84, 0x14c);		/* i386 */
	smb_put16(p + 0x86, 1);			/* one section */
	smb_put16(p + 0x94, 0xe0);		/* optional header */
	smb_put16(p + 0x98, 0x10b);		/* PE32 */
	smb_put32(p + 0x98 + 60, 0x200);	/* SizeOfHeaders */
	memcpy(p + 0x178, ".text", 5);
	smb_put32(p + 0x178 + 16, (uint32_t)(size - 0x200));
	smb_put32(p + 0x178 + 20, 0x200);
}

static int
harness_setup(void **state)
{
	base = event_base_new();
	conf.max_input = 32 << 20;
	conf.download_max_size = 16 << 20;
	return 0;
}

static int
harness_teardown(void **state)
{
	event_base_free(base);
	return 0;
}
