/*
 * `sundew replay PCAP [--to ADDR]`: plays the client side of a capture
 * against a sensor.  replay_pcap.c turns the capture into flows and a
 * list of steps; this file walks the steps with plain non-blocking
 * sockets and poll(): open a stream (retrying while it is refused, as a
 * bind shell opens only once the exploit before it has been analysed),
 * send a chunk, wait for the answer where the original client waited,
 * close, send a datagram.  While it waits or writes, it keeps reading
 * every open socket, so that no sensor blocks on a full window.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "replay.h"
#include "replay_int.h"

#define RETRY_EVERY_MS	200
#define CONNECT_MS	3000	/* one connect attempt */
#define STALL_MS	10000	/* a send that makes no progress */
#define UDP_MAP_MAX	8
#define MAX_ACTIVE	1000	/* sockets open at once */

enum conn_state {
	CONN_IDLE,		/* not opened yet */
	CONN_OPEN,
	CONN_HALF,		/* we closed our side */
	CONN_DONE,		/* closed */
	CONN_FAILED,		/* could not connect */
};

/* The replayer's side of one flow. */
struct conn {
	int		 fd;
	enum conn_state	 state;
	uint64_t	 sent;
	uint64_t	 recvd;
	uint64_t	 mark;		/* recvd when we last sent */
	size_t		 chunks;
	int64_t		 last_rx;	/* ms */
	int		 cut;		/* the sensor closed before the end */
	int		 silent;	/* UDP: a wait went unanswered */
	int		 err;		/* errno of the failure */
	const char	*why;		/* what failed */
	/* UDP: the sensor answers from another port (TFTP) */
	uint16_t	 wait_port;	/* the capture's answer port */
	uint16_t	 map_from[UDP_MAP_MAX];
	uint16_t	 map_to[UDP_MAP_MAX];
	size_t		 nmap;
};

struct run {
	const struct replay_capture *cap;
	const struct replay_opts *opts;
	struct conn	*conns;		/* one per flow */
	uint32_t	*active;	/* flows with a socket */
	size_t		 nactive;
	size_t		 max_active;
	uint64_t	 recvd;		/* all flows */
	int64_t		 start;
	struct pollfd	*pfd;
	uint8_t		 buf[65536];
};

static int64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
fmt_addr(int family, const uint8_t *addr, uint16_t port, char *out,
    size_t len)
{
	char	 a[INET6_ADDRSTRLEN];

	if (inet_ntop(family, addr, a, sizeof(a)) == NULL)
		snprintf(a, sizeof(a), "?");
	if (family == AF_INET6)
		snprintf(out, len, "[%s]:%u", a, port);
	else
		snprintf(out, len, "%s:%u", a, port);
}

static void
fmt_to(const struct replay_opts *o, char *out, size_t len)
{
	const struct sockaddr_in	*s4 = (const void *)&o->to;
	const struct sockaddr_in6	*s6 = (const void *)&o->to;

	if (o->to.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &s6->sin6_addr, out, (socklen_t)len);
	else
		inet_ntop(AF_INET, &s4->sin_addr, out, (socklen_t)len);
}

/* opts->to with port set. */
static void
to_port(const struct replay_opts *o, uint16_t port,
    struct sockaddr_storage *ss)
{
	*ss = o->to;
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons(port);
}

/* The port at the sensor for a port of the capture, or -1. */
static long
dest_port(const struct run *r, const struct conn *cn, uint16_t port)
{
	long	 p;
	size_t	 i;

	for (i = 0; i < cn->nmap; i++)
		if (cn->map_from[i] == port)
			return cn->map_to[i];
	p = (long)port + r->opts->port_offset;
	return p >= 1 && p <= 65535 ? p : -1;
}

static void
active_add(struct run *r, uint32_t flow)
{
	r->active[r->nactive++] = flow;
}

