#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <linux/sock_diag.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "capture.h"
#include "config.h"
#include "conn.h"
#include "event.h"
#include "connlimit.h"
#include "ledger.h"
#include "listen.h"
#include "log.h"
#include "proto.h"
#include "sc.h"
#include "sc_event.h"
#include "sensor.h"

/*
 * Input a service may leave unconsumed, waiting for the rest of a message;
 * past it the session ends as a protocol error.
 */
#define CONN_READ_HIGH		(256 * 1024)
/* One read takes at most this much; one wakeup reads at most 4 times. */
#define CONN_READ_BUF		65536
#define CONN_READ_ROUNDS	4
/* How long a closing session may take to send what is left. */
#define CONN_LINGER_SECS	5
/*
 * What a session may have queued for a peer that does not read (an SMB
 * ECHO answers its data eight times), and all sessions of a sensor
 * together: past either, the session ends ("output") with a limit.hit.
 */
#define CONN_OUT_MAX		(1024u * 1024)
#define CONN_OUT_BUDGET		(64u * 1024 * 1024)
/* At most this many sundew.limit.hit events a second per sensor. */
#define CONN_LIMIT_RATE		20
/* At most this many datagrams a second per sensor; more are counted. */
#define CONN_UDP_RATE		2000
/* The kernel's count of what a socket dropped (Linux 4.6). */
#ifndef SO_MEMINFO
#define SO_MEMINFO		55
#endif

static TAILQ_HEAD(, conn)	conn_list = TAILQ_HEAD_INITIALIZER(conn_list);
/* Bytes queued for peers that had not read them, all sessions. */
static size_t			conn_out_total;
static const struct timeval	*conn_idle_tv;

/*
 * Session ids: 16 hex digits, the second it began (32 bits), the sensor's
 * index (8 bits) and a counter (24 bits) that starts at random.  Ids
 * grow with time, so that SQLite's session index (and any database's)
 * appends instead of writing pages all over the tree; the counter and the
 * index keep two sessions of one second apart, the random start keeps a
 * restarted sensor's apart from its predecessor's.
 */
static void
conn_new_id(char out[CONN_ID_LEN + 1])
{
	static uint32_t	counter;
	static int	seeded;
	uint64_t	id;

	if (!seeded) {
		if (getrandom(&counter, sizeof(counter), 0) !=
		    (ssize_t)sizeof(counter))
			fatal("getrandom");
		seeded = 1;
	}
	id = (uint64_t)(uint32_t)(event_now_usec() / 1000000) << 32 |
	    (uint64_t)(sensor_index() & 0xff) << 24 |
	    (counter++ & 0xffffff);
	snprintf(out, CONN_ID_LEN + 1, "%016llx", (unsigned long long)id);
}

static void
conn_addr(const struct sockaddr_storage *ss, char *ip, size_t iplen,
    uint16_t *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, ip, (socklen_t)iplen);
		*port = ntohs(sin->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, (socklen_t)iplen);
		/* ::ffff:a.b.c.d is an IPv4 peer. */
		if (strncmp(ip, "::ffff:", 7) == 0 && strchr(ip, '.') != NULL)
			memmove(ip, ip + 7, strlen(ip + 7) + 1);
		*port = ntohs(sin6->sin6_port);
	} else {
		snprintf(ip, iplen, "?");
		*port = 0;
	}
}

size_t
conn_fields(const struct conn *c, char *buf, size_t len)
{
	char		src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	uint16_t	sport, dport;
	int		n;

	conn_addr(&c->src, src, sizeof(src), &sport);
	conn_addr(&c->dst, dst, sizeof(dst), &dport);
	n = snprintf(buf, len, "\"session\":\"%s\",\"src_ip\":\"%s\","
	    "\"src_port\":%u,\"dst_ip\":\"%s\",\"dst_port\":%u,"
	    "\"transport\":\"%s\",\"service\":\"%s\"", c->session, src,
	    sport, dst, dport, c->lst->transport == SERVICE_UDP ? "udp" : "tcp",
	    c->lst->def->name);
	if (n < 0 || (size_t)n >= len)
		return 0;
	return (size_t)n;
}

