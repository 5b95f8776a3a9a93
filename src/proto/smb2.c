/*
 * SMB2/3 (MS-SMB2): the 64-byte sync header, compound requests answered
 * in one compound reply, NEGOTIATE (2.0.2 to 3.1.1 with negotiate
 * contexts, and the SMB1 multi-protocol upgrade), SESSION_SETUP over
 * NTLMSSP, LOGOFF, TREE_CONNECT and the small commands.  Files, pipes and
 * ioctls are in smb2_file.c, signing in smb2_sign.c.
 *
 * No signing and no encryption are asked of the client: the host says
 * signing is enabled, not required, as a Windows member server does.  It
 * signs when the login's key is one it can know (smb2_sign.c).  An
 * encrypted message ends the session, as no key was ever offered.
 */
#include <sys/random.h>

#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "event.h"
#include "exploit.h"
#include "host.h"
#include "smb2_int.h"
#include "smb_int.h"

/* Negotiate contexts (2.2.3.1). */
#define SMB2_CTX_PREAUTH	0x0001
#define SMB2_CTX_ENCRYPTION	0x0002
#define SMB2_CTX_COMPRESSION	0x0003
#define SMB2_CTX_SIGNING	0x0008
#define SMB2_HASH_SHA512	0x0001
#define SMB2_SALT_LEN		32

/* Capabilities (2.2.4). */
#define SMB2_CAP_DFS		0x00000001
#define SMB2_CAP_LEASING	0x00000002
#define SMB2_CAP_LARGE_MTU	0x00000004
#define SMB2_CAP_MULTI_CHANNEL	0x00000008
#define SMB2_CAP_DIR_LEASING	0x00000020

#define SMB2_SIGNING_ENABLED	0x0001
#define SMB2_SESSION_GUEST	0x0001
#define SMB2_SESSION_NULL	0x0002

/* What a 3.1.1 client offered in its negotiate contexts. */
struct smb2_offer {
	int		 preauth;	/* the context came */
	int		 sha512;	/* ... with SHA-512 */
	int		 encryption;
	uint16_t	 cipher;	/* chosen, 0: none in common */
	int		 compression;
	uint16_t	 algs[4];	/* in common, in the client's order */
	int		 nalgs;
	int		 signing;
	uint16_t	 sign_alg;
};

struct smb2_state *
smb2_state(struct smb_conn *sc)
{
	if (sc->s2 == NULL)
		sc->s2 = calloc(1, sizeof(*sc->s2));
	return sc->s2;
}

void
smb2_free(struct smb_conn *sc)
{
	free(sc->s2);
	sc->s2 = NULL;
}

/*
 * Windows' capabilities: Vista's for 2.0.2, 7's for 2.1, 8's and on for
 * 3.x, where directory leasing is said only to a client that offered it
 * (impacket, which does not, breaks on one it did not ask for).  Never
 * encryption: a client that has it (impacket) would encrypt with a key
 * the host cannot know.
 */
uint32_t
smb2_caps(uint16_t dialect, uint32_t client)
{
	uint32_t caps = SMB2_CAP_DFS | SMB2_CAP_LEASING | SMB2_CAP_LARGE_MTU;

	if (dialect <= SMB2_DIALECT_202)
		return SMB2_CAP_DFS;
	if (dialect == SMB2_DIALECT_210 || dialect == SMB2_DIALECT_WILD)
		return caps;
	return caps | SMB2_CAP_MULTI_CHANNEL | (client & SMB2_CAP_DIR_LEASING);
}

/* Windows' transfer sizes for the same versions. */
static uint32_t
smb2_max_size(uint16_t dialect)
{
	if (dialect <= SMB2_DIALECT_202)
		return 65536;
	if (dialect == SMB2_DIALECT_210)
		return 1048576;
	return 8388608;
}

int
smb2_buf(const struct smb2_req *r, size_t off, size_t len, const uint8_t **p)
{
	*p = NULL;
	if (len == 0)
		return 0;
	if (off < SMB2_HDR || off > r->len || len > r->len - off)
		return -1;
	*p = r->msg + off;
	return 0;
}

