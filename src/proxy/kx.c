/* kx.c — the client proxy's steps of UFTP's key exchange: the ANNOUNCE
 * re-keyed for its clients, the premasters both ways, the group master
 * from the server and on to the clients, verify data. Blocking: pool only. */
#include <stdio.h>
#include <string.h>

#include "kx.h"

static struct crypto_key *pick_key(const struct proxy_keys *pk,
				   const struct crypto_key *server)
{
	for (size_t i = 0; i < pk->n; i++) {
		struct crypto_key *k = pk->key[i];
		if (crypto_key_type(k) != crypto_key_type(server))
			continue;
		if (crypto_key_type(k) == UFTP_KEYBLOB_RSA
			    ? crypto_key_bits(k) == crypto_key_bits(server)
			    : crypto_key_curve(k) == crypto_key_curve(server))
			return k;
	}
	return NULL;
}

static bool ecdh_mode(const struct kx_group *g)
{
	return g->keyextype != UFTP_KEYEX_RSA;
}

/* The session parameters and the server's keys, its signature checked. */
static const char *take_server(struct kx_group *g, const struct inst_shared *sh,
			       const struct uftp_msg *m, const uint8_t *dgram,
			       size_t len)
{
	const struct uftp_announce *a = &m->u.announce;
	const struct uftp_enc_info *e = &a->ext.enc_info;
	const char *why = proxy_enc_check(sh, m->hdr.src_id, e);
	if (why)
		return why;
	if (a->priv_addr.len > sizeof(g->priv_addr) || e->rand1.len != CRYPTO_RAND_LEN)
		return "Invalid ANNOUNCE";
	g->group_id = m->hdr.group_id;
	g->server_id = m->hdr.src_id;
	g->version = m->hdr.version;
	g->keyextype = e->keyextype;
	g->sigtype = e->sigtype;
	g->keytype = e->keytype;
	g->hashtype = e->hashtype;
	g->client_auth = e->flags & UFTP_F_CLIENT_AUTH;
	memcpy(g->rand1, e->rand1.p, CRYPTO_RAND_LEN);
	memcpy(g->priv_addr, a->priv_addr.p, a->priv_addr.len);
	g->addrlen = a->priv_addr.len;
	if (!(g->server_key = crypto_key_from_blob(e->keyblob.p, e->keyblob.len)))
		return "Failed to load server public key";
	if (!(g->key = pick_key(&sh->keys, g->server_key)))
		return "No proxy key compatible with server key";
	if (!ecdh_mode(g))
		return NULL;
	if (!(g->server_dh = crypto_key_from_blob(e->dhblob.p, e->dhblob.len)) ||
	    crypto_key_type(g->server_dh) != UFTP_KEYBLOB_EC)
		return "Failed to load server public ECDH key";
	if (!crypto_uftp_check_sig(NULL, g->hashtype, UFTP_SIG_KEYEX, g->server_key,
				   dgram, len, (size_t)(e->sig.p - dgram), e->sig.p,
				   e->sig.len))
		return "Signature verification failed";
	return NULL;
}

/* Our side toward the server: rand2, and the premaster (version byte and
 * 47 random bytes for RSA; SHA-1 of the ECDH secret otherwise). */
static const char *make_self(struct kx_group *g, struct crypto_rng *rng,
			     struct crypto_key *shared_dh)
{
	char why[CRYPTO_ERR_LEN], spec[40];
	if (crypto_random(rng, g->self.rand2, CRYPTO_RAND_LEN) != 0)
		return "No random numbers";
	if (ecdh_mode(g) && shared_dh) {
		g->dh = shared_dh;
		g->dh_shared = true;
		if (crypto_ecdh(g->dh, rng, g->server_dh, g->self.premaster) != 0)
			return "Failed to calculate premaster secret";
		g->self.plen = CRYPTO_ECDH_LEN;
	} else if (ecdh_mode(g)) {
		snprintf(spec, sizeof(spec), "ec:%s",
			 crypto_curve_name(crypto_key_curve(g->server_dh)));
		if (!(g->dh = crypto_key_generate(rng, spec, why)) ||
		    crypto_ecdh(g->dh, rng, g->server_dh, g->self.premaster) != 0)
			return "Failed to generate proxy ECDH key";
		g->self.plen = CRYPTO_ECDH_LEN;
	} else {
		g->self.premaster[0] = g->version;
		if (crypto_random(rng, g->self.premaster + 1, CRYPTO_MASTER_LEN - 1) != 0)
			return "No random numbers";
		g->self.plen = CRYPTO_MASTER_LEN;
	}
	if (crypto_uftp_session_keys(g->hashtype, g->keytype, g->self.premaster,
				     g->self.plen, g->rand1, g->self.rand2,
				     &g->self.keys) != 0)
		return "Key derivation failed";
	return NULL;
}

