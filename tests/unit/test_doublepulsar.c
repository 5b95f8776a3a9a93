/*
 * The DoublePulsar implant as sundew shows it (doublepulsar.c): the key
 * and command arithmetic, uploads recovered with the key the traffic
 * carries (in order, out of order, with a chunk missing), and the whole
 * story through the SMB service: a ping answered as an infected host, an
 * upload stored byte for byte with the PE inside it, the key of an
 * earlier infection, an incomplete upload never stored.
 */
#include "smb_harness.h"

#define TIMEOUT_PING	0x00ee3401	/* WannaCry's: 0x01+0x34+0xee */
#define TIMEOUT_EXEC	0x001a8925	/* 0x25+0x89+0x1a = 0xc8 */
#define TIMEOUT_KILL	0x00000077

static uint32_t
random32(void)
{
	return arc4random();
}

/* A chunk's 12 parameter bytes: total, chunk size, offset, XOR key. */
static void
dp_params(uint8_t *p, uint32_t key, uint32_t total, uint32_t chunk,
    uint32_t off)
{
	smb_put32(p, total ^ key);
	smb_put32(p + 4, chunk ^ key);
	smb_put32(p + 8, off ^ key);
}

/* The upload's bytes from off, encrypted as the attacker does. */
static void
dp_encrypt(uint8_t *dst, const uint8_t *plain, size_t len, uint32_t key,
    size_t off)
{
	uint8_t	k[4];
	size_t	i;

	smb_put32(k, key);
	for (i = 0; i < len; i++)
		dst[i] = plain[i] ^ k[(off + i) & 3];
}

static void
test_arithmetic(void **state)
{
	/* Dionaea's fixed pair, and the WannaCry capture's ping answer. */
	assert_int_equal(smb_dp_key(0x9cf9c567), 0x5e367352);
	assert_int_equal(smb_dp_key(0x69e9f3a8), 0x7b200e39);
	assert_int_equal(smb_dp_opcode(TIMEOUT_PING), 0x23);
	assert_int_equal(smb_dp_opcode(TIMEOUT_EXEC), 0xc8);
	assert_int_equal(smb_dp_opcode(10803622), 0x23);	/* nmap's */
	assert_int_equal(smb_dp_opcode(TIMEOUT_KILL), 0x77);
}

static void
test_pe_size(void **state)
{
	static uint8_t	p[0x2000];

	pe_build(p, 0x1400, 3);
	assert_int_equal(smb_dp_pe_size(p, sizeof(p)), 0x1400);
	/* Cut short, it is not a PE we could store. */
	assert_int_equal(smb_dp_pe_size(p, 0x13ff), 0);
	p[0x80] = 'X';
	assert_int_equal(smb_dp_pe_size(p, sizeof(p)), 0);
	assert_int_equal(smb_dp_pe_size((const uint8_t *)"MZ", 2), 0);
}

#define UP_SIZE	0x1700
#define UP_CHUNK 0x400
#define UP_N	((UP_SIZE + UP_CHUNK - 1) / UP_CHUNK)

/* Feeds chunk i of an upload of plain; the chunk's verdict. */
static int
feed(struct smb_dp *dp, const uint8_t *plain, uint32_t key, size_t i)
{
	uint8_t		prm[12], enc[UP_CHUNK];
	size_t		off = i * UP_CHUNK, len;

	len = UP_SIZE - off < UP_CHUNK ? UP_SIZE - off : UP_CHUNK;
	dp_params(prm, key, UP_SIZE, (uint32_t)len, (uint32_t)off);
	dp_encrypt(enc, plain + off, len, key, off);
	return smb_dp_chunk(dp, prm, 12, enc, len, 16 << 20, 0);
}

static void
test_chunks_orders(void **state)
{
	static uint8_t	 plain[UP_SIZE];
	static const int orders[3][UP_N] = {
		{ 0, 1, 2, 3, 4, 5 },
		{ 5, 4, 3, 2, 1, 0 },
		{ 3, 0, 5, 1, 4, 2 },
	};
	struct smb_dp	*dp;
	uint32_t	 key;
	int		 o, i;

	pe_build(plain, UP_SIZE, 9);
	for (o = 0; o < 3; o++) {
		key = random32();
		assert_non_null(dp = smb_dp_new());
		for (i = 0; i < UP_N; i++)
			assert_int_equal(feed(dp, plain, key, orders[o][i]),
			    i == UP_N - 1 ? SMB_DP_DONE : SMB_DP_MORE);
		assert_int_equal(smb_dp_upload_key(dp), key);
		assert_memory_equal(smb_dp_decrypt(dp), plain, UP_SIZE);
		smb_dp_delete(dp);
	}
	/* A chunk again (a retransmission) changes nothing. */
	key = random32();
	dp = smb_dp_new();
	assert_int_equal(feed(dp, plain, key, 0), SMB_DP_MORE);
	assert_int_equal(feed(dp, plain, key, 0), SMB_DP_MORE);
	assert_int_equal(smb_dp_received(dp), UP_CHUNK);
	smb_dp_delete(dp);
}

