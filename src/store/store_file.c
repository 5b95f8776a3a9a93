/*
 * Binaries and hexdumps: binaries/<sha256> (mode 0440: a sample is never
 * changed, nor executable) and hexdumps/<sha256>.bin (0640, as the logs
 * and the database), each written once.  A file is written under a temporary
 * name in the same directory, fsync()ed, then renamed: a killed store
 * leaves a temporary file (removed at the next store_open), never a
 * half-written sample under a real name.
 *
 * sha256 names the file; md5, sha1 and sha512 come from a second pass
 * unless the file was seen lately (a worm sends the same one over and
 * over); the file type from libmagic, whose database is loaded at
 * store_open, before the chroot.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <magic.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event.h"
#include "log.h"
#include "store_int.h"

#define STORE_MAGIC_MAX		256		/* bytes of libmagic's text */
#define STORE_MAGIC_BYTES	(1024 * 1024)	/* libmagic looks at these */
#define STORE_DIGEST_CHUNK	65536

enum {
	STORE_SHA256, STORE_MD5, STORE_SHA1, STORE_SHA512, STORE_NDIGEST
};

struct store_digests {
	char	hex[STORE_NDIGEST][EVP_MAX_MD_SIZE * 2 + 1];
};

/*
 * The digests' implementations and contexts, fetched once: an implicit
 * fetch in every EVP_DigestInit_ex cost as much as hashing a small file.
 */
static EVP_MD		*store_md[STORE_NDIGEST];
static EVP_MD_CTX	*store_md_ctx[STORE_NDIGEST];

static int
store_file_digest_init(void)
{
	static const char *const names[STORE_NDIGEST] = {
		"SHA256", "MD5", "SHA1", "SHA512"
	};
	int	i;

	for (i = 0; i < STORE_NDIGEST; i++) {
		if (store_md[i] == NULL &&
		    (store_md[i] = EVP_MD_fetch(NULL, names[i], NULL)) == NULL)
			return -1;
		if (store_md_ctx[i] == NULL &&
		    (store_md_ctx[i] = EVP_MD_CTX_new()) == NULL)
			return -1;
	}
	return 0;
}

/* Removes the temporary files a killed store left in dir. */
static void
store_file_sweep(const char *dir)
{
	DIR		*d;
	struct dirent	*de;

	if ((d = opendir(dir)) == NULL) {
		log_warn("store: opendir %s", dir);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, STORE_TMP_PREFIX,
		    strlen(STORE_TMP_PREFIX)) != 0)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == -1)
			log_warn("store: unlink %s/%s", dir, de->d_name);
		else
			log_info("store: removed %s/%s, left by an "
			    "interrupted write", dir, de->d_name);
	}
	closedir(d);
}

int
store_file_open(struct store *st)
{
	size_t	max = STORE_MAGIC_BYTES;

	store_file_sweep(STORE_BIN_DIR);
	store_file_sweep(STORE_HEX_DIR);
	store_file_forget();
	if (store_file_digest_init() == -1)
		log_warnx("store: no digest implementations; files will not "
		    "be stored");
	/* No file type is worse than no sample: this is not fatal. */
	if ((st->magic = magic_open(MAGIC_ERROR)) == NULL) {
		log_warn("store: magic_open");
		return 0;
	}
	if (magic_load(st->magic, NULL) == -1) {
		log_warnx("store: magic_load: %s; file types will be "
		    "\"unknown\"", magic_error(st->magic));
		magic_close(st->magic);
		st->magic = NULL;
		return 0;
	}
	magic_setparam(st->magic, MAGIC_PARAM_BYTES_MAX, &max);
	return 0;
}

void
store_file_close(struct store *st)
{
	int	i;

	if (st->magic != NULL)
		magic_close(st->magic);
	st->magic = NULL;
	for (i = 0; i < STORE_NDIGEST; i++) {
		EVP_MD_CTX_free(store_md_ctx[i]);
		EVP_MD_free(store_md[i]);
		store_md_ctx[i] = NULL;
		store_md[i] = NULL;
	}
}

/*
 * The digests of data named by mask (1 << STORE_SHA256...), in one pass,
 * as hex.
 */
