/*
 * The DCERPC connection-oriented endpoint (C706 chapter 12, MS-RPCE
 * 2.2.2), the same over TCP and over an SMB named pipe.  What the client
 * writes may be split anywhere and hold several PDUs; a PDU that came in
 * part is held (at most one fragment, 64 KiB) until the rest arrives.
 * Requests are reassembled from their fragments up to DCE_STUB_MAX and
 * run through the interface table (dce_int.h); answers are queued up to
 * DCE_OUT_MAX for the transport to take.
 *
 * An endpoint costs a few hundred bytes until it is used: the buffers
 * (a held PDU, a request being reassembled, answers, the bound contexts)
 * are allocated when needed and freed when drained.
 *
 * Authentication is not required: an auth verifier (NTLMSSP, Kerberos,
 * SPNEGO) is skipped, AUTH3 gets no answer, answers carry none.  Every
 * request's stub goes to the analyser once (the pre-filter decides), so
 * that shellcode aimed at an interface nobody knows still gets looked at.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "conn.h"
#include "dce_int.h"
#include "dcerpc.h"
#include "event.h"
#include "exploit.h"
#include "host.h"
#include "sensor.h"
#include "smb_int.h"

/* PDU types (C706 12.6.4). */
#define DCE_REQUEST		0
#define DCE_RESPONSE		2
#define DCE_FAULT		3
#define DCE_BIND		11
#define DCE_BIND_ACK		12
#define DCE_BIND_NAK		13
#define DCE_ALTER		14
#define DCE_ALTER_RESP		15
#define DCE_AUTH3		16
#define DCE_SHUTDOWN		17
#define DCE_CO_CANCEL		18
#define DCE_ORPHANED		19

/* pfc_flags (C706 12.6.3.1). */
#define DCE_PFC_FIRST		0x01
#define DCE_PFC_LAST		0x02
#define DCE_PFC_NOT_EXECUTED	0x20
#define DCE_PFC_MAYBE		0x40
#define DCE_PFC_OBJECT		0x80

#define DCE_HDR			16	/* the common header */
#define DCE_REQ_HDR		24	/* request, response, fault */
#define DCE_BIND_HDR		28	/* bind, alter_context, to the items */
#define DCE_ITEM		24	/* a context item, to its syntaxes */
#define DCE_SYNTAX		20	/* a UUID and a version */
#define DCE_TRAILER		8	/* sec_trailer, before the auth value */

/* The fragment sizes Windows offers over TCP and over a named pipe. */
#define DCE_FRAG_TCP		5840
#define DCE_FRAG_PIPE		4280
/* What every implementation must take (C706 12.6.3.3). */
#define DCE_FRAG_MIN		1432
/* Presentation contexts an endpoint keeps bound. */
#define DCE_MAX_CTX		16
/* The largest response stub an interface writes. */
#define DCE_RESP_MAX		(64u * 1024)
/* The largest bind_ack: 255 context items. */
#define DCE_ACK_MAX		(DCE_BIND_HDR + 48 + 255 * (4 + DCE_SYNTAX))

/* Results of a context item and reasons (C706 12.6.3.1, MS-RPCE 2.2.2.4). */
#define DCE_ACCEPT		0
#define DCE_PROVIDER_REJECT	2
#define DCE_NEGOTIATE_ACK	3
#define DCE_REASON_ABSTRACT	1	/* abstract_syntax_not_supported */
#define DCE_REASON_TRANSFER	2	/* proposed_transfer_syntaxes_... */
#define DCE_REASON_LIMIT	3	/* local_limit_exceeded */

/* The endpoint's own fault when a response does not fit. */
#define DCE_FAULT_NO_MEMORY	0x1c00001b	/* nca_s_fault_remote_no_memory */

/*
 * Bind time feature negotiation (MS-RPCE 3.3.1.5.3): security context
 * multiplexing and keeping the connection on orphan, both of which
 * Windows from Vista on acknowledges.
 */
#define DCE_BTFN_FEATURES	0x0003

/* NDR 2.0, the one transfer syntax accepted: 8a885d04-1ceb-11c9-... */
static const uint8_t dce_ndr[16] = {
	0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11,
	0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60
};
/* 6cb71c2c-9812-4540-...: the rest is the feature bit mask. */
static const uint8_t dce_btfn[8] = {
	0x2c, 0x1c, 0xb7, 0x6c, 0x12, 0x98, 0x40, 0x45
};

/*
 * A presentation context: the interface bound, or one rejected (iface
 * NULL), kept so that the requests sent to it still say what they were
 * aimed at.
 */
struct dce_ctx {
	uint16_t		 id;
	uint16_t		 vmajor;
	uint8_t			 uuid[16];
	const struct dce_iface	*iface;
};

