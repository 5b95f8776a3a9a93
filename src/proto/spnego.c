/*
 * SPNEGO in DER (spnego.h).  Our own small reader: every length is
 * checked against its container before use, and the forms SPNEGO never
 * needs (indefinite lengths, lengths of more than four bytes, multi-byte
 * tags) are refused.  The MS04-007 scan is a separate, more lenient walk
 * that notes the shapes of the attack instead of stopping at them.
 */
#include <string.h>

#include "spnego.h"

/* 1.3.6.1.5.5.2, SPNEGO; 1.3.6.1.4.1.311.2.2.10, NTLMSSP. */
static const uint8_t	spnego_oid[] = { 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02 };
static const uint8_t	ntlm_oid[] = {
	0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a
};

/* Windows's negHints principal from Vista on (MS-SPNG 2.2.1). */
static const char	spnego_hint_name[] = "not_defined_in_RFC4178@please_ignore";

#define DER_BITSTRING		0x03
#define DER_OCTETSTRING		0x04
#define DER_OID			0x06
#define DER_ENUMERATED		0x0a
#define DER_GENERALSTRING	0x1b
#define DER_SEQUENCE		0x30
#define DER_CONSTRUCTED		0x20
#define DER_APPLICATION0	0x60
#define DER_CTX(n)		(0xa0 | (n))

#define SPNEGO_SCAN_DEPTH	16
/* No security blob of SMB or HTTP is longer: a longer length is forged. */
#define SPNEGO_LEN_MAX		0xffff

/*
 * The length at *at of p (n bytes): 0 with *len, -1 if malformed.  A
 * length of more than four bytes yields -2 so that the scan can tell it.
 */
static int
der_len(const uint8_t *p, size_t n, size_t *at, size_t *len)
{
	size_t	k, i, v = 0;

	if (*at >= n)
		return -1;
	if (p[*at] < 0x80) {
		*len = p[(*at)++];
		return 0;
	}
	k = p[(*at)++] & 0x7f;
	if (k == 0)
		return -1;		/* indefinite: not DER */
	if (k > 4)
		return -2;
	if (n - *at < k)
		return -1;
	for (i = 0; i < k; i++)
		v = v << 8 | p[(*at)++];
	*len = v;
	return 0;
}

int
der_get(struct der *in, uint8_t *tag, struct der *val)
{
	size_t	at = 1, len;

	if (in->n < 2 || (in->p[0] & 0x1f) == 0x1f)
		return -1;
	if (der_len(in->p, in->n, &at, &len) != 0 || len > in->n - at)
		return -1;
	*tag = in->p[0];
	val->p = in->p + at;
	val->n = len;
	in->p += at + len;
	in->n -= at + len;
	return 0;
}

/* The one element that val must hold, of the given tag; 0 or -1. */
static int
der_only(struct der val, uint8_t tag, struct der *inner)
{
	uint8_t	t;

	if (der_get(&val, &t, inner) == -1 || t != tag)
		return -1;
	return 0;
}

/* Whether a MechTypeList (SEQUENCE OF OID) lists NTLMSSP; -1 if bad. */
static int
spnego_mechs(struct der seq)
{
	struct der	oid;
	uint8_t		tag;
	int		found = 0;

	while (seq.n > 0) {
		if (der_get(&seq, &tag, &oid) == -1 || tag != DER_OID)
			return -1;
		if (oid.n == sizeof(ntlm_oid) &&
		    memcmp(oid.p, ntlm_oid, oid.n) == 0)
			found = 1;
	}
	return found;
}