static int
store_file_digest(const uint8_t *data, size_t len, unsigned mask,
    struct store_digests *d)
{
	static const char	 hex[] = "0123456789abcdef";
	EVP_MD_CTX		**ctx = store_md_ctx;
	unsigned char		 out[EVP_MAX_MD_SIZE];
	unsigned int		 outlen, j;
	size_t			 off, n;
	int			 i;

	if (store_file_digest_init() == -1)
		goto fail;
	for (i = 0; i < STORE_NDIGEST; i++)
		if ((mask & 1u << i) &&
		    EVP_DigestInit_ex(ctx[i], store_md[i], NULL) != 1)
			goto fail;
	/* Chunk by chunk, so each digest reads the chunk from cache. */
	for (off = 0; off < len; off += n) {
		n = len - off < STORE_DIGEST_CHUNK ? len - off :
		    STORE_DIGEST_CHUNK;
		for (i = 0; i < STORE_NDIGEST; i++)
			if ((mask & 1u << i) &&
			    EVP_DigestUpdate(ctx[i], data + off, n) != 1)
				goto fail;
	}
	for (i = 0; i < STORE_NDIGEST; i++) {
		if (!(mask & 1u << i))
			continue;
		if (EVP_DigestFinal_ex(ctx[i], out, &outlen) != 1)
			goto fail;
		for (j = 0; j < outlen; j++) {
			d->hex[i][2 * j] = hex[out[j] >> 4];
			d->hex[i][2 * j + 1] = hex[out[j] & 15];
		}
		d->hex[i][2 * outlen] = '\0';
	}
	return 0;
fail:
	log_warnx("store: EVP digest failed");
	return -1;
}

/*
 * libmagic's description, as printable ASCII: it may quote bytes of the
 * file (script interpreters, archive comments).
 */
