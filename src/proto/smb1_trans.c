/*
 * SMB1 transactions (MS-CIFS 2.2.4.33, 2.2.4.46, 2.2.4.62; MS-SMB):
 * Transaction, Transaction2 and NT Transact, each a primary request and
 * as many secondaries as its parameters and data need.  A pending
 * transaction holds its buffers (64 KiB at most for Trans and Trans2, by
 * their 16-bit totals; NT_MAX for NT Transact) only until it completes;
 * every count, offset and displacement is checked against the message
 * and the totals.  A complete one is answered: named pipes (TransactNmPipe
 * carrying DCERPC, PeekNmPipe, WaitNmPipe, ...), RAP on \PIPE\LANMAN
 * (smb1_rap.c), the few Trans2 and NT Transact calls a client needs, and
 * Trans2 SESSION_SETUP, the DoublePulsar implant's channel
 * (doublepulsar.c).
 *
 * MS17-010 is recognised by the structure of EternalBlue's calls: a
 * secondary of another kind than its primary continuing it (the
 * "transaction type confusion" that lets an NT Transact's 32-bit totals
 * feed a Trans2 call), and an FEA list whose cbList is larger than the
 * FEAs in it (srv!SrvOs2FeaListSizeToNt, which shrinks it with a 16-bit
 * write).  Unpatched Windows accepts both; so does this emulator, so that
 * the exploit goes on to its DoublePulsar upload.  The MS17-010 check of
 * scanners (nmap's smb-vuln-ms17-010, Metasploit's): PeekNmPipe on file
 * id 0, which an unpatched host answers STATUS_INSUFF_SERVER_RESOURCES,
 * is a request event, not an exploit.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conn.h"
#include "dcerpc.h"
#include "exploit.h"
#include "host.h"
#include "smb_int.h"

#define CMD_TRANS	0x25
#define CMD_TRANS_S	0x26
#define CMD_TRANS2	0x32
#define CMD_TRANS2_S	0x33
#define CMD_NTTRANS	0xa0
#define CMD_NTTRANS_S	0xa1

/* An NT Transact reassembles to this much at most. */
#define TRANS_NT_MAX	(1024u * 1024)
/* Transactions pending at once in a session ... */
#define TRANS_PENDING	4
/* ... and in all sessions of a sensor together, in bytes. */
#define TRANS_BUDGET	(64u * 1024 * 1024)
#define TRANS_SETUP_MAX	8
/* The most parameter and data bytes one answer carries. */
#define TRANS_OUT_MAX	(16u * 1024)
#define SMB1_HDR	32

#define TRANS_NO_RESPONSE	0x0002	/* Flags: a one-way transaction */

/* Named pipe functions (MS-CIFS 2.2.5). */
#define NP_SETNMPHANDSTATE	0x0001
#define NP_QUERYNMPHANDSTATE	0x0021
#define NP_PEEKNMPIPE		0x0023
#define NP_TRANSACTNMPIPE	0x0026
#define NP_WAITNMPIPE		0x0053

/* Trans2 subcommands (MS-CIFS 2.2.6). */
#define T2_OPEN2		0x0000
#define T2_FIND_FIRST2		0x0001
#define T2_QUERY_FS_INFO	0x0003
#define T2_QUERY_PATH_INFO	0x0005
#define T2_SET_PATH_INFO	0x0006
#define T2_SET_FILE_INFO	0x0008
#define T2_SESSION_SETUP	0x000e
#define T2_GET_DFS_REFERRAL	0x0010

/* NT Transact functions (MS-CIFS 2.2.7). */
#define NT_CREATE		0x0001
#define NT_IOCTL		0x0002
#define FSCTL_PIPE_TRANSCEIVE	0x0011c017

#define SMB_NO_SUCH_FILE	0xc000000f
#define SMB_NOT_FOUND		0xc0000225

struct trans {
	int		 used;
	uint8_t		 cmd;		/* the primary's */
	int		 flagged;	/* MS17-010 seen in it */
	uint16_t	 pid, mid;
	uint16_t	 flags;
	uint16_t	 function;	/* NT Transact */
	uint8_t		 nsetup;
	uint16_t	 setup[TRANS_SETUP_MAX];
	uint32_t	 timeout;
	uint32_t	 tpc, tdc;	/* totals */
	uint32_t	 pgot, dgot;	/* received */
	uint32_t	 maxdata;
	uint8_t		*params, *data;
	size_t		 at;		/* input offset of the primary */
	char		 name[64];	/* Trans: the pipe or mailslot */
};

struct smb1_trans {
	struct trans	t[TRANS_PENDING];
};

/* What one message says: a primary's fields, or a secondary's. */
struct trans_piece {
	uint32_t	 tpc, tdc;
	uint32_t	 pc, po, pd;	/* count, offset, displacement */
	uint32_t	 dc, doff, dd;
	uint32_t	 maxdata;
	uint32_t	 timeout;
	uint16_t	 flags;
	uint16_t	 function;
	uint8_t		 nsetup;
	const uint8_t	*setup;
};

