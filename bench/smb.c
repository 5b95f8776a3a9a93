/*
 * bench_smb: whole SMB1 sessions for `make bench`, as a worm's or an
 * administrator's client runs them.  One thread, one epoll set.
 *
 *	bench_smb rate [-c CONC] [-t SECONDS] [-s LO-HI] [-w TIMEOUT] ADDR PORT
 *	bench_smb hold [-n COUNT] [-s LO-HI] [-w TIMEOUT] ADDR PORT
 *
 * A session: negotiate (NT LM 0.12), an anonymous session setup, tree
 * connect to IPC$, NT create of \lsarpc, a DCERPC bind to DSSETUP and
 * one request (opnum 0), each a TransactNmPipe (SMB_COM_TRANSACTION) as
 * Windows and the MS04-011 worm of the Honeynet capture send them, and
 * close: seven exchanges.  Each step waits for its answer, checks that it
 * is the answer to it and not an error (a bind_ack to the bind, a
 * response to the request), and takes the uid, tid and fid from it.
 *
 * rate: keeps CONC sessions in flight for SECONDS, then finishes those in
 * flight, and prints
 *	completed N in T s = R sessions/s, errors E
 * hold: opens COUNT sessions up to the bind_ack and keeps them open;
 * prints "established E of N, errors F" once all are there or failed,
 * then holds them until stdin reaches EOF.
 *
 * Sources go round 127.0.0.LO ... 127.0.0.HI (default 2-254) or any range
 * of 127.0.0.0/8 written in full; ADDR must be in 127.0.0.0/8: this tool
 * sends to nothing else.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT	24
#endif

#define SMB_REPLY_MAX	8192
/* The steps of a session; hold stops after the bind's answer. */
enum step {
	S_NEGOTIATE, S_SETUP, S_TREE, S_CREATE, S_BIND, S_REQUEST, S_CLOSE,
	S_DONE
};
#define S_HELD		S_REQUEST

struct sess {
	int		fd;
	enum step	step;		/* awaiting this step's answer */
	uint16_t	uid, tid, fid;
	uint64_t	deadline;
	uint8_t		in[SMB_REPLY_MAX];
	size_t		inlen;
};

struct bench {
	int			 hold;
	struct sockaddr_in	 dst;
	uint32_t		 src_lo, src_hi, src_next;
	unsigned long		 conc, count, seconds, timeout_ms;
	int			 efd;
	struct sess		*s;
	size_t			 ns;
	unsigned long		 active, started;
	unsigned long long	 completed, errors, held;
};

static uint64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* An SMB1 request in its NBSS frame into out; its length. */
static size_t
smb1(uint8_t *out, const struct sess *s, uint8_t cmd, const uint8_t *w,
    uint8_t wct, const uint8_t *b, size_t bcc)
{
	size_t	len = 32 + 1 + 2 * (size_t)wct + 2 + bcc;
	uint8_t	*h = out + 4;

	put32(out, 0);
	out[1] = (uint8_t)(len >> 16);
	out[2] = (uint8_t)(len >> 8);
	out[3] = (uint8_t)len;
	memset(h, 0, 32);
	memcpy(h, "\xffSMB", 4);
	h[4] = cmd;
	h[9] = 0x18;
	put16(h + 10, 0x4001);		/* NT status, long names; ASCII */
	put16(h + 24, s->tid);
	put16(h + 26, 0xbe0c);
	put16(h + 28, s->uid);
	put16(h + 30, (uint16_t)s->step);
	h[32] = wct;
	memcpy(h + 33, w, 2 * (size_t)wct);
	put16(h + 33 + 2 * wct, (uint16_t)bcc);
	memcpy(h + 35 + 2 * wct, b, bcc);
	return 4 + len;
}

/* DCERPC PDUs: bind to DSSETUP v0.0 (NDR), a request of opnum 0. */
static const uint8_t dce_bind[72] = {
	5, 0, 11, 3, 0x10, 0, 0, 0, 72, 0, 0, 0, 1, 0, 0, 0,
	0xb8, 0x10, 0xb8, 0x10, 0, 0, 0, 0, 1, 0, 0, 0,
	0, 0, 1, 0,
	0x6a, 0x28, 0x19, 0x39, 0x0c, 0xb1, 0xd0, 0x11,
	0x9b, 0xa8, 0x00, 0xc0, 0x4f, 0xd9, 0x2e, 0xf5, 0, 0, 0, 0,
	0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11,
	0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60, 2, 0, 0, 0,
};
static const uint8_t dce_request[28] = {
	5, 0, 0, 3, 0x10, 0, 0, 0, 28, 0, 0, 0, 2, 0, 0, 0,
	4, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
};

