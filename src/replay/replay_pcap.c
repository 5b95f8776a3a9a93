/*
 * The capture reader of `sundew replay`: reads a pcap or pcapng capture
 * with libpcap, decodes the link, IP, TCP and UDP headers and reassembles
 * each TCP direction by sequence number; replay_model.c then builds the
 * model described in replay_int.h.
 *
 * It works in two phases.  While reading (this file), every TCP stream is
 * kept as two sides ("whoever sent the first packet" and the other), and
 * one timeline records what each side delivered, in capture order.  At
 * the end (replay_model.c), each stream gets its client, the sensor host
 * is chosen, and the timeline becomes the list of steps.  Every
 * allocation is charged to a memory budget, so a hostile capture ends in
 * an error, never in an exhausted host.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#define REPLAY_PARSER	/* the parser's state in replay_int.h */
#include "replay_int.h"

#define TCP_FIN		0x01
#define TCP_SYN		0x02
#define TCP_RST		0x04
#define TCP_ACK		0x10

/* Out-of-order segments further ahead than this are not kept. */
#define SIDE_WINDOW	((uint64_t)8 << 20)
/* A hole up to this size is sent as zeros, a larger one is left out. */
#define SIDE_GAP_FILL	((uint64_t)64 << 10)
#define SIDE_MAX_PENDING 4096
/* A hole older than this (capture time) was lost by the capture. */
#define SIDE_HOLE_AGE	((uint64_t)5000000)	/* microseconds */

/* A TCP segment that arrived ahead of the stream. */
struct seg {
	struct seg	*next;
	uint64_t	 off;		/* stream offset of data[0] */
	size_t		 len;
	uint8_t		 data[];
};

/* A side that waits for missing bytes, queued by age. */
struct hole {
	uint32_t	 fi;
	int		 s;
	uint64_t	 ts;
};

struct map_ent {
	struct key	 key;
	uint32_t	 val;
	uint32_t	 next;		/* 1 + index of the next in the chain */
};

struct pkt {
	int		 family;
	uint8_t		 src[16];
	uint8_t		 dst[16];
	int		 proto;
	uint16_t	 sport;
	uint16_t	 dport;
	uint32_t	 seq;
	uint32_t	 ack;
	uint8_t		 flags;
	const uint8_t	*payload;
	size_t		 caplen;	/* payload bytes in the capture */
	size_t		 len;		/* payload bytes on the wire */
};

void
replay_pcap_fail(struct ctx *c, const char *fmt, ...)
{
	char	 msg[256];
	va_list	 ap;

	if (c->failed)
		return;
	c->failed = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->err == NULL || c->errlen == 0)
		return;
	if (c->name != NULL)
		snprintf(c->err, c->errlen, "%s: %s", c->name, msg);
	else
		snprintf(c->err, c->errlen, "%s", msg);
}

static uint16_t
be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* Charge n bytes to the memory budget; -1 (and the error set) past it. */
static int
charge(struct ctx *c, size_t n)
{
	if (n > c->max_bytes || c->bytes > c->max_bytes - n) {
		replay_pcap_fail(c, "the capture needs more than %zu KiB of "
		    "memory (too many or too large streams); cut it with "
		    "editcap", c->max_bytes >> 10);
		return -1;
	}
	c->bytes += n;
	return 0;
}

static void
uncharge(struct ctx *c, size_t n)
{
	c->bytes = n > c->bytes ? 0 : c->bytes - n;
}

/*
 * Make room for need elements of size elem in *pp (capacity *capp),
 * doubling, charged to the budget.
 */
int
replay_pcap_grow(struct ctx *c, void **pp, size_t *capp, size_t need,
    size_t elem)
{
	size_t	 ncap;
	void	*np;

	if (need <= *capp)
		return 0;
	ncap = *capp < 16 ? 16 : *capp;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2) {
			replay_pcap_fail(c, "out of memory");
			return -1;
		}
		ncap *= 2;
	}
	if (ncap > SIZE_MAX / elem) {
		replay_pcap_fail(c, "out of memory");
		return -1;
	}
	if (charge(c, (ncap - *capp) * elem) == -1)
		return -1;
	if ((np = realloc(*pp, ncap * elem)) == NULL) {
		replay_pcap_fail(c, "out of memory: %s", strerror(errno));
		return -1;
	}
	*pp = np;
	*capp = ncap;
	return 0;
}