/* A complete transaction, as its handler sees it. */
struct trans_call {
	struct smb1_req	 req;		/* cmd: the primary of its family */
	uint16_t	 flags;
	uint16_t	 function;
	uint8_t		 nsetup;
	uint16_t	 setup[TRANS_SETUP_MAX];
	uint32_t	 timeout;
	uint32_t	 maxdata;
	const uint8_t	*params, *data;
	size_t		 plen, dlen;
	size_t		 at;
	const char	*name;
	struct trans	*t;		/* NULL: it came whole */
};

static size_t	trans_mem;
static uint8_t	trans_out[TRANS_OUT_MAX + 64];

/* The primary command of a command's family. */
static uint8_t
trans_family(uint8_t cmd)
{
	switch (cmd) {
	case CMD_TRANS_S:
		return CMD_TRANS;
	case CMD_TRANS2_S:
		return CMD_TRANS2;
	case CMD_NTTRANS_S:
		return CMD_NTTRANS;
	}
	return cmd;
}

static const char *
trans_name(uint8_t cmd)
{
	switch (trans_family(cmd)) {
	case CMD_TRANS:
		return "trans";
	case CMD_TRANS2:
		return "trans2";
	}
	return "nt_trans";
}

/* MS17-010: once a session, and the transaction's data to the analyser. */
static void
trans_ms17(struct smb_conn *sc, uint8_t cmd, struct trans *t,
    const char *detail)
{
	struct exploit_where	w = { NULL, -1, -1, NULL, NULL, NULL };

	w.smb_command = trans_name(cmd);
	w.detail = detail;
	exploit_detected(sc->c, &sc->seen, EXPLOIT_MS17_010, &w);
	if (t != NULL)
		t->flagged = 1;
}

static void
trans_drop(struct smb_conn *sc, struct trans *t)
{
	if (t->flagged && t->data != NULL)
		smb_payload(sc, t->data, t->tdc, t->at);
	trans_mem -= t->tpc + t->tdc;
	free(t->params);
	free(t->data);
	memset(t, 0, sizeof(*t));
}

void
smb1_trans_free(struct smb_conn *sc)
{
	int	i;

	if (sc->trans == NULL)
		return;
	for (i = 0; i < TRANS_PENDING; i++)
		if (sc->trans->t[i].used)
			trans_drop(sc, &sc->trans->t[i]);
	free(sc->trans);
	sc->trans = NULL;
}

/* Frees the table once nothing is pending: memory only while needed. */
static void
trans_tidy(struct smb_conn *sc)
{
	int	i;

	for (i = 0; i < TRANS_PENDING; i++)
		if (sc->trans->t[i].used)
			return;
	free(sc->trans);
	sc->trans = NULL;
}

/*
 * The fields of a primary (Trans, Trans2: 14 words and the setup; NT
 * Transact: 19 words and the setup).  0, or -1 if the word count is not
 * the command's.
 */
static int
trans_parse_primary(const struct smb1_req *req, struct trans_piece *p)
{
	const uint8_t	*w = req->words;

	memset(p, 0, sizeof(*p));
	if (req->cmd == CMD_NTTRANS) {
		if (req->wct < 19 || req->wct != 19 + w[35])
			return -1;
		p->tpc = smb_get32(w + 3);
		p->tdc = smb_get32(w + 7);
		p->maxdata = smb_get32(w + 15);
		p->pc = smb_get32(w + 19);
		p->po = smb_get32(w + 23);
		p->dc = smb_get32(w + 27);
		p->doff = smb_get32(w + 31);
		p->nsetup = w[35];
		p->function = smb_get16(w + 36);
		p->setup = w + 38;
		return 0;
	}
	if (req->wct < 14 || req->wct != 14 + w[26])
		return -1;
	p->tpc = smb_get16(w);
	p->tdc = smb_get16(w + 2);
	p->maxdata = smb_get16(w + 6);
	p->flags = smb_get16(w + 10);
	p->timeout = smb_get32(w + 12);
	p->pc = smb_get16(w + 18);
	p->po = smb_get16(w + 20);
	p->dc = smb_get16(w + 22);
	p->doff = smb_get16(w + 24);
	p->nsetup = w[26];
	p->setup = w + 28;
	return 0;
}

/* A secondary's fields by its own command; 0, or -1. */
static int
trans_parse_secondary(const struct smb1_req *req, struct trans_piece *p)
{
	const uint8_t	*w = req->words;

	memset(p, 0, sizeof(*p));
	if (req->cmd == CMD_NTTRANS_S) {
		if (req->wct != 18)
			return -1;
		p->tpc = smb_get32(w + 3);
		p->tdc = smb_get32(w + 7);
		p->pc = smb_get32(w + 11);
		p->po = smb_get32(w + 15);
		p->pd = smb_get32(w + 19);
		p->dc = smb_get32(w + 23);
		p->doff = smb_get32(w + 27);
		p->dd = smb_get32(w + 31);
		return 0;
	}
	if (req->wct != (req->cmd == CMD_TRANS2_S ? 9 : 8))
		return -1;
	p->tpc = smb_get16(w);
	p->tdc = smb_get16(w + 2);
	p->pc = smb_get16(w + 4);
	p->po = smb_get16(w + 6);
	p->pd = smb_get16(w + 8);
	p->dc = smb_get16(w + 10);
	p->doff = smb_get16(w + 12);
	p->dd = smb_get16(w + 14);
	return 0;
}

