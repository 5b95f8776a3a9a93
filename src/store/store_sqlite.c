/*
 * The SQLite database: every event (the flat JSON, whatever the JSON
 * log's format) and one row per stored file.
 *
 * A connection's four or five events share their sensor, addresses,
 * ports, transport and service: those go once into sessions, keyed by the
 * session id, and each event_log row keeps its timestamp, eventid,
 * session and, in data, the event's own fields.  The view events joins
 * the two back into one row an event with every column and the whole
 * event in data, so an operator queries events as if it were one table;
 * a WHERE on src_ip uses sessions' index.  Written this way an event
 * costs a third less than with every field in every row (the bytes
 * written to the WAL and then to the database dominate).  Session ids
 * grow with time (conn.c), so the session keys append.
 *
 * The columns are filled at insert from one scan of the event, not
 * generated with json_extract: at tens of thousands of events a second,
 * json_extract calls per row would cost more than the rest of the insert.
 * The store inserts with prepared statements inside a transaction that
 * store_flush() commits: one write of the WAL per batch, not per event.
 *
 * The schema is versioned with PRAGMA user_version; store_sqlite_migrate
 * takes an older database to the current version.
 */
#include <sqlite3.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "log.h"
#include "store_int.h"

#define STORE_SQLITE_VERSION	3
#define STORE_SQLITE_BUSY_MS	2000	/* an operator's query may lock */

/*
 * The event's fields that have a column: the first three in event_log,
 * the rest in sessions.
 */
enum {
	COL_TIMESTAMP, COL_EVENTID, COL_SESSION, COL_ID, COL_SENSOR,
	COL_SRC_IP, COL_SRC_PORT, COL_DST_IP, COL_DST_PORT, COL_TRANSPORT,
	COL_SERVICE, STORE_SQLITE_NCOLS
};
/* The event's "id" is the row's id; the view writes it back. */
static const char *const store_sqlite_cols[STORE_SQLITE_NCOLS] = {
	"timestamp", "eventid", "session", "id", "sensor", "src_ip",
	"src_port", "dst_ip", "dst_port", "transport", "service"
};
static size_t store_sqlite_collen[STORE_SQLITE_NCOLS];	/* at open */

/* What version 2 adds to an empty database or to a version 1 one. */
static const char store_sqlite_schema_v2[] =
    "CREATE TABLE sessions ("
    " session TEXT PRIMARY KEY,"
    " timestamp TEXT,"
    " sensor TEXT,"
    " src_ip TEXT,"
    " src_port INTEGER,"
    " dst_ip TEXT,"
    " dst_port INTEGER,"
    " transport TEXT,"
    " service TEXT,"
    " open_id INTEGER) WITHOUT ROWID;"
    "CREATE INDEX sessions_src_ip ON sessions (src_ip);"
    "CREATE INDEX sessions_timestamp ON sessions (timestamp);"
    "CREATE TABLE store_meta (key TEXT PRIMARY KEY, value INTEGER)"
    " WITHOUT ROWID;"
    "INSERT INTO store_meta VALUES ('next_id', 1);"
    "CREATE TABLE event_log ("
    " id INTEGER PRIMARY KEY,"
    " timestamp TEXT,"
    " eventid TEXT,"
    " session TEXT,"
    " data TEXT NOT NULL);"
    "CREATE INDEX event_log_timestamp ON event_log (timestamp);"
    "CREATE INDEX event_log_eventid ON event_log (eventid);"
    "CREATE INDEX event_log_session ON event_log (session);";

/*
 * The view events: version 2 made it, version 3 puts every event's id in
 * its data, as in the log.  (A database at version 2 has the old one.)
 */
static const char store_sqlite_view_v3[] =
    "DROP VIEW IF EXISTS events;"
    "CREATE VIEW events AS SELECT e.id AS id, e.timestamp AS timestamp,"
    " e.eventid AS eventid, s.sensor AS sensor, e.session AS session,"
    " s.src_ip AS src_ip, s.src_port AS src_port, s.dst_ip AS dst_ip,"
    " s.dst_port AS dst_port, s.transport AS transport,"
    " s.service AS service,"
    " CASE WHEN s.session IS NULL"
    "  THEN json_patch(json_object('timestamp', e.timestamp,"
    "   'eventid', e.eventid, 'id', printf('%016x', e.id),"
    "   'session', e.session),"
    "   CASE WHEN json_valid(e.data) THEN e.data"
    "   ELSE json_object('malformed', e.data) END)"
    "  ELSE json_patch(json_object('timestamp', e.timestamp,"
    "   'eventid', e.eventid, 'id', printf('%016x', e.id),"
    "   'sensor', s.sensor, 'session', e.session,"
    "   'src_ip', s.src_ip, 'src_port', s.src_port, 'dst_ip', s.dst_ip,"
    "   'dst_port', s.dst_port, 'transport', s.transport,"
    "   'service', s.service), CASE WHEN json_valid(e.data) THEN e.data"
    "   ELSE json_object('malformed', e.data) END) END AS data"
    " FROM event_log AS e LEFT JOIN sessions AS s ON s.session = e.session"
    " UNION ALL SELECT open_id, timestamp, 'sundew.connection.open',"
    " sensor, session, src_ip, src_port, dst_ip, dst_port, transport,"
    " service, json_object('timestamp', timestamp,"
    "  'eventid', 'sundew.connection.open', 'id', printf('%016x', open_id),"
    "  'sensor', sensor,"
    "  'session', session, 'src_ip', src_ip, 'src_port', src_port,"
    "  'dst_ip', dst_ip, 'dst_port', dst_port, 'transport', transport,"
    "  'service', service)"
    " FROM sessions WHERE open_id IS NOT NULL;";

