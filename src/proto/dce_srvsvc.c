/*
 * srvsvc (MS-SRVS): the shares and the server's description from the one
 * host (host.h), the time of day, and the path and name canonicalization
 * calls through which MS06-040 and MS08-067 come.
 *
 * MS08-067: a path whose "..\" components, resolved, walk above its own
 * start (the Conficker / Metasploit shape "\x\..\..\payload").  nmap's
 * check ("\AAAA...\..\n" compared with "\n") stays within its start: it
 * gets the answer of an unpatched XP (the paths compare equal, 0, so nmap
 * says VULNERABLE) and is not an exploit event.  MS06-040: a path, with
 * its prefix, longer than the MAX_PATH characters Windows accepts.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dce_iface.h"
#include "event.h"
#include "host.h"

#define SRV_MAX_PATH		260
#define SRV_OUTBUF_MAX		64000	/* the IDL's range on OutbufLen */
#define SRV_LAST_OPNUM		53
#define SRV_PLATFORM_NT		500
#define SV_TYPE_WORKSTATION	0x00000001
#define SV_TYPE_SERVER		0x00000002
#define SV_TYPE_NT		0x00001000
#define SV_TYPE_SERVER_NT	0x00008000
#define SV_TYPE_POTENTIAL_BROWSER 0x00010000

/* A path separator, either way round. */
static int
srv_sep(uint16_t ch)
{
	return ch == '\\' || ch == '/';
}

/* The UTF-16LE unit i of s. */
static uint16_t
srv_unit(const uint8_t *s, uint32_t i)
{
	return (uint16_t)(s[2 * i] | s[2 * i + 1] << 8);
}

/*
 * Does the path's "..", resolved component by component, climb above the
 * point it starts from?  That is what the vulnerable canonicalization
 * copies backwards past its buffer's start.
 */
int
dce_path_walks_out(const uint8_t *s, uint32_t n)
{
	uint32_t	i = 0, start, len;
	long		depth = 0;

	n = dce_wlen(s, n);
	while (i < n) {
		while (i < n && srv_sep(srv_unit(s, i)))
			i++;
		start = i;
		while (i < n && !srv_sep(srv_unit(s, i)))
			i++;
		len = i - start;
		if (len == 0 || (len == 1 && s[2 * start] == '.' &&
		    s[2 * start + 1] == 0))
			continue;
		if (len == 2 && s[2 * start] == '.' && s[2 * start + 1] == 0 &&
		    s[2 * start + 2] == '.' && s[2 * start + 3] == 0) {
			if (--depth < 0)
				return 1;
		} else
			depth++;
	}
	return 0;
}

/*
 * A path canonicalized as Windows does for the compare and the output:
 * "/" as "\", "." dropped, ".." taking the previous component away.
 * ASCII into out; its length, or -1 if it walks out or does not fit.
 */
static int
srv_canon(const uint8_t *s, uint32_t n, char *out, size_t cap)
{
	char	 in[SRV_MAX_PATH * 2];
	size_t	 o = 0, i = 0, start, len;

	if (dce_ascii(s, n, in, sizeof(in)) >= sizeof(in) - 1 || cap < 2)
		return -1;
	if (in[0] == '\\' || in[0] == '/')
		out[o++] = '\\';
	while (in[i] != '\0') {
		while (in[i] == '\\' || in[i] == '/')
			i++;
		start = i;
		while (in[i] != '\0' && in[i] != '\\' && in[i] != '/')
			i++;
		len = i - start;
		if (len == 0 || (len == 1 && in[start] == '.'))
			continue;
		if (len == 2 && in[start] == '.' && in[start + 1] == '.') {
			if (o == 0 || (o == 1 && out[0] == '\\'))
				return -1;
			while (o > 0 && out[o - 1] != '\\')
				o--;
			if (o > 1)
				o--;		/* the separator too */
			continue;
		}
		if (o > 0 && out[o - 1] != '\\')
			out[o++] = '\\';
		if (o + len + 1 > cap)
			return -1;
		memcpy(out + o, in + start, len);
		o += len;
	}
	out[o] = '\0';
	return (int)o;
}

