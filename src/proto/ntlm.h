/*
 * NTLMSSP (MS-NLMP) inside SPNEGO (RFC 4178, DER): the server side of an
 * SMB session setup.  Any user and any password are accepted; each
 * attempt is a sundew.login.attempt event with the names and the NTLM
 * responses as hex, in the shape Dionaea and Cowrie users query.  The
 * challenge is fresh per session; the target information is the host's
 * (host.h).  A SPNEGO token whose ASN.1 lengths are out of bounds is the
 * MS04-007 exploit: recognised, and the token goes to the analyser.
 */
#ifndef SUNDEW_NTLM_H
#define SUNDEW_NTLM_H

#include <stddef.h>
#include <stdint.h>

struct conn;

enum ntlm_rc {
	NTLM_ERROR = -1,	/* garbage: the session ends (protocol_error) */
	NTLM_DONE = 0,		/* authenticated (anyone is): out is the last token */
	NTLM_MORE = 1		/* out holds the challenge: more processing required */
};

struct ntlm_state {
	uint8_t		challenge[8];
	uint8_t		stage;		/* 0: nothing yet, 1: challenged, 2: done */
	uint8_t		spnego;		/* the client wraps NTLMSSP in SPNEGO */
	uint32_t	flags;		/* the client's negotiate flags */
	/* The login of NTLM_DONE was anonymous (MS-NLMP 3.2.5.1.2). */
	uint8_t		anonymous;
	/*
	 * It named a user but proved no password (no NT response, as
	 * smbclient -N sends the Unix user): Windows makes it a guest.
	 */
	uint8_t		guest;
	/*
	 * The ExportedSessionKey of NTLM_DONE (MS-NLMP 3.4.5.1), known only
	 * for a login without an NT response (its SessionBaseKey is 16 zero
	 * bytes): SMB2 signs that session's answers with it.
	 */
	uint8_t		session_key[16];
	uint8_t		has_key;
};

/* The most a security blob sent back can take. */
#define NTLM_OUT_MAX	1024

/* A fresh random challenge for the session (SMB1 negotiate, or first use). */
void	ntlm_challenge_new(struct ntlm_state *);
/*
 * The server's SPNEGO negTokenInit (mechTypes: NTLMSSP) that SMB1's
 * extended-security negotiate and SMB2's negotiate carry; its length.
 */
size_t	ntlm_spnego_hint(uint8_t *out, size_t cap);
/*
 * One security blob of a session setup (raw NTLMSSP or SPNEGO), starting
 * at offset at of the session's input; *seen: the session's exploit bits.
 * Writes the answer token into out (cap >= NTLM_OUT_MAX) and its length
 * into *outlen.  The AUTHENTICATE message makes the login event.
 */
enum ntlm_rc	ntlm_accept(struct ntlm_state *, struct conn *, uint32_t *seen,
		    const uint8_t *in, size_t n, size_t at,
		    uint8_t *out, size_t cap, size_t *outlen);

/* A login of SMB1's non-extended session setup (or of NTLMSSP's). */
struct ntlm_login {
	const uint8_t	*user;
	size_t		 userlen;		/* bytes */
	const uint8_t	*domain;
	size_t		 domainlen;
	const uint8_t	*workstation;
	size_t		 workstationlen;
	int		 unicode;		/* the names are UTF-16LE */
	const uint8_t	*lm;			/* LM (or LMv2) response */
	size_t		 lmlen;
	const uint8_t	*nt;			/* NT (or NTLMv2) response */
	size_t		 ntlen;
};

/* The sundew.login.attempt event of a login. */
void	ntlm_login_event(struct conn *, const struct ntlm_login *, int success);

#endif
