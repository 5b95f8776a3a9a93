/*
 * The store's back ends, as an operator sees them: what lands in the JSON
 * log, in SQLite, in binaries/ and hexdumps/, and what the disk ceiling
 * deletes.  Each test runs in a fresh temporary data directory.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "config.h"
#include "event.h"
#include "log.h"
#include "store.h"

#define LOG_PATH	"log/sundew.json"
#define DB_PATH		"sundew.sqlite"
#define MAX_LINES	4096

static char	test_json_path[] = LOG_PATH;
static char	test_db_path[] = DB_PATH;
static char	test_home[PATH_MAX];
static char	test_dir[PATH_MAX];

static const char test_ctx[] = "\"session\":\"9f2c41d07a1b\","
    "\"src_ip\":\"127.0.0.2\",\"src_port\":40000,\"dst_ip\":\"127.0.0.1\","
    "\"dst_port\":445,\"transport\":\"tcp\",\"service\":\"smb\","
    "\"url\":\"http://127.0.0.2/a.exe\"";

static const char sha256_abc[] =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

static void
test_conf(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->json_enabled = 1;
	c->json_path = test_json_path;
	c->json_keep = 3;
	c->json_format = CONFIG_FORMAT_FLAT;
	c->sqlite_enabled = 1;
	c->sqlite_path = test_db_path;
}

static int
test_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
setup(void **state)
{
	assert_non_null(getcwd(test_home, sizeof(test_home)));
	snprintf(test_dir, sizeof(test_dir), "/tmp/sundew-test-store-XXXXXX");
	assert_non_null(mkdtemp(test_dir));
	assert_int_equal(chdir(test_dir), 0);
	return 0;
}

static int
teardown(void **state)
{
	assert_int_equal(chdir(test_home), 0);
	nftw(test_dir, test_rm, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* One session event with a sequence number, as a sensor would send. */
static void
test_event(struct store *st, const char *eventid, int seq)
{
	struct event_buf	ev;
	size_t			len;

	event_begin(&ev, eventid);
	event_fields(&ev, test_ctx, strlen(test_ctx));
	event_int(&ev, "seq", seq);
	len = event_end(&ev);
	store_event(st, ev.buf, len, 0);
}

/*
 * Parses every line of path into out[] (at most max); each line must be
 * one JSON object ending in '\n'.  Returns the number of lines.
 */
static size_t
test_lines(const char *path, json_t **out, size_t max)
{
	FILE		*fp;
	char		*line = NULL;
	size_t		 cap = 0, n = 0;
	ssize_t		 len;
	json_error_t	 err;
	json_t		*j;

	fp = fopen(path, "r");
	assert_non_null(fp);
	while ((len = getline(&line, &cap, fp)) != -1) {
		assert_true(len > 0);
		assert_int_equal(line[len - 1], '\n');
		assert_null(memchr(line, '\n', (size_t)len - 1));
		j = json_loadb(line, (size_t)len - 1, JSON_ALLOW_NUL, &err);
		if (j == NULL)
			fail_msg("%s: %s: %s", path, err.text, line);
		assert_true(json_is_object(j));
		assert_true(n < max);
		out[n++] = j;
	}
	free(line);
	fclose(fp);
	return n;
}

static void
test_lines_free(json_t **lines, size_t n)
{
	while (n > 0)
		json_decref(lines[--n]);
}

static const char *
test_str(json_t *obj, const char *key)
{
	json_t	*v = json_object_get(obj, key);

	if (!json_is_string(v))
		fail_msg("no string %s", key);
	return json_string_value(v);
}

static json_int_t
test_int(json_t *obj, const char *key)
{
	json_t	*v = json_object_get(obj, key);

	if (!json_is_integer(v))
		fail_msg("no integer %s", key);
	return json_integer_value(v);
}

static int
test_exists(const char *path)
{
	struct stat	sb;

	return lstat(path, &sb) == 0;
}

/* Entries of dir, without . and ..; with prefix, only those. */
static size_t
test_count(const char *dir, const char *prefix)
{
	DIR		*d;
	struct dirent	*de;
	size_t		 n = 0;

	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (prefix == NULL ||
		    strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* The last line of the log whose eventid is id (a new reference). */
static json_t *
test_last(const char *id)
{
	json_t	*lines[MAX_LINES], *found = NULL;
	size_t	 n, i;

	n = test_lines(LOG_PATH, lines, MAX_LINES);
	for (i = 0; i < n; i++)
		if (strcmp(test_str(lines[i], "eventid"), id) == 0) {
			json_decref(found);
			found = json_incref(lines[i]);
		}
	test_lines_free(lines, n);
	if (found == NULL)
		fail_msg("no %s event in the log", id);
	return found;
}

/*
 * The plan of SELECT * FROM events WHERE cond: every table of the view
 * is searched (an index, "want" among them), none scanned whole.
 */
static void
test_plan_indexed(sqlite3 *db, const char *cond, const char *want)
{
	sqlite3_stmt	*s;
	char		 sql[256];
	const char	*d;
	int		 found = 0;

	snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN SELECT * FROM events"
	    " WHERE %s", cond);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL),
	    SQLITE_OK);
	while (sqlite3_step(s) == SQLITE_ROW) {
		d = (const char *)sqlite3_column_text(s, 3);
		if (strncmp(d, "SCAN ", 5) == 0 && strcmp(d, "SCAN events") != 0)
			fail_msg("%s: %s", cond, d);
		found |= strstr(d, want) != NULL;
	}
	sqlite3_finalize(s);
	assert_true(found);
}