/* The path exploits: 1 if one was recognised (the event went). */
static int
srv_path_exploit(struct dce_call *call, const uint8_t *path, uint32_t plen,
    const uint8_t *prefix, uint32_t xlen)
{
	uint32_t	a = dce_wlen(path, plen), b = dce_wlen(prefix, xlen);

	if (dce_path_walks_out(path, plen)) {
		dce_flag(call, EXPLOIT_MS08_067,
		    "path of %u characters walks above its start", a);
		return 1;
	}
	if (a + b > SRV_MAX_PATH) {
		dce_flag(call, EXPLOIT_MS06_040,
		    "path and prefix of %u characters", a + b);
		return 1;
	}
	return 0;
}

/* The server type bits of the host: a workstation, or a server. */
static uint32_t
srv_type(void)
{
	uint32_t	t = SV_TYPE_WORKSTATION | SV_TYPE_SERVER | SV_TYPE_NT |
			    SV_TYPE_POTENTIAL_BROWSER;

	if (strstr(host_get()->product, "Server") != NULL)
		t |= SV_TYPE_SERVER_NT;
	return t;
}

/* A SHARE_INFO_n's fixed part (its strings are deferred). */
static void
srv_w_share(struct ndr_w *w, const struct host_share *sh, uint32_t level)
{
	ndr_w_align(w, 4);
	ndr_w_ptr(w);
	if (level == 0)
		return;
	ndr_w_u32(w, sh->type);
	ndr_w_ptr(w);
	if (level == 1)
		return;
	ndr_w_u32(w, 0);			/* permissions */
	ndr_w_u32(w, 0xffffffffu);		/* max uses */
	ndr_w_u32(w, 0);			/* current uses */
	ndr_w_ptr(w);				/* path */
	ndr_w_u32(w, 0);			/* no password */
	if (level == 502) {
		ndr_w_u32(w, 0);		/* reserved */
		ndr_w_u32(w, 0);		/* no security descriptor */
	}
}

/* A SHARE_INFO_n's deferred strings, in the order of its pointers. */
static void
srv_w_share_strings(struct ndr_w *w, const struct host_share *sh,
    uint32_t level)
{
	ndr_w_align(w, 4);
	ndr_w_wstr(w, sh->name);
	if (level == 0)
		return;
	ndr_w_align(w, 4);
	ndr_w_wstr(w, sh->remark);
	if (level == 1)
		return;
	ndr_w_align(w, 4);
	ndr_w_wstr(w, sh->path);
}

/* The share information levels the host answers. */
static int
srv_level_ok(uint32_t level)
{
	return level == 0 || level == 1 || level == 2 || level == 502;
}

/* NetrShareEnum (15): every share of the host at levels 0, 1, 2, 502. */
static uint32_t
srv_share_enum(struct dce_call *call, struct ndr_w *w)
{
	const struct host	*h = host_get();
	struct ndr_r		 r;
	uint32_t		 level, resume, i;

	ndr_r_init(&r, call->stub, call->len);
	if (dce_r_server_level(&r, &level) == -1)
		return DCE_FAULT_NDR;
	(void)ndr_r_u32(&r);			/* the union's switch */
	if (ndr_r_ptr(&r) != 0) {
		(void)ndr_r_u32(&r);
		if (ndr_r_ptr(&r) != 0)
			return DCE_FAULT_NDR;	/* clients send none */
	}
	(void)ndr_r_u32(&r);			/* preferred maximum */
	resume = ndr_r_ptr(&r);
	if (resume != 0)
		(void)ndr_r_u32(&r);
	if (r.err)
		return DCE_FAULT_NDR;
	ndr_w_u32(w, level);
	ndr_w_u32(w, level);
	if (!srv_level_ok(level)) {
		ndr_w_u32(w, 0);
		ndr_w_u32(w, 0);
	} else {
		ndr_w_ptr(w);
		ndr_w_u32(w, (uint32_t)h->nshares);
		ndr_w_ptr(w);
		ndr_w_u32(w, (uint32_t)h->nshares);
		for (i = 0; i < h->nshares; i++)
			srv_w_share(w, &h->shares[i], level);
		for (i = 0; i < h->nshares; i++)
			srv_w_share_strings(w, &h->shares[i], level);
	}
	ndr_w_align(w, 4);
	ndr_w_u32(w, srv_level_ok(level) ? (uint32_t)h->nshares : 0);
	if (resume != 0) {
		ndr_w_ptr(w);
		ndr_w_u32(w, 0);
	} else
		ndr_w_u32(w, 0);
	ndr_w_u32(w, srv_level_ok(level) ? 0 : DCE_ERROR_INVALID_LEVEL);
	return 0;
}

