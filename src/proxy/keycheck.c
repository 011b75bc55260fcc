/* keycheck.c — what a client or response proxy checks in an encrypted
 * ANNOUNCE before any public-key work, with uftpproxyd's reasons: the
 * algorithms, the -S fingerprint, a key of its own to match the server's
 * and, for ECDH, its ECDH key. Cheap: no signature is checked here. */
#include <string.h>

#include "internal.h"

static bool sigtype_ok(const struct uftp_enc_info *e)
{
	switch (e->sigtype) {
	case UFTP_SIG_HMAC:
	case UFTP_SIG_KEYEX:   return true;
	case UFTP_SIG_AUTHENC: return crypto_cipher_aead(e->keytype);
	default:               return false;
	}
}

static const char *algorithms(const struct uftp_enc_info *e)
{
	if (!crypto_cipher_keylen(e->keytype))
		return "Keytype invalid or not supported here";
	if (!crypto_hash_len(e->hashtype))
		return "Hashtype invalid or not supported here";
	if (!sigtype_ok(e))
		return "Invalid sigtype specified";
	if (e->keyextype != UFTP_KEYEX_RSA && e->keyextype != UFTP_KEYEX_ECDH_RSA &&
	    e->keyextype != UFTP_KEYEX_ECDH_ECDSA)
		return "Invalid keyextype specified";
	return NULL;
}

/* -S with a fingerprint: the key the server presents must be the listed one. */
static bool fingerprint_ok(const struct inst_shared *sh, uint32_t server,
			   const struct uftp_enc_info *e)
{
	const struct peer *p = proxy_peerlist_find(proxy_server_list(sh), server);
	uint8_t fp[CRYPTO_FP_LEN];
	if (!p || !p->has_fp)
		return true;
	crypto_blob_fingerprint(e->keyblob.p, e->keyblob.len, fp);
	return memcmp(fp, p->fp, sizeof(fp)) == 0;
}

/* As uftpproxyd: an RSA key of the server's modulus size, or an EC key on
 * the server's curve, depending on the key exchange. */
static bool have_matching_key(const struct proxy_keys *pk, const struct uftp_keyblob *kb)
{
	for (size_t i = 0; i < pk->n; i++) {
		const struct crypto_key *k = pk->key[i];
		if (crypto_key_type(k) != kb->type)
			continue;
		if (kb->type == UFTP_KEYBLOB_RSA ? crypto_key_bits(k) == kb->key.len * 8
						 : crypto_key_curve(k) == kb->curve)
			return true;
	}
	return false;
}

static const char *keys(const struct inst_shared *sh, const struct uftp_enc_info *e)
{
	struct uftp_keyblob kb, dh;
	int want = e->keyextype == UFTP_KEYEX_ECDH_ECDSA ? UFTP_KEYBLOB_EC
							 : UFTP_KEYBLOB_RSA;
	if (uftp_keyblob_decode(e->keyblob, &kb) != UFTP_OK || kb.type != want)
		return "Failed to load server public key";
	if (!have_matching_key(&sh->keys, &kb))
		return "No proxy key compatible with server key";
	if (e->keyextype == UFTP_KEYEX_RSA || sh->pc->role != PROXY_RESPONSE)
		return NULL;
	if (uftp_keyblob_decode(e->dhblob, &dh) != UFTP_OK || dh.type != UFTP_KEYBLOB_EC)
		return "Failed to load server public ECDH key";
	/* uftpproxyd 4.10.2 crashes here without -e; we say why instead. */
	if (!sh->keys.dh)
		return "Proxy has no ECDH key (-e or -r:curve) for an ECDH key exchange";
	if (crypto_key_curve(sh->keys.dh) != dh.curve)
		return "Proxy ECDH key not compatible with server key";
	return NULL;
}

const char *proxy_enc_check(const struct inst_shared *sh, uint32_t server,
			    const struct uftp_enc_info *e)
{
	const char *why = algorithms(e);
	if (!why && !fingerprint_ok(sh, server, e))
		why = "Failed to verify server key fingerprint";
	return why ? why : keys(sh, e);
}

