/*
 * SMB1 transactions (smb1_trans.c) through the SMB service: reassembly
 * of a primary and its secondaries in every order, counts and
 * displacements out of bounds, the caps, EternalBlue's structure
 * (MS17-010), the scanners' MS17-010 check, RAP on \PIPE\LANMAN.
 */
#include "smb_harness.h"

/* Replies' fields (rep: the SMB message, NBSS frame stripped). */
#define R_CMD(r)	((r)[4])
#define R_STATUS(r)	smb_get32((r) + 5)
#define R_MID(r)	smb_get16((r) + 30)
#define R_WCT(r)	((r)[32])

static const uint16_t	t2_session_setup = 0x000e;

/*
 * A DoublePulsar exec of one chunk carried by a Trans2 transaction split
 * in four: the primary with the first parameter bytes, then three
 * secondaries in the order given.  The upload is stored whole only if
 * the pieces were put together right.
 */
static void
split_upload(const int order[3])
{
	static uint8_t	 msg[8192], rep[512], plain[3000], enc[3000];
	uint8_t		 sha[SHA256_DIGEST_LENGTH];
	struct tsess	 t;
	uint8_t		 prm[12], k[4];
	uint32_t	 key = arc4random();
	/* Pieces: params [0,5) [5,12), data [0,1000) [1000,2200) [2200,3000) */
	static const struct { uint16_t po, pc, dd, dc; } piece[3] = {
		{ 5, 7, 0, 1000 }, { 0, 0, 1000, 1200 }, { 0, 0, 2200, 800 },
	};
	size_t		 n, i;

	for (i = 0; i < sizeof(plain); i++)
		plain[i] = (uint8_t)(i * 13 + 1);
	smb_put32(prm, 3000 ^ key);
	smb_put32(prm + 4, 3000 ^ key);
	smb_put32(prm + 8, key);
	smb_put32(k, key);
	for (i = 0; i < sizeof(plain); i++)
		enc[i] = plain[i] ^ k[i & 3];
	tsess_open(&t, "smb");
	n = trans_primary_build(msg, 0x32, 0x42, &t2_session_setup, 1,
	    0x001a8925, 12, 3000, prm, 5, NULL, 0, NULL);
	assert_int_equal(tsess_send(&t, msg, n), 0);
	/* The interim response: status 0, no words. */
	assert_int_equal(tsess_reply(&t, rep, sizeof(rep)), 35);
	assert_int_equal(R_STATUS(rep), 0);
	assert_int_equal(R_MID(rep), 0x42);
	for (i = 0; i < 3; i++) {
		int	p = order[i];

		n = trans_secondary_build(msg, 0x33, 0x42, 12, 3000,
		    prm + piece[p].po, piece[p].pc, piece[p].po,
		    enc + piece[p].dd, piece[p].dc, piece[p].dd);
		assert_int_equal(tsess_send(&t, msg, n), 0);
		if (i < 2)	/* no answer to a secondary ... */
			assert_int_equal(tsess_reply(&t, rep, sizeof(rep)),
			    0);
	}
	/* ... until the transaction is whole: the implant's answer. */
	assert_int_equal(tsess_reply(&t, rep, sizeof(rep)), 35);
	assert_int_equal(R_CMD(rep), 0x32);
	assert_int_equal(R_MID(rep), 0x52);
	assert_int_equal(nstored, 1);
	SHA256(plain, sizeof(plain), sha);
	assert_memory_equal(stored[0].sha, sha, sizeof(sha));
	tsess_close(&t);
}

static void
test_reassembly_orders(void **state)
{
	static const int	orders[6][3] = {
		{ 0, 1, 2 }, { 0, 2, 1 }, { 1, 0, 2 },
		{ 1, 2, 0 }, { 2, 0, 1 }, { 2, 1, 0 },
	};
	int			i;

	for (i = 0; i < 6; i++)
		split_upload(orders[i]);
}

