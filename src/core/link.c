#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "link.h"
#include "log.h"
#include "proc.h"

/*
 * Messages wait this long before they are written, so that the peer is
 * woken once for many of them rather than once for each.
 */
#define LINK_BATCH_USEC	2000
/*
 * A queue that held this much gives its memory back once it is empty, at
 * most once a second (malloc_trim walks the heap).
 */
#define LINK_TRIM	(256 * 1024)

struct link {
	const char		*peer;
	struct event_base	*base;
	int			 fd;		/* -1: waiting for a channel */
	struct evbuffer		*out;
	struct evbuffer		*in;
	struct event		*wev;
	struct event		*rev;
	struct event		*batch;		/* delays the next write */
	link_msg_cb		 on_msg;
	void			(*on_close)(void *);
	void			*arg;
	uint64_t		 queued;	/* bytes ever queued */
	uint64_t		 sent;		/* bytes ever written */
	uint64_t		 head_start;	/* where the head message starts */
	uint64_t		*ends;		/* message ends, FIFO */
	size_t			 head, count, cap;
	size_t			 peak;		/* most bytes queued lately */
};

static void	link_write(evutil_socket_t, short, void *);
static void	link_read(evutil_socket_t, short, void *);

static void
link_batch(evutil_socket_t fd, short what, void *arg)
{
	struct link	*l = arg;

	if (l->fd != -1 && evbuffer_get_length(l->out) > 0)
		event_add(l->wev, NULL);
}

struct link *
link_new(struct event_base *base, const char *peer, link_msg_cb on_msg,
    void *arg)
{
	struct link	*l;

	if ((l = calloc(1, sizeof(*l))) == NULL ||
	    (l->out = evbuffer_new()) == NULL ||
	    (l->in = evbuffer_new()) == NULL ||
	    (l->batch = evtimer_new(base, link_batch, l)) == NULL)
		fatalx("link_new");
	l->peer = peer;
	l->base = base;
	l->fd = -1;
	l->on_msg = on_msg;
	l->arg = arg;
	return l;
}

static void
link_push_end(struct link *l)
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
link_pop_sent(struct link *l)
{
	while (l->count > 0 && l->ends[l->head] <= l->sent) {
		l->head_start = l->ends[l->head];
		l->head = (l->head + 1) % l->cap;
		l->count--;
	}
	/* Empty: let go of the room a burst made for its boundaries. */
	if (l->count == 0 && l->cap > 1024) {
		free(l->ends);
		l->ends = NULL;
		l->head = l->cap = 0;
	}
}

/*
 * After a burst the queue is empty again, but the heap keeps its peak
 * size: hand it back, so that the process's memory follows its load.
 */
static void
link_trim(struct link *l)
{
	static time_t	last;
	time_t		now = time(NULL);

	if (l->peak < LINK_TRIM || now == last)
		return;
	last = now;
	l->peak = 0;
	malloc_trim(0);
}

static void
link_close_fd(struct link *l)
{
	event_free(l->wev);
	l->wev = NULL;
	if (l->rev != NULL) {
		event_free(l->rev);
		l->rev = NULL;
	}
	close(l->fd);
	l->fd = -1;
	evbuffer_drain(l->in, evbuffer_get_length(l->in));
}

/* The channel is gone: drop the part of a message the peer got half of. */
static void
link_drop(struct link *l)
{
	uint64_t	rest;

	link_close_fd(l);
	if (l->count > 0 && l->sent > l->head_start) {
		rest = l->ends[l->head] - l->sent;
		evbuffer_drain(l->out, rest);
		l->sent += rest;
		link_pop_sent(l);
		log_warnx("link to the %s lost halfway through a message; it "
		    "is dropped", l->peer);
	}
	if (l->count > 0)
		log_warnx("link to the %s lost; %zu messages wait for a new "
		    "one", l->peer, l->count);
	else
		log_debug("link to the %s closed", l->peer);
}