/* NetrShareGetInfo (16): one share by name. */
static uint32_t
srv_share_get(struct dce_call *call, struct ndr_w *w)
{
	const struct host_share	*sh;
	struct ndr_r		 r;
	const uint8_t		*s;
	char			 name[32];
	uint32_t		 n, level, status = 0;

	ndr_r_init(&r, call->stub, call->len);
	if (dce_r_uwstr(&r, &s, &n) == -1)
		return DCE_FAULT_NDR;
	ndr_r_align(&r, 4);
	if (ndr_r_wstr(&r, &s, &n) == -1)
		return DCE_FAULT_NDR;
	ndr_r_align(&r, 4);
	level = ndr_r_u32(&r);
	if (r.err)
		return DCE_FAULT_NDR;
	dce_ascii(s, n, name, sizeof(name));
	sh = host_share_find(name, strlen(name));
	if (!srv_level_ok(level))
		status = DCE_ERROR_INVALID_LEVEL;
	else if (sh == NULL)
		status = DCE_NERR_NETNAMENOTFOUND;
	ndr_w_u32(w, level);
	if (status != 0)
		ndr_w_u32(w, 0);
	else {
		ndr_w_ptr(w);
		srv_w_share(w, sh, level);
		srv_w_share_strings(w, sh, level);
	}
	ndr_w_align(w, 4);
	ndr_w_u32(w, status);
	return 0;
}

/* NetrServerGetInfo (21): levels 100, 101, 102 of the one host. */
static uint32_t
srv_server_info(struct dce_call *call, struct ndr_w *w)
{
	const struct host	*h = host_get();
	struct ndr_r		 r;
	uint32_t		 level;

	ndr_r_init(&r, call->stub, call->len);
	if (dce_r_server_level(&r, &level) == -1)
		return DCE_FAULT_NDR;
	ndr_w_u32(w, level);
	if (level != 100 && level != 101 && level != 102) {
		ndr_w_u32(w, 0);
		ndr_w_u32(w, DCE_ERROR_INVALID_LEVEL);
		return 0;
	}
	ndr_w_ptr(w);
	ndr_w_u32(w, SRV_PLATFORM_NT);
	ndr_w_ptr(w);
	if (level >= 101) {
		ndr_w_u32(w, h->major);
		ndr_w_u32(w, h->minor);
		ndr_w_u32(w, srv_type());
		ndr_w_ptr(w);
	}
	if (level == 102) {
		ndr_w_u32(w, 0xffffffffu);	/* users: unlimited */
		ndr_w_u32(w, 15);		/* autodisconnect minutes */
		ndr_w_u32(w, 0);		/* not hidden */
		ndr_w_u32(w, 240);		/* announce */
		ndr_w_u32(w, 3000);		/* announce delta */
		ndr_w_u32(w, 0);		/* licenses */
		ndr_w_ptr(w);
	}
	ndr_w_align(w, 4);
	ndr_w_wstr(w, h->name);
	if (level >= 101) {
		ndr_w_align(w, 4);
		ndr_w_wstr(w, "");
	}
	if (level == 102) {
		ndr_w_align(w, 4);
		ndr_w_wstr(w, "c:\\");
	}
	ndr_w_align(w, 4);
	ndr_w_u32(w, 0);
	return 0;
}

/* The civil date of a day count since 1970 (proleptic Gregorian). */
static void
srv_civil(int64_t days, uint32_t *y, uint32_t *m, uint32_t *d)
{
	int64_t		era, doe, yoe, doy, mp;

	days += 719468;
	era = (days >= 0 ? days : days - 146096) / 146097;
	doe = days - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (uint32_t)(doy - (153 * mp + 2) / 5 + 1);
	*m = (uint32_t)(mp < 10 ? mp + 3 : mp - 9);
	*y = (uint32_t)(yoe + era * 400 + (*m <= 2));
}

