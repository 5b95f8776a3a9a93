/*
 * SMB on 445 (direct TCP) and 139 (the NetBIOS session service, RFC
 * 1002): the session state, NBSS framing, the session's trees and files,
 * and its events.  A message is handled when it is whole; one that is
 * split across TCP segments waits in the core's input buffer (on_data
 * consumes less).  Only an SMB2 WRITE may be larger than SMB_FRAME_MAX:
 * it is consumed in pieces as it arrives (smb2_large_*).
 *
 * On 139 a session request whose called name ends in the NetDDE suffix
 * (0x1f) opens a NetDDE session, not an SMB one: what follows is the
 * MS04-031 exploit's or a scanner's, and goes to the analyser.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conn.h"
#include "dcerpc.h"
#include "event.h"
#include "exploit.h"
#include "host.h"
#include "sensor.h"
#include "smb.h"
#include "smb_int.h"
#include "store.h"

/* NBSS message types (RFC 1002 4.3.1). */
#define NBSS_MESSAGE		0x00
#define NBSS_REQUEST		0x81
#define NBSS_POSITIVE		0x82
#define NBSS_KEEPALIVE		0x85
/* A session request: two encoded names of 34 bytes, a few more in scopes. */
#define NBSS_REQUEST_MAX	512
/* The NetBIOS suffix (16th byte of a name) of the NetDDE service. */
#define NBSS_NETDDE_SUFFIX	0x1f
/*
 * A NetDDE message longer than this is not a conversation's start (a
 * few names of a few dozen bytes each) but an overflow of one of them.
 */
#define NETDDE_SANE		1024

/* Everything an SMB session takes in, at most (a worm's copies). */
#define SMB_MAX_INPUT		(32u * 1024 * 1024)
/*
 * What one session's disk-share files keep together (a worm copies one
 * or two), and all sessions' of a sensor: one attacker cannot take it all.
 */
#define SMB_FILE_SESSION	(2 * SMB_FILE_MAX)
#define SMB_FILE_BUDGET		(128u * 1024 * 1024)
/* Files one session may have stored (a worm copies a few). */
#define SMB_MAX_STORED		16
/*
 * sundew.request events one session may cause: a client says a few
 * dozen; 32 MiB of tree connects would be hundreds of thousands.
 */
#define SMB_MAX_REQUEST_EVENTS	256
/*
 * Session setups one session may make (two a login): each login is a
 * sundew.login.attempt, and a brute-forcer that never hangs up would
 * make them without end.  Past it a login is refused; the session goes on.
 */
#define SMB_MAX_SETUPS		512

static size_t	smb_file_total;

static void	smb_event(struct smb_conn *, const char *, const char *,
		    const uint8_t *, size_t);

/*
 * The pipes of IPC$ the host serves (\PIPE\LANMAN is smb1_trans.c's);
 * nddeapi is where Metasploit's MS04-031 module calls NetDDE.
 */
static const char *const smb_pipes[] = {
	"lsarpc", "lsass", "srvsvc", "browser", "samr", "wkssvc",
	"epmapper", "spoolss", "netlogon", "ntsvcs", "nddeapi",
};

static void *
smb_new(struct conn *c)
{
	struct smb_conn	*sc;

	if ((sc = calloc(1, sizeof(*sc))) == NULL)
		return NULL;
	sc->c = c;
	/* Ids as Windows hands them out: not 0, not 0xffff. */
	sc->next_uid = 0x0800;
	sc->next_tid = 0x0800;
	sc->next_fid = 0x4000;
	return sc;
}

static void *
smb_netbios_new(struct conn *c)
{
	struct smb_conn	*sc;

	if ((sc = smb_new(c)) != NULL)
		sc->netbios = 1;
	return sc;
}

/* Frees a file's endpoint and data (not stored: see smb_file_close). */
static void
smb_file_release(struct smb_conn *sc, struct smb_file *f)
{
	if (f->dce != NULL)
		dce_free(f->dce);
	smb_file_total -= f->cap;
	sc->file_mem -= f->cap;
	free(f->data);
	memset(f, 0, sizeof(*f));
}

