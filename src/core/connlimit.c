#include <netinet/in.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>

#include "connlimit.h"
#include "log.h"

struct connlimit_row {
	uint32_t	total;
	uint32_t	bucket[CONNLIMIT_BUCKETS];
};

struct connlimit {
	uint64_t		key[2];
	int			nsensors;
	struct connlimit_row	rows[];
};

struct connlimit *
connlimit_create(int nsensors)
{
	struct connlimit	*l;
	size_t		 size;

	size = sizeof(*l) + (size_t)nsensors * sizeof(struct connlimit_row);
	l = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	    -1, 0);
	if (l == MAP_FAILED)
		fatal("mmap of the connection table (%zu bytes)", size);
	if (getrandom(l->key, sizeof(l->key), 0) != sizeof(l->key))
		fatal("getrandom");
	l->nsensors = nsensors;
	return l;
}

void
connlimit_reset_sensor(struct connlimit *l, int sensor)
{
	memset(&l->rows[sensor], 0, sizeof(l->rows[sensor]));
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

uint32_t
connlimit_bucket(const struct connlimit *l, const struct sockaddr *sa)
{
	uint64_t	h = l->key[0], w[2] = { 0, 0 };

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		memcpy(&w[0], &sin->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		memcpy(w, &sin6->sin6_addr, 16);
	}
	h = connlimit_mix(h, w[0]);
	h = connlimit_mix(h ^ l->key[1], w[1]);
	return (uint32_t)(h % CONNLIMIT_BUCKETS);
}

static uint32_t
connlimit_load(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void
connlimit_add(uint32_t *p, int32_t d)
{
	__atomic_store_n(p, connlimit_load(p) + (uint32_t)d, __ATOMIC_RELAXED);
}

uint32_t
connlimit_total(const struct connlimit *l)
{
	uint32_t	sum = 0;
	int		i;

	for (i = 0; i < l->nsensors; i++)
		sum += connlimit_load(&l->rows[i].total);
	return sum;
}

uint32_t
connlimit_sensor(const struct connlimit *l, int sensor)
{
	return sensor >= 0 && sensor < l->nsensors ?
	    connlimit_load(&l->rows[sensor].total) : 0;
}

enum connlimit_verdict
connlimit_acquire(struct connlimit *l, int sensor, uint32_t bucket,
    uint32_t max_global, uint32_t per_source)
{
	uint32_t	sum = 0;
	int		i;

	if (max_global != 0 && connlimit_total(l) >= max_global)
		return CONNLIMIT_GLOBAL;
	if (per_source != 0) {
		for (i = 0; i < l->nsensors; i++)
			sum += connlimit_load(&l->rows[i].bucket[bucket]);
		if (sum >= per_source)
			return CONNLIMIT_SOURCE;
	}
	connlimit_add(&l->rows[sensor].total, 1);
	connlimit_add(&l->rows[sensor].bucket[bucket], 1);
	return CONNLIMIT_OK;
}

void
connlimit_release(struct connlimit *l, int sensor, uint32_t bucket)
{
	/* Shared memory another sensor could write: clamp, never trust. */
	if (connlimit_load(&l->rows[sensor].bucket[bucket]) == 0 ||
	    connlimit_load(&l->rows[sensor].total) == 0) {
		log_warnx("connection count of sensor %d below zero", sensor);
		return;
	}
	connlimit_add(&l->rows[sensor].total, -1);
	connlimit_add(&l->rows[sensor].bucket[bucket], -1);
}
