/*
 * Internal to the store: the state shared by store_core.c (the public
 * entry points and the disk ceiling), store_json.c (the JSON log),
 * store_sqlite.c (the database) and store_file.c (binaries and hexdumps).
 * Nothing outside src/store/store_*.c includes this.
 */
#ifndef SUNDEW_STORE_INT_H
#define SUNDEW_STORE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "store.h"

struct event_buf;
struct sqlite3;
struct sqlite3_stmt;
struct magic_set;

#define STORE_PATH_MAX		512
#define STORE_BIN_DIR		"binaries"
#define STORE_HEX_DIR		"hexdumps"
#define STORE_LOG_DIR		"log"
#define STORE_TMP_PREFIX	".tmp-"	/* leftovers of a killed store */

/* Lines kept in memory between two flushes; past it, written at once. */
#define STORE_JSON_SOON		(1024 * 1024)
/*
 * Lines kept while the disk refuses them; past it, new ones are lost.
 * The store reads no more records meanwhile, so only its own events can
 * come near it.
 */
#define STORE_JSON_MAX		(64 * 1024 * 1024)
#define STORE_SQL_MAX		(64 * 1024 * 1024)
#define STORE_SQLITE_ROWS	32	/* event_log rows an INSERT, at most */
/* How far back store_open looks for the end of a half-written line. */
#define STORE_JSON_REPAIR	(64 * 1024)

#define STORE_DISK_LIGHT	60	/* s between re-measures: log, db */
#define STORE_DISK_FULL		600	/* s between full re-measures */
#define STORE_WARN_EVERY	60	/* s between two identical warnings */

/* An event waiting for SQLite in store.sql_out: this, then len bytes. */
struct store_sql_rec {
	uint64_t	id;
	uint32_t	len;
	uint32_t	kind;		/* STORE_SQL_EVENT or STORE_SQL_FILE */
};
#define STORE_SQL_EVENT	0	/* the event's JSON */
#define STORE_SQL_FILE	1	/* a files row (store_sqlite.c) */

/* A growable byte buffer with a hard maximum. */
struct store_buf {
	char	*p;
	size_t	 len;
	size_t	 cap;
	size_t	 max;
};

struct store {
	/* What the configuration said, copied: conf may go away. */
	int		 json_enabled;
	int		 json_ecs;
	char		 json_path[STORE_PATH_MAX];
	char		 json_dir[STORE_PATH_MAX];	/* "log" */
	char		 json_base[STORE_PATH_MAX];	/* "sundew.json" */
	uint64_t	 json_max_size;		/* 0: no rotation by size */
	uint32_t	 json_max_age;		/* 0: no rotation by age */
	uint32_t	 json_keep;
	int		 sqlite_enabled;
	char		 sqlite_path[STORE_PATH_MAX];
	uint64_t	 max_disk;		/* 0: no ceiling */

	/* Owner given to what store_open creates (-1: leave it). */
	long		 owner_uid;
	long		 owner_gid;

	/* JSON log (store_json.c); times from store_mono() but json_born. */
	int		 json_fd;
	uint64_t	 json_size;		/* of the live file */
	time_t		 json_born;		/* its first line, wall clock */
	struct store_buf json_out;		/* whole lines, to be written */
	uint64_t	 json_lost;		/* lines the disk refused */
	time_t		 json_failed;		/* last failed write */
	time_t		 json_warned;

	/* SQLite (store_sqlite.c). */
	struct sqlite3	*db;
	struct sqlite3_stmt *sql_rows[STORE_SQLITE_ROWS]; /* [i]: i + 1 rows */
	struct sqlite3_stmt *sql_session;
	struct sqlite3_stmt *sql_meta;
	int64_t		 sql_next_id;	/* of the next event */
	struct sqlite3_stmt *sql_file;
	struct sqlite3_stmt *sql_open_id;
	struct store_buf sql_out;		/* events for the next commit */
	time_t		 sql_failed;		/* last failed commit */
	time_t		 ceiling_failed;	/* last batch over the ceiling */
	uint64_t	 sql_lost;
	time_t		 sql_warned;

