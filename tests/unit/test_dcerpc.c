/*
 * The DCERPC endpoint (dcerpc.c) fed PDUs as a client writes them: bind
 * results per context item, requests run through a test interface table
 * (the real interfaces are dce_*.c's, tested there), fragments across
 * writes in every split, the caps, faults, events and the analyser.  The
 * sensor's side (sensor.h) is replaced by the functions below, which keep
 * the events and the payloads handed to the analyser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "config.h"
#include "conn.h"
#include "dce_int.h"
#include "dcerpc.h"
#include "event.h"
#include "exploit.h"
#include "host.h"
#include "listen.h"
#include "proto.h"
#include "sensor.h"

static struct config		conf;
static struct sensor_stats	stats;

const struct config *sensor_conf(void) { return &conf; }
struct event_base *sensor_base(void) { return NULL; }
int sensor_index(void) { return 0; }
struct connlimit *sensor_limits(void) { return NULL; }
struct egress_shared *sensor_egress(void) { return NULL; }
struct sensor_stats *sensor_stats(void) { return &stats; }
void sensor_pause_accept(int pause) { (void)pause; }
struct ledger *sensor_ledger(void) { return NULL; }
const struct listener *sensor_listener(size_t i) { return NULL; }

#define NEVENTS	64
static char	events[NEVENTS][1024];
static int	nevents;
static int	nanalysed;
static size_t	analysed_len;

void
sensor_send_event(struct event_buf *ev)
{
	event_end(ev);
	if (nevents < NEVENTS)
		snprintf(events[nevents], sizeof(events[0]), "%.*s",
		    (int)sizeof(events[0]) - 1, ev->buf);
	nevents++;
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
	nanalysed++;
	analysed_len = n;
	return 0;
}

/* How many of the events kept hold s. */
static int
events_with(const char *s)
{
	int	i, n = 0;

	for (i = 0; i < nevents && i < NEVENTS; i++)
		if (strstr(events[i], s) != NULL)
			n++;
	return n;
}

/*
 * The test interfaces.  "echo" 11111111-2222-3333-4455-66778899aabb v1:
 * opnum 0 answers the stub itself, 1 faults with access denied, 2 says
 * exploit and answers nothing, 3 answers as many bytes as its u32 says.
 */
static uint32_t
echo_call(struct dce_call *call, struct ndr_w *out)
{
	struct ndr_r	r;
	uint32_t	n;

	switch (call->opnum) {
	case 0:
		ndr_w_bytes(out, call->stub, call->len);
		return 0;
	case 1:
		return DCE_FAULT_ACCESS_DENIED;
	case 2:
		dce_exploit(call, EXPLOIT_MS04_011, "test");
		dce_exploit(call, EXPLOIT_MS03_026, "test");
		return 0;
	case 3:
		ndr_r_init(&r, call->stub, call->len);
		n = ndr_r_u32(&r);
		while (n-- > 0 && !out->err)
			ndr_w_u8(out, (uint8_t)n);
		return 0;
	}
	return DCE_FAULT_OP_RNG_ERROR;
}

#define ECHO_UUID	0xbb, 0xaa, 0x99, 0x88, 0x77, 0x66, 0x55, 0x44, \
			0x33, 0x33, 0x22, 0x22, 0x11, 0x11, 0x11, 0x11
static const struct dce_iface	echo = {
	"echo", { 0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x33, 0x33,
	    0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb }, 1, 0, echo_call
};
const struct dce_iface *const dce_ifaces[] = { &echo, NULL };

const struct dce_iface *
dce_iface_find(const uint8_t uuid[16], uint16_t vmajor)
{
	size_t	i;

	for (i = 0; dce_ifaces[i] != NULL; i++)
		if (memcmp(dce_ifaces[i]->uuid, uuid, 16) == 0 &&
		    dce_ifaces[i]->vmajor == vmajor)
			return dce_ifaces[i];
	return NULL;
}

static const uint8_t	NDR[20] = { 0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c,
	0xc9, 0x11, 0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60, 2, 0, 0, 0 };
static const uint8_t	NDR64[20] = { 0x33, 0x05, 0x71, 0x71, 0xba, 0xbe,
	0x37, 0x49, 0x83, 0x19, 0xb5, 0xdb, 0xef, 0x9c, 0xcc, 0x36, 1, 0, 0, 0 };
static const uint8_t	BTFN[20] = { 0x2c, 0x1c, 0xb7, 0x6c, 0x12, 0x98,
	0x40, 0x45, 0x03, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0 };
static const uint8_t	UNKNOWN[16] = { 0xde, 0xad, 0xbe, 0xef };

static struct listener		lst;
static const struct service_def	def = { "dcerpc", SERVICE_TCP, { 135 },
	NULL };
static struct conn		c;
static uint32_t			seen;
static uint32_t			dce_events;	/* the session's count */

static int
setup(void **state)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&c.dst;

	memset(&c, 0, sizeof(c));
	lst.def = &def;
	lst.transport = SERVICE_TCP;
	lst.port = 135;
	c.lst = &lst;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(135);
	sin->sin_addr.s_addr = htonl(0x7f000001);
	c.src = c.dst;
	snprintf(c.session, sizeof(c.session), "0123456789abcdef");
	nevents = nanalysed = 0;
	analysed_len = 0;
	seen = 0;
	dce_events = 0;
	return 0;
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

/* A common header, little-endian; frag_length from len. */
static void
hdr(uint8_t *b, uint8_t type, uint8_t flags, size_t len, uint16_t alen,
    uint32_t call_id)
{
	b[0] = 5;
	b[1] = 0;
	b[2] = type;
	b[3] = flags;
	put32(b + 4, 0x10);
	put16(b + 8, (uint16_t)len);
	put16(b + 10, alen);
	put32(b + 12, call_id);
}

struct item {
	const uint8_t	*uuid;
	uint16_t	 vmajor;
	const uint8_t	*ts;
};

