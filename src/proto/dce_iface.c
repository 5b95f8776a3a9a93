/*
 * The table of the interfaces the host serves and the NDR shapes they
 * share (dce_iface.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dce_iface.h"
#include "conn.h"
#include "host.h"
#include "store.h"
#include "smb_int.h"

const struct dce_iface *const dce_ifaces[] = {
	&dce_epm,
	&dce_srvsvc,
	&dce_lsarpc,
	&dce_dssetup,
	&dce_samr,
	&dce_wkssvc,
	&dce_sysact,
	&dce_remact,
	&dce_oxid,
	&dce_pnp,
	&dce_msmq,
	&dce_msdtc,
	&dce_spoolss,
	NULL
};

/*
 * The interface of a bind's abstract syntax: the UUID and the major
 * version must both match, as Windows checks (a wrong major gets a
 * bind_nak with "abstract syntax not supported").
 */
const struct dce_iface *
dce_iface_find(const uint8_t uuid[16], uint16_t vmajor)
{
	size_t	i;

	for (i = 0; dce_ifaces[i] != NULL; i++)
		if (memcmp(dce_ifaces[i]->uuid, uuid, 16) == 0 &&
		    dce_ifaces[i]->vmajor == vmajor)
			return dce_ifaces[i];
	return NULL;
}

int
dce_r_uwstr(struct ndr_r *r, const uint8_t **s, uint32_t *n)
{
	*s = NULL;
	*n = 0;
	ndr_r_align(r, 4);
	if (ndr_r_ptr(r) == 0)
		return r->err ? -1 : 0;
	return ndr_r_wstr(r, s, n);
}

int
dce_r_server_level(struct ndr_r *r, uint32_t *level)
{
	const uint8_t	*s;
	uint32_t	 n;

	if (dce_r_uwstr(r, &s, &n) == -1)
		return -1;
	ndr_r_align(r, 4);
	*level = ndr_r_u32(r);
	return r->err ? -1 : 0;
}

int
dce_r_handle(struct ndr_r *r)
{
	ndr_r_align(r, 4);
	return ndr_r_bytes(r, DCE_HANDLE_LEN) == NULL ? -1 : 0;
}

int
dce_r_ustr(struct ndr_r *r, const uint8_t **s, uint32_t *n)
{
	uint16_t	len;

	*s = NULL;
	*n = 0;
	ndr_r_align(r, 4);
	len = ndr_r_u16(r);
	(void)ndr_r_u16(r);
	if (ndr_r_ptr(r) == 0)
		return r->err ? -1 : 0;
	if (ndr_r_wstr(r, s, n) == -1 || (uint32_t)len / 2 > *n)
		return -1;
	*n = len / 2;
	return 0;
}

void
dce_w_handle(struct ndr_w *w, uint32_t kind)
{
	static uint32_t	 counter;
	uint8_t		 h[DCE_HANDLE_LEN];

	/* Attributes 0, then a UUID that only has to be unique here. */
	memset(h, 0, sizeof(h));
	smb_put32(h + 4, kind);
	smb_put32(h + 8, ++counter);
	memcpy(h + 12, host_get()->guid + 8, 8);
	ndr_w_align(w, 4);
	ndr_w_bytes(w, h, sizeof(h));
}

void
dce_w_handle_null(struct ndr_w *w)
{
	static const uint8_t	zero[DCE_HANDLE_LEN];

	ndr_w_align(w, 4);
	ndr_w_bytes(w, zero, sizeof(zero));
}

void
dce_w_uwstr(struct ndr_w *w, const char *s)
{
	ndr_w_align(w, 4);
	ndr_w_ptr(w);
	ndr_w_wstr(w, s);
}

void
dce_w_ustr_head(struct ndr_w *w, const char *s)
{
	size_t	n = strlen(s);

	ndr_w_align(w, 4);
	ndr_w_u16(w, (uint16_t)(n * 2));
	ndr_w_u16(w, (uint16_t)(n * 2));
	ndr_w_ptr(w);
}

void
dce_w_ustr_body(struct ndr_w *w, const char *s)
{
	size_t	n = strlen(s), i;

	ndr_w_align(w, 4);
	ndr_w_u32(w, (uint32_t)n);
	ndr_w_u32(w, 0);
	ndr_w_u32(w, (uint32_t)n);
	for (i = 0; i < n; i++)
		ndr_w_u16(w, (uint8_t)s[i]);
}

/*
 * The machine's S-1-5-21-a-b-c: its three numbers taken from the host's
 * GUID, so that every reply agrees, and a restart too.
 */
void
dce_machine_sid(uint32_t sub[3])
{
	const uint8_t	*g = host_get()->guid;
	int		 i;

	for (i = 0; i < 3; i++)
		sub[i] = smb_get32(g + 4 * i) | 0x10000000u;
}

/* S-1-5-32 (Builtin) or the machine's SID. */
void
dce_w_sid(struct ndr_w *w, int machine)
{
	static const uint8_t	nt_auth[6] = { 0, 0, 0, 0, 0, 5 };
	uint32_t		 sub[3];
	int			 i, nsub = machine ? 4 : 1;

	ndr_w_align(w, 4);
	ndr_w_u32(w, (uint32_t)nsub);
	ndr_w_u8(w, 1);
	ndr_w_u8(w, (uint8_t)nsub);
	ndr_w_bytes(w, nt_auth, sizeof(nt_auth));
	ndr_w_u32(w, machine ? 21 : 32);
	dce_machine_sid(sub);
	for (i = 0; machine && i < 3; i++)
		ndr_w_u32(w, sub[i]);
}

size_t
dce_ascii(const uint8_t *s, uint32_t n, char *buf, size_t cap)
{
	if (s == NULL) {
		if (cap > 0)
			buf[0] = '\0';
		return 0;
	}
	return smb_utf16_ascii(s, (size_t)dce_wlen(s, n) * 2, buf, cap);
}

uint32_t
dce_wlen(const uint8_t *s, uint32_t n)
{
	uint32_t	i;

	for (i = 0; s != NULL && i < n; i++)
		if (s[2 * i] == 0 && s[2 * i + 1] == 0)
			break;
	return s == NULL ? 0 : i;
}

uint32_t
dce_longest_wstr(const uint8_t *p, size_t len, size_t *at)
{
	size_t		i;
	uint32_t	best = 0, max, off, act, n;

	*at = 0;
	for (i = 0; i + 12 <= len; i += 4) {
		max = smb_get32(p + i);
		off = smb_get32(p + i + 4);
		act = smb_get32(p + i + 8);
		if (off != 0 || act == 0 || act > max ||
		    act > (len - i - 12) / 2)
			continue;
		/* Its characters, without the NUL that ends a string. */
		n = act;
		if (p[i + 10 + 2 * n] == 0 && p[i + 11 + 2 * n] == 0)
			n--;
		if (n > best) {
			best = n;
			*at = i;
		}
		/* Past this string: its characters are not counts. */
		i = ((i + 12 + (size_t)act * 2 + 3) & ~(size_t)3) - 4;
	}
	return best;
}

void
dce_flag(struct dce_call *call, int exploit_id, const char *fmt, ...)
{
	char	detail[128];
	va_list	ap;

	uint32_t first = !(*call->seen & (1u << exploit_id));

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	dce_exploit(call, exploit_id, detail);
	/*
	 * The exploit's stub is kept too, once, as the payload it is: what
	 * the analyser got, for whoever looks at the event later.
	 */
	if (first && (*call->seen & (1u << exploit_id)))
		conn_store_file(call->c, STORE_HEXDUMP, call->stub, call->len);
}