struct dce {
	struct conn	*c;
	uint32_t	*seen;
	char		 pipe[32];	/* "\\lsarpc"; "" over TCP */
	uint16_t	 port;		/* the sensor's, over TCP */
	uint16_t	 xmit;		/* the largest fragment to send */
	uint32_t	 assoc;		/* association group, 0 before bind */
	uint32_t	*nevents;	/* the session's DCERPC events */
	struct dce_ctx	*ctx;		/* DCE_MAX_CTX, at the first bind */
	size_t		 nctx;

	/* A PDU that came in part: in_flen 0 until its header is in. */
	uint8_t		*in;
	size_t		 inlen, incap, in_flen, in_at;

	/* A fragmented request being reassembled. */
	uint8_t		*stub;
	size_t		 stublen, stubcap, stub_at;
	int		 reassembling;
	uint32_t	 call_id;
	uint16_t	 stub_ctx, stub_opnum;
	uint8_t		 stub_flags;
	int		 stub_be;

	/* Answers: out[outoff..outlen); pdu_left of the first PDU unread. */
	uint8_t		*out;
	size_t		 outoff, outlen, outcap, pdu_left;
};

/* A PDU whole, its header checked. */
struct dce_pdu {
	const uint8_t	*p;
	size_t		 len;		/* frag_length */
	size_t		 at;		/* in the session's input */
	uint8_t		 type;
	uint8_t		 flags;
	int		 be;		/* big-endian integers */
	uint32_t	 call_id;
	size_t		 body_end;	/* where the auth verifier starts */
};

/* The call an interface is running, and whether its stub was analysed. */
static const struct dce_call	*dce_cur;
static int			 dce_cur_analysed;
/* Association groups are numbered per sensor, as Windows does per boot. */
static uint32_t			 dce_assoc_next = 0x5c41;
/* What the endpoints of this sensor hold in their buffers (DCE_BUDGET). */
static size_t			 dce_mem;

/* Integers of a PDU in the byte order its drep declares. */
static uint16_t
dce_g16(const uint8_t *p, int be)
{
	return be ? (uint16_t)(p[0] << 8 | p[1]) : smb_get16(p);
}

static uint32_t
dce_g32(const uint8_t *p, int be)
{
	return be ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3] : smb_get32(p);
}

/* A UUID as sent, in wire (little-endian) order whatever the drep. */
static void
dce_uuid_get(const uint8_t *p, int be, uint8_t u[16])
{
	memcpy(u, p, 16);
	if (be) {
		smb_put32(u, dce_g32(p, 1));
		smb_put16(u + 4, dce_g16(p + 4, 1));
		smb_put16(u + 6, dce_g16(p + 6, 1));
	}
}

void
dce_uuid_str(const uint8_t u[16], char *buf)
{
	snprintf(buf, 37, "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	    smb_get32(u), smb_get16(u + 4), smb_get16(u + 6), u[8], u[9],
	    u[10], u[11], u[12], u[13], u[14], u[15]);
}

/* The sensor's port of the session (the listener's). */
static uint16_t
dce_port(const struct conn *c)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	if (c == NULL)
		return 0;
	if (c->dst.ss_family == AF_INET) {
		sin = (const struct sockaddr_in *)&c->dst;
		return ntohs(sin->sin_port);
	}
	if (c->dst.ss_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)&c->dst;
		return ntohs(sin6->sin6_port);
	}
	return 0;
}

struct dce *
dce_new(struct conn *c, const char *pipe, uint32_t *seen, uint32_t *nevents)
{
	struct dce	*d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->c = c;
	d->seen = seen;
	d->nevents = nevents;
	if (pipe != NULL) {
		snprintf(d->pipe, sizeof(d->pipe), "\\%s", pipe);
		d->xmit = DCE_FRAG_PIPE;
	} else {
		d->port = dce_port(c);
		d->xmit = DCE_FRAG_TCP;
	}
	return d;
}

/*
 * Resizes one of an endpoint's buffers (*buf of *cap bytes) to ncap,
 * charged to the sensor's budget: past DCE_BUDGET the session ends (-1,
 * a limit.hit "memory") rather than the sensor running out of memory,
 * however many sessions and pipes share it.
 */
static int
dce_resize(struct dce *d, uint8_t **buf, size_t *cap, size_t ncap)
{
	uint8_t	*nb;

	if (ncap > *cap && dce_mem - *cap + ncap > DCE_BUDGET) {
		conn_limit_hit(d->c, "memory");
		return -1;
	}
	if ((nb = realloc(*buf, ncap)) == NULL)
		return -1;
	dce_mem = dce_mem - *cap + ncap;
	*buf = nb;
	*cap = ncap;
	return 0;
}

