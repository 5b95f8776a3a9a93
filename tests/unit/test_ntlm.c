/*
 * Unit tests of NTLMSSP in SPNEGO (src/proto/ntlm.c, spnego.c): tokens
 * built here in the layouts that impacket and Windows clients send; the
 * CHALLENGE read back field by field; the login event of AUTHENTICATE;
 * every truncated prefix of a valid token refused (run under ASan: each
 * prefix is in a buffer of exactly its size); the MS04-007 shapes.  The
 * sensor's side (sensor.h) is replaced by the few functions below, which
 * keep the events to be read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "conn.h"
#include "event.h"
#include "exploit.h"
#include "host.h"
#include "listen.h"
#include "ntlm.h"
#include "sensor.h"
#include "spnego.h"

/* --- the sensor's side -------------------------------------------- */

#define MAX_EVENTS	8
static char	events[MAX_EVENTS][EVENT_MAX + 1];
static size_t	nevents;
static int	analysed;
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

void
sensor_send_event(struct event_buf *ev)
{
	size_t	n = event_end(ev);

	if (nevents < MAX_EVENTS) {
		memcpy(events[nevents], ev->buf, n);
		events[nevents++][n] = '\0';
	}
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
	analysed++;
	return 0;
}

/* --- building tokens ---------------------------------------------- */

static const uint8_t	oid_spnego[] = { 0x06, 0x06, 0x2b, 0x06, 0x01, 0x05,
	0x05, 0x02 };
static const uint8_t	oid_ntlm[] = { 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04,
	0x01, 0x82, 0x37, 0x02, 0x02, 0x0a };

/* tag, DER length and the n bytes of p into out; its length. */
static size_t
tlv(uint8_t *out, uint8_t tag, const uint8_t *p, size_t n)
{
	size_t	h = 2;

	out[0] = tag;
	if (n < 0x80)
		out[1] = (uint8_t)n;
	else if (n < 0x100) {
		out[1] = 0x81;
		out[2] = (uint8_t)n;
		h = 3;
	} else {
		out[1] = 0x82;
		out[2] = (uint8_t)(n >> 8);
		out[3] = (uint8_t)n;
		h = 4;
	}
	memmove(out + h, p, n);
	return h + n;
}

/* An NTLMSSP NEGOTIATE as impacket's getNTLMSSPType1 makes it. */
#define CLIENT_FLAGS	0xe2088297u	/* 56 KEY_EXCH 128 VERSION ESS ... */
static size_t
negotiate_msg(uint8_t *out)
{
	memset(out, 0, 40);
	memcpy(out, "NTLMSSP", 8);
	out[8] = 1;
	out[12] = CLIENT_FLAGS & 0xff;
	out[13] = CLIENT_FLAGS >> 8 & 0xff;
	out[14] = CLIENT_FLAGS >> 16 & 0xff;
	out[15] = CLIENT_FLAGS >> 24;
	out[16 + 4] = 40;		/* empty domain at 40 */
	out[24 + 4] = 40;		/* empty workstation */
	out[32] = 10;			/* client version 10.0.19041 */
	out[34] = 0x61;
	out[35] = 0x4a;
	out[39] = 15;
	return 40;
}

/* negTokenInit { mechTypes { NTLMSSP }, mechToken { tok } } in 0x60. */
static size_t
spnego_init_tok(uint8_t *out, const uint8_t *tok, size_t toklen)
{
	uint8_t	a[2048], b[2048];
	size_t	n, m;

	n = tlv(a, 0x30, oid_ntlm, sizeof(oid_ntlm));
	n = tlv(b, 0xa0, a, n);
	m = tlv(a, 0x04, tok, toklen);
	m = tlv(b + n, 0xa2, a, m);
	n = tlv(a, 0x30, b, n + m);
	n = tlv(b + sizeof(oid_spnego), 0xa0, a, n);
	memcpy(b, oid_spnego, sizeof(oid_spnego));
	return tlv(out, 0x60, b, n + sizeof(oid_spnego));
}

