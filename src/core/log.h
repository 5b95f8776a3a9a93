/* Logging for the operator: stderr in the foreground, syslog otherwise. */
#ifndef SUNDEW_LOG_H
#define SUNDEW_LOG_H

#include <stdarg.h>

/* Sets the process name shown in every line and where lines go. */
void	log_init(const char *procname, int foreground, int verbose);
/* A child: the name in its lines; it never reconnects to syslog. */
void	log_procname(const char *procname);
/* The parent: reconnects to syslog (after syslogd restarted, say). */
void	log_reopen(void);

void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
/* As log_warnx, followed by ": strerror(errno)". */
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));

/*
 * fatal() is for start-up errors, broken invariants and malformed internal
 * messages, never for network input.  fatal() appends strerror(errno).
 */
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
