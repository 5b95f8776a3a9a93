/*
 * bench_load: the load generator of `make bench`.  One thread, one epoll
 * set, non-blocking sockets, and nothing else, so that it costs the server
 * under test as little CPU as possible on a small machine.
 *
 *	bench_load rate [-c CONC] [-t SECONDS] [-b BYTES] [-s LO-HI]
 *	    [-w TIMEOUT] [-v] ADDR PORT
 *	bench_load hold [-n COUNT] [-p PARALLEL] [-s LO-HI] [-w TIMEOUT]
 *	    ADDR PORT
 *	bench_load soak [-n COUNT] [-c CONC] [-m MIX] [-B BIG] [-b BYTES]
 *	    [-o RECORDS] [-s LO-HI] [-w TIMEOUT] [-v] ADDR PORT
 *	bench_load udp [-r RATE] [-k BURST] [-t SECONDS] [-s LO-HI] ADDR
 *	    PORT[,PORT...]
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
 * soak: COUNT connections (default 1,000,000), CONC in flight, each of
 * one kind drawn at random (a fixed seed: every run draws the same) by
 * the weights of MIX (default plain=90,garbage=4,drip=2,idle=2,big=2):
 *	plain	 BYTES (100) of text, shut the write side, read to the end;
 *	garbage	 1-2048 random bytes (one of 256 blobs), then as plain;
 *	drip	 12 bytes, one every 250 ms, then as plain;
 *	idle	 nothing: wait until the server ends it (its idle time-out);
 *	big	 BIG bytes (default 8 MiB) as fast as the server takes them,
 *		 then as plain: past its input cap the server ends it.
 * Every connection ends within TIMEOUT (-w, default 30 s) or counts as a
 * time-out.  Each established connection is written to RECORDS (-o) when
 * it ends: 12 bytes, its source address (network order), its source port,
 * kind and outcome (1 EOF, 2 reset, 3 time-out, 4 other error) and when
 * it ended (ms since the start), the numbers in host order.  Prints
 * "progress STARTED ENDED" every second, then per kind "kind NAME started
 * S established E eof F reset R timeout T other O connect_failed C" and
 * "soak started S established E completed C errors F": completed are the
 * established connections the server ended (EOF or reset).  Default
 * sources: 127.64.0.1-127.79.255.254, a million addresses.
 *
 * udp: datagrams to ADDR at each port of PORT (a list: 69,1434), RATE a
 * second (-r, default 1000) on average, sent in bursts of BURST (-k,
 * default 2000) back to back: a flood, then a pause.  From 64 sockets
 * bound to the first sources.  For SECONDS (-t; 0, the default: until
 * stdin reaches EOF or SIGTERM).  Prints "udp sent N, not sent M" (M: the
 * socket buffer was full).
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
#include <poll.h>
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

#define SOAK_TICK_MS		50	/* drips and time-outs */
#define SOAK_GARBAGE_BLOBS	256
#define SOAK_GARBAGE_MAX	2048
#define SOAK_BIG_BLOCK		65536	/* big sends this block over and over */
#define SOAK_DRIP_BYTES		12
#define SOAK_DRIP_MS		250
#define SOAK_RECORD		12	/* bytes of a record */
#define SOAK_SEED		0x50a4c0ffee5eedULL

#define UDP_SOCKETS		64
#define UDP_MAX_PORTS		8
#define UDP_BLOBS		32
#define UDP_MAX_BYTES		1400

enum load_mode {
	LOAD_RATE = 1,
	LOAD_HOLD,
	LOAD_SOAK,
	LOAD_UDP
};

enum load_state {
	LOAD_FREE = 0,
	LOAD_CONNECTING,
	LOAD_READING,		/* rate: request sent, awaiting the end */
	LOAD_HELD,		/* hold: established, silent */
	LOAD_SENDING,		/* soak: the request is going out */
	LOAD_DRIPPING		/* soak: a byte every SOAK_DRIP_MS */
};