/* The ANNOUNCE for our clients: our key (and ECDH key) instead of the
 * server's, signed with our key where the server's was signed. */
static const char *rekey(struct kx_group *g, struct crypto_rng *rng,
			 const struct uftp_msg *m, uint8_t *out, size_t cap,
			 size_t *outlen)
{
	static const uint8_t zeros[CRYPTO_SIG_MAX];
	uint8_t blob[CRYPTO_BLOB_MAX], dhblob[CRYPTO_BLOB_MAX], sig[CRYPTO_SIG_MAX];
	struct uftp_msg down = *m;
	struct uftp_enc_info *e = &down.u.announce.ext.enc_info;
	long bl = crypto_key_blob(g->key, blob, sizeof(blob));
	long dl = g->dh ? crypto_key_blob(g->dh, dhblob, sizeof(dhblob)) : 0;
	size_t siglen = ecdh_mode(g) ? crypto_sig_len(g->key) : 0;
	if (bl < 0 || dl < 0)
		return "Error exporting proxy public key";
	e->keyblob = (struct fb_bview){ blob, (size_t)bl };
	e->dhblob = (struct fb_bview){ dhblob, (size_t)dl };
	e->sig = (struct fb_bview){ zeros, siglen };
	long n = uftp_encode(out, cap, &down);
	if (n < 0)
		return "Error building ANNOUNCE";
	*outlen = (size_t)n;
	if (!siglen)
		return NULL;
	struct uftp_msg check;
	struct fb_rcur c;
	fb_rcur_init(&c, out, (size_t)n);
	if (uftp_decode(&c, &check) != UFTP_OK)
		return "Error building ANNOUNCE";
	size_t off = (size_t)(check.u.announce.ext.enc_info.sig.p - out);
	if (crypto_sign(g->key, rng, g->hashtype, out, (size_t)n, sig, sizeof(sig)) !=
	    (long)siglen)
		return "Signature creation failed";
	memcpy(out + off, sig, siglen);
	return NULL;
}

/* dgram decoded into m, when it is an ANNOUNCE that carries EXT_ENC_INFO. */
static bool decode_enc_announce(const uint8_t *dgram, size_t len, struct uftp_msg *m)
{
	struct fb_rcur c;
	fb_rcur_init(&c, dgram, len);
	return uftp_decode(&c, m) == UFTP_OK && m->hdr.func == UFTP_ANNOUNCE &&
	       UFTP_HAS_EXT(&m->u.announce.ext, UFTP_EXT_ENC_INFO);
}

const char *proxy_kx_announce(struct kx_group *g, const struct inst_shared *sh,
			      struct crypto_rng *rng, const uint8_t *dgram,
			      size_t len, uint8_t *out, size_t cap, size_t *outlen)
{
	struct uftp_msg m;
	if (!decode_enc_announce(dgram, len, &m))
		return "Invalid ANNOUNCE";
	const char *why = take_server(g, sh, &m, dgram, len);
	if (!why)
		why = make_self(g, rng, out ? NULL : sh->keys.dh);
	if (!why && out)
		why = rekey(g, rng, &m, out, cap, outlen);
	return why;
}

const char *proxy_kx_reannounce(struct kx_group *g, struct crypto_rng *rng,
				const uint8_t *dgram, size_t len, uint8_t *out,
				size_t cap, size_t *outlen)
{
	struct uftp_msg m;
	if (!decode_enc_announce(dgram, len, &m))
		return "Invalid ANNOUNCE";
	const struct uftp_enc_info *e = &m.u.announce.ext.enc_info;
	uint8_t blob[CRYPTO_BLOB_MAX];
	long bl = crypto_key_blob(g->server_key, blob, sizeof(blob));
	if (e->keyextype != g->keyextype || e->keytype != g->keytype ||
	    e->hashtype != g->hashtype || e->sigtype != g->sigtype ||
	    e->rand1.len != CRYPTO_RAND_LEN || memcmp(e->rand1.p, g->rand1, CRYPTO_RAND_LEN) ||
	    bl < 0 || e->keyblob.len != (size_t)bl || memcmp(e->keyblob.p, blob, (size_t)bl))
		return "ANNOUNCE changed its encryption parameters";
	if (ecdh_mode(g) &&
	    !crypto_uftp_check_sig(NULL, g->hashtype, UFTP_SIG_KEYEX, g->server_key,
				   dgram, len, (size_t)(e->sig.p - dgram), e->sig.p,
				   e->sig.len))
		return "Signature verification failed";
	return rekey(g, rng, &m, out, cap, outlen);
}

