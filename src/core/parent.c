/*
 * The parent (DESIGN.md section 3): starts as root, creates the data
 * directory, binds every listener, forks the store and the sensors and
 * hands each sensor its data channel to the store.  It restarts a child
 * that dies and forwards signals.  It never reads a network byte.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "event.h"
#include "connlimit.h"
#include "egress.h"
#include "host.h"
#include "listen.h"
#include "log.h"
#include "parent.h"
#include "ledger.h"
#include "proc.h"
#include "ring.h"
#include "sandbox.h"
#include "sensor.h"
#include "sc_proc.h"
#include "store_proc.h"

#define PARENT_MAX_SENSORS	64
#define PARENT_STOP_SECS	15	/* a child gets this long to stop */
#define PARENT_STEER_MARGIN	1000	/* connections; see parent_steer */

struct child {
	enum proc_id	kind;
	int		index;
	pid_t		pid;		/* 0: not running */
	int		ctl;		/* our end of the control channel */
	time_t		started;
	time_t		restart_at;	/* 0: no restart pending */
	unsigned	quick_deaths;	/* deaths soon after start, in a row */
};

static struct {
	const struct config	*conf;
	struct sandbox		 sb;
	struct listener		*ls;
	size_t			 nls;
	struct connlimit		*limits;
	struct egress_shared		*egress;
	int			 sigfd;
	struct child		 store;
	struct child		 analyser;
	struct child		 sensors[PARENT_MAX_SENSORS];
	int			 nsensors;
	/* Steering (parent_steer): sensors that take new connections. */
	int			 nactive;	/* as many as CPUs */
	uint64_t		 per_sensor;	/* connections one may hold */
	int			 steer[PARENT_MAX_SENSORS];
	int			 nsteer;
	int			 full[PARENT_MAX_SENSORS];
	time_t			 burst_until;	/* all take them till then */
	int			 lockfd;	/* data_dir/.lock, held */
	/* Each sensor's events to the store; the store's own ids. */
	struct ring		*rings[PARENT_MAX_SENSORS];
	struct ring		*store_ring;
	/* Each sensor's open sessions, for its successor to close. */
	struct ledger		*ledgers[PARENT_MAX_SENSORS];
	/* What the analyser analyses; what the last one died on. */
	struct analysis_now	*now;
	int			 lost_sensor;	/* -1: none */
	uint64_t		 lost_seq;
} pr;

static const char *
parent_child_name(const struct child *ch, char *buf, size_t len)
{
	if (ch->kind == PROC_STORE)
		snprintf(buf, len, "store");
	else if (ch->kind == PROC_ANALYSER)
		snprintf(buf, len, "analyser");
	else
		snprintf(buf, len, "sensor %d", ch->index);
	return buf;
}

/* In a new child: close what belongs to the parent and the others. */
static void
parent_child_fds(const struct child *self)
{
	sigset_t	all;
	int		i;

	close(pr.sigfd);
	close(pr.lockfd);	/* the lock is the parent's alone */
	if (pr.store.ctl != -1 && &pr.store != self)
		close(pr.store.ctl);
	if (pr.analyser.ctl != -1 && &pr.analyser != self)
		close(pr.analyser.ctl);
	for (i = 0; i < pr.nsensors; i++)
		if (pr.sensors[i].ctl != -1 && &pr.sensors[i] != self)
			close(pr.sensors[i].ctl);
	/* A sensor keeps its own set of listeners, no other child any. */
	for (i = 0; i < (int)pr.nls; i++)
		if (self->kind != PROC_SENSOR || pr.ls[i].set != self->index)
			close(pr.ls[i].fd);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
}

/*
 * In a new child: the store maps every ring, a sensor only its own ring
 * and ledger, the analyser none; only the analyser maps the word that
 * says what it analyses (no child may write into another's memory).
 */
static void
parent_child_rings(const struct child *self)
{
	int	i;

	if (self->kind != PROC_ANALYSER)
		munmap(pr.now, sizeof(*pr.now));

	for (i = 0; i < pr.nsensors; i++) {
		if (self->kind == PROC_ANALYSER ||
		    (self->kind == PROC_SENSOR && i != self->index))
			ring_unmap(pr.rings[i]);
		if (self->kind != PROC_SENSOR || i != self->index)
			ledger_unmap(pr.ledgers[i]);
	}
	if (self->kind != PROC_STORE)
		ring_unmap(pr.store_ring);
}