/* A primary for a transaction of tpc/tdc, with little of it. */
static void
start_trans2(struct tsess *t, uint16_t mid, uint16_t tpc, uint16_t tdc)
{
	uint8_t	msg[512], rep[128], d[8] = { 0 };

	assert_int_equal(tsess_send(t, msg, trans_primary_build(msg, 0x32,
	    mid, &t2_session_setup, 1, 0, tpc, tdc, d, 4, d, 4, NULL)), 0);
	assert_int_equal(tsess_reply(t, rep, sizeof(rep)), 35);
	assert_int_equal(R_STATUS(rep), 0);
}

static void
test_out_of_bounds(void **state)
{
	struct tsess	t;
	uint8_t		msg[512], rep[128], d[64] = { 0 };
	size_t		n;

	/* A data displacement past the total: the error, the end of it. */
	tsess_open(&t, "smb");
	start_trans2(&t, 9, 12, 100);
	n = trans_secondary_build(msg, 0x33, 9, 12, 100, NULL, 0, 0, d, 8,
	    93);
	assert_int_equal(tsess_send(&t, msg, n), 0);
	assert_int_equal(tsess_reply(&t, rep, sizeof(rep)), 35);
	assert_int_equal(R_CMD(rep), 0x32);
	assert_int_equal(R_STATUS(rep), 0xc000000d);
	/* The transaction is gone: a good secondary now gets no answer. */
	n = trans_secondary_build(msg, 0x33, 9, 12, 100, NULL, 0, 0, d, 8,
	    4);
	assert_int_equal(tsess_send(&t, msg, n), 0);
	assert_int_equal(tsess_reply(&t, rep, sizeof(rep)), 0);
	/* Parameters past the total; more data than the total in all. */
	start_trans2(&t, 10, 12, 100);
	n = trans_secondary_build(msg, 0x33, 10, 12, 100, d, 9, 4, NULL, 0,
	    0);
	assert_int_equal(tsess_send(&t, msg, n), 0);
	assert_int_equal(tsess_reply(&t, rep, sizeof(rep)), 35);
	assert_int_equal(R_STATUS(rep), 0xc000000d);
	start_trans2(&t, 11, 12, 100);
	n = trans_secondary_build(msg, 0x33, 11, 12, 100, NULL, 0, 0, d, 60,
	    4);
	assert_int_equal(tsess_send(&t, msg, n), 0);
	n = trans_secondary_build(msg, 0x33, 11, 12, 100, NULL, 0, 0, d, 40,
	    60);
	assert_int_equal(tsess_send(&t, msg, n), 0);
	assert_int_equal(tsess_reply(&t, rep, sizeof(rep)), 35);
	assert_int_equal(R_STATUS(rep), 0xc000000d);
	/* A primary whose data offset runs past the message. */
	n = trans_primary_build(msg, 0x32, 12, &t2_session_setup, 1, 0, 12,
	    8, d, 12, d, 8, NULL);
	smb_put16(msg + 4 + 33 + 24, (uint16_t)(n - 4 - 4));
	assert_int_equal(tsess_send(&t, msg, n), 0);
	assert_int_equal(tsess_reply(&t, rep, sizeof(rep)), 35);
	assert_int_equal(R_STATUS(rep), 0xc000000d);
	/* A count larger than the total. */
	n = trans_primary_build(msg, 0x32, 13, &t2_session_setup, 1, 0, 4,
	    8, d, 12, d, 8, NULL);
	assert_int_equal(tsess_send(&t, msg, n), 0);
	assert_int_equal(tsess_reply(&t, rep, sizeof(rep)), 35);
	assert_int_equal(R_STATUS(rep), 0xc000000d);
	/* A secondary nobody started: no answer, the session goes on. */
	n = trans_secondary_build(msg, 0x26, 77, 12, 100, d, 4, 0, NULL, 0,
	    0);
	assert_int_equal(tsess_send(&t, msg, n), 0);
	assert_int_equal(tsess_reply(&t, rep, sizeof(rep)), 0);
	/* A word count that is not the command's. */
	n = smb1_build_mid(msg, 0x33, 9, d, 3, NULL, 0);
	start_trans2(&t, 9, 12, 100);
	assert_int_equal(tsess_send(&t, msg, n), 0);
	assert_int_equal(tsess_reply(&t, rep, sizeof(rep)), 35);
	assert_int_equal(R_STATUS(rep), 0xc000000d);
	assert_int_equal(events_count("sundew.exploit.detected"), 0);
	tsess_close(&t);
}

