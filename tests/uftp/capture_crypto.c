/* capture_crypto.c — replays protocol.txt section 4 over a captured uftp
 * 4.x session with ferry's crypto module: ANNOUNCE, CLIENT_KEY and
 * ENCRYPTED signatures, and with the server's RSA key every session and
 * group key, KEYINFO_ACK verify data and each ENCRYPTED payload. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/crypto.h"

#include "capture_crypto.h"

#define MAX_CLIENTS 16
#define ENC_SIG_OFF (UFTP_HDR_LEN + 12)

struct client {
	uint32_t uid;
	uint8_t rand2[UFTP_RAND_LEN];
	uint8_t premaster[64];
	size_t plen;                 /* 0: premaster unknown (ECDH) */
	struct crypto_keyset keys;
	struct crypto_key *pub;      /* from CLIENT_KEY */
	uint8_t blob[CRYPTO_BLOB_MAX];
	size_t bloblen;
};

struct capcrypt {
	struct crypto_key *priv;     /* the server's, or NULL */
	struct crypto_rng *rng;
	bool have_announce, have_group;
	uint32_t server_id, group_id;
	struct crypto_key *server_pub;
	uint8_t version, keyextype, sigtype, keytype, hashtype;
	uint8_t rand1[UFTP_RAND_LEN], priv_addr[16];
	size_t addrlen;
	struct client clients[MAX_CLIENTS];
	size_t nclients;
	uint8_t groupmaster[CRYPTO_MASTER_LEN];
	struct crypto_keyset group;
};

struct capcrypt *capcrypt_open(const char *path)
{
	char why[CRYPTO_ERR_LEN];
	struct capcrypt *cc = calloc(1, sizeof(*cc));
	if (!cc || !(cc->rng = crypto_rng_new())) {
		free(cc);
		return NULL;
	}
	if (path && !(cc->priv = crypto_key_read_file(path, why))) {
		fprintf(stderr, "capcrypt_open: %s: %s\n", path, why);
		capcrypt_close(cc);
		return NULL;
	}
	return cc;
}

void capcrypt_close(struct capcrypt *cc)
{
	if (!cc)
		return;
	for (size_t i = 0; i < cc->nclients; i++)
		crypto_key_free(cc->clients[i].pub);
	crypto_key_free(cc->server_pub);
	crypto_key_free(cc->priv);
	crypto_rng_free(cc->rng);
	free(cc);
}

static struct client *client(struct capcrypt *cc, uint32_t uid, bool add)
{
	for (size_t i = 0; i < cc->nclients; i++)
		if (cc->clients[i].uid == uid)
			return &cc->clients[i];
	if (!add || cc->nclients == MAX_CLIENTS)
		return NULL;
	struct client *c = &cc->clients[cc->nclients++];
	c->uid = uid;
	return c;
}

/* The server's parameters (from the first ANNOUNCE); in the ECDH modes
 * each ANNOUNCE's signature over the whole datagram (signature zeroed) is
 * checked with the key it carries, also when a proxy re-signed it. */
static const char *on_announce(struct capcrypt *cc, const struct uftp_msg *m,
			       const uint8_t *dgram, size_t len)
{
	const struct uftp_announce *a = &m->u.announce;
	const struct uftp_enc_info *e = &a->ext.enc_info;
	if (!UFTP_HAS_EXT(&a->ext, UFTP_EXT_ENC_INFO) ||
	    a->priv_addr.len > sizeof(cc->priv_addr))
		return NULL;
	struct crypto_key *k = crypto_key_from_blob(e->keyblob.p, e->keyblob.len);
	if (!k)
		return "sig_bad";
	bool ok = !e->sig.len ||
		  crypto_uftp_check_sig(NULL, e->hashtype, UFTP_SIG_KEYEX, k, dgram,
					len, (size_t)(e->sig.p - dgram), e->sig.p,
					e->sig.len);
	if (cc->have_announce) {
		crypto_key_free(k);
	} else {
		cc->server_pub = k;
		cc->server_id = m->hdr.src_id;
		cc->group_id = m->hdr.group_id;
		cc->version = m->hdr.version;
		cc->keyextype = e->keyextype;
		cc->sigtype = e->sigtype;
		cc->keytype = e->keytype;
		cc->hashtype = e->hashtype;
		memcpy(cc->rand1, e->rand1.p, UFTP_RAND_LEN);
		memcpy(cc->priv_addr, a->priv_addr.p, a->priv_addr.len);
		cc->addrlen = a->priv_addr.len;
		cc->have_announce = true;
	}
	return !e->sig.len ? NULL : ok ? "sig_ok" : "sig_bad";
}

/* RSA key exchange: the premaster under the server's key, then the
 * client's session keys. */
static void on_register(struct capcrypt *cc, const struct uftp_msg *m)
{
	const struct uftp_register *r = &m->u.reg;
	struct client *c;
	if (!cc->have_announce || !r->keyinfo.len || m->hdr.src_id == cc->server_id ||
	    !(c = client(cc, m->hdr.src_id, true)))
		return;
	memcpy(c->rand2, r->rand2.p, UFTP_RAND_LEN);
	if (!cc->priv || cc->keyextype != UFTP_KEYEX_RSA || c->plen)
		return;
	long n = crypto_rsa_decrypt(cc->priv, cc->rng, r->keyinfo.p, r->keyinfo.len,
				    c->premaster, sizeof(c->premaster));
	if (n <= 0 || crypto_uftp_session_keys(cc->hashtype, cc->keytype,
					       c->premaster, (size_t)n, cc->rand1,
					       c->rand2, &c->keys) != 0)
		return;
	c->plen = (size_t)n;
}

