/*
 * The framing of Nepenthes' transfers (transfer_dlg.h): a file arrives
 * whole whatever pieces the socket cuts it into; csend's 4-byte length is
 * little-endian and ends the file; a link dialogue answers the key after
 * the peer's first read, never taking those bytes as file; the cap holds
 * for a stream and for an announced length (refused before a byte is
 * kept); an early close fails with the reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "transfer_dlg.h"

#define FILE_LEN	10000

static uint8_t	file[FILE_LEN];

static void
fill_file(void)
{
	size_t	i;

	for (i = 0; i < sizeof(file); i++)
		file[i] = (uint8_t)(i * 131 + (i >> 8));
}

static void
put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/*
 * Feeds wire[0..n) in pieces of step bytes (the last one shorter);
 * returns the index of the piece after which the dialogue said
 * COMPLETE, or -1; every other answer must be MORE.
 */
static long
feed(struct transfer_dlg *d, const uint8_t *wire, size_t n, size_t step)
{
	enum transfer_dlg_next	r;
	size_t			off, k;
	long			piece = 0, done = -1;

	for (off = 0; off < n; off += k, piece++) {
		k = n - off < step ? n - off : step;
		r = transfer_dlg_input(d, wire + off, k);
		if (r == TRANSFER_DLG_COMPLETE && done == -1)
			done = piece;
		else if (r != TRANSFER_DLG_COMPLETE)
			assert_int_equal(r, TRANSFER_DLG_MORE);
	}
	return done;
}

/* csend without a prefix: the stream until close is the file. */
static void
test_stream_any_pieces(void **state)
{
	struct transfer_dlg	d;
	size_t			step;

	(void)state;
	for (step = 1; step <= FILE_LEN + 1; step = step * 3 + 1) {
		transfer_dlg_init(&d, 0, 0, FILE_LEN);
		assert_int_equal(feed(&d, file, FILE_LEN, step), -1);
		assert_int_equal(transfer_dlg_eof(&d), 0);
		assert_int_equal(d.state, TRANSFER_DLG_DONE);
		assert_int_equal(d.len, FILE_LEN);
		assert_memory_equal(d.buf, file, FILE_LEN);
		transfer_dlg_free(&d);
	}
}

/*
 * The 4-byte prefix, cut anywhere: complete at the announced length,
 * whatever follows is not file.
 */
static void
test_prefix_any_pieces(void **state)
{
	static uint8_t		wire[4 + FILE_LEN + 7];
	struct transfer_dlg	d;
	size_t			step, want = 5000;
	long			done;

	(void)state;
	put_le32(wire, (uint32_t)want);
	memcpy(wire + 4, file, want);
	memset(wire + 4 + want, 'X', sizeof(wire) - 4 - want);
	for (step = 1; step <= sizeof(wire); step = step * 2 + 1) {
		transfer_dlg_init(&d, 0, 4, FILE_LEN);
		done = feed(&d, wire, 4 + want, step);
		/* The piece that holds the last announced byte. */
		assert_int_equal(done, (long)((4 + want - 1) / step));
		assert_int_equal(d.len, want);
		assert_memory_equal(d.buf, file, want);
		/* Bytes past the end are counted, not kept. */
		assert_int_equal(transfer_dlg_input(&d, wire + 4 + want, 7),
		    TRANSFER_DLG_COMPLETE);
		assert_int_equal(d.len, want);
		assert_int_equal(d.ignored, 7);
		assert_int_equal(transfer_dlg_eof(&d), 0);
		transfer_dlg_free(&d);
	}
	/* Announced and extra bytes in one read. */
	transfer_dlg_init(&d, 0, 4, FILE_LEN);
	assert_int_equal(transfer_dlg_input(&d, wire, sizeof(wire)),
	    TRANSFER_DLG_COMPLETE);
	assert_int_equal(d.len, want);
	assert_int_equal(d.ignored, sizeof(wire) - 4 - want);
	transfer_dlg_free(&d);
}

/* Little-endian, as the x86 shellcode reads it: 10 00 00 00 is 16. */
static void
test_prefix_little_endian(void **state)
{
	static const uint8_t	wire[] = { 0x10, 0, 0, 0, 'a', 'b', 'c',
	    'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p' };
	struct transfer_dlg	d;

	(void)state;
	transfer_dlg_init(&d, 0, 4, 1024);
	assert_int_equal(transfer_dlg_input(&d, wire, sizeof(wire)),
	    TRANSFER_DLG_COMPLETE);
	assert_int_equal(d.expect, 16);
	assert_int_equal(d.len, 16);
	assert_memory_equal(d.buf, "abcdefghijklmnop", 16);
	transfer_dlg_free(&d);
}

/*
 * The key's turn: the peer's first read (its second stage), whatever its
 * size, is answered by the key and is not file; what follows is.
 */
