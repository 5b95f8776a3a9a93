/*
 * The store process: the only one that writes the data directory.  It
 * reads each sensor's ring (ring.h) in batches, passes events and files
 * to the back ends (store.h), and commits a ring's records only once the
 * JSON log and SQLite both hold them: when the disk refuses them, the
 * records stay in the rings (the sensors stop accepting as their rings
 * fill) and go in when it takes them again.  It runs chrooted into the
 * data directory as the unprivileged user.
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
#include "log.h"
#include "proc.h"
#include "ring.h"
#include "sandbox.h"
#include "store.h"
#include "store_proc.h"

/*
 * Rings are read every STORE_PROC_BATCH_USEC (one write(2) and one COMMIT
 * a batch), at once again while one has more than a batch's worth.
 */
#define STORE_PROC_BATCH_USEC	100000
#define STORE_PROC_STOP_SECS	10	/* to write the last records */

static struct {
	const struct config	*conf;
	struct event_base	*base;
	struct store		*st;
	struct ring		**rings;
	int			 nrings;
	struct ring		*own;
	struct event		*batch;
} sp;

static uint64_t
store_proc_next_id(void *arg)
{
	return ring_next_id(sp.own);
}

/*
 * One record of a sensor's ring to the back ends.  The ring is shared
 * with the sensor, which may write while we read: what is checked is
 * copied first (an event whole, a file's header), so that a check holds
 * for what is used.
 */
static void
store_proc_record(int sensor, const struct ring_rec *rec, const uint8_t *p)
{
	static char		ev[EVENT_MAX];
	struct ring_file	mf;
	const char		*ctx;
	const uint8_t		*data;
	size_t			 len;

	if (rec->type == RING_EVENT) {
		if (rec->len > sizeof(ev)) {
			log_warnx("ring of sensor %d: an event of %u bytes: "
			    "skipped", sensor, rec->len);
			return;
		}
		memcpy(ev, p, rec->len);
		store_event(sp.st, ev, rec->len, rec->id);
		return;
	}
	if (rec->len >= sizeof(mf))
		memcpy(&mf, p, sizeof(mf));
	if (rec->len < sizeof(mf) || mf.ctxlen > rec->len - sizeof(mf)) {
		log_warnx("ring of sensor %d: a file record of %u bytes with "
		    "a context of %u: skipped", sensor, rec->len,
		    rec->len < sizeof(mf) ? 0 : mf.ctxlen);
		return;
	}
	ctx = (const char *)p + sizeof(mf);
	data = p + sizeof(mf) + mf.ctxlen;
	len = rec->len - sizeof(mf) - mf.ctxlen;
	/* A download's id is its complete event's; the next, its file's. */
	if (mf.kind == (STORE_BINARY | STORE_DOWNLOAD))
		store_download(sp.st, ctx, mf.ctxlen, data, len, rec->id,
		    rec->id != 0 ? rec->id + RING_INDEXES : 0);
	else
		store_file(sp.st, (enum store_kind)mf.kind, ctx, mf.ctxlen,
		    data, len, rec->id);
}

/*
 * Writes what waits, then reads at most a batch from each ring and writes
 * that.  Records are committed only when everything read is written.
 * Returns 1 if a ring has more waiting, 0 if not, -1 if the disk refused.
 */
static int
store_proc_read(void)
{
	struct ring_rec	 rec;
	const void	*p;
	size_t		 bytes, max;
	int		 i, more = 0;

	if (store_flush(sp.st) == -1)
		return -1;
	max = store_batch_max(sp.st) / (size_t)(sp.nrings > 0 ? sp.nrings : 1);
	for (i = 0; i < sp.nrings; i++) {
		for (bytes = 0; bytes < max &&
		    ring_read(sp.rings[i], &rec, &p) == 1;
		    bytes += sizeof(rec) + rec.len)
			store_proc_record(i, &rec, p);
		more |= ring_pending(sp.rings[i]);
	}
	if (store_flush(sp.st) == -1)
		return -1;
	for (i = 0; i < sp.nrings; i++)
		ring_commit(sp.rings[i]);
	return more;
}

static void
store_proc_batch(evutil_socket_t fd, short what, void *arg)
{
	struct timeval	tv = { 0, STORE_PROC_BATCH_USEC };

	if (store_proc_read() == 1)
		tv.tv_usec = 0;
	evtimer_add(sp.batch, &tv);
}

/*
 * SIGTERM: the rest of the rings, then exit.  The parent stops the
 * sensors first, but a signal to the whole process group (Ctrl-C, a
 * service manager) reaches the sensors and the store at once: the rings
 * are read until they have been quiet for STORE_PROC_QUIET reads, so the
 * sensors' last close events are in.
 */
#define STORE_PROC_QUIET	3

static void
store_proc_stop(evutil_socket_t sig, short what, void *arg)
{
	struct timespec	ts = { 0, STORE_PROC_BATCH_USEC * 1000 };
	int		i, n, tries, quiet = 0;

	for (tries = 0; tries < STORE_PROC_STOP_SECS * 10 &&
	    quiet < STORE_PROC_QUIET; tries++) {
		n = store_proc_read();
		quiet = n == 0 ? quiet + 1 : 0;
		if (n != 1)
			nanosleep(&ts, NULL);
	}
	for (i = 0, n = 0; i < sp.nrings; i++)
		n += ring_pending(sp.rings[i]);
	if (n > 0)
		log_warnx("stopping with the events of %d sensors not "
		    "written: the disk refused them", n);
	store_close(sp.st);
	log_debug("stopped");
	_exit(0);
}

static void
store_proc_ctl(evutil_socket_t fd, short what, void *arg)
{
	uint32_t	type;
	size_t		got;
	char		buf[64];
	int		n, pass;

	n = ctl_recv(fd, &type, buf, sizeof(buf), &got, &pass);
	if (n == -1 && errno == EAGAIN)
		return;
	if (n == -1)
		fatal("control channel");
	if (n == 0) {
		log_warnx("the parent is gone; stopping");
		store_proc_stop(SIGTERM, 0, NULL);
	}
	if (pass != -1)
		close(pass);
	if (type != MSG_REOPEN)
		fatalx("unexpected control message %u", type);
	store_reopen(sp.st);
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
	struct timeval	 second = { 1, 0 }, now = { 0, 0 };
	struct event	*ctl_ev, *tick;
	int		 i;

	memset(&sp, 0, sizeof(sp));
	sp.conf = a->conf;
	sp.rings = a->rings;
	sp.nrings = a->nrings;
	sp.own = a->own;
	log_procname("store");
	prctl(PR_SET_NAME, "sundew-store");
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	event_set_sensor(a->conf->sensor_name);
	event_set_ids(store_proc_next_id, NULL);
	/* Whatever the last store read but did not commit, again. */
	for (i = 0; i < sp.nrings; i++)
		ring_rewind(sp.rings[i]);

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
	tick = event_new(sp.base, -1, EV_PERSIST, store_proc_tick, NULL);
	sp.batch = evtimer_new(sp.base, store_proc_batch, NULL);
	if (ctl_ev == NULL || tick == NULL || sp.batch == NULL ||
	    event_add(ctl_ev, NULL) == -1 || event_add(tick, &second) == -1 ||
	    evtimer_add(sp.batch, &now) == -1)
		fatalx("store events");
	store_proc_signal(SIGTERM, store_proc_stop);
	store_proc_signal(SIGINT, store_proc_stop);
	store_proc_signal(SIGHUP, store_proc_hup);
	signal(SIGPIPE, SIG_IGN);
	event_base_dispatch(sp.base);
	fatalx("event loop ended");
}
