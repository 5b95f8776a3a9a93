/*
 * The endpoint mapper (C706 appendix O, MS-RPCE 2.2.1.2.5): ept_lookup
 * lists the host's endpoints the way rpcdump.py pages through them, and
 * ept_map answers a client's tower with the endpoint of its interface.
 * Towers follow C706 appendix L: five floors, the interface, NDR, RPC
 * connection-oriented, then TCP port and IP address, or named pipe and
 * NetBIOS host name.
 */
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "conn.h"
#include "dce_iface.h"
#include "host.h"
#include "smb_int.h"

#define EPM_PROTO_TCP	0x07
#define EPM_PROTO_NP	0x0f
#define EPM_TOWER_MAX	128
/* A lookup handle of ours: this tag, then the lookup's number. */
#define EPM_HANDLE_TAG	0x4d504521

struct epm_ep {
	const struct dce_iface	*iface;
	uint8_t			 proto;
	uint16_t		 port;
	const char		*pipe;
};

/* What an XP / 2003 host registers, in the order it lists them. */
static const struct epm_ep epm_eps[] = {
	{ &dce_lsarpc,	EPM_PROTO_NP,	0,	"\\PIPE\\lsass" },
	{ &dce_lsarpc,	EPM_PROTO_TCP,	1025,	NULL },
	{ &dce_samr,	EPM_PROTO_NP,	0,	"\\PIPE\\lsass" },
	{ &dce_samr,	EPM_PROTO_TCP,	1025,	NULL },
	{ &dce_srvsvc,	EPM_PROTO_NP,	0,	"\\PIPE\\srvsvc" },
	{ &dce_wkssvc,	EPM_PROTO_NP,	0,	"\\PIPE\\wkssvc" },
	{ &dce_pnp,	EPM_PROTO_NP,	0,	"\\PIPE\\ntsvcs" },
	{ &dce_spoolss,	EPM_PROTO_NP,	0,	"\\PIPE\\spoolss" },
	{ &dce_msmq,	EPM_PROTO_TCP,	2103,	NULL },
	{ &dce_msmq,	EPM_PROTO_TCP,	2105,	NULL },
	{ &dce_msmq,	EPM_PROTO_TCP,	2107,	NULL },
	{ &dce_msdtc,	EPM_PROTO_TCP,	3372,	NULL },
};
#define EPM_NEPS	(sizeof(epm_eps) / sizeof(epm_eps[0]))

/* 8a885d04-1ceb-11c9-9fe8-08002b104860 v2: the NDR transfer syntax. */
static const uint8_t epm_ndr[16] = DCE_UUID(0x8a885d04, 0x1ceb, 0x11c9,
    0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60);

/* One floor: the left-hand side, then the right-hand side. */
static size_t
epm_floor(uint8_t *p, const void *lhs, size_t lhslen, const void *rhs,
    size_t rhslen)
{
	smb_put16(p, (uint16_t)lhslen);
	memcpy(p + 2, lhs, lhslen);
	smb_put16(p + 2 + lhslen, (uint16_t)rhslen);
	memcpy(p + 4 + lhslen, rhs, rhslen);
	return 4 + lhslen + rhslen;
}

/* The IPv4 address the client reached, as Windows puts it in a tower. */
static void
epm_ip(const struct dce_call *call, uint8_t ip[4])
{
	const struct sockaddr_in	*sin;

	memset(ip, 0, 4);
	if (call->c == NULL || call->c->dst.ss_family != AF_INET)
		return;
	sin = (const struct sockaddr_in *)&call->c->dst;
	memcpy(ip, &sin->sin_addr, 4);
}

/* The tower of an endpoint into buf (EPM_TOWER_MAX); its length. */
static size_t
epm_tower(const struct dce_call *call, const struct epm_ep *ep, uint8_t *buf)
{
	uint8_t		 lhs[19], rhs[40], ip[4];
	size_t		 n = 2, len;
	uint16_t	 v;

	smb_put16(buf, 5);
	lhs[0] = 0x0d;
	memcpy(lhs + 1, ep->iface->uuid, 16);
	smb_put16(lhs + 17, ep->iface->vmajor);
	smb_put16(rhs, ep->iface->vminor);
	n += epm_floor(buf + n, lhs, 19, rhs, 2);
	memcpy(lhs + 1, epm_ndr, 16);
	smb_put16(lhs + 17, 2);
	smb_put16(rhs, 0);
	n += epm_floor(buf + n, lhs, 19, rhs, 2);
	lhs[0] = 0x0b;
	n += epm_floor(buf + n, lhs, 1, rhs, 2);
	if (ep->proto == EPM_PROTO_TCP) {
		lhs[0] = EPM_PROTO_TCP;
		v = ep->port;
		rhs[0] = v >> 8;
		rhs[1] = v & 0xff;
		n += epm_floor(buf + n, lhs, 1, rhs, 2);
		lhs[0] = 0x09;
		epm_ip(call, ip);
		n += epm_floor(buf + n, lhs, 1, ip, 4);
	} else {
		lhs[0] = EPM_PROTO_NP;
		len = strlen(ep->pipe) + 1;
		n += epm_floor(buf + n, lhs, 1, ep->pipe, len);
		lhs[0] = 0x11;
		len = (size_t)snprintf((char *)rhs, sizeof(rhs), "\\\\%s",
		    host_get()->name) + 1;
		n += epm_floor(buf + n, lhs, 1, rhs, len);
	}
	return n;
}