static void
conn_close(struct run *r, uint32_t flow, enum conn_state state)
{
	struct conn	*cn = &r->conns[flow];
	size_t		 i;

	if (cn->fd != -1) {
		close(cn->fd);
		cn->fd = -1;
		for (i = 0; i < r->nactive; i++) {
			if (r->active[i] == flow) {
				r->active[i] = r->active[--r->nactive];
				break;
			}
		}
	}
	cn->state = state;
}

/*
 * The capture's server answered from port `port`, and the sensor from
 * `from`: the client's next datagrams to `port` go to `from`, as a TFTP
 * client follows the server to its transfer port.
 */
static void
udp_learn(struct conn *cn, uint16_t port, uint16_t from)
{
	size_t	 i;

	for (i = 0; i < cn->nmap; i++) {
		if (cn->map_from[i] == port) {
			cn->map_to[i] = from;
			return;
		}
	}
	if (cn->nmap < UDP_MAP_MAX) {
		cn->map_from[cn->nmap] = port;
		cn->map_to[cn->nmap++] = from;
	}
}

/* Read what the sensor sent on one socket; close it at its end. */
static void
conn_read(struct run *r, uint32_t flow)
{
	const struct replay_flow	*f = &r->cap->flows[flow];
	struct conn			*cn = &r->conns[flow];
	struct sockaddr_storage		 ss;
	socklen_t			 sl;
	uint16_t			 from;
	ssize_t				 n;

	if (f->proto == IPPROTO_UDP) {
		sl = sizeof(ss);
		n = recvfrom(cn->fd, r->buf, sizeof(r->buf), MSG_DONTWAIT,
		    (struct sockaddr *)&ss, &sl);
		if (n < 0)
			return;		/* an ICMP error: nothing to read */
		from = ntohs(ss.ss_family == AF_INET6 ?
		    ((struct sockaddr_in6 *)&ss)->sin6_port :
		    ((struct sockaddr_in *)&ss)->sin_port);
		if (cn->wait_port != 0)
			udp_learn(cn, cn->wait_port, from);
	} else {
		n = recv(cn->fd, r->buf, sizeof(r->buf), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR))
			return;
		if (n <= 0) {
			conn_close(r, flow, CONN_DONE);
			return;
		}
	}
	cn->recvd += (uint64_t)n;
	r->recvd += (uint64_t)n;
	cn->last_rx = now_ms();
}

/*
 * Poll every socket of the replay for up to timeout_ms and read what
 * arrives.  xfd, if not -1, is polled too for xevents; its revents are
 * returned (0 on timeout).
 */
static short
pump(struct run *r, int64_t timeout_ms, int xfd, short xevents)
{
	size_t	 i, n = 0;
	uint32_t flow[MAX_ACTIVE + 1];
	short	 xrev = 0;
	int	 rc;

	if (timeout_ms < 0)
		timeout_ms = 0;
	if (timeout_ms > 3600000)
		timeout_ms = 3600000;
	for (i = 0; i < r->nactive; i++) {
		r->pfd[n].fd = r->conns[r->active[i]].fd;
		r->pfd[n].events = POLLIN;
		r->pfd[n].revents = 0;
		n++;
	}
	if (xfd != -1) {
		r->pfd[n].fd = xfd;
		r->pfd[n].events = xevents;
		r->pfd[n].revents = 0;
		n++;
	}
	rc = poll(r->pfd, (nfds_t)n, (int)timeout_ms);
	if (rc <= 0)
		return 0;
	if (xfd != -1)
		xrev = r->pfd[n - 1].revents;
	/* reading may close sockets and reorder the active list */
	for (i = 0, n = 0; i < r->nactive && n <= MAX_ACTIVE; i++)
		if (r->pfd[i].revents != 0)
			flow[n++] = r->active[i];
	for (i = 0; i < n; i++)
		if (r->conns[flow[i]].fd != -1)
			conn_read(r, flow[i]);
	return xrev;
}

