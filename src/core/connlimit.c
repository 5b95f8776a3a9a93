#include <netinet/in.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>

#include "connlimit.h"
#include "log.h"

/* The lock's holder when it is the parent; a sensor is its index + 1. */
#define CONNLIMIT_PARENT	UINT32_MAX
/* Tries before each further one yields the CPU (the holder may be off it). */
#define CONNLIMIT_SPINS		64
/* The parent takes the lock from a sensor that held it this long. */
#define CONNLIMIT_STEAL_SECS	1

/* A source: its address, ::ffff:a.b.c.d for IPv4; total 0 is a free slot. */
struct connlimit_slot {
	uint32_t	addr[4];
	uint32_t	total;		/* its connections, all sensors */
};

/*
 * What the processes share, followed by sensor_total[nsensors],
 * slot[nslots] and count[nsensors][nslots].  No pointer: the parent reads
 * it as root.
 */
struct connlimit_shared {
	uint32_t	lock;		/* 0, or its holder */
	uint32_t	total;		/* connections, all sensors */
	uint32_t	nsources;	/* slots in use */
	uint32_t	pad;
};

/* Each process's view of the table: made by the parent, copied by fork. */
struct connlimit {
	struct connlimit_shared	*sh;
	uint32_t		*sensor_total;
	struct connlimit_slot	*slot;
	uint32_t		*count;		/* [sensor * nslots + slot] */
	size_t			 size;		/* of the mapping */
	uint64_t		 key[2];
	int			 nsensors;
	uint32_t		 max_connections;
	uint32_t		 per_source;
	uint32_t		 max_sources;
	uint32_t		 nslots;	/* a power of two; 0: no sources */
};

