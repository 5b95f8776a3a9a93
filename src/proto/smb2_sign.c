/*
 * SMB2 signing (MS-SMB2 3.1.4.1, 3.1.4.2), for the one login whose key
 * the host can know: NTLM with an empty NT response (smbclient -N), whose
 * session base key is zero.  Samba's client insists on signed answers on
 * IPC$ even then.  2.0.2 and 2.1 sign with HMAC-SHA256 under the session
 * key, 3.x with AES-128-CMAC under a key derived by SP800-108 (3.1.1 over
 * the preauth integrity hash of the negotiate and the session setup).
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

#include "smb2_int.h"
#include "smb_int.h"

void
smb2_preauth(uint8_t h[64], const uint8_t *msg, size_t len)
{
	EVP_MD_CTX	*ctx;
	unsigned	 n = 64;

	/* Out of memory: a wrong hash, and the client's check fails. */
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return;
	if (EVP_DigestInit_ex(ctx, EVP_sha512(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, h, 64) != 1 ||
	    EVP_DigestUpdate(ctx, msg, len) != 1 ||
	    EVP_DigestFinal_ex(ctx, h, &n) != 1)
		memset(h, 0, 64);
	EVP_MD_CTX_free(ctx);
}

/* SP800-108 counter mode, HMAC-SHA256, one block, 128 bits (3.1.4.2). */
static int
smb2_kdf(const uint8_t key[16], const char *label, size_t llen,
    const uint8_t *context, size_t clen, uint8_t out[16])
{
	uint8_t		 in[4 + 32 + 1 + 64 + 4], md[32];
	unsigned	 mdlen = sizeof(md);
	size_t		 n = 0;

	if (llen > 32 || clen > 64)
		return -1;
	memcpy(in, "\0\0\0\1", 4);
	n = 4;
	memcpy(in + n, label, llen);
	n += llen;
	in[n++] = 0;
	memcpy(in + n, context, clen);
	n += clen;
	memcpy(in + n, "\0\0\0\x80", 4);
	n += 4;
	if (HMAC(EVP_sha256(), key, 16, in, n, md, &mdlen) == NULL)
		return -1;
	memcpy(out, md, 16);
	return 0;
}

int
smb2_sign_begin(struct smb2_state *s, uint16_t dialect, const uint8_t key[16])
{
	/* The labels are counted with their NUL (3.1.4.2). */
	static const char	l30[] = "SMB2AESCMAC", c30[] = "SmbSign",
				l311[] = "SMBSigningKey";

	s->signing = SMB2_SIGN_NONE;
	if (dialect < SMB2_DIALECT_300) {
		memcpy(s->sign_key, key, 16);
		s->signing = SMB2_SIGN_HMAC;
		return 0;
	}
	if (dialect == SMB2_DIALECT_311) {
		if (smb2_kdf(key, l311, sizeof(l311), s->preauth_sess, 64,
		    s->sign_key) == -1)
			return -1;
	} else if (smb2_kdf(key, l30, sizeof(l30), (const uint8_t *)c30,
	    sizeof(c30), s->sign_key) == -1)
		return -1;
	s->signing = SMB2_SIGN_CMAC;
	return 0;
}

/* AES-128-CMAC of p (3.x signatures); 0, or -1. */
static int
smb2_cmac(const uint8_t key[16], const uint8_t *p, size_t n, uint8_t out[16])
{
	EVP_MAC	*mac;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	size_t	 outlen = 0;
	int	 rc = -1;

	if ((mac = EVP_MAC_fetch(NULL, "CMAC", NULL)) == NULL)
		return -1;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER,
	    (char *)"AES-128-CBC", 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_MAC_CTX_new(mac)) != NULL &&
	    EVP_MAC_init(ctx, key, 16, params) == 1 &&
	    EVP_MAC_update(ctx, p, n) == 1 &&
	    EVP_MAC_final(ctx, out, &outlen, 16) == 1 && outlen == 16)
		rc = 0;
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return rc;
}

int
smb2_sign(const struct smb2_state *s, uint8_t *msg, size_t len)
{
	uint8_t		md[32];
	unsigned	mdlen = sizeof(md);

	if (s->signing == SMB2_SIGN_NONE || len < SMB2_HDR)
		return 0;
	smb_put32(msg + 16, smb_get32(msg + 16) | SMB2_FLAGS_SIGNED);
	memset(msg + 48, 0, 16);
	if (s->signing == SMB2_SIGN_HMAC) {
		if (HMAC(EVP_sha256(), s->sign_key, 16, msg, len, md,
		    &mdlen) == NULL)
			return -1;
	} else if (smb2_cmac(s->sign_key, msg, len, md) == -1)
		return -1;
	memcpy(msg + 48, md, 16);
	return 0;
}
