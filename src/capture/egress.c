/*
 * The egress policy (egress.h): where an outbound connection may go, from
 * which address, and how often.
 *
 * The rate limits that must hold across sensors live in one table in
 * shared memory, made by the parent before it forks: URLs (by a keyed
 * 128-bit hash) in flight or resting after a fetch, and the sources that
 * started downloads in the current minute.  Both are set-associative:
 * a bucket of EGRESS_WAYS slots per hash, a bounded scan, no pointers,
 * no deletion chains, so that whatever another sensor wrote there can
 * cost a wrong answer but never a wild access.  A process-shared robust
 * mutex guards it: a sensor that dies holding it hands it to the next
 * taker, and every slot is written so that a half-written one is free or
 * expires.
 */
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "capture.h"
#include "config.h"
#include "egress.h"
#include "listen.h"
#include "log.h"

#define EGRESS_WAYS		8
#define EGRESS_URL_BUCKETS	8192	/* 65536 URLs, 2 MiB */
#define EGRESS_SRC_BUCKETS	4096	/* 32768 sources, 0.75 MiB */
#define EGRESS_WINDOW		60	/* download.per_source is a minute's */
/* A claim whose sensor neither released it nor died is stale after this. */
#define EGRESS_STALE_SLACK	60

enum egress_state {
	EGRESS_FREE = 0,
	EGRESS_FLIGHT,		/* a sensor fetches it; until: stale */
	EGRESS_REST		/* fetched; until: the end of url_interval */
};

struct egress_url {
	uint64_t	hash[2];
	uint32_t	until;		/* seconds of egress_now() */
	uint32_t	state;
	int32_t		owner;		/* the pid of the sensor in flight */
	uint32_t	pad;
};

struct egress_src {
	uint32_t	addr[4];	/* IPv4 as ::ffff:a.b.c.d */
	uint32_t	start;		/* of its window; 0 with count 0: free */
	uint32_t	count;		/* starts in the window */
};

struct egress_shared {
	pthread_mutex_t		mu;
	uint64_t		key[6];		/* url: 0-1, 2-3; source: 4-5 */
	struct egress_url	url[EGRESS_URL_BUCKETS * EGRESS_WAYS];
	struct egress_src	src[EGRESS_SRC_BUCKETS * EGRESS_WAYS];
};

/* This sensor's view. */
static struct {
	const struct config	*conf;
	struct egress_shared	*sh;
	uint32_t		 active;	/* claims not released */
	struct sockaddr_storage	 source;	/* download.source_address */
	socklen_t		 sourcelen;	/* 0: none */
	uint32_t		(*clock)(void);
} eg;

static uint32_t
egress_now(void)
{
	struct timespec	ts;

	if (eg.clock != NULL)
		return eg.clock();
	clock_gettime(CLOCK_MONOTONIC, &ts);
	/* Never 0: a source slot with start 0 and count 0 is free. */
	return (uint32_t)ts.tv_sec + 1;
}

void
egress_set_clock(uint32_t (*now)(void))
{
	eg.clock = now;
}

#define EGRESS_ROTL(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define EGRESS_SIPROUND do {						\
	v0 += v1; v1 = EGRESS_ROTL(v1, 13); v1 ^= v0;			\
	v0 = EGRESS_ROTL(v0, 32);					\
	v2 += v3; v3 = EGRESS_ROTL(v3, 16); v3 ^= v2;			\
	v0 += v3; v3 = EGRESS_ROTL(v3, 21); v3 ^= v0;			\
	v2 += v1; v1 = EGRESS_ROTL(v1, 17); v1 ^= v2;			\
	v2 = EGRESS_ROTL(v2, 32);					\
} while (0)

/*
 * SipHash-2-4 of len bytes under the 128-bit key k: keyed, so that an
 * attacker who picks URLs cannot aim them at one bucket or make two
 * collide.  (OpenSSL's digests are not used here: OpenSSL 3 may read its
 * configuration file on first use, after the chroot, under seccomp.)
 */
