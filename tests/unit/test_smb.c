/*
 * The SMB service's framing and SMB1 header checks (smb.c, smb1.c),
 * driven through its on_data as the core drives it: what a call leaves
 * unconsumed is handed again with what comes next.  The session, its
 * replies and the sensor's side are smb_harness.h's.
 */
#include "smb_harness.h"

#include "dcerpc.h"

static const uint8_t	negotiate_dialects[] =
    "\x02PC NETWORK PROGRAM 1.0\0\x02LANMAN1.0\0\x02NT LM 0.12";

static size_t
negotiate_nt1(uint8_t *out, uint16_t flags2)
{
	return smb1_build(out, 0x72, flags2, NULL, 0, negotiate_dialects,
	    sizeof(negotiate_dialects));
}

/*
 * A negotiate sent one byte at a time is answered once, whole: NT LM
 * 0.12 chosen (index 2), a challenge of 8 bytes, then the host's domain
 * and name in UTF-16.
 */
static void
test_negotiate_split(void **state)
{
	struct tsess	 t;
	uint8_t		 req[256], rep[1024], name[64];
	size_t		 n, r, dn;

	tsess_open(&t, "smb");
	n = negotiate_nt1(req, 0x4001);
	assert_int_equal(tsess_send_pieces(&t, req, n - 1, 1), 0);
	assert_int_equal(tsess_recv(&t, rep, sizeof(rep)), 0);
	assert_int_equal(t.plen, n - 1);	/* all of it waits */
	assert_int_equal(tsess_send(&t, req + n - 1, 1), 0);
	assert_int_equal(t.plen, 0);
	r = tsess_recv(&t, rep, sizeof(rep));
	assert_true(r > 4 + 32 + 1 + 34 + 2);
	assert_int_equal(rep[0], 0);
	assert_int_equal((size_t)rep[1] << 16 | rep[2] << 8 | rep[3], r - 4);
	assert_memory_equal(rep + 4, "\xffSMB\x72", 5);
	assert_int_equal(smb_get32(rep + 9), 0);	/* success */
	assert_int_equal(rep[4 + 9] & 0x80, 0x80);	/* a reply */
	assert_int_equal(smb_get16(rep + 4 + 30), 7);	/* its mid */
	assert_int_equal(rep[36], 17);
	assert_int_equal(smb_get16(rep + 37), 2);	/* NT LM 0.12 */
	assert_int_equal(rep[37 + 33], 8);		/* challenge length */
	/* XP, a workstation: SizReqBuf's default of 4356. */
	assert_int_equal(smb_get32(rep + 37 + 7), 4356);
	assert_int_equal(smb_get32(rep + 37 + 19) & 0x80000000, 0);
	dn = smb_ascii_utf16(host_get()->domain, name, sizeof(name));
	assert_int_equal(smb_get16(rep + 37 + 34), 8 + dn + 2 +
	    2 * strlen(host_get()->name) + 2);
	assert_memory_equal(rep + 37 + 36 + 8, name, dn);
	assert_non_null(strstr(events, "\"command\":\"negotiate\""));
	assert_non_null(strstr(events, "\"dialect\":\"NT LM 0.12\""));
	tsess_close(&t);
}

/* Two messages in one piece are both answered; a keepalive is not. */
static void
test_two_in_one(void **state)
{
	struct tsess	 t;
	uint8_t		 req[512], rep[2048];
	size_t		 n;

	tsess_open(&t, "smb");
	n = negotiate_nt1(req, 0x4001);
	memcpy(req + n, "\x85\0\0\0", 4);
	memcpy(req + n + 4, req, n);
	assert_int_equal(tsess_send(&t, req, 2 * n + 4), 0);
	assert_int_equal(t.plen, 0);
	n = tsess_recv(&t, rep, sizeof(rep));
	/* Two replies of the same length, back to back. */
	assert_int_equal(n % 2, 0);
	assert_memory_equal(rep + 4, "\xffSMB\x72", 5);
	assert_memory_equal(rep + n / 2 + 4, "\xffSMB\x72", 5);
	tsess_close(&t);
}

/* Extended security when the client's flags2 asks: GUID and blob. */
static void
test_negotiate_extended(void **state)
{
	struct tsess	 t;
	uint8_t		 req[256], rep[1024];
	size_t		 r;

	tsess_open(&t, "smb");
	assert_int_equal(tsess_send(&t, req, negotiate_nt1(req, 0xc801)), 0);
	r = tsess_recv(&t, rep, sizeof(rep));
	assert_true(r > 4 + 32 + 1 + 34 + 2 + 16);
	assert_int_equal(smb_get32(rep + 37 + 19) & 0x80000000, 0x80000000);
	assert_int_equal(rep[37 + 33], 0);
	assert_memory_equal(rep + 37 + 36, host_get()->guid, 16);
	tsess_close(&t);
}