/* Append len bytes (zeros if data is NULL). */
static int
rbuf_add(struct ctx *c, struct rbuf *b, const uint8_t *data, size_t len)
{
	if (len == 0)
		return 0;
	if (len > SIZE_MAX - b->len) {
		replay_pcap_fail(c, "out of memory");
		return -1;
	}
	if (replay_pcap_grow(c, (void **)&b->p, &b->cap, b->len + len, 1) == -1)
		return -1;
	if (data != NULL)
		memcpy(b->p + b->len, data, len);
	else
		memset(b->p + b->len, 0, len);
	b->len += len;
	return 0;
}

/* FNV-1a */
static uint32_t
key_hash(const struct key *k)
{
	const uint8_t	*p = (const uint8_t *)k;
	uint32_t	 h = 2166136261u;
	size_t		 i;

	for (i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

uint32_t *
replay_pcap_map_get(struct map *m, const struct key *k)
{
	uint32_t	 i;

	if (m->nhead == 0)
		return NULL;
	for (i = m->head[key_hash(k) & (m->nhead - 1)]; i != 0;
	    i = m->ent[i - 1].next) {
		if (memcmp(&m->ent[i - 1].key, k, sizeof(*k)) == 0)
			return &m->ent[i - 1].val;
	}
	return NULL;
}

static int
map_rehash(struct ctx *c, struct map *m)
{
	size_t		 nhead = m->nhead == 0 ? 1024 : m->nhead * 2;
	uint32_t	*head;
	size_t		 i, h;

	if (charge(c, nhead * sizeof(*head)) == -1)
		return -1;
	if ((head = calloc(nhead, sizeof(*head))) == NULL) {
		replay_pcap_fail(c, "out of memory: %s", strerror(errno));
		return -1;
	}
	for (i = 0; i < m->n; i++) {
		h = key_hash(&m->ent[i].key) & (nhead - 1);
		m->ent[i].next = head[h];
		head[h] = (uint32_t)(i + 1);
	}
	uncharge(c, m->nhead * sizeof(*head));
	free(m->head);
	m->head = head;
	m->nhead = nhead;
	return 0;
}

/* Insert a key that is not in the map yet. */
int
replay_pcap_map_put(struct ctx *c, struct map *m, const struct key *k,
    uint32_t v)
{
	size_t	 h;

	if (m->n >= UINT32_MAX - 1) {
		replay_pcap_fail(c, "too many entries");
		return -1;
	}
	if (replay_pcap_grow(c, (void **)&m->ent, &m->cap, m->n + 1,
	    sizeof(*m->ent)) == -1)
		return -1;
	m->ent[m->n].key = *k;
	m->ent[m->n].val = v;
	m->n++;
	if (m->n > m->nhead)
		return map_rehash(c, m);
	h = key_hash(k) & (m->nhead - 1);
	m->ent[m->n - 1].next = m->head[h];
	m->head[h] = (uint32_t)m->n;
	return 0;
}

static void
map_free(struct map *m)
{
	free(m->ent);
	free(m->head);
	memset(m, 0, sizeof(*m));
}

static int
event_add(struct ctx *c, int kind, uint32_t idx, int s, size_t len)
{
	struct event	*e;

	if (kind == EV_DATA && c->nev > 0) {
		e = &c->ev[c->nev - 1];
		if (e->kind == EV_DATA && e->idx == idx && e->side == s &&
		    len <= UINT32_MAX - e->len) {
			e->len += (uint32_t)len;
			return 0;
		}
	}
	if (c->nev >= c->max_events) {
		replay_pcap_fail(c, "more than %zu packets with data; cut the "
		    "capture with editcap", c->max_events);
		return -1;
	}
	if (replay_pcap_grow(c, (void **)&c->ev, &c->ev_cap, c->nev + 1,
	    sizeof(*c->ev)) == -1)
		return -1;
	e = &c->ev[c->nev++];
	e->kind = (uint8_t)kind;
	e->side = (uint8_t)s;
	e->idx = idx;
	e->len = (uint32_t)len;
	return 0;
}

/*
 * Link layer: find the IP header.  Returns the offset of the IP header,
 * -1 if the frame carries no IP, -2 if it is malformed.
 */
static long
link_ip_offset(int linktype, const uint8_t *p, size_t len)
{
	size_t		 off;
	uint16_t	 type;
	uint32_t	 fam;

	switch (linktype) {
	case DLT_EN10MB:
		if (len < 14)
			return -2;
		type = be16(p + 12);
		off = 14;
		/* 802.1Q, 802.1ad and the old QinQ tag, stacked */
		while (type == 0x8100 || type == 0x88a8 || type == 0x9100) {
			if (len < off + 4)
				return -2;
			type = be16(p + off + 2);
			off += 4;
		}
		break;
	case DLT_LINUX_SLL:
		if (len < 16)
			return -2;
		type = be16(p + 14);
		off = 16;
		break;
	case DLT_LINUX_SLL2:
		if (len < 20)
			return -2;
		type = be16(p);
		off = 20;
		break;
	case DLT_NULL:
	case DLT_LOOP:
		/* DLT_NULL is in the writer's byte order: accept both */
		if (len < 4)
			return -2;
		fam = be32(p);
		if (fam > 0xffff)
			fam = (uint32_t)p[0] | (uint32_t)p[1] << 8;
		if (fam == 2)
			return 4;
		if (fam == 10 || fam == 24 || fam == 28 || fam == 30)
			return 4;
		return -1;
	default:	/* raw IP */
		return 0;
	}
	if (type != 0x0800 && type != 0x86dd)
		return -1;
	return (long)off;
}

static int
link_supported(int linktype)
{
	switch (linktype) {
	case DLT_EN10MB:
	case DLT_LINUX_SLL:
	case DLT_LINUX_SLL2:
	case DLT_NULL:
	case DLT_LOOP:
	case DLT_RAW:
#ifdef DLT_IPV4
	case DLT_IPV4:
#endif
#ifdef DLT_IPV6
	case DLT_IPV6:
#endif
		return 1;
	default:
		return 0;
	}
}

/*
 * IP layer: fill the addresses and protocol of k and return the offset
 * of the transport header in p; *avail and *wire are the transport
 * bytes in the capture and on the wire.  -1: skip (counted).
 */
static long
ip_decode(struct ctx *c, const uint8_t *p, size_t len, struct pkt *k,
    size_t *avail, size_t *wire)
{
	struct replay_stats	*st = &c->cap->stats;
	size_t			 hl, tot, off, plen, n;
	uint8_t			 nh;
	uint16_t		 fo;
	int			 i;

	if (len >= 20 && p[0] >> 4 == 4) {
		hl = (size_t)(p[0] & 0x0f) * 4;
		tot = be16(p + 2);
		if (tot == 0)		/* segmentation offload */
			tot = len;
		if (hl < 20 || hl > len || tot < hl) {
			st->malformed++;
			return -1;
		}
		fo = be16(p + 6);
		if ((fo & 0x2000) != 0 || (fo & 0x1fff) != 0) {
			st->fragments++;
			return -1;
		}
		k->family = AF_INET;
		memcpy(k->src, p + 12, 4);
		memcpy(k->dst, p + 16, 4);
		k->proto = p[9];
		*wire = tot - hl;
		*avail = (len < tot ? len : tot) - hl;
		return (long)hl;
	}
	if (len < 40 || p[0] >> 4 != 6) {
		st->malformed++;
		return -1;
	}
	plen = be16(p + 4);
	if (plen == 0)			/* jumbogram or offload */
		plen = len - 40;
	n = len - 40 < plen ? len - 40 : plen;	/* captured payload */
	nh = p[6];
	off = 40;
	for (i = 0; i < 8; i++) {
		if (nh == 0 || nh == 43 || nh == 60 || nh == 51) {
			if (off + 2 > 40 + n) {
				st->malformed++;
				return -1;
			}
			hl = nh == 51 ? ((size_t)p[off + 1] + 2) * 4 :
			    ((size_t)p[off + 1] + 1) * 8;
		} else if (nh == 44) {
			if (off + 8 > 40 + n) {
				st->malformed++;
				return -1;
			}
			fo = be16(p + off + 2);
			if ((fo & 0xfff8) != 0 || (fo & 1) != 0) {
				st->fragments++;
				return -1;
			}
			hl = 8;
		} else
			break;
		nh = p[off];
		off += hl;
	}
	if (off > 40 + n) {
		st->malformed++;
		return -1;
	}
	k->family = AF_INET6;
	memcpy(k->src, p + 8, 16);
	memcpy(k->dst, p + 24, 16);
	k->proto = nh;
	*wire = 40 + plen - off;
	*avail = 40 + n - off;
	return (long)off;
}

/* Decode one frame into k; 0 if it is TCP or UDP over IP, else -1. */
static int
pkt_decode(struct ctx *c, const uint8_t *p, size_t len, struct pkt *k)
{
	struct replay_stats	*st = &c->cap->stats;
	long			 o;
	size_t			 avail, wire, hl, ulen;

	memset(k, 0, sizeof(*k));
	o = link_ip_offset(c->cap->linktype, p, len);
	if (o == -1) {
		st->not_ip++;
		return -1;
	}
	if (o < 0) {
		st->malformed++;
		return -1;
	}
	p += o;
	len -= (size_t)o;
	if ((o = ip_decode(c, p, len, k, &avail, &wire)) < 0)
		return -1;
	p += o;
	if (k->proto == IPPROTO_TCP) {
		if (avail < 20) {
			st->truncated++;
			return -1;
		}
		hl = (size_t)(p[12] >> 4) * 4;
		if (hl < 20 || hl > wire) {
			st->malformed++;
			return -1;
		}
		if (hl > avail) {
			st->truncated++;
			return -1;
		}
		k->sport = be16(p);
		k->dport = be16(p + 2);
		k->seq = be32(p + 4);
		k->ack = be32(p + 8);
		k->flags = p[13];
		k->payload = p + hl;
		k->len = wire - hl;
		k->caplen = avail - hl;
	} else if (k->proto == IPPROTO_UDP) {
		if (avail < 8) {
			st->truncated++;
			return -1;
		}
		ulen = be16(p + 4);
		if (ulen < 8 || ulen > wire) {
			st->malformed++;
			return -1;
		}
		k->sport = be16(p);
		k->dport = be16(p + 2);
		k->payload = p + 8;
		k->len = ulen - 8;
		k->caplen = avail - 8 < k->len ? avail - 8 : k->len;
	} else {
		st->other_proto++;
		return -1;
	}
	if (k->caplen < k->len)
		st->truncated++;
	return 0;
}

/* Stream offset of sequence number seq (may be negative: before). */
static int64_t
side_off(const struct side *sd, uint32_t seq)
{
	uint32_t	 expect = sd->isn + (uint32_t)sd->next;

	return (int64_t)sd->next + (int32_t)(seq - expect);
}

/* Deliver bytes (zeros if data is NULL) in order on one side. */
static int
side_append(struct ctx *c, uint32_t fi, int s, const uint8_t *data,
    size_t len)
{
	struct side	*sd = &c->tcp[fi].side[s];

	if (len == 0)
		return 0;
	if (rbuf_add(c, &sd->buf, data, len) == -1)
		return -1;
	sd->next += len;
	return event_add(c, EV_DATA, fi, s, len);
}

/*
 * Note whether side s waits for missing bytes, and since when, so that
 * holes_expire() can give up on bytes the capture lost.
 */
static int
side_hole_note(struct ctx *c, uint32_t fi, int s)
{
	struct side	*sd = &c->tcp[fi].side[s];
	struct hole	*h;

	if (sd->pending == NULL && !(sd->fin && !sd->closed &&
	    sd->fin_off > sd->next)) {
		sd->hole = 0;
		return 0;
	}
	if (sd->hole)
		return 0;
	if (c->holes_head > 1024 && c->holes_head > c->nholes / 2) {
		memmove(c->holes, c->holes + c->holes_head,
		    (c->nholes - c->holes_head) * sizeof(*c->holes));
		c->nholes -= c->holes_head;
		c->holes_head = 0;
	}
	if (replay_pcap_grow(c, (void **)&c->holes, &c->holes_cap,
	    c->nholes + 1, sizeof(*c->holes)) == -1)
		return -1;
	sd->hole = 1;
	sd->hole_ts = c->now;
	h = &c->holes[c->nholes++];
	h->fi = fi;
	h->s = s;
	h->ts = c->now;
	return 0;
}

/* Deliver the pending segments that have become contiguous. */
static int
side_drain(struct ctx *c, uint32_t fi, int s)
{
	struct side	*sd = &c->tcp[fi].side[s];
	struct seg	*g;
	uint64_t	 end;
	int		 rc = 0;

	while (rc == 0 && sd->pending != NULL && sd->pending->off <= sd->next) {
		g = sd->pending;
		sd->pending = g->next;
		sd->npending--;
		end = g->off + g->len;
		if (end > sd->next)
			rc = side_append(c, fi, s, g->data + (sd->next - g->off),
			    (size_t)(end - sd->next));
		uncharge(c, sizeof(*g) + g->len);
		free(g);
	}
	if (rc == 0 && sd->fin && !sd->closed && sd->next >= sd->fin_off) {
		sd->closed = 1;
		rc = event_add(c, EV_FIN, fi, s, 0);
	}
	if (sd->closed) {
		/* nothing comes after the FIN */
		while ((g = sd->pending) != NULL) {
			sd->pending = g->next;
			uncharge(c, sizeof(*g) + g->len);
			free(g);
		}
		sd->npending = 0;
	}
	if (rc == 0)
		rc = side_hole_note(c, fi, s);
	return rc;
}

/*
 * Keep a segment that is ahead of the stream.  Where it overlaps
 * segments already kept, the first copy wins: only the parts not yet
 * covered are stored.
 */
static int
side_pending(struct ctx *c, struct side *sd, uint64_t off,
    const uint8_t *data, size_t len)
{
	struct seg	**pp = &sd->pending, *g;
	uint64_t	  cur = off, end = off + len, lim;

	while (cur < end) {
		while (*pp != NULL && (*pp)->off + (*pp)->len <= cur)
			pp = &(*pp)->next;
		if (*pp != NULL && (*pp)->off <= cur) {
			cur = (*pp)->off + (*pp)->len;
			continue;
		}
		lim = end;
		if (*pp != NULL && (*pp)->off < lim)
			lim = (*pp)->off;
		if (charge(c, sizeof(*g) + (size_t)(lim - cur)) == -1)
			return -1;
		if ((g = malloc(sizeof(*g) + (size_t)(lim - cur))) == NULL) {
			replay_pcap_fail(c, "out of memory: %s",
			    strerror(errno));
			return -1;
		}
		g->off = cur;
		g->len = (size_t)(lim - cur);
		memcpy(g->data, data + (cur - off), g->len);
		g->next = *pp;
		*pp = g;
		pp = &g->next;
		sd->npending++;
		cur = lim;
	}
	return 0;
}

/*
 * The capture lost the bytes before the first pending segment (or
 * before the FIN): the peer acknowledged them, the sender moved on, or
 * the capture ended.  Fill the hole with zeros, which keeps protocol
 * lengths right, or leave out a hole too large to be worth it.
 */
static int
side_skip_gap(struct ctx *c, uint32_t fi, int s)
{
	struct side	*sd = &c->tcp[fi].side[s];
	uint64_t	 target, gap;

	if (sd->pending != NULL)
		target = sd->pending->off;
	else if (sd->fin && !sd->closed && sd->fin_off > sd->next)
		target = sd->fin_off;
	else
		return 0;
	if (target <= sd->next)
		return side_drain(c, fi, s);
	gap = target - sd->next;
	sd->gap_bytes += gap;
	if (gap <= SIDE_GAP_FILL) {
		if (side_append(c, fi, s, NULL, (size_t)gap) == -1)
			return -1;
	} else
		sd->next = target;
	return side_drain(c, fi, s);
}

static int
side_flush(struct ctx *c, uint32_t fi, int s)
{
	struct side	*sd = &c->tcp[fi].side[s];

	while (!c->failed && (sd->pending != NULL ||
	    (sd->fin && !sd->closed && sd->fin_off > sd->next))) {
		if (side_skip_gap(c, fi, s) == -1)
			return -1;
	}
	return c->failed ? -1 : 0;
}

/* A TCP payload for side s, whose first byte has sequence number seq. */
static int
side_segment(struct ctx *c, uint32_t fi, int s, uint32_t seq,
    const uint8_t *data, size_t len)
{
	struct side	*sd = &c->tcp[fi].side[s];
	int64_t		 off, end, next = (int64_t)sd->next;

	if (sd->closed || len == 0)
		return 0;
	off = side_off(sd, seq);
	end = off + (int64_t)len;
	if (sd->fin && end > (int64_t)sd->fin_off)
		end = (int64_t)sd->fin_off;	/* nothing after the FIN */
	if (end <= next || end <= off)
		return 0;			/* retransmission */
	if (off < next) {
		data += next - off;
		off = next;
	}
	if (off == next) {
		if (side_append(c, fi, s, data, (size_t)(end - off)) == -1)
			return -1;
		return side_drain(c, fi, s);
	}
	if ((uint64_t)(off - next) > SIDE_WINDOW) {
		c->cap->stats.out_of_window++;
		return 0;
	}
	if (side_pending(c, sd, (uint64_t)off, data, (size_t)(end - off))
	    == -1)
		return -1;
	if (sd->npending > SIDE_MAX_PENDING)
		return side_skip_gap(c, fi, s);
	return side_hole_note(c, fi, s);
}

/*
 * Give up on the holes that have waited SIDE_HOLE_AGE of capture time
 * without a retransmission: the capture lost those bytes, and what
 * follows them belongs here in the timeline, not at its end.
 */
static int
holes_expire(struct ctx *c)
{
	struct hole	 h;
	struct side	*sd;

	while (c->holes_head < c->nholes) {
		h = c->holes[c->holes_head];
		sd = &c->tcp[h.fi].side[h.s];
		if (sd->hole && sd->hole_ts == h.ts &&
		    c->now < h.ts + SIDE_HOLE_AGE)
			break;
		c->holes_head++;
		if (!sd->hole || sd->hole_ts != h.ts)
			continue;	/* filled since */
		sd->hole = 0;
		if (side_skip_gap(c, h.fi, h.s) == -1)
			return -1;
	}
	return 0;
}

static void
tcp_key(const struct pkt *k, struct key *key)
{
	size_t	 alen = k->family == AF_INET ? 4 : 16;
	int	 swap;

	memset(key, 0, sizeof(*key));
	key->family = (uint8_t)k->family;
	key->proto = IPPROTO_TCP;
	swap = memcmp(k->src, k->dst, alen);
	if (swap == 0)
		swap = k->sport > k->dport;
	else
		swap = swap > 0;
	memcpy(key->addr[swap], k->src, alen);
	memcpy(key->addr[!swap], k->dst, alen);
	key->port[swap] = k->sport;
	key->port[!swap] = k->dport;
}

static int
tcp_new(struct ctx *c, const struct pkt *k, uint32_t *fi)
{
	struct tcp	*t;

	if (c->ntcp >= c->max_flows) {
		replay_pcap_fail(c, "more than %zu TCP streams; cut the "
		    "capture with editcap", c->max_flows);
		return -1;
	}
	if (replay_pcap_grow(c, (void **)&c->tcp, &c->tcp_cap, c->ntcp + 1,
	    sizeof(*c->tcp)) == -1)
		return -1;
	t = &c->tcp[c->ntcp];
	memset(t, 0, sizeof(*t));
	t->family = k->family;
	memcpy(t->addr[0], k->src, sizeof(k->src));
	memcpy(t->addr[1], k->dst, sizeof(k->dst));
	t->port[0] = k->sport;
	t->port[1] = k->dport;
	*fi = (uint32_t)c->ntcp++;
	return event_add(c, EV_OPEN, *fi, 0, 0);
}

/* Close a stream whose port pair a new connection reuses. */
static int
tcp_retire(struct ctx *c, uint32_t fi)
{
	struct tcp	*t = &c->tcp[fi];

	if (side_flush(c, fi, 0) == -1 || side_flush(c, fi, 1) == -1)
		return -1;
	t->dead = 1;
	if (!t->side[0].closed || !t->side[1].closed)
		return event_add(c, EV_RST, fi, 0, 0);
	return 0;
}

/* Find the stream of a segment, or start one; -1 on error. */
static int
tcp_lookup(struct ctx *c, const struct pkt *k, uint32_t *fi)
{
	struct key	 key;
	uint32_t	*v;
	struct tcp	*t;
	int		 s, fresh = (k->flags & (TCP_SYN | TCP_ACK)) == TCP_SYN;

	tcp_key(k, &key);
	if ((v = replay_pcap_map_get(&c->tcp_map, &key)) != NULL) {
		t = &c->tcp[*v];
		s = !(memcmp(t->addr[0], k->src, sizeof(k->src)) == 0 &&
		    t->port[0] == k->sport);
		if (!t->dead && !(fresh && t->side[s].init &&
		    t->side[s].isn != k->seq + 1)) {
			*fi = *v;
			return 0;
		}
		/* after a reset, only a SYN or data starts a new stream */
		if (t->dead && !fresh && (k->len == 0 ||
		    (k->flags & TCP_RST) != 0)) {
			*fi = UINT32_MAX;
			return 0;
		}
		if (!t->dead && tcp_retire(c, *v) == -1)
			return -1;
		if (tcp_new(c, k, fi) == -1)
			return -1;
		*replay_pcap_map_get(&c->tcp_map, &key) = *fi;
		return 0;
	}
	if ((k->flags & TCP_RST) != 0 && k->len == 0) {
		*fi = UINT32_MAX;	/* a lone reset opens nothing */
		return 0;
	}
	if (tcp_new(c, k, fi) == -1)
		return -1;
	return replay_pcap_map_put(c, &c->tcp_map, &key, *fi);
}

static int
tcp_packet(struct ctx *c, const struct pkt *k)
{
	struct tcp	*t;
	struct side	*sd, *od;
	uint32_t	 fi, dseq;
	int64_t		 off;
	int		 s;

	if (tcp_lookup(c, k, &fi) == -1)
		return -1;
	if (fi == UINT32_MAX)
		return 0;
	t = &c->tcp[fi];
	s = !(memcmp(t->addr[0], k->src, sizeof(k->src)) == 0 &&
	    t->port[0] == k->sport);
	sd = &t->side[s];
	od = &t->side[!s];
	dseq = k->seq;
	if (k->flags & TCP_SYN) {
		if (k->flags & TCP_ACK)
			t->synack[s] = 1;
		else
			t->syn[s] = 1;
		dseq++;
		if (!sd->init) {
			sd->isn = dseq;
			sd->init = 1;
		}
	}
	if (!sd->init) {
		sd->isn = dseq;
		sd->init = 1;
	}
	if ((k->flags & TCP_RST) == 0 && side_segment(c, fi, s, dseq,
	    k->payload, k->caplen) == -1)
		return -1;
	if ((k->flags & (TCP_FIN | TCP_RST)) == TCP_FIN && !sd->fin) {
		off = side_off(sd, dseq) + (int64_t)k->len;
		sd->fin = 1;
		sd->fin_off = off < (int64_t)sd->next ? sd->next :
		    (uint64_t)off;
		if (side_drain(c, fi, s) == -1)
			return -1;
	}
	if ((k->flags & TCP_ACK) && od->init) {
		/* the peer has what the capture lost: move past the hole */
		off = side_off(od, k->ack);
		while (!c->failed && ((od->pending != NULL &&
		    (int64_t)od->pending->off < off) || (od->pending == NULL &&
		    od->fin && !od->closed && (int64_t)od->fin_off < off)))
			if (side_skip_gap(c, fi, !s) == -1)
				return -1;
	}
	if (k->flags & TCP_RST) {
		if (side_flush(c, fi, 0) == -1 || side_flush(c, fi, 1) == -1)
			return -1;
		t->dead = 1;
		return event_add(c, EV_RST, fi, s, 0);
	}
	if (t->side[0].closed && t->side[1].closed)
		t->dead = 1;
	return c->failed ? -1 : 0;
}

static int
udp_packet(struct ctx *c, const struct pkt *k)
{
	struct dgram	*d;

	if (c->ndg >= c->max_events) {
		replay_pcap_fail(c, "more than %zu UDP datagrams; cut the "
		    "capture with editcap", c->max_events);
		return -1;
	}
	if (replay_pcap_grow(c, (void **)&c->dg, &c->dg_cap, c->ndg + 1,
	    sizeof(*c->dg)) == -1)
		return -1;
	d = &c->dg[c->ndg];
	memset(d, 0, sizeof(*d));
	d->family = k->family;
	memcpy(d->src, k->src, sizeof(d->src));
	memcpy(d->dst, k->dst, sizeof(d->dst));
	d->sport = k->sport;
	d->dport = k->dport;
	d->off = c->udp.len;
	d->len = k->caplen;
	if (rbuf_add(c, &c->udp, k->payload, k->caplen) == -1)
		return -1;
	c->ndg++;
	return event_add(c, EV_UDP, (uint32_t)(c->ndg - 1), 0, 0);
}

/* End of the capture: deliver what the live streams still hold. */
static int
tcp_flush_all(struct ctx *c)
{
	size_t	 i;

	for (i = 0; i < c->ntcp; i++) {
		if (!c->tcp[i].dead &&
		    (side_flush(c, (uint32_t)i, 0) == -1 ||
		    side_flush(c, (uint32_t)i, 1) == -1))
			return -1;
	}
	return 0;
}

/* ---- entry points ---- */

static void
ctx_free(struct ctx *c)
{
	struct seg	*g;
	size_t		 i;
	int		 s;

	for (i = 0; i < c->ntcp; i++) {
		for (s = 0; s < 2; s++) {
			free(c->tcp[i].side[s].buf.p);
			while ((g = c->tcp[i].side[s].pending) != NULL) {
				c->tcp[i].side[s].pending = g->next;
				free(g);
			}
		}
	}
	free(c->tcp);
	map_free(&c->tcp_map);
	map_free(&c->udp_map);
	map_free(&c->ep_map);
	free(c->dg);
	free(c->udp.p);
	free(c->ev);
	free(c->holes);
	free(c->ps);
	free(c);
}

void
replay_pcap_free(struct replay_capture *cap)
{
	size_t	 i;

	if (cap == NULL)
		return;
	for (i = 0; i < cap->nflows; i++)
		free(cap->flows[i].chunks);
	free(cap->flows);
	free(cap->steps);
	if (cap->priv != NULL)
		ctx_free(cap->priv);
	free(cap);
}

/* Read every packet of pc and build the model; pc is closed. */
static struct replay_capture *
read_pcap(pcap_t *pc, const char *name, const struct replay_pcap_opts *opts,
    char *err, size_t errlen)
{
	struct replay_capture	*cap;
	struct ctx		*c;
	struct pcap_pkthdr	*h;
	const u_char		*data;
	struct pkt		 k;
	int			 r = 0, rc = 0;

	if ((cap = calloc(1, sizeof(*cap))) == NULL ||
	    (c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "%s%sout of memory", name ? name : "",
		    name ? ": " : "");
		free(cap);
		pcap_close(pc);
		return NULL;
	}
	cap->priv = c;
	c->cap = cap;
	c->name = name;
	c->err = err;
	c->errlen = errlen;
	c->max_bytes = opts && opts->max_bytes ? opts->max_bytes :
	    REPLAY_MAX_BYTES;
	c->max_flows = opts && opts->max_flows ? opts->max_flows :
	    REPLAY_MAX_FLOWS;
	c->max_events = opts && opts->max_events ? opts->max_events :
	    REPLAY_MAX_EVENTS;
	cap->linktype = pcap_datalink(pc);
	if (!link_supported(cap->linktype)) {
		const char *lt = pcap_datalink_val_to_name(cap->linktype);

		replay_pcap_fail(c, "unsupported link type %s (%d); Ethernet, "
		    "Linux cooked, raw IP and loopback are read",
		    lt ? lt : "?", cap->linktype);
		pcap_close(pc);
		replay_pcap_free(cap);
		return NULL;
	}
	while (rc == 0 && (r = pcap_next_ex(pc, &h, &data)) == 1) {
		cap->stats.packets++;
		c->now = (uint64_t)h->ts.tv_sec * 1000000 +
		    (uint64_t)h->ts.tv_usec;
		if (holes_expire(c) == -1)
			break;
		if (pkt_decode(c, data, h->caplen, &k) == -1)
			continue;
		if (k.proto == IPPROTO_TCP)
			rc = tcp_packet(c, &k);
		else
			rc = udp_packet(c, &k);
	}
	if (rc == 0 && r == PCAP_ERROR) {
		replay_pcap_fail(c, "packet %llu: %s", (unsigned long long)
		    cap->stats.packets + 1, pcap_geterr(pc));
		rc = -1;
	}
	pcap_close(pc);
	if (rc == 0)
		rc = tcp_flush_all(c);
	if (rc == 0)
		rc = replay_model_build(c, opts);
	if (rc == -1) {
		replay_pcap_free(cap);
		return NULL;
	}
	return cap;
}

struct replay_capture *
replay_pcap_read_file(const char *path, const struct replay_pcap_opts *opts,
    char *err, size_t errlen)
{
	char	 ebuf[PCAP_ERRBUF_SIZE];
	FILE	*fp;
	pcap_t	*pc;

	if ((fp = fopen(path, "rb")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	ebuf[0] = '\0';
	if ((pc = pcap_fopen_offline(fp, ebuf)) == NULL) {
		snprintf(err, errlen, "%s: not a pcap or pcapng capture: %s",
		    path, ebuf);
		fclose(fp);
		return NULL;
	}
	return read_pcap(pc, path, opts, err, errlen);
}

struct replay_capture *
replay_pcap_read_buffer(const uint8_t *buf, size_t len,
    const struct replay_pcap_opts *opts, char *err, size_t errlen)
{
	char	 ebuf[PCAP_ERRBUF_SIZE];
	FILE	*fp;
	pcap_t	*pc;

	if (len < 4) {
		snprintf(err, errlen, "too short for a capture (%zu bytes)",
		    len);
		return NULL;
	}
	/* read-only stream: fmemopen does not write to the buffer */
	if ((fp = fmemopen((void *)(uintptr_t)buf, len, "rb")) == NULL) {
		snprintf(err, errlen, "fmemopen: %s", strerror(errno));
		return NULL;
	}
	ebuf[0] = '\0';
	if ((pc = pcap_fopen_offline(fp, ebuf)) == NULL) {
		snprintf(err, errlen, "not a pcap or pcapng capture: %s",
		    ebuf);
		fclose(fp);
		return NULL;
	}
	return read_pcap(pc, NULL, opts, err, errlen);
}

const char *
replay_pcap_skip_reason(enum replay_skip skip)
{
	switch (skip) {
	case REPLAY_PLAY:
		return "played";
	case REPLAY_SKIP_SENSOR_CLIENT:
		return "sensor is the client";
	case REPLAY_SKIP_FTP_DATA:
		return "sensor is the client: FTP data connection it asked for";
	case REPLAY_SKIP_OTHER_HOST:
		return "server is not the sensor";
	case REPLAY_SKIP_EMPTY:
		return "no handshake and no client data";
	case REPLAY_SKIP_REFUSED:
		return "not accepted in the capture";
	}
	return "?";
}