static void
parent_start(struct child *ch)
{
	int	sv[2];
	pid_t	pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		fatal("socketpair");
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0) {
		close(sv[0]);
		if (ch->ctl != -1)
			close(ch->ctl);
		ch->ctl = -1;
		parent_child_fds(ch);
		parent_child_rings(ch);
		if (ch->kind == PROC_STORE) {
			struct store_args a = { pr.conf, sv[1], &pr.sb,
			    pr.rings, pr.nsensors, pr.store_ring };

			store_main(&a);
		} else if (ch->kind == PROC_ANALYSER) {
			struct sc_proc_args a = { pr.conf, sv[1], &pr.sb,
			    pr.now };

			sc_proc_main(&a);
		} else {
			struct sensor_args a = {
				.conf = pr.conf, .index = ch->index,
				.ctl = sv[1], .limits = pr.limits,
				.egress = pr.egress,
				.listeners = pr.ls, .nlisteners = pr.nls,
				.sandbox = &pr.sb,
				.ring = pr.rings[ch->index],
				.ledger = pr.ledgers[ch->index],
			};

			sensor_main(&a);
		}
	}
	close(sv[1]);
	if (ch->ctl != -1)
		close(ch->ctl);
	ch->ctl = sv[0];
	ch->pid = pid;
	ch->started = time(NULL);
	ch->restart_at = 0;
}

/* Gives a sensor and its peer the two ends of a new data channel. */
static void
parent_link(struct child *sensor, struct child *peer)
{
	struct msg_link	ml = { .sensor = (uint32_t)sensor->index,
			    .peer = (uint32_t)peer->kind };

	/* A new analyser: the sensor whose analysis killed the last one. */
	if (peer->kind == PROC_ANALYSER && sensor->index == pr.lost_sensor) {
		ml.lost = 1;
		ml.lost_seq = pr.lost_seq;
	}
	int		sv[2];

	if (peer->pid == 0 || sensor->pid == 0)
		return;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		fatal("socketpair");
	if (ctl_send(peer->ctl, MSG_LINK, &ml, sizeof(ml), sv[0]) == -1)
		log_warn("link for sensor %d", sensor->index);
	if (ctl_send(sensor->ctl, MSG_LINK, &ml, sizeof(ml), sv[1]) == -1)
		log_warn("link to sensor %d", sensor->index);
	close(sv[0]);
	close(sv[1]);
}

static void
parent_start_sensor(struct child *s)
{
	connlimit_reset_sensor(pr.limits, s->index);
	parent_start(s);
	parent_link(s, &pr.analyser);
}

/* The analyser: every running sensor gets a new link to it. */
static void
parent_start_analyser(void)
{
	int	i;

	parent_start(&pr.analyser);
	for (i = 0; i < pr.nsensors; i++)
		parent_link(&pr.sensors[i], &pr.analyser);
	pr.lost_sensor = -1;
}

static struct child *
parent_find(pid_t pid)
{
	int	i;

	if (pr.store.pid == pid)
		return &pr.store;
	if (pr.analyser.pid == pid)
		return &pr.analyser;
	for (i = 0; i < pr.nsensors; i++)
		if (pr.sensors[i].pid == pid)
			return &pr.sensors[i];
	return NULL;
}

/*
 * The analyser died: if it was analysing, the sensor that sent that
 * payload drops it, and gives the new analyser the ones behind it.
 */
static void
parent_analyser_lost(void)
{
	uint32_t	s = atomic_load(&pr.now->sensor);

	pr.lost_sensor = s > 0 && s <= (uint32_t)pr.nsensors ? (int)s - 1 : -1;
	pr.lost_seq = atomic_load(&pr.now->seq);
	atomic_store(&pr.now->sensor, 0);
}

/*
 * A child died: say how, and plan its restart.  One that keeps dying
 * right after it starts waits longer each time (up to 30 s), so that a
 * broken set-up does not spin.
 */
static void
parent_reap(void)
{
	struct child	*ch;
	char		 name[32];
	pid_t		 pid;
	int		 status, delay;
	time_t		 now = time(NULL);

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if ((ch = parent_find(pid)) == NULL)
			continue;
		parent_child_name(ch, name, sizeof(name));
		if (WIFSIGNALED(status))
			log_warnx("%s (pid %d) killed by signal %d (%s); "
			    "restarting", name, (int)pid, WTERMSIG(status),
			    strsignal(WTERMSIG(status)));
		else
			log_warnx("%s (pid %d) exited with status %d; "
			    "restarting", name, (int)pid, WEXITSTATUS(status));
		ch->pid = 0;
		/* What it held is free now, not when it starts again. */
		if (ch->kind == PROC_SENSOR) {
			connlimit_reset_sensor(pr.limits, ch->index);
			egress_shared_reset(pr.egress, pid);
		}
		if (ch->kind == PROC_ANALYSER)
			parent_analyser_lost();
		if (now - ch->started < 5)
			ch->quick_deaths++;
		else
			ch->quick_deaths = 0;
		delay = ch->quick_deaths == 0 ? 0 :
		    (ch->quick_deaths > 5 ? 30 : 1 << (ch->quick_deaths - 1));
		/*
		 * A payload can kill the analyser (an emulator crash, the
		 * alarm): do not let a peer switch analysis off for long.
		 */
		if (ch->kind == PROC_ANALYSER && delay > 1)
			delay = 1;
		ch->restart_at = now + delay;
	}
}