/* An NT Transact primary (function, totals, this message's data). */
static size_t
nttrans_build(uint8_t *out, uint16_t mid, uint16_t function, uint32_t tpc,
    uint32_t tdc, const uint8_t *data, uint32_t dc)
{
	uint8_t	w[40], b[4096];
	size_t	wct = 20, start = 32 + 1 + 2 * 20 + 2;

	memset(w, 0, sizeof(w));
	smb_put32(w + 3, tpc);
	smb_put32(w + 7, tdc);
	smb_put32(w + 15, 0);
	smb_put32(w + 19, 0);			/* no parameters yet */
	smb_put32(w + 23, (uint32_t)start);
	smb_put32(w + 27, dc);
	smb_put32(w + 31, (uint32_t)start);
	w[35] = 1;
	smb_put16(w + 36, function);
	smb_put16(w + 38, 0);			/* setup[0]: OPEN2 */
	memcpy(b, data, dc);
	return smb1_build_mid(out, 0xa0, mid, w, (uint8_t)wct, b, dc);
}

static void
test_caps(void **state)
{
	struct tsess	t;
	uint8_t		msg[512], rep[128], d[16] = { 0 };
	int		i;

	tsess_open(&t, "smb");
	/* An NT Transact of more than a megabyte. */
	assert_int_equal(tsess_send(&t, msg, nttrans_build(msg, 1, 1, 0,
	    (1 << 20) + 1, d, 4)), 0);
	assert_int_equal(tsess_reply(&t, rep, sizeof(rep)), 35);
	assert_int_equal(R_STATUS(rep), 0xc0000205);
	/* Four pending at once; the fifth is refused. */
	for (i = 0; i < 4; i++)
		start_trans2(&t, (uint16_t)(100 + i), 12, 60000);
	assert_int_equal(tsess_send(&t, msg, trans_primary_build(msg, 0x32,
	    104, &t2_session_setup, 1, 0, 12, 100, d, 4, d, 4, NULL)), 0);
	assert_int_equal(tsess_reply(&t, rep, sizeof(rep)), 35);
	assert_int_equal(R_STATUS(rep), 0xc0000205);
	assert_int_equal(events_count("\"limit\":\"memory\""), 1);
	tsess_close(&t);
}

/*
 * EternalBlue: an NT Transact whose data (an FEA list) is more than 64
 * KiB, continued by Trans2 secondaries: MS17-010 at the first of them;
 * completed, answered as Trans2 OPEN2 with STATUS_INVALID_PARAMETER, as
 * the WannaCry capture shows.
 */
