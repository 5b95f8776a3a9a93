/*
 * The DCOM activation interfaces of RPCSS on port 135 (MS-DCOM):
 * ISystemActivator (RemoteGetClassObject, RemoteCreateInstance),
 * IRemoteActivation (RemoteActivation) and IOXIDResolver (ServerAlive,
 * ServerAlive2).  Activations are refused (E_ACCESSDENIED,
 * REGDB_E_CLASSNOTREG), as to an anonymous caller.
 *
 * MS03-026 (CVE-2003-0352, the LSD bug): a UNC path "\\server\..." whose
 * server part has 32 characters or more, which RPCSS copies into a
 * 32-character NetBIOS name buffer.  It is reached through RemoteActivation
 * (its object name) and through the activation properties of
 * RemoteCreateInstance: the public exploit that Blaster and the bots'
 * DCOM scanners carry (dcom.c) binds ISystemActivator and sends
 * RemoteCreateInstance (opnum 4) with "\\FXNBFX...shellcode\C$\...doc".
 * MS03-039 (CVE-2003-0528, the long file name): RemoteCreateInstance or
 * RemoteGetClassObject whose activation properties carry a string longer
 * than MAX_PATH that is not such a UNC path.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "conn.h"
#include "dce_iface.h"
#include "host.h"

#define DCOM_NAME_BUF		32	/* the server name's buffer */
#define DCOM_MAX_PATH		260	/* a file name's, MS03-039 */
#define DCOM_MAX_IFACES		64	/* we answer for this many */
#define DCOM_REGDB_E_CLASSNOTREG 0x80040154
#define DCOM_ORPCTHIS_LEN	32	/* version, flags, reserved, cid, ext */

/*
 * The longest server part of a UNC name ("\\server") in UTF-16 anywhere
 * in p: the characters after the two backslashes up to the next
 * backslash or NUL.
 */
static uint32_t
dcom_unc_server(const uint8_t *p, size_t len)
{
	size_t		i, j;
	uint32_t	best = 0, n;

	for (i = 0; i + 4 <= len; i += 2) {
		if (p[i] != '\\' || p[i + 1] != 0 || p[i + 2] != '\\' ||
		    p[i + 3] != 0)
			continue;
		for (j = i + 4, n = 0; j + 2 <= len; j += 2, n++)
			if ((p[j] == '\\' || p[j] == 0) && p[j + 1] == 0)
				break;
		if (n > best)
			best = n;
		i = j - 2;
	}
	return best;
}

/* The fixed part of ORPCTHAT: no flags, no extensions. */
static void
dcom_w_orpcthat(struct ndr_w *w)
{
	ndr_w_u32(w, 0);
	ndr_w_u32(w, 0);
}

/*
 * RemoteActivation (IRemoteActivation opnum 0): its ORPCTHIS, CLSID and
 * object name read as the IDL has them (without extensions, as every
 * client sends it); a UNC server name of 32 characters or more anywhere
 * in the stub is MS03-026.
 */