static void
parent_restarts(void)
{
	time_t	now = time(NULL);
	int	i;

	if (pr.store.pid == 0 && pr.store.restart_at != 0 &&
	    pr.store.restart_at <= now)
		parent_start(&pr.store);
	if (pr.analyser.pid == 0 && pr.analyser.restart_at != 0 &&
	    pr.analyser.restart_at <= now)
		parent_start_analyser();
	for (i = 0; i < pr.nsensors; i++)
		if (pr.sensors[i].pid == 0 && pr.sensors[i].restart_at != 0 &&
		    pr.sensors[i].restart_at <= now)
			parent_start_sensor(&pr.sensors[i]);
}

/* Waits up to secs for the given children to exit; then kills them. */
static void
parent_wait(struct child **chs, int n, int secs)
{
	struct timespec	 ts = { 0, 50 * 1000 * 1000 };
	struct child	*ch;
	int		 i, left, tries;
	pid_t		 pid;

	for (tries = 0; tries < secs * 20; tries++) {
		/* Any child may exit now, not only the ones waited for. */
		while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
			if ((ch = parent_find(pid)) != NULL)
				ch->pid = 0;
		for (left = 0, i = 0; i < n; i++)
			left += chs[i]->pid != 0;
		if (left == 0)
			return;
		nanosleep(&ts, NULL);
	}
	for (i = 0; i < n; i++)
		if (chs[i]->pid != 0) {
			log_warnx("pid %d did not stop; killing it",
			    (int)chs[i]->pid);
			kill(chs[i]->pid, SIGKILL);
			waitpid(chs[i]->pid, NULL, 0);
			chs[i]->pid = 0;
		}
}

/* Sensors first, so that their last events reach the store; then it. */
static void
parent_stop(void)
{
	struct child	*chs[PARENT_MAX_SENSORS + 1];
	struct child	*st = &pr.store;
	int		 i;

	for (i = 0; i < pr.nsensors; i++)
		chs[i] = &pr.sensors[i];
	chs[i] = &pr.analyser;
	for (i = 0; i <= pr.nsensors; i++)
		if (chs[i]->pid != 0)
			kill(chs[i]->pid, SIGTERM);
	parent_wait(chs, pr.nsensors + 1, PARENT_STOP_SECS);
	if (st->pid != 0)
		kill(st->pid, SIGTERM);
	parent_wait(&st, 1, PARENT_STOP_SECS);
}

/*
 * One sensor per CPU; more when the open-file limit of one process is too
 * small for its share of limits.max_connections (a hard limit that root
 * may not raise, as in some containers).
 */
static int
parent_nsensors(const struct config *conf, size_t nlisteners)
{
	struct rlimit	rl;
	long		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t	per, need;
	int		n;

	if (conf->sensors > 0) {	/* the operator's: all take connections */
		pr.nactive = conf->sensors > PARENT_MAX_SENSORS ?
		    PARENT_MAX_SENSORS : conf->sensors;
		return pr.nactive;
	}
	n = ncpu > 0 ? (int)ncpu : 1;
	pr.nactive = n;
	if (conf->max_connections > 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur > nlisteners + 64) {
		per = (uint64_t)rl.rlim_cur - nlisteners - 64;
		pr.per_sensor = per;
		need = (conf->max_connections + per - 1) / per;
		if (need > (uint64_t)n) {
			log_info("%d sensors rather than %d: each may open "
			    "only %llu files", (int)need, n,
			    (unsigned long long)rl.rlim_cur);
			n = (int)need;
		}
	}
	return n > PARENT_MAX_SENSORS ? PARENT_MAX_SENSORS : n;
}