static void
test_link_key_turn(void **state)
{
	static const uint8_t	stage[300] = { 0xcc };
	struct transfer_dlg	d;
	size_t			step;

	(void)state;
	for (step = 1; step <= FILE_LEN; step = step * 5 + 2) {
		transfer_dlg_init(&d, 1, 0, FILE_LEN);
		assert_int_equal(transfer_dlg_input(&d, stage, sizeof(stage)),
		    TRANSFER_DLG_SEND_KEY);
		assert_int_equal(d.stage, sizeof(stage));
		assert_int_equal(d.len, 0);
		assert_int_equal(feed(&d, file, FILE_LEN, step), -1);
		assert_int_equal(transfer_dlg_eof(&d), 0);
		assert_int_equal(d.len, FILE_LEN);
		assert_memory_equal(d.buf, file, FILE_LEN);
		transfer_dlg_free(&d);
	}
	/* A keyed dialogue with a prefix: key, then length, then file. */
	transfer_dlg_init(&d, 1, 4, FILE_LEN);
	assert_int_equal(transfer_dlg_input(&d, stage, 1),
	    TRANSFER_DLG_SEND_KEY);
	assert_int_equal(transfer_dlg_input(&d, (const uint8_t *)"\3\0\0\0ab",
	    6), TRANSFER_DLG_MORE);
	assert_int_equal(transfer_dlg_input(&d, (const uint8_t *)"c", 1),
	    TRANSFER_DLG_COMPLETE);
	assert_memory_equal(d.buf, "abc", 3);
	transfer_dlg_free(&d);
}

/*
 * A peer that waits for the key instead of speaking: after its quiet
 * while, the key goes and everything that comes is file; once the peer
 * has spoken, its quiet changes nothing.
 */
static void
test_link_quiet_peer(void **state)
{
	struct transfer_dlg	d;

	(void)state;
	transfer_dlg_init(&d, 1, 0, FILE_LEN);
	assert_int_equal(transfer_dlg_quiet(&d), TRANSFER_DLG_SEND_KEY);
	assert_int_equal(transfer_dlg_quiet(&d), TRANSFER_DLG_MORE);
	assert_int_equal(feed(&d, file, FILE_LEN, 1000), -1);
	assert_int_equal(transfer_dlg_eof(&d), 0);
	assert_int_equal(d.stage, 0);
	assert_int_equal(d.len, FILE_LEN);
	assert_memory_equal(d.buf, file, FILE_LEN);
	transfer_dlg_free(&d);

	transfer_dlg_init(&d, 1, 4, FILE_LEN);
	assert_int_equal(transfer_dlg_input(&d, file, 10),
	    TRANSFER_DLG_SEND_KEY);
	assert_int_equal(transfer_dlg_quiet(&d), TRANSFER_DLG_MORE);
	assert_int_equal(d.state, TRANSFER_DLG_PREFIX);
	transfer_dlg_free(&d);

	/* Not keyed: no turn to give up. */
	transfer_dlg_init(&d, 0, 0, FILE_LEN);
	assert_int_equal(transfer_dlg_quiet(&d), TRANSFER_DLG_MORE);
	assert_int_equal(d.state, TRANSFER_DLG_FILE);
}

/* A stream one byte over the cap fails and keeps nothing; at it, fine. */
static void
test_stream_cap(void **state)
{
	struct transfer_dlg	d;

	(void)state;
	transfer_dlg_init(&d, 0, 0, 1000);
	assert_int_equal(feed(&d, file, 1000, 333), -1);
	assert_int_equal(transfer_dlg_eof(&d), 0);
	assert_int_equal(d.len, 1000);
	assert_true(d.cap <= 1000);
	transfer_dlg_free(&d);

	transfer_dlg_init(&d, 0, 0, 1000);
	assert_int_equal(transfer_dlg_input(&d, file, 999), TRANSFER_DLG_MORE);
	assert_int_equal(transfer_dlg_input(&d, file, 2), TRANSFER_DLG_ERROR);
	assert_int_equal(d.state, TRANSFER_DLG_FAILED);
	assert_string_equal(d.why, "max_size");
	assert_null(d.buf);
	assert_int_equal(d.len, 0);
	/* Failed stays failed. */
	assert_int_equal(transfer_dlg_input(&d, file, 1), TRANSFER_DLG_ERROR);
	assert_int_equal(transfer_dlg_eof(&d), -1);
	assert_string_equal(d.why, "max_size");
	transfer_dlg_free(&d);
}