/*
 * The session's fields: rendered once when a TCP session starts (every
 * session has four or five events), on the spot for a datagram.
 */
static const char *
conn_ctx(const struct conn *c, char *tmp, size_t tmplen, size_t *len)
{
	if (c->fields != NULL) {
		*len = c->nfields;
		return c->fields;
	}
	*len = conn_fields(c, tmp, tmplen);
	return tmp;
}

/* Renders the fields once for the session's life (NULL: on each use). */
static void
conn_fields_keep(struct conn *c)
{
	char	f[512];
	size_t	n = conn_fields(c, f, sizeof(f));

	if (n > 0 && (c->fields = malloc(n)) != NULL) {
		memcpy(c->fields, f, n);
		c->nfields = (uint16_t)n;
	}
}

/* Starts event eventid of session c, with the event id given. */
static void
conn_event_id(struct event_buf *ev, const struct conn *c,
    const char *eventid, uint64_t id)
{
	char		 tmp[512];
	const char	*f;
	size_t		 n;

	f = conn_ctx(c, tmp, sizeof(tmp), &n);
	event_begin_id(ev, eventid, id);
	event_fields(ev, f, n);
}

void
conn_event(struct event_buf *ev, const struct conn *c, const char *id)
{
	conn_event_id(ev, c, id, event_next_id());
}

/* The close event of c (a live session, or one a dead sensor left). */
static void
conn_close_event(struct event_buf *ev, const struct conn *c,
    const char *reason, uint64_t id)
{
	int64_t	ms = (event_now_usec() - c->start_us) / 1000;

	conn_event_id(ev, c, "sundew.connection.close", id);
	event_str(ev, "reason", reason);
	event_int(ev, "duration_ms", ms > 0 ? ms : 0);
	event_int(ev, "bytes_in", (int64_t)(c->bytes_in & INT64_MAX));
	event_int(ev, "bytes_out", (int64_t)(c->bytes_out & INT64_MAX));
}

/* What the ledger keeps of a session, for a successor to close it. */
static void
conn_ledger_take(struct conn *c)
{
	struct ledger_entry	e;

	memset(&e, 0, sizeof(e));
	e.listener = (uint32_t)(c->lst - sensor_listener(0));
	e.start_us = c->start_us;
	memcpy(&e.src, &c->src, sizeof(e.src));
	memcpy(&e.dst, &c->dst, sizeof(e.dst));
	memcpy(e.session, c->session, sizeof(c->session));
	c->slot = ledger_take(sensor_ledger(), &e);
}

/* One session a dead sensor left: its close event. */
static void
conn_orphan(const struct ledger_entry *e, void *arg)
{
	struct conn		 c;
	struct event_buf	 ev;

	memset(&c, 0, sizeof(c));
	if ((c.lst = sensor_listener(e->listener)) == NULL ||
	    (e->src.sin6_family != AF_INET && e->src.sin6_family != AF_INET6) ||
	    (e->dst.sin6_family != AF_INET && e->dst.sin6_family != AF_INET6))
		return;
	memcpy(&c.src, &e->src, sizeof(e->src));
	memcpy(&c.dst, &e->dst, sizeof(e->dst));
	memcpy(c.session, e->session, sizeof(c.session) - 1);
	if (strspn(c.session, "0123456789abcdef") != CONN_ID_LEN)
		return;
	c.start_us = e->start_us;
	c.bytes_in = e->bytes_in;
	c.bytes_out = e->bytes_out;
	/* The id its own close had, if the dead sensor built one. */
	conn_close_event(&ev, &c, "sensor_died", e->close_id != 0 ?
	    e->close_id : event_next_id());
	sensor_send_event(&ev);
}

size_t
conn_close_orphans(void)
{
	return ledger_orphans(sensor_ledger(), conn_orphan, NULL);
}

void
conn_store_file(const struct conn *c, int kind, const void *p, size_t n)
{
	char		 tmp[512];
	const char	*f;
	size_t		 len;

	f = conn_ctx(c, tmp, sizeof(tmp), &len);
	sensor_send_file(kind, f, len, p, n);
}