enum soak_kind {
	SOAK_PLAIN = 0,
	SOAK_GARBAGE,
	SOAK_DRIP,
	SOAK_IDLE,
	SOAK_BIG,
	SOAK_NKINDS
};
static const char *const soak_kind_names[SOAK_NKINDS] = {
	"plain", "garbage", "drip", "idle", "big"
};

enum soak_outcome {
	SOAK_EOF = 1,
	SOAK_RESET,
	SOAK_TIMEOUT,
	SOAK_OTHER
};

struct load_conn {
	int		 fd;
	enum load_state	 state;
	uint64_t	 deadline;	/* ms, monotonic */
	/* soak */
	enum soak_kind	 kind;
	uint32_t	 src;		/* network order */
	uint16_t	 sport;		/* host order */
	const uint8_t	*buf;		/* what to send, but for big */
	size_t		 off, len;
	uint64_t	 next_ms;	/* drip: the next byte */
};

struct soak_stats {
	unsigned long long	started;
	unsigned long long	established;
	unsigned long long	outcome[SOAK_OTHER + 1];
	unsigned long long	connect_failed;
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

	/* soak */
	unsigned int		 mix[SOAK_NKINDS];	/* weights */
	unsigned int		 mix_total;
	size_t			 big;
	const char		*records_path;
	FILE			*records;
	uint64_t		 rng;
	uint64_t		 t0;
	struct soak_stats	 ks[SOAK_NKINDS];
	uint8_t			*garbage;	/* SOAK_GARBAGE_BLOBS blobs */
	size_t			 garbage_len[SOAK_GARBAGE_BLOBS];
	uint8_t			*big_block;

	/* udp */
	uint16_t		 ports[UDP_MAX_PORTS];	/* network order */
	int			 nports;
	unsigned long		 udp_rate;
	unsigned long		 udp_burst;
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
	    "[-w TIMEOUT] ADDR PORT\n"
	    "       bench_load soak [-n COUNT] [-c CONC] [-m MIX] [-B BIG] "
	    "[-b BYTES] [-o RECORDS] [-s LO-HI] [-w TIMEOUT] [-v] ADDR PORT\n"
	    "       bench_load udp [-r RATE] [-k BURST] [-t SECONDS] "
	    "[-s LO-HI] ADDR PORT[,PORT...]\n");
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

/* "kind=weight,...": the kinds left out get none. */
static void
load_parse_mix(struct load *ld, const char *s)
{
	char		 buf[256], *tok, *save = NULL, *eq;
	size_t		 k;

	if (strlen(s) >= sizeof(buf)) {
		fprintf(stderr, "bench_load: -m %s: too long\n", s);
		exit(2);
	}
	strcpy(buf, s);
	memset(ld->mix, 0, sizeof(ld->mix));
	ld->mix_total = 0;
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if ((eq = strchr(tok, '=')) == NULL)
			goto bad;
		*eq = '\0';
		for (k = 0; k < SOAK_NKINDS; k++)
			if (strcmp(tok, soak_kind_names[k]) == 0)
				break;
		if (k == SOAK_NKINDS)
			goto bad;
		ld->mix[k] = (unsigned int)load_number(eq + 1, 0, 1000000,
		    "a weight of -m");
		ld->mix_total += ld->mix[k];
	}
	if (ld->mix_total > 0)
		return;
bad:
	fprintf(stderr, "bench_load: -m %s: wants KIND=WEIGHT,... with KIND "
	    "plain, garbage, drip, idle or big, and a weight above 0\n", s);
	exit(2);
}

