#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "config.h"
#include "conn.h"
#include "event.h"
#include "listen.h"
#include "log.h"
#include "proc.h"
#include "proto.h"
#include "sandbox.h"
#include "sensor.h"

/*
 * Messages wait this long before they are written, so that the store is
 * woken once for many of them rather than once for each.
 */
#define SENSOR_LINK_BATCH_USEC	2000
/* Past this much unsent to the store, stop accepting; resume below LOW. */
#define SENSOR_LINK_HIGH	(32u * 1024 * 1024)
#define SENSOR_LINK_LOW		(8u * 1024 * 1024)

/*
 * The queue of messages for the store.  The end offsets of the queued
 * messages are kept so that, when the store dies halfway through a
 * message, the rest of that message is dropped and the next store gets
 * whole messages only.
 */
struct sensor_link {
	int			 fd;		/* -1: waiting for a link */
	struct evbuffer		*out;
	struct event		*wev;
	struct event		*batch;		/* delays the next write */
	uint64_t		 queued;	/* bytes ever queued */
	uint64_t		 sent;		/* bytes ever written */
	uint64_t		 head_start;	/* where the head message starts */
	uint64_t		*ends;		/* message ends, FIFO */
	size_t			 head, count, cap;
	size_t			 peak;		/* most bytes queued lately */
};

/* A queue that held this much gives its memory back once it is empty. */
#define SENSOR_LINK_TRIM	(1024 * 1024)

struct sensor {
	const struct config	*conf;
	int			 index;
	int			 ctl;
	struct event_base	*base;
	struct connlimit		*limits;
	const struct listener	*listeners;
	size_t			 nlisteners;
	struct evconnlistener	**tcp;
	struct event		**udp;
	struct event		*ctl_ev;
	struct event		*sigterm_ev;
	struct event		*sigint_ev;
	struct sensor_link	 link;
	int			 paused;
	int			 stopping;
	struct sensor_stats	 stats;
};

static struct sensor	sensor;

const struct config *
sensor_conf(void)
{
	return sensor.conf;
}

struct event_base *
sensor_base(void)
{
	return sensor.base;
}

int
sensor_index(void)
{
	return sensor.index;
}

struct connlimit *
sensor_limits(void)
{
	return sensor.limits;
}

struct sensor_stats *
sensor_stats(void)
{
	return &sensor.stats;
}

static void
sensor_link_push_end(struct sensor_link *l)
{
	if (l->count == l->cap) {
		size_t		 ncap = l->cap ? l->cap * 2 : 1024, i;
		uint64_t	*n = calloc(ncap, sizeof(*n));

		if (n == NULL)
			fatal("calloc");
		for (i = 0; i < l->count; i++)
			n[i] = l->ends[(l->head + i) % l->cap];
		free(l->ends);
		l->ends = n;
		l->head = 0;
		l->cap = ncap;
	}
	l->ends[(l->head + l->count) % l->cap] = l->queued;
	l->count++;
}

static void
sensor_link_pop_sent(struct sensor_link *l)
{
	while (l->count > 0 && l->ends[l->head] <= l->sent) {
		l->head_start = l->ends[l->head];
		l->head = (l->head + 1) % l->cap;
		l->count--;
	}
}

/* The store is gone: drop the part of a message it got half of. */
static void
sensor_link_lost(struct sensor_link *l)
{
	uint64_t	rest;

	event_del(l->wev);
	close(l->fd);
	l->fd = -1;
	if (l->count > 0 && l->sent > l->head_start) {
		rest = l->ends[l->head] - l->sent;
		evbuffer_drain(l->out, rest);
		l->sent += rest;
		sensor_link_pop_sent(l);
		log_warnx("link to the store lost halfway through a message; "
		    "it is dropped");
	}
	log_warnx("link to the store lost; %zu messages wait for a new one",
	    l->count);
}

/*
 * After a burst the queue is empty again, but the heap keeps its peak
 * size: hand it back, so that a sensor's memory follows its load.
 */
static void
sensor_link_trim(struct sensor_link *l)
{
	if (l->peak < SENSOR_LINK_TRIM)
		return;
	l->peak = 0;
	if (l->count == 0 && l->cap > 1024) {
		free(l->ends);
		l->ends = NULL;
		l->head = l->cap = 0;
	}
	malloc_trim(0);
}

static void
sensor_link_write(evutil_socket_t fd, short what, void *arg)
{
	struct sensor_link	*l = &sensor.link;
	int			 n;

	while (evbuffer_get_length(l->out) > 0) {
		n = evbuffer_write(l->out, fd);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			log_warn("write to the store");
			sensor_link_lost(l);
			return;
		}
		l->sent += (uint64_t)n;
		sensor_link_pop_sent(l);
	}
	if (evbuffer_get_length(l->out) == 0) {
		event_del(l->wev);
		sensor_link_trim(l);
	}
	if (sensor.paused && evbuffer_get_length(l->out) < SENSOR_LINK_LOW)
		sensor_pause_accept(0);
}

