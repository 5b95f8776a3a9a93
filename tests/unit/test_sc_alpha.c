/*
 * The static alphanumeric decoders (sc_alpha.c): the Pex alpha sample of
 * the corpus ($CORPORA/shellcode) against its unencoded twin, round trips
 * through encoders written here from the published algorithms (ALPHA2 /
 * Metasploit alpha_mixed, alpha_upper, unicode_mixed, unicode_upper, and
 * Pex alpha), and hostile text that must decode to nothing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "corpus.h"

#include "sc_int.h"

#define TEST_MAX	(2 * 1024 * 1024)

#define LIBEMU_00 \
	"libemu_00_win32-bind-exitfunc-seh-lport-4444-size-317-encoder-none.bin"
#define LIBEMU_02 \
	"libemu_02_win32-bind-exitfunc-seh-lport-4444-size-709-" \
	"encoder-pexalpha.bin"

/* The stubs' fixed bodies, as the encoders emit them. */
#define BODY_MIXED	"jAXP0A0AkAAQ2AB2BB0BBABXP8ABuJI"
#define BODY_UPPER	"VTX30VX4AP0A3HH0A00ABAABTAAQ2AB2BB0BBXP8ACJJI"
#define BODY_UMIXED	"jXAQADAZABARALAYAIAQAIAQAIAhAAAZ1AIAIAJ11AIAIABABAB" \
			"QI1AIQIAIQI111AIAJQYAZBABABABABkMAGB9u4JB"
#define BODY_UUPPER	"QATAXAZAPA3QADAZABARALAYAIAQAIAQAPA5AAAPAZ1AI1AIAIAJ" \
			"11AIAIAXA58AAPAZABABQI1AIQIAIQI1111AIAJQI1AYAZBABABA" \
			"BAB30APB944JB"
#define BODY_PEX	"VTX630VX4A0B6HH0B30BCVX2BDBH4A2AD0ADTBDQB0ADAVX4Z8B" \
			"DJOM"

enum { ENC_MIXED, ENC_UPPER, ENC_UMIXED, ENC_UUPPER, ENC_PEX };

static uint8_t		test_in[TEST_MAX], test_enc[TEST_MAX];
static uint8_t		test_dec[TEST_MAX];
static struct sc_result	test_res;

static void
scan(const uint8_t *buf, size_t len)
{
	memset(&test_res, 0, sizeof(test_res));
	test_res.offset = -1;
	sc_pattern_scan(buf, len, &test_res);
}

static int
has_bind(const struct sc_result *res, uint16_t port)
{
	size_t	i;

	for (i = 0; i < res->nactions; i++)
		if (res->actions[i].kind == SC_BIND_SHELL &&
		    res->actions[i].port == port)
			return 1;
	return 0;
}

/* xorshift32: the encoders' choices, the same for a seed on every run. */
static uint32_t
rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Whether the encoder may emit c; the terminators are never allowed. */
static int
enc_allowed(int enc, int c)
{
	if (c >= '0' && c <= '9')
		return 1;
	switch (enc) {
	case ENC_MIXED:
	case ENC_UMIXED:
		return (c >= 'B' && c <= 'Z') || (c >= 'a' && c <= 'z');
	case ENC_PEX:
		return c >= 'A' && c <= 'Y';
	default:
		return c >= 'B' && c <= 'Z';
	}
}

/* A random allowed character whose low nibble is nib. */
static uint8_t
enc_pick(int enc, unsigned int nib, uint32_t *seed)
{
	uint8_t		cand[64];
	size_t		n = 0;
	int		c;

	for (c = '0'; c <= 'z'; c++)
		if (enc_allowed(enc, c) && (unsigned int)(c & 0x0f) == nib)
			cand[n++] = (uint8_t)c;
	assert_true(n > 0);
	return cand[rnd(seed) % n];
}

/*
 * One byte as two characters.  ALPHA2: the first character emitted
 * carries its part of the high nibble (xor, or added for unicode), the
 * second the low nibble and its own free high nibble, picked at random.
 * Pex: the low nibble xor 'A' plus one, then the high nibble in a random
 * character's low nibble.
 */
static void
enc_byte(int enc, uint8_t x, uint32_t *seed, uint8_t pair[2])
{
	unsigned int	hi = x >> 4, lo = x & 0x0f, sec;

	if (enc == ENC_PEX) {
		pair[0] = (uint8_t)((lo ^ 0x41) + 1);
		pair[1] = enc_pick(enc, hi, seed);
		return;
	}
	pair[1] = enc_pick(enc, lo, seed);
	if (enc == ENC_UMIXED || enc == ENC_UUPPER)
		sec = (hi - (pair[1] >> 4)) & 0x0f;
	else
		sec = (hi ^ (pair[1] >> 4)) & 0x0f;
	pair[0] = enc_pick(enc, sec, seed);
}

/* Appends the n characters s to out at *o, widened to UTF-16 if wide. */
static void
put(uint8_t *out, size_t *o, const void *s, size_t n, int wide)
{
	const uint8_t	*p = s;
	size_t		 k;

	for (k = 0; k < n; k++) {
		out[(*o)++] = p[k];
		if (wide)
			out[(*o)++] = 0;
	}
}

