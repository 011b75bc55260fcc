/* clients_kx.c — the key exchange of ferry-perf clients' encrypted mode
 * (--keyex): the simulated clients do what `uftpd -R proxy` clients do
 * through a response proxy (KEY_REQ for the proxy's PROXY_KEY, REGISTER with
 * an ECDH key or an RSA-encrypted premaster, CLIENT_KEY with client
 * authentication, KEYINFO unwrapped and answered with KEYINFO_ACK), and the
 * simulated server does the server's side with the proxy (signed ANNOUNCE,
 * KEYINFO for the proxy, its KEYINFO_ACK checked, then REG_CONF).
 *
 * Public-key work a client would do is made before the measured interval
 * (each client's ECDH key or RSA-encrypted premaster, its signing key,
 * session keys and CLIENT_KEY signature), so the generator is not what the
 * run measures. Each client has keys of its own, as real clients do:
 * --key-pool N shares N among them, quicker to make, but a proxy then sees
 * each key again, which wolfCrypt's fixed-point cache makes faster or (past
 * its few entries) much slower than real clients would. */
#include <poll.h>
#include <string.h>
#include <time.h>

#include "ferry/crypto.h"
#include "clients.h"

/* One pool entry: a client's part of the key exchange with the proxy. */
struct pool_ent {
	struct crypto_key *dh, *sig;     /* ECDH key; client-auth key */
	uint8_t pm[CRYPTO_MASTER_LEN];   /* premaster */
	size_t plen;
	uint8_t ki[CRYPTO_SIG_MAX];      /* REGISTER's key info */
	size_t kilen;
	uint8_t blob[CRYPTO_BLOB_MAX];   /* sig's public key blob */
	size_t bloblen;
};

struct kx_cl {
	uint8_t rand2[CRYPTO_RAND_LEN];
	struct crypto_keyset ks;
	uint8_t *ck;                     /* CLIENT_KEY datagram, or NULL */
	size_t cklen;
	uint64_t ivctr;
};

struct cl_kx {
	struct crypto_rng *rng;
	struct crypto_key *srv_key, *srv_dh;        /* the server's */
	struct crypto_key *proxy_key, *proxy_dh;    /* from PROXY_KEY */
	uint8_t rand1[CRYPTO_RAND_LEN], gm[CRYPTO_MASTER_LEN];
	struct crypto_keyset group;
	struct pool_ent *pool;
	size_t npool;
	struct kx_cl *cl;
	/* the server's view of the proxy */
	bool proxy_keyed, proxy_acked;
	uint32_t proxy_uid;
	uint8_t proxy_rand2[CRYPTO_RAND_LEN], proxy_pm[CRYPTO_SIG_MAX];
	size_t proxy_plen;
	struct crypto_keyset proxy_ks;
	uint8_t proxy_blob[CRYPTO_BLOB_MAX];
	size_t proxy_bloblen;
	uint8_t keyinfo[1024];
	size_t keyinfo_len;
	uint64_t srv_ivctr;
	uint32_t *pending;               /* UIDs to confirm once the proxy acks */
	size_t npending, cappending;
	/* what the clients got */
	struct tally t;
	size_t keyinfo_msgs, bad_entries, acks_sent, ack_errors, proxy_errors;
	size_t key_req_sent, reg_confs_sent, client_keys_sent, keyinfo_resent;
	size_t registers_resent, proxy_rekeys;
	uint64_t next_resend_ns;
	double setup_s;
	char fail[160];
	/* what the ANNOUNCE's views point at */
	uint8_t ann_blob[CRYPTO_BLOB_MAX], ann_dh[CRYPTO_BLOB_MAX], ann_zeros[CRYPTO_SIG_MAX];
};

static bool ecdh(const struct ctx *c)
{
	return c->o.keyex != UFTP_KEYEX_RSA;
}

static void failf(struct cl_kx *k, const char *what)
{
	if (!k->fail[0])
		snprintf(k->fail, sizeof(k->fail), "%s", what);
}

static struct crypto_key *gen(struct cl_kx *k, const char *spec)
{
	char why[CRYPTO_ERR_LEN];
	struct crypto_key *key = crypto_key_generate(k->rng, spec, why);
	if (!key)
		fprintf(stderr, "ferry-perf clients: key %s: %s\n", spec, why);
	return key;
}

/* ---- the proxy's keys (KEY_REQ / PROXY_KEY) ----------------------------- */