static void
test_eternalblue_shape(void **state)
{
	static uint8_t	fea[0x10100], msg[8192], rep[512];
	struct tsess	t;
	size_t		n, off, len;

	/* cbList 0x10000, FEAs of 5 bytes up to 0xff00, one too long. */
	memset(fea, 0, sizeof(fea));
	smb_put32(fea, 0x10000);
	for (off = 4; off + 5 <= 0xff00; off += 5)
		;
	smb_put16(fea + off + 2, 0x8000);
	tsess_open(&t, "smb");
	n = nttrans_build(msg, 64, 0, 0, sizeof(fea), fea, 976);
	assert_int_equal(tsess_send(&t, msg, n), 0);
	assert_int_equal(tsess_reply(&t, rep, sizeof(rep)), 35);
	assert_int_equal(R_CMD(rep), 0xa0);
	assert_int_equal(R_STATUS(rep), 0);
	assert_int_equal(events_count("sundew.exploit.detected"), 0);
	for (off = 976; off < sizeof(fea); off += len) {
		len = sizeof(fea) - off < 4096 ? sizeof(fea) - off : 4096;
		n = trans_secondary_build(msg, 0x33, 64, 0, 4096, NULL, 0, 0,
		    fea + off, (uint16_t)len, (uint16_t)off);
		/* A Trans2 secondary's displacement has 16 bits. */
		if (off > 0xffff)
			break;
		assert_int_equal(tsess_send(&t, msg, n), 0);
	}
	assert_int_equal(events_count("\"vuln\":\"MS17-010\""), 1);
	assert_int_equal(events_count("transaction_type_confusion"), 1);
	tsess_close(&t);
}

/* The same FEA list in one Trans2 OPEN2 transaction too big for it. */
static void
test_fea_overflow(void **state)
{
	static uint8_t	fea[0xf000], msg[70000], rep[512];
	static const uint16_t	open2 = 0x0000;
	struct tsess	t;
	uint8_t		prm[30] = { 0 };
	size_t		n;

	memset(fea, 0, sizeof(fea));
	smb_put32(fea, 0x10000);		/* more than the data */
	tsess_open(&t, "smb");
	n = trans_primary_build(msg, 0x32, 5, &open2, 1, 0, sizeof(prm),
	    sizeof(fea), prm, sizeof(prm), fea, sizeof(fea), NULL);
	assert_int_equal(tsess_send(&t, msg, n), 0);
	n = tsess_reply(&t, rep, sizeof(rep));
	assert_int_equal(R_CMD(rep), 0x32);
	assert_int_equal(R_STATUS(rep), 0xc000000d);
	assert_int_equal(R_WCT(rep), 10);
	assert_int_equal(smb_get16(rep + 33), 30);	/* OPEN2's params */
	assert_int_equal(events_count("fea_list_overflow"), 1);
	/* A list that says what it holds is not one. */
	smb_put32(fea, 4);
	n = trans_primary_build(msg, 0x32, 6, &open2, 1, 0, sizeof(prm),
	    sizeof(fea), prm, sizeof(prm), fea, sizeof(fea), NULL);
	assert_int_equal(tsess_send(&t, msg, n), 0);
	tsess_reply(&t, rep, sizeof(rep));
	assert_int_equal(R_STATUS(rep), 0xc0000022);
	assert_int_equal(events_count("sundew.exploit.detected"), 1);
	tsess_close(&t);
}

/* nmap's and Metasploit's check: PeekNmPipe on file id 0. */
static void
test_ms17_check(void **state)
{
	static const uint16_t	peek[2] = { 0x0023, 0x0000 };
	struct tsess		t;
	uint8_t			msg[512], rep[128];
	size_t			n;

	tsess_open(&t, "smb");
	n = trans_primary_build(msg, 0x25, 65, peek, 2, 0, 0, 0, NULL, 0,
	    NULL, 0, "\\PIPE\\");
	/* ASCII name: flags2 without unicode. */
	smb_put16(msg + 4 + 10, 0x4001);
	assert_int_equal(tsess_send(&t, msg, n), 0);
	assert_int_equal(tsess_reply(&t, rep, sizeof(rep)), 35);
	assert_int_equal(R_CMD(rep), 0x25);
	assert_int_equal(R_STATUS(rep), 0xc0000205);
	assert_int_equal(events_count("\"check\":\"ms17-010\""), 1);
	assert_int_equal(events_count("sundew.exploit.detected"), 0);
	tsess_close(&t);
}

