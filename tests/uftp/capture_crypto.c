/* capture_crypto.c — decrypts a captured uftp 4.x session (RSA key
 * exchange, AES-CBC, SHA-256) from the server's private key, replaying the
 * key schedule of protocol.txt section 4 as uftp 4.10 implements it, with
 * ferry's crypto module. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/crypto.h"

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
	struct crypto_key *key;
	struct crypto_rng *rng;
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

/* uftp 4.x's PRF with SHA-256 (its quirk is in src/crypto). */
static void prf(const uint8_t *secret, size_t slen, const char *label,
		const uint8_t *seed, size_t seedlen, uint8_t *out, size_t n)
{
	if (crypto_prf_uftp(UFTP_HASH_SHA256, secret, slen, label, seed, seedlen,
			    out, n) != 0)
		memset(out, 0, n);
}

static long cbc_decrypt(uint8_t keytype, const uint8_t *key, uint32_t src_id,
			uint64_t ctr, const uint8_t salt[SALT_LEN],
			const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	uint8_t iv[16];
	crypto_cipher_iv(keytype, salt, src_id, ctr, iv);
	return crypto_decrypt(keytype, key, iv, NULL, 0, in, len, out, cap);
}

struct capcrypt *capcrypt_open(const char *path)
{
	char why[CRYPTO_ERR_LEN];
	struct capcrypt *cc = calloc(1, sizeof(*cc));
	if (!cc)
		return NULL;
	cc->key = crypto_key_read_file(path, why);
	cc->rng = crypto_rng_new();
	if (!cc->key || !cc->rng || crypto_key_type(cc->key) != UFTP_KEYBLOB_RSA) {
		fprintf(stderr, "capcrypt_open: %s: %s\n", path,
			cc->key ? "not an RSA key" : why);
		capcrypt_close(cc);
		return NULL;
	}
	return cc;
}

void capcrypt_close(struct capcrypt *cc)
{
	if (!cc)
		return;
	crypto_key_free(cc->key);
	crypto_rng_free(cc->rng);
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
	long plen = crypto_rsa_decrypt(cc->key, cc->rng, r->keyinfo.p,
				       r->keyinfo.len, premaster, sizeof(premaster));
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
		uint8_t plain[UFTP_MASTER_LEN], master[MASTER_LEN];
		uint8_t block[SHA256_LEN + 32 + SALT_LEN];
		if (!k)
			continue;
		if (cbc_decrypt(cc->keytype, k->key, m->hdr.src_id,
				m->u.keyinfo.iv_ctr, k->salt, dk.master,
				UFTP_MASTER_LEN, plain, sizeof(plain)) != MASTER_LEN - 1)
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
	if (!cc->have_group || e->payload.len > cap)
		return -1;
	return cbc_decrypt(cc->keytype, cc->groupkey, m->hdr.src_id, e->iv_ctr,
			   cc->groupsalt, e->payload.p, e->payload.len, out, cap);
}
