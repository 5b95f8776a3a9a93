/*
 * Phase 2 of the capture parser of `sundew replay` (phase 1, reading and
 * TCP reassembly, is replay_pcap.c): once the whole capture is read, each
 * TCP stream gets its client, the sensor host is chosen (or taken from
 * the options), the streams that are not the attack get their skip
 * reason, and the timeline becomes the global list of steps of the model
 * described in replay_int.h.  Allocations go through replay_pcap_grow(),
 * so they are charged to the same memory budget.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <stdint.h>
#include <string.h>
#include <strings.h>

#define REPLAY_PARSER	/* the parser's state in replay_int.h */
#include "replay_int.h"

/* Phase 2 state of a played flow. */
struct pstate {
	int		 last;		/* PS_NONE, PS_CLIENT, PS_SERVER */
	int		 closed;
	int		 reset;
	size_t		 walk;		/* client bytes consumed */
	size_t		 chunk_cap;
};
#define PS_NONE		0
#define PS_CLIENT	1
#define PS_SERVER	2

static int
addr_eq(int family, const uint8_t *a, int fb, const uint8_t *b)
{
	return family == fb &&
	    memcmp(a, b, family == AF_INET ? 4 : 16) == 0;
}

/* Ports that are servers whatever the other port is. */
static int
port_is_service(uint16_t port)
{
	static const uint16_t	 known[] = { 1025, 1433, 1434, 2103, 2105,
	    2107, 2745, 3127, 3140, 3372, 3389, 4444, 5000, 5554, 6129,
	    8080, 10000, 17300, 27347 };
	size_t			 i;

	if (port < 1024)
		return 1;
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (known[i] == port)
			return 1;
	return 0;
}

static void
ep_key(struct key *key, int family, const uint8_t *addr, uint16_t port,
    int proto)
{
	memset(key, 0, sizeof(*key));
	key->family = (uint8_t)family;
	key->proto = (uint8_t)proto;
	memcpy(key->addr[0], addr, 16);
	key->port[0] = port;
}

/* Count, for every TCP endpoint, the streams it takes part in. */
static int
ep_count(struct ctx *c)
{
	struct key	 key;
	uint32_t	*v;
	size_t		 i;
	int		 s;

	for (i = 0; i < c->ntcp; i++) {
		for (s = 0; s < 2; s++) {
			ep_key(&key, c->tcp[i].family, c->tcp[i].addr[s],
			    c->tcp[i].port[s], IPPROTO_TCP);
			if ((v = replay_pcap_map_get(&c->ep_map, &key)) != NULL)
				(*v)++;
			else if (replay_pcap_map_put(c, &c->ep_map, &key, 1)
			    == -1)
				return -1;
		}
	}
	return 0;
}

/*
 * Which side of a stream is the client: the one that sent a SYN without
 * ACK; else the one that got the SYN-ACK; else the one whose port is
 * not a service port; else the one whose endpoint appears in fewer
 * streams (a server's port stays, a client's changes); else the higher
 * port; else the first sender.
 */
static int
tcp_client_side(struct ctx *c, const struct tcp *t)
{
	struct key	 key;
	uint32_t	 n[2], *v;
	int		 k0, k1, s;

	if (t->syn[0] != t->syn[1])
		return t->syn[0] ? 0 : 1;
	if (t->synack[0] != t->synack[1])
		return t->synack[0] ? 1 : 0;
	k0 = port_is_service(t->port[0]);
	k1 = port_is_service(t->port[1]);
	if (k0 != k1)
		return k0 ? 1 : 0;
	for (s = 0; s < 2; s++) {
		ep_key(&key, t->family, t->addr[s], t->port[s], IPPROTO_TCP);
		v = replay_pcap_map_get(&c->ep_map, &key);
		n[s] = v != NULL ? *v : 0;
	}
	if (n[0] != n[1])
		return n[0] > n[1] ? 1 : 0;
	if (t->port[0] != t->port[1])
		return t->port[0] < t->port[1] ? 1 : 0;
	return 0;
}

static int
tcp_has_content(const struct tcp *t)
{
	return t->syn[0] || t->syn[1] || t->side[t->client].next > 0;
}