/* Garbage ends the session: each of these frames is -1. */
static void
test_garbage(void **state)
{
	struct tsess	 t;
	uint8_t		 req[256], rep[256];
	size_t		 n;

	/* An NBSS type a client never sends. */
	tsess_open(&t, "smb");
	assert_int_equal(tsess_send(&t, (const uint8_t *)"\x42\0\0\0", 4), -1);
	tsess_close(&t);
	/* A protocol id that is neither SMB1's nor SMB2's. */
	tsess_open(&t, "smb");
	assert_int_equal(tsess_send(&t,
	    (const uint8_t *)"\0\0\0\x08\xfdSMBabcd", 12), -1);
	tsess_close(&t);
	/* A positive session response sent to the server. */
	tsess_open(&t, "smb");
	assert_int_equal(tsess_send(&t, (const uint8_t *)"\x82\0\0\0", 4), -1);
	tsess_close(&t);
	/* An SMB1 header shorter than its word and byte counts. */
	tsess_open(&t, "smb");
	n = negotiate_nt1(req, 0x4001);
	req[3] = 34;
	assert_int_equal(tsess_send(&t, req, 4 + 34), -1);
	tsess_close(&t);
	/* A word count past the message. */
	tsess_open(&t, "smb");
	n = negotiate_nt1(req, 0x4001);
	req[4 + 32] = 100;
	assert_int_equal(tsess_send(&t, req, n), -1);
	tsess_close(&t);
	/*
	 * A byte count past the message (a tree disconnect has no bytes):
	 * the SMB is invalid, said so, and the session goes on.
	 */
	tsess_open(&t, "smb");
	n = smb1_build(req, 0x71, 0x4001, NULL, 0, NULL, 0);
	assert_int_equal(tsess_send(&t, req, n), 0);
	assert_int_equal(tsess_recv(&t, rep, sizeof(rep)), 4 + 35);
	assert_int_equal(smb_get32(rep + 9), 0);
	smb_put16(req + 4 + 33, 1);
	assert_int_equal(tsess_send(&t, req, n), 0);
	assert_int_equal(tsess_recv(&t, rep, sizeof(rep)), 4 + 35);
	assert_int_equal(smb_get32(rep + 9), 0x00010002);
	tsess_close(&t);
	/* A dialect list that is not one. */
	tsess_open(&t, "smb");
	n = smb1_build(req, 0x72, 0x4001, NULL, 0,
	    (const uint8_t *)"\x03NT LM 0.12", 12);
	assert_int_equal(tsess_send(&t, req, n), -1);
	tsess_close(&t);
}

/*
 * A session setup (non-extended) chained to a tree connect of IPC$:
 * one reply of two blocks, the second at the offset the first gives,
 * a new uid and tid in the header.
 */
static size_t
chain_setup_tree(uint8_t *req, uint16_t andx_off_delta)
{
	uint8_t		w[26 + 8], b[128];
	size_t		setup_end, bl = 0;
	const char	*path = "\\\\HOST\\IPC$";

	memset(w, 0, sizeof(w));
	w[0] = 0x75;			/* next: tree connect */
	smb_put16(w + 14, 1);		/* LM response: 1 byte */
	memcpy(b, "\0guest\0WORKGROUP\0Unix\0Samba\0", 28);
	bl = 28;
	/* The tree connect's block right after: wct 4, words, bcc, bytes. */
	setup_end = 32 + 1 + 26 + 2 + bl;
	smb_put16(w + 2, (uint16_t)(setup_end + andx_off_delta));
	b[bl++] = 4;
	b[bl++] = 0xff;			/* no further command */
	b[bl++] = 0;
	b[bl++] = 0;
	b[bl++] = 0;
	b[bl++] = 0;			/* flags */
	b[bl++] = 0;
	b[bl++] = 1;			/* password length */
	b[bl++] = 0;
	smb_put16(b + bl, (uint16_t)(1 + strlen(path) + 1 + 6));
	bl += 2;
	b[bl++] = 0;			/* the password */
	memcpy(b + bl, path, strlen(path) + 1);
	bl += strlen(path) + 1;
	memcpy(b + bl, "?????", 6);
	bl += 6;
	/* The session setup's bcc covers its own bytes only (28). */
	return smb1_build(req, 0x73, 0x4001, w, 13, b, bl);
}

static void
test_andx_chain(void **state)
{
	struct tsess	 t;
	uint8_t		 req[512], rep[1024];
	size_t		 n, r, off;

	tsess_open(&t, "smb");
	n = chain_setup_tree(req, 0);
	/* Its bcc: the setup's own bytes; the chain's block follows. */
	smb_put16(req + 4 + 32 + 1 + 26, 28);
	assert_int_equal(tsess_send(&t, req, n), 0);
	r = tsess_recv(&t, rep, sizeof(rep));
	assert_true(r > 4 + 32 + 7);
	assert_int_equal(smb_get32(rep + 9), 0);
	assert_int_not_equal(smb_get16(rep + 4 + 28), 0);	/* uid */
	assert_int_not_equal(smb_get16(rep + 4 + 24), 0);	/* tid */
	assert_int_equal(rep[36], 3);				/* setup */
	assert_int_equal(rep[37], 0x75);
	off = smb_get16(rep + 39);
	assert_true(off > 32 && 4 + off < r);
	assert_int_equal(rep[4 + off], 3);			/* tree */
	assert_int_equal(rep[4 + off + 1], 0xff);
	assert_memory_equal(rep + 4 + off + 9, "IPC", 4);
	assert_non_null(strstr(events, "\"path\":\"\\\\\\\\HOST\\\\IPC$\""));
	tsess_close(&t);

	/* The AndX offset pointing back into the header is garbage. */
	tsess_open(&t, "smb");
	n = chain_setup_tree(req, 0);
	smb_put16(req + 4 + 32 + 1 + 26, 28);
	smb_put16(req + 4 + 32 + 1 + 2, 20);
	assert_int_equal(tsess_send(&t, req, n), -1);
	tsess_close(&t);
	/* A tree connect chained to itself: handled once, then garbage. */
	tsess_open(&t, "smb");
	{
		uint8_t		w[8];
		const char	*e;
		int		count = 0;

		memset(w, 0, sizeof(w));
		w[0] = 0x75;
		smb_put16(w + 2, 32);
		smb_put16(w + 6, 1);
		n = smb1_build(req, 0x75, 0x4001, w, 4,
		    (const uint8_t *)"\0\\\\HOST\\IPC$\0?????", 19);
		assert_int_equal(tsess_send(&t, req, n), -1);
		for (e = events; (e = strstr(e, "tree_connect")) != NULL; e++)
			count++;
		assert_int_equal(count, 1);
	}
	tsess_close(&t);
	/* ... and so is one past the message. */
	tsess_open(&t, "smb");
	n = chain_setup_tree(req, 0);
	smb_put16(req + 4 + 32 + 1 + 26, 28);
	smb_put16(req + 4 + 32 + 1 + 2, (uint16_t)(n - 4));
	assert_int_equal(tsess_send(&t, req, n), -1);
	tsess_close(&t);
}

