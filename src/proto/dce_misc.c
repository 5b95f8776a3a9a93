/*
 * The smaller interfaces the worms came through: Plug and Play (MS-PNPR),
 * Message Queuing (qmcomm, ports 2103/2105/2107), the Distributed
 * Transaction Coordinator (port 3372) and the print spooler (MS-RPRN).
 * Anonymous callers get access denied, as on an XP SP2 / 2003 host, except
 * for the calls a client needs to get as far as the vulnerable one.
 *
 * MS05-039: PNP_QueryResConfList (0x36) with a class-specific resource
 * (ResType_ClassSpecific) whose legacy data is longer than 256 bytes or
 * than what follows its header in the resource that carries it.
 * MS05-017: R_QMDeleteObject (qmcomm opnum 9) whose direct format name,
 * the one string of the call, is longer than the 260 characters MSMQ
 * accepts (Metasploit: "OS:host\PRIVATE$\" and 4000 characters).  A long
 * string in another call is no known exploit: no event.
 * MS05-051: an MSDTC call carrying a string longer than 256 characters
 * (Nepenthes' vuln-msdtc shape: BuildContext, opnum 7, 555 characters).
 * MS10-061: RpcStartDocPrinter with an output file: a remote caller makes
 * the spooler write a file of its choice (Stuxnet, Metasploit).
 */
#include <string.h>

#include "dce_iface.h"

#define PNP_LAST_OPNUM		0x41
#define PNP_CLASS_SPECIFIC	0xffff
#define PNP_LEGACY_MAX		256
#define PNP_CS_DES_HEAD		32	/* signature, offsets, flags, GUID */
#define PNP_CR_ACCESS_DENIED	0x33
#define PNP_OUTPUT_MAX		4096
#define MQ_LAST_OPNUM		40
#define MQ_DELETE_OBJECT	9	/* R_QMDeleteObject */
#define MQ_NAME_MAX		260
#define MQ_ERROR_ILLEGAL_FORMATNAME 0xc00e001e
#define DTC_LAST_OPNUM		20
#define DTC_STRING_MAX		256
#define SPL_LAST_OPNUM		96
#define SPL_HANDLE_KIND		0x53504c00

/* PNP_QueryResConfList (0x36): MS05-039 (see the top). */
static uint32_t
pnp_query_res_conf(struct dce_call *call, struct ndr_w *w)
{
	struct ndr_r	 r;
	const uint8_t	*s, *data;
	uint32_t	 n, rid, dlen, legacy, outlen, i;

	ndr_r_init(&r, call->stub, call->len);
	if (ndr_r_wstr(&r, &s, &n) == -1)
		return DCE_FAULT_NDR;
	ndr_r_align(&r, 4);
	rid = ndr_r_u32(&r);
	dlen = ndr_r_u32(&r);
	data = ndr_r_bytes(&r, dlen);
	ndr_r_align(&r, 4);
	(void)ndr_r_u32(&r);			/* ResourceLen */
	outlen = ndr_r_u32(&r);
	(void)ndr_r_u32(&r);
	if (r.err || data == NULL)
		return DCE_FAULT_NDR;
	if (rid == PNP_CLASS_SPECIFIC && dlen >= 12) {
		legacy = (uint32_t)data[8] | (uint32_t)data[9] << 8 |
		    (uint32_t)data[10] << 16 | (uint32_t)data[11] << 24;
		if (legacy > PNP_LEGACY_MAX ||
		    legacy > dlen - (dlen < PNP_CS_DES_HEAD ? dlen :
		    PNP_CS_DES_HEAD))
			dce_flag(call, EXPLOIT_MS05_039,
			    "class-specific resource of %u bytes, legacy "
			    "data of %u", dlen, legacy);
	}
	if (outlen > PNP_OUTPUT_MAX)
		outlen = PNP_OUTPUT_MAX;
	ndr_w_u32(w, outlen);
	for (i = 0; i < outlen; i++)
		ndr_w_u8(w, 0);
	ndr_w_align(w, 4);
	ndr_w_u32(w, PNP_CR_ACCESS_DENIED);
	return 0;
}

/* PnP: the version and MS05-039; the rest refused. */
static uint32_t
pnp_call(struct dce_call *call, struct ndr_w *w)
{
	switch (call->opnum) {
	case 0x02:			/* PNP_GetVersion: Windows XP's */
		ndr_w_u16(w, 0x0400);
		ndr_w_align(w, 4);
		ndr_w_u32(w, 0);
		return 0;
	case 0x36:
		return pnp_query_res_conf(call, w);
	default:
		return call->opnum <= PNP_LAST_OPNUM ?
		    DCE_FAULT_ACCESS_DENIED : DCE_FAULT_OP_RNG_ERROR;
	}
}

const struct dce_iface dce_pnp = {
	"pnp",
	DCE_UUID(0x8d9f4e40, 0xa03d, 0x11ce, 0x8f, 0x69,
	    0x08, 0x00, 0x3e, 0x30, 0x05, 0x1b),
	1, 0, pnp_call
};

/* MSMQ's qmcomm: MS05-017 (see the top). */
static uint32_t
mq_call(struct dce_call *call, struct ndr_w *w)
{
	size_t		at;
	uint32_t	n;

	if (call->opnum > MQ_LAST_OPNUM)
		return DCE_FAULT_OP_RNG_ERROR;
	if (call->opnum != MQ_DELETE_OBJECT)
		return DCE_FAULT_ACCESS_DENIED;
	n = dce_longest_wstr(call->stub, call->len, &at);
	if (n <= MQ_NAME_MAX)
		return DCE_FAULT_ACCESS_DENIED;
	dce_flag(call, EXPLOIT_MS05_017,
	    "R_QMDeleteObject format name of %u characters", n);
	ndr_w_u32(w, MQ_ERROR_ILLEGAL_FORMATNAME);
	return 0;
}

