/*
 * Fuzzes the framing of the file transfers (transfer_dlg.h) as data
 * arrives in pieces.  Input: a flags byte (bit 0 keyed, bit 1 the 4-byte
 * length prefix), two bytes of size cap, then pieces, each a length byte
 * and that many bytes (a length of 0: the peer is quiet a while, the
 * time-out of the key's turn).  The outcome is checked against a model of the
 * dialogue written over the whole stream at once: the same file, byte
 * for byte, or the same reason; never more memory than the cap.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "transfer_dlg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The stream the dialogue sees, the key's turn taken out. */
struct fuzz_model {
	uint8_t		stream[65536];
	size_t		len;
	int		spoke;		/* the peer's turn came */
};

/* What the dialogue must end with: 0 and the file, or -1 and why. */
static int
fuzz_expect(const struct fuzz_model *m, int keyed, unsigned prefix,
    size_t max, size_t *off, size_t *flen, const char **why)
{
	uint64_t	expect;

	*off = 0;
	*flen = m->len;
	if (keyed && !m->spoke) {
		*why = "closed_early";
		return -1;
	}
	if (prefix) {
		if (m->len < 4) {
			*why = "closed_early";
			return -1;
		}
		expect = (uint64_t)m->stream[0] | (uint64_t)m->stream[1] << 8 |
		    (uint64_t)m->stream[2] << 16 | (uint64_t)m->stream[3] << 24;
		*off = 4;
		*why = expect > max ? "max_size" : expect == 0 ? "empty" :
		    m->len - 4 < expect ? "closed_early" : NULL;
		*flen = (size_t)expect;
		return *why == NULL ? 0 : -1;
	}
	*why = m->len > max ? "max_size" : m->len == 0 ? "empty" : NULL;
	return *why == NULL ? 0 : -1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_model	m;
	struct transfer_dlg		d;
	enum transfer_dlg_next		r;
	const char			*why;
	size_t				 max, i, n, off, flen;
	int				 keyed, rc, want;
	unsigned			 prefix;

	if (size < 3 || size > sizeof(m.stream))
		return 0;
	keyed = data[0] & 1;
	prefix = data[0] & 2 ? 4 : 0;
	max = (size_t)data[1] | (size_t)data[2] << 8;
	m.len = 0;
	m.spoke = 0;
	transfer_dlg_init(&d, keyed, prefix, max);
	for (i = 3; i < size; i += n) {
		n = data[i++];
		if (n > size - i)
			n = size - i;
		if (n == 0) {
			/* A length of 0: the peer was quiet a while. */
			r = transfer_dlg_quiet(&d);
			if (r != (keyed && !m.spoke ? TRANSFER_DLG_SEND_KEY :
			    TRANSFER_DLG_MORE))
				abort();
			m.spoke = 1;
			continue;
		}
		r = transfer_dlg_input(&d, data + i, n);
		if (keyed && !m.spoke) {
			m.spoke = 1;
			if (r != TRANSFER_DLG_SEND_KEY)
				abort();
		} else {
			memcpy(m.stream + m.len, data + i, n);
			m.len += n;
			if (r == TRANSFER_DLG_SEND_KEY)
				abort();
		}
		if (d.len > max || d.cap > (max > 0 ? max : 0))
			abort();
	}
	rc = d.state == TRANSFER_DLG_DONE ? 0 : transfer_dlg_eof(&d);
	want = fuzz_expect(&m, keyed, prefix, max, &off, &flen, &why);
	if (rc != want)
		abort();
	if (rc == 0 && (d.len != flen ||
	    (flen > 0 && memcmp(d.buf, m.stream + off, flen) != 0)))
		abort();
	if (rc == -1 && (strcmp(d.why, why) != 0 || d.buf != NULL))
		abort();
	transfer_dlg_free(&d);
	return 0;
}