static void
sensor_link_batch(evutil_socket_t fd, short what, void *arg)
{
	struct sensor_link	*l = &sensor.link;

	if (l->fd != -1 && evbuffer_get_length(l->out) > 0)
		event_add(l->wev, NULL);
}

/* Takes a new data channel from the parent; sends what waited. */
static void
sensor_link_set(int fd)
{
	struct sensor_link	*l = &sensor.link;

	if (l->fd != -1) {
		event_del(l->wev);
		close(l->fd);
	}
	l->fd = fd;
	evutil_make_socket_nonblocking(fd);
	if (l->wev != NULL)
		event_free(l->wev);
	l->wev = event_new(sensor.base, fd, EV_WRITE | EV_PERSIST,
	    sensor_link_write, NULL);
	if (l->wev == NULL)
		fatalx("event_new");
	if (evbuffer_get_length(l->out) > 0)
		event_add(l->wev, NULL);
}

/* Queues one framed message for the store. */
static void
sensor_queue(uint32_t type, const void *a, size_t alen, const void *b,
    size_t blen)
{
	struct sensor_link	*l = &sensor.link;
	size_t			 before = evbuffer_get_length(l->out);

	if (msg_frame(l->out, type, a, alen, b, blen) == -1) {
		log_warnx("message of type %u and %zu bytes not sent: too "
		    "large or out of memory", type, alen + blen);
		return;
	}
	l->queued += evbuffer_get_length(l->out) - before;
	if (evbuffer_get_length(l->out) > l->peak)
		l->peak = evbuffer_get_length(l->out);
	sensor_link_push_end(l);
	if (l->fd != -1 && before == 0 && !evtimer_pending(l->batch, NULL)) {
		struct timeval	tv = { 0, SENSOR_LINK_BATCH_USEC };

		evtimer_add(l->batch, &tv);
	}
	if (!sensor.paused && evbuffer_get_length(l->out) > SENSOR_LINK_HIGH)
		sensor_pause_accept(1);
}

void
sensor_send_event(struct event_buf *ev)
{
	size_t	len = event_end(ev);

	sensor_queue(MSG_EVENT, ev->buf, len, NULL, 0);
}

void
sensor_send_file(int kind, const char *ctx, size_t ctxlen, const void *data,
    size_t len)
{
	struct {
		struct msg_file	mf;
		char		ctx[1024];
	} m;

	if (ctxlen > sizeof(m.ctx))
		ctxlen = 0;
	m.mf.kind = (uint32_t)kind;
	m.mf.ctxlen = (uint32_t)ctxlen;
	memcpy(m.ctx, ctx, ctxlen);
	sensor_queue(MSG_FILE, &m, sizeof(m.mf) + ctxlen, data, len);
}

void
sensor_pause_accept(int pause)
{
	size_t	i;

	if (pause == sensor.paused || sensor.stopping)
		return;
	sensor.paused = pause;
	for (i = 0; i < sensor.nlisteners; i++) {
		if (sensor.tcp[i] != NULL) {
			if (pause)
				evconnlistener_disable(sensor.tcp[i]);
			else
				evconnlistener_enable(sensor.tcp[i]);
		}
		if (sensor.udp[i] != NULL) {
			if (pause)
				event_del(sensor.udp[i]);
			else
				event_add(sensor.udp[i], NULL);
		}
	}
	if (pause)
		log_warnx("the store is behind (%zu bytes queued): not "
		    "accepting until it catches up",
		    evbuffer_get_length(sensor.link.out));
	else
		log_info("the store caught up: accepting again");
}

static void
sensor_accept_cb(struct evconnlistener *el, evutil_socket_t fd,
    struct sockaddr *sa, int socklen, void *arg)
{
	conn_accept(arg, fd, sa, socklen);
}

static void
sensor_accept_resume(evutil_socket_t fd, short what, void *arg)
{
	if (!sensor.paused && !sensor.stopping)
		evconnlistener_enable(arg);
}

/* EMFILE and friends: wait a moment rather than spin. */
static void
sensor_accept_error(struct evconnlistener *el, void *arg)
{
	const struct listener	*l = arg;

	log_warn("accept on port %u", l->port);
	if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
	    errno == ENOMEM) {
		struct timeval	tv = { 0, 200000 };

		evconnlistener_disable(el);
		event_base_once(sensor.base, -1, EV_TIMEOUT,
		    sensor_accept_resume, el, &tv);
	}
}

static void
sensor_udp_cb(evutil_socket_t fd, short what, void *arg)
{
	conn_datagrams(arg);
}