static void
smb_free(void *arg)
{
	struct smb_conn	*sc = arg;
	size_t		 i;

	if (sc == NULL)
		return;
	for (i = 0; i < SMB_MAX_FILES; i++)
		if (sc->files[i].fid != 0)
			smb_file_release(sc, &sc->files[i]);
	smb1_trans_free(sc);
	smb_dp_free(sc);
	smb2_free(sc);
	free(sc);
}

/*
 * The session ends: files written to a disk share are stored as they
 * are (not one a large WRITE was still filling), an upload cut short
 * says so, and a pending transaction flagged
 * as MS17-010 goes to the analyser, all before the close event (after
 * it, in smb_free, the session is no longer open).
 */
static void
smb_close(struct conn *c, void *arg)
{
	struct smb_conn	*sc = arg;
	size_t		 i;

	if (sc == NULL)
		return;
	if (sc->large_left > 0)
		smb2_large_cut(sc);
	for (i = 0; i < SMB_MAX_FILES; i++)
		if (sc->files[i].fid != 0)
			smb_file_close(sc, &sc->files[i]);
	smb1_trans_free(sc);
	smb_dp_free(sc);
}

int
smb_send(struct smb_conn *sc, const void *msg, size_t len)
{
	/* Room for any SMB1 reply and an SMB 2.0.2 one of 64 KiB. */
	static uint8_t	frame[4 + 65536 + 512];
	uint8_t		hdr[4];

	if (len > 0xffffff)
		return -1;
	hdr[0] = NBSS_MESSAGE;
	hdr[1] = (uint8_t)(len >> 16);
	hdr[2] = (uint8_t)(len >> 8);
	hdr[3] = (uint8_t)len;
	/*
	 * A peer that went away shows at the next read, which ends the
	 * session for what it is: not a protocol error of the client's.
	 * A reply goes out in one write: a header alone ahead of its body
	 * would be a small segment that Nagle's algorithm makes the rest
	 * wait behind.
	 */
	if (len <= sizeof(frame) - 4) {
		memcpy(frame, hdr, 4);
		memcpy(frame + 4, msg, len);
		(void)conn_write(sc->c, frame, 4 + len);
	} else if (conn_write(sc->c, hdr, 4) == 0)
		(void)conn_write(sc->c, msg, len);
	return 0;
}

/* Trees. */

struct smb_tree *
smb_tree_add(struct smb_conn *sc, const struct host_share *share)
{
	struct smb_tree	*t;
	size_t		 i;

	for (i = 0; i < SMB_MAX_TREES; i++) {
		t = &sc->trees[i];
		if (t->tid != 0)
			continue;
		if (sc->next_tid == 0 || sc->next_tid == 0xffff)
			sc->next_tid = 1;
		t->tid = sc->next_tid++;
		t->share = share;
		return t;
	}
	return NULL;
}

/* The tree of an id; an unknown one is the last tree connected. */
static struct smb_tree *
smb_tree_find(struct smb_conn *sc, uint16_t tid)
{
	struct smb_tree	*last = NULL;
	size_t		 i;

	for (i = 0; i < SMB_MAX_TREES; i++) {
		if (sc->trees[i].tid == 0)
			continue;
		if (sc->trees[i].tid == tid)
			return &sc->trees[i];
		if (last == NULL || sc->trees[i].tid > last->tid)
			last = &sc->trees[i];
	}
	return last;
}

const struct host_share *
smb_tree_share(struct smb_conn *sc, uint16_t tid)
{
	struct smb_tree	*t;

	return (t = smb_tree_find(sc, tid)) != NULL ? t->share : NULL;
}

void
smb_tree_del(struct smb_conn *sc, uint16_t tid)
{
	size_t	i;

	for (i = 0; i < SMB_MAX_TREES; i++)
		if (sc->trees[i].tid == tid)
			memset(&sc->trees[i], 0, sizeof(sc->trees[i]));
}