/* Version 1 kept every field in every events row. */
static const char store_sqlite_schema_v1[] =
    "CREATE TABLE events ("
    " id INTEGER PRIMARY KEY,"
    " timestamp TEXT,"
    " eventid TEXT,"
    " sensor TEXT,"
    " session TEXT,"
    " src_ip TEXT,"
    " src_port INTEGER,"
    " dst_ip TEXT,"
    " dst_port INTEGER,"
    " transport TEXT,"
    " service TEXT,"
    " data TEXT NOT NULL);"
    "CREATE INDEX events_timestamp ON events (timestamp);"
    "CREATE INDEX events_eventid ON events (eventid);"
    "CREATE INDEX events_src_ip ON events (src_ip);"
    "CREATE INDEX events_session ON events (session);"
    "CREATE TABLE files ("
    " sha256 TEXT PRIMARY KEY,"
    " md5 TEXT NOT NULL,"
    " sha1 TEXT NOT NULL,"
    " sha512 TEXT NOT NULL,"
    " size INTEGER NOT NULL,"
    " filetype TEXT,"
    " kind TEXT NOT NULL,"
    " first_seen TEXT NOT NULL,"
    " count INTEGER NOT NULL DEFAULT 1);";

/* Version 1 to 2: the rows move, their data loses what went to columns. */
static const char store_sqlite_v1_to_v2[] =
    "ALTER TABLE events RENAME TO events_v1;";
static const char store_sqlite_v1_rows[] =
    "INSERT OR IGNORE INTO sessions SELECT session, min(timestamp), sensor,"
    " src_ip, src_port, dst_ip, dst_port, transport, service, NULL"
    " FROM events_v1 WHERE session IS NOT NULL GROUP BY session;"
    "INSERT INTO event_log (id, timestamp, eventid, session, data)"
    " SELECT e.id, e.timestamp, e.eventid, e.session,"
    " CASE WHEN s.sensor IS e.sensor AND s.src_ip IS e.src_ip"
    "  AND s.src_port IS e.src_port AND s.dst_ip IS e.dst_ip"
    "  AND s.dst_port IS e.dst_port AND s.transport IS e.transport"
    "  AND s.service IS e.service"
    "  AND json_valid(e.data)"
    " THEN json_remove(e.data, '$.timestamp', '$.eventid', '$.session',"
    "  '$.sensor', '$.src_ip', '$.src_port', '$.dst_ip', '$.dst_port',"
    "  '$.transport', '$.service')"
    " WHEN json_valid(e.data)"
    " THEN json_remove(e.data, '$.timestamp', '$.eventid', '$.session')"
    " ELSE json_object('malformed', e.data) END"
    " FROM events_v1 AS e LEFT JOIN sessions AS s ON s.session = e.session"
    " ORDER BY e.id;"
    "DROP TABLE events_v1;";

/*
 * An event seen again (a store restarted mid-batch) is kept once.  Rows
 * go in up to STORE_SQLITE_ROWS to an INSERT, which keeps its cursors on
 * the table and the three indexes from one row to the next: the store's
 * SQLite time for an SMB session's eight events fell by a fifth against
 * an INSERT a row.
 */
static const char store_sqlite_ins_event[] =
    "INSERT OR IGNORE INTO event_log (data, timestamp, eventid, session, id)"
    " VALUES ";
static const char store_sqlite_ins_row[] = "(?,?,?,?,?)";
static const char store_sqlite_ins_session[] =
    "INSERT OR IGNORE INTO sessions (session, timestamp, sensor, src_ip,"
    " src_port, dst_ip, dst_port, transport, service, open_id)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
/*
 * The counter kept with the rows; if an operator removed it, found again
 * from the rows (a scan of sessions, once).
 */
static const char store_sqlite_next_id[] =
    "SELECT max((SELECT coalesce(max(id), 0) + 1 FROM event_log),"
    " coalesce((SELECT value FROM store_meta WHERE key = 'next_id'),"
    " (SELECT coalesce(max(open_id), 0) + 1 FROM sessions)))";
static const char store_sqlite_open_id[] =
    "SELECT open_id FROM sessions WHERE session = ?1";
static const char store_sqlite_set_next_id[] =
    "INSERT INTO store_meta VALUES ('next_id', ?1)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value";

/* A value in the event: its JSON text, quotes included for a string. */
struct store_span {
	const char	*p;
	size_t		 len;
};

/* A member of the event, "key": value, as offsets into its text. */
struct store_member {
	size_t		 lo, hi;
	int		 col;		/* COL_*, or -1 */
};
#define STORE_SQLITE_MEMBERS	64	/* more: data keeps the whole event */

/*
 * The sessions rows written lately, so that an event of a known session
 * does not try to insert it again: by the session id's text, with a hash
 * of the session's fields, which must match for the event to leave them
 * out of its data (a session's events all carry the same ones; a
 * mismatch keeps the event whole rather than lose what differs).
 */
#define STORE_SESSION_CACHE	4096
#define STORE_SESSION_IDMAX	32

struct store_session_entry {
	char		id[STORE_SESSION_IDMAX];
	size_t		idlen;
	uint64_t	hash;
};
static struct store_session_entry store_sessions[STORE_SESSION_CACHE];

static const char store_sqlite_ins_file[] =
    "INSERT INTO files (sha256, md5, sha1, sha512, size, filetype, kind,"
    " first_seen, count) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    " ON CONFLICT (sha256) DO UPDATE SET count = count + excluded.count";

/*
 * The files seen in this batch: a worm sends the same payload over and
 * over, so each file's row is written once a commit (its count raised
 * by the sightings), not once a sighting.
 */
#define STORE_FILES_PENDING	32