/* RAP NetServerEnum2 and NetShareEnum on \PIPE\LANMAN. */
static void
test_rap(void **state)
{
	static const uint8_t	enum2[] =
	    "\x68\x00WrLehDz\0B16BBDz\0\x01\x00\xff\xff\xff\xff\xff\xff\0";
	static const uint8_t	shares[] =
	    "\x00\x00WrLeh\0B13BWz\0\x01\x00\x00\x10";
	const struct host	*h = host_get();
	struct tsess		 t;
	uint8_t			 msg[512], rep[8192];
	size_t			 n, po, doff;

	tsess_open(&t, "smb");
	n = trans_primary_build(msg, 0x25, 256, NULL, 0, 0,
	    sizeof(enum2) - 1, 0, enum2, sizeof(enum2) - 1, NULL, 0,
	    "\\PIPE\\LANMAN");
	smb_put16(msg + 4 + 10, 0x4001);
	assert_int_equal(tsess_send(&t, msg, n), 0);
	n = tsess_reply(&t, rep, sizeof(rep));
	assert_int_equal(R_STATUS(rep), 0);
	assert_int_equal(R_WCT(rep), 10);
	po = smb_get16(rep + 33 + 8);
	doff = smb_get16(rep + 33 + 14);
	assert_int_equal(smb_get16(rep + po), 0);	/* NERR_Success */
	assert_int_equal(smb_get16(rep + po + 4), 1);	/* one entry */
	assert_string_equal((const char *)rep + doff, h->name);
	assert_int_equal(rep[doff + 16], h->major);
	n = trans_primary_build(msg, 0x25, 257, NULL, 0, 0,
	    sizeof(shares) - 1, 0, shares, sizeof(shares) - 1, NULL, 0,
	    "\\PIPE\\LANMAN");
	smb_put16(msg + 4 + 10, 0x4001);
	assert_int_equal(tsess_send(&t, msg, n), 0);
	n = tsess_reply(&t, rep, sizeof(rep));
	po = smb_get16(rep + 33 + 8);
	doff = smb_get16(rep + 33 + 14);
	assert_int_equal(smb_get16(rep + po + 4), h->nshares);
	assert_string_equal((const char *)rep + doff, h->shares[0].name);
	assert_int_equal(events_count("NetShareEnum"), 1);
	tsess_close(&t);
}

/* A tree connect AndX to a share of the host; the tid it gives. */
static uint16_t
tree_connect(struct tsess *t, const char *share)
{
	uint8_t	msg[256], rep[256], w[8], b[128];
	char	path[64];
	size_t	n;

	memset(w, 0, sizeof(w));
	w[0] = 0xff;
	smb_put16(w + 6, 1);			/* PasswordLength */
	snprintf(path, sizeof(path), "\\\\X\\%s", share);
	b[0] = 0;
	n = 1 + smb_ascii_utf16(path, b + 1, sizeof(b) - 10);
	memcpy(b + n, "\0\0?????\0", 8);
	assert_int_equal(tsess_send(t, msg, smb1_build_mid(msg, 0x75, 3, w, 4,
	    b, n + 8)), 0);
	tsess_reply(t, rep, sizeof(rep));
	assert_int_equal(R_STATUS(rep), 0);
	return smb_get16(rep + 24);
}