void
conn_origin(const struct conn *c, struct capture_origin *o)
{
	const char	*f;
	size_t		 len;

	memset(o, 0, sizeof(*o));
	memcpy(o->session, c->session, sizeof(o->session));
	memcpy(&o->attacker, &c->src, sizeof(o->attacker));
	memcpy(&o->local, &c->dst, sizeof(o->local));
	f = conn_ctx(c, o->ctx, sizeof(o->ctx), &len);
	if (f != o->ctx)
		memcpy(o->ctx, f, len);
	o->ctxlen = len;
}

int
conn_analyse(const struct conn *c, const void *p, size_t n, size_t at)
{
	struct capture_origin	o;

	if (n == 0 || !sc_prefilter(p, n))
		return 0;
	conn_origin(c, &o);
	o.input_at = at;
	if (sensor_analyse(&o, p, n) == -1) {
		conn_limit_hit(c, "analyser_backlog");
		return 0;
	}
	return 1;
}

void
conn_shellcode(const struct capture_origin *o, const struct sc_result *res)
{
	struct event_buf	 ev;
	static char		 f[EVENT_MAX];
	static struct sc_result	 r;
	size_t			 n;

	/*
	 * The analyser runs attacker code in an emulator: the least trusted
	 * process.  A result that fails the checks is dropped, not fatal, so
	 * that it cannot stop the sensors.  ctx is the sensor's own copy of
	 * the session's fields (sensor.c), never the analyser's word.
	 */
	if (sc_result_check(res) == -1) {
		log_warnx("analyser sent a malformed result: dropped");
		return;
	}
	if (!res->shellcode && res->nactions == 0)
		return;
	/* Analysed again as more came: said once a session. */
	if (capture_seen(o, res))
		return;
	/* The offset in the session's input, not in the part analysed. */
	memcpy(&r, res, sizeof(r));
	if (r.offset >= 0)
		r.offset += (long)o->input_at;
	event_begin(&ev, res->nactions > 0 ? "sundew.shellcode.detected" :
	    "sundew.shellcode.unknown");
	event_fields(&ev, o->ctx, o->ctxlen);
	if ((n = sc_event_fields(&r, f, sizeof(f))) == 0)
		ev.truncated = 1;
	event_fields(&ev, f, n);
	sensor_send_event(&ev);
	capture_result(o, res);
}

/*
 * Hits of each cap that got no event of their own, for the summary that
 * says how many.  The names are the callers' literals.
 */
#define CONN_LIMIT_KINDS	32
static struct {
	const char	*limit;
	uint64_t	 left_out;
}			 conn_left_out[CONN_LIMIT_KINDS];
static struct event	*conn_left_out_ev;

static void
conn_left_out_cb(evutil_socket_t fd, short what, void *arg)
{
	conn_limit_flush();
}

/*
 * Counts n hits of limit that have no event of their own; the summary
 * goes out within a second (conn_limit_flush).
 */
static void
conn_limit_count(const char *limit, uint64_t n)
{
	struct timeval	tv = { 1, 0 };
	size_t		i;

	for (i = 0; i < CONN_LIMIT_KINDS; i++)
		if (conn_left_out[i].limit == NULL ||
		    strcmp(conn_left_out[i].limit, limit) == 0)
			break;
	if (i == CONN_LIMIT_KINDS) {
		log_warnx("more than %d kinds of limit.hit: %s not counted",
		    CONN_LIMIT_KINDS, limit);
		return;
	}
	conn_left_out[i].limit = limit;
	conn_left_out[i].left_out += n;
	/* Without the timer the count waits for the next flush. */
	if (conn_left_out_ev == NULL && (conn_left_out_ev = evtimer_new(
	    sensor_base(), conn_left_out_cb, NULL)) == NULL)
		return;
	if (!evtimer_pending(conn_left_out_ev, NULL))
		evtimer_add(conn_left_out_ev, &tv);
}

