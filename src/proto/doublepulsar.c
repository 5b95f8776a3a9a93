/*
 * The DoublePulsar implant, as a host that EternalBlue infected shows it
 * (MS17-010 follow-up).  The implant hooks SMB1 Trans2 SESSION_SETUP: the
 * request's Timeout field carries the command (the low byte of the sum of
 * its four bytes: ping 0x23, exec 0xc8, kill 0x77) and the answer, always
 * STATUS_NOT_IMPLEMENTED, says how it went in its multiplex id: the
 * request's plus 0x10 (done), 0x20 (bad parameters) or 0x30 (no memory).
 * The answer to a ping also carries, in the SMB signature field, a value
 * from which the attacker derives the 4-byte XOR key (key = 2s ^ bswap(s))
 * and, in its second half, the architecture (zero: x86).
 *
 * An exec uploads a payload (the kernel shellcode and a DLL, WannaCry's
 * 5 MB) in chunks: each request's 12 parameter bytes are the total size,
 * the chunk's size and its offset, each XORed with the key, and its data
 * the chunk XORed with the key.  The key is recovered from the traffic,
 * never assumed (Dionaea forced one and stored garbage from uploads that
 * used another, DinoTools/dionaea#240): the chunk size field XOR the
 * request's data length gives it, and offset and total must then agree.
 * An attacker that reuses the key of an earlier infection is decoded all
 * the same.  A complete upload (every byte from 0 to the total) is
 * decrypted and stored, and so is each PE found in it; an incomplete one
 * is reported at session end and nothing of it is stored.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "conn.h"
#include "event.h"
#include "exploit.h"
#include "host.h"
#include "sensor.h"
#include "smb_int.h"
#include "store.h"

#define DP_OP_PING	0x23
#define DP_OP_EXEC	0xc8
#define DP_OP_KILL	0x77

/* Multiplex id offsets of the answers. */
#define DP_MID_OK	0x10
#define DP_MID_BADPARAM	0x20
#define DP_MID_NOMEM	0x30

/* The most one upload may be (download.max_size if smaller). */
#define DP_MAX		(16u * 1024 * 1024)
/* The uploads of all sessions of a sensor together. */
#define DP_BUDGET	(64u * 1024 * 1024)
/* Pieces an upload may arrive in before the gaps are closed. */
#define DP_RANGES	64
/* PEs stored out of one upload. */
#define DP_MAX_PE	8
/* The shellcode before the first PE that goes to the analyser. */
#define DP_SC_MAX	(64u * 1024)

struct dp_range {
	uint32_t	lo, hi;		/* [lo, hi) */
};

struct smb_dp {
	uint32_t	 key;
	uint32_t	 total;
	uint8_t		*buf;		/* total bytes, still encrypted */
	size_t		 at;		/* input offset of the first chunk */
	struct dp_range	 r[DP_RANGES];
	int		 nr;
};

static size_t	dp_total_mem;

uint8_t
smb_dp_opcode(uint32_t timeout)
{
	return (uint8_t)(timeout + (timeout >> 8) + (timeout >> 16) +
	    (timeout >> 24));
}

uint32_t
smb_dp_key(uint32_t s)
{
	uint32_t	swapped;

	swapped = (s & 0xff) << 24 | (s & 0xff00) << 8 | (s >> 8 & 0xff00) |
	    s >> 24;
	return (s << 1) ^ swapped;
}

/*
 * The value the ping's answer carries: derived from the host's server
 * GUID so that a sensor says the same after a restart (no random filler),
 * never zero.
 */
static uint32_t
dp_signature(void)
{
	const struct host	*h = host_get();
	uint32_t		 s;

	s = smb_get32(h->guid) ^ smb_get32(h->guid + 4) ^
	    smb_get32(h->guid + 8) ^ smb_get32(h->guid + 12);
	return s != 0 ? s : 0x5d1c0a37;
}

size_t
smb_dp_pe_size(const uint8_t *p, size_t n)
{
	uint32_t	lfanew, size, raw, rsize;
	size_t		opt, sec, i;
	uint16_t	nsec, optsize;

	if (n < 0x40 || p[0] != 'M' || p[1] != 'Z')
		return 0;
	lfanew = smb_get32(p + 0x3c);
	if (lfanew < 4 || lfanew > n || n - lfanew < 24 ||
	    memcmp(p + lfanew, "PE\0\0", 4) != 0)
		return 0;
	nsec = smb_get16(p + lfanew + 6);
	optsize = smb_get16(p + lfanew + 20);
	opt = (size_t)lfanew + 24;
	sec = opt + optsize;
	/* SizeOfHeaders sits at 60 in both PE32 and PE32+. */
	if (nsec == 0 || nsec > 96 || optsize < 64 || sec > n ||
	    (n - sec) / 40 < nsec)
		return 0;
	size = smb_get32(p + opt + 60);
	for (i = 0; i < nsec; i++) {
		rsize = smb_get32(p + sec + 40 * i + 16);
		raw = smb_get32(p + sec + 40 * i + 20);
		if (rsize == 0)
			continue;
		if (raw > UINT32_MAX - rsize)
			return 0;
		if (raw + rsize > size)
			size = raw + rsize;
	}
	/* A PE cut short is not a PE we can store as one. */
	return size <= n && size >= sec ? size : 0;
}

