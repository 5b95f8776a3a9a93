/*
 * samr (MS-SAMR) and wkssvc (MS-WKST) basics: connect, the host's two
 * domains (the machine's and Builtin), the workstation's description.
 *
 * MS03-049: the wkssvc join and name calls (NetrJoinDomain2,
 * NetrValidateName2, NetrAddAlternateComputerName, opnums 22 to 30) with
 * a name longer than the 255 characters of a DNS name: the workstation
 * service logs it through a fixed buffer (the Metasploit exploit sends
 * NetrAddAlternateComputerName, opnum 27, with 5000 characters).
 */
#include <string.h>
#include <strings.h>

#include "dce_iface.h"
#include "host.h"

#define SAMR_LAST_OPNUM		73
#define SAMR_HANDLE_KIND	0x53414d00
#define WKS_LAST_OPNUM		30
#define WKS_NAME_MAX		255
#define WKS_PLATFORM_NT		500

/* SamrConnect (0), SamrConnect2 (57), 4 (62), 5 (64): a handle. */
static uint32_t
samr_connect(struct dce_call *call, struct ndr_w *w)
{
	struct ndr_r	 r;
	const uint8_t	*s;
	uint32_t	 n, version = 0;

	ndr_r_init(&r, call->stub, call->len);
	if (call->opnum == 0) {
		if (ndr_r_ptr(&r) != 0)
			(void)ndr_r_u16(&r);
	} else if (dce_r_uwstr(&r, &s, &n) == -1)
		return DCE_FAULT_NDR;
	ndr_r_align(&r, 4);
	(void)ndr_r_u32(&r);
	if (call->opnum == 62)
		(void)ndr_r_u32(&r);
	if (call->opnum == 64)
		version = ndr_r_u32(&r);
	if (r.err)
		return DCE_FAULT_NDR;
	if (call->opnum == 64) {
		ndr_w_u32(w, 1);		/* OutVersion */
		ndr_w_u32(w, 1);		/* its switch */
		ndr_w_u32(w, 3);		/* revision 3 */
		ndr_w_u32(w, 0);		/* no features */
		(void)version;
	}
	dce_w_handle(w, SAMR_HANDLE_KIND);
	ndr_w_u32(w, 0);
	return 0;
}

/* SamrLookupDomainInSamServer (5): the machine's or Builtin's SID. */
static uint32_t
samr_lookup_domain(struct dce_call *call, struct ndr_w *w)
{
	struct ndr_r	 r;
	const uint8_t	*s;
	uint32_t	 n;
	char		 name[64];

	ndr_r_init(&r, call->stub, call->len);
	if (dce_r_handle(&r) == -1 || dce_r_ustr(&r, &s, &n) == -1)
		return DCE_FAULT_NDR;
	dce_ascii(s, n, name, sizeof(name));
	if (strcasecmp(name, host_get()->name) == 0 ||
	    strcasecmp(name, "Builtin") == 0) {
		ndr_w_ptr(w);
		dce_w_sid(w, strcasecmp(name, "Builtin") != 0);
		ndr_w_align(w, 4);
		ndr_w_u32(w, 0);
	} else {
		ndr_w_u32(w, 0);
		ndr_w_u32(w, DCE_STATUS_NO_SUCH_DOMAIN);
	}
	return 0;
}

/* SamrEnumerateDomainsInSamServer (6): the machine, then Builtin. */
static uint32_t
samr_enum_domains(struct dce_call *call, struct ndr_w *w)
{
	const char	*names[2] = { host_get()->name, "Builtin" };
	int		 i;

	if (call->len < DCE_HANDLE_LEN + 8)
		return DCE_FAULT_NDR;
	ndr_w_u32(w, 0);			/* enumeration context */
	ndr_w_ptr(w);
	ndr_w_u32(w, 2);
	ndr_w_ptr(w);
	ndr_w_u32(w, 2);
	for (i = 0; i < 2; i++) {
		ndr_w_u32(w, 0);		/* RelativeId */
		dce_w_ustr_head(w, names[i]);
	}
	for (i = 0; i < 2; i++)
		dce_w_ustr_body(w, names[i]);
	ndr_w_align(w, 4);
	ndr_w_u32(w, 2);
	ndr_w_u32(w, 0);
	return 0;
}

