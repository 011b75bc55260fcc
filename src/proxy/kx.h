/* kx.h — a client or response proxy's part of UFTP's key exchange
 * (protocol.txt 4, as uftpproxyd 4.10.2 does it), as steps that block
 * (public-key work) and so belong on the helper pool: kxsession.c runs
 * them there; tests/proxy/test_kx.c runs them against a simulated server
 * and client. */
#ifndef FERRY_PROXY_KX_H
#define FERRY_PROXY_KX_H

#include "internal.h"

/* One side of a session key: the proxy toward the server, or a client
 * toward the proxy. */
struct kx_peer {
	uint32_t uid;
	uint8_t rand2[CRYPTO_RAND_LEN];
	uint8_t premaster[CRYPTO_MASTER_LEN];
	size_t plen;
	struct crypto_keyset keys;
	struct crypto_key *pub;           /* a client's CLIENT_KEY, or NULL */
};

struct kx_group {
	uint32_t group_id, server_id;
	uint8_t version, keyextype, sigtype, keytype, hashtype;
	bool client_auth;
	uint8_t rand1[CRYPTO_RAND_LEN], priv_addr[16];
	size_t addrlen;
	struct crypto_key *server_key, *server_dh;   /* from the ANNOUNCE */
	struct crypto_key *key;           /* ours, matching the server's (borrowed) */
	struct crypto_key *dh;            /* ours for this session (ECDH modes) */
	bool dh_shared;                   /* dh is a response proxy's -e key */
	struct kx_peer self;              /* the proxy toward the server */
	uint8_t groupmaster[CRYPTO_MASTER_LEN];
	struct crypto_keyset group;
	bool have_group;
};

/* The server's ANNOUNCE: checks it (keycheck.c, then the server's
 * signature), picks our key, makes our ECDH key and premaster, and writes
 * the ANNOUNCE for our clients into out, with our keys and signature.
 * A response proxy (out NULL) writes nothing and uses its -e ECDH key,
 * the one its PROXY_KEY gave the clients. NULL, or the reason for the
 * ABORT. */
const char *proxy_kx_announce(struct kx_group *g, const struct inst_shared *sh,
			      struct crypto_rng *rng, const uint8_t *dgram,
			      size_t len, uint8_t *out, size_t cap, size_t *outlen);
/* A repeated ANNOUNCE (the same session): the server's signature checked
 * again and the ANNOUNCE re-keyed for our clients with the keys chosen by
 * proxy_kx_announce. NULL, or the reason. */
const char *proxy_kx_reannounce(struct kx_group *g, struct crypto_rng *rng,
				const uint8_t *dgram, size_t len, uint8_t *out,
				size_t cap, size_t *outlen);
/* Our REGISTER's key info: the premaster under the server's RSA key, or
 * our ECDH key blob. Its length or -1. */
long proxy_kx_register_key(struct kx_group *g, struct crypto_rng *rng,
			   uint8_t *out, size_t cap);
/* A client's REGISTER: its premaster (RSA decryption or ECDH) and keys. */
const char *proxy_kx_client_register(struct kx_group *g, struct crypto_rng *rng,
				     struct kx_peer *c, uint32_t uid,
				     const struct uftp_register *r);
/* A client's CLIENT_KEY, after its REGISTER: the key must match its -C
 * fingerprint (when listed with one) and have signed the handshake. */
const char *proxy_kx_client_key(const struct kx_group *g, const struct inst_shared *sh,
				struct kx_peer *c, const struct uftp_client_key *ck);
/* Our CLIENT_KEY for the server (sent when it asks for client auth). */
long proxy_kx_own_client_key(const struct kx_group *g, struct crypto_rng *rng,
			     const struct uftp_hdr *hdr, uint8_t *out, size_t cap);
/* The server's KEYINFO: the group master from our entry, the group keys. */
const char *proxy_kx_server_keyinfo(struct kx_group *g, uint32_t our_uid,
				    const struct uftp_msg *m);
/* Our KEYINFO_ACK, sealed with the group keys under header hdr. */
long proxy_kx_keyinfo_ack(struct kx_group *g, struct crypto_rng *rng,
			  const struct uftp_hdr *hdr, uint64_t iv_ctr,
			  uint8_t *out, size_t cap);
/* KEYINFO for n clients: the group master under each one's keys. */
long proxy_kx_keyinfo(const struct kx_group *g, const struct uftp_hdr *hdr,
		      uint64_t iv_ctr, struct kx_peer *const *clients, size_t n,
		      uint8_t *out, size_t cap);
/* A client's KEYINFO_ACK verify data. */
bool proxy_kx_client_ack(const struct kx_group *g, const struct kx_peer *c,
			 const uint8_t verify[CRYPTO_VERIFY_LEN]);
void proxy_kx_free(struct kx_group *g);

#endif
