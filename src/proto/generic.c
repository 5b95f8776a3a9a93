/*
 * The generic service: serves every port that has no emulator yet.  It
 * says nothing, reads what arrives, reports the first bytes in a
 * sundew.request event and, when the session ends, hands the whole
 * payload (within limits.max_input) to the store as a hexdump.  Unknown
 * payloads are the most valuable data a honeypot gets: nothing is dropped.
 *
 * What arrives goes to the analyser while the session is still open, as
 * soon as the input has been quiet a moment: an exploit's connection may
 * stay open while the attacker uses the bind shell its shellcode opened.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "config.h"
#include "conn.h"
#include "event.h"
#include "proto.h"
#include "sensor.h"
#include "store.h"

/* How much of the payload goes into the request event. */
#define GENERIC_HEAD	256
/* All sessions of a sensor together keep at most this much. */
#define GENERIC_BUDGET	(256u * 1024 * 1024)

/*
 * The input is analysed once it has been quiet this long (an exploit is
 * sent in a burst, and the attacker then waits for its effect), ...
 */
#define GENERIC_QUIET_MSEC	150
/* ... at most this many times while the session is open, then at close. */
#define GENERIC_ANALYSES	8
/*
 * While it is open, an analysis sees what came since the last one and
 * this much before it (a decoder and its payload close together) ...
 */
#define GENERIC_OVERLAP		(64u * 1024)
/*
 * ... and at most this much, the rest at the next quiet moment: a session
 * that trickles its 4 MiB hands the analyser about 4 MiB while open, not
 * the whole input again each time.  At close, the whole of it once more
 * if anything came since.
 */
#define GENERIC_WINDOW		(512u * 1024)

static size_t			 generic_total;
static const struct timeval	*generic_quiet_tv;

struct generic {
	struct conn	*c;
	uint8_t		*buf;
	size_t		 len;
	size_t		 cap;
	size_t		 analysed;	/* bytes the last analysis saw */
	int		 nanalyses;
	struct event	*quiet;		/* made at the first byte */
};

static void *
generic_new(struct conn *c)
{
	struct generic	*g;

	if ((g = calloc(1, sizeof(*g))) != NULL)
		g->c = c;
	return g;
}

static void
generic_free(void *arg)
{
	struct generic	*g = arg;

	if (g != NULL) {
		generic_total -= g->cap;
		free(g->buf);
		if (g->quiet != NULL)
			event_free(g->quiet);
	}
	free(g);
}

static void	generic_arm(struct generic *);

/* At close: the whole input, if anything came since the last analysis. */
static void
generic_analyse(struct generic *g)
{
	if (g->len <= g->analysed)
		return;
	g->analysed = g->len;
	g->nanalyses++;
	conn_analyse(g->c, g->buf, g->len, 0);
}

/* The input has been quiet: a window of what came since the last look. */
static void
generic_quiet_cb(evutil_socket_t fd, short what, void *arg)
{
	struct generic	*g = arg;
	size_t		 at, end;

	if (g->len <= g->analysed)
		return;
	at = g->analysed > GENERIC_OVERLAP ? g->analysed - GENERIC_OVERLAP : 0;
	end = g->len - at > GENERIC_WINDOW ? at + GENERIC_WINDOW : g->len;
	g->analysed = end;
	g->nanalyses++;
	conn_analyse(g->c, g->buf + at, end - at, at);
	generic_arm(g);		/* the rest, if the window left some */
}

/* Input came: analyse it once it has been quiet a moment. */
static void
generic_arm(struct generic *g)
{
	struct event_base	*base = sensor_base();

	if (g->nanalyses >= GENERIC_ANALYSES || g->len <= g->analysed ||
	    g->c->closing)
		return;
	if (generic_quiet_tv == NULL) {
		struct timeval	tv = { 0, GENERIC_QUIET_MSEC * 1000 };

		generic_quiet_tv = event_base_init_common_timeout(base, &tv);
	}
	if (g->quiet == NULL &&
	    (g->quiet = evtimer_new(base, generic_quiet_cb, g)) == NULL)
		return;		/* analysed at close, as before */
	evtimer_add(g->quiet, generic_quiet_tv);
}

static void
generic_report(struct conn *c, const uint8_t *p, size_t n)
{
	struct event_buf	ev;

	conn_event(&ev, c, "sundew.request");
	event_str(&ev, "emulator", "generic");
	event_bytes(&ev, "data", p, n < GENERIC_HEAD ? n : GENERIC_HEAD);
	event_int(&ev, "size", (int64_t)n);
	sensor_send_event(&ev);
}

/*
 * Keeps what arrives up to the session's input cap (past it the core ends
 * the session).  Past the sensor's budget the session ends too, with a
 * limit.hit event, rather than the sensor running out of memory.
 */
static ssize_t
generic_data(struct conn *c, void *arg, const uint8_t *p, size_t n)
{
	struct generic	*g = arg;
	size_t		 max = (size_t)sensor_conf()->max_input, keep, ncap;
	uint8_t		*nbuf;

	if (g->len == 0 && n > 0)
		generic_report(c, p, n);
	keep = g->len >= max ? 0 : (n < max - g->len ? n : max - g->len);
	if (g->len + keep > g->cap) {
		ncap = g->cap ? g->cap : 4096;
		while (ncap < g->len + keep)
			ncap *= 2;
		if (ncap > max)
			ncap = max;
		if (generic_total - g->cap + ncap > GENERIC_BUDGET) {
			conn_limit_hit(c, "memory");
			conn_close(c, "memory");
			return (ssize_t)n;
		}
		if ((nbuf = realloc(g->buf, ncap)) == NULL)
			return -1;
		generic_total = generic_total - g->cap + ncap;
		g->buf = nbuf;
		g->cap = ncap;
	}
	memcpy(g->buf + g->len, p, keep);
	g->len += keep;
	generic_arm(g);
	return (ssize_t)n;
}

static void
generic_close(struct conn *c, void *arg)
{
	struct generic	*g = arg;

	if (g != NULL && g->len > 0) {
		conn_store_file(c, STORE_HEXDUMP, g->buf, g->len);
		generic_analyse(g);
	}
}

static void
generic_datagram(struct conn *c, const uint8_t *p, size_t n)
{
	generic_report(c, p, n);
	if (n > 0) {
		conn_store_file(c, STORE_HEXDUMP, p, n);
		conn_analyse(c, p, n, 0);
	}
}

const struct service service_generic_tcp = {
	.name = "generic",
	.transport = SERVICE_TCP,
	.session_new = generic_new,
	.session_free = generic_free,
	.on_data = generic_data,
	.on_close = generic_close,
};

const struct service service_generic_udp = {
	.name = "generic",
	.transport = SERVICE_UDP,
	.on_datagram = generic_datagram,
};