uint8_t *
smb2_body(struct smb2_out *o, size_t n)
{
	size_t	 at, need, ncap;
	uint8_t	*nbuf;

	/* A compound's answers each start 8-byte aligned. */
	at = (o->len + 7) & ~(size_t)7;
	need = at + SMB2_HDR + n;
	if (need > SMB2_OUT_MAX)
		return NULL;
	if (need > o->cap) {
		ncap = o->cap ? o->cap : 1024;
		while (ncap < need)
			ncap *= 2;
		if (ncap > SMB2_OUT_MAX)
			ncap = SMB2_OUT_MAX;
		if ((nbuf = realloc(o->buf, ncap)) == NULL)
			return NULL;
		o->buf = nbuf;
		o->cap = ncap;
	}
	memset(o->buf + o->len, 0, need - o->len);
	return o->buf + at + SMB2_HDR;
}

void
smb2_done(struct smb2_out *o, const struct smb2_req *r, uint32_t status,
    size_t n)
{
	size_t	 at = (o->len + 7) & ~(size_t)7;
	uint8_t	*h = o->buf + at;
	uint32_t flags;

	if (o->nreplies > 0)
		smb_put32(o->buf + o->last + 20, (uint32_t)(at - o->last));
	memcpy(h, "\xfeSMB", 4);
	smb_put16(h + 4, SMB2_HDR);
	smb_put16(h + 6, r->charge);
	smb_put32(h + 8, status);
	smb_put16(h + 12, r->cmd);
	smb_put16(h + 14, r->credits > 0 ? r->credits : 1);
	flags = SMB2_FLAGS_SERVER_TO_REDIR | (r->flags & SMB2_FLAGS_RELATED);
	/* A signed request gets a signed answer, once the key is known. */
	if ((r->flags & SMB2_FLAGS_SIGNED) && o->s->signing != SMB2_SIGN_NONE)
		flags |= SMB2_FLAGS_SIGNED;
	smb_put32(h + 16, flags);
	smb_put64(h + 24, r->mid);
	smb_put32(h + 32, 0xfeff);	/* ProcessId, as Windows sets it */
	smb_put32(h + 36, r->tid);
	smb_put64(h + 40, r->sid);
	o->last = at;
	o->len = at + SMB2_HDR + n;
	o->nreplies++;
}

int
smb2_error(struct smb2_out *o, const struct smb2_req *r, uint32_t status)
{
	uint8_t	*b;

	if ((b = smb2_body(o, 9)) == NULL)
		return -1;
	smb_put16(b, 9);
	smb2_done(o, r, status, 9);
	return 0;
}

int
smb2_small(struct smb2_out *o, const struct smb2_req *r, uint16_t size)
{
	uint8_t	*b;

	if ((b = smb2_body(o, 4)) == NULL)
		return -1;
	smb_put16(b, size);
	smb2_done(o, r, SMB_OK, 4);
	return 0;
}

int
smb2_send(struct smb2_out *o)
{
	size_t	at = 0, next;

	/* Each answer of a compound is signed alone, its padding with it. */
	while (at + SMB2_HDR <= o->len) {
		next = smb_get32(o->buf + at + 20);
		if (next == 0 || next > o->len - at)
			next = o->len - at;
		if ((smb_get32(o->buf + at + 16) & SMB2_FLAGS_SIGNED) &&
		    smb2_sign(o->s, o->buf + at, next) == -1)
			return -1;
		at += next;
	}
	return smb_send(o->sc, o->buf, o->len);
}

/* "3.1.1" of 0x0311, for the request event. */
static const char *
smb2_dialect_name(uint16_t d)
{
	switch (d) {
	case SMB2_DIALECT_202:	return "2.0.2";
	case SMB2_DIALECT_210:	return "2.1";
	case SMB2_DIALECT_300:	return "3.0";
	case SMB2_DIALECT_302:	return "3.0.2";
	case SMB2_DIALECT_311:	return "3.1.1";
	case SMB2_DIALECT_WILD:	return "2.???";
	}
	return "none";
}