static bool proxy_key_take(struct cl_kx *k, const uint8_t *buf, size_t len)
{
	struct fb_rcur rc;
	struct uftp_msg m;
	fb_rcur_init(&rc, buf, len);
	if (uftp_decode(&rc, &m) != UFTP_OK || m.hdr.func != UFTP_PROXY_KEY)
		return false;
	const struct uftp_proxy_key *p = &m.u.proxy_key;
	struct crypto_key *pub = crypto_key_from_blob(p->keyblob.p, p->keyblob.len);
	uint8_t nonce[4] = { (uint8_t)(p->nonce >> 24), (uint8_t)(p->nonce >> 16),
			     (uint8_t)(p->nonce >> 8), (uint8_t)p->nonce };
	if (!pub || !crypto_verify(pub, UFTP_HASH_SHA1, nonce, sizeof(nonce),
				   p->signed_nonce.p, p->signed_nonce.len)) {
		fprintf(stderr, "ferry-perf clients: PROXY_KEY: bad key or nonce signature\n");
		crypto_key_free(pub);
		return false;
	}
	k->proxy_key = pub;
	if (p->dhblob.len)
		k->proxy_dh = crypto_key_from_blob(p->dhblob.p, p->dhblob.len);
	return true;
}

/* As uftpd -R: KEY_REQ to the proxy until a PROXY_KEY arrives on the
 * public address (a proxy answers at most every 5 s). */
static int fetch_proxy_key(struct ctx *c, struct cl_kx *k)
{
	uint8_t buf[MAXDGRAM];
	struct uftp_msg m = { .hdr = { .version = UFTP_VERSION, .func = UFTP_KEY_REQ,
				       .src_id = c->o.uid_base } };
	long n = uftp_encode(buf, sizeof(buf), &m);
	uint64_t end = perf_now_ns() + secs_ns(c->o.timeout), next = 0;
	while (perf_now_ns() < end && !perf_stopping()) {
		if (perf_now_ns() >= next && n > 0) {
			sendto(c->fds[0], buf, (size_t)n, 0, (const struct sockaddr *)&c->o.proxy,
			       perf_addr_len(&c->o.proxy));
			k->key_req_sent++;
			next = perf_now_ns() + secs_ns(1);
		}
		struct pollfd pfd = { .fd = c->mcast_fd, .events = POLLIN };
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		ssize_t r;
		while ((r = recv(c->mcast_fd, buf + 2048, sizeof(buf) - 2048, 0)) > 0)
			if (!k->proxy_key && proxy_key_take(k, buf + 2048, (size_t)r))
				break;
		if (k->proxy_key)
			break;
	}
	if (!k->proxy_key) {
		fprintf(stderr, "ferry-perf clients: no PROXY_KEY from the proxy within %.0f s "
			"(is it a response proxy with a key, and --dest-port its port?)\n",
			c->o.timeout);
		return -1;
	}
	if (ecdh(c) && !k->proxy_dh) {
		fprintf(stderr, "ferry-perf clients: the proxy's PROXY_KEY has no ECDH key "
			"(-e or -r:curve) for --keyex %s\n",
			c->o.keyex == UFTP_KEYEX_ECDH_RSA ? "ecdh-rsa" : "ecdh-ecdsa");
		return -1;
	}
	return 0;
}

/* ---- before the measured interval ----------------------------------------- */

static int make_pool(struct ctx *c, struct cl_kx *k)
{
	char spec[64];
	bool ec_sig = c->o.keyex == UFTP_KEYEX_ECDH_ECDSA;
	k->npool = c->o.key_pool && c->o.key_pool < c->o.clients ? c->o.key_pool
								 : c->o.clients;
	if (!(k->pool = calloc(k->npool, sizeof(*k->pool))))
		return -1;
	for (size_t i = 0; i < k->npool; i++) {
		struct pool_ent *p = &k->pool[i];
		long n;
		if (ecdh(c)) {
			snprintf(spec, sizeof(spec), "ec:%s",
				 crypto_curve_name(crypto_key_curve(k->proxy_dh)));
			if (!(p->dh = gen(k, spec)) ||
			    crypto_ecdh(p->dh, k->rng, k->proxy_dh, p->pm) != 0)
				return -1;
			p->plen = CRYPTO_ECDH_LEN;
			n = crypto_key_blob(p->dh, p->ki, sizeof(p->ki));
		} else {
			p->pm[0] = UFTP_VERSION;
			if (crypto_random(k->rng, p->pm + 1, CRYPTO_MASTER_LEN - 1) != 0)
				return -1;
			p->plen = CRYPTO_MASTER_LEN;
			n = crypto_rsa_encrypt(k->proxy_key, k->rng, p->pm, p->plen, p->ki,
					       sizeof(p->ki));
		}
		if (n <= 0)
			return -1;
		p->kilen = (size_t)n;
		if (!c->o.client_auth)
			continue;
		snprintf(spec, sizeof(spec), ec_sig ? "ec:%s" : "rsa:1024", c->o.curve);
		if (!(p->sig = gen(k, spec)) ||
		    (n = crypto_key_blob(p->sig, p->blob, sizeof(p->blob))) <= 0)
			return -1;
		p->bloblen = (size_t)n;
	}
	return 0;
}

