/*
 * SPNEGO (RFC 4178) in DER, as much as the NTLMSSP exchange of ntlm.c
 * needs: the client's negTokenInit and negTokenResp read with strict
 * bounds, the server's tokens written, and the ASN.1 shapes of the
 * MS04-007 exploits found.  Internal to ntlm.c (and its tests).
 */
#ifndef SUNDEW_SPNEGO_H
#define SUNDEW_SPNEGO_H

#include <stddef.h>
#include <stdint.h>

/* One DER element's contents: a window on the token. */
struct der {
	const uint8_t	*p;
	size_t		 n;
};

/*
 * The element at the start of *in: its tag and contents, *in advanced
 * past it.  0, or -1 when it does not fit: a length beyond what remains,
 * an indefinite length, a length of more than 4 bytes, a multi-byte tag.
 */
int	der_get(struct der *in, uint8_t *tag, struct der *val);

#define SPNEGO_INIT	1	/* negTokenInit, in its GSS wrapper (0x60) */
#define SPNEGO_RESP	2	/* negTokenResp (0xa1) */

/* What a client's token says. */
struct spnego_in {
	int		 kind;		/* SPNEGO_INIT, SPNEGO_RESP */
	int		 ntlm_offered;	/* mechTypes lists NTLMSSP */
	const uint8_t	*token;		/* mechToken / responseToken, or NULL */
	size_t		 tokenlen;
};

/* Reads a client's token; 0, or -1 (not SPNEGO, or malformed). */
int	spnego_parse(const uint8_t *, size_t, struct spnego_in *);

/*
 * What of MS04-007 (the ASN.1 bugs of CVE-2003-0818) a token shows: a
 * constructed or empty BIT STRING (kill-bill's heap overflow), or a
 * length no token can have (the length overflow); a word for the event,
 * or NULL for a token without them.
 */
const char	*spnego_ms04_007(const uint8_t *, size_t);

/* The accept states of negTokenResp. */
#define SPNEGO_ACCEPT_COMPLETED		0
#define SPNEGO_ACCEPT_INCOMPLETE	1

/*
 * A server's negTokenResp: negState, supportedMech NTLMSSP if mech,
 * responseToken if toklen > 0 (tok may lie in out).  Its length, 0 if
 * cap is too small.
 */
size_t	spnego_resp(uint8_t *out, size_t cap, int state, int mech,
	    const uint8_t *tok, size_t toklen);
/*
 * The server's negTokenInit of a negotiate response: mechTypes NTLMSSP,
 * and the negHints that Windows from Vista on adds if hints.
 */
size_t	spnego_init(uint8_t *out, size_t cap, int hints);

#endif
