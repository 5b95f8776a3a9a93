/*
 * The JSON event log: one event a line in log/sundew.json, appended with
 * one write(2) per flush on an O_APPEND descriptor.  A line is never
 * written in part: a write that fails half way is cut back with
 * ftruncate() and the lines are tried again at the next flush.
 *
 * Rotation: by size (before a line would take the file past
 * json_max_size; a single longer line goes alone into a fresh file) and
 * by age (store_tick, json_max_age after the file's first line).
 * sundew.json -> sundew.json.1 -> .2 ... -> .json_keep, the oldest
 * removed.  With output.json.format: ecs the flat events become Elastic
 * Common Schema objects here; the database keeps the flat event.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "event.h"
#include "log.h"
#include "store_int.h"

#define STORE_ECS_VERSION	"8.11"
#define STORE_ECS_DUMP	(JSON_ENCODE_ANY | JSON_COMPACT | JSON_ENSURE_ASCII)

/*
 * The ECS fields in output order, grouped so that each object is written
 * once.  Each takes the value of the flat key, or a constant (JSON text);
 * the entry with neither stands for every key the table does not name,
 * which goes under sundew.<key>.
 */
static const struct store_ecs_field {
	const char	*path;
	const char	*flat;
	const char	*value;
} store_ecs_map[] = {
	{ "@timestamp",		"timestamp",	NULL },
	{ "event.action",	"eventid",	NULL },
	{ "event.id",		"id",		NULL },
	{ "event.dataset",	NULL,		"\"sundew.events\"" },
	{ "event.kind",		NULL,		"\"event\"" },
	{ "observer.name",	"sensor",	NULL },
	{ "source.ip",		"src_ip",	NULL },
	{ "source.port",	"src_port",	NULL },
	{ "destination.ip",	"dst_ip",	NULL },
	{ "destination.port",	"dst_port",	NULL },
	{ "network.transport",	"transport",	NULL },
	{ "network.protocol",	"service",	NULL },
	{ "url.original",	"url",		NULL },
	{ "file.size",		"size",		NULL },
	{ "file.hash.md5",	"md5",		NULL },
	{ "file.hash.sha1",	"sha1",		NULL },
	{ "file.hash.sha256",	"sha256",	NULL },
	{ "file.hash.sha512",	"sha512",	NULL },
	/*
	 * ECS's event.id must name one event, and a session spans many;
	 * ECS has no field for a network session, so it stays ours.
	 */
	{ "sundew.session",	"session",	NULL },
	/*
	 * ECS's file.type is file/dir/symlink and file.mime_type a MIME
	 * type; libmagic's description fits neither.
	 */
	{ "sundew.filetype",	"filetype",	NULL },
	{ "sundew",		NULL,		NULL },
	{ "ecs.version",	NULL,		"\"" STORE_ECS_VERSION "\"" },
};
#define STORE_ECS_NFIELDS \
	(sizeof(store_ecs_map) / sizeof(store_ecs_map[0]))
#define STORE_ECS_DEPTH		3	/* objects below the root: file.hash */

/* Writes nested objects into the line buffer as the fields come. */
struct store_ecs_out {
	struct store_buf	*b;
	const char		*open[STORE_ECS_DEPTH];
	size_t			 openlen[STORE_ECS_DEPTH];
	int			 depth;
	int			 comma[STORE_ECS_DEPTH + 1];
	int			 err;
};

/* When the live file got its first line: its birth time if known. */
static time_t
store_json_born(int fd, const struct stat *sb)
{
	struct statx	stx;

	if (sb->st_size == 0)
		return 0;
	if (statx(fd, "", AT_EMPTY_PATH, STATX_BTIME, &stx) == 0 &&
	    (stx.stx_mask & STATX_BTIME) != 0)
		return (time_t)stx.stx_btime.tv_sec;
	return sb->st_mtime;
}

