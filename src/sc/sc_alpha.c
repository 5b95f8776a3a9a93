/*
 * Static decoding of the alphanumeric decoders (DESIGN.md section 6):
 * SkyLined's ALPHA2 and Metasploit's alpha_mixed, alpha_upper,
 * unicode_mixed and unicode_upper, and the older Pex alpha encoder
 * (Metasploit 2's PexAlphaNum).  Each is a fixed stub, after a register
 * set-up that varies with the exploit, followed by the payload at two
 * characters a byte up to a terminator.  The stub is found by its fixed
 * body, so whatever set-up precedes it does not matter; the pairs are
 * decoded with the stub's own arithmetic, and the pattern layer scans the
 * result again.  The input is hostile: every read is checked against its
 * length, and the work is linear in it.
 */
#include <string.h>

#include "sc_int.h"

#define SC_ALPHA_MAXDEC	(1 << 20)	/* bytes one decoder may yield */
#define SC_ALPHA_BODY	128		/* longest stub body, in characters */

enum { SC_ALPHA_OP_XOR, SC_ALPHA_OP_ADD, SC_ALPHA_OP_PEX };

/*
 * One family.  The body names the decoder; the tail must follow it for
 * the data to be decoded (the Pex stub was also seen cut after its first
 * part, which names it but leaves nothing to decode).  The characters of
 * the stub that its loop patches (the jump back) are part of the body:
 * the payload's first pair starts right after the tail.
 */
struct sc_alpha_family {
	const char	*name;
	const char	*body;
	const char	*tail;
	int		 op;
	uint8_t		 term;	/* a pair starting with it ends the data */
	int		 wide;	/* also found in UTF-16 (the unicode ones) */
};

static const struct sc_alpha_family sc_alpha_families[] = {
	/* imul by 0x10 (patched from 'Q'), xor in the second character. */
	{ "alpha_mixed", "jAXP0A0AkAAQ2AB2BB0BBABXP8ABuJI", "",
	    SC_ALPHA_OP_XOR, 'A', 0 },
	{ "alpha_upper", "VTX30VX4AP0A3HH0A00ABAABTAAQ2AB2BB0BBXP8ACJJI", "",
	    SC_ALPHA_OP_XOR, 'A', 0 },
	/* Written through a UTF-16 conversion: the bytes are added. */
	{ "unicode_mixed", "jXAQADAZABARALAYAIAQAIAQAIAhAAAZ1AIAIAJ11AIAIAB"
	    "ABABQI1AIQIAIQI111AIAJQYAZBABABABABkMAGB9u4JB", "",
	    SC_ALPHA_OP_ADD, 'A', 1 },
	{ "unicode_upper", "QATAXAZAPA3QADAZABARALAYAIAQAIAQAPA5AAAPAZ1AI1AIA"
	    "IAJ11AIAIAXA58AAPAZABABQI1AIQIAIQI1111AIAJQI1AYAZBABABABAB30APB9"
	    "44JB", "", SC_ALPHA_OP_ADD, 'A', 1 },
	/* The low nibble in the first character, plus one, xor 'A'. */
	{ "pexalpha", "VTX630VX4A0B6HH0B30BCVX2BDBH4A2A",
	    "D0ADTBDQB0ADAVX4Z8BDJOM", SC_ALPHA_OP_PEX, 'Z', 0 },
};

#define SC_ALPHA_NFAM \
	(sizeof(sc_alpha_families) / sizeof(sc_alpha_families[0]))

static int
sc_alpha_alnum(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
	    (c >= 'a' && c <= 'z');
}

/*
 * Whether the n characters s are at b[p], one every stride bytes (in
 * UTF-16 the byte after each is 0).
 */
static int
sc_alpha_match(const uint8_t *b, size_t len, size_t p, const char *s,
    size_t n, size_t stride)
{
	size_t	k;

	if (p > len || n > (len - p) / stride)
		return 0;
	for (k = 0; k < n; k++) {
		if (b[p + k * stride] != (uint8_t)s[k])
			return 0;
		if (stride == 2 && b[p + k * stride + 1] != 0)
			return 0;
	}
	return 1;
}