/* Frees a buffer of dce_resize()'s and gives its bytes back. */
static void
dce_release(uint8_t **buf, size_t *cap)
{
	free(*buf);
	*buf = NULL;
	dce_mem -= *cap;
	*cap = 0;
}

size_t
dce_mem_used(void)
{
	return dce_mem;
}

/* Forgets a request being reassembled. */
static void
dce_stub_drop(struct dce *d)
{
	dce_release(&d->stub, &d->stubcap);
	d->stublen = 0;
	d->reassembling = 0;
}

void
dce_free(struct dce *d)
{
	if (d == NULL)
		return;
	dce_stub_drop(d);
	dce_release(&d->in, &d->incap);
	dce_release(&d->out, &d->outcap);
	free(d->ctx);
	free(d);
}

/*
 * A sundew.request event, up to DCE_EVENTS_MAX a session, then one
 * limit.hit "dcerpc_events": what ("bind", "alter_context", "request"), the
 * interface's UUID if known, its version, the opnum and stub size of a
 * request (-1: none), and the pipe or port it came through.
 */
static void
dce_event(struct dce *d, const char *what, const uint8_t *uuid,
    int version, int opnum, long size)
{
	struct event_buf	ev;
	char			u[37];

	/* A flood of tiny calls is reported once, not call by call. */
	if (*d->nevents > DCE_EVENTS_MAX)
		return;
	if ((*d->nevents)++ == DCE_EVENTS_MAX) {
		conn_limit_hit(d->c, "dcerpc_events");
		return;
	}
	conn_event(&ev, d->c, "sundew.request");
	event_str(&ev, "emulator", "dcerpc");
	event_str(&ev, "dcerpc", what);
	if (uuid != NULL) {
		dce_uuid_str(uuid, u);
		event_str(&ev, "uuid", u);
	}
	if (version >= 0)
		event_int(&ev, "version", version);
	if (opnum >= 0)
		event_int(&ev, "opnum", opnum);
	if (d->pipe[0] != '\0')
		event_str(&ev, "pipe", d->pipe);
	else
		event_int(&ev, "port", d->port);
	if (size >= 0)
		event_int(&ev, "size", size);
	sensor_send_event(&ev);
}

/*
 * Queues a PDU of the header h (hn bytes) and the body b (bn bytes) whole
 * or not at all: dce_read() takes each PDU's length from its header, so a
 * header queued without its body would have it read past the buffer.
 * Past DCE_OUT_MAX unread (a client that writes and never reads) the
 * session ends: -1, with a limit.hit event.
 */
static int
dce_out(struct dce *d, const void *h, size_t hn, const void *b, size_t bn)
{
	size_t	 pending = d->outlen - d->outoff, n = hn + bn, ncap;

	if (bn > DCE_OUT_MAX || n > DCE_OUT_MAX - pending) {
		conn_limit_hit(d->c, "dcerpc_output");
		return -1;
	}
	if (n == 0)
		return 0;
	if (d->outoff > 0 && d->outlen + n > d->outcap) {
		memmove(d->out, d->out + d->outoff, pending);
		d->outoff = 0;
		d->outlen = pending;
	}
	if (d->outlen + n > d->outcap) {
		ncap = d->outcap > 0 ? d->outcap : 1024;
		while (ncap < d->outlen + n)
			ncap *= 2;
		if (ncap > DCE_OUT_MAX)
			ncap = DCE_OUT_MAX;
		if (dce_resize(d, &d->out, &d->outcap, ncap) == -1)
			return -1;
	}
	memcpy(d->out + d->outlen, h, hn);
	if (bn > 0)
		memcpy(d->out + d->outlen + hn, b, bn);
	d->outlen += n;
	return 0;
}

size_t
dce_pending(const struct dce *d)
{
	return d->outlen - d->outoff;
}

size_t
dce_read(struct dce *d, uint8_t *buf, size_t cap)
{
	size_t	n, pending = d->outlen - d->outoff;

	if (pending == 0 || cap == 0)
		return 0;
	/* Our own PDUs: the frag_length of each is ours, little-endian. */
	if (d->pdu_left == 0)
		d->pdu_left = smb_get16(d->out + d->outoff + 8);
	n = cap < d->pdu_left ? cap : d->pdu_left;
	if (n > pending)		/* only whole PDUs are queued */
		n = pending;
	memcpy(buf, d->out + d->outoff, n);
	d->outoff += n;
	d->pdu_left -= n;
	if (d->outoff == d->outlen) {
		/* Drained: an idle endpoint holds no buffer. */
		dce_release(&d->out, &d->outcap);
		d->outoff = d->outlen = d->pdu_left = 0;
	}
	return n;
}

