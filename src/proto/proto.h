/*
 * The service table.  A service is a struct of callbacks (STYLE.md); a port
 * of DESIGN.md section 2 without an emulator yet is served by the generic
 * service, which records what arrives.  Adding an emulator is its own file
 * and one line in proto.c.
 */
#ifndef SUNDEW_PROTO_H
#define SUNDEW_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct conn;

#define SERVICE_TCP	1
#define SERVICE_UDP	2

struct service {
	const char	*name;		/* emulator name, as in events */
	int		 transport;	/* SERVICE_TCP | SERVICE_UDP */
	size_t		 max_input;	/* 0: limits.max_input */
	void	      *(*session_new)(struct conn *);
	void		(*session_free)(void *);
	void		(*on_connect)(struct conn *, void *);
	/* Bytes consumed, or -1 to close the session (counted, logged). */
	ssize_t		(*on_data)(struct conn *, void *,
			    const uint8_t *, size_t);
	/* The peer closed or a limit ended the session; last words. */
	void		(*on_close)(struct conn *, void *);
	/* UDP: one datagram, answered through conn_write(). */
	void		(*on_datagram)(struct conn *, const uint8_t *, size_t);
};

/* A row of the port table: a configured name and its default ports. */
struct service_def {
	const char		*name;		/* config key: services.NAME */
	int			 transport;
	uint16_t		 ports[8];	/* default ports, 0-terminated */
	const struct service	*emulator;	/* NULL: the generic service */
};

extern const struct service_def	proto_table[];
extern const size_t		proto_table_len;

const struct service_def *proto_find(const char *name);
/* The emulator that serves a service_def (the generic one if none). */
const struct service	*proto_emulator(const struct service_def *);

extern const struct service	service_generic_tcp;
extern const struct service	service_generic_udp;

#endif
