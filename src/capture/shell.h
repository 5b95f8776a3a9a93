/*
 * Shells: a bind_shell action listens on its port for one peer, a
 * connect_shell action connects to the attacker; either way the peer
 * talks to the emulated cmd.exe (the analyser's command parser, with a
 * virtual file system per session).  Each command is a
 * sundew.shell.command event; each that fetches a file becomes a
 * download.
 */
#ifndef SUNDEW_SHELL_H
#define SUNDEW_SHELL_H

#include <stdint.h>

struct capture_origin;
struct config;
struct event_base;

void	shell_init(const struct config *, struct event_base *);
void	shell_stop(void);

void	shell_bind(const struct capture_origin *, uint16_t port);
void	shell_connect(const struct capture_origin *, const char *host,
	    uint16_t port);

#endif
