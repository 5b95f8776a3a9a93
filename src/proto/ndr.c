/*
 * NDR (C706 chapter 14), little-endian, as the interfaces (dce_*.c) read
 * requests and write responses.  Alignment counts from the start of the
 * stub, which is what NDR aligns to.  An error sticks: after a read ran
 * past the end or a write did not fit, every read gives 0 and every
 * write is dropped, so a caller checks err once, at the end.
 */
#include <string.h>

#include "ndr.h"

void
ndr_r_init(struct ndr_r *r, const uint8_t *p, size_t len)
{
	/* An empty stub may come as NULL: r->p + 0 must still be defined. */
	r->p = p != NULL ? p : (const uint8_t *)"";
	r->len = len;
	r->off = 0;
	r->err = p == NULL && len > 0;
}

/* n more bytes from the current offset, or NULL (and err) if not there. */
static const uint8_t *
ndr_r_take(struct ndr_r *r, size_t n)
{
	const uint8_t	*p;

	if (r->err || n > r->len - r->off) {
		r->err = 1;
		return NULL;
	}
	p = r->p + r->off;
	r->off += n;
	return p;
}

void
ndr_r_align(struct ndr_r *r, size_t a)
{
	size_t	pad;

	if (r->err || a == 0)
		return;
	pad = (a - r->off % a) % a;
	(void)ndr_r_take(r, pad);
}

uint8_t
ndr_r_u8(struct ndr_r *r)
{
	const uint8_t	*p = ndr_r_take(r, 1);

	return p == NULL ? 0 : p[0];
}

uint16_t
ndr_r_u16(struct ndr_r *r)
{
	const uint8_t	*p;

	ndr_r_align(r, 2);
	if ((p = ndr_r_take(r, 2)) == NULL)
		return 0;
	return (uint16_t)(p[0] | p[1] << 8);
}

uint32_t
ndr_r_u32(struct ndr_r *r)
{
	const uint8_t	*p;

	ndr_r_align(r, 4);
	if ((p = ndr_r_take(r, 4)) == NULL)
		return 0;
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

uint64_t
ndr_r_u64(struct ndr_r *r)
{
	uint64_t	lo, hi;

	ndr_r_align(r, 8);
	lo = ndr_r_u32(r);
	hi = ndr_r_u32(r);
	return r->err ? 0 : lo | hi << 32;
}

uint32_t
ndr_r_ptr(struct ndr_r *r)
{
	return ndr_r_u32(r);
}

const uint8_t *
ndr_r_bytes(struct ndr_r *r, size_t n)
{
	return ndr_r_take(r, n);
}

int
ndr_r_wstr_max(struct ndr_r *r, const uint8_t **s, uint32_t *max,
    uint32_t *nchars)
{
	uint32_t	 m, off, n;
	const uint8_t	*p;

	*s = NULL;
	*max = *nchars = 0;
	m = ndr_r_u32(r);
	off = ndr_r_u32(r);
	n = ndr_r_u32(r);
	if (r->err)
		return -1;
	/* The part sent must lie within the array the counts declare. */
	if (off > m || n > m - off || (size_t)n > (r->len - r->off) / 2) {
		r->err = 1;
		return -1;
	}
	if ((p = ndr_r_take(r, (size_t)n * 2)) == NULL)
		return -1;
	/*
	 * The padding after the characters belongs to whatever comes next:
	 * a string that ends the stub may come without it.
	 */
	if (r->off % 4 != 0)
		r->off = r->len - r->off < 2 ? r->len : r->off + 2;
	*s = p;
	*max = m;
	*nchars = n;
	return 0;
}

int
ndr_r_wstr(struct ndr_r *r, const uint8_t **s, uint32_t *nchars)
{
	uint32_t	max;

	return ndr_r_wstr_max(r, s, &max, nchars);
}

void
ndr_w_init(struct ndr_w *w, uint8_t *buf, size_t cap)
{
	w->buf = buf;
	w->len = 0;
	w->cap = buf == NULL ? 0 : cap;
	w->ref = 0x00020000;
	w->err = 0;
}

/* Room for n more bytes: a pointer to them, or NULL (and err). */
static uint8_t *
ndr_w_take(struct ndr_w *w, size_t n)
{
	uint8_t	*p;

	if (w->err || n > w->cap - w->len) {
		w->err = 1;
		return NULL;
	}
	p = w->buf + w->len;
	w->len += n;
	return p;
}

/* Padding is zeros: nothing of an earlier reply shows through. */
void
ndr_w_align(struct ndr_w *w, size_t a)
{
	size_t	 pad;
	uint8_t	*p;

	if (w->err || a == 0)
		return;
	pad = (a - w->len % a) % a;
	if ((p = ndr_w_take(w, pad)) != NULL)
		memset(p, 0, pad);
}

void
ndr_w_u8(struct ndr_w *w, uint8_t v)
{
	uint8_t	*p = ndr_w_take(w, 1);

	if (p != NULL)
		p[0] = v;
}

void
ndr_w_u16(struct ndr_w *w, uint16_t v)
{
	uint8_t	*p;

	ndr_w_align(w, 2);
	if ((p = ndr_w_take(w, 2)) != NULL) {
		p[0] = (uint8_t)v;
		p[1] = (uint8_t)(v >> 8);
	}
}

/* A u32 into 4 bytes, least significant first. */
static void
ndr_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

void
ndr_w_u32(struct ndr_w *w, uint32_t v)
{
	uint8_t	*p;

	ndr_w_align(w, 4);
	if ((p = ndr_w_take(w, 4)) != NULL)
		ndr_le32(p, v);
}

void
ndr_w_u64(struct ndr_w *w, uint64_t v)
{
	ndr_w_align(w, 8);
	ndr_w_u32(w, (uint32_t)v);
	ndr_w_u32(w, (uint32_t)(v >> 32));
}

void
ndr_w_bytes(struct ndr_w *w, const void *v, size_t n)
{
	uint8_t	*p;

	if ((p = ndr_w_take(w, n)) != NULL && n > 0)
		memcpy(p, v, n);
}

void
ndr_w_ptr(struct ndr_w *w)
{
	ndr_w_u32(w, w->ref);
	w->ref += 4;
}

void
ndr_w_wstr(struct ndr_w *w, const char *s)
{
	size_t		 i, n = strlen(s) + 1;
	uint8_t		*p;

	if (n > UINT32_MAX / 2) {
		w->err = 1;
		return;
	}
	ndr_w_u32(w, (uint32_t)n);
	ndr_w_u32(w, 0);
	ndr_w_u32(w, (uint32_t)n);
	if ((p = ndr_w_take(w, n * 2)) == NULL)
		return;
	for (i = 0; i < n; i++) {
		/* The host's names are ASCII; anything else is not sent raw. */
		p[2 * i] = (unsigned char)s[i] < 0x80 ? (uint8_t)s[i] : '?';
		p[2 * i + 1] = 0;
	}
}

void
ndr_w_put_u32(struct ndr_w *w, size_t at, uint32_t v)
{
	if (w->err || at > w->len || w->len - at < 4) {
		w->err = 1;
		return;
	}
	ndr_le32(w->buf + at, v);
}