/* An unknown share: STATUS_BAD_NETWORK_NAME, and the session goes on. */
static void
test_unknown_command_share(void **state)
{
	struct tsess	 t;
	uint8_t		 req[512], rep[1024], w[8], b[64];
	size_t		 n, r;

	tsess_open(&t, "smb");
	memset(w, 0, sizeof(w));
	w[0] = 0xff;
	smb_put16(w + 6, 1);
	memcpy(b, "\0\\\\HOST\\NOPE\0?????", 19);
	n = smb1_build(req, 0x75, 0x4001, w, 4, b, 19);
	assert_int_equal(tsess_send(&t, req, n), 0);
	r = tsess_recv(&t, rep, sizeof(rep));
	assert_int_equal(r, 4 + 35);
	assert_int_equal(smb_get32(rep + 9), SMB_BAD_NETWORK_NAME);
	/* A command it does not know: not implemented, as a DOS error too. */
	n = smb1_build(req, 0x99, 0x4001, NULL, 0, NULL, 0);
	assert_int_equal(tsess_send(&t, req, n), 0);
	r = tsess_recv(&t, rep, sizeof(rep));
	assert_int_equal(r, 4 + 35);
	assert_int_equal(smb_get32(rep + 9), SMB_NOT_IMPLEMENTED);
	n = smb1_build(req, 0x99, 0x0001, NULL, 0, NULL, 0);
	assert_int_equal(tsess_send(&t, req, n), 0);
	r = tsess_recv(&t, rep, sizeof(rep));
	assert_int_equal(smb_get32(rep + 9), 0x00010001);	/* ERRbadfunc */
	tsess_close(&t);
}

/* 139: a session request gets a positive response, then SMB. */
static void
test_netbios(void **state)
{
	struct tsess	 t;
	uint8_t		 req[256], rep[1024];
	size_t		 n;
	/* "*SMBSERVER" called, first-level encoded, then the caller. */
	static const char called[] = " CKFDENECFDEFFCFGEFFCCACACACACACA";
	static const char netdde[] = " CKFDENECFDEFFCFGEFFCCACACACACABP";

	tsess_open(&t, "netbios-ssn");
	memcpy(req, "\x81\0\0\x44", 4);
	memcpy(req + 4, called, 34);
	memcpy(req + 38, called, 34);
	/* Split inside its header and inside its names. */
	assert_int_equal(tsess_send_pieces(&t, req, 72, 3), 0);
	assert_int_equal(tsess_recv(&t, rep, sizeof(rep)), 4);
	assert_memory_equal(rep, "\x82\0\0\0", 4);
	n = negotiate_nt1(req, 0x4001);
	assert_int_equal(tsess_send_pieces(&t, req, n, 7), 0);
	assert_true(tsess_recv(&t, rep, sizeof(rep)) > 4 + 32);
	assert_memory_equal(rep + 4, "\xffSMB\x72", 5);
	tsess_close(&t);

	/* NetDDE's suffix: answered, then a long message is MS04-031. */
	tsess_open(&t, "netbios-ssn");
	memcpy(req, "\x81\0\0\x44", 4);
	memcpy(req + 4, netdde, 34);
	memcpy(req + 38, called, 34);
	assert_int_equal(tsess_send(&t, req, 72), 0);
	assert_int_equal(tsess_recv(&t, rep, sizeof(rep)), 4);
	assert_null(strstr(events, "MS04-031"));
	{
		static uint8_t	msg[4 + 2000];

		memset(msg, 0x90, sizeof(msg));
		memcpy(msg, "\0\0\x07\xd0", 4);
		memcpy(msg + 8, "EDDN", 4);
		assert_int_equal(tsess_send_pieces(&t, msg, sizeof(msg), 500), 0);
	}
	assert_non_null(strstr(events, "\"vuln\":\"MS04-031\""));
	assert_int_equal(tsess_recv(&t, rep, sizeof(rep)), 0);
	tsess_close(&t);

	/* 445 answers a session request too; NetDDE is 139's alone. */
	tsess_open(&t, "smb");
	memcpy(req, "\x81\0\0\x44", 4);
	memcpy(req + 4, netdde, 34);
	memcpy(req + 38, called, 34);
	assert_int_equal(tsess_send(&t, req, 72), 0);
	assert_int_equal(tsess_recv(&t, rep, sizeof(rep)), 4);
	assert_memory_equal(rep, "\x82\0\0\0", 4);
	n = negotiate_nt1(req, 0x4001);
	assert_int_equal(tsess_send(&t, req, n), 0);
	assert_true(tsess_recv(&t, rep, sizeof(rep)) > 4 + 32);
	assert_memory_equal(rep + 4, "\xffSMB\x72", 5);
	tsess_close(&t);
}

