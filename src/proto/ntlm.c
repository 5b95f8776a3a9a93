/*
 * The server side of NTLMSSP (MS-NLMP), raw or inside SPNEGO (ntlm.h):
 * NEGOTIATE is answered with the host's CHALLENGE, AUTHENTICATE is a
 * login that succeeds whoever it is, and becomes one event.  A SPNEGO
 * token shaped as the MS04-007 exploits is recognised and analysed, and
 * answered as well as it can be: an unpatched host would not have
 * answered at all, its LSASS being the attacker's.
 */
#include <sys/random.h>
#include <sys/types.h>

#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "event.h"
#include "exploit.h"
#include "host.h"
#include "log.h"
#include "ntlm.h"
#include "sensor.h"
#include "smb_int.h"
#include "spnego.h"

#define NTLM_NEGOTIATE		1
#define NTLM_CHALLENGE		2
#define NTLM_AUTHENTICATE	3

/* Negotiate flags (MS-NLMP 2.2.2.5). */
#define NTLM_F_UNICODE		0x00000001u
#define NTLM_F_OEM		0x00000002u
#define NTLM_F_REQUEST_TARGET	0x00000004u
#define NTLM_F_SIGN		0x00000010u
#define NTLM_F_SEAL		0x00000020u
#define NTLM_F_NTLM		0x00000200u
#define NTLM_F_ALWAYS_SIGN	0x00008000u
#define NTLM_F_TARGET_DOMAIN	0x00010000u
#define NTLM_F_TARGET_SERVER	0x00020000u
#define NTLM_F_ESS		0x00080000u
#define NTLM_F_TARGET_INFO	0x00800000u
#define NTLM_F_VERSION		0x02000000u
#define NTLM_F_128		0x20000000u
#define NTLM_F_KEY_EXCH		0x40000000u
#define NTLM_F_56		0x80000000u

/* What of the client's flags the server agrees to, as Windows does. */
#define NTLM_F_MIRRORED	(NTLM_F_SIGN | NTLM_F_SEAL | NTLM_F_ALWAYS_SIGN | \
	NTLM_F_ESS | NTLM_F_128 | NTLM_F_KEY_EXCH | NTLM_F_56)

#define NTLM_REVISION		15	/* NTLMSSP_REVISION_W2K3 */
#define NTLM_AUTH_MIN		52	/* up to WorkstationFields */
#define NTLM_AUTH_FLAGS		64	/* with the session key and flags */
/* The most of a response that the event shows, and of a name. */
#define NTLM_HEX_MAX		512
#define NTLM_NAME_MAX		256

static const uint8_t	ntlm_sig[8] = "NTLMSSP";

/*
 * From the kernel: OpenSSL's RAND_bytes (its DRBG, and a getpid(2) a
 * call to notice a fork) cost about 3 us of an SMB session in the
 * sensor, getrandom(2) a fifth of that.
 */
void
ntlm_challenge_new(struct ntlm_state *st)
{
	if (getrandom(st->challenge, sizeof(st->challenge), 0) !=
	    (ssize_t)sizeof(st->challenge))
		fatal("getrandom: no randomness for an NTLM challenge");
}

size_t
ntlm_spnego_hint(uint8_t *out, size_t cap)
{
	/* Windows from Vista on adds the negHints; XP and 2003 do not. */
	return spnego_init(out, cap, host_get()->major >= 6);
}

/*
 * The CHALLENGE message for the client's flags into out: target name,
 * the session's challenge, the version and the host's target information.
 * The target name is the realm, as MS-NLMP 3.2.5.1.1 has it: a domain
 * member's domain, a workgroup host's own NetBIOS name (a real Windows in
 * a workgroup says "Target (Server): ITS-NAME").  Its length, 0 if cap is
 * too small.
 */