/* Adds [lo, hi) to the sorted, disjoint ranges; -1 if too many. */
static int
dp_range_add(struct smb_dp *dp, uint32_t lo, uint32_t hi)
{
	int	i, j;

	for (i = 0; i < dp->nr && dp->r[i].hi < lo; i++)
		;
	/* Ranges i..j-1 touch or overlap [lo, hi): merge them. */
	for (j = i; j < dp->nr && dp->r[j].lo <= hi; j++) {
		if (dp->r[j].lo < lo)
			lo = dp->r[j].lo;
		if (dp->r[j].hi > hi)
			hi = dp->r[j].hi;
	}
	if (j == i) {
		if (dp->nr == DP_RANGES)
			return -1;
		memmove(&dp->r[i + 1], &dp->r[i],
		    (size_t)(dp->nr - i) * sizeof(dp->r[0]));
		dp->nr++;
	} else if (j > i + 1) {
		memmove(&dp->r[i + 1], &dp->r[j],
		    (size_t)(dp->nr - j) * sizeof(dp->r[0]));
		dp->nr -= j - i - 1;
	}
	dp->r[i].lo = lo;
	dp->r[i].hi = hi;
	return 0;
}

uint64_t
smb_dp_received(const struct smb_dp *dp)
{
	uint64_t	n = 0;
	int		i;

	for (i = 0; i < dp->nr; i++)
		n += dp->r[i].hi - dp->r[i].lo;
	return n;
}

uint32_t
smb_dp_total(const struct smb_dp *dp)
{
	return dp->total;
}

uint32_t
smb_dp_upload_key(const struct smb_dp *dp)
{
	return dp->key;
}

/*
 * Decodes a chunk's parameters with key: 0 and *total, *off if they
 * describe a chunk of len bytes that fits in an upload of at most max.
 */
static int
dp_decode(const uint8_t *p, uint32_t key, size_t len, size_t max,
    uint32_t *total, uint32_t *off)
{
	*total = smb_get32(p) ^ key;
	*off = smb_get32(p + 8) ^ key;
	if (*total == 0 || *total > max || *off > *total ||
	    len > *total - *off)
		return -1;
	return 0;
}

struct smb_dp *
smb_dp_new(void)
{
	return calloc(1, sizeof(struct smb_dp));
}

void
smb_dp_reset(struct smb_dp *dp)
{
	if (dp->buf != NULL) {
		dp_total_mem -= dp->total;
		free(dp->buf);
	}
	memset(dp, 0, sizeof(*dp));
}

void
smb_dp_delete(struct smb_dp *dp)
{
	if (dp != NULL)
		smb_dp_reset(dp);
	free(dp);
}

int
smb_dp_chunk(struct smb_dp *dp, const uint8_t *params, size_t plen,
    const uint8_t *data, size_t len, size_t max, size_t at)
{
	uint32_t	key, total, off;

	if (plen != 12 || len == 0)
		return SMB_DP_BAD;
	/* A chunk of the upload under way decodes with its key. */
	if (dp->buf != NULL && dp_decode(params, dp->key, len, max, &total,
	    &off) == 0 && total == dp->total)
		key = dp->key;
	else {
		/* The chunk size field is the data's length: the key. */
		key = smb_get32(params + 4) ^ (uint32_t)len;
		if (dp_decode(params, key, len, max, &total, &off) == -1) {
			/* Or the first chunk, at offset 0. */
			key = smb_get32(params + 8);
			if (dp_decode(params, key, len, max, &total, &off) ==
			    -1 || (smb_get32(params + 4) ^ key) < len ||
			    (smb_get32(params + 4) ^ key) > total)
				return SMB_DP_BAD;
		}
		if (dp->buf != NULL)
			return SMB_DP_OTHER;
		if (dp_total_mem + total > DP_BUDGET)
			return SMB_DP_NOMEM;
		if ((dp->buf = calloc(1, total)) == NULL)
			return SMB_DP_NOMEM;
		dp_total_mem += total;
		dp->key = key;
		dp->total = total;
		dp->at = at;
	}
	memcpy(dp->buf + off, data, len);
	if (dp_range_add(dp, off, off + (uint32_t)len) == -1)
		return SMB_DP_BAD;
	if (dp->nr == 1 && dp->r[0].lo == 0 && dp->r[0].hi == dp->total)
		return SMB_DP_DONE;
	return SMB_DP_MORE;
}

const uint8_t *
smb_dp_decrypt(struct smb_dp *dp)
{
	uint8_t		k[4];
	uint32_t	i;

	smb_put32(k, dp->key);
	/* The key runs over the whole upload, from its first byte. */
	for (i = 0; i < dp->total; i++)
		dp->buf[i] ^= k[i & 3];
	return dp->buf;
}