static void
vlog(const struct run *r, const char *what, uint32_t flow, size_t len)
{
	const struct replay_flow	*f = &r->cap->flows[flow];
	char				 a[64];

	if (!r->opts->verbose)
		return;
	fmt_addr(f->family, f->client, f->client_port, a, sizeof(a));
	fprintf(stderr, "replay: %7.3f %s %s %s -> %u", (double)(now_ms() -
	    r->start) / 1000, what, f->proto == IPPROTO_TCP ? "tcp" : "udp",
	    a, f->server_port);
	if (len > 0)
		fprintf(stderr, ": %zu bytes", len);
	fprintf(stderr, "\n");
}

/* Make room for one more socket: close the oldest half-closed one. */
static void
evict(struct run *r)
{
	size_t	 i;

	if (r->nactive < r->max_active)
		return;
	for (i = 0; i < r->nactive; i++) {
		if (r->conns[r->active[i]].state == CONN_HALF) {
			conn_close(r, r->active[i], CONN_DONE);
			return;
		}
	}
	conn_close(r, r->active[0], CONN_DONE);
}

/* One connect attempt; 0 or an errno. */
static int
try_connect(struct run *r, struct conn *cn, const struct sockaddr_storage *ss)
{
	socklen_t	 sl = sizeof(int);
	int64_t		 end = now_ms() + CONNECT_MS;
	int		 fd, e = 0;
	short		 rev = 0;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1)
		return errno;
	if (connect(fd, (const struct sockaddr *)ss, r->opts->tolen) == 0) {
		cn->fd = fd;
		return 0;
	}
	if (errno != EINPROGRESS) {
		e = errno;
		close(fd);
		return e;
	}
	while (rev == 0 && now_ms() < end)
		rev = pump(r, end - now_ms(), fd, POLLOUT);
	if (rev == 0)
		e = ETIMEDOUT;
	else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) == -1)
		e = errno;
	if (e != 0) {
		close(fd);
		return e;
	}
	cn->fd = fd;
	return 0;
}

static void
step_open(struct run *r, uint32_t flow)
{
	const struct replay_flow	*f = &r->cap->flows[flow];
	struct conn			*cn = &r->conns[flow];
	struct sockaddr_storage		 ss;
	int64_t				 end;
	long				 port;
	int				 e;

	if (cn->state != CONN_IDLE)
		return;
	if ((port = dest_port(r, cn, f->server_port)) == -1) {
		cn->state = CONN_FAILED;
		cn->err = ERANGE;
		cn->why = "destination port out of range";
		return;
	}
	to_port(r->opts, (uint16_t)port, &ss);
	vlog(r, "open", flow, 0);
	evict(r);
	end = now_ms() + (int64_t)r->opts->retry_s * 1000;
	while ((e = try_connect(r, cn, &ss)) != 0) {
		if (now_ms() >= end || (e != ECONNREFUSED &&
		    e != ETIMEDOUT && e != ECONNRESET && e != EAGAIN)) {
			cn->state = CONN_FAILED;
			cn->err = e;
			cn->why = "connect";
			return;
		}
		/* the port may open once the exploit is analysed */
		pump(r, RETRY_EVERY_MS, -1, 0);
	}
	cn->state = CONN_OPEN;
	cn->last_rx = now_ms();
	cn->mark = cn->recvd;
	active_add(r, flow);
}

static void
step_send(struct run *r, uint32_t flow, const struct replay_chunk *ch)
{
	struct conn	*cn = &r->conns[flow];
	int64_t		 last = now_ms();
	size_t		 off = 0;
	ssize_t		 n;

	if (cn->state == CONN_FAILED || cn->state == CONN_IDLE)
		return;
	vlog(r, "send", flow, ch->len);
	while (off < ch->len) {
		if (cn->fd == -1 || cn->state != CONN_OPEN) {
			cn->cut = 1;
			return;
		}
		n = send(cn->fd, ch->data + off, ch->len - off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			off += (size_t)n;
			cn->sent += (uint64_t)n;
			last = now_ms();
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR)) {
			if (now_ms() - last > STALL_MS) {
				cn->cut = 1;
				cn->err = ETIMEDOUT;
				cn->why = "send";
				conn_close(r, flow, CONN_DONE);
				return;
			}
			pump(r, 100, cn->fd, POLLOUT);
			continue;
		}
		cn->cut = 1;
		cn->err = n < 0 ? errno : EPIPE;
		cn->why = "send";
		conn_close(r, flow, CONN_DONE);
		return;
	}
	cn->chunks++;
	cn->mark = cn->recvd;
}