/* Counts and offsets that lie within the message. */
static int
trans_in_msg(const struct smb1_req *req, const struct trans_piece *p)
{
	if (p->pc > 0 && (p->po > req->msglen || p->pc > req->msglen - p->po))
		return 0;
	if (p->dc > 0 && (p->doff > req->msglen ||
	    p->dc > req->msglen - p->doff))
		return 0;
	return 1;
}

/* An error answer to a transaction: no words, no bytes. */
static int
trans_error(struct smb_conn *sc, const struct smb1_req *req, uint8_t cmd,
    uint32_t status)
{
	struct smb1_req	r = *req;

	r.cmd = trans_family(cmd);
	return smb1_reply(sc, &r, status, NULL, 0, NULL, 0);
}

int
smb1_trans_reply(struct smb_conn *sc, const struct smb1_req *req,
    uint32_t status, const uint16_t *setup, uint8_t nsetup,
    const void *params, size_t plen, const void *data, size_t dlen)
{
	uint8_t		 w[2 * (18 + TRANS_SETUP_MAX)];
	size_t		 wct, start, po, doff, i;
	int		 nt = trans_family(req->cmd) == CMD_NTTRANS;

	if (nsetup > TRANS_SETUP_MAX || plen > TRANS_OUT_MAX ||
	    dlen > TRANS_OUT_MAX - plen)
		return -1;
	/* An error with nothing to say has no words, as Windows sends it. */
	if ((status >> 30) == 3 && nsetup == 0 && plen == 0 && dlen == 0)
		return smb1_reply(sc, req, status, NULL, 0, NULL, 0);
	wct = (nt ? 18 : 10) + nsetup;
	/* Parameters and data start on 4-byte boundaries, as Windows has it. */
	start = SMB1_HDR + 1 + 2 * wct + 2;
	po = (start + 3) & ~(size_t)3;
	doff = (po + plen + 3) & ~(size_t)3;
	memset(trans_out, 0, doff - start);
	if (plen > 0)
		memcpy(trans_out + po - start, params, plen);
	if (dlen > 0)
		memcpy(trans_out + doff - start, data, dlen);
	memset(w, 0, sizeof(w));
	if (nt) {
		smb_put32(w + 3, (uint32_t)plen);
		smb_put32(w + 7, (uint32_t)dlen);
		smb_put32(w + 11, (uint32_t)plen);
		smb_put32(w + 15, (uint32_t)po);
		smb_put32(w + 23, (uint32_t)dlen);
		smb_put32(w + 27, (uint32_t)doff);
		w[35] = nsetup;
		for (i = 0; i < nsetup; i++)
			smb_put16(w + 36 + 2 * i, setup[i]);
	} else {
		smb_put16(w, (uint16_t)plen);
		smb_put16(w + 2, (uint16_t)dlen);
		smb_put16(w + 6, (uint16_t)plen);
		smb_put16(w + 8, (uint16_t)po);
		smb_put16(w + 12, (uint16_t)dlen);
		smb_put16(w + 14, (uint16_t)doff);
		w[18] = nsetup;
		for (i = 0; i < nsetup; i++)
			smb_put16(w + 20 + 2 * i, setup[i]);
	}
	return smb1_reply(sc, req, status, w, (uint8_t)wct, trans_out,
	    doff - start + dlen);
}

/* The name a Trans primary names, ASCII, in t->name's room. */
static void
trans_read_name(const struct smb1_req *req, char *dst, size_t cap)
{
	const uint8_t	*b = req->bytes;
	size_t		 n = req->bcc;
	int		 unicode = (req->flags2 & 0x8000) != 0;

	/* UTF-16 from an even offset of the message. */
	if (unicode && ((size_t)(b - req->msg) & 1) && n > 0) {
		b++;
		n--;
	}
	smb_str_ascii(b, n, unicode, dst, cap);
}

static int	trans_run(struct smb_conn *, struct trans_call *);

/* A transaction that came in one message: run from the message itself. */
static int
trans_whole(struct smb_conn *sc, const struct smb1_req *req,
    const struct trans_piece *p, struct trans_call *call)
{
	char	name[64];
	size_t	i;

	memset(call, 0, sizeof(*call));
	call->req = *req;
	call->flags = p->flags;
	call->function = p->function;
	call->nsetup = p->nsetup < TRANS_SETUP_MAX ? p->nsetup :
	    TRANS_SETUP_MAX;
	for (i = 0; i < call->nsetup; i++)
		call->setup[i] = smb_get16(p->setup + 2 * i);
	call->timeout = p->timeout;
	call->maxdata = p->maxdata;
	call->params = req->msg + p->po;
	call->plen = p->pc;
	call->data = req->msg + p->doff;
	call->dlen = p->dc;
	call->at = req->at;
	name[0] = '\0';
	if (req->cmd == CMD_TRANS)
		trans_read_name(req, name, sizeof(name));
	call->name = name;
	return trans_run(sc, call);
}

/* A slot for a new pending transaction; NULL if none (or no memory). */
static struct trans *
trans_slot(struct smb_conn *sc, const struct smb1_req *req)
{
	int	i, free_at = -1;

	if (sc->trans == NULL &&
	    (sc->trans = calloc(1, sizeof(*sc->trans))) == NULL)
		return NULL;
	for (i = 0; i < TRANS_PENDING; i++) {
		if (!sc->trans->t[i].used) {
			if (free_at == -1)
				free_at = i;
		} else if (sc->trans->t[i].pid == req->pid &&
		    sc->trans->t[i].mid == req->mid) {
			/* The same ids again: the old one is abandoned. */
			trans_drop(sc, &sc->trans->t[i]);
			return &sc->trans->t[i];
		}
	}
	return free_at == -1 ? NULL : &sc->trans->t[free_at];
}

