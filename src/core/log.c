#include <errno.h>
#include <paths.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char	*log_name = "sundew";
static int		 log_fg = 1;
static int		 log_verbose;
/*
 * In the background, lines go to the syslog socket ourselves rather than
 * through syslog(3): glibc's, when a send fails (syslogd restarted, say,
 * by logrotate), makes a new socket, which the seccomp filter of the store
 * and the analyser answers with death; and it blocks while syslogd is
 * slow, which would stall a sensor's event loop.
 */
static int		 log_fd = -1;
static int		 log_child;	/* sandboxed: never a new socket */

/* A datagram socket connected to the local syslog; -1 if none now. */
static int
log_connect(void)
{
	struct sockaddr_un	sun;
	int			fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", _PATH_LOG);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

void
log_init(const char *procname, int foreground, int verbose)
{
	log_name = procname;
	log_fg = foreground;
	log_verbose = verbose;
	if (!log_fg && log_fd == -1)
		log_fd = log_connect();
}

/*
 * A child names its lines; it keeps the syslog socket it inherited and
 * never makes another (its sandbox forbids it, and its chroot has no
 * /dev/log): after syslogd restarts, its lines are lost until it is.
 */
void
log_procname(const char *procname)
{
	log_name = procname;
	log_child = 1;
}

void
log_reopen(void)
{
	if (log_fg || log_child)
		return;
	if (log_fd != -1)
		close(log_fd);
	log_fd = log_connect();
}

/*
 * Sends one line to syslog, never waiting: a line syslogd has no room
 * for is dropped.  The parent reconnects once if the socket went stale.
 */
static void
log_syslog(int pri, const char *msg)
{
	char		line[1400], ts[32];
	struct tm	tm;
	time_t		now = time(NULL);
	int		n, try;

	/* localtime_r works in a chroot: sandbox_enter read the zone. */
	if (localtime_r(&now, &tm) == NULL ||
	    strftime(ts, sizeof(ts), "%b %e %H:%M:%S", &tm) == 0)
		ts[0] = '\0';
	n = snprintf(line, sizeof(line), "<%d>%s sundew[%d]: %s",
	    LOG_DAEMON | pri, ts, (int)getpid(), msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	for (try = 0; try < 2; try++) {
		if (log_fd != -1 && send(log_fd, line, (size_t)n,
		    MSG_DONTWAIT | MSG_NOSIGNAL) != -1)
			return;
		if (log_fd != -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (log_child)
			return;
		if (log_fd != -1)
			close(log_fd);
		log_fd = log_connect();
	}
}

/* One line, written with one write(2) so that processes do not interleave. */
static void
log_vemit(int pri, const char *fmt, va_list ap, const char *suffix)
{
	char	 msg[1024], line[1200];
	int	 n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (!log_fg) {
		if (suffix != NULL)
			snprintf(line, sizeof(line), "%s: %s: %s", log_name,
			    msg, suffix);
		else
			snprintf(line, sizeof(line), "%s: %s", log_name, msg);
		log_syslog(pri, line);
		return;
	}
	if (suffix != NULL)
		n = snprintf(line, sizeof(line), "sundew[%d] %s: %s: %s\n",
		    (int)getpid(), log_name, msg, suffix);
	else
		n = snprintf(line, sizeof(line), "sundew[%d] %s: %s\n",
		    (int)getpid(), log_name, msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	(void)write(STDERR_FILENO, line, (size_t)n);
}

#define LOG_FN(fn, pri, cond)						\
void									\
fn(const char *fmt, ...)						\
{									\
	va_list	ap;							\
	if (!(cond))							\
		return;							\
	va_start(ap, fmt);						\
	log_vemit(pri, fmt, ap, NULL);					\
	va_end(ap);							\
}

LOG_FN(log_debug, LOG_DEBUG, log_verbose)
LOG_FN(log_info, LOG_INFO, 1)
LOG_FN(log_warnx, LOG_WARNING, 1)

void
log_warn(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	log_vemit(LOG_WARNING, fmt, ap, strerror(saved));
	va_end(ap);
	errno = saved;
}

void
fatal(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	log_vemit(LOG_CRIT, fmt, ap, strerror(saved));
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vemit(LOG_CRIT, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}