static void
sensor_choose(struct ctx *c, const struct replay_pcap_opts *opts)
{
	struct replay_capture	*cap = c->cap;
	const struct tcp	*t = NULL;
	size_t			 i;

	if (opts != NULL && opts->server_family != 0) {
		cap->sensor_family = opts->server_family;
		memcpy(cap->sensor, opts->server, sizeof(cap->sensor));
		cap->sensor_given = 1;
		return;
	}
	for (i = 0; i < c->ntcp && t == NULL; i++)
		if (tcp_has_content(&c->tcp[i]))
			t = &c->tcp[i];
	if (t == NULL && c->ntcp > 0)
		t = &c->tcp[0];
	if (t != NULL) {
		cap->sensor_family = t->family;
		memcpy(cap->sensor, t->addr[!t->client], sizeof(cap->sensor));
	} else if (c->ndg > 0) {
		cap->sensor_family = c->dg[0].family;
		memcpy(cap->sensor, c->dg[0].dst, sizeof(cap->sensor));
	}
}

/* A decimal number of at most max; advances *i.  -1 if there is none. */
static long
ftp_number(const uint8_t *p, size_t len, size_t *i, long max)
{
	long	 v = 0;
	size_t	 start = *i;

	while (*i < len && p[*i] >= '0' && p[*i] <= '9' && *i - start < 6) {
		v = v * 10 + (p[*i] - '0');
		(*i)++;
	}
	if (*i == start || v > max)
		return -1;
	return v;
}

/*
 * The port in "PORT h1,h2,h3,h4,p1,p2" or "EPRT |af|addr|port|" at
 * p[0..len), or -1.
 */
static long
ftp_command_port(const uint8_t *p, size_t len)
{
	size_t	 i = 5;
	long	 v = 0, hi = 0;
	int	 n, delim;

	if (len < 6)
		return -1;
	if (strncasecmp((const char *)p, "PORT ", 5) == 0) {
		for (n = 0; n < 6; n++) {
			if (n > 0 && (i >= len || p[i++] != ','))
				return -1;
			if ((v = ftp_number(p, len, &i, 255)) < 0)
				return -1;
			if (n == 4)
				hi = v;
		}
		return hi * 256 + v;
	}
	if (strncasecmp((const char *)p, "EPRT ", 5) != 0)
		return -1;
	delim = p[i];
	for (n = 0; n < 2; n++) {	/* skip the family and address */
		while (++i < len && p[i] != delim)
			;
		if (i >= len)
			return -1;
	}
	i++;
	v = ftp_number(p, len, &i, 65535);
	if (v < 0 || i >= len || p[i] != delim)
		return -1;
	return v;
}

/*
 * In the streams the sensor opened, find the FTP PORT and EPRT commands
 * it sent: the FTP server then connects to that port, and that stream
 * belongs to the sensor's own download, not to the attack.
 */
static void
ftp_scan(struct ctx *c)
{
	const struct replay_capture	*cap = c->cap;
	const struct tcp		*t;
	const struct side		*sd;
	struct ftp_port			*fp;
	size_t				 i, j;
	long				 port;

	for (i = 0; i < c->ntcp; i++) {
		t = &c->tcp[i];
		if (!addr_eq(t->family, t->addr[t->client],
		    cap->sensor_family, cap->sensor))
			continue;
		sd = &t->side[t->client];
		for (j = 0; j < sd->buf.len; j++) {
			if (j > 0 && sd->buf.p[j - 1] != '\n')
				continue;
			port = ftp_command_port(sd->buf.p + j,
			    sd->buf.len - j);
			if (port <= 0 || c->nftp >= FTP_MAX_PORTS)
				continue;
			fp = &c->ftp[c->nftp++];
			fp->family = t->family;
			memcpy(fp->addr, t->addr[!t->client], 16);
			fp->port = (uint16_t)port;
		}
	}
}

static enum replay_skip
tcp_skip(struct ctx *c, const struct tcp *t)
{
	const struct replay_capture	*cap = c->cap;
	int				 cl = t->client;
	size_t				 i;

	if (!addr_eq(t->family, t->addr[!cl], cap->sensor_family,
	    cap->sensor)) {
		if (addr_eq(t->family, t->addr[cl], cap->sensor_family,
		    cap->sensor))
			return REPLAY_SKIP_SENSOR_CLIENT;
		return REPLAY_SKIP_OTHER_HOST;
	}
	for (i = 0; i < c->nftp; i++)
		if (addr_eq(t->family, t->addr[cl], c->ftp[i].family,
		    c->ftp[i].addr) && t->port[!cl] == c->ftp[i].port)
			return REPLAY_SKIP_FTP_DATA;
	if (!tcp_has_content(t))
		return REPLAY_SKIP_EMPTY;
	/* a port scan: the sensor would refuse it too, or should */
	if (t->syn[cl] && !t->synack[!cl] && t->side[0].next == 0 &&
	    t->side[1].next == 0)
		return REPLAY_SKIP_REFUSED;
	return REPLAY_PLAY;
}