/* The request of the session's step into out; its length. */
static size_t
sess_request(struct sess *s, uint8_t *out)
{
	static const char	tree[] = "\0\\\\127.0.0.1\\IPC$\0?????";
	static const char	pipe[] = "\\lsarpc";
	static const char	trans[] = "\\PIPE\\\0\0";	/* and pads */
	uint8_t			w[48], b[128] = { 0 };
	const uint8_t		*pdu;
	size_t			pdulen;

	memset(w, 0, sizeof(w));
	switch (s->step) {
	case S_NEGOTIATE:
		return smb1(out, s, 0x72, w, 0,
		    (const uint8_t *)"\x02NT LM 0.12", 12);
	case S_SETUP:
		w[0] = 0xff;
		put16(w + 4, 4356);
		put16(w + 6, 50);
		put32(w + 22, 0x00000054);
		memcpy(b, "\0\0Unix\0bench\0", 14);
		return smb1(out, s, 0x73, w, 13, b, 14);
	case S_TREE:
		w[0] = 0xff;
		put16(w + 6, 1);
		return smb1(out, s, 0x75, w, 4, (const uint8_t *)tree,
		    sizeof(tree));
	case S_CREATE:
		w[0] = 0xff;
		put16(w + 5, sizeof(pipe) - 1);
		put32(w + 15, 0x0002019f);	/* read, write */
		put32(w + 31, 3);		/* share read, write */
		put32(w + 35, 1);		/* open */
		put32(w + 43, 2);		/* impersonation */
		return smb1(out, s, 0xa2, w, 24, (const uint8_t *)pipe,
		    sizeof(pipe));
	case S_BIND:
	case S_REQUEST:
		pdu = s->step == S_BIND ? dce_bind : dce_request;
		pdulen = s->step == S_BIND ? sizeof(dce_bind) :
		    sizeof(dce_request);
		put16(w + 2, (uint16_t)pdulen);	/* total data */
		put16(w + 6, 4280);		/* max data */
		put16(w + 20, 32 + 1 + 32 + 2 + sizeof(trans));
		put16(w + 22, (uint16_t)pdulen);
		put16(w + 24, 32 + 1 + 32 + 2 + sizeof(trans));
		w[26] = 2;			/* setup words */
		put16(w + 28, 0x0026);		/* TransactNmPipe */
		put16(w + 30, s->fid);
		memcpy(b, trans, sizeof(trans));
		memcpy(b + sizeof(trans), pdu, pdulen);
		return smb1(out, s, 0x25, w, 16, b, sizeof(trans) + pdulen);
	case S_CLOSE:
		put16(w, s->fid);
		put32(w + 2, 0xffffffff);
		return smb1(out, s, 0x04, w, 3, b, 0);
	case S_DONE:
		break;
	}
	return 0;
}

/*
 * The answer to the step: its header says it is (the mid is the step),
 * its status is success (or more data, for a pipe's read).  Takes the
 * ids.  0, or -1.
 */
static int
sess_answer(struct sess *s, const uint8_t *m, size_t n)
{
	uint32_t	status;
	size_t		off;

	if (n < 35 || memcmp(m, "\xffSMB", 4) != 0 ||
	    get16(m + 30) != (uint16_t)s->step)
		return -1;
	status = (uint32_t)get16(m + 5) | (uint32_t)get16(m + 7) << 16;
	if (status != 0 && status != 0x80000005)
		return -1;
	if (s->step == S_SETUP)
		s->uid = get16(m + 28);
	if (s->step == S_TREE)
		s->tid = get16(m + 24);
	if (s->step == S_CREATE) {
		if (m[32] < 34 || n < 33 + 68)
			return -1;
		s->fid = get16(m + 33 + 5);
	}
	if (s->step == S_BIND || s->step == S_REQUEST) {
		/* The data: a bind_ack (12) or a response (2). */
		if (m[32] < 10 || n < 33 + 20)
			return -1;
		off = get16(m + 33 + 14);
		if (get16(m + 33 + 12) < 16 || off < 33 || n < off + 16U ||
		    m[off] != 5 || m[off + 2] != (s->step == S_BIND ? 12 : 2))
			return -1;
	}
	return 0;
}

static int
sess_send(struct sess *s)
{
	uint8_t	buf[512];
	size_t	n = sess_request(s, buf);

	return send(s->fd, buf, n, MSG_NOSIGNAL) == (ssize_t)n ? 0 : -1;
}

