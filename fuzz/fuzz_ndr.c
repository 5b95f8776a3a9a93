/*
 * libFuzzer target for the NDR readers and writers (ndr.c).  The input is
 * a program and the buffer it runs on: the first byte says how long the
 * program is, each of its bytes a read (or, for the writers, a write into
 * a buffer of a size the input picks).  The readers never point outside
 * their buffer, an error sticks and every later read gives 0, a string's
 * counts agree with each other and the buffer; the writers never write
 * past their cap.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ndr.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* A pointer the reader gave: inside the buffer, n bytes of it there. */
static void
fuzz_inside(const struct ndr_r *r, const uint8_t *p, size_t n)
{
	if (p == NULL)
		return;
	if (p < r->p || (size_t)(p - r->p) > r->len ||
	    n > r->len - (size_t)(p - r->p))
		abort();
}

static void
fuzz_read(const uint8_t *prog, size_t nprog, const uint8_t *buf, size_t len)
{
	struct ndr_r	 r;
	const uint8_t	*s;
	uint32_t	 n, max;
	uint64_t	 v;
	size_t		 i;
	int		 err, rc;

	ndr_r_init(&r, buf, len);
	for (i = 0; i < nprog; i++) {
		err = r.err;
		v = 0;
		switch (prog[i] % 10) {
		case 0: v = ndr_r_u8(&r); break;
		case 1: v = ndr_r_u16(&r); break;
		case 2: v = ndr_r_u32(&r); break;
		case 3: v = ndr_r_u64(&r); break;
		case 4: v = ndr_r_ptr(&r); break;
		case 5: ndr_r_align(&r, (size_t)1 << (prog[i] / 10 % 4)); break;
		case 6:
			n = prog[i] / 10;
			s = ndr_r_bytes(&r, n);
			if ((s == NULL) != (r.err != 0))
				abort();
			fuzz_inside(&r, s, n);
			break;
		case 7:
			rc = ndr_r_wstr(&r, &s, &n);
			if ((rc == -1) != (r.err != 0) ||
			    (rc == 0 && s == NULL))
				abort();
			fuzz_inside(&r, s, (size_t)n * 2);
			break;
		default:
			rc = ndr_r_wstr_max(&r, &s, &max, &n);
			if ((rc == -1) != (r.err != 0) || (rc == 0 && n > max))
				abort();
			fuzz_inside(&r, s, (size_t)n * 2);
			break;
		}
		if (r.off > r.len || (err && !r.err) || (r.err && v != 0))
			abort();
	}
}

static void
fuzz_write(const uint8_t *prog, size_t nprog, size_t cap)
{
	static const char	*const strs[] = { "", "IPC$", "ACCOUNTING-PC3",
	    "C:\\WINDOWS\\system32" };
	uint8_t			*buf;
	struct ndr_w		 w;
	size_t			 i, before;
	int			 err;

	if ((buf = malloc(cap + 1)) == NULL)
		return;
	buf[cap] = 0xa5;	/* past the cap: must stay */
	ndr_w_init(&w, buf, cap);
	for (i = 0; i < nprog; i++) {
		err = w.err;
		before = w.len;
		switch (prog[i] % 9) {
		case 0: ndr_w_u8(&w, prog[i]); break;
		case 1: ndr_w_u16(&w, prog[i]); break;
		case 2: ndr_w_u32(&w, prog[i]); break;
		case 3: ndr_w_u64(&w, prog[i]); break;
		case 4: ndr_w_ptr(&w); break;
		case 5: ndr_w_align(&w, (size_t)1 << (prog[i] / 9 % 4)); break;
		case 6: ndr_w_bytes(&w, prog, prog[i] / 9 % (nprog + 1)); break;
		case 7: ndr_w_wstr(&w, strs[prog[i] / 9 % 4]); break;
		default: ndr_w_put_u32(&w, prog[i] / 9, prog[i]); break;
		}
		if (w.len > w.cap || (err && w.len != before) ||
		    (err && !w.err))
			abort();
	}
	if (buf[cap] != 0xa5)
		abort();
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t	nprog;

	if (size < 2)
		return 0;
	nprog = data[0] < size - 2 ? data[0] : size - 2;
	fuzz_read(data + 2, nprog, data + 2 + nprog, size - 2 - nprog);
	fuzz_write(data + 2, nprog, data[1]);
	return 0;
}