static uint32_t
dcom_remote_activation(struct dce_call *call, struct ndr_w *w)
{
	struct ndr_r	 r;
	const uint8_t	*name = NULL;
	uint32_t	 n = 0, ext, ifaces = 1, i, server;

	ndr_r_init(&r, call->stub, call->len);
	(void)ndr_r_bytes(&r, DCOM_ORPCTHIS_LEN - 4);
	ext = ndr_r_ptr(&r);
	(void)ndr_r_bytes(&r, 16);		/* CLSID */
	if (ext == 0 && dce_r_uwstr(&r, &name, &n) == 0) {
		ndr_r_align(&r, 4);
		if (ndr_r_ptr(&r) == 0) {	/* no object storage */
			(void)ndr_r_u32(&r);
			(void)ndr_r_u32(&r);
			ifaces = ndr_r_u32(&r);
		}
	}
	if (r.err && call->len < DCOM_ORPCTHIS_LEN)
		return DCE_FAULT_NDR;
	if (r.err || ifaces == 0 || ifaces > DCOM_MAX_IFACES)
		ifaces = 1;
	server = dcom_unc_server(call->stub, call->len);
	if (server >= DCOM_NAME_BUF)
		dce_flag(call, EXPLOIT_MS03_026,
		    "RemoteActivation UNC server name of %u characters",
		    server);
	dcom_w_orpcthat(w);
	ndr_w_align(w, 8);
	ndr_w_u64(w, 0);			/* OXID */
	ndr_w_u32(w, 0);			/* no bindings */
	ndr_w_bytes(w, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
	ndr_w_u32(w, 0);			/* authentication hint */
	ndr_w_u16(w, 5);
	ndr_w_u16(w, 7);
	ndr_w_u32(w, DCOM_REGDB_E_CLASSNOTREG);
	ndr_w_u32(w, ifaces);
	for (i = 0; i < ifaces; i++)
		ndr_w_u32(w, 0);
	ndr_w_u32(w, ifaces);
	for (i = 0; i < ifaces; i++)
		ndr_w_u32(w, DCOM_REGDB_E_CLASSNOTREG);
	ndr_w_u32(w, 0);
	return 0;
}

/* RemoteGetClassObject (3), RemoteCreateInstance (4): refused. */
static uint32_t
dcom_sysact(struct dce_call *call, struct ndr_w *w)
{
	const char	*what = call->opnum == 4 ? "RemoteCreateInstance" :
			    "RemoteGetClassObject";
	uint32_t	 server, n;
	size_t		 at;

	if (call->opnum < 3 || call->opnum > 4)
		return DCE_FAULT_OP_RNG_ERROR;
	if (call->len < DCOM_ORPCTHIS_LEN)
		return DCE_FAULT_NDR;
	server = dcom_unc_server(call->stub, call->len);
	if (server >= DCOM_NAME_BUF)
		dce_flag(call, EXPLOIT_MS03_026,
		    "%s UNC server name of %u characters", what, server);
	else if ((n = dce_longest_wstr(call->stub, call->len, &at)) >
	    DCOM_MAX_PATH)
		dce_flag(call, EXPLOIT_MS03_039,
		    "%s file name of %u characters", what, n);
	dcom_w_orpcthat(w);
	ndr_w_u32(w, 0);			/* no properties out */
	ndr_w_u32(w, DCE_E_ACCESSDENIED);
	return 0;
}

/* IRemoteActivation: its one call. */
static uint32_t
dcom_remact(struct dce_call *call, struct ndr_w *w)
{
	if (call->opnum != 0)
		return DCE_FAULT_OP_RNG_ERROR;
	return dcom_remote_activation(call, w);
}

/* A UTF-16 string and its NUL into a DUALSTRINGARRAY's words. */
static size_t
dcom_words(uint16_t *a, size_t at, size_t cap, const char *s)
{
	while (*s != '\0' && at + 1 < cap)
		a[at++] = (uint8_t)*s++;
	if (at < cap)
		a[at++] = 0;
	return at;
}

/*
 * ServerAlive2 (IOXIDResolver opnum 5): the version and the host's string
 * bindings (TCP by name and by the address the client reached), then
 * NTLM as the one security binding.
 */
static uint32_t
dcom_server_alive2(struct dce_call *call, struct ndr_w *w)
{
	const struct sockaddr_in *sin;
	uint16_t	 a[96];
	char		 ip[INET_ADDRSTRLEN] = "0.0.0.0";
	size_t		 n = 0, sec, i;

	if (call->c != NULL && call->c->dst.ss_family == AF_INET) {
		sin = (const struct sockaddr_in *)&call->c->dst;
		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
	}
	a[n++] = 0x07;
	n = dcom_words(a, n, 90, host_get()->name);
	a[n++] = 0x07;
	n = dcom_words(a, n, 90, ip);
	a[n++] = 0;
	sec = n;
	a[n++] = 0x0a;				/* NTLM */
	a[n++] = 0xffff;
	a[n++] = 0;
	a[n++] = 0;
	ndr_w_u16(w, 5);
	ndr_w_u16(w, 7);
	ndr_w_ptr(w);
	ndr_w_u32(w, (uint32_t)n);
	ndr_w_u16(w, (uint16_t)n);
	ndr_w_u16(w, (uint16_t)sec);
	for (i = 0; i < n; i++)
		ndr_w_u16(w, a[i]);
	ndr_w_align(w, 4);
	ndr_w_u32(w, 0);			/* reserved */
	ndr_w_u32(w, 0);
	return 0;
}

/* IOXIDResolver: the pings and ServerAlive answered, the rest refused. */
static uint32_t
dcom_oxid(struct dce_call *call, struct ndr_w *w)
{
	switch (call->opnum) {
	case 1:				/* SimplePing */
	case 3:				/* ServerAlive */
		ndr_w_u32(w, 0);
		return 0;
	case 5:
		return dcom_server_alive2(call, w);
	case 0: case 2: case 4:
		return DCE_FAULT_ACCESS_DENIED;
	default:
		return DCE_FAULT_OP_RNG_ERROR;
	}
}

const struct dce_iface dce_sysact = {
	"ISystemActivator",
	DCE_UUID(0x000001a0, 0x0000, 0x0000, 0xc0, 0x00,
	    0x00, 0x00, 0x00, 0x00, 0x00, 0x46),
	0, 0, dcom_sysact
};

const struct dce_iface dce_remact = {
	"IRemoteActivation",
	DCE_UUID(0x4d9f4ab8, 0x7d1c, 0x11cf, 0x86, 0x1e,
	    0x00, 0x20, 0xaf, 0x6e, 0x7c, 0x57),
	0, 0, dcom_remact
};

const struct dce_iface dce_oxid = {
	"IOXIDResolver",
	DCE_UUID(0x99fcfec4, 0x5260, 0x101b, 0xbb, 0xcb,
	    0x00, 0xaa, 0x00, 0x21, 0x34, 0x7a),
	0, 0, dcom_oxid
};