static void
test_chunk_missing(void **state)
{
	static uint8_t	 plain[UP_SIZE];
	struct smb_dp	*dp;
	uint32_t	 key = random32();
	int		 i;

	pe_build(plain, UP_SIZE, 1);
	dp = smb_dp_new();
	for (i = 0; i < UP_N; i++)
		if (i != 2)
			assert_int_equal(feed(dp, plain, key, i), SMB_DP_MORE);
	assert_int_equal(smb_dp_received(dp), UP_SIZE - UP_CHUNK);
	assert_int_equal(smb_dp_total(dp), UP_SIZE);
	/* Another key: another upload, this one is left as it is. */
	assert_int_equal(feed(dp, plain, key ^ 0x01010101, 0), SMB_DP_OTHER);
	smb_dp_delete(dp);
}

static void
test_chunk_bad(void **state)
{
	struct smb_dp	*dp = smb_dp_new();
	uint8_t		 prm[12], d[16];

	memset(d, 0, sizeof(d));
	/* A total past the cap, an offset past the total, no parameters. */
	dp_params(prm, 0x11223344, 1000, 16, 0);
	assert_int_equal(smb_dp_chunk(dp, prm, 12, d, 16, 999, 0),
	    SMB_DP_BAD);
	dp_params(prm, 0x11223344, 1000, 16, 990);
	assert_int_equal(smb_dp_chunk(dp, prm, 12, d, 16, 1 << 20, 0),
	    SMB_DP_BAD);
	assert_int_equal(smb_dp_chunk(dp, prm, 11, d, 16, 1 << 20, 0),
	    SMB_DP_BAD);
	smb_dp_delete(dp);
}

/* A Trans2 SESSION_SETUP to the implant. */
static size_t
dp_msg(uint8_t *out, uint16_t mid, uint32_t timeout, const uint8_t *prm,
    const uint8_t *data, uint16_t dlen)
{
	static const uint16_t	setup = 0x000e;
	static const uint8_t	zero[12];

	return trans_primary_build(out, 0x32, mid, &setup, 1, timeout, 12,
	    dlen, prm != NULL ? prm : zero, 12, data, dlen, NULL);
}

/* The ping: answered mid + 16, the key's seed in the signature. */
static uint32_t
ping(struct tsess *t)
{
	uint8_t	msg[256], rep[256];
	size_t	n;

	n = dp_msg(msg, 0x41, TIMEOUT_PING, NULL, NULL, 0);
	assert_int_equal(tsess_send(t, msg, n), 0);
	n = tsess_reply(t, rep, sizeof(rep));
	assert_int_equal(n, 35);
	assert_int_equal(rep[4], 0x32);
	assert_int_equal(smb_get32(rep + 5), 0xc0000002);
	assert_int_equal(smb_get16(rep + 30), 0x51);
	assert_int_equal(smb_get32(rep + 18), 0);	/* x86 */
	assert_int_not_equal(smb_get32(rep + 14), 0);
	return smb_dp_key(smb_get32(rep + 14));
}

/*
 * Sends an upload of plain (size bytes) in chunks of chunk bytes with
 * key, skipping chunk number skip (-1: none); each answered mid + 16.
 */
static void
upload(struct tsess *t, const uint8_t *plain, size_t size, size_t chunk,
    uint32_t key, int skip)
{
	static uint8_t	msg[70000], enc[65536], rep[256];
	uint8_t		prm[12];
	size_t		off, len, n;
	int		i;

	for (i = 0, off = 0; off < size; off += chunk, i++) {
		if (i == skip)
			continue;
		len = size - off < chunk ? size - off : chunk;
		dp_params(prm, key, (uint32_t)size, (uint32_t)len,
		    (uint32_t)off);
		dp_encrypt(enc, plain + off, len, key, off);
		n = dp_msg(msg, 0x42, TIMEOUT_EXEC, prm, enc, (uint16_t)len);
		assert_int_equal(tsess_send(t, msg, n), 0);
		n = tsess_reply(t, rep, sizeof(rep));
		assert_int_equal(n, 35);
		assert_int_equal(smb_get32(rep + 5), 0xc0000002);
		assert_int_equal(smb_get16(rep + 30), 0x52);
	}
}

/* Shellcode, then a PE: the shape of WannaCry's upload. */
#define SC_LEN	0x305
#define PE_LEN	0x2400
static uint8_t	payload[SC_LEN + PE_LEN];

static void
payload_build(uint8_t seed)
{
	size_t	i;

	for (i = 0; i < SC_LEN; i++)
		payload[i] = (uint8_t)(0x90 ^ (seed + i));
	pe_build(payload + SC_LEN, PE_LEN, seed);
}