/* The common header of an answer; frag_length is set by dce_w_end(). */
static void
dce_w_hdr(struct ndr_w *w, uint8_t type, uint8_t flags, uint32_t call_id)
{
	ndr_w_u8(w, 5);
	ndr_w_u8(w, 0);
	ndr_w_u8(w, type);
	ndr_w_u8(w, flags);
	ndr_w_u32(w, 0x00000010);	/* little-endian, ASCII, IEEE */
	ndr_w_u32(w, 0);		/* frag_length, auth_length */
	ndr_w_u32(w, call_id);
}

/* Sets frag_length (auth_length 0) and queues the answer. */
static int
dce_w_end(struct dce *d, struct ndr_w *w)
{
	if (w->err || w->len > UINT16_MAX)
		return -1;
	ndr_w_put_u32(w, 8, (uint32_t)w->len);
	return dce_out(d, w->buf, w->len, NULL, 0);
}

/*
 * A fault for call_id.  Windows marks the faults of calls that never
 * reached the interface (unknown interface, opnum out of range, a bad
 * PDU) as not executed.
 */
static int
dce_fault(struct dce *d, uint32_t call_id, uint16_t ctx, uint32_t status)
{
	uint8_t		buf[32];
	struct ndr_w	w;
	uint8_t		flags = DCE_PFC_FIRST | DCE_PFC_LAST;

	if (status == DCE_FAULT_UNK_IF || status == DCE_FAULT_OP_RNG_ERROR ||
	    status == DCE_FAULT_PROTO_ERROR)
		flags |= DCE_PFC_NOT_EXECUTED;
	ndr_w_init(&w, buf, sizeof(buf));
	dce_w_hdr(&w, DCE_FAULT, flags, call_id);
	ndr_w_u32(&w, sizeof(buf));	/* alloc_hint, as Windows sets it */
	ndr_w_u16(&w, ctx);
	ndr_w_u8(&w, 0);		/* cancel_count */
	ndr_w_u8(&w, 0);
	ndr_w_u32(&w, status);
	ndr_w_u32(&w, 0);
	return dce_w_end(d, &w);
}

/* A response stub in fragments of at most the negotiated size. */
static int
dce_response(struct dce *d, uint32_t call_id, uint16_t ctx,
    const uint8_t *stub, size_t len)
{
	uint8_t		buf[DCE_REQ_HDR];
	struct ndr_w	w;
	size_t		off = 0, n, max = (size_t)d->xmit - DCE_REQ_HDR;
	uint8_t		flags;

	do {
		n = len - off < max ? len - off : max;
		flags = (off == 0 ? DCE_PFC_FIRST : 0) |
		    (off + n == len ? DCE_PFC_LAST : 0);
		ndr_w_init(&w, buf, sizeof(buf));
		dce_w_hdr(&w, DCE_RESPONSE, flags, call_id);
		ndr_w_u32(&w, (uint32_t)(len - off));	/* alloc_hint */
		ndr_w_u16(&w, ctx);
		ndr_w_u8(&w, 0);
		ndr_w_u8(&w, 0);
		ndr_w_put_u32(&w, 8, (uint32_t)(DCE_REQ_HDR + n));
		if (dce_out(d, buf, sizeof(buf), stub + off, n) == -1)
			return -1;
		off += n;
	} while (off < len);
	return 0;
}

/* The bound context of an id, NULL if none. */
static const struct dce_ctx *
dce_ctx_find(const struct dce *d, uint16_t id)
{
	size_t	i;

	for (i = 0; i < d->nctx; i++)
		if (d->ctx[i].id == id)
			return &d->ctx[i];
	return NULL;
}

/*
 * Binds context id to an interface, or records it rejected (iface NULL);
 * a context bound stays bound.  A full table makes room for a bound one
 * by forgetting a rejected one: an exploit may hide its interface among
 * many made-up ones (Metasploit's fake multi-binds).  0, or -1: full.
 */
static int
dce_ctx_set(struct dce *d, uint16_t id, const uint8_t uuid[16],
    uint16_t vmajor, const struct dce_iface *iface)
{
	struct dce_ctx	*x = (struct dce_ctx *)dce_ctx_find(d, id);
	size_t		 i;

	if (x != NULL && x->iface != NULL && iface == NULL)
		return 0;
	if (x == NULL && d->ctx == NULL &&
	    (d->ctx = calloc(DCE_MAX_CTX, sizeof(*d->ctx))) == NULL)
		return -1;
	if (x == NULL && d->nctx < DCE_MAX_CTX)
		x = &d->ctx[d->nctx++];
	for (i = 0; x == NULL && iface != NULL && i < d->nctx; i++)
		if (d->ctx[i].iface == NULL)
			x = &d->ctx[i];
	if (x == NULL)
		return -1;
	x->id = id;
	x->iface = iface;
	x->vmajor = vmajor;
	memcpy(x->uuid, uuid, 16);
	return 0;
}