/*
 * A handler that ends the session (SMB2's encrypted frame, which no key
 * here opens) leaves nothing to touch: the rest of the input is moot,
 * taken whole, and not answered.
 */
static void
test_closed_by_handler(void **state)
{
	struct tsess	 t;
	uint8_t		 in[512], rep[256];
	size_t		 n;
	ssize_t		 used;

	tsess_open(&t, "smb");
	memset(in, 0, sizeof(in));
	memcpy(in, "\0\0\0\x34\xfdSMB", 8);
	n = 4 + 52;
	n += negotiate_nt1(in + n, 0x4001);
	used = t.svc->on_data(&t.c, t.c.state, in, n);
	assert_int_equal(t.c.closing, 1);
	assert_int_equal(used, n);
	assert_int_equal(tsess_recv(&t, rep, sizeof(rep)), 0);
	assert_non_null(strstr(events, "\"command\":\"encrypted\""));
	tsess_close(&t);
}

/* A tree connect to share (ASCII); the tid answered. */
static uint16_t
tree_connect(struct tsess *t, const char *share)
{
	uint8_t	req[256], rep[256], w[8], b[64];
	size_t	n;

	memset(w, 0, sizeof(w));
	w[0] = 0xff;
	smb_put16(w + 6, 1);
	n = (size_t)snprintf((char *)b + 1, sizeof(b) - 1, "\\\\HOST\\%s",
	    share);
	b[0] = 0;
	memcpy(b + n + 2, "?????", 6);
	n = smb1_build(req, 0x75, 0x4001, w, 4, b, n + 8);
	assert_int_equal(tsess_send(t, req, n), 0);
	assert_true(tsess_recv(t, rep, sizeof(rep)) > 4 + 35);
	assert_int_equal(smb_get32(rep + 9), 0);
	return smb_get16(rep + 4 + 24);
}

/* NT create of name (ASCII) on tid: the status and the fid. */
static uint32_t
nt_create(struct tsess *t, uint16_t tid, const char *name, uint16_t *fid)
{
	uint8_t	req[256], rep[256], w[48];
	size_t	n;

	memset(w, 0, sizeof(w));
	w[0] = 0xff;
	smb_put16(w + 5, (uint16_t)strlen(name));
	n = smb1_build(req, 0xa2, 0x4001, w, 24, (const uint8_t *)name,
	    strlen(name) + 1);
	smb_put16(req + 4 + 24, tid);
	assert_int_equal(tsess_send(t, req, n), 0);
	n = tsess_recv(t, rep, sizeof(rep));
	assert_true(n >= 4 + 35);
	if (smb_get32(rep + 9) == 0) {
		assert_int_equal(rep[36], 34);
		*fid = smb_get16(rep + 37 + 5);
	}
	return smb_get32(rep + 9);
}

/* Write AndX of data at offset off to fid; the count answered. */
static size_t
write_andx(struct tsess *t, uint16_t fid, uint32_t off, const uint8_t *data,
    size_t len)
{
	static uint8_t	req[70000], rep[256];
	uint8_t		w[28], b[65536];
	size_t		n;

	memset(w, 0, sizeof(w));
	w[0] = 0xff;
	smb_put16(w + 4, fid);
	smb_put32(w + 6, off);
	smb_put16(w + 20, (uint16_t)len);
	smb_put16(w + 22, 32 + 1 + 28 + 2 + 1);
	b[0] = 0;
	memcpy(b + 1, data, len);
	n = smb1_build(req, 0x2f, 0x4001, w, 14, b, len + 1);
	assert_int_equal(tsess_send_pieces(t, req, n, 1000), 0);
	n = tsess_recv(t, rep, sizeof(rep));
	assert_int_equal(n, 4 + 32 + 1 + 12 + 2);
	assert_int_equal(smb_get32(rep + 9), 0);
	return smb_get16(rep + 37 + 4);
}

/* A DCERPC bind to DSSETUP v0.0 (NDR), call id 1. */
static const uint8_t	dssetup_bind[72] = {
	5, 0, 11, 3, 0x10, 0, 0, 0, 72, 0, 0, 0, 1, 0, 0, 0,
	0xb8, 0x10, 0xb8, 0x10, 0, 0, 0, 0, 1, 0, 0, 0,
	0, 0, 1, 0,
	0x6a, 0x28, 0x19, 0x39, 0x0c, 0xb1, 0xd0, 0x11,
	0x9b, 0xa8, 0x00, 0xc0, 0x4f, 0xd9, 0x2e, 0xf5, 0, 0, 0, 0,
	0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11,
	0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60, 2, 0, 0, 0,
};

/*
 * \lsarpc on IPC$: a DCERPC bind written is answered with its bind_ack,
 * read back whole; a pipe the host does not serve is not found.
 */
