/*
 * The sensor process: the libevent loop that accepts connections, runs the
 * emulators and sends events and files to the store.  It holds no
 * privilege: chrooted into an empty directory, an unprivileged user, no
 * capabilities, no_new_privs and a seccomp filter.
 */
#ifndef SUNDEW_SENSOR_H
#define SUNDEW_SENSOR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

struct capture_origin;
struct config;
struct conn;
struct event_buf;
struct connlimit;
struct egress_shared;
struct listener;
struct ledger;
struct ring;
struct sandbox;

/* Counters of what this sensor has seen since it started. */
struct sensor_stats {
	uint64_t	accepted;
	uint64_t	closed;
	uint64_t	datagrams;
	uint64_t	protocol_errors;
	uint64_t	limit_hits;
};

struct sensor_args {
	const struct config	*conf;
	int			 index;
	int			 ctl;		/* control channel to the parent */
	struct connlimit		*limits;
	struct egress_shared	*egress;	/* rate limits of all sensors */
	const struct listener	*listeners;
	size_t			 nlisteners;
	const struct sandbox	*sandbox;
	struct ring		*ring;		/* events to the store */
	struct ledger		*ledger;	/* its open sessions */
};

void	sensor_main(const struct sensor_args *) __attribute__((noreturn));

/* Used by conn.c and the services. */
const struct config	*sensor_conf(void);
struct event_base	*sensor_base(void);
int			 sensor_index(void);
struct connlimit		*sensor_limits(void);
struct egress_shared	*sensor_egress(void);	/* for capture_init() */
struct sensor_stats	*sensor_stats(void);
struct ledger		*sensor_ledger(void);
/* Listener i of the table every sensor shares; NULL past its end. */
const struct listener	*sensor_listener(size_t i);
/*
 * Queues an event (built with event.h) or a file for the store: kind is
 * store.h's, with STORE_DOWNLOAD for a download; ctx (at most
 * SENSOR_FILE_CTX bytes, else left out) its rendered JSON fields.
 * sensor_send_file returns 0 when the ring took the file (or holds it in
 * the sensor's memory until the store makes room), -1 when it is lost
 * (the store is far behind: logged): the caller tells of it.
 */
#define SENSOR_FILE_CTX	6144
void			 sensor_send_event(struct event_buf *);
int			 sensor_send_file(int kind, const char *ctx, size_t ctxlen,
			    const void *data, size_t len);
/*
 * Hands a payload of the session of origin (capture.h) to the analyser;
 * -1 if it is too far behind.
 */
int			 sensor_analyse(const struct capture_origin *,
			    const void *data, size_t len);
/* Stops accepting while the store cannot keep up; resumes after. */
void			 sensor_pause_accept(int pause);

#endif