/* Files. */

/*
 * A file's name as the client gave it, in ASCII ('?' for the rest),
 * without "\\PIPE\\" or the leading backslashes.
 */
static void
smb_file_name(const uint8_t *name, size_t len, int unicode, char *dst,
    size_t cap)
{
	char	tmp[128], *p = tmp;
	size_t	n;

	smb_str_ascii(name, len, unicode, tmp, sizeof(tmp));
	while (*p == '\\' || *p == '/')
		p++;
	if (strncasecmp(p, "PIPE\\", 5) == 0)
		p += 5;
	while (*p == '\\')
		p++;
	n = strlen(p);
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, p, n);
	dst[n] = '\0';
}

/* The canonical name of a pipe the host serves, or NULL. */
static const char *
smb_pipe_find(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(smb_pipes) / sizeof(smb_pipes[0]); i++)
		if (strcasecmp(name, smb_pipes[i]) == 0)
			return smb_pipes[i];
	return NULL;
}

struct smb_file *
smb_file_open(struct smb_conn *sc, uint16_t tid, const uint8_t *name,
    size_t len, int unicode, uint32_t *status)
{
	const struct host_share	*share;
	struct smb_tree		*t;
	struct smb_file		*f = NULL;
	const char		*pipe = NULL;
	char			 nm[sizeof(f->name)];
	size_t			 i;

	smb_file_name(name, len, unicode, nm, sizeof(nm));
	t = smb_tree_find(sc, tid);
	/* No tree at all: an exploit that skipped it means IPC$. */
	share = t != NULL ? t->share : NULL;
	if (share == NULL || (share->type & 0xff) == HOST_SHARE_IPC) {
		if ((pipe = smb_pipe_find(nm)) == NULL) {
			*status = SMB_OBJECT_NAME_NOT_FOUND;
			return NULL;
		}
	}
	for (i = 0; i < SMB_MAX_FILES && f == NULL; i++)
		if (sc->files[i].fid == 0)
			f = &sc->files[i];
	if (f == NULL) {
		*status = SMB_INSUFF_SERVER_RESOURCES;
		return NULL;
	}
	if (pipe != NULL && (f->dce = dce_new(sc->c, pipe, &sc->seen,
	    &sc->dce_events)) == NULL) {
		*status = SMB_INSUFF_SERVER_RESOURCES;
		return NULL;
	}
	if (sc->next_fid == 0 || sc->next_fid == 0xffff)
		sc->next_fid = 1;
	f->fid = sc->next_fid++;
	f->tid = t != NULL ? t->tid : tid;
	snprintf(f->name, sizeof(f->name), "%s", pipe != NULL ? pipe : nm);
	*status = SMB_OK;
	return f;
}

struct smb_file *
smb_file_find(struct smb_conn *sc, uint16_t fid)
{
	struct smb_file	*last = NULL;
	size_t		 i;

	for (i = 0; i < SMB_MAX_FILES; i++) {
		if (sc->files[i].fid == 0)
			continue;
		if (sc->files[i].fid == fid)
			return &sc->files[i];
		if (last == NULL || sc->files[i].fid > last->fid)
			last = &sc->files[i];
	}
	return last;
}

void
smb_file_close(struct smb_conn *sc, struct smb_file *f)
{
	if (f == NULL || f->fid == 0)
		return;
	/* A file cut at the cap is not stored as if it were whole. */
	if (f->dce == NULL && f->data != NULL && f->len > 0 && !f->cut) {
		if (sc->nstored < SMB_MAX_STORED) {
			sc->nstored++;
			/* The name the file was written as, for the sample. */
			smb_event(sc, "file_written", "name",
			    (const uint8_t *)f->name, strlen(f->name));
			conn_store_file(sc->c, STORE_BINARY, f->data, f->len);
		} else if (sc->nstored == SMB_MAX_STORED) {
			sc->nstored++;		/* said once */
			conn_limit_hit(sc->c, "smb_files_stored");
		}
	}
	smb_file_release(sc, f);
}

