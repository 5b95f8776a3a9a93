/*
 * bench_load: the load generator of `make bench`.  One thread, one epoll
 * set, non-blocking sockets, and nothing else, so that it costs the server
 * under test as little CPU as possible on a small machine.
 *
 *	bench_load rate [-c CONC] [-t SECONDS] [-b BYTES] [-s LO-HI]
 *	    [-w TIMEOUT] [-v] ADDR PORT
 *	bench_load hold [-n COUNT] [-p PARALLEL] [-s LO-HI] [-w TIMEOUT]
 *	    ADDR PORT
 *
 * rate: keeps CONC connections in flight for SECONDS; each connects, sends
 * BYTES, shuts its write side, reads until the server ends the connection
 * (EOF or reset), and closes.  After SECONDS no connection is started and
 * the ones in flight are finished, so that every connection the server saw
 * is counted.  Prints one line on stdout:
 *	completed N in T s = R conn/s, errors E
 * where T runs from the first connect to the last close.  A connection is
 * completed when it was established and then ended by the server; an
 * error is a failed connect or one that TIMEOUT seconds did not end.
 *
 * hold: opens COUNT connections, PARALLEL connects at a time, and keeps
 * them open and silent.  When every connect has succeeded or failed it
 * prints "established E of N, errors F"; then it holds them until stdin
 * reaches EOF or SIGTERM/SIGINT arrives, prints "closed by peer K" (how
 * many the server ended meanwhile) and exits.
 *
 * Source addresses go round 127.0.0.LO ... 127.0.0.HI (default 2-254), or
 * any range of 127.0.0.0/8 written in full (-s 127.64.0.1-127.64.255.254),
 * bound before connect with IP_BIND_ADDRESS_NO_PORT so that the ephemeral
 * port range and TIME_WAIT of one address do not limit a run.  ADDR must
 * be in 127.0.0.0/8: this tool never sends a packet anywhere else.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
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

#define LOAD_MAX_EVENTS		1024
#define LOAD_MAX_BYTES		65536
#define LOAD_FD_SPARE		16	/* stdio, epoll, and some slack */
#define LOAD_TICK_MS		100	/* timeout scan interval */
#define LOAD_STDIN_TOKEN	UINT64_MAX

enum load_mode {
	LOAD_RATE = 1,
	LOAD_HOLD
};

enum load_state {
	LOAD_FREE = 0,
	LOAD_CONNECTING,
	LOAD_READING,		/* rate: request sent, awaiting the end */
	LOAD_HELD		/* hold: established, silent */
};

struct load_conn {
	int		 fd;
	enum load_state	 state;
	uint64_t	 deadline;	/* ms, monotonic */
};

struct load_stats {
	unsigned long long	completed;
	unsigned long long	eof;
	unsigned long long	reset;
	unsigned long long	connect_failed;
	unsigned long long	timeout;
	unsigned long long	other;
	unsigned long long	bytes_read;
	unsigned long long	established;	/* hold */
	unsigned long long	peer_closed;	/* hold */
};

struct load {
	enum load_mode		 mode;
	struct sockaddr_in	 dst;
	uint32_t		 src_lo, src_hi, src_next;	/* host order */
	unsigned long		 conc;		/* rate: in flight */
	unsigned long		 count;		/* hold: to open */
	unsigned long		 parallel;	/* hold: connects at once */
	unsigned long		 seconds;
	unsigned long		 timeout_ms;
	size_t			 nbytes;
	int			 verbose;

	int			 efd;
	struct load_conn	*conns;
	size_t			 nconns;
	unsigned long		*free_slots;	/* stack of free indices */
	size_t			 nfree;
	unsigned long		 active;	/* sockets open */
	unsigned long		 pending;	/* connects in progress */
	struct load_stats	 st;
	uint8_t			 payload[LOAD_MAX_BYTES];
};

static volatile sig_atomic_t	load_stop;

static void
load_on_signal(int sig)
{
	(void)sig;
	load_stop = 1;
}

static uint64_t
load_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void __attribute__((noreturn))
load_usage(void)
{
	fprintf(stderr,
	    "usage: bench_load rate [-c CONC] [-t SECONDS] [-b BYTES] "
	    "[-s LO-HI] [-w TIMEOUT] [-v] ADDR PORT\n"
	    "       bench_load hold [-n COUNT] [-p PARALLEL] [-s LO-HI] "
	    "[-w TIMEOUT] ADDR PORT\n");
	exit(2);
}

