/*
 * NDR readers and writers (ndr.c): alignment from the stub's start,
 * little-endian integers, conformant varying strings whose counts are
 * checked against each other and the buffer, and errors that stick.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ndr.h"

static void
test_read_aligned(void **state)
{
	static const uint8_t	b[] = {
		0x11, 0xee, 0x22, 0x33,			/* u8, pad, u16 */
		0x44, 0x55, 0x66, 0x77,			/* u32 */
		1, 2, 3, 4, 5, 6, 7, 8,			/* u64 */
		0xaa,					/* u8 */
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* pad to 8 */
		8, 7, 6, 5, 4, 3, 2, 1,			/* u64 */
		0x04, 0x00, 0x02, 0x00,			/* pointer */
	};
	struct ndr_r	r;

	ndr_r_init(&r, b, sizeof(b));
	assert_int_equal(ndr_r_u8(&r), 0x11);
	assert_int_equal(ndr_r_u16(&r), 0x3322);
	assert_int_equal(ndr_r_u32(&r), 0x77665544);
	assert_true(ndr_r_u64(&r) == 0x0807060504030201ull);
	assert_int_equal(ndr_r_u8(&r), 0xaa);
	assert_true(ndr_r_u64(&r) == 0x0102030405060708ull);
	assert_int_equal(ndr_r_ptr(&r), 0x00020004);
	assert_int_equal(r.off, sizeof(b));
	assert_int_equal(r.err, 0);
}

static void
test_read_past_end_sticks(void **state)
{
	static const uint8_t	b[] = { 1, 2, 3, 4, 5, 6 };
	struct ndr_r		r;

	ndr_r_init(&r, b, sizeof(b));
	assert_int_equal(ndr_r_u32(&r), 0x04030201);
	/* Two bytes are left: a u32 does not fit. */
	assert_int_equal(ndr_r_u32(&r), 0);
	assert_int_equal(r.err, 1);
	/* What would fit is not read after an error. */
	assert_int_equal(ndr_r_u8(&r), 0);
	assert_int_equal(ndr_r_u16(&r), 0);
	assert_null(ndr_r_bytes(&r, 1));
	assert_int_equal(r.err, 1);

	ndr_r_init(&r, b, sizeof(b));
	assert_ptr_equal(ndr_r_bytes(&r, 6), b);
	assert_null(ndr_r_bytes(&r, 1));
	ndr_r_init(&r, b, sizeof(b));
	assert_null(ndr_r_bytes(&r, SIZE_MAX));
	assert_int_equal(r.err, 1);
	/* A u64 past the end gives 0, not half of it. */
	ndr_r_init(&r, b, sizeof(b));
	assert_true(ndr_r_u64(&r) == 0);
	assert_int_equal(r.err, 1);
}

/* A conformant varying string's counts, then n UTF-16 characters. */
static size_t
wstr(uint8_t *p, uint32_t max, uint32_t off, uint32_t n, const char *s)
{
	size_t	i, len = 12;

	memcpy(p, &max, 4);
	memcpy(p + 4, &off, 4);
	memcpy(p + 8, &n, 4);
	for (i = 0; s != NULL && s[i] != '\0'; i++) {
		p[len++] = (uint8_t)s[i];
		p[len++] = 0;
	}
	return len;
}

static void
test_wstr(void **state)
{
	uint8_t		 b[64];
	struct ndr_r	 r;
	const uint8_t	*s;
	uint32_t	 n, max;
	size_t		 len;

	/* "ab\0": 3 characters, 6 bytes, then 2 bytes of padding. */
	len = wstr(b, 3, 0, 3, "ab");
	b[len++] = 0;
	b[len++] = 0;
	memset(b + len, 0xaa, 2);	/* the padding */
	len += 2;
	memcpy(b + len, "\x78\x56\x34\x12", 4);
	len += 4;
	ndr_r_init(&r, b, len);
	assert_int_equal(ndr_r_wstr(&r, &s, &n), 0);
	assert_int_equal(n, 3);
	assert_ptr_equal(s, b + 12);
	assert_memory_equal(s, "a\0b\0\0\0", 6);
	assert_int_equal(ndr_r_u32(&r), 0x12345678);
	assert_int_equal(r.err, 0);

	/* A larger array of which part is sent. */
	len = wstr(b, 10, 2, 1, "x");
	ndr_r_init(&r, b, len);
	assert_int_equal(ndr_r_wstr_max(&r, &s, &max, &n), 0);
	assert_int_equal(max, 10);
	assert_int_equal(n, 1);
	/* It ends the stub without its padding: still a string. */
	assert_int_equal(r.err, 0);
	assert_int_equal(r.off, len);
}

