#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char	*log_name = "sundew";
static int		 log_fg = 1;
static int		 log_verbose;

void
log_init(const char *procname, int foreground, int verbose)
{
	log_name = procname;
	log_fg = foreground;
	log_verbose = verbose;
	if (!log_fg)
		openlog("sundew", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_procname(const char *procname)
{
	log_name = procname;
}

void
log_reopen(void)
{
	if (!log_fg) {
		closelog();
		openlog("sundew", LOG_PID | LOG_NDELAY, LOG_DAEMON);
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
			syslog(pri, "%s: %s: %s", log_name, msg, suffix);
		else
			syslog(pri, "%s: %s", log_name, msg);
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