static uint64_t
egress_siphash(const uint64_t k[2], const void *data, size_t len)
{
	const uint8_t	*p = data;
	uint64_t	 v0 = 0x736f6d6570736575ULL ^ k[0];
	uint64_t	 v1 = 0x646f72616e646f6dULL ^ k[1];
	uint64_t	 v2 = 0x6c7967656e657261ULL ^ k[0];
	uint64_t	 v3 = 0x7465646279746573ULL ^ k[1];
	uint64_t	 m, last = (uint64_t)len << 56;
	size_t		 i;

	for (; len >= 8; p += 8, len -= 8) {
		for (m = 0, i = 0; i < 8; i++)
			m |= (uint64_t)p[i] << (8 * i);
		v3 ^= m;
		EGRESS_SIPROUND;
		EGRESS_SIPROUND;
		v0 ^= m;
	}
	for (i = 0; i < len; i++)
		last |= (uint64_t)p[i] << (8 * i);
	v3 ^= last;
	EGRESS_SIPROUND;
	EGRESS_SIPROUND;
	v0 ^= last;
	v2 ^= 0xff;
	EGRESS_SIPROUND;
	EGRESS_SIPROUND;
	EGRESS_SIPROUND;
	EGRESS_SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

struct egress_shared *
egress_shared_new(const struct config *conf)
{
	struct egress_shared	*sh;
	pthread_mutexattr_t	 ma;

	(void)conf;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (sh == MAP_FAILED)
		fatal("mmap of the egress table (%zu bytes)", sizeof(*sh));
	if (getrandom(sh->key, sizeof(sh->key), 0) != sizeof(sh->key))
		fatal("getrandom");
	if (pthread_mutexattr_init(&ma) != 0 ||
	    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED) != 0 ||
	    pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST) != 0 ||
	    pthread_mutex_init(&sh->mu, &ma) != 0)
		fatalx("egress table: cannot make its lock");
	pthread_mutexattr_destroy(&ma);
	return sh;
}

void
egress_shared_free(struct egress_shared *sh)
{
	if (sh != NULL)
		munmap(sh, sizeof(*sh));
}

/*
 * Takes the table's lock; the parent waits at most a second (a sensor
 * must not hang it).  0, or -1 if the lock cannot be had.
 */
static int
egress_lock(struct egress_shared *sh, int parent)
{
	struct timespec	ts;
	int		rc;

	if (parent) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec++;
		rc = pthread_mutex_timedlock(&sh->mu, &ts);
	} else
		rc = pthread_mutex_lock(&sh->mu);
	if (rc == EOWNERDEAD) {
		/* Its holder died inside; every slot it wrote is whole. */
		pthread_mutex_consistent(&sh->mu);
		rc = 0;
	}
	if (rc != 0) {
		errno = rc;
		log_warn("egress table lock");
		return -1;
	}
	return 0;
}

static void
egress_unlock(struct egress_shared *sh)
{
	pthread_mutex_unlock(&sh->mu);
}

void
egress_shared_reset(struct egress_shared *sh, pid_t sensor)
{
	size_t	i;

	if (sh == NULL || egress_lock(sh, 1) == -1)
		return;
	for (i = 0; i < EGRESS_URL_BUCKETS * EGRESS_WAYS; i++)
		if (sh->url[i].state == EGRESS_FLIGHT &&
		    sh->url[i].owner == (int32_t)sensor)
			sh->url[i].state = EGRESS_FREE;
	egress_unlock(sh);
}

void
egress_init(const struct config *conf, struct egress_shared *sh)
{
	eg.conf = conf;
	eg.sh = sh;
	eg.active = 0;
	eg.sourcelen = 0;
	if (conf->download_source_address != NULL &&
	    conf->download_source_address[0] != '\0' &&
	    (eg.sourcelen = addr_parse(conf->download_source_address,
	    &eg.source)) == 0)
		fatalx("download.source_address: not an address");
}

uint32_t
egress_active(void)
{
	return eg.active;
}

/*
 * Whether a rule names host explicitly (HOST not empty) for port (a rule
 * for another port leaves that port's connections to the attacker's).
 */
static int
egress_named(const char *host, uint16_t port)
{
	const struct addr_rule	*r;
	size_t			 i;

	for (i = 0; i < eg.conf->download_nconnect_to; i++) {
		r = &eg.conf->download_connect_to[i];
		if (r->host[0] != '\0' && addr_rule_match(r, host, port))
			return 1;
	}
	return 0;
}

void
egress_host(const struct capture_origin *o, const char *host, uint16_t port,
    char *out, size_t outlen)
{
	char	a[64];

	if (o != NULL && addr_is_private(host) && !egress_named(host, port) &&
	    addr_ntop((const struct sockaddr *)&o->attacker, a,
	    sizeof(a)) == 0) {
		snprintf(out, outlen, "%s", a);
		return;
	}
	snprintf(out, outlen, "%s", host);
}

int
egress_map(const char *host, uint16_t port, char *to_host, size_t to_hostlen,
    uint16_t *to_port)
{
	const struct addr_rule	*r;
	size_t			 i, len;

	*to_port = port;
	/* The host itself, without brackets, unless a rule's TO_HOST. */
	len = strlen(host);
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']')
		snprintf(to_host, to_hostlen, "%.*s", (int)(len - 2), host + 1);
	else
		snprintf(to_host, to_hostlen, "%s", host);
	for (i = 0; i < eg.conf->download_nconnect_to; i++) {
		r = &eg.conf->download_connect_to[i];
		if (!addr_rule_match(r, host, port))
			continue;
		if (r->to_port != 0)
			*to_port = r->to_port;
		if (r->to_host[0] == '\0')
			return 0;	/* the policy judges what host is */
		snprintf(to_host, to_hostlen, "%s", r->to_host);
		return 1;
	}
	return 0;
}

