/* capture_crypto.c — decrypts a captured uftp 4.x session (RSA key
 * exchange, AES-CBC, SHA-256) from the server's private key, replaying the
 * key schedule of protocol.txt section 4 as uftp 4.10 implements it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/hmac.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/rsa.h>

#include "capture_crypto.h"

#define SHA256_LEN 32
#define SALT_LEN 4
#define MASTER_LEN 48
#define MAX_CLIENTS 16

struct client_keys {
	uint32_t uid;
	uint8_t key[32], salt[SALT_LEN];
};

struct capcrypt {
	RsaKey rsa;
	WC_RNG rng;
	bool have_announce, have_group;
	uint8_t version, keytype, rand1[UFTP_RAND_LEN];
	size_t keylen;
	struct client_keys clients[MAX_CLIENTS];
	size_t nclients;
	uint8_t groupkey[32], groupsalt[SALT_LEN];
};

static size_t aes_keylen(uint8_t keytype)
{
	switch (keytype) {
	case UFTP_KEY_AES128_CBC: return 16;
	case UFTP_KEY_AES256_CBC: return 32;
	default:                  return 0;   /* only CBC is replayed here */
	}
}

static void hmac256(const uint8_t *key, size_t keylen, const uint8_t *a,
		    size_t alen, const uint8_t *b, size_t blen, uint8_t *out)
{
	Hmac h;
	wc_HmacInit(&h, NULL, INVALID_DEVID);
	wc_HmacSetKey(&h, WC_SHA256, key, (word32)keylen);
	wc_HmacUpdate(&h, a, (word32)alen);
	if (blen)
		wc_HmacUpdate(&h, b, (word32)blen);
	wc_HmacFinal(&h, out);
	wc_HmacFree(&h);
}

/* uftp 4.x's P_SHA256. The first block is RFC 5246's; after it uftp feeds
 * HMAC(A(i) + seed) back as the next A instead of HMAC(A(i)), so blocks
 * two and up differ from TLS 1.2. Reproduced here as uftp does it. */
static void prf(const uint8_t *secret, size_t slen, const char *label,
		const uint8_t *seed, size_t seedlen, uint8_t *out, size_t n)
{
	uint8_t lseed[128], a[SHA256_LEN + 128], block[SHA256_LEN];
	size_t llen = strlen(label), lslen = llen + seedlen, alen = lslen;
	memcpy(lseed, label, llen);
	memcpy(lseed + llen, seed, seedlen);
	memcpy(a, lseed, lslen);
	for (size_t done = 0; done < n; done += SHA256_LEN) {
		uint8_t next[SHA256_LEN];
		hmac256(secret, slen, a, alen, NULL, 0, next);
		hmac256(secret, slen, next, SHA256_LEN, lseed, lslen, block);
		memcpy(out + done, block, n - done < SHA256_LEN ?
		       n - done : SHA256_LEN);
		memcpy(a, next, SHA256_LEN);        /* uftp: A(i) + seed */
		memcpy(a + SHA256_LEN, lseed, lslen);
		alen = SHA256_LEN + lslen;
	}
}

/* IV for AES-CBC: salt, sender UID, counter (all network order). */
static void build_iv(uint8_t iv[16], const uint8_t salt[SALT_LEN],
		     uint32_t src_id, uint64_t ctr)
{
	memcpy(iv, salt, SALT_LEN);
	for (int i = 0; i < 4; i++)
		iv[4 + i] = (uint8_t)(src_id >> (24 - 8 * i));
	for (int i = 0; i < 8; i++)
		iv[8 + i] = (uint8_t)(ctr >> (56 - 8 * i));
}

static long cbc_decrypt(const uint8_t *key, size_t keylen, const uint8_t iv[16],
			const uint8_t *in, size_t len, uint8_t *out)
{
	Aes aes;
	if (len == 0 || len % 16 || wc_AesInit(&aes, NULL, INVALID_DEVID))
		return -1;
	int r = wc_AesSetKey(&aes, key, (word32)keylen, iv, AES_DECRYPTION);
	if (r == 0)
		r = wc_AesCbcDecrypt(&aes, out, in, (word32)len);
	wc_AesFree(&aes);
	uint8_t pad = out[len - 1];             /* PKCS#7, as OpenSSL */
	if (r || pad == 0 || pad > 16)
		return -1;
	for (size_t i = len - pad; i < len; i++)
		if (out[i] != pad)
			return -1;
	return (long)(len - pad);
}

struct capcrypt *capcrypt_open(const char *path)
{
	static uint8_t pem[8192], der[8192];
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t n = fread(pem, 1, sizeof(pem), f);
	fclose(f);
	int dlen = wc_KeyPemToDer(pem, (int)n, der, sizeof(der), NULL);
	struct capcrypt *cc = calloc(1, sizeof(*cc));
	word32 idx = 0;
	if (!cc || dlen <= 0 || wc_InitRsaKey(&cc->rsa, NULL) ||
	    wc_RsaPrivateKeyDecode(der, &idx, &cc->rsa, (word32)dlen) ||
	    wc_InitRng(&cc->rng) || wc_RsaSetRNG(&cc->rsa, &cc->rng)) {
		free(cc);
		return NULL;
	}
	return cc;
}