/* The host's version would answer SMBGhost's compression (1903, 1909). */
static int
smb2_ghost_host(void)
{
	const struct host *h = host_get();

	return h->major == 10 && (h->build == 18362 || h->build == 18363);
}

/* One context's data (2.2.3.1.x) into *of: 0, -1 (garbage) or a status. */
static int64_t
smb2_ctx_one(uint16_t type, const uint8_t *d, size_t n, struct smb2_offer *of)
{
	size_t	 cnt, i, j;
	uint16_t a;

	switch (type) {
	case SMB2_CTX_PREAUTH:
		if (n < 4 || (cnt = smb_get16(d)) * 2 + 4 +
		    smb_get16(d + 2) > n)
			return -1;
		of->preauth = 1;
		for (i = 0; i < cnt; i++)
			if (smb_get16(d + 4 + 2 * i) == SMB2_HASH_SHA512)
				of->sha512 = 1;
		return cnt == 0 ? SMB_INVALID_PARAMETER : 0;
	case SMB2_CTX_ENCRYPTION:
		if (n < 2 || (cnt = smb_get16(d)) * 2 + 2 > n)
			return -1;
		of->encryption = 1;
		/* Windows prefers AES-128-GCM, then AES-128-CCM. */
		for (i = 0; i < cnt; i++) {
			a = smb_get16(d + 2 + 2 * i);
			if (a == 2 || (a == 1 && of->cipher == 0))
				of->cipher = a;
		}
		return cnt == 0 ? SMB_INVALID_PARAMETER : 0;
	case SMB2_CTX_COMPRESSION:
		if (n < 8 || (cnt = smb_get16(d)) * 2 + 8 > n)
			return -1;
		of->compression = 1;
		for (i = 0; i < cnt && of->nalgs < 4; i++) {
			a = smb_get16(d + 8 + 2 * i);
			for (j = 0; j < (size_t)of->nalgs; j++)
				if (of->algs[j] == a)
					break;
			/* LZNT1, LZ77, LZ77+Huffman: what 1903 knew. */
			if (a >= 1 && a <= 3 && j == (size_t)of->nalgs)
				of->algs[of->nalgs++] = a;
		}
		return cnt == 0 ? SMB_INVALID_PARAMETER : 0;
	case SMB2_CTX_SIGNING:
		if (n < 2 || (cnt = smb_get16(d)) * 2 + 2 > n)
			return -1;
		of->signing = 1;
		for (i = 0; i < cnt; i++)
			if (smb_get16(d + 2 + 2 * i) == 1)
				of->sign_alg = 1;	/* AES-CMAC */
		return 0;
	}
	return 0;	/* netname, transport, RDMA ...: nothing to answer */
}

/*
 * The negotiate contexts of a 3.1.1 request (2.2.3.1): each 8-byte
 * aligned from the header, within the message.  0, -1 or a status.
 */
static int64_t
smb2_contexts(const struct smb2_req *r, struct smb2_offer *of)
{
	size_t	 off, count, i, dlen;
	uint16_t type;
	int64_t	 rc, st = 0;

	off = smb_get32(r->body + 28);
	count = smb_get16(r->body + 32);
	for (i = 0; i < count; i++) {
		off = (off + 7) & ~(size_t)7;
		if (off < SMB2_HDR || off > r->len || r->len - off < 8)
			return -1;
		type = smb_get16(r->msg + off);
		dlen = smb_get16(r->msg + off + 2);
		if (dlen > r->len - off - 8)
			return -1;
		if ((rc = smb2_ctx_one(type, r->msg + off + 8, dlen, of)) < 0)
			return -1;
		if (rc != 0 && st == 0)
			st = rc;
		off += 8 + dlen;
	}
	if (st != 0)
		return st;
	if (!of->preauth)
		return SMB_INVALID_PARAMETER;
	if (!of->sha512)
		return SMB2_NO_PREAUTH_OVERLAP;
	return 0;
}