static size_t
ntlm_challenge_msg(const struct ntlm_state *st, uint8_t *out, size_t cap)
{
	const struct host	*h = host_get();
	const char		*realm;
	uint32_t		 f;
	size_t			 at, tn, ti;
	/* Windows 2000 had no version field yet. */
	int			 ver = h->major > 5 || h->minor > 0;

	at = ver ? 56 : 48;
	if (cap < at)
		return 0;
	f = NTLM_F_REQUEST_TARGET | NTLM_F_NTLM | NTLM_F_TARGET_INFO |
	    (st->flags & NTLM_F_MIRRORED) | (ver ? NTLM_F_VERSION : 0);
	f |= st->flags & NTLM_F_UNICODE ? NTLM_F_UNICODE : NTLM_F_OEM;
	f |= h->dns_domain[0] != '\0' ? NTLM_F_TARGET_DOMAIN :
	    NTLM_F_TARGET_SERVER;
	realm = f & NTLM_F_TARGET_DOMAIN ? h->domain : h->name;
	memset(out, 0, at);
	memcpy(out, ntlm_sig, 8);
	smb_put32(out + 8, NTLM_CHALLENGE);
	if (f & NTLM_F_UNICODE)
		tn = smb_ascii_utf16(realm, out + at, cap - at);
	else if ((tn = strlen(realm)) <= cap - at)
		memcpy(out + at, realm, tn);
	else
		tn = 0;
	if (tn == 0 || (ti = host_ntlm_target_info(out + at + tn,
	    cap - at - tn)) == 0)
		return 0;
	smb_put16(out + 12, (uint16_t)tn);
	smb_put16(out + 14, (uint16_t)tn);
	smb_put32(out + 16, (uint32_t)at);
	smb_put32(out + 20, f);
	memcpy(out + 24, st->challenge, 8);
	smb_put16(out + 40, (uint16_t)ti);
	smb_put16(out + 42, (uint16_t)ti);
	smb_put32(out + 44, (uint32_t)(at + tn));
	if (ver) {
		out[48] = h->major;
		out[49] = h->minor;
		smb_put16(out + 50, h->build);
		out[55] = NTLM_REVISION;
	}
	return at + tn + ti;
}

/*
 * One payload field (length, maximum, offset) at off of msg: its bytes,
 * checked to lie within msg.  0, or -1.
 */
static int
ntlm_field(const uint8_t *msg, size_t n, size_t off, const uint8_t **p,
    size_t *len, size_t *lowest)
{
	size_t	l = smb_get16(msg + off), o = smb_get32(msg + off + 4);

	*p = NULL;
	*len = 0;
	if (l == 0)
		return 0;
	if (o > n || l > n - o)
		return -1;
	*p = msg + o;
	*len = l;
	if (o < *lowest)
		*lowest = o;
	return 0;
}

/* RC4 of n bytes in place with a 16-byte key (NTLM's key exchange). */
static void
ntlm_rc4(const uint8_t key[16], uint8_t *p, size_t n)
{
	uint8_t	s[256], t;
	size_t	i, j = 0, k;

	for (i = 0; i < 256; i++)
		s[i] = (uint8_t)i;
	for (i = 0; i < 256; i++) {
		j = (j + s[i] + key[i % 16]) & 0xff;
		t = s[i];
		s[i] = s[j];
		s[j] = t;
	}
	for (i = j = k = 0; k < n; k++) {
		i = (i + 1) & 0xff;
		j = (j + s[i]) & 0xff;
		t = s[i];
		s[i] = s[j];
		s[j] = t;
		p[k] ^= s[(s[i] + s[j]) & 0xff];
	}
}

/*
 * The session key of a login without an NT response: its SessionBaseKey
 * and KeyExchangeKey are zeros (there is no NTLM response to take the
 * extended session security's from, as Samba computes it too); with
 * KEY_EXCH the client's random key is RC4-encrypted under them.
 */
static void
ntlm_session_key(struct ntlm_state *st, uint32_t flags, const uint8_t *ersk,
    size_t ersklen)
{
	static const uint8_t	zero[16];

	memset(st->session_key, 0, sizeof(st->session_key));
	if ((flags & NTLM_F_KEY_EXCH) && ersklen == 16) {
		memcpy(st->session_key, ersk, 16);
		ntlm_rc4(zero, st->session_key, 16);
	}
	st->has_key = 1;
}