/* udp: "69,1434". */
static void
load_parse_ports(struct load *ld, const char *s)
{
	char	buf[128], *tok, *save = NULL;

	if (strlen(s) >= sizeof(buf)) {
		fprintf(stderr, "bench_load: %s: too long\n", s);
		exit(2);
	}
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (ld->nports == UDP_MAX_PORTS) {
			fprintf(stderr, "bench_load: %s: at most %d ports\n",
			    s, UDP_MAX_PORTS);
			exit(2);
		}
		ld->ports[ld->nports++] = htons((uint16_t)load_number(tok, 1,
		    65535, "PORT"));
	}
	if (ld->nports == 0)
		load_usage();
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
	else if (strcmp(argv[1], "soak") == 0)
		ld->mode = LOAD_SOAK;
	else if (strcmp(argv[1], "udp") == 0)
		ld->mode = LOAD_UDP;
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
	if (ld->mode == LOAD_SOAK) {
		ld->src_lo = (127u << 24) | (64u << 16) | 1;
		ld->src_hi = (127u << 24) | (79u << 16) | 0xfffe;
		ld->conc = 256;
		ld->count = 1000000;
		ld->timeout_ms = 30000;
		ld->big = 8u << 20;
		load_parse_mix(ld, "plain=90,garbage=4,drip=2,idle=2,big=2");
	}
	if (ld->mode == LOAD_UDP) {
		ld->seconds = 0;
		ld->udp_rate = 1000;
		ld->udp_burst = 2000;
	}

	argc--;
	argv++;
	while ((ch = getopt(argc, argv, "B:b:c:k:m:n:o:p:r:s:t:vw:")) != -1) {
		switch (ch) {
		case 'B':
			ld->big = load_number(optarg, 1, 1ul << 32, "-B BIG");
			break;
		case 'k':
			ld->udp_burst = load_number(optarg, 1, 1000000,
			    "-k BURST");
			break;
		case 'm':
			load_parse_mix(ld, optarg);
			break;
		case 'o':
			ld->records_path = optarg;
			break;
		case 'r':
			ld->udp_rate = load_number(optarg, 1, 10000000,
			    "-r RATE");
			break;
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
			ld->seconds = load_number(optarg,
			    ld->mode == LOAD_UDP ? 0 : 1, 86400, "-t SECONDS");
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
	if (ld->mode == LOAD_UDP) {
		load_parse_target(ld, argv[optind], "1");
		load_parse_ports(ld, argv[optind + 1]);
	} else
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

/* xorshift64*: the soak's draws, the same in every run. */
static uint64_t
load_rand(struct load *ld)
{
	ld->rng ^= ld->rng >> 12;
	ld->rng ^= ld->rng << 25;
	ld->rng ^= ld->rng >> 27;
	return ld->rng * 0x2545f4914f6cdd1dULL;
}

static void *
load_alloc(size_t n)
{
	void	*p = malloc(n);

	if (p == NULL) {
		fprintf(stderr, "bench_load: out of memory (%zu bytes)\n", n);
		exit(1);
	}
	return p;
}

/*
 * The soak's payloads: a pool of garbage blobs (a pool, so that the
 * server's store keeps a few hundred samples, not one per connection) and
 * the block that big sends over and over.
 */
static void
load_init_soak(struct load *ld)
{
	size_t	i, j;

	ld->rng = SOAK_SEED;
	ld->garbage = load_alloc(SOAK_GARBAGE_BLOBS * SOAK_GARBAGE_MAX);
	for (i = 0; i < SOAK_GARBAGE_BLOBS; i++) {
		ld->garbage_len[i] = 1 + load_rand(ld) % SOAK_GARBAGE_MAX;
		for (j = 0; j < ld->garbage_len[i]; j++)
			ld->garbage[i * SOAK_GARBAGE_MAX + j] =
			    (uint8_t)(load_rand(ld) >> 56);
	}
	ld->big_block = load_alloc(SOAK_BIG_BLOCK);
	for (j = 0; j < SOAK_BIG_BLOCK; j++)
		ld->big_block[j] = (uint8_t)(load_rand(ld) >> 56);
	if (ld->records_path != NULL) {
		if ((ld->records = fopen(ld->records_path, "wb")) == NULL) {
			fprintf(stderr, "bench_load: %s: %s\n",
			    ld->records_path, strerror(errno));
			exit(1);
		}
		setvbuf(ld->records, NULL, _IOFBF, 1 << 20);
	}
}

static void
load_init(struct load *ld)
{
	size_t	i;

	if (ld->mode == LOAD_UDP)
		return;
	if (ld->mode == LOAD_SOAK)
		load_init_soak(ld);
	ld->nconns = ld->mode == LOAD_HOLD ? ld->count : ld->conc;
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
 * address.  Returns the slot when started, -1 when this connect failed at
 * once (counted), and exits when the descriptor table is full: that is a
 * mistake in the run's parameters, not a measurement.
 */
static long
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
	c->src = src.sin_addr.s_addr;
	return (long)i;
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
 * Reads (and counts) what the server sends until the socket would block:
 * 0 then, 1 at the end of the connection, or -errno.
 */
static int
load_drain(struct load *ld, struct load_conn *c)
{
	uint8_t	buf[4096];
	ssize_t	n;

	for (;;) {
		n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0) {
			ld->st.bytes_read += (unsigned long long)n;
			continue;
		}
		if (n == 0)
			return 1;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		return -errno;
	}
}

/*
 * rate: reads what the server sends until it ends the connection.
 * Returns 1 when the slot is finished (and counted), 0 to wait for more.
 */
static int
load_rate_read(struct load *ld, struct load_conn *c)
{
	int	r = load_drain(ld, c);

	if (r == 0)
		return 0;
	if (r == 1)
		ld->st.eof++;
	else if (r == -ECONNRESET || r == -EPIPE)
		ld->st.reset++;
	else {
		if (ld->verbose)
			fprintf(stderr, "bench_load: recv: %s\n",
			    strerror(-r));
		ld->st.other++;
		return 1;
	}
	ld->st.completed++;
	return 1;
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

static void	soak_event(struct load *, size_t, uint64_t);

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
		else if (ld->mode == LOAD_SOAK)
			soak_event(ld, (size_t)evs[k].data.u64, load_now_ms());
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

/* ------------------------------------------------------------------ soak */

/* A kind drawn by the weights of -m. */
static enum soak_kind
soak_draw(struct load *ld)
{
	unsigned int	r = (unsigned int)(load_rand(ld) % ld->mix_total);
	int		k;

	for (k = 0; k < SOAK_NKINDS - 1; k++) {
		if (r < ld->mix[k])
			break;
		r -= ld->mix[k];
	}
	return (enum soak_kind)k;
}

static void
soak_record(struct load *ld, const struct load_conn *c,
    enum soak_outcome outcome, uint64_t now)
{
	uint8_t		rec[SOAK_RECORD];
	uint32_t	ms = (uint32_t)(now - ld->t0);

	if (ld->records == NULL)
		return;
	memcpy(rec, &c->src, 4);
	memcpy(rec + 4, &c->sport, 2);
	rec[6] = (uint8_t)c->kind;
	rec[7] = (uint8_t)outcome;
	memcpy(rec + 8, &ms, 4);
	if (fwrite(rec, sizeof(rec), 1, ld->records) != 1) {
		fprintf(stderr, "bench_load: %s: %s\n", ld->records_path,
		    strerror(errno));
		exit(1);
	}
}

/* An established connection ended: counted, recorded, released. */
static void
soak_finish(struct load *ld, size_t i, enum soak_outcome outcome,
    uint64_t now)
{
	struct load_conn	*c = &ld->conns[i];

	ld->ks[c->kind].outcome[outcome]++;
	if (outcome == SOAK_EOF || outcome == SOAK_RESET)
		ld->st.completed++;
	soak_record(ld, c, outcome, now);
	load_release(ld, i);
}

/* The outcome of an error on c's socket. */
static enum soak_outcome
soak_error(struct load *ld, const char *what, int err)
{
	if (err == ECONNRESET || err == EPIPE)
		return SOAK_RESET;
	if (ld->verbose)
		fprintf(stderr, "bench_load: %s: %s\n", what, strerror(err));
	return SOAK_OTHER;
}

/* Reads what the server sends: 0 while it goes on, else the outcome. */
static int
soak_read(struct load *ld, struct load_conn *c)
{
	int	r = load_drain(ld, c);

	if (r == 0)
		return 0;
	return r == 1 ? SOAK_EOF : soak_error(ld, "recv", -r);
}

/* The request is out: the write side is shut, the end awaited. */
static void
soak_sent(struct load_conn *c)
{
	(void)shutdown(c->fd, SHUT_WR);
	c->state = LOAD_READING;
}

/*
 * Sends what the socket takes of the request: 0 while it goes on (or is
 * done: c is then LOAD_READING), else the outcome.
 */
static int
soak_send(struct load *ld, struct load_conn *c)
{
	const uint8_t	*p;
	size_t		 n;
	ssize_t		 r;

	while (c->off < c->len) {
		if (c->kind == SOAK_BIG) {
			p = ld->big_block + c->off % SOAK_BIG_BLOCK;
			n = SOAK_BIG_BLOCK - c->off % SOAK_BIG_BLOCK;
			if (n > c->len - c->off)
				n = c->len - c->off;
		} else {
			p = c->buf + c->off;
			n = c->len - c->off;
		}
		r = send(c->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r > 0) {
			c->off += (size_t)r;
			continue;
		}
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;	/* EPOLLOUT wakes us */
		return soak_error(ld, "send", r == -1 ? errno : EIO);
	}
	soak_sent(c);
	return 0;
}

/* The connect of c succeeded: its request begins. */
static void
soak_established(struct load *ld, struct load_conn *c, uint64_t now)
{
	struct sockaddr_in	sin;
	socklen_t		slen = sizeof(sin);
	size_t			blob;

	ld->pending--;
	ld->ks[c->kind].established++;
	ld->st.established++;
	if (getsockname(c->fd, (struct sockaddr *)&sin, &slen) == 0)
		c->sport = ntohs(sin.sin_port);
	c->off = 0;
	switch (c->kind) {
	case SOAK_PLAIN:
		c->buf = ld->payload;
		c->len = ld->nbytes;
		c->state = LOAD_SENDING;
		break;
	case SOAK_GARBAGE:
		blob = (size_t)(load_rand(ld) % SOAK_GARBAGE_BLOBS);
		c->buf = ld->garbage + blob * SOAK_GARBAGE_MAX;
		c->len = ld->garbage_len[blob];
		c->state = LOAD_SENDING;
		break;
	case SOAK_BIG:
		c->buf = NULL;
		c->len = ld->big;
		c->state = LOAD_SENDING;
		break;
	case SOAK_DRIP:
		c->buf = ld->payload;
		c->len = SOAK_DRIP_BYTES < ld->nbytes ? SOAK_DRIP_BYTES :
		    ld->nbytes;
		c->next_ms = now;
		c->state = LOAD_DRIPPING;
		break;
	default:
		c->state = LOAD_READING;	/* idle: the server ends it */
		break;
	}
}

static void
soak_event(struct load *ld, size_t i, uint64_t now)
{
	struct load_conn	*c = &ld->conns[i];
	int			 err, out = 0;

	if (c->state == LOAD_CONNECTING) {
		if ((err = load_connect_result(c)) != 0) {
			if (ld->verbose)
				fprintf(stderr, "bench_load: connect: %s\n",
				    strerror(err));
			ld->st.connect_failed++;
			ld->ks[c->kind].connect_failed++;
			load_release(ld, i);
			return;
		}
		soak_established(ld, c, now);
	}
	if (c->state == LOAD_SENDING)
		out = soak_send(ld, c);
	/* The server may end it at any time, mid-request too. */
	if (out == 0)
		out = soak_read(ld, c);
	if (out != 0)
		soak_finish(ld, i, (enum soak_outcome)out, now);
}

/* Drips the bytes that are due; ends the connections past their time. */
static void
soak_tick(struct load *ld, uint64_t now)
{
	struct load_conn	*c;
	size_t			 i;
	ssize_t			 r;
	int			 out;

	for (i = 0; i < ld->nconns; i++) {
		c = &ld->conns[i];
		if (c->state == LOAD_FREE)
			continue;
		if (c->deadline <= now) {
			if (c->state == LOAD_CONNECTING) {
				ld->st.timeout++;
				ld->ks[c->kind].connect_failed++;
				load_release(ld, i);
			} else
				soak_finish(ld, i, SOAK_TIMEOUT, now);
			continue;
		}
		if (c->state != LOAD_DRIPPING || c->next_ms > now)
			continue;
		r = send(c->fd, c->buf + c->off, 1, MSG_DONTWAIT |
		    MSG_NOSIGNAL);
		out = 0;
		if (r == 1) {
			c->next_ms = now + SOAK_DRIP_MS;
			if (++c->off == c->len)
				soak_sent(c);
		} else if (r == -1 && errno != EAGAIN && errno != EINTR)
			out = soak_error(ld, "send", errno);
		if (out == 0)
			out = soak_read(ld, c);
		if (out != 0)
			soak_finish(ld, i, (enum soak_outcome)out, now);
	}
}

static void
soak_report(struct load *ld)
{
	unsigned long long	started = 0, errors;
	int			k;

	for (k = 0; k < SOAK_NKINDS; k++) {
		struct soak_stats	*s = &ld->ks[k];

		started += s->started;
		printf("kind %s started %llu established %llu eof %llu reset "
		    "%llu timeout %llu other %llu connect_failed %llu\n",
		    soak_kind_names[k], s->started, s->established,
		    s->outcome[SOAK_EOF], s->outcome[SOAK_RESET],
		    s->outcome[SOAK_TIMEOUT], s->outcome[SOAK_OTHER],
		    s->connect_failed);
	}
	errors = started - ld->st.completed;
	printf("soak started %llu established %llu completed %llu errors "
	    "%llu\n", started, ld->st.established, ld->st.completed, errors);
	fflush(stdout);
}

static void
load_run_soak(struct load *ld)
{
	uint64_t	now, last_tick, last_progress;
	unsigned long	started = 0;
	enum soak_kind	kind;
	long		i;
	size_t		k;

	now = last_tick = last_progress = ld->t0 = load_now_ms();
	while (!load_stop && (started < ld->count || ld->active > 0)) {
		while (started < ld->count && ld->nfree > 0) {
			kind = soak_draw(ld);
			started++;
			ld->ks[kind].started++;
			if ((i = load_start(ld, now)) == -1) {
				ld->ks[kind].connect_failed++;
				continue;
			}
			ld->conns[i].kind = kind;
		}
		load_dispatch(ld, SOAK_TICK_MS);
		now = load_now_ms();
		if (now - last_tick >= SOAK_TICK_MS) {
			soak_tick(ld, now);
			last_tick = now;
		}
		if (now - last_progress >= 1000) {
			unsigned long long	ended = 0;
			int			j;

			for (j = 0; j < SOAK_NKINDS; j++)
				ended += ld->ks[j].connect_failed +
				    ld->ks[j].outcome[SOAK_EOF] +
				    ld->ks[j].outcome[SOAK_RESET] +
				    ld->ks[j].outcome[SOAK_TIMEOUT] +
				    ld->ks[j].outcome[SOAK_OTHER];
			printf("progress %lu %llu\n", started, ended);
			fflush(stdout);
			last_progress = now;
		}
	}
	/* Interrupted: what is left is an error, not a completion. */
	for (k = 0; k < ld->nconns; k++) {
		if (ld->conns[k].state == LOAD_FREE)
			continue;
		if (ld->conns[k].state == LOAD_CONNECTING) {
			ld->ks[ld->conns[k].kind].connect_failed++;
			load_release(ld, k);
		} else
			soak_finish(ld, k, SOAK_OTHER, now);
	}
	if (ld->records != NULL && fclose(ld->records) == EOF) {
		fprintf(stderr, "bench_load: %s: %s\n", ld->records_path,
		    strerror(errno));
		exit(1);
	}
	soak_report(ld);
}

/* ------------------------------------------------------------------- udp */

/*
 * A flood of datagrams: UDP_SOCKETS sockets bound to the first sources,
 * payloads from a pool (a TFTP read request, a SQL Server resolution
 * request, garbage up to UDP_MAX_BYTES), bursts of udp_burst back to back
 * every udp_burst / udp_rate seconds.
 */
static void
load_run_udp(struct load *ld)
{
	static const char	 rrq[] = "\0\001sundew-soak.bin\0octet\0";
	static uint8_t		 blobs[UDP_BLOBS][UDP_MAX_BYTES];
	size_t			 blen[UDP_BLOBS];
	struct sockaddr_in	 src, dst = ld->dst;
	struct pollfd		 pfd;
	unsigned long long	 sent = 0, unsent = 0, n;
	uint64_t		 now, start, next, period;
	int			 fds[UDP_SOCKETS], nfds = 0, i, stdin_open = 1;
	size_t			 j;

	ld->rng = SOAK_SEED ^ 0x5a5a;
	for (i = 0; i < UDP_BLOBS; i++) {
		blen[i] = 1 + load_rand(ld) % UDP_MAX_BYTES;
		for (j = 0; j < blen[i]; j++)
			blobs[i][j] = (uint8_t)(load_rand(ld) >> 56);
	}
	/* A TFTP RRQ and a SQL Server Resolution Protocol request. */
	blen[0] = sizeof(rrq) - 1;
	memcpy(blobs[0], rrq, blen[0]);
	blen[1] = 1;
	blobs[1][0] = 0x02;

	for (i = 0; i < UDP_SOCKETS; i++) {
		int	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);

		if (fd == -1) {
			fprintf(stderr, "bench_load: socket: %s\n",
			    strerror(errno));
			exit(1);
		}
		memset(&src, 0, sizeof(src));
		src.sin_family = AF_INET;
		src.sin_addr.s_addr = htonl(load_next_source(ld));
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) == -1) {
			fprintf(stderr, "bench_load: bind: %s\n",
			    strerror(errno));
			exit(1);
		}
		fds[nfds++] = fd;
	}
	period = ld->udp_burst * 1000 / ld->udp_rate;
	if (period == 0)
		period = 1;
	start = next = load_now_ms();
	pfd.fd = STDIN_FILENO;
	pfd.events = POLLIN;
	while (!load_stop) {
		now = load_now_ms();
		if (ld->seconds > 0 && now - start >= ld->seconds * 1000)
			break;
		if (now >= next) {
			for (n = 0; n < ld->udp_burst; n++) {
				i = (int)(load_rand(ld) % UDP_BLOBS);
				dst.sin_port = ld->ports[n % (unsigned)ld->nports];
				if (sendto(fds[n % UDP_SOCKETS], blobs[i], blen[i],
				    MSG_DONTWAIT, (struct sockaddr *)&dst,
				    sizeof(dst)) == -1)
					unsent++;
				else
					sent++;
			}
			next += period;
			continue;
		}
		if (poll(stdin_open ? &pfd : NULL, stdin_open ? 1 : 0,
		    (int)(next - now)) == 1) {
			char	buf[256];
			ssize_t	r = read(STDIN_FILENO, buf, sizeof(buf));

			if (r == 0 || (r == -1 && errno != EINTR &&
			    errno != EAGAIN)) {
				if (ld->seconds == 0)
					break;
				stdin_open = 0;
			}
		}
	}
	printf("udp sent %llu, not sent %llu\n", sent, unsent);
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
	else if (ld.mode == LOAD_SOAK)
		load_run_soak(&ld);
	else if (ld.mode == LOAD_UDP)
		load_run_udp(&ld);
	else
		load_run_hold(&ld);
	return 0;
}
