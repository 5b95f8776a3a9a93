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

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "config.h"
#include "event.h"
#include "log.h"
#include "proc.h"
#include "sandbox.h"
#include "store.h"
#include "store_proc.h"

struct store_link {
	struct bufferevent	*bev;
	uint32_t		 sensor;
	struct store_link	*next;
};

static struct {
	const struct config	*conf;
	struct event_base	*base;
	struct store		*st;
	struct store_link	*links;
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

static void
store_proc_unlink(struct store_link *l)
{
	struct store_link	**pp;

	for (pp = &sp.links; *pp != NULL; pp = &(*pp)->next)
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	bufferevent_free(l->bev);
	free(l);
	if (sp.stopping && sp.links == NULL)
		store_proc_exit();
}

static void
store_proc_message(const struct msg_hdr *hdr, const uint8_t *p)
{
	const struct msg_file	*mf;

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
}

static void
store_proc_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer	*in = bufferevent_get_input(bev);
	struct msg_hdr	 hdr;
	struct timeval	 tv = { 0, STORE_PROC_BATCH_USEC };
	void		*p;

	while (msg_unframe(in, &hdr, &p) == 1) {
		store_proc_message(&hdr, p);
		free(p);
	}
	if (!evtimer_pending(sp.flush, NULL))
		evtimer_add(sp.flush, &tv);
}

static void
store_proc_flush(evutil_socket_t fd, short what, void *arg)
{
	store_flush(sp.st);
}

static void
store_proc_link_event(struct bufferevent *bev, short what, void *arg)
{
	struct store_link	*l = arg;

	store_proc_read(bev, arg);
	if (evbuffer_get_length(bufferevent_get_input(bev)) > 0)
		log_warnx("sensor %u closed its link halfway through a "
		    "message", l->sensor);
	log_debug("link of sensor %u closed", l->sensor);
	store_proc_unlink(l);
}

static void
store_proc_add_link(int fd, uint32_t sensor)
{
	struct store_link	*l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		fatal("calloc");
	evutil_make_socket_nonblocking(fd);
	l->bev = bufferevent_socket_new(sp.base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (l->bev == NULL)
		fatalx("bufferevent_socket_new");
	l->sensor = sensor;
	bufferevent_setcb(l->bev, store_proc_read, NULL,
	    store_proc_link_event, l);
	bufferevent_enable(l->bev, EV_READ);
	l->next = sp.links;
	sp.links = l;
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
	if (sp.links == NULL)
		store_proc_exit();
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