const char *
egress_refused(const struct sockaddr *sa)
{
	enum addr_class	cls;
	size_t		i;

	if ((cls = addr_class(sa)) == ADDR_PUBLIC)
		return NULL;
	for (i = 0; i < eg.conf->download_nallow; i++)
		if (addr_cidr_match(&eg.conf->download_allow[i], sa))
			return NULL;
	return addr_class_name(cls);
}

int
egress_socket(const struct sockaddr *dst, int type, const char **why)
{
	int	fd, one = 1;

	if (eg.sourcelen != 0 && eg.source.ss_family != dst->sa_family) {
		*why = "source_family";
		return -1;
	}
	if ((fd = socket(dst->sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		*why = "socket_error";
		return -1;
	}
	(void)listen_ttl(fd, dst->sa_family);
	if (eg.sourcelen != 0) {
		/* The port is picked at connect(): no ephemeral port per bind. */
		if (type == SOCK_STREAM)
			(void)setsockopt(fd, IPPROTO_IP,
			    IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(fd, (const struct sockaddr *)&eg.source,
		    eg.sourcelen) == -1) {
			close(fd);
			*why = "bind_error";
			return -1;
		}
	}
	return fd;
}

int
egress_connect(const char *host, uint16_t port, const char **why)
{
	struct sockaddr_storage	 ss, dst;
	char			 to[64];
	uint16_t		 to_port;
	socklen_t		 len;
	int			 fd, mapped;

	if (!eg.conf->download_enabled) {
		*why = "disabled";
		return -1;
	}
	mapped = egress_map(host, port, to, sizeof(to), &to_port);
	if (addr_parse(to, &ss) == 0) {
		*why = "bad_address";
		return -1;
	}
	len = addr_unmap((struct sockaddr *)&ss, &dst);
	if (to_port == 0) {
		*why = "bad_port";
		return -1;
	}
	if (!mapped && (*why = egress_refused((struct sockaddr *)&dst)) != NULL)
		return -1;
	if (dst.ss_family == AF_INET)
		((struct sockaddr_in *)(void *)&dst)->sin_port = htons(to_port);
	else
		((struct sockaddr_in6 *)(void *)&dst)->sin6_port =
		    htons(to_port);
	if ((fd = egress_socket((struct sockaddr *)&dst, SOCK_STREAM,
	    why)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&dst, len) == -1 &&
	    errno != EINPROGRESS) {
		close(fd);
		*why = "connect_error";
		return -1;
	}
	return fd;
}

/* The URL's bucket (its first slot) and its 128-bit hash. */
static struct egress_url *
egress_url_bucket(const char *url, uint64_t h[2])
{
	size_t	len = strlen(url);

	h[0] = egress_siphash(&eg.sh->key[0], url, len);
	h[1] = egress_siphash(&eg.sh->key[2], url, len);
	return &eg.sh->url[(h[0] % EGRESS_URL_BUCKETS) * EGRESS_WAYS];
}

/*
 * The slot for a new claim of the URL hashed h in bucket b: its own if
 * it is there (*dup when it is live), else a free or expired one, else
 * the one resting the shortest; NULL if all are in flight.
 */
static struct egress_url *
egress_url_slot(struct egress_url *b, const uint64_t h[2], uint32_t now,
    int *dup)
{
	struct egress_url	*u, *pick = NULL;
	size_t			 i;

	*dup = 0;
	for (i = 0; i < EGRESS_WAYS; i++) {
		u = &b[i];
		if (u->state != EGRESS_FREE && u->hash[0] == h[0] &&
		    u->hash[1] == h[1]) {
			*dup = (int32_t)(u->until - now) > 0;
			return u;
		}
	}
	for (i = 0; i < EGRESS_WAYS; i++) {
		u = &b[i];
		if (u->state == EGRESS_FREE || (int32_t)(u->until - now) <= 0)
			return u;
		if (u->state == EGRESS_REST && (pick == NULL ||
		    (int32_t)(u->until - pick->until) < 0))
			pick = u;
	}
	return pick;
}

/*
 * The source slot of a (an address as connlimit keys it) for a new
 * start: its own, else a free one or the one whose window began first.
 * *fresh when its window is over or it is new.  Taking a source's slot
 * gives that source a new minute; it takes more than EGRESS_WAYS sources
 * starting downloads in one bucket within a minute, which the random key
 * keeps an attacker from aiming at.
 */
static struct egress_src *
egress_src_slot(const uint32_t a[4], uint32_t now, int *fresh)
{
	struct egress_src	*b, *s, *pick = NULL;
	size_t			 i;

	b = &eg.sh->src[(egress_siphash(&eg.sh->key[4], a, 16) %
	    EGRESS_SRC_BUCKETS) * EGRESS_WAYS];
	for (i = 0; i < EGRESS_WAYS; i++) {
		s = &b[i];
		if ((s->start != 0 || s->count != 0) &&
		    memcmp(s->addr, a, sizeof(s->addr)) == 0) {
			*fresh = now - s->start >= EGRESS_WINDOW;
			return s;
		}
		if (pick == NULL || (int32_t)(s->start - pick->start) < 0)
			pick = s;
	}
	*fresh = 1;
	return pick;
}

/*
 * The source of o as the table keys it: an IPv4 address, or an IPv6
 * one's /64 (one host's share: an attacker holds all of it).
 */
static void
egress_src_addr(const struct capture_origin *o, uint32_t a[4])
{
	struct sockaddr_storage	ss;

	memset(a, 0, 4 * sizeof(a[0]));
	if (addr_unmap((const struct sockaddr *)&o->attacker, &ss) == 0)
		return;
	if (ss.ss_family == AF_INET) {
		a[2] = htonl(0xffff);
		memcpy(&a[3], &((struct sockaddr_in *)(void *)&ss)->sin_addr,
		    4);
	} else
		memcpy(a, &((struct sockaddr_in6 *)(void *)&ss)->sin6_addr,
		    8);
}

/* The most a fetch with its retries may take, and a margin. */
static uint32_t
egress_stale(void)
{
	const struct config	*c = eg.conf;
	uint64_t		 t;

	t = (uint64_t)c->download_timeout * (uint64_t)(c->download_retries + 1)
	    + (uint64_t)c->download_retry_delay * (uint64_t)c->download_retries
	    + EGRESS_STALE_SLACK;
	return t > INT32_MAX ? INT32_MAX : (uint32_t)t;
}

const char *
egress_claim_url(const struct capture_origin *o, const char *url)
{
	const struct config	*c = eg.conf;
	struct egress_url	*b, *u;
	struct egress_src	*s = NULL;
	const char		*why = NULL;
	uint64_t		 h[2];
	uint32_t		 a[4], now;
	int			 dup, fresh = 0;

	if (!c->download_enabled)
		return "disabled";
	b = egress_url_bucket(url, h);
	egress_src_addr(o, a);
	if (egress_lock(eg.sh, 0) == -1)
		return "url_table_full";
	now = egress_now();
	if ((u = egress_url_slot(b, h, now, &dup)) == NULL)
		why = "url_table_full";
	else if (dup)
		why = "duplicate";
	else if (c->download_max_concurrent != 0 &&
	    eg.active >= c->download_max_concurrent)
		why = "max_concurrent";
	else if (c->download_per_source != 0) {
		s = egress_src_slot(a, now, &fresh);
		if (!fresh && s->count >= c->download_per_source)
			why = "source_rate";
	}
	if (why == NULL) {
		if (s != NULL && fresh) {
			memcpy(s->addr, a, sizeof(s->addr));
			s->start = now;
			s->count = 0;
		}
		if (s != NULL)
			s->count++;
		/* In this order: a half-written slot is free or expires. */
		u->state = EGRESS_FREE;
		u->hash[0] = h[0];
		u->hash[1] = h[1];
		u->until = now + egress_stale();
		u->owner = (int32_t)getpid();
		u->state = EGRESS_FLIGHT;
		eg.active++;
	}
	egress_unlock(eg.sh);
	return why;
}

void
egress_release_url(const char *url, int fetched)
{
	struct egress_url	*b, *u;
	uint64_t		 h[2];
	size_t			 i;
	int32_t			 self = (int32_t)getpid();

	if (eg.active > 0)
		eg.active--;
	else
		log_warnx("egress: a URL released that was not claimed");
	b = egress_url_bucket(url, h);
	if (egress_lock(eg.sh, 0) == -1)
		return;
	for (i = 0; i < EGRESS_WAYS; i++) {
		u = &b[i];
		if (u->state != EGRESS_FLIGHT || u->owner != self ||
		    u->hash[0] != h[0] || u->hash[1] != h[1])
			continue;
		if (fetched) {
			u->until = egress_now() + eg.conf->download_url_interval;
			u->state = EGRESS_REST;
		} else
			u->state = EGRESS_FREE;
		break;
	}
	egress_unlock(eg.sh);
}