static void
test_pipe(void **state)
{
	struct tsess	 t;
	uint8_t		 req[256], rep[4096], w[24];
	uint16_t	 tid, fid;
	size_t		 n, doff, dlen;

	tsess_open(&t, "smb");
	tid = tree_connect(&t, "IPC$");
	assert_int_equal(nt_create(&t, tid, "\\nosuchpipe", &fid),
	    SMB_OBJECT_NAME_NOT_FOUND);
	assert_int_equal(nt_create(&t, tid, "\\lsarpc", &fid), 0);
	assert_int_equal(write_andx(&t, fid, 0, dssetup_bind,
	    sizeof(dssetup_bind)), sizeof(dssetup_bind));
	memset(w, 0, sizeof(w));
	w[0] = 0xff;
	smb_put16(w + 4, fid);
	smb_put16(w + 10, 4280);
	n = smb1_build(req, 0x2e, 0x4001, w, 12, NULL, 0);
	assert_int_equal(tsess_send(&t, req, n), 0);
	n = tsess_recv(&t, rep, sizeof(rep));
	assert_int_equal(smb_get32(rep + 9), 0);
	assert_int_equal(rep[36], 12);
	dlen = smb_get16(rep + 37 + 10);
	doff = smb_get16(rep + 37 + 12);
	assert_int_equal(n, 4 + doff + dlen);
	/* A bind_ack of the length its header says, call id 1. */
	assert_int_equal(rep[4 + doff + 2], 12);
	assert_int_equal(smb_get16(rep + 4 + doff + 8), dlen);
	assert_int_equal(smb_get32(rep + 4 + doff + 12), 1);
	tsess_close(&t);
}

/*
 * The DCERPC events of a session are capped together: two opens of
 * \\lsarpc, each bound DCE_EVENTS_MAX / 2 + 1 times, give one limit.hit.
 */
static void
test_pipe_events_cap(void **state)
{
	struct tsess	 t;
	uint16_t	 tid, fid;
	int		 k, i;

	tsess_open(&t, "smb");
	tid = tree_connect(&t, "IPC$");
	for (k = 0; k < 2; k++) {
		assert_int_equal(nt_create(&t, tid, "\\lsarpc", &fid), 0);
		for (i = 0; i < DCE_EVENTS_MAX / 2 + 1; i++)
			assert_int_equal(write_andx(&t, fid, 0,
			    dssetup_bind, sizeof(dssetup_bind)),
			    sizeof(dssetup_bind));
	}
	assert_int_equal(nlimits, 1);
	assert_non_null(strstr(last_limit, "\"limit\":\"dcerpc_events\""));
	tsess_close(&t);
}

/*
 * A program copied to C$ in two writes, the second first: stored whole,
 * as a binary, at close.
 */
static void
test_disk_file(void **state)
{
	struct tsess	 t;
	uint8_t		 exe[6000], req[64], w[6];
	uint16_t	 tid, fid;
	size_t		 i, n;

	for (i = 0; i < sizeof(exe); i++)
		exe[i] = (uint8_t)(i * 7 + i / 251);
	memcpy(exe, "MZ", 2);
	tsess_open(&t, "smb");
	tid = tree_connect(&t, "C$");
	assert_int_equal(nt_create(&t, tid, "\\WINDOWS\\x.exe", &fid), 0);
	assert_int_equal(write_andx(&t, fid, 4000, exe + 4000, 2000), 2000);
	assert_int_equal(write_andx(&t, fid, 0, exe, 4000), 4000);
	last_stored.len = 0;
	memset(w, 0, sizeof(w));
	smb_put16(w, fid);
	n = smb1_build(req, 0x04, 0x4001, w, 3, NULL, 0);
	assert_int_equal(tsess_send(&t, req, n), 0);
	assert_int_equal(last_stored.kind, 1);		/* STORE_BINARY */
	assert_int_equal(last_stored.len, sizeof(exe));
	assert_memory_equal(last_stored.buf, exe, sizeof(exe));
	assert_non_null(strstr(events, "\"name\":\"WINDOWS\\\\x.exe\""));
	tsess_close(&t);
}

/* Open AndX, as older clients open a pipe: a message-mode pipe, opened. */
static void
test_open_andx(void **state)
{
	struct tsess	 t;
	uint8_t		 req[256], rep[256], w[30];
	uint16_t	 tid;
	size_t		 n;

	tsess_open(&t, "smb");
	tid = tree_connect(&t, "IPC$");
	memset(w, 0, sizeof(w));
	w[0] = 0xff;
	smb_put16(w + 6, 0x0042);	/* read/write, deny none */
	smb_put16(w + 16, 0x0001);	/* open if it exists */
	n = smb1_build(req, 0x2d, 0x4001, w, 15,
	    (const uint8_t *)"\\PIPE\\srvsvc", 13);
	smb_put16(req + 4 + 24, tid);
	assert_int_equal(tsess_send(&t, req, n), 0);
	n = tsess_recv(&t, rep, sizeof(rep));
	assert_int_equal(n, 4 + 32 + 1 + 30 + 2);
	assert_int_equal(smb_get32(rep + 9), 0);
	assert_int_not_equal(smb_get16(rep + 37 + 4), 0);	/* fid */
	assert_int_equal(smb_get16(rep + 37 + 18), 2);	/* message pipe */
	assert_int_equal(smb_get16(rep + 37 + 22), 1);	/* opened */
	assert_non_null(strstr(events, "\"name\":\"srvsvc\""));
	tsess_close(&t);
}

/*
 * A client that went away before its answer: the answer is lost, the
 * request was no protocol error (the next read ends the session).
 */
