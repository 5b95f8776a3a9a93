#include <sys/mman.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "log.h"
#include "ring.h"

#define RING_HDR	4096

/*
 * The shared header.  Each side writes its own cache line: the sensor
 * write and next_id, the store commit; the other side only reads them.
 */
struct ring_hdr {
	_Atomic uint64_t	write;		/* bytes ever published */
	_Atomic uint64_t	next_id;	/* ids given out */
	char			pad1[48];
	_Atomic uint64_t	commit;		/* bytes the store is done with */
	char			pad2[56];
};

/* Process-local: what the parent made, inherited by each child. */
struct ring {
	struct ring_hdr		*hdr;
	uint8_t			*data;		/* 2 * size, mapped twice */
	size_t			 size;
	unsigned		 index;
	uint64_t		 id_base;	/* the second it was made */
	uint64_t		 read;		/* store: next record */
	struct evbuffer		*wait;		/* sensor: full ring */
	uint64_t		 lost;
	time_t			 warned;
};

static size_t
ring_pad(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

struct ring *
ring_create(unsigned index, size_t size)
{
	struct ring	*r;
	long		 page = sysconf(_SC_PAGESIZE);
	uint8_t		*base;
	int		 fd;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		fatal("calloc");
	size = (size + (size_t)page - 1) & ~((size_t)page - 1);
	r->index = index;
	r->size = size;
	r->id_base = (uint64_t)time(NULL) << 31;
	if ((fd = memfd_create("sundew-ring", MFD_CLOEXEC)) == -1) {
		log_warn("memfd_create");
		free(r);
		return NULL;
	}
	if (ftruncate(fd, (off_t)(RING_HDR + size)) == -1) {
		log_warn("ftruncate of a ring of %zu bytes", size);
		goto fail;
	}
	r->hdr = mmap(NULL, RING_HDR, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	    0);
	if (r->hdr == MAP_FAILED)
		goto fail_map;
	if (size > 0) {
		/* Reserve both halves, then map the same pages into each. */
		base = mmap(NULL, 2 * size, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (base == MAP_FAILED ||
		    mmap(base, size, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_FIXED, fd, RING_HDR) == MAP_FAILED ||
		    mmap(base + size, size, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_FIXED, fd, RING_HDR) == MAP_FAILED)
			goto fail_map;
		r->data = base;
	}
	close(fd);
	return r;
fail_map:
	log_warn("mmap of a ring of %zu bytes", size);
fail:
	close(fd);
	free(r);
	return NULL;
}

void
ring_unmap(struct ring *r)
{
	if (r == NULL)
		return;
	munmap(r->hdr, RING_HDR);
	if (r->data != NULL)
		munmap(r->data, 2 * r->size);
	r->hdr = NULL;
	r->data = NULL;
}

void
ring_free(struct ring *r)
{
	if (r == NULL)
		return;
	ring_unmap(r);
	if (r->wait != NULL)
		evbuffer_free(r->wait);
	free(r);
}

uint64_t
ring_next_id(struct ring *r)
{
	uint64_t	n;

	/* One writer per ring: the process that owns the index. */
	n = atomic_load_explicit(&r->hdr->next_id, memory_order_relaxed);
	atomic_store_explicit(&r->hdr->next_id, n + 1, memory_order_relaxed);
	return r->id_base + n * RING_INDEXES + r->index;
}

size_t
ring_size(const struct ring *r)
{
	return r->size;
}

/* Published and not committed, as the sensor sees it (never above size). */
static size_t
ring_inflight(const struct ring *r)
{
	uint64_t	w, c;

	w = atomic_load_explicit(&r->hdr->write, memory_order_relaxed);
	c = atomic_load_explicit(&r->hdr->commit, memory_order_acquire);
	return w - c > r->size ? r->size : (size_t)(w - c);
}

size_t
ring_used(const struct ring *r)
{
	return ring_inflight(r) +
	    (r->wait != NULL ? evbuffer_get_length(r->wait) : 0);
}

/* Copies one record in and publishes it; -1 if it does not fit now. */
static int
ring_write(struct ring *r, const struct ring_rec *rec, const void *a,
    size_t alen, const void *b, size_t blen)
{
	uint64_t	 w;
	uint8_t		*p;
	size_t		 need = sizeof(*rec) + ring_pad(alen + blen);

	if (need > r->size - ring_inflight(r))
		return -1;
	w = atomic_load_explicit(&r->hdr->write, memory_order_relaxed);
	p = r->data + w % r->size;
	memcpy(p, rec, sizeof(*rec));
	if (alen > 0)
		memcpy(p + sizeof(*rec), a, alen);
	if (blen > 0)
		memcpy(p + sizeof(*rec) + alen, b, blen);
	/* The store sees the bytes before the position that covers them. */
	atomic_store_explicit(&r->hdr->write, w + need, memory_order_release);
	return 0;
}

size_t
ring_flush(struct ring *r)
{
	struct ring_rec	 rec;
	size_t		 len;
	uint8_t		*p;

	while (r->wait != NULL && evbuffer_get_length(r->wait) >= sizeof(rec)) {
		evbuffer_copyout(r->wait, &rec, sizeof(rec));
		len = sizeof(rec) + rec.len;
		if ((p = evbuffer_pullup(r->wait, (ssize_t)len)) == NULL)
			fatalx("ring: waiting record");
		if (ring_write(r, &rec, p + sizeof(rec), rec.len, NULL, 0) ==
		    -1)
			break;
		evbuffer_drain(r->wait, len);
	}
	return r->wait != NULL ? evbuffer_get_length(r->wait) : 0;
}

size_t
ring_size_for(uint64_t largest)
{
	if (largest > (RING_MIN_SIZE - RING_SLACK * 4) / 4)
		return (size_t)(largest * 4 + RING_SLACK * 4);
	return RING_MIN_SIZE;
}

int
ring_put(struct ring *r, uint32_t type, uint64_t id, const void *a,
    size_t alen, const void *b, size_t blen)
{
	struct ring_rec	rec = { type, (uint32_t)(alen + blen), id };
	time_t		now;

	if (alen + blen <= r->size / 4 && ring_flush(r) == 0 &&
	    ring_write(r, &rec, a, alen, b, blen) == 0)
		return 0;
	if (r->wait == NULL && (r->wait = evbuffer_new()) == NULL)
		fatalx("evbuffer_new");
	if (alen + blen > r->size / 4 ||
	    evbuffer_get_length(r->wait) + alen + blen > RING_OVERFLOW ||
	    evbuffer_add(r->wait, &rec, sizeof(rec)) == -1 ||
	    (alen > 0 && evbuffer_add(r->wait, a, alen) == -1) ||
	    (blen > 0 && evbuffer_add(r->wait, b, blen) == -1)) {
		r->lost++;
		if ((now = time(NULL)) != r->warned) {
			r->warned = now;
			log_warnx("the store is far behind: a record of %zu "
			    "bytes is lost (%llu so far)", alen + blen,
			    (unsigned long long)r->lost);
		}
		return -1;
	}
	return 0;
}

/* The store found a record it cannot read: skip all that is published. */
static int
ring_corrupt(struct ring *r, uint64_t w, const char *why)
{
	log_warnx("ring of sensor %u: %s at byte %llu; skipping %llu bytes",
	    r->index, why, (unsigned long long)r->read,
	    (unsigned long long)(w - r->read));
	r->read = w;
	return 0;
}

int
ring_read(struct ring *r, struct ring_rec *rec, const void **data)
{
	uint64_t	w, c;
	size_t		avail;

	w = atomic_load_explicit(&r->hdr->write, memory_order_acquire);
	c = atomic_load_explicit(&r->hdr->commit, memory_order_relaxed);
	if (w == r->read)
		return 0;
	if (w < r->read || w - c > r->size)
		return ring_corrupt(r, w, "a write position out of bounds");
	avail = (size_t)(w - r->read);
	if (avail < sizeof(*rec))
		return ring_corrupt(r, w, "a partial record header");
	memcpy(rec, r->data + r->read % r->size, sizeof(*rec));
	if ((rec->type != RING_EVENT && rec->type != RING_FILE) ||
	    rec->len > avail - sizeof(*rec) ||
	    ring_pad(rec->len) > avail - sizeof(*rec))
		return ring_corrupt(r, w, "a malformed record");
	*data = r->data + r->read % r->size + sizeof(*rec);
	r->read += sizeof(*rec) + ring_pad(rec->len);
	/* An id must be this ring's: one sensor cannot shadow another's. */
	if (rec->id % RING_INDEXES != r->index)
		rec->id = 0;
	return 1;
}

int
ring_pending(const struct ring *r)
{
	return atomic_load_explicit(&r->hdr->write, memory_order_acquire) !=
	    r->read;
}

void
ring_commit(struct ring *r)
{
	long		page = sysconf(_SC_PAGESIZE);
	uint64_t	c, lo, hi;

	c = atomic_load_explicit(&r->hdr->commit, memory_order_relaxed);
	if (r->read == c)
		return;
	/*
	 * Give the whole pages read back to the system first: the sensor
	 * may write there as soon as the commit position passes them.
	 */
	lo = (c + (uint64_t)page - 1) & ~((uint64_t)page - 1);
	hi = r->read & ~((uint64_t)page - 1);
	while (lo < hi) {
		uint64_t	off = lo % r->size;
		uint64_t	n = hi - lo;

		if (n > r->size - off)
			n = r->size - off;
		if (madvise(r->data + off, (size_t)n, MADV_REMOVE) == -1)
			break;
		lo += n;
	}
	atomic_store_explicit(&r->hdr->commit, r->read, memory_order_release);
}

void
ring_rewind(struct ring *r)
{
	uint64_t	w, c;

	w = atomic_load_explicit(&r->hdr->write, memory_order_acquire);
	c = atomic_load_explicit(&r->hdr->commit, memory_order_relaxed);
	r->read = c;
	if (w < c || w - c > r->size) {
		log_warnx("ring of sensor %u: positions out of bounds; "
		    "starting at the write position", r->index);
		r->read = w;
		atomic_store_explicit(&r->hdr->commit, w,
		    memory_order_release);
	}
}