/* A twr_t: its length, then the octets as a conformant array. */
static void
epm_w_tower(struct ndr_w *w, const struct dce_call *call,
    const struct epm_ep *ep)
{
	uint8_t	tower[EPM_TOWER_MAX];
	size_t	n = epm_tower(call, ep, tower);

	ndr_w_align(w, 4);
	ndr_w_u32(w, (uint32_t)n);
	ndr_w_u32(w, (uint32_t)n);
	ndr_w_bytes(w, tower, n);
}

/*
 * Lookups in progress: a handle names one, and the lookup, not the handle,
 * holds the position, as on Windows (nmap's msrpc-enum sends its first
 * handle again and again; rpcdump sends the one it got back last).
 */
#define EPM_LOOKUPS	32
static struct {
	uint32_t	id;		/* 0: free */
	uint32_t	pos;
} epm_lookups[EPM_LOOKUPS];
static uint32_t	epm_next_id;
static const uint8_t epm_nil[DCE_HANDLE_LEN];

/* The lookup a handle names; NULL if it names none (or one ended). */
static uint32_t *
epm_lookup_pos(const uint8_t *h)
{
	uint32_t	id = smb_get32(h + 8);

	if (smb_get32(h + 4) != EPM_HANDLE_TAG || id == 0 ||
	    epm_lookups[id % EPM_LOOKUPS].id != id)
		return NULL;
	return &epm_lookups[id % EPM_LOOKUPS].pos;
}

/*
 * The handle to answer with: the NULL handle when nothing remains (the
 * lookup ends), else the lookup's own (a new one if it had none; the
 * oldest gives its place).
 */
static void
epm_w_lookup_handle(struct ndr_w *w, const uint8_t *h, uint32_t next,
    uint32_t total)
{
	uint32_t	id = smb_get32(h + 8), *pos = epm_lookup_pos(h);

	if (next >= total) {
		if (pos != NULL)
			epm_lookups[id % EPM_LOOKUPS].id = 0;
		dce_w_handle_null(w);
		return;
	}
	if (pos == NULL) {
		if (++epm_next_id == 0)
			epm_next_id = 1;
		id = epm_next_id;
		epm_lookups[id % EPM_LOOKUPS].id = id;
		pos = &epm_lookups[id % EPM_LOOKUPS].pos;
	}
	*pos = next;
	ndr_w_align(w, 4);
	ndr_w_u32(w, 0);
	ndr_w_u32(w, EPM_HANDLE_TAG);
	ndr_w_u32(w, id);
	ndr_w_u32(w, 0);
	ndr_w_u32(w, 0);
}

/* Does an endpoint answer the inquiry (by interface, or all)? */
static int
epm_match(const struct epm_ep *ep, uint32_t inquiry, const uint8_t *ifid)
{
	if ((inquiry == 1 || inquiry == 3) && ifid != NULL)
		return memcmp(ep->iface->uuid, ifid, 16) == 0;
	return 1;
}

/*
 * ept_lookup (opnum 2): up to max_ents entries from where the handle's
 * lookup stands; its handle while more remain, the NULL handle with the
 * last ones, no entries (EPT_S_NOT_REGISTERED) for an ended lookup.
 */
static uint32_t
epm_lookup(struct dce_call *call, struct ndr_w *w)
{
	struct ndr_r	 r;
	const uint8_t	*ifid = NULL, *h;
	const struct epm_ep *sel[EPM_NEPS];
	uint32_t	 inquiry, max, start = 0, n = 0, i, total = 0;

	ndr_r_init(&r, call->stub, call->len);
	inquiry = ndr_r_u32(&r);
	if (ndr_r_ptr(&r) != 0)
		(void)ndr_r_bytes(&r, 16);
	if (ndr_r_ptr(&r) != 0) {
		ifid = ndr_r_bytes(&r, 16);
		(void)ndr_r_u32(&r);
	}
	(void)ndr_r_u32(&r);
	h = ndr_r_bytes(&r, DCE_HANDLE_LEN);
	max = ndr_r_u32(&r);
	if (r.err || h == NULL)
		return DCE_FAULT_NDR;
	for (i = 0; i < EPM_NEPS; i++)
		if (epm_match(&epm_eps[i], inquiry, ifid))
			sel[total++] = &epm_eps[i];
	/* A handle of no lookup in progress: it has ended, nothing more. */
	if (memcmp(h, epm_nil, DCE_HANDLE_LEN) != 0)
		start = epm_lookup_pos(h) != NULL ? *epm_lookup_pos(h) : total;
	if (start > total)
		start = total;
	n = total - start;
	if (n > max)
		n = max;
	epm_w_lookup_handle(w, h, start + n, total);
	ndr_w_u32(w, n);
	ndr_w_u32(w, max);
	ndr_w_u32(w, 0);
	ndr_w_u32(w, n);
	for (i = 0; i < n; i++) {
		ndr_w_align(w, 4);
		ndr_w_bytes(w, epm_nil, 16);	/* the nil object */
		ndr_w_ptr(w);
		/* The annotation: "", a varying array of one NUL. */
		ndr_w_u32(w, 0);
		ndr_w_u32(w, 1);
		ndr_w_u8(w, 0);
	}
	for (i = 0; i < n; i++)
		epm_w_tower(w, call, sel[start + i]);
	ndr_w_align(w, 4);
	ndr_w_u32(w, n == 0 ? DCE_EPT_S_NOT_REGISTERED : 0);
	return 0;
}