/*
 * The server answered here in the capture: read until the sensor has
 * been quiet for quiet_ms after the first byte of its answer (which may
 * have come while we were busy with another flow), or for wait_ms if it
 * sends nothing.
 */
static void
step_wait(struct run *r, uint32_t flow, uint16_t port)
{
	struct conn	*cn = &r->conns[flow];
	uint64_t	 before = cn->mark;
	int64_t		 end = now_ms() + r->opts->wait_ms;

	/*
	 * A datagram service that did not answer once will not answer the
	 * rest either (a sensor that records but does not speak TFTP): do
	 * not wait wait_ms for each of its datagrams.
	 */
	if (cn->fd == -1 || cn->silent)
		return;
	vlog(r, "wait", flow, 0);
	cn->wait_port = port;
	while (cn->fd != -1) {
		if (cn->recvd > before)
			end = cn->last_rx + r->opts->quiet_ms;
		if (now_ms() >= end)
			break;
		pump(r, end - now_ms(), -1, 0);
	}
	if (cn->recvd == before && r->cap->flows[flow].proto == IPPROTO_UDP)
		cn->silent = 1;
}

static void
step_close(struct run *r, uint32_t flow)
{
	struct conn	*cn = &r->conns[flow];

	if (cn->fd == -1 || cn->state != CONN_OPEN)
		return;
	vlog(r, "close", flow, 0);
	shutdown(cn->fd, SHUT_WR);
	cn->state = CONN_HALF;
}