/*
 * A pending transaction for a primary that did not bring everything:
 * its buffers, what it brought.  NULL past the caps or out of memory.
 */
static struct trans *
trans_start(struct smb_conn *sc, const struct smb1_req *req,
    const struct trans_piece *p)
{
	struct trans	*t;
	size_t		 i;

	if (trans_mem + p->tpc + p->tdc > TRANS_BUDGET ||
	    (t = trans_slot(sc, req)) == NULL) {
		conn_limit_hit(sc->c, "memory");
		if (sc->trans != NULL)
			trans_tidy(sc);
		return NULL;
	}
	t->params = p->tpc > 0 ? calloc(1, p->tpc) : NULL;
	t->data = p->tdc > 0 ? calloc(1, p->tdc) : NULL;
	if ((p->tpc > 0 && t->params == NULL) ||
	    (p->tdc > 0 && t->data == NULL)) {
		free(t->params);
		free(t->data);
		t->params = t->data = NULL;
		trans_tidy(sc);
		return NULL;
	}
	trans_mem += p->tpc + p->tdc;
	t->used = 1;
	t->cmd = req->cmd;
	t->pid = req->pid;
	t->mid = req->mid;
	t->flags = p->flags;
	t->function = p->function;
	t->nsetup = p->nsetup < TRANS_SETUP_MAX ? p->nsetup : TRANS_SETUP_MAX;
	for (i = 0; i < t->nsetup; i++)
		t->setup[i] = smb_get16(p->setup + 2 * i);
	t->timeout = p->timeout;
	t->tpc = p->tpc;
	t->tdc = p->tdc;
	t->maxdata = p->maxdata;
	t->at = req->at;
	if (req->cmd == CMD_TRANS)
		trans_read_name(req, t->name, sizeof(t->name));
	if (p->pc > 0)
		memcpy(t->params, req->msg + p->po, p->pc);
	if (p->dc > 0)
		memcpy(t->data, req->msg + p->doff, p->dc);
	t->pgot = p->pc;
	t->dgot = p->dc;
	return t;
}

static int
trans_primary(struct smb_conn *sc, const struct smb1_req *req)
{
	struct trans_piece	 p;
	struct trans_call	 call;

	if (trans_parse_primary(req, &p) == -1)
		return trans_error(sc, req, req->cmd, SMB_INVALID_PARAMETER);
	if (p.pc > p.tpc || p.dc > p.tdc || !trans_in_msg(req, &p))
		return trans_error(sc, req, req->cmd, SMB_INVALID_PARAMETER);
	if (p.tpc > TRANS_NT_MAX || p.tdc > TRANS_NT_MAX - p.tpc)
		return trans_error(sc, req, req->cmd,
		    SMB_INSUFF_SERVER_RESOURCES);
	if (p.pc == p.tpc && p.dc == p.tdc)
		return trans_whole(sc, req, &p, &call);
	if (trans_start(sc, req, &p) == NULL)
		return trans_error(sc, req, req->cmd,
		    SMB_INSUFF_SERVER_RESOURCES);
	/* The interim response: send the rest. */
	return smb1_reply(sc, req, SMB_OK, NULL, 0, NULL, 0);
}

static struct trans *
trans_find(struct smb_conn *sc, const struct smb1_req *req)
{
	int	i;

	if (sc->trans == NULL)
		return NULL;
	for (i = 0; i < TRANS_PENDING; i++)
		if (sc->trans->t[i].used && sc->trans->t[i].pid == req->pid &&
		    sc->trans->t[i].mid == req->mid)
			return &sc->trans->t[i];
	return NULL;
}

/*
 * A pending transaction is whole: run as the family of the message that
 * completed it (cmd), as srv.sys does, then freed.
 */
static int
trans_complete(struct smb_conn *sc, struct trans *t,
    const struct smb1_req *req, uint8_t cmd)
{
	struct trans_call	call;
	int			rc;

	memset(&call, 0, sizeof(call));
	call.req = *req;
	call.req.cmd = cmd;
	call.flags = t->flags;
	call.function = t->function;
	call.nsetup = t->nsetup;
	memcpy(call.setup, t->setup, sizeof(call.setup));
	call.timeout = t->timeout;
	call.maxdata = t->maxdata;
	call.params = t->params;
	call.plen = t->tpc;
	call.data = t->data;
	call.dlen = t->tdc;
	call.at = t->at;
	call.name = t->name;
	call.t = t;
	rc = trans_run(sc, &call);
	if (sc->trans != NULL) {
		trans_drop(sc, t);
		trans_tidy(sc);
	}
	return rc;
}