/* Appends one context at *off of b (8-aligned from the header); its end. */
static size_t
smb2_ctx_put(uint8_t *b, size_t off, uint16_t type, const uint8_t *d,
    size_t n)
{
	off = (off + 7) & ~(size_t)7;
	smb_put16(b + off, type);
	smb_put16(b + off + 2, (uint16_t)n);
	memcpy(b + off + 8, d, n);
	return off + 8 + n;
}

/*
 * The 3.1.1 answer's contexts, written at body offset off of b (the body
 * starts SMB2_HDR into the message); returns the body's end, *count.
 */
static size_t
smb2_ctx_answer(uint8_t *b, size_t off, const struct smb2_offer *of,
    uint16_t *count)
{
	uint8_t	 d[SMB2_SALT_LEN + 8];
	size_t	 end;
	int	 i;

	/* Offsets count from the header: align the body offset + 64. */
	end = off + SMB2_HDR;
	smb_put16(d, 1);
	smb_put16(d + 2, SMB2_SALT_LEN);
	smb_put16(d + 4, SMB2_HASH_SHA512);
	/* The salt is a nonce, fresh per negotiate as Windows makes it. */
	if (getrandom(d + 6, SMB2_SALT_LEN, 0) != SMB2_SALT_LEN)
		memset(d + 6, 0, SMB2_SALT_LEN);
	end = smb2_ctx_put(b - SMB2_HDR, end, SMB2_CTX_PREAUTH, d,
	    6 + SMB2_SALT_LEN);
	*count = 1;
	if (of->encryption) {
		smb_put16(d, 1);
		smb_put16(d + 2, of->cipher);
		end = smb2_ctx_put(b - SMB2_HDR, end, SMB2_CTX_ENCRYPTION, d, 4);
		(*count)++;
	}
	if (of->compression && smb2_ghost_host()) {
		/* Windows answers the common algorithms, or NONE. */
		memset(d, 0, 8);
		smb_put16(d, of->nalgs > 0 ? (uint16_t)of->nalgs : 1);
		for (i = 0; i < of->nalgs; i++)
			smb_put16(d + 8 + 2 * i, of->algs[i]);
		end = smb2_ctx_put(b - SMB2_HDR, end, SMB2_CTX_COMPRESSION, d,
		    8 + 2 * (of->nalgs > 0 ? of->nalgs : 1));
		(*count)++;
	}
	/* Signing algorithms came with Windows Server 2022. */
	if (of->signing && host_get()->build >= 20348) {
		smb_put16(d, 1);
		smb_put16(d + 2, of->sign_alg);
		end = smb2_ctx_put(b - SMB2_HDR, end, SMB2_CTX_SIGNING, d, 4);
		(*count)++;
	}
	return end - SMB2_HDR;
}

/* Room for the security buffer and the contexts of an answer. */
#define SMB2_NEG_ROOM	(NTLM_OUT_MAX + 8 * 16 + SMB2_SALT_LEN + 64)

/*
 * The NEGOTIATE response (2.2.4) for dialect d; of: the 3.1.1 offer, or
 * NULL.  0, or -1.
 */
static int
smb2_negotiate_answer(struct smb2_out *o, const struct smb2_req *r,
    uint16_t d, const struct smb2_offer *of)
{
	const struct host *h = host_get();
	uint16_t	 maxd = d == SMB2_DIALECT_WILD ? h->smb2_max : d;
	uint16_t	 count = 0;
	uint8_t		*b;
	size_t		 blen, end;

	if ((b = smb2_body(o, 64 + SMB2_NEG_ROOM)) == NULL)
		return -1;
	smb_put16(b, 65);
	smb_put16(b + 2, SMB2_SIGNING_ENABLED);
	smb_put16(b + 4, d);
	memcpy(b + 8, h->guid, 16);
	smb_put32(b + 24, smb2_caps(d, o->s->client_caps));
	smb_put32(b + 28, smb2_max_size(maxd));
	smb_put32(b + 32, smb2_max_size(maxd));
	smb_put32(b + 36, smb2_max_size(maxd));
	smb_put64(b + 40, host_filetime(event_now_usec()));
	smb_put64(b + 48, host_filetime(h->boot_us));
	blen = ntlm_spnego_hint(b + 64, NTLM_OUT_MAX);
	smb_put16(b + 56, SMB2_HDR + 64);
	smb_put16(b + 58, (uint16_t)blen);
	end = 64 + blen;
	if (d == SMB2_DIALECT_311 && of != NULL) {
		end = smb2_ctx_answer(b, end, of, &count);
		smb_put16(b + 6, count);
		/* The first context sits at the aligned end of the blob. */
		smb_put32(b + 60, (uint32_t)((SMB2_HDR + 64 + blen + 7) &
		    ~(size_t)7));
	}
	smb2_done(o, r, SMB_OK, end);
	return 0;
}