static void
step_dgram(struct run *r, uint32_t flow, const struct replay_chunk *ch)
{
	struct conn		*cn = &r->conns[flow];
	struct sockaddr_storage	 ss;
	long			 port;

	if (cn->state == CONN_FAILED)
		return;
	if ((port = dest_port(r, cn, ch->port)) == -1) {
		cn->state = CONN_FAILED;
		cn->err = ERANGE;
		cn->why = "destination port out of range";
		return;
	}
	if (cn->fd == -1) {
		if (cn->state != CONN_IDLE)
			return;
		evict(r);
		cn->fd = socket(r->opts->to.ss_family, SOCK_DGRAM |
		    SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (cn->fd == -1) {
			cn->state = CONN_FAILED;
			cn->err = errno;
			cn->why = "socket";
			return;
		}
		cn->state = CONN_OPEN;
		active_add(r, flow);
	}
	vlog(r, "datagram", flow, ch->len);
	cn->wait_port = 0;
	to_port(r->opts, (uint16_t)port, &ss);
	if (sendto(cn->fd, ch->data, ch->len, 0, (struct sockaddr *)&ss,
	    r->opts->tolen) == -1) {
		/* an ICMP error from an earlier datagram: send again */
		if (sendto(cn->fd, ch->data, ch->len, 0,
		    (struct sockaddr *)&ss, r->opts->tolen) == -1) {
			cn->cut = 1;
			cn->err = errno;
			cn->why = "sendto";
			return;
		}
	}
	cn->sent += ch->len;
	cn->chunks++;
	cn->mark = cn->recvd;
}

/* Read the last answers: until all is quiet, or wait_ms at most. */
static void
drain(struct run *r)
{
	int64_t		 end = now_ms() + r->opts->wait_ms, t;
	uint64_t	 before;

	while (r->nactive > 0 && now_ms() < end) {
		before = r->recvd;
		t = end - now_ms();
		pump(r, t < r->opts->quiet_ms ? t : r->opts->quiet_ms, -1, 0);
		if (r->recvd == before)
			break;
	}
	while (r->nactive > 0)
		conn_close(r, r->active[0], CONN_DONE);
}

static uint64_t
flow_total(const struct replay_flow *f)
{
	uint64_t	 n = 0;
	size_t		 i;

	for (i = 0; i < f->nchunks; i++)
		n += f->chunks[i].len;
	return n;
}

/* One line for a flow; returns 1 if it was to be played and was not. */
static int
report(const struct run *r, uint32_t flow, FILE *out)
{
	const struct replay_flow	*f = &r->cap->flows[flow];
	const struct conn		*cn = &r->conns[flow];
	const char			*proto;
	char				 a[64], b[64], to[INET6_ADDRSTRLEN];
	int				 udp = f->proto == IPPROTO_UDP;

	proto = udp ? "udp" : "tcp";
	fmt_addr(f->family, f->client, f->client_port, a, sizeof(a));
	if (f->skip != REPLAY_PLAY) {
		fmt_addr(f->family, f->server, f->server_port, b, sizeof(b));
		fprintf(out, "skip %s %s -> %s (%s)\n", proto, a, b,
		    replay_pcap_skip_reason(f->skip));
		return 0;
	}
	fprintf(out, "%s %s -> %u: ", proto, a, f->server_port);
	if (cn->state == CONN_FAILED) {
		fmt_to(r->opts, to, sizeof(to));
		if (cn->err == ERANGE)
			fprintf(out, "not played: %s (offset %d)\n", cn->why,
			    r->opts->port_offset);
		else
			fprintf(out, "not played: %s to %s port %ld: %s "
			    "(retried for %d s)\n", cn->why, to,
			    dest_port(r, cn, f->server_port),
			    strerror(cn->err), r->opts->retry_s);
		return 1;
	}
	if (cn->cut || cn->chunks < f->nchunks) {
		fprintf(out, "sent %llu of %llu bytes in %zu of %zu %s, "
		    "received %llu bytes: %s%s%s\n",
		    (unsigned long long)cn->sent,
		    (unsigned long long)flow_total(f), cn->chunks, f->nchunks,
		    udp ? "datagrams" : "chunks",
		    (unsigned long long)cn->recvd,
		    cn->why != NULL ? cn->why : "closed by the sensor",
		    cn->err != 0 ? ": " : "",
		    cn->err != 0 ? strerror(cn->err) : "");
		return 1;
	}
	fprintf(out, "sent %llu bytes in %zu %s%s, received %llu bytes",
	    (unsigned long long)cn->sent, cn->chunks,
	    udp ? "datagram" : "chunk", cn->chunks == 1 ? "" : "s",
	    (unsigned long long)cn->recvd);
	if (f->gap_bytes > 0)
		fprintf(out, " (%llu bytes missing from the capture)",
		    (unsigned long long)f->gap_bytes);
	fprintf(out, "\n");
	return 0;
}

static int
run_steps(struct run *r)
{
	const struct replay_capture	*cap = r->cap;
	const struct replay_step	*st;
	const struct replay_flow	*f;
	size_t				 i;

	for (i = 0; i < cap->nsteps; i++) {
		st = &cap->steps[i];
		if (st->flow >= cap->nflows)
			return -1;
		f = &cap->flows[st->flow];
		if ((st->kind == REPLAY_STEP_SEND ||
		    st->kind == REPLAY_STEP_DGRAM) && st->chunk >= f->nchunks)
			return -1;
		switch (st->kind) {
		case REPLAY_STEP_OPEN:
			step_open(r, st->flow);
			break;
		case REPLAY_STEP_SEND:
			step_send(r, st->flow, &f->chunks[st->chunk]);
			break;
		case REPLAY_STEP_WAIT:
			step_wait(r, st->flow, st->port);
			break;
		case REPLAY_STEP_CLOSE:
			step_close(r, st->flow);
			break;
		case REPLAY_STEP_DGRAM:
			step_dgram(r, st->flow, &f->chunks[st->chunk]);
			break;
		}
	}
	return 0;
}

int
replay_run(const struct replay_capture *cap, const struct replay_opts *opts,
    FILE *out)
{
	struct run	*r;
	struct rlimit	 rl;
	uint64_t	 sent = 0;
	size_t		 i, played = 0, failed = 0, skipped = 0;
	int		 bad;

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->conns = calloc(cap->nflows + 1, sizeof(*r->conns))) == NULL) {
		fprintf(stderr, "replay: out of memory\n");
		free(r);
		return 1;
	}
	/* as many sockets as the system lets us have, within reason */
	r->max_active = 32;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		if (rl.rlim_cur < rl.rlim_max && rl.rlim_cur < 4096) {
			rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
			(void)setrlimit(RLIMIT_NOFILE, &rl);
			(void)getrlimit(RLIMIT_NOFILE, &rl);
		}
		if (rl.rlim_cur > 64)
			r->max_active = rl.rlim_cur - 32 > MAX_ACTIVE ?
			    MAX_ACTIVE : (size_t)rl.rlim_cur - 32;
	}
	r->active = calloc(r->max_active, sizeof(*r->active));
	r->pfd = calloc(r->max_active + 1, sizeof(*r->pfd));
	if (r->active == NULL || r->pfd == NULL) {
		fprintf(stderr, "replay: out of memory\n");
		free(r->active);
		free(r->pfd);
		free(r->conns);
		free(r);
		return 1;
	}
	for (i = 0; i < cap->nflows; i++)
		r->conns[i].fd = -1;
	r->cap = cap;
	r->opts = opts;
	r->start = now_ms();
	bad = run_steps(r) == -1;
	drain(r);
	for (i = 0; i < cap->nflows; i++) {
		if (report(r, (uint32_t)i, out))
			failed++;
		else if (cap->flows[i].skip != REPLAY_PLAY)
			skipped++;
		else
			played++;
		sent += r->conns[i].sent;
	}
	fprintf(out, "summary: %zu played, %zu failed, %zu skipped; sent %llu "
	    "bytes, received %llu bytes in %.1f s\n", played, failed, skipped,
	    (unsigned long long)sent, (unsigned long long)r->recvd,
	    (double)(now_ms() - r->start) / 1000);
	fflush(out);
	free(r->active);
	free(r->pfd);
	free(r->conns);
	free(r);
	return bad || failed > 0 ? 1 : 0;
}