/* SIGTERM: close every session with its event, flush, exit. */
static void
sensor_stop(evutil_socket_t sig, short what, void *arg)
{
	struct sensor_link	*l = &sensor.link;
	size_t			 i;
	int			 flags;

	sensor.stopping = 1;
	for (i = 0; i < sensor.nlisteners; i++) {
		if (sensor.tcp[i] != NULL)
			evconnlistener_disable(sensor.tcp[i]);
		if (sensor.udp[i] != NULL)
			event_del(sensor.udp[i]);
	}
	conn_close_all("shutdown");
	if (l->fd != -1) {
		flags = fcntl(l->fd, F_GETFL);
		fcntl(l->fd, F_SETFL, flags & ~O_NONBLOCK);
		while (evbuffer_get_length(l->out) > 0)
			if (evbuffer_write(l->out, l->fd) <= 0 &&
			    errno != EINTR)
				break;
	}
	if (evbuffer_get_length(l->out) > 0)
		log_warnx("%zu bytes of events could not reach the store",
		    evbuffer_get_length(l->out));
	log_debug("stopped: %llu connections, %llu datagrams",
	    (unsigned long long)sensor.stats.accepted,
	    (unsigned long long)sensor.stats.datagrams);
	_exit(0);
}

static void
sensor_ctl_cb(evutil_socket_t fd, short what, void *arg)
{
	struct msg_link	ml;
	uint32_t	type;
	size_t		got;
	int		n, pass;

	n = ctl_recv(fd, &type, &ml, sizeof(ml), &got, &pass);
	if (n == 0) {
		log_warnx("the parent is gone; stopping");
		sensor_stop(SIGTERM, 0, NULL);
	}
	if (n == -1) {
		if (errno == EAGAIN)
			return;
		fatal("control channel");
	}
	if (type == MSG_LINK && pass != -1)
		sensor_link_set(pass);
	else
		fatalx("unexpected control message %u", type);
}

static void
sensor_listen(void)
{
	size_t	i;

	sensor.tcp = calloc(sensor.nlisteners, sizeof(*sensor.tcp));
	sensor.udp = calloc(sensor.nlisteners, sizeof(*sensor.udp));
	if (sensor.tcp == NULL || sensor.udp == NULL)
		fatal("calloc");
	for (i = 0; i < sensor.nlisteners; i++) {
		const struct listener	*l = &sensor.listeners[i];

		if (l->transport == SERVICE_TCP) {
			sensor.tcp[i] = evconnlistener_new(sensor.base,
			    sensor_accept_cb, (void *)l, LEV_OPT_CLOSE_ON_EXEC,
			    -1, l->fd);
			if (sensor.tcp[i] == NULL)
				fatalx("evconnlistener_new on port %u",
				    l->port);
			evconnlistener_set_error_cb(sensor.tcp[i],
			    sensor_accept_error);
		} else {
			sensor.udp[i] = event_new(sensor.base, l->fd,
			    EV_READ | EV_PERSIST, sensor_udp_cb, (void *)l);
			if (sensor.udp[i] == NULL ||
			    event_add(sensor.udp[i], NULL) == -1)
				fatalx("event on udp port %u", l->port);
		}
	}
}

void
sensor_main(const struct sensor_args *a)
{
	char	name[32];

	memset(&sensor, 0, sizeof(sensor));
	sensor.conf = a->conf;
	sensor.index = a->index;
	sensor.ctl = a->ctl;
	sensor.limits = a->limits;
	sensor.listeners = a->listeners;
	sensor.nlisteners = a->nlisteners;
	sensor.link.fd = -1;

	snprintf(name, sizeof(name), "sensor %d", a->index);
	log_procname(name);
	prctl(PR_SET_NAME, "sundew-sensor");
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	event_set_sensor(a->conf->sensor_name);

	/* Everything that needs a file is opened before the chroot. */
	if ((sensor.base = event_base_new()) == NULL)
		fatalx("event_base_new");
	if ((sensor.link.out = evbuffer_new()) == NULL ||
	    (sensor.link.batch = evtimer_new(sensor.base, sensor_link_batch,
	    NULL)) == NULL)
		fatalx("evbuffer_new");
	sandbox_enter(a->sandbox, a->sandbox->empty_dir, SANDBOX_SENSOR);

	evutil_make_socket_nonblocking(sensor.ctl);
	sensor.ctl_ev = event_new(sensor.base, sensor.ctl, EV_READ | EV_PERSIST,
	    sensor_ctl_cb, NULL);
	sensor.sigterm_ev = evsignal_new(sensor.base, SIGTERM, sensor_stop,
	    NULL);
	sensor.sigint_ev = evsignal_new(sensor.base, SIGINT, sensor_stop,
	    NULL);
	if (sensor.ctl_ev == NULL || sensor.sigterm_ev == NULL ||
	    sensor.sigint_ev == NULL || event_add(sensor.ctl_ev, NULL) == -1 ||
	    event_add(sensor.sigterm_ev, NULL) == -1 ||
	    event_add(sensor.sigint_ev, NULL) == -1)
		fatalx("sensor events");
	signal(SIGPIPE, SIG_IGN);
	sensor_listen();
	log_debug("listening on %zu sockets", sensor.nlisteners);
	event_base_dispatch(sensor.base);
	fatalx("event loop ended");
}
