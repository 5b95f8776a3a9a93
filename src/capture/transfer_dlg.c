/*
 * The framing of a file transfer (transfer_dlg.h): a small state machine
 * fed with whatever pieces the socket gives.
 */
#include <stdlib.h>
#include <string.h>

#include "transfer_dlg.h"

void
transfer_dlg_init(struct transfer_dlg *d, int keyed, unsigned prefix,
    uint64_t max)
{
	memset(d, 0, sizeof(*d));
	d->prefix = prefix == 4 ? 4 : 0;
	d->max = max;
	d->state = keyed ? TRANSFER_DLG_STAGE : d->prefix ?
	    TRANSFER_DLG_PREFIX : TRANSFER_DLG_FILE;
}

void
transfer_dlg_free(struct transfer_dlg *d)
{
	free(d->buf);
	d->buf = NULL;
	d->len = d->cap = 0;
}

void
transfer_dlg_fail(struct transfer_dlg *d, const char *why)
{
	transfer_dlg_free(d);
	d->state = TRANSFER_DLG_FAILED;
	d->why = why;
}

/*
 * Makes room for n more bytes of file, doubling from TRANSFER_DLG_CHUNK
 * so that a small file holds little memory; 0, or -1 failed.
 */
static int
transfer_dlg_room(struct transfer_dlg *d, size_t n)
{
	size_t	 want = d->len + n, cap = d->cap;
	uint8_t	*p;

	if (n > d->max || d->len > d->max - n) {
		transfer_dlg_fail(d, "max_size");
		return -1;
	}
	if (want <= d->cap)
		return 0;
	if (cap == 0)
		cap = TRANSFER_DLG_CHUNK;
	while (cap < want)
		cap = cap > SIZE_MAX / 2 ? want : cap * 2;
	if (cap > d->max)
		cap = (size_t)d->max;
	if ((p = realloc(d->buf, cap)) == NULL) {
		transfer_dlg_fail(d, "memory");
		return -1;
	}
	d->buf = p;
	d->cap = cap;
	return 0;
}

/* The file's bytes, up to the announced end when there is one. */
static enum transfer_dlg_next
transfer_dlg_file(struct transfer_dlg *d, const uint8_t *p, size_t n)
{
	size_t	take = n;

	if (d->prefix && d->expect - d->len < take)
		take = (size_t)(d->expect - d->len);
	if (take > 0) {
		if (transfer_dlg_room(d, take) == -1)
			return TRANSFER_DLG_ERROR;
		memcpy(d->buf + d->len, p, take);
		d->len += take;
	}
	if (d->prefix && d->len == d->expect) {
		if (d->len == 0) {
			transfer_dlg_fail(d, "empty");
			return TRANSFER_DLG_ERROR;
		}
		d->ignored += n - take;
		d->state = TRANSFER_DLG_DONE;
		return TRANSFER_DLG_COMPLETE;
	}
	return TRANSFER_DLG_MORE;
}

enum transfer_dlg_next
transfer_dlg_input(struct transfer_dlg *d, const uint8_t *p, size_t n)
{
	size_t	k;

	switch (d->state) {
	case TRANSFER_DLG_STAGE:
		if (n == 0)
			return TRANSFER_DLG_MORE;
		/* The peer's turn is one read, as the shellcode's recv(). */
		d->stage += n;
		d->state = d->prefix ? TRANSFER_DLG_PREFIX : TRANSFER_DLG_FILE;
		return TRANSFER_DLG_SEND_KEY;
	case TRANSFER_DLG_PREFIX:
		k = sizeof(d->lenbuf) - d->lenhave;
		if (k > n)
			k = n;
		memcpy(d->lenbuf + d->lenhave, p, k);
		d->lenhave += k;
		if (d->lenhave < sizeof(d->lenbuf))
			return TRANSFER_DLG_MORE;
		d->expect = (uint64_t)d->lenbuf[0] |
		    (uint64_t)d->lenbuf[1] << 8 |
		    (uint64_t)d->lenbuf[2] << 16 |
		    (uint64_t)d->lenbuf[3] << 24;
		/* Refused before a byte of it is kept. */
		if (d->expect > d->max) {
			transfer_dlg_fail(d, "max_size");
			return TRANSFER_DLG_ERROR;
		}
		d->state = TRANSFER_DLG_FILE;
		return transfer_dlg_file(d, p + k, n - k);
	case TRANSFER_DLG_FILE:
		return transfer_dlg_file(d, p, n);
	case TRANSFER_DLG_DONE:
		d->ignored += n;
		return TRANSFER_DLG_COMPLETE;
	case TRANSFER_DLG_FAILED:
	default:
		return TRANSFER_DLG_ERROR;
	}
}

enum transfer_dlg_next
transfer_dlg_quiet(struct transfer_dlg *d)
{
	if (d->state != TRANSFER_DLG_STAGE)
		return TRANSFER_DLG_MORE;
	d->state = d->prefix ? TRANSFER_DLG_PREFIX : TRANSFER_DLG_FILE;
	return TRANSFER_DLG_SEND_KEY;
}

int
transfer_dlg_eof(struct transfer_dlg *d)
{
	switch (d->state) {
	case TRANSFER_DLG_DONE:
		return 0;
	case TRANSFER_DLG_FILE:
		if (d->prefix && d->len < d->expect) {
			transfer_dlg_fail(d, "closed_early");
			return -1;
		}
		if (d->len == 0) {
			transfer_dlg_fail(d, "empty");
			return -1;
		}
		d->state = TRANSFER_DLG_DONE;
		return 0;
	case TRANSFER_DLG_STAGE:
	case TRANSFER_DLG_PREFIX:
		transfer_dlg_fail(d, "closed_early");
		return -1;
	case TRANSFER_DLG_FAILED:
	default:
		return -1;
	}
}
