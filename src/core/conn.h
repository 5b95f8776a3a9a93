/*
 * Sessions: one struct conn per TCP connection (and a short-lived one per
 * UDP datagram).  Each has an id, an idle timeout, a total timeout and an
 * input cap; connections are capped per source and globally (connlimit.h).
 */
#ifndef SUNDEW_CONN_H
#define SUNDEW_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

/* A session id: 16 hex digits (conn.c says how they are made). */
#define CONN_ID_LEN	16

struct capture_origin;
struct event;
struct evbuffer;
struct event_buf;
struct listener;
struct sc_result;
struct service;

struct conn {
	TAILQ_ENTRY(conn)	 entry;
	const struct listener	*lst;
	const struct service	*svc;
	void			*state;		/* the service's */
	int			 fd;		/* TCP: the connection */
	struct event		*rev;		/* reads; NULL for a datagram */
	struct event		*wev;		/* writes what is queued */
	struct evbuffer		*out;		/* queued, once a write waited */
	uint8_t			*in;		/* left unconsumed, incap bytes */
	size_t			 inlen, incap;
	int			 udp_fd;	/* datagram: reply socket */
	struct sockaddr_storage	 src;
	struct sockaddr_storage	 dst;
	int64_t			 start_us;
	int64_t			 linger_end_us;	/* closing: freed by then */
	uint64_t		 bytes_in;
	uint64_t		 bytes_out;
	int			 slot;		/* ledger.h, -1: none */
	char			*fields;	/* conn_fields(), rendered once */
	uint16_t		 nfields;
	int			 closing;
	int			 in_callback;	/* a service call is running */
	const char		*reason;	/* why it closes */
	char			 session[CONN_ID_LEN + 1];
};

/* Accepts (or refuses, past a cap) a connection on a TCP listener. */
void	conn_accept(const struct listener *, int fd, struct sockaddr *,
	    int socklen);
/* Reads the datagrams waiting on a UDP listener. */
void	conn_datagrams(const struct listener *);
/*
 * Starts counting what the kernel drops on a UDP listener (a full receive
 * queue): udp_queue hits from now on.
 */
void	conn_udp_watch(const struct listener *);
/* Counts what the watched UDP listeners dropped since last looked at. */
void	conn_udp_drops(void);
/* Closes every session (shutdown), each with its close event. */
void	conn_close_all(const char *reason);
/*
 * A new sensor: the close events of the sessions its predecessor left
 * open (ledger.h), with reason "sensor_died".  Returns how many.
 */
size_t	conn_close_orphans(void);

/* For the services. */
int	conn_write(struct conn *, const void *, size_t);
/* Ends the session after what was written has gone out. */
void	conn_close(struct conn *, const char *reason);
/* Starts an event with the session's fields. */
void	conn_event(struct event_buf *, const struct conn *, const char *id);
/* Renders the session's fields as JSON ("session":..,"src_ip":..). */
size_t	conn_fields(const struct conn *, char *buf, size_t len);
/* Hands a payload or a sample to the store (store.h kinds). */
void	conn_store_file(const struct conn *, int kind, const void *, size_t);
/*
 * A payload that may hold shellcode goes to the analyser: 1 if it went, 0
 * if the pre-filter saw none or the analyser is too far behind.  at:
 * where it starts in the session's input (the verdict's offset counts
 * from there).
 */
int	conn_analyse(const struct conn *, const void *, size_t, size_t at);
/* The session as the origin of what its payloads ask for (capture.h). */
void	conn_origin(const struct conn *, struct capture_origin *);
/*
 * The analyser's verdict on a payload of the session of origin: its
 * event, and the actions carried out (capture_result()).
 */
void	conn_shellcode(const struct capture_origin *,
	    const struct sc_result *);
/*
 * A sundew.limit.hit event (limit: a literal), at most CONN_LIMIT_RATE a
 * second per sensor; past them the hit is counted, and a summary event
 * without a source says how many ("suppressed") within a second.
 */
void	conn_limit_hit(const struct conn *, const char *limit);
/* The same for a session known by its fields (conn_fields()) only. */
void	conn_limit_fields(const char *ctx, size_t ctxlen, const char *limit);
/* The same for a cap hit on a listener before any session (no source). */
void	conn_listener_limit(const struct listener *, const char *limit);
/* Sends the summaries of the hits left out now (at shutdown). */
void	conn_limit_flush(void);

#endif