static long handshake(const struct ctx *c, const uint8_t *rand2, const uint8_t *pm,
		      size_t plen, const uint8_t *blob, size_t bloblen,
		      const uint8_t *master, uint8_t *out, size_t cap)
{
	const struct cl_kx *k = c->kx;
	return crypto_uftp_handshake(out, cap, c->o.group_id, &c->o.priv, 4, k->rand1,
				     rand2, pm, plen, blob, bloblen, master);
}

/* Client i's CLIENT_KEY: its key blob and its signature of the handshake. */
static int make_client_key(struct ctx *c, size_t i)
{
	struct cl_kx *k = c->kx;
	struct kx_cl *cl = &k->cl[i];
	struct pool_ent *p = &k->pool[i % k->npool];
	uint8_t hs[1024], sig[CRYPTO_SIG_MAX], buf[2048];
	long n = handshake(c, cl->rand2, p->pm, p->plen, NULL, 0, NULL, hs, sizeof(hs));
	long sl = n < 0 ? -1 : crypto_sign(p->sig, k->rng, c->o.hashtype, hs, (size_t)n,
					   sig, sizeof(sig));
	if (sl <= 0)
		return -1;
	struct uftp_msg m = { .hdr = { .version = UFTP_VERSION, .func = UFTP_CLIENT_KEY,
				       .src_id = uid_of(c, i), .group_id = c->o.group_id } };
	m.u.client_key.keyblob = (struct fb_bview){ p->blob, p->bloblen };
	m.u.client_key.verify = (struct fb_bview){ sig, (size_t)sl };
	n = uftp_encode(buf, sizeof(buf), &m);
	if (n <= 0 || !(cl->ck = malloc((size_t)n)))
		return -1;
	memcpy(cl->ck, buf, (size_t)n);
	cl->cklen = (size_t)n;
	return 0;
}

static int server_keys(struct ctx *c, struct cl_kx *k)
{
	char spec[64];
	const char *sk = c->o.server_key;
	if (!sk) {
		if (c->o.keyex == UFTP_KEYEX_ECDH_ECDSA)
			snprintf(spec, sizeof(spec), "ec:%s", c->o.curve);
		else
			snprintf(spec, sizeof(spec), "rsa:2048");
		sk = spec;
	}
	if (!(k->srv_key = gen(k, sk)))
		return -1;
	if (ecdh(c)) {
		snprintf(spec, sizeof(spec), "ec:%s", c->o.curve);
		if (!(k->srv_dh = gen(k, spec)))
			return -1;
	}
	/* rand1: the time, then 28 random bytes; the group master: version,
	 * then 47 random bytes. */
	uint32_t now = (uint32_t)time(NULL);
	k->rand1[0] = (uint8_t)(now >> 24);
	k->rand1[1] = (uint8_t)(now >> 16);
	k->rand1[2] = (uint8_t)(now >> 8);
	k->rand1[3] = (uint8_t)now;
	k->gm[0] = UFTP_VERSION;
	if (crypto_random(k->rng, k->rand1 + 4, CRYPTO_RAND_LEN - 4) != 0 ||
	    crypto_random(k->rng, k->gm + 1, CRYPTO_MASTER_LEN - 1) != 0 ||
	    crypto_uftp_group_keys(c->o.hashtype, c->o.keytype, k->gm, k->rand1,
				   &k->group) != 0)
		return -1;
	return 0;
}

