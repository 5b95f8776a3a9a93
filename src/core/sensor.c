#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "capture.h"
#include "config.h"
#include "conn.h"
#include "event.h"
#include "host.h"
#include "link.h"
#include "listen.h"
#include "log.h"
#include "proc.h"
#include "proto.h"
#include "ring.h"
#include "sandbox.h"
#include "sensor.h"
#include "store.h"

/* At most this many payloads await a verdict; more are not analysed. */
#define SENSOR_PENDING_MAX	16384

struct sensor_pending {
	uint64_t		 seq;
	/* The session (its fields: our copy, never the analyser's word). */
	struct capture_origin	*origin;
	uint8_t		*data;		/* the payload, sent again to a */
	size_t		 len;		/* new analyser if this one dies */
};

/* Connections taken from one listener per wakeup (sensor_accept_cb). */
#define SENSOR_ACCEPT_BATCH	64

/* Past this much waiting for the analyser, payloads are not analysed. */
#define SENSOR_ANALYSER_BACKLOG	(64u * 1024 * 1024)

struct sensor {
	const struct config	*conf;
	int			 index;
	int			 ctl;
	struct event_base	*base;
	struct connlimit		*limits;
	struct egress_shared	*egress;
	const struct listener	*listeners;
	size_t			 nlisteners;
	struct event		**tcp;
	struct event		**udp;
	struct event		*ctl_ev;
	struct event		*sigterm_ev;
	struct event		*sigint_ev;
	struct ring		*ring;		/* to the store */
	struct ledger		*ledger;	/* open sessions */
	struct event		*ring_ev;	/* while it is full or behind */
	struct link		*analyser;
	/* Analyses awaiting a verdict, oldest first (a ring). */
	struct sensor_pending	 pending[SENSOR_PENDING_MAX];
	size_t			 pending_head, npending;
	size_t			 pending_bytes;	/* their payloads */
	uint64_t		 next_seq;
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

struct egress_shared *
sensor_egress(void)
{
	return sensor.egress;
}

struct sensor_stats *
sensor_stats(void)
{
	return &sensor.stats;
}

struct ledger *
sensor_ledger(void)
{
	return sensor.ledger;
}

const struct listener *
sensor_listener(size_t i)
{
	return i < sensor.nlisteners ? &sensor.listeners[i] : NULL;
}

/*
 * The store is behind when a quarter of the ring waits for it: the
 * sensor stops accepting (its sessions go on) until less than a
 * sixteenth does, rather than lose events.
 */
#define SENSOR_RING_CHECK_USEC	50000

static uint64_t
sensor_next_id(void *arg)
{
	return ring_next_id(sensor.ring);
}

/* While paused or holding what the ring had no room for: look again. */
static void
sensor_ring_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval	tv = { 0, SENSOR_RING_CHECK_USEC };
	size_t		waiting = ring_flush(sensor.ring);

	if (sensor.paused && ring_used(sensor.ring) <
	    ring_size(sensor.ring) / 16)
		sensor_pause_accept(0);
	if (sensor.paused || waiting > 0)
		evtimer_add(sensor.ring_ev, &tv);
}

static void
sensor_ring_check(void)
{
	struct timeval	tv = { 0, SENSOR_RING_CHECK_USEC };

	if (!sensor.paused &&
	    ring_used(sensor.ring) > ring_size(sensor.ring) / 4)
		sensor_pause_accept(1);
	if ((sensor.paused || ring_flush(sensor.ring) > 0) &&
	    !evtimer_pending(sensor.ring_ev, NULL))
		evtimer_add(sensor.ring_ev, &tv);
}

void
sensor_send_event(struct event_buf *ev)
{
	size_t	len = event_end(ev);

	ring_put(sensor.ring, RING_EVENT, ev->id, ev->buf, len, NULL, 0);
	sensor_ring_check();
}