	/* The disk refused a write: said once, until it takes them again. */
	int		 disk_refused;

	/* Files (store_file.c). */
	struct magic_set *magic;

	time_t		 bad_warned;		/* malformed events */

	/* Disk ceiling (store_core.c), in bytes of st_size. */
	uint64_t	 disk_files;		/* binaries/ and hexdumps/ */
	uint64_t	 disk_logs;		/* log/ */
	uint64_t	 disk_db;		/* database, -wal, -shm */
	time_t		 disk_light;		/* last measure: logs, db */
	time_t		 disk_full;		/* last measure of all */
	time_t		 disk_warned;
};

/* store_core.c */
/* Queues a record for SQLite's next commit; -1 (counted) if no room. */
int	store_sql_queue(struct store *, uint32_t kind, uint64_t id,
	    const void *p, size_t len);
/* Room for n more bytes; -1 if that would pass the maximum. */
int	store_buf_reserve(struct store_buf *, size_t n);
int	store_buf_add(struct store_buf *, const void *, size_t);
void	store_buf_free(struct store_buf *);
/* Closes the event, then records it like any sensor's event. */
void	store_emit(struct store *, struct event_buf *);
/* Gives a path that store_open created to the data directory's owner. */
void	store_own(struct store *, const char *path);
uint64_t store_disk_used(const struct store *);
/*
 * Makes room for need more bytes under the ceiling, pruning hexdumps and
 * then rotated logs if needed.  Returns 0 if they fit, -1 if not.
 */
int	store_disk_reserve(struct store *, uint64_t need);
/*
 * Whether a write the disk refused (at *failed, 0: none) may be tried
 * again: not in the second it failed, so that nothing spins.
 */
int	store_retry_due(time_t *failed);
/* Whether a rate-limited warning may be logged now (updates *last). */
int	store_warn_due(time_t *last, time_t now);
/* Seconds of CLOCK_MONOTONIC: intervals that survive clock changes. */
time_t	store_mono(void);

/*
 * The disk refused a write of what (errno err, or 0 with a SQLite
 * message): logged, and a sundew.limit.hit event the first time.
 */
void	store_disk_refused(struct store *, const char *what, int err,
	    const char *msg);

/* store_json.c */
int	store_json_open(struct store *);
void	store_json_event(struct store *, const char *, size_t);
/* 0 when every line is written, -1 when some wait. */
int	store_json_flush(struct store *);
void	store_json_reopen(struct store *);
/* The disk ceiling: the live log becomes log.1 (-1 if empty or off). */
int	store_json_rotate_live(struct store *);
void	store_json_tick(struct store *, time_t now);
void	store_json_close(struct store *);
/* N if name (in json_dir) is the rotated log "sundew.json.N", else 0. */
unsigned long store_json_rotated(const struct store *, const char *name);

/* store_sqlite.c */
int	store_sqlite_open(struct store *);
/*
 * Inserts the events of buf (records of struct store_sql_rec and the
 * text) and the files seen since the last commit, in one transaction.
 * 0 when committed; -1 when rolled back (the caller keeps buf).
 */
int	store_sqlite_write(struct store *, const struct store_buf *buf);
/* Whether files rows wait for the next commit. */
int	store_sqlite_pending(void);
void	store_sqlite_file(struct store *, const char *sha256,
	    const char *md5, const char *sha1, const char *sha512,
	    uint64_t size, const char *filetype, const char *kind,
	    const char *first_seen);
void	store_sqlite_close(struct store *);

/* store_file.c */
int	store_file_open(struct store *);
void	store_file_close(struct store *);
/* The disk ceiling deleted hexdumps: forget which files are on disk. */
void	store_file_forget(void);

#endif
