/*
 * bench_trivial: the baseline of `make bench`.  The least a TCP server can
 * do per connection of the rate benchmark, shaped like sundew's sensors:
 * one process per CPU, each with its own listening socket in one
 * SO_REUSEPORT group (the kernel spreads the connections over them as it
 * does over the sensors), each running SCHED_BATCH as the sensors do.
 * Each connection is accepted, read to its end (the load generator sends
 * 100 bytes and shuts its side) and closed: what sundew's generic service
 * does, less the session, the events and the store.  Reading the request
 * matters: a socket closed with unread input ends in a reset, which is
 * cheaper for both ends than the orderly close sundew does.  No logging,
 * no state but the descriptor.  sundew's connection rate is printed as a
 * ratio to this server's, measured in the same run.
 *
 *	bench_trivial [-n PROCS] [-m smb] PORT [ADDR]
 *
 * -m smb: the least an SMB1 server can do for bench_smb's session.  Each
 * request is answered at once with a fixed reply of the shape bench_smb
 * checks (the request's header turned into a reply with success, and the
 * words, ids and DCERPC PDU type it reads), with no parsing beyond the
 * command, no session state, no events.  A request must arrive whole in
 * one read, as bench_smb's small ones do on loopback; anything else ends
 * the connection.  sundew's SMB1 session rate is printed next to it.
 *
 * PROCS defaults to the CPUs online, as sundew's sensors (sensors: 0).
 * ADDR defaults to 127.0.0.1 and must be in 127.0.0.0/8.  PORT 0 takes a
 * free port.  Once every process listens, prints "listening ADDR PORT
 * PROCS" on stdout; runs until SIGTERM or SIGINT, which it passes on to
 * its processes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define TRIVIAL_BACKLOG		4096	/* sundew's listen.backlog */
#define TRIVIAL_ACCEPT_BATCH	64	/* as a sensor, per wakeup */
#define TRIVIAL_MAX_PROCS	64	/* as sundew's sensors */
#define TRIVIAL_MAX_EVENTS	256
#define TRIVIAL_LISTENER	(-1)	/* epoll token of the listener */

static volatile sig_atomic_t	trivial_stop;
static int			trivial_smb;	/* -m smb */

static void
trivial_on_signal(int sig)
{
	(void)sig;
	trivial_stop = 1;
}

/* Parses a number in [lo, hi]; returns -1 if s is not one. */
static long
trivial_number(const char *s, long lo, long hi)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		return -1;
	return v;
}

/*
 * A bound, listening, non-blocking socket on sin in the SO_REUSEPORT group
 * of its port, or -1 after saying why on stderr.
 */