/* Parses a decimal in [min, max] or exits with a message naming what. */
static unsigned long
load_number(const char *s, unsigned long min, unsigned long max,
    const char *what)
{
	char		*end;
	unsigned long	 v;

	errno = 0;
	if (*s == '-' || *s == '\0')
		goto bad;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		goto bad;
	return v;
bad:
	fprintf(stderr, "bench_load: %s: %s must be a number from %lu to %lu\n",
	    s, what, min, max);
	exit(2);
}

/* One source address of -s: 127.0.0.N for a number N, else dotted. */
static uint32_t
load_parse_source(const char *s, const char *whole)
{
	struct in_addr	in;
	uint32_t	a;

	if (strchr(s, '.') == NULL)
		return (127u << 24) | (uint32_t)load_number(s, 1, 254, "-s");
	if (inet_pton(AF_INET, s, &in) != 1) {
		fprintf(stderr, "bench_load: %s: %s is not an IPv4 address\n",
		    whole, s);
		exit(2);
	}
	a = ntohl(in.s_addr);
	if (a >> 24 != 127) {
		fprintf(stderr, "bench_load: %s: sources must be in "
		    "127.0.0.0/8\n", whole);
		exit(2);
	}
	return a;
}

/*
 * "LO-HI": the source addresses, 127.0.0.LO to 127.0.0.HI for numbers
 * (1..254), or any range of 127.0.0.0/8 in dotted form, e.g.
 * 127.64.0.1-127.64.255.254.  Addresses ending in .0 or .255 are skipped.
 */
static void
load_parse_sources(struct load *ld, const char *s)
{
	char		 lo[INET_ADDRSTRLEN];
	const char	*dash;
	size_t		 len;

	dash = strchr(s, '-');
	len = dash == NULL ? 0 : (size_t)(dash - s);
	if (len == 0 || len >= sizeof(lo)) {
		fprintf(stderr, "bench_load: %s: -s wants LO-HI, e.g. 2-254 "
		    "or 127.64.0.1-127.64.255.254\n", s);
		exit(2);
	}
	memcpy(lo, s, len);
	lo[len] = '\0';
	ld->src_lo = load_parse_source(lo, s);
	ld->src_hi = load_parse_source(dash + 1, s);
	if (ld->src_lo > ld->src_hi) {
		fprintf(stderr, "bench_load: %s: LO is above HI\n", s);
		exit(2);
	}
}

/* The next source address, round the range; never .0 or .255. */
static uint32_t
load_next_source(struct load *ld)
{
	uint32_t	a;

	do {
		a = ld->src_next;
		ld->src_next = a >= ld->src_hi ? ld->src_lo : a + 1;
	} while (((a & 0xff) == 0 || (a & 0xff) == 255) &&
	    ld->src_lo != ld->src_hi);
	return a;
}

static void
load_parse_target(struct load *ld, const char *addr, const char *port)
{
	memset(&ld->dst, 0, sizeof(ld->dst));
	ld->dst.sin_family = AF_INET;
	if (inet_pton(AF_INET, addr, &ld->dst.sin_addr) != 1) {
		fprintf(stderr, "bench_load: %s: not an IPv4 address\n", addr);
		exit(2);
	}
	if ((ntohl(ld->dst.sin_addr.s_addr) >> 24) != 127) {
		fprintf(stderr, "bench_load: %s: refused, the target must be "
		    "in 127.0.0.0/8\n", addr);
		exit(2);
	}
	ld->dst.sin_port = htons((uint16_t)load_number(port, 1, 65535,
	    "PORT"));
}

static void
load_parse(struct load *ld, int argc, char *argv[])
{
	int	ch;

	if (argc < 2)
		load_usage();
	if (strcmp(argv[1], "rate") == 0)
		ld->mode = LOAD_RATE;
	else if (strcmp(argv[1], "hold") == 0)
		ld->mode = LOAD_HOLD;
	else
		load_usage();
	ld->src_lo = (127u << 24) | 2;
	ld->src_hi = (127u << 24) | 254;
	ld->conc = 64;
	ld->count = 10000;
	ld->parallel = 256;
	ld->seconds = 5;
	ld->timeout_ms = 10000;
	ld->nbytes = 100;

	argc--;
	argv++;
	while ((ch = getopt(argc, argv, "b:c:n:p:s:t:vw:")) != -1) {
		switch (ch) {
		case 'b':
			ld->nbytes = load_number(optarg, 0, LOAD_MAX_BYTES,
			    "-b BYTES");
			break;
		case 'c':
			ld->conc = load_number(optarg, 1, 1000000, "-c CONC");
			break;
		case 'n':
			ld->count = load_number(optarg, 1, 10000000,
			    "-n COUNT");
			break;
		case 'p':
			ld->parallel = load_number(optarg, 1, 1000000,
			    "-p PARALLEL");
			break;
		case 's':
			load_parse_sources(ld, optarg);
			break;
		case 't':
			ld->seconds = load_number(optarg, 1, 86400,
			    "-t SECONDS");
			break;
		case 'v':
			ld->verbose = 1;
			break;
		case 'w':
			ld->timeout_ms = 1000 * load_number(optarg, 1, 3600,
			    "-w TIMEOUT");
			break;
		default:
			load_usage();
		}
	}
	if (argc - optind != 2)
		load_usage();
	load_parse_target(ld, argv[optind], argv[optind + 1]);
	ld->src_next = ld->src_lo;
}