long proxy_kx_register_key(struct kx_group *g, struct crypto_rng *rng,
			   uint8_t *out, size_t cap)
{
	if (ecdh_mode(g))
		return crypto_key_blob(g->dh, out, cap);
	return crypto_rsa_encrypt(g->server_key, rng, g->self.premaster, g->self.plen,
				  out, cap);
}

const char *proxy_kx_client_register(struct kx_group *g, struct crypto_rng *rng,
				     struct kx_peer *c, uint32_t uid,
				     const struct uftp_register *r)
{
	uint8_t pm[CRYPTO_SIG_MAX];
	long n = -1;
	if (r->rand2.len != CRYPTO_RAND_LEN)
		return "Invalid REGISTER";
	c->uid = uid;
	memcpy(c->rand2, r->rand2.p, CRYPTO_RAND_LEN);
	if (!ecdh_mode(g)) {
		n = crypto_rsa_decrypt(g->key, rng, r->keyinfo.p, r->keyinfo.len, pm,
				       sizeof(pm));
		if (n != CRYPTO_MASTER_LEN)
			return "Failed to decrypt premaster secret";
	} else {
		struct crypto_key *peer = crypto_key_from_peer_blob(r->keyinfo.p,
								    r->keyinfo.len);
		bool ok = peer && crypto_key_curve(peer) == crypto_key_curve(g->dh) &&
			  crypto_ecdh(g->dh, rng, peer, pm) == 0;
		crypto_key_free(peer);
		if (!ok)
			return "Failed to calculate premaster secret";
		n = CRYPTO_ECDH_LEN;
	}
	memcpy(c->premaster, pm, (size_t)n);
	c->plen = (size_t)n;
	explicit_bzero(pm, sizeof(pm));
	return crypto_uftp_session_keys(g->hashtype, g->keytype, c->premaster, c->plen,
					g->rand1, c->rand2, &c->keys) == 0
		? NULL : "Key derivation failed";
}

static long handshake(const struct kx_group *g, const struct kx_peer *p,
		      uint8_t *out, size_t cap)
{
	return crypto_uftp_handshake(out, cap, g->group_id, g->priv_addr, g->addrlen,
				     g->rand1, p->rand2, p->premaster, p->plen, NULL, 0,
				     NULL);
}

const char *proxy_kx_client_key(const struct kx_group *g, const struct inst_shared *sh,
				struct kx_peer *c, const struct uftp_client_key *ck)
{
	uint8_t hs[512], fp[CRYPTO_FP_LEN];
	const struct peerlist *clients = proxy_client_list(sh);
	const struct peer *listed = proxy_peerlist_find(clients, c->uid);
	if (!c->plen)
		return "CLIENT_KEY before REGISTER";
	crypto_blob_fingerprint(ck->keyblob.p, ck->keyblob.len, fp);
	if (clients->n && (!listed || (listed->has_fp &&
					  memcmp(fp, listed->fp, sizeof(fp)))))
		return "Failed to verify client key fingerprint";
	struct crypto_key *k = crypto_key_from_peer_blob(ck->keyblob.p, ck->keyblob.len);
	long n = handshake(g, c, hs, sizeof(hs));
	if (!k || n < 0 || !crypto_verify(k, g->hashtype, hs, (size_t)n, ck->verify.p,
					  ck->verify.len)) {
		crypto_key_free(k);
		return "Verify data mismatch in CLIENT_KEY";
	}
	crypto_key_free(c->pub);
	c->pub = k;
	return NULL;
}

long proxy_kx_own_client_key(const struct kx_group *g, struct crypto_rng *rng,
			     const struct uftp_hdr *hdr, uint8_t *out, size_t cap)
{
	uint8_t hs[512], blob[CRYPTO_BLOB_MAX], sig[CRYPTO_SIG_MAX];
	long n = handshake(g, &g->self, hs, sizeof(hs));
	long bl = crypto_key_blob(g->key, blob, sizeof(blob));
	long sl = n < 0 ? -1 : crypto_sign(g->key, rng, g->hashtype, hs, (size_t)n, sig,
					   sizeof(sig));
	if (bl < 0 || sl < 0)
		return -1;
	struct uftp_msg m = { .hdr = *hdr };
	m.hdr.func = UFTP_CLIENT_KEY;
	m.u.client_key.keyblob = (struct fb_bview){ blob, (size_t)bl };
	m.u.client_key.verify = (struct fb_bview){ sig, (size_t)sl };
	return uftp_encode(out, cap, &m);
}