static void
test_wstr_count_mismatch(void **state)
{
	uint8_t		 b[64];
	struct ndr_r	 r;
	const uint8_t	*s;
	uint32_t	 n;
	size_t		 len;

	/* More characters sent than the array holds. */
	len = wstr(b, 2, 0, 3, "abc");
	ndr_r_init(&r, b, len);
	assert_int_equal(ndr_r_wstr(&r, &s, &n), -1);
	assert_int_equal(r.err, 1);
	assert_null(s);
	assert_int_equal(n, 0);
	/* An offset that puts them past its end. */
	len = wstr(b, 4, 3, 2, "ab");
	ndr_r_init(&r, b, len);
	assert_int_equal(ndr_r_wstr(&r, &s, &n), -1);
	/* Counts that wrap around in 32 bits. */
	len = wstr(b, 4, 0xffffffffu, 2, "ab");
	ndr_r_init(&r, b, len);
	assert_int_equal(ndr_r_wstr(&r, &s, &n), -1);
	/* More than the buffer has. */
	len = wstr(b, 100, 0, 100, "ab");
	ndr_r_init(&r, b, len);
	assert_int_equal(ndr_r_wstr(&r, &s, &n), -1);
	assert_int_equal(ndr_r_u32(&r), 0);
	/* Huge counts: no overflow of n * 2. */
	len = wstr(b, 0xffffffffu, 0, 0x80000001u, "ab");
	ndr_r_init(&r, b, len);
	assert_int_equal(ndr_r_wstr(&r, &s, &n), -1);
	/* The counts themselves cut off. */
	ndr_r_init(&r, b, 8);
	assert_int_equal(ndr_r_wstr(&r, &s, &n), -1);
}

static void
test_write(void **state)
{
	static const uint8_t	want[] = {
		0x7f, 0x00, 0x34, 0x12,			/* u8, pad, u16 */
		0x78, 0x56, 0x34, 0x12,			/* u32 */
		1, 2, 3, 4, 5, 6, 7, 8,			/* u64 */
		0x00, 0x00, 0x02, 0x00,			/* pointers */
		0x04, 0x00, 0x02, 0x00,
		0xab,					/* bytes */
		0, 0, 0,				/* pad */
		3, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0,	/* "hi" */
		'h', 0, 'i', 0, 0, 0,
		0, 0, 0x99, 0, 0, 0,			/* pad, u32 */
	};
	uint8_t		buf[128];
	struct ndr_w	w;

	memset(buf, 0xee, sizeof(buf));
	ndr_w_init(&w, buf, sizeof(buf));
	ndr_w_u8(&w, 0x7f);
	ndr_w_u16(&w, 0x1234);
	ndr_w_u32(&w, 0);		/* put later */
	ndr_w_u64(&w, 0x0807060504030201ull);
	ndr_w_ptr(&w);
	ndr_w_ptr(&w);
	ndr_w_bytes(&w, "\xab", 1);
	ndr_w_wstr(&w, "hi");
	ndr_w_u32(&w, 0x99);
	ndr_w_put_u32(&w, 4, 0x12345678);
	assert_int_equal(w.err, 0);
	assert_int_equal(w.len, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
}

static void
test_write_overflow_sticks(void **state)
{
	uint8_t		buf[8];
	struct ndr_w	w;

	memset(buf, 0, sizeof(buf));
	ndr_w_init(&w, buf, 6);
	ndr_w_u32(&w, 0x01010101);
	ndr_w_u32(&w, 0x02020202);	/* does not fit */
	assert_int_equal(w.err, 1);
	assert_int_equal(w.len, 4);
	ndr_w_u8(&w, 3);		/* would fit: dropped */
	assert_int_equal(w.len, 4);
	assert_int_equal(buf[4], 0);
	assert_int_equal(buf[6], 0);	/* nothing past the cap */

	ndr_w_init(&w, buf, sizeof(buf));
	ndr_w_u32(&w, 1);
	ndr_w_put_u32(&w, 2, 7);	/* would run past what was written */
	assert_int_equal(w.err, 1);
	ndr_w_init(&w, buf, sizeof(buf));
	ndr_w_put_u32(&w, SIZE_MAX - 1, 7);
	assert_int_equal(w.err, 1);
	ndr_w_init(&w, buf, sizeof(buf));
	ndr_w_wstr(&w, "toolong");	/* 12 + 16 bytes */
	assert_int_equal(w.err, 1);
	assert_true(w.len <= sizeof(buf));
}

/*
 * A request with an empty stub hands the interface NULL and 0 (the fuzzer
 * found it): reads fail cleanly, and under UBSan without arithmetic on a
 * NULL pointer.
 */
static void
test_read_empty_null_stub(void **state)
{
	struct ndr_r	r;

	(void)state;
	ndr_r_init(&r, NULL, 0);
	assert_int_equal(r.err, 0);
	assert_non_null(ndr_r_bytes(&r, 0));
	assert_int_equal(ndr_r_u32(&r), 0);
	assert_int_equal(r.err, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_aligned),
		cmocka_unit_test(test_read_past_end_sticks),
		cmocka_unit_test(test_wstr),
		cmocka_unit_test(test_wstr_count_mismatch),
		cmocka_unit_test(test_write),
		cmocka_unit_test(test_write_overflow_sticks),
		cmocka_unit_test(test_read_empty_null_stub),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