struct store_file_pending {
	char		sha256[65];
	char		md5[33];
	char		sha1[41];
	char		sha512[129];
	char		filetype[256];
	char		kind[16];
	char		first_seen[32];
	uint64_t	size;
	uint32_t	count;
};
static struct store_file_pending	store_files[STORE_FILES_PENDING];
static size_t				store_nfiles;

/*
 * The event_log rows not yet inserted: their columns point into the
 * batch, their data into store_rows_data (or, for an event too large or
 * malformed, into a buffer of its own, whose row then goes in at once).
 * Each slot holds the largest event; a row touches only its first bytes.
 */
struct store_row {
	struct store_span	ts, eventid, session;
	const char		*data;
	size_t			 dlen;
	int64_t			 id;
};
static struct store_row	store_rows[STORE_SQLITE_ROWS];
static char		store_rows_data[STORE_SQLITE_ROWS][EVENT_MAX + 3];
static size_t		store_nrows;

static int
store_sqlite_exec(struct store *st, const char *sql, const char *what)
{
	char	*err = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_warnx("store: sqlite %s: %s: %s", st->sqlite_path, what,
		    err != NULL ? err : sqlite3_errmsg(st->db));
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

/* One integer or text answer of a PRAGMA or query; -1 on error. */
static int
store_sqlite_pragma(struct store *st, const char *sql, char *text,
    size_t textlen, int64_t *num)
{
	sqlite3_stmt	*stmt;
	const char	*s;
	int		 rc;

	if (sqlite3_prepare_v2(st->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
		log_warnx("store: sqlite %s: %s: %s", st->sqlite_path, sql,
		    sqlite3_errmsg(st->db));
		return -1;
	}
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		if (num != NULL)
			*num = sqlite3_column_int64(stmt, 0);
		if (text != NULL) {
			s = (const char *)sqlite3_column_text(stmt, 0);
			snprintf(text, textlen, "%s", s != NULL ? s : "");
		}
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		log_warnx("store: sqlite %s: %s: %s", st->sqlite_path, sql,
		    sqlite3_errstr(rc));
		return -1;
	}
	return 0;
}

/*
 * Takes the database from version `from` to STORE_SQLITE_VERSION in one
 * transaction.  Version 0 is an empty database.
 */
static int
store_sqlite_migrate(struct store *st, int64_t from)
{
	char	sql[64];

	if (from > STORE_SQLITE_VERSION) {
		log_warnx("store: %s has schema version %lld, newer than this "
		    "sundew's %d: use a newer sundew or move the file away",
		    st->sqlite_path, (long long)from, STORE_SQLITE_VERSION);
		return -1;
	}
	if (from == STORE_SQLITE_VERSION)
		return 0;
	if (store_sqlite_exec(st, "BEGIN IMMEDIATE", "begin") == -1)
		return -1;
	/* Each step takes one version to the next; add them below. */
	if (from < 1 && store_sqlite_exec(st, store_sqlite_schema_v1,
	    "create schema") == -1)
		goto fail;
	if (from < 2 && (store_sqlite_exec(st, store_sqlite_v1_to_v2,
	    "schema 2") == -1 || store_sqlite_exec(st, store_sqlite_schema_v2,
	    "schema 2") == -1 || store_sqlite_exec(st, store_sqlite_v1_rows,
	    "schema 2 rows") == -1))
		goto fail;
	if (from < 3 && store_sqlite_exec(st, store_sqlite_view_v3,
	    "schema 3") == -1)
		goto fail;
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
	    STORE_SQLITE_VERSION);
	if (store_sqlite_exec(st, sql, "set user_version") == -1 ||
	    store_sqlite_exec(st, "COMMIT", "commit") == -1)
		goto fail;
	if (from != 0)
		log_info("store: %s: schema version %lld -> %d",
		    st->sqlite_path, (long long)from, STORE_SQLITE_VERSION);
	return 0;
fail:
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

static int
store_sqlite_prepare(struct store *st, const char *sql,
    sqlite3_stmt **stmt)
{
	if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
	    stmt, NULL) != SQLITE_OK) {
		log_warnx("store: sqlite %s: prepare: %s", st->sqlite_path,
		    sqlite3_errmsg(st->db));
		return -1;
	}
	return 0;
}

/* The INSERTs of 1 to STORE_SQLITE_ROWS event_log rows. */
static int
store_sqlite_prepare_rows(struct store *st)
{
	char	sql[sizeof(store_sqlite_ins_event) +
	    STORE_SQLITE_ROWS * sizeof(store_sqlite_ins_row)];
	size_t	n, o = sizeof(store_sqlite_ins_event) - 1;

	memcpy(sql, store_sqlite_ins_event, o);
	for (n = 0; n < STORE_SQLITE_ROWS; n++) {
		if (n > 0)
			sql[o++] = ',';
		memcpy(sql + o, store_sqlite_ins_row,
		    sizeof(store_sqlite_ins_row));
		o += sizeof(store_sqlite_ins_row) - 1;
		if (store_sqlite_prepare(st, sql, &st->sql_rows[n]) == -1)
			return -1;
	}
	return 0;
}

/*
 * A checkpoint every 1000 pages (4 MB of WAL), the WAL cut back to 64 MB;
 * under a small disk ceiling, the WAL takes at most a sixteenth of it.
 */
static int
store_sqlite_wal(struct store *st)
{
	char		sql[96];
	uint64_t	pages = 1000;

	if (st->max_disk != 0 && st->max_disk / 16 / 4096 < pages)
		pages = st->max_disk / 16 / 4096 < 16 ? 16 :
		    st->max_disk / 16 / 4096;
	snprintf(sql, sizeof(sql), "PRAGMA wal_autocheckpoint = %llu",
	    (unsigned long long)pages);
	if (store_sqlite_exec(st, sql, "wal_autocheckpoint") == -1)
		return -1;
	snprintf(sql, sizeof(sql), "PRAGMA journal_size_limit = %llu",
	    (unsigned long long)(pages == 1000 ? 67108864 : pages * 4096));
	return store_sqlite_exec(st, sql, "journal_size_limit");
}