/*
 * A disk file past a cap (limit: which) is cut: it takes no more and is
 * never stored as if whole; the first cut of a file is a limit.hit
 * event.  Its len stays what it holds: a read never passes its buffer.
 */
static void
smb_file_cut(struct smb_conn *sc, struct smb_file *f, const char *limit)
{
	if (!f->cut)
		conn_limit_hit(sc->c, limit);
	f->cut = 1;
}

/*
 * Room for end bytes of a disk file's data: NULL, or the cap it would
 * pass (the file's, the session's, the sensor's, or memory).
 */
static const char *
smb_file_reserve(struct smb_conn *sc, struct smb_file *f, size_t end)
{
	size_t	 ncap;
	uint8_t	*nd;

	if (end <= f->cap)
		return NULL;
	if (end > SMB_FILE_MAX)
		return "smb_file";
	for (ncap = f->cap ? f->cap : 65536; ncap < end; ncap *= 2)
		;
	if (ncap > SMB_FILE_MAX)
		ncap = SMB_FILE_MAX;
	if (sc->file_mem - f->cap + ncap > SMB_FILE_SESSION)
		return "smb_session_files";
	if (smb_file_total - f->cap + ncap > SMB_FILE_BUDGET)
		return "smb_file_budget";
	if ((nd = realloc(f->data, ncap)) == NULL)
		return "memory";
	memset(nd + f->cap, 0, ncap - f->cap);
	smb_file_total = smb_file_total - f->cap + ncap;
	sc->file_mem = sc->file_mem - f->cap + ncap;
	f->data = nd;
	f->cap = ncap;
	return NULL;
}

int
smb_file_write(struct smb_conn *sc, struct smb_file *f, const uint8_t *p,
    size_t n, size_t at)
{
	if (f->dce != NULL) {
		if (dce_write(f->dce, p, n, at) == 0)
			return 0;
		/* Not DCERPC: the bytes may still be an exploit's. */
		smb_payload(sc, p, n, at);
		return -1;
	}
	return smb_file_pwrite(sc, f, p, n, f->len);
}

int
smb_file_pwrite(struct smb_conn *sc, struct smb_file *f, const uint8_t *p,
    size_t n, uint64_t off)
{
	const char	*limit;

	if (f->dce != NULL)
		return -1;
	if (n == 0 || f->cut)
		return 0;
	if (off > SMB_FILE_MAX || n > SMB_FILE_MAX - off) {
		smb_file_cut(sc, f, "smb_file");
		return 0;
	}
	if ((limit = smb_file_reserve(sc, f, (size_t)off + n)) != NULL) {
		smb_file_cut(sc, f, limit);
		return 0;
	}
	memcpy(f->data + off, p, n);
	if (off + n > f->len)
		f->len = (size_t)off + n;
	return 0;
}

size_t
smb_file_read(struct smb_conn *sc, struct smb_file *f, uint8_t *buf,
    size_t cap)
{
	if (f->dce == NULL)
		return 0;
	return dce_read(f->dce, buf, cap);
}

size_t
smb_file_pread(const struct smb_file *f, uint8_t *buf, size_t cap,
    uint64_t off)
{
	size_t	n;

	if (f->dce != NULL || off >= f->len)
		return 0;
	n = f->len - (size_t)off < cap ? f->len - (size_t)off : cap;
	memcpy(buf, f->data + off, n);
	return n;
}

/* Events and payloads. */

/* A sundew.request event of the session, whatever the count. */
static void
smb_event(struct smb_conn *sc, const char *command, const char *key,
    const uint8_t *val, size_t vallen)
{
	struct event_buf	ev;

	conn_event(&ev, sc->c, "sundew.request");
	event_str(&ev, "emulator", "smb");
	event_str(&ev, "command", command);
	if (key != NULL)
		event_bytes(&ev, key, val, vallen);
	sensor_send_event(&ev);
}