int perf_cl_kx_setup(struct ctx *c)
{
	uint64_t t0 = perf_now_ns();
	size_t n = c->o.clients;
	struct cl_kx *k = calloc(1, sizeof(*k));
	if (!k)
		return -1;
	c->kx = k;
	if (!(k->rng = crypto_rng_new()) || server_keys(c, k) < 0)
		return -1;
	if (fetch_proxy_key(c, k) < 0)
		return -1;
	if (!(k->cl = calloc(n, sizeof(*k->cl))) || make_pool(c, k) < 0) {
		fprintf(stderr, "ferry-perf clients: cannot make the client key pool\n");
		return -1;
	}
	k->t.expected = n;
	k->t.count = calloc(n, sizeof(*k->t.count));
	k->t.recv_ns = calloc(n, sizeof(*k->t.recv_ns));
	if (!k->t.count || !k->t.recv_ns)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct kx_cl *cl = &k->cl[i];
		const struct pool_ent *p = &k->pool[i % k->npool];
		if (crypto_random(k->rng, cl->rand2, sizeof(cl->rand2)) != 0 ||
		    crypto_uftp_session_keys(c->o.hashtype, c->o.keytype, p->pm, p->plen,
					     k->rand1, cl->rand2, &cl->ks) != 0 ||
		    (c->o.client_auth && make_client_key(c, i) < 0)) {
			fprintf(stderr, "ferry-perf clients: key schedule failed for client %zu\n", i);
			return -1;
		}
	}
	/* Only the registration runs in an encrypted session. */
	for (int p = PH_FILEINFO; p < PH_COUNT; p++)
		c->t[p].expected = 0;
	k->setup_s = (double)(perf_now_ns() - t0) / 1e9;
	return 0;
}

void perf_cl_kx_free(struct ctx *c)
{
	struct cl_kx *k = c->kx;
	if (!k)
		return;
	for (size_t i = 0; k->pool && i < k->npool; i++) {
		crypto_key_free(k->pool[i].dh);
		crypto_key_free(k->pool[i].sig);
	}
	for (size_t i = 0; k->cl && i < c->o.clients; i++)
		free(k->cl[i].ck);
	free(k->pool);
	free(k->cl);
	free(k->pending);
	free(k->t.count);
	free(k->t.recv_ns);
	crypto_key_free(k->srv_key);
	crypto_key_free(k->srv_dh);
	crypto_key_free(k->proxy_key);
	crypto_key_free(k->proxy_dh);
	crypto_rng_free(k->rng);
	crypto_thread_done();
	explicit_bzero(k, sizeof(*k));
	free(k);
	c->kx = NULL;
}

/* ---- the server ------------------------------------------------------------- */

void perf_cl_kx_enc_info(struct ctx *c, struct uftp_announce *a)
{
	struct cl_kx *k = c->kx;
	long bl = crypto_key_blob(k->srv_key, k->ann_blob, sizeof(k->ann_blob));
	long dl = k->srv_dh ? crypto_key_blob(k->srv_dh, k->ann_dh, sizeof(k->ann_dh)) : 0;
	size_t siglen = k->srv_dh ? crypto_sig_len(k->srv_key) : 0;
	a->ext.present |= 1u << UFTP_EXT_ENC_INFO;
	a->ext.enc_info = (struct uftp_enc_info){
		.flags = c->o.client_auth ? UFTP_F_CLIENT_AUTH : 0,
		.keyextype = (uint8_t)c->o.keyex, .sigtype = (uint8_t)c->o.sigtype,
		.keytype = (uint8_t)c->o.keytype, .hashtype = (uint8_t)c->o.hashtype,
		.rand1 = { k->rand1, CRYPTO_RAND_LEN },
		.keyblob = { k->ann_blob, bl > 0 ? (size_t)bl : 0 },
		.dhblob = { k->ann_dh, dl > 0 ? (size_t)dl : 0 },
		.sig = { k->ann_zeros, siglen } };
}

/* ECDH modes: the server signs the whole ANNOUNCE (signature zeroed). */
void perf_cl_kx_sign_announce(struct ctx *c, uint8_t *dgram, size_t len)
{
	struct cl_kx *k = c->kx;
	uint8_t sig[CRYPTO_SIG_MAX];
	struct fb_rcur rc;
	struct uftp_msg m;
	if (!k->srv_dh)
		return;
	fb_rcur_init(&rc, dgram, len);
	if (uftp_decode(&rc, &m) != UFTP_OK)
		return;
	const struct fb_bview *s = &m.u.announce.ext.enc_info.sig;
	size_t off = (size_t)(s->p - dgram);
	long n = crypto_sign(k->srv_key, k->rng, c->o.hashtype, dgram, len, sig, sizeof(sig));
	if (n == (long)s->len)
		memcpy(dgram + off, sig, (size_t)n);
	else
		failf(k, "cannot sign the ANNOUNCE");
}