static int
stored_has(const uint8_t *p, size_t n)
{
	uint8_t	sha[SHA256_DIGEST_LENGTH];
	int	i;

	SHA256(p, n, sha);
	for (i = 0; i < nstored; i++)
		if (stored[i].kind == STORE_BINARY && stored[i].len == n &&
		    memcmp(stored[i].sha, sha, sizeof(sha)) == 0)
			return 1;
	return 0;
}

static void
test_ping_and_upload(void **state)
{
	struct tsess	t;
	uint32_t	key;

	payload_build(5);
	tsess_open(&t, "smb");
	key = ping(&t);
	assert_int_equal(events_count("\"doublepulsar\":\"ping\""), 1);
	assert_int_equal(events_count("sundew.exploit.detected"), 0);
	upload(&t, payload, sizeof(payload), 0x1000, key, -1);
	assert_int_equal(nstored, 2);
	assert_true(stored_has(payload, sizeof(payload)));
	assert_true(stored_has(payload + SC_LEN, PE_LEN));
	assert_int_equal(events_count("\"vuln\":\"DoublePulsar\""), 1);
	tsess_close(&t);
	assert_int_equal(events_count("incomplete"), 0);
}

/*
 * Keys the ping did not give: a random one, then in a new session the
 * key of that earlier infection again, and a second upload in the same
 * session with yet another.
 */
static void
test_upload_other_keys(void **state)
{
	struct tsess	t;
	uint32_t	key = random32(), key2 = random32();

	payload_build(7);
	tsess_open(&t, "smb");
	(void)ping(&t);
	upload(&t, payload, sizeof(payload), 0x1000, key, -1);
	assert_int_equal(nstored, 2);
	assert_true(stored_has(payload + SC_LEN, PE_LEN));
	tsess_close(&t);

	payload_build(8);
	tsess_open(&t, "smb");
	upload(&t, payload, sizeof(payload), 0x800, key, -1);
	assert_true(stored_has(payload, sizeof(payload)));
	assert_true(stored_has(payload + SC_LEN, PE_LEN));
	payload_build(9);
	upload(&t, payload, sizeof(payload), 0x1000, key2, -1);
	assert_int_equal(nstored, 4);
	assert_true(stored_has(payload + SC_LEN, PE_LEN));
	tsess_close(&t);
}

/* A chunk missing: nothing stored, the session's end says so. */
static void
test_upload_incomplete(void **state)
{
	struct tsess	t;
	char		want[160];

	payload_build(11);
	tsess_open(&t, "smb");
	upload(&t, payload, sizeof(payload), 0x400, random32(), 3);
	assert_int_equal(nstored, 0);
	tsess_close(&t);
	assert_int_equal(nstored, 0);
	snprintf(want, sizeof(want), "\"emulator\":\"smb\","
	    "\"command\":\"doublepulsar_upload\",\"status\":\"incomplete\","
	    "\"received\":%zu,\"size\":%zu", sizeof(payload) - 0x400,
	    sizeof(payload));
	assert_int_equal(events_count(want), 1);
}

/* Parameters no key makes sense of: mid + 0x20, as the implant says. */
static void
test_upload_bad_params(void **state)
{
	struct tsess	t;
	uint8_t		msg[512], rep[256], prm[12], d[64];
	size_t		n;

	tsess_open(&t, "smb");
	memset(d, 0, sizeof(d));
	dp_params(prm, 0x55aa55aa, 0x100, 64, 0x100);	/* offset at the end */
	n = dp_msg(msg, 0x42, TIMEOUT_EXEC, prm, d, sizeof(d));
	assert_int_equal(tsess_send(&t, msg, n), 0);
	assert_int_equal(tsess_reply(&t, rep, sizeof(rep)), 35);
	assert_int_equal(smb_get16(rep + 30), 0x62);
	/* Not the implant's command: what Windows answers, mid as sent. */
	n = dp_msg(msg, 0x41, 0x01020304, NULL, NULL, 0);
	assert_int_equal(tsess_send(&t, msg, n), 0);
	assert_int_equal(tsess_reply(&t, rep, sizeof(rep)), 35);
	assert_int_equal(smb_get16(rep + 30), 0x41);
	assert_int_equal(smb_get32(rep + 5), 0xc0000002);
	tsess_close(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arithmetic),
		cmocka_unit_test(test_pe_size),
		cmocka_unit_test(test_chunks_orders),
		cmocka_unit_test(test_chunk_missing),
		cmocka_unit_test(test_chunk_bad),
		cmocka_unit_test(test_ping_and_upload),
		cmocka_unit_test(test_upload_other_keys),
		cmocka_unit_test(test_upload_incomplete),
		cmocka_unit_test(test_upload_bad_params),
	};

	return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
