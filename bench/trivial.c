/*
 * bench_trivial: the baseline of `make bench`.  The least a TCP server can
 * do per connection: accept, write a banner, close.  One thread, one epoll
 * set, no logging, no per-connection state.  sundew's connection rate is
 * printed as a ratio to this server's, measured in the same run.
 *
 *	bench_trivial PORT [ADDR]
 *
 * ADDR defaults to 127.0.0.1 and must be in 127.0.0.0/8.  PORT 0 takes a
 * free port.  Once listening, prints "listening ADDR PORT" on stdout; runs
 * until SIGTERM or SIGINT.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define TRIVIAL_BANNER	"220 ready\r\n"
#define TRIVIAL_BACKLOG	65535	/* the kernel caps it at somaxconn */

static volatile sig_atomic_t	trivial_stop;

static void
trivial_on_signal(int sig)
{
	(void)sig;
	trivial_stop = 1;
}

/* Parses a port number (0-65535); returns -1 if s is not one. */
static int
trivial_parse_port(const char *s)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 65535)
		return -1;
	return (int)v;
}

/*
 * A bound, listening, non-blocking socket on addr:port, or -1 after saying
 * why on stderr.
 */
static int
trivial_listen(const char *addr, int port)
{
	struct sockaddr_in	sin;
	int			fd, on = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
		fprintf(stderr, "bench_trivial: %s: not an IPv4 address\n",
		    addr);
		return -1;
	}
	if ((ntohl(sin.sin_addr.s_addr) >> 24) != 127) {
		fprintf(stderr, "bench_trivial: %s: only 127.0.0.0/8 is "
		    "allowed\n", addr);
		return -1;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		fprintf(stderr, "bench_trivial: socket: %s\n", strerror(errno));
		return -1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, TRIVIAL_BACKLOG) == -1) {
		fprintf(stderr, "bench_trivial: bind/listen %s:%d: %s\n",
		    addr, port, strerror(errno));
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
 * Accepts everything that is waiting; each connection gets the banner and
 * is closed at once.  A full descriptor table ends the round early: the
 * connection stays queued until the next one.
 */
static void
trivial_accept_all(int lfd, unsigned long long *served)
{
	static const char	banner[] = TRIVIAL_BANNER;
	int			fd;

	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				fprintf(stderr, "bench_trivial: accept4: %s\n",
				    strerror(errno));
			return;
		}
		/* A short write is of no interest to a baseline. */
		(void)send(fd, banner, sizeof(banner) - 1, MSG_NOSIGNAL);
		close(fd);
		(*served)++;
	}
}

int
main(int argc, char *argv[])
{
	struct epoll_event	 ev, evs[8];
	struct sigaction	 sa;
	struct sockaddr_in	 sin;
	socklen_t		 slen = sizeof(sin);
	unsigned long long	 served = 0;
	const char		*addr = "127.0.0.1";
	char			 abuf[INET_ADDRSTRLEN];
	int			 port, lfd, efd, n;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: bench_trivial PORT [ADDR]\n");
		return 2;
	}
	if ((port = trivial_parse_port(argv[1])) == -1) {
		fprintf(stderr, "bench_trivial: %s: not a port\n", argv[1]);
		return 2;
	}
	if (argc == 3)
		addr = argv[2];

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = trivial_on_signal;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	trivial_raise_nofile();

	if ((lfd = trivial_listen(addr, port)) == -1)
		return 1;
	if (getsockname(lfd, (struct sockaddr *)&sin, &slen) == -1 ||
	    inet_ntop(AF_INET, &sin.sin_addr, abuf, sizeof(abuf)) == NULL) {
		fprintf(stderr, "bench_trivial: getsockname: %s\n",
		    strerror(errno));
		return 1;
	}
	if ((efd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		fprintf(stderr, "bench_trivial: epoll_create1: %s\n",
		    strerror(errno));
		return 1;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.fd = lfd;
	if (epoll_ctl(efd, EPOLL_CTL_ADD, lfd, &ev) == -1) {
		fprintf(stderr, "bench_trivial: epoll_ctl: %s\n",
		    strerror(errno));
		return 1;
	}
	printf("listening %s %u\n", abuf, ntohs(sin.sin_port));
	fflush(stdout);

	while (!trivial_stop) {
		n = epoll_wait(efd, evs, 8, -1);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "bench_trivial: epoll_wait: %s\n",
			    strerror(errno));
			return 1;
		}
		if (n > 0)
			trivial_accept_all(lfd, &served);
	}
	fprintf(stderr, "bench_trivial: served %llu connections\n", served);
	close(efd);
	close(lfd);
	return 0;
}