/*
 * Raises the soft descriptor limit as far as the hard one (and the hard
 * one if we may) to fit need descriptors; exits with advice if it cannot.
 */
static void
load_raise_nofile(rlim_t need)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		fprintf(stderr, "bench_load: getrlimit: %s\n", strerror(errno));
		exit(1);
	}
	if (rl.rlim_cur >= need)
		return;
	if (rl.rlim_max < need) {
		struct rlimit	want = { need, need };

		if (setrlimit(RLIMIT_NOFILE, &want) == 0)
			return;
	}
	rl.rlim_cur = rl.rlim_max;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < need) {
		fprintf(stderr, "bench_load: %llu connections need %llu "
		    "descriptors but the hard limit is %llu: raise it (ulimit "
		    "-Hn, as root) or run several bench_load processes\n",
		    (unsigned long long)(need - LOAD_FD_SPARE),
		    (unsigned long long)need, (unsigned long long)rl.rlim_max);
		exit(1);
	}
}

static void
load_init(struct load *ld)
{
	size_t	i;

	ld->nconns = ld->mode == LOAD_RATE ? ld->conc : ld->count;
	load_raise_nofile((rlim_t)ld->nconns + LOAD_FD_SPARE);
	ld->conns = calloc(ld->nconns, sizeof(*ld->conns));
	ld->free_slots = calloc(ld->nconns, sizeof(*ld->free_slots));
	if (ld->conns == NULL || ld->free_slots == NULL) {
		fprintf(stderr, "bench_load: out of memory for %zu "
		    "connections\n", ld->nconns);
		exit(1);
	}
	/* Pushed in reverse so that slot 0 is used first. */
	for (i = 0; i < ld->nconns; i++) {
		ld->conns[i].fd = -1;
		ld->free_slots[i] = ld->nconns - 1 - i;
	}
	ld->nfree = ld->nconns;
	for (i = 0; i < ld->nbytes; i++)
		ld->payload[i] = (uint8_t)('a' + i % 26);
	if (ld->nbytes >= 2) {
		ld->payload[ld->nbytes - 2] = '\r';
		ld->payload[ld->nbytes - 1] = '\n';
	}
	if ((ld->efd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		fprintf(stderr, "bench_load: epoll_create1: %s\n",
		    strerror(errno));
		exit(1);
	}
}

/* Closes slot i and puts it back on the free stack. */
static void
load_release(struct load *ld, size_t i)
{
	struct load_conn	*c = &ld->conns[i];

	if (c->state == LOAD_CONNECTING)
		ld->pending--;
	close(c->fd);	/* also leaves the epoll set */
	c->fd = -1;
	c->state = LOAD_FREE;
	ld->active--;
	ld->free_slots[ld->nfree++] = i;
}

/*
 * Starts a non-blocking connect in a free slot from the next source
 * address.  Returns 0 when started, -1 when this connect failed at once
 * (counted), and exits when the descriptor table is full: that is a
 * mistake in the run's parameters, not a measurement.
 */
static int
load_start(struct load *ld, uint64_t now)
{
	struct sockaddr_in	 src;
	struct epoll_event	 ev;
	struct load_conn	*c;
	size_t			 i;
	int			 fd, on = 1;

	if (ld->nfree == 0)
		return -1;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		fprintf(stderr, "bench_load: socket: %s\n", strerror(errno));
		exit(1);
	}
	memset(&src, 0, sizeof(src));
	src.sin_family = AF_INET;
	src.sin_addr.s_addr = htonl(load_next_source(ld));
	(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on,
	    sizeof(on));
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) == -1 ||
	    (connect(fd, (struct sockaddr *)&ld->dst, sizeof(ld->dst)) == -1 &&
	    errno != EINPROGRESS)) {
		if (ld->verbose)
			fprintf(stderr, "bench_load: connect: %s\n",
			    strerror(errno));
		ld->st.connect_failed++;
		close(fd);
		return -1;
	}
	i = ld->free_slots[--ld->nfree];
	c = &ld->conns[i];
	c->fd = fd;
	c->state = LOAD_CONNECTING;
	c->deadline = now + ld->timeout_ms;
	ld->active++;
	ld->pending++;
	/* Edge-triggered: the connect, then each arrival, wakes us once. */
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
	ev.data.u64 = i;
	if (epoll_ctl(ld->efd, EPOLL_CTL_ADD, fd, &ev) == -1) {
		fprintf(stderr, "bench_load: epoll_ctl: %s\n", strerror(errno));
		exit(1);
	}
	return 0;
}