static int
trans_secondary(struct smb_conn *sc, const struct smb1_req *req)
{
	struct trans_piece	 p;
	struct trans		*t;
	uint8_t			 cmd;

	/* Windows answers no secondary it has no transaction for. */
	if ((t = trans_find(sc, req)) == NULL)
		return 0;
	cmd = t->cmd;
	if (trans_family(req->cmd) != t->cmd) {
		/*
		 * Unpatched srv.sys takes any secondary for any primary:
		 * EternalBlue feeds an NT Transact (32-bit totals) to a
		 * Trans2 call this way.
		 */
		trans_ms17(sc, req->cmd, t, "transaction_type_confusion");
		cmd = trans_family(req->cmd);
	}
	/*
	 * The secondary's own totals are not taken: srv.sys keeps the
	 * primary's, and a Trans2 secondary cannot even say an NT
	 * Transact's.
	 */
	if (trans_parse_secondary(req, &p) == -1 || !trans_in_msg(req, &p) ||
	    p.pd > t->tpc || p.pc > t->tpc - p.pd ||
	    p.dd > t->tdc || p.dc > t->tdc - p.dd ||
	    p.pc > t->tpc - t->pgot || p.dc > t->tdc - t->dgot) {
		trans_drop(sc, t);
		trans_tidy(sc);
		return trans_error(sc, req, cmd, SMB_INVALID_PARAMETER);
	}
	if (p.pc > 0)
		memcpy(t->params + p.pd, req->msg + p.po, p.pc);
	if (p.dc > 0)
		memcpy(t->data + p.dd, req->msg + p.doff, p.dc);
	t->pgot += p.pc;
	t->dgot += p.dc;
	if (t->pgot < t->tpc || t->dgot < t->tdc)
		return 0;
	return trans_complete(sc, t, req, cmd);
}

int
smb1_trans(struct smb_conn *sc, const struct smb1_req *req)
{
	switch (req->cmd) {
	case CMD_TRANS:
	case CMD_TRANS2:
	case CMD_NTTRANS:
		return trans_primary(sc, req);
	case CMD_TRANS_S:
	case CMD_TRANS2_S:
	case CMD_NTTRANS_S:
		return trans_secondary(sc, req);
	}
	return 0;
}

/* The answer, unless the client asked for none. */
static int
trans_answer(struct smb_conn *sc, struct trans_call *call, uint32_t status,
    const void *params, size_t plen, const void *data, size_t dlen)
{
	if (call->flags & TRANS_NO_RESPONSE)
		return 0;
	return smb1_trans_reply(sc, &call->req, status, NULL, 0, params, plen,
	    data, dlen);
}

/* How much a pipe answer may carry. */
static size_t
trans_data_cap(const struct trans_call *call)
{
	return call->maxdata < TRANS_OUT_MAX ? call->maxdata : TRANS_OUT_MAX;
}

/*
 * Writes to a pipe and reads its answer (TransactNmPipe and
 * FSCTL_PIPE_TRANSCEIVE): what did not fit stays for a read, and the
 * status says so.  -1: what was written is not DCERPC.
 */
static int
trans_pipe_transceive(struct smb_conn *sc, struct trans_call *call,
    struct smb_file *f, uint8_t *out, size_t *outlen, uint32_t *status)
{
	if (smb_file_write(sc, f, call->data, call->dlen, call->at) == -1)
		return -1;
	*outlen = smb_file_read(sc, f, out, trans_data_cap(call));
	*status = dce_pending(f->dce) > 0 ? SMB_BUFFER_OVERFLOW : SMB_OK;
	return 0;
}

static int
trans_pipe(struct smb_conn *sc, struct trans_call *call)
{
	static uint8_t	 buf[TRANS_OUT_MAX];
	uint8_t		 p[6];
	struct smb_file	*f;
	uint16_t	 fn, fid;
	size_t		 n, avail;
	uint32_t	 st;

	if (call->nsetup < 2)
		return trans_answer(sc, call, SMB_INVALID_PARAMETER, NULL, 0,
		    NULL, 0);
	fn = call->setup[0];
	fid = call->setup[1];
	if (fn == NP_PEEKNMPIPE && fid == 0) {
		/* The MS17-010 check: what an unpatched host answers. */
		smb_request_event(sc, "trans", "check",
		    (const uint8_t *)"ms17-010", 8);
		return trans_answer(sc, call, SMB_INSUFF_SERVER_RESOURCES,
		    NULL, 0, NULL, 0);
	}
	if (fn == NP_WAITNMPIPE || fn == NP_SETNMPHANDSTATE)
		return trans_answer(sc, call, SMB_OK, NULL, 0, NULL, 0);
	if ((f = smb_file_find(sc, fid)) == NULL || f->dce == NULL)
		return trans_answer(sc, call, SMB_INVALID_HANDLE, NULL, 0,
		    NULL, 0);
	switch (fn) {
	case NP_TRANSACTNMPIPE:
		if (trans_pipe_transceive(sc, call, f, buf, &n, &st) == -1)
			return -1;
		return trans_answer(sc, call, st, NULL, 0, buf, n);
	case NP_PEEKNMPIPE:
		avail = dce_pending(f->dce);
		if (avail > 0xffff)
			avail = 0xffff;
		smb_put16(p, (uint16_t)avail);
		smb_put16(p + 2, (uint16_t)avail);
		smb_put16(p + 4, 3);	/* connected */
		return trans_answer(sc, call, SMB_OK, p, 6, NULL, 0);
	case NP_QUERYNMPHANDSTATE:
		/* Message mode both ways, one instance unlimited. */
		smb_put16(p, 0x05ff);
		return trans_answer(sc, call, SMB_OK, p, 2, NULL, 0);
	}
	return trans_answer(sc, call, SMB_NOT_SUPPORTED, NULL, 0, NULL, 0);
}