static void
bench_release(struct bench *b, struct sess *s, int ok)
{
	close(s->fd);
	s->fd = -1;
	b->active--;
	if (ok)
		b->completed++;
	else
		b->errors++;
}

/* Reads what came; each whole answer moves the session on.  -1: failed. */
static int
sess_read(struct bench *b, struct sess *s)
{
	ssize_t	r;
	size_t	len, room;
	int	more = 1;

	while (more) {
		room = sizeof(s->in) - s->inlen;
		r = recv(s->fd, s->in + s->inlen, room, MSG_DONTWAIT);
		if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (r <= 0)
			return -1;
		s->inlen += (size_t)r;
		/* Less than there was room for: the socket is empty now. */
		more = (size_t)r == room;
		while (s->inlen >= 4) {
			len = (size_t)s->in[1] << 16 | s->in[2] << 8 | s->in[3];
			if (len > sizeof(s->in) - 4)
				return -1;
			if (s->inlen < 4 + len)
				break;
			if (sess_answer(s, s->in + 4, len) == -1)
				return -1;
			memmove(s->in, s->in + 4 + len, s->inlen - 4 - len);
			s->inlen -= 4 + len;
			s->step++;
			if (b->hold && s->step == S_HELD) {
				b->held++;
				return 0;
			}
			if (s->step == S_DONE)
				return 1;
			if (sess_send(s) == -1)
				return -1;
		}
		if (s->inlen == sizeof(s->in))
			return -1;
	}
	return 0;
}

static uint32_t
next_source(struct bench *b)
{
	uint32_t	a = b->src_next;

	b->src_next = a >= b->src_hi ? b->src_lo : a + 1;
	return a;
}

/* Starts a session in a free slot; -1 if it failed at once (counted). */
static int
bench_start(struct bench *b, uint64_t now)
{
	struct sockaddr_in	 src;
	struct epoll_event	 ev;
	struct sess		*s = NULL;
	size_t			 i;
	int			 fd, on = 1;

	for (i = 0; i < b->ns && s == NULL; i++)
		if (b->s[i].fd == -1)
			s = &b->s[i];
	if (s == NULL)
		return -1;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&src, 0, sizeof(src));
	src.sin_family = AF_INET;
	src.sin_addr.s_addr = htonl(next_source(b));
	(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on,
	    sizeof(on));
	b->started++;
	/* Loopback connects complete at once; the session is what counts. */
	if (fd == -1 || bind(fd, (struct sockaddr *)&src, sizeof(src)) == -1 ||
	    connect(fd, (struct sockaddr *)&b->dst, sizeof(b->dst)) == -1) {
		if (fd != -1)
			close(fd);
		b->errors++;
		return -1;
	}
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->deadline = now + b->timeout_ms;
	b->active++;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u64 = (uint64_t)(s - b->s);
	if (epoll_ctl(b->efd, EPOLL_CTL_ADD, fd, &ev) == -1 ||
	    sess_send(s) == -1) {
		bench_release(b, s, 0);
		return -1;
	}
	return 0;
}

/* One turn: what arrived, and the sessions past their time. */
static void
bench_turn(struct bench *b, int timeout)
{
	struct epoll_event	 evs[256];
	struct sess		*s;
	uint64_t		 now;
	int			 n, i, r;
	size_t			 k;

	n = epoll_wait(b->efd, evs, 256, timeout);
	for (i = 0; i < n; i++) {
		s = &b->s[evs[i].data.u64];
		if (s->fd == -1)
			continue;
		if ((r = sess_read(b, s)) != 0)
			bench_release(b, s, r == 1);
	}
	now = now_ms();
	for (k = 0; k < b->ns; k++)
		if (b->s[k].fd != -1 && now > b->s[k].deadline &&
		    !(b->hold && b->s[k].step == S_HELD))
			bench_release(b, &b->s[k], 0);
}

static void
bench_rate(struct bench *b)
{
	uint64_t	t0 = now_ms(), stop = t0 + b->seconds * 1000;
	double		secs;

	while (now_ms() < stop) {
		while (b->active < b->conc && bench_start(b, now_ms()) == 0)
			;
		bench_turn(b, 50);
	}
	while (b->active > 0)
		bench_turn(b, 50);
	secs = (double)(now_ms() - t0) / 1000;
	printf("completed %llu in %.2f s = %.0f sessions/s, errors %llu\n",
	    b->completed, secs, (double)b->completed / secs, b->errors);
}

