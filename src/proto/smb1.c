/*
 * SMB1 (MS-CIFS, MS-SMB): the header, AndX chains answered as one
 * chained message, and the commands a client or a worm needs before its
 * exploit: negotiate (NT LM 0.12, the LANMAN dialects, the upgrade to
 * SMB2), session setup, tree connect, opening named pipes and files,
 * read, write, close, echo, logoff, tree disconnect.  The transactions
 * are smb1_trans.c's.
 *
 * Every length is checked against the message before it is used: a
 * message whose lengths do not fit is garbage and ends the session.  An
 * unknown command is answered as Windows does (not implemented) and the
 * session goes on.
 */
#include <string.h>
#include <time.h>

#include "conn.h"
#include "dcerpc.h"
#include "event.h"
#include "host.h"
#include "ntlm.h"
#include "smb_int.h"

#define SMB1_HDR		32

/* Commands (MS-CIFS 2.2.2.1). */
#define SMB1_CLOSE		0x04
#define SMB1_LOCKING_ANDX	0x24
#define SMB1_TRANS		0x25
#define SMB1_TRANS_SEC		0x26
#define SMB1_ECHO		0x2b
#define SMB1_OPEN_ANDX		0x2d
#define SMB1_READ_ANDX		0x2e
#define SMB1_WRITE_ANDX		0x2f
#define SMB1_TRANS2		0x32
#define SMB1_TRANS2_SEC		0x33
#define SMB1_TREE_DISCONNECT	0x71
#define SMB1_NEGOTIATE		0x72
#define SMB1_SESSION_SETUP	0x73
#define SMB1_LOGOFF		0x74
#define SMB1_TREE_CONNECT	0x75
#define SMB1_NT_TRANS		0xa0
#define SMB1_NT_TRANS_SEC	0xa1
#define SMB1_NT_CREATE		0xa2
#define SMB1_NT_CANCEL		0xa4
#define SMB1_NONE		0xff

/* ERRSRV/ERRerror as an NT status: a malformed request. */
#define SMB1_INVALID_SMB	0x00010002

#define SMB1_FLAGS_REPLY	0x98	/* reply, canonical, caseless */
#define SMB1_FLAGS2_UNICODE	0x8000
#define SMB1_FLAGS2_NTSTATUS	0x4000
#define SMB1_FLAGS2_EXTSEC	0x0800
/* What a reply's flags2 keeps of the request's, and always says. */
#define SMB1_FLAGS2_KEEP	(SMB1_FLAGS2_UNICODE | SMB1_FLAGS2_NTSTATUS | \
				    SMB1_FLAGS2_EXTSEC)
#define SMB1_FLAGS2_ALWAYS	0x0003	/* long names, extended attributes */

/* NT LM 0.12 capabilities of a Windows XP / 2003 server. */
#define SMB1_CAPS		0x0000f3fd
#define SMB1_CAP_EXTSEC		0x80000000
/* LanmanServer's SizReqBuf default: a server's, a workstation's. */
#define SMB1_MAX_BUFFER_SERVER	16644
#define SMB1_MAX_BUFFER_WKS	4356
#define SMB1_MAX_MPX		50

/* An AndX chain is at most this long (Windows: a handful). */
#define SMB1_CHAIN_MAX		8
/* What a read answers at most, what an echo repeats at most. */
#define SMB1_READ_MAX		0xf000
#define SMB1_ECHO_MAX		8
/* Room for one reply: a read's data and the rest of the chain. */
#define SMB1_OUT_MAX		(SMB1_READ_MAX + 4096)

/* Write mode bits of a pipe write (MS-CIFS 2.2.4.43.1). */
#define SMB1_WRITE_RAW		0x0004
#define SMB1_WRITE_MSG_START	0x0008

/* A reply being built (one message, maybe a chain), and its request. */
struct smb1_ctx {
	struct smb_conn		*sc;
	struct smb1_req		 req;	/* the command of the block at hand */
	uint16_t		 uid, tid;	/* the reply's header */
	int			 unicode;
	int			 replied;	/* sent another way (SMB2) */
	uint8_t			*out;
	size_t			 len;
	size_t			 bcc_at;	/* the open block's byte count */
	size_t			 andx_at;	/* the last AndX block's words */
};

static uint8_t	smb1_outbuf[SMB1_OUT_MAX];

static int
smb1_is_andx(uint8_t cmd)
{
	switch (cmd) {
	case SMB1_LOCKING_ANDX:
	case SMB1_OPEN_ANDX:
	case SMB1_READ_ANDX:
	case SMB1_WRITE_ANDX:
	case SMB1_SESSION_SETUP:
	case SMB1_LOGOFF:
	case SMB1_TREE_CONNECT:
	case SMB1_NT_CREATE:
		return 1;
	}
	return 0;
}

static int
smb1_is_error(uint32_t status)
{
	return (status & 0xc0000000) == 0xc0000000;
}

/*
 * The status as a client that did not ask for NT status codes reads it:
 * a DOS error class and code (MS-CIFS 2.2.1.4, the mapping of MS-ERREF).
 */