int
sensor_send_file(int kind, const char *ctx, size_t ctxlen, const void *data,
    size_t len)
{
	struct {
		struct ring_file mf;
		char		ctx[SENSOR_FILE_CTX];
	} m;
	uint64_t	id;
	int		rc;

	if (ctxlen > sizeof(m.ctx))
		ctxlen = 0;
	m.mf.kind = (uint32_t)kind;
	m.mf.ctxlen = (uint32_t)ctxlen;
	memcpy(m.ctx, ctx, ctxlen);
	/*
	 * The id of the sundew.file.stored event that the store will make;
	 * a download's is that of its sundew.download.complete, and the
	 * next one (this ring's next, store_proc.c) its file's.
	 */
	id = ring_next_id(sensor.ring);
	if (kind & STORE_DOWNLOAD)
		ring_next_id(sensor.ring);
	rc = ring_put(sensor.ring, RING_FILE, id, &m, sizeof(m.mf) + ctxlen,
	    data, len);
	sensor_ring_check();
	return rc;
}

/* Queues pending analysis pa for the analyser; -1 if it cannot. */
static int
sensor_analyse_send(const struct sensor_pending *pa)
{
	struct {
		struct msg_analyse	ma;
		char			ctx[1024];
	} m;

	m.ma.seq = pa->seq;
	m.ma.ctxlen = (uint32_t)pa->origin->ctxlen;
	memcpy(m.ctx, pa->origin->ctx, pa->origin->ctxlen);
	return link_queue(sensor.analyser, MSG_ANALYSE, &m,
	    sizeof(m.ma) + pa->origin->ctxlen, pa->data, pa->len);
}

/*
 * Hands a payload to the analyser.  When it is far behind, the payload is
 * not analysed (it is still kept as a hexdump) and the caller is told.
 * The payload is kept until its verdict, for a new analyser if this one
 * dies.
 */
int
sensor_analyse(const struct capture_origin *o, const void *data, size_t len)
{
	struct sensor_pending	*pa;

	if (o->ctxlen > sizeof(o->ctx) || sensor.npending == SENSOR_PENDING_MAX ||
	    sensor.pending_bytes + len > SENSOR_ANALYSER_BACKLOG)
		return -1;
	pa = &sensor.pending[(sensor.pending_head + sensor.npending) %
	    SENSOR_PENDING_MAX];
	if ((pa->origin = malloc(sizeof(*o))) == NULL)
		return -1;
	if ((pa->data = malloc(len > 0 ? len : 1)) == NULL) {
		free(pa->origin);
		return -1;
	}
	memcpy(pa->origin, o, sizeof(*o));
	memcpy(pa->data, data, len);
	pa->len = len;
	pa->seq = sensor.next_seq++;
	if (sensor_analyse_send(pa) == -1) {
		free(pa->origin);
		free(pa->data);
		return -1;
	}
	sensor.pending_bytes += len;
	sensor.npending++;
	return 0;
}

/* Drops the oldest analysis awaiting a verdict. */
static void
sensor_pending_pop(void)
{
	struct sensor_pending	*pa = &sensor.pending[sensor.pending_head];

	free(pa->origin);
	free(pa->data);
	sensor.pending_bytes -= pa->len;
	sensor.pending_head = (sensor.pending_head + 1) % SENSOR_PENDING_MAX;
	sensor.npending--;
}

/*
 * A new analyser: if the last one died on one of our payloads (a crash,
 * its alarm; the parent says which), that one is dropped; the others,
 * which it may have read or not, go to the new one.  A hang or a crash
 * costs one analysis.
 */
static void
sensor_analyser_new(const struct msg_link *ml)
{
	struct sensor_pending	*pa;
	size_t			 i;

	link_clear(sensor.analyser);
	for (i = 0; i < sensor.npending; i++) {
		pa = &sensor.pending[(sensor.pending_head + i) %
		    SENSOR_PENDING_MAX];
		if (pa->data == NULL)
			continue;
		if (ml->lost && pa->seq == ml->lost_seq) {
			/* No verdict will come: the next one's pops it. */
			log_warnx("the analyser died on the payload of {%.*s}: "
			    "not analysed", (int)pa->origin->ctxlen,
			    pa->origin->ctx);
			free(pa->data);
			pa->data = NULL;
			sensor.pending_bytes -= pa->len;
			pa->len = 0;
			continue;
		}
		sensor_analyse_send(pa);
	}
}