/* negTokenResp { responseToken { tok } }, as impacket sends AUTHENTICATE. */
static size_t
spnego_resp_tok(uint8_t *out, const uint8_t *tok, size_t toklen)
{
	uint8_t	a[2048], b[2048];
	size_t	n;

	n = tlv(a, 0x04, tok, toklen);
	n = tlv(b, 0xa2, a, n);
	n = tlv(a, 0x30, b, n);
	return tlv(out, 0xa1, a, n);
}

static size_t
utf16(uint8_t *out, const char *s)
{
	size_t	i;

	for (i = 0; s[i] != '\0'; i++) {
		out[2 * i] = (uint8_t)s[i];
		out[2 * i + 1] = 0;
	}
	return 2 * i;
}

static void
put16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void
field(uint8_t *msg, size_t off, size_t len, size_t at)
{
	put16(msg + off, len);
	put16(msg + off + 2, len);
	put16(msg + off + 4, at);
}

/*
 * An AUTHENTICATE with the header of 88 bytes (flags, version, MIC) and
 * the payload in impacket's order; the NT response last.
 */
static size_t
auth_msg(uint8_t *out, const char *domain, const char *user, const char *ws,
    size_t lmlen, size_t ntlen, int unicode)
{
	size_t	at = 88, n, i;
	uint32_t flags = unicode ? CLIENT_FLAGS : CLIENT_FLAGS & ~1u;

	memset(out, 0, at);
	memcpy(out, "NTLMSSP", 8);
	out[8] = 3;
	n = unicode ? utf16(out + at, domain) : (memcpy(out + at, domain,
	    strlen(domain)), strlen(domain));
	field(out, 28, n, at);
	at += n;
	n = unicode ? utf16(out + at, user) : (memcpy(out + at, user,
	    strlen(user)), strlen(user));
	field(out, 36, n, at);
	at += n;
	n = unicode ? utf16(out + at, ws) : (memcpy(out + at, ws,
	    strlen(ws)), strlen(ws));
	field(out, 44, n, at);
	at += n;
	for (i = 0; i < lmlen; i++)
		out[at + i] = (uint8_t)(0xa0 + i);
	field(out, 12, lmlen, at);
	at += lmlen;
	for (i = 0; i < ntlen; i++)
		out[at + i] = (uint8_t)(0x10 + i);
	field(out, 20, ntlen, at);
	at += ntlen;
	field(out, 52, 0, at);
	out[60] = flags & 0xff;
	out[61] = flags >> 8 & 0xff;
	out[62] = flags >> 16 & 0xff;
	out[63] = flags >> 24;
	return at;
}

/* --- reading answers ---------------------------------------------- */

/* The element at *p (within end): tag, contents, and *p moved past it. */
static const uint8_t *
elem(const uint8_t **p, const uint8_t *end, uint8_t *tag, size_t *len)
{
	const uint8_t	*q = *p;
	size_t		 n, k;

	assert_true(end - q >= 2);
	*tag = *q++;
	n = *q++;
	if (n & 0x80) {
		k = n & 0x7f;
		assert_true(k >= 1 && k <= 2);
		n = 0;
		while (k-- > 0)
			n = n << 8 | *q++;
	}
	assert_true((size_t)(end - q) >= n);
	*len = n;
	*p = q + n;
	return q;
}