/* A bind (or alter_context) of n items, max_xmit and max_recv 4280. */
static size_t
bind_pdu(uint8_t *b, uint8_t type, uint32_t call_id, const struct item *it,
    size_t n)
{
	size_t	i, len = 28;

	put16(b + 16, 4280);
	put16(b + 18, 4280);
	put32(b + 20, 0);
	b[24] = (uint8_t)n;
	b[25] = b[26] = b[27] = 0;
	for (i = 0; i < n; i++) {
		put16(b + len, (uint16_t)i);
		b[len + 2] = 1;
		b[len + 3] = 0;
		memcpy(b + len + 4, it[i].uuid, 16);
		put16(b + len + 20, it[i].vmajor);
		put16(b + len + 22, 0);
		memcpy(b + len + 24, it[i].ts, 20);
		len += 44;
	}
	hdr(b, type, 3, len, 0, call_id);
	return len;
}

static size_t
bind_echo(uint8_t *b)
{
	const struct item	it = { echo.uuid, 1, NDR };

	return bind_pdu(b, 11, 1, &it, 1);
}

/* A request fragment on context ctx. */
static size_t
req_pdu(uint8_t *b, uint8_t flags, uint32_t call_id, uint16_t ctx,
    uint16_t opnum, const void *stub, size_t n)
{
	put32(b + 16, (uint32_t)n);
	put16(b + 20, ctx);
	put16(b + 22, opnum);
	memmove(b + 24, stub, n);
	hdr(b, 0, flags, 24 + n, 0, call_id);
	return 24 + n;
}

/* All that the endpoint answered, PDU by PDU as dce_read gives them. */
static size_t
drain(struct dce *d, uint8_t *buf, size_t cap)
{
	size_t	n = 0, k;

	while ((k = dce_read(d, buf + n, cap - n)) > 0)
		n += k;
	return n;
}