/* The highest dialect offered that the host speaks; 0 if none. */
static uint16_t
smb2_choose(const uint8_t *dialects, size_t count)
{
	uint16_t max = host_get()->smb2_max, d, best = 0;
	size_t	 i;

	for (i = 0; i < count; i++) {
		d = smb_get16(dialects + 2 * i);
		switch (d) {
		case SMB2_DIALECT_202:
		case SMB2_DIALECT_210:
		case SMB2_DIALECT_300:
		case SMB2_DIALECT_302:
		case SMB2_DIALECT_311:
			if (d <= max && d > best)
				best = d;
		}
	}
	return best;
}

static void
smb2_dialect_event(struct smb_conn *sc, uint16_t d)
{
	const char *name = smb2_dialect_name(d);

	if (d == 0)
		smb_request_event(sc, "negotiate", NULL, NULL, 0);
	else
		smb_request_event(sc, "negotiate", "dialect",
		    (const uint8_t *)name, strlen(name));
}

/* NEGOTIATE (2.2.3, 3.3.5.4). */
static int
smb2_negotiate(struct smb2_out *o, const struct smb2_req *r)
{
	struct smb2_offer of;
	const uint8_t	*dl;
	size_t		 count;
	uint16_t	 d;
	int64_t		 st;

	/*
	 * A connection negotiates once (MS-SMB2 3.3.5.3.1): a second SMB2
	 * NEGOTIATE is a protocol error that Windows answers by
	 * disconnecting.  The one after the SMB1 upgrade is the first.
	 */
	if (o->s->negotiated)
		return -1;
	if (r->bodylen < 36)
		return -1;
	count = smb_get16(r->body + 2);
	if (smb2_buf(r, SMB2_HDR + 36, count * 2, &dl) == -1)
		return -1;
	o->s->client_secmode = smb_get16(r->body + 4);
	o->s->client_caps = smb_get32(r->body + 8);
	memcpy(o->s->client_guid, r->body + 12, 16);
	if (count == 0)
		return smb2_error(o, r, SMB_INVALID_PARAMETER);
	d = smb2_choose(dl, count);
	smb2_dialect_event(o->sc, d);
	if (d == 0)
		return smb2_error(o, r, SMB_NOT_SUPPORTED);
	memset(&of, 0, sizeof(of));
	if (d == SMB2_DIALECT_311) {
		if ((st = smb2_contexts(r, &of)) < 0)
			return -1;
		if (st != 0)
			return smb2_error(o, r, (uint32_t)st);
		if (of.compression && smb2_ghost_host()) {
			struct exploit_where w = { .version = -1, .opnum = -1,
			    .smb_command = "negotiate",
			    .detail = "compression" };

			exploit_detected(o->sc->c, &o->sc->seen,
			    EXPLOIT_SMBGHOST, &w);
		}
	}
	o->sc->dialect = d;
	o->s->negotiated = 1;
	o->s->signing = SMB2_SIGN_NONE;
	if (smb2_negotiate_answer(o, r, d, &of) == -1)
		return -1;
	if (d == SMB2_DIALECT_311) {
		memset(o->s->preauth_conn, 0, 64);
		smb2_preauth(o->s->preauth_conn, r->msg, r->len);
		smb2_preauth(o->s->preauth_conn, o->buf + o->last,
		    o->len - o->last);
	}
	return 0;
}