void
conn_limit_flush(void)
{
	struct event_buf	ev;
	size_t			i;

	conn_udp_drops();
	for (i = 0; i < CONN_LIMIT_KINDS && conn_left_out[i].limit != NULL;
	    i++) {
		if (conn_left_out[i].left_out == 0)
			continue;
		event_begin(&ev, "sundew.limit.hit");
		event_str(&ev, "limit", conn_left_out[i].limit);
		event_int(&ev, "suppressed",
		    (int64_t)conn_left_out[i].left_out);
		sensor_send_event(&ev);
		conn_left_out[i].left_out = 0;
	}
	if (conn_left_out_ev != NULL)
		evtimer_del(conn_left_out_ev);
}

/*
 * A token bucket over all caps, so that a flood of refused connections
 * cannot become a flood of events: past CONN_LIMIT_RATE a second, a hit
 * is only counted, for its cap's summary.  0 if this one is left out.
 */
static int
conn_limit_take(const char *limit)
{
	static int64_t	window;
	static unsigned	used;
	int64_t		now = event_now_usec() / 1000000;

	sensor_stats()->limit_hits++;
	if (now != window) {
		window = now;
		used = 0;
	}
	if (used >= CONN_LIMIT_RATE) {
		conn_limit_count(limit, 1);
		return 0;
	}
	used++;
	return 1;
}

void
conn_limit_hit(const struct conn *c, const char *limit)
{
	struct event_buf	ev;

	if (!conn_limit_take(limit))
		return;
	conn_event(&ev, c, "sundew.limit.hit");
	event_str(&ev, "limit", limit);
	sensor_send_event(&ev);
}

void
conn_limit_fields(const char *ctx, size_t ctxlen, const char *limit)
{
	struct event_buf	ev;

	if (!conn_limit_take(limit))
		return;
	event_begin(&ev, "sundew.limit.hit");
	event_fields(&ev, ctx, ctxlen);
	event_str(&ev, "limit", limit);
	sensor_send_event(&ev);
}

/* A cap that the listener l hit before any session began: no source. */
void
conn_listener_limit(const struct listener *l, const char *limit)
{
	struct event_buf	ev;
	char			dst[INET6_ADDRSTRLEN];
	uint16_t		dport;

	if (!conn_limit_take(limit))
		return;
	conn_addr(&l->local, dst, sizeof(dst), &dport);
	event_begin(&ev, "sundew.limit.hit");
	event_str(&ev, "dst_ip", dst);
	event_int(&ev, "dst_port", dport);
	event_str(&ev, "transport", l->transport == SERVICE_UDP ?
	    "udp" : "tcp");
	event_str(&ev, "service", l->def->name);
	event_str(&ev, "limit", limit);
	sensor_send_event(&ev);
}

/* The local address of a connection accepted on l. */
static void
conn_local(const struct listener *l, int fd, struct sockaddr_storage *ss)
{
	socklen_t	len = sizeof(*ss);

	if (l->local_fixed)
		*ss = l->local;
	else if (getsockname(fd, (struct sockaddr *)ss, &len) == -1)
		ss->ss_family = AF_UNSPEC;
}

/* A connection refused at a cap: no session to serve, only the event. */
static void
conn_refuse(const struct listener *l, int fd, const struct sockaddr *sa,
    int socklen, const char *limit)
{
	struct conn	tmp;

	memset(&tmp, 0, sizeof(tmp));
	memcpy(&tmp.src, sa, (size_t)socklen <= sizeof(tmp.src) ?
	    (size_t)socklen : sizeof(tmp.src));
	conn_local(l, fd, &tmp.dst);
	tmp.lst = l;
	tmp.udp_fd = -1;
	/* An id of its own: refusals from many sources share no session. */
	conn_new_id(tmp.session);
	conn_limit_hit(&tmp, limit);
	close(fd);
}

static void
conn_trim_cb(evutil_socket_t fd, short what, void *arg)
{
	if (TAILQ_EMPTY(&conn_list))
		malloc_trim(0);
}

/*
 * The last session is gone: a second later, if none came, the heap is
 * handed back, so that the sensor's memory follows its load after a
 * burst (malloc keeps its peak otherwise).
 */
static void
conn_idle(void)
{
	static struct event	*trim;
	struct timeval		 tv = { 1, 0 };

	if (trim == NULL &&
	    (trim = evtimer_new(sensor_base(), conn_trim_cb, NULL)) == NULL)
		return;
	if (!evtimer_pending(trim, NULL))
		evtimer_add(trim, &tv);
}