static void
usage(FILE *fp)
{
	fprintf(fp,
"usage: sundew replay PCAP [--to ADDR] [--server IP] [--quiet MS]\n"
"                          [--wait MS] [--retry S] [--port-offset N] [-v]\n"
"Plays the client side of each TCP stream and the UDP datagrams of a\n"
"pcap or pcapng capture at a sensor, in the original order.\n"
"  --to ADDR         the sensor to play at (default 127.0.0.1)\n"
"  --server IP       the sensor's address in the capture (default: the\n"
"                    server of the first TCP stream)\n"
"  --quiet MS        an answer ends after MS ms of silence (default %d)\n"
"  --wait MS         give up on an answer after MS ms (default %d)\n"
"  --retry S         retry a refused connection for S s (default %d)\n"
"  --port-offset N   add N to every destination port\n"
"  -v                print each step on stderr\n"
"Exit status: 0 all played, 1 some could not be, 2 usage or capture "
"error.\n", REPLAY_QUIET_MS, REPLAY_WAIT_MS, REPLAY_RETRY_S);
}

/* An integer option in [min, max]; -1 with a message if it is not. */
static int
parse_int(const char *name, const char *s, long min, long max, int *out)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "replay: %s must be a number from %ld to %ld, "
		    "not \"%s\"\n", name, min, max, s);
		return -1;
	}
	*out = (int)v;
	return 0;
}