static uint32_t
smb1_dos_status(uint32_t status)
{
	static const struct {
		uint32_t	nt;
		uint8_t		class;
		uint16_t	code;
	} map[] = {
		{ SMB_NOT_IMPLEMENTED,		1, 1 },		/* ERRbadfunc */
		{ SMB_OBJECT_NAME_NOT_FOUND,	1, 2 },		/* ERRbadfile */
		{ SMB_ACCESS_DENIED,		1, 5 },		/* ERRnoaccess */
		{ SMB_INVALID_HANDLE,		1, 6 },		/* ERRbadfid */
		{ SMB_NO_MORE_FILES,		1, 18 },	/* ERRnofiles */
		{ SMB_END_OF_FILE,		1, 38 },	/* ERRhandleeof */
		{ SMB_INVALID_PARAMETER,	1, 87 },	/* ERRinvalidparam */
		{ SMB_PIPE_EMPTY,		1, 232 },	/* ERRnodata */
		{ SMB_BUFFER_OVERFLOW,		1, 234 },	/* ERRmoredata */
		{ SMB_MORE_PROCESSING,		1, 234 },
		{ SMB_BAD_NETWORK_NAME,		2, 6 },		/* ERRinvnetname */
		{ SMB_INSUFF_SERVER_RESOURCES,	2, 20 },	/* ERRnoresource */
		{ SMB_NOT_SUPPORTED,		2, 0xffff },	/* ERRnosupport */
	};
	size_t	i;

	if (status == SMB_OK)
		return 0;
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].nt == status)
			return map[i].class | (uint32_t)map[i].code << 16;
	return 2 | 1u << 16;		/* ERRSRV ERRerror */
}

/* The header of a reply to req, its status as the client reads it. */
static void
smb1_put_header(uint8_t *h, const struct smb1_req *req, uint32_t status,
    uint16_t flags2, uint16_t uid, uint16_t tid)
{
	h[0] = 0xff;
	memcpy(h + 1, "SMB", 3);
	h[4] = req->cmd;
	smb_put32(h + 5, flags2 & SMB1_FLAGS2_NTSTATUS ? status :
	    smb1_dos_status(status));
	h[9] = SMB1_FLAGS_REPLY;
	smb_put16(h + 10, flags2);
	smb_put16(h + 12, req->pid_high);
	memcpy(h + 14, req->signature, 8);
	smb_put16(h + 22, 0);
	smb_put16(h + 24, tid);
	smb_put16(h + 26, req->pid);
	smb_put16(h + 28, uid);
	smb_put16(h + 30, req->mid);
}

static uint16_t
smb1_flags2(const struct smb1_req *req)
{
	return (uint16_t)((req->flags2 & SMB1_FLAGS2_KEEP) | SMB1_FLAGS2_ALWAYS);
}

/*
 * One block (word count, words, byte count, bytes) at p of a message of
 * n bytes into r's fields; -1 if its words do not fit, -2 if only its
 * bytes do not (r's words are set, its bytes empty).
 */
static int
smb1_block(const uint8_t *msg, size_t n, size_t off, struct smb1_req *r)
{
	size_t	end;

	if (off >= n)
		return -1;
	r->wct = msg[off];
	end = off + 1 + 2 * (size_t)r->wct;
	if (end + 2 > n)
		return -1;
	r->words = msg + off + 1;
	r->bcc = smb_get16(msg + end);
	r->bytes = msg + end + 2;
	if (r->bcc > n - end - 2) {
		r->bcc = 0;
		return -2;
	}
	return 0;
}

/*
 * The header and first block of a message (MS-CIFS 2.2.3.1): 0, -1 for
 * garbage, -2 for a byte count past the message's end.
 */
static int
smb1_parse(const uint8_t *msg, size_t n, size_t at, struct smb1_req *r)
{
	memset(r, 0, sizeof(*r));
	if (n < SMB1_HDR + 3)
		return -1;
	r->msg = msg;
	r->msglen = n;
	r->at = at;
	r->cmd = msg[4];
	r->status = smb_get32(msg + 5);
	r->flags = msg[9];
	r->flags2 = smb_get16(msg + 10);
	r->pid_high = smb_get16(msg + 12);
	/*
	 * The reply's signature stays zero: signing is never active here,
	 * and then a server sends zeros (MS-CIFS 3.3.4.1), not the
	 * client's "BSRSPYL " back.
	 */
	r->tid = smb_get16(msg + 24);
	r->pid = smb_get16(msg + 26);
	r->uid = smb_get16(msg + 28);
	r->mid = smb_get16(msg + 30);
	return smb1_block(msg, n, SMB1_HDR, r);
}

/* Building a reply. */

/* Room for n more bytes of the reply; -1 if there is none (a bug). */
static int
smb1_room(struct smb1_ctx *x, size_t n)
{
	return n <= SMB1_OUT_MAX - x->len ? 0 : -1;
}

/* Opens a block: its words (wct of them, an AndX's first four zero). */
static int
smb1_put_words(struct smb1_ctx *x, const uint8_t *words, uint8_t wct)
{
	if (smb1_room(x, 1 + 2 * (size_t)wct + 2) == -1)
		return -1;
	x->out[x->len] = wct;
	if (wct > 0)
		memcpy(x->out + x->len + 1, words, 2 * (size_t)wct);
	if (smb1_is_andx(x->req.cmd) && wct >= 2)
		x->andx_at = x->len + 1;
	x->len += 1 + 2 * (size_t)wct;
	x->bcc_at = x->len;
	smb_put16(x->out + x->len, 0);
	x->len += 2;
	return 0;
}