void
smb_request_event(struct smb_conn *sc, const char *command, const char *key,
    const uint8_t *val, size_t vallen)
{
	if (sc->nevents >= SMB_MAX_REQUEST_EVENTS) {
		/* Past the cap: said once, then only the session goes on. */
		if (sc->nevents == SMB_MAX_REQUEST_EVENTS) {
			conn_limit_hit(sc->c, "smb_request_events");
			sc->nevents++;
		}
		return;
	}
	sc->nevents++;
	smb_event(sc, command, key, val, vallen);
}

void
smb_payload(struct smb_conn *sc, const uint8_t *p, size_t n, size_t at)
{
	if (n > 0)
		conn_analyse(sc->c, p, n, at);
}

int
smb_setup_allowed(struct smb_conn *sc)
{
	if (sc->nsetups < SMB_MAX_SETUPS) {
		sc->nsetups++;
		return 1;
	}
	if (sc->nsetups == SMB_MAX_SETUPS) {
		sc->nsetups++;		/* said once */
		conn_limit_hit(sc->c, "smb_logins");
	}
	return 0;
}

/* NetBIOS framing. */

/*
 * The 16th byte of the first-level encoded called name (RFC 1001 14.1):
 * a length byte of 32, then two letters 'A'+nibble a byte.  -1 if the
 * name is not one.
 */
static int
smb_nb_suffix(const uint8_t *p, size_t n)
{
	unsigned	hi, lo;

	if (n < 33 || p[0] != 32)
		return -1;
	hi = p[31] - 'A';
	lo = p[32] - 'A';
	if (hi > 15 || lo > 15)
		return -1;
	return (int)(hi << 4 | lo);
}

/*
 * A session request: answered positively, on 139 and on 445 too (old
 * exploit code sends one to 445 first, and Windows answers it there).
 * On 139 a called name with NetDDE's suffix opens a NetDDE session.
 */
static int
smb_nb_request(struct smb_conn *sc, const uint8_t *p, size_t n)
{
	static const uint8_t	positive[4] = { NBSS_POSITIVE, 0, 0, 0 };

	if (n > NBSS_REQUEST_MAX)
		return -1;
	if (sc->netbios && smb_nb_suffix(p, n) == NBSS_NETDDE_SUFFIX) {
		sc->netdde = 1;
		smb_request_event(sc, "netdde_session", "called", p + 1, 32);
	}
	sc->nb_ready = 1;
	(void)conn_write(sc->c, positive, sizeof(positive));	/* as smb_send */
	return 0;
}

/*
 * A message of a NetDDE session: a scanner's probe is small; the
 * MS04-031 overflow is a long name in it, with the shellcode.
 */
static void
smb_netdde(struct smb_conn *sc, const uint8_t *p, size_t n, size_t at)
{
	struct exploit_where	w = { .version = -1, .opnum = -1,
				    .detail = "netdde" };

	if (n > NETDDE_SANE)
		exploit_detected(sc->c, &sc->seen, EXPLOIT_MS04_031, &w);
	smb_payload(sc, p, n, at);
}

/* One whole NBSS session message: SMB1, SMB2, or NetDDE's. */
static int
smb_message(struct smb_conn *sc, const uint8_t *p, size_t n, size_t at)
{
	if (sc->netdde) {
		smb_netdde(sc, p, n, at);
		return 0;
	}
	if (n >= 4 && p[0] == 0xff && memcmp(p + 1, "SMB", 3) == 0)
		return smb1_message(sc, p, n, at);
	/* SMB2, its transform (encrypted) and compression transform. */
	if (n >= 4 && (p[0] == 0xfe || p[0] == 0xfd || p[0] == 0xfc) &&
	    memcmp(p + 1, "SMB", 3) == 0)
		return smb2_message(sc, p, n, at);
	return -1;
}

/*
 * An SMB2 WRITE larger than SMB_FRAME_MAX: its head now, the rest as it
 * comes (large_left).  -1 if it is anything else.
 */