static void
bench_hold(struct bench *b)
{
	struct pollfd	pfd = { .fd = 0, .events = POLLIN };
	char		buf[256];

	while (b->started < b->count || b->held + b->errors < b->started) {
		while (b->started < b->count && b->active - b->held < 64 &&
		    bench_start(b, now_ms()) == 0)
			;
		bench_turn(b, 50);
	}
	printf("established %llu of %lu, errors %llu\n", b->held, b->count,
	    b->errors);
	fflush(stdout);
	while (poll(&pfd, 1, -1) != -1 && read(0, buf, sizeof(buf)) > 0)
		;
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: bench_smb rate [-c CONC] [-t SECONDS] "
	    "[-s LO-HI] [-w TIMEOUT] ADDR PORT\n"
	    "       bench_smb hold [-n COUNT] [-s LO-HI] [-w TIMEOUT] "
	    "ADDR PORT\n");
	exit(2);
}

static unsigned long
number(const char *s, unsigned long max)
{
	char		*end;
	unsigned long	 v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v == 0 || v > max)
		usage();
	return v;
}

/* "LO-HI" (last octets of 127.0.0.x) or "A.B.C.D-E.F.G.H" in 127/8. */
static void
sources(struct bench *b, const char *s)
{
	char		lo[32], hi[32];
	struct in_addr	a;
	const char	*dash = strchr(s, '-');

	if (dash == NULL || (size_t)(dash - s) >= sizeof(lo) ||
	    strlen(dash + 1) >= sizeof(hi))
		usage();
	memcpy(lo, s, (size_t)(dash - s));
	lo[dash - s] = '\0';
	strcpy(hi, dash + 1);
	if (strchr(lo, '.') == NULL) {
		b->src_lo = 0x7f000000 | (uint32_t)number(lo, 254);
		b->src_hi = 0x7f000000 | (uint32_t)number(hi, 254);
	} else {
		if (inet_pton(AF_INET, lo, &a) != 1)
			usage();
		b->src_lo = ntohl(a.s_addr);
		if (inet_pton(AF_INET, hi, &a) != 1)
			usage();
		b->src_hi = ntohl(a.s_addr);
	}
	if (b->src_lo >> 24 != 127 || b->src_hi >> 24 != 127 ||
	    b->src_hi < b->src_lo)
		usage();
}

int
main(int argc, char *argv[])
{
	struct bench	b;
	struct rlimit	rl;
	size_t		i;
	int		ch;

	memset(&b, 0, sizeof(b));
	b.conc = 16;
	b.count = 1000;
	b.seconds = 5;
	b.timeout_ms = 10000;
	b.src_lo = 0x7f000002;
	b.src_hi = 0x7f0000fe;
	if (argc < 2 || (strcmp(argv[1], "rate") != 0 &&
	    strcmp(argv[1], "hold") != 0))
		usage();
	b.hold = strcmp(argv[1], "hold") == 0;
	argc--;
	argv++;
	while ((ch = getopt(argc, argv, "c:n:t:s:w:")) != -1) {
		switch (ch) {
		case 'c': b.conc = number(optarg, 10000); break;
		case 'n': b.count = number(optarg, 200000); break;
		case 't': b.seconds = number(optarg, 86400); break;
		case 'w': b.timeout_ms = number(optarg, 3600) * 1000; break;
		case 's': sources(&b, optarg); break;
		default: usage();
		}
	}
	if (argc - optind != 2)
		usage();
	b.dst.sin_family = AF_INET;
	b.dst.sin_port = htons((uint16_t)number(argv[optind + 1], 65535));
	if (inet_pton(AF_INET, argv[optind], &b.dst.sin_addr) != 1 ||
	    ntohl(b.dst.sin_addr.s_addr) >> 24 != 127) {
		fprintf(stderr, "bench_smb: %s: not an address in "
		    "127.0.0.0/8\n", argv[optind]);
		return 2;
	}
	b.src_next = b.src_lo;
	b.ns = b.hold ? b.count : b.conc;
	rl.rlim_cur = rl.rlim_max = b.ns + 64;
	if (b.hold && setrlimit(RLIMIT_NOFILE, &rl) == -1)
		fprintf(stderr, "bench_smb: setrlimit: %s\n", strerror(errno));
	if ((b.s = calloc(b.ns, sizeof(*b.s))) == NULL ||
	    (b.efd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		fprintf(stderr, "bench_smb: %s\n", strerror(errno));
		return 1;
	}
	for (i = 0; i < b.ns; i++)
		b.s[i].fd = -1;
	if (b.hold)
		bench_hold(&b);
	else
		bench_rate(&b);
	return 0;
}
