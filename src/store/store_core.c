/*
 * The store's public entry points and the disk ceiling.
 *
 * The store process calls store_open() as root inside the data directory,
 * before chroot(".") and the privilege drop; everything after that runs
 * unprivileged with paths relative to the data directory.  Events arrive
 * by the ten thousand a second, so store_event() only appends to memory
 * (and steps one prepared INSERT inside an open transaction); the disk is
 * touched once per store_flush().
 *
 * Disk use is counted in bytes of st_size: binaries/ and hexdumps/,
 * the JSON logs (log/sundew.json*) and the database with its -wal and
 * -shm.  The store is the only writer, so the counts follow its own
 * writes; store_tick() re-measures now and then to catch drift (an
 * operator deleting files, the database growing).
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "event.h"
#include "log.h"
#include "store_int.h"

/* A file the ceiling may delete: a hexdump or a rotated JSON log. */
struct store_victim {
	int64_t		 mtime_ns;
	uint64_t	 size;
	unsigned long	 n;		/* rotated log: its number */
	char		 name[72];	/* hexdump: <sha256>.bin */
};

struct store_victims {
	struct store_victim	*v;
	size_t			 len;
	size_t			 cap;
	uint64_t		 bytes;
};

int
store_buf_reserve(struct store_buf *b, size_t n)
{
	size_t	 ncap;
	char	*np;

	if (n > b->max || b->len > b->max - n)
		return -1;
	if (b->len + n <= b->cap)
		return 0;
	ncap = b->cap != 0 ? b->cap : 4096;
	while (ncap < b->len + n)
		ncap *= 2;
	if (ncap > b->max)
		ncap = b->max;
	if ((np = realloc(b->p, ncap)) == NULL)
		return -1;
	b->p = np;
	b->cap = ncap;
	return 0;
}