static void
test_peer_gone(void **state)
{
	struct tsess	 t;
	uint8_t		 req[256];
	size_t		 n;

	tsess_open(&t, "smb");
	close(t.peer);
	t.peer = open("/dev/null", O_RDONLY);
	n = negotiate_nt1(req, 0x4001);
	assert_int_equal(tsess_send(&t, req, n), 0);
	assert_int_equal(t.plen, 0);
	tsess_close(&t);
}

/*
 * One write AndX of 100 KiB (its length's high half in DataLengthHigh,
 * the frame past 64 KiB), sent in pieces as TCP would: kept whole.
 */
static void
test_large_write(void **state)
{
	static uint8_t	 req[120000], data[100 * 1024];
	struct tsess	 t;
	uint8_t		 rep[256], w[28], cw[6];
	uint16_t	 tid, fid;
	size_t		 i, n, len = sizeof(data);

	for (i = 0; i < len; i++)
		data[i] = (uint8_t)(i % 253);
	tsess_open(&t, "smb");
	tid = tree_connect(&t, "ADMIN$");
	assert_int_equal(nt_create(&t, tid, "svchost.exe", &fid), 0);
	memset(w, 0, sizeof(w));
	w[0] = 0xff;
	smb_put16(w + 4, fid);
	smb_put16(w + 18, (uint16_t)(len >> 16));
	smb_put16(w + 20, (uint16_t)len);
	smb_put16(w + 22, 32 + 1 + 28 + 2);
	/* The byte count is 16 bits: the data runs past it, as Windows has. */
	n = smb1_build(req, 0x2f, 0x4001, w, 14, NULL, 0);
	memcpy(req + n, data, len);
	n += len;
	req[1] = (uint8_t)((n - 4) >> 16);
	req[2] = (uint8_t)((n - 4) >> 8);
	req[3] = (uint8_t)(n - 4);
	assert_int_equal(tsess_send_pieces(&t, req, n, 1460), 0);
	assert_int_equal(tsess_recv(&t, rep, sizeof(rep)), 4 + 32 + 1 + 12 + 2);
	assert_int_equal(smb_get32(rep + 9), 0);
	assert_int_equal(smb_get16(rep + 37 + 4) |
	    (size_t)smb_get16(rep + 37 + 8) << 16, len);
	memset(cw, 0, sizeof(cw));
	smb_put16(cw, fid);
	n = smb1_build(req, 0x04, 0x4001, cw, 3, NULL, 0);
	last_stored.len = 0;
	assert_int_equal(tsess_send(&t, req, n), 0);
	assert_int_equal(last_stored.total, len);
	assert_memory_equal(last_stored.buf, data, last_stored.len);
	tsess_close(&t);
}

/*
 * A write that lands past the 8 MiB a disk file keeps: said once (a
 * limit.hit), and the file, cut, is not stored as if it were whole.
 */
static void
test_file_cap(void **state)
{
	struct tsess	 t;
	uint8_t		 req[64], w[6], data[100];
	uint16_t	 tid, fid;
	size_t		 n;
	const char	*e;
	int		 hits = 0;

	memset(data, 0x41, sizeof(data));
	tsess_open(&t, "smb");
	tid = tree_connect(&t, "C$");
	assert_int_equal(nt_create(&t, tid, "big.bin", &fid), 0);
	assert_int_equal(write_andx(&t, fid, 0, data, sizeof(data)),
	    sizeof(data));
	assert_int_equal(write_andx(&t, fid, SMB_FILE_MAX - 10, data,
	    sizeof(data)), sizeof(data));
	assert_int_equal(write_andx(&t, fid, SMB_FILE_MAX + 10, data,
	    sizeof(data)), sizeof(data));
	for (e = events; (e = strstr(e, "\"limit\":\"smb_file\"")) != NULL;
	    e++)
		hits++;
	assert_int_equal(hits, 1);
	last_stored.len = last_stored.total = 0;
	memset(w, 0, sizeof(w));
	smb_put16(w, fid);
	n = smb1_build(req, 0x04, 0x4001, w, 3, NULL, 0);
	assert_int_equal(tsess_send(&t, req, n), 0);
	assert_int_equal(last_stored.total, 0);
	tsess_close(&t);
}

/*
 * A session's files keep 16 MiB together: a write at the end of a third
 * file of 8 MiB (a few bytes that would cost 8 MiB) is cut, said once
 * with the session's cap, and that file is not stored; the first two are.
 */
static void
test_session_files(void **state)
{
	struct tsess	 t;
	uint8_t		 req[64], rep[64], w[6], data[16];
	uint16_t	 tid, fid[3];
	size_t		 n, i;

	memset(data, 0x42, sizeof(data));
	tsess_open(&t, "smb");
	tid = tree_connect(&t, "C$");
	for (i = 0; i < 3; i++) {
		assert_int_equal(nt_create(&t, tid, i == 2 ? "c.bin" : "ab.bin",
		    &fid[i]), 0);
		assert_int_equal(write_andx(&t, fid[i], SMB_FILE_MAX - 16,
		    data, sizeof(data)), sizeof(data));
	}
	assert_int_equal(events_count("\"limit\":\"smb_session_files\""), 1);
	assert_int_equal(events_count("\"sundew.limit.hit\""), 1);
	for (i = 0; i < 3; i++) {
		last_stored.len = last_stored.total = 0;
		memset(w, 0, sizeof(w));
		smb_put16(w, fid[i]);
		n = smb1_build(req, 0x04, 0x4001, w, 3, NULL, 0);
		assert_int_equal(tsess_send(&t, req, n), 0);
		assert_int_equal(tsess_recv(&t, rep, sizeof(rep)), 4 + 35);
		assert_int_equal(last_stored.total, i < 2 ? SMB_FILE_MAX : 0);
	}
	/* Closed, the first two give their room back. */
	assert_int_equal(nt_create(&t, tid, "d.bin", &fid[0]), 0);
	assert_int_equal(write_andx(&t, fid[0], SMB_FILE_MAX - 16, data,
	    sizeof(data)), sizeof(data));
	assert_int_equal(events_count("\"sundew.limit.hit\""), 1);
	tsess_close(&t);
}