static int
store_json_open_fd(struct store *st)
{
	struct stat	sb;
	int		fd;

	/* Read too, for store_json_repair. */
	fd = open(st->json_path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW,
	    0640);
	if (fd == -1) {
		/* Tried again at each flush: say it once a minute. */
		if (store_warn_due(&st->json_warned, store_mono()))
			log_warn("store: open %s", st->json_path);
		return -1;
	}
	if (fstat(fd, &sb) == -1) {
		log_warn("store: fstat %s", st->json_path);
		close(fd);
		return -1;
	}
	if (!S_ISREG(sb.st_mode)) {
		log_warnx("store: %s is not a regular file", st->json_path);
		close(fd);
		return -1;
	}
	st->json_fd = fd;
	st->json_size = (uint64_t)sb.st_size;
	st->json_born = store_json_born(fd, &sb);
	return 0;
}

/*
 * A store killed during a write (or a crash of the machine) may have left
 * a half line at the end of the log; the next line would be glued to it.
 * Cuts the log back to its last whole line.
 */
static void
store_json_repair(struct store *st)
{
	char		 buf[4096], *nl;
	uint64_t	 end = st->json_size, scanned = 0;
	size_t		 n;
	ssize_t		 r;

	if (end == 0)
		return;
	while (end > 0 && scanned < STORE_JSON_REPAIR) {
		n = end < sizeof(buf) ? (size_t)end : sizeof(buf);
		r = pread(st->json_fd, buf, n, (off_t)(end - n));
		if (r != (ssize_t)n) {
			log_warn("store: pread %s", st->json_path);
			return;
		}
		if (end == st->json_size && buf[n - 1] == '\n')
			return;
		if ((nl = memrchr(buf, '\n', n)) != NULL) {
			end -= n - (size_t)(nl - buf) - 1;
			break;
		}
		end -= n;
		scanned += n;
	}
	if (scanned >= STORE_JSON_REPAIR) {
		/* No line end in sight: end the garbage rather than cut it. */
		if (write(st->json_fd, "\n", 1) == 1)
			st->json_size++;
		return;
	}
	if (ftruncate(st->json_fd, (off_t)end) == -1) {
		log_warn("store: ftruncate %s", st->json_path);
		return;
	}
	log_warnx("store: %s ended in a half-written line (%llu bytes), "
	    "removed", st->json_path,
	    (unsigned long long)(st->json_size - end));
	st->json_size = end;
}

int
store_json_open(struct store *st)
{
	if (store_json_open_fd(st) == -1)
		return -1;
	store_json_repair(st);
	store_own(st, st->json_path);
	return 0;
}

unsigned long
store_json_rotated(const struct store *st, const char *name)
{
	size_t		blen = strlen(st->json_base), i;
	unsigned long	n = 0;

	if (blen == 0 || strncmp(name, st->json_base, blen) != 0 ||
	    name[blen] != '.' || name[blen + 1] < '1' || name[blen + 1] > '9')
		return 0;
	for (i = blen + 1; name[i] != '\0'; i++) {
		if (name[i] < '0' || name[i] > '9' || i - blen > 9)
			return 0;
		n = n * 10 + (unsigned long)(name[i] - '0');
	}
	return n;
}

/*
 * Renames the live log to .1 (and .N to .N+1, dropping .json_keep) and
 * opens a fresh one.  Returns 0 if the live file is now empty.
 */
static int
store_json_rotate(struct store *st)
{
	char		from[STORE_PATH_MAX + 24], to[STORE_PATH_MAX + 24];
	struct stat	sb;
	unsigned long	i;

	close(st->json_fd);
	st->json_fd = -1;
	if (st->json_keep == 0)
		snprintf(to, sizeof(to), "%s", st->json_path);
	else
		snprintf(to, sizeof(to), "%s.%u", st->json_path,
		    st->json_keep);
	if (stat(to, &sb) == 0 && unlink(to) == 0)
		st->disk_logs -= (uint64_t)sb.st_size < st->disk_logs ?
		    (uint64_t)sb.st_size : st->disk_logs;
	else if (errno != ENOENT)
		log_warn("store: rotation: unlink %s", to);
	for (i = st->json_keep; i > 0; i--) {
		if (i == 1)
			snprintf(from, sizeof(from), "%s", st->json_path);
		else
			snprintf(from, sizeof(from), "%s.%lu", st->json_path,
			    i - 1);
		snprintf(to, sizeof(to), "%s.%lu", st->json_path, i);
		if (rename(from, to) == -1 && errno != ENOENT)
			log_warn("store: rotation: rename %s to %s", from, to);
	}
	if (store_json_open_fd(st) == -1)
		return -1;
	log_debug("store: rotated %s", st->json_path);
	return st->json_size == 0 ? 0 : -1;
}