static void
conn_free(struct conn *c)
{
	TAILQ_REMOVE(&conn_list, c, entry);
	if (TAILQ_EMPTY(&conn_list))
		conn_idle();
	if (c->rev != NULL)
		event_free(c->rev);
	if (c->wev != NULL)
		event_free(c->wev);
	if (c->out != NULL) {
		conn_out_total -= evbuffer_get_length(c->out);
		evbuffer_free(c->out);
	}
	if (c->fd != -1)
		close(c->fd);
	free(c->in);
	free(c->fields);
	connlimit_release(sensor_limits(), sensor_index(),
	    (struct sockaddr *)&c->src);
	sensor_stats()->closed++;
	free(c);
}

/* What the service wrote and the socket did not take yet. */
static size_t
conn_unsent(const struct conn *c)
{
	return c->out != NULL ? evbuffer_get_length(c->out) : 0;
}

/*
 * Frees now, or once what the service wrote last has gone out (at most
 * CONN_LINGER_SECS later, however slowly the peer reads).
 */
static void
conn_release(struct conn *c)
{
	struct timeval	tv = { CONN_LINGER_SECS, 0 };

	if (conn_unsent(c) > 0 && strcmp(c->reason, "shutdown") != 0) {
		c->linger_end_us = event_now_usec() +
		    (int64_t)CONN_LINGER_SECS * 1000000;
		event_del(c->rev);
		event_add(c->wev, &tv);
		return;
	}
	conn_free(c);
}

/*
 * Ends the session: the service's last words, the close event.  Called
 * from inside a service callback, the release waits until it returns.
 */
void
conn_close(struct conn *c, const char *reason)
{
	struct event_buf	ev;

	if (c->closing || c->rev == NULL)	/* a datagram has no session */
		return;
	c->closing = 1;
	c->reason = reason;
	if (c->svc->on_close != NULL)
		c->svc->on_close(c, c->state);
	conn_close_event(&ev, c, reason, event_next_id());
	ledger_closing(sensor_ledger(), c->slot, ev.id);
	sensor_send_event(&ev);
	ledger_release(sensor_ledger(), c->slot);
	c->slot = -1;
	if (c->svc->session_free != NULL)
		c->svc->session_free(c->state);
	c->state = NULL;
	if (!c->in_callback)
		conn_release(c);
}

/* Writes what is queued; 0, or -1 if the connection failed. */
static int
conn_flush(struct conn *c)
{
	size_t	before = conn_unsent(c);
	int	rc = 0;

	while (conn_unsent(c) > 0)
		if (evbuffer_write(c->out, c->fd) == -1) {
			rc = errno == EAGAIN || errno == EINTR ? 0 : -1;
			break;
		}
	conn_out_total -= before - conn_unsent(c);
	return rc;
}

static void
conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;
	struct timeval	 tv;
	int64_t		 left;

	if (c->closing) {		/* lingering: free when done or late */
		left = c->linger_end_us - event_now_usec();
		if ((what & EV_TIMEOUT) || left <= 0 || conn_flush(c) == -1 ||
		    conn_unsent(c) == 0) {
			conn_free(c);
			return;
		}
		/* Progress does not move the end. */
		tv.tv_sec = (time_t)(left / 1000000);
		tv.tv_usec = (suseconds_t)(left % 1000000);
		event_add(c->wev, &tv);
		return;
	}
	if (conn_flush(c) == -1)
		conn_close(c, "error");
	else if (conn_unsent(c) == 0)
		event_del(c->wev);
}

/*
 * Sends at once what the socket takes, and queues the rest behind what
 * is queued already.
 */