void capcrypt_close(struct capcrypt *cc)
{
	if (!cc)
		return;
	wc_FreeRsaKey(&cc->rsa);
	wc_FreeRng(&cc->rng);
	free(cc);
}

static struct client_keys *client(struct capcrypt *cc, uint32_t uid)
{
	for (size_t i = 0; i < cc->nclients; i++)
		if (cc->clients[i].uid == uid)
			return &cc->clients[i];
	return NULL;
}

static void on_announce(struct capcrypt *cc, const struct uftp_msg *m)
{
	const struct uftp_enc_info *e = &m->u.announce.ext.enc_info;
	if (!UFTP_HAS_EXT(&m->u.announce.ext, UFTP_EXT_ENC_INFO) ||
	    e->keyextype != UFTP_KEYEX_RSA || e->hashtype != UFTP_HASH_SHA256 ||
	    !aes_keylen(e->keytype))
		return;
	cc->version = m->hdr.version;
	cc->keytype = e->keytype;
	cc->keylen = aes_keylen(e->keytype);
	memcpy(cc->rand1, e->rand1.p, UFTP_RAND_LEN);
	cc->have_announce = true;
}

/* premaster -> master -> key block: HMAC key, cipher key, salt. */
static void on_register(struct capcrypt *cc, const struct uftp_msg *m)
{
	const struct uftp_register *r = &m->u.reg;
	uint8_t premaster[512], seed[2 * UFTP_RAND_LEN], master[MASTER_LEN];
	uint8_t block[SHA256_LEN + 32 + SALT_LEN];
	if (!cc->have_announce || r->keyinfo.len == 0 ||
	    client(cc, m->hdr.src_id) || cc->nclients == MAX_CLIENTS)
		return;
	int plen = wc_RsaPrivateDecrypt_ex(r->keyinfo.p, (word32)r->keyinfo.len,
					   premaster, sizeof(premaster),
					   &cc->rsa, WC_RSA_OAEP_PAD,
					   WC_HASH_TYPE_SHA, WC_MGF1SHA1, NULL, 0);
	if (plen <= 0)
		return;
	memcpy(seed, cc->rand1, UFTP_RAND_LEN);
	memcpy(seed + UFTP_RAND_LEN, r->rand2.p, UFTP_RAND_LEN);
	prf(premaster, (size_t)plen, "master secret", seed, sizeof(seed),
	    master, MASTER_LEN);
	prf(master, MASTER_LEN, "key expansion", seed, sizeof(seed), block,
	    SHA256_LEN + cc->keylen + SALT_LEN);
	struct client_keys *k = &cc->clients[cc->nclients++];
	k->uid = m->hdr.src_id;
	memcpy(k->key, block + SHA256_LEN, cc->keylen);
	memcpy(k->salt, block + SHA256_LEN + cc->keylen, SALT_LEN);
}

/* The group master: version byte + 47 bytes under a client's key. */
static void on_keyinfo(struct capcrypt *cc, const struct uftp_msg *m)
{
	struct uftp_destkey dk;
	for (size_t i = 0; !cc->have_group &&
	     uftp_keyinfo_at(&m->u.keyinfo, i, &dk); i++) {
		struct client_keys *k = client(cc, dk.uid);
		uint8_t iv[16], plain[UFTP_MASTER_LEN], master[MASTER_LEN];
		uint8_t block[SHA256_LEN + 32 + SALT_LEN];
		if (!k)
			continue;
		build_iv(iv, k->salt, m->hdr.src_id, m->u.keyinfo.iv_ctr);
		if (cbc_decrypt(k->key, cc->keylen, iv, dk.master,
				UFTP_MASTER_LEN, plain) != MASTER_LEN - 1)
			continue;
		master[0] = cc->version;
		memcpy(master + 1, plain, MASTER_LEN - 1);
		prf(master, MASTER_LEN, "key expansion", cc->rand1,
		    UFTP_RAND_LEN, block, SHA256_LEN + cc->keylen + SALT_LEN);
		memcpy(cc->groupkey, block + SHA256_LEN, cc->keylen);
		memcpy(cc->groupsalt, block + SHA256_LEN + cc->keylen,
		       SALT_LEN);
		cc->have_group = true;
	}
}

void capcrypt_observe(struct capcrypt *cc, const struct uftp_msg *m)
{
	switch (m->hdr.func) {
	case UFTP_ANNOUNCE: on_announce(cc, m); break;
	case UFTP_REGISTER: on_register(cc, m); break;
	case UFTP_KEYINFO:  on_keyinfo(cc, m); break;
	default:            break;
	}
}

long capcrypt_decrypt(struct capcrypt *cc, const struct uftp_msg *m,
		      uint8_t *out, size_t cap)
{
	const struct uftp_encrypted *e = &m->u.encrypted;
	uint8_t iv[16];
	if (!cc->have_group || e->payload.len > cap)
		return -1;
	build_iv(iv, cc->groupsalt, m->hdr.src_id, e->iv_ctr);
	return cbc_decrypt(cc->groupkey, cc->keylen, iv, e->payload.p,
			   e->payload.len, out);
}