/* 0 if the connect of c succeeded, else the error (counted by caller). */
static int
load_connect_result(struct load_conn *c)
{
	socklen_t	len = sizeof(int);
	int		err = 0;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return errno;
	return err;
}

/*
 * rate: reads what the server sends until it ends the connection.
 * Returns 1 when the slot is finished (and counted), 0 to wait for more.
 */
static int
load_rate_read(struct load *ld, struct load_conn *c)
{
	uint8_t	buf[4096];
	ssize_t	n;

	for (;;) {
		n = recv(c->fd, buf, sizeof(buf), 0);
		if (n > 0) {
			ld->st.bytes_read += (unsigned long long)n;
			continue;
		}
		if (n == 0) {
			ld->st.eof++;
			ld->st.completed++;
			return 1;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		if (errno == ECONNRESET || errno == EPIPE) {
			ld->st.reset++;
			ld->st.completed++;
			return 1;
		}
		if (ld->verbose)
			fprintf(stderr, "bench_load: recv: %s\n",
			    strerror(errno));
		ld->st.other++;
		return 1;
	}
}

/* rate: the connect is done; send the request, then read. */
static int
load_rate_request(struct load *ld, struct load_conn *c)
{
	size_t	off = 0;
	ssize_t	n;
	int	err;

	if ((err = load_connect_result(c)) != 0) {
		if (ld->verbose)
			fprintf(stderr, "bench_load: connect: %s\n",
			    strerror(err));
		ld->st.connect_failed++;
		return 1;
	}
	ld->pending--;
	c->state = LOAD_READING;
	/* A fresh socket's send buffer holds far more than LOAD_MAX_BYTES. */
	while (off < ld->nbytes) {
		n = send(c->fd, ld->payload + off, ld->nbytes - off,
		    MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == ECONNRESET || errno == EPIPE)) {
			/* The server already served and closed. */
			ld->st.reset++;
			ld->st.completed++;
			return 1;
		}
		if (ld->verbose)
			fprintf(stderr, "bench_load: send: %s\n",
			    n == -1 ? strerror(errno) : "buffer full");
		ld->st.other++;
		return 1;
	}
	(void)shutdown(c->fd, SHUT_WR);
	return load_rate_read(ld, c);
}

static void
load_rate_event(struct load *ld, size_t i)
{
	struct load_conn	*c = &ld->conns[i];
	int			 done;

	if (c->state == LOAD_CONNECTING)
		done = load_rate_request(ld, c);
	else
		done = load_rate_read(ld, c);
	if (done)
		load_release(ld, i);
}

/* hold: a connect finished, or a held connection saw something. */
static void
load_hold_event(struct load *ld, size_t i)
{
	struct load_conn	*c = &ld->conns[i];
	uint8_t			 buf[4096];
	ssize_t			 n;
	int			 err;

	if (c->state == LOAD_CONNECTING) {
		if ((err = load_connect_result(c)) != 0) {
			if (ld->verbose)
				fprintf(stderr, "bench_load: connect: %s\n",
				    strerror(err));
			ld->st.connect_failed++;
			load_release(ld, i);
			return;
		}
		ld->pending--;
		c->state = LOAD_HELD;
		ld->st.established++;
	}
	/* A banner is read and dropped; the end of the peer is counted. */
	for (;;) {
		n = recv(c->fd, buf, sizeof(buf), 0);
		if (n > 0)
			continue;
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		ld->st.peer_closed++;
		load_release(ld, i);
		return;
	}
}

/* Ends the connects (and in rate mode, the exchanges) past their time. */
static void
load_expire(struct load *ld, uint64_t now)
{
	size_t	i;

	for (i = 0; i < ld->nconns; i++) {
		struct load_conn	*c = &ld->conns[i];

		if (c->state == LOAD_FREE || c->state == LOAD_HELD ||
		    c->deadline > now)
			continue;
		ld->st.timeout++;
		load_release(ld, i);
	}
}