static int
smb_large_begin(struct smb_conn *sc, const uint8_t *p, size_t framelen,
    size_t at)
{
	if (p[0] != 0xfe || memcmp(p + 1, "SMB", 3) != 0 ||
	    smb_get16(p + 12) != 0x0009 || sc->netdde)
		return -1;
	if (smb2_large_begin(sc, p, framelen, at) == -1)
		return -1;
	sc->large_left = framelen - SMB2_LARGE_HEAD;
	return 0;
}

/* The rest of a large frame, as much of it as is here.  Consumed, -1. */
static ssize_t
smb_large_more(struct smb_conn *sc, const uint8_t *p, size_t n, size_t at)
{
	size_t	take = n < sc->large_left ? n : sc->large_left;

	if (smb2_large_data(sc, p, take, at) == -1)
		return -1;
	sc->large_left -= take;
	if (sc->large_left == 0 && smb2_large_end(sc) == -1)
		return -1;
	return (ssize_t)take;
}

/*
 * The next NBSS frame at p: bytes consumed, 0 if it is not whole yet,
 * or -1.  Direct TCP (445) has a 24-bit length; RFC 1002 has 17 bits,
 * which SMB1 keeps to.
 */
static ssize_t
smb_frame(struct smb_conn *sc, const uint8_t *p, size_t n, size_t at)
{
	size_t	len;

	if (n < 4)
		return 0;
	len = (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
	switch (p[0]) {
	case NBSS_KEEPALIVE:
		return len == 0 ? 4 : -1;
	case NBSS_REQUEST:
		if (len > NBSS_REQUEST_MAX)
			return -1;
		if (n - 4 < len)
			return 0;
		return smb_nb_request(sc, p + 4, len) == -1 ? -1 :
		    (ssize_t)(4 + len);
	case NBSS_MESSAGE:
		break;
	default:
		return -1;
	}
	if (len > SMB_FRAME_MAX && !sc->netdde) {
		if (n - 4 < SMB2_LARGE_HEAD)
			return 0;
		if (smb_large_begin(sc, p + 4, len, at + 4) == -1)
			return -1;
		return 4 + SMB2_LARGE_HEAD;
	}
	if (len > SMB_FRAME_MAX)
		return -1;
	/* An empty session message carries nothing: as a keepalive. */
	if (len == 0)
		return 4;
	if (n >= 8 && p[4] == 0xff && len > 0x1ffff)
		return -1;
	if (n - 4 < len)
		return 0;
	if (smb_message(sc, p + 4, len, at + 4) == -1)
		return -1;
	return (ssize_t)(4 + len);
}

/*
 * What arrived: every whole frame is handled; a frame's beginning is
 * left for the core to hand again with what follows.
 */
static ssize_t
smb_data(struct conn *c, void *arg, const uint8_t *p, size_t n)
{
	struct smb_conn	*sc = arg;
	size_t		 off = 0;
	ssize_t		 r;

	while (off < n) {
		if (sc->large_left > 0)
			r = smb_large_more(sc, p + off, n - off,
			    sc->in_at + off);
		else
			r = smb_frame(sc, p + off, n - off, sc->in_at + off);
		if (r == -1)
			return -1;
		/* A handler ended the session: sc is gone, the rest moot. */
		if (c->closing)
			return (ssize_t)n;
		if (r == 0)
			break;
		off += (size_t)r;
	}
	sc->in_at += off;
	return (ssize_t)off;
}

const struct service service_smb = {
	.name = "smb",
	.transport = SERVICE_TCP,
	.max_input = SMB_MAX_INPUT,
	.session_new = smb_new,
	.session_free = smb_free,
	.on_data = smb_data,
	.on_close = smb_close,
};

const struct service service_netbios = {
	.name = "netbios-ssn",
	.transport = SERVICE_TCP,
	.max_input = SMB_MAX_INPUT,
	.session_new = smb_netbios_new,
	.session_free = smb_free,
	.on_data = smb_data,
	.on_close = smb_close,
};