/* A share's directories: "." and ".." for "*"; the disk's sizes. */
static void
test_disk_queries(void **state)
{
	static const uint16_t	find = 0x0001, fs = 0x0003, qpath = 0x0005;
	struct tsess		t;
	uint8_t			msg[512], rep[1024], p[64];
	size_t			n, po, doff, nl;

	tsess_open(&t, "smb");
	tree_connect(&t, "C$");
	memset(p, 0, sizeof(p));
	smb_put16(p + 2, 100);			/* SearchCount */
	smb_put16(p + 6, 0x104);		/* BOTH_DIRECTORY_INFO */
	nl = smb_ascii_utf16("\\*", p + 12, 8);
	n = trans_primary_build(msg, 0x32, 20, &find, 1, 0,
	    (uint16_t)(14 + nl), 0, p, (uint16_t)(14 + nl), NULL, 0, NULL);
	assert_int_equal(tsess_send(&t, msg, n), 0);
	tsess_reply(&t, rep, sizeof(rep));
	assert_int_equal(R_STATUS(rep), 0);
	po = smb_get16(rep + 33 + 8);
	doff = smb_get16(rep + 33 + 14);
	assert_int_equal(smb_get16(rep + po + 2), 2);	/* two found */
	assert_int_equal(smb_get32(rep + doff + 60), 2);	/* "." */
	assert_int_equal(rep[doff + 94], '.');
	assert_int_equal(smb_get16(rep + po + 8), smb_get32(rep + doff));
	assert_int_equal(smb_get32(rep + doff + smb_get32(rep + doff) + 60),
	    4);						/* ".." */
	/* A name that is not there. */
	nl = smb_ascii_utf16("\\boot.ini", p + 12, 40);
	n = trans_primary_build(msg, 0x32, 21, &find, 1, 0,
	    (uint16_t)(14 + nl), 0, p, (uint16_t)(14 + nl), NULL, 0, NULL);
	assert_int_equal(tsess_send(&t, msg, n), 0);
	tsess_reply(&t, rep, sizeof(rep));
	assert_int_equal(R_STATUS(rep), 0xc000000f);
	/* The root is a directory; a file in it is not found. */
	memset(p, 0, sizeof(p));
	smb_put16(p, 0x101);
	n = trans_primary_build(msg, 0x32, 22, &qpath, 1, 0, 8, 0, p, 8,
	    NULL, 0, NULL);
	assert_int_equal(tsess_send(&t, msg, n), 0);
	tsess_reply(&t, rep, sizeof(rep));
	assert_int_equal(R_STATUS(rep), 0);
	doff = smb_get16(rep + 33 + 14);
	assert_int_equal(smb_get32(rep + doff + 32), 0x10);
	nl = smb_ascii_utf16("\\x.exe", p + 6, 40);
	n = trans_primary_build(msg, 0x32, 23, &qpath, 1, 0,
	    (uint16_t)(8 + nl), 0, p, (uint16_t)(8 + nl), NULL, 0, NULL);
	assert_int_equal(tsess_send(&t, msg, n), 0);
	tsess_reply(&t, rep, sizeof(rep));
	assert_int_equal(R_STATUS(rep), 0xc0000034);
	/* The file system: NTFS. */
	smb_put16(p, 0x105);
	n = trans_primary_build(msg, 0x32, 24, &fs, 1, 0, 2, 0, p, 2, NULL,
	    0, NULL);
	assert_int_equal(tsess_send(&t, msg, n), 0);
	tsess_reply(&t, rep, sizeof(rep));
	doff = smb_get16(rep + 33 + 14);
	assert_memory_equal(rep + doff + 12, "N\0T\0F\0S\0", 8);
	tsess_close(&t);
}

/* An NT Transact primary with its parameters, data and setup, whole. */
static size_t
nttrans_whole(uint8_t *out, uint16_t mid, uint16_t function,
    const uint16_t *setup, uint8_t nsetup, const uint8_t *params,
    uint32_t pc, const uint8_t *data, uint32_t dc)
{
	uint8_t	w[64], b[2048];
	size_t	wct = 19 + nsetup, start = 32 + 1 + 2 * wct + 2, i;

	memset(w, 0, sizeof(w));
	smb_put32(w + 3, pc);
	smb_put32(w + 7, dc);
	smb_put32(w + 11, 1024);
	smb_put32(w + 15, 4280);
	smb_put32(w + 19, pc);
	smb_put32(w + 23, (uint32_t)start);
	smb_put32(w + 27, dc);
	smb_put32(w + 31, (uint32_t)(start + pc));
	w[35] = nsetup;
	smb_put16(w + 36, function);
	for (i = 0; i < nsetup; i++)
		smb_put16(w + 38 + 2 * i, setup[i]);
	if (pc > 0)
		memcpy(b, params, pc);
	if (dc > 0)
		memcpy(b + pc, data, dc);
	return smb1_build_mid(out, 0xa0, mid, w, (uint8_t)wct, b, pc + dc);
}

