/*
 * lsarpc (MS-LSAD, MS-LSAT) and DSSETUP (MS-DSSP), both behind \lsarpc: a
 * policy handle, the host's primary and account domain, the names of its
 * built-in accounts, and the role of a stand-alone workstation or server
 * in a workgroup.
 *
 * MS04-011: DsRolerUpgradeDownlevelServer (DSSETUP opnum 9) whose first
 * string (the DNS domain name, at most 255 characters in Windows, and no
 * client of today sends the call at all) is longer than that, or a stub
 * of that call too long to be anything but an overflow that does not even
 * parse (the Metasploit XP target sends raw text where the string goes).
 * The benign DsRolerGetPrimaryDomainInformation (opnum 0) is answered.
 */
#include <string.h>

#include "dce_iface.h"
#include "host.h"

#define LSA_LAST_OPNUM		81
#define LSA_HANDLE_KIND		0x4c534100
#define DS_LAST_OPNUM		10
#define DS_DNS_NAME_MAX		255
/* A stub of opnum 9 this long that is no string: an overflow. */
#define DS_RAW_MIN		256

/* Is the host a server (its role in DSSETUP)? */
static int
lsa_server(void)
{
	return strstr(host_get()->product, "Server") != NULL;
}

/* LsarOpenPolicy (6), LsarOpenPolicy2 (44): any caller gets a handle. */
static uint32_t
lsa_open(struct dce_call *call, struct ndr_w *w)
{
	struct ndr_r	 r;
	const uint8_t	*s;
	uint32_t	 n;

	ndr_r_init(&r, call->stub, call->len);
	if (call->opnum == 44) {
		if (dce_r_uwstr(&r, &s, &n) == -1)
			return DCE_FAULT_NDR;
	} else if (ndr_r_ptr(&r) != 0)
		(void)ndr_r_u16(&r);
	ndr_r_align(&r, 4);
	(void)ndr_r_u32(&r);			/* ObjectAttributes.Length */
	if (r.err)
		return DCE_FAULT_NDR;
	dce_w_handle(w, LSA_HANDLE_KIND);
	ndr_w_u32(w, 0);
	return 0;
}

/*
 * LsarQueryInformationPolicy (7, 46 for the "2"): the primary domain
 * (level 3: the workgroup, no SID) and the account domain (level 5: the
 * machine and its SID).
 */
static uint32_t
lsa_query(struct dce_call *call, struct ndr_w *w)
{
	const struct host	*h = host_get();
	struct ndr_r		 r;
	uint16_t		 level;
	const char		*name;

	ndr_r_init(&r, call->stub, call->len);
	if (dce_r_handle(&r) == -1)
		return DCE_FAULT_NDR;
	level = ndr_r_u16(&r);
	if (r.err)
		return DCE_FAULT_NDR;
	if (level != 3 && level != 5) {
		ndr_w_u32(w, 0);
		ndr_w_u32(w, DCE_STATUS_INVALID_INFO_CLASS);
		return 0;
	}
	name = level == 3 ? h->domain : h->name;
	ndr_w_ptr(w);
	ndr_w_u16(w, level);
	dce_w_ustr_head(w, name);
	if (level == 5)
		ndr_w_ptr(w);
	else
		ndr_w_u32(w, 0);
	dce_w_ustr_body(w, name);
	if (level == 5)
		dce_w_sid(w, 1);
	ndr_w_align(w, 4);
	ndr_w_u32(w, 0);
	return 0;
}

/* The accounts an XP host has out of the box, by RID. */
static const struct {
	uint32_t	 rid;
	uint16_t	 use;		/* SID_NAME_USE: 1 user, 2 group */
	const char	*name;
} lsa_accounts[] = {
	{ 500,	1,	"Administrator" },
	{ 501,	1,	"Guest" },
	{ 513,	2,	"None" },
	{ 1000,	1,	"HelpAssistant" },
	{ 1002,	1,	"SUPPORT_388945a0" },
};
#define LSA_NACCOUNTS	(sizeof(lsa_accounts) / sizeof(lsa_accounts[0]))
/* lookupsid.py asks 1000 at a time; the answer to as many fits in 64 KiB. */
#define LSA_LOOKUP_MAX	1000
#define LSA_SID_UNKNOWN	8
#define LSA_STATUS_SOME_NOT_MAPPED 0x00000107

