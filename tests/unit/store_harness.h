/*
 * What the store's tests share: a fresh temporary data directory a test
 * (setup, teardown), the configuration, session events as a sensor sends
 * them, and readers of the JSON log and of the database.  For
 * test_store.c and test_store_file.c.
 */
/* Each test uses some of the helpers below. */
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-const-variable"

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
