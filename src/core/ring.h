/*
 * The way from a sensor to the store (DESIGN.md section 3): a ring of
 * records in shared memory that the parent creates before it forks and
 * keeps mapped, so that it outlives the sensor that writes it and the
 * store that reads it.  The sensor publishes a record by moving its write
 * position past it; the store moves the commit position only once the
 * JSON log and SQLite both hold what it read.  A SIGKILL of either loses
 * nothing: a restarted sensor writes on from the write position, a
 * restarted store reads again from the commit position (SQLite keeps an
 * event once by its id; the JSON log may repeat the lines of the last
 * batch).  The ring is mapped twice in a row, so a record that wraps is
 * still contiguous in memory.
 *
 * The store does not trust what a sensor wrote: a record that does not
 * parse ends the reading of that ring up to its write position, logged;
 * it is never fatal.
 */
#ifndef SUNDEW_RING_H
#define SUNDEW_RING_H

#include <stddef.h>
#include <stdint.h>

struct ring;

/* Record types. */
#define RING_EVENT	1	/* one flat JSON event */
#define RING_FILE	2	/* struct ring_file, ctx, then the file */

/* The head of a RING_FILE record. */
/*
 * Its record's id is that of the sundew.file.stored event; with
 * STORE_DOWNLOAD, that of the sundew.download.complete, and the ring's
 * next id (id + RING_INDEXES), which the sensor skips, the file's.
 */
struct ring_file {
	uint32_t	kind;		/* enum store_kind | STORE_DOWNLOAD */
	uint32_t	ctxlen;		/* rendered JSON fields that follow */
};

/* A record: its header, then len bytes, padded to 8. */
struct ring_rec {
	uint32_t	type;
	uint32_t	len;
	uint64_t	id;		/* the event's id, 0 for none */
};

/*
 * In the parent: a ring of at least size bytes (rounded up to pages) for
 * the process index (a sensor's index, or RING_STORE for the store's own
 * event ids, which has no data: size 0).  Ids are unique to the sensor
 * name across processes and runs: the second the ring was made, then a
 * counter, then the index.  NULL after logging why.
 */
#define RING_STORE	63
#define RING_INDEXES	64
struct ring	*ring_create(unsigned index, size_t size);
/*
 * The size of a sensor's ring that takes a record of largest bytes (a
 * session's input, a downloaded file) with its head and context:
 * ring_put takes a record of up to a quarter of the ring.  64 MiB at
 * least (only the pages in use take memory).
 */
#define RING_MIN_SIZE	(64u * 1024 * 1024)
#define RING_SLACK	65536	/* a record's head and context, and more */
size_t		 ring_size_for(uint64_t largest);
/* In a child that must not see this ring. */
void		 ring_unmap(struct ring *);
/* Unmaps and frees (the tests). */
void		 ring_free(struct ring *);

/* The next event id of the ring's process (sensor or store). */
uint64_t	 ring_next_id(struct ring *);

/*
 * Sensor: publishes a record of alen + blen bytes.  When the ring is full
 * the record waits in the sensor's memory (up to RING_OVERFLOW bytes; past
 * that it is lost, logged) and goes in when the store has made room:
 * call ring_flush now and then.  Returns 0, or -1 if it was lost.
 */
#define RING_OVERFLOW	(32u * 1024 * 1024)
int		 ring_put(struct ring *, uint32_t type, uint64_t id,
		    const void *a, size_t alen, const void *b, size_t blen);
/* Moves waiting records into the ring; returns the bytes still waiting. */
size_t		 ring_flush(struct ring *);
/* Bytes published and not yet committed, plus those waiting. */
size_t		 ring_used(const struct ring *);
size_t		 ring_size(const struct ring *);

/*
 * Store: the next record after the read position, or 0 when none is
 * published (or the ring was found corrupt: logged, skipped).  *data
 * points into the ring and stays valid until ring_commit.
 */
int		 ring_read(struct ring *, struct ring_rec *, const void **data);
/* The store has both logs up to the read position: frees that room. */
void		 ring_commit(struct ring *);
/* Back to the commit position (a new store, or a batch to read again). */
void		 ring_rewind(struct ring *);
/* Whether records are published past the read position. */
int		 ring_pending(const struct ring *);

#endif