/*
 * The account a SID names: an index into lsa_accounts, or -1 if it is not
 * one of the machine's.  The SID is read from r.
 */
static int
lsa_sid_account(struct ndr_r *r)
{
	uint32_t	 n = ndr_r_u32(r), sub[5], mine[3], i;
	const uint8_t	*auth;

	(void)ndr_r_u8(r);
	if (ndr_r_u8(r) != n || n > 15 ||
	    (auth = ndr_r_bytes(r, 6)) == NULL)
		goto bad;
	for (i = 0; i < n; i++) {
		if (i < 5)
			sub[i] = ndr_r_u32(r);
		else
			(void)ndr_r_u32(r);
	}
	if (r->err || n != 5 || auth[5] != 5 || sub[0] != 21)
		return -1;
	dce_machine_sid(mine);
	if (memcmp(sub + 1, mine, sizeof(mine)) != 0)
		return -1;
	for (i = 0; i < LSA_NACCOUNTS; i++)
		if (lsa_accounts[i].rid == sub[4])
			return (int)i;
	return -1;
bad:
	r->err = 1;
	return -1;
}

/*
 * LsarLookupSids (15): the machine's own accounts by name, as impacket's
 * lookupsid.py asks for RIDs 0 to 4000; the rest unknown, with
 * STATUS_SOME_NOT_MAPPED or STATUS_NONE_MAPPED.
 */
static uint32_t
lsa_lookup_sids(struct dce_call *call, struct ndr_w *w)
{
	static int	 acct[LSA_LOOKUP_MAX];
	struct ndr_r	 r;
	uint32_t	 n, i, mapped = 0;
	const char	*dom = host_get()->name;

	ndr_r_init(&r, call->stub, call->len);
	if (dce_r_handle(&r) == -1)
		return DCE_FAULT_NDR;
	n = ndr_r_u32(&r);
	if (n > LSA_LOOKUP_MAX || (n > 0 && (ndr_r_ptr(&r) == 0 ||
	    ndr_r_u32(&r) != n)))
		return DCE_FAULT_NDR;
	for (i = 0; i < n; i++)
		acct[i] = ndr_r_ptr(&r) != 0 ? 0 : -2;
	for (i = 0; i < n && !r.err; i++)
		if (acct[i] == 0 && (acct[i] = lsa_sid_account(&r)) >= 0)
			mapped++;
	if (r.err)
		return DCE_FAULT_NDR;
	/* The referenced domains: the machine's, once. */
	ndr_w_ptr(w);
	ndr_w_u32(w, 1);
	ndr_w_ptr(w);
	ndr_w_u32(w, 32);
	ndr_w_u32(w, 1);
	dce_w_ustr_head(w, dom);
	ndr_w_ptr(w);
	dce_w_ustr_body(w, dom);
	dce_w_sid(w, 1);
	/* The names, in the order of the SIDs. */
	ndr_w_u32(w, n);
	ndr_w_ptr(w);
	ndr_w_u32(w, n);
	for (i = 0; i < n; i++) {
		if (acct[i] >= 0) {
			ndr_w_u16(w, lsa_accounts[acct[i]].use);
			dce_w_ustr_head(w, lsa_accounts[acct[i]].name);
			ndr_w_u32(w, 0);
		} else {
			ndr_w_u16(w, LSA_SID_UNKNOWN);
			ndr_w_align(w, 4);
			ndr_w_u32(w, 0);	/* empty, no buffer */
			ndr_w_u32(w, 0);
			ndr_w_u32(w, 0xffffffffu);
		}
	}
	for (i = 0; i < n; i++)
		if (acct[i] >= 0)
			dce_w_ustr_body(w, lsa_accounts[acct[i]].name);
	ndr_w_align(w, 4);
	ndr_w_u32(w, mapped);
	ndr_w_u32(w, mapped == n ? 0 : mapped == 0 ? DCE_STATUS_NONE_MAPPED :
	    LSA_STATUS_SOME_NOT_MAPPED);
	return 0;
}

