/*
 * Connection caps shared by all sensors: a table in shared memory, made by
 * the parent before it forks.  It counts the open connections of each
 * sensor and, for limits.per_source, those of each source address, by
 * the whole address (an IPv4 source and its ::ffff: form are one), so
 * that a source is refused only when it holds the cap itself.
 *
 * The sources are an open-addressing hash table under a lock in the same
 * memory; each entry keeps one count per sensor, so that when a sensor
 * dies the parent takes away exactly what it held (even the lock, if it
 * died holding it).  The table has room for limits.max_connections
 * sources, as many as could hold a connection, and is never full under
 * that cap; without a cap, or past CONNLIMIT_MAX_SOURCES, a new source is
 * refused as CONNLIMIT_SOURCES once it holds that many.
 *
 * A sensor trusts the table no more than it trusts its peers: every probe
 * is bounded, and the parent, which reads it as root, never follows
 * anything in it.
 */
#ifndef SUNDEW_CONNLIMIT_H
#define SUNDEW_CONNLIMIT_H

#include <stdint.h>
#include <sys/socket.h>

/* Sources the table holds at most (2^21 slots, about 40 MiB + 8 a sensor). */
#define CONNLIMIT_MAX_SOURCES	(1u << 20)

enum connlimit_verdict {
	CONNLIMIT_OK = 0,
	CONNLIMIT_GLOBAL,		/* limits.max_connections */
	CONNLIMIT_SOURCE,		/* limits.per_source */
	CONNLIMIT_SOURCES		/* the table holds all the sources it may */
};

struct connlimit;

/*
 * The table for nsensors sensors and the two caps (0: none).  Without a
 * per-source cap no source is tracked.  Fatal if it cannot be mapped.
 */
struct connlimit	*connlimit_create(int nsensors, uint32_t max_connections,
		    uint32_t per_source);
/* Unmaps the table (this process's mapping) and frees the view. */
void		 connlimit_free(struct connlimit *);
/* The sources it may hold (for messages and tests). */
uint32_t	 connlimit_max_sources(const struct connlimit *);
/*
 * Forgets what sensor held: for a sensor that died or has yet to start.
 * Takes the lock from it if it died holding it.  Parent only.
 */
void		 connlimit_reset_sensor(struct connlimit *, int sensor);

/* Counts one connection of sensor from sa (its port ignored), if the caps allow. */
enum connlimit_verdict connlimit_acquire(struct connlimit *, int sensor,
		    const struct sockaddr *sa);
/* Gives back what connlimit_acquire() counted for sa. */
void		 connlimit_release(struct connlimit *, int sensor,
		    const struct sockaddr *sa);
/* Open connections of all sensors together. */
uint32_t	 connlimit_total(const struct connlimit *);
/* Open connections of one sensor. */
uint32_t	 connlimit_sensor(const struct connlimit *, int sensor);
/* Open connections of the source sa, all sensors together. */
uint32_t	 connlimit_source(struct connlimit *, const struct sockaddr *sa);

#endif