/*
 * The interface (UUID, major version) and protocol a client's map tower
 * asks for; 0, or -1 if it is not a tower.
 */
static int
epm_parse_tower(const uint8_t *t, size_t len, const uint8_t **uuid,
    uint16_t *vmajor, uint8_t *proto)
{
	size_t		at = 2, lhs, rhs;
	uint16_t	floors, f;

	if (len < 2)
		return -1;
	floors = smb_get16(t);
	*uuid = NULL;
	*proto = 0;
	for (f = 0; f < floors && f < 5; f++) {
		if (at + 2 > len || (lhs = smb_get16(t + at)) == 0 ||
		    at + 2 + lhs + 2 > len)
			return -1;
		rhs = smb_get16(t + at + 2 + lhs);
		if (at + 4 + lhs + rhs > len)
			return -1;
		if (f == 0 && lhs == 19 && t[at + 2] == 0x0d) {
			*uuid = t + at + 3;
			*vmajor = smb_get16(t + at + 19);
		} else if (f == 3)
			*proto = t[at + 2];
		at += 4 + lhs + rhs;
	}
	return *uuid == NULL ? -1 : 0;
}

/* ept_map (opnum 3): the towers of the interface on the asked protocol. */
static uint32_t
epm_map(struct dce_call *call, struct ndr_w *w)
{
	struct ndr_r	 r;
	const uint8_t	*tower = NULL, *uuid;
	const struct epm_ep *hit[EPM_NEPS];
	uint32_t	 tlen = 0, max, n = 0, i;
	uint16_t	 vmajor = 0;
	uint8_t		 proto = 0;

	ndr_r_init(&r, call->stub, call->len);
	if (ndr_r_ptr(&r) != 0)
		(void)ndr_r_bytes(&r, 16);
	if (ndr_r_ptr(&r) != 0) {
		tlen = ndr_r_u32(&r);
		if (ndr_r_u32(&r) != tlen)
			return DCE_FAULT_NDR;
		tower = ndr_r_bytes(&r, tlen);
		ndr_r_align(&r, 4);
	}
	(void)ndr_r_bytes(&r, DCE_HANDLE_LEN);
	max = ndr_r_u32(&r);
	if (r.err || tower == NULL ||
	    epm_parse_tower(tower, tlen, &uuid, &vmajor, &proto) == -1)
		return DCE_FAULT_NDR;
	for (i = 0; i < EPM_NEPS && n < max; i++)
		if (memcmp(epm_eps[i].iface->uuid, uuid, 16) == 0 &&
		    epm_eps[i].iface->vmajor == vmajor &&
		    epm_eps[i].proto == proto)
			hit[n++] = &epm_eps[i];
	dce_w_handle_null(w);
	ndr_w_u32(w, n);
	ndr_w_u32(w, max);
	ndr_w_u32(w, 0);
	ndr_w_u32(w, n);
	for (i = 0; i < n; i++)
		ndr_w_ptr(w);
	for (i = 0; i < n; i++)
		epm_w_tower(w, call, hit[i]);
	ndr_w_align(w, 4);
	ndr_w_u32(w, n == 0 ? DCE_EPT_S_NOT_REGISTERED : 0);
	return 0;
}

/* The endpoint mapper's calls; inserting and deleting are refused. */
static uint32_t
epm_call(struct dce_call *call, struct ndr_w *w)
{
	switch (call->opnum) {
	case 2:
		return epm_lookup(call, w);
	case 3:
		return epm_map(call, w);
	case 4:		/* ept_lookup_handle_free: nothing is held */
		if (call->len < DCE_HANDLE_LEN)
			return DCE_FAULT_NDR;
		dce_w_handle_null(w);
		ndr_w_u32(w, 0);
		return 0;
	case 0: case 1: case 5: case 6:
		return DCE_FAULT_ACCESS_DENIED;
	default:
		return DCE_FAULT_OP_RNG_ERROR;
	}
}

const struct dce_iface dce_epm = {
	"epmapper",
	DCE_UUID(0xe1af8308, 0x5d1f, 0x11c9, 0x91, 0xa4,
	    0x08, 0x00, 0x2b, 0x14, 0xa0, 0xfa),
	3, 0, epm_call
};