static int
trivial_listen(const struct sockaddr_in *sin)
{
	int	fd, on = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		fprintf(stderr, "bench_trivial: socket: %s\n", strerror(errno));
		return -1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == -1 ||
	    bind(fd, (const struct sockaddr *)sin, sizeof(*sin)) == -1 ||
	    listen(fd, TRIVIAL_BACKLOG) == -1) {
		fprintf(stderr, "bench_trivial: bind/listen port %u: %s\n",
		    ntohs(sin->sin_port), strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Raises the soft descriptor limit to the hard one; failure is harmless. */
static void
trivial_raise_nofile(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/*
 * Reads what fd holds.  1 when the connection is over (EOF or an error:
 * the caller closes it), 0 when it waits for more.
 */
static int
trivial_drain(int fd)
{
	char	buf[4096];
	ssize_t	n;

	for (;;) {
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0)
			continue;
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		return 1;
	}
}

static void
trivial_put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/*
 * The reply to the SMB1 request m (n bytes, NBSS header included) in out;
 * its length, or 0 for a request that is not one of bench_smb's.
 */
static size_t
trivial_smb_reply(const uint8_t *m, size_t n, uint8_t *out)
{
	uint8_t	*h = out + 4, *w = h + 33, *b;
	size_t	 wct, bcc = 0, data = 0;

	if (n < 4 + 35 || memcmp(m + 4, "\xffSMB", 4) != 0)
		return 0;
	memcpy(h, m + 4, 32);
	memset(h + 5, 0, 4);			/* success */
	h[9] |= 0x80;				/* a reply */
	memset(w, 0, 256);
	switch (h[4]) {
	case 0x72:				/* negotiate: NT LM 0.12 */
		wct = 17;
		w[2] = 3;
		trivial_put16(w + 3, 50);
		trivial_put16(w + 5, 1);
		trivial_put16(w + 7, 16644);
		w[33] = 8;			/* challenge length */
		bcc = 8;
		break;
	case 0x73:				/* session setup: uid */
	case 0x75:				/* tree connect: tid */
		trivial_put16(h + (h[4] == 0x73 ? 28 : 24), 2048);
		wct = 3;
		w[0] = 0xff;
		break;
	case 0xa2:				/* NT create: fid */
		wct = 34;
		w[0] = 0xff;
		trivial_put16(w + 5, 0x4000);
		break;
	case 0x25:				/* TransactNmPipe */
		/* The request's PDU: where its DataOffset says. */
		if (n < 4 + 33 + 26 ||
		    (data = 4 + (size_t)(m[4 + 33 + 24] | m[4 + 33 + 25] << 8))
		    + 3 > n)
			return 0;
		wct = 10;
		trivial_put16(w + 12, 16);		/* data count */
		trivial_put16(w + 14, 32 + 1 + 20 + 2 + 1);
		bcc = 1 + 16;				/* a pad, the PDU */
		break;
	case 0x04:				/* close */
		wct = 0;
		break;
	default:
		return 0;
	}
	h[32] = (uint8_t)wct;
	trivial_put16(w + 2 * wct, (unsigned)bcc);
	b = w + 2 * wct + 2;
	if (h[4] == 0x25) {
		/* A bind (11) gets a bind_ack (12), a request a response. */
		b[1] = 5;
		b[3] = m[data + 2] == 11 ? 12 : 2;
		b[4] = 3;
		b[5] = 0x10;
		b[9] = 16;
	}
	n = 32 + 1 + 2 * wct + 2 + bcc;
	out[0] = 0;
	out[1] = 0;
	out[2] = (uint8_t)(n >> 8);
	out[3] = (uint8_t)n;
	return 4 + n;
}

/*
 * Answers each request that fd holds.  1 when the connection is over (EOF,
 * an error or a request it cannot answer), 0 when it waits for more.
 */
static int
trivial_answer(int fd)
{
	uint8_t		buf[4096], out[512];
	ssize_t		n;
	size_t		off, len, r;

	for (;;) {
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return 1;
		for (off = 0; off < (size_t)n; off += len) {
			if ((size_t)n - off < 4)
				return 1;
			len = 4 + ((size_t)buf[off + 2] << 8 | buf[off + 3]);
			if (buf[off] != 0 || buf[off + 1] != 0 ||
			    len > (size_t)n - off ||
			    (r = trivial_smb_reply(buf + off, len, out)) == 0 ||
			    send(fd, out, r, MSG_NOSIGNAL) != (ssize_t)r)
				return 1;
		}
		/* Answered: the client waits for its answer, as in sundew. */
		return 0;
	}
}

/* Reads what fd holds as the mode says: 1 when the connection is over. */
static int
trivial_serve_fd(int fd)
{
	return trivial_smb ? trivial_answer(fd) : trivial_drain(fd);
}

/*
 * Accepts what is waiting, at most TRIVIAL_ACCEPT_BATCH.  A connection
 * whose request and end are there already (as a rule: the client sends at
 * once) is read and closed on the spot; the others wait in the epoll set.
 */
static void
trivial_accept(int lfd, int efd, unsigned long long *served)
{
	struct epoll_event	ev;
	int			fd, i;

	for (i = 0; i < TRIVIAL_ACCEPT_BATCH; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				fprintf(stderr, "bench_trivial: accept4: %s\n",
				    strerror(errno));
			return;
		}
		if (trivial_serve_fd(fd)) {
			close(fd);
			(*served)++;
			continue;
		}
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN | EPOLLRDHUP;
		ev.data.fd = fd;
		if (epoll_ctl(efd, EPOLL_CTL_ADD, fd, &ev) == -1) {
			fprintf(stderr, "bench_trivial: epoll_ctl: %s\n",
			    strerror(errno));
			close(fd);
		}
	}
}

/* One process of the group: serves lfd until SIGTERM. */
static int
trivial_serve(int lfd, int index)
{
	struct epoll_event	 ev, evs[TRIVIAL_MAX_EVENTS];
	struct sched_param	 sp;
	unsigned long long	 served = 0;
	int			 efd, n, k;

	/* The sensors' policy (sensor.c): give way rather than preempt. */
	memset(&sp, 0, sizeof(sp));
	if (sched_setscheduler(0, SCHED_BATCH, &sp) == -1)
		fprintf(stderr, "bench_trivial: SCHED_BATCH: %s\n",
		    strerror(errno));
	if ((efd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		fprintf(stderr, "bench_trivial: epoll_create1: %s\n",
		    strerror(errno));
		return 1;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.fd = TRIVIAL_LISTENER;
	if (epoll_ctl(efd, EPOLL_CTL_ADD, lfd, &ev) == -1) {
		fprintf(stderr, "bench_trivial: epoll_ctl: %s\n",
		    strerror(errno));
		return 1;
	}
	while (!trivial_stop) {
		n = epoll_wait(efd, evs, TRIVIAL_MAX_EVENTS, -1);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "bench_trivial: epoll_wait: %s\n",
			    strerror(errno));
			return 1;
		}
		for (k = 0; k < n; k++) {
			if (evs[k].data.fd == TRIVIAL_LISTENER) {
				trivial_accept(lfd, efd, &served);
				continue;
			}
			/* close() also takes it out of the epoll set. */
			if (trivial_serve_fd(evs[k].data.fd)) {
				close(evs[k].data.fd);
				served++;
			}
		}
	}
	fprintf(stderr, "bench_trivial: process %d served %llu connections\n",
	    index, served);
	return 0;
}

int
main(int argc, char *argv[])
{
	struct sigaction	 sa;
	sigset_t		 block, orig;
	struct sockaddr_in	 sin;
	socklen_t		 slen = sizeof(sin);
	const char		*addr = "127.0.0.1";
	char			 abuf[INET_ADDRSTRLEN];
	pid_t			 pids[TRIVIAL_MAX_PROCS];
	int			 fds[TRIVIAL_MAX_PROCS];
	long			 nprocs, port;
	int			 ch, i, status, rc = 0;

	nprocs = sysconf(_SC_NPROCESSORS_ONLN);
	if (nprocs < 1)
		nprocs = 1;
	if (nprocs > TRIVIAL_MAX_PROCS)
		nprocs = TRIVIAL_MAX_PROCS;
	while ((ch = getopt(argc, argv, "m:n:")) != -1) {
		if (ch == 'm' && strcmp(optarg, "smb") == 0)
			trivial_smb = 1;
		else if (ch != 'n' || (nprocs = trivial_number(optarg, 1,
		    TRIVIAL_MAX_PROCS)) == -1) {
			fprintf(stderr, "usage: bench_trivial [-n PROCS 1-%d] "
			    "[-m smb] PORT [ADDR]\n", TRIVIAL_MAX_PROCS);
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || argc > 2) {
		fprintf(stderr, "usage: bench_trivial [-n PROCS] [-m smb] PORT "
		    "[ADDR]\n");
		return 2;
	}
	if ((port = trivial_number(argv[0], 0, 65535)) == -1) {
		fprintf(stderr, "bench_trivial: %s: not a port\n", argv[0]);
		return 2;
	}
	if (argc == 2)
		addr = argv[1];
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
		fprintf(stderr, "bench_trivial: %s: not an IPv4 address\n",
		    addr);
		return 2;
	}
	if ((ntohl(sin.sin_addr.s_addr) >> 24) != 127) {
		fprintf(stderr, "bench_trivial: %s: only 127.0.0.0/8 is "
		    "allowed\n", addr);
		return 2;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = trivial_on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: the signal must end epoll_wait. */
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Held until sigsuspend below, so that a signal cannot slip by. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &orig);
	trivial_raise_nofile();

	/*
	 * Every socket is bound before any process starts, so that PORT 0
	 * resolves once (the first socket's port is the group's) and the
	 * "listening" line means that the whole group takes connections.
	 */
	for (i = 0; i < nprocs; i++) {
		if ((fds[i] = trivial_listen(&sin)) == -1)
			return 1;
		if (i == 0 && (getsockname(fds[0], (struct sockaddr *)&sin,
		    &slen) == -1 || inet_ntop(AF_INET, &sin.sin_addr, abuf,
		    sizeof(abuf)) == NULL)) {
			fprintf(stderr, "bench_trivial: getsockname: %s\n",
			    strerror(errno));
			return 1;
		}
	}
	fflush(stdout);
	for (i = 0; i < nprocs; i++) {
		if ((pids[i] = fork()) == -1) {
			fprintf(stderr, "bench_trivial: fork: %s\n",
			    strerror(errno));
			trivial_stop = 1;
			nprocs = i;
			rc = 1;
			break;
		}
		if (pids[i] == 0) {
			int	j;

			prctl(PR_SET_PDEATHSIG, SIGTERM);
			sigprocmask(SIG_SETMASK, &orig, NULL);
			for (j = 0; j < nprocs; j++)
				if (j != i)
					close(fds[j]);
			_exit(trivial_serve(fds[i], i));
		}
	}
	for (i = 0; i < nprocs; i++)
		close(fds[i]);
	if (!trivial_stop) {
		printf("listening %s %ld %ld\n", abuf, (long)ntohs(sin.sin_port),
		    nprocs);
		fflush(stdout);
	}
	while (!trivial_stop)
		sigsuspend(&orig);
	for (i = 0; i < nprocs; i++)
		(void)kill(pids[i], SIGTERM);
	for (i = 0; i < nprocs; i++) {
		while (waitpid(pids[i], &status, 0) == -1 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			rc = 1;
	}
	return rc;
}