/* A fragment size: at most ours, at least what all must take. */
static uint16_t
dce_frag(uint16_t theirs, uint16_t ours)
{
	if (theirs > ours)
		return ours;
	return theirs < DCE_FRAG_MIN ? DCE_FRAG_MIN : theirs;
}

/*
 * Bind time feature negotiation came with Windows Vista: an older host
 * takes its item as a transfer syntax it does not know.
 */
static int
dce_btfn_supported(void)
{
	return host_get()->major >= 6;
}

/*
 * One context item at off of a bind or alter_context: its result into
 * the answer w, the context bound if accepted, its event.  *next: where
 * the next item starts.  0, or -1 if the item runs past the body.
 */
static int
dce_item(struct dce *d, const struct dce_pdu *pdu, size_t off, size_t *next,
    struct ndr_w *w)
{
	static const uint8_t	 zero[16];
	const uint8_t		*p = pdu->p + off, *t;
	const struct dce_iface	*iface;
	uint8_t			 abs[16], ts[16];
	uint16_t		 id, vmajor, result, reason;
	const uint8_t		*acc = zero;
	uint32_t		 accver = 0;
	size_t			 i, ntrans;

	if (pdu->body_end - off < DCE_ITEM)
		return -1;
	id = dce_g16(p, pdu->be);
	ntrans = p[2];
	dce_uuid_get(p + 4, pdu->be, abs);
	vmajor = dce_g16(p + 20, pdu->be);
	if (ntrans * DCE_SYNTAX > pdu->body_end - off - DCE_ITEM)
		return -1;
	*next = off + DCE_ITEM + ntrans * DCE_SYNTAX;

	iface = dce_iface_find(abs, vmajor);
	result = DCE_PROVIDER_REJECT;
	reason = iface != NULL ? DCE_REASON_TRANSFER : DCE_REASON_ABSTRACT;
	for (i = 0; i < ntrans; i++) {
		t = p + DCE_ITEM + i * DCE_SYNTAX;
		dce_uuid_get(t, pdu->be, ts);
		if (memcmp(ts, dce_btfn, sizeof(dce_btfn)) == 0 &&
		    dce_btfn_supported()) {
			/* The features asked for that Windows has. */
			result = DCE_NEGOTIATE_ACK;
			reason = smb_get16(ts + 8) & DCE_BTFN_FEATURES;
			break;
		}
		if (iface != NULL && memcmp(ts, dce_ndr, 16) == 0 &&
		    (dce_g32(t + 16, pdu->be) & 0xffff) == 2) {
			result = DCE_ACCEPT;
			reason = 0;
			acc = dce_ndr;
			accver = 2;
			break;
		}
	}
	if (result == DCE_ACCEPT &&
	    dce_ctx_set(d, id, abs, vmajor, iface) == -1) {
		result = DCE_PROVIDER_REJECT;
		reason = DCE_REASON_LIMIT;
		acc = zero;
		accver = 0;
	} else if (result == DCE_PROVIDER_REJECT)
		(void)dce_ctx_set(d, id, abs, vmajor, NULL);
	dce_event(d, pdu->type == DCE_BIND ? "bind" : "alter_context", abs,
	    vmajor, -1, -1);
	ndr_w_u16(w, result);
	ndr_w_u16(w, reason);
	ndr_w_bytes(w, acc, 16);
	ndr_w_u32(w, accver);
	return 0;
}

/*
 * The secondary address of a bind_ack over a pipe: the pipe the serving
 * process listens on, of which the others are aliases (an XP or 2003
 * host: lsass for \lsarpc and \samr, services.exe's ntsvcs for \srvsvc,
 * \wkssvc and \browser), else the pipe as opened.
 */
static void
dce_sec_addr(const struct dce *d, char *buf, size_t cap)
{
	static const struct {
		const char	*pipe, *addr;
	} alias[] = {
		{ "\\lsarpc", "lsass" },	{ "\\samr", "lsass" },
		{ "\\netlogon", "lsass" },	{ "\\srvsvc", "ntsvcs" },
		{ "\\wkssvc", "ntsvcs" },	{ "\\browser", "ntsvcs" },
	};
	size_t	i;

	for (i = 0; i < sizeof(alias) / sizeof(alias[0]); i++)
		if (strcasecmp(d->pipe, alias[i].pipe) == 0) {
			snprintf(buf, cap, "\\PIPE\\%s", alias[i].addr);
			return;
		}
	snprintf(buf, cap, "\\PIPE%s", d->pipe);
}