int
store_json_rotate_live(struct store *st)
{
	if (!st->json_enabled || st->json_fd == -1 || st->json_size == 0)
		return -1;
	return store_json_rotate(st);
}

/* Writes n bytes of whole lines, all or none. */
static int
store_json_write(struct store *st, const char *p, size_t n)
{
	size_t	done = 0;
	ssize_t	r;
	int	err;

	while (done < n) {
		r = write(st->json_fd, p + done, n - done);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			goto fail;
		done += (size_t)r;
	}
	if (st->json_size == 0 && st->json_born == 0)
		st->json_born = time(NULL);
	st->json_size += n;
	st->disk_logs += n;
	return 0;
fail:
	err = errno;
	store_disk_refused(st, "the JSON log", err, NULL);
	/* Cut back what went in, so that no half line stays. */
	if (done > 0 && ftruncate(st->json_fd, (off_t)st->json_size) == -1)
		log_warn("store: ftruncate %s", st->json_path);
	return -1;
}

/* How many bytes of whole lines at p still fit in the live file. */
static size_t
store_json_fits(const struct store *st, const char *p, size_t len)
{
	uint64_t	 room;
	const char	*nl;

	if (st->json_max_size == 0)
		return len;
	room = st->json_size < st->json_max_size ?
	    st->json_max_size - st->json_size : 0;
	if (len <= room)
		return len;
	nl = room > 0 ? memrchr(p, '\n', (size_t)room) : NULL;
	return nl != NULL ? (size_t)(nl - p) + 1 : 0;
}

int
store_json_flush(struct store *st)
{
	struct store_buf	*b = &st->json_out;
	size_t			 off = 0, n;
	const char		*nl;
	int			 norotate = 0;

	if (b->len == 0)
		return 0;
	if (!store_retry_due(&st->json_failed))
		return -1;
	if (st->json_fd == -1 && store_json_open_fd(st) == -1) {
		st->json_failed = store_mono();
		return -1;
	}
	while (off < b->len) {
		n = store_json_fits(st, b->p + off, b->len - off);
		if (n == 0 && st->json_size > 0 && !norotate) {
			if (store_json_rotate(st) == -1)
				norotate = 1;
			if (st->json_fd == -1)
				break;
			continue;
		}
		if (n == 0) {
			/* A line longer than json_max_size goes alone. */
			nl = memchr(b->p + off, '\n', b->len - off);
			n = nl != NULL ? (size_t)(nl - (b->p + off)) + 1 :
			    b->len - off;
		}
		if (store_json_write(st, b->p + off, n) == -1) {
			st->json_failed = store_mono();
			break;
		}
		off += n;
	}
	memmove(b->p, b->p + off, b->len - off);
	b->len -= off;
	return b->len == 0 ? 0 : -1;
}

static void
store_ecs_add(struct store_ecs_out *o, const char *p, size_t n)
{
	if (!o->err && store_buf_add(o->b, p, n) == -1)
		o->err = 1;
}

/* Appends "key": with a comma if needed; the key is escaped. */
static void
store_ecs_key(struct store_ecs_out *o, const char *key, size_t keylen)
{
	char	esc[256];
	size_t	n;

	if (o->comma[o->depth])
		store_ecs_add(o, ",", 1);
	o->comma[o->depth] = 1;
	n = event_escape(esc, sizeof(esc), key, keylen, NULL);
	store_ecs_add(o, "\"", 1);
	store_ecs_add(o, esc, n);
	store_ecs_add(o, "\":", 2);
}