const char *proxy_kx_server_keyinfo(struct kx_group *g, uint32_t our_uid,
				    const struct uftp_msg *m)
{
	struct uftp_destkey dk;
	for (size_t i = 0; uftp_keyinfo_at(&m->u.keyinfo, i, &dk); i++) {
		if (dk.uid != our_uid)
			continue;
		if (crypto_uftp_unwrap_master(g->keytype, &g->self.keys, m->hdr.src_id,
					      m->u.keyinfo.iv_ctr, g->version, dk.master,
					      g->groupmaster) != 0 ||
		    crypto_uftp_group_keys(g->hashtype, g->keytype, g->groupmaster,
					   g->rand1, &g->group) != 0)
			return "Decrypt failed for group master";
		g->have_group = true;
		return NULL;
	}
	return "No entry for this proxy in KEYINFO";
}

/* verify_data for p (ourselves or a client), with its key blob when the
 * server asked for client authentication. */
static int verify_data(const struct kx_group *g, const struct kx_peer *p,
		       const struct crypto_key *blobkey, uint8_t out[CRYPTO_VERIFY_LEN])
{
	uint8_t hs[1024], blob[CRYPTO_BLOB_MAX];
	long bl = 0;
	if (g->client_auth && (!blobkey ||
			       (bl = crypto_key_blob(blobkey, blob, sizeof(blob))) < 0))
		return -1;
	long n = crypto_uftp_handshake(hs, sizeof(hs), g->group_id, g->priv_addr,
				       g->addrlen, g->rand1, p->rand2, p->premaster,
				       p->plen, blob, (size_t)bl, g->groupmaster);
	return n < 0 ? -1 : crypto_uftp_verify_data(g->hashtype, g->groupmaster, hs,
						    (size_t)n, out);
}

long proxy_kx_keyinfo_ack(struct kx_group *g, struct crypto_rng *rng,
			  const struct uftp_hdr *hdr, uint64_t iv_ctr,
			  uint8_t *out, size_t cap)
{
	uint8_t verify[CRYPTO_VERIFY_LEN], body[64], h[UFTP_HDR_LEN];
	if (!g->have_group || verify_data(g, &g->self, g->key, verify) != 0)
		return -1;
	struct uftp_msg m = { .hdr = *hdr };
	m.hdr.func = UFTP_KEYINFO_ACK;
	m.u.keyinfo_ack.verify = (struct fb_bview){ verify, sizeof(verify) };
	long n = uftp_encode_body(body, sizeof(body), &m);
	struct fb_wcur w;
	fb_wcur_init(&w, h, sizeof(h));
	uftp_hdr_encode(&w, &m.hdr);
	if (n < 0 || !fb_wcur_ok(&w))
		return -1;
	return crypto_uftp_seal(&g->group, g->keytype, g->hashtype, g->sigtype, g->key,
				rng, h, iv_ctr, body, (size_t)n, out, cap);
}

long proxy_kx_keyinfo(const struct kx_group *g, const struct uftp_hdr *hdr,
		      uint64_t iv_ctr, struct kx_peer *const *clients, size_t n,
		      uint8_t *out, size_t cap)
{
	enum { MAX_ENTRIES = 64 };
	uint8_t masters[MAX_ENTRIES][UFTP_MASTER_LEN];
	struct uftp_destkey keys[MAX_ENTRIES];
	if (!g->have_group || n > MAX_ENTRIES)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (crypto_uftp_wrap_master(g->keytype, &clients[i]->keys, hdr->src_id,
					    iv_ctr, g->groupmaster, masters[i]) != 0)
			return -1;
		keys[i] = (struct uftp_destkey){ clients[i]->uid, masters[i] };
	}
	struct uftp_msg m = { .hdr = *hdr };
	m.hdr.func = UFTP_KEYINFO;
	m.u.keyinfo = (struct uftp_keyinfo){ .iv_ctr = iv_ctr, .keys = keys, .count = n };
	return uftp_encode(out, cap, &m);
}

bool proxy_kx_client_ack(const struct kx_group *g, const struct kx_peer *c,
			 const uint8_t verify[CRYPTO_VERIFY_LEN])
{
	uint8_t want[CRYPTO_VERIFY_LEN], diff = 0;
	if (!g->have_group || verify_data(g, c, c->pub, want) != 0)
		return false;
	for (size_t i = 0; i < sizeof(want); i++)
		diff |= (uint8_t)(want[i] ^ verify[i]);
	return diff == 0;
}

void proxy_kx_free(struct kx_group *g)
{
	crypto_key_free(g->server_key);
	crypto_key_free(g->server_dh);
	if (!g->dh_shared)
		crypto_key_free(g->dh);
	explicit_bzero(g, sizeof(*g));
}
