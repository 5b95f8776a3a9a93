/*
 * A data channel between a sensor and the analyser: a queue of framed
 * messages (proc.h) that survives the death of the peer.  The ends of the queued messages are kept, so that when
 * the peer dies halfway through a message the rest of it is dropped and
 * the next peer, handed over by the parent, gets whole messages only.
 */
#ifndef SUNDEW_LINK_H
#define SUNDEW_LINK_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct link;
struct msg_hdr;

/* A message from the peer; payload is freed after the call. */
typedef void	(*link_msg_cb)(const struct msg_hdr *, const uint8_t *payload,
		    void *arg);

struct link	*link_new(struct event_base *, const char *peer,
		    link_msg_cb, void *arg);
/* The argument of the callbacks, when it can only be set later. */
void		 link_set_arg(struct link *, void *arg);
/* Called when the peer closes the channel or it fails. */
void		 link_set_close_cb(struct link *, void (*)(void *arg));
/* Takes a new channel from the parent (closing the old); sends what waited. */
void		 link_set_fd(struct link *, int fd);
/* Queues a message; 0, or -1 (logged) if it is too large. */
int		 link_queue(struct link *, uint32_t type, const void *a,
		    size_t alen, const void *b, size_t blen);
int		 link_connected(const struct link *);
/*
 * Forgets every queued message (the owner sends them again to a new
 * peer); call it right after link_set_fd, before the loop runs.
 */
void		 link_clear(struct link *);
/* At exit: writes what is queued, blocking; what cannot go is logged. */
void		 link_drain(struct link *);

#endif