/*
 * A verdict of the analyser: checked, then an event with the session's
 * fields as this sensor kept them.  Verdicts come in the order the
 * payloads went; the ones skipped were lost with an analyser that died.
 */
static void
sensor_analyser_msg(const struct msg_hdr *hdr, const uint8_t *p, void *arg)
{
	const struct msg_result	*mr = (const void *)p;
	struct sensor_pending	*pa;

	if (hdr->type != MSG_RESULT || hdr->len != sizeof(*mr)) {
		log_warnx("analyser sent a bad message (type %u, %u bytes): "
		    "dropped", hdr->type, hdr->len);
		return;
	}
	while (sensor.npending > 0 &&
	    sensor.pending[sensor.pending_head].seq < mr->seq)
		sensor_pending_pop();
	pa = &sensor.pending[sensor.pending_head];
	if (sensor.npending == 0 || pa->seq != mr->seq) {
		log_warnx("analyser sent a verdict on analysis %llu, which "
		    "awaits none: dropped", (unsigned long long)mr->seq);
		return;
	}
	conn_shellcode(pa->origin, &mr->res);
	sensor_pending_pop();
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
				event_del(sensor.tcp[i]);
			else
				event_add(sensor.tcp[i], NULL);
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
		    ring_used(sensor.ring));
	else
		log_info("the store caught up: accepting again");
}

static void
sensor_accept_resume(evutil_socket_t fd, short what, void *arg)
{
	if (!sensor.paused && !sensor.stopping)
		event_add(arg, NULL);
}

/*
 * A listener is readable: takes what its accept queue holds, at most
 * SENSOR_ACCEPT_BATCH at a time, so that a flood of connections cannot
 * keep the loop from its timers and from sending events to the store.
 */