/* A bind without context items: bind_nak, reason not specified. */
static int
dce_bind_nak(struct dce *d, uint32_t call_id)
{
	uint8_t		buf[DCE_HDR + 8];
	struct ndr_w	w;

	ndr_w_init(&w, buf, sizeof(buf));
	dce_w_hdr(&w, DCE_BIND_NAK, DCE_PFC_FIRST | DCE_PFC_LAST, call_id);
	ndr_w_u16(&w, 0);	/* reason_not_specified */
	ndr_w_u8(&w, 1);	/* the versions supported: 5.0 */
	ndr_w_u8(&w, 5);
	ndr_w_u8(&w, 0);
	ndr_w_align(&w, 4);
	return dce_w_end(d, &w);
}

/*
 * Bind and alter_context: a result for each context item.  A bind sets
 * the fragment sizes (each side's at most what the other takes, and
 * never under what all must take) and the association group; the ack's
 * secondary address is the pipe's (dce_sec_addr()) or the port, an
 * alter_context_resp has none.
 */
static int
dce_bind(struct dce *d, const struct dce_pdu *pdu)
{
	static uint8_t	 buf[DCE_ACK_MAX];
	const uint8_t	*p = pdu->p;
	struct ndr_w	 w;
	char		 sec[40];
	uint16_t	 ours, cxmit, crecv;
	size_t		 i, n, off = DCE_BIND_HDR;
	int		 bind = pdu->type == DCE_BIND;

	n = p[24];
	if (n == 0)
		return bind ? dce_bind_nak(d, pdu->call_id) : -1;
	ours = d->pipe[0] != '\0' ? DCE_FRAG_PIPE : DCE_FRAG_TCP;
	cxmit = dce_g16(p + 16, pdu->be);
	crecv = dce_g16(p + 18, pdu->be);
	if (bind) {
		d->xmit = dce_frag(crecv, ours);
		if (d->assoc == 0 &&
		    (d->assoc = dce_g32(p + 20, pdu->be)) == 0)
			d->assoc = dce_assoc_next++;
	}
	ndr_w_init(&w, buf, sizeof(buf));
	dce_w_hdr(&w, bind ? DCE_BIND_ACK : DCE_ALTER_RESP,
	    DCE_PFC_FIRST | DCE_PFC_LAST, pdu->call_id);
	ndr_w_u16(&w, d->xmit);
	ndr_w_u16(&w, dce_frag(cxmit, ours));
	ndr_w_u32(&w, d->assoc);
	if (!bind)
		sec[0] = '\0';
	else if (d->pipe[0] != '\0')
		dce_sec_addr(d, sec, sizeof(sec));
	else
		snprintf(sec, sizeof(sec), "%u", d->port);
	if (sec[0] == '\0')
		ndr_w_u16(&w, 0);
	else {
		ndr_w_u16(&w, (uint16_t)(strlen(sec) + 1));
		ndr_w_bytes(&w, sec, strlen(sec) + 1);
	}
	ndr_w_align(&w, 4);
	ndr_w_u8(&w, (uint8_t)n);
	ndr_w_u8(&w, 0);
	ndr_w_u16(&w, 0);
	for (i = 0; i < n; i++)
		if (dce_item(d, pdu, off, &off, &w) == -1)
			return -1;
	return dce_w_end(d, &w);
}

/*
 * The stub goes to the analyser once: after the interface ran, unless it
 * said exploit (dce_exploit() sent it then).
 */
static void
dce_analyse(const struct dce_call *call)
{
	if (dce_cur == call && dce_cur_analysed)
		return;
	conn_analyse(call->c, call->stub, call->len, call->at);
	if (dce_cur == call)
		dce_cur_analysed = 1;
}

void
dce_exploit(struct dce_call *call, int exploit_id, const char *detail)
{
	struct exploit_where	w;
	char			pipe[40];

	memset(&w, 0, sizeof(w));
	w.uuid = call->uuid;
	w.version = call->iface != NULL ? call->iface->vmajor : -1;
	w.opnum = call->opnum;
	if (call->pipe != NULL) {
		snprintf(pipe, sizeof(pipe), "\\%s", call->pipe);
		w.pipe = pipe;
	}
	w.detail = detail;
	exploit_detected(call->c, call->seen, (enum exploit_id)exploit_id, &w);
	dce_analyse(call);
}

/*
 * A whole request: its event, the interface's answer (or a fault), its
 * stub to the analyser.  Interfaces read little-endian NDR: a stub in
 * another representation is answered with a fault, but analysed.
 */