/* Transaction: a named pipe, \PIPE\LANMAN, or a mailslot (one-way). */
static int
trans_named(struct smb_conn *sc, struct trans_call *call)
{
	const char	*n = call->name;

	if (strcasecmp(n, "\\PIPE\\LANMAN") == 0)
		return smb1_rap(sc, &call->req, call->params, call->plen,
		    (uint16_t)(call->maxdata > 0xffff ? 0xffff :
		    call->maxdata));
	if (strncasecmp(n, "\\PIPE\\", 6) == 0 || strcasecmp(n, "\\PIPE") == 0)
		return trans_pipe(sc, call);
	if (strncasecmp(n, "\\MAILSLOT\\", 10) == 0)
		return 0;
	return trans_answer(sc, call, SMB_OBJECT_NAME_NOT_FOUND, NULL, 0,
	    NULL, 0);
}

/*
 * EternalBlue's FEA list: cbList (a 32-bit count at the start of the
 * list) larger than 64 KiB and larger than the FEAs that fit in it, so
 * that srv.sys shrinks it with a 16-bit write and copies too much.  The
 * offset in the list where the FEAs stop, or -1 if the list is not one.
 */
static long
trans_fea_overflow(const uint8_t *d, size_t n)
{
	uint32_t	cb;
	size_t		off = 4, end, fl;

	if (d == NULL || n < 4 || (cb = smb_get32(d)) < 0x10000)
		return -1;
	end = cb < n ? cb : n;
	while (end - off >= 4) {
		fl = 4 + (size_t)d[off + 1] + 1 + smb_get16(d + off + 2);
		if (fl > end - off)
			break;
		off += fl;
	}
	return off == cb ? -1 : (long)off;
}

/* The Trans2 calls that take an FEA list: OPEN2 and SET_*_INFO. */
static int
trans2_fea(struct smb_conn *sc, struct trans_call *call, long bad)
{
	uint8_t	p[30];

	trans_ms17(sc, CMD_TRANS2, call->t, "fea_list_overflow");
	if (call->t == NULL)
		smb_payload(sc, call->data, call->dlen, call->at);
	/* OPEN2's answer with the offset of the FEA that did not fit. */
	memset(p, 0, sizeof(p));
	smb_put16(p + 24, (uint16_t)bad);
	return trans_answer(sc, call, SMB_INVALID_PARAMETER, p,
	    call->setup[0] == T2_OPEN2 ? sizeof(p) : 2, NULL, 0);
}

static int
trans2_query_fs(struct smb_conn *sc, struct trans_call *call)
{
	const struct host	*h = host_get();
	uint8_t			 d[64];
	size_t			 n;
	uint16_t		 level;

	if (call->plen < 2)
		return trans_answer(sc, call, SMB_INVALID_PARAMETER, NULL, 0,
		    NULL, 0);
	level = smb_get16(call->params);
	memset(d, 0, sizeof(d));
	switch (level) {
	case 0x0102:		/* SMB_QUERY_FS_VOLUME_INFO */
	case 1001:		/* FileFsVolumeInformation */
		smb_put64(d, host_filetime(h->boot_us));
		smb_put32(d + 8, smb_get32(h->guid + 12));
		n = 18;
		break;
	case 0x0103:		/* SMB_QUERY_FS_SIZE_INFO */
	case 1003:
		smb_put64(d, 2620595);		/* 10 GB of 4 KiB units */
		smb_put64(d + 8, 1487291);
		smb_put32(d + 16, 8);
		smb_put32(d + 20, 512);
		n = 24;
		break;
	case 1007:		/* FileFsFullSizeInformation */
		smb_put64(d, 2620595);
		smb_put64(d + 8, 1487291);
		smb_put64(d + 16, 1487291);
		smb_put32(d + 24, 8);
		smb_put32(d + 28, 512);
		n = 32;
		break;
	case 0x0001:		/* SMB_INFO_ALLOCATION */
		smb_put32(d, smb_get32(h->guid + 12));
		smb_put32(d + 4, 8);
		smb_put32(d + 8, 2620595);
		smb_put32(d + 12, 1487291);
		smb_put16(d + 16, 512);
		n = 18;
		break;
	case 0x0104:		/* SMB_QUERY_FS_DEVICE_INFO */
	case 1004:
		smb_put32(d, 7);		/* FILE_DEVICE_DISK */
		smb_put32(d + 4, 0x20);		/* FILE_DEVICE_IS_MOUNTED */
		n = 8;
		break;
	case 0x0105:		/* SMB_QUERY_FS_ATTRIBUTE_INFO */
	case 1005:
		smb_put32(d, 0x000700ff);
		smb_put32(d + 4, 255);
		smb_put32(d + 8, 8);
		smb_ascii_utf16("NTFS", d + 12, 8);
		n = 20;
		break;
	default:
		return trans_answer(sc, call, SMB_NOT_SUPPORTED, NULL, 0,
		    NULL, 0);
	}
	return trans_answer(sc, call, SMB_OK, NULL, 0, d, n);
}