static int
flow_new(struct ctx *c, uint32_t *pf)
{
	struct replay_capture	*cap = c->cap;

	if (cap->nflows >= c->max_flows * 2) {
		replay_pcap_fail(c, "more than %zu flows; cut the capture "
		    "with editcap", c->max_flows);
		return -1;
	}
	if (replay_pcap_grow(c, (void **)&cap->flows, &c->flows_cap,
	    cap->nflows + 1, sizeof(*cap->flows)) == -1)
		return -1;
	if (replay_pcap_grow(c, (void **)&c->ps, &c->ps_cap, cap->nflows + 1,
	    sizeof(*c->ps)) == -1)
		return -1;
	*pf = (uint32_t)cap->nflows++;
	memset(&cap->flows[*pf], 0, sizeof(cap->flows[*pf]));
	memset(&c->ps[*pf], 0, sizeof(c->ps[*pf]));
	return 0;
}

static int
step_add(struct ctx *c, enum replay_step_kind kind, uint32_t pf,
    uint32_t chunk, uint16_t port)
{
	struct replay_capture	*cap = c->cap;
	struct replay_step	*st;

	if (replay_pcap_grow(c, (void **)&cap->steps, &c->steps_cap,
	    cap->nsteps + 1, sizeof(*cap->steps)) == -1)
		return -1;
	st = &cap->steps[cap->nsteps++];
	st->kind = kind;
	st->flow = pf;
	st->chunk = chunk;
	st->port = port;
	return 0;
}

static int
chunk_add(struct ctx *c, uint32_t pf, const uint8_t *data, size_t len,
    uint16_t port, uint32_t *idx)
{
	struct replay_flow	*f = &c->cap->flows[pf];

	if (replay_pcap_grow(c, (void **)&f->chunks, &c->ps[pf].chunk_cap,
	    f->nchunks + 1, sizeof(*f->chunks)) == -1)
		return -1;
	f->chunks[f->nchunks].data = data;
	f->chunks[f->nchunks].len = len;
	f->chunks[f->nchunks].port = port;
	*idx = (uint32_t)f->nchunks++;
	return 0;
}

static int
walk_open(struct ctx *c, const struct event *e)
{
	struct tcp		*t = &c->tcp[e->idx];
	struct replay_flow	*f;
	uint32_t		 pf;
	int			 cl = t->client;

	if (flow_new(c, &pf) == -1)
		return -1;
	t->pub = pf;
	f = &c->cap->flows[pf];
	f->proto = IPPROTO_TCP;
	f->family = t->family;
	memcpy(f->client, t->addr[cl], 16);
	memcpy(f->server, t->addr[!cl], 16);
	f->client_port = t->port[cl];
	f->server_port = t->port[!cl];
	f->skip = tcp_skip(c, t);
	f->syn_seen = t->syn[0] || t->syn[1];
	f->gap_bytes = t->side[cl].gap_bytes;
	if (f->skip != REPLAY_PLAY)
		return 0;
	return step_add(c, REPLAY_STEP_OPEN, pf, 0, 0);
}

static int
walk_data(struct ctx *c, const struct event *e)
{
	struct replay_capture	*cap = c->cap;
	struct tcp		*t = &c->tcp[e->idx];
	struct replay_flow	*f = &cap->flows[t->pub];
	struct pstate		*ps = &c->ps[t->pub];
	struct replay_step	*last;
	const uint8_t		*data;
	uint32_t		 ci;

	if (e->side != t->client) {
		f->server_bytes += e->len;
		if (f->skip != REPLAY_PLAY || ps->reset ||
		    ps->last == PS_SERVER)
			return 0;
		ps->last = PS_SERVER;
		return step_add(c, REPLAY_STEP_WAIT, t->pub, 0, 0);
	}
	data = t->side[e->side].buf.p + ps->walk;
	ps->walk += e->len;
	f->client_bytes += e->len;
	if (f->skip != REPLAY_PLAY)
		return 0;
	last = cap->nsteps > 0 ? &cap->steps[cap->nsteps - 1] : NULL;
	if (last != NULL && last->kind == REPLAY_STEP_SEND &&
	    last->flow == t->pub) {
		/* consecutive client segments make one chunk */
		f->chunks[last->chunk].len += e->len;
		return 0;
	}
	ps->last = PS_CLIENT;
	if (chunk_add(c, t->pub, data, e->len, f->server_port, &ci) == -1)
		return -1;
	return step_add(c, REPLAY_STEP_SEND, t->pub, ci, 0);
}