int
conn_write(struct conn *c, const void *p, size_t n)
{
	ssize_t	r = 0;

	if (c->rev == NULL) {
		r = sendto(c->udp_fd, p, n, MSG_DONTWAIT,
		    (struct sockaddr *)&c->src, sizeof(c->src));
		if (r > 0)
			c->bytes_out += (uint64_t)r;
		return r == -1 ? -1 : 0;
	}
	if (c->closing)
		return -1;
	/* A broken connection shows at the next read, which closes it. */
	if (conn_unsent(c) == 0 && (r = send(c->fd, p, n,
	    MSG_DONTWAIT | MSG_NOSIGNAL)) == -1) {
		if (errno != EAGAIN && errno != EINTR)
			return -1;
		r = 0;
	}
	if ((size_t)r < n) {
		size_t	more = n - (size_t)r;

		if (conn_unsent(c) + more > CONN_OUT_MAX ||
		    conn_out_total + more > CONN_OUT_BUDGET) {
			conn_limit_hit(c, "output");
			conn_close(c, "output");
			return -1;
		}
		if ((c->out == NULL && (c->out = evbuffer_new()) == NULL) ||
		    evbuffer_add(c->out, (const uint8_t *)p + r, more) == -1 ||
		    event_add(c->wev, NULL) == -1)
			return -1;
		conn_out_total += more;
	}
	c->bytes_out += n;
	return 0;
}

static size_t
conn_max_input(const struct conn *c)
{
	if (c->svc->max_input != 0)
		return c->svc->max_input;
	return (size_t)sensor_conf()->max_input;
}

/*
 * Room for need bytes of input in c->in, in powers of two from 4 KiB up
 * to the most it ever holds (CONN_READ_HIGH left over and one read).  -1
 * if there is none: the session is closed.
 */
static int
conn_in_reserve(struct conn *c, size_t need)
{
	size_t	 ncap;
	uint8_t	*nin;

	if (need <= c->incap)
		return 0;
	for (ncap = c->incap > 0 ? c->incap : 4096; ncap < need; ncap *= 2)
		;
	if (ncap > CONN_READ_HIGH + CONN_READ_BUF)
		ncap = need > CONN_READ_HIGH + CONN_READ_BUF ? need :
		    CONN_READ_HIGH + CONN_READ_BUF;
	if ((nin = realloc(c->in, ncap)) == NULL) {
		conn_close(c, "out_of_memory");
		return -1;
	}
	c->in = nin;
	c->incap = ncap;
	return 0;
}

/*
 * Hands the service what arrived, behind what it left unconsumed last
 * time, and keeps what it leaves now.  -1 if the session ended.
 */
static int
conn_deliver(struct conn *c, const uint8_t *p, size_t n)
{
	const uint8_t	*data = p;
	size_t		 len = n;
	ssize_t		 used;

	c->bytes_in += n;
	if ((uint64_t)(event_now_usec() - c->start_us) >
	    (uint64_t)sensor_conf()->session_timeout * 1000000) {
		conn_limit_hit(c, "session_timeout");
		conn_close(c, "session_timeout");
		return -1;
	}
	if (c->inlen > 0) {
		if (conn_in_reserve(c, c->inlen + n) == -1)
			return -1;
		memcpy(c->in + c->inlen, p, n);
		data = c->in;
		len = c->inlen + n;
	}
	c->in_callback = 1;
	used = c->svc->on_data(c, c->state, data, len);
	c->in_callback = 0;
	if (c->closing) {
		conn_release(c);
		return -1;
	}
	if (used < 0 || (size_t)used > len || len - (size_t)used >
	    CONN_READ_HIGH) {
		sensor_stats()->protocol_errors++;
		log_debug("session %s: %s: protocol error, closing", c->session,
		    c->lst->def->name);
		conn_close(c, "protocol_error");
		return -1;
	}
	if (c->bytes_in > conn_max_input(c)) {
		conn_limit_hit(c, "max_input");
		conn_close(c, "max_input");
		return -1;
	}
	/*
	 * Keep the rest, at the start of c->in.  When data is c->in already,
	 * the rest fits where it is: no realloc moves it.
	 */
	len -= (size_t)used;
	if (len > 0 && conn_in_reserve(c, len) == -1)
		return -1;
	if (len > 0)
		memmove(c->in, data + used, len);
	c->inlen = len;
	if (len == 0 && c->incap > 0) {
		free(c->in);
		c->in = NULL;
		c->incap = 0;
	}
	return 0;
}

