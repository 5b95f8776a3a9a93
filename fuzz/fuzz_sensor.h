/*
 * The sensor's side for the fuzz targets that drive an emulator without
 * a daemon: events, files and payloads are dropped.  A target includes it
 * once and sets what it needs: fuzz_conf's limits, fuzz_base for a
 * service on an event loop, fuzz_listener for conn_accept().
 */
#ifndef SUNDEW_FUZZ_SENSOR_H
#define SUNDEW_FUZZ_SENSOR_H

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "config.h"
#include "conn.h"
#include "event.h"
#include "listen.h"
#include "proto.h"
#include "sensor.h"

static struct config		 fuzz_conf;
static struct event_base	*fuzz_base;
static struct connlimit		*fuzz_limits;
static struct sensor_stats	 fuzz_stats;
static const struct listener	*fuzz_listener;

const struct config *sensor_conf(void) { return &fuzz_conf; }
struct event_base *sensor_base(void) { return fuzz_base; }
int sensor_index(void) { return 0; }
struct connlimit *sensor_limits(void) { return fuzz_limits; }
struct egress_shared *sensor_egress(void) { return NULL; }
struct sensor_stats *sensor_stats(void) { return &fuzz_stats; }
void sensor_pause_accept(int pause) { (void)pause; }
struct ledger *sensor_ledger(void) { return NULL; }
void sensor_send_event(struct event_buf *ev) { event_end(ev); }

const struct listener *
sensor_listener(size_t i)
{
	return i == 0 ? fuzz_listener : NULL;
}

int
sensor_send_file(int kind, const char *ctx, size_t ctxlen, const void *p,
    size_t n)
{
	return 0;
}

int
sensor_analyse(const struct capture_origin *o, const void *p, size_t n)
{
	return 0;
}

/* Reads and drops what the service answered, so that it never waits. */
static inline void
fuzz_peer_drain(int fd)
{
	static uint8_t	buf[65536];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/*
 * A session of the service named on one end of a socketpair (sv[1] is
 * the peer), made by hand as inside the core's call: a conn_close()
 * leaves c to the caller.  c->state is NULL if the service made none.
 */
static inline void
fuzz_session_open(struct conn *c, struct listener *lst, const char *service,
    const char *id, int sv[2])
{
	memset(lst, 0, sizeof(*lst));
	lst->transport = SERVICE_TCP;
	lst->def = proto_find(service);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		abort();
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	memset(c, 0, sizeof(*c));
	c->lst = lst;
	c->svc = proto_emulator(lst->def);
	c->fd = sv[0];
	c->slot = -1;
	c->rev = event_new(fuzz_base, -1, 0, NULL, NULL);
	c->wev = event_new(fuzz_base, -1, 0, NULL, NULL);
	memcpy(c->session, id, CONN_ID_LEN);
	c->in_callback = 1;
	c->state = c->svc->session_new(c);
}

/* The session's end, as conn_close() makes it (unless it did). */
static inline void
fuzz_session_close(struct conn *c, int sv[2])
{
	if (c->state != NULL && !c->closing) {
		if (c->svc->on_close != NULL)
			c->svc->on_close(c, c->state);
		c->svc->session_free(c->state);
	}
	if (c->out != NULL)
		evbuffer_free(c->out);
	event_free(c->rev);
	event_free(c->wev);
	free(c->fields);
	close(sv[0]);
	close(sv[1]);
}

#endif