static void
store_file_type(struct store *st, const uint8_t *data, size_t len,
    char *dst, size_t dstlen)
{
	const char	*s = NULL;
	size_t		 i;

	if (st->magic != NULL)
		s = magic_buffer(st->magic, data, len);
	if (s == NULL)
		s = "unknown";
	for (i = 0; s[i] != '\0' && i + 1 < dstlen; i++)
		dst[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	dst[i] = '\0';
}

/*
 * libmagic costs far more than the rest of storing a file, and worms send
 * the same payload over and over: remember recent files, by sha256, in a
 * small direct-mapped table: their type and other digests, and that they
 * were on disk (for STORE_PRESENT_SECS, so that a file removed by hand is
 * written again).
 */
#define STORE_TYPE_CACHE	512
#define STORE_PRESENT_SECS	10

struct store_type_entry {
	char			sha256[65];
	struct store_digests	digests;
	char			type[STORE_MAGIC_MAX];
	time_t	present[2];	/* by kind - 1: when seen on disk, or 0 */
};

static struct store_type_entry	store_type_cache[STORE_TYPE_CACHE];

/* The slot of a sha256 (64 hex digits): its first digits pick it. */
static struct store_type_entry *
store_file_cached(const char *sha256)
{
	unsigned	slot = 0;
	int		i;

	for (i = 0; i < 4; i++)
		slot = slot * 16 + (unsigned)(isdigit((unsigned char)sha256[i]) ?
		    sha256[i] - '0' : (sha256[i] | 0x20) - 'a' + 10);
	return &store_type_cache[slot % STORE_TYPE_CACHE];
}

/*
 * The digests and the type of data, whose sha256 is in d already: from
 * the cache, or computed and cached.  -1 if a digest failed.
 */
static int
store_file_describe(struct store *st, const uint8_t *data, size_t len,
    struct store_digests *d, char *type, size_t typelen)
{
	struct store_type_entry	*e = store_file_cached(d->hex[STORE_SHA256]);

	if (memcmp(e->sha256, d->hex[STORE_SHA256], 64) != 0) {
		memset(e->sha256, 0, sizeof(e->sha256));
		if (store_file_digest(data, len, 1u << STORE_MD5 |
		    1u << STORE_SHA1 | 1u << STORE_SHA512, d) == -1)
			return -1;
		store_file_type(st, data, len, e->type, sizeof(e->type));
		e->digests = *d;
		memcpy(e->sha256, d->hex[STORE_SHA256], 64);
		e->present[0] = e->present[1] = 0;
	}
	*d = e->digests;
	snprintf(type, typelen, "%s", e->type);
	return 0;
}

/* Whether the file is on disk: lately seen there, or lstat says so. */
static int
store_file_present(const char *sha256, enum store_kind kind,
    const char *path)
{
	struct store_type_entry	*e = store_file_cached(sha256);
	struct stat		 sb;
	time_t			 now = store_mono();
	int			 k = kind == STORE_BINARY ? 0 : 1;

	if (memcmp(e->sha256, sha256, 64) == 0 && e->present[k] != 0 &&
	    now - e->present[k] < STORE_PRESENT_SECS)
		return 1;
	return lstat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Notes that the file is on disk now (its type is cached already). */
static void
store_file_seen(const char *sha256, enum store_kind kind)
{
	struct store_type_entry	*e = store_file_cached(sha256);

	if (memcmp(e->sha256, sha256, 64) == 0)
		e->present[kind == STORE_BINARY ? 0 : 1] = store_mono();
}

/* The disk ceiling deleted files: nothing is known to be on disk. */
void
store_file_forget(void)
{
	size_t	i;

	for (i = 0; i < STORE_TYPE_CACHE; i++)
		store_type_cache[i].present[0] = store_type_cache[i].present[1] =
		    0;
}

/* Writes data to path atomically; 0, or -1 after logging why. */
static int
store_file_write(const char *dir, const char *path, const uint8_t *data,
    size_t len, mode_t mode)
{
	char	tmp[64];
	size_t	off = 0;
	ssize_t	n;
	int	fd, err;

	snprintf(tmp, sizeof(tmp), "%s/%sXXXXXX", dir, STORE_TMP_PREFIX);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		if (errno != ENOSPC && errno != EDQUOT)
			log_warn("store: mkostemp %s", tmp);
		return -1;
	}
	while (off < len) {
		n = write(fd, data + off, len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			/* A full disk is said once, by store_disk_refused. */
			if (errno != ENOSPC && errno != EDQUOT &&
			    errno != EFBIG)
				log_warn("store: write %s", tmp);
			goto fail;
		}
		off += (size_t)n;
	}
	if (fchmod(fd, mode) == -1) {
		log_warn("store: fchmod %s", tmp);
		goto fail;
	}
	if (fsync(fd) == -1) {
		log_warn("store: fsync %s", tmp);
		goto fail;
	}
	if (close(fd) == -1) {
		fd = -1;
		log_warn("store: close %s", tmp);
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) == -1) {
		log_warn("store: rename %s to %s", tmp, path);
		goto fail;
	}
	return 0;
fail:
	err = errno;
	if (fd != -1)
		close(fd);
	unlink(tmp);
	errno = err;
	return -1;
}

/* sundew.limit.hit for a file the ceiling keeps out; warns once a minute. */
static void
store_file_refused(struct store *st, const char *ctx, size_t ctxlen,
    const char *sha256, const char *kind, size_t len)
{
	struct event_buf	ev;

	if (store_warn_due(&st->disk_warned, store_mono()))
		log_warnx("store: disk ceiling of %llu bytes reached (%llu "
		    "used): a %s of %zu bytes was not stored; raise "
		    "store.max_disk or free space",
		    (unsigned long long)st->max_disk,
		    (unsigned long long)store_disk_used(st), kind, len);
	event_begin(&ev, "sundew.limit.hit");
	event_str(&ev, "limit", "disk");
	event_fields(&ev, ctx, ctxlen);
	event_str(&ev, "sha256", sha256);
	event_str(&ev, "kind", kind);
	event_int(&ev, "size", (int64_t)len);
	store_emit(st, &ev);
}

