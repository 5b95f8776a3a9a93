/*
 * The store process: the only one that writes the data directory.  It
 * takes one data channel per sensor (handed over by the parent), reads
 * framed messages from them and passes events and files to the back ends
 * (store.h).  It runs chrooted into the data directory as the unprivileged
 * user; a malformed message from a sensor is a bug and fatal.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "event.h"
#include "link.h"
#include "log.h"
#include "proc.h"
#include "sandbox.h"
#include "store.h"
#include "store_proc.h"

#define STORE_PROC_MAX_LINKS	64	/* one per sensor */

static struct {
	const struct config	*conf;
	struct event_base	*base;
	struct store		*st;
	struct link		*links[STORE_PROC_MAX_LINKS];
	int			 stopping;
	struct event		*tick;
	struct event		*flush;		/* pending batch */
} sp;

/*
 * Events are written in batches: one write(2) and one COMMIT per batch
 * costs far less than one per read, and a batch waits at most this long.
 */
#define STORE_PROC_BATCH_USEC	100000

static void
store_proc_exit(void)
{
	store_close(sp.st);
	log_debug("stopped");
	_exit(0);
}

/* Stopping once every sensor has closed its link. */
static void
store_proc_link_closed(void *arg)
{
	size_t	i;

	if (!sp.stopping)
		return;
	for (i = 0; i < STORE_PROC_MAX_LINKS; i++)
		if (sp.links[i] != NULL && link_connected(sp.links[i]))
			return;
	store_proc_exit();
}

static void
store_proc_message(const struct msg_hdr *hdr, const uint8_t *p, void *arg)
{
	const struct msg_file	*mf;
	struct timeval		 tv = { 0, STORE_PROC_BATCH_USEC };

	switch (hdr->type) {
	case MSG_EVENT:
		store_event(sp.st, (const char *)p, hdr->len);
		break;
	case MSG_FILE:
		if (hdr->len < sizeof(*mf))
			fatalx("file message of %u bytes", hdr->len);
		mf = (const void *)p;
		if (mf->ctxlen > hdr->len - sizeof(*mf))
			fatalx("file message: context of %u bytes", mf->ctxlen);
		store_file(sp.st, (enum store_kind)mf->kind,
		    (const char *)p + sizeof(*mf), mf->ctxlen,
		    p + sizeof(*mf) + mf->ctxlen,
		    hdr->len - sizeof(*mf) - mf->ctxlen);
		break;
	default:
		fatalx("sensor sent a message of type %u", hdr->type);
	}
	if (!evtimer_pending(sp.flush, NULL))
		evtimer_add(sp.flush, &tv);
}

static void
store_proc_flush(evutil_socket_t fd, short what, void *arg)
{
	store_flush(sp.st);
}

/* A new channel from the parent for one sensor's messages. */
static void
store_proc_add_link(int fd, uint32_t sensor)
{
	if (sensor >= STORE_PROC_MAX_LINKS)
		fatalx("link for sensor %u", sensor);
	if (sp.links[sensor] == NULL) {
		sp.links[sensor] = link_new(sp.base, "sensor",
		    store_proc_message, NULL, NULL);
		link_set_close_cb(sp.links[sensor], store_proc_link_closed);
	}
	link_set_fd(sp.links[sensor], fd);
}

static void
store_proc_ctl(evutil_socket_t fd, short what, void *arg)
{
	struct msg_link	ml;
	uint32_t	type;
	size_t		got;
	int		n, pass;

	n = ctl_recv(fd, &type, &ml, sizeof(ml), &got, &pass);
	if (n == -1 && errno == EAGAIN)
		return;
	if (n == -1)
		fatal("control channel");
	if (n == 0) {
		log_warnx("the parent is gone; stopping");
		store_proc_exit();
	}
	switch (type) {
	case MSG_LINK:
		if (pass == -1 || got != sizeof(ml))
			fatalx("link message without a channel");
		store_proc_add_link(pass, ml.sensor);
		break;
	case MSG_REOPEN:
		store_reopen(sp.st);
		break;
	default:
		fatalx("unexpected control message %u", type);
	}
}

static void
store_proc_give_up(evutil_socket_t fd, short what, void *arg)
{
	log_warnx("sensors did not close their links in time; stopping");
	store_proc_exit();
}

/* SIGTERM: the sensors stop first; drain their links, then exit. */
static void
store_proc_stop(evutil_socket_t sig, short what, void *arg)
{
	struct timeval	tv = { 10, 0 };

	sp.stopping = 1;
	store_proc_link_closed(NULL);
	event_base_once(sp.base, -1, EV_TIMEOUT, store_proc_give_up, NULL,
	    &tv);
}

static void
store_proc_hup(evutil_socket_t sig, short what, void *arg)
{
	store_reopen(sp.st);
}

static void
store_proc_tick(evutil_socket_t fd, short what, void *arg)
{
	store_tick(sp.st);
}

static void
store_proc_signal(int sig, event_callback_fn cb)
{
	struct event	*ev = evsignal_new(sp.base, sig, cb, NULL);

	if (ev == NULL || event_add(ev, NULL) == -1)
		fatalx("signal event %d", sig);
}

void
store_main(const struct store_args *a)
{
	struct timeval	 second = { 1, 0 };
	struct event	*ctl_ev;

	memset(&sp, 0, sizeof(sp));
	sp.conf = a->conf;
	log_procname("store");
	prctl(PR_SET_NAME, "sundew-store");
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	event_set_sensor(a->conf->sensor_name);

	/* Open everything from inside the data directory, then lock it in. */
	if (chdir(a->sandbox->data_dir) == -1)
		fatal("chdir %s", a->sandbox->data_dir);
	if ((sp.st = store_open(a->conf)) == NULL)
		fatalx("cannot open the store in %s", a->sandbox->data_dir);
	if ((sp.base = event_base_new()) == NULL)
		fatalx("event_base_new");
	sandbox_enter(a->sandbox, ".", SANDBOX_STORE);

	evutil_make_socket_nonblocking(a->ctl);
	ctl_ev = event_new(sp.base, a->ctl, EV_READ | EV_PERSIST,
	    store_proc_ctl, NULL);
	sp.tick = event_new(sp.base, -1, EV_PERSIST, store_proc_tick, NULL);
	sp.flush = evtimer_new(sp.base, store_proc_flush, NULL);
	if (ctl_ev == NULL || sp.tick == NULL || sp.flush == NULL ||
	    event_add(ctl_ev, NULL) == -1 || event_add(sp.tick, &second) == -1)
		fatalx("store events");
	store_proc_signal(SIGTERM, store_proc_stop);
	store_proc_signal(SIGINT, store_proc_stop);
	store_proc_signal(SIGHUP, store_proc_hup);
	signal(SIGPIPE, SIG_IGN);
	event_base_dispatch(sp.base);
	fatalx("event loop ended");
}