/*
 * Moves to the object named by the dotted parents (len bytes, 0: the
 * root), closing the objects it is not in and opening those it needs.
 */
static void
store_ecs_move(struct store_ecs_out *o, const char *parents, size_t len)
{
	const char	*comp[STORE_ECS_DEPTH], *p = parents, *dot;
	size_t		 clen[STORE_ECS_DEPTH];
	int		 n = 0, same = 0;

	while (len > 0 && n < STORE_ECS_DEPTH) {
		dot = memchr(p, '.', len);
		comp[n] = p;
		clen[n] = dot != NULL ? (size_t)(dot - p) : len;
		len -= dot != NULL ? clen[n] + 1 : len;
		p = dot != NULL ? dot + 1 : p;
		n++;
	}
	while (same < n && same < o->depth && clen[same] == o->openlen[same] &&
	    memcmp(comp[same], o->open[same], clen[same]) == 0)
		same++;
	for (; o->depth > same; o->depth--)
		store_ecs_add(o, "}", 1);
	for (; o->depth < n; o->depth++) {
		store_ecs_key(o, comp[o->depth], clen[o->depth]);
		store_ecs_add(o, "{", 1);
		o->open[o->depth] = comp[o->depth];
		o->openlen[o->depth] = clen[o->depth];
		o->comma[o->depth + 1] = 0;
	}
}

/* Appends one value as compact, ASCII-only JSON. */
static void
store_ecs_value(struct store_ecs_out *o, const json_t *val)
{
	struct store_buf	*b = o->b;
	size_t			 n;

	if (o->err)
		return;
	n = json_dumpb(val, b->p + b->len, b->cap - b->len, STORE_ECS_DUMP);
	if (n > b->cap - b->len) {
		if (store_buf_reserve(b, n) == -1 || json_dumpb(val,
		    b->p + b->len, b->cap - b->len, STORE_ECS_DUMP) != n) {
			o->err = 1;
			return;
		}
	}
	if (n == 0)
		o->err = 1;
	b->len += n;
}

/* Whether the table names this flat key. */
static int
store_ecs_mapped(const char *key)
{
	size_t	i;

	for (i = 0; i < STORE_ECS_NFIELDS; i++)
		if (store_ecs_map[i].flat != NULL &&
		    strcmp(store_ecs_map[i].flat, key) == 0)
			return 1;
	return 0;
}

/* Writes the ECS form of the parsed flat event. */
static void
store_ecs_write(struct store_ecs_out *o, json_t *flat)
{
	const struct store_ecs_field	*f;
	const char			*dot, *key;
	json_t				*val;
	size_t				 i, plen;

	for (i = 0; i < STORE_ECS_NFIELDS; i++) {
		f = &store_ecs_map[i];
		if (f->flat == NULL && f->value == NULL) {
			json_object_foreach(flat, key, val) {
				if (store_ecs_mapped(key))
					continue;
				store_ecs_move(o, f->path, strlen(f->path));
				store_ecs_key(o, key, strlen(key));
				store_ecs_value(o, val);
			}
			continue;
		}
		val = NULL;
		if (f->flat != NULL &&
		    (val = json_object_get(flat, f->flat)) == NULL)
			continue;
		dot = strrchr(f->path, '.');
		plen = dot != NULL ? (size_t)(dot - f->path) : 0;
		store_ecs_move(o, f->path, plen);
		store_ecs_key(o, f->path + (dot != NULL ? plen + 1 : 0),
		    strlen(f->path) - (dot != NULL ? plen + 1 : 0));
		if (val != NULL)
			store_ecs_value(o, val);
		else
			store_ecs_add(o, f->value, strlen(f->value));
	}
}