/*
 * NT_TRANSACT_CREATE opens \srvsvc; FSCTL_PIPE_TRANSCEIVE on it carries
 * a DCERPC bind and brings back its bind_ack.
 */
static void
test_nttrans_pipe(void **state)
{
	static const uint8_t	bind[72] = {
	    5, 0, 11, 3, 0x10, 0, 0, 0, 72, 0, 0, 0, 1, 0, 0, 0,
	    0xb8, 0x10, 0xb8, 0x10, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0,
	    /* srvsvc 4b324fc8-1670-01d3-1278-5a47bf6ee188 v3.0 */
	    0xc8, 0x4f, 0x32, 0x4b, 0x70, 0x16, 0xd3, 0x01,
	    0x12, 0x78, 0x5a, 0x47, 0xbf, 0x6e, 0xe1, 0x88, 3, 0, 0, 0,
	    /* NDR 8a885d04-1ceb-11c9-9fe8-08002b104860 v2 */
	    0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11,
	    0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60, 2, 0, 0, 0,
	};
	uint16_t		ioctl[4];
	struct tsess		t;
	uint8_t			msg[2048], rep[4096], p[128];
	size_t			n, nl, po, doff;
	uint16_t		fid;

	tsess_open(&t, "smb");
	tree_connect(&t, "IPC$");
	memset(p, 0, sizeof(p));
	nl = smb_ascii_utf16("\\srvsvc", p + 54, 40);
	smb_put32(p + 44, (uint32_t)nl);
	n = nttrans_whole(msg, 30, 1, NULL, 0, p, (uint32_t)(54 + nl), NULL,
	    0);
	assert_int_equal(tsess_send(&t, msg, n), 0);
	tsess_reply(&t, rep, sizeof(rep));
	assert_int_equal(R_STATUS(rep), 0);
	assert_int_equal(R_WCT(rep), 18);
	po = smb_get32(rep + 33 + 15);
	assert_int_equal(smb_get32(rep + 33 + 3), 69);
	fid = smb_get16(rep + po + 2);
	assert_int_not_equal(fid, 0);
	assert_int_equal(smb_get16(rep + po + 64), 2);	/* a message pipe */
	ioctl[0] = 0xc017;
	ioctl[1] = 0x0011;
	ioctl[2] = fid;
	ioctl[3] = 0x0001;
	n = nttrans_whole(msg, 31, 2, ioctl, 4, NULL, 0, bind, sizeof(bind));
	assert_int_equal(tsess_send(&t, msg, n), 0);
	tsess_reply(&t, rep, sizeof(rep));
	assert_int_equal(R_STATUS(rep), 0);
	doff = smb_get32(rep + 33 + 27);
	assert_true(smb_get32(rep + 33 + 23) > 24);
	assert_memory_equal(rep + doff, "\x05\x00\x0c", 3);	/* bind_ack */
	assert_int_equal(events_count("\"dcerpc\":\"bind\""), 1);
	/* Another control code: not supported, the session goes on. */
	ioctl[0] = 0x0094;
	ioctl[1] = 0x0009;
	n = nttrans_whole(msg, 32, 2, ioctl, 4, NULL, 0, bind, 4);
	assert_int_equal(tsess_send(&t, msg, n), 0);
	tsess_reply(&t, rep, sizeof(rep));
	assert_int_equal(R_STATUS(rep), 0xc00000bb);
	tsess_close(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reassembly_orders),
		cmocka_unit_test(test_out_of_bounds),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_eternalblue_shape),
		cmocka_unit_test(test_fea_overflow),
		cmocka_unit_test(test_ms17_check),
		cmocka_unit_test(test_rap),
		cmocka_unit_test(test_disk_queries),
		cmocka_unit_test(test_nttrans_pipe),
	};

	return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