/* lsarpc: open, query, lookup and close; the rest refused. */
static uint32_t
lsa_call(struct dce_call *call, struct ndr_w *w)
{
	switch (call->opnum) {
	case 0:				/* LsarClose */
		if (call->len < DCE_HANDLE_LEN)
			return DCE_FAULT_NDR;
		dce_w_handle_null(w);
		ndr_w_u32(w, 0);
		return 0;
	case 6:
	case 44:
		return lsa_open(call, w);
	case 7:
	case 46:
		return lsa_query(call, w);
	case 15:
		return lsa_lookup_sids(call, w);
	default:
		return call->opnum <= LSA_LAST_OPNUM ?
		    DCE_FAULT_ACCESS_DENIED : DCE_FAULT_OP_RNG_ERROR;
	}
}

const struct dce_iface dce_lsarpc = {
	"lsarpc",
	DCE_UUID(0x12345778, 0x1234, 0xabcd, 0xef, 0x00,
	    0x01, 0x23, 0x45, 0x67, 0x89, 0xab),
	0, 0, lsa_call
};

/* DsRolerGetPrimaryDomainInformation (0): levels 1, 2, 3. */
static uint32_t
ds_primary(struct dce_call *call, struct ndr_w *w)
{
	struct ndr_r	r;
	uint16_t	level;

	ndr_r_init(&r, call->stub, call->len);
	level = ndr_r_u16(&r);
	if (r.err)
		return DCE_FAULT_NDR;
	if (level < 1 || level > 3) {
		ndr_w_u32(w, 0);
		ndr_w_u32(w, DCE_ERROR_INVALID_PARAMETER);
		return 0;
	}
	ndr_w_ptr(w);
	ndr_w_u16(w, level);
	ndr_w_align(w, 4);
	if (level == 1) {
		/* Stand-alone workstation (0) or server (2), no flags. */
		ndr_w_u16(w, lsa_server() ? 2 : 0);
		ndr_w_align(w, 4);
		ndr_w_u32(w, 0);
		ndr_w_ptr(w);			/* the workgroup */
		ndr_w_u32(w, 0);		/* no DNS domain */
		ndr_w_u32(w, 0);		/* no forest */
		ndr_w_bytes(w, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
		ndr_w_wstr(w, host_get()->domain);
	} else if (level == 2) {
		ndr_w_u32(w, 0);		/* no upgrade in progress */
		ndr_w_u16(w, 0);
	} else
		ndr_w_u16(w, 0);		/* operation state: idle */
	ndr_w_align(w, 4);
	ndr_w_u32(w, 0);
	return 0;
}

/* DsRolerUpgradeDownlevelServer (9): MS04-011 (see the top). */
static uint32_t
ds_upgrade(struct dce_call *call, struct ndr_w *w)
{
	struct ndr_r	 r;
	const uint8_t	*s;
	uint32_t	 max, n;

	ndr_r_init(&r, call->stub, call->len);
	if (ndr_r_wstr_max(&r, &s, &max, &n) == 0) {
		if (n > DS_DNS_NAME_MAX || max > DS_DNS_NAME_MAX)
			dce_flag(call, EXPLOIT_MS04_011,
			    "DsRolerUpgradeDownlevelServer DnsDomainName of "
			    "%u characters", n);
	} else if (call->len >= DS_RAW_MIN)
		dce_flag(call, EXPLOIT_MS04_011,
		    "DsRolerUpgradeDownlevelServer stub of %zu bytes that "
		    "holds no string", call->len);
	else
		return DCE_FAULT_NDR;
	ndr_w_u32(w, DCE_ERROR_ACCESS_DENIED);
	return 0;
}

/* DSSETUP: the domain information and MS04-011; the rest refused. */
static uint32_t
ds_call(struct dce_call *call, struct ndr_w *w)
{
	switch (call->opnum) {
	case 0:
		return ds_primary(call, w);
	case 9:
		return ds_upgrade(call, w);
	default:
		return call->opnum <= DS_LAST_OPNUM ?
		    DCE_FAULT_ACCESS_DENIED : DCE_FAULT_OP_RNG_ERROR;
	}
}

const struct dce_iface dce_dssetup = {
	"dssetup",
	DCE_UUID(0x3919286a, 0xb10c, 0x11d0, 0x9b, 0xa8,
	    0x00, 0xc0, 0x4f, 0xd9, 0x2e, 0xf5),
	0, 0, ds_call
};