/* The fields of a negTokenInit's or negTokenResp's SEQUENCE. */
static int
spnego_fields(struct der seq, struct spnego_in *out)
{
	struct der	val, inner;
	uint8_t		tag;
	int		r;

	while (seq.n > 0) {
		if (der_get(&seq, &tag, &val) == -1)
			return -1;
		if (out->kind == SPNEGO_INIT && tag == DER_CTX(0)) {
			if (der_only(val, DER_SEQUENCE, &inner) == -1 ||
			    (r = spnego_mechs(inner)) == -1)
				return -1;
			out->ntlm_offered = r;
		} else if (tag == DER_CTX(2)) {
			/* mechToken of the one, responseToken of the other */
			if (der_only(val, DER_OCTETSTRING, &inner) == -1)
				return -1;
			out->token = inner.p;
			out->tokenlen = inner.n;
		} else if (out->kind == SPNEGO_RESP && tag == DER_CTX(1)) {
			if (der_only(val, DER_OID, &inner) == -1)
				return -1;
			if (inner.n == sizeof(ntlm_oid) &&
			    memcmp(inner.p, ntlm_oid, inner.n) == 0)
				out->ntlm_offered = 1;
		}
		/* reqFlags, negState, mechListMIC: nothing to act on */
	}
	return 0;
}

int
spnego_parse(const uint8_t *p, size_t n, struct spnego_in *out)
{
	struct der	in = { p, n }, tok, oid, body, seq;
	uint8_t		tag;

	memset(out, 0, sizeof(*out));
	if (der_get(&in, &tag, &tok) == -1)
		return -1;
	/* What follows the token in the blob is ignored, as Windows does. */
	if (tag == DER_APPLICATION0) {
		out->kind = SPNEGO_INIT;
		if (der_get(&tok, &tag, &oid) == -1 || tag != DER_OID ||
		    oid.n != sizeof(spnego_oid) ||
		    memcmp(oid.p, spnego_oid, oid.n) != 0 ||
		    der_get(&tok, &tag, &body) == -1 || tag != DER_CTX(0))
			return -1;
	} else if (tag == DER_CTX(1)) {
		out->kind = SPNEGO_RESP;
		body = tok;
	} else
		return -1;
	if (der_only(body, DER_SEQUENCE, &seq) == -1)
		return -1;
	return spnego_fields(seq, out);
}

/* What the scan found (bits). */
#define SCAN_CONSTRUCTED	0x01	/* a constructed BIT STRING */
#define SCAN_EMPTY		0x02	/* a BIT STRING without its first byte */
#define SCAN_LENGTH		0x04	/* a length past 64 KiB or of > 4 bytes */

/*
 * Walks the elements of p and, depth allowing, those of each constructed
 * one; notes the shapes of MS04-007 into *marks.  It stops at the first
 * element that does not fit, since a truncated token is no attack.
 */
static void
spnego_scan(const uint8_t *p, size_t n, int depth, unsigned *marks)
{
	size_t	at = 0, len;
	uint8_t	tag;
	int	rc;

	while (at < n) {
		tag = p[at++];
		if ((tag & 0x1f) == 0x1f)
			return;
		if ((rc = der_len(p, n, &at, &len)) == -2) {
			*marks |= SCAN_LENGTH;
			return;
		}
		if (rc == -1)
			return;
		if (len > n - at) {
			if (len > SPNEGO_LEN_MAX)
				*marks |= SCAN_LENGTH;
			return;
		}
		if (tag == (DER_BITSTRING | DER_CONSTRUCTED))
			*marks |= SCAN_CONSTRUCTED;
		if (tag == DER_BITSTRING && len == 0)
			*marks |= SCAN_EMPTY;
		if ((tag & DER_CONSTRUCTED) && depth < SPNEGO_SCAN_DEPTH)
			spnego_scan(p + at, len, depth + 1, marks);
		at += len;
	}
}

const char *
spnego_ms04_007(const uint8_t *p, size_t n)
{
	unsigned	marks = 0;

	if (n == 0 || (p[0] != DER_APPLICATION0 && p[0] != DER_CTX(1)))
		return NULL;
	spnego_scan(p, n, 0, &marks);
	if (marks & SCAN_CONSTRUCTED)
		return "constructed bit string";
	if (marks & SCAN_EMPTY)
		return "empty bit string";
	if (marks & SCAN_LENGTH)
		return "length overflow";
	return NULL;
}

/*
 * Puts the header of tag around the len bytes at out (moving them):
 * the new length, 0 if cap is too small.
 */