/* prefix, the stub's body, the payload, the terminator: the length. */
static size_t
encode(int enc, const char *prefix, const uint8_t *in, size_t n,
    uint32_t seed, int wide, uint8_t *out)
{
	static const char *const bodies[] = { BODY_MIXED, BODY_UPPER,
	    BODY_UMIXED, BODY_UUPPER, BODY_PEX };
	uint8_t		pair[2];
	size_t		o = 0, k;

	put(out, &o, prefix, strlen(prefix), wide);
	put(out, &o, bodies[enc], strlen(bodies[enc]), wide);
	for (k = 0; k < n; k++) {
		enc_byte(enc, in[k], &seed, pair);
		put(out, &o, pair, 2, wide);
	}
	put(out, &o, enc == ENC_PEX ? "Z" : "AA", enc == ENC_PEX ? 1 : 2,
	    wide);
	return o;
}

/* The first stub in buf decoded into test_dec; its length. */
static size_t
decode_first(const uint8_t *buf, size_t len, const char *family)
{
	struct sc_alpha	a;
	size_t		from = 0;

	assert_true(sc_alpha_next(buf, len, &from, &a));
	assert_string_equal(a.family, family);
	return sc_alpha_decode(buf, len, &a, test_dec, TEST_MAX);
}

/* libemu's Pex alpha sample decodes to its unencoded twin, byte for byte. */
static void
test_alpha_libemu02(void **state)
{
	size_t	n, m, k;

	(void)state;
	m = corpus_shellcode(LIBEMU_00, test_in, TEST_MAX);
	n = corpus_shellcode(LIBEMU_02, test_enc, TEST_MAX);
	k = decode_first(test_enc, n, "pexalpha");
	assert_int_equal(k, m);
	assert_memory_equal(test_dec, test_in, m);
	/* The pattern layer alone now sees the bind shell under it. */
	assert_true(sc_prefilter(test_enc, n));
	scan(test_enc, n);
	assert_true(has_bind(&test_res, 4444));
	assert_int_equal(test_res.ndecoders, 1);
	assert_string_equal(test_res.decoders[0], "alpha");
	assert_true(test_res.shellcode);
}

/* Every byte value, then a real payload, under several seeds. */
static void
roundtrip(int enc, const char *family, const char *const *prefixes,
    size_t nprefixes, int wide)
{
	size_t		n, m, k, p;
	uint32_t	seed;

	for (k = 0; k < 256; k++)
		test_in[k] = (uint8_t)k;
	for (p = 0; p < nprefixes; p++) {
		for (seed = 1; seed < 8; seed++) {
			n = encode(enc, prefixes[p], test_in, 256,
			    seed * 2654435761u, wide, test_enc);
			assert_int_equal(decode_first(test_enc, n, family),
			    256);
			assert_memory_equal(test_dec, test_in, 256);
		}
	}
	m = corpus_shellcode(LIBEMU_00, test_in, TEST_MAX);
	n = encode(enc, prefixes[0], test_in, m, 4444, wide, test_enc);
	assert_int_equal(decode_first(test_enc, n, family), m);
	assert_memory_equal(test_dec, test_in, m);
	/* The daemon's pre-filter sends it to the analyser. */
	assert_true(sc_prefilter(test_enc, n));
	scan(test_enc, n);
	assert_true(has_bind(&test_res, 4444));
	assert_string_equal(test_res.decoders[0], "alpha");
}

static void
test_alpha_mixed_roundtrip(void **state)
{
	/* Pointer in eax, ecx, edx; a non-alphanumeric fnstenv GetPC. */
	static const char *const prefixes[] = {
		"PYIIIIIIIIIIIIIIII7QZ", "IIIIIIIIIIICCCCC7QZ",
		"JJJJJJJJJJJJJJJJJ7RY",
		"\x89\xe2\xdb\xc3\xd9\x72\xf4\x59IIIIIIIIIIIICCCC7QZ", "",
	};

	(void)state;
	roundtrip(ENC_MIXED, "alpha_mixed", prefixes,
	    sizeof(prefixes) / sizeof(prefixes[0]), 0);
}

static void
test_alpha_upper_roundtrip(void **state)
{
	static const char *const prefixes[] = {
		"PYIIIIIIIIIIQZ", "TYIIIIICCCCCQZ", "JJJJJJJJJJJRY", "",
	};

	(void)state;
	roundtrip(ENC_UPPER, "alpha_upper", prefixes,
	    sizeof(prefixes) / sizeof(prefixes[0]), 0);
}

/* Before the UTF-16 conversion (as sent) and after it (as in memory). */
static void
test_alpha_unicode_roundtrip(void **state)
{
	static const char *const prefixes[] = { "PPYAIAIAIAIAQATAXA", "" };
	int	wide;

	(void)state;
	for (wide = 0; wide <= 1; wide++) {
		roundtrip(ENC_UMIXED, "unicode_mixed", prefixes, 2, wide);
		roundtrip(ENC_UUPPER, "unicode_upper", prefixes, 2, wide);
	}
}