static int
smb1_put_bytes(struct smb1_ctx *x, const void *p, size_t n)
{
	if (smb1_room(x, n) == -1 || x->len - x->bcc_at - 2 + n > 0xffff)
		return -1;
	memcpy(x->out + x->len, p, n);
	x->len += n;
	smb_put16(x->out + x->bcc_at, (uint16_t)(x->len - x->bcc_at - 2));
	return 0;
}

/* A pad byte, if needed, so that what follows is 2-aligned in the message. */
static int
smb1_put_align(struct smb1_ctx *x)
{
	static const uint8_t	zero;

	return x->len % 2 ? smb1_put_bytes(x, &zero, 1) : 0;
}

/* A string, NUL-terminated: UTF-16LE (aligned) or ASCII. */
static int
smb1_put_str(struct smb1_ctx *x, const char *s, int unicode)
{
	uint8_t	buf[2 * 64 + 2];
	size_t	n;

	if (!unicode)
		return smb1_put_bytes(x, s, strlen(s) + 1);
	n = smb_ascii_utf16(s, buf, sizeof(buf) - 2);
	buf[n] = buf[n + 1] = 0;
	if (smb1_put_align(x) == -1)
		return -1;
	return smb1_put_bytes(x, buf, n + 2);
}

/* Reading a request's strings. */

/*
 * The NUL-terminated string at *off of the message (before end), UTF-16LE
 * 2-aligned in the message or ASCII: its start and length without the
 * NUL; *off moves past it.  A string without its NUL runs to end.
 */
static const uint8_t *
smb1_get_str(const uint8_t *msg, size_t end, size_t *off, int unicode,
    size_t *len)
{
	size_t	i = *off;

	if (unicode && i % 2)
		i++;
	if (i > end)
		i = end;
	*off = i;
	if (unicode) {
		for (; i + 1 < end && (msg[i] | msg[i + 1]) != 0; i += 2)
			;
		*len = i - *off;
		i = i + 1 < end ? i + 2 : end;
	} else {
		for (; i < end && msg[i] != 0; i++)
			;
		*len = i - *off;
		i = i < end ? i + 1 : end;
	}
	msg += *off;
	*off = i;
	return msg;
}

/* The offset of the block's bytes in the message. */
static size_t
smb1_bytes_off(const struct smb1_req *r)
{
	return (size_t)(r->bytes - r->msg);
}

/* Negotiate. */

/*
 * The dialects (MS-CIFS 2.2.4.52) a server knows, and how much it
 * prefers each: NT LM 0.12, then the LANMAN dialects newest first, then
 * the core protocol.
 */
#define SMB1_RANK_NT1		10
#define SMB1_RANK_LANMAN	2	/* and up */
static const struct {
	const char	*name;
	int		 rank;
} smb1_dialects[] = {
	{ "NT LM 0.12", SMB1_RANK_NT1 },
	{ "LANMAN2.1", 5 }, { "DOS LANMAN2.1", 5 }, { "Samba", 5 },
	{ "LM1.2X002", 4 }, { "DOS LM1.2X002", 4 },
	{ "LANMAN1.0", 3 }, { "MICROSOFT NETWORKS 3.0", 3 },
	{ "MICROSOFT NETWORKS 1.03", 1 }, { "PC NETWORK PROGRAM 1.0", 1 },
	{ "PCLAN1.0", 1 },
};

/* The largest request the host takes, as its edition has it. */
static uint16_t
smb1_max_buffer(void)
{
	return strstr(host_get()->product, "Server") != NULL ?
	    SMB1_MAX_BUFFER_SERVER : SMB1_MAX_BUFFER_WKS;
}

/* Dialect time as the LANMAN negotiate says it (SMB_DATE, SMB_TIME). */
static void
smb1_dos_time(int64_t usec, uint16_t *date, uint16_t *tm)
{
	struct tm	t;
	time_t		s = (time_t)(usec / 1000000);

	gmtime_r(&s, &t);
	*tm = (uint16_t)(t.tm_hour << 11 | t.tm_min << 5 | t.tm_sec / 2);
	*date = (uint16_t)((t.tm_year - 80) << 9 | (t.tm_mon + 1) << 5 |
	    t.tm_mday);
}