static size_t
der_wrap(uint8_t *out, size_t len, size_t cap, uint8_t tag)
{
	size_t	h = len < 0x80 ? 2 : len < 0x100 ? 3 : 4;

	if (len > 0xffff || cap < h || len > cap - h)
		return 0;
	memmove(out + h, out, len);
	out[0] = tag;
	if (h == 2)
		out[1] = (uint8_t)len;
	else if (h == 3) {
		out[1] = 0x81;
		out[2] = (uint8_t)len;
	} else {
		out[1] = 0x82;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
	}
	return h + len;
}

/* Puts the n bytes of what before the len bytes at out; 0 if no room. */
static size_t
der_prepend(uint8_t *out, size_t len, size_t cap, const uint8_t *what,
    size_t n)
{
	if (n > cap || len > cap - n)
		return 0;
	memmove(out + n, out, len);
	memcpy(out, what, n);
	return n + len;
}

size_t
spnego_resp(uint8_t *out, size_t cap, int state, int mech,
    const uint8_t *tok, size_t toklen)
{
	uint8_t	head[5 + 2 + sizeof(ntlm_oid) + 2];
	size_t	len = 0, h = 0;

	if (toklen > 0) {
		if (toklen > cap)
			return 0;
		memmove(out, tok, toklen);
		if ((len = der_wrap(out, toklen, cap, DER_OCTETSTRING)) == 0 ||
		    (len = der_wrap(out, len, cap, DER_CTX(2))) == 0)
			return 0;
	}
	/* negState [0] ENUMERATED, then supportedMech [1] OID */
	head[h++] = DER_CTX(0);
	head[h++] = 3;
	head[h++] = DER_ENUMERATED;
	head[h++] = 1;
	head[h++] = (uint8_t)state;
	if (mech) {
		head[h++] = DER_CTX(1);
		head[h++] = 2 + sizeof(ntlm_oid);
		head[h++] = DER_OID;
		head[h++] = sizeof(ntlm_oid);
		memcpy(head + h, ntlm_oid, sizeof(ntlm_oid));
		h += sizeof(ntlm_oid);
	}
	if ((len = der_prepend(out, len, cap, head, h)) == 0 ||
	    (len = der_wrap(out, len, cap, DER_SEQUENCE)) == 0)
		return 0;
	return der_wrap(out, len, cap, DER_CTX(1));
}

size_t
spnego_init(uint8_t *out, size_t cap, int hints)
{
	size_t	len = 0, n = sizeof(spnego_hint_name) - 1;
	uint8_t	mechs[2 + 2 + 2 + sizeof(ntlm_oid)];

	if (hints) {
		/* negHints [3] { hintName [0] GeneralString } */
		if (cap < n)
			return 0;
		memcpy(out, spnego_hint_name, n);
		if ((len = der_wrap(out, n, cap, DER_GENERALSTRING)) == 0 ||
		    (len = der_wrap(out, len, cap, DER_CTX(0))) == 0 ||
		    (len = der_wrap(out, len, cap, DER_SEQUENCE)) == 0 ||
		    (len = der_wrap(out, len, cap, DER_CTX(3))) == 0)
			return 0;
	}
	mechs[0] = DER_CTX(0);
	mechs[1] = 2 + 2 + sizeof(ntlm_oid);
	mechs[2] = DER_SEQUENCE;
	mechs[3] = 2 + sizeof(ntlm_oid);
	mechs[4] = DER_OID;
	mechs[5] = sizeof(ntlm_oid);
	memcpy(mechs + 6, ntlm_oid, sizeof(ntlm_oid));
	if ((len = der_prepend(out, len, cap, mechs, sizeof(mechs))) == 0 ||
	    (len = der_wrap(out, len, cap, DER_SEQUENCE)) == 0 ||
	    (len = der_wrap(out, len, cap, DER_CTX(0))) == 0)
		return 0;
	if (cap < 2 + sizeof(spnego_oid) || len > cap - 2 - sizeof(spnego_oid))
		return 0;
	memmove(out + 2 + sizeof(spnego_oid), out, len);
	out[0] = DER_OID;
	out[1] = sizeof(spnego_oid);
	memcpy(out + 2, spnego_oid, sizeof(spnego_oid));
	return der_wrap(out, len + 2 + sizeof(spnego_oid), cap,
	    DER_APPLICATION0);
}
