/*
 * The sessions a sensor has open, in shared memory that the parent
 * creates and keeps (one ledger per sensor), so that when a sensor dies
 * its successor can write the close event of every session it left: each
 * sundew.connection.open gets its sundew.connection.close, with reason
 * "sensor_died", whatever killed the sensor.
 *
 * Only the sensor that owns a ledger writes it; a successor reads what is
 * there as untrusted (the dead sensor may have been taken over): every
 * field is checked before use.
 */
#ifndef SUNDEW_LEDGER_H
#define SUNDEW_LEDGER_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

struct ledger;

/* One open session: what its close event needs. */
struct ledger_entry {
	uint32_t		used;
	uint32_t		listener;	/* index in the listener table */
	int64_t			start_us;
	uint64_t		bytes_in;
	uint64_t		bytes_out;
	uint64_t		close_id;	/* its close event's, once built */
	struct sockaddr_in6	src;		/* or a sockaddr_in */
	struct sockaddr_in6	dst;
	char			session[24];
};

/* In the parent: room for slots sessions (only the pages used cost). */
struct ledger	*ledger_create(size_t slots);
void		 ledger_unmap(struct ledger *);
/* Unmaps and frees (the tests). */
void		 ledger_free(struct ledger *);

/* A slot for a new session, filled from e; -1 when the ledger is full. */
int		 ledger_take(struct ledger *, const struct ledger_entry *e);
void		 ledger_bytes(struct ledger *, int slot, uint64_t in,
		    uint64_t out);
/*
 * The session's close event has id and is about to be published: a
 * successor that finds the slot still taken writes its close with the
 * same id, which a sink keeps once.
 */
void		 ledger_closing(struct ledger *, int slot, uint64_t id);
void		 ledger_release(struct ledger *, int slot);

/*
 * In a new sensor, before it accepts: calls cb for each session its
 * predecessor left open, then empties the ledger.  Returns how many.
 */
size_t		 ledger_orphans(struct ledger *,
		    void (*cb)(const struct ledger_entry *, void *), void *arg);

#endif