int
store_sqlite_open(struct store *st)
{
	char	mode[16], path[STORE_PATH_MAX + 8];
	int64_t	version = 0;
	int	rc;
	size_t	c;

	/*
	 * The store is one thread: no mutexes, and no count of SQLite's
	 * memory (which takes a lock on every allocation).  Refused, and
	 * harmless, once SQLite has been initialised in this process.
	 */
	(void)sqlite3_config(SQLITE_CONFIG_SINGLETHREAD);
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	memset(store_sessions, 0, sizeof(store_sessions));
	store_nfiles = 0;
	for (c = 0; c < STORE_SQLITE_NCOLS; c++)
		store_sqlite_collen[c] = strlen(store_sqlite_cols[c]);
	/* No links: the store opens its files as root, before the chroot. */
	rc = sqlite3_open_v2(st->sqlite_path, &st->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW,
	    NULL);
	if (rc != SQLITE_OK) {
		log_warnx("store: sqlite3_open %s: %s", st->sqlite_path,
		    st->db != NULL ? sqlite3_errmsg(st->db) :
		    sqlite3_errstr(rc));
		return -1;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, STORE_SQLITE_BUSY_MS);
	/* After the chroot there is no /tmp or /var/tmp for temp files. */
	if (store_sqlite_exec(st, "PRAGMA temp_store = MEMORY",
	    "temp_store") == -1 ||
	    store_sqlite_pragma(st, "PRAGMA journal_mode = WAL", mode,
	    sizeof(mode), NULL) == -1)
		return -1;
	if (strcmp(mode, "wal") != 0) {
		log_warnx("store: %s: journal_mode is %s, not wal",
		    st->sqlite_path, mode);
		return -1;
	}
	/*
	 * A checkpoint every 1000 pages (4 MB of WAL, SQLite's default):
	 * with session keys that grow with time, 10000 pages wrote no less,
	 * and each checkpoint stalled the store ten times longer (the
	 * sensors' queues, and their heaps, grew by megabytes meanwhile).
	 * The WAL is cut back to 64 MB after a checkpoint that found it
	 * larger.
	 */
	/* A 32 MiB page cache keeps the index pages: no re-reads. */
	if (store_sqlite_exec(st, "PRAGMA synchronous = NORMAL",
	    "synchronous") == -1 ||
	    store_sqlite_exec(st, "PRAGMA cache_size = -32768",
	    "cache_size") == -1 ||
	    store_sqlite_wal(st) == -1 ||
	    store_sqlite_pragma(st, "PRAGMA user_version", NULL, 0,
	    &version) == -1 ||
	    store_sqlite_migrate(st, version) == -1 ||
	    store_sqlite_prepare_rows(st) == -1 ||
	    store_sqlite_prepare(st, store_sqlite_ins_session,
	    &st->sql_session) == -1 ||
	    store_sqlite_prepare(st, store_sqlite_set_next_id,
	    &st->sql_meta) == -1 ||
	    store_sqlite_pragma(st, store_sqlite_next_id, NULL, 0,
	    &st->sql_next_id) == -1 ||
	    store_sqlite_prepare(st, store_sqlite_ins_file,
	    &st->sql_file) == -1 ||
	    store_sqlite_prepare(st, store_sqlite_open_id,
	    &st->sql_open_id) == -1)
		return -1;
	store_own(st, st->sqlite_path);
	snprintf(path, sizeof(path), "%s-wal", st->sqlite_path);
	store_own(st, path);
	snprintf(path, sizeof(path), "%s-shm", st->sqlite_path);
	store_own(st, path);
	return 0;
}

/*
 * An insert or the commit failed: the batch is rolled back whole (SQLite
 * may have done so already, on a full disk), and the cache of sessions
 * rows it wrote goes with it.  The caller keeps the batch for later.
 */
static void
store_sqlite_failed(struct store *st, const char *what, int rc)
{
	int	err = rc == SQLITE_FULL || (rc & 0xff) == SQLITE_IOERR;

	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	memset(store_sessions, 0, sizeof(store_sessions));
	store_nrows = 0;
	if (err) {
		store_disk_refused(st, "SQLite", 0, sqlite3_errstr(rc));
		return;
	}
	if (store_warn_due(&st->sql_warned, store_mono()))
		log_warnx("store: sqlite %s: %s: %s; tried again in a second",
		    st->sqlite_path, what, sqlite3_errstr(rc));
}

static size_t
store_sqlite_ws(const char *p, size_t i, size_t len)
{
	while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' ||
	    p[i] == '\r'))
		i++;
	return i;
}

/* Just past the JSON string that opens at p[i]; 0 if it never ends. */
static size_t
store_sqlite_string(const char *p, size_t i, size_t len)
{
	const char	*q;
	size_t		 bs;

	for (i++; i < len; i = (size_t)(q - p) + 1) {
		if ((q = memchr(p + i, '"', len - i)) == NULL)
			return 0;
		/* Escaped if an odd number of backslashes comes before. */
		for (bs = 0; q - bs > p + i && q[-1 - (ptrdiff_t)bs] == '\\';
		    bs++)
			;
		if (bs % 2 == 0)
			return (size_t)(q - p) + 1;
	}
	return 0;
}

/*
 * Just past the value at p[i]: a string, a scalar, or an object or array
 * skipped whole.  0 if it does not end before len.
 */