static void
test_events_reach_log_and_db(void **state)
{
	struct config	 c;
	struct store	*st;
	json_t		*lines[MAX_LINES];
	sqlite3		*db;
	sqlite3_stmt	*s;
	size_t		 n, i;
	int		 rows = 0;

	test_conf(&c);
	st = store_open(&c);
	assert_non_null(st);
	for (i = 0; i < 5; i++)
		test_event(st, "sundew.connection.open", (int)i);
	store_flush(st);
	/* Flushed, not closed: what a reader sees while the store runs. */
	n = test_lines(LOG_PATH, lines, MAX_LINES);
	assert_int_equal(n, 5);
	for (i = 0; i < n; i++) {
		assert_string_equal(test_str(lines[i], "eventid"),
		    "sundew.connection.open");
		assert_string_equal(test_str(lines[i], "sensor"), "t1");
		assert_string_equal(test_str(lines[i], "src_ip"), "127.0.0.2");
		assert_int_equal(test_int(lines[i], "seq"), (json_int_t)i);
	}
	test_lines_free(lines, n);

	assert_int_equal(sqlite3_open_v2(DB_PATH, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT eventid, sensor, "
	    "session, src_ip, src_port, dst_ip, dst_port, transport, service,"
	    " timestamp, json_extract(data, '$.seq') FROM events ORDER BY id",
	    -1, &s, NULL), SQLITE_OK);
	while (sqlite3_step(s) == SQLITE_ROW) {
		assert_string_equal(sqlite3_column_text(s, 0),
		    "sundew.connection.open");
		assert_string_equal(sqlite3_column_text(s, 1), "t1");
		assert_string_equal(sqlite3_column_text(s, 2), "9f2c41d07a1b");
		assert_string_equal(sqlite3_column_text(s, 3), "127.0.0.2");
		assert_int_equal(sqlite3_column_type(s, 4), SQLITE_INTEGER);
		assert_int_equal(sqlite3_column_int(s, 4), 40000);
		assert_string_equal(sqlite3_column_text(s, 5), "127.0.0.1");
		assert_int_equal(sqlite3_column_int(s, 6), 445);
		assert_string_equal(sqlite3_column_text(s, 7), "tcp");
		assert_string_equal(sqlite3_column_text(s, 8), "smb");
		assert_int_equal(strlen((const char *)
		    sqlite3_column_text(s, 9)), 27);
		assert_int_equal(sqlite3_column_int(s, 10), rows);
		rows++;
	}
	sqlite3_finalize(s);
	assert_int_equal(rows, 5);

	/* WAL mode, a schema version, and the operator's indexes. */
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal(sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_true(sqlite3_column_int(s, 0) >= 1);
	sqlite3_finalize(s);
	/* The view's usual filters use an index in each of its parts. */
	test_plan_indexed(db, "src_ip = '127.0.0.2'", "sessions_src_ip");
	test_plan_indexed(db, "timestamp > '2026'", "_timestamp");
	test_plan_indexed(db, "session = 'x'", "session");
	sqlite3_close(db);
	store_close(st);
}

/* One text answer of a query on the database, or "" (for NULL). */
static void
test_sql_text(sqlite3 *db, const char *sql, char *out, size_t outlen)
{
	sqlite3_stmt	*s;
	const char	*t;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	t = (const char *)sqlite3_column_text(s, 0);
	snprintf(out, outlen, "%s", t != NULL ? t : "");
	sqlite3_finalize(s);
}

/*
 * A session's fields go once into sessions; its events keep their own in
 * event_log, and the view events gives each event whole again.  An event
 * whose fields differ from its session's, or that has no session, keeps
 * them in its own data.
 */
static void
test_sqlite_sessions(void **state)
{
	static const char	 other[] = "\"session\":\"9f2c41d07a1b\","
	    "\"src_ip\":\"127.0.0.9\",\"src_port\":40000,"
	    "\"dst_ip\":\"127.0.0.1\",\"dst_port\":445,"
	    "\"transport\":\"tcp\",\"service\":\"smb\"";
	static const char	 plain[] = "\"session\":\"00000000000000aa\","
	    "\"src_ip\":\"127.0.0.5\",\"src_port\":5,"
	    "\"dst_ip\":\"127.0.0.1\",\"dst_port\":21,"
	    "\"transport\":\"tcp\",\"service\":\"ftp\"";
	struct config		 c;
	struct store		*st;
	struct event_buf	 ev;
	sqlite3			*db;
	char			 t[512];
	size_t			 len;

	test_conf(&c);
	st = store_open(&c);
	assert_non_null(st);
	test_event(st, "sundew.connection.open", 0);
	test_event(st, "sundew.request", 1);
	event_begin(&ev, "sundew.shellcode.detected");
	event_fields(&ev, other, strlen(other));
	len = event_end(&ev);
	store_event(st, ev.buf, len, 0);
	event_begin(&ev, "sundew.limit.hit");
	event_str(&ev, "limit", "disk");
	len = event_end(&ev);
	store_event(st, ev.buf, len, 0);
	/* A plain open, first of its session: its sessions row is the event. */
	event_begin(&ev, "sundew.connection.open");
	event_fields(&ev, plain, strlen(plain));
	len = event_end(&ev);
	store_event(st, ev.buf, len, 0);
	event_begin(&ev, "sundew.connection.close");
	event_fields(&ev, plain, strlen(plain));
	len = event_end(&ev);
	store_event(st, ev.buf, len, 0);
	store_close(st);

	assert_int_equal(sqlite3_open_v2(DB_PATH, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	test_sql_text(db, "SELECT count(*) || ' ' || src_ip FROM sessions "
	    "WHERE session = '9f2c41d07a1b'", t, sizeof(t));
	assert_string_equal(t, "1 127.0.0.2");
	test_sql_text(db, "SELECT data FROM event_log WHERE id = 2", t,
	    sizeof(t));
	assert_string_equal(t, "{\"url\":\"http://127.0.0.2/a.exe\","
	    "\"seq\":1}");
	test_sql_text(db, "SELECT json_extract(data, '$.src_ip') || ' ' ||"
	    " json_extract(data, '$.seq') || ' ' || json_extract(data, "
	    "'$.eventid') || ' ' || json_extract(data, '$.dst_port') FROM "
	    "events WHERE id = 2", t, sizeof(t));
	assert_string_equal(t, "127.0.0.2 1 sundew.request 445");
	/* The event that disagrees keeps its own address. */
	test_sql_text(db, "SELECT json_extract(data, '$.src_ip') FROM events"
	    " WHERE eventid = 'sundew.shellcode.detected'", t, sizeof(t));
	assert_string_equal(t, "127.0.0.9");
	/* No session: everything stays in data; sensor too. */
	test_sql_text(db, "SELECT json_extract(data, '$.limit') || ' ' ||"
	    " json_extract(data, '$.sensor') || ' ' || json_extract(data, "
	    "'$.eventid') FROM events WHERE session IS NULL", t, sizeof(t));
	assert_string_equal(t, "disk t1 sundew.limit.hit");
	/* The plain open has no row of its own, yet events shows it. */
	test_sql_text(db, "SELECT count(*) FROM event_log WHERE session = "
	    "'00000000000000aa'", t, sizeof(t));
	assert_string_equal(t, "1");
	test_sql_text(db, "SELECT group_concat(eventid || ' ' || src_ip || ' '"
	    " || json_extract(data, '$.dst_port') || ' ' || json_extract(data,"
	    " '$.service'), ', ') FROM (SELECT * FROM events WHERE session = "
	    "'00000000000000aa' ORDER BY id)", t, sizeof(t));
	assert_string_equal(t, "sundew.connection.open 127.0.0.5 21 ftp, "
	    "sundew.connection.close 127.0.0.5 21 ftp");
	test_sql_text(db, "SELECT count(*) || ' ' || count(DISTINCT id) FROM "
	    "events", t, sizeof(t));
	assert_string_equal(t, "6 6");
	sqlite3_close(db);
}

/* A version 1 database (every field in every row) is taken to version 3. */
static void
test_sqlite_migrates_v1(void **state)
{
	static const char	 v1[] =
	    "PRAGMA journal_mode = WAL;"
	    "CREATE TABLE events (id INTEGER PRIMARY KEY, timestamp TEXT,"
	    " eventid TEXT, sensor TEXT, session TEXT, src_ip TEXT,"
	    " src_port INTEGER, dst_ip TEXT, dst_port INTEGER, transport TEXT,"
	    " service TEXT, data TEXT NOT NULL);"
	    "CREATE INDEX events_timestamp ON events (timestamp);"
	    "CREATE INDEX events_eventid ON events (eventid);"
	    "CREATE INDEX events_src_ip ON events (src_ip);"
	    "CREATE INDEX events_session ON events (session);"
	    "CREATE TABLE files (sha256 TEXT PRIMARY KEY, md5 TEXT NOT NULL,"
	    " sha1 TEXT NOT NULL, sha512 TEXT NOT NULL, size INTEGER NOT NULL,"
	    " filetype TEXT, kind TEXT NOT NULL, first_seen TEXT NOT NULL,"
	    " count INTEGER NOT NULL DEFAULT 1);"
	    "INSERT INTO events VALUES (7, '2026-11-25T18:06:34.123456Z',"
	    " 'sundew.connection.open', 's1', 'aaaa', '192.0.2.1', 1, "
	    " '192.0.2.2', 445, 'tcp', 'smb', '{\"timestamp\":"
	    "\"2026-11-25T18:06:34.123456Z\",\"eventid\":"
	    "\"sundew.connection.open\",\"sensor\":\"s1\",\"session\":"
	    "\"aaaa\",\"src_ip\":\"192.0.2.1\",\"src_port\":1,\"dst_ip\":"
	    "\"192.0.2.2\",\"dst_port\":445,\"transport\":\"tcp\","
	    "\"service\":\"smb\",\"x\":1}');"
	    "PRAGMA user_version = 1;";
	struct config	 c;
	struct store	*st;
	sqlite3		*db;
	char		 t[512];

	assert_int_equal(sqlite3_open(DB_PATH, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, v1, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	test_conf(&c);
	st = store_open(&c);
	assert_non_null(st);
	test_event(st, "sundew.connection.close", 1);
	store_close(st);
	assert_int_equal(sqlite3_open_v2(DB_PATH, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	test_sql_text(db, "PRAGMA user_version", t, sizeof(t));
	assert_string_equal(t, "3");
	test_sql_text(db, "SELECT group_concat(id || ' ' || src_ip || ' ' ||"
	    " json_extract(data, '$.dst_port'), ', ') FROM events", t,
	    sizeof(t));
	assert_string_equal(t, "7 192.0.2.1 445, 8 127.0.0.2 445");
	test_sql_text(db, "SELECT data FROM event_log WHERE id = 7", t,
	    sizeof(t));
	assert_string_equal(t, "{\"x\":1}");
	sqlite3_close(db);
}

static void
test_hostile_string_one_line(void **state)
{
	static const char	 evil[] =
	    "a\0b\"c\\d\n{\"x\":1}\r\xff\xfe\x01z";
	struct config		 c;
	struct store		*st;
	struct event_buf	 ev;
	json_t			*lines[4], *v;
	sqlite3			*db;
	sqlite3_stmt		*s;
	size_t			 n, len;
	const char		*got;

	test_conf(&c);
	st = store_open(&c);
	assert_non_null(st);
	event_begin(&ev, "sundew.request");
	event_bytes(&ev, "payload", evil, sizeof(evil) - 1);
	len = event_end(&ev);
	store_event(st, ev.buf, len, 0);
	test_event(st, "sundew.connection.close", 1);
	store_close(st);

	n = test_lines(LOG_PATH, lines, 4);
	assert_int_equal(n, 2);
	v = json_object_get(lines[0], "payload");
	assert_true(json_is_string(v));
	/* Every byte is there, \xff as U+00FF (two bytes of UTF-8). */
	assert_int_equal(json_string_length(v), sizeof(evil) - 1 + 2);
	got = json_string_value(v);
	assert_memory_equal(got, "a\0b\"c\\d\n{\"x\":1}\r", 16);
	assert_memory_equal(got + 16, "\xc3\xbf\xc3\xbe\x01z", 6);
	assert_string_equal(test_str(lines[1], "eventid"),
	    "sundew.connection.close");
	test_lines_free(lines, n);

	assert_int_equal(sqlite3_open(DB_PATH, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM events "
	    "WHERE json_valid(data) AND eventid = 'sundew.request'", -1, &s,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), 1);
	sqlite3_finalize(s);
	sqlite3_close(db);
}

/* The seq numbers across the rotated files, oldest file first. */
static size_t
test_rotated_seqs(int *seqs, size_t max, unsigned keep, uint64_t max_size)
{
	json_t		*lines[MAX_LINES];
	char		 path[64];
	struct stat	 sb;
	size_t		 total = 0, n, i;
	unsigned	 k;

	for (k = keep + 1; k > 0; k--) {
		if (k == 1)
			snprintf(path, sizeof(path), "%s", LOG_PATH);
		else
			snprintf(path, sizeof(path), "%s.%u", LOG_PATH, k - 1);
		assert_int_equal(stat(path, &sb), 0);
		assert_true((uint64_t)sb.st_size <= max_size);
		n = test_lines(path, lines, MAX_LINES);
		for (i = 0; i < n; i++) {
			assert_true(total < max);
			seqs[total++] = (int)test_int(lines[i], "seq");
		}
		test_lines_free(lines, n);
	}
	return total;
}

static void
test_rotation_by_size(void **state)
{
	struct config	 c;
	struct store	*st;
	int		 seqs[MAX_LINES];
	size_t		 n, i;

	test_conf(&c);
	c.json_max_size = 2000;
	c.sqlite_enabled = 0;
	st = store_open(&c);
	assert_non_null(st);
	for (i = 0; i < 200; i++) {
		test_event(st, "sundew.request", (int)i);
		if (i % 7 == 6)
			store_flush(st);
	}
	store_close(st);
	/* json_keep = 3: .1 .2 .3 and nothing older. */
	assert_true(test_exists(LOG_PATH ".3"));
	assert_false(test_exists(LOG_PATH ".4"));
	assert_int_equal(test_count("log", NULL), 4);
	/* Whole lines, none over the size, and the newest events kept. */
	n = test_rotated_seqs(seqs, MAX_LINES, 3, 2000);
	assert_true(n > 3);
	for (i = 1; i < n; i++)
		assert_int_equal(seqs[i], seqs[i - 1] + 1);
	assert_int_equal(seqs[n - 1], 199);
}

static void
test_rotation_by_age(void **state)
{
	struct config	 c;
	struct store	*st;
	struct stat	 sb;

	test_conf(&c);
	c.json_max_age = 1;
	c.sqlite_enabled = 0;
	st = store_open(&c);
	assert_non_null(st);
	store_tick(st);
	sleep(2);
	store_tick(st);
	/* An empty log is not rotated. */
	assert_false(test_exists(LOG_PATH ".1"));
	test_event(st, "sundew.request", 1);
	store_flush(st);
	store_tick(st);
	assert_false(test_exists(LOG_PATH ".1"));
	sleep(2);
	store_tick(st);
	assert_true(test_exists(LOG_PATH ".1"));
	assert_int_equal(stat(LOG_PATH, &sb), 0);
	assert_int_equal(sb.st_size, 0);
	test_event(st, "sundew.request", 2);
	store_close(st);
	assert_int_equal(stat(LOG_PATH, &sb), 0);
	assert_true(sb.st_size > 0);
}

static void
test_reopen_after_rename(void **state)
{
	struct config	 c;
	struct store	*st;
	json_t		*lines[8];
	size_t		 n;

	test_conf(&c);
	st = store_open(&c);
	assert_non_null(st);
	test_event(st, "sundew.request", 1);
	store_flush(st);
	assert_int_equal(rename(LOG_PATH, "log/moved.json"), 0);
	store_reopen(st);
	assert_true(test_exists(LOG_PATH));
	test_event(st, "sundew.request", 2);
	store_close(st);

	n = test_lines("log/moved.json", lines, 8);
	assert_int_equal(n, 1);
	assert_int_equal(test_int(lines[0], "seq"), 1);
	test_lines_free(lines, n);
	n = test_lines(LOG_PATH, lines, 8);
	assert_int_equal(n, 1);
	assert_int_equal(test_int(lines[0], "seq"), 2);
	test_lines_free(lines, n);
}

static void
test_half_line_repaired(void **state)
{
	static const char	 old[] = "{\"eventid\":\"sundew.request\","
	    "\"seq\":0}\n{\"eventid\":\"sundew.req";
	struct config		 c;
	struct store		*st;
	json_t			*lines[8];
	size_t			 n;
	int			 fd;

	/* What a store killed in the middle of a write leaves. */
	assert_int_equal(mkdir("log", 0750), 0);
	fd = open(LOG_PATH, O_WRONLY | O_CREAT, 0640);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, old, sizeof(old) - 1), sizeof(old) - 1);
	close(fd);

	test_conf(&c);
	st = store_open(&c);
	assert_non_null(st);
	test_event(st, "sundew.request", 1);
	store_close(st);
	n = test_lines(LOG_PATH, lines, 8);
	assert_int_equal(n, 2);
	assert_int_equal(test_int(lines[0], "seq"), 0);
	assert_int_equal(test_int(lines[1], "seq"), 1);
	test_lines_free(lines, n);
}

static int
test_db_int(const char *sql)
{
	sqlite3		*db;
	sqlite3_stmt	*s;
	int		 v;

	assert_int_equal(sqlite3_open(DB_PATH, &db), SQLITE_OK);
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static void
test_file_binary_digests(void **state)
{
	struct config	 c;
	struct store	*st;
	struct stat	 sb;
	json_t		*ev;
	char		 path[128], buf[8];
	int		 fd;

	test_conf(&c);
	st = store_open(&c);
	assert_non_null(st);
	assert_int_equal(store_file(st, STORE_BINARY, test_ctx,
	    strlen(test_ctx), (const uint8_t *)"abc", 3, 0), 0);
	store_flush(st);

	snprintf(path, sizeof(path), "binaries/%s", sha256_abc);
	assert_int_equal(lstat(path, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0440);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "abc", 3);
	close(fd);

	ev = test_last("sundew.file.stored");
	assert_string_equal(test_str(ev, "sha256"), sha256_abc);
	assert_string_equal(test_str(ev, "md5"),
	    "900150983cd24fb0d6963f7d28e17f72");
	assert_string_equal(test_str(ev, "sha1"),
	    "a9993e364706816aba3e25717850c26c9cd0d89d");
	assert_string_equal(test_str(ev, "sha512"),
	    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
	    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
	assert_int_equal(test_int(ev, "size"), 3);
	assert_string_equal(test_str(ev, "kind"), "binary");
	assert_true(json_is_false(json_object_get(ev, "duplicate")));
	assert_string_equal(test_str(ev, "session"), "9f2c41d07a1b");
	assert_string_equal(test_str(ev, "url"), "http://127.0.0.2/a.exe");
	assert_non_null(test_str(ev, "filetype"));
	json_decref(ev);
	store_close(st);

	assert_int_equal(test_db_int("SELECT count(*) FROM files WHERE "
	    "sha256 = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61"
	    "f20015ad' AND md5 = '900150983cd24fb0d6963f7d28e17f72' AND "
	    "size = 3 AND kind = 'binary' AND count = 1"), 1);
	assert_int_equal(test_db_int("SELECT count(*) FROM events WHERE "
	    "eventid = 'sundew.file.stored' AND session = '9f2c41d07a1b'"), 1);
	assert_int_equal(test_count("binaries", ".tmp-"), 0);
}

static void
test_file_elf_type(void **state)
{
	struct config	 c;
	struct store	*st;
	struct stat	 sb;
	uint8_t		*data;
	json_t		*ev;
	FILE		*fp;

	fp = fopen("/bin/true", "rb");
	assert_non_null(fp);
	assert_int_equal(fstat(fileno(fp), &sb), 0);
	data = malloc((size_t)sb.st_size);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, (size_t)sb.st_size, fp),
	    (size_t)sb.st_size);
	fclose(fp);

	test_conf(&c);
	st = store_open(&c);
	assert_non_null(st);
	assert_int_equal(store_file(st, STORE_BINARY, NULL, 0, data,
	    (size_t)sb.st_size, 0), 0);
	store_close(st);
	free(data);
	ev = test_last("sundew.file.stored");
	assert_non_null(strstr(test_str(ev, "filetype"), "ELF"));
	assert_int_equal(test_int(ev, "size"), sb.st_size);
	json_decref(ev);
	assert_int_equal(test_count("binaries", NULL), 1);
}

static void
test_file_duplicate(void **state)
{
	struct config	 c;
	struct store	*st;
	json_t		*ev;

	test_conf(&c);
	st = store_open(&c);
	assert_non_null(st);
	assert_int_equal(store_file(st, STORE_BINARY, test_ctx,
	    strlen(test_ctx), (const uint8_t *)"abc", 3, 0), 0);
	assert_int_equal(store_file(st, STORE_BINARY, test_ctx,
	    strlen(test_ctx), (const uint8_t *)"abc", 3, 0), 0);
	store_close(st);
	ev = test_last("sundew.file.stored");
	assert_true(json_is_true(json_object_get(ev, "duplicate")));
	assert_string_equal(test_str(ev, "sha256"), sha256_abc);
	json_decref(ev);
	assert_int_equal(test_count("binaries", NULL), 1);
	assert_int_equal(test_db_int("SELECT count FROM files"), 2);
}

/*
 * A download: sundew.download.complete (what the sensor fetched: url,
 * digests, type, whether the store had it) and then sundew.file.stored,
 * each with the id the sensor gave it; the second time both say
 * duplicate and the file is written once.
 */
static void
test_download_complete_then_stored(void **state)
{
	static const char	 ctx[] = "\"session\":\"00000000000000d1\","
	    "\"src_ip\":\"127.0.0.2\",\"src_port\":40000,\"dst_ip\":"
	    "\"127.0.0.1\",\"dst_port\":445,\"transport\":\"tcp\","
	    "\"service\":\"generic\",\"origin\":\"download\","
	    "\"url\":\"http://files.test/a.exe\"";
	struct config		 c;
	struct store		*st;
	json_t			*lines[MAX_LINES];
	size_t			 n, i;
	int			 round;

	test_conf(&c);
	st = store_open(&c);
	assert_non_null(st);
	assert_int_equal(store_download(st, ctx, strlen(ctx),
	    (const uint8_t *)"abc", 3, 0x1000, 0x1040), 0);
	assert_int_equal(store_download(st, ctx, strlen(ctx),
	    (const uint8_t *)"abc", 3, 0x2000, 0x2040), 0);
	store_close(st);

	n = test_lines(LOG_PATH, lines, MAX_LINES);
	assert_int_equal(n, 4);
	for (round = 0; round < 2; round++) {
		json_t	*done = lines[2 * round], *stored = lines[2 * round + 1];
		char	 id[17];

		assert_string_equal(test_str(done, "eventid"),
		    "sundew.download.complete");
		snprintf(id, sizeof(id), "%016x", round == 0 ? 0x1000 : 0x2000);
		assert_string_equal(test_str(done, "id"), id);
		assert_string_equal(test_str(done, "session"),
		    "00000000000000d1");
		assert_string_equal(test_str(done, "url"),
		    "http://files.test/a.exe");
		assert_string_equal(test_str(done, "sha256"), sha256_abc);
		assert_string_equal(test_str(done, "md5"),
		    "900150983cd24fb0d6963f7d28e17f72");
		assert_int_equal(test_int(done, "size"), 3);
		assert_non_null(test_str(done, "filetype"));
		assert_true(json_is_boolean(json_object_get(done,
		    "duplicate")));
		assert_int_equal(json_is_true(json_object_get(done,
		    "duplicate")), round == 1);

		assert_string_equal(test_str(stored, "eventid"),
		    "sundew.file.stored");
		snprintf(id, sizeof(id), "%016x", round == 0 ? 0x1040 : 0x2040);
		assert_string_equal(test_str(stored, "id"), id);
		assert_string_equal(test_str(stored, "origin"), "download");
		assert_string_equal(test_str(stored, "url"),
		    "http://files.test/a.exe");
		assert_string_equal(test_str(stored, "session"),
		    "00000000000000d1");
		assert_string_equal(test_str(stored, "kind"), "binary");
		assert_int_equal(json_is_true(json_object_get(stored,
		    "duplicate")), round == 1);
	}
	test_lines_free(lines, n);
	assert_int_equal(test_count("binaries", NULL), 1);
	for (i = 0; i < 2; i++)
		assert_int_equal(test_db_int(i == 0 ? "SELECT count(*) FROM "
		    "events WHERE eventid = 'sundew.download.complete' AND "
		    "session = '00000000000000d1'" : "SELECT count(*) FROM "
		    "events WHERE eventid = 'sundew.file.stored' AND session = "
		    "'00000000000000d1'"), 2);
}

static void
test_file_hexdump_and_tmp(void **state)
{
	static const uint8_t	 payload[] = "\x90\x90\xeb\x10unknown";
	struct config		 c;
	struct store		*st;
	struct stat		 sb;
	json_t			*ev;
	char			 path[128];
	int			 fd;

	/* A killed store left a temporary file behind. */
	assert_int_equal(mkdir("hexdumps", 0750), 0);
	fd = open("hexdumps/.tmp-AbC123", O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "half", 4), 4);
	close(fd);

	test_conf(&c);
	st = store_open(&c);
	assert_non_null(st);
	assert_false(test_exists("hexdumps/.tmp-AbC123"));
	assert_int_equal(store_file(st, STORE_HEXDUMP, test_ctx,
	    strlen(test_ctx), payload, sizeof(payload) - 1, 0), 0);
	store_close(st);

	ev = test_last("sundew.file.stored");
	assert_string_equal(test_str(ev, "kind"), "hexdump");
	snprintf(path, sizeof(path), "hexdumps/%s.bin", test_str(ev,
	    "sha256"));
	json_decref(ev);
	assert_int_equal(lstat(path, &sb), 0);
	assert_int_equal(sb.st_size, sizeof(payload) - 1);
	assert_int_equal(sb.st_mode & 07777, 0640);
	assert_int_equal(test_count("hexdumps", NULL), 1);
	assert_int_equal(test_count("binaries", NULL), 0);
}

/* The inotify events of a test: the watch, the mask, the cookie, a name. */
struct test_inev {
	int		 wd;
	uint32_t	 mask;
	uint32_t	 cookie;
	char		 name[NAME_MAX + 1];
};

static size_t
test_inotify_read(int in, struct test_inev *out, size_t max)
{
	static char	 buf[16384] __attribute__((aligned(8)));
	const struct inotify_event *e;
	ssize_t		 n;
	size_t		 k = 0;
	char		*p;

	while ((n = read(in, buf, sizeof(buf))) > 0)
		for (p = buf; p < buf + n; p += sizeof(*e) + e->len) {
			e = (const void *)p;
			if (e->len == 0)
				continue;
			assert_true(k < max);
			out[k].wd = e->wd;
			out[k].mask = e->mask;
			out[k].cookie = e->cookie;
			snprintf(out[k].name, sizeof(out[k].name), "%s",
			    e->name);
			k++;
		}
	return k;
}

/*
 * What inotify saw in one directory (watch wd) while a file was stored:
 * the final name must appear only by a rename (IN_MOVED_TO) of a
 * temporary name that was created and written whole first; it is never
 * created or written under the final name, where a reader (or a crash)
 * could find half a sample.
 */
static void
test_check_renamed(const struct test_inev *ev, size_t n, int wd,
    const char *final)
{
	const char	*tmp = NULL;
	uint32_t	 cookie = 0;
	size_t		 i;
	int		 written = 0, moved_from = 0, moved_to = 0;

	for (i = 0; i < n; i++) {
		if (ev[i].wd != wd)
			continue;
		if (strcmp(ev[i].name, final) == 0) {
			if (ev[i].mask != IN_MOVED_TO)
				fail_msg("%s: event 0x%x under the final name",
				    final, ev[i].mask);
			assert_int_equal(moved_from, 1);
			assert_int_equal(ev[i].cookie, cookie);
			moved_to++;
			continue;
		}
		if (strncmp(ev[i].name, ".tmp-", 5) != 0)
			fail_msg("%s: unexpected name %s", final, ev[i].name);
		if (ev[i].mask & IN_CREATE) {
			assert_null(tmp);
			tmp = ev[i].name;
			continue;
		}
		assert_non_null(tmp);
		assert_string_equal(ev[i].name, tmp);
		if (ev[i].mask & IN_CLOSE_WRITE)
			written++;
		else if (ev[i].mask & IN_MOVED_FROM) {
			assert_int_equal(written, 1);
			cookie = ev[i].cookie;
			moved_from++;
		}
	}
	assert_non_null(tmp);
	assert_int_equal(moved_to, 1);
}

static void
test_file_written_then_renamed(void **state)
{
	static const uint8_t	 payload[] = "\x90\x90\xeb\x10renamed";
	static struct test_inev	 ev[256];
	struct config		 c;
	struct store		*st;
	json_t			*last;
	char			 hexname[80];
	size_t			 n;
	int			 in, wbin, whex;
	uint32_t		 mask = IN_CREATE | IN_CLOSE_WRITE |
	    IN_MOVED_FROM | IN_MOVED_TO | IN_MODIFY;

	test_conf(&c);
	st = store_open(&c);
	assert_non_null(st);
	in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	assert_true(in >= 0);
	assert_true((wbin = inotify_add_watch(in, "binaries", mask)) >= 0);
	assert_true((whex = inotify_add_watch(in, "hexdumps", mask)) >= 0);
	assert_int_equal(store_file(st, STORE_BINARY, test_ctx,
	    strlen(test_ctx), (const uint8_t *)"abc", 3, 0), 0);
	assert_int_equal(store_file(st, STORE_HEXDUMP, test_ctx,
	    strlen(test_ctx), payload, sizeof(payload) - 1, 0), 0);
	store_close(st);
	n = test_inotify_read(in, ev, sizeof(ev) / sizeof(ev[0]));
	close(in);
	last = test_last("sundew.file.stored");
	assert_string_equal(test_str(last, "kind"), "hexdump");
	snprintf(hexname, sizeof(hexname), "%s.bin", test_str(last, "sha256"));
	json_decref(last);
	test_check_renamed(ev, n, wbin, sha256_abc);
	test_check_renamed(ev, n, whex, hexname);
	assert_int_equal(test_count("binaries", NULL), 1);
	assert_int_equal(test_count("hexdumps", NULL), 1);
}

/* A hexdump of n bytes of fill, its mtime set to when. */
static void
test_old_hexdump(struct store *st, int fill, size_t n, time_t when,
    char *path, size_t pathlen)
{
	struct timespec	 ts[2];
	uint8_t		*data;
	json_t		*ev;

	data = malloc(n);
	assert_non_null(data);
	memset(data, fill, n);
	assert_int_equal(store_file(st, STORE_HEXDUMP, NULL, 0, data, n, 0), 0);
	free(data);
	store_flush(st);
	ev = test_last("sundew.file.stored");
	snprintf(path, pathlen, "hexdumps/%s.bin", test_str(ev, "sha256"));
	json_decref(ev);
	ts[0].tv_sec = ts[1].tv_sec = when;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void
test_ceiling_prunes_hexdumps(void **state)
{
	struct config	 c;
	struct store	*st;
	char		 hex[5][128];
	uint8_t		*big;
	json_t		*ev;
	time_t		 now = time(NULL);
	int		 i;

	test_conf(&c);
	c.sqlite_enabled = 0;
	c.max_disk = 100000;
	st = store_open(&c);
	assert_non_null(st);
	/* Written in one order, aged in another: hex[3] is the oldest. */
	for (i = 0; i < 5; i++)
		test_old_hexdump(st, 'a' + i, 15000, now - 1000 * (i == 3 ?
		    9 : 5 - i), hex[i], sizeof(hex[i]));

	big = malloc(90000);
	assert_non_null(big);
	memset(big, 'B', 90000);
	/* 75000 in hexdumps + 30000 > 100000: the oldest must go. */
	assert_int_equal(store_file(st, STORE_BINARY, test_ctx,
	    strlen(test_ctx), big, 30000, 0), 0);
	store_flush(st);
	assert_false(test_exists(hex[3]));
	assert_false(test_exists(hex[0]));
	assert_true(test_exists(hex[4]));
	assert_int_equal(test_count("binaries", NULL), 1);
	ev = test_last("sundew.limit.hit");
	assert_string_equal(test_str(ev, "limit"), "disk");
	assert_string_equal(test_str(ev, "action"), "pruned");
	assert_true(test_int(ev, "files") >= 2);
	assert_true(test_int(ev, "bytes") >= 30000);
	json_decref(ev);

	/*
	 * 30000 of samples are never deleted: 75000 more cannot fit, so it
	 * is not written, and no hexdump is deleted for nothing.
	 */
	assert_int_equal(store_file(st, STORE_BINARY, test_ctx,
	    strlen(test_ctx), big, 75000, 0), -1);
	store_flush(st);
	assert_int_equal(test_count("binaries", NULL), 1);
	assert_true(test_exists(hex[4]));
	ev = test_last("sundew.limit.hit");
	assert_string_equal(test_str(ev, "limit"), "disk");
	assert_null(json_object_get(ev, "action"));
	assert_int_equal(test_int(ev, "size"), 75000);
	assert_string_equal(test_str(ev, "session"), "9f2c41d07a1b");
	json_decref(ev);
	free(big);
	store_close(st);
	assert_int_equal(test_count("binaries", ".tmp-"), 0);
}

static void
test_ceiling_prunes_rotated_logs(void **state)
{
	struct config	 c;
	struct store	*st;
	uint8_t		*big;
	int		 i;

	test_conf(&c);
	c.sqlite_enabled = 0;
	c.json_max_size = 4000;
	c.json_keep = 5;
	c.max_disk = 40000;
	st = store_open(&c);
	assert_non_null(st);
	for (i = 0; i < 100; i++) {
		test_event(st, "sundew.request", i);
		store_flush(st);
	}
	assert_true(test_exists(LOG_PATH ".5"));
	big = calloc(1, 25000);
	assert_non_null(big);
	/* About 24000 of logs + 25000: rotated logs go, oldest first. */
	assert_int_equal(store_file(st, STORE_BINARY, NULL, 0, big, 25000, 0),
	    0);
	free(big);
	assert_false(test_exists(LOG_PATH ".5"));
	assert_false(test_exists(LOG_PATH ".4"));
	assert_true(test_exists(LOG_PATH ".1"));
	assert_true(test_exists(LOG_PATH));
	assert_int_equal(test_count("binaries", NULL), 1);
	store_close(st);
}

/* The size of a file, or 0 if it is not there. */
static uint64_t
test_size(const char *path)
{
	struct stat	sb;

	return lstat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

/* What the ceiling counts (no SQLite here): files, hexdumps, logs. */
static uint64_t
test_du(void)
{
	static const char *const dirs[] = { "binaries", "hexdumps", "log" };
	char		 path[PATH_MAX];
	struct dirent	*de;
	uint64_t	 n = 0;
	DIR		*d;
	size_t		 i;

	for (i = 0; i < 3; i++) {
		assert_non_null(d = opendir(dirs[i]));
		while ((de = readdir(d)) != NULL) {
			snprintf(path, sizeof(path), "%s/%s", dirs[i],
			    de->d_name);
			if (de->d_name[0] != '.')
				n += test_size(path);
		}
		closedir(d);
	}
	return n;
}

/*
 * Hexdumps go before rotated logs, whatever their ages: the logs are
 * made older than every hexdump here, and stay until no hexdump is left;
 * then the oldest logs go.  Samples and the live log always stay.
 */
static void
test_ceiling_prunes_hexdumps_before_logs(void **state)
{
	struct config	 c;
	struct store	*st;
	struct timespec	 ts[2];
	char		 hex[4][128], path[64];
	uint64_t	 hexbytes, used, size2;
	uint8_t		*big;
	time_t		 now = time(NULL);
	int		 i;

	/* Five rotated logs of about 4000 bytes, then no more rotation. */
	test_conf(&c);
	c.sqlite_enabled = 0;
	c.json_max_size = 4000;
	c.json_keep = 5;
	st = store_open(&c);
	assert_non_null(st);
	for (i = 0; i < 100; i++) {
		test_event(st, "sundew.request", i);
		store_flush(st);
	}
	store_close(st);
	for (i = 1; i <= 5; i++) {
		snprintf(path, sizeof(path), LOG_PATH ".%d", i);
		assert_true(test_exists(path));
		/* Ten days old, .5 the oldest. */
		ts[0].tv_sec = ts[1].tv_sec = now - 864000 - 3600 * i;
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
		assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	}
	c.json_max_size = 1 << 20;
	c.max_disk = 100000;
	st = store_open(&c);
	assert_non_null(st);
	/* Hexdumps of hours ago: hex[0] the oldest. */
	for (i = 0; i < 4; i++)
		test_old_hexdump(st, 'a' + i, 15000, now - 3600 * (4 - i),
		    hex[i], sizeof(hex[i]));
	store_flush(st);
	big = calloc(1, 100000);
	assert_non_null(big);

	/* Over the ceiling, and two hexdumps (30000) are enough. */
	used = test_du();
	assert_true(used + 30000 > c.max_disk);
	assert_true(used <= c.max_disk - c.max_disk / 10);
	assert_int_equal(store_file(st, STORE_BINARY, NULL, 0, big, 30000, 0), 0);
	store_flush(st);
	assert_false(test_exists(hex[0]));
	assert_false(test_exists(hex[1]));
	assert_true(test_exists(hex[2]));
	assert_true(test_exists(hex[3]));
	for (i = 1; i <= 5; i++) {
		snprintf(path, sizeof(path), LOG_PATH ".%d", i);
		if (!test_exists(path))
			fail_msg("%s went before the hexdumps", path);
	}

	/*
	 * Now more than the hexdumps: every hexdump goes, then the oldest
	 * log (.5), half of whose size is needed; no more.
	 */
	hexbytes = test_size(hex[2]) + test_size(hex[3]);
	used = test_du();
	size2 = c.max_disk - c.max_disk / 10 - (used - hexbytes) +
	    test_size(LOG_PATH ".5") / 2;
	memset(big, 'x', 1);		/* another sample */
	assert_int_equal(store_file(st, STORE_BINARY, NULL, 0, big, size2, 0), 0);
	store_flush(st);
	assert_false(test_exists(hex[2]));
	assert_false(test_exists(hex[3]));
	assert_false(test_exists(LOG_PATH ".5"));
	for (i = 1; i <= 4; i++) {
		snprintf(path, sizeof(path), LOG_PATH ".%d", i);
		if (!test_exists(path))
			fail_msg("%s went, more than was needed", path);
	}
	assert_true(test_exists(LOG_PATH));
	assert_int_equal(test_count("binaries", NULL), 2);
	free(big);
	store_close(st);
}

static void
test_ecs_format(void **state)
{
	struct config	 c;
	struct store	*st;
	struct event_buf ev;
	json_t		*lines[4], *o;
	sqlite3		*db;
	sqlite3_stmt	*s;
	size_t		 n, len;

	test_conf(&c);
	c.json_format = CONFIG_FORMAT_ECS;
	st = store_open(&c);
	assert_non_null(st);
	event_begin(&ev, "sundew.exploit.detected");
	event_fields(&ev, test_ctx, strlen(test_ctx));
	event_str(&ev, "vuln", "MS04-011");
	len = event_end(&ev);
	store_event(st, ev.buf, len, 0);
	store_close(st);

	n = test_lines(LOG_PATH, lines, 4);
	assert_int_equal(n, 1);
	o = lines[0];
	assert_int_equal(strlen(test_str(o, "@timestamp")), 27);
	assert_null(json_object_get(o, "timestamp"));
	assert_string_equal(test_str(json_object_get(o, "event"), "action"),
	    "sundew.exploit.detected");
	assert_string_equal(test_str(json_object_get(o, "event"), "kind"),
	    "event");
	assert_string_equal(test_str(json_object_get(o, "source"), "ip"),
	    "127.0.0.2");
	assert_int_equal(test_int(json_object_get(o, "source"), "port"),
	    40000);
	assert_int_equal(test_int(json_object_get(o, "destination"), "port"),
	    445);
	assert_string_equal(test_str(json_object_get(o, "network"),
	    "protocol"), "smb");
	assert_string_equal(test_str(json_object_get(o, "url"), "original"),
	    "http://127.0.0.2/a.exe");
	assert_string_equal(test_str(json_object_get(o, "observer"), "name"),
	    "t1");
	assert_string_equal(test_str(json_object_get(o, "sundew"), "vuln"),
	    "MS04-011");
	assert_string_equal(test_str(json_object_get(o, "ecs"), "version"),
	    "8.11");
	test_lines_free(lines, n);

	/* SQLite keeps the flat event. */
	assert_int_equal(sqlite3_open(DB_PATH, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT eventid, src_ip, "
	    "json_extract(data, '$.vuln') FROM events", -1, &s, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal(sqlite3_column_text(s, 0),
	    "sundew.exploit.detected");
	assert_string_equal(sqlite3_column_text(s, 1), "127.0.0.2");
	assert_string_equal(sqlite3_column_text(s, 2), "MS04-011");
	sqlite3_finalize(s);
	sqlite3_close(db);
}

static void
test_ecs_file_hashes(void **state)
{
	struct config	 c;
	struct store	*st;
	json_t		*lines[8], *file;
	size_t		 n;

	test_conf(&c);
	c.json_format = CONFIG_FORMAT_ECS;
	st = store_open(&c);
	assert_non_null(st);
	assert_int_equal(store_file(st, STORE_BINARY, test_ctx,
	    strlen(test_ctx), (const uint8_t *)"abc", 3, 0), 0);
	store_close(st);
	n = test_lines(LOG_PATH, lines, 8);
	assert_int_equal(n, 1);
	file = json_object_get(lines[0], "file");
	assert_string_equal(test_str(json_object_get(file, "hash"),
	    "sha256"), sha256_abc);
	assert_int_equal(test_int(file, "size"), 3);
	assert_true(json_is_false(json_object_get(json_object_get(lines[0],
	    "sundew"), "duplicate")));
	test_lines_free(lines, n);
}

static void
test_open_fails_unwritable(void **state)
{
	struct config	 c;
	int		 fd;

	/* binaries exists but is no directory: nothing can be stored. */
	fd = open("binaries", O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	test_conf(&c);
	assert_null(store_open(&c));

	/* A path out of the data directory is refused. */
	assert_int_equal(unlink("binaries"), 0);
	test_conf(&c);
	c.sqlite_path = (char *)"../escape.sqlite";
	assert_null(store_open(&c));
	assert_false(test_exists("../escape.sqlite"));
}

/* Session events with given ids, as a sensor's ring hands them over. */
static void
test_event_id(struct store *st, const char *eventid, uint64_t id,
    const char *ctx)
{
	struct event_buf	ev;
	size_t			len;

	event_begin_id(&ev, eventid, id);
	event_fields(&ev, ctx, strlen(ctx));
	len = event_end(&ev);
	store_event(st, ev.buf, len, id);
}

static const char test_open_ctx[] = "\"session\":\"00000000000000bb\","
    "\"src_ip\":\"127.0.0.7\",\"src_port\":4000,\"dst_ip\":\"127.0.0.1\","
    "\"dst_port\":445,\"transport\":\"tcp\",\"service\":\"smb\"";

/*
 * A store killed after writing a batch but before committing its ring
 * reads the batch again: SQLite keeps each event once (by its id), the
 * folded open included; the JSON log may repeat the lines, ids and all.
 */
static void
test_replayed_events_kept_once(void **state)
{
	static const uint64_t	 ids[] = { 0x40000040, 0x40000080, 0x400000c0 };
	static const char *const names[] = { "sundew.connection.open",
	    "sundew.request", "sundew.connection.close" };
	struct config		 c;
	struct store		*st;
	json_t			*lines[16];
	sqlite3			*db;
	char			 t[512];
	size_t			 n, i, round;

	test_conf(&c);
	for (round = 0; round < 2; round++) {
		st = store_open(&c);
		assert_non_null(st);
		for (i = 0; i < 3; i++)
			test_event_id(st, names[i], ids[i], test_open_ctx);
		if (round == 1)
			test_event_id(st, "sundew.request", 0x40000100,
			    test_open_ctx);
		assert_int_equal(store_flush(st), 0);
		store_close(st);
	}
	n = test_lines(LOG_PATH, lines, 16);
	assert_int_equal(n, 7);
	assert_string_equal(test_str(lines[0], "id"), "0000000040000040");
	assert_string_equal(test_str(lines[3], "id"), "0000000040000040");
	test_lines_free(lines, n);
	assert_int_equal(sqlite3_open_v2(DB_PATH, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	test_sql_text(db, "SELECT group_concat(eventid || ' ' ||"
	    " json_extract(data, '$.id') || ' ' || src_ip, ', ') FROM"
	    " (SELECT * FROM events ORDER BY id)", t, sizeof(t));
	assert_string_equal(t, "sundew.connection.open 0000000040000040 "
	    "127.0.0.7, sundew.request 0000000040000080 127.0.0.7, "
	    "sundew.connection.close 00000000400000c0 127.0.0.7, "
	    "sundew.request 0000000040000100 127.0.0.7");
	/* The open is the sessions row, not a row of its own. */
	test_sql_text(db, "SELECT count(*) FROM event_log", t, sizeof(t));
	assert_string_equal(t, "3");
	sqlite3_close(db);
}

/*
 * A batch of 100 events goes into event_log several rows to an INSERT:
 * each row whole and in its place, the malformed and the crowded (more
 * members than the store takes apart) among them, one seen twice kept
 * once, and a commit of fewer rows than a statement takes goes in too.
 */
static void
test_sqlite_many_rows(void **state)
{
	struct config		 c;
	struct store		*st;
	struct event_buf	 ev;
	sqlite3			*db;
	sqlite3_stmt		*s;
	char			 ctx[256], dup[EVENT_MAX];
	const char		*data;
	size_t			 len, duplen = 0;
	int			 i, k, rows = 0;

	test_conf(&c);
	st = store_open(&c);
	assert_non_null(st);
	for (i = 1; i <= 100; i++) {
		if (i == 40) {
			store_event(st, "not json", 8, (uint64_t)i * 64);
			continue;
		}
		snprintf(ctx, sizeof(ctx), "\"session\":\"%016x\","
		    "\"src_ip\":\"127.0.0.%d\",\"src_port\":%d,"
		    "\"dst_ip\":\"127.0.0.1\",\"dst_port\":445,"
		    "\"transport\":\"tcp\",\"service\":\"smb\"", i / 8,
		    2 + i / 8, 1000 + i / 8);
		event_begin_id(&ev, "sundew.request", (uint64_t)i * 64);
		event_fields(&ev, ctx, strlen(ctx));
		event_int(&ev, "seq", i);
		for (k = 0; i == 70 && k < 70; k++)
			event_int(&ev, "k", k);
		len = event_end(&ev);
		store_event(st, ev.buf, len, (uint64_t)i * 64);
		if (i == 50) {
			memcpy(dup, ev.buf, len);
			duplen = len;
		}
		if (i == 51)	/* the 50th again */
			store_event(st, dup, duplen, 50 * 64);
	}
	assert_int_equal(store_flush(st), 0);
	for (i = 101; i <= 103; i++)
		test_event_id(st, "sundew.connection.close", (uint64_t)i * 64,
		    test_open_ctx);
	store_close(st);

	assert_int_equal(sqlite3_open_v2(DB_PATH, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT id, eventid, "
	    "json_extract(data, '$.seq'), src_port, data FROM events "
	    "ORDER BY id", -1, &s, NULL), SQLITE_OK);
	while (sqlite3_step(s) == SQLITE_ROW) {
		i = ++rows;
		assert_int_equal(sqlite3_column_int64(s, 0), i * 64);
		data = (const char *)sqlite3_column_text(s, 4);
		if (i == 40) {
			assert_int_equal(sqlite3_column_type(s, 1),
			    SQLITE_NULL);
			assert_non_null(strstr(data,
			    "\"malformed\":\"not json\""));
			continue;
		}
		assert_string_equal(sqlite3_column_text(s, 1), i <= 100 ?
		    "sundew.request" : "sundew.connection.close");
		if (i > 100)
			continue;
		assert_int_equal(sqlite3_column_int(s, 2), i);
		assert_int_equal(sqlite3_column_int(s, 3), 1000 + i / 8);
		/* The crowded event keeps every member, the last among them. */
		assert_true((strstr(data, "\"k\":69") != NULL) == (i == 70));
	}
	sqlite3_finalize(s);
	assert_int_equal(rows, 103);
	sqlite3_close(db);
}

/*
 * The disk refuses writes (here RLIMIT_FSIZE: EFBIG, as ENOSPC would):
 * the events wait, store_flush says so, a sundew.limit.hit says why; once
 * the disk takes them again both logs have every event, the same ones.
 */
static void
test_refused_disk_loses_nothing(void **state)
{
	struct config	 c;
	struct store	*st;
	struct rlimit	 rl, small = { 1, RLIM_INFINITY };
	json_t		*lines[64];
	sqlite3		*db;
	char		 t[64];
	size_t		 n, i;
	struct stat	 sb;

	signal(SIGXFSZ, SIG_IGN);
	test_conf(&c);
	st = store_open(&c);
	assert_non_null(st);
	test_event_id(st, "sundew.request", 0x80000000 + 64, test_open_ctx);
	assert_int_equal(store_flush(st), 0);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &rl), 0);
	small.rlim_max = rl.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	for (i = 2; i <= 11; i++)
		test_event_id(st, "sundew.request", 0x80000000 + i * 64,
		    test_open_ctx);
	assert_int_equal(store_flush(st), -1);
	assert_int_equal(store_flush(st), -1);	/* the same second: waits */
	assert_int_equal(stat(LOG_PATH, &sb), 0);
	assert_int_equal(test_lines(LOG_PATH, lines, 64), 1);
	test_lines_free(lines, 1);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
	sleep(1);
	assert_int_equal(store_flush(st), 0);
	store_close(st);

	n = test_lines(LOG_PATH, lines, 64);
	assert_int_equal(n, 12);
	for (i = 1; i < 11; i++)
		assert_int_equal(strtoull(test_str(lines[i], "id"), NULL, 16),
		    0x80000000 + (i + 1) * 64);
	assert_string_equal(test_str(lines[11], "eventid"),
	    "sundew.limit.hit");
	assert_string_equal(test_str(lines[11], "limit"), "disk");
	assert_string_equal(test_str(lines[11], "action"), "waiting");
	test_lines_free(lines, n);
	assert_int_equal(sqlite3_open_v2(DB_PATH, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	test_sql_text(db, "SELECT count(*) || ' ' || count(DISTINCT id) FROM"
	    " events", t, sizeof(t));
	assert_string_equal(t, "12 12");
	sqlite3_close(db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_events_reach_log_and_db,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_sqlite_sessions, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_replayed_events_kept_once,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_sqlite_many_rows, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_refused_disk_loses_nothing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_sqlite_migrates_v1, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_hostile_string_one_line,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation_by_size,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation_by_age,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_after_rename,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_half_line_repaired,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_binary_digests,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_elf_type,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_duplicate,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_download_complete_then_stored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_hexdump_and_tmp,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_written_then_renamed,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_ceiling_prunes_hexdumps,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_ceiling_prunes_rotated_logs, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_ceiling_prunes_hexdumps_before_logs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ecs_format,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_ecs_file_hashes,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_fails_unwritable,
		    setup, teardown),
	};

	log_init("test_store", 1, 0);
	event_set_sensor("t1");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