/* The same, the association group of a bind_ack first left out. */
static size_t
drain_noassoc(struct dce *d, uint8_t *buf, size_t cap)
{
	size_t	n = drain(d, buf, cap);

	if (n >= 24 && buf[2] == 12)
		memset(buf + 20, 0, 4);
	return n;
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
get32(const uint8_t *p)
{
	return get16(p) | (uint32_t)get16(p + 2) << 16;
}

static void
test_bind_three_items(void **state)
{
	const struct item	it[3] = {
		{ echo.uuid, 1, NDR }, { echo.uuid, 1, NDR64 },
		{ UNKNOWN, 1, NDR },
	};
	static const uint8_t	want[] = {
		5, 0, 12, 3, 0x10, 0, 0, 0, 108, 0, 0, 0, 1, 0, 0, 0,
		0xb8, 0x10, 0xb8, 0x10,		/* 4280, 4280 */
		0x41, 0x5c, 0, 0,		/* association group */
		4, 0, '1', '3', '5', 0,		/* secondary address */
		0, 0,				/* pad */
		3, 0, 0, 0,
		0, 0, 0, 0,			/* accepted, NDR 2.0 */
		0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11,
		0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60, 2, 0, 0, 0,
		2, 0, 2, 0,			/* transfer syntax not ... */
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		2, 0, 1, 0,			/* abstract syntax not ... */
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	};
	uint8_t		 b[512], out[512];
	struct dce	*d = dce_new(&c, NULL, &seen, &dce_events);
	size_t		 n;

	n = bind_pdu(b, 11, 1, it, 3);
	assert_int_equal(dce_write(d, b, n, 0), 0);
	n = drain(d, out, sizeof(out));
	assert_int_equal(n, sizeof(want));
	/* The association group is the sensor's first. */
	assert_memory_equal(out, want, sizeof(want));
	assert_int_equal(dce_pending(d), 0);
	assert_int_equal(nevents, 3);
	assert_int_equal(events_with("\"dcerpc\":\"bind\""), 3);
	assert_int_equal(events_with(
	    "\"uuid\":\"11111111-2222-3333-4455-66778899aabb\",\"version\":1,"
	    "\"port\":135"), 2);
	assert_int_equal(events_with(
	    "\"uuid\":\"efbeadde-0000-0000-0000-000000000000\""), 1);
	assert_int_equal(events_with("\"emulator\":\"dcerpc\""), 3);
	/*
	 * The first context is bound, the others were not: faults, but the
	 * requests' events say what they were aimed at.
	 */
	n = req_pdu(b, 3, 2, 0, 0, "abcd", 4);
	n += req_pdu(b + n, 3, 3, 1, 0, "abcd", 4);
	n += req_pdu(b + n, 3, 4, 2, 7, "abcd", 4);
	assert_int_equal(dce_write(d, b, n, 0), 0);
	n = drain(d, out, sizeof(out));
	assert_int_equal(n, 28 + 32 + 32);
	assert_int_equal(out[2], 2);			/* response */
	assert_memory_equal(out + 24, "abcd", 4);
	assert_int_equal(out[28 + 2], 3);		/* fault */
	assert_int_equal(get32(out + 28 + 24), DCE_FAULT_UNK_IF);
	assert_int_equal(get32(out + 60 + 24), DCE_FAULT_UNK_IF);
	assert_int_equal(events_with("\"dcerpc\":\"request\",\"uuid\":"
	    "\"11111111-2222-3333-4455-66778899aabb\",\"version\":1,"
	    "\"opnum\":0,"), 2);
	assert_int_equal(events_with("\"dcerpc\":\"request\",\"uuid\":"
	    "\"efbeadde-0000-0000-0000-000000000000\",\"version\":1,"
	    "\"opnum\":7,"), 1);
	dce_free(d);
}

/*
 * The interface an exploit binds among 40 made-up ones is bound; 20 of
 * its own are more than an endpoint keeps: the rest are refused.
 */
static void
test_many_items(void **state)
{
	struct item	 it[41];
	uint8_t		 b[2048], out[2048], fake[40][16];
	struct dce	*d = dce_new(&c, NULL, &seen, &dce_events);
	size_t		 n, i;

	for (i = 0; i < 40; i++) {
		memset(fake[i], (int)i + 1, 16);
		it[i].uuid = fake[i];
		it[i].vmajor = 1;
		it[i].ts = NDR;
	}
	it[40].uuid = echo.uuid;
	it[40].vmajor = 1;
	it[40].ts = NDR;
	n = bind_pdu(b, 11, 1, it, 41);
	assert_int_equal(dce_write(d, b, n, 0), 0);
	n = drain(d, out, sizeof(out));
	assert_int_equal(n, 36 + 41 * 24);
	for (i = 0; i < 40; i++)
		assert_int_equal(get16(out + 36 + 24 * i), 2);
	assert_int_equal(get16(out + 36 + 24 * 40), 0);
	/* Context 40 answers. */
	n = req_pdu(b, 3, 2, 40, 0, "ok", 2);
	assert_int_equal(dce_write(d, b, n, 0), 0);
	n = drain(d, out, sizeof(out));
	assert_int_equal(n, 26);
	assert_memory_equal(out + 24, "ok", 2);
	/* Twenty more of it: fifteen fit beside context 40, five are refused. */
	for (i = 0; i < 20; i++)
		it[i] = it[40];
	n = bind_pdu(b, 14, 3, it, 20);
	assert_int_equal(dce_write(d, b, n, 0), 0);
	n = drain(d, out, sizeof(out));
	assert_int_equal(n, 32 + 20 * 24);
	for (i = 0; i < 20; i++) {
		assert_int_equal(get16(out + 32 + 24 * i), i < 15 ? 0 : 2);
		assert_int_equal(get16(out + 32 + 24 * i + 2), i < 15 ? 0 : 3);
	}
	dce_free(d);
}

/*
 * A bind_ack's secondary address says the pipe an XP host serves the
 * interface on (the Honeynet capture: \PIPE\lsass for \lsarpc), the
 * port over TCP.
 */
static void
test_bind_secondary_address(void **state)
{
	static const char *const pipes[][2] = {
		{ "lsarpc", "\\PIPE\\lsass" }, { "samr", "\\PIPE\\lsass" },
		{ "LSARPC", "\\PIPE\\lsass" }, { "srvsvc", "\\PIPE\\ntsvcs" },
		{ "wkssvc", "\\PIPE\\ntsvcs" }, { "browser", "\\PIPE\\ntsvcs" },
		{ "spoolss", "\\PIPE\\spoolss" },
		{ "epmapper", "\\PIPE\\epmapper" },
	};
	uint8_t		 b[256], out[256];
	struct dce	*d;
	size_t		 i, n, len;

	for (i = 0; i < sizeof(pipes) / sizeof(pipes[0]); i++) {
		d = dce_new(&c, pipes[i][0], &seen, &dce_events);
		n = bind_echo(b);
		assert_int_equal(dce_write(d, b, n, 0), 0);
		n = drain(d, out, sizeof(out));
		len = strlen(pipes[i][1]) + 1;
		assert_int_equal(get16(out + 24), len);
		assert_memory_equal(out + 26, pipes[i][1], len);
		assert_int_equal(n, ((26 + len + 3) & ~3u) + 4 + 24);
		dce_free(d);
	}
	d = dce_new(&c, NULL, &seen, &dce_events);
	n = bind_echo(b);
	assert_int_equal(dce_write(d, b, n, 0), 0);
	n = drain(d, out, sizeof(out));
	assert_int_equal(get16(out + 24), 4);
	assert_memory_equal(out + 26, "135", 4);
	dce_free(d);
}

static void
test_bind_time_features(void **state)
{
	const struct item	it[2] = { { echo.uuid, 1, NDR },
		{ echo.uuid, 1, BTFN } };
	uint8_t		 b[256], out[256];
	struct dce	*d;
	size_t		 n;

	/* Windows XP knows no such thing: a transfer syntax it rejects. */
	conf.host_version = "5.1.2600";
	assert_int_equal(host_init(&conf), 0);
	d = dce_new(&c, "lsarpc", &seen, &dce_events);
	n = bind_pdu(b, 11, 1, it, 2);
	assert_int_equal(dce_write(d, b, n, 0), 0);
	n = drain(d, out, sizeof(out));
	/* "\PIPE\lsass": 12 bytes with its NUL, then 2 of padding. */
	assert_int_equal(get16(out + 24), 12);
	assert_memory_equal(out + 26, "\\PIPE\\lsass", 12);
	assert_int_equal(out[40], 2);
	assert_int_equal(get16(out + 44 + 24), 2);
	assert_int_equal(get16(out + 44 + 26), 2);
	assert_int_equal(n, 44 + 48);
	assert_int_equal(events_with("\"pipe\":\"\\\\lsarpc\""), 2);
	dce_free(d);

	/* Windows 7 acknowledges the features it has of those asked. */
	conf.host_version = "6.1.7601";
	assert_int_equal(host_init(&conf), 0);
	d = dce_new(&c, "lsarpc", &seen, &dce_events);
	n = bind_pdu(b, 11, 1, it, 2);
	assert_int_equal(dce_write(d, b, n, 0), 0);
	n = drain(d, out, sizeof(out));
	assert_int_equal(n, 44 + 48);
	assert_int_equal(get16(out + 44), 0);
	assert_int_equal(get16(out + 44 + 24), 3);	/* negotiate_ack */
	assert_int_equal(get16(out + 44 + 26), 3);
	assert_int_equal(get32(out + 44 + 28), 0);
	assert_int_equal(get32(out + 44 + 44), 0);
	dce_free(d);
	conf.host_version = "5.1.2600";
	assert_int_equal(host_init(&conf), 0);
}

static void
test_alter_context(void **state)
{
	const struct item	it = { echo.uuid, 1, NDR };
	uint8_t		 b[256], out[256];
	struct dce	*d = dce_new(&c, NULL, &seen, &dce_events);
	size_t		 n;

	n = bind_pdu(b, 14, 7, &it, 1);
	assert_int_equal(dce_write(d, b, n, 0), 0);
	n = drain(d, out, sizeof(out));
	assert_int_equal(n, 56);
	assert_int_equal(out[2], 15);		/* alter_context_resp */
	assert_int_equal(get32(out + 12), 7);
	assert_int_equal(get16(out + 24), 0);	/* no secondary address */
	assert_int_equal(out[28], 1);
	assert_int_equal(get16(out + 32), 0);
	assert_int_equal(events_with("\"dcerpc\":\"alter_context\""), 1);
	/* Context 0 rejected for another interface: it stays bound. */
	{
		const struct item	other = { UNKNOWN, 1, NDR };

		n = bind_pdu(b, 14, 8, &other, 1);
		assert_int_equal(dce_write(d, b, n, 0), 0);
		n = drain(d, out, sizeof(out));
		assert_int_equal(get16(out + 32), 2);
	}
	/* AUTH3 is not answered; a request on the context is. */
	hdr(b, 16, 3, 20, 0, 8);
	n = 20;
	n += req_pdu(b + n, 3, 9, 0, 0, "xy", 2);
	assert_int_equal(dce_write(d, b, n, 0), 0);
	n = drain(d, out, sizeof(out));
	assert_int_equal(n, 26);
	assert_int_equal(get32(out + 12), 9);
	dce_free(d);
}

static void
test_request_response(void **state)
{
	uint8_t		 b[256], out[256];
	struct dce	*d = dce_new(&c, NULL, &seen, &dce_events);
	size_t		 n;

	n = bind_echo(b);
	n += req_pdu(b + n, 3, 5, 0, 0, "hello", 5);
	assert_int_equal(dce_write(d, b, n, 100), 0);
	n = drain(d, out, sizeof(out));
	assert_int_equal(n, 60 + 29);
	assert_int_equal(out[60 + 2], 2);
	assert_int_equal(out[60 + 3], 3);
	assert_int_equal(get16(out + 60 + 8), 29);
	assert_int_equal(get32(out + 60 + 12), 5);
	assert_int_equal(get32(out + 60 + 16), 5);	/* alloc_hint */
	assert_int_equal(get16(out + 60 + 20), 0);
	assert_memory_equal(out + 60 + 24, "hello", 5);
	assert_int_equal(events_with("\"dcerpc\":\"request\",\"uuid\":"
	    "\"11111111-2222-3333-4455-66778899aabb\",\"version\":1,"
	    "\"opnum\":0,\"port\":135,\"size\":5"), 1);
	dce_free(d);
}

static void
test_faults(void **state)
{
	uint8_t		 b[256], out[256];
	struct dce	*d = dce_new(&c, NULL, &seen, &dce_events);
	size_t		 n;

	n = bind_echo(b);
	assert_int_equal(dce_write(d, b, n, 0), 0);
	drain(d, out, sizeof(out));
	/* The interface's status; an opnum it has not; no context. */
	n = req_pdu(b, 3, 2, 0, 1, "", 0);
	n += req_pdu(b + n, 3, 3, 0, 77, "", 0);
	n += req_pdu(b + n, 3, 4, 9, 0, "", 0);
	assert_int_equal(dce_write(d, b, n, 0), 0);
	n = drain(d, out, sizeof(out));
	assert_int_equal(n, 3 * 32);
	assert_int_equal(out[2], 3);
	assert_int_equal(out[3], 0x03);
	assert_int_equal(get32(out + 24), DCE_FAULT_ACCESS_DENIED);
	assert_int_equal(out[32 + 3], 0x23);	/* did not execute */
	assert_int_equal(get32(out + 32 + 24), DCE_FAULT_OP_RNG_ERROR);
	assert_int_equal(get32(out + 32 + 12), 3);
	assert_int_equal(out[64 + 3], 0x23);
	assert_int_equal(get32(out + 64 + 24), DCE_FAULT_UNK_IF);
	assert_int_equal(get16(out + 64 + 20), 9);
	/* The request on no context says what it can: no uuid. */
	assert_int_equal(events_with("\"dcerpc\":\"request\",\"opnum\":0,"
	    "\"port\":135,\"size\":0"), 1);
	dce_free(d);
}

/* A bind and two requests, one of them in three fragments. */
static size_t
stream(uint8_t *b)
{
	size_t	n;

	n = bind_echo(b);
	n += req_pdu(b + n, 1, 2, 0, 0, "frag one,", 9);
	n += req_pdu(b + n, 0, 2, 0, 0, "frag two,", 9);
	n += req_pdu(b + n, 2, 2, 0, 0, "frag three", 10);
	n += req_pdu(b + n, 3, 3, 0, 0, "whole", 5);
	return n;
}

static void
test_every_split(void **state)
{
	uint8_t		 b[512], want[512], out[512];
	struct dce	*d;
	size_t		 n, wantlen, i, j, k;

	n = stream(b);
	d = dce_new(&c, NULL, &seen, &dce_events);
	assert_int_equal(dce_write(d, b, n, 0), 0);
	wantlen = drain_noassoc(d, want, sizeof(want));
	dce_free(d);
	/* The bind_ack, the reassembled request's answer, the other's. */
	assert_int_equal(wantlen, 60 + 24 + 28 + 24 + 5);
	assert_memory_equal(want + 60 + 24, "frag one,frag two,frag three",
	    28);
	assert_int_equal(get32(want + 60 + 12), 2);
	assert_memory_equal(want + 60 + 52 + 24, "whole", 5);

	/* Split in two anywhere, and in three. */
	for (i = 0; i <= n; i++)
		for (j = i; j <= n; j += (i % 7) + 1) {
			d = dce_new(&c, NULL, &seen, &dce_events);
			assert_int_equal(dce_write(d, b, i, 0), 0);
			assert_int_equal(dce_write(d, b + i, j - i, i), 0);
			assert_int_equal(dce_write(d, b + j, n - j, j), 0);
			k = drain_noassoc(d, out, sizeof(out));
			assert_int_equal(k, wantlen);
			assert_memory_equal(out, want, wantlen);
			dce_free(d);
		}
	/* A byte at a time. */
	d = dce_new(&c, NULL, &seen, &dce_events);
	for (i = 0; i < n; i++)
		assert_int_equal(dce_write(d, b + i, 1, i), 0);
	k = drain_noassoc(d, out, sizeof(out));
	assert_int_equal(k, wantlen);
	assert_memory_equal(out, want, wantlen);
	dce_free(d);
}

/*
 * A first fragment drops an unfinished request, ORPHANED drops one, a
 * last fragment with no first is a request of its own.
 */
static void
test_unfinished(void **state)
{
	uint8_t		 b[512], out[512];
	struct dce	*d = dce_new(&c, NULL, &seen, &dce_events);
	size_t		 n;

	n = bind_echo(b);
	n += req_pdu(b + n, 1, 2, 0, 0, "lost ", 5);
	n += req_pdu(b + n, 3, 3, 0, 0, "one", 3);
	n += req_pdu(b + n, 1, 4, 0, 0, "gone ", 5);
	hdr(b + n, 19, 3, 16, 0, 4);		/* orphaned */
	n += 16;
	n += req_pdu(b + n, 2, 5, 0, 0, "two", 3);
	assert_int_equal(dce_write(d, b, n, 0), 0);
	n = drain(d, out, sizeof(out));
	assert_int_equal(n, 60 + 27 + 27);
	assert_memory_equal(out + 60 + 24, "one", 3);
	assert_int_equal(get32(out + 60 + 27 + 12), 5);
	assert_memory_equal(out + 60 + 27 + 24, "two", 3);
	dce_free(d);
}

static void
test_frag_length_waits(void **state)
{
	uint8_t		 b[256], out[256];
	struct dce	*d = dce_new(&c, NULL, &seen, &dce_events);
	size_t		 n;

	n = bind_echo(b);
	assert_int_equal(dce_write(d, b, n, 0), 0);
	drain(d, out, sizeof(out));
	n = req_pdu(b, 3, 2, 0, 0, "0123456789", 10);
	put16(b + 8, 60);		/* says 60, 34 are there */
	assert_int_equal(dce_write(d, b, n, 0), 0);
	assert_int_equal(dce_pending(d), 0);
	memset(b + n, 'z', 26);
	assert_int_equal(dce_write(d, b + n, 26, n), 0);
	n = drain(d, out, sizeof(out));
	assert_int_equal(n, 24 + 36);
	assert_memory_equal(out + 24, "0123456789zz", 12);
	dce_free(d);
}

static void
test_bad_headers(void **state)
{
	uint8_t		 b[64];
	struct dce	*d;
	size_t		 n;
	int		 i;

	for (i = 0; i < 8; i++) {
		n = req_pdu(b, 3, 1, 0, 0, "abcdefgh", 8);
		switch (i) {
		case 0: put16(b + 8, 15); break;	/* < 16 */
		case 1: put16(b + 8, 20); break;	/* < a request */
		case 2: b[0] = 4; break;		/* version 4 */
		case 3: b[1] = 2; break;		/* 5.2 */
		case 4: b[4] = 0x20; break;		/* no such drep */
		case 5: b[2] = 2; break;		/* a response */
		case 6: put16(b + 10, 1); break;	/* auth past the end */
		case 7: b[3] |= 0x80; put16(b + 8, 32); break; /* object */
		}
		d = dce_new(&c, NULL, &seen, &dce_events);
		/* Known bad from the header alone: -1 before the rest. */
		assert_int_equal(dce_write(d, b, 16, 0), -1);
		dce_free(d);
		d = dce_new(&c, NULL, &seen, &dce_events);
		assert_int_equal(dce_write(d, b, n, 0), -1);
		dce_free(d);
	}
	/* Text on the port. */
	d = dce_new(&c, NULL, &seen, &dce_events);
	assert_int_equal(dce_write(d, (const uint8_t *)"GET / HTTP/1.0\r\n\r\n",
	    18, 0), -1);
	dce_free(d);
}

/* A bind and a request in big-endian data representation. */
static void
test_big_endian(void **state)
{
	uint8_t		 b[256], out[256];
	struct dce	*d = dce_new(&c, NULL, &seen, &dce_events);
	size_t		 n;

	b[0] = 5;
	b[1] = 0;
	b[2] = 11;
	b[3] = 3;
	memcpy(b + 4, "\x00\x00\x00\x00", 4);
	memcpy(b + 8, "\x00\x48\x00\x00\x00\x00\x00\x01", 8);	/* 72, 1 */
	memcpy(b + 16, "\x10\xb8\x10\xb8\x00\x00\x00\x00\x01\x00\x00\x00",
	    12);
	memcpy(b + 28, "\x00\x00\x01\x00", 4);
	/* 11111111-2222-3333-...: the first three fields big-endian. */
	memcpy(b + 32, "\x11\x11\x11\x11\x22\x22\x33\x33\x44\x55\x66\x77"
	    "\x88\x99\xaa\xbb\x00\x01\x00\x00", 20);
	memcpy(b + 52, "\x8a\x88\x5d\x04\x1c\xeb\x11\xc9\x9f\xe8\x08\x00"
	    "\x2b\x10\x48\x60\x00\x00\x00\x02", 20);
	assert_int_equal(dce_write(d, b, 72, 0), 0);
	n = drain(d, out, sizeof(out));
	assert_int_equal(n, 60);
	assert_int_equal(get32(out + 12), 1);
	assert_int_equal(get16(out + 16), 4280);
	assert_int_equal(get16(out + 36), 0);		/* accepted */
	assert_memory_equal(out + 40, NDR, 20);
	assert_int_equal(events_with(
	    "\"uuid\":\"11111111-2222-3333-4455-66778899aabb\""), 1);
	/* The request is answered with a fault, its stub analysed. */
	memcpy(b, "\x05\x00\x00\x03\x00\x00\x00\x00\x00\x1c\x00\x00"
	    "\x00\x00\x00\x02\x00\x00\x00\x04\x00\x00\x00\x00"
	    "\xd9\x74\x24\xf4", 28);
	assert_int_equal(dce_write(d, b, 28, 72), 0);
	n = drain(d, out, sizeof(out));
	assert_int_equal(n, 32);
	assert_int_equal(get32(out + 12), 2);
	assert_int_equal(get32(out + 24), DCE_FAULT_NDR);
	assert_int_equal(nanalysed, 1);
	dce_free(d);
}

/* A bind and a request that carry auth verifiers (NTLMSSP, level 6). */
static void
test_auth_verifier(void **state)
{
	const struct item	 it = { echo.uuid, 1, NDR };
	uint8_t			 b[256], out[256];
	struct dce		*d = dce_new(&c, NULL, &seen, &dce_events);
	size_t			 n;

	n = bind_pdu(b, 11, 1, &it, 1);
	memcpy(b + n, "\x0a\x06\x00\x00\x00\x00\x00\x00", 8);
	memset(b + n + 8, 'N', 40);
	n += 48;
	hdr(b, 11, 3, n, 40, 1);
	assert_int_equal(dce_write(d, b, n, 0), 0);
	n = drain(d, out, sizeof(out));
	assert_int_equal(n, 60);
	assert_int_equal(get16(out + 10), 0);		/* no verifier back */
	assert_int_equal(get16(out + 36), 0);
	/* "abc", 5 bytes of auth padding, the trailer, 16 of signature. */
	n = req_pdu(b, 3, 2, 0, 0, "abc\0\0\0\0\0", 8);
	memcpy(b + n, "\x0a\x06\x05\x00\x00\x00\x00\x00", 8);
	memset(b + n + 8, 'S', 16);
	n += 24;
	hdr(b, 0, 3, n, 16, 2);
	assert_int_equal(dce_write(d, b, n, 0), 0);
	n = drain(d, out, sizeof(out));
	assert_int_equal(n, 27);
	assert_memory_equal(out + 24, "abc", 3);
	/* A padding longer than the stub is not DCERPC. */
	n = req_pdu(b, 3, 3, 0, 0, "ab", 2);
	memcpy(b + n, "\x0a\x06\x05\x00\x00\x00\x00\x00", 8);
	memset(b + n + 8, 'S', 16);
	n += 24;
	hdr(b, 0, 3, n, 16, 3);
	assert_int_equal(dce_write(d, b, n, 0), -1);
	dce_free(d);
}

static void
test_object_uuid(void **state)
{
	uint8_t		 b[256], out[256];
	struct dce	*d = dce_new(&c, NULL, &seen, &dce_events);
	size_t		 n;

	n = bind_echo(b);
	assert_int_equal(dce_write(d, b, n, 0), 0);
	drain(d, out, sizeof(out));
	n = req_pdu(b, 0x83, 2, 0, 0, "0123456789abcdefSTUB", 20);
	assert_int_equal(dce_write(d, b, n, 0), 0);
	n = drain(d, out, sizeof(out));
	assert_int_equal(n, 28);
	assert_memory_equal(out + 24, "STUB", 4);
	dce_free(d);
}

static void
test_response_fragments(void **state)
{
	uint8_t		 b[256], *out;
	struct dce	*d = dce_new(&c, "srvsvc", &seen, &dce_events);
	size_t		 n, k, off, total = 0;
	int		 i;

	out = malloc(65536);
	assert_non_null(out);
	n = bind_echo(b);		/* max_recv 4280 */
	assert_int_equal(dce_write(d, b, n, 0), 0);
	drain(d, out, 65536);
	n = req_pdu(b, 3, 2, 0, 3, "\xe0\x2e\x00\x00", 4);	/* 12000 */
	assert_int_equal(dce_write(d, b, n, 0), 0);
	/* A pipe read takes one PDU at most, in pieces if it is small. */
	k = dce_read(d, out, 100);
	assert_int_equal(k, 100);
	k = dce_read(d, out + 100, 65536);
	assert_int_equal(k, 4280 - 100);
	off = 0;
	for (i = 0; i < 3; i++) {
		if (i > 0)
			k = dce_read(d, out + off, 65536);
		else
			k = 4280;
		assert_int_equal(get16(out + off + 8), k);
		assert_int_equal(out[off + 3], (i == 0 ? 1 : 0) |
		    (i == 2 ? 2 : 0));
		assert_int_equal(get32(out + off + 16), 12000 - total);
		total += k - 24;
		off += k;
	}
	assert_int_equal(total, 12000);
	assert_int_equal(dce_pending(d), 0);
	assert_int_equal(dce_read(d, out, 65536), 0);
	free(out);
	dce_free(d);
}

static void
test_stub_cap(void **state)
{
	uint8_t		*b, out[256];
	struct dce	*d = dce_new(&c, NULL, &seen, &dce_events);
	size_t		 n, got = 0, piece = 4000, at = 0;
	int		 rc = 0;

	b = calloc(1, 8192);
	assert_non_null(b);
	n = bind_echo(b);
	assert_int_equal(dce_write(d, b, n, 0), 0);
	drain(d, out, sizeof(out));
	/* Exactly DCE_STUB_MAX is taken and answered. */
	while (got < DCE_STUB_MAX) {
		size_t	k = DCE_STUB_MAX - got < piece ? DCE_STUB_MAX - got :
		    piece;

		memset(b + 24, 0x41, k);
		n = req_pdu(b, (got == 0 ? 1 : 0) |
		    (got + k == DCE_STUB_MAX ? 2 : 0), 2, 0, 2, b + 24, k);
		assert_int_equal(dce_write(d, b, n, at), 0);
		at += n;
		got += k;
	}
	n = drain(d, out, sizeof(out));
	assert_int_equal(n, 24);
	assert_int_equal(events_with("\"size\":1048576"), 1);
	/* One byte more ends the session, with a fault. */
	got = 0;
	while (rc == 0) {
		memset(b + 24, 0x41, piece);
		n = req_pdu(b, got == 0 ? 1 : 0, 3, 0, 2, b + 24, piece);
		rc = dce_write(d, b, n, at);
		at += n;
		got += piece;
		assert_true(got <= DCE_STUB_MAX + piece);
	}
	assert_int_equal(rc, -1);
	assert_true(got > DCE_STUB_MAX);
	n = drain(d, out, sizeof(out));
	assert_int_equal(n, 32);
	assert_int_equal(get32(out + 24), DCE_FAULT_PROTO_ERROR);
	assert_int_equal(events_with("\"limit\":\"dcerpc_stub\""), 1);
	free(b);
	dce_free(d);
}

static void
test_output_cap(void **state)
{
	uint8_t		*b, out[256];
	struct dce	*d = dce_new(&c, "srvsvc", &seen, &dce_events);
	size_t		 n, stub = 60000;
	int		 i, rc = 0;

	b = calloc(1, 65536);
	assert_non_null(b);
	n = bind_echo(b);
	assert_int_equal(dce_write(d, b, n, 0), 0);
	drain(d, out, sizeof(out));
	/* A client that writes and never reads. */
	for (i = 0; i < 5 && rc == 0; i++) {
		n = req_pdu(b, 3, (uint32_t)i, 0, 0, b + 24, stub);
		rc = dce_write(d, b, n, 0);
	}
	assert_int_equal(rc, -1);
	assert_int_equal(i, 5);		/* 4 answers fit in 256 KiB */
	assert_true(dce_pending(d) <= DCE_OUT_MAX);
	assert_int_equal(events_with("\"limit\":\"dcerpc_output\""), 1);
	free(b);
	dce_free(d);
}

/*
 * Answers cut by the output cap are whole PDUs: a client that reads what
 * was queued before the session ends gets fragments whose frag_length is
 * what it reads, never a header without its stub (that made dce_read
 * copy past the buffer).
 */
static void
test_output_cap_whole_pdus(void **state)
{
	uint8_t		*b, *out;
	struct dce	*d = dce_new(&c, "srvsvc", &seen, &dce_events);
	size_t		 n, stub = 60000, pending, got, off;
	int		 i, rc = 0;

	b = calloc(1, 65536);
	out = malloc(DCE_OUT_MAX + 65536);
	assert_non_null(b);
	assert_non_null(out);
	n = bind_echo(b);
	assert_int_equal(dce_write(d, b, n, 0), 0);
	drain(d, out, DCE_OUT_MAX);
	for (i = 0; i < 5 && rc == 0; i++) {
		n = req_pdu(b, 3, (uint32_t)i, 0, 0, b + 24, stub);
		rc = dce_write(d, b, n, 0);
	}
	assert_int_equal(rc, -1);
	pending = dce_pending(d);
	got = drain(d, out, DCE_OUT_MAX + 65536);
	assert_int_equal(got, pending);
	assert_int_equal(dce_pending(d), 0);
	for (off = 0; off < got; off += get16(out + off + 8)) {
		assert_true(got - off >= 24);
		assert_int_equal(out[off + 2], 2);
		assert_true(get16(out + off + 8) <= got - off);
	}
	assert_int_equal(off, got);
	free(out);
	free(b);
	dce_free(d);
}

/*
 * Reassembles a request of more than half of DCE_STUB_MAX on d, its last
 * fragment not sent: the endpoint holds a buffer of DCE_STUB_MAX.  The
 * return of the last dce_write().
 */
static int
hold_stub(struct dce *d, uint8_t *b)
{
	size_t	n, got = 0, piece = 60000;
	int	rc = 0;

	n = bind_echo(b);
	if (dce_write(d, b, n, 0) == -1)
		return -1;
	while (dce_read(d, b, 65536) > 0)
		;
	while (got <= DCE_STUB_MAX / 2 && rc == 0) {
		memset(b + 24, 0x41, piece);
		n = req_pdu(b, got == 0 ? 1 : 0, 2, 0, 0, b + 24, piece);
		rc = dce_write(d, b, n, 0);
		got += piece;
	}
	return rc;
}

/*
 * Many sessions reassembling at once share the sensor's budget: the one
 * past it ends with a limit.hit "memory", and an endpoint freed gives its
 * bytes back.
 */
static void
test_budget(void **state)
{
	enum { N = DCE_BUDGET / DCE_STUB_MAX };
	struct dce	*d[N + 1];
	uint8_t		*b;
	size_t		 base = dce_mem_used();
	int		 i;

	b = calloc(1, 65536);
	assert_non_null(b);
	assert_int_equal(base, 0);
	for (i = 0; i < N; i++) {
		d[i] = dce_new(&c, "lsarpc", &seen, &dce_events);
		assert_int_equal(hold_stub(d[i], b), 0);
	}
	assert_int_equal(dce_mem_used(), (size_t)N * DCE_STUB_MAX);
	assert_int_equal(events_with("\"limit\":\"memory\""), 0);
	nevents = 0;
	d[N] = dce_new(&c, "lsarpc", &seen, &dce_events);
	assert_int_equal(hold_stub(d[N], b), -1);
	assert_int_equal(events_with("\"limit\":\"memory\""), 1);
	dce_free(d[N]);
	dce_free(d[0]);
	d[0] = dce_new(&c, "lsarpc", &seen, &dce_events);
	assert_int_equal(hold_stub(d[0], b), 0);
	for (i = 0; i < N; i++)
		dce_free(d[i]);
	assert_int_equal(dce_mem_used(), 0);
	free(b);
}

/*
 * A flood of tiny requests in one session: DCE_EVENTS_MAX events (the
 * bind among them), then one limit.hit, every call still answered.
 */
static void
test_event_cap(void **state)
{
	uint8_t		 b[256], out[256];
	struct dce	*d = dce_new(&c, NULL, &seen, &dce_events);
	size_t		 n;
	int		 i;

	n = bind_echo(b);
	assert_int_equal(dce_write(d, b, n, 0), 0);
	drain(d, out, sizeof(out));
	for (i = 0; i < 3 * DCE_EVENTS_MAX; i++) {
		n = req_pdu(b, 3, (uint32_t)i + 2, 0, 0, "x", 1);
		assert_int_equal(dce_write(d, b, n, 0), 0);
		assert_int_equal(drain(d, out, sizeof(out)), 25);
	}
	assert_int_equal(nevents, DCE_EVENTS_MAX + 1);
	nevents = 0;
	n = req_pdu(b, 3, 9, 0, 0, "x", 1);
	assert_int_equal(dce_write(d, b, n, 0), 0);
	assert_int_equal(nevents, 0);
	dce_free(d);
	/* Another session: the limit.hit, in place of the first event past
	 * the cap. */
	dce_events = 0;
	d = dce_new(&c, NULL, &seen, &dce_events);
	n = bind_echo(b);
	assert_int_equal(dce_write(d, b, n, 0), 0);
	for (i = 0; i < DCE_EVENTS_MAX - 1; i++) {
		n = req_pdu(b, 3, (uint32_t)i + 2, 0, 0, "x", 1);
		assert_int_equal(dce_write(d, b, n, 0), 0);
		drain(d, out, sizeof(out));
	}
	assert_int_equal(events_with("\"dcerpc\":\"request\""), NEVENTS - 1);
	nevents = 0;
	n = req_pdu(b, 3, 1, 0, 0, "x", 1);
	assert_int_equal(dce_write(d, b, n, 0), 0);
	assert_int_equal(nevents, 1);
	assert_int_equal(events_with("\"limit\":\"dcerpc_events\""), 1);
	dce_free(d);
}

/*
 * The cap is the session's: a pipe closed and opened again, or a second
 * one, counts on from where the first left off.
 */
static void
test_event_cap_session(void **state)
{
	uint8_t		 b[256], out[256];
	struct dce	*d = NULL;
	size_t		 n;
	int		 k, i;

	/* Two endpoints, a bind and DCE_EVENTS_MAX / 2 - 1 requests each. */
	for (k = 0; k < 2; k++) {
		dce_free(d);
		d = dce_new(&c, "lsarpc", &seen, &dce_events);
		n = bind_echo(b);
		assert_int_equal(dce_write(d, b, n, 0), 0);
		drain(d, out, sizeof(out));
		for (i = 0; i < DCE_EVENTS_MAX / 2 - 1; i++) {
			n = req_pdu(b, 3, (uint32_t)i + 2, 0, 0, "x", 1);
			assert_int_equal(dce_write(d, b, n, 0), 0);
			drain(d, out, sizeof(out));
		}
	}
	assert_int_equal(nevents, DCE_EVENTS_MAX);
	/* The next call of the second is past the session's cap. */
	nevents = 0;
	for (i = 0; i < 2; i++) {
		n = req_pdu(b, 3, 7, 0, 0, "x", 1);
		assert_int_equal(dce_write(d, b, n, 0), 0);
		assert_int_equal(drain(d, out, sizeof(out)), 25);
	}
	assert_int_equal(nevents, 1);
	assert_int_equal(events_with("\"limit\":\"dcerpc_events\""), 1);
	dce_free(d);
}

/* The analyser sees each stub once, also when the interface said exploit. */
static void
test_analysed_once(void **state)
{
	static const uint8_t	sc[] = "\x90\x90\xd9\x74\x24\xf4\x5b\x31\xc9";
	uint8_t		 b[256], out[256];
	struct dce	*d = dce_new(&c, "lsarpc", &seen, &dce_events);
	size_t		 n;

	n = bind_echo(b);
	assert_int_equal(dce_write(d, b, n, 0), 0);
	drain(d, out, sizeof(out));
	n = req_pdu(b, 3, 2, 0, 0, sc, sizeof(sc) - 1);
	assert_int_equal(dce_write(d, b, n, 0), 0);
	assert_int_equal(nanalysed, 1);
	assert_int_equal(analysed_len, sizeof(sc) - 1);
	/* Twice an exploit: two events, the stub once. */
	n = req_pdu(b, 3, 3, 0, 2, sc, sizeof(sc) - 1);
	assert_int_equal(dce_write(d, b, n, 0), 0);
	assert_int_equal(nanalysed, 2);
	assert_int_equal(events_with("sundew.exploit.detected"), 2);
	assert_int_equal(events_with("\"vuln\":\"MS04-011\",\"cve\":"
	    "\"CVE-2003-0533\",\"uuid\":\"11111111-2222-3333-4455-"
	    "66778899aabb\",\"version\":1,\"opnum\":2,\"pipe\":\"\\\\lsarpc\""),
	    1);
	assert_true(seen & (1u << EXPLOIT_MS04_011));
	/* Again in the session: no second event, but the stub analysed. */
	n = req_pdu(b, 3, 4, 0, 2, sc, sizeof(sc) - 1);
	assert_int_equal(dce_write(d, b, n, 0), 0);
	assert_int_equal(nanalysed, 3);
	assert_int_equal(events_with("sundew.exploit.detected"), 2);
	/* A stub with nothing the pre-filter likes is not sent. */
	n = req_pdu(b, 3, 5, 0, 0, "plain", 5);
	assert_int_equal(dce_write(d, b, n, 0), 0);
	assert_int_equal(nanalysed, 3);
	dce_free(d);
}

static void
test_uuid_str(void **state)
{
	static const uint8_t	u[16] = { 0xc8, 0x4f, 0x32, 0x4b, 0x70, 0x16,
	    0xd3, 0x01, 0x12, 0x78, 0x5a, 0x47, 0xbf, 0x6e, 0xe1, 0x88 };
	char			buf[37];

	dce_uuid_str(u, buf);
	assert_string_equal(buf, "4b324fc8-1670-01d3-1278-5a47bf6ee188");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_bind_three_items, setup),
		cmocka_unit_test_setup(test_many_items, setup),
		cmocka_unit_test_setup(test_bind_secondary_address, setup),
		cmocka_unit_test_setup(test_bind_time_features, setup),
		cmocka_unit_test_setup(test_alter_context, setup),
		cmocka_unit_test_setup(test_request_response, setup),
		cmocka_unit_test_setup(test_faults, setup),
		cmocka_unit_test_setup(test_every_split, setup),
		cmocka_unit_test_setup(test_unfinished, setup),
		cmocka_unit_test_setup(test_frag_length_waits, setup),
		cmocka_unit_test_setup(test_bad_headers, setup),
		cmocka_unit_test_setup(test_big_endian, setup),
		cmocka_unit_test_setup(test_auth_verifier, setup),
		cmocka_unit_test_setup(test_object_uuid, setup),
		cmocka_unit_test_setup(test_response_fragments, setup),
		cmocka_unit_test_setup(test_stub_cap, setup),
		cmocka_unit_test_setup(test_output_cap, setup),
		cmocka_unit_test_setup(test_output_cap_whole_pdus, setup),
		cmocka_unit_test_setup(test_budget, setup),
		cmocka_unit_test_setup(test_event_cap, setup),
		cmocka_unit_test_setup(test_event_cap_session, setup),
		cmocka_unit_test_setup(test_analysed_once, setup),
		cmocka_unit_test_setup(test_uuid_str, setup),
	};

	event_set_sensor("test");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