/* An IPv4 or IPv6 literal into ss (port 0); -1 with a message if not. */
static int
parse_addr(const char *name, const char *s, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct sockaddr_in	*s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		*len = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		*len = sizeof(*s6);
		return 0;
	}
	fprintf(stderr, "replay: %s wants an IPv4 or IPv6 address, not "
	    "\"%s\"\n", name, s);
	return -1;
}

/*
 * Parse the command line into o and po; returns the index of the
 * capture's name in argv, -1 on a usage error (told), or 0 for --help.
 */
static int
parse_args(int argc, char **argv, struct replay_opts *o,
    struct replay_pcap_opts *po)
{
	static const struct option	 longopts[] = {
		{ "to",		 required_argument, NULL, 't' },
		{ "server",	 required_argument, NULL, 's' },
		{ "quiet",	 required_argument, NULL, 'q' },
		{ "wait",	 required_argument, NULL, 'w' },
		{ "retry",	 required_argument, NULL, 'r' },
		{ "port-offset", required_argument, NULL, 'o' },
		{ "verbose",	 no_argument,	    NULL, 'v' },
		{ "help",	 no_argument,	    NULL, 'h' },
		{ NULL,		 0,		    NULL, 0 }
	};
	struct sockaddr_storage	 ss;
	socklen_t		 sl;
	int			 ch, rc = 0;

	optind = 0;		/* callable more than once (tests) */
	while (rc == 0 &&
	    (ch = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 't':
			rc = parse_addr("--to", optarg, &o->to, &o->tolen);
			break;
		case 's':
			if ((rc = parse_addr("--server", optarg, &ss, &sl)) == -1)
				break;
			po->server_family = ss.ss_family;
			if (ss.ss_family == AF_INET)
				memcpy(po->server, &((struct sockaddr_in *)&ss)->
				    sin_addr, 4);
			else
				memcpy(po->server, &((struct sockaddr_in6 *)&ss)->
				    sin6_addr, 16);
			break;
		case 'q':
			rc = parse_int("--quiet", optarg, 0, 600000,
			    &o->quiet_ms);
			break;
		case 'w':
			rc = parse_int("--wait", optarg, 0, 3600000,
			    &o->wait_ms);
			break;
		case 'r':
			rc = parse_int("--retry", optarg, 0, 3600, &o->retry_s);
			break;
		case 'o':
			rc = parse_int("--port-offset", optarg, -65535, 65535,
			    &o->port_offset);
			break;
		case 'v':
			o->verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (rc == -1)
		return -1;
	if (optind != argc - 1) {
		usage(stderr);
		return -1;
	}
	return optind;
}

int
replay_main(int argc, char **argv)
{
	struct replay_opts	 o;
	struct replay_pcap_opts	 po;
	struct replay_capture	*cap;
	char			 err[512], sensor[INET6_ADDRSTRLEN], to[64];
	int			 i, rc;

	memset(&o, 0, sizeof(o));
	memset(&po, 0, sizeof(po));
	o.quiet_ms = REPLAY_QUIET_MS;
	o.wait_ms = REPLAY_WAIT_MS;
	o.retry_s = REPLAY_RETRY_S;
	parse_addr("--to", "127.0.0.1", &o.to, &o.tolen);
	if ((i = parse_args(argc, argv, &o, &po)) <= 0)
		return i == 0 ? 0 : 2;
	cap = replay_pcap_read_file(argv[i], &po, err, sizeof(err));
	if (cap == NULL) {
		fprintf(stderr, "replay: %s\n", err);
		return 2;
	}
	inet_ntop(cap->sensor_family, cap->sensor, sensor, sizeof(sensor));
	fmt_to(&o, to, sizeof(to));
	printf("replay %s: sensor %s (%s), playing at %s\n", argv[i],
	    sensor, cap->sensor_given ? "--server" : "guessed", to);
	fflush(stdout);
	rc = replay_run(cap, &o, stdout);
	replay_pcap_free(cap);
	return rc;
}