/*
 * A session says 256 sundew.request events at most, then one limit.hit:
 * 400 tree connects (each an event) cannot flood the log.
 */
static void
test_request_events_cap(void **state)
{
	struct tsess	 t;
	uint8_t		 req[256], rep[256], w[8], b[64];
	size_t		 n, i;

	tsess_open(&t, "smb");
	memset(w, 0, sizeof(w));
	w[0] = 0xff;
	smb_put16(w + 6, 1);
	memcpy(b, "\0\\\\HOST\\NOPE\0?????\0", 20);
	n = smb1_build(req, 0x75, 0x4001, w, 4, b, 20);
	for (i = 0; i < 400; i++) {
		assert_int_equal(tsess_send(&t, req, n), 0);
		assert_true(tsess_recv(&t, rep, sizeof(rep)) >= 4 + 35);
		assert_int_equal(smb_get32(rep + 9), 0xc00000cc);
	}
	assert_int_equal(nrequests, 256);
	assert_int_equal(nlimits, 1);
	assert_non_null(strstr(last_limit,
	    "\"limit\":\"smb_request_events\""));
	tsess_close(&t);
}

/*
 * A session stores 16 files at most: a 17th written and closed is one
 * limit.hit, the 18th nothing more.
 */
static void
test_stored_cap(void **state)
{
	struct tsess	 t;
	uint8_t		 req[64], rep[64], w[6], data[4] = "MZ\x90";
	uint16_t	 tid, fid;
	size_t		 n, i;
	int		 stores = 0;

	tsess_open(&t, "smb");
	tid = tree_connect(&t, "C$");
	for (i = 0; i < 18; i++) {
		assert_int_equal(nt_create(&t, tid, "w.exe", &fid), 0);
		data[3] = (uint8_t)i;
		assert_int_equal(write_andx(&t, fid, 0, data, 4), 4);
		last_stored.total = 0;
		memset(w, 0, sizeof(w));
		smb_put16(w, fid);
		n = smb1_build(req, 0x04, 0x4001, w, 3, NULL, 0);
		assert_int_equal(tsess_send(&t, req, n), 0);
		assert_int_equal(tsess_recv(&t, rep, sizeof(rep)), 4 + 35);
		if (last_stored.total == 4)
			stores++;
	}
	assert_int_equal(stores, 16);
	assert_int_equal(events_count("\"command\":\"file_written\""), 16);
	assert_int_equal(events_count("\"limit\":\"smb_files_stored\""), 1);
	assert_int_equal(nlimits, 1);
	tsess_close(&t);
}

/*
 * A transaction EternalBlue's way (an NT Transact continued by a Trans2
 * secondary) still pending when the session ends: its data goes to the
 * analyser before the close event, while the session is open.
 */
static void
test_pending_trans_at_close(void **state)
{
	static const uint8_t sc[8] = { 0xd9, 0x74, 0x24, 0xf4, 0x5b, 0x90,
	    0x90, 0x90 };
	struct tsess	 t;
	uint8_t		 req[512], w[40], b[16];
	size_t		 n;

	tsess_open(&t, "smb");
	/* NT Transact primary: 19 words, 100 data bytes, 8 of them here. */
	memset(w, 0, sizeof(w));
	smb_put32(w + 7, 100);			/* TotalDataCount */
	smb_put32(w + 27, 8);			/* DataCount */
	smb_put32(w + 31, 32 + 1 + 38 + 2);	/* DataOffset */
	n = smb1_build(req, 0xa0, 0x4001, w, 19, sc, sizeof(sc));
	assert_int_equal(tsess_send(&t, req, n), 0);
	/* A Trans2 secondary of 4 more bytes at 8: the confusion. */
	memset(w, 0, sizeof(w));
	smb_put16(w + 2, 100);
	smb_put16(w + 10, 4);			/* DataCount */
	smb_put16(w + 12, 32 + 1 + 18 + 2);	/* DataOffset */
	smb_put16(w + 14, 8);			/* DataDisplacement */
	memset(b, 0x90, 4);
	n = smb1_build(req, 0x33, 0x4001, w, 9, b, 4);
	assert_int_equal(tsess_send(&t, req, n), 0);
	assert_non_null(strstr(events, "transaction_type_confusion"));
	assert_int_equal(nanalysed, 0);
	conn_close(&t.c, "test");
	assert_int_equal(nanalysed, 1);
	assert_int_equal(nanalysed_late, 0);
	tsess_close(&t);
}

/*
 * The multi-protocol negotiate that upgrades to SMB2 (smbclient offers
 * NT LM 0.12 too): one negotiate event, with the dialect answered.
 */