static int
walk_close(struct ctx *c, const struct event *e)
{
	struct tcp		*t = &c->tcp[e->idx];
	struct replay_flow	*f = &c->cap->flows[t->pub];
	struct pstate		*ps = &c->ps[t->pub];

	if (e->kind == EV_FIN && e->side != t->client)
		return 0;
	if (e->kind == EV_RST)
		ps->reset = 1;
	if (ps->closed || f->skip != REPLAY_PLAY)
		return 0;
	ps->closed = 1;
	return step_add(c, REPLAY_STEP_CLOSE, t->pub, 0, 0);
}

/*
 * A datagram to the sensor is a client datagram of its source endpoint;
 * a datagram from the sensor to such an endpoint is an answer.
 */
static int
walk_udp(struct ctx *c, const struct event *e)
{
	struct replay_capture	*cap = c->cap;
	const struct dgram	*d = &c->dg[e->idx];
	struct replay_flow	*f;
	struct key		 key;
	uint32_t		*v, pf, ci;

	ep_key(&key, d->family, d->dst, d->dport, IPPROTO_UDP);
	if ((v = replay_pcap_map_get(&c->udp_map, &key)) != NULL &&
	    addr_eq(d->family, d->src, cap->sensor_family, cap->sensor)) {
		cap->flows[*v].server_bytes += d->len;
		if (c->ps[*v].last == PS_SERVER)
			return 0;
		c->ps[*v].last = PS_SERVER;
		return step_add(c, REPLAY_STEP_WAIT, *v, 0, d->sport);
	}
	if (!addr_eq(d->family, d->dst, cap->sensor_family, cap->sensor))
		return 0;
	ep_key(&key, d->family, d->src, d->sport, IPPROTO_UDP);
	if ((v = replay_pcap_map_get(&c->udp_map, &key)) != NULL)
		pf = *v;
	else {
		if (flow_new(c, &pf) == -1 ||
		    replay_pcap_map_put(c, &c->udp_map, &key, pf) == -1)
			return -1;
		f = &cap->flows[pf];
		f->proto = IPPROTO_UDP;
		f->family = d->family;
		memcpy(f->client, d->src, 16);
		memcpy(f->server, d->dst, 16);
		f->client_port = d->sport;
		f->server_port = d->dport;
	}
	f = &cap->flows[pf];
	f->client_bytes += d->len;
	c->ps[pf].last = PS_CLIENT;
	/* an empty datagram may have nothing to point into */
	if (chunk_add(c, pf, d->len > 0 ? c->udp.p + d->off :
	    (const uint8_t *)"", d->len, d->dport, &ci) == -1)
		return -1;
	return step_add(c, REPLAY_STEP_DGRAM, pf, ci, 0);
}

/* Phase 2 (replay_int.h); read_pcap() has flushed every stream. */
int
replay_model_build(struct ctx *c, const struct replay_pcap_opts *opts)
{
	size_t	 i;
	int	 rc = 0;

	if (ep_count(c) == -1)
		return -1;
	for (i = 0; i < c->ntcp; i++)
		c->tcp[i].client = tcp_client_side(c, &c->tcp[i]);
	sensor_choose(c, opts);
	if (c->cap->sensor_family == 0) {
		replay_pcap_fail(c, "no TCP stream and no UDP datagram in "
		    "the capture");
		return -1;
	}
	ftp_scan(c);
	for (i = 0; i < c->nev && rc == 0; i++) {
		switch (c->ev[i].kind) {
		case EV_OPEN:
			rc = walk_open(c, &c->ev[i]);
			break;
		case EV_DATA:
			rc = walk_data(c, &c->ev[i]);
			break;
		case EV_FIN:
		case EV_RST:
			rc = walk_close(c, &c->ev[i]);
			break;
		case EV_UDP:
			rc = walk_udp(c, &c->ev[i]);
			break;
		}
	}
	return rc;
}