static int
dce_call_run(struct dce *d, const uint8_t *stub, size_t len, size_t at,
    uint32_t call_id, uint16_t ctxid, uint16_t opnum, uint8_t flags, int be)
{
	static uint8_t		 resp[DCE_RESP_MAX];
	const struct dce_ctx	*x = dce_ctx_find(d, ctxid);
	struct dce_call		 call;
	struct ndr_w		 w;
	char			 uuid[37];
	uint32_t		 status;

	memset(&call, 0, sizeof(call));
	call.c = d->c;
	call.iface = x != NULL ? x->iface : NULL;
	call.opnum = opnum;
	call.stub = stub;
	call.len = len;
	call.at = at;
	call.pipe = d->pipe[0] != '\0' ? d->pipe + 1 : NULL;
	call.port = d->port;
	call.seen = d->seen;
	call.uuid = uuid;
	uuid[0] = '\0';
	if (x != NULL)
		dce_uuid_str(x->uuid, uuid);
	dce_event(d, "request", x != NULL ? x->uuid : NULL,
	    x != NULL ? x->vmajor : -1, opnum, (long)len);

	ndr_w_init(&w, resp, sizeof(resp));
	dce_cur = &call;
	dce_cur_analysed = 0;
	if (x == NULL || x->iface == NULL)
		status = DCE_FAULT_UNK_IF;
	else if (be)
		status = DCE_FAULT_NDR;
	else if ((status = x->iface->call(&call, &w)) == 0 && w.err)
		status = DCE_FAULT_NO_MEMORY;
	dce_analyse(&call);
	dce_cur = NULL;
	if (flags & DCE_PFC_MAYBE)		/* no answer wanted */
		return 0;
	if (status != 0)
		return dce_fault(d, call_id, ctxid, status);
	return dce_response(d, call_id, ctxid, resp, w.len);
}

/* Appends a fragment's stub to the request being reassembled. */
static int
dce_stub_add(struct dce *d, const uint8_t *p, size_t n)
{
	size_t	 ncap;

	if (n > DCE_STUB_MAX - d->stublen) {
		/* What came goes to the analyser before the session ends. */
		conn_analyse(d->c, d->stub, d->stublen, d->stub_at);
		conn_limit_hit(d->c, "dcerpc_stub");
		dce_fault(d, d->call_id, d->stub_ctx, DCE_FAULT_PROTO_ERROR);
		dce_stub_drop(d);
		return -1;
	}
	if (n == 0)		/* an empty fragment: nothing to keep yet */
		return 0;
	if (d->stublen + n > d->stubcap) {
		ncap = d->stubcap > 0 ? d->stubcap : 4096;
		while (ncap < d->stublen + n)
			ncap *= 2;
		if (ncap > DCE_STUB_MAX)
			ncap = DCE_STUB_MAX;
		if (dce_resize(d, &d->stub, &d->stubcap, ncap) == -1) {
			conn_analyse(d->c, d->stub, d->stublen, d->stub_at);
			return -1;
		}
	}
	memcpy(d->stub + d->stublen, p, n);
	d->stublen += n;
	return 0;
}

/*
 * A request fragment.  A single fragment runs from where it lies; the
 * fragments of a larger request are collected until the last.  Leniency
 * as Windows would not show it, for exploits that fragment oddly: a
 * middle fragment with no first one starts a request, and a first one
 * drops what an unfinished request had.
 */
static int
dce_request(struct dce *d, const struct dce_pdu *pdu)
{
	const uint8_t	*p = pdu->p;
	size_t		 off = DCE_REQ_HDR, end = pdu->body_end, pad;
	uint16_t	 ctxid, opnum;
	int		 rc;

	if (pdu->flags & DCE_PFC_OBJECT)
		off += 16;
	if (pdu->len != end) {
		pad = p[end + 2];		/* auth_pad_length */
		if (pad > end - off)
			return -1;
		end -= pad;
	}
	ctxid = dce_g16(p + 20, pdu->be);
	opnum = dce_g16(p + 22, pdu->be);
	if (pdu->flags & DCE_PFC_FIRST)
		dce_stub_drop(d);
	if (!d->reassembling) {
		if (pdu->flags & DCE_PFC_LAST)
			return dce_call_run(d, p + off, end - off,
			    pdu->at + off, pdu->call_id, ctxid, opnum,
			    pdu->flags, pdu->be);
		d->reassembling = 1;
		d->call_id = pdu->call_id;
		d->stub_ctx = ctxid;
		d->stub_opnum = opnum;
		d->stub_flags = pdu->flags;
		d->stub_be = pdu->be;
		d->stub_at = pdu->at + off;
	}
	if (dce_stub_add(d, p + off, end - off) == -1)
		return -1;
	if (!(pdu->flags & DCE_PFC_LAST))
		return 0;
	rc = dce_call_run(d, d->stub, d->stublen, d->stub_at, d->call_id,
	    d->stub_ctx, d->stub_opnum, d->stub_flags, d->stub_be);
	dce_stub_drop(d);
	return rc;
}

/*
 * Checks a PDU's common header (16 bytes): version 5.0 or 5.1, a data
 * representation known, a type a client sends, and frag_length and
 * auth_length that leave room for the type's fixed part.  *flen: the
 * fragment's length.  0, or -1: not DCERPC.
 */