/* The NT LM 0.12 answer, extended security or with a challenge. */
static int
smb1_negotiate_nt1(struct smb1_ctx *x, uint16_t index)
{
	const struct host	*h = host_get();
	struct smb_conn		*sc = x->sc;
	uint8_t			 w[34], blob[256];
	size_t			 n;
	int			 ext = (x->req.flags2 & SMB1_FLAGS2_EXTSEC) != 0;

	memset(w, 0, sizeof(w));
	smb_put16(w, index);
	w[2] = 0x03;			/* user level, challenge/response */
	smb_put16(w + 3, SMB1_MAX_MPX);
	smb_put16(w + 5, 1);		/* virtual circuits */
	smb_put32(w + 7, smb1_max_buffer());
	smb_put32(w + 11, 65536);	/* raw size */
	smb_put32(w + 15, 0);		/* session key */
	smb_put32(w + 19, SMB1_CAPS | (ext ? SMB1_CAP_EXTSEC : 0));
	smb_put64(w + 23, host_filetime(event_now_usec()));
	smb_put16(w + 31, 0);		/* UTC */
	w[33] = ext ? 0 : 8;
	sc->dialect = SMB_DIALECT_NT1;
	ntlm_challenge_new(&sc->ntlm);
	if (smb1_put_words(x, w, 17) == -1)
		return -1;
	if (ext) {
		n = ntlm_spnego_hint(blob, sizeof(blob));
		return smb1_put_bytes(x, h->guid, 16) == -1 ||
		    smb1_put_bytes(x, blob, n) == -1 ? -1 : 0;
	}
	/* Windows writes the names in UTF-16 whatever the client asked. */
	x->unicode = 1;
	if (smb1_put_bytes(x, sc->ntlm.challenge, 8) == -1)
		return -1;
	n = smb_ascii_utf16(h->domain, blob, sizeof(blob) - 2);
	blob[n] = blob[n + 1] = 0;
	if (smb1_put_bytes(x, blob, n + 2) == -1)
		return -1;
	n = smb_ascii_utf16(h->name, blob, sizeof(blob) - 2);
	blob[n] = blob[n + 1] = 0;
	return smb1_put_bytes(x, blob, n + 2);
}

/* The LANMAN answer (MS-CIFS 2.2.4.52.2, 13 words). */
static int
smb1_negotiate_lanman(struct smb1_ctx *x, uint16_t index)
{
	const struct host	*h = host_get();
	struct smb_conn		*sc = x->sc;
	uint8_t			 w[26];
	uint16_t		 date, tm;

	memset(w, 0, sizeof(w));
	smb_put16(w, index);
	smb_put16(w + 2, 0x0003);	/* user level, challenge/response */
	smb_put16(w + 4, smb1_max_buffer());
	smb_put16(w + 6, SMB1_MAX_MPX);
	smb_put16(w + 8, 1);		/* virtual circuits */
	smb1_dos_time(event_now_usec(), &date, &tm);
	smb_put16(w + 16, tm);
	smb_put16(w + 18, date);
	smb_put16(w + 22, 8);		/* challenge length */
	sc->dialect = SMB_DIALECT_LANMAN;
	ntlm_challenge_new(&sc->ntlm);
	if (smb1_put_words(x, w, 13) == -1 ||
	    smb1_put_bytes(x, sc->ntlm.challenge, 8) == -1)
		return -1;
	return smb1_put_bytes(x, h->domain, strlen(h->domain) + 1);
}

/*
 * Negotiate: the best dialect offered; SMB2 if offered and the host
 * speaks it (the multi-protocol upgrade).  Garbage in the dialect list
 * ends the session.
 */
static int
smb1_negotiate(struct smb1_ctx *x, uint32_t *status)
{
	const struct smb1_req	*r = &x->req;
	const uint8_t		*name;
	size_t			 off = 0, len, i;
	int			 best = -1, rank = 0, smb2 = 0;
	uint16_t		 index, pick = 0xffff;
	uint8_t			 w[2];

	for (index = 0; off < r->bcc; index++) {
		if (r->bytes[off++] != 0x02)
			return -1;
		name = smb1_get_str(r->bytes, r->bcc, &off, 0, &len);
		if (len == 9 && memcmp(name, "SMB 2.002", 9) == 0)
			smb2 |= 1;
		else if (len == 9 && memcmp(name, "SMB 2.???", 9) == 0)
			smb2 |= 2;
		for (i = 0; i < sizeof(smb1_dialects) /
		    sizeof(smb1_dialects[0]); i++)
			if (strlen(smb1_dialects[i].name) == len &&
			    memcmp(smb1_dialects[i].name, name, len) == 0 &&
			    smb1_dialects[i].rank > rank) {
				rank = smb1_dialects[i].rank;
				best = (int)i;
				pick = index;
			}
	}
	/* The upgrade's event is smb2.c's, with the dialect it answers. */
	if (smb2 && host_get()->smb2_max >= 0x0202) {
		x->replied = 1;
		return smb2_negotiate_smb1(x->sc, (smb2 & 2) != 0);
	}
	name = (const uint8_t *)(best >= 0 ? smb1_dialects[best].name : "");
	smb_request_event(x->sc, "negotiate", "dialect", name,
	    strlen((const char *)name));
	*status = SMB_OK;
	if (rank == SMB1_RANK_NT1)
		return smb1_negotiate_nt1(x, pick);
	if (rank >= SMB1_RANK_LANMAN)
		return smb1_negotiate_lanman(x, pick);
	/* The core protocol, or nothing known: the index alone. */
	smb_put16(w, pick);
	return smb1_put_words(x, w, 1);
}

/* Session setup. */

/* NativeOS, NativeLanMan and the domain after a session setup's reply. */
static int
smb1_put_native(struct smb1_ctx *x)
{
	const struct host	*h = host_get();

	return smb1_put_str(x, h->native_os, x->unicode) == -1 ||
	    smb1_put_str(x, h->native_lanman, x->unicode) == -1 ||
	    smb1_put_str(x, h->domain, x->unicode) == -1 ? -1 : 0;
}

