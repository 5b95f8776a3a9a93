/*
 * RAP, the LAN Manager remote administration protocol (MS-RAP), carried
 * by SMB1 Transaction on \PIPE\LANMAN: the calls that clients and worms
 * still make before (or instead of) DCERPC: NetShareEnum, NetServerGetInfo,
 * NetWkstaGetInfo and NetServerEnum2 (the browser list the Shadow Brokers
 * tooling asks for on port 139).  Every answer comes from the host (host.h).
 *
 * A call's parameters are an opcode, two descriptor strings and the values;
 * an answer's are a status, a converter and the counts, its data fixed-size
 * records followed by the strings they point to (offsets, converter 0).
 */
#include <string.h>
#include <strings.h>

#include "host.h"
#include "smb_int.h"

#define RAP_NETSHAREENUM	0
#define RAP_NETSERVERGETINFO	13
#define RAP_NETWKSTAGETINFO	63
#define RAP_NETSERVERENUM2	104

#define RAP_OK			0
#define RAP_NOT_SUPPORTED	50
#define RAP_INVALID_LEVEL	124
#define RAP_MORE_DATA		234

#define SV_TYPE_WORKSTATION	0x00000001
#define SV_TYPE_SERVER		0x00000002
#define SV_TYPE_NT		0x00001000
#define SV_TYPE_SERVER_NT	0x00008000
#define SV_TYPE_POTENTIAL_BROWSER 0x00010000
#define SV_TYPE_DOMAIN_ENUM	0x80000000

#define RAP_OUT_MAX		(16u * 1024)

/* What a call asked: its values after the descriptors. */
struct rap_call {
	uint16_t	 op;
	uint16_t	 level;
	uint16_t	 buflen;
	uint32_t	 type;		/* NetServerEnum2 */
	size_t		 cap;		/* bytes of data the answer may have */
};

/* An answer's data under construction: records, then strings. */
struct rap_out {
	uint8_t		 d[RAP_OUT_MAX];
	size_t		 fixed;		/* end of the records */
	size_t		 len;		/* end of the strings */
	size_t		 cap;
};

/* The host's server type bits, as its browser announces them. */
static uint32_t
rap_server_type(void)
{
	const struct host	*h = host_get();
	uint32_t		 t = SV_TYPE_WORKSTATION | SV_TYPE_SERVER |
	    SV_TYPE_NT | SV_TYPE_POTENTIAL_BROWSER;

	if (strstr(h->product, "Server") != NULL)
		t |= SV_TYPE_SERVER_NT;
	return t;
}

/* A fixed-size OEM name field, NUL-padded. */
static void
rap_name(uint8_t *dst, size_t width, const char *s)
{
	size_t	n = strlen(s);

	memset(dst, 0, width);
	memcpy(dst, s, n < width - 1 ? n : width - 1);
}

/* A string after the records; its pointer (offset) at ptr. */
static void
rap_string(struct rap_out *o, uint8_t *ptr, const char *s)
{
	size_t	n = strlen(s) + 1;

	smb_put32(ptr, (uint32_t)o->len);
	memcpy(o->d + o->len, s, n);
	o->len += n;
}

/* Room for n records of size sz and strings of slen bytes. */
static int
rap_fits(const struct rap_out *o, size_t n, size_t sz, size_t slen)
{
	return n * sz + slen <= o->cap;
}

static int
rap_answer(struct smb_conn *sc, const struct smb1_req *req, uint16_t status,
    const uint16_t *counts, size_t ncounts, const struct rap_out *o)
{
	uint8_t	p[8];
	size_t	i;

	smb_put16(p, status);
	smb_put16(p + 2, 0);			/* converter */
	for (i = 0; i < ncounts && i < 2; i++)
		smb_put16(p + 4 + 2 * i, counts[i]);
	return smb1_trans_reply(sc, req, SMB_OK, NULL, 0, p, 4 + 2 * i,
	    o != NULL ? o->d : NULL, o != NULL ? o->len : 0);
}