/* An event jansson refused (a bug upstream) still gets an ECS line. */
static void
store_ecs_fallback(struct store_ecs_out *o, const char *json, size_t len)
{
	char	ts[32], *esc;
	size_t	n;

	event_timestamp(ts, event_now_usec());
	store_ecs_key(o, "@timestamp", 10);
	store_ecs_add(o, "\"", 1);
	store_ecs_add(o, ts, strlen(ts));
	store_ecs_add(o, "\"", 1);
	store_ecs_move(o, "event", 5);
	store_ecs_key(o, "dataset", 7);
	store_ecs_add(o, "\"sundew.events\"", 15);
	store_ecs_key(o, "kind", 4);
	store_ecs_add(o, "\"event\"", 7);
	store_ecs_key(o, "original", 8);
	if ((esc = malloc(6 * len + 1)) == NULL) {
		o->err = 1;
		return;
	}
	n = event_escape(esc, 6 * len + 1, json, len, NULL);
	store_ecs_add(o, "\"", 1);
	store_ecs_add(o, esc, n);
	store_ecs_add(o, "\"", 1);
	free(esc);
	store_ecs_move(o, "ecs", 3);
	store_ecs_key(o, "version", 7);
	store_ecs_add(o, "\"" STORE_ECS_VERSION "\"",
	    strlen(STORE_ECS_VERSION) + 2);
}

/*
 * Appends the ECS line for one event, all or nothing; -1 if the buffer
 * is full.  jansson parses the flat event (and checks it); the nested
 * objects are written as they come, without building a second tree.
 */
static int
store_json_ecs(struct store *st, const char *json, size_t len)
{
	struct store_ecs_out	 o;
	json_t			*flat;
	size_t			 start = st->json_out.len;

	memset(&o, 0, sizeof(o));
	o.b = &st->json_out;
	/* Room for what ECS adds, so that most values dump in one pass. */
	if (store_buf_reserve(o.b, 2 * len + 512) == -1)
		return -1;
	store_ecs_add(&o, "{", 1);
	flat = json_loadb(json, len, JSON_ALLOW_NUL, NULL);
	if (json_is_object(flat))
		store_ecs_write(&o, flat);
	else {
		if (store_warn_due(&st->bad_warned, store_mono()))
			log_warnx("store: an event is not a JSON object (a "
			    "bug): kept as event.original");
		store_ecs_fallback(&o, json, len);
	}
	json_decref(flat);
	store_ecs_move(&o, NULL, 0);
	store_ecs_add(&o, "}\n", 2);
	if (o.err) {
		o.b->len = start;
		return -1;
	}
	return 0;
}

void
store_json_event(struct store *st, const char *json, size_t len)
{
	struct store_buf	*b = &st->json_out;
	int			 rc;

	if (b->len != 0 && b->len + len >= STORE_JSON_SOON)
		store_json_flush(st);
	if (st->json_ecs)
		rc = store_json_ecs(st, json, len);
	else if ((rc = store_buf_reserve(b, len + 1)) == 0) {
		memcpy(b->p + b->len, json, len);
		b->p[b->len + len] = '\n';
		b->len += len + 1;
	}
	if (rc == -1) {
		st->json_lost++;
		if (store_warn_due(&st->json_warned, store_mono()))
			log_warnx("store: %s: %llu events lost so far, %zu "
			    "bytes wait for the disk", st->json_path,
			    (unsigned long long)st->json_lost, b->len);
	}
}

void
store_json_reopen(struct store *st)
{
	/* The lines waiting belong to the file that was moved away. */
	store_json_flush(st);
	if (st->json_fd != -1)
		close(st->json_fd);
	st->json_fd = -1;
	if (store_json_open_fd(st) == 0)
		log_info("store: reopened %s", st->json_path);
}

void
store_json_tick(struct store *st, time_t now)
{
	if (st->json_fd == -1) {
		if (store_json_open_fd(st) == -1)
			return;
	}
	if (st->json_max_age == 0)
		return;
	store_json_flush(st);
	if (st->json_size > 0 && st->json_born != 0 &&
	    now - st->json_born >= (time_t)st->json_max_age)
		store_json_rotate(st);
}

void
store_json_close(struct store *st)
{
	store_json_flush(st);
	if (st->json_fd != -1)
		close(st->json_fd);
	st->json_fd = -1;
	store_buf_free(&st->json_out);
}