/* A session's uid: the one in use, or a new one for a new session. */
static void
smb1_session_uid(struct smb1_ctx *x)
{
	struct smb_conn	*sc = x->sc;

	if (x->req.uid == 0 || sc->uid == 0) {
		if (sc->next_uid == 0 || sc->next_uid == 0xffff)
			sc->next_uid = 1;
		sc->uid = sc->next_uid++;
	}
	x->uid = sc->uid;
}

/* Extended security (12 words): a blob of NTLMSSP, maybe in SPNEGO. */
static int
smb1_session_ext(struct smb1_ctx *x, uint32_t *status)
{
	const struct smb1_req	*r = &x->req;
	uint8_t			 out[NTLM_OUT_MAX], w[8];
	size_t			 bloblen = smb_get16(r->words + 14), outlen = 0;
	enum ntlm_rc		 rc;

	if (bloblen > r->bcc)
		return -1;
	rc = ntlm_accept(&x->sc->ntlm, x->sc->c, &x->sc->seen, r->bytes,
	    bloblen, r->at + smb1_bytes_off(r), out, sizeof(out), &outlen);
	if (rc == NTLM_ERROR)
		return -1;
	if (outlen > sizeof(out))
		return -1;
	smb1_session_uid(x);
	*status = rc == NTLM_MORE ? SMB_MORE_PROCESSING : SMB_OK;
	memset(w, 0, sizeof(w));
	smb_put16(w + 6, (uint16_t)outlen);
	if (smb1_put_words(x, w, 4) == -1 ||
	    smb1_put_bytes(x, out, outlen) == -1)
		return -1;
	return smb1_put_native(x);
}

/*
 * Without extended security: NT1's 13 words (LM and NT responses) or
 * LANMAN's 10 (one password), then the account and domain.  Anyone is
 * let in; the attempt is a login event.
 */
static int
smb1_session_plain(struct smb1_ctx *x, uint32_t *status)
{
	const struct smb1_req	*r = &x->req;
	struct ntlm_login	 l;
	size_t			 off = smb1_bytes_off(r), end, lmlen, ntlen;
	uint8_t			 w[6];

	memset(&l, 0, sizeof(l));
	lmlen = smb_get16(r->words + 14);
	ntlen = r->wct == 13 ? smb_get16(r->words + 16) : 0;
	end = off + r->bcc;
	if (lmlen > r->bcc || ntlen > r->bcc - lmlen)
		return -1;
	l.lm = r->msg + off;
	l.lmlen = lmlen;
	l.nt = r->msg + off + lmlen;
	l.ntlen = ntlen;
	off += lmlen + ntlen;
	l.unicode = r->wct == 13 && x->unicode;
	l.user = smb1_get_str(r->msg, end, &off, l.unicode, &l.userlen);
	l.domain = smb1_get_str(r->msg, end, &off, l.unicode, &l.domainlen);
	ntlm_login_event(x->sc->c, &l, 1);
	smb1_session_uid(x);
	*status = SMB_OK;
	memset(w, 0, sizeof(w));
	if (smb1_put_words(x, w, 3) == -1)
		return -1;
	return smb1_put_native(x);
}

static int
smb1_session_setup(struct smb1_ctx *x, uint32_t *status)
{
	if (!smb_setup_allowed(x->sc)) {
		*status = SMB_INSUFF_SERVER_RESOURCES;
		return 0;
	}
	if (x->req.wct == 12)
		return smb1_session_ext(x, status);
	if (x->req.wct == 13 || x->req.wct == 10)
		return smb1_session_plain(x, status);
	*status = SMB_INVALID_PARAMETER;
	return 0;
}

/* Tree connect: \\server\share of the host's, as the share's service. */
static int
smb1_tree_connect(struct smb1_ctx *x, uint32_t *status)
{
	const struct smb1_req	*r = &x->req;
	const struct host_share	*share;
	struct smb_tree		*t;
	const uint8_t		*path;
	char			 name[128], *s;
	size_t			 off, pwlen, len, n;
	uint8_t			 w[14];
	int			 ipc, ext;

	if (r->wct != 4)
		return -1;
	ext = (smb_get16(r->words + 4) & 0x0008) != 0;
	pwlen = smb_get16(r->words + 6);
	if (pwlen > r->bcc)
		return -1;
	off = smb1_bytes_off(r) + pwlen;
	path = smb1_get_str(r->msg, smb1_bytes_off(r) + r->bcc, &off,
	    x->unicode, &len);
	n = smb_str_ascii(path, len, x->unicode, name, sizeof(name));
	smb_request_event(x->sc, "tree_connect", "path", (uint8_t *)name, n);
	s = strrchr(name, '\\');
	s = s != NULL ? s + 1 : name;
	if ((share = host_share_find(s, strlen(s))) == NULL) {
		*status = SMB_BAD_NETWORK_NAME;
		return 0;
	}
	if ((t = smb_tree_add(x->sc, share)) == NULL) {
		*status = SMB_INSUFF_SERVER_RESOURCES;
		return 0;
	}
	x->tid = t->tid;
	*status = SMB_OK;
	ipc = (share->type & 0xff) == HOST_SHARE_IPC;
	memset(w, 0, sizeof(w));
	smb_put16(w + 4, 0x0001);		/* SMB_SUPPORT_SEARCH_BITS */
	smb_put32(w + 6, 0x001f01ff);		/* full access */
	smb_put32(w + 10, ipc ? 0x001f01ff : 0x001200a9);
	if (smb1_put_words(x, w, ext ? 7 : 3) == -1 ||
	    smb1_put_str(x, ipc ? "IPC" : "A:", 0) == -1)
		return -1;
	return smb1_put_str(x, ipc ? "" : "NTFS", x->unicode);
}