/* sundew.download.complete: what the sensor fetched, as the store sees it. */
static void
store_file_complete(struct store *st, const char *ctx, size_t ctxlen,
    const struct store_digests *d, size_t len, const char *type, int dup,
    uint64_t id)
{
	struct event_buf	ev;

	event_begin_id(&ev, "sundew.download.complete",
	    id != 0 ? id : event_next_id());
	event_fields(&ev, ctx, ctxlen);
	event_str(&ev, "sha256", d->hex[STORE_SHA256]);
	event_str(&ev, "md5", d->hex[STORE_MD5]);
	event_int(&ev, "size", (int64_t)len);
	event_str(&ev, "filetype", type);
	event_bool(&ev, "duplicate", dup);
	store_emit(st, &ev);
}

/*
 * store_file and store_download: complete_id is not 0 for a download,
 * whose sundew.download.complete goes before the file is written.
 */
static int
store_file_put(struct store *st, enum store_kind kind, const char *ctx,
    size_t ctxlen, const uint8_t *data, size_t len, uint64_t id,
    int download, uint64_t complete_id)
{
	struct store_digests	 d;
	struct event_buf	 ev;
	char			 path[160], type[STORE_MAGIC_MAX], ts[32];
	const char		*dir, *kname;
	int			 dup;

	if (kind == STORE_BINARY) {
		dir = STORE_BIN_DIR;
		kname = "binary";
	} else if (kind == STORE_HEXDUMP) {
		dir = STORE_HEX_DIR;
		kname = "hexdump";
	} else {
		log_warnx("store: file of unknown kind %d", (int)kind);
		return -1;
	}
	if (ctx == NULL)
		ctxlen = 0;
	if (data == NULL)
		data = (const uint8_t *)"";
	if (store_file_digest(data, len, 1u << STORE_SHA256, &d) == -1 ||
	    store_file_describe(st, data, len, &d, type, sizeof(type)) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/%s%s", dir, d.hex[STORE_SHA256],
	    kind == STORE_BINARY ? "" : ".bin");
	dup = store_file_present(d.hex[STORE_SHA256], kind, path);
	if (download)
		store_file_complete(st, ctx, ctxlen, &d, len, type, dup,
		    complete_id);
	if (!dup) {
		if (store_disk_reserve(st, len) == -1) {
			store_file_refused(st, ctx, ctxlen,
			    d.hex[STORE_SHA256], kname, len);
			return -1;
		}
		if (store_file_write(dir, path, data, len,
		    kind == STORE_BINARY ? 0440 : 0640) == -1) {
			store_disk_refused(st, kname, errno, NULL);
			store_file_refused(st, ctx, ctxlen,
			    d.hex[STORE_SHA256], kname, len);
			return -1;
		}
		st->disk_files += len;
	}
	store_file_seen(d.hex[STORE_SHA256], kind);
	event_timestamp(ts, event_now_usec());
	if (st->sqlite_enabled)
		store_sqlite_file(st, d.hex[STORE_SHA256], d.hex[STORE_MD5],
		    d.hex[STORE_SHA1], d.hex[STORE_SHA512], len, type, kname,
		    ts);

	event_begin_id(&ev, "sundew.file.stored",
	    id != 0 ? id : event_next_id());
	event_fields(&ev, ctx, ctxlen);
	event_str(&ev, "sha256", d.hex[STORE_SHA256]);
	event_str(&ev, "md5", d.hex[STORE_MD5]);
	event_str(&ev, "sha1", d.hex[STORE_SHA1]);
	event_str(&ev, "sha512", d.hex[STORE_SHA512]);
	event_int(&ev, "size", (int64_t)len);
	event_str(&ev, "filetype", type);
	event_str(&ev, "kind", kname);
	event_bool(&ev, "duplicate", dup);
	store_emit(st, &ev);
	return 0;
}

int
store_file(struct store *st, enum store_kind kind, const char *ctx,
    size_t ctxlen, const uint8_t *data, size_t len, uint64_t id)
{
	return store_file_put(st, kind, ctx, ctxlen, data, len, id, 0, 0);
}

int
store_download(struct store *st, const char *ctx, size_t ctxlen,
    const uint8_t *data, size_t len, uint64_t complete_id, uint64_t stored_id)
{
	return store_file_put(st, STORE_BINARY, ctx, ctxlen, data, len,
	    stored_id, 1, complete_id);
}
