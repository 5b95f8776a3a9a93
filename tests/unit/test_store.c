/*
 * The store's event back ends, as an operator sees them: what lands in
 * the JSON log (its formats, rotation, repair) and in SQLite, and that a
 * refused disk loses nothing.  The files are test_store_file.c's.  Each
 * test runs in a fresh temporary data directory.
 */
#include "store_harness.h"

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
		cmocka_unit_test_setup_teardown(test_sqlite_sessions,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_replayed_events_kept_once,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_sqlite_many_rows,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_disk_loses_nothing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_sqlite_migrates_v1,
		    setup, teardown),
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
		cmocka_unit_test_setup_teardown(test_ecs_format,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_fails_unwritable,
		    setup, teardown),
	};

	log_init("test_store", 1, 0);
	event_set_sensor("t1");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
