/* The listening sockets, bound by the parent and inherited by the sensors. */
#ifndef SUNDEW_LISTEN_H
#define SUNDEW_LISTEN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct config;
struct service_def;

struct listener {
	int			 fd;
	int			 transport;	/* SERVICE_TCP | SERVICE_UDP */
	uint16_t		 port;
	int			 set;		/* the sensor that serves it */
	const struct service_def *def;
	char			 addr[64];	/* as configured */
	/*
	 * The address bound.  Unless it is a wildcard, every connection's
	 * local address: no getsockname() a connection.
	 */
	struct sockaddr_storage	 local;
	int			 local_fixed;
};

/* How many sockets one set of listeners has. */
size_t	listen_count(const struct config *);
/*
 * Binds every enabled service on every listen address, nsets times with
 * SO_REUSEPORT: one set per sensor, so that the kernel spreads the
 * connections over the sensors and wakes only the one it chose.  On
 * failure closes what it opened and writes one paragraph for the operator
 * into err: what failed and how to fix it.
 */
int	listen_open_all(const struct config *, int nsets,
	    struct listener **out, size_t *nout, char *err, size_t errlen);
void	listen_close_all(struct listener *, size_t);

#define LISTEN_MAX_SETS	64
/*
 * Sends new TCP connections to the sets sets[0..n) only, at random among
 * them (a BPF program on each port's SO_REUSEPORT group); the others keep
 * what they hold.  0, or -1 after logging why.
 */
int	listen_steer(const struct listener *, size_t, const int *sets, int n);
/* Whether an accept queue of the set is more than a quarter full. */
int	listen_backlogged(const struct listener *, size_t, int set);
/*
 * Gives a socket of the family the host's TTL (hop limit): 128, as
 * Windows sends, so that a scanner counting hops sees the host that the
 * emulators present.  Listeners pass it to what they accept; outbound and
 * shell sockets take it too.  0, or -1 with errno.
 */
int	listen_ttl(int fd, int family);

#endif