/* The peer closed or failed: drop, then tell the owner. */
static void
link_lost(struct link *l)
{
	link_drop(l);
	if (l->on_close != NULL)
		l->on_close(l->arg);
}

static void
link_write(evutil_socket_t fd, short what, void *arg)
{
	struct link	*l = arg;
	int		 n;

	while (evbuffer_get_length(l->out) > 0) {
		n = evbuffer_write(l->out, fd);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			log_warn("write to the %s", l->peer);
			link_lost(l);
			return;
		}
		l->sent += (uint64_t)n;
		link_pop_sent(l);
	}
	if (evbuffer_get_length(l->out) == 0) {
		event_del(l->wev);
		link_trim(l);
	}
}

/* Messages from the peer: checked by msg_unframe (a bad one is fatal). */
static void
link_read(evutil_socket_t fd, short what, void *arg)
{
	struct link	*l = arg;
	struct msg_hdr	 hdr;
	void		*p;
	int		 n;

	n = evbuffer_read(l->in, fd, 65536);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (n == -1)
			log_warn("read from the %s", l->peer);
		link_lost(l);
		return;
	}
	while (msg_unframe(l->in, &hdr, &p) == 1) {
		l->on_msg(&hdr, p, l->arg);
		free(p);
		if (l->fd == -1)
			break;
	}
}

void
link_set_arg(struct link *l, void *arg)
{
	l->arg = arg;
}

void
link_set_close_cb(struct link *l, void (*cb)(void *))
{
	l->on_close = cb;
}

void
link_set_fd(struct link *l, int fd)
{
	if (l->fd != -1)
		link_drop(l);	/* what the old peer got half of */
	l->fd = fd;
	evutil_make_socket_nonblocking(fd);
	l->wev = event_new(l->base, fd, EV_WRITE | EV_PERSIST, link_write, l);
	if (l->wev == NULL)
		fatalx("event_new");
	if (l->on_msg != NULL) {
		l->rev = event_new(l->base, fd, EV_READ | EV_PERSIST,
		    link_read, l);
		if (l->rev == NULL || event_add(l->rev, NULL) == -1)
			fatalx("event_new");
	}
	if (evbuffer_get_length(l->out) > 0)
		event_add(l->wev, NULL);
}

int
link_queue(struct link *l, uint32_t type, const void *a, size_t alen,
    const void *b, size_t blen)
{
	size_t	before = evbuffer_get_length(l->out);

	if (msg_frame(l->out, type, a, alen, b, blen) == -1) {
		log_warnx("message of type %u and %zu bytes not sent to the "
		    "%s: too large or out of memory", type, alen + blen,
		    l->peer);
		return -1;
	}
	l->queued += evbuffer_get_length(l->out) - before;
	if (evbuffer_get_length(l->out) > l->peak)
		l->peak = evbuffer_get_length(l->out);
	link_push_end(l);
	if (l->fd != -1 && before == 0 && !evtimer_pending(l->batch, NULL)) {
		struct timeval	tv = { 0, LINK_BATCH_USEC };

		evtimer_add(l->batch, &tv);
	}
	return 0;
}

int
link_connected(const struct link *l)
{
	return l->fd != -1;
}

void
link_clear(struct link *l)
{
	evbuffer_drain(l->out, evbuffer_get_length(l->out));
	l->sent = l->queued;
	l->head_start = l->queued;
	l->head = l->count = 0;
}

void
link_drain(struct link *l)
{
	int	flags;

	if (l->fd != -1) {
		flags = fcntl(l->fd, F_GETFL);
		fcntl(l->fd, F_SETFL, flags & ~O_NONBLOCK);
		while (evbuffer_get_length(l->out) > 0)
			if (evbuffer_write(l->out, l->fd) <= 0 &&
			    errno != EINTR)
				break;
	}
	if (evbuffer_get_length(l->out) > 0)
		log_warnx("%zu bytes for the %s could not be sent",
		    evbuffer_get_length(l->out), l->peer);
}