static void pending_add(struct cl_kx *k, const struct uftp_uids *u)
{
	uint32_t uid;
	for (size_t i = 0; uftp_uid_next(u, &i, &uid);) {
		if (k->npending == k->cappending) {
			size_t cap = k->cappending ? k->cappending * 2 : 1024;
			uint32_t *v = realloc(k->pending, cap * sizeof(*v));
			if (!v)
				return;
			k->pending = v;
			k->cappending = cap;
		}
		k->pending[k->npending++] = uid;
	}
}

static void confirm_pending(struct ctx *c)
{
	struct cl_kx *k = c->kx;
	if (!k->proxy_acked || !k->npending)
		return;
	perf_cl_send_uids(c, UFTP_REG_CONF, k->pending, k->npending);
	k->reg_confs_sent += k->npending;
	k->npending = 0;
}

/* The proxy's REGISTER until it acks our KEYINFO: its premaster, keys and
 * KEYINFO entry, again whenever its key info changes (uftpproxyd starts
 * over with a new premaster when the ANNOUNCE comes again before it has
 * registered). */
static void proxy_register(struct ctx *c, const struct uftp_msg *m)
{
	struct cl_kx *k = c->kx;
	const struct uftp_register *r = &m->u.reg;
	uint8_t pm[CRYPTO_SIG_MAX];
	long n = -1;
	if (r->rand2.len != CRYPTO_RAND_LEN) {
		failf(k, "proxy REGISTER without a client random");
		return;
	}
	if (ecdh(c)) {
		struct crypto_key *peer = crypto_key_from_blob(r->keyinfo.p, r->keyinfo.len);
		if (peer && crypto_ecdh(k->srv_dh, k->rng, peer, pm) == 0)
			n = CRYPTO_ECDH_LEN;
		crypto_key_free(peer);
	} else {
		n = crypto_rsa_decrypt(k->srv_key, k->rng, r->keyinfo.p, r->keyinfo.len,
				       pm, sizeof(pm));
		if (n != CRYPTO_MASTER_LEN)
			n = -1;
	}
	if (n > 0 && k->proxy_keyed && k->proxy_uid == m->hdr.src_id &&
	    !memcmp(k->proxy_rand2, r->rand2.p, CRYPTO_RAND_LEN) &&
	    (size_t)n == k->proxy_plen && !memcmp(pm, k->proxy_pm, (size_t)n))
		return;                        /* the same keys: nothing new */
	if (k->proxy_keyed)
		k->proxy_rekeys++;
	k->proxy_uid = m->hdr.src_id;
	memcpy(k->proxy_rand2, r->rand2.p, CRYPTO_RAND_LEN);
	if (n > 0)
		memcpy(k->proxy_pm, pm, (size_t)n);
	uint8_t w[UFTP_MASTER_LEN];
	if (n < 0 || crypto_uftp_session_keys(c->o.hashtype, c->o.keytype, k->proxy_pm,
					      (size_t)n, k->rand1, k->proxy_rand2,
					      &k->proxy_ks) != 0 ||
	    crypto_uftp_wrap_master(c->o.keytype, &k->proxy_ks, c->o.server_uid,
				    ++k->srv_ivctr, k->gm, w) != 0) {
		failf(k, "the proxy's key info does not work");
		k->proxy_errors++;
		return;
	}
	k->proxy_plen = (size_t)n;
	struct uftp_destkey dk = { k->proxy_uid, w };
	struct uftp_msg ki;
	memset(&ki, 0, sizeof(ki));
	ki.hdr.func = UFTP_KEYINFO;
	ki.u.keyinfo = (struct uftp_keyinfo){ .iv_ctr = k->srv_ivctr, .keys = &dk, .count = 1 };
	/* Encoded twice: once to send, once kept for a resend. */
	ki.hdr = (struct uftp_hdr){ .version = UFTP_VERSION, .func = UFTP_KEYINFO,
				    .src_id = c->o.server_uid, .group_id = c->o.group_id };
	n = uftp_encode(k->keyinfo, sizeof(k->keyinfo), &ki);
	k->keyinfo_len = n > 0 ? (size_t)n : 0;
	perf_cl_server_send(c, &ki, false, false);
	k->proxy_keyed = true;
}