int
smb2_negotiate_smb1(struct smb_conn *sc, int wildcard)
{
	struct smb2_req	 r;
	struct smb2_out	 o;
	uint16_t	 d;
	int		 rc = -1;

	memset(&o, 0, sizeof(o));
	memset(&r, 0, sizeof(r));
	o.sc = sc;
	if ((o.s = smb2_state(sc)) == NULL)
		return -1;
	o.s->client_caps = 0;
	/*
	 * A host that speaks only 2.0.2 (Vista, 2008) knows no "SMB 2.???"
	 * and picks "SMB 2.002"; a later one answers the wildcard and waits
	 * for the SMB2 negotiate.
	 */
	d = wildcard && host_get()->smb2_max > SMB2_DIALECT_202 ?
	    SMB2_DIALECT_WILD : SMB2_DIALECT_202;
	r.cmd = SMB2_NEGOTIATE;
	r.credits = 1;
	smb2_dialect_event(sc, d);
	sc->dialect = d;
	if (smb2_negotiate_answer(&o, &r, d, NULL) == 0)
		rc = smb2_send(&o);
	free(o.buf);
	return rc;
}

/*
 * The session key of the login just done, when the host can know it (an
 * empty NT response): 1 with key set, else 0.
 */
static int
smb2_login_key(const struct smb_conn *sc, uint8_t key[16])
{
	if (!sc->ntlm.has_key)
		return 0;
	memcpy(key, sc->ntlm.session_key, 16);
	return 1;
}

/* SESSION_SETUP (2.2.5, 2.2.6): NTLMSSP, any user. */
static int
smb2_session_setup(struct smb2_out *o, const struct smb2_req *r)
{
	struct smb_conn	*sc = o->sc;
	struct smb2_req	 rr = *r;
	const uint8_t	*blob;
	size_t		 off, len, outlen = 0;
	enum ntlm_rc	 rc;
	uint8_t		*b, key[16];

	if (r->bodylen < 24)
		return -1;
	off = smb_get16(r->body + 12);
	len = smb_get16(r->body + 14);
	if (smb2_buf(r, off, len, &blob) == -1)
		return -1;
	if (!smb_setup_allowed(sc))
		return smb2_error(o, r, SMB_INSUFF_SERVER_RESOURCES);
	if ((b = smb2_body(o, 8 + NTLM_OUT_MAX)) == NULL)
		return -1;
	rc = ntlm_accept(&sc->ntlm, sc->c, &sc->seen, blob, len,
	    r->at + off, b + 8, NTLM_OUT_MAX, &outlen);
	if (rc == NTLM_ERROR)
		return -1;
	/* A new session's id goes in the first answer. */
	if (r->sid == 0 || o->s->sid == 0) {
		o->s->nsess++;
		o->s->sid = 0x0000040000000000ull | o->s->nsess;
		memcpy(o->s->preauth_sess, o->s->preauth_conn, 64);
		o->s->signing = SMB2_SIGN_NONE;
	}
	rr.sid = o->s->sid;
	if (outlen > NTLM_OUT_MAX)
		return -1;
	if (sc->dialect == SMB2_DIALECT_311)
		smb2_preauth(o->s->preauth_sess, r->msg, r->len);
	smb_put16(b, 9);
	smb_put16(b + 4, outlen > 0 ? SMB2_HDR + 8 : 0);
	smb_put16(b + 6, (uint16_t)outlen);
	/* A guest or the null session is flagged (3.3.5.5.3). */
	if (rc == NTLM_DONE)
		smb_put16(b + 2, sc->ntlm.anonymous ? SMB2_SESSION_NULL :
		    sc->ntlm.guest ? SMB2_SESSION_GUEST : 0);
	/* Windows signs the last answer whenever a key is known. */
	if (rc == NTLM_DONE && smb2_login_key(sc, key) &&
	    smb2_sign_begin(o->s, (uint16_t)sc->dialect, key) == 0)
		rr.flags |= SMB2_FLAGS_SIGNED;
	smb2_done(o, &rr, rc == NTLM_MORE ? SMB_MORE_PROCESSING : SMB_OK,
	    8 + outlen);
	if (rc == NTLM_MORE && sc->dialect == SMB2_DIALECT_311)
		smb2_preauth(o->s->preauth_sess, o->buf + o->last,
		    o->len - o->last);
	return 0;
}