/* NetrRemoteTOD (28): the time in UTC, the uptime from the host's boot. */
static uint32_t
srv_tod(struct dce_call *call, struct ndr_w *w)
{
	int64_t		now = event_now_usec(), secs = now / 1000000;
	int64_t		days = secs / 86400, rem = secs % 86400;
	uint32_t	y, m, d;

	(void)call;
	srv_civil(days, &y, &m, &d);
	ndr_w_ptr(w);
	ndr_w_u32(w, (uint32_t)secs);
	ndr_w_u32(w, (uint32_t)((now - host_get()->boot_us) / 1000));
	ndr_w_u32(w, (uint32_t)(rem / 3600));
	ndr_w_u32(w, (uint32_t)(rem / 60 % 60));
	ndr_w_u32(w, (uint32_t)(rem % 60));
	ndr_w_u32(w, (uint32_t)(now / 10000 % 100));
	ndr_w_u32(w, 0);			/* minutes west of UTC */
	ndr_w_u32(w, 310);			/* tick: 31 ms */
	ndr_w_u32(w, d);
	ndr_w_u32(w, m);
	ndr_w_u32(w, y);
	ndr_w_u32(w, (uint32_t)((days + 4) % 7));	/* 1970-01-01: Thu */
	ndr_w_u32(w, 0);
	return 0;
}

/* Writes a canonical path as a byte array of OutbufLen: UTF-16, NUL, 0s. */
static void
srv_w_outbuf(struct ndr_w *w, const char *path, uint32_t outlen, int wide)
{
	uint32_t	i, n = (uint32_t)strlen(path);

	ndr_w_u32(w, outlen);
	for (i = 0; i < outlen; i++) {
		if (wide)
			ndr_w_u16(w, i < n ? (uint8_t)path[i] : 0);
		else if (i / 2 < n && i % 2 == 0)
			ndr_w_u8(w, (uint8_t)path[i / 2]);
		else
			ndr_w_u8(w, 0);
	}
	ndr_w_align(w, 4);
}

/*
 * NetprPathCanonicalize (31): the path, after the prefix, canonicalized
 * into a buffer of OutbufLen bytes.  The exploits' shapes are recognised
 * first; what they get is what a path that does not fit gets.
 */
static uint32_t
srv_path_canon(struct dce_call *call, struct ndr_w *w)
{
	struct ndr_r	 r;
	const uint8_t	*s, *path, *prefix;
	char		 canon[SRV_MAX_PATH + 1], pre[SRV_MAX_PATH + 1];
	char		 full[2 * SRV_MAX_PATH + 2];
	uint32_t	 n, plen, xlen, outlen, ptype, status = 0;

	ndr_r_init(&r, call->stub, call->len);
	if (dce_r_uwstr(&r, &s, &n) == -1)
		return DCE_FAULT_NDR;
	ndr_r_align(&r, 4);
	if (ndr_r_wstr(&r, &path, &plen) == -1)
		return DCE_FAULT_NDR;
	ndr_r_align(&r, 4);
	outlen = ndr_r_u32(&r);
	if (ndr_r_wstr(&r, &prefix, &xlen) == -1)
		return DCE_FAULT_NDR;
	ndr_r_align(&r, 4);
	ptype = ndr_r_u32(&r);
	(void)ndr_r_u32(&r);
	if (r.err || outlen > SRV_OUTBUF_MAX)
		return DCE_FAULT_NDR;
	if (srv_path_exploit(call, path, plen, prefix, xlen))
		status = DCE_ERROR_INVALID_NAME;
	else if (srv_canon(path, plen, canon, sizeof(canon)) == -1)
		status = DCE_ERROR_INVALID_NAME;
	else {
		dce_ascii(prefix, xlen, pre, sizeof(pre));
		/* One separator between the prefix and the path. */
		if (pre[0] != '\0' && canon[0] == '\\' &&
		    pre[strlen(pre) - 1] == '\\')
			pre[strlen(pre) - 1] = '\0';
		snprintf(full, sizeof(full), "%s%s%s", pre,
		    pre[0] != '\0' && canon[0] != '\\' &&
		    pre[strlen(pre) - 1] != '\\' ? "\\" : "", canon);
		if ((strlen(full) + 1) * 2 > outlen)
			status = DCE_NERR_BUFTOOSMALL;
	}
	srv_w_outbuf(w, status == 0 ? full : "", outlen, 0);
	ndr_w_u32(w, ptype);
	ndr_w_u32(w, status);
	return 0;
}