/* Opening: NT create and open AndX. */

/* The file a create names at off (length len, or to the end); NULL + why. */
static struct smb_file *
smb1_open(struct smb1_ctx *x, size_t off, size_t len, uint32_t *status)
{
	const struct smb1_req	*r = &x->req;
	struct smb_file		*f;
	size_t			 end = smb1_bytes_off(r) + r->bcc, nlen;
	const uint8_t		*name;
	char			 ascii[128];

	name = smb1_get_str(r->msg, end, &off, x->unicode, &nlen);
	if (len != 0 && len < nlen)
		nlen = len;
	f = smb_file_open(x->sc, r->tid, name, nlen, x->unicode, status);
	if (f != NULL)
		smb_request_event(x->sc, "create", "name",
		    (const uint8_t *)f->name, strlen(f->name));
	else {
		nlen = smb_str_ascii(name, nlen, x->unicode, ascii,
		    sizeof(ascii));
		smb_request_event(x->sc, "create", "name",
		    (const uint8_t *)ascii, nlen);
	}
	return f;
}

/* NT create AndX (24 words): a pipe on IPC$ or a file on a disk share. */
static int
smb1_nt_create(struct smb1_ctx *x, uint32_t *status)
{
	const struct smb1_req	*r = &x->req;
	struct smb_file		*f;
	uint8_t			 w[68];
	uint64_t		 now;

	if (r->wct != 24)
		return -1;
	f = smb1_open(x, smb1_bytes_off(r), smb_get16(r->words + 5), status);
	if (f == NULL)
		return 0;
	memset(w, 0, sizeof(w));
	smb_put16(w + 5, f->fid);
	now = f->dce != NULL ? 0 : host_filetime(event_now_usec());
	smb_put32(w + 7, f->dce != NULL ? 1 : 2);	/* opened, created */
	smb_put64(w + 11, now);
	smb_put64(w + 19, now);
	smb_put64(w + 27, now);
	smb_put64(w + 35, now);
	smb_put32(w + 43, f->dce != NULL ? 0x80 : 0x20);	/* attributes */
	smb_put64(w + 47, f->dce != NULL ? 4096 : 0);	/* allocation */
	if (f->dce != NULL) {
		smb_put16(w + 63, 2);		/* message-mode pipe */
		smb_put16(w + 65, 0x05ff);	/* its state */
	}
	return smb1_put_words(x, w, 34);
}

/* Open AndX (15 words), as older clients open a pipe. */
static int
smb1_open_andx(struct smb1_ctx *x, uint32_t *status)
{
	const struct smb1_req	*r = &x->req;
	struct smb_file		*f;
	uint8_t			 w[30];

	if (r->wct != 15)
		return -1;
	if ((f = smb1_open(x, smb1_bytes_off(r), 0, status)) == NULL)
		return 0;
	memset(w, 0, sizeof(w));
	smb_put16(w + 4, f->fid);
	smb_put16(w + 6, f->dce != NULL ? 0 : 0x20);	/* attributes */
	smb_put16(w + 16, 0x0002);		/* read/write */
	smb_put16(w + 18, f->dce != NULL ? 2 : 0);
	smb_put16(w + 20, f->dce != NULL ? 0x05ff : 0);
	smb_put16(w + 22, f->dce != NULL ? 1 : 2);	/* opened, created */
	return smb1_put_words(x, w, 15);
}

/* Write AndX (12 or 14 words): to a pipe's endpoint, or kept. */
static int
smb1_write(struct smb1_ctx *x, uint32_t *status)
{
	const struct smb1_req	*r = &x->req;
	struct smb_file		*f;
	size_t			 doff, len;
	uint64_t		 off;
	uint16_t		 mode;
	uint8_t			 w[12];
	const uint8_t		*data;

	if (r->wct != 12 && r->wct != 14)
		return -1;
	mode = smb_get16(r->words + 14);
	len = smb_get16(r->words + 20) |
	    (size_t)smb_get16(r->words + 18) << 16;
	doff = smb_get16(r->words + 22);
	off = smb_get32(r->words + 6);
	if (r->wct == 14)
		off |= (uint64_t)smb_get32(r->words + 24) << 32;
	if (doff > r->msglen || len > r->msglen - doff)
		return -1;
	data = r->msg + doff;
	if ((f = smb_file_find(x->sc, smb_get16(r->words + 4))) == NULL) {
		*status = SMB_INVALID_HANDLE;
		return 0;
	}
	memset(w, 0, sizeof(w));
	smb_put16(w + 4, (uint16_t)len);
	smb_put16(w + 8, (uint16_t)(len >> 16));
	if (f->dce != NULL) {
		smb_put16(w + 6, 0xffff);	/* a pipe's "available" */
		/* A raw message's start carries its length first (2 bytes). */
		if ((mode & (SMB1_WRITE_RAW | SMB1_WRITE_MSG_START)) ==
		    (SMB1_WRITE_RAW | SMB1_WRITE_MSG_START) && len >= 2) {
			data += 2;
			doff += 2;
			len -= 2;
		}
		if (smb_file_write(x->sc, f, data, len, r->at + doff) == -1)
			return -1;
	} else
		smb_file_pwrite(x->sc, f, data, len, off);
	*status = SMB_OK;
	return smb1_put_words(x, w, 6);
}