/* The name a Trans2 call's parameters end with, from at, in ASCII. */
static void
trans2_name(const struct trans_call *call, size_t at, char *dst, size_t cap)
{
	size_t	n = call->plen > at ? call->plen - at : 0;

	smb_str_ascii(call->params + at, n, (call->req.flags2 & 0x8000) != 0,
	    dst, cap);
}

/* A disk share's tree: what FIND_FIRST2 and QUERY_PATH_INFO look into. */
static int
trans2_disk(struct smb_conn *sc, const struct trans_call *call)
{
	const struct host_share	*sh = smb_tree_share(sc, call->req.tid);

	return sh != NULL && (sh->type & 0xff) == HOST_SHARE_DISK;
}

/*
 * One FIND_FIRST2 entry at d (levels 0x101, 0x102, 0x104: DIRECTORY,
 * FULL_DIRECTORY, BOTH_DIRECTORY info) for a directory name; its length,
 * 8-aligned, 0 if it does not fit in cap.
 */
static size_t
trans2_dir_entry(uint8_t *d, size_t cap, uint16_t level, const char *name,
    int unicode)
{
	uint64_t	t = host_filetime(host_get()->boot_us);
	size_t		fixed, nl, len;

	fixed = level == 0x101 ? 64 : level == 0x102 ? 68 : 94;
	nl = unicode ? 2 * strlen(name) : strlen(name);
	len = (fixed + nl + 7) & ~(size_t)7;
	if (len > cap)
		return 0;
	memset(d, 0, len);
	smb_put64(d + 8, t);
	smb_put64(d + 16, t);
	smb_put64(d + 24, t);
	smb_put64(d + 32, t);
	smb_put32(d + 56, 0x10);		/* FILE_ATTRIBUTE_DIRECTORY */
	smb_put32(d + 60, (uint32_t)nl);
	if (unicode)
		smb_ascii_utf16(name, d + fixed, nl);
	else
		memcpy(d + fixed, name, nl);
	return len;
}

/*
 * FIND_FIRST2 (MS-CIFS 2.2.6.2): a share's directories are empty, so
 * "*" finds "." and "..", anything else nothing.
 */
static int
trans2_find_first(struct smb_conn *sc, struct trans_call *call)
{
	static const char *const names[2] = { ".", ".." };
	uint8_t		 d[256], p[10];
	char		 pat[64];
	size_t		 n = 0, last = 0, len, i;
	uint16_t	 level;
	int		 unicode = (call->req.flags2 & 0x8000) != 0;

	if (call->plen < 12)
		return trans_answer(sc, call, SMB_INVALID_PARAMETER, NULL, 0,
		    NULL, 0);
	level = smb_get16(call->params + 6);
	trans2_name(call, 12, pat, sizeof(pat));
	len = strlen(pat);
	if (!trans2_disk(sc, call) || len == 0 || pat[len - 1] != '*')
		return trans_answer(sc, call, SMB_NO_SUCH_FILE, NULL, 0, NULL,
		    0);
	if (level != 0x101 && level != 0x102 && level != 0x104)
		return trans_answer(sc, call, SMB_NOT_SUPPORTED, NULL, 0,
		    NULL, 0);
	for (i = 0; i < 2; i++) {
		last = n;
		if ((len = trans2_dir_entry(d + n, sizeof(d) - n, level,
		    names[i], unicode)) == 0)
			break;
		if (i == 0)
			smb_put32(d, (uint32_t)len);	/* NextEntryOffset */
		n += len;
	}
	smb_put16(p, 1);		/* SID */
	smb_put16(p + 2, 2);		/* SearchCount */
	smb_put16(p + 4, 1);		/* EndOfSearch */
	smb_put16(p + 6, 0);
	smb_put16(p + 8, (uint16_t)last);
	return trans_answer(sc, call, SMB_OK, p, sizeof(p), d, n);
}

/* QUERY_PATH_INFORMATION: the share's root, a directory; nothing else. */
static int
trans2_query_path(struct smb_conn *sc, struct trans_call *call)
{
	uint64_t	t = host_filetime(host_get()->boot_us);
	uint8_t		d[40], p[2] = { 0, 0 };
	char		name[64];
	size_t		n;
	uint16_t	level;

	if (call->plen < 6)
		return trans_answer(sc, call, SMB_INVALID_PARAMETER, NULL, 0,
		    NULL, 0);
	level = smb_get16(call->params);
	trans2_name(call, 6, name, sizeof(name));
	if (!trans2_disk(sc, call) || (name[0] != '\0' &&
	    strcmp(name, "\\") != 0))
		return trans_answer(sc, call, SMB_OBJECT_NAME_NOT_FOUND, NULL,
		    0, NULL, 0);
	memset(d, 0, sizeof(d));
	switch (level) {
	case 0x0101:		/* SMB_QUERY_FILE_BASIC_INFO */
	case 1004:		/* FileBasicInformation */
		smb_put64(d, t);
		smb_put64(d + 8, t);
		smb_put64(d + 16, t);
		smb_put64(d + 24, t);
		smb_put32(d + 32, 0x10);
		n = 40;
		break;
	case 0x0102:		/* SMB_QUERY_FILE_STANDARD_INFO */
	case 1005:
		smb_put32(d + 16, 1);		/* links */
		d[21] = 1;			/* a directory */
		n = level == 1005 ? 24 : 22;
		break;
	default:
		return trans_answer(sc, call, SMB_NOT_SUPPORTED, NULL, 0,
		    NULL, 0);
	}
	return trans_answer(sc, call, SMB_OK, p, sizeof(p), d, n);
}