static void
test_alpha_pex_roundtrip(void **state)
{
	static const char *const prefixes[] = {
		"\xeb\x03\x59\xeb\x05\xe8\xf8\xff\xff\xffOIIIIIIQZ",
		"TZJJJJJRY",
	};

	(void)state;
	roundtrip(ENC_PEX, "pexalpha", prefixes, 2, 0);
}

/*
 * Where the data end: at the terminator, at a character the encoders
 * never emit, or at the end of the buffer (an odd character left over).
 */
static void
test_alpha_data_end(void **state)
{
	size_t	n, k;

	(void)state;
	for (k = 0; k < 64; k++)
		test_in[k] = (uint8_t)(k * 37);
	n = encode(ENC_MIXED, "", test_in, 64, 7, 0, test_enc);
	memcpy(test_enc + n, "BBBB\r\n", 6);	/* after the terminator */
	assert_int_equal(decode_first(test_enc, n + 6, "alpha_mixed"), 64);
	n -= 2;				/* no terminator */
	assert_int_equal(decode_first(test_enc, n, "alpha_mixed"), 64);
	assert_int_equal(decode_first(test_enc, n - 21, "alpha_mixed"), 53);
	test_enc[n - 40] = '\n';	/* a line break in the data */
	assert_int_equal(decode_first(test_enc, n, "alpha_mixed"), 44);
	assert_memory_equal(test_dec, test_in, 44);
}

/* Stubs cut short, stubs with nothing after them: named, not decoded. */
static void
test_alpha_truncated(void **state)
{
	static const char *const bodies[] = { BODY_MIXED, BODY_UPPER,
	    BODY_UMIXED, BODY_UUPPER, BODY_PEX };
	struct sc_alpha	a;
	size_t		k, n, cut, from;

	(void)state;
	for (k = 0; k < sizeof(bodies) / sizeof(bodies[0]); k++) {
		n = strlen(bodies[k]);
		for (cut = 0; cut < n; cut++) {
			from = 0;
			assert_false(sc_alpha_next((const uint8_t *)bodies[k],
			    cut, &from, &a) && a.npairs > 0);
			scan((const uint8_t *)bodies[k], cut);
			assert_int_equal(test_res.nactions, 0);
		}
		from = 0;
		assert_true(sc_alpha_next((const uint8_t *)bodies[k], n, &from,
		    &a));
		assert_int_equal(a.npairs, 0);
		scan((const uint8_t *)bodies[k], n);
		assert_int_equal(test_res.nactions, 0);
		assert_string_equal(test_res.decoders[0], "alpha");
	}
	/* Pex's first part alone names it; nothing to decode. */
	from = 0;
	assert_true(sc_alpha_next((const uint8_t *)
	    "VTX630VX4A0B6HH0B30BCVX2BDBH4A2AXXXXXXXXXXXXXXXXXXXXXXXXXX", 58,
	    &from, &a));
	assert_int_equal(a.npairs, 0);
}

/*
 * Random alphanumeric text, and the stubs over and over, in a buffer
 * that ends anywhere: no decode, no action, no read outside the buffer
 * (ASan), and time linear in the length.
 */
static void
test_alpha_garbage(void **state)
{
	static const char alnum[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz";
	struct sc_alpha	a;
	uint32_t	seed = 99;
	size_t		k, n = 1 << 16, from, found;
	uint8_t		*buf;

	(void)state;
	assert_non_null(buf = malloc(n));
	for (k = 0; k < n; k++)
		buf[k] = (uint8_t)alnum[rnd(&seed) % (sizeof(alnum) - 1)];
	from = 0;
	assert_false(sc_alpha_next(buf, n, &from, &a));
	scan(buf, n);
	assert_int_equal(test_res.nactions, 0);
	assert_int_equal(test_res.ndecoders, 0);
	/* Stubs back to back, each one's data the next stub (garbage). */
	for (k = 0; k + sizeof(BODY_PEX) <= n; k += sizeof(BODY_PEX) - 1)
		memcpy(buf + k, BODY_PEX, sizeof(BODY_PEX) - 1);
	for (found = 0, from = 0; sc_alpha_next(buf, n, &from, &a); found++)
		assert_true(sc_alpha_decode(buf, n, &a, test_dec, TEST_MAX) <=
		    (n - a.start) / 2);
	assert_true(found > 0);
	for (k = n - 200; k < n; k++)
		scan(buf, k);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alpha_libemu02),
		cmocka_unit_test(test_alpha_mixed_roundtrip),
		cmocka_unit_test(test_alpha_upper_roundtrip),
		cmocka_unit_test(test_alpha_unicode_roundtrip),
		cmocka_unit_test(test_alpha_pex_roundtrip),
		cmocka_unit_test(test_alpha_data_end),
		cmocka_unit_test(test_alpha_truncated),
		cmocka_unit_test(test_alpha_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