/* Read AndX (10 or 12 words): what a pipe's endpoint answered. */
static int
smb1_read(struct smb1_ctx *x, uint32_t *status)
{
	const struct smb1_req	*r = &x->req;
	struct smb_file		*f;
	uint8_t			 w[24];
	size_t			 max, n = 0, at;
	uint64_t		 off;

	if (r->wct != 10 && r->wct != 12)
		return -1;
	if ((f = smb_file_find(x->sc, smb_get16(r->words + 4))) == NULL) {
		*status = SMB_INVALID_HANDLE;
		return 0;
	}
	max = smb_get16(r->words + 10);
	if (smb_get32(r->words + 14) != 0xffffffff)
		max |= (size_t)smb_get16(r->words + 14) << 16;
	if (max > SMB1_READ_MAX)
		max = SMB1_READ_MAX;
	off = smb_get32(r->words + 6);
	if (r->wct == 12)
		off |= (uint64_t)smb_get32(r->words + 20) << 32;
	memset(w, 0, sizeof(w));
	if (smb1_put_words(x, w, 12) == -1 || smb1_put_align(x) == -1)
		return -1;
	at = x->len;
	if (max > SMB1_OUT_MAX - at)
		max = SMB1_OUT_MAX - at;
	if (f->dce != NULL) {
		n = smb_file_read(x->sc, f, x->out + at, max);
		/* A message longer than the read: the rest comes next. */
		*status = n == max && dce_pending(f->dce) > 0 ?
		    SMB_BUFFER_OVERFLOW : SMB_OK;
	} else if (off < f->len) {
		n = smb_file_pread(f, x->out + at, max, off);
		*status = SMB_OK;
	} else
		*status = SMB_END_OF_FILE;
	if (smb1_is_error(*status))
		return 0;		/* the chain takes the block back */
	x->len = at + n;
	smb_put16(x->out + x->bcc_at, (uint16_t)(x->len - x->bcc_at - 2));
	smb_put16(x->out + x->bcc_at - 24 + 10, (uint16_t)n);
	smb_put16(x->out + x->bcc_at - 24 + 12, (uint16_t)at);
	smb_put16(x->out + x->bcc_at - 24 + 14, (uint16_t)(n >> 16));
	return 0;
}

/* Close (3 words): a file on a disk share is stored. */
static int
smb1_close(struct smb1_ctx *x, uint32_t *status)
{
	if (x->req.wct != 3)
		return -1;
	smb_file_close(x->sc, smb_file_find(x->sc, smb_get16(x->req.words)));
	*status = SMB_OK;
	return smb1_put_words(x, NULL, 0);
}

static int
smb1_logoff(struct smb1_ctx *x, uint32_t *status)
{
	uint8_t	w[4];

	if (x->req.wct != 2)
		return -1;
	*status = SMB_OK;
	memset(w, 0, sizeof(w));
	return smb1_put_words(x, w, 2);
}

static int
smb1_tree_disconnect(struct smb1_ctx *x, uint32_t *status)
{
	smb_tree_del(x->sc, x->req.tid);
	*status = SMB_OK;
	return smb1_put_words(x, NULL, 0);
}

/*
 * The command of the block at hand: its reply block (none, for an error:
 * the chain adds an empty one) and its status.  -1: garbage.
 */
static int
smb1_command(struct smb1_ctx *x, uint32_t *status)
{
	*status = SMB_NOT_IMPLEMENTED;
	switch (x->req.cmd) {
	case SMB1_NEGOTIATE:
		return smb1_negotiate(x, status);
	case SMB1_SESSION_SETUP:
		return smb1_session_setup(x, status);
	case SMB1_TREE_CONNECT:
		return smb1_tree_connect(x, status);
	case SMB1_NT_CREATE:
		return smb1_nt_create(x, status);
	case SMB1_OPEN_ANDX:
		return smb1_open_andx(x, status);
	case SMB1_WRITE_ANDX:
		return smb1_write(x, status);
	case SMB1_READ_ANDX:
		return smb1_read(x, status);
	case SMB1_CLOSE:
		return smb1_close(x, status);
	case SMB1_LOGOFF:
		return smb1_logoff(x, status);
	case SMB1_TREE_DISCONNECT:
		return smb1_tree_disconnect(x, status);
	}
	return 0;
}

/*
 * Links the last AndX block of the reply to the next one (at x->len), or
 * ends the chain (cmd SMB1_NONE).
 */
static void
smb1_link(struct smb1_ctx *x, uint8_t cmd)
{
	if (x->andx_at == 0)
		return;
	x->out[x->andx_at] = cmd;
	x->out[x->andx_at + 1] = 0;
	smb_put16(x->out + x->andx_at + 2,
	    cmd == SMB1_NONE ? 0 : (uint16_t)x->len);
	x->andx_at = 0;
}

