/*
 * Connection caps shared by all sensors: a table in shared memory, made by
 * the parent before it forks, with one row of counters per sensor.  A
 * sensor only writes its own row; the cap checks sum the rows.  When a
 * sensor dies the parent zeroes its row, so a crash leaks no slots.
 * Sources are hashed with a random key into CONNLIMIT_BUCKETS buckets; two
 * sources that share a bucket share a cap, which is rare and harmless.
 */
#ifndef SUNDEW_CONNLIMIT_H
#define SUNDEW_CONNLIMIT_H

#include <stdint.h>
#include <sys/socket.h>

#define CONNLIMIT_BUCKETS	65536

enum connlimit_verdict {
	CONNLIMIT_OK = 0,
	CONNLIMIT_GLOBAL,		/* limits.max_connections */
	CONNLIMIT_SOURCE		/* limits.per_source */
};

struct connlimit;

struct connlimit	*connlimit_create(int nsensors);
void		 connlimit_reset_sensor(struct connlimit *, int sensor);

/* The bucket of an address (its port is ignored). */
uint32_t	 connlimit_bucket(const struct connlimit *, const struct sockaddr *);

/*
 * Counts one connection of sensor in bucket if both caps allow it (0: no
 * cap).  Two sensors deciding at the same instant may pass a cap by one.
 */
enum connlimit_verdict connlimit_acquire(struct connlimit *, int sensor,
		    uint32_t bucket, uint32_t max_global, uint32_t per_source);
void		 connlimit_release(struct connlimit *, int sensor, uint32_t bucket);
/* Open connections of all sensors together. */
uint32_t	 connlimit_total(const struct connlimit *);
/* Open connections of one sensor. */
uint32_t	 connlimit_sensor(const struct connlimit *, int sensor);

#endif