/* The responseToken of a server's negTokenResp; checks the rest. */
static const uint8_t *
resp_token(const uint8_t *out, size_t outlen, int state, size_t *toklen)
{
	const uint8_t	*p = out, *end = out + outlen, *v, *seq, *tok = NULL;
	uint8_t		 tag;
	size_t		 n;

	v = elem(&p, end, &tag, &n);
	assert_int_equal(tag, 0xa1);
	assert_true(p == end);
	p = v;
	seq = elem(&p, v + n, &tag, &n);
	assert_int_equal(tag, 0x30);
	p = seq;
	end = seq + n;
	v = elem(&p, end, &tag, &n);
	assert_int_equal(tag, 0xa0);
	assert_int_equal(n, 3);
	assert_memory_equal(v, "\x0a\x01", 2);
	assert_int_equal(v[2], state);
	*toklen = 0;
	if (p == end)
		return NULL;
	v = elem(&p, end, &tag, &n);
	assert_int_equal(tag, 0xa1);
	assert_int_equal(n, sizeof(oid_ntlm));
	assert_memory_equal(v, oid_ntlm, sizeof(oid_ntlm));
	if (p == end)
		return NULL;
	v = elem(&p, end, &tag, &n);
	assert_int_equal(tag, 0xa2);
	assert_true(p == end);
	p = v;
	tok = elem(&p, v + n, &tag, toklen);
	assert_int_equal(tag, 0x04);
	return tok;
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static size_t
get16(const uint8_t *p)
{
	return (size_t)p[0] | (size_t)p[1] << 8;
}

/* How many of the kept events are of eventid. */
static size_t
count(const char *eventid)
{
	char	key[128];
	size_t	i, n = 0;

	snprintf(key, sizeof(key), "\"eventid\":\"%s\"", eventid);
	for (i = 0; i < nevents; i++)
		if (strstr(events[i], key) != NULL)
			n++;
	return n;
}

/* The first kept event of eventid. */
static const char *
find(const char *eventid)
{
	char	key[128];
	size_t	i;

	snprintf(key, sizeof(key), "\"eventid\":\"%s\"", eventid);
	for (i = 0; i < nevents; i++)
		if (strstr(events[i], key) != NULL)
			return events[i];
	fail_msg("no %s event", eventid);
	return NULL;
}

static void
has(const char *ev, const char *fieldtext)
{
	if (strstr(ev, fieldtext) == NULL)
		fail_msg("%s lacks %s", ev, fieldtext);
}

/* --- the tests ---------------------------------------------------- */

static struct conn	c;
static uint32_t		seen;
static struct ntlm_state st;

static int
setup(void **state)
{
	static char	fields[] = "\"session\":\"0123456789abcdef\"";

	memset(&c, 0, sizeof(c));
	c.fields = fields;
	c.nfields = (uint16_t)strlen(fields);
	memset(&st, 0, sizeof(st));
	seen = 0;
	nevents = 0;
	analysed = 0;
	return 0;
}

/* The negotiate response's negTokenInit, byte for byte. */
static void
test_hint(void **state)
{
	static const uint8_t	xp[] = {
		0x60, 0x1c, 0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02,
		0xa0, 0x12, 0x30, 0x10, 0xa0, 0x0e, 0x30, 0x0c, 0x06, 0x0a,
		0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a
	};
	static const char *const ov[] = { "host.version=6.1.7601", NULL };
	static const char	 hint[] = "not_defined_in_RFC4178@please_ignore";
	uint8_t			 out[256];
	struct spnego_in	 sp;
	struct config		 cf;
	char			 err[256];
	size_t			 n;

	assert_int_equal(ntlm_spnego_hint(out, sizeof(out)), sizeof(xp));
	assert_memory_equal(out, xp, sizeof(xp));
	assert_int_equal(spnego_parse(out, sizeof(xp), &sp), 0);
	assert_int_equal(sp.kind, SPNEGO_INIT);
	assert_int_equal(sp.ntlm_offered, 1);
	assert_int_equal(ntlm_spnego_hint(out, sizeof(xp) - 1), 0);

	assert_int_equal(config_load(&cf, NULL, (char *const *)ov, 1, err,
	    sizeof(err)), 0);
	assert_int_equal(host_init(&cf), 0);
	config_free(&cf);
	n = ntlm_spnego_hint(out, sizeof(out));
	/* a3 2a 30 28 a0 26 1b 24 "not_defined..." after the mechTypes */
	assert_int_equal(n, sizeof(xp) + 44);
	assert_int_equal(out[1], 0x1c + 44);
	assert_int_equal(out[11], 0x12 + 44);
	assert_int_equal(out[13], 0x10 + 44);
	assert_memory_equal(out + 30, "\xa3\x2a\x30\x28\xa0\x26\x1b\x24", 8);
	assert_memory_equal(out + 38, hint, sizeof(hint) - 1);
	assert_int_equal(spnego_parse(out, n, &sp), 0);
	assert_int_equal(sp.ntlm_offered, 1);
	host_init(&(struct config){ 0 });
}

/*
 * SPNEGO NEGOTIATE: a negTokenResp with the CHALLENGE holding the
 * session's challenge, the domain, the version and the host's target
 * information; no exploit event.
 */
static void
test_negotiate(void **state)
{
	uint8_t		 msg[64], tok[256], out[NTLM_OUT_MAX], ti[512];
	const uint8_t	*ch;
	size_t		 n, outlen, len, tilen;
	uint32_t	 f;

	n = spnego_init_tok(tok, msg, negotiate_msg(msg));
	ntlm_challenge_new(&st);
	assert_int_equal(ntlm_accept(&st, &c, &seen, tok, n, 100, out,
	    sizeof(out), &outlen), NTLM_MORE);
	assert_int_equal(st.stage, 1);
	assert_int_equal(st.spnego, 1);
	assert_int_equal(st.flags, CLIENT_FLAGS);
	ch = resp_token(out, outlen, 1, &len);
	assert_non_null(ch);
	assert_memory_equal(ch, "NTLMSSP\0\x02\0\0\0", 12);
	/*
	 * TargetName: a workgroup host's realm is itself, "ACCOUNTING-PC3"
	 * in UTF-16LE at 56, after the version (TARGET_TYPE_SERVER).
	 */
	assert_int_equal(get16(ch + 12), 28);
	assert_int_equal(get32(ch + 16), 56);
	assert_memory_equal(ch + 56,
	    "A\0C\0C\0O\0U\0N\0T\0I\0N\0G\0-\0P\0C\0003\0", 28);
	f = get32(ch + 20);
	assert_int_equal(f, 0x00000001 | 0x00000004 | 0x00000200 |
	    0x00800000 | 0x02000000 | 0x00020000 |
	    (CLIENT_FLAGS & (0x10 | 0x20 | 0x8000 | 0x80000 | 0x20000000 |
	    0x40000000 | 0x80000000)));
	assert_memory_equal(ch + 24, st.challenge, 8);
	assert_memory_equal(ch + 48, "\x05\x01\x28\x0a\0\0\0\x0f", 8);
	tilen = host_ntlm_target_info(ti, sizeof(ti));
	assert_int_equal(get16(ch + 40), tilen);
	assert_int_equal(get32(ch + 44), 56 + 28);
	assert_int_equal(len, 56 + 28 + tilen);
	assert_memory_equal(ch + 56 + 28, ti, tilen);
	assert_int_equal(count("sundew.exploit.detected"), 0);
	assert_int_equal(nevents, 0);
	assert_int_equal(analysed, 0);
}

/* A domain member's realm is its domain: TargetName "CORP", TARGET_DOMAIN. */
static void
test_negotiate_domain_member(void **state)
{
	uint8_t		 msg[64], tok[256], out[NTLM_OUT_MAX];
	const uint8_t	*ch;
	size_t		 n, outlen, len;
	struct config	 cf;

	memset(&cf, 0, sizeof(cf));
	cf.host_domain = "CORP";
	cf.host_dns_domain = "corp.example.com";
	assert_int_equal(host_init(&cf), 0);
	n = spnego_init_tok(tok, msg, negotiate_msg(msg));
	ntlm_challenge_new(&st);
	assert_int_equal(ntlm_accept(&st, &c, &seen, tok, n, 0, out,
	    sizeof(out), &outlen), NTLM_MORE);
	ch = resp_token(out, outlen, 1, &len);
	assert_non_null(ch);
	assert_int_equal(get16(ch + 12), 8);
	assert_memory_equal(ch + 56, "C\0O\0R\0P\0", 8);
	assert_int_equal(get32(ch + 20) & 0x00030000, 0x00010000);
	host_init(&(struct config){ 0 });
}

/*
 * AUTHENTICATE in a negTokenResp: accept-completed, and one event with
 * the names, the responses in hex and the NTLM version.
 */
static void
test_authenticate(void **state)
{
	uint8_t		 msg[512], tok[600], out[NTLM_OUT_MAX];
	const char	*ev;
	size_t		 n, outlen;
	char		 want[256];

	n = spnego_init_tok(tok, msg, negotiate_msg(msg));
	assert_int_equal(ntlm_accept(&st, &c, &seen, tok, n, 0, out,
	    sizeof(out), &outlen), NTLM_MORE);
	n = spnego_resp_tok(tok, msg, auth_msg(msg, "CORP", "alice", "WS01",
	    24, 60, 1));
	assert_int_equal(ntlm_accept(&st, &c, &seen, tok, n, 0, out,
	    sizeof(out), &outlen), NTLM_DONE);
	assert_int_equal(outlen, 9);
	assert_memory_equal(out, "\xa1\x07\x30\x05\xa0\x03\x0a\x01\x00", 9);
	assert_int_equal(st.stage, 2);
	assert_int_equal(nevents, 1);
	ev = find("sundew.login.attempt");
	has(ev, "\"session\":\"0123456789abcdef\"");
	has(ev, "\"protocol\":\"smb\"");
	has(ev, "\"username\":\"alice\"");
	has(ev, "\"domain\":\"CORP\"");
	has(ev, "\"workstation\":\"WS01\"");
	has(ev, "\"lm_response\":\"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3"
	    "b4b5b6b7\"");
	snprintf(want, sizeof(want), "\"nt_response\":\"%s\"",
	    "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f"
	    "303132333435363738393a3b3c3d3e3f404142434445464748494a4b");
	has(ev, want);
	has(ev, "\"ntlm_version\":\"v2\"");
	has(ev, "\"success\":true");
	assert_int_equal(st.anonymous, 0);
}

/* Raw NTLMSSP, OEM names, NTLMv1, and an anonymous login. */
static void
test_raw_and_anonymous(void **state)
{
	uint8_t		 msg[512], out[NTLM_OUT_MAX];
	size_t		 n, outlen;
	const char	*ev;

	n = negotiate_msg(msg);
	assert_int_equal(ntlm_accept(&st, &c, &seen, msg, n, 0, out,
	    sizeof(out), &outlen), NTLM_MORE);
	assert_int_equal(st.spnego, 0);
	assert_memory_equal(out, "NTLMSSP\0\x02\0\0\0", 12);
	assert_memory_equal(out + 24, st.challenge, 8);
	n = auth_msg(msg, "ws-dom", "bob", "BOX", 24, 24, 0);
	assert_int_equal(ntlm_accept(&st, &c, &seen, msg, n, 0, out,
	    sizeof(out), &outlen), NTLM_DONE);
	assert_int_equal(outlen, 0);
	ev = find("sundew.login.attempt");
	has(ev, "\"username\":\"bob\"");
	has(ev, "\"domain\":\"ws-dom\"");
	has(ev, "\"ntlm_version\":\"v1\"");

	nevents = 0;
	n = auth_msg(msg, "", "", "", 0, 0, 1);
	assert_int_equal(ntlm_accept(&st, &c, &seen, msg, n, 0, out,
	    sizeof(out), &outlen), NTLM_DONE);
	assert_int_equal(nevents, 1);
	ev = find("sundew.login.attempt");
	has(ev, "\"username\":\"\"");
	has(ev, "\"lm_response\":\"\"");
	has(ev, "\"nt_response\":\"\"");
	has(ev, "\"ntlm_version\":\"anonymous\"");
	has(ev, "\"success\":true");
	assert_int_equal(st.anonymous, 1);
	assert_int_equal(st.guest, 0);
	/* a user without a password proof: a guest (smbclient -N) */
	n = auth_msg(msg, "WORKGROUP", "root", "VM", 0, 0, 1);
	assert_int_equal(ntlm_accept(&st, &c, &seen, msg, n, 0, out,
	    sizeof(out), &outlen), NTLM_DONE);
	assert_int_equal(st.anonymous, 0);
	assert_int_equal(st.guest, 1);
	/* the next login of the session is neither */
	n = auth_msg(msg, "ws-dom", "bob", "BOX", 24, 24, 0);
	assert_int_equal(ntlm_accept(&st, &c, &seen, msg, n, 0, out,
	    sizeof(out), &outlen), NTLM_DONE);
	assert_int_equal(st.anonymous, 0);
	assert_int_equal(st.guest, 0);
}

/*
 * The session key of a login without an NT response: the client's key
 * RC4-decrypted under zeros with KEY_EXCH, zeros without; none for a
 * login with an NT response.
 */
static void
test_session_key(void **state)
{
	static const uint8_t	want[16] = {
		0xde, 0x19, 0x8b, 0x42, 0xa7, 0x32, 0x5b, 0x3d,
		0x82, 0x0f, 0x14, 0x6c, 0x5b, 0x63, 0x9c, 0x62
	};
	static const uint8_t	zero[16];
	uint8_t			msg[512], out[NTLM_OUT_MAX];
	size_t			n, outlen, i;

	/* smbclient -N: user "root", empty responses, KEY_EXCH */
	n = auth_msg(msg, "WORKGROUP", "root", "VM", 0, 0, 1);
	for (i = 0; i < 16; i++)
		msg[n + i] = (uint8_t)i;
	field(msg, 52, 16, n);
	assert_int_equal(ntlm_accept(&st, &c, &seen, msg, n + 16, 0, out,
	    sizeof(out), &outlen), NTLM_DONE);
	assert_int_equal(st.has_key, 1);
	assert_memory_equal(st.session_key, want, 16);
	/* with an NT response the key needs the password: none */
	n = auth_msg(msg, "CORP", "alice", "WS", 24, 60, 1);
	assert_int_equal(ntlm_accept(&st, &c, &seen, msg, n, 0, out,
	    sizeof(out), &outlen), NTLM_DONE);
	assert_int_equal(st.has_key, 0);
	assert_memory_equal(st.session_key, zero, 16);
	/* without KEY_EXCH the key is the zeros themselves */
	n = auth_msg(msg, "", "", "", 0, 0, 1);
	msg[63] &= (uint8_t)~0x40;
	assert_int_equal(ntlm_accept(&st, &c, &seen, msg, n, 0, out,
	    sizeof(out), &outlen), NTLM_DONE);
	assert_int_equal(st.has_key, 1);
	assert_memory_equal(st.session_key, zero, 16);
	/* a key field past the message is refused */
	n = auth_msg(msg, "", "", "", 0, 0, 1);
	field(msg, 52, 16, n);
	assert_int_equal(ntlm_accept(&st, &c, &seen, msg, n + 15, 0, out,
	    sizeof(out), &outlen), NTLM_ERROR);
}

/* A response past the cap is cut, and says so; names are escaped. */
static void
test_caps(void **state)
{
	uint8_t		 msg[2048], out[NTLM_OUT_MAX];
	size_t		 n, outlen;
	const char	*ev, *p;

	n = auth_msg(msg, "D", "a\"b", "W", 0, 900, 0);
	assert_int_equal(ntlm_accept(&st, &c, &seen, msg, n, 0, out,
	    sizeof(out), &outlen), NTLM_DONE);
	ev = find("sundew.login.attempt");
	has(ev, "\"username\":\"a\\\"b\"");
	has(ev, "\"nt_response_truncated\":true");
	p = strstr(ev, "\"nt_response\":\"") + 15;
	assert_int_equal(strcspn(p, "\""), 1024);
}

/* Hands each prefix of tok, in a buffer of its size, to a fresh state. */
static void
prefixes(const uint8_t *tok, size_t n)
{
	uint8_t		 out[NTLM_OUT_MAX], *buf;
	size_t		 k, outlen;

	for (k = 0; k < n; k++) {
		struct ntlm_state	s = st;

		buf = malloc(k > 0 ? k : 1);
		assert_non_null(buf);
		memcpy(buf, tok, k);
		if (ntlm_accept(&s, &c, &seen, buf, k, 0, out, sizeof(out),
		    &outlen) != NTLM_ERROR)
			fail_msg("prefix of %zu of %zu bytes accepted", k, n);
		free(buf);
	}
}

/* Every truncated prefix of a valid token is refused, no read past it. */
static void
test_truncated(void **state)
{
	uint8_t		 msg[512], tok[600], out[NTLM_OUT_MAX];
	size_t		 n, outlen;

	n = spnego_init_tok(tok, msg, negotiate_msg(msg));
	prefixes(tok, n);
	n = spnego_resp_tok(tok, msg, auth_msg(msg, "CORP", "alice", "WS01",
	    24, 60, 1));
	prefixes(tok, n);
	prefixes(msg, auth_msg(msg, "CORP", "alice", "WS01", 24, 60, 1));
	assert_int_equal(nevents, 0);
	/* and the whole of it is not */
	assert_int_equal(ntlm_accept(&st, &c, &seen, tok, n, 0, out,
	    sizeof(out), &outlen), NTLM_DONE);
	assert_int_equal(nevents, 1);
}

/* A cap smaller than NTLM_OUT_MAX, and messages of no known type. */
static void
test_garbage(void **state)
{
	uint8_t	 msg[64], out[NTLM_OUT_MAX];
	size_t	 n = negotiate_msg(msg), outlen;

	assert_int_equal(ntlm_accept(&st, &c, &seen, msg, n, 0, out,
	    NTLM_OUT_MAX - 1, &outlen), NTLM_ERROR);
	msg[8] = 2;
	assert_int_equal(ntlm_accept(&st, &c, &seen, msg, n, 0, out,
	    sizeof(out), &outlen), NTLM_ERROR);
	assert_int_equal(ntlm_accept(&st, &c, &seen,
	    (const uint8_t *)"GET / HTTP/1.0", 14, 0, out, sizeof(out),
	    &outlen), NTLM_ERROR);
	/* indefinite length */
	assert_int_equal(ntlm_accept(&st, &c, &seen,
	    (const uint8_t *)"\x60\x80\x06\x06\x2b\x06\x01\x05\x05\x02\0\0",
	    12, 0, out, sizeof(out), &outlen), NTLM_ERROR);
	assert_int_equal(nevents, 0);
}

/* Each session its own challenge. */
static void
test_challenge(void **state)
{
	struct ntlm_state	a, b;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	ntlm_challenge_new(&a);
	ntlm_challenge_new(&b);
	assert_memory_not_equal(a.challenge, b.challenge, 8);
}

/*
 * kill-bill's token (the ASN.1 bit string heap overflow): a negTokenInit
 * whose reqFlags is a constructed BIT STRING of bit strings, one of them
 * empty, the shellcode inside.
 */
static size_t
killbill(uint8_t *out, int empty)
{
	uint8_t		a[4096], b[4096];
	size_t		n, m, k;
	/* fnstenv GetPC, then filler: what the pre-filter looks for */
	static const uint8_t sc[] = { 0xd9, 0xee, 0xd9, 0x74, 0x24, 0xf4,
	    0x5b, 0x81, 0x73, 0x13, 0x11, 0x22, 0x33, 0x44, 0x83, 0xeb, 0xfc,
	    0xe2, 0xf4 };

	a[0] = 0;
	memset(a + 1, 'A', 1024);
	n = tlv(b, 0x03, a, 1025);
	if (empty) {
		b[n++] = 0x03;		/* an empty BIT STRING */
		b[n++] = 0x00;
	}
	a[0] = 0;
	memcpy(a + 1, "\xf8\x0f\x01\x00\xf8\x0f\x01", 7);
	m = tlv(b + n + 200, 0x03, a, 8);
	m = tlv(b + n + 200, 0x23, b + n + 200, m);
	a[0] = 0;
	memcpy(a + 1, sc, sizeof(sc));
	memset(a + 1 + sizeof(sc), 'C', 100);
	k = tlv(b + n + m + 200, 0x03, a, 1 + sizeof(sc) + 100);
	k = tlv(b + n + m + 200, 0x23, b + n + m + 200, k);
	memmove(b + n, b + n + 200, m + k);
	n += m + k;
	n = tlv(a, 0x23, b, n);
	n = tlv(b, 0xa1, a, n);
	n = tlv(a, 0x30, b, n);
	n = tlv(b + sizeof(oid_spnego), 0xa0, a, n);
	memcpy(b, oid_spnego, sizeof(oid_spnego));
	return tlv(out, 0x60, b, n + sizeof(oid_spnego));
}

static void
test_ms04_007(void **state)
{
	uint8_t		 tok[4096], out[NTLM_OUT_MAX];
	size_t		 n, outlen;
	const char	*ev;
	static const uint8_t huge[] = { 0x60, 0x84, 0xff, 0xff, 0xff, 0xf0,
	    0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02, 0xa0, 0x04,
	    0x30, 0x02, 0x03, 0x00 };

	n = killbill(tok, 1);
	assert_string_equal(spnego_ms04_007(tok, n), "constructed bit string");
	assert_int_equal(ntlm_accept(&st, &c, &seen, tok, n, 77, out,
	    sizeof(out), &outlen), NTLM_MORE);
	/* Answered as a host that chose NTLMSSP and waits for it. */
	assert_null(resp_token(out, outlen, 1, &n));
	assert_int_equal(count("sundew.exploit.detected"), 1);
	ev = find("sundew.exploit.detected");
	has(ev, "\"vuln\":\"MS04-007\"");
	has(ev, "\"cve\":\"CVE-2003-0818\"");
	has(ev, "\"detail\":\"constructed bit string\"");
	assert_int_equal(analysed, 1);
	/* the constructed BIT STRING alone is enough */
	n = killbill(tok, 0);
	assert_string_equal(spnego_ms04_007(tok, n), "constructed bit string");
	/* once a session */
	ntlm_accept(&st, &c, &seen, tok, n, 77, out, sizeof(out), &outlen);
	assert_int_equal(count("sundew.exploit.detected"), 1);

	/* the length overflow: a 4-byte length no blob can have */
	seen = 0;
	nevents = 0;
	assert_string_equal(spnego_ms04_007(huge, sizeof(huge)),
	    "length overflow");
	assert_int_equal(ntlm_accept(&st, &c, &seen, huge, sizeof(huge), 0,
	    out, sizeof(out), &outlen), NTLM_MORE);
	has(find("sundew.exploit.detected"), "\"detail\":\"length overflow\"");

	/* and so is an empty primitive one */
	assert_string_equal(spnego_ms04_007((const uint8_t *)"\xa1\x06\x30"
	    "\x04\xa1\x02\x03\x00", 8), "empty bit string");
	assert_null(spnego_ms04_007((const uint8_t *)"\xa1\x07\x30"
	    "\x05\xa1\x03\x03\x01\x00", 9));
	/* a normal token and the server's own are not the attack */
	n = spnego_init_tok(tok, out, negotiate_msg(out));
	assert_null(spnego_ms04_007(tok, n));
	n = ntlm_spnego_hint(tok, sizeof(tok));
	assert_null(spnego_ms04_007(tok, n));
	n = spnego_resp(tok, sizeof(tok), 1, 1, (const uint8_t *)"NTLMSSP",
	    8);
	assert_null(spnego_ms04_007(tok, n));
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test_setup(test_hint, setup),
		cmocka_unit_test_setup(test_negotiate, setup),
		cmocka_unit_test_setup(test_negotiate_domain_member, setup),
		cmocka_unit_test_setup(test_authenticate, setup),
		cmocka_unit_test_setup(test_raw_and_anonymous, setup),
		cmocka_unit_test_setup(test_session_key, setup),
		cmocka_unit_test_setup(test_caps, setup),
		cmocka_unit_test_setup(test_truncated, setup),
		cmocka_unit_test_setup(test_garbage, setup),
		cmocka_unit_test_setup(test_challenge, setup),
		cmocka_unit_test_setup(test_ms04_007, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