/* samr: connect, the domains, close; the rest refused. */
static uint32_t
samr_call(struct dce_call *call, struct ndr_w *w)
{
	switch (call->opnum) {
	case 0: case 57: case 62: case 64:
		return samr_connect(call, w);
	case 1:				/* SamrCloseHandle */
		if (call->len < DCE_HANDLE_LEN)
			return DCE_FAULT_NDR;
		dce_w_handle_null(w);
		ndr_w_u32(w, 0);
		return 0;
	case 5:
		return samr_lookup_domain(call, w);
	case 6:
		return samr_enum_domains(call, w);
	case 7:				/* SamrOpenDomain */
		if (call->len < DCE_HANDLE_LEN + 8)
			return DCE_FAULT_NDR;
		dce_w_handle(w, SAMR_HANDLE_KIND | 1);
		ndr_w_u32(w, 0);
		return 0;
	default:
		return call->opnum <= SAMR_LAST_OPNUM ?
		    DCE_FAULT_ACCESS_DENIED : DCE_FAULT_OP_RNG_ERROR;
	}
}

const struct dce_iface dce_samr = {
	"samr",
	DCE_UUID(0x12345778, 0x1234, 0xabcd, 0xef, 0x00,
	    0x01, 0x23, 0x45, 0x67, 0x89, 0xac),
	1, 0, samr_call
};

/* NetrWkstaGetInfo (0): levels 100, 101, 102. */
static uint32_t
wks_info(struct dce_call *call, struct ndr_w *w)
{
	const struct host	*h = host_get();
	struct ndr_r		 r;
	uint32_t		 level;

	ndr_r_init(&r, call->stub, call->len);
	if (dce_r_server_level(&r, &level) == -1)
		return DCE_FAULT_NDR;
	ndr_w_u32(w, level);
	if (level < 100 || level > 102) {
		ndr_w_u32(w, 0);
		ndr_w_u32(w, DCE_ERROR_INVALID_LEVEL);
		return 0;
	}
	ndr_w_ptr(w);
	ndr_w_u32(w, WKS_PLATFORM_NT);
	ndr_w_ptr(w);
	ndr_w_ptr(w);
	ndr_w_u32(w, h->major);
	ndr_w_u32(w, h->minor);
	if (level >= 101)
		ndr_w_ptr(w);
	if (level == 102)
		ndr_w_u32(w, 1);		/* logged-on users */
	ndr_w_wstr(w, h->name);
	ndr_w_align(w, 4);
	ndr_w_wstr(w, h->domain);
	if (level >= 101) {
		ndr_w_align(w, 4);
		ndr_w_wstr(w, h->system_root);
	}
	ndr_w_align(w, 4);
	ndr_w_u32(w, 0);
	return 0;
}

/* wkssvc: the workstation's information and MS03-049 (see the top). */
static uint32_t
wks_call(struct dce_call *call, struct ndr_w *w)
{
	size_t		at;
	uint32_t	n;

	if (call->opnum == 0)
		return wks_info(call, w);
	if (call->opnum >= 22 && call->opnum <= WKS_LAST_OPNUM &&
	    (n = dce_longest_wstr(call->stub, call->len, &at)) >
	    WKS_NAME_MAX) {
		dce_flag(call, EXPLOIT_MS03_049,
		    "name of %u characters at offset %zu", n, at);
		ndr_w_u32(w, DCE_ERROR_INVALID_NAME);
		return 0;
	}
	return call->opnum <= WKS_LAST_OPNUM ?
	    DCE_FAULT_ACCESS_DENIED : DCE_FAULT_OP_RNG_ERROR;
}

const struct dce_iface dce_wkssvc = {
	"wkssvc",
	DCE_UUID(0x6bffd098, 0xa112, 0x3610, 0x98, 0x33,
	    0x46, 0xc3, 0xf8, 0x7e, 0x34, 0x5a),
	1, 0, wks_call
};