/* TREE_CONNECT (2.2.9): "\\server\share", the host's shares only. */
static int
smb2_tree_connect(struct smb2_out *o, const struct smb2_req *r)
{
	const struct host_share *share;
	struct smb_tree	*t;
	struct smb2_req	 rr = *r;
	const uint8_t	*p;
	const char	*name;
	char		 path[256];
	size_t		 off, len, n;
	uint8_t		*b;

	if (r->bodylen < 8)
		return -1;
	off = smb_get16(r->body + 4);
	len = smb_get16(r->body + 6);
	if (smb2_buf(r, off, len, &p) == -1)
		return -1;
	n = smb_utf16_ascii(p, len, path, sizeof(path));
	smb_request_event(o->sc, "tree_connect", "path", (const uint8_t *)path,
	    n);
	name = strrchr(path, '\\');
	name = name != NULL ? name + 1 : path;
	if ((share = host_share_find(name, strlen(name))) == NULL)
		return smb2_error(o, r, SMB_BAD_NETWORK_NAME);
	if ((t = smb_tree_add(o->sc, share)) == NULL)
		return smb2_error(o, r, SMB_INSUFF_SERVER_RESOURCES);
	if ((b = smb2_body(o, 16)) == NULL)
		return -1;
	rr.tid = t->tid;
	smb_put16(b, 16);
	if ((share->type & ~HOST_SHARE_SPECIAL) == HOST_SHARE_IPC) {
		b[2] = 0x02;			/* pipe */
		smb_put32(b + 4, 0x00000030);	/* no caching */
		smb_put32(b + 12, 0x001f00a9);
	} else {
		b[2] = 0x01;			/* disk */
		smb_put32(b + 12, 0x001f01ff);
	}
	smb2_done(o, &rr, SMB_OK, 16);
	return 0;
}

/* One command of the frame. */
static int
smb2_dispatch(struct smb2_out *o, const struct smb2_req *r)
{
	switch (r->cmd) {
	case SMB2_NEGOTIATE:
		return smb2_negotiate(o, r);
	case SMB2_SESSION_SETUP:
		return smb2_session_setup(o, r);
	case SMB2_LOGOFF:
		o->s->sid = 0;
		return smb2_small(o, r, 4);
	case SMB2_TREE_CONNECT:
		return smb2_tree_connect(o, r);
	case SMB2_TREE_DISCONNECT:
		smb_tree_del(o->sc, (uint16_t)r->tid);
		return smb2_small(o, r, 4);
	case SMB2_CREATE:
		return smb2_create(o, r);
	case SMB2_CLOSE:
		return smb2_close(o, r);
	case SMB2_READ:
		return smb2_read(o, r);
	case SMB2_WRITE:
		return smb2_write(o, r);
	case SMB2_IOCTL:
		return smb2_ioctl(o, r);
	case SMB2_CANCEL:
		return 0;		/* never answered (3.3.5.16) */
	case SMB2_ECHO:
	case SMB2_FLUSH:
	case SMB2_LOCK:
		return smb2_small(o, r, 4);
	case SMB2_SET_INFO:
		return smb2_small(o, r, 2);
	case SMB2_QUERY_INFO:
		return smb2_query_info(o, r);
	case SMB2_QUERY_DIRECTORY:
		return smb2_query_directory(o, r);
	}
	return smb2_error(o, r, SMB_NOT_SUPPORTED);
}

/*
 * One command's header at p (n bytes to the frame's end) into r; prev:
 * the compound's previous command, for related operations.  Its length,
 * or -1.
 */
static int
smb2_header(const uint8_t *p, size_t n, size_t at, const struct smb2_req *prev,
    struct smb2_req *r)
{
	size_t	next;