/* The AUTHENTICATE message: the login event.  0, or -1 if malformed. */
static int
ntlm_authenticate(struct ntlm_state *st, struct conn *c, const uint8_t *msg,
    size_t n)
{
	struct ntlm_login	l;
	const uint8_t		*ersk = NULL;
	size_t			lowest = n, ersklen = 0;
	uint32_t		flags = st->flags;

	if (n < NTLM_AUTH_MIN)
		return -1;
	memset(&l, 0, sizeof(l));
	if (ntlm_field(msg, n, 12, &l.lm, &l.lmlen, &lowest) == -1 ||
	    ntlm_field(msg, n, 20, &l.nt, &l.ntlen, &lowest) == -1 ||
	    ntlm_field(msg, n, 28, &l.domain, &l.domainlen, &lowest) == -1 ||
	    ntlm_field(msg, n, 36, &l.user, &l.userlen, &lowest) == -1 ||
	    ntlm_field(msg, n, 44, &l.workstation, &l.workstationlen,
	    &lowest) == -1)
		return -1;
	/* The key and flags are there unless the payload starts before. */
	if (n >= NTLM_AUTH_FLAGS && lowest >= NTLM_AUTH_FLAGS) {
		if (ntlm_field(msg, n, 52, &ersk, &ersklen, &lowest) == -1)
			return -1;
		flags = smb_get32(msg + 60);
	}
	l.unicode = (flags & NTLM_F_UNICODE) != 0;
	/* No user name and no NT response (an LM one of one zero byte). */
	st->anonymous = l.userlen == 0 && l.ntlen == 0 &&
	    (l.lmlen == 0 || (l.lmlen == 1 && l.lm[0] == 0));
	st->guest = l.userlen > 0 && l.ntlen == 0;
	st->has_key = 0;
	memset(st->session_key, 0, sizeof(st->session_key));
	if (l.ntlen == 0)
		ntlm_session_key(st, flags, ersk, ersklen);
	ntlm_login_event(c, &l, 1);
	st->stage = 2;
	return 0;
}

/* A raw NTLMSSP message: what to answer, into out. */
static enum ntlm_rc
ntlm_message(struct ntlm_state *st, struct conn *c, const uint8_t *msg,
    size_t n, uint8_t *out, size_t cap, size_t *outlen)
{
	static const uint8_t	zero[8];

	if (n < 12 || memcmp(msg, ntlm_sig, 8) != 0)
		return NTLM_ERROR;
	switch (smb_get32(msg + 8)) {
	case NTLM_NEGOTIATE:
		if (n < 16)
			return NTLM_ERROR;
		st->flags = smb_get32(msg + 12);
		if (memcmp(st->challenge, zero, sizeof(zero)) == 0)
			ntlm_challenge_new(st);
		if ((*outlen = ntlm_challenge_msg(st, out, cap)) == 0)
			return NTLM_ERROR;
		st->stage = 1;
		return NTLM_MORE;
	case NTLM_AUTHENTICATE:
		/* Even one that no challenge came before: lenient. */
		if (ntlm_authenticate(st, c, msg, n) == -1)
			return NTLM_ERROR;
		*outlen = 0;
		return NTLM_DONE;
	}
	return NTLM_ERROR;
}

/*
 * A SPNEGO token: the NTLMSSP message it carries, answered in a
 * negTokenResp; one without (a Kerberos token first, no token, the
 * MS04-007 attack) is answered by choosing NTLMSSP and asking for it.
 */
static enum ntlm_rc
ntlm_spnego(struct ntlm_state *st, struct conn *c, const uint8_t *in,
    size_t n, int attack, uint8_t *out, size_t cap, size_t *outlen)
{
	struct spnego_in	sp;
	enum ntlm_rc		rc;
	size_t			len = 0;

	if (spnego_parse(in, n, &sp) == -1) {
		if (!attack)
			return NTLM_ERROR;
		sp.token = NULL;
	}
	if (sp.token == NULL || sp.tokenlen < 8 ||
	    memcmp(sp.token, ntlm_sig, 8) != 0) {
		*outlen = spnego_resp(out, cap, SPNEGO_ACCEPT_INCOMPLETE, 1,
		    NULL, 0);
		return *outlen > 0 ? NTLM_MORE : NTLM_ERROR;
	}
	if ((rc = ntlm_message(st, c, sp.token, sp.tokenlen, out, cap,
	    &len)) == NTLM_ERROR)
		return NTLM_ERROR;
	*outlen = spnego_resp(out, cap, rc == NTLM_MORE ?
	    SPNEGO_ACCEPT_INCOMPLETE : SPNEGO_ACCEPT_COMPLETED,
	    rc == NTLM_MORE, out, len);
	return *outlen > 0 ? rc : NTLM_ERROR;
}