/* The client's key, and its signature over the handshake so far when the
 * premaster is known. */
static const char *on_client_key(struct capcrypt *cc, const struct uftp_msg *m)
{
	const struct uftp_client_key *k = &m->u.client_key;
	uint8_t hs[512];
	struct client *c = client(cc, m->hdr.src_id, true);
	if (!c || c->pub || k->keyblob.len > sizeof(c->blob))
		return NULL;
	if (!(c->pub = crypto_key_from_blob(k->keyblob.p, k->keyblob.len)))
		return "sig_bad";
	memcpy(c->blob, k->keyblob.p, k->keyblob.len);
	c->bloblen = k->keyblob.len;
	if (!c->plen)
		return NULL;
	long n = crypto_uftp_handshake(hs, sizeof(hs), m->hdr.group_id, cc->priv_addr,
				       cc->addrlen, cc->rand1, c->rand2, c->premaster,
				       c->plen, NULL, 0, NULL);
	return n > 0 && crypto_verify(c->pub, cc->hashtype, hs, (size_t)n,
				      k->verify.p, k->verify.len) ? "sig_ok" : "sig_bad";
}

/* The group master from the first entry we hold keys for. */
static void on_keyinfo(struct capcrypt *cc, const struct uftp_msg *m)
{
	struct uftp_destkey dk;
	for (size_t i = 0; !cc->have_group &&
	     uftp_keyinfo_at(&m->u.keyinfo, i, &dk); i++) {
		struct client *c = client(cc, dk.uid, false);
		if (!c || !c->plen ||
		    crypto_uftp_unwrap_master(cc->keytype, &c->keys, m->hdr.src_id,
					      m->u.keyinfo.iv_ctr, cc->version,
					      dk.master, cc->groupmaster) != 0 ||
		    crypto_uftp_group_keys(cc->hashtype, cc->keytype, cc->groupmaster,
					   cc->rand1, &cc->group) != 0)
			continue;
		cc->have_group = true;
	}
}

/* ENCRYPTED with RSA/ECDSA signatures: checked with the sender's key. */
static const char *on_encrypted(struct capcrypt *cc, const struct uftp_msg *m,
				const uint8_t *dgram, size_t len)
{
	const struct uftp_encrypted *e = &m->u.encrypted;
	const struct crypto_key *signer = NULL;
	if (!cc->have_announce || cc->sigtype != UFTP_SIG_KEYEX)
		return NULL;
	if (m->hdr.src_id == cc->server_id) {
		signer = cc->server_pub;
	} else {
		struct client *c = client(cc, m->hdr.src_id, false);
		signer = c ? c->pub : NULL;
	}
	if (!signer)
		return NULL;
	return crypto_uftp_check_sig(NULL, cc->hashtype, UFTP_SIG_KEYEX, signer,
				     dgram, len, ENC_SIG_OFF, e->sig.p, e->sig.len)
		? "sig_ok" : "sig_bad";
}

const char *capcrypt_observe(struct capcrypt *cc, const struct uftp_msg *m,
			     const uint8_t *dgram, size_t len)
{
	switch (m->hdr.func) {
	case UFTP_ANNOUNCE:   return on_announce(cc, m, dgram, len);
	case UFTP_REGISTER:   on_register(cc, m); return NULL;
	case UFTP_CLIENT_KEY: return on_client_key(cc, m);
	case UFTP_KEYINFO:    on_keyinfo(cc, m); return NULL;
	case UFTP_ENCRYPTED:  return on_encrypted(cc, m, dgram, len);
	default:              return NULL;
	}
}

long capcrypt_decrypt(struct capcrypt *cc, const struct uftp_msg *m,
		      const uint8_t *dgram, size_t len, uint8_t *out, size_t cap)
{
	const struct uftp_encrypted *e = &m->u.encrypted;
	if (!cc->have_group)
		return -1;
	const struct crypto_key *signer = NULL;
	if (cc->sigtype == UFTP_SIG_KEYEX) {
		struct client *c = client(cc, m->hdr.src_id, false);
		signer = m->hdr.src_id == cc->server_id ? cc->server_pub
							 : c ? c->pub : NULL;
	}
	return crypto_uftp_open(&cc->group, cc->keytype, cc->hashtype, cc->sigtype,
				signer, dgram, len, e->sig.p, e->sig.len,
				e->payload.p, e->payload.len, out, cap);
}

const char *capcrypt_keyinfo_ack(struct capcrypt *cc, uint32_t src_id,
				 const uint8_t *verify)
{
	uint8_t hs[1024], want[CRYPTO_VERIFY_LEN];
	struct client *c = client(cc, src_id, false);
	if (!c || !c->plen || !cc->have_group)
		return NULL;
	long n = crypto_uftp_handshake(hs, sizeof(hs), cc->group_id, cc->priv_addr,
				       cc->addrlen, cc->rand1, c->rand2, c->premaster,
				       c->plen, c->blob, c->bloblen, cc->groupmaster);
	if (n < 0 || crypto_uftp_verify_data(cc->hashtype, cc->groupmaster, hs,
					     (size_t)n, want) != 0)
		return "verify_bad";
	return memcmp(want, verify, sizeof(want)) ? "verify_bad" : "verify_ok";
}
