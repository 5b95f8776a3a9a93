/*
 * The pattern layer of the analyser (DESIGN.md section 6): a pre-filter fast
 * enough for every byte of every session, the offsets worth emulating
 * (GetPC sequences and the decoder heads around them), byte and dword XOR
 * decoders (decoded, then scanned again), bind and connect-back
 * signatures, URLs and shell commands in clear, and known worm bodies.
 * Every read is checked against the buffer's length: the input is hostile.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sc_int.h"

#define SC_PAT_DEPTH	3		/* decoders inside decoders */
#define SC_PAT_MAXDEC	(1 << 20)	/* bytes one decoder may yield */
#define SC_PAT_SLED	8		/* NOPs that make a sled */

/* Exported for the unit test only: the first XOR decoder's output. */
size_t	sc_pattern_xor_decode(const uint8_t *, size_t, uint8_t *, size_t);

static const uint8_t *sc_memcasemem(const uint8_t *, size_t, const char *);
static void	sc_pattern_scan_depth(const uint8_t *, size_t,
		    struct sc_result *, int);

/* The x86 GetPC idioms: where the code learns its own address. */
struct sc_getpc {
	size_t	pos;	/* the call, or the fnstenv */
	size_t	pop;	/* the pop that receives the address */
	size_t	base;	/* the address popped */
	size_t	head;	/* where the decoder stub starts */
	size_t	setup;	/* where the walk back to head began */
};