/* The proxy's KEYINFO_ACK, sealed with the group keys. */
static void proxy_encrypted(struct ctx *c, const struct uftp_msg *outer,
			    const uint8_t *raw, size_t len)
{
	struct cl_kx *k = c->kx;
	uint8_t plain[MAXDGRAM], hs[1024], want[CRYPTO_VERIFY_LEN];
	const struct uftp_encrypted *e = &outer->u.encrypted;
	long n = crypto_uftp_open(&k->group, c->o.keytype, c->o.hashtype, c->o.sigtype,
				  NULL, raw, len, e->sig.p, e->sig.len, e->payload.p,
				  e->payload.len, plain, sizeof(plain));
	struct fb_rcur rc;
	struct uftp_msg in;
	fb_rcur_init(&rc, plain, n > 0 ? (size_t)n : 0);
	if (n <= 0 || uftp_decode_inner(&rc, &outer->hdr, &in) != UFTP_OK) {
		k->proxy_errors++;             /* under keys it has dropped, maybe */
		return;
	}
	if (in.hdr.func != UFTP_KEYINFO_ACK || !k->proxy_keyed)
		return;
	n = handshake(c, k->proxy_rand2, k->proxy_pm, k->proxy_plen,
		      c->o.client_auth ? k->proxy_blob : NULL,
		      c->o.client_auth ? k->proxy_bloblen : 0, k->gm, hs, sizeof(hs));
	if (n < 0 || crypto_uftp_verify_data(c->o.hashtype, k->gm, hs, (size_t)n, want) != 0 ||
	    in.u.keyinfo_ack.verify.len != CRYPTO_VERIFY_LEN ||
	    memcmp(want, in.u.keyinfo_ack.verify.p, CRYPTO_VERIFY_LEN) != 0) {
		k->proxy_errors++;
		return;
	}
	k->proxy_acked = true;
	confirm_pending(c);
}

bool perf_cl_kx_server_rx(struct ctx *c, const struct uftp_msg *m, const uint8_t *raw,
			  size_t len)
{
	struct cl_kx *k = c->kx;
	size_t i;
	switch (m->hdr.func) {
	case UFTP_REGISTER:
		if (client_of(c, m->hdr.src_id, &i))
			return false;          /* a client directly: not through a proxy */
		if (!k->proxy_acked)
			proxy_register(c, m);
		pending_add(k, &m->u.reg.uids);
		confirm_pending(c);
		return false;                  /* the tally counts its UIDs */
	case UFTP_CLIENT_KEY:
		if (m->u.client_key.keyblob.len <= sizeof(k->proxy_blob)) {
			memcpy(k->proxy_blob, m->u.client_key.keyblob.p,
			       m->u.client_key.keyblob.len);
			k->proxy_bloblen = m->u.client_key.keyblob.len;
		}
		return true;
	case UFTP_ENCRYPTED:
		proxy_encrypted(c, m, raw, len);
		return true;
	default:
		return false;
	}
}

/* With the server's repeated ANNOUNCE: KEYINFO again while the proxy has
 * not acked it, and, as uftpd does, a REGISTER (and CLIENT_KEY) again from
 * each client that has had no KEYINFO for --resend seconds. */
void perf_cl_kx_keepalive(struct ctx *c)
{
	struct cl_kx *k = c->kx;
	const struct tally *reg = &c->t[PH_REGISTER];
	uint64_t now = perf_now_ns(), wait = secs_ns(c->o.resend);
	if (k->proxy_keyed && !k->proxy_acked && k->keyinfo_len) {
		perf_cl_server_send_raw(c, k->keyinfo, k->keyinfo_len);
		k->keyinfo_resent++;
	}
	if (now < k->next_resend_ns)
		return;
	k->next_resend_ns = now + wait;
	for (size_t i = 0; i < c->o.clients; i++) {
		if (k->t.count[i] || !reg->sent_ns[i] || now - reg->sent_ns[i] < wait)
			continue;
		perf_cl_clients_resend_register(c, i, now);
		k->registers_resent++;
	}
}

/* The registration is all this session does: the server ends it. */
void perf_cl_kx_finish(struct ctx *c)
{
	static const char text[] = "ferry-perf: registration measured";
	struct uftp_msg m;
	memset(&m, 0, sizeof(m));
	m.hdr.func = UFTP_ABORT;
	m.u.abort.text = (struct fb_bview){ (const uint8_t *)text, sizeof(text) - 1 };
	perf_cl_server_send(c, &m, false, false);
}