/* The whole upload, decrypted: stored, and each PE in it. */
static void
dp_store(struct smb_conn *sc, struct smb_dp *dp)
{
	const uint8_t	*p = smb_dp_decrypt(dp);
	size_t		 i, sz, first = dp->total;
	int		 npe = 0;

	conn_store_file(sc->c, STORE_BINARY, p, dp->total);
	for (i = 0; i + 0x40 <= dp->total && npe < DP_MAX_PE; i++) {
		if (p[i] != 'M' || p[i + 1] != 'Z' ||
		    (sz = smb_dp_pe_size(p + i, dp->total - i)) == 0)
			continue;
		if (first == dp->total)
			first = i;
		if (i != 0 || sz != dp->total)
			conn_store_file(sc->c, STORE_BINARY, p + i, sz);
		npe++;
		i += sz - 1;
	}
	/* The kernel shellcode ahead of the DLL, for the analyser. */
	if (first > 0)
		smb_payload(sc, p, first < DP_SC_MAX ? first : DP_SC_MAX,
		    dp->at);
}

/* An upload that ended before all its bytes came: said, not stored. */
static void
dp_incomplete(struct smb_conn *sc, struct smb_dp *dp)
{
	struct event_buf	ev;
	char			key[9];

	if (dp->buf == NULL)
		return;
	snprintf(key, sizeof(key), "%08x", dp->key);
	conn_event(&ev, sc->c, "sundew.request");
	event_str(&ev, "emulator", "smb");
	event_str(&ev, "command", "doublepulsar_upload");
	event_str(&ev, "status", "incomplete");
	event_int(&ev, "received", (int64_t)smb_dp_received(dp));
	event_int(&ev, "size", (int64_t)dp->total);
	event_str(&ev, "key", key);
	sensor_send_event(&ev);
}

static size_t
dp_max(void)
{
	const struct config	*conf = sensor_conf();

	if (conf != NULL && conf->download_max_size > 0 &&
	    conf->download_max_size < DP_MAX)
		return (size_t)conf->download_max_size;
	return DP_MAX;
}

/* An exec chunk: the multiplex id offset of the answer. */
static uint16_t
dp_exec(struct smb_conn *sc, const uint8_t *params, size_t plen,
    const uint8_t *data, size_t len, size_t at)
{
	struct exploit_where	w = { NULL, -1, -1, NULL, "trans2", "exec" };
	int			rc;

	exploit_detected(sc->c, &sc->seen, EXPLOIT_DOUBLEPULSAR, &w);
	if (sc->dp == NULL && (sc->dp = smb_dp_new()) == NULL)
		return DP_MID_NOMEM;
	rc = smb_dp_chunk(sc->dp, params, plen, data, len, dp_max(), at);
	if (rc == SMB_DP_OTHER) {
		/* A new upload while one was unfinished. */
		dp_incomplete(sc, sc->dp);
		smb_dp_reset(sc->dp);
		rc = smb_dp_chunk(sc->dp, params, plen, data, len, dp_max(),
		    at);
	}
	switch (rc) {
	case SMB_DP_DONE:
		dp_store(sc, sc->dp);
		smb_dp_delete(sc->dp);
		sc->dp = NULL;
		return DP_MID_OK;
	case SMB_DP_MORE:
		return DP_MID_OK;
	case SMB_DP_NOMEM:
		conn_limit_hit(sc->c, "memory");
		return DP_MID_NOMEM;
	default:
		return DP_MID_BADPARAM;
	}
}

int
smb_dp_trans2(struct smb_conn *sc, const struct smb1_req *req,
    uint32_t timeout, const uint8_t *params, size_t plen,
    const uint8_t *data, size_t len, size_t at)
{
	struct smb1_req	r = *req;
	uint8_t		op = smb_dp_opcode(timeout);

	switch (op) {
	case DP_OP_PING:
		smb_request_event(sc, "trans2", "doublepulsar",
		    (const uint8_t *)"ping", 4);
		r.mid += DP_MID_OK;
		/* The key's seed; the second half zero: x86. */
		memset(r.signature, 0, sizeof(r.signature));
		smb_put32(r.signature, dp_signature());
		break;
	case DP_OP_KILL:
		smb_request_event(sc, "trans2", "doublepulsar",
		    (const uint8_t *)"kill", 4);
		r.mid += DP_MID_OK;
		break;
	case DP_OP_EXEC:
		r.mid += dp_exec(sc, params, plen, data, len, at);
		break;
	default:
		/* Not the implant's: what Windows itself answers. */
		break;
	}
	return smb1_reply(sc, &r, SMB_NOT_IMPLEMENTED, NULL, 0, NULL, 0);
}

void
smb_dp_free(struct smb_conn *sc)
{
	if (sc->dp == NULL)
		return;
	dp_incomplete(sc, sc->dp);
	smb_dp_delete(sc->dp);
	sc->dp = NULL;
}