const struct dce_iface dce_msmq = {
	"msmq",
	DCE_UUID(0xfdb3a030, 0x065f, 0x11d1, 0xbb, 0x9b,
	    0x00, 0xa0, 0x24, 0xea, 0x55, 0x25),
	1, 0, mq_call
};

/* MSDTC: MS05-051 (see the top). */
static uint32_t
dtc_call(struct dce_call *call, struct ndr_w *w)
{
	size_t		at;
	uint32_t	n;

	if (call->opnum > DTC_LAST_OPNUM)
		return DCE_FAULT_OP_RNG_ERROR;
	n = dce_longest_wstr(call->stub, call->len, &at);
	if (n <= DTC_STRING_MAX)
		return DCE_FAULT_ACCESS_DENIED;
	dce_flag(call, EXPLOIT_MS05_051,
	    "string of %u characters at offset %zu", n, at);
	ndr_w_u32(w, 0);
	return 0;
}

const struct dce_iface dce_msdtc = {
	"msdtc",
	DCE_UUID(0x906b0ce0, 0xc70b, 0x1067, 0xb3, 0x17,
	    0x00, 0xdd, 0x01, 0x06, 0x62, 0xda),
	1, 0, dtc_call
};

/* RpcOpenPrinter (1), RpcOpenPrinterEx (69): a handle for any name. */
static uint32_t
spl_open(struct dce_call *call, struct ndr_w *w)
{
	struct ndr_r	 r;
	const uint8_t	*s;
	uint32_t	 n;

	ndr_r_init(&r, call->stub, call->len);
	if (dce_r_uwstr(&r, &s, &n) == -1)
		return DCE_FAULT_NDR;
	dce_w_handle(w, SPL_HANDLE_KIND);
	ndr_w_u32(w, 0);
	return 0;
}

/* RpcStartDocPrinter (17): MS10-061 if the job goes to a file. */
static uint32_t
spl_start_doc(struct dce_call *call, struct ndr_w *w)
{
	struct ndr_r	 r;
	const uint8_t	*s;
	uint32_t	 n, level, pdoc, pfile, ptype;
	char		 file[96];

	ndr_r_init(&r, call->stub, call->len);
	if (dce_r_handle(&r) == -1)
		return DCE_FAULT_NDR;
	level = ndr_r_u32(&r);
	(void)ndr_r_u32(&r);
	if (ndr_r_ptr(&r) != 0 && level == 1) {
		pdoc = ndr_r_ptr(&r);
		pfile = ndr_r_ptr(&r);
		ptype = ndr_r_ptr(&r);
		if (pdoc != 0 && ndr_r_wstr(&r, &s, &n) == -1)
			return DCE_FAULT_NDR;
		ndr_r_align(&r, 4);
		if (pfile != 0) {
			if (ndr_r_wstr(&r, &s, &n) == -1)
				return DCE_FAULT_NDR;
			dce_ascii(s, n, file, sizeof(file));
			if (file[0] != '\0')
				dce_flag(call, EXPLOIT_MS10_061,
				    "StartDocPrinter to file %s", file);
		}
		(void)ptype;
	}
	if (r.err)
		return DCE_FAULT_NDR;
	ndr_w_u32(w, 2);			/* the job id */
	ndr_w_u32(w, 0);
	return 0;
}

/* RpcWritePrinter (19): all of it written. */
static uint32_t
spl_write(struct dce_call *call, struct ndr_w *w)
{
	struct ndr_r	r;
	uint32_t	n;

	ndr_r_init(&r, call->stub, call->len);
	if (dce_r_handle(&r) == -1)
		return DCE_FAULT_NDR;
	n = ndr_r_u32(&r);
	if (ndr_r_bytes(&r, n) == NULL)
		return DCE_FAULT_NDR;
	ndr_w_u32(w, n);
	ndr_w_u32(w, 0);
	return 0;
}

/* The spooler: a printer's handle, a job, its pages; the rest refused. */
static uint32_t
spl_call(struct dce_call *call, struct ndr_w *w)
{
	switch (call->opnum) {
	case 1:
	case 69:
		return spl_open(call, w);
	case 17:
		return spl_start_doc(call, w);
	case 19:
		return spl_write(call, w);
	case 18: case 22: case 23:	/* Start/EndPage, EndDoc */
		if (call->len < DCE_HANDLE_LEN)
			return DCE_FAULT_NDR;
		ndr_w_u32(w, 0);
		return 0;
	case 29:			/* RpcClosePrinter */
		if (call->len < DCE_HANDLE_LEN)
			return DCE_FAULT_NDR;
		dce_w_handle_null(w);
		ndr_w_u32(w, 0);
		return 0;
	default:
		return call->opnum <= SPL_LAST_OPNUM ?
		    DCE_FAULT_ACCESS_DENIED : DCE_FAULT_OP_RNG_ERROR;
	}
}

const struct dce_iface dce_spoolss = {
	"spoolss",
	DCE_UUID(0x12345678, 0x1234, 0xabcd, 0xef, 0x00,
	    0x01, 0x23, 0x45, 0x67, 0x89, 0xab),
	1, 0, spl_call
};