/* ---- the clients ------------------------------------------------------------- */

void perf_cl_kx_register_fields(const struct ctx *c, size_t i, struct uftp_register *r)
{
	const struct cl_kx *k = c->kx;
	const struct pool_ent *p = &k->pool[i % k->npool];
	r->rand2 = (struct fb_bview){ k->cl[i].rand2, CRYPTO_RAND_LEN };
	r->keyinfo = (struct fb_bview){ p->ki, p->kilen };
}

void perf_cl_kx_after_register(struct ctx *c, int fd, size_t i)
{
	struct kx_cl *cl = &c->kx->cl[i];
	if (!cl->ck)
		return;
	if (sendto(fd, cl->ck, cl->cklen, 0, (const struct sockaddr *)&c->o.proxy,
		   perf_addr_len(&c->o.proxy)) == (ssize_t)cl->cklen)
		c->kx->client_keys_sent++;
}

static void send_ack(struct ctx *c, size_t i, uint32_t uid)
{
	struct cl_kx *k = c->kx;
	struct kx_cl *cl = &k->cl[i];
	const struct pool_ent *p = &k->pool[i % k->npool];
	uint8_t hs[1024], verify[CRYPTO_VERIFY_LEN], body[64], h[UFTP_HDR_LEN], out[512];
	long n = handshake(c, cl->rand2, p->pm, p->plen, c->o.client_auth ? p->blob : NULL,
			   c->o.client_auth ? p->bloblen : 0, k->gm, hs, sizeof(hs));
	if (n < 0 || crypto_uftp_verify_data(c->o.hashtype, k->gm, hs, (size_t)n, verify)) {
		k->ack_errors++;
		return;
	}
	struct uftp_msg m = { .hdr = { .version = UFTP_VERSION, .func = UFTP_KEYINFO_ACK,
				       .src_id = uid, .group_id = c->o.group_id } };
	m.u.keyinfo_ack.verify = (struct fb_bview){ verify, sizeof(verify) };
	n = uftp_encode_body(body, sizeof(body), &m);
	struct fb_wcur w;
	fb_wcur_init(&w, h, sizeof(h));
	uftp_hdr_encode(&w, &m.hdr);
	if (n > 0 && fb_wcur_ok(&w))
		n = crypto_uftp_seal(&k->group, c->o.keytype, c->o.hashtype, c->o.sigtype,
				     NULL, NULL, h, ++cl->ivctr, body, (size_t)n, out,
				     sizeof(out));
	int fd = c->fds[i % c->nfds];
	if (n > 0 && sendto(fd, out, (size_t)n, 0, (const struct sockaddr *)&c->o.proxy,
			    perf_addr_len(&c->o.proxy)) == n)
		k->acks_sent++;
	else
		k->ack_errors++;
}

static void client_keyinfo(struct ctx *c, const struct uftp_msg *m, uint64_t now)
{
	struct cl_kx *k = c->kx;
	struct uftp_destkey dk;
	uint8_t gm[CRYPTO_MASTER_LEN];
	size_t i;
	k->keyinfo_msgs++;
	for (size_t e = 0; uftp_keyinfo_at(&m->u.keyinfo, e, &dk); e++) {
		if (!client_of(c, dk.uid, &i))
			continue;              /* the proxy's own entry, or a stranger */
		if (crypto_uftp_unwrap_master(c->o.keytype, &k->cl[i].ks, m->hdr.src_id,
					      m->u.keyinfo.iv_ctr, m->hdr.version, dk.master,
					      gm) != 0 ||
		    memcmp(gm, k->gm, sizeof(gm)) != 0) {
			k->bad_entries++;
			continue;
		}
		if (k->t.count[i]++ == 0) {
			k->t.recv_ns[i] = now;
			k->t.last_new_ns = now;
			if (++k->t.distinct == k->t.expected)
				k->t.complete_ns = now;
		} else {
			k->t.dups++;           /* a resent KEYINFO: uftpd acks again */
		}
		send_ack(c, i, dk.uid);
	}
}

bool perf_cl_kx_client_rx(struct ctx *c, const struct uftp_msg *m, uint64_t now)
{
	if (m->hdr.func == UFTP_KEYINFO) {
		client_keyinfo(c, m, now);
		return true;
	}
	return m->hdr.func == UFTP_PROXY_KEY;
}