static int32_t
sc_le32(const uint8_t *p)
{
	return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 |
	    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

/* ------------------------------------------------------------------ */
/* Pre-filter                                                          */

static int
sc_prefilter_at(const uint8_t *b, size_t i, size_t len)
{
	size_t	left = len - i, j, n;

	switch (b[i]) {
	case 0xe8:	/* call $+5; pop, call $+4, call back (jmp/call/pop) */
		if (left < 5)
			return 0;
		/* e8 00 00 00 00 alone is a common little-endian 232. */
		if (b[i + 1] == 0 && b[i + 2] == 0 && b[i + 3] == 0 &&
		    b[i + 4] == 0)
			return left >= 6 && b[i + 5] >= 0x58 && b[i + 5] <= 0x5f;
		return b[i + 2] == 0xff && b[i + 3] == 0xff &&
		    b[i + 4] == 0xff;
	case 0xd9:	/* fnstenv [esp-0xc] */
		return left >= 4 && b[i + 1] == 0x74 && b[i + 2] == 0x24 &&
		    b[i + 3] == 0xf4;
	case 0x64:	/* the PEB through fs:[0x30] */
		if (left < 5)
			return 0;
		if (b[i + 1] == 0xa1 && b[i + 2] == 0x30 && b[i + 3] == 0)
			return 1;
		if (b[i + 1] != 0x8b)
			return 0;
		if ((b[i + 2] & 0xc7) == 0x40 && b[i + 3] == 0x30)
			return 1;
		return (b[i + 2] & 0xc7) == 0x05 && b[i + 3] == 0x30 &&
		    b[i + 4] == 0;
	case 0x90:	/* a NOP sled */
		for (n = 0; i + n < len && b[i + n] == 0x90; n++)
			if (n + 1 >= SC_PAT_SLED)
				return 1;
		return 0;
	case 0xc1:	/* ror r32, 13; add: the block_api name hash */
		return left >= 4 && b[i + 1] >= 0xc8 && b[i + 1] <= 0xcf &&
		    b[i + 2] == 0x0d && (b[i + 3] == 0x01 || b[i + 3] == 0x03);
	case 0xcd:	/* two int 0x80 close together: Linux syscalls */
		if (left < 2 || b[i + 1] != 0x80)
			return 0;
		for (j = i + 2; j + 1 < len && j < i + 64; j++)
			if (b[j] == 0xcd && b[j + 1] == 0x80)
				return 1;
		return 0;
	}
	return 0;
}

/* Whether the n bytes at p are s, ignoring the case of letters. */
static int
sc_lc_eq(const uint8_t *p, const char *s, size_t n)
{
	size_t	k;

	for (k = 0; k < n; k++) {
		if (p[k] != (uint8_t)s[k] && (s[k] < 'a' || s[k] > 'z' ||
		    p[k] != (uint8_t)(s[k] - 'a' + 'A')))
			return 0;
	}
	return 1;
}

/*
 * The alphanumeric decoder stubs (sc_alpha.c) around an 'X': "VTX630"
 * (Pex), "VTX30" (alpha_upper), "jAXP" (alpha_mixed), "jXAQ"
 * (unicode_mixed) and "QATAX" (unicode_upper), the last two also as the
 * UTF-16 text an exploit may carry them in.
 */
static int
sc_prefilter_alpha(const uint8_t *b, size_t i, size_t len)
{
	size_t	left = len - i;

	if (i >= 2 && memcmp(b + i - 2, "jA", 2) == 0)
		return left >= 2 && b[i + 1] == 'P';
	if (i >= 2 && memcmp(b + i - 2, "VT", 2) == 0)
		return (left >= 4 && memcmp(b + i + 1, "630", 3) == 0) ||
		    (left >= 3 && memcmp(b + i + 1, "30", 2) == 0);
	if (i >= 1 && b[i - 1] == 'j')
		return left >= 3 && memcmp(b + i + 1, "AQ", 2) == 0;
	if (i >= 2 && b[i - 2] == 'j' && b[i - 1] == 0)
		return left >= 5 && memcmp(b + i + 1, "\0A\0Q", 4) == 0;
	return (i >= 4 && memcmp(b + i - 4, "QATA", 4) == 0) ||
	    (i >= 8 && memcmp(b + i - 8, "Q\0A\0T\0A\0", 8) == 0);
}

/*
 * Shell commands and alphanumeric decoder heads, keyed on a punctuation
 * byte so that ordinary text costs one table look-up per byte:
 * "cmd /", "cmd.exe", "tftp -i", "tftp.exe", "echo open", and the stubs
 * of sc_prefilter_alpha().
 */
static int
sc_prefilter_text(const uint8_t *b, size_t i, size_t len)
{
	size_t	left = len - i;

	switch (b[i]) {
	case '/':
		return i >= 4 && sc_lc_eq(b + i - 4, "cmd ", 4);
	case '.':
		if (left < 4 || !sc_lc_eq(b + i + 1, "exe", 3))
			return 0;
		return (i >= 3 && sc_lc_eq(b + i - 3, "cmd", 3)) ||
		    (i >= 4 && sc_lc_eq(b + i - 4, "tftp", 4));
	case '-':
		return i >= 5 && left >= 2 && sc_lc_eq(b + i - 5, "tftp ", 5) &&
		    (b[i + 1] | 0x20) == 'i';
	case ' ':
		return i >= 4 && left >= 5 && sc_lc_eq(b + i - 4, "echo", 4) &&
		    sc_lc_eq(b + i + 1, "open", 4);
	case 'X':
		return sc_prefilter_alpha(b, i, len);
	}
	return 0;
}

int
sc_prefilter(const uint8_t *buf, size_t len)
{
	/* The bytes where a test starts; all others cost one look-up. */
	static const uint8_t	 hot[256] = {
		[0xe8] = 1, [0xd9] = 1, [0x64] = 1, [0x90] = 1, [0xc1] = 1,
		[0xcd] = 1, ['/'] = 1, ['.'] = 1, ['-'] = 1, [' '] = 1,
		['X'] = 1
	};
	size_t			 i;

	if (buf == NULL || len == 0)
		return 0;
	for (i = 0; i < len; i++)
		if (hot[buf[i]] && (sc_prefilter_at(buf, i, len) ||
		    sc_prefilter_text(buf, i, len)))
			return 1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* GetPC sites and decoder heads                                       */

static int
sc_is_pop(uint8_t c)
{
	return c >= 0x58 && c <= 0x5f;
}

/*
 * The lengths of the set-up instructions a decoder may have right before
 * p (clear ecx, load a count or a key, cld, an FPU instruction), most
 * likely first, into len[] (room for 8); how many.  Bytes may read as
 * more than one: the last two of a mov's key may look like a xor.
 */
static size_t
sc_setup_lengths(const uint8_t *b, size_t p, size_t len[8])
{
	size_t	n = 0;

	if (p >= 2 && (b[p - 2] == 0x31 || b[p - 2] == 0x33 ||
	    b[p - 2] == 0x29 || b[p - 2] == 0x2b) && b[p - 1] >= 0xc0)
		len[n++] = 2;
	if (p >= 6 && b[p - 6] == 0x81 && b[p - 5] == 0xe9)
		len[n++] = 6;
	if (p >= 5 && b[p - 5] >= 0xb8 && b[p - 5] <= 0xbf)
		len[n++] = 5;
	if (p >= 4 && b[p - 4] == 0x66 && b[p - 3] == 0xb9)
		len[n++] = 4;
	if (p >= 3 && b[p - 3] == 0x83 && b[p - 2] == 0xe9)
		len[n++] = 3;
	if (p >= 3 && b[p - 3] == 0x6a && sc_is_pop(b[p - 1]))
		len[n++] = 3;
	if (p >= 2 && (b[p - 2] == 0xb1 ||
	    (b[p - 2] >= 0xd8 && b[p - 2] <= 0xdf && b[p - 1] >= 0xc0)))
		len[n++] = 2;
	if (p >= 1 && b[p - 1] == 0xfc)
		len[n++] = 1;
	return n;
}

/* The most likely set-up instruction right before p: its length, or 0. */
static size_t
sc_setup_before(const uint8_t *b, size_t p)
{
	size_t	len[8];

	return sc_setup_lengths(b, p, len) > 0 ? len[0] : 0;
}

/* Walks back from p over up to 8 set-up instructions; where they start. */
static size_t
sc_back_over_setup(const uint8_t *b, size_t p)
{
	size_t	n;
	int	k;

	for (k = 0; k < 8 && (n = sc_setup_before(b, p)) > 0; k++)
		p -= n;
	return p;
}

/* Follows up to three short jumps from t; returns where they lead. */
static long
sc_follow_jmps(const uint8_t *b, size_t len, long t)
{
	int	k;

	for (k = 0; k < 3 && t >= 0 && (size_t)t + 1 < len &&
	    b[t] == 0xeb; k++)
		t = t + 2 + (int8_t)b[t + 1];
	return t;
}

/* The forward jump (eb or e9) in [lo, pop) that lands on the call at c. */
static long
sc_jmp_to(const uint8_t *b, size_t len, size_t lo, size_t pop, size_t c)
{
	size_t	j;

	for (j = pop; j > lo; j--) {
		if (j - 1 + 2 <= len && b[j - 1] == 0xeb &&
		    (long)(j - 1) + 2 + (int8_t)b[j] == (long)c)
			return (long)(j - 1);
		if (j + 4 <= len && j - 1 + 5 <= len && b[j - 1] == 0xe9 &&
		    (long)(j - 1) + 5 + sc_le32(b + j) == (long)c)
			return (long)(j - 1);
	}
	return -1;
}

static int
sc_getpc_call(const uint8_t *b, size_t len, size_t c, struct sc_getpc *g)
{
	int32_t	rel;
	long	t, j;

	if (c + 5 > len)
		return 0;
	rel = sc_le32(b + c + 1);
	g->pos = c;
	g->base = c + 5;
	if (rel == 0) {				/* call $+5; pop */
		if (c + 6 > len || !sc_is_pop(b[c + 5]))
			return 0;
		g->pop = c + 5;
		g->setup = c;
		g->head = sc_back_over_setup(b, c);
		return 1;
	}
	if (rel == -1) {			/* call $+4; inc r; pop */
		if (c + 7 > len || b[c + 5] < 0xc0 || b[c + 5] > 0xc7 ||
		    !sc_is_pop(b[c + 6]))
			return 0;
		g->pop = c + 6;
		g->setup = c;
		g->head = sc_back_over_setup(b, c);
		return 1;
	}
	if (rel >= 0 || rel < -1024)
		return 0;
	t = (long)c + 5 + rel;			/* jmp; pop; ...; call back */
	if (t < 0)
		return 0;
	t = sc_follow_jmps(b, len, t);
	if (t < 0)
		return 0;
	/* The pop may come after the set-up of the count. */
	for (j = t; j < t + 16 && (size_t)j < len && !sc_is_pop(b[j]); j++)
		;
	if ((size_t)j >= len || j >= t + 16 || (size_t)j == c)
		return 0;
	t = j;
	g->pop = (size_t)t;
	j = -1;
	if ((size_t)t < c)
		j = sc_jmp_to(b, len, (size_t)t > 64 ? (size_t)t - 64 : 0,
		    (size_t)t, c);
	g->setup = j >= 0 ? (size_t)j : ((size_t)t < c ? (size_t)t : c);
	g->head = sc_back_over_setup(b, g->setup);
	return 1;
}

static int
sc_getpc_fpu(const uint8_t *b, size_t len, size_t f, struct sc_getpc *g)
{
	size_t	p;

	if (f + 5 > len || !sc_is_pop(b[f + 4]))
		return 0;
	/* fnstenv saves the address of the last FPU instruction. */
	for (p = f >= 2 ? f - 2 : 0; p + 16 >= f && p < f; p--) {
		if (b[p] >= 0xd8 && b[p] <= 0xdf && b[p + 1] >= 0xc0) {
			g->pos = f;
			g->pop = f + 4;
			g->base = p;
			g->setup = p;
			g->head = sc_back_over_setup(b, p);
			return 1;
		}
		if (p == 0)
			break;
	}
	return 0;
}

/* All GetPC sites of buf, in the order of the buffer; at most max. */
static size_t
sc_getpc_find(const uint8_t *b, size_t len, struct sc_getpc *out, size_t max)
{
	size_t	i, n = 0;

	for (i = 0; i < len && n < max; i++) {
		if (b[i] == 0xe8 && sc_getpc_call(b, len, i, &out[n]))
			n++;
		else if (b[i] == 0xd9 && i + 4 <= len && b[i + 1] == 0x74 &&
		    b[i + 2] == 0x24 && b[i + 3] == 0xf4 &&
		    sc_getpc_fpu(b, len, i, &out[n]))
			n++;
	}
	return n;
}

static void
sc_cand_add(long *offs, size_t *n, size_t max, long off)
{
	size_t	i;

	if (off < 0 || *n >= max)
		return;
	for (i = 0; i < *n; i++)
		if (offs[i] == off)
			return;
	offs[(*n)++] = off;
}

/*
 * The other places the set-up before a GetPC site may start: the walk
 * back took the likeliest reading of each instruction and went on as far
 * as it could, but bytes may read two ways (a mov's key ending like a
 * xor) and junk before the stub may look like set-up (a mov r32, imm32).
 * Every reading, three instructions deep, at most 8 offsets.
 */
static void
sc_setup_heads(const uint8_t *b, const struct sc_getpc *g, long *offs,
    size_t *n, size_t max)
{
	size_t	at[8], next[8], len[8], nat = 1, nnext, added = 0, k, j, d, m;

	at[0] = g->setup;
	for (d = 0; d < 3 && nat > 0 && added < 8; d++) {
		nnext = 0;
		for (k = 0; k < nat; k++) {
			m = sc_setup_lengths(b, at[k], len);
			for (j = 0; j < m && nnext < 8 && added < 8; j++) {
				next[nnext++] = at[k] - len[j];
				if (at[k] - len[j] != g->head) {
					sc_cand_add(offs, n, max,
					    (long)(at[k] - len[j]));
					added++;
				}
			}
		}
		memcpy(at, next, nnext * sizeof(at[0]));
		nat = nnext;
	}
}

static int
sc_is_movi(uint8_t c)		/* mov r32, imm32 */
{
	return c >= 0xb8 && c <= 0xbf;
}

static int
sc_is_fpu_reg(const uint8_t *p)	/* an FPU instruction on registers */
{
	return p[0] >= 0xd8 && p[0] <= 0xdf && p[1] >= 0xc0;
}

/*
 * The heads of fnstenv [esp-0xc] GetPC stubs as shikata_ga_nai lays them
 * out, at most max.  Its blocks come in a random order: the mov of its
 * key may fall between fnstenv and the pop of the FPU instruction's
 * address, where sc_getpc_fpu (which wants the pop right after fnstenv)
 * does not look, and sc_back_over_setup may walk into whatever bytes
 * precede the stub.  Behind other bytes (no NOP sled, not at offset 0)
 * such a stub had no candidate at its head.  The head is the FPU
 * instruction right before fnstenv or before the key's mov, or that mov
 * before the FPU instruction.
 */
static void
sc_fpu_heads(const uint8_t *b, size_t len, long *offs, size_t *n,
    size_t max)
{
	size_t	f;

	for (f = 2; f + 10 <= len && *n + 2 <= max; f++) {
		if (b[f] != 0xd9 || b[f + 1] != 0x74 || b[f + 2] != 0x24 ||
		    b[f + 3] != 0xf4)
			continue;
		if (!sc_is_pop(b[f + 4]) && (!sc_is_movi(b[f + 4]) ||
		    !sc_is_pop(b[f + 9])))
			continue;
		if (sc_is_fpu_reg(b + f - 2)) {
			if (f >= 7 && sc_is_movi(b[f - 7]))
				sc_cand_add(offs, n, max, (long)(f - 7));
			sc_cand_add(offs, n, max, (long)(f - 2));
		} else if (f >= 7 && sc_is_movi(b[f - 5]) &&
		    sc_is_fpu_reg(b + f - 7))
			sc_cand_add(offs, n, max, (long)(f - 7));
	}
}

size_t
sc_pattern_candidates(const uint8_t *buf, size_t len, long *offsets,
    size_t max)
{
	struct sc_getpc	 g[SC_MAX_CANDIDATES];
	size_t		 ng, i, k, n = 0, run = 0;

	if (buf == NULL || len == 0 || max == 0)
		return 0;
	/* Half at most: bytes full of fnstenv must not crowd out the rest. */
	sc_fpu_heads(buf, len, offsets, &n, max / 2);
	ng = sc_getpc_find(buf, len, g, SC_MAX_CANDIDATES);
	for (i = 0; i < ng; i++)		/* decoder heads first */
		sc_cand_add(offsets, &n, max, (long)g[i].head);
	for (i = 0; i < ng; i++)
		sc_cand_add(offsets, &n, max, (long)g[i].pos);
	for (i = 0; i < ng; i++)
		sc_setup_heads(buf, &g[i], offsets, &n, max);
	/*
	 * Before fnstenv, shikata_ga_nai mixes its FPU instruction with the
	 * key's mov: a key byte may look like FPU code, so try every one.
	 */
	for (i = 0; i < ng; i++) {
		if (buf[g[i].pos] != 0xd9)
			continue;
		for (k = g[i].pos > 16 ? g[i].pos - 16 : 0; k + 2 <= g[i].pos;
		    k++)
			if (sc_is_fpu_reg(buf + k))
				sc_cand_add(offsets, &n, max,
				    (long)sc_back_over_setup(buf, k));
	}
	for (i = 0; i < len && n < max; i++) {
		/* The end of a NOP sled, PEB access, int 0x80 code. */
		if (buf[i] == 0x90) {
			run++;
			continue;
		}
		if (run >= SC_PAT_SLED)
			sc_cand_add(offsets, &n, max, (long)i);
		run = 0;
		if (buf[i] == 0x64 && sc_prefilter_at(buf, i, len))
			sc_cand_add(offsets, &n, max,
			    (long)sc_back_over_setup(buf, i));
	}
	sc_cand_add(offsets, &n, max, 0);
	return n;
}

/* ------------------------------------------------------------------ */
/* XOR decoders                                                        */

/* One xor [ptr+disp], key loop, as found in the bytes. */
struct sc_xor {
	size_t		head;	/* start of the stub */
	size_t		start;	/* first encoded byte */
	size_t		size;	/* encoded bytes in buf */
	uint8_t		key[4];
	size_t		unit;	/* 1 (byte key) or 4 (dword key) */
};

/*
 * The loop count set in [lo, i): mov cx, n; mov cl, n; mov ecx, n (and a
 * following xor ecx, n); sub ecx, -n; push n; pop ecx.  0 if none.
 */
static uint32_t
sc_xor_count(const uint8_t *b, size_t lo, size_t i)
{
	size_t		p;
	uint32_t	v;

	for (p = i; p-- > lo;) {
		if (p + 4 <= i && b[p] == 0x66 && b[p + 1] == 0xb9)
			return (uint32_t)b[p + 2] | (uint32_t)b[p + 3] << 8;
		if (p + 5 <= i && b[p] == 0xb9 && (p == 0 || b[p - 1] != 0x66)) {
			v = (uint32_t)sc_le32(b + p + 1);
			if (p + 11 <= i && b[p + 5] == 0x81 && b[p + 6] == 0xf1)
				v ^= (uint32_t)sc_le32(b + p + 7);
			return v;
		}
		if (p + 2 <= i && b[p] == 0xb1 && (p == 0 || b[p - 1] != 0x66))
			return b[p + 1];
		if (p + 3 <= i && b[p] == 0x83 && b[p + 1] == 0xe9)
			return (uint32_t)-(int32_t)(int8_t)b[p + 2];
		if (p + 6 <= i && b[p] == 0x81 && b[p + 1] == 0xe9)
			return (uint32_t)-sc_le32(b + p + 2);
		if (p + 3 <= i && b[p] == 0x6a && b[p + 2] == 0x59)
			return b[p + 1];
	}
	return 0;
}

/* Whether a loop (loop, or jnz) back to at most i follows within 16. */
static int
sc_xor_loops(const uint8_t *b, size_t len, size_t i, size_t end)
{
	size_t	p;

	for (p = end; p + 2 <= len && p < end + 16; p++)
		if ((b[p] == 0xe2 || b[p] == 0x75) && (int8_t)b[p + 1] < 0 &&
		    (long)p + 2 + (int8_t)b[p + 1] <= (long)i)
			return 1;
	return 0;
}

/*
 * Reads the xor instruction at i (80 /6 ib or 81 /6 id) whose pointer
 * register was loaded by one of the GetPC sites; fills x.  0 if it is
 * not a decoder we can follow.
 */
/* The operand of an xor instruction: [base + index + disp]. */
struct sc_xor_mem {
	uint8_t	base;
	uint8_t	index;		/* 4: none */
	long	disp;
	size_t	end;		/* offset of the immediate key */
};

/* Reads the ModRM (and SIB, displacement) of 80/81 /6 at i; 0 if not. */
static int
sc_xor_modrm(const uint8_t *b, size_t len, size_t i, struct sc_xor_mem *o)
{
	size_t	p = i + 2;
	uint8_t	m = b[i + 1], mod, rm;

	mod = m >> 6;
	rm = m & 7;
	if (mod == 3 || ((m >> 3) & 7) != 6)
		return 0;
	o->base = rm;
	o->index = 4;
	o->disp = 0;
	if (rm == 4) {
		if (p >= len || (b[p] >> 6) != 0)
			return 0;
		o->base = b[p] & 7;
		o->index = (b[p] >> 3) & 7;
		p++;
	}
	if (mod == 0 && o->base == 5)
		return 0;
	if (mod == 1 && p + 1 <= len)
		o->disp = (int8_t)b[p++];
	else if (mod == 2 && p + 4 <= len) {
		o->disp = sc_le32(b + p);
		p += 4;
	} else if (mod != 0)
		return 0;
	o->end = p;
	return 1;
}

/*
 * Reads the xor instruction at i (80 /6 ib or 81 /6 id) whose pointer
 * register was loaded by one of the GetPC sites; fills x.  0 if it is
 * not a decoder we can follow.
 */
static int
sc_xor_at(const uint8_t *b, size_t len, size_t i, const struct sc_getpc *g,
    size_t ng, struct sc_xor *x)
{
	struct sc_xor_mem	 o;
	size_t			 k, q;
	uint8_t			 rm;
	long			 ptr;
	uint32_t		 count;

	if (i + 3 > len || !sc_xor_modrm(b, len, i, &o))
		return 0;
	x->unit = b[i] == 0x80 ? 1 : 4;
	if (o.end + x->unit > len)
		return 0;
	memset(x->key, 0, sizeof(x->key));
	memcpy(x->key, b + o.end, x->unit);
	if (!sc_xor_loops(b, len, i, o.end + x->unit))
		return 0;
	/* [ptr+ecx]: the counter indexes the bytes, count..1 */
	if (o.index == 1) {
		o.index = o.base;
		o.base = 1;
	}
	if (o.index != 4 && o.base != 1)
		return 0;
	if (o.index != 4) {
		rm = o.index;
		o.disp += (long)x->unit;
	} else
		rm = o.base;
	for (k = ng; k-- > 0;) {
		if (g[k].pop >= i || i - g[k].pop > 48 ||
		    b[g[k].pop] != 0x58 + rm)
			continue;
		ptr = (long)g[k].base;
		for (q = g[k].pop + 1; q < i; q++) {
			if (b[q] == 0x48 + rm)
				ptr--;
			else if (b[q] == 0x40 + rm)
				ptr++;
		}
		count = sc_xor_count(b, g[k].head < g[k].pop ? g[k].head :
		    (i > 48 ? i - 48 : 0), i);
		if (count == 0 || count > SC_PAT_MAXDEC / x->unit ||
		    ptr + o.disp < 0 || (size_t)(ptr + o.disp) >= len)
			return 0;
		x->head = g[k].head;
		x->start = (size_t)(ptr + o.disp);
		x->size = (size_t)count * x->unit;
		if (x->size > len - x->start)
			x->size = len - x->start;
		return x->size >= 8;
	}
	return 0;
}

/* Finds the next XOR decoder at or after *from; 1 and x filled, or 0. */
static int
sc_xor_next(const uint8_t *b, size_t len, const struct sc_getpc *g,
    size_t ng, size_t *from, struct sc_xor *x)
{
	size_t	i;

	for (i = *from; i + 3 <= len; i++) {
		if ((b[i] == 0x80 || b[i] == 0x81) &&
		    sc_xor_at(b, len, i, g, ng, x)) {
			*from = i + 1;
			return 1;
		}
	}
	*from = len;
	return 0;
}

static uint8_t *
sc_xor_apply(const uint8_t *b, const struct sc_xor *x)
{
	uint8_t	*out;
	size_t	 k;

	if ((out = malloc(x->size)) == NULL)
		return NULL;
	for (k = 0; k < x->size; k++)
		out[k] = b[x->start + k] ^ x->key[k % x->unit];
	return out;
}

/*
 * For the unit test: decodes the first XOR decoder of buf into out (at
 * most outmax bytes); returns the decoded length, or 0 if none.
 */
size_t
sc_pattern_xor_decode(const uint8_t *buf, size_t len, uint8_t *out,
    size_t outmax)
{
	struct sc_getpc	 g[SC_MAX_CANDIDATES];
	struct sc_xor	 x;
	size_t		 ng, from = 0, k;

	ng = sc_getpc_find(buf, len, g, SC_MAX_CANDIDATES);
	if (!sc_xor_next(buf, len, g, ng, &from, &x))
		return 0;
	for (k = 0; k < x.size && k < outmax; k++)
		out[k] = buf[x.start + k] ^ x.key[k % x.unit];
	return k;
}

/* ------------------------------------------------------------------ */
/* Arithmetic dword decoders (clet and its kind)                       */

#define SC_ARITH_OPS	16

/* mov r, [p]; a chain of add/sub/xor/rol/ror/not/neg/bswap; mov [p], r */
struct sc_arith {
	size_t		head;
	size_t		start;
	size_t		nops;
	uint8_t		op[SC_ARITH_OPS];	/* see sc_arith_apply */
	uint32_t	imm[SC_ARITH_OPS];
};

enum { SC_A_ADD, SC_A_SUB, SC_A_XOR, SC_A_ROL, SC_A_ROR, SC_A_NOT,
    SC_A_NEG, SC_A_BSWAP };

/* Reads one operation on register r at b[p]; its length, or 0. */
static size_t
sc_arith_op(const uint8_t *b, size_t len, size_t p, uint8_t r,
    struct sc_arith *a)
{
	uint8_t	m, sub;

	if (p + 2 > len || a->nops >= SC_ARITH_OPS)
		return 0;
	if (b[p] == 0x40 + r || b[p] == 0x48 + r) {
		a->op[a->nops] = b[p] == 0x40 + r ? SC_A_ADD : SC_A_SUB;
		a->imm[a->nops++] = 1;
		return 1;
	}
	if (b[p] == 0x0f && b[p + 1] == 0xc8 + r) {
		a->op[a->nops++] = SC_A_BSWAP;
		return 2;
	}
	m = b[p + 1];
	if ((m >> 6) != 3 || (m & 7) != r)
		return 0;
	sub = (m >> 3) & 7;
	switch (b[p]) {
	case 0x81:
	case 0x83:
		if (sub != 0 && sub != 5 && sub != 6)
			return 0;
		a->op[a->nops] = sub == 0 ? SC_A_ADD : sub == 5 ? SC_A_SUB :
		    SC_A_XOR;
		if (b[p] == 0x81) {
			if (p + 6 > len)
				return 0;
			a->imm[a->nops++] = (uint32_t)sc_le32(b + p + 2);
			return 6;
		}
		if (p + 3 > len)
			return 0;
		a->imm[a->nops++] = (uint32_t)(int32_t)(int8_t)b[p + 2];
		return 3;
	case 0xc1:
	case 0xd1:
		if (sub != 0 && sub != 1)
			return 0;
		a->op[a->nops] = sub == 0 ? SC_A_ROL : SC_A_ROR;
		if (b[p] == 0xd1) {
			a->imm[a->nops++] = 1;
			return 2;
		}
		if (p + 3 > len)
			return 0;
		a->imm[a->nops++] = b[p + 2] & 31;
		return 3;
	case 0xf7:
		if (sub != 2 && sub != 3)
			return 0;
		a->op[a->nops++] = sub == 2 ? SC_A_NOT : SC_A_NEG;
		return 2;
	}
	return 0;
}

/*
 * A loop that loads a dword through the register the GetPC popped,
 * transforms it and stores it back.  The data run from the popped
 * address; the loop's own count is not trusted (clet's junk can cut it
 * short), so the whole rest of the buffer is decoded.
 */
static int
sc_arith_at(const uint8_t *b, size_t len, const struct sc_getpc *g,
    struct sc_arith *a)
{
	uint8_t	ptr, r, m;
	size_t	p, load = 0, k, n;
	int	found = 0;

	ptr = b[g->pop] - 0x58;
	if (ptr == 4 || ptr == 5)
		return 0;
	for (p = g->pop + 1; p + 2 <= len && p < g->pop + 40; p++) {
		m = b[p + 1];
		if (b[p] == 0x8b && (m >> 6) == 0 && (m & 7) == ptr &&
		    ((m >> 3) & 7) != ptr) {
			load = p;
			found = 1;
			break;
		}
	}
	if (!found)
		return 0;
	r = (b[load + 1] >> 3) & 7;
	memset(a, 0, sizeof(*a));
	for (p = load + 2; p + 2 <= len;) {
		if (b[p] == 0x89 && b[p + 1] == (uint8_t)(r << 3 | ptr))
			break;
		if ((n = sc_arith_op(b, len, p, r, a)) == 0)
			return 0;
		p += n;
	}
	if (p + 2 > len || a->nops == 0)
		return 0;
	/* A jump back to the load closes the loop. */
	for (k = p + 2; k + 2 <= len && k < p + 48; k++)
		if ((b[k] == 0xeb || b[k] == 0x75 || b[k] == 0xe2) &&
		    (int8_t)b[k + 1] < 0 &&
		    (long)k + 2 + (int8_t)b[k + 1] <= (long)load &&
		    (long)k + 2 + (int8_t)b[k + 1] > (long)g->pop) {
			a->head = g->head;
			a->start = g->base;
			return a->start + 8 <= len;
		}
	return 0;
}

static uint32_t
sc_rol(uint32_t v, unsigned int n)
{
	n &= 31;
	return n == 0 ? v : (v << n | v >> (32 - n));
}

/* The decoded bytes from a->start to the end of b (whole dwords). */
static uint8_t *
sc_arith_apply(const uint8_t *b, size_t len, const struct sc_arith *a,
    size_t *outlen)
{
	uint8_t		*out;
	uint32_t	 v;
	size_t		 n, p, k;

	n = (len - a->start) & ~(size_t)3;
	if ((out = malloc(n)) == NULL)
		return NULL;
	for (p = 0; p < n; p += 4) {
		v = (uint32_t)sc_le32(b + a->start + p);
		for (k = 0; k < a->nops; k++) {
			switch (a->op[k]) {
			case SC_A_ADD:	v += a->imm[k];			break;
			case SC_A_SUB:	v -= a->imm[k];			break;
			case SC_A_XOR:	v ^= a->imm[k];			break;
			case SC_A_ROL:	v = sc_rol(v, a->imm[k]);		break;
			case SC_A_ROR:	v = sc_rol(v, 32 - a->imm[k]);	break;
			case SC_A_NOT:	v = ~v;				break;
			case SC_A_NEG:	v = 0 - v;			break;
			case SC_A_BSWAP:
				v = v >> 24 | (v >> 8 & 0xff00) |
				    (v << 8 & 0xff0000) | v << 24;
				break;
			}
		}
		out[p] = (uint8_t)v;
		out[p + 1] = (uint8_t)(v >> 8);
		out[p + 2] = (uint8_t)(v >> 16);
		out[p + 3] = (uint8_t)(v >> 24);
	}
	*outlen = n;
	return out;
}

/* ------------------------------------------------------------------ */
/* Signatures in clear                                                 */

/*
 * Whether the code names a shell ("cmd" as a string or pushed, Linux
 * "/sh"): a socket without one is a file transfer or a stager.
 */
static int
sc_has_shell(const uint8_t *b, size_t len)
{
	return sc_memcasemem(b, len, "cmd") != NULL ||
	    memmem(b, len, "\x66\x68\x63\x6d", 4) != NULL ||
	    memmem(b, len, "/sh", 3) != NULL;
}

static void
sc_add_shell(struct sc_result *res, const uint8_t *host, uint16_t port,
    long off, int shell, enum sc_evidence ev)
{
	struct sc_action	a;

	if (port == 0)
		return;
	memset(&a, 0, sizeof(a));
	a.evidence = ev;
	a.port = port;
	a.kind = shell ? SC_BIND_SHELL : SC_RECEIVE_FILE;
	snprintf(a.mode, sizeof(a.mode), "%s", shell ? "" : "bind");
	if (host != NULL && !(host[0] == 0 && host[1] == 0 && host[2] == 0 &&
	    host[3] == 0) && !(host[0] == 0xff && host[1] == 0xff)) {
		a.kind = shell ? SC_CONNECT_SHELL : SC_RECEIVE_FILE;
		snprintf(a.mode, sizeof(a.mode), "%s", shell ? "" : "connect");
		snprintf(a.host, sizeof(a.host), "%u.%u.%u.%u", host[0],
		    host[1], host[2], host[3]);
	}
	(void)sc_result_add(res, &a);
	res->shellcode = 1;
	if (res->offset < 0)
		res->offset = off;
}

/*
 * sockaddr_in built in code: push 0xPPPP0002 (68 02 00 P P), mov dword
 * [r], 0xPPPP0002 (c7 0r 02 00 P P), push word P + push word 2 (66 68 P P
 * then 66 6a 02 or 66 53).  A push of a host just before means connect.
 */
static void
sc_sig_sockaddr(const uint8_t *b, size_t len, struct sc_result *res,
    enum sc_evidence ev)
{
	const uint8_t	*host;
	size_t		 i;
	int		 shell;

	shell = sc_has_shell(b, len);
	for (i = 0; i + 5 <= len; i++) {
		host = NULL;
		/* Not when the bytes are a call's or a jump's operand. */
		if (i > 0 && (b[i - 1] == 0xe8 || b[i - 1] == 0xe9 ||
		    b[i - 1] == 0x66))
			continue;
		if (b[i] == 0x68 && b[i + 1] == 0x02 && b[i + 2] == 0x00) {
			if (i >= 5 && b[i - 5] == 0x68)
				host = b + i - 4;
			sc_add_shell(res, host, (uint16_t)(b[i + 3] << 8 |
			    b[i + 4]), (long)i, shell, ev);
		} else if (b[i] == 0xc7 && i + 6 <= len && b[i + 1] <= 0x07 &&
		    b[i + 1] != 0x04 && b[i + 1] != 0x05 &&
		    b[i + 2] == 0x02 && b[i + 3] == 0x00) {
			sc_add_shell(res, NULL, (uint16_t)(b[i + 4] << 8 |
			    b[i + 5]), (long)i, shell, ev);
		} else if (b[i] == 0x66 && b[i + 1] == 0x68 && i + 8 <= len && ((b[i + 4] == 0x66 && b[i + 5] == 0x6a &&
		    b[i + 6] == 0x02) || (b[i + 5] == 0x66 && b[i + 6] == 0x53) ||
		    (b[i + 4] == 0x66 && b[i + 5] == 0x53))) {
			if (i >= 5 && b[i - 5] == 0x68)
				host = b + i - 4;
			sc_add_shell(res, host, (uint16_t)(b[i + 2] << 8 |
			    b[i + 3]), (long)i, shell, ev);
		}
	}
}

static int
sc_url_char(uint8_t c)
{
	return c > 0x20 && c < 0x7f && c != '"' && c != '\'' && c != '<' &&
	    c != '>' && c != '`' && c != '\\';
}

/* http://, https://, ftp://, tftp:// followed by a host: downloads. */
static void
sc_sig_urls(const uint8_t *b, size_t len, struct sc_result *res,
    enum sc_evidence ev)
{
	static const char *const schemes[] = { "http://", "https://",
	    "ftp://", "tftp://" };
	struct sc_action	 a;
	const uint8_t		*p, *q, *end = b + len;
	size_t			 k, n;

	for (k = 0; k < sizeof(schemes) / sizeof(schemes[0]); k++) {
		n = strlen(schemes[k]);
		for (p = b; p < end && (q = memmem(p, (size_t)(end - p),
		    schemes[k], n)) != NULL; p = q + n) {
			/* "tftp://" also holds "ftp://": skip that one. */
			if (k == 2 && q > b && q[-1] == 't')
				continue;
			for (p = q + n; p < end && sc_url_char(*p); p++)
				;
			if (p - q < (long)n + 3 || p - q >= SC_URL_MAX)
				continue;
			memset(&a, 0, sizeof(a));
			a.kind = SC_DOWNLOAD;
			a.evidence = ev;
			memcpy(a.url, q, (size_t)(p - q));
			(void)sc_result_add(res, &a);
		}
	}
}

/* Case-insensitive memmem for a short lower-case needle. */
static const uint8_t *
sc_memcasemem(const uint8_t *b, size_t len, const char *needle)
{
	size_t	n = strlen(needle), i, k;

	for (i = 0; i + n <= len; i++) {
		for (k = 0; k < n; k++)
			if (tolower(b[i + k]) != needle[k])
				break;
		if (k == n)
			return b + i;
	}
	return NULL;
}

/* cmd /c ..., tftp -i ..., echo open ...: the printable line from there. */
static void
sc_sig_commands(const uint8_t *b, size_t len, struct sc_result *res,
    enum sc_evidence ev)
{
	static const char *const heads[] = { "cmd /c", "cmd /k",
	    "cmd.exe /c", "cmd.exe /k", "tftp -i", "tftp.exe -i",
	    "echo open" };
	struct sc_action	 a;
	const uint8_t		*q, *best, *p = b, *end = b + len;
	size_t			 k, n, found;

	/* Bounded: each round searches the rest of the buffer again. */
	for (found = 0; found < SC_MAX_ACTIONS; found++) {
		best = NULL;
		for (k = 0; k < sizeof(heads) / sizeof(heads[0]); k++) {
			q = sc_memcasemem(p, (size_t)(end - p), heads[k]);
			if (q != NULL && (best == NULL || q < best))
				best = q;
		}
		if (best == NULL)
			return;
		for (p = best; p < end && (*p == '\t' ||
		    (*p >= 0x20 && *p < 0x7f)); p++)
			;
		n = (size_t)(p - best);
		if (n >= SC_CMD_MAX)
			n = SC_CMD_MAX - 1;
		memset(&a, 0, sizeof(a));
		a.kind = SC_EXEC;
		a.evidence = ev;
		memcpy(a.command, best, n);
		(void)sc_result_add(res, &a);
	}
}

/*
 * SQL Slammer's UDP body: no API resolution to hook, but it pushes
 * "sock", "send", "ws2_32.dll" as immediates and calls through
 * sqlsort.dll's import table at fixed addresses.
 */
static void
sc_sig_slammer(const uint8_t *b, size_t len, struct sc_result *res)
{
	static const struct {
		const char	*s;
		size_t		 n;
	} marks[] = {
		{ "\x68\xdc\xc9\xb0\x42", 5 },	/* push jmp esp in sqlsort */
		{ "\xbe\x18\x10\xae\x42", 5 },	/* mov esi, &LoadLibraryA */
		{ "\xbe\x10\x10\xae\x42", 5 },	/* mov esi, &GetProcAddress */
		{ "\x68\x73\x6f\x63\x6b", 5 },	/* push "sock" */
		{ "\x68\x73\x65\x6e\x64", 5 },	/* push "send" */
		{ "\x68\x77\x73\x32\x5f", 5 },	/* push "ws2_" */
	};
	const uint8_t	*first = NULL, *q;
	size_t		 k, hits = 0;

	for (k = 0; k < sizeof(marks) / sizeof(marks[0]); k++) {
		if ((q = memmem(b, len, marks[k].s, marks[k].n)) == NULL)
			continue;
		hits++;
		if (first == NULL || q < first)
			first = q;
	}
	if (hits < 4)
		return;
	snprintf(res->family, sizeof(res->family), "sql-slammer");
	res->shellcode = 1;
	if (res->offset < 0)
		res->offset = (long)(first - b);
}

/*
 * Alphanumeric decoders (sc_alpha.c): named wherever their stub is, and
 * decoded (then scanned again) while the depth allows.
 */
static void
sc_pattern_alpha(const uint8_t *b, size_t len, struct sc_result *res,
    int depth)
{
	struct sc_alpha	 al;
	uint8_t		*dec;
	size_t		 from = 0, n = 0, declen;

	while (n++ < 4 && sc_alpha_next(b, len, &from, &al)) {
		sc_result_decoder(res, "alpha");
		res->shellcode = 1;
		if (res->offset < 0 && depth == 0)
			res->offset = (long)al.head;
		if (depth >= SC_PAT_DEPTH || al.npairs == 0)
			continue;
		/* npairs is at most half the input. */
		if ((dec = malloc(al.npairs)) == NULL)
			return;
		declen = sc_alpha_decode(b, len, &al, dec, al.npairs);
		sc_pattern_scan_depth(dec, declen, res, depth + 1);
		free(dec);
	}
}

/* ------------------------------------------------------------------ */
/* The scan                                                            */

static void
sc_pattern_scan_depth(const uint8_t *b, size_t len, struct sc_result *res,
    int depth)
{
	struct sc_getpc	 g[SC_MAX_CANDIDATES];
	struct sc_xor	 x;
	struct sc_arith	 a;
	uint8_t		*dec;
	size_t		 ng, from = 0, ndec = 0, k, declen;
	enum sc_evidence ev;

	/*
	 * Bytes a decoder of the payload produced were hidden on purpose:
	 * what is found in them is meant.  In clear it may be any text.
	 */
	ev = depth > 0 ? SC_EV_DECODED : SC_EV_CLEAR;
	if (depth == 0)
		sc_sig_slammer(b, len, res);
	sc_pattern_alpha(b, len, res, depth);
	sc_sig_sockaddr(b, len, res, ev);
	sc_sig_commands(b, len, res, ev);
	/* A URL in ordinary text means nothing; in code or decoded, a lot. */
	if (depth > 0 || sc_prefilter(b, len))
		sc_sig_urls(b, len, res, ev);
	if (depth >= SC_PAT_DEPTH)
		return;
	ng = sc_getpc_find(b, len, g, SC_MAX_CANDIDATES);
	while (ndec < 4 && sc_xor_next(b, len, g, ng, &from, &x)) {
		ndec++;
		sc_result_decoder(res, "xor");
		res->shellcode = 1;
		if (res->offset < 0 && depth == 0)
			res->offset = (long)x.head;
		if ((dec = sc_xor_apply(b, &x)) == NULL)
			return;
		sc_pattern_scan_depth(dec, x.size, res, depth + 1);
		free(dec);
	}
	for (k = 0; k < ng && ndec < 4; k++) {
		if (!sc_arith_at(b, len, &g[k], &a))
			continue;
		if ((dec = sc_arith_apply(b, len, &a, &declen)) == NULL)
			return;
		ndec++;
		sc_result_decoder(res, "clet");
		res->shellcode = 1;
		if (res->offset < 0 && depth == 0)
			res->offset = (long)a.head;
		sc_pattern_scan_depth(dec, declen, res, depth + 1);
		free(dec);
	}
}

void
sc_pattern_scan(const uint8_t *buf, size_t len, struct sc_result *res)
{
	if (buf == NULL || len == 0 || res == NULL)
		return;
	sc_pattern_scan_depth(buf, len, res, 0);
}
