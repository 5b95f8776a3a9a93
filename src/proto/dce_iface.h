/*
 * Inside the DCERPC interfaces (dce_*.c): each interface's descriptor, the
 * helpers they share to read and write the NDR shapes that recur (unique
 * strings, context handles, RPC_UNICODE_STRING, SIDs), and the checks
 * that recognise an argument longer than Windows accepts.
 */
#ifndef SUNDEW_DCE_IFACE_H
#define SUNDEW_DCE_IFACE_H

#include <stddef.h>
#include <stdint.h>

#include "dce_int.h"
#include "exploit.h"
#include "ndr.h"

/* A UUID in the wire's order from its text form's fields. */
#define DCE_UUID(a, b, c, d0, d1, e0, e1, e2, e3, e4, e5) {		\
	(a) & 0xff, ((a) >> 8) & 0xff, ((a) >> 16) & 0xff,		\
	((a) >> 24) & 0xff, (b) & 0xff, ((b) >> 8) & 0xff,		\
	(c) & 0xff, ((c) >> 8) & 0xff, d0, d1, e0, e1, e2, e3, e4, e5 }

/* Win32 and NT status codes the interfaces answer with. */
#define DCE_ERROR_ACCESS_DENIED		5
#define DCE_ERROR_INVALID_PARAMETER	87
#define DCE_ERROR_INVALID_NAME		123
#define DCE_ERROR_INVALID_LEVEL		124
#define DCE_NERR_BUFTOOSMALL		2123
#define DCE_NERR_NETNAMENOTFOUND	2310
#define DCE_STATUS_NO_SUCH_DOMAIN	0xc00000df
#define DCE_STATUS_INVALID_INFO_CLASS	0xc0000003
#define DCE_STATUS_NONE_MAPPED		0xc0000073
#define DCE_E_ACCESSDENIED		0x80070005
#define DCE_EPT_S_NOT_REGISTERED	0x16c9a0d6

/* A context handle on the wire: attributes and a UUID. */
#define DCE_HANDLE_LEN	20

extern const struct dce_iface	dce_epm;
extern const struct dce_iface	dce_srvsvc;
extern const struct dce_iface	dce_lsarpc;
extern const struct dce_iface	dce_dssetup;
extern const struct dce_iface	dce_samr;
extern const struct dce_iface	dce_wkssvc;
extern const struct dce_iface	dce_sysact;
extern const struct dce_iface	dce_remact;
extern const struct dce_iface	dce_oxid;
extern const struct dce_iface	dce_pnp;
extern const struct dce_iface	dce_msmq;
extern const struct dce_iface	dce_msdtc;
extern const struct dce_iface	dce_spoolss;

/*
 * A [string, unique] wide string: its referent id, then (if not NULL) the
 * string.  *s is NULL and *n 0 for a NULL pointer.  0, or -1 (bad NDR).
 */
int	dce_r_uwstr(struct ndr_r *, const uint8_t **s, uint32_t *n);
/*
 * The opening of the server calls: a [string, unique] server name (not
 * looked at) and a u32 info level.  0, or -1 (bad NDR).
 */
int	dce_r_server_level(struct ndr_r *, uint32_t *level);
/* A context handle: 20 bytes skipped.  0, or -1. */
int	dce_r_handle(struct ndr_r *);
/*
 * An RPC_UNICODE_STRING (Length, MaximumLength, pointer) with its
 * deferred buffer read at once (a top-level argument).  0, or -1.
 */
int	dce_r_ustr(struct ndr_r *, const uint8_t **s, uint32_t *n);

/*
 * A new context handle of kind (a tag that tells the interfaces' handles
 * apart in a capture): no random bytes, a counter.
 */
void	dce_w_handle(struct ndr_w *, uint32_t kind);
/* The NULL handle a close answers with. */
void	dce_w_handle_null(struct ndr_w *);
/* A [string, unique] wide string's referent id and string (s != NULL). */
void	dce_w_uwstr(struct ndr_w *, const char *s);
/*
 * An RPC_UNICODE_STRING's fixed part (Length, MaximumLength, referent id)
 * and, later, its deferred buffer (conformant varying, no NUL).
 */
void	dce_w_ustr_head(struct ndr_w *, const char *s);
void	dce_w_ustr_body(struct ndr_w *, const char *s);
/* The three numbers of the machine's SID (S-1-5-21-a-b-c). */
void	dce_machine_sid(uint32_t sub[3]);
/* A SID as a conformant structure: the machine's, or Builtin's. */
void	dce_w_sid(struct ndr_w *, int machine);

/* UTF-16LE characters (n of them) to ASCII for a detail or a compare. */
size_t	dce_ascii(const uint8_t *s, uint32_t n, char *buf, size_t cap);
/* Characters before the terminating NUL (or n). */
uint32_t dce_wlen(const uint8_t *s, uint32_t n);
/*
 * The longest conformant varying wide string that looks like one (max >=
 * actual, offset 0) anywhere on a 4-byte boundary of the stub: for the
 * interfaces whose overflows are known only as "a string too long".
 * Returns its length in characters (its NUL not counted), 0 if none;
 * *at its counts' offset.
 */
uint32_t dce_longest_wstr(const uint8_t *, size_t, size_t *at);
/*
 * Recognised: the exploit event, once, and the stub to the analyser, with
 * a detail formatted like printf; the stub is kept as a hexdump the first
 * time (sundew.file.stored, kind "hexdump").
 */
void	dce_flag(struct dce_call *, int exploit_id, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* The srvsvc path rules, for the tests: see dce_srvsvc.c. */
int	dce_path_walks_out(const uint8_t *s, uint32_t n);

#endif