	if (n < SMB2_HDR || memcmp(p, "\xfeSMB", 4) != 0 ||
	    smb_get16(p + 4) != SMB2_HDR)
		return -1;
	next = smb_get32(p + 20);
	if (next != 0 && (next < SMB2_HDR || next > n || next % 8 != 0))
		return -1;
	memset(r, 0, sizeof(*r));
	r->msg = p;
	r->len = next != 0 ? next : n;
	r->at = at;
	r->body = p + SMB2_HDR;
	r->bodylen = r->len - SMB2_HDR;
	r->charge = smb_get16(p + 6);
	r->cmd = smb_get16(p + 12);
	r->credits = smb_get16(p + 14);
	r->flags = smb_get32(p + 16);
	r->mid = smb_get64(p + 24);
	r->tid = smb_get32(p + 36);
	r->sid = smb_get64(p + 40);
	if ((r->flags & SMB2_FLAGS_RELATED) && prev != NULL) {
		r->tid = prev->tid;
		r->sid = prev->sid;
	}
	/* A body's fixed part is StructureSize & ~1; at least its size. */
	if (r->bodylen < 2 ||
	    r->bodylen < (size_t)(smb_get16(r->body) & ~1))
		return -1;
	return (int)r->len;
}

/*
 * A frame that is encrypted (the transform header, 2.2.41): the host
 * never offered encryption, so no key can open it and Windows drops the
 * connection; a header that does not even hold together is garbage.
 */
static int
smb2_transform(struct smb_conn *sc, const uint8_t *p, size_t n)
{
	if (n < 52 || smb_get32(p + 36) > n - 52)
		return -1;
	smb_request_event(sc, "encrypted", NULL, NULL, 0);
	conn_close(sc->c, "encrypted");
	return 0;
}

/*
 * A compressed message (the compression transform header, 2.2.42): what
 * SMBGhost (CVE-2020-0796) sends, with an OriginalCompressedSegmentSize
 * and Offset that overflow together or point past the message.  On a
 * 1903 or 1909 host that is the exploit; its bytes go to the analyser,
 * and the session ends, as nothing here decompresses.
 */
static int
smb2_compressed(struct smb_conn *sc, const uint8_t *p, size_t n, size_t at)
{
	struct exploit_where w = { .version = -1, .opnum = -1,
	    .smb_command = "compression_transform", .detail = "offset" };
	uint64_t orig, off;

	if (n < 16)
		return -1;
	orig = smb_get32(p + 4);
	off = smb_get32(p + 12);
	smb_request_event(sc, "compressed", NULL, NULL, 0);
	if (smb2_ghost_host() && (orig + off > UINT32_MAX || off > n - 16))
		exploit_detected(sc->c, &sc->seen, EXPLOIT_SMBGHOST, &w);
	smb_payload(sc, p, n, at);
	conn_close(sc->c, "compressed");
	return 0;
}

int
smb2_message(struct smb_conn *sc, const uint8_t *p, size_t n, size_t at)
{
	struct conn	*c = sc->c;
	struct smb2_out	 o;
	struct smb2_req	 r, prev;
	size_t		 off = 0;
	int		 len, rc = 0;

	if (n >= 4 && memcmp(p, "\xfdSMB", 4) == 0)
		return smb2_transform(sc, p, n);
	if (n >= 4 && memcmp(p, "\xfcSMB", 4) == 0)
		return smb2_compressed(sc, p, n, at);
	memset(&o, 0, sizeof(o));
	o.sc = sc;
	if ((o.s = smb2_state(sc)) == NULL)
		return -1;
	do {
		len = smb2_header(p + off, n - off, at + off,
		    off > 0 ? &prev : NULL, &r);
		if (len == -1 || smb2_dispatch(&o, &r) == -1) {
			rc = -1;
			break;
		}
		/* A command ended the session: sc is freed, nothing is sent. */
		if (c->closing)
			break;
		prev = r;
		off += (size_t)len;
	} while (smb_get32(r.msg + 20) != 0 && off < n);
	if (rc == 0 && o.len > 0 && !c->closing)
		rc = smb2_send(&o);
	free(o.buf);
	return rc;
}