int
store_buf_add(struct store_buf *b, const void *p, size_t n)
{
	if (store_buf_reserve(b, n) == -1)
		return -1;
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

void
store_buf_free(struct store_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

time_t
store_mono(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

int
store_retry_due(time_t *failed)
{
	if (*failed != 0 && *failed == store_mono())
		return 0;
	*failed = 0;
	return 1;
}

int
store_warn_due(time_t *last, time_t now)
{
	if (*last != 0 && now - *last < STORE_WARN_EVERY)
		return 0;
	*last = now;
	return 1;
}

void
store_emit(struct store *st, struct event_buf *ev)
{
	size_t	len;

	len = event_end(ev);
	store_event(st, ev->buf, len, ev->id);
}

void
store_disk_refused(struct store *st, const char *what, int err,
    const char *msg)
{
	struct event_buf	ev;

	if (msg == NULL)
		msg = strerror(err);
	if (store_warn_due(&st->disk_warned, store_mono()))
		log_warnx("store: the disk refused %s: %s; the events wait in "
		    "memory and in the sensors' rings, tried again every "
		    "second", what, msg);
	if (st->disk_refused)
		return;
	st->disk_refused = 1;
	event_begin(&ev, "sundew.limit.hit");
	event_str(&ev, "limit", "disk");
	event_str(&ev, "action", "waiting");
	event_str(&ev, "output", what);
	event_str(&ev, "error", msg);
	store_emit(st, &ev);
}

void
store_own(struct store *st, const char *path)
{
	if (st->owner_uid < 0)
		return;
	/* Never through a link: the store may start as root. */
	if (lchown(path, (uid_t)st->owner_uid, (gid_t)st->owner_gid) == -1 &&
	    errno != ENOENT)
		log_warn("store: chown %s", path);
}

/*
 * Running as root (before the privilege drop), what store_open creates
 * takes the owner of the data directory, which the parent gave to the
 * unprivileged user: after the drop the store must still be able to
 * create temporary files, rotate logs and grow the database.
 */
static void
store_owner_init(struct store *st)
{
	struct stat	sb;

	st->owner_uid = st->owner_gid = -1;
	if (geteuid() != 0 || stat(".", &sb) == -1 || sb.st_uid == 0)
		return;
	st->owner_uid = (long)sb.st_uid;
	st->owner_gid = (long)sb.st_gid;
}

static const char *
store_cwd(char *buf, size_t len)
{
	if (getcwd(buf, len) == NULL)
		snprintf(buf, len, "the data directory");
	return buf;
}

/* Copies a configured path after checking it stays in the directory. */
static int
store_path_set(char *dst, const char *what, const char *path)
{
	if (path == NULL || path[0] == '\0' || path[0] == '/' ||
	    strstr(path, "..") != NULL || strlen(path) >= STORE_PATH_MAX - 24) {
		log_warnx("store: %s \"%s\": must be a relative path inside "
		    "the data directory", what, path != NULL ? path : "");
		return -1;
	}
	snprintf(dst, STORE_PATH_MAX, "%s", path);
	return 0;
}

/* Creates one directory (or accepts an existing one); says why not. */
static int
store_mkdir(struct store *st, const char *path)
{
	struct stat	sb;
	char		cwd[256];

	if (mkdir(path, 0750) == 0) {
		store_own(st, path);
		return 0;
	}
	if (errno != EEXIST) {
		log_warn("store: mkdir %s in %s (the data directory must be "
		    "writable)", path, store_cwd(cwd, sizeof(cwd)));
		return -1;
	}
	if (stat(path, &sb) == -1) {
		log_warn("store: stat %s", path);
		return -1;
	}
	if (!S_ISDIR(sb.st_mode)) {
		log_warnx("store: %s in %s is not a directory; move it away",
		    path, store_cwd(cwd, sizeof(cwd)));
		return -1;
	}
	if (access(path, W_OK | X_OK) == -1) {
		log_warn("store: %s in %s is not writable", path,
		    store_cwd(cwd, sizeof(cwd)));
		return -1;
	}
	return 0;
}

/* mkdir -p of a relative path such as "log" or "logs/json". */
static int
store_mkdirs(struct store *st, const char *path)
{
	char	tmp[STORE_PATH_MAX], *p;

	if (strcmp(path, ".") == 0)
		return 0;
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (store_mkdir(st, tmp) == -1)
			return -1;
		*p = '/';
	}
	return store_mkdir(st, tmp);
}

static int
store_conf(struct store *st, const struct config *conf)
{
	const char	*slash;

	st->json_enabled = conf->json_enabled;
	st->json_ecs = conf->json_format == CONFIG_FORMAT_ECS;
	st->json_max_size = conf->json_max_size;
	st->json_max_age = conf->json_max_age;
	st->json_keep = conf->json_keep;
	st->sqlite_enabled = conf->sqlite_enabled;
	st->max_disk = conf->max_disk;
	st->json_fd = -1;
	st->json_out.max = STORE_JSON_MAX;
	st->sql_out.max = STORE_SQL_MAX;

	if (conf->json_path != NULL || st->json_enabled) {
		if (store_path_set(st->json_path, "output.json.path",
		    conf->json_path) == -1)
			return -1;
		if ((slash = strrchr(st->json_path, '/')) == NULL) {
			snprintf(st->json_dir, sizeof(st->json_dir), ".");
			snprintf(st->json_base, sizeof(st->json_base), "%s",
			    st->json_path);
		} else {
			snprintf(st->json_dir, sizeof(st->json_dir), "%.*s",
			    (int)(slash - st->json_path), st->json_path);
			snprintf(st->json_base, sizeof(st->json_base), "%s",
			    slash + 1);
		}
		if (st->json_base[0] == '\0') {
			log_warnx("store: output.json.path \"%s\" names no "
			    "file", st->json_path);
			return -1;
		}
	}
	if (st->sqlite_enabled && store_path_set(st->sqlite_path,
	    "output.sqlite.path", conf->sqlite_path) == -1)
		return -1;
	return 0;
}

/* Sum of st_size of the regular files in dir whose name has prefix. */
static uint64_t
store_disk_dir(const char *dir, const char *prefix)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 sb;
	uint64_t	 sum = 0;
	size_t		 plen = prefix != NULL ? strlen(prefix) : 0;

	if ((d = opendir(dir)) == NULL) {
		if (errno != ENOENT)
			log_warn("store: opendir %s", dir);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		if (plen != 0 && strncmp(de->d_name, prefix, plen) != 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &sb,
		    AT_SYMLINK_NOFOLLOW) == -1 || !S_ISREG(sb.st_mode))
			continue;
		sum += (uint64_t)sb.st_size;
	}
	closedir(d);
	return sum;
}