static int
dce_hdr(const uint8_t *p, size_t *flen)
{
	size_t		min, alen;
	int		be;

	if (p[0] != 5 || p[1] > 1)
		return -1;
	if ((p[4] & 0xf0) == 0x10)
		be = 0;
	else if ((p[4] & 0xf0) == 0x00)
		be = 1;
	else
		return -1;
	if ((p[4] & 0x0f) > 1 || p[5] > 3)	/* ASCII, EBCDIC; 4 floats */
		return -1;
	switch (p[2]) {
	case DCE_REQUEST:
		min = DCE_REQ_HDR + (p[3] & DCE_PFC_OBJECT ? 16 : 0);
		break;
	case DCE_BIND:
	case DCE_ALTER:
		min = DCE_BIND_HDR;
		break;
	case DCE_AUTH3:
	case DCE_SHUTDOWN:
	case DCE_CO_CANCEL:
	case DCE_ORPHANED:
		min = DCE_HDR;
		break;
	default:
		return -1;
	}
	*flen = dce_g16(p + 8, be);
	alen = dce_g16(p + 10, be);
	if (*flen < min)
		return -1;
	if (alen > 0 && alen + DCE_TRAILER > *flen - min)
		return -1;
	return 0;
}

/* A whole PDU, its header checked: 0, or -1 (the session ends). */
static int
dce_pdu(struct dce *d, const uint8_t *p, size_t len, size_t at)
{
	struct dce_pdu	pdu;
	size_t		alen;

	pdu.p = p;
	pdu.len = len;
	pdu.at = at;
	pdu.type = p[2];
	pdu.flags = p[3];
	pdu.be = (p[4] & 0xf0) == 0;
	alen = dce_g16(p + 10, pdu.be);
	pdu.call_id = dce_g32(p + 12, pdu.be);
	pdu.body_end = alen > 0 ? len - alen - DCE_TRAILER : len;
	switch (pdu.type) {
	case DCE_BIND:
	case DCE_ALTER:
		return dce_bind(d, &pdu);
	case DCE_REQUEST:
		return dce_request(d, &pdu);
	case DCE_ORPHANED:		/* the client gave the call up */
		dce_stub_drop(d);
		return 0;
	case DCE_AUTH3:			/* no answer, by the protocol */
	case DCE_SHUTDOWN:
	case DCE_CO_CANCEL:
		return 0;
	}
	return -1;
}

/*
 * Keeps n bytes of a PDU that came in part.  The buffer is the header's
 * size until the header is in, then the fragment's.
 */
static int
dce_hold(struct dce *d, const uint8_t *p, size_t n, size_t at)
{
	if (d->inlen == 0) {
		d->in_at = at;
		if (n >= DCE_HDR && dce_hdr(p, &d->in_flen) == -1)
			return -1;
		if (dce_resize(d, &d->in, &d->incap, d->in_flen > 0 ?
		    d->in_flen : DCE_HDR) == -1)
			return -1;
	}
	memcpy(d->in + d->inlen, p, n);
	d->inlen += n;
	if (d->in_flen == 0 && d->inlen == DCE_HDR) {
		if (dce_hdr(d->in, &d->in_flen) == -1 ||
		    dce_resize(d, &d->in, &d->incap, d->in_flen) == -1)
			return -1;
	}
	return 0;
}

/* The PDU held, now whole, and the buffer freed. */
static int
dce_held_run(struct dce *d)
{
	int	rc;

	rc = dce_pdu(d, d->in, d->inlen, d->in_at);
	dce_release(&d->in, &d->incap);
	d->inlen = d->in_flen = 0;
	return rc;
}

int
dce_write(struct dce *d, const uint8_t *p, size_t n, size_t at)
{
	size_t	flen, want, take;

	while (n > 0) {
		if (d->inlen == 0) {
			if (n < DCE_HDR)
				return dce_hold(d, p, n, at);
			if (dce_hdr(p, &flen) == -1)
				return -1;
			if (flen > n)
				return dce_hold(d, p, n, at);
			if (dce_pdu(d, p, flen, at) == -1)
				return -1;
			p += flen;
			n -= flen;
			at += flen;
			continue;
		}
		/* The PDU held: its header first, then the rest of it. */
		want = (d->in_flen > 0 ? d->in_flen : DCE_HDR) - d->inlen;
		take = n < want ? n : want;
		if (dce_hold(d, p, take, at) == -1)
			return -1;
		p += take;
		n -= take;
		at += take;
		if (d->in_flen > 0 && d->inlen == d->in_flen &&
		    dce_held_run(d) == -1)
			return -1;
	}
	return 0;
}