static time_t
parent_mono(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/*
 * When the open-file limit made more sensors than CPUs, new connections go
 * to as many sensors as there are CPUs, and move on to the next ones as
 * those fill: more busy processes than CPUs cost context switches (on two
 * CPUs, four sensors took a tenth off the connection rate).  A sensor
 * stops taking new connections at 80% of what it may hold (less, when
 * that leaves fewer than PARENT_STEER_MARGIN) and takes them again below
 * three quarters of that; one that is not running takes none.  When all
 * are past that, all take them, up to the cap.  So do all for a second
 * after an accept queue of one of the chosen was a quarter full: a burst
 * (a scanner, a worm) is better taken by every sensor than dropped by
 * full queues.
 */
static void
parent_steer(void)
{
	int		 sets[PARENT_MAX_SENSORS], n = 0, i;
	uint64_t	 used, hi, lo;
	char		 list[PARENT_MAX_SENSORS * 4], *p = list;

	if (pr.nactive >= pr.nsensors || pr.per_sensor == 0)
		return;
	/*
	 * The margin is what may come between two looks (1,000 connections
	 * in 50 ms at 20,000 a second) or a fifth, whichever is more: with a
	 * small open-file limit, every sensor counts as full and all take
	 * connections.
	 */
	hi = pr.per_sensor / 5 > PARENT_STEER_MARGIN ? pr.per_sensor / 5 :
	    PARENT_STEER_MARGIN;
	hi = pr.per_sensor > hi ? pr.per_sensor - hi : 0;
	lo = hi * 3 / 4;
	for (i = 0; i < pr.nsteer; i++)
		if (listen_backlogged(pr.ls, pr.nls, pr.steer[i]))
			pr.burst_until = parent_mono() + 1;
	for (i = 0; i < pr.nsensors && (n < pr.nactive ||
	    parent_mono() <= pr.burst_until); i++) {
		used = connlimit_sensor(pr.limits, i);
		pr.full[i] = used >= (pr.full[i] ? lo : hi);
		if (pr.sensors[i].pid != 0 && !pr.full[i])
			sets[n++] = i;
	}
	for (i = 0; i < pr.nsensors && n == 0; i++)
		if (pr.sensors[i].pid != 0)
			sets[n++] = i;
	if (n == 0 || (n == pr.nsteer &&
	    memcmp(sets, pr.steer, (size_t)n * sizeof(sets[0])) == 0))
		return;
	if (listen_steer(pr.ls, pr.nls, sets, n) == -1)
		return;
	memcpy(pr.steer, sets, (size_t)n * sizeof(sets[0]));
	pr.nsteer = n;
	for (i = 0; i < n; i++)
		p += snprintf(p, sizeof(list) - (size_t)(p - list), "%s%d",
		    i > 0 ? "," : "", sets[i]);
	log_info("new connections go to sensors %s of %d", list,
	    pr.nsensors);
}

/*
 * A sensor's ring holds what the store has not committed: room for four
 * of its largest records, a session's whole input or a downloaded file
 * (a file that did not fit would be lost), and 64 MiB at least.  Only
 * the pages in use take memory; the store gives back what it committed.
 */
static size_t
parent_ring_size(const struct config *conf)
{
	return ring_size_for(conf->max_input > conf->download_max_size ?
	    conf->max_input : conf->download_max_size);
}

/* Writes our pid into the lock file (again after daemonizing). */
static void
parent_lock_pid(int fd)
{
	char	pid[32];
	int	n;

	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, pid, (size_t)n, 0) != n)
		log_warn("writing the pid into data_dir/.lock");
}

/*
 * One sundew a data directory: two stores writing the same log and
 * database would interleave and corrupt them.  The lock (on data_dir/
 * .lock, which holds the parent's pid) lasts as long as the parent.
 */
static int
parent_lock(const char *dir, char *err, size_t errlen)
{
	struct stat	sb;
	char		path[PATH_MAX + 8], pid[32];
	ssize_t		n;
	int		fd;

	snprintf(path, sizeof(path), "%s/.lock", dir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0644)) == -1) {
		snprintf(err, errlen, "%.512s: %s", path, strerror(errno));
		return -1;
	}
	/* Root opens it in the sundew user's directory: no hard link. */
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    sb.st_nlink != 1 || sb.st_uid != geteuid()) {
		snprintf(err, errlen, "%.512s: not a regular file of ours with "
		    "one link; remove it", path);
		close(fd);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		snprintf(err, errlen, "another sundew (pid %s) uses the data "
		    "directory %.512s: stop it, or give this one another "
		    "data_dir",
		    pid[0] != '\0' ? pid : "?", dir);
		close(fd);
		return -1;
	}
	parent_lock_pid(fd);
	return fd;
}

static void
parent_nofile(uint64_t want)
{
	struct rlimit	rl;

	if (want == 0 || getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	rl.rlim_cur = rl.rlim_max = (rlim_t)want;
	if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
		return;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	log_warnx("could not raise the open file limit to %llu; it is %llu",
	    (unsigned long long)want, (unsigned long long)rl.rlim_cur);
}

static void
parent_daemonize(void)
{
	pid_t	pid;
	int	fd;

	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid != 0)
		_exit(0);
	if (setsid() == -1)
		fatal("setsid");
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
}