/*
 * Reads what is there, until the socket has no more, the service has
 * answered a read short of a buffer, or a few rounds have gone (so that
 * one fast sender cannot hold the sensor), then waits for more with the
 * idle timeout started again.  Called at accept too: an attacker
 * speaks first as a rule, so this often finds the request, and the end,
 * without a trip through epoll.
 */
static void
conn_read(struct conn *c)
{
	static uint8_t	buf[CONN_READ_BUF];
	ssize_t		n;
	uint64_t	out;
	int		round;

	for (round = 0; round < CONN_READ_ROUNDS; round++) {
		n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0) {
			out = c->bytes_out;
			if (conn_deliver(c, buf, (size_t)n) == -1)
				return;
			/*
			 * Less than a buffer, and answered: the socket was
			 * empty and the peer now waits for the answer.  A
			 * recv now would fail with EAGAIN, once a request
			 * of a conversation; what comes next wakes the
			 * loop.  Unanswered, the end may be there already.
			 */
			if ((size_t)n < sizeof(buf) && c->bytes_out != out)
				break;
			continue;
		}
		if (n == 0) {
			conn_close(c, "peer_closed");
			return;
		}
		if (errno == EAGAIN || errno == EINTR)
			break;
		conn_close(c, "error");
		return;
	}
	ledger_bytes(sensor_ledger(), c->slot, c->bytes_in, c->bytes_out);
	/*
	 * libevent counts a timeout from the time it cached when this turn
	 * of the loop began, which a busy turn leaves milliseconds behind:
	 * the idle timeout would end a session that much early.
	 */
	event_base_update_cache_time(sensor_base());
	event_add(c->rev, conn_idle_tv);
}

static void
conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;

	if (what & EV_TIMEOUT)
		conn_close(c, "idle_timeout");
	else
		conn_read(c);
}

void
conn_accept(const struct listener *l, int fd, struct sockaddr *sa,
    int socklen)
{
	const struct config	*conf = sensor_conf();
	struct event_base	*base = sensor_base();
	struct conn		*c;
	struct event_buf	 ev;
	enum connlimit_verdict	 v;

	v = connlimit_acquire(sensor_limits(), sensor_index(), sa);
	if (v != CONNLIMIT_OK) {
		conn_refuse(l, fd, sa, socklen, v == CONNLIMIT_GLOBAL ?
		    "max_connections" : v == CONNLIMIT_SOURCE ? "per_source" :
		    "max_sources");
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->rev = event_new(base, fd, EV_READ | EV_PERSIST, conn_read_cb,
	    c)) == NULL ||
	    (c->wev = event_new(base, fd, EV_WRITE | EV_PERSIST,
	    conn_write_cb, c)) == NULL) {
		log_warnx("conn_accept: out of memory");
		if (c != NULL && c->rev != NULL)
			event_free(c->rev);
		free(c);
		connlimit_release(sensor_limits(), sensor_index(), sa);
		close(fd);
		return;
	}
	c->fd = fd;
	c->lst = l;
	c->svc = proto_emulator(l->def);
	c->udp_fd = -1;
	c->start_us = event_now_usec();
	conn_new_id(c->session);
	memcpy(&c->src, sa, (size_t)socklen <= sizeof(c->src) ?
	    (size_t)socklen : sizeof(c->src));
	conn_local(l, fd, &c->dst);
	conn_fields_keep(c);
	/* Before the open event: a successor must be able to close it. */
	conn_ledger_take(c);
	TAILQ_INSERT_TAIL(&conn_list, c, entry);
	sensor_stats()->accepted++;

	if (conn_idle_tv == NULL) {
		struct timeval	tv = { (time_t)conf->idle_timeout, 0 };

		/* One shared timer queue: O(1) per session, not a heap. */
		conn_idle_tv = event_base_init_common_timeout(base, &tv);
	}
	conn_event(&ev, c, "sundew.connection.open");
	sensor_send_event(&ev);
	if (c->svc->session_new != NULL &&
	    (c->state = c->svc->session_new(c)) == NULL) {
		conn_close(c, "out_of_memory");
		return;
	}
	if (c->svc->on_connect != NULL) {
		c->in_callback = 1;
		c->svc->on_connect(c, c->state);
		c->in_callback = 0;
	}
	if (c->closing)
		conn_release(c);
	else
		conn_read(c);
}