bool perf_cl_kx_done(const struct ctx *c)
{
	return c->kx->t.complete_ns != 0;
}

bool perf_cl_kx_ok(const struct ctx *c)
{
	const struct cl_kx *k = c->kx;
	return k->t.distinct == k->t.expected && !k->bad_entries && !k->ack_errors &&
	       k->proxy_acked && !k->fail[0];
}

/* ---- report ----------------------------------------------------------------- */

static void finish_tally(struct ctx *c)
{
	struct cl_kx *k = c->kx;
	const struct tally *reg = &c->t[PH_REGISTER];
	if (k->t.ran)
		return;
	k->t.ran = true;
	k->t.sent_ns = reg->sent_ns;           /* from each client's REGISTER */
	k->t.first_sent_ns = reg->first_sent_ns;
	perf_cl_tally_finish(c, &k->t, PH_REGISTER);
	k->t.sent_ns = NULL;
}

json_t *perf_cl_kx_json(struct ctx *c)
{
	struct cl_kx *k = c->kx;
	finish_tally(c);
	json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}",
		"expected", (json_int_t)k->t.expected, "keyed", (json_int_t)k->t.distinct,
		"missing", (json_int_t)(k->t.expected - k->t.distinct),
		"keyinfo_again", (json_int_t)k->t.dups,
		"bad_entries", (json_int_t)k->bad_entries,
		"keyinfo_messages", (json_int_t)k->keyinfo_msgs,
		"acks_sent", (json_int_t)k->acks_sent,
		"registration_ms", k->t.agg_ms);
	json_object_set_new(o, "delay_ms", json_pack("{s:f, s:f, s:f, s:f}",
		"p50", k->t.p50, "p90", k->t.p90, "p99", k->t.p99, "max", k->t.max));
	json_object_set_new(o, "proxy", json_pack("{s:b, s:b, s:I, s:I, s:I}",
		"keyed", k->proxy_keyed, "acked", k->proxy_acked,
		"reg_conf_uids", (json_int_t)k->reg_confs_sent,
		"errors", (json_int_t)k->proxy_errors,
		"keyinfo_resent", (json_int_t)k->keyinfo_resent));
	json_object_set_new(json_object_get(o, "proxy"), "rekeyed",
			    json_integer((json_int_t)k->proxy_rekeys));
	json_object_set_new(o, "registers_resent", json_integer((json_int_t)k->registers_resent));
	json_object_set_new(o, "client_keys_sent", json_integer((json_int_t)k->client_keys_sent));
	json_object_set_new(o, "key_req_sent", json_integer((json_int_t)k->key_req_sent));
	json_object_set_new(o, "key_pool", json_integer((json_int_t)k->npool));
	json_object_set_new(o, "setup_s", json_real(k->setup_s));
	/* The measured interval on the monotonic clock, for a probe beside it. */
	json_object_set_new(o, "first_register_ns", json_integer((json_int_t)k->t.first_sent_ns));
	json_object_set_new(o, "last_keyinfo_ns", json_integer((json_int_t)(
		k->t.complete_ns ? k->t.complete_ns : k->t.last_new_ns)));
	json_object_set_new(o, "ok", json_boolean(perf_cl_kx_ok(c)));
	json_object_set_new(o, "error", json_string(k->fail));
	return o;
}

void perf_cl_kx_summary(struct ctx *c)
{
	struct cl_kx *k = c->kx;
	finish_tally(c);
	printf("%-13s %8zu %8zu %6zu %7zu %7zu %6zu %9.1f %8.2f %8.2f %8.2f %8.2f\n",
	       "keyinfo", k->t.expected, k->t.distinct, k->t.dups,
	       k->t.expected - k->t.distinct, k->bad_entries, k->keyinfo_msgs,
	       k->t.agg_ms, k->t.p50, k->t.p90, k->t.p99, k->t.max);
	printf("encrypted: proxy keyed %s, acked %s; %zu KEYINFO_ACKs sent, %zu REGISTERs "
	       "resent; set-up %.2f s (%zu pooled keys)%s%s\n", k->proxy_keyed ? "yes" : "no",
	       k->proxy_acked ? "yes" : "no", k->acks_sent, k->registers_resent, k->setup_s,
	       k->npool,
	       k->fail[0] ? "; error: " : "", k->fail);
}