enum ntlm_rc
ntlm_accept(struct ntlm_state *st, struct conn *c, uint32_t *seen,
    const uint8_t *in, size_t n, size_t at, uint8_t *out, size_t cap,
    size_t *outlen)
{
	struct exploit_where	 w = { NULL, -1, -1, NULL, NULL, NULL };

	*outlen = 0;
	if (cap < NTLM_OUT_MAX)
		return NTLM_ERROR;
	if (n >= 8 && memcmp(in, ntlm_sig, 8) == 0) {
		st->spnego = 0;
		return ntlm_message(st, c, in, n, out, cap, outlen);
	}
	st->spnego = 1;
	if ((w.detail = spnego_ms04_007(in, n)) != NULL) {
		exploit_detected(c, seen, EXPLOIT_MS04_007, &w);
		conn_analyse(c, in, n, at);
	}
	return ntlm_spnego(st, c, in, n, w.detail != NULL, out, cap, outlen);
}

/* A name of the login: UTF-16LE made ASCII, or the bytes as they came. */
static void
ntlm_name(struct event_buf *ev, const char *key, const uint8_t *p,
    size_t len, int unicode)
{
	char	buf[NTLM_NAME_MAX + 1];

	if (unicode) {
		smb_utf16_ascii(p, len, buf, sizeof(buf));
		event_str(ev, key, buf);
		return;
	}
	if (p != NULL && memchr(p, '\0', len) != NULL)
		len = (size_t)((const uint8_t *)memchr(p, '\0', len) - p);
	event_bytes(ev, key, p != NULL ? p : (const uint8_t *)"",
	    len < NTLM_NAME_MAX ? len : NTLM_NAME_MAX);
}

/* A response as lower-case hex, at most NTLM_HEX_MAX bytes of it. */
static void
ntlm_hex(struct event_buf *ev, const char *key, const uint8_t *p,
    size_t len)
{
	static const char	digits[] = "0123456789abcdef";
	char			buf[2 * NTLM_HEX_MAX + 1], tkey[48];
	size_t			i, n = len < NTLM_HEX_MAX ? len : NTLM_HEX_MAX;

	for (i = 0; i < n; i++) {
		buf[2 * i] = digits[p[i] >> 4];
		buf[2 * i + 1] = digits[p[i] & 0xf];
	}
	buf[2 * n] = '\0';
	event_str(ev, key, buf);
	if (n < len) {
		snprintf(tkey, sizeof(tkey), "%s_truncated", key);
		event_bool(ev, tkey, 1);
	}
}

void
ntlm_login_event(struct conn *c, const struct ntlm_login *l, int success)
{
	struct event_buf	 ev;
	const char		*version;

	/* An NTLMv1 response is 24 bytes; NTLMv2's carries a blob. */
	if (l->ntlen == 0)
		version = "anonymous";
	else if (l->ntlen == 24)
		version = "v1";
	else if (l->ntlen > 24)
		version = "v2";
	else
		version = "unknown";
	conn_event(&ev, c, "sundew.login.attempt");
	event_str(&ev, "protocol", "smb");
	ntlm_name(&ev, "username", l->user, l->userlen, l->unicode);
	ntlm_name(&ev, "domain", l->domain, l->domainlen, l->unicode);
	ntlm_name(&ev, "workstation", l->workstation, l->workstationlen,
	    l->unicode);
	ntlm_hex(&ev, "lm_response", l->lm, l->lmlen);
	ntlm_hex(&ev, "nt_response", l->nt, l->ntlen);
	event_str(&ev, "ntlm_version", version);
	event_bool(&ev, "success", success);
	sensor_send_event(&ev);
}