static size_t
store_sqlite_value(const char *p, size_t i, size_t len)
{
	size_t	depth = 0, end;

	if (i >= len)
		return 0;
	if (p[i] == '"')
		return store_sqlite_string(p, i, len);
	if (p[i] != '{' && p[i] != '[') {
		while (i < len && p[i] != ',' && p[i] != '}' && p[i] != ' ' &&
		    p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
			i++;
		return i;
	}
	for (; i < len; i++) {
		if (p[i] == '"') {
			if ((end = store_sqlite_string(p, i, len)) == 0)
				return 0;
			i = end - 1;
		} else if (p[i] == '{' || p[i] == '[')
			depth++;
		else if ((p[i] == '}' || p[i] == ']') && --depth == 0)
			return i + 1;
	}
	return 0;
}

/*
 * The column named by the key (its text inside the quotes), or -1.  The
 * length and the first, second and last letters tell the columns apart:
 * most keys that are not columns end there without a memcmp.
 */
static int
store_sqlite_col(const char *key, size_t klen)
{
	const char	*name;
	size_t		 c;

	if (klen < 2)
		return -1;
	for (c = 0; c < STORE_SQLITE_NCOLS; c++) {
		name = store_sqlite_cols[c];
		if (store_sqlite_collen[c] == klen && name[0] == key[0] &&
		    name[1] == key[1] && name[klen - 1] == key[klen - 1] &&
		    memcmp(name, key, klen) == 0)
			return (int)c;
	}
	return -1;
}

/*
 * Finds the values of the columns in a flat JSON event (the first of a
 * key given twice, as json_extract would) and where each member is, at
 * most STORE_SQLITE_MEMBERS of them (*nmem past that: more than fit).
 * Returns -1 if the text is not a JSON object; what was found is kept.
 */
static int
store_sqlite_scan(const char *p, size_t len,
    struct store_span vals[STORE_SQLITE_NCOLS], struct store_member *mem,
    size_t *nmem)
{
	size_t	i, k, klen, ke, ve;
	int	col;

	memset(vals, 0, STORE_SQLITE_NCOLS * sizeof(vals[0]));
	*nmem = 0;
	i = store_sqlite_ws(p, 0, len);
	if (i >= len || p[i] != '{')
		return -1;
	i = store_sqlite_ws(p, i + 1, len);
	if (i < len && p[i] == '}')
		return 0;
	for (;;) {
		if (i >= len || p[i] != '"' ||
		    (ke = store_sqlite_string(p, i, len)) == 0)
			return -1;
		k = i + 1;
		klen = ke - 1 - k;
		i = store_sqlite_ws(p, ke, len);
		if (i >= len || p[i] != ':')
			return -1;
		i = store_sqlite_ws(p, i + 1, len);
		if ((ve = store_sqlite_value(p, i, len)) == 0 || ve == i)
			return -1;
		if ((col = store_sqlite_col(p + k, klen)) >= 0 &&
		    vals[col].p == NULL) {
			vals[col].p = p + i;
			vals[col].len = ve - i;
		}
		if (*nmem < STORE_SQLITE_MEMBERS) {
			mem[*nmem].lo = k - 1;
			mem[*nmem].hi = ve;
			mem[*nmem].col = col;
		}
		(*nmem)++;
		i = store_sqlite_ws(p, ve, len);
		if (i < len && p[i] == ',') {
			i = store_sqlite_ws(p, i + 1, len);
			continue;
		}
		return i < len && p[i] == '}' ? 0 : -1;
	}
}

static int
store_sqlite_hex4(const char *s, unsigned *cp)
{
	unsigned	v = 0;
	int		i;

	for (i = 0; i < 4; i++) {
		v <<= 4;
		if (s[i] >= '0' && s[i] <= '9')
			v |= (unsigned)(s[i] - '0');
		else if (s[i] >= 'a' && s[i] <= 'f')
			v |= (unsigned)(s[i] - 'a' + 10);
		else if (s[i] >= 'A' && s[i] <= 'F')
			v |= (unsigned)(s[i] - 'A' + 10);
		else
			return -1;
	}
	*cp = v;
	return 0;
}

static size_t
store_sqlite_utf8(unsigned cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * Decodes the inside of a JSON string (n bytes at s) into out as UTF-8,
 * like json_extract (which, unlike this, stops at a \u0000); out needs n
 * bytes, never more.  Returns its length.
 */
static size_t
store_sqlite_unescape(const char *s, size_t n, char *out)
{
	size_t		i, o = 0;
	unsigned	cp, lo;

	for (i = 0; i < n; i++) {
		if (s[i] != '\\' || i + 1 >= n) {
			out[o++] = s[i];
			continue;
		}
		switch (s[++i]) {
		case 'b': out[o++] = '\b'; break;
		case 'f': out[o++] = '\f'; break;
		case 'n': out[o++] = '\n'; break;
		case 'r': out[o++] = '\r'; break;
		case 't': out[o++] = '\t'; break;
		case 'u':
			if (i + 4 >= n ||
			    store_sqlite_hex4(s + i + 1, &cp) == -1) {
				out[o++] = '?';
				break;
			}
			i += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && i + 6 < n &&
			    s[i + 1] == '\\' && s[i + 2] == 'u' &&
			    store_sqlite_hex4(s + i + 3, &lo) == 0 &&
			    lo >= 0xdc00 && lo < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				    (lo - 0xdc00);
				i += 6;
			}
			/* A lone surrogate is encoded as is, as SQLite does. */
			o += store_sqlite_utf8(cp, out + o);
			break;
		default:
			out[o++] = s[i];
		}
	}
	return o;
}

/* Binds one column as json_extract would give it; -1 on error. */
static int
store_sqlite_bind(sqlite3_stmt *stmt, int idx, const struct store_span *v)
{
	char	*tmp;
	size_t	 n;
	int	 rc;

	if (v->p == NULL || (v->len == 4 && memcmp(v->p, "null", 4) == 0))
		return sqlite3_bind_null(stmt, idx);
	if (v->len == 4 && memcmp(v->p, "true", 4) == 0)
		return sqlite3_bind_int(stmt, idx, 1);
	if (v->len == 5 && memcmp(v->p, "false", 5) == 0)
		return sqlite3_bind_int(stmt, idx, 0);
	/* A number: the column's affinity makes it one. */
	if (v->p[0] != '"')
		return sqlite3_bind_text(stmt, idx, v->p, (int)v->len,
		    SQLITE_STATIC);
	if (memchr(v->p + 1, '\\', v->len - 2) == NULL)
		return sqlite3_bind_text(stmt, idx, v->p + 1,
		    (int)v->len - 2, SQLITE_STATIC);
	if ((tmp = malloc(v->len)) == NULL)
		return SQLITE_NOMEM;
	n = store_sqlite_unescape(v->p + 1, v->len - 2, tmp);
	rc = sqlite3_bind_text(stmt, idx, tmp, (int)n, SQLITE_TRANSIENT);
	free(tmp);
	return rc;
}

/*
 * A hash of the session's fields as the event spells them, eight bytes at
 * a time (a multiply and a rotate each).
 */
static uint64_t
store_sqlite_fields_hash(const struct store_span vals[STORE_SQLITE_NCOLS])
{
	const uint64_t	k = 0x9e3779b97f4a7c15ULL;
	uint64_t	h = 0, w;
	size_t		c, i, n;

	for (c = COL_SENSOR; c < STORE_SQLITE_NCOLS; c++) {
		for (i = 0; i < vals[c].len; i += n) {
			n = vals[c].len - i < 8 ? vals[c].len - i : 8;
			w = 0;
			memcpy(&w, vals[c].p + i, n);
			h = (h ^ w) * k;
			h ^= h >> 29;
		}
		/* The length closes each field: "ab","c" is not "a","bc". */
		h = (h ^ (vals[c].p != NULL ? vals[c].len + 1 : 0)) * k;
		h ^= h >> 29;
	}
	return h;
}

/*
 * Inserts the session's row; 1 if it was new, 0 if not, -1 on error.
 * open_id, if not 0, is the id of the sundew.connection.open event the
 * row stands for.
 */
static int
store_sqlite_session(struct store *st,
    const struct store_span vals[STORE_SQLITE_NCOLS], int64_t open_id)
{
	sqlite3_stmt	*s = st->sql_session;
	int		 rc, c;

	rc = store_sqlite_bind(s, 1, &vals[COL_SESSION]);
	if (rc == SQLITE_OK)
		rc = store_sqlite_bind(s, 2, &vals[COL_TIMESTAMP]);
	for (c = COL_SENSOR; c < STORE_SQLITE_NCOLS && rc == SQLITE_OK; c++)
		rc = store_sqlite_bind(s, 3 + c - COL_SENSOR, &vals[c]);
	if (rc == SQLITE_OK && open_id != 0)
		rc = sqlite3_bind_int64(s, 10, open_id);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc != SQLITE_DONE)
		return -rc;
	return sqlite3_changes(st->db) > 0;
}