static int
trans2_run(struct smb_conn *sc, struct trans_call *call)
{
	uint16_t	sub;
	long		bad;

	if (call->nsetup < 1)
		return trans_answer(sc, call, SMB_INVALID_PARAMETER, NULL, 0,
		    NULL, 0);
	sub = call->setup[0];
	if (sub == T2_SESSION_SETUP)
		return smb_dp_trans2(sc, &call->req, call->timeout,
		    call->params, call->plen, call->data, call->dlen,
		    call->at);
	if ((sub == T2_OPEN2 || sub == T2_SET_PATH_INFO ||
	    sub == T2_SET_FILE_INFO) &&
	    (bad = trans_fea_overflow(call->data, call->dlen)) != -1)
		return trans2_fea(sc, call, bad);
	switch (sub) {
	case T2_QUERY_FS_INFO:
		return trans2_query_fs(sc, call);
	case T2_FIND_FIRST2:
		return trans2_find_first(sc, call);
	case T2_QUERY_PATH_INFO:
		return trans2_query_path(sc, call);
	case T2_GET_DFS_REFERRAL:
		return trans_answer(sc, call, SMB_NOT_FOUND, NULL, 0, NULL,
		    0);
	case T2_OPEN2:
	case T2_SET_PATH_INFO:
	case T2_SET_FILE_INFO:
		return trans_answer(sc, call, SMB_ACCESS_DENIED, NULL, 0,
		    NULL, 0);
	}
	return trans_answer(sc, call, SMB_NOT_IMPLEMENTED, NULL, 0, NULL, 0);
}

/* NT_TRANSACT_IOCTL: FSCTL_PIPE_TRANSCEIVE on a pipe, nothing else. */
static int
nttrans_ioctl(struct smb_conn *sc, struct trans_call *call)
{
	static uint8_t	 buf[TRANS_OUT_MAX];
	struct smb_file	*f;
	uint32_t	 code, st;
	size_t		 n;

	if (call->nsetup < 4)
		return trans_answer(sc, call, SMB_INVALID_PARAMETER, NULL, 0,
		    NULL, 0);
	code = (uint32_t)call->setup[0] | (uint32_t)call->setup[1] << 16;
	if (code != FSCTL_PIPE_TRANSCEIVE)
		return trans_answer(sc, call, SMB_NOT_SUPPORTED, NULL, 0,
		    NULL, 0);
	if ((f = smb_file_find(sc, call->setup[2])) == NULL || f->dce == NULL)
		return trans_answer(sc, call, SMB_INVALID_HANDLE, NULL, 0,
		    NULL, 0);
	if (trans_pipe_transceive(sc, call, f, buf, &n, &st) == -1)
		return -1;
	return trans_answer(sc, call, st, NULL, 0, buf, n);
}

/*
 * NT_TRANSACT_CREATE (MS-CIFS 2.2.7.1): the name at 53 of the
 * parameters, NameLength bytes; opened as NT Create AndX opens it.
 */
static int
nttrans_create(struct smb_conn *sc, struct trans_call *call)
{
	struct smb_file	*f;
	uint8_t		 p[69];
	uint32_t	 namelen, status = SMB_OK;
	size_t		 at = 53;
	int		 unicode = (call->req.flags2 & 0x8000) != 0;

	/* UTF-16 from an even offset of the parameters. */
	if (unicode)
		at++;
	if (call->plen < at || (namelen = smb_get32(call->params + 44)) >
	    call->plen - at)
		return trans_answer(sc, call, SMB_INVALID_PARAMETER, NULL, 0,
		    NULL, 0);
	f = smb_file_open(sc, call->req.tid, call->params + at, namelen,
	    unicode, &status);
	if (f == NULL)
		return trans_answer(sc, call, status, NULL, 0, NULL, 0);
	memset(p, 0, sizeof(p));
	smb_put16(p + 2, f->fid);
	smb_put32(p + 4, 1);			/* FILE_OPENED */
	smb_put32(p + 44, 0x80);		/* FILE_ATTRIBUTE_NORMAL */
	if (f->dce != NULL) {
		smb_put16(p + 64, 2);		/* FileTypeMessageModePipe */
		smb_put16(p + 66, 0x05ff);
	}
	return trans_answer(sc, call, SMB_OK, p, sizeof(p), NULL, 0);
}

/* A complete transaction to its handler; 0, or -1 (protocol_error). */
static int
trans_run(struct smb_conn *sc, struct trans_call *call)
{
	switch (call->req.cmd) {
	case CMD_TRANS:
		return trans_named(sc, call);
	case CMD_TRANS2:
		return trans2_run(sc, call);
	}
	if (call->function == NT_IOCTL)
		return nttrans_ioctl(sc, call);
	if (call->function == NT_CREATE)
		return nttrans_create(sc, call);
	/* EternalBlue's function 0 among them. */
	return trans_answer(sc, call, SMB_NOT_SUPPORTED, NULL, 0, NULL, 0);
}