/*
 * NetprPathCompare (32): 0 if the two paths name the same place once
 * canonicalized, as an unpatched host answers nmap's MS08-067 check.
 */
static uint32_t
srv_path_compare(struct dce_call *call, struct ndr_w *w)
{
	struct ndr_r	 r;
	const uint8_t	*s, *p1, *p2;
	char		 c1[SRV_MAX_PATH + 1], c2[SRV_MAX_PATH + 1];
	uint32_t	 n, n1, n2;
	int32_t		 cmp;

	ndr_r_init(&r, call->stub, call->len);
	if (dce_r_uwstr(&r, &s, &n) == -1)
		return DCE_FAULT_NDR;
	ndr_r_align(&r, 4);
	if (ndr_r_wstr(&r, &p1, &n1) == -1)
		return DCE_FAULT_NDR;
	ndr_r_align(&r, 4);
	if (ndr_r_wstr(&r, &p2, &n2) == -1)
		return DCE_FAULT_NDR;
	ndr_r_align(&r, 4);
	(void)ndr_r_u32(&r);
	(void)ndr_r_u32(&r);
	if (r.err)
		return DCE_FAULT_NDR;
	if (srv_path_exploit(call, p1, n1, NULL, 0) ||
	    srv_path_exploit(call, p2, n2, NULL, 0) ||
	    srv_canon(p1, n1, c1, sizeof(c1)) == -1 ||
	    srv_canon(p2, n2, c2, sizeof(c2)) == -1) {
		ndr_w_u32(w, DCE_ERROR_INVALID_NAME);
		return 0;
	}
	cmp = strcasecmp(c1, c2);
	ndr_w_u32(w, cmp == 0 ? 0 : cmp < 0 ? 0xffffffffu : 1);
	return 0;
}

/* NetprNameCanonicalize (34): the name as given, if it fits. */
static uint32_t
srv_name_canon(struct dce_call *call, struct ndr_w *w)
{
	struct ndr_r	 r;
	const uint8_t	*s, *name;
	char		 buf[SRV_MAX_PATH + 1];
	uint32_t	 n, nlen, outlen, status = 0;

	ndr_r_init(&r, call->stub, call->len);
	if (dce_r_uwstr(&r, &s, &n) == -1)
		return DCE_FAULT_NDR;
	ndr_r_align(&r, 4);
	if (ndr_r_wstr(&r, &name, &nlen) == -1)
		return DCE_FAULT_NDR;
	ndr_r_align(&r, 4);
	outlen = ndr_r_u32(&r);
	(void)ndr_r_u32(&r);
	(void)ndr_r_u32(&r);
	if (r.err || outlen > SRV_OUTBUF_MAX)
		return DCE_FAULT_NDR;
	if (dce_wlen(name, nlen) > SRV_MAX_PATH)
		status = DCE_ERROR_INVALID_NAME;
	else {
		dce_ascii(name, nlen, buf, sizeof(buf));
		if (strlen(buf) + 1 > outlen)
			status = DCE_NERR_BUFTOOSMALL;
	}
	srv_w_outbuf(w, status == 0 ? buf : "", outlen, 1);
	ndr_w_u32(w, status);
	return 0;
}

/* srvsvc: shares, the server, the time, paths and names; the rest refused. */
static uint32_t
srv_call(struct dce_call *call, struct ndr_w *w)
{
	switch (call->opnum) {
	case 15:
		return srv_share_enum(call, w);
	case 16:
		return srv_share_get(call, w);
	case 21:
		return srv_server_info(call, w);
	case 28:
		return srv_tod(call, w);
	case 31:
		return srv_path_canon(call, w);
	case 32:
		return srv_path_compare(call, w);
	case 34:
		return srv_name_canon(call, w);
	default:
		return call->opnum <= SRV_LAST_OPNUM ?
		    DCE_FAULT_ACCESS_DENIED : DCE_FAULT_OP_RNG_ERROR;
	}
}

const struct dce_iface dce_srvsvc = {
	"srvsvc",
	DCE_UUID(0x4b324fc8, 0x1670, 0x01d3, 0x12, 0x78,
	    0x5a, 0x47, 0xbf, 0x6e, 0xe1, 0x88),
	3, 0, srv_call
};
