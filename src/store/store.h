/*
 * The store's back ends: the JSON event log, SQLite, and the files
 * (binaries and hexdumps).  Only the store process calls these, chrooted
 * into the data directory, so every path here is relative to it.
 */
#ifndef SUNDEW_STORE_H
#define SUNDEW_STORE_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct store;

enum store_kind {
	STORE_BINARY = 1,	/* binaries/<sha256>, mode 0440 */
	STORE_HEXDUMP = 2	/* hexdumps/<sha256>.bin, mode 0640 */
};
/*
 * A flag on a sensor's file record (ring.h): the binary is a download;
 * store_download() writes its sundew.download.complete too.
 */
#define STORE_DOWNLOAD	0x100

/*
 * Opens (creating as needed) binaries/, hexdumps/, log/, the JSON log and
 * the SQLite database (WAL mode), and measures what the data directory
 * already holds for the disk ceiling.  Returns NULL after logging why.
 */
struct store	*store_open(const struct config *conf);

/*
 * One flat JSON event, without the newline, and its id (0: the store
 * gives it one).  Buffered until store_flush; SQLite keeps an id once.
 */
void		 store_event(struct store *st, const char *json, size_t len,
		    uint64_t id);

/*
 * Writes a file atomically (temporary name, then rename), named by its
 * sha256, unless that file is already there.  Then records the
 * sundew.file.stored event: the fields of ctx (rendered JSON "k":v,... of
 * the session: session, src_ip, ..., url), plus sha256, md5, sha1, sha512,
 * size, filetype (libmagic), kind ("binary"|"hexdump") and duplicate.
 * Past the disk ceiling, oldest hexdumps go first; a file that still does
 * not fit is not written and a sundew.limit.hit event says so.
 * The event has the id given (0: the store gives it one).
 * Returns 0 when the file is stored (or was already), -1 otherwise.
 */
int		 store_file(struct store *st, enum store_kind kind,
		    const char *ctx, size_t ctxlen,
		    const uint8_t *data, size_t len, uint64_t id);

/*
 * A downloaded binary: as store_file(STORE_BINARY), preceded by the
 * sundew.download.complete event (the fields of ctx, which carry the
 * session's and the url, plus sha256, md5, size, filetype, duplicate),
 * written once the file's digests are known and before the file is
 * written, with the id complete_id; sundew.file.stored has stored_id
 * (0: the store gives one).  The sensor knows neither the type nor
 * whether the store has the file: the store says both.
 */
int		 store_download(struct store *st, const char *ctx,
		    size_t ctxlen, const uint8_t *data, size_t len,
		    uint64_t complete_id, uint64_t stored_id);

/*
 * Writes out the buffered JSON lines and the buffered events into SQLite
 * (one transaction).  Returns 0 when both hold every event given so far;
 * -1 when the disk refused some (they stay buffered and are tried again,
 * at most once a second; a sundew.limit.hit event with limit "disk" says
 * so once, and goes out with them).
 */
int		 store_flush(struct store *st);
/*
 * How many bytes of records to read before a flush: 4 MiB, less under a
 * small disk ceiling (a batch must fit in what the ceiling leaves).
 */
#define STORE_BATCH_MAX	(4u * 1024 * 1024)
size_t		 store_batch_max(const struct store *st);
/* SIGHUP: reopen the JSON log (for an external logrotate). */
void		 store_reopen(struct store *st);
/* About once a second: rotation by age, the disk ceiling. */
void		 store_tick(struct store *st);
/* Flushes and closes everything. */
void		 store_close(struct store *st);

#endif