/* Whether the sessions row of vals stands for the open event id. */
static int
store_sqlite_open_seen(struct store *st,
    const struct store_span vals[STORE_SQLITE_NCOLS], int64_t id)
{
	sqlite3_stmt	*s = st->sql_open_id;
	int		 rc, seen = 0;

	rc = store_sqlite_bind(s, 1, &vals[COL_SESSION]);
	if (rc == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
		seen = sqlite3_column_int64(s, 0) == id;
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return seen;
}

/*
 * Whether the event's session row holds its fields, so that its data
 * may leave them out: the row is written by the session's first event.
 * *folded is set when that event was the session's connection.open and
 * the row stands for it (open_id, not 0, says it may), also when the
 * open is seen again after a restart.  A negative SQLite code on error.
 */
static int
store_sqlite_known(struct store *st,
    const struct store_span vals[STORE_SQLITE_NCOLS], int64_t open_id,
    int *folded)
{
	const struct store_span		*id = &vals[COL_SESSION];
	struct store_session_entry	*e;
	uint64_t			 h, slot;
	size_t				 i;
	int				 rc;

	*folded = 0;
	if (id->p == NULL || id->p[0] != '"' || id->len > STORE_SESSION_IDMAX)
		return 0;
	for (slot = 0xcbf29ce484222325ULL, i = 0; i < id->len; i++)
		slot = (slot ^ (uint8_t)id->p[i]) * 0x100000001b3ULL;
	e = &store_sessions[slot % STORE_SESSION_CACHE];
	h = store_sqlite_fields_hash(vals);
	if (e->idlen == id->len && memcmp(e->id, id->p, id->len) == 0)
		return e->hash == h;
	if ((rc = store_sqlite_session(st, vals, open_id)) < 0)
		return rc;
	if (rc == 0) {
		*folded = open_id != 0 && store_sqlite_open_seen(st, vals,
		    open_id);
		return 0;
	}
	memcpy(e->id, id->p, id->len);
	e->idlen = id->len;
	e->hash = h;
	*folded = open_id != 0;
	return 1;
}

/*
 * Whether the event is a plain sundew.connection.open (the common fields
 * and nothing else): the first event of a TCP session, which its
 * sessions row can stand for.  A quarter of the rows of a connection
 * that sends something; half of a scanner's.
 */
static int
store_sqlite_is_open(const struct store_span vals[STORE_SQLITE_NCOLS],
    const struct store_member *mem, size_t nmem)
{
	static const char	open[] = "\"sundew.connection.open\"";
	unsigned		seen = 0;
	size_t			i;

	if (vals[COL_EVENTID].len != sizeof(open) - 1 ||
	    memcmp(vals[COL_EVENTID].p, open, sizeof(open) - 1) != 0)
		return 0;
	for (i = 0; i < nmem; i++)
		if (mem[i].col < 0 || (seen & 1u << mem[i].col))
			return 0;
		else
			seen |= 1u << mem[i].col;
	/* The id is the row's: an event may have none. */
	return (seen | 1u << COL_ID) == (1u << STORE_SQLITE_NCOLS) - 1;
}

/*
 * The event's data: its members but those kept in columns, into buf
 * (len + 3 bytes).  Returns its length.
 */
static size_t
store_sqlite_data(const char *json, const struct store_member *mem,
    size_t nmem, int known, char *buf)
{
	size_t	i, o = 0;

	buf[o++] = '{';
	for (i = 0; i < nmem; i++) {
		if (mem[i].col >= 0 && (mem[i].col < COL_SENSOR || known))
			continue;
		if (o > 1)
			buf[o++] = ',';
		memcpy(buf + o, json + mem[i].lo, mem[i].hi - mem[i].lo);
		o += mem[i].hi - mem[i].lo;
	}
	buf[o++] = '}';
	return o;
}

/*
 * An event that is not a JSON object the scanner can read goes in as
 * {"malformed":"..."}, escaped: the view's JSON functions would fail on
 * it (and with them every query that reads data).
 */
static char *
store_sqlite_malformed(const char *json, size_t len, size_t *dlen)
{
	static const char	head[] = "{\"malformed\":\"";
	char			*buf;
	size_t			 n, cap = len * 6 + sizeof(head) + 3;

	if ((buf = malloc(cap)) == NULL)
		return NULL;
	memcpy(buf, head, sizeof(head) - 1);
	n = sizeof(head) - 1;
	n += event_escape(buf + n, cap - n - 2, json, len, NULL);
	buf[n++] = '"';
	buf[n++] = '}';
	*dlen = n;
	return buf;
}

/* Inserts the rows kept, in one statement; 0, or a negative SQLite code. */
static int
store_sqlite_rows(struct store *st)
{
	sqlite3_stmt		*s;
	const struct store_row	*r;
	size_t			 i;
	int			 k, rc = SQLITE_OK;

	if (store_nrows == 0)
		return 0;
	s = st->sql_rows[store_nrows - 1];
	for (i = 0; i < store_nrows && rc == SQLITE_OK; i++) {
		r = &store_rows[i];
		k = (int)i * 5;
		rc = sqlite3_bind_text(s, k + 1, r->data, (int)r->dlen,
		    SQLITE_STATIC);
		if (rc == SQLITE_OK)
			rc = store_sqlite_bind(s, k + 2, &r->ts);
		if (rc == SQLITE_OK)
			rc = store_sqlite_bind(s, k + 3, &r->eventid);
		if (rc == SQLITE_OK)
			rc = store_sqlite_bind(s, k + 4, &r->session);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(s, k + 5, r->id);
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	store_nrows = 0;
	return rc == SQLITE_DONE ? 0 : -rc;
}

/*
 * Takes one event with its id: its row is kept for the next INSERT of
 * rows.  0, or a negative SQLite code.
 */
static int
store_sqlite_event(struct store *st, const char *json, size_t len,
    int64_t id)
{
	struct store_span	vals[STORE_SQLITE_NCOLS];
	struct store_member	mem[STORE_SQLITE_MEMBERS];
	struct store_row	*r = &store_rows[store_nrows];
	size_t			nmem, dlen = len;
	const char		*data = json;
	char			*fixed = store_rows_data[store_nrows];
	char			*buf = NULL;
	int			rc = 0, known, folded = 0;

	if (id == 0)
		id = st->sql_next_id++;
	/*
	 * A crowded event goes in whole, a malformed one escaped, each with
	 * the columns found.
	 */
	if (store_sqlite_scan(json, len, vals, mem, &nmem) == -1) {
		if ((buf = store_sqlite_malformed(json, len, &dlen)) != NULL)
			data = buf;
	} else if (nmem <= STORE_SQLITE_MEMBERS && (len + 3 <=
	    sizeof(store_rows_data[0]) ||
	    (buf = malloc(len + 3)) != NULL)) {
		known = store_sqlite_known(st, vals,
		    store_sqlite_is_open(vals, mem, nmem) ? id : 0, &folded);
		if (known < 0) {
			free(buf);
			return known;
		}
		data = buf != NULL ? buf : fixed;
		dlen = store_sqlite_data(json, mem, nmem, known, (char *)data);
	}
	if (folded) {		/* its session row is the event */
		free(buf);
		return 0;
	}
	r->data = data;
	r->dlen = dlen;
	r->ts = vals[COL_TIMESTAMP];
	r->eventid = vals[COL_EVENTID];
	r->session = vals[COL_SESSION];
	r->id = id;
	if (++store_nrows == STORE_SQLITE_ROWS || buf != NULL)
		rc = store_sqlite_rows(st);
	free(buf);
	return rc;
}

int
store_sqlite_pending(void)
{
	return store_nfiles > 0;
}

/* Writes one files row (or adds to its count); SQLITE_DONE if it went. */
static int
store_sqlite_file_row(struct store *st, const struct store_file_pending *f)
{
	sqlite3_stmt	*s = st->sql_file;
	int		 rc;

	if ((rc = sqlite3_bind_text(s, 1, f->sha256, -1, SQLITE_STATIC)) ||
	    (rc = sqlite3_bind_text(s, 2, f->md5, -1, SQLITE_STATIC)) ||
	    (rc = sqlite3_bind_text(s, 3, f->sha1, -1, SQLITE_STATIC)) ||
	    (rc = sqlite3_bind_text(s, 4, f->sha512, -1, SQLITE_STATIC)) ||
	    (rc = sqlite3_bind_int64(s, 5, (sqlite3_int64)f->size)) ||
	    (rc = sqlite3_bind_text(s, 6, f->filetype, -1, SQLITE_STATIC)) ||
	    (rc = sqlite3_bind_text(s, 7, f->kind, -1, SQLITE_STATIC)) ||
	    (rc = sqlite3_bind_text(s, 8, f->first_seen, -1,
	    SQLITE_STATIC)) ||
	    (rc = sqlite3_bind_int64(s, 9, f->count)))
		goto done;
	rc = sqlite3_step(s);
done:
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc;
}

void
store_sqlite_file(struct store *st, const char *sha256, const char *md5,
    const char *sha1, const char *sha512, uint64_t size,
    const char *filetype, const char *kind, const char *first_seen)
{
	struct store_file_pending	*f, one;
	size_t				 i;

	if (st->db == NULL)
		return;
	for (i = 0; i < store_nfiles; i++)
		if (strcmp(store_files[i].sha256, sha256) == 0) {
			store_files[i].count++;
			return;
		}
	/* More files in one batch than the list holds: queued one by one. */
	f = store_nfiles < STORE_FILES_PENDING ? &store_files[store_nfiles++] :
	    &one;
	snprintf(f->sha256, sizeof(f->sha256), "%s", sha256);
	snprintf(f->md5, sizeof(f->md5), "%s", md5);
	snprintf(f->sha1, sizeof(f->sha1), "%s", sha1);
	snprintf(f->sha512, sizeof(f->sha512), "%s", sha512);
	snprintf(f->filetype, sizeof(f->filetype), "%s", filetype);
	snprintf(f->kind, sizeof(f->kind), "%s", kind);
	snprintf(f->first_seen, sizeof(f->first_seen), "%s", first_seen);
	f->size = size;
	f->count = 1;
	if (f == &one)
		store_sql_queue(st, STORE_SQL_FILE, 0, &one, sizeof(one));
}

/*
 * One transaction for the batch: its events, the files rows, the id
 * counter.  If an operator's transaction holds the lock past the busy
 * timeout, or the disk is full, it is rolled back and the caller keeps
 * the batch for the next try.
 */
int
store_sqlite_write(struct store *st, const struct store_buf *b)
{
	const struct store_sql_rec	*r;
	const struct store_file_pending	*f;
	const char			*what = "begin";
	size_t				 off, i;
	int				 rc;

	if (st->db == NULL)
		return 0;
	rc = sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL);
	for (off = 0; rc == SQLITE_OK && off < b->len;
	    off += (sizeof(*r) + r->len + 7) & ~(size_t)7) {
		r = (const void *)(b->p + off);
		if (r->kind == STORE_SQL_FILE && r->len == sizeof(*f)) {
			what = "insert file";
			f = (const void *)(b->p + off + sizeof(*r));
			if ((rc = store_sqlite_file_row(st, f)) == SQLITE_DONE)
				rc = SQLITE_OK;
			continue;
		}
		what = "insert event";
		rc = -store_sqlite_event(st, b->p + off + sizeof(*r), r->len,
		    (int64_t)r->id);
	}
	if (rc == SQLITE_OK)
		rc = -store_sqlite_rows(st);
	for (i = 0; rc == SQLITE_OK && i < store_nfiles; i++) {
		what = "insert file";
		if ((rc = store_sqlite_file_row(st, &store_files[i])) ==
		    SQLITE_DONE)
			rc = SQLITE_OK;
	}
	if (rc == SQLITE_OK) {
		/* The ids given out, kept with the rows that have them. */
		what = "next id";
		if ((rc = sqlite3_bind_int64(st->sql_meta, 1,
		    st->sql_next_id)) == SQLITE_OK &&
		    (rc = sqlite3_step(st->sql_meta)) == SQLITE_DONE)
			rc = SQLITE_OK;
		sqlite3_reset(st->sql_meta);
	}
	if (rc == SQLITE_OK) {
		what = "commit";
		rc = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
	}
	if (rc != SQLITE_OK) {
		store_sqlite_failed(st, what, rc);
		return -1;
	}
	store_nfiles = 0;
	return 0;
}

void
store_sqlite_close(struct store *st)
{
	size_t	i;
	int	rc;

	if (st->db == NULL)
		return;
	/*
	 * sqlite3_close() would not checkpoint: inside the chroot, the
	 * absolute path SQLite keeps for the database no longer exists, so
	 * it takes the file for moved.  Checkpoint and empty the WAL here.
	 */
	rc = sqlite3_wal_checkpoint_v2(st->db, NULL,
	    SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	if (rc != SQLITE_OK)
		log_warnx("store: sqlite %s: checkpoint: %s", st->sqlite_path,
		    sqlite3_errmsg(st->db));
	for (i = 0; i < STORE_SQLITE_ROWS; i++) {
		sqlite3_finalize(st->sql_rows[i]);
		st->sql_rows[i] = NULL;
	}
	sqlite3_finalize(st->sql_session);
	sqlite3_finalize(st->sql_meta);
	sqlite3_finalize(st->sql_file);
	sqlite3_finalize(st->sql_open_id);
	st->sql_session = st->sql_meta = st->sql_file = NULL;
	st->sql_open_id = NULL;
	if (sqlite3_close(st->db) != SQLITE_OK)
		log_warnx("store: sqlite3_close %s: %s", st->sqlite_path,
		    sqlite3_errmsg(st->db));
	st->db = NULL;
}