static int
parent_loop(void)
{
	struct signalfd_siginfo	 si;
	struct pollfd		 pfd = { .fd = pr.sigfd, .events = POLLIN };

	for (;;) {
		parent_restarts();
		parent_steer();
		/*
		 * Steering looks every 50 ms: 1,000 connections at 20,000 a
		 * second, far less than a sensor's 20% or a quarter queue.
		 */
		if (poll(&pfd, 1, pr.nactive < pr.nsensors ? 50 : 500) == -1 &&
		    errno != EINTR)
			fatal("poll");
		if (!(pfd.revents & POLLIN))
			continue;
		if (read(pr.sigfd, &si, sizeof(si)) != sizeof(si))
			continue;
		switch (si.ssi_signo) {
		case SIGCHLD:
			parent_reap();
			break;
		case SIGHUP:
			log_info("SIGHUP: reopening the logs");
			log_reopen();
			if (pr.store.pid != 0)
				ctl_send(pr.store.ctl, MSG_REOPEN, NULL, 0, -1);
			break;
		case SIGTERM:
		case SIGINT:
			log_info("stopping");
			parent_stop();
			log_info("stopped");
			return 0;
		}
	}
}

int
parent_run(const struct config *conf, int foreground, int verbose)
{
	char		 err[2048];
	sigset_t	 set;
	int		 i;

	sandbox_close_strays();
	memset(&pr, 0, sizeof(pr));
	pr.conf = conf;
	pr.store.kind = PROC_STORE;
	pr.store.ctl = -1;
	pr.analyser.kind = PROC_ANALYSER;
	pr.analyser.ctl = -1;
	log_init("parent", 1, verbose);
	/*
	 * Here, before the fork, so that every sensor and each one that
	 * replaces it says the same boot time.
	 */
	if (host_init(conf) == -1)
		return 1;
	if (sandbox_prepare(conf->user, conf->data_dir, conf->seccomp, &pr.sb,
	    err, sizeof(err)) == -1) {
		fprintf(stderr, "sundew: %s\n", err);
		return 1;
	}
	if ((pr.lockfd = parent_lock(pr.sb.data_dir, err,
	    sizeof(err))) == -1) {
		fprintf(stderr, "sundew: %s\n", err);
		return 1;
	}
	if (!pr.sb.privileged)
		log_warnx("not started as root: the sensors run as this user, "
		    "without chroot; run as root for the full sandbox");
	parent_nofile(conf->nofile);
	pr.nsensors = parent_nsensors(conf, listen_count(conf));
	if (listen_open_all(conf, pr.nsensors, &pr.ls, &pr.nls, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "sundew: %s\n", err);
		return 1;
	}
	pr.limits = connlimit_create(pr.nsensors, conf->max_connections,
	    conf->per_source);
	pr.egress = egress_shared_new(conf);
	if ((pr.store_ring = ring_create(RING_STORE, 0)) == NULL)
		return 1;
	pr.lost_sensor = -1;
	pr.now = mmap(NULL, sizeof(*pr.now), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (pr.now == MAP_FAILED)
		fatal("mmap");
	for (i = 0; i < pr.nsensors; i++) {
		if ((pr.rings[i] = ring_create((unsigned)i,
		    parent_ring_size(conf))) == NULL ||
		    (pr.ledgers[i] = ledger_create(conf->max_connections > 0 ?
		    conf->max_connections : 65536)) == NULL)
			return 1;
		pr.sensors[i].kind = PROC_SENSOR;
		pr.sensors[i].index = i;
		pr.sensors[i].ctl = -1;
	}
	if (!foreground) {
		parent_daemonize();
		log_init("parent", 0, verbose);
		parent_lock_pid(pr.lockfd);	/* the lock came with us */
	}

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		fatal("sigprocmask");
	if ((pr.sigfd = signalfd(-1, &set, SFD_CLOEXEC)) == -1)
		fatal("signalfd");
	signal(SIGPIPE, SIG_IGN);

	parent_start(&pr.store);
	parent_start_analyser();
	for (i = 0; i < pr.nsensors; i++)
		parent_start_sensor(&pr.sensors[i]);
	log_info("sundew %s: %zu sockets, %d sensors, data in %s",
	    SUNDEW_VERSION, pr.nls / (size_t)pr.nsensors, pr.nsensors,
	    conf->data_dir);
	return parent_loop();
}