/* An announced length over the cap is refused before any allocation. */
static void
test_prefix_over_cap(void **state)
{
	uint8_t			wire[4];
	struct transfer_dlg	d;

	(void)state;
	put_le32(wire, 1001);
	transfer_dlg_init(&d, 0, 4, 1000);
	assert_int_equal(transfer_dlg_input(&d, wire, 3), TRANSFER_DLG_MORE);
	assert_int_equal(transfer_dlg_input(&d, wire + 3, 1),
	    TRANSFER_DLG_ERROR);
	assert_string_equal(d.why, "max_size");
	assert_null(d.buf);
	transfer_dlg_free(&d);

	/* 0xffffffff: no overflow anywhere. */
	put_le32(wire, 0xffffffffu);
	transfer_dlg_init(&d, 0, 4, 1000);
	assert_int_equal(transfer_dlg_input(&d, wire, 4), TRANSFER_DLG_ERROR);
	assert_string_equal(d.why, "max_size");
	transfer_dlg_free(&d);

	/* At the cap it is taken. */
	put_le32(wire, 1000);
	transfer_dlg_init(&d, 0, 4, 1000);
	assert_int_equal(transfer_dlg_input(&d, wire, 4), TRANSFER_DLG_MORE);
	assert_int_equal(feed(&d, file, 1000, 64), 1000 / 64);
	transfer_dlg_free(&d);
}

/* Every early close and its reason. */
static void
test_early_close(void **state)
{
	uint8_t			wire[4];
	struct transfer_dlg	d;

	(void)state;
	/* Nothing at all: no file. */
	transfer_dlg_init(&d, 0, 0, 1000);
	assert_int_equal(transfer_dlg_eof(&d), -1);
	assert_string_equal(d.why, "empty");

	/* Inside the length. */
	transfer_dlg_init(&d, 0, 4, 1000);
	assert_int_equal(transfer_dlg_input(&d, file, 2), TRANSFER_DLG_MORE);
	assert_int_equal(transfer_dlg_eof(&d), -1);
	assert_string_equal(d.why, "closed_early");

	/* Short of the announced length: nothing kept. */
	put_le32(wire, 100);
	transfer_dlg_init(&d, 0, 4, 1000);
	assert_int_equal(transfer_dlg_input(&d, wire, 4), TRANSFER_DLG_MORE);
	assert_int_equal(transfer_dlg_input(&d, file, 99), TRANSFER_DLG_MORE);
	assert_int_equal(transfer_dlg_eof(&d), -1);
	assert_string_equal(d.why, "closed_early");
	assert_null(d.buf);

	/* A length of 0 announces no file. */
	put_le32(wire, 0);
	transfer_dlg_init(&d, 0, 4, 1000);
	assert_int_equal(transfer_dlg_input(&d, wire, 4), TRANSFER_DLG_ERROR);
	assert_string_equal(d.why, "empty");

	/* Link: the peer never spoke; or spoke and sent no file. */
	transfer_dlg_init(&d, 1, 0, 1000);
	assert_int_equal(transfer_dlg_eof(&d), -1);
	assert_string_equal(d.why, "closed_early");
	transfer_dlg_init(&d, 1, 0, 1000);
	assert_int_equal(transfer_dlg_input(&d, file, 10),
	    TRANSFER_DLG_SEND_KEY);
	assert_int_equal(transfer_dlg_eof(&d), -1);
	assert_string_equal(d.why, "empty");

	/* A time-out or a reset mid-file frees what came. */
	transfer_dlg_init(&d, 0, 0, 1000);
	assert_int_equal(transfer_dlg_input(&d, file, 500), TRANSFER_DLG_MORE);
	transfer_dlg_fail(&d, "timeout");
	assert_null(d.buf);
	assert_int_equal(transfer_dlg_eof(&d), -1);
	assert_string_equal(d.why, "timeout");
}

/* A small file holds one chunk, not the cap. */
static void
test_memory_grows(void **state)
{
	struct transfer_dlg	d;

	(void)state;
	transfer_dlg_init(&d, 0, 0, 16 * 1024 * 1024);
	assert_int_equal(transfer_dlg_input(&d, file, 100), TRANSFER_DLG_MORE);
	assert_int_equal(d.cap, TRANSFER_DLG_CHUNK);
	assert_int_equal(transfer_dlg_input(&d, file, FILE_LEN),
	    TRANSFER_DLG_MORE);
	assert_int_equal(d.cap, 4 * TRANSFER_DLG_CHUNK);
	transfer_dlg_free(&d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_any_pieces),
		cmocka_unit_test(test_prefix_any_pieces),
		cmocka_unit_test(test_prefix_little_endian),
		cmocka_unit_test(test_link_key_turn),
		cmocka_unit_test(test_link_quiet_peer),
		cmocka_unit_test(test_stream_cap),
		cmocka_unit_test(test_prefix_over_cap),
		cmocka_unit_test(test_early_close),
		cmocka_unit_test(test_memory_grows),
	};

	fill_file();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