struct connlimit *
connlimit_create(int nsensors, uint32_t max_connections, uint32_t per_source)
{
	struct connlimit	*l;
	uint8_t			*p;
	size_t			 ns;

	if (nsensors < 1 || (l = calloc(1, sizeof(*l))) == NULL)
		fatalx("connlimit_create: %d sensors", nsensors);
	l->nsensors = nsensors;
	l->max_connections = max_connections;
	l->per_source = per_source;
	if (per_source != 0) {
		/* Every source that may hold a connection, at most half full. */
		l->max_sources = max_connections != 0 &&
		    max_connections < CONNLIMIT_MAX_SOURCES ? max_connections :
		    CONNLIMIT_MAX_SOURCES;
		for (l->nslots = 16; l->nslots < 2 * l->max_sources;
		    l->nslots *= 2)
			;
	}
	ns = l->nslots;
	l->size = sizeof(*l->sh) + (size_t)nsensors * sizeof(uint32_t) +
	    ns * sizeof(struct connlimit_slot) +
	    (size_t)nsensors * ns * sizeof(uint32_t);
	p = mmap(NULL, l->size, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		fatal("mmap of the connection table (%zu bytes)", l->size);
	l->sh = (void *)p;
	l->sensor_total = (void *)(p + sizeof(*l->sh));
	l->slot = (void *)(l->sensor_total + nsensors);
	l->count = (void *)(l->slot + ns);
	if (getrandom(l->key, sizeof(l->key), 0) != sizeof(l->key))
		fatal("getrandom");
	return l;
}

void
connlimit_free(struct connlimit *l)
{
	if (l == NULL)
		return;
	munmap(l->sh, l->size);
	free(l);
}

uint32_t
connlimit_max_sources(const struct connlimit *l)
{
	return l->max_sources;
}

/*
 * Takes the table's lock as self.  The parent (self CONNLIMIT_PARENT)
 * takes it at once from dead, a sensor that died holding it, and from
 * any sensor after CONNLIMIT_STEAL_SECS: it must not hang on a sensor.
 */
static void
connlimit_lock(struct connlimit *l, uint32_t self, uint32_t dead)
{
	struct timespec	start, now;
	unsigned	tries = 0;
	uint32_t	v;

	if (self == CONNLIMIT_PARENT)
		clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		v = 0;
		if (__atomic_compare_exchange_n(&l->sh->lock, &v, self, 0,
		    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			return;
		if (self == CONNLIMIT_PARENT && v != 0 && (v == dead ||
		    (clock_gettime(CLOCK_MONOTONIC, &now) == 0 &&
		    now.tv_sec - start.tv_sec > CONNLIMIT_STEAL_SECS)) &&
		    __atomic_compare_exchange_n(&l->sh->lock, &v, self, 0,
		    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
			if (v != dead)
				log_warnx("sensor %u held the connection table "
				    "for %d s: taken from it", v - 1,
				    CONNLIMIT_STEAL_SECS);
			return;
		}
		if (++tries > CONNLIMIT_SPINS)
			sched_yield();
	}
}

static void
connlimit_unlock(struct connlimit *l)
{
	__atomic_store_n(&l->sh->lock, 0, __ATOMIC_RELEASE);
}

/* A keyed 64-bit mix (splitmix64 finaliser) of the address bytes. */
static uint64_t
connlimit_mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}

/* The key of a source: its address, IPv4 as ::ffff:a.b.c.d. */
static void
connlimit_addr(const struct sockaddr *sa, uint32_t a[4])
{
	memset(a, 0, 4 * sizeof(a[0]));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		a[2] = htonl(0xffff);
		memcpy(&a[3], &sin->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		memcpy(a, &sin6->sin6_addr, 16);
	}
}

/* The slot where a's probe starts; the key keeps attackers from aiming. */
static uint32_t
connlimit_home(const struct connlimit *l, const uint32_t a[4])
{
	uint64_t	h;

	h = connlimit_mix(l->key[0], (uint64_t)a[0] << 32 | a[1]);
	h = connlimit_mix(h ^ l->key[1], (uint64_t)a[2] << 32 | a[3]);
	return (uint32_t)h & (l->nslots - 1);
}

static uint32_t *
connlimit_count(const struct connlimit *l, int sensor, uint32_t slot)
{
	return &l->count[(size_t)sensor * l->nslots + slot];
}

/*
 * The slot of a (*found 1) or the free slot where it would go (*found 0);
 * UINT32_MAX if its path has no free slot, which only a damaged table
 * lacks (it is at most half full).
 */
static uint32_t
connlimit_find(const struct connlimit *l, const uint32_t a[4], int *found)
{
	uint32_t	i, n, mask = l->nslots - 1;

	*found = 0;
	for (i = connlimit_home(l, a), n = 0; n < l->nslots;
	    i = (i + 1) & mask, n++) {
		if (l->slot[i].total == 0)
			return i;
		if (memcmp(l->slot[i].addr, a, sizeof(l->slot[i].addr)) == 0) {
			*found = 1;
			return i;
		}
	}
	return UINT32_MAX;
}

/*
 * Frees slot i.  The sources after it on the same run move back into the
 * hole when their probe passes it (backward-shift deletion), so that no
 * free slot ever cuts a probe path: no tombstones, lookups stay short.
 */
static void
connlimit_remove(struct connlimit *l, uint32_t i)
{
	uint32_t	j = i, home, mask = l->nslots - 1, n;
	int		s;

	for (n = 0; n < l->nslots; n++) {
		j = (j + 1) & mask;
		if (l->slot[j].total == 0)
			break;
		home = connlimit_home(l, l->slot[j].addr);
		/* i is on j's path from home: j may sit in i. */
		if (((j - home) & mask) >= ((j - i) & mask)) {
			l->slot[i] = l->slot[j];
			for (s = 0; s < l->nsensors; s++)
				*connlimit_count(l, s, i) =
				    *connlimit_count(l, s, j);
			i = j;
		}
	}
	memset(&l->slot[i], 0, sizeof(l->slot[i]));
	for (s = 0; s < l->nsensors; s++)
		*connlimit_count(l, s, i) = 0;
	if (l->sh->nsources > 0)
		l->sh->nsources--;
}

enum connlimit_verdict
connlimit_acquire(struct connlimit *l, int sensor, const struct sockaddr *sa)
{
	enum connlimit_verdict	 v = CONNLIMIT_OK;
	uint32_t		 a[4], i;
	int			 found;

	if (sensor < 0 || sensor >= l->nsensors)
		fatalx("connlimit_acquire: no sensor %d", sensor);
	connlimit_addr(sa, a);
	connlimit_lock(l, (uint32_t)sensor + 1, 0);
	if (l->max_connections != 0 && l->sh->total >= l->max_connections)
		v = CONNLIMIT_GLOBAL;
	else if (l->nslots != 0) {
		i = connlimit_find(l, a, &found);
		if (i == UINT32_MAX ||
		    (!found && l->sh->nsources >= l->max_sources))
			v = CONNLIMIT_SOURCES;
		else if (found && l->slot[i].total >= l->per_source)
			v = CONNLIMIT_SOURCE;
		else {
			/* In this order: a sensor may die at any step. */
			if (!found) {
				memcpy(l->slot[i].addr, a, sizeof(a[0]) * 4);
				l->sh->nsources++;
			}
			l->slot[i].total++;
			(*connlimit_count(l, sensor, i))++;
		}
	}
	if (v == CONNLIMIT_OK) {
		l->sh->total++;
		__atomic_store_n(&l->sensor_total[sensor],
		    l->sensor_total[sensor] + 1, __ATOMIC_RELAXED);
	}
	connlimit_unlock(l);
	return v;
}

void
connlimit_release(struct connlimit *l, int sensor, const struct sockaddr *sa)
{
	uint32_t	a[4], i, *n;
	int		found, under = 0;

	if (sensor < 0 || sensor >= l->nsensors)
		fatalx("connlimit_release: no sensor %d", sensor);
	connlimit_addr(sa, a);
	connlimit_lock(l, (uint32_t)sensor + 1, 0);
	/* Shared memory another sensor could write: clamp, never trust. */
	if (l->nslots != 0) {
		i = connlimit_find(l, a, &found);
		n = found ? connlimit_count(l, sensor, i) : NULL;
		if (n == NULL || *n == 0)
			under = 1;
		else {
			(*n)--;
			if (--l->slot[i].total == 0)
				connlimit_remove(l, i);
		}
	}
	if (l->sensor_total[sensor] == 0 || l->sh->total == 0)
		under = 1;
	else {
		l->sh->total--;
		__atomic_store_n(&l->sensor_total[sensor],
		    l->sensor_total[sensor] - 1, __ATOMIC_RELAXED);
	}
	connlimit_unlock(l);
	if (under)
		log_warnx("connection count of sensor %d below zero", sensor);
}

/*
 * Puts the sources back in order once a sensor's counts are gone (or it
 * died in the middle of a change): each source that some sensor still
 * counts is inserted anew, its total the sum of its counts.  Parent only,
 * under the lock.
 */
static void
connlimit_rebuild(struct connlimit *l)
{
	struct connlimit_slot	*old;
	uint32_t		*oldcount, i, j, live = 0;
	size_t			 ns = l->nslots, nc = (size_t)l->nsensors * ns;
	uint64_t		 sum;
	int			 s, found;

	old = malloc(ns * sizeof(*old));
	oldcount = malloc(nc * sizeof(*oldcount));
	if (old != NULL && oldcount != NULL) {
		memcpy(old, l->slot, ns * sizeof(*old));
		memcpy(oldcount, l->count, nc * sizeof(*oldcount));
	} else
		log_warnx("no memory to rebuild the connection table: "
		    "per-source counts start again from zero");
	memset(l->slot, 0, ns * sizeof(*old));
	memset(l->count, 0, nc * sizeof(*oldcount));
	for (i = 0; old != NULL && oldcount != NULL && i < ns; i++) {
		for (sum = 0, s = 0; s < l->nsensors; s++)
			sum += oldcount[(size_t)s * ns + i];
		if (sum == 0 || sum > UINT32_MAX ||
		    (j = connlimit_find(l, old[i].addr, &found)) == UINT32_MAX ||
		    (!found && live >= l->max_sources))
			continue;
		if (!found) {
			memcpy(l->slot[j].addr, old[i].addr,
			    sizeof(old[i].addr));
			live++;
		}
		/* Two copies of one source (a damaged table) become one. */
		sum += l->slot[j].total;
		l->slot[j].total = sum > UINT32_MAX ? UINT32_MAX :
		    (uint32_t)sum;
		for (s = 0; s < l->nsensors; s++)
			*connlimit_count(l, s, j) += oldcount[(size_t)s * ns + i];
	}
	l->sh->nsources = live;
	free(old);
	free(oldcount);
}

void
connlimit_reset_sensor(struct connlimit *l, int sensor)
{
	uint64_t	sum = 0;
	int		s;

	if (sensor < 0 || sensor >= l->nsensors)
		return;
	connlimit_lock(l, CONNLIMIT_PARENT, (uint32_t)sensor + 1);
	__atomic_store_n(&l->sensor_total[sensor], 0, __ATOMIC_RELAXED);
	for (s = 0; s < l->nsensors; s++)
		sum += l->sensor_total[s];
	l->sh->total = sum > UINT32_MAX ? UINT32_MAX : (uint32_t)sum;
	if (l->nslots != 0) {
		memset(connlimit_count(l, sensor, 0), 0,
		    l->nslots * sizeof(uint32_t));
		connlimit_rebuild(l);
	}
	connlimit_unlock(l);
}

uint32_t
connlimit_total(const struct connlimit *l)
{
	return __atomic_load_n(&l->sh->total, __ATOMIC_RELAXED);
}

uint32_t
connlimit_sensor(const struct connlimit *l, int sensor)
{
	return sensor >= 0 && sensor < l->nsensors ?
	    __atomic_load_n(&l->sensor_total[sensor], __ATOMIC_RELAXED) : 0;
}

uint32_t
connlimit_source(struct connlimit *l, const struct sockaddr *sa)
{
	uint32_t	a[4], i, n = 0;
	int		found;

	if (l->nslots == 0)
		return 0;
	connlimit_addr(sa, a);
	connlimit_lock(l, CONNLIMIT_PARENT, 0);
	i = connlimit_find(l, a, &found);
	if (found)
		n = l->slot[i].total;
	connlimit_unlock(l);
	return n;
}