static void
test_negotiate_upgrade_event(void **state)
{
	static const uint8_t	d[] = "\x02NT LM 0.12\0\x02SMB 2.002\0"
				    "\x02SMB 2.???";
	struct tsess		t;
	uint8_t			req[128], rep[512];
	size_t			n;

	tsess_open(&t, "smb");
	n = smb1_build(req, 0x72, 0xc853, NULL, 0, d, sizeof(d));
	assert_int_equal(tsess_send(&t, req, n), 0);
	assert_true(tsess_recv(&t, rep, sizeof(rep)) > 4 + 64);
	assert_int_equal(rep[4], 0xfe);
	assert_int_equal(events_count("\"command\":\"negotiate\""), 1);
	assert_null(strstr(events, "NT LM 0.12"));
	assert_non_null(strstr(events, "\"dialect\":\"2."));
	tsess_close(&t);
}

/*
 * A session takes 512 session setups (each here a login event); past
 * them a login is refused, said once, and the session goes on.
 */
static void
test_logins_cap(void **state)
{
	static const uint8_t	b[] = "bob\0CORP\0Unix\0Samba\0";
	struct tsess		t;
	uint8_t			req[256], rep[512], w[26];
	size_t			n, i;

	tsess_open(&t, "smb");
	memset(w, 0, sizeof(w));
	w[0] = 0xff;
	smb_put16(w + 4, 16644);
	smb_put16(w + 6, 50);
	n = smb1_build(req, 0x73, 0x4001, w, 13, b, sizeof(b));
	for (i = 0; i < 520; i++) {
		assert_int_equal(tsess_send(&t, req, n), 0);
		assert_true(tsess_recv(&t, rep, sizeof(rep)) >= 4 + 35);
		assert_int_equal(smb_get32(rep + 9), i < 512 ? 0 : 0xc0000205);
	}
	assert_int_equal(nlogins, 512);
	assert_int_equal(nlimits, 1);
	assert_non_null(strstr(last_limit, "\"limit\":\"smb_logins\""));
	/* The session goes on. */
	n = negotiate_nt1(req, 0x4001);
	assert_int_equal(tsess_send(&t, req, n), 0);
	assert_true(tsess_recv(&t, rep, sizeof(rep)) > 4 + 35);
	assert_int_equal(smb_get32(rep + 9), 0);
	tsess_close(&t);
}

/* Echo: as many answers as asked for, each numbered, the data back. */
static void
test_echo(void **state)
{
	struct tsess	 t;
	uint8_t		 req[256], rep[512], w[2];
	size_t		 n, one;

	tsess_open(&t, "smb");
	smb_put16(w, 2);
	n = smb1_build(req, 0x2b, 0x4001, w, 1, (const uint8_t *)"ping", 4);
	assert_int_equal(tsess_send(&t, req, n), 0);
	n = tsess_recv(&t, rep, sizeof(rep));
	one = 4 + 32 + 1 + 2 + 2 + 4;
	assert_int_equal(n, 2 * one);
	assert_int_equal(smb_get16(rep + 37), 1);
	assert_memory_equal(rep + 41, "ping", 4);
	assert_int_equal(smb_get16(rep + one + 37), 2);
	tsess_close(&t);
}

/*
 * Signing is never active, so every reply's signature is zero, whatever
 * the request carried: Windows clients put "BSRSPYL " there, and a
 * server that sent it back would not be Windows.
 */
static void
test_reply_signature_zero(void **state)
{
	static const uint8_t	zero[8];
	struct tsess		t;
	uint8_t			req[256], rep[1024], w[2];
	size_t			n, one = 4 + 32 + 1 + 2 + 2 + 4;

	tsess_open(&t, "smb");
	n = negotiate_nt1(req, 0xc801);
	memcpy(req + 4 + 14, "BSRSPYL ", 8);
	assert_int_equal(tsess_send(&t, req, n), 0);
	assert_true(tsess_recv(&t, rep, sizeof(rep)) > 4 + 32);
	assert_memory_equal(rep + 4 + 14, zero, 8);
	smb_put16(w, 2);
	n = smb1_build(req, 0x2b, 0x4001, w, 1, (const uint8_t *)"ping", 4);
	memcpy(req + 4 + 14, "BSRSPYL ", 8);
	assert_int_equal(tsess_send(&t, req, n), 0);
	assert_int_equal(tsess_recv(&t, rep, sizeof(rep)), 2 * one);
	assert_memory_equal(rep + 4 + 14, zero, 8);
	assert_memory_equal(rep + one + 4 + 14, zero, 8);
	tsess_close(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_negotiate_split),
		cmocka_unit_test(test_two_in_one),
		cmocka_unit_test(test_negotiate_extended),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_andx_chain),
		cmocka_unit_test(test_unknown_command_share),
		cmocka_unit_test(test_netbios),
		cmocka_unit_test(test_pipe),
		cmocka_unit_test(test_pipe_events_cap),
		cmocka_unit_test(test_disk_file),
		cmocka_unit_test(test_closed_by_handler),
		cmocka_unit_test(test_large_write),
		cmocka_unit_test(test_echo),
		cmocka_unit_test(test_reply_signature_zero),
		cmocka_unit_test(test_peer_gone),
		cmocka_unit_test(test_open_andx),
		cmocka_unit_test(test_file_cap),
		cmocka_unit_test(test_session_files),
		cmocka_unit_test(test_request_events_cap),
		cmocka_unit_test(test_stored_cap),
		cmocka_unit_test(test_pending_trans_at_close),
		cmocka_unit_test(test_negotiate_upgrade_event),
		cmocka_unit_test(test_logins_cap),
	};

	return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