static void
load_dispatch(struct load *ld, int timeout)
{
	struct epoll_event	evs[LOAD_MAX_EVENTS];
	char			buf[256];
	int			n, k;

	n = epoll_wait(ld->efd, evs, LOAD_MAX_EVENTS, timeout);
	if (n == -1) {
		if (errno == EINTR)
			return;
		fprintf(stderr, "bench_load: epoll_wait: %s\n",
		    strerror(errno));
		exit(1);
	}
	for (k = 0; k < n; k++) {
		if (evs[k].data.u64 == LOAD_STDIN_TOKEN) {
			ssize_t	r = read(STDIN_FILENO, buf, sizeof(buf));

			if (r == 0 || (r == -1 && errno != EINTR &&
			    errno != EAGAIN))
				load_stop = 1;
			continue;
		}
		if (ld->mode == LOAD_RATE)
			load_rate_event(ld, (size_t)evs[k].data.u64);
		else
			load_hold_event(ld, (size_t)evs[k].data.u64);
	}
}

static void
load_run_rate(struct load *ld)
{
	uint64_t	start, stop_at, give_up, now, last_tick;
	double		elapsed;

	start = last_tick = now = load_now_ms();
	stop_at = start + ld->seconds * 1000;
	/* In-flight connections get one more TIMEOUT to finish. */
	give_up = stop_at + ld->timeout_ms;
	while (!load_stop) {
		if (now < stop_at) {
			while (ld->nfree > 0)
				if (load_start(ld, now) == -1)
					break;
		} else if (ld->active == 0)
			break;
		load_dispatch(ld, LOAD_TICK_MS);
		now = load_now_ms();
		if (now - last_tick >= LOAD_TICK_MS) {
			load_expire(ld, now);
			last_tick = now;
		}
		if (now >= give_up)
			break;
	}
	/* Anything left (interrupted run) is an error, not a completion. */
	ld->st.timeout += ld->active;
	elapsed = (double)(load_now_ms() - start) / 1000.0;
	if (elapsed <= 0)
		elapsed = 0.001;
	printf("completed %llu in %.3f s = %.0f conn/s, errors %llu\n",
	    ld->st.completed, elapsed, (double)ld->st.completed / elapsed,
	    ld->st.connect_failed + ld->st.timeout + ld->st.other);
	fflush(stdout);
	fprintf(stderr, "bench_load: eof %llu, reset %llu, connect failed "
	    "%llu, timeout %llu, other %llu, bytes read %llu\n",
	    ld->st.eof, ld->st.reset, ld->st.connect_failed, ld->st.timeout,
	    ld->st.other, ld->st.bytes_read);
}

/* Watches stdin for EOF when it can be watched (not a file, /dev/null). */
static void
load_watch_stdin(struct load *ld)
{
	struct epoll_event	ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u64 = LOAD_STDIN_TOKEN;
	if (epoll_ctl(ld->efd, EPOLL_CTL_ADD, STDIN_FILENO, &ev) == -1 &&
	    ld->verbose)
		fprintf(stderr, "bench_load: not watching stdin (%s); stop "
		    "with SIGTERM\n", strerror(errno));
}

static void
load_run_hold(struct load *ld)
{
	uint64_t	now, last_tick;
	unsigned long	opened = 0;

	now = last_tick = load_now_ms();
	load_watch_stdin(ld);
	while (!load_stop && (opened < ld->count || ld->pending > 0)) {
		while (opened < ld->count && ld->pending < ld->parallel) {
			opened++;
			(void)load_start(ld, now);
		}
		load_dispatch(ld, LOAD_TICK_MS);
		now = load_now_ms();
		if (now - last_tick >= LOAD_TICK_MS) {
			load_expire(ld, now);
			last_tick = now;
		}
	}
	printf("established %llu of %lu, errors %llu\n", ld->st.established,
	    ld->count, ld->st.connect_failed + ld->st.timeout);
	fflush(stdout);
	while (!load_stop)
		load_dispatch(ld, -1);
	printf("closed by peer %llu\n", ld->st.peer_closed);
	fflush(stdout);
}

int
main(int argc, char *argv[])
{
	static struct load	ld;
	struct sigaction	sa;

	load_parse(&ld, argc, argv);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = load_on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: the signal must end epoll_wait. */
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	load_init(&ld);
	if (ld.mode == LOAD_RATE)
		load_run_rate(&ld);
	else
		load_run_hold(&ld);
	return 0;
}
