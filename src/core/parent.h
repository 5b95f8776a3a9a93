/* The parent process: binds, forks, restarts, forwards signals. */
#ifndef SUNDEW_PARENT_H
#define SUNDEW_PARENT_H

struct config;

/* Runs the honeypot until SIGTERM or SIGINT; returns the exit status. */
int	parent_run(const struct config *conf, int foreground, int verbose);

#endif
