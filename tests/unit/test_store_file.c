/*
 * The store's files, as an operator sees them: binaries/ named by their
 * hash with their digests in the log and the database, hexdumps/, the
 * temporary names a file is written under, and what the disk ceiling
 * deletes first.  Each test runs in a fresh temporary data directory.
 */
#include "store_harness.h"

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
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
		cmocka_unit_test_setup_teardown(test_ecs_file_hashes,
		    setup, teardown),
	};

	log_init("test_store_file", 1, 0);
	event_set_sensor("t1");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