/*
 * The UDP sockets of this sensor and the count of datagrams each had
 * dropped (its receive queue full) when last looked at.
 */
static struct conn_udp {
	const struct listener	*l;
	uint32_t		 drops;
}			*conn_udp;
static size_t		 conn_nudp;

/* The kernel's count of datagrams the socket of l dropped; -1 if unknown. */
static int
conn_udp_read_drops(const struct listener *l, uint32_t *drops)
{
	uint32_t	mem[SK_MEMINFO_VARS];
	socklen_t	len = sizeof(mem);

	if (getsockopt(l->fd, SOL_SOCKET, SO_MEMINFO, mem, &len) == -1 ||
	    len <= SK_MEMINFO_DROPS * sizeof(mem[0]))
		return -1;
	*drops = mem[SK_MEMINFO_DROPS];
	return 0;
}

static struct conn_udp *
conn_udp_find(const struct listener *l)
{
	struct conn_udp	*u;
	size_t		 i;

	for (i = 0; i < conn_nudp; i++)
		if (conn_udp[i].l == l)
			return &conn_udp[i];
	if ((u = reallocarray(conn_udp, conn_nudp + 1, sizeof(*u))) == NULL)
		return NULL;
	conn_udp = u;
	u = &conn_udp[conn_nudp++];
	u->l = l;
	if (conn_udp_read_drops(l, &u->drops) == -1)
		u->drops = 0;
	return u;
}

void
conn_udp_watch(const struct listener *l)
{
	conn_udp_find(l);
}

/* What u's socket dropped since last time, counted as udp_queue hits. */
static void
conn_udp_drops_of(struct conn_udp *u)
{
	uint32_t	drops;

	if (u == NULL || conn_udp_read_drops(u->l, &drops) == -1 ||
	    drops == u->drops)
		return;
	conn_limit_count("udp_queue", (uint32_t)(drops - u->drops));
	u->drops = drops;
}

void
conn_udp_drops(void)
{
	size_t	i;

	for (i = 0; i < conn_nudp; i++)
		conn_udp_drops_of(&conn_udp[i]);
}

/*
 * Datagrams have no session to keep: each becomes a short-lived conn with
 * its own id, handed to the service, then forgotten.  Each one read is
 * either a request (the service's event) or a udp_rate hit; those the
 * kernel dropped because the sensor was behind are udp_queue hits, looked
 * for after each wakeup: a queue that was full when they were dropped is
 * read again, so none is missed.
 */
void
conn_datagrams(const struct listener *l)
{
	static int64_t		 window;
	static unsigned		 used;
	static uint8_t		 buf[65536];
	struct conn		 c;
	socklen_t		 slen;
	ssize_t			 n;
	int			 i;
	int64_t			 now;

	for (i = 0; i < 64; i++) {
		memset(&c, 0, sizeof(c));
		c.slot = -1;
		slen = sizeof(c.src);
		n = recvfrom(l->fd, buf, sizeof(buf), MSG_DONTWAIT,
		    (struct sockaddr *)&c.src, &slen);
		if (n == -1) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn("recvfrom on udp port %u", l->port);
			break;
		}
		now = event_now_usec();
		if (now / 1000000 != window) {
			window = now / 1000000;
			used = 0;
		}
		c.lst = l;
		c.svc = proto_emulator(l->def);
		c.udp_fd = l->fd;
		c.start_us = now;
		c.bytes_in = (uint64_t)n;
		conn_new_id(c.session);
		c.dst = l->local;	/* what getsockname() would say */
		if (++used > CONN_UDP_RATE) {
			conn_limit_hit(&c, "udp_rate");
			continue;
		}
		sensor_stats()->datagrams++;
		c.svc->on_datagram(&c, buf, (size_t)n);
	}
	conn_udp_drops_of(conn_udp_find(l));
}

void
conn_close_all(const char *reason)
{
	struct conn	*c, *next;

	for (c = TAILQ_FIRST(&conn_list); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->closing)
			conn_free(c);	/* lingering: let it go */
		else
			conn_close(c, reason);
	}
}