static uint64_t
store_disk_db(const struct store *st)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	char		path[STORE_PATH_MAX + 16];
	struct stat	sb;
	uint64_t	sum = 0;
	size_t		i;

	if (!st->sqlite_enabled)
		return 0;
	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", st->sqlite_path, sfx[i]);
		if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
			sum += (uint64_t)sb.st_size;
	}
	return sum;
}

/* Re-measures the logs and the database; with full, the files too. */
static void
store_disk_measure(struct store *st, int full, time_t now)
{
	if (full) {
		st->disk_files = store_disk_dir(STORE_BIN_DIR, NULL) +
		    store_disk_dir(STORE_HEX_DIR, NULL);
		st->disk_full = now;
	}
	st->disk_logs = st->json_base[0] != '\0' ?
	    store_disk_dir(st->json_dir, st->json_base) : 0;
	st->disk_db = store_disk_db(st);
	st->disk_light = now;
}

uint64_t
store_disk_used(const struct store *st)
{
	return st->disk_files + st->disk_logs + st->disk_db;
}

static int
store_victim_add(struct store_victims *vs, const struct stat *sb,
    const char *name, unsigned long n)
{
	struct store_victim	*v;
	size_t			 ncap;

	if (vs->len == vs->cap) {
		ncap = vs->cap != 0 ? vs->cap * 2 : 256;
		if ((v = reallocarray(vs->v, ncap, sizeof(*v))) == NULL) {
			log_warn("store: disk ceiling: reallocarray");
			return -1;
		}
		vs->v = v;
		vs->cap = ncap;
	}
	v = &vs->v[vs->len++];
	v->mtime_ns = (int64_t)sb->st_mtim.tv_sec * 1000000000 +
	    sb->st_mtim.tv_nsec;
	v->size = (uint64_t)sb->st_size;
	v->n = n;
	snprintf(v->name, sizeof(v->name), "%.*s", (int)sizeof(v->name) - 1,
	    name);
	vs->bytes += v->size;
	return 0;
}

/* Only names the store writes: 64 lowercase hex digits and ".bin". */
static int
store_hexdump_name(const char *name)
{
	size_t	i;

	for (i = 0; i < 64; i++)
		if (!((name[i] >= '0' && name[i] <= '9') ||
		    (name[i] >= 'a' && name[i] <= 'f')))
			return 0;
	return strcmp(name + 64, ".bin") == 0;
}

/* Lists the hexdumps (logs == 0) or the rotated JSON logs (logs == 1). */
static void
store_victims_list(struct store *st, struct store_victims *vs, int logs)
{
	const char	*dir = logs ? st->json_dir : STORE_HEX_DIR;
	DIR		*d;
	struct dirent	*de;
	struct stat	 sb;
	unsigned long	 n = 0;

	if (logs && st->json_base[0] == '\0')
		return;
	if ((d = opendir(dir)) == NULL) {
		log_warn("store: disk ceiling: opendir %s", dir);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (logs ? (n = store_json_rotated(st, de->d_name)) == 0 :
		    !store_hexdump_name(de->d_name))
			continue;
		if (fstatat(dirfd(d), de->d_name, &sb,
		    AT_SYMLINK_NOFOLLOW) == -1 || !S_ISREG(sb.st_mode))
			continue;
		if (store_victim_add(vs, &sb, de->d_name, n) == -1)
			break;
	}
	closedir(d);
}