static void
sensor_accept_cb(evutil_socket_t fd, short what, void *arg)
{
	const struct listener	*l = arg;
	struct sockaddr_storage	 ss;
	struct timeval		 tv = { 0, 200000 };
	static time_t		 warned;
	time_t			 now;
	struct event		*ev;
	socklen_t		 sslen;
	int			 i, s, err;

	for (i = 0; i < SENSOR_ACCEPT_BATCH && !sensor.paused; i++) {
		sslen = sizeof(ss);
		s = accept4(fd, (struct sockaddr *)&ss, &sslen,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (s != -1) {
			conn_accept(l, s, (struct sockaddr *)&ss, (int)sslen);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED ||
		    errno == EPROTO || errno == EPERM)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		err = errno;
		if ((now = time(NULL)) != warned) {	/* a line a second */
			warned = now;
			log_warnx("accept on port %u: %s", l->port,
			    strerror(err));
		}
		if (err == EMFILE || err == ENFILE)
			conn_listener_limit(l, "nofile");
		/*
		 * EMFILE and friends: wait a moment rather than spin (and
		 * spin rather than stop listening, if even that fails).
		 */
		ev = sensor.tcp[l - sensor.listeners];
		event_del(ev);
		if (event_base_once(sensor.base, -1, EV_TIMEOUT,
		    sensor_accept_resume, ev, &tv) == -1)
			event_add(ev, NULL);
		return;
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
	struct timespec	ts = { 0, 100 * 1000 * 1000 };
	size_t		i;
	int		tries;

	sensor.stopping = 1;
	for (i = 0; i < sensor.nlisteners; i++) {
		if (sensor.tcp[i] != NULL)
			event_del(sensor.tcp[i]);
		if (sensor.udp[i] != NULL)
			event_del(sensor.udp[i]);
	}
	capture_stop();
	conn_close_all("shutdown");
	conn_limit_flush();
	/* The store still reads (the parent stops it after the sensors). */
	for (tries = 0; tries < 100 && ring_flush(sensor.ring) > 0; tries++)
		nanosleep(&ts, NULL);
	if (ring_flush(sensor.ring) > 0)
		log_warnx("stopping with %zu bytes of events the store had no "
		    "room for: they are lost", ring_flush(sensor.ring));
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

	n = ctl_read(fd, &type, &ml, sizeof(ml), &got, &pass);
	if (n == 0)
		return;
	if (n == -1)
		sensor_stop(SIGTERM, 0, NULL);
	if (type == MSG_LINK && pass != -1 && got == sizeof(ml) &&
	    ml.peer == PROC_ANALYSER) {
		link_set_fd(sensor.analyser, pass);
		sensor_analyser_new(&ml);
	} else
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

		if (l->set != sensor.index)
			continue;
		if (l->transport == SERVICE_TCP) {
			sensor.tcp[i] = event_new(sensor.base, l->fd,
			    EV_READ | EV_PERSIST, sensor_accept_cb, (void *)l);
			if (sensor.tcp[i] == NULL ||
			    event_add(sensor.tcp[i], NULL) == -1)
				fatalx("event on tcp port %u", l->port);
		} else {
			sensor.udp[i] = event_new(sensor.base, l->fd,
			    EV_READ | EV_PERSIST, sensor_udp_cb, (void *)l);
			if (sensor.udp[i] == NULL ||
			    event_add(sensor.udp[i], NULL) == -1)
				fatalx("event on udp port %u", l->port);
			conn_udp_watch(l);
		}
	}
}

/*
 * SCHED_BATCH: a sensor that wakes does not preempt what is running (the
 * store, the analyser, the host's other work) but waits for its turn, a
 * few milliseconds at most when every CPU is busy, which an attacker's
 * client does not notice; with a CPU idle nothing changes.  On two CPUs
 * under the rate benchmark: 8-11% more connections a second, from fewer
 * context switches.
 */
static void
sensor_sched_batch(void)
{
	struct sched_param	sp;

	memset(&sp, 0, sizeof(sp));
	if (sched_setscheduler(0, SCHED_BATCH, &sp) == -1)
		log_warn("sched_setscheduler SCHED_BATCH");
}

void
sensor_main(const struct sensor_args *a)
{
	char	name[32];
	size_t	n;

	memset(&sensor, 0, sizeof(sensor));
	sensor.conf = a->conf;
	sensor.index = a->index;
	sensor.ctl = a->ctl;
	sensor.limits = a->limits;
	sensor.egress = a->egress;
	sensor.listeners = a->listeners;
	sensor.nlisteners = a->nlisteners;

	/*
	 * Fixed thresholds: glibc would raise the mmap threshold after the
	 * first large buffer is freed (a queue to a stalled store), then
	 * take the next ones from the heap, whose top a small allocation
	 * can pin: the sensor's memory stepped up by megabytes and stayed.
	 */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	mallopt(M_TRIM_THRESHOLD, 128 * 1024);
	snprintf(name, sizeof(name), "sensor %d", a->index);
	log_procname(name);
	prctl(PR_SET_NAME, "sundew-sensor");
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	event_set_sensor(a->conf->sensor_name);
	sensor.ring = a->ring;
	sensor.ledger = a->ledger;
	event_set_ids(sensor_next_id, NULL);

	/* Everything that needs a file is opened before the chroot. */
	if ((sensor.base = event_base_new()) == NULL ||
	    (sensor.ring_ev = evtimer_new(sensor.base, sensor_ring_cb,
	    NULL)) == NULL)
		fatalx("event_base_new");
	sensor.analyser = link_new(sensor.base, "analyser",
	    sensor_analyser_msg, NULL);
	sensor_sched_batch();
	capture_init(a->conf);
	/* Again in case of a sensor run alone; the parent's boot time stays. */
	if (host_init(a->conf) == -1)
		fatalx("host configuration");
	sandbox_enter(a->sandbox, a->sandbox->empty_dir, SANDBOX_SENSOR);
	capture_start(sensor.base);

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
	n = conn_close_orphans();
	if (n > 0)
		log_warnx("closed the %zu sessions that the last sensor left "
		    "open", n);
	sensor_listen();
	sensor_ring_check();	/* a ring that a dead sensor left full */
	log_debug("listening on %zu sockets", sensor.nlisteners);
	event_base_dispatch(sensor.base);
	fatalx("event loop ended");
}