/*
 * The next block of an AndX chain into x->req; 0 at the chain's end, 1
 * if there is one, -1 if its offset or lengths are out of bounds.  An
 * offset must move forward: a chain cannot loop.
 */
static int
smb1_next(struct smb1_ctx *x)
{
	struct smb1_req	*r = &x->req;
	size_t		 off, here;
	uint8_t		 cmd;

	if (!smb1_is_andx(r->cmd) || r->wct < 2 || r->words[0] == SMB1_NONE)
		return 0;
	cmd = r->words[0];
	off = smb_get16(r->words + 2);
	here = (size_t)(r->words - 1 - r->msg);
	if (off <= here)
		return -1;
	if (smb1_block(r->msg, r->msglen, off, r) != 0)
		return -1;
	r->cmd = cmd;
	return 1;
}

/* Echo: count replies, each with its sequence number and the data. */
static int
smb1_echo(struct smb_conn *sc, const struct smb1_req *r)
{
	uint8_t		w[2];
	unsigned	i, count;

	if (r->wct != 1)
		return -1;
	count = smb_get16(r->words);
	if (count > SMB1_ECHO_MAX)
		count = SMB1_ECHO_MAX;
	for (i = 1; i <= count; i++) {
		smb_put16(w, (uint16_t)i);
		if (smb1_reply(sc, r, SMB_OK, w, 1, r->bytes, r->bcc) == -1)
			return -1;
	}
	return 0;
}

/* A request and its AndX chain, answered in one message. */
static int
smb1_chain(struct smb_conn *sc, const struct smb1_req *first)
{
	struct smb1_ctx	 x;
	uint32_t	 st, status = SMB_OK;
	size_t		 start;
	int		 n, next;

	memset(&x, 0, sizeof(x));
	x.sc = sc;
	x.req = *first;
	x.out = smb1_outbuf;
	x.len = SMB1_HDR;
	x.uid = first->uid;
	x.tid = first->tid;
	x.unicode = (first->flags2 & SMB1_FLAGS2_UNICODE) != 0;
	for (n = 0;; n++) {
		smb1_link(&x, x.req.cmd);
		start = x.len;
		if (smb1_command(&x, &st) == -1)
			return -1;
		if (x.replied)
			return 0;
		if (smb1_is_error(st) && st != SMB_MORE_PROCESSING) {
			x.len = start;		/* an error has no block */
			x.andx_at = 0;
		}
		if (x.len == start && smb1_put_words(&x, NULL, 0) == -1)
			return -1;
		if (st != SMB_OK)
			status = st;
		if (smb1_is_error(st))
			break;
		next = smb1_next(&x);
		if (next == -1 || (next == 1 && n + 1 >= SMB1_CHAIN_MAX))
			return -1;
		if (next == 0)
			break;
	}
	smb1_link(&x, SMB1_NONE);
	smb1_put_header(x.out, first, status, smb1_flags2(first) |
	    (x.unicode ? SMB1_FLAGS2_UNICODE : 0), x.uid, x.tid);
	return smb_send(sc, x.out, x.len);
}

int
smb1_message(struct smb_conn *sc, const uint8_t *msg, size_t n, size_t at)
{
	struct smb1_req	req;
	int		rc;

	if ((rc = smb1_parse(msg, n, at, &req)) == -1)
		return -1;
	/*
	 * A byte count past the end, of a header that holds: Windows says
	 * the SMB is invalid and goes on (a trace of a Trans with its setup
	 * words left out of the word count has one).
	 */
	if (rc == -2)
		return smb1_reply(sc, &req, SMB1_INVALID_SMB, NULL, 0, NULL, 0);
	switch (req.cmd) {
	case SMB1_TRANS:
	case SMB1_TRANS_SEC:
	case SMB1_TRANS2:
	case SMB1_TRANS2_SEC:
	case SMB1_NT_TRANS:
	case SMB1_NT_TRANS_SEC:
		return smb1_trans(sc, &req);
	case SMB1_NT_CANCEL:
		return 0;		/* never answered */
	case SMB1_ECHO:
		return smb1_echo(sc, &req);
	}
	return smb1_chain(sc, &req);
}

int
smb1_reply(struct smb_conn *sc, const struct smb1_req *req, uint32_t status,
    const void *words, uint8_t wct, const void *bytes, size_t bcc)
{
	size_t	len = SMB1_HDR + 1 + 2 * (size_t)wct + 2 + bcc;
	uint8_t	*p = smb1_outbuf;

	if (bcc > 0xffff || len > sizeof(smb1_outbuf))
		return -1;
	smb1_put_header(p, req, status, smb1_flags2(req), req->uid, req->tid);
	p[SMB1_HDR] = wct;
	if (wct > 0)
		memcpy(p + SMB1_HDR + 1, words, 2 * (size_t)wct);
	smb_put16(p + SMB1_HDR + 1 + 2 * (size_t)wct, (uint16_t)bcc);
	if (bcc > 0)
		memcpy(p + SMB1_HDR + 3 + 2 * (size_t)wct, bytes, bcc);
	return smb_send(sc, p, len);
}