static int
rap_share_enum(struct smb_conn *sc, const struct smb1_req *req,
    const struct rap_call *rc, struct rap_out *o)
{
	const struct host	*h = host_get();
	size_t			 sz, n, i, slen = 0;
	uint16_t		 counts[2];

	if (rc->level != 0 && rc->level != 1)
		return rap_answer(sc, req, RAP_INVALID_LEVEL, NULL, 0, NULL);
	sz = rc->level == 0 ? 13 : 20;
	for (n = 0; n < h->nshares; n++) {
		size_t	s = rc->level == 1 ?
		    strlen(h->shares[n].remark) + 1 : 0;

		if (!rap_fits(o, n + 1, sz, slen + s))
			break;
		slen += s;
	}
	o->len = o->fixed = n * sz;
	for (i = 0; i < n; i++) {
		uint8_t	*r = o->d + i * sz;

		rap_name(r, 13, h->shares[i].name);
		if (rc->level == 1) {
			r[13] = 0;
			smb_put16(r + 14,
			    (uint16_t)(h->shares[i].type & 0xffff));
			rap_string(o, r + 16, h->shares[i].remark);
		}
	}
	counts[0] = (uint16_t)n;
	counts[1] = (uint16_t)h->nshares;
	return rap_answer(sc, req, n < h->nshares ? RAP_MORE_DATA : RAP_OK,
	    counts, 2, o);
}

/*
 * A server_info_0 or _1 record of a name, at r; its comment after.  A
 * domain's record says version 3.10, as Windows' browser lists it.
 */
static void
rap_server_record(struct rap_out *o, uint8_t *r, uint16_t level,
    const char *name, uint32_t type, const char *comment)
{
	const struct host	*h = host_get();
	int			 dom = (type & SV_TYPE_DOMAIN_ENUM) != 0;

	rap_name(r, 16, name);
	if (level == 1) {
		r[16] = dom ? 3 : h->major;
		r[17] = dom ? 10 : h->minor;
		smb_put32(r + 18, type);
		rap_string(o, r + 22, comment);
	}
}

static int
rap_server_get_info(struct smb_conn *sc, const struct smb1_req *req,
    const struct rap_call *rc, struct rap_out *o)
{
	const struct host	*h = host_get();
	size_t			 sz = rc->level == 0 ? 16 : 26;
	uint16_t		 avail;

	if (rc->level != 0 && rc->level != 1)
		return rap_answer(sc, req, RAP_INVALID_LEVEL, NULL, 0, NULL);
	avail = (uint16_t)(sz + (rc->level == 1 ? 1 : 0));
	if (!rap_fits(o, 1, sz, avail - sz))
		return rap_answer(sc, req, RAP_MORE_DATA, &avail, 1, NULL);
	o->len = o->fixed = sz;
	rap_server_record(o, o->d, rc->level, h->name, rap_server_type(),
	    "");
	return rap_answer(sc, req, RAP_OK, &avail, 1, o);
}

static int
rap_wksta_get_info(struct smb_conn *sc, const struct smb1_req *req,
    const struct rap_call *rc, struct rap_out *o)
{
	const struct host	*h = host_get();
	uint16_t		 avail;

	if (rc->level != 10)
		return rap_answer(sc, req, RAP_INVALID_LEVEL, NULL, 0, NULL);
	avail = (uint16_t)(22 + strlen(h->name) + 1 + 1 +
	    2 * (strlen(h->domain) + 1) + 1);
	if (!rap_fits(o, 1, avail, 0))
		return rap_answer(sc, req, RAP_MORE_DATA, &avail, 1, NULL);
	o->len = o->fixed = 22;
	memset(o->d, 0, 22);
	rap_string(o, o->d, h->name);
	rap_string(o, o->d + 4, "");		/* no one logged on */
	rap_string(o, o->d + 8, h->domain);
	o->d[12] = h->major;
	o->d[13] = h->minor;
	rap_string(o, o->d + 14, h->domain);
	rap_string(o, o->d + 18, "");
	return rap_answer(sc, req, RAP_OK, &avail, 1, o);
}

/*
 * NetServerEnum2: the host itself when its type is asked for, and its
 * workgroup or domain (with the host as its master browser) when
 * domains are.
 */