/* Oldest first; among rotated logs of one mtime, the higher number. */
static int
store_victim_cmp(const void *a, const void *b)
{
	const struct store_victim	*x = a, *y = b;

	if (x->mtime_ns != y->mtime_ns)
		return x->mtime_ns < y->mtime_ns ? -1 : 1;
	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Deletes victims, oldest first, while used + need is above target. */
static void
store_victims_prune(struct store *st, struct store_victims *vs, int logs,
    uint64_t need, uint64_t target, uint64_t *files, uint64_t *bytes)
{
	char		 path[STORE_PATH_MAX * 2 + 32];
	uint64_t	*count = logs ? &st->disk_logs : &st->disk_files;
	size_t		 i;

	if (vs->len == 0)
		return;
	qsort(vs->v, vs->len, sizeof(vs->v[0]), store_victim_cmp);
	for (i = 0; i < vs->len && store_disk_used(st) + need > target; i++) {
		if (logs)
			snprintf(path, sizeof(path), "%s/%s.%lu", st->json_dir,
			    st->json_base, vs->v[i].n);
		else
			snprintf(path, sizeof(path), "%s/%s", STORE_HEX_DIR,
			    vs->v[i].name);
		if (unlink(path) == -1) {
			if (errno != ENOENT)
				log_warn("store: disk ceiling: unlink %s",
				    path);
			continue;
		}
		*count -= vs->v[i].size < *count ? vs->v[i].size : *count;
		*files += 1;
		*bytes += vs->v[i].size;
	}
	/* Hexdumps went: what the store knew to be on disk may not be. */
	if (!logs && i > 0)
		store_file_forget();
}

/*
 * Brings used + need down to 90% of the ceiling: the oldest hexdumps
 * first, then the oldest rotated logs, then the live log (rotated, then
 * deleted: SQLite still has its events); samples and the database are
 * never deleted.  With must_fit, nothing is deleted unless the deletions
 * would let need fit under the ceiling.
 */
static void
store_disk_prune(struct store *st, uint64_t need, int must_fit)
{
	struct store_victims	 hex = { 0 }, logs = { 0 };
	struct event_buf	 ev;
	uint64_t		 target, nhex = 0, nlogs = 0, bytes = 0, keep;

	target = st->max_disk - st->max_disk / 10;
	store_victims_list(st, &hex, 0);
	store_victims_list(st, &logs, 1);
	/* What stays whatever is deleted: samples, database. */
	keep = store_disk_used(st);
	keep = keep > hex.bytes + logs.bytes + st->json_size ?
	    keep - hex.bytes - logs.bytes - st->json_size : 0;
	if (must_fit && keep + need > st->max_disk)
		goto done;
	store_victims_prune(st, &hex, 0, need, target, &nhex, &bytes);
	if (store_disk_used(st) + need > target)
		store_victims_prune(st, &logs, 1, need, target, &nlogs,
		    &bytes);
	/* Still over: the live log becomes a rotated one, and goes too. */
	if (store_disk_used(st) + need > target &&
	    store_json_rotate_live(st) == 0) {
		free(logs.v);
		memset(&logs, 0, sizeof(logs));
		store_victims_list(st, &logs, 1);
		store_victims_prune(st, &logs, 1, need, target, &nlogs,
		    &bytes);
	}
	if (nhex + nlogs == 0)
		goto done;
	log_info("store: disk ceiling of %llu bytes: deleted the %llu oldest "
	    "hexdumps and %llu oldest rotated logs, %llu bytes freed",
	    (unsigned long long)st->max_disk, (unsigned long long)nhex,
	    (unsigned long long)nlogs, (unsigned long long)bytes);
	event_begin(&ev, "sundew.limit.hit");
	event_str(&ev, "limit", "disk");
	event_str(&ev, "action", "pruned");
	event_int(&ev, "files", (int64_t)(nhex + nlogs));
	event_int(&ev, "bytes", (int64_t)bytes);
	store_emit(st, &ev);
done:
	free(hex.v);
	free(logs.v);
}

int
store_disk_reserve(struct store *st, uint64_t need)
{
	if (st->max_disk == 0)
		return 0;
	if (need > st->max_disk)
		return -1;
	if (store_disk_used(st) <= st->max_disk - need)
		return 0;
	store_disk_prune(st, need, 1);
	return store_disk_used(st) <= st->max_disk - need ? 0 : -1;
}

static void
store_free(struct store *st)
{
	store_json_close(st);
	store_sqlite_close(st);
	store_file_close(st);
	store_buf_free(&st->sql_out);
	free(st);
}

struct store *
store_open(const struct config *conf)
{
	struct store	*st;

	if ((st = calloc(1, sizeof(*st))) == NULL) {
		log_warn("store: calloc");
		return NULL;
	}
	if (store_conf(st, conf) == -1) {
		free(st);
		return NULL;
	}
	store_owner_init(st);
	if (store_mkdir(st, STORE_BIN_DIR) == -1 ||
	    store_mkdir(st, STORE_HEX_DIR) == -1 ||
	    (st->json_enabled && store_mkdirs(st, st->json_dir) == -1) ||
	    store_file_open(st) == -1 ||
	    (st->json_enabled && store_json_open(st) == -1) ||
	    (st->sqlite_enabled && store_sqlite_open(st) == -1)) {
		store_free(st);
		return NULL;
	}
	store_disk_measure(st, 1, store_mono());
	if (st->max_disk != 0 && store_disk_used(st) > st->max_disk)
		log_warnx("store: the data directory holds %llu bytes, over "
		    "the store.max_disk ceiling of %llu",
		    (unsigned long long)store_disk_used(st),
		    (unsigned long long)st->max_disk);
	return st;
}

void
store_event(struct store *st, const char *json, size_t len, uint64_t id)
{
	char	fixed[EVENT_MAX];
	size_t	i;

	if (len == 0)
		return;
	/*
	 * A raw line break would split the event in two lines; the builder
	 * never makes one, so this is a bug elsewhere: keep the event, as
	 * one line.
	 */
	if (memchr(json, '\n', len) != NULL ||
	    memchr(json, '\r', len) != NULL) {
		if (store_warn_due(&st->bad_warned, store_mono()))
			log_warnx("store: an event with a line break (a bug): "
			    "made one line");
		if (len > sizeof(fixed))
			len = sizeof(fixed);
		for (i = 0; i < len; i++)
			fixed[i] = json[i] == '\n' || json[i] == '\r' ?
			    ' ' : json[i];
		json = fixed;
	}
	if (st->json_enabled)
		store_json_event(st, json, len);
	if (st->sqlite_enabled)
		store_sql_queue(st, STORE_SQL_EVENT,
		    id != 0 ? id : event_next_id(), json, len);
}

int
store_sql_queue(struct store *st, uint32_t kind, uint64_t id, const void *p,
    size_t len)
{
	struct store_sql_rec	rec;

	memset(&rec, 0, sizeof(rec));
	rec.id = id;
	rec.len = (uint32_t)len;
	rec.kind = kind;
	if (len > INT32_MAX / 2 ||
	    store_buf_reserve(&st->sql_out, sizeof(rec) + len + 7) == -1) {
		st->sql_lost++;
		if (store_warn_due(&st->sql_warned, store_mono()))
			log_warnx("store: sqlite %s: %llu events lost so far, "
			    "%zu bytes wait for the disk", st->sqlite_path,
			    (unsigned long long)st->sql_lost, st->sql_out.len);
		return -1;
	}
	store_buf_add(&st->sql_out, &rec, sizeof(rec));
	store_buf_add(&st->sql_out, p, len);
	/* Records stay aligned. */
	st->sql_out.len = (st->sql_out.len + 7) & ~(size_t)7;
	return 0;
}

/*
 * Room under the ceiling for what waits to be written: the JSON lines,
 * and for SQLite as much again (rows, indexes, WAL).  When even deleting
 * all that may go leaves too little, the events wait (in memory, then in
 * the rings: the sensors stop accepting) rather than pass the ceiling,
 * tried again once a second.
 */
static int
store_ceiling(struct store *st)
{
	uint64_t	need = st->json_out.len + (uint64_t)st->sql_out.len;
	char		msg[200];

	if (st->max_disk == 0 || need == 0)
		return 0;
	if (!store_retry_due(&st->ceiling_failed))
		return -1;
	if (store_disk_reserve(st, need) == 0)
		return 0;
	st->ceiling_failed = store_mono();
	snprintf(msg, sizeof(msg), "store.max_disk of %llu bytes reached: "
	    "%llu in use, %llu to write, and deleting what may go would not "
	    "make room", (unsigned long long)st->max_disk,
	    (unsigned long long)store_disk_used(st), (unsigned long long)need);
	store_disk_refused(st, "the events", 0, msg);
	return -1;
}

size_t
store_batch_max(const struct store *st)
{
	uint64_t	max = STORE_BATCH_MAX;

	if (st->max_disk != 0 && st->max_disk / 32 < max)
		max = st->max_disk / 32 < 65536 ? 65536 : st->max_disk / 32;
	return (size_t)max;
}

int
store_flush(struct store *st)
{
	int	rc = 0;

	if (store_ceiling(st) == -1)
		return -1;
	if (st->json_enabled && store_json_flush(st) == -1)
		rc = -1;
	if (st->sqlite_enabled && (st->sql_out.len > 0 ||
	    store_sqlite_pending())) {
		if (!store_retry_due(&st->sql_failed))
			return -1;
		if (store_sqlite_write(st, &st->sql_out) == -1) {
			st->sql_failed = store_mono();
			return -1;
		}
		st->sql_out.len = 0;
		if (st->max_disk != 0)
			st->disk_db = store_disk_db(st);
	}
	if (rc == 0 && st->disk_refused) {
		st->disk_refused = 0;
		log_info("store: the disk takes the events again");
	}
	return rc;
}

void
store_reopen(struct store *st)
{
	if (st->json_enabled)
		store_json_reopen(st);
}

void
store_tick(struct store *st)
{
	time_t	now = store_mono();

	if (st->json_enabled)
		store_json_tick(st, time(NULL));
	if (st->max_disk != 0) {
		if (now - st->disk_full >= STORE_DISK_FULL)
			store_disk_measure(st, 1, now);
		else if (now - st->disk_light >= STORE_DISK_LIGHT)
			store_disk_measure(st, 0, now);
		/* The logs and the database grow past it on their own. */
		if (store_disk_used(st) > st->max_disk)
			store_disk_prune(st, 0, 0);
		if (store_disk_used(st) > st->max_disk &&
		    store_warn_due(&st->disk_warned, now))
			log_warnx("store: %llu bytes in the data directory, "
			    "over the store.max_disk ceiling of %llu, and "
			    "nothing left that may be deleted: samples, the "
			    "live log and the database stay",
			    (unsigned long long)store_disk_used(st),
			    (unsigned long long)st->max_disk);
	}
	if (st->json_out.len != 0 || st->sql_out.len != 0)
		store_flush(st);
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	if (store_flush(st) == -1)
		log_warnx("store: closing with events the disk refused");
	store_free(st);
}
