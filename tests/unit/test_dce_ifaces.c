/*
 * The DCERPC interfaces (src/proto/dce_*.c) driven through iface->call
 * with stubs built here by hand in NDR: each reply parses back as a
 * client reads it, each exploit shape is recognised (its event, once,
 * with its bulletin and opnum) and its benign twin is not.  The sensor's
 * side is replaced by the functions below, which keep the events and the
 * payloads handed to the analyser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "corpus.h"
#include "conn.h"
#include "dce_iface.h"
#include "event.h"
#include "host.h"
#include "sensor.h"
#include "store.h"

static struct sensor_stats	stats;

/* No loop, no limits, no ledger here: the interfaces use none. */
const struct config *sensor_conf(void) { return NULL; }
struct event_base *sensor_base(void) { return NULL; }
int sensor_index(void) { return 0; }
struct connlimit *sensor_limits(void) { return NULL; }
struct egress_shared *sensor_egress(void) { return NULL; }
struct sensor_stats *sensor_stats(void) { return &stats; }
void sensor_pause_accept(int pause) { (void)pause; }
struct ledger *sensor_ledger(void) { return NULL; }
const struct listener *sensor_listener(size_t i) { return NULL; }

static char	events[8][8192];
static int	nevents;
static uint8_t	analysed[16384];
static size_t	nanalysed, analysed_len;
static size_t	nstored, stored_len;
static int	stored_kind;

void
sensor_send_event(struct event_buf *ev)
{
	event_end(ev);
	if (nevents < 8)
		snprintf(events[nevents], sizeof(events[0]), "%s", ev->buf);
	nevents++;
}

int
sensor_send_file(int kind, const char *ctx, size_t ctxlen, const void *p,
    size_t n)
{
	stored_kind = kind;
	stored_len = n;
	nstored++;
	return 0;
}

int
sensor_analyse(const struct capture_origin *o, const void *p, size_t n)
{
	nanalysed++;
	analysed_len = n < sizeof(analysed) ? n : sizeof(analysed);
	memcpy(analysed, p, analysed_len);
	return 0;
}

/* A stub under construction: NDR written by hand. */
struct b {
	uint8_t	p[24576];
	size_t	n;
};

static void
b_align(struct b *b, size_t a)
{
	while (b->n % a)
		b->p[b->n++] = 0;
}

static void
b_u16(struct b *b, uint16_t v)
{
	b_align(b, 2);
	b->p[b->n++] = v & 0xff;
	b->p[b->n++] = v >> 8;
}

static void
b_u32(struct b *b, uint32_t v)
{
	b_align(b, 4);
	b_u16(b, v & 0xffff);
	b_u16(b, v >> 16);
}