/* The first place at or after from where s is, one every stride bytes. */
static long
sc_alpha_find(const uint8_t *b, size_t len, size_t from, const char *s,
    size_t stride)
{
	uint8_t		 needle[2 * SC_ALPHA_BODY];
	const uint8_t	*q;
	size_t		 n = strlen(s), k;

	if (n > SC_ALPHA_BODY || from >= len)
		return -1;
	for (k = 0; k < n; k++) {
		needle[k * stride] = (uint8_t)s[k];
		if (stride == 2)
			needle[k * stride + 1] = 0;
	}
	if ((q = memmem(b + from, len - from, needle, n * stride)) == NULL)
		return -1;
	return (long)(q - b);
}

/*
 * The pairs from b[p] up to the terminator, the first character that is
 * not alphanumeric (the payload never holds one), or the end of the
 * buffer; capped.
 */
static size_t
sc_alpha_pairs(const uint8_t *b, size_t len, size_t p, size_t stride,
    uint8_t term)
{
	size_t	n = 0, unit = 2 * stride;

	while (p <= len && len - p >= unit && n < SC_ALPHA_MAXDEC) {
		if (b[p] == term || !sc_alpha_alnum(b[p]) ||
		    !sc_alpha_alnum(b[p + stride]))
			break;
		if (stride == 2 && (b[p + 1] != 0 || b[p + 3] != 0))
			break;
		n++;
		p += unit;
	}
	return n;
}

/* Fills a for the body of family f found at p. */
static void
sc_alpha_fill(const uint8_t *b, size_t len, size_t f, size_t p,
    size_t stride, struct sc_alpha *a)
{
	const struct sc_alpha_family	*fam = &sc_alpha_families[f];
	size_t				 nb = strlen(fam->body);
	size_t				 nt = strlen(fam->tail);

	memset(a, 0, sizeof(*a));
	a->family = fam->name;
	a->kind = f;
	a->head = p;
	a->stride = stride;
	a->start = p + nb * stride;
	if (!sc_alpha_match(b, len, a->start, fam->tail, nt, stride))
		return;
	a->start += nt * stride;
	a->npairs = sc_alpha_pairs(b, len, a->start, stride, fam->term);
}

int
sc_alpha_next(const uint8_t *b, size_t len, size_t *from, struct sc_alpha *a)
{
	size_t	f, stride, bestf = 0, bests = 1;
	long	p, best = -1;

	if (b == NULL || *from >= len)
		return 0;
	/* The earliest stub of any family, in either width. */
	for (f = 0; f < SC_ALPHA_NFAM; f++) {
		for (stride = 1; stride <= 2; stride++) {
			if (stride == 2 && !sc_alpha_families[f].wide)
				continue;
			p = sc_alpha_find(b, len, *from,
			    sc_alpha_families[f].body, stride);
			if (p >= 0 && (best < 0 || p < best)) {
				best = p;
				bestf = f;
				bests = stride;
			}
		}
	}
	if (best < 0) {
		*from = len;
		return 0;
	}
	sc_alpha_fill(b, len, bestf, (size_t)best, bests, a);
	/* Past the data: no byte is decoded twice. */
	*from = a->npairs > 0 ? a->start + 2 * a->stride * a->npairs :
	    (size_t)best + 1;
	return 1;
}

/* One payload byte from the pair (c0, c1), as the family's loop does it. */
static uint8_t
sc_alpha_byte(int op, uint8_t c0, uint8_t c1)
{
	switch (op) {
	case SC_ALPHA_OP_XOR:	/* imul al by 0x10, xor the second */
		return (uint8_t)((c0 << 4) ^ c1);
	case SC_ALPHA_OP_ADD:	/* imul al by 0x10, add the second */
		return (uint8_t)((c0 << 4) + c1);
	default:		/* dec, xor 'A'; the second shifted in */
		return (uint8_t)(((c0 - 1) ^ 0x41) ^ (c1 << 4));
	}
}

size_t
sc_alpha_decode(const uint8_t *b, size_t len, const struct sc_alpha *a,
    uint8_t *out, size_t outmax)
{
	size_t	k, p;
	int	op;

	if (a->kind >= SC_ALPHA_NFAM || a->stride < 1 || a->stride > 2)
		return 0;
	op = sc_alpha_families[a->kind].op;
	for (k = 0; k < a->npairs && k < outmax; k++) {
		p = a->start + 2 * a->stride * k;
		if (p >= len || len - p < 2 * a->stride)
			break;
		out[k] = sc_alpha_byte(op, b[p], b[p + a->stride]);
	}
	return k;
}