static int
rap_server_enum(struct smb_conn *sc, const struct smb1_req *req,
    const struct rap_call *rc, struct rap_out *o)
{
	const struct host	*h = host_get();
	const char		*name, *comment;
	uint32_t		 type;
	size_t			 sz = rc->level == 0 ? 16 : 26;
	uint16_t		 counts[2] = { 0, 0 };

	if (rc->level != 0 && rc->level != 1)
		return rap_answer(sc, req, RAP_INVALID_LEVEL, NULL, 0, NULL);
	/* SV_TYPE_ALL asks for servers, not domains. */
	if (rc->type != 0xffffffff && (rc->type & SV_TYPE_DOMAIN_ENUM)) {
		name = h->domain;
		type = SV_TYPE_DOMAIN_ENUM | SV_TYPE_NT;
		comment = h->name;
	} else {
		name = h->name;
		type = rap_server_type();
		comment = "";
		if ((type & rc->type) == 0)
			return rap_answer(sc, req, RAP_OK, counts, 2, o);
	}
	counts[1] = 1;
	if (!rap_fits(o, 1, sz, rc->level == 1 ? strlen(comment) + 1 : 0))
		return rap_answer(sc, req, RAP_MORE_DATA, counts, 2, o);
	o->len = o->fixed = sz;
	rap_server_record(o, o->d, rc->level, name, type, comment);
	counts[0] = 1;
	return rap_answer(sc, req, RAP_OK, counts, 2, o);
}

/* Skips an ASCIIZ string at *off; its start, or NULL if unterminated. */
static const char *
rap_asciiz(const uint8_t *p, size_t n, size_t *off)
{
	const uint8_t	*s = p + *off, *e;

	if (*off >= n || (e = memchr(s, 0, n - *off)) == NULL)
		return NULL;
	*off += (size_t)(e - s) + 1;
	return (const char *)s;
}

int
smb1_rap(struct smb_conn *sc, const struct smb1_req *req,
    const uint8_t *params, size_t plen, uint16_t maxdata)
{
	static struct rap_out	 o;
	struct rap_call		 rc;
	const char		*fn;
	size_t			 off = 2;

	memset(&rc, 0, sizeof(rc));
	if (plen < 2 || rap_asciiz(params, plen, &off) == NULL ||
	    rap_asciiz(params, plen, &off) == NULL || plen - off < 4)
		return smb1_trans_reply(sc, req, SMB_INVALID_PARAMETER, NULL,
		    0, NULL, 0, NULL, 0);
	rc.op = smb_get16(params);
	rc.level = smb_get16(params + off);
	rc.buflen = smb_get16(params + off + 2);
	if (rc.op == RAP_NETSERVERENUM2 && plen - off >= 8)
		rc.type = smb_get32(params + off + 4);
	rc.cap = rc.buflen < maxdata ? rc.buflen : maxdata;
	if (rc.cap > sizeof(o.d))
		rc.cap = sizeof(o.d);
	o.len = o.fixed = 0;
	o.cap = rc.cap;
	switch (rc.op) {
	case RAP_NETSHAREENUM:
		fn = "NetShareEnum";
		break;
	case RAP_NETSERVERGETINFO:
		fn = "NetServerGetInfo";
		break;
	case RAP_NETWKSTAGETINFO:
		fn = "NetWkstaGetInfo";
		break;
	case RAP_NETSERVERENUM2:
		fn = "NetServerEnum2";
		break;
	default:
		fn = "unknown";
		break;
	}
	smb_request_event(sc, "rap", "function", (const uint8_t *)fn,
	    strlen(fn));
	switch (rc.op) {
	case RAP_NETSHAREENUM:
		return rap_share_enum(sc, req, &rc, &o);
	case RAP_NETSERVERGETINFO:
		return rap_server_get_info(sc, req, &rc, &o);
	case RAP_NETWKSTAGETINFO:
		return rap_wksta_get_info(sc, req, &rc, &o);
	case RAP_NETSERVERENUM2:
		return rap_server_enum(sc, req, &rc, &o);
	}
	return rap_answer(sc, req, RAP_NOT_SUPPORTED, NULL, 0, NULL);
}