static void
b_raw(struct b *b, const void *p, size_t n)
{
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

/* A conformant varying string of these UTF-16 units (NUL included). */
static void
b_units(struct b *b, const uint16_t *u, uint32_t n)
{
	uint32_t	i;

	b_u32(b, n);
	b_u32(b, 0);
	b_u32(b, n);
	for (i = 0; i < n; i++)
		b_u16(b, u[i]);
	b_align(b, 4);
}

static void
b_wstr(struct b *b, const char *s)
{
	static uint16_t	u[12000];
	uint32_t	i, n = (uint32_t)strlen(s);

	for (i = 0; i <= n; i++)
		u[i] = (uint8_t)s[i];
	b_units(b, u, n + 1);
}

static void
b_uwstr(struct b *b, const char *s)
{
	if (s == NULL) {
		b_u32(b, 0);
		return;
	}
	b_u32(b, 0x00020000);
	b_wstr(b, s);
}

/* A reply read back. */
struct rd {
	const uint8_t	*p;
	size_t		 n, off;
};

static uint32_t
rd_u32(struct rd *r)
{
	uint32_t	v;

	r->off = (r->off + 3) & ~(size_t)3;
	assert_true(r->off + 4 <= r->n);
	v = (uint32_t)r->p[r->off] | (uint32_t)r->p[r->off + 1] << 8 |
	    (uint32_t)r->p[r->off + 2] << 16 | (uint32_t)r->p[r->off + 3] << 24;
	r->off += 4;
	return v;
}

static uint16_t
rd_u16(struct rd *r)
{
	uint16_t	v;

	r->off = (r->off + 1) & ~(size_t)1;
	assert_true(r->off + 2 <= r->n);
	v = (uint16_t)(r->p[r->off] | r->p[r->off + 1] << 8);
	r->off += 2;
	return v;
}

/* A conformant varying string with its NUL, as ASCII into s. */
static void
rd_wstr(struct rd *r, char *s, size_t cap)
{
	uint32_t	max = rd_u32(r), off = rd_u32(r), n = rd_u32(r), i;

	assert_int_equal(off, 0);
	assert_true(n <= max && n >= 1 && n < cap);
	assert_true(r->off + 2 * n <= r->n);
	for (i = 0; i < n; i++)
		s[i] = (char)r->p[r->off + 2 * i];
	assert_int_equal(s[n - 1], '\0');
	r->off += 2 * n;
}

static struct conn	 conn;
static uint32_t		 seen;
static uint8_t		 out[65536];
static size_t		 outlen;

/* One call of opnum on iface over the pipe (or TCP if NULL). */
static uint32_t
call(const struct dce_iface *iface, uint16_t opnum, const struct b *b,
    const char *pipe)
{
	struct dce_call	c;
	struct ndr_w	w;
	char		uuid[37];
	uint32_t	st;

	memset(&c, 0, sizeof(c));
	dce_uuid_str(iface->uuid, uuid);
	c.c = &conn;
	c.iface = iface;
	c.opnum = opnum;
	c.stub = b->p;
	c.len = b->n;
	c.pipe = pipe;
	c.port = pipe == NULL ? 135 : 0;
	c.seen = &seen;
	c.uuid = uuid;
	ndr_w_init(&w, out, sizeof(out));
	st = iface->call(&c, &w);
	assert_false(w.err);
	outlen = w.len;
	return st;
}

static int
setup(void **state)
{
	struct sockaddr_in	*sin;

	(void)state;
	free(conn.fields);		/* the last test's */
	memset(&conn, 0, sizeof(conn));
	snprintf(conn.session, sizeof(conn.session), "0123456789abcdef");
	conn.fields = strdup("\"session\":\"0123456789abcdef\"");
	conn.nfields = (uint16_t)strlen(conn.fields);
	sin = (struct sockaddr_in *)&conn.dst;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(445);
	inet_pton(AF_INET, "127.0.0.7", &sin->sin_addr);
	seen = 0;
	nevents = 0;
	nanalysed = 0;
	nstored = 0;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	free(conn.fields);
	conn.fields = NULL;
	return 0;
}

/* The one exploit event of a test: its vuln and opnum. */
static void
expect_exploit(const char *vuln, int opnum)
{
	char	want[64];

	assert_int_equal(nevents, 1);
	assert_non_null(strstr(events[0], "\"sundew.exploit.detected\""));
	snprintf(want, sizeof(want), "\"vuln\":\"%s\"", vuln);
	assert_non_null(strstr(events[0], want));
	snprintf(want, sizeof(want), "\"opnum\":%d", opnum);
	assert_non_null(strstr(events[0], want));
}

/* Table: every interface by UUID and major version, nothing else. */
static void
test_find(void **state)
{
	size_t	i;
	char	s[37];
	uint8_t	u[16];

	(void)state;
	for (i = 0; dce_ifaces[i] != NULL; i++) {
		assert_ptr_equal(dce_iface_find(dce_ifaces[i]->uuid,
		    dce_ifaces[i]->vmajor), dce_ifaces[i]);
		assert_null(dce_iface_find(dce_ifaces[i]->uuid,
		    dce_ifaces[i]->vmajor + 1));
	}
	assert_int_equal(i, 13);
	dce_uuid_str(dce_srvsvc.uuid, s);
	assert_string_equal(s, "4b324fc8-1670-01d3-1278-5a47bf6ee188");
	dce_uuid_str(dce_dssetup.uuid, s);
	assert_string_equal(s, "3919286a-b10c-11d0-9ba8-00c04fd92ef5");
	memcpy(u, dce_epm.uuid, 16);
	u[15] ^= 1;
	assert_null(dce_iface_find(u, 3));
}

/* ept_lookup as rpcdump pages: handle in, handle out, until NULL. */
static uint32_t
epm_lookup(uint8_t handle[20], uint32_t max)
{
	struct b	b = { .n = 0 };
	struct rd	r;
	uint32_t	n, i, tlen, floors;
	size_t		at;

	b_u32(&b, 0);				/* RPC_C_EP_ALL_ELTS */
	b_u32(&b, 0);				/* no object */
	b_u32(&b, 0);				/* no interface */
	b_u32(&b, 1);				/* RPC_C_VERS_ALL */
	b_raw(&b, handle, 20);
	b_u32(&b, max);
	assert_int_equal(call(&dce_epm, 2, &b, NULL), 0);
	r = (struct rd){ out, outlen, 0 };
	memcpy(handle, out, 20);
	r.off = 20;
	n = rd_u32(&r);
	assert_int_equal(rd_u32(&r), max);
	assert_int_equal(rd_u32(&r), 0);
	assert_int_equal(rd_u32(&r), n);
	for (i = 0; i < n; i++) {
		r.off += 16;			/* object: nil */
		assert_int_not_equal(rd_u32(&r), 0);
		assert_int_equal(rd_u32(&r), 0);	/* annotation */
		assert_int_equal(rd_u32(&r), 1);
		assert_int_equal(out[r.off++], 0);
	}
	for (i = 0; i < n; i++) {
		tlen = rd_u32(&r);
		assert_int_equal(rd_u32(&r), tlen);
		at = r.off;
		floors = rd_u16(&r);
		assert_int_equal(floors, 5);
		r.off = at + tlen;
	}
	assert_int_equal(rd_u32(&r), n == 0 ? DCE_EPT_S_NOT_REGISTERED : 0);
	assert_int_equal(r.off, outlen);
	return n;
}

static void
test_epm_lookup(void **state)
{
	uint8_t		h[20] = { 0 }, zero[20] = { 0 }, first[20];
	uint32_t	total = 0, n;
	int		pages = 0;

	(void)state;
	/* One page holds them all: 12 endpoints, the NULL handle. */
	assert_int_equal(epm_lookup(h, 500), 12);
	assert_memory_equal(h, zero, 20);
	/* Pages of 5: 5, 5, 2, the last with the NULL handle. */
	do {
		n = epm_lookup(h, 5);
		total += n;
		pages++;
		assert_int_equal(n, pages < 3 ? 5 : 2);
	} while (memcmp(h, zero, 20) != 0);
	assert_int_equal(pages, 3);
	assert_int_equal(total, 12);
	/* nmap's msrpc-enum: one a time, sending its first handle again. */
	memset(first, 0, 20);
	assert_int_equal(epm_lookup(first, 1), 1);
	for (total = 1; total < 12; total++) {
		memcpy(h, first, 20);
		assert_int_equal(epm_lookup(h, 1), 1);
		assert_memory_equal(h, total < 11 ? first : zero, 20);
	}
	/* Ended: nothing more, and it says so. */
	memcpy(h, first, 20);
	assert_int_equal(epm_lookup(h, 1), 0);
	assert_memory_equal(h, zero, 20);
	assert_int_equal(nevents, 0);
}

/* A five-floor tower for uuid/version over TCP. */
static size_t
tower(uint8_t *t, const struct dce_iface *iface)
{
	static const uint8_t	ndr[16] = DCE_UUID(0x8a885d04, 0x1ceb,
				    0x11c9, 0x9f, 0xe8, 0x08, 0x00, 0x2b,
				    0x10, 0x48, 0x60);
	size_t			n = 0;

	t[n++] = 5; t[n++] = 0;
	t[n++] = 19; t[n++] = 0; t[n++] = 0x0d;
	memcpy(t + n, iface->uuid, 16); n += 16;
	t[n++] = iface->vmajor; t[n++] = 0;
	t[n++] = 2; t[n++] = 0; t[n++] = 0; t[n++] = 0;
	t[n++] = 19; t[n++] = 0; t[n++] = 0x0d;
	memcpy(t + n, ndr, 16); n += 16;
	t[n++] = 2; t[n++] = 0; t[n++] = 2; t[n++] = 0; t[n++] = 0; t[n++] = 0;
	t[n++] = 1; t[n++] = 0; t[n++] = 0x0b; t[n++] = 2; t[n++] = 0;
	t[n++] = 0; t[n++] = 0;
	t[n++] = 1; t[n++] = 0; t[n++] = 0x07; t[n++] = 2; t[n++] = 0;
	t[n++] = 0; t[n++] = 0;
	t[n++] = 1; t[n++] = 0; t[n++] = 0x09; t[n++] = 4; t[n++] = 0;
	memset(t + n, 0, 4); n += 4;
	return n;
}

static uint32_t
epm_map(const struct dce_iface *iface, uint8_t *got, uint32_t *gotlen)
{
	struct b	b = { .n = 0 };
	struct rd	r;
	uint8_t		t[128];
	size_t		tl = tower(t, iface);
	uint32_t	n, st;

	b_u32(&b, 0);
	b_u32(&b, 0x00020000);
	b_u32(&b, (uint32_t)tl);
	b_u32(&b, (uint32_t)tl);
	b_raw(&b, t, tl);
	b_align(&b, 4);
	b_raw(&b, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 20);
	b_u32(&b, 4);
	assert_int_equal(call(&dce_epm, 3, &b, NULL), 0);
	r = (struct rd){ out, outlen, 20 };
	n = rd_u32(&r);
	assert_int_equal(rd_u32(&r), 4);
	assert_int_equal(rd_u32(&r), 0);
	assert_int_equal(rd_u32(&r), n);
	r.off += 4 * n;
	if (n > 0) {
		*gotlen = rd_u32(&r);
		assert_int_equal(rd_u32(&r), *gotlen);
		memcpy(got, out + r.off, *gotlen);
		r.off += *gotlen;
	}
	st = rd_u32(&r);
	assert_int_equal(r.off, outlen);
	return n == 0 ? st : 0;
}

static void
test_epm_map(void **state)
{
	uint8_t		t[128];
	uint32_t	tl = 0;

	(void)state;
	assert_int_equal(epm_map(&dce_lsarpc, t, &tl), 0);
	assert_int_equal(tl, 75);
	assert_memory_equal(t + 5, dce_lsarpc.uuid, 16);
	/* Floor 4: TCP port 1025 big-endian; floor 5: the address reached. */
	assert_int_equal(t[tl - 14], 0x07);
	assert_int_equal(t[tl - 11] << 8 | t[tl - 10], 1025);
	assert_int_equal(t[tl - 7], 0x09);
	assert_memory_equal(t + tl - 4, "\x7f\x00\x00\x07", 4);
	assert_int_equal(epm_map(&dce_msdtc, t, &tl), 0);
	assert_int_equal(t[tl - 11] << 8 | t[tl - 10], 3372);
	/* srvsvc is on a pipe only: nothing over TCP. */
	assert_int_equal(epm_map(&dce_srvsvc, t, &tl),
	    DCE_EPT_S_NOT_REGISTERED);
	/* A stub that is no tower: a fault. */
	{
		struct b b = { .n = 0 };

		b_u32(&b, 0);
		b_u32(&b, 0x00020000);
		b_u32(&b, 3);
		b_u32(&b, 3);
		b_raw(&b, "\x05\x00\x13", 3);
		assert_int_equal(call(&dce_epm, 3, &b, NULL), DCE_FAULT_NDR);
	}
	assert_int_equal(call(&dce_epm, 7, &(struct b){ .n = 0 }, NULL),
	    DCE_FAULT_OP_RNG_ERROR);
}

/* NetrShareEnum level 1: the host's shares, read back as smbclient does. */
static void
test_share_enum(void **state)
{
	const struct host	*h = host_get();
	struct b		 b = { .n = 0 };
	struct rd		 r;
	char			 name[64], remark[64];
	uint32_t		 n, i, type[16];

	(void)state;
	b_uwstr(&b, "\\\\127.0.0.1");
	b_u32(&b, 1);
	b_u32(&b, 1);
	b_u32(&b, 0x00020004);
	b_u32(&b, 0);
	b_u32(&b, 0);
	b_u32(&b, 0xffffffff);
	b_u32(&b, 0x00020008);
	b_u32(&b, 0);
	assert_int_equal(call(&dce_srvsvc, 15, &b, "srvsvc"), 0);
	r = (struct rd){ out, outlen, 0 };
	assert_int_equal(rd_u32(&r), 1);
	assert_int_equal(rd_u32(&r), 1);
	assert_int_not_equal(rd_u32(&r), 0);
	n = rd_u32(&r);
	assert_int_equal(n, h->nshares);
	assert_true(n >= 4 && n < 16);
	assert_int_not_equal(rd_u32(&r), 0);
	assert_int_equal(rd_u32(&r), n);
	for (i = 0; i < n; i++) {
		assert_int_not_equal(rd_u32(&r), 0);
		type[i] = rd_u32(&r);
		assert_int_not_equal(rd_u32(&r), 0);
	}
	for (i = 0; i < n; i++) {
		rd_wstr(&r, name, sizeof(name));
		rd_wstr(&r, remark, sizeof(remark));
		assert_string_equal(name, h->shares[i].name);
		assert_string_equal(remark, h->shares[i].remark);
		assert_int_equal(type[i], h->shares[i].type);
	}
	assert_int_equal(rd_u32(&r), n);	/* total */
	assert_int_not_equal(rd_u32(&r), 0);	/* resume handle */
	assert_int_equal(rd_u32(&r), 0);
	assert_int_equal(rd_u32(&r), 0);	/* NERR_Success */
	assert_int_equal(r.off, outlen);
	/* IPC$, ADMIN$, C$ and the one disk share, in the host's order. */
	assert_int_equal(n, 4);
	assert_string_equal(h->shares[0].name, "IPC$");
	assert_int_equal(type[0], HOST_SHARE_IPC | HOST_SHARE_SPECIAL);
	assert_int_equal(type[1], HOST_SHARE_DISK);
	assert_string_equal(h->shares[2].name, "ADMIN$");
	assert_string_equal(h->shares[3].name, "C$");
	assert_int_equal(type[3], HOST_SHARE_DISK | HOST_SHARE_SPECIAL);
	assert_int_equal(nevents, 0);
}

/* NetrServerGetInfo level 101: platform 500, the host's name and version. */
static void
test_server_info(void **state)
{
	const struct host	*h = host_get();
	struct b		 b = { .n = 0 };
	struct rd		 r;
	char			 s[64];

	(void)state;
	b_uwstr(&b, "\\\\127.0.0.1");
	b_u32(&b, 101);
	assert_int_equal(call(&dce_srvsvc, 21, &b, "srvsvc"), 0);
	r = (struct rd){ out, outlen, 0 };
	assert_int_equal(rd_u32(&r), 101);
	assert_int_not_equal(rd_u32(&r), 0);
	assert_int_equal(rd_u32(&r), 500);
	assert_int_not_equal(rd_u32(&r), 0);
	assert_int_equal(rd_u32(&r), h->major);
	assert_int_equal(rd_u32(&r), h->minor);
	assert_int_equal(rd_u32(&r) & 0x1003, 0x1003);
	assert_int_not_equal(rd_u32(&r), 0);
	rd_wstr(&r, s, sizeof(s));
	assert_string_equal(s, h->name);
	rd_wstr(&r, s, sizeof(s));
	assert_string_equal(s, "");
	assert_int_equal(rd_u32(&r), 0);
	assert_int_equal(r.off, outlen);
	b.n = 0;
	b_uwstr(&b, NULL);
	b_u32(&b, 999);
	assert_int_equal(call(&dce_srvsvc, 21, &b, "srvsvc"), 0);
	assert_int_equal(outlen, 12);
	assert_memory_equal(out + 8, "\x7c\x00\x00\x00", 4);
}

/* NetrRemoteTOD: now, in UTC, as a civil date that agrees with gmtime. */
static void
test_remote_tod(void **state)
{
	struct b	b = { .n = 0 };
	struct rd	r;
	time_t		now = time(NULL), t;
	struct tm	tm;

	(void)state;
	b_uwstr(&b, "\\\\127.0.0.1");
	assert_int_equal(call(&dce_srvsvc, 28, &b, "srvsvc"), 0);
	assert_int_equal(outlen, 4 + 12 * 4 + 4);
	r = (struct rd){ out, outlen, 0 };
	assert_int_not_equal(rd_u32(&r), 0);
	t = (time_t)rd_u32(&r);
	assert_true(t >= now && t <= now + 5);
	gmtime_r(&t, &tm);
	r.off += 4;				/* msecs since boot */
	assert_int_equal(rd_u32(&r), tm.tm_hour);
	assert_int_equal(rd_u32(&r), tm.tm_min);
	assert_int_equal(rd_u32(&r), tm.tm_sec);
	assert_true(rd_u32(&r) < 100);
	assert_int_equal(rd_u32(&r), 0);	/* UTC */
	assert_int_equal(rd_u32(&r), 310);
	assert_int_equal(rd_u32(&r), tm.tm_mday);
	assert_int_equal(rd_u32(&r), tm.tm_mon + 1);
	assert_int_equal(rd_u32(&r), tm.tm_year + 1900);
	assert_int_equal(rd_u32(&r), tm.tm_wday);
	assert_int_equal(rd_u32(&r), 0);
}

/* NetprPathCompare as nmap's smb-vuln-ms08-067 check sends it. */
static void
test_ms08_067_nmap_check(void **state)
{
	struct b	b = { .n = 0 };

	(void)state;
	b_uwstr(&b, "127.0.0.1");
	b_wstr(&b, "\\AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\\..\\n");
	b_wstr(&b, "\\n");
	b_u32(&b, 1);
	b_u32(&b, 0);
	assert_int_equal(call(&dce_srvsvc, 32, &b, "browser"), 0);
	/* 0: the same path, what an unpatched host says: VULNERABLE. */
	assert_int_equal(outlen, 4);
	assert_memory_equal(out, "\0\0\0\0", 4);
	assert_int_equal(nevents, 0);
	/* Different paths compare unequal. */
	b.n = 0;
	b_uwstr(&b, "127.0.0.1");
	b_wstr(&b, "\\a\\b");
	b_wstr(&b, "\\a\\c");
	b_u32(&b, 1);
	b_u32(&b, 0);
	assert_int_equal(call(&dce_srvsvc, 32, &b, "browser"), 0);
	assert_memory_equal(out, "\xff\xff\xff\xff", 4);
	assert_int_equal(nevents, 0);
}

/* NetprPathCanonicalize: server, path, outbuf length, prefix, type, flags. */
static void
canon_stub(struct b *b, const uint16_t *path, uint32_t n, uint32_t outbuf)
{
	b->n = 0;
	b_uwstr(b, "127.0.0.1");
	b_units(b, path, n);
	b_u32(b, outbuf);
	b_wstr(b, "\\");
	b_u32(b, 1);
	b_u32(b, 0);
}

static uint32_t
units(uint16_t *u, const char *s)
{
	uint32_t	i;

	for (i = 0; s[i] != '\0'; i++)
		u[i] = (uint8_t)s[i];
	u[i] = 0;
	return i + 1;
}

static void
test_ms08_067(void **state)
{
	static struct b	b;
	uint16_t	u[1024];
	uint32_t	n, i;

	(void)state;
	/* Conficker's shape: "\x\..\..\" then shellcode-like units. */
	n = units(u, "\\AAAAAAAAAA\\..\\..\\");
	n--;
	for (i = 0; i < 300; i++)
		u[n++] = (uint16_t)(0x9090 + i % 7);
	u[n++] = 0;
	canon_stub(&b, u, n, 200);
	assert_int_equal(call(&dce_srvsvc, 31, &b, "browser"), 0);
	expect_exploit("MS08-067", 31);
	assert_non_null(strstr(events[0], "\"pipe\":\"\\\\browser\""));
	/* Once a session: the second time, no second event, no hexdump. */
	assert_int_equal(call(&dce_srvsvc, 31, &b, "browser"), 0);
	assert_int_equal(nevents, 1);
	assert_int_equal(nstored, 1);
}

static void
test_ms08_067_benign(void **state)
{
	static struct b	b;
	struct rd	r;
	uint16_t	u[64];
	uint32_t	n;
	char		s[64];
	size_t		i;

	(void)state;
	n = units(u, "a\\b\\..\\c\\.\\d");
	canon_stub(&b, u, n, 64);
	assert_int_equal(call(&dce_srvsvc, 31, &b, "srvsvc"), 0);
	assert_int_equal(nevents, 0);
	r = (struct rd){ out, outlen, 0 };
	assert_int_equal(rd_u32(&r), 64);
	for (i = 0; i < 32; i++)
		s[i] = (char)out[r.off + 2 * i];
	assert_string_equal(s, "\\a\\c\\d");
	r.off += 64;
	assert_int_equal(rd_u32(&r), 1);
	assert_int_equal(rd_u32(&r), 0);
	assert_int_equal(r.off, outlen);
	/* Too small a buffer: NERR_BufTooSmall. */
	canon_stub(&b, u, n, 6);
	assert_int_equal(call(&dce_srvsvc, 31, &b, "srvsvc"), 0);
	assert_memory_equal(out + outlen - 4, "\x4b\x08\x00\x00", 4);
	assert_int_equal(nevents, 0);
}

/* MS06-040: a path longer than MAX_PATH, and no "..". */
static void
test_ms06_040(void **state)
{
	static struct b	b;
	uint16_t	u[1024];
	uint32_t	i;

	(void)state;
	for (i = 0; i < 600; i++)
		u[i] = (uint16_t)(0x4141 + i % 13);
	u[260] = 0;
	/* 260 characters and the prefix's one: one more than MAX_PATH. */
	canon_stub(&b, u, 261, 100);
	assert_int_equal(call(&dce_srvsvc, 31, &b, "browser"), 0);
	expect_exploit("MS06-040", 31);
	/* 259 characters and the prefix's one: within MAX_PATH. */
	setup(NULL);
	u[259] = 0;
	canon_stub(&b, u, 260, 100);
	assert_int_equal(call(&dce_srvsvc, 31, &b, "browser"), 0);
	assert_int_equal(nevents, 0);
}

/* The carved XOR-0x99 decoder and its payload inside a long name. */
static size_t
lsass_stub(struct b *b)
{
	uint8_t		sc[512];
	size_t		n = corpus_shellcode(
			    "honeynet-fc2010-1_lsass_xor99_bindshell1957.bin",
			    sc, sizeof(sc));

	b->n = 0;
	b_u32(b, 1004);
	b_u32(b, 0);
	b_u32(b, 1004);
	memset(b->p + b->n, 0x90, 2008);
	memcpy(b->p + b->n + 200, sc, n);
	b->n += 2008;
	b_u32(b, 0x00020000);
	b_wstr(b, "");
	memset(b->p + b->n, 0x31, 1100);
	b->n += 1100;
	return n;
}

static void
test_ms04_011(void **state)
{
	static struct b	b;

	(void)state;
	lsass_stub(&b);
	assert_int_equal(call(&dce_dssetup, 9, &b, "lsarpc"), 0);
	expect_exploit("MS04-011", 9);
	assert_non_null(strstr(events[0], "\"cve\":\"CVE-2003-0533\""));
	assert_non_null(strstr(events[0],
	    "\"uuid\":\"3919286a-b10c-11d0-9ba8-00c04fd92ef5\""));
	assert_non_null(strstr(events[0], "\"pipe\":\"\\\\lsarpc\""));
	/* The whole stub went to the analyser, once. */
	assert_int_equal(nanalysed, 1);
	assert_int_equal(analysed_len, b.n);
	assert_memory_equal(analysed, b.p, b.n);
	/* And kept, once, as a hexdump. */
	assert_int_equal(nstored, 1);
	assert_int_equal(stored_kind, STORE_HEXDUMP);
	assert_int_equal(stored_len, b.n);
	/* Over TCP 135 too, without a pipe. */
	setup(NULL);
	assert_int_equal(call(&dce_dssetup, 9, &b, NULL), 0);
	expect_exploit("MS04-011", 9);
	assert_null(strstr(events[0], "\"pipe\""));
}

static void
test_ms04_011_benign(void **state)
{
	struct b	b = { .n = 0 };
	struct rd	r;
	char		s[32];

	(void)state;
	/* A short, well-formed DsRolerUpgradeDownlevelServer: refused. */
	b_wstr(&b, "example.org");
	b_wstr(&b, "Default-First-Site");
	assert_int_equal(call(&dce_dssetup, 9, &b, "lsarpc"), 0);
	assert_int_equal(nevents, 0);
	/* DsRolerGetPrimaryDomainInformation level 1, as in the capture. */
	b.n = 0;
	b_u16(&b, 1);
	assert_int_equal(call(&dce_dssetup, 0, &b, "lsarpc"), 0);
	r = (struct rd){ out, outlen, 0 };
	assert_int_not_equal(rd_u32(&r), 0);
	assert_int_equal(rd_u16(&r), 1);
	assert_int_equal(rd_u16(&r) == 0 || 1, 1);	/* pad or role */
	r.off = 8;
	assert_int_equal(rd_u16(&r), 0);		/* workstation */
	assert_int_equal(rd_u32(&r), 0);		/* flags */
	assert_int_not_equal(rd_u32(&r), 0);
	assert_int_equal(rd_u32(&r), 0);
	assert_int_equal(rd_u32(&r), 0);
	r.off += 16;
	rd_wstr(&r, s, sizeof(s));
	assert_string_equal(s, host_get()->domain);
	assert_int_equal(rd_u32(&r), 0);
	assert_int_equal(r.off, outlen);
	assert_int_equal(outlen, 80);		/* as in the capture */
	assert_int_equal(nevents, 0);
	assert_int_equal(call(&dce_dssetup, 11, &b, "lsarpc"),
	    DCE_FAULT_OP_RNG_ERROR);
}

/* LsarQueryInformationPolicy level 5: the machine and its SID. */
static void
test_lsa(void **state)
{
	struct b	b = { .n = 0 };
	struct rd	r;
	uint16_t	len;
	uint32_t	i;
	char		name[32];

	(void)state;
	b_uwstr(&b, "\\\\127.0.0.1");
	b_u32(&b, 24);
	memset(b.p + b.n, 0, 20);
	b.n += 20;
	b_u32(&b, 0x02000000);
	assert_int_equal(call(&dce_lsarpc, 44, &b, "lsarpc"), 0);
	assert_int_equal(outlen, 24);
	b.n = 0;
	b_raw(&b, out, 20);
	b_u16(&b, 5);
	assert_int_equal(call(&dce_lsarpc, 7, &b, "lsarpc"), 0);
	r = (struct rd){ out, outlen, 0 };
	assert_int_not_equal(rd_u32(&r), 0);
	assert_int_equal(rd_u16(&r), 5);
	len = rd_u16(&r);
	(void)len;
	r.off = 8;
	len = rd_u16(&r);
	assert_int_equal(len, 2 * strlen(host_get()->name));
	assert_int_equal(rd_u16(&r), len);
	assert_int_not_equal(rd_u32(&r), 0);
	assert_int_not_equal(rd_u32(&r), 0);
	assert_int_equal(rd_u32(&r), len / 2);
	assert_int_equal(rd_u32(&r), 0);
	assert_int_equal(rd_u32(&r), len / 2);
	for (i = 0; i < len / 2u; i++)
		name[i] = (char)out[r.off + 2 * i];
	name[i] = '\0';
	r.off += len;
	assert_string_equal(name, host_get()->name);
	assert_int_equal(rd_u32(&r), 4);		/* sub-authorities */
	assert_int_equal(out[r.off], 1);
	assert_int_equal(out[r.off + 1], 4);
	r.off += 8;
	assert_int_equal(rd_u32(&r), 21);
	r.off += 12;
	assert_int_equal(rd_u32(&r), 0);
	assert_int_equal(r.off, outlen);
	assert_int_equal(nevents, 0);
}

/* LsarLookupSids as lookupsid.py sends it: the SIDs of RIDs of a domain. */
static void
test_lsa_lookup_sids(void **state)
{
	static const uint32_t	rids[3] = { 500, 777, 501 };
	struct b	b = { .n = 0 };
	struct rd	r;
	uint8_t		dom[28];
	uint32_t	i, len;
	char		name[32];

	(void)state;
	/* The machine's SID, as the account domain's query gives it. */
	b_raw(&b, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 20);
	b_u16(&b, 5);
	assert_int_equal(call(&dce_lsarpc, 46, &b, "lsarpc"), 0);
	memcpy(dom, out + outlen - 4 - 28, 28);
	assert_int_equal(dom[0], 4);
	assert_int_equal(dom[4], 1);
	assert_int_equal(dom[5], 4);
	b.n = 0;
	b_raw(&b, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 20);
	b_u32(&b, 3);
	b_u32(&b, 0x00020000);
	b_u32(&b, 3);
	for (i = 0; i < 3; i++)
		b_u32(&b, 0x00020004 + 4 * i);
	for (i = 0; i < 3; i++) {
		b_u32(&b, 5);
		b.p[b.n++] = 1;
		b.p[b.n++] = 5;
		b_raw(&b, dom + 6, 6 + 16);
		b_u32(&b, rids[i]);
	}
	b_u32(&b, 0);
	b_u32(&b, 0);
	b_u16(&b, 2);				/* LsapLookupWksta */
	b_u32(&b, 0);
	assert_int_equal(call(&dce_lsarpc, 15, &b, "lsarpc"), 0);
	r = (struct rd){ out, outlen, 0 };
	assert_int_not_equal(rd_u32(&r), 0);
	assert_int_equal(rd_u32(&r), 1);	/* one domain */
	assert_int_not_equal(rd_u32(&r), 0);
	assert_int_equal(rd_u32(&r), 32);
	assert_int_equal(rd_u32(&r), 1);
	len = rd_u16(&r);
	assert_int_equal(len, 2 * strlen(host_get()->name));
	r.off += 2;
	assert_int_not_equal(rd_u32(&r), 0);
	assert_int_not_equal(rd_u32(&r), 0);
	r.off += 12 + len;			/* the name's buffer */
	r.off = (r.off + 3) & ~(size_t)3;
	assert_int_equal(rd_u32(&r), 4);
	assert_memory_equal(out + r.off, dom + 4, 24);
	r.off += 24;
	assert_int_equal(rd_u32(&r), 3);	/* names */
	assert_int_not_equal(rd_u32(&r), 0);
	assert_int_equal(rd_u32(&r), 3);
	assert_int_equal(rd_u16(&r), 1);	/* Administrator: a user */
	assert_int_equal(rd_u16(&r), 0);	/* pad */
	assert_int_equal(rd_u16(&r), 26);
	assert_int_equal(rd_u16(&r), 26);
	assert_int_not_equal(rd_u32(&r), 0);
	assert_int_equal(rd_u32(&r), 0);
	assert_int_equal(rd_u16(&r), 8);	/* 777: unknown */
	r.off = (r.off + 3) & ~(size_t)3;
	assert_int_equal(rd_u32(&r), 0);
	assert_int_equal(rd_u32(&r), 0);
	assert_int_equal(rd_u32(&r), 0xffffffff);
	assert_int_equal(rd_u16(&r), 1);	/* Guest */
	r.off += 2;
	len = rd_u16(&r);
	assert_int_equal(len, 10);
	r.off += 2;
	assert_int_not_equal(rd_u32(&r), 0);
	assert_int_equal(rd_u32(&r), 0);
	/* The two names' buffers, in order. */
	assert_int_equal(rd_u32(&r), 13);
	r.off += 8;
	for (i = 0; i < 13; i++)
		name[i] = (char)out[r.off + 2 * i];
	name[13] = '\0';
	assert_string_equal(name, "Administrator");
	r.off += 26;
	assert_int_equal(rd_u32(&r), 5);
	r.off += 8;
	for (i = 0; i < 5; i++)
		name[i] = (char)out[r.off + 2 * i];
	name[5] = '\0';
	assert_string_equal(name, "Guest");
	r.off += 10;
	assert_int_equal(rd_u32(&r), 2);	/* mapped */
	assert_int_equal(rd_u32(&r), 0x107);	/* STATUS_SOME_NOT_MAPPED */
	assert_int_equal(r.off, outlen);
	assert_int_equal(nevents, 0);
}

/* RemoteActivation: ORPCTHIS, CLSID, object name, the rest. */
static void
remact_stub(struct b *b, const uint16_t *name, uint32_t n)
{
	b->n = 0;
	b_u16(b, 5);
	b_u16(b, 1);
	b_u32(b, 0);
	b_u32(b, 0);
	memset(b->p + b->n, 0x11, 16);
	b->n += 16;
	b_u32(b, 0);				/* no extensions */
	memset(b->p + b->n, 0, 16);		/* CLSID */
	b->n += 16;
	if (name != NULL) {
		b_u32(b, 0x00020000);
		b_units(b, name, n);
	} else
		b_u32(b, 0);
	b_u32(b, 0);				/* no object storage */
	b_u32(b, 2);
	b_u32(b, 0);
	b_u32(b, 1);				/* one interface */
	b_u32(b, 0x00020004);
	b_u32(b, 1);
	memset(b->p + b->n, 0, 16);
	b->n += 16;
	b_u16(b, 1);
	b_u32(b, 1);
	b_u16(b, 7);
}

static void
test_ms03_026(void **state)
{
	static struct b	b;
	uint16_t	u[512];
	uint32_t	n = 2, i;

	(void)state;
	u[0] = u[1] = '\\';
	for (i = 0; i < 300; i++)
		u[n++] = 0x9090;
	u[n++] = '\\';
	u[n++] = 0;
	remact_stub(&b, u, n);
	assert_int_equal(call(&dce_remact, 0, &b, NULL), 0);
	expect_exploit("MS03-026", 0);
	/* The reply: ORPCTHAT, OXID, ..., phr, one interface, one result. */
	assert_int_equal(outlen, 8 + 8 + 4 + 16 + 4 + 4 + 4 + 8 + 8 + 4);
	/* Benign: a short server name, and no name at all. */
	setup(NULL);
	n = units(u, "\\\\ACCOUNTING-PC3\\x");
	remact_stub(&b, u, n);
	assert_int_equal(call(&dce_remact, 0, &b, NULL), 0);
	remact_stub(&b, NULL, 0);
	assert_int_equal(call(&dce_remact, 0, &b, NULL), 0);
	assert_int_equal(nevents, 0);
	assert_int_equal(call(&dce_remact, 1, &b, NULL),
	    DCE_FAULT_OP_RNG_ERROR);
}

/*
 * RemoteCreateInstance's stub: ORPCTHIS, no outer unknown, then the
 * activation properties as a byte array holding one conformant varying
 * string of n units at offset 100 (its counts, then its characters).
 */
static void
sysact_stub(struct b *b, const uint16_t *u, uint32_t n)
{
	remact_stub(b, NULL, 0);
	b->n = 32;
	b_u32(b, 0);				/* no outer unknown */
	b_u32(b, 0x00020000);			/* properties */
	b_u32(b, 1200);
	b_u32(b, 1200);
	memset(b->p + b->n, 0, 1200);
	b->n += 100;
	b_units(b, u, n);
	b->n = 48 + 1200;
}

/*
 * The public MS03-026 exploit that Blaster and the bots carry (dcom.c):
 * ISystemActivator's RemoteCreateInstance with "\\" and the overflow as
 * the server part of the instance's file name.  MS03-026, not MS03-039.
 */
static void
test_ms03_026_create_instance(void **state)
{
	static struct b	b;
	uint16_t	u[512];
	uint32_t	n, i;

	(void)state;
	n = units(u, "\\\\FXNBFXFXNBFXFXFXFX") - 1;
	for (i = 0; i < 200; i++)
		u[n++] = 0x9090;
	n += units(u + n, "\\C$\\123456111111111111111.doc");
	sysact_stub(&b, u, n);
	assert_int_equal(call(&dce_sysact, 4, &b, NULL), 0);
	expect_exploit("MS03-026", 4);
	assert_null(strstr(events[0], "MS03-039"));
	assert_int_equal(outlen, 16);
	assert_memory_equal(out + 12, "\x05\x00\x07\x80", 4);
	/* A server part of 31 characters is a name Windows takes. */
	setup(NULL);
	n = units(u, "\\\\") - 1;
	for (i = 0; i < 31; i++)
		u[n++] = 'A';
	n += units(u + n, "\\C$\\x.doc");
	sysact_stub(&b, u, n);
	assert_int_equal(call(&dce_sysact, 4, &b, NULL), 0);
	assert_int_equal(nevents, 0);
}

/* A file name longer than MAX_PATH, not a UNC path: MS03-039. */
static void
test_ms03_039(void **state)
{
	static struct b	b;
	uint16_t	u[512];
	uint32_t	n, i;

	(void)state;
	n = units(u, "C:\\") - 1;
	for (i = 0; i < 300; i++)
		u[n++] = 'A';
	u[n++] = 0;
	sysact_stub(&b, u, n);
	assert_int_equal(call(&dce_sysact, 3, &b, NULL), 0);
	expect_exploit("MS03-039", 3);
	/* MAX_PATH and no more: a name Windows takes. */
	setup(NULL);
	n = units(u, "C:\\") - 1;
	for (i = 0; i < 257; i++)
		u[n++] = 'A';
	u[n++] = 0;
	sysact_stub(&b, u, n);
	assert_int_equal(call(&dce_sysact, 4, &b, NULL), 0);
	assert_int_equal(nevents, 0);
}

static void
test_ms03_049(void **state)
{
	static struct b	b;
	char		*name = malloc(5001);

	(void)state;
	memset(name, 'A', 5000);
	name[5000] = '\0';
	b_uwstr(&b, "\\\\127.0.0.1");
	b_uwstr(&b, name);
	b_uwstr(&b, "");
	b_u32(&b, 0);
	b_u32(&b, 0);
	assert_int_equal(call(&dce_wkssvc, 27, &b, "browser"), 0);
	expect_exploit("MS03-049", 27);
	setup(NULL);
	name[255] = '\0';
	b.n = 0;
	b_uwstr(&b, "\\\\127.0.0.1");
	b_uwstr(&b, name);
	b_uwstr(&b, "");
	b_u32(&b, 0);
	b_u32(&b, 0);
	assert_int_equal(call(&dce_wkssvc, 27, &b, "wkssvc"),
	    DCE_FAULT_ACCESS_DENIED);
	assert_int_equal(nevents, 0);
	free(name);
}

static void
test_wkssvc_info(void **state)
{
	struct b	b = { .n = 0 };
	struct rd	r;
	char		s[64];

	(void)state;
	b_uwstr(&b, "\\\\127.0.0.1");
	b_u32(&b, 100);
	assert_int_equal(call(&dce_wkssvc, 0, &b, "wkssvc"), 0);
	r = (struct rd){ out, outlen, 0 };
	assert_int_equal(rd_u32(&r), 100);
	assert_int_not_equal(rd_u32(&r), 0);
	assert_int_equal(rd_u32(&r), 500);
	assert_int_not_equal(rd_u32(&r), 0);
	assert_int_not_equal(rd_u32(&r), 0);
	assert_int_equal(rd_u32(&r), host_get()->major);
	assert_int_equal(rd_u32(&r), host_get()->minor);
	rd_wstr(&r, s, sizeof(s));
	assert_string_equal(s, host_get()->name);
	rd_wstr(&r, s, sizeof(s));
	assert_string_equal(s, host_get()->domain);
	assert_int_equal(rd_u32(&r), 0);
	assert_int_equal(r.off, outlen);
}

/* PNP_QueryResConfList with a class-specific resource (CS_DES). */
static void
pnp_stub(struct b *b, uint32_t legacy)
{
	b->n = 0;
	b_wstr(b, "a\\b\\c");
	b_u32(b, 0xffff);
	b_u32(b, 32 + legacy);
	b_u32(b, 0);
	b_u32(b, 0);
	b_u32(b, legacy);
	b_u32(b, 0);
	memset(b->p + b->n, 0x22, 16);
	b->n += 16;
	memset(b->p + b->n, 0x90, legacy);
	b->n += legacy;
	b_u32(b, 32 + legacy);
	b_u32(b, 4);
	b_u32(b, 0);
}

static void
test_ms05_039(void **state)
{
	static struct b	b;

	(void)state;
	pnp_stub(&b, 1000);
	assert_int_equal(call(&dce_pnp, 0x36, &b, "browser"), 0);
	expect_exploit("MS05-039", 0x36);
	assert_int_equal(outlen, 4 + 4 + 4);
	/* One byte over 256, and a size beyond the data that carries it. */
	setup(NULL);
	pnp_stub(&b, 257);
	assert_int_equal(call(&dce_pnp, 0x36, &b, "browser"), 0);
	expect_exploit("MS05-039", 0x36);
	setup(NULL);
	pnp_stub(&b, 40);
	b.p[32 + 8] = 41;			/* CSD_LegacyDataSize */
	assert_int_equal(call(&dce_pnp, 0x36, &b, "browser"), 0);
	expect_exploit("MS05-039", 0x36);
	/* Benign: 256 bytes, and a small resource. */
	setup(NULL);
	pnp_stub(&b, 256);
	assert_int_equal(call(&dce_pnp, 0x36, &b, "ntsvcs"), 0);
	pnp_stub(&b, 40);
	assert_int_equal(call(&dce_pnp, 0x36, &b, "ntsvcs"), 0);
	assert_int_equal(nevents, 0);
}

/* R_QMDeleteObject's OBJECT_FORMAT as Metasploit sends it: the name q. */
static void
mq_stub(struct b *b, const char *q)
{
	b->n = 0;
	b_u32(b, 1); b_u32(b, 1); b_u32(b, 1);
	b_u32(b, 3); b_u32(b, 3); b_u32(b, 2);
	b_wstr(b, q);
}

static void
test_ms05_017(void **state)
{
	static struct b	b;
	char		*q = malloc(4100);

	(void)state;
	snprintf(q, 4100, "OS:ACCOUNTING-PC3\\PRIVATE$\\");
	memset(q + strlen(q), 'e', 4000);
	q[4060] = '\0';
	mq_stub(&b, q);
	assert_int_equal(call(&dce_msmq, 9, &b, NULL), 0);
	expect_exploit("MS05-017", 9);
	/* 261 characters: one over; 260: accepted. */
	setup(NULL);
	q[261] = '\0';
	mq_stub(&b, q);
	assert_int_equal(call(&dce_msmq, 9, &b, NULL), 0);
	expect_exploit("MS05-017", 9);
	/* The same name in another call is no known exploit. */
	setup(NULL);
	assert_int_equal(call(&dce_msmq, 0, &b, NULL),
	    DCE_FAULT_ACCESS_DENIED);
	assert_int_equal(call(&dce_msmq, 4, &b, NULL),
	    DCE_FAULT_ACCESS_DENIED);
	q[260] = '\0';
	mq_stub(&b, q);
	assert_int_equal(call(&dce_msmq, 9, &b, NULL),
	    DCE_FAULT_ACCESS_DENIED);
	q[40] = '\0';
	mq_stub(&b, q);
	assert_int_equal(call(&dce_msmq, 9, &b, NULL),
	    DCE_FAULT_ACCESS_DENIED);
	assert_int_equal(nevents, 0);
	free(q);
}

static void
test_ms05_051(void **state)
{
	static struct b	b;
	char		s[600];

	(void)state;
	memset(b.p, 0, 28);
	b.n = 28;
	b_wstr(&b, "11111");
	b_wstr(&b, "111111");
	memset(s, 'x', 555);
	s[555] = '\0';
	b_wstr(&b, s);
	assert_int_equal(call(&dce_msdtc, 7, &b, NULL), 0);
	expect_exploit("MS05-051", 7);
	setup(NULL);
	s[36] = '\0';
	b.n = 28;
	b_wstr(&b, "11111");
	b_wstr(&b, s);
	assert_int_equal(call(&dce_msdtc, 7, &b, NULL),
	    DCE_FAULT_ACCESS_DENIED);
	assert_int_equal(nevents, 0);
}

static void
spl_doc(struct b *b, const char *file)
{
	b->n = 0;
	memset(b->p, 0x33, 20);
	b->n = 20;
	b_u32(b, 1);
	b_u32(b, 1);
	b_u32(b, 0x00020000);
	b_u32(b, 0x00020004);
	b_u32(b, file != NULL ? 0x00020008 : 0);
	b_u32(b, 0x0002000c);
	b_wstr(b, "doc");
	if (file != NULL)
		b_wstr(b, file);
	b_wstr(b, "RAW");
}

static void
test_ms10_061(void **state)
{
	static struct b	b;

	(void)state;
	spl_doc(&b, "sysnullevnt.mof");
	assert_int_equal(call(&dce_spoolss, 17, &b, "spoolss"), 0);
	expect_exploit("MS10-061", 17);
	assert_non_null(strstr(events[0], "sysnullevnt.mof"));
	setup(NULL);
	spl_doc(&b, NULL);
	assert_int_equal(call(&dce_spoolss, 17, &b, "spoolss"), 0);
	assert_int_equal(outlen, 8);
	assert_int_equal(nevents, 0);
}

/* Unknown opnums and stubs that do not parse. */
static void
test_faults(void **state)
{
	struct b	b = { .n = 0 };
	size_t		i;

	(void)state;
	for (i = 0; dce_ifaces[i] != NULL; i++)
		assert_int_equal(call(dce_ifaces[i], 200, &b, NULL),
		    DCE_FAULT_OP_RNG_ERROR);
	b_u32(&b, 0x00020000);
	b_u32(&b, 50);
	b_u32(&b, 0);
	b_u32(&b, 60);
	assert_int_equal(call(&dce_srvsvc, 15, &b, "srvsvc"), DCE_FAULT_NDR);
	assert_int_equal(call(&dce_srvsvc, 31, &b, "srvsvc"), DCE_FAULT_NDR);
	assert_int_equal(call(&dce_epm, 2, &b, NULL), DCE_FAULT_NDR);
	b.n = 1;
	assert_int_equal(call(&dce_dssetup, 0, &b, "lsarpc"), DCE_FAULT_NDR);
	assert_int_equal(call(&dce_dssetup, 9, &b, "lsarpc"), DCE_FAULT_NDR);
	assert_int_equal(nevents, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_find, setup, teardown),
		cmocka_unit_test_setup_teardown(test_epm_lookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_epm_map, setup, teardown),
		cmocka_unit_test_setup_teardown(test_share_enum, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_info, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remote_tod, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ms08_067_nmap_check, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ms08_067, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ms08_067_benign, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ms06_040, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ms04_011, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ms04_011_benign, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lsa, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lsa_lookup_sids, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ms03_026, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ms03_026_create_instance, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ms03_039, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ms03_049, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wkssvc_info, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ms05_039, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ms05_017, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ms05_051, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ms10_061, setup, teardown),
		cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
