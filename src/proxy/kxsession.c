/* kxsession.c — an encrypted session on a client or response proxy: kx.c's
 * public-key steps run on the helper pool and their results are applied
 * back on the group's worker; the server's KEYINFO and REG_CONF, the
 * clients' KEYINFO and KEYINFO_ACK, and the clients' encrypted answers
 * opened for the aggregator and sealed again under the proxy's ID, as
 * uftpproxyd does. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/base.h"
#include "internal.h"
#include "kx.h"

enum { DGRAM_MAX = 9216 + 512, KEYINFO_BATCH = 64 };

/* One client behind us, as far as the key exchange goes. */
struct kx_client {
	struct kx_peer peer;
	bool registered;        /* premaster and session keys known */
	bool keyed;             /* CLIENT_KEY checked (client authentication) */
	bool conf;              /* the server confirmed it (REG_CONF) */
	bool ready;             /* its KEYINFO_ACK checked */
	bool busy;              /* a pool job works on it */
	uint32_t ts_sec, ts_usec;       /* its REGISTER's timestamp */
	uint64_t agg_ms;                /* when that went to the aggregator */
	uint64_t kinfo_ms;              /* our last KEYINFO for its REGISTER+ */
	unsigned kinfo_again;           /* KEYINFOs for its REGISTER+ so far */
	uint8_t *ck;            /* a CLIENT_KEY that came before its REGISTER */
	size_t cklen;
};

struct kx_session {
	struct group *g;        /* NULL once the group ended under a job */
	struct inst_shared *sh;
	uint8_t inst;
	uint8_t rand1[CRYPTO_RAND_LEN];  /* the first ANNOUNCE's, read on the worker */
	unsigned jobs;          /* in flight on the pool */
	bool started, announcing;
	bool keyed;             /* the first ANNOUNCE's job is done: kg is ours
				 * to read, the pool only reads it from now */
	struct kx_group kg;
	uint64_t ivctr;         /* ours, for what we seal and KEYINFO */
	uint8_t regkey[CRYPTO_SIG_MAX];  /* our REGISTER's key info */
	size_t regkeylen;
	uint8_t *client_key;    /* our CLIENT_KEY (client authentication) */
	size_t client_key_len;
	struct uid_map clients; /* uid -> struct kx_client */
	struct fe_timer *ask_timer;  /* REGISTER again for unconfirmed clients */
	unsigned asks;               /* extra REGISTERs so far */
	uint64_t keyinfo_ms;         /* when the server's last KEYINFO came */
	struct fe_timer *resend_timer;  /* KEYINFO again for clients not ready */
	unsigned resends;
};

/* ---- pool jobs --------------------------------------------------------- */

/* The last four exist for KEYEX signatures (RSA/ECDSA on every ENCRYPTED
 * message): the server's re-signed with our key on the way down (client
 * proxy), a client's checked with its CLIENT_KEY, ours made on the way up. */
enum job_kind { JOB_ANNOUNCE, JOB_REANNOUNCE, JOB_REGISTER, JOB_CLIENT_KEY,
		JOB_RESIGN, JOB_OPEN, JOB_SEAL, JOB_KEYINFO_ACK };

struct job {
	struct kx_session *ks;
	enum job_kind kind;
	uint32_t uid;
	const char *why;        /* NULL: done */
	struct kx_peer peer;    /* JOB_REGISTER / JOB_CLIENT_KEY */
	uint8_t regkey[CRYPTO_SIG_MAX];  /* JOB_ANNOUNCE: our REGISTER's key info */
	size_t regkeylen;
	uint8_t *client_key;    /* JOB_ANNOUNCE: our CLIENT_KEY, or NULL */
	size_t client_key_len;
	const struct crypto_key *signer;  /* JOB_OPEN: the client's key */
	struct uftp_hdr hdr;    /* JOB_SEAL / JOB_KEYINFO_ACK: the header */
	uint64_t ivctr;         /* JOB_SEAL / JOB_KEYINFO_ACK */
	size_t count;           /* JOB_SEAL: clients in the message (log) */
	uint8_t out[DGRAM_MAX]; /* JOB_(RE)ANNOUNCE: the ANNOUNCE for clients;
				 * JOB_RESIGN / JOB_SEAL / JOB_KEYINFO_ACK: the
				 * datagram to send; JOB_OPEN: the plaintext */
	size_t outlen;
	size_t len;
	uint8_t in[];           /* the datagram the job works on */
};

static const char *job_announce(struct job *j, struct crypto_rng *rng)
{
	struct kx_session *ks = j->ks;
	bool client = ks->sh->pc->role == PROXY_CLIENT;
	const char *why = proxy_kx_announce(&ks->kg, ks->sh, rng, j->in, j->len,
					    client ? j->out : NULL, sizeof(j->out),
					    &j->outlen);
	if (why)
		return why;
	long n = proxy_kx_register_key(&ks->kg, rng, j->regkey, sizeof(j->regkey));
	if (n < 0)
		return "Error encrypting premaster secret";
	j->regkeylen = (size_t)n;
	if (!ks->kg.client_auth)
		return NULL;
	uint8_t buf[2048];
	struct uftp_hdr h = { .version = ks->kg.version, .func = UFTP_CLIENT_KEY,
			      .src_id = ks->sh->uid, .group_id = ks->kg.group_id,
			      .group_inst = ks->inst };
	n = proxy_kx_own_client_key(&ks->kg, rng, &h, buf, sizeof(buf));
	if (n < 0 || !(j->client_key = malloc((size_t)n)))
		return "Error signing verify data";
	memcpy(j->client_key, buf, (size_t)n);
	j->client_key_len = (size_t)n;
	return NULL;
}

static const char *job_register(struct job *j, struct crypto_rng *rng)
{
	struct uftp_msg m;
	struct fb_rcur c;
	fb_rcur_init(&c, j->in, j->len);
	if (uftp_decode(&c, &m) != UFTP_OK || m.hdr.func != UFTP_REGISTER)
		return "Invalid REGISTER";
	return proxy_kx_client_register(&j->ks->kg, rng, &j->peer, j->uid, &m.u.reg);
}

static const char *job_client_key(struct job *j)
{
	struct uftp_msg m;
	struct fb_rcur c;
	fb_rcur_init(&c, j->in, j->len);
	if (uftp_decode(&c, &m) != UFTP_OK || m.hdr.func != UFTP_CLIENT_KEY)
		return "Invalid CLIENT_KEY";
	const uint8_t *blob = m.u.client_key.keyblob.p;
	bool rsa = j->ks->kg.keyextype != UFTP_KEYEX_ECDH_ECDSA;
	if (!m.u.client_key.keyblob.len ||
	    blob[0] != (rsa ? UFTP_KEYBLOB_RSA : UFTP_KEYBLOB_EC))
		return "Invalid keyblob type";
	return proxy_kx_client_key(&j->ks->kg, j->ks->sh, &j->peer, &m.u.client_key);
}

/* The KEYEX jobs: one public-key operation or two on a datagram. */
static const char *job_keyex(struct job *j, struct crypto_rng *rng)
{
	const struct kx_group *kg = &j->ks->kg;
	uint8_t h[UFTP_HDR_LEN];
	struct uftp_msg m;
	struct fb_rcur c;
	struct fb_wcur w;
	long n = -1;
	switch (j->kind) {
	case JOB_RESIGN:
		n = crypto_uftp_resign(kg->server_key, kg->key, rng, kg->hashtype, j->in,
				       j->len, j->out, sizeof(j->out));
		break;
	case JOB_OPEN:
		fb_rcur_init(&c, j->in, j->len);
		if (uftp_decode(&c, &m) == UFTP_OK && m.hdr.func == UFTP_ENCRYPTED)
			n = crypto_uftp_open(&kg->group, kg->keytype, kg->hashtype,
					     kg->sigtype, j->signer, j->in, j->len,
					     m.u.encrypted.sig.p, m.u.encrypted.sig.len,
					     m.u.encrypted.payload.p,
					     m.u.encrypted.payload.len, j->out,
					     sizeof(j->out));
		break;
	case JOB_SEAL:
		fb_wcur_init(&w, h, sizeof(h));
		uftp_hdr_encode(&w, &j->hdr);
		n = crypto_uftp_seal(&kg->group, kg->keytype, kg->hashtype, kg->sigtype,
				     kg->key, rng, h, j->ivctr, j->in, j->len, j->out,
				     sizeof(j->out));
		break;
	case JOB_KEYINFO_ACK:
		n = proxy_kx_keyinfo_ack(&j->ks->kg, rng, &j->hdr, j->ivctr, j->out,
					 sizeof(j->out));
		break;
	default:
		assert(!"not a KEYEX job");
	}
	j->outlen = n > 0 ? (size_t)n : 0;
	if (n > 0)
		return NULL;
	return j->kind == JOB_RESIGN || j->kind == JOB_OPEN
		? "Signature verification failed" : "Signature creation failed";
}

/* Helper thread. */
static void job_run(void *arg)
{
	struct job *j = arg;
	struct crypto_rng *rng = crypto_thread_rng();
	if (!rng) {
		j->why = "No random numbers";
		return;
	}
	switch (j->kind) {
	case JOB_ANNOUNCE:
		j->why = job_announce(j, rng);
		break;
	case JOB_REANNOUNCE:
		j->why = proxy_kx_reannounce(&j->ks->kg, rng, j->in, j->len, j->out,
					     sizeof(j->out), &j->outlen);
		break;
	case JOB_REGISTER:
		j->why = job_register(j, rng);
		break;
	case JOB_CLIENT_KEY:
		j->why = job_client_key(j);
		break;
	default:
		j->why = job_keyex(j, rng);
		break;
	}
}

static void job_done(struct fe_worker *w, void *arg);

static struct job *job_new(struct kx_session *ks, enum job_kind kind, uint32_t uid,
			   const uint8_t *data, size_t len)
{
	struct job *j = calloc(1, sizeof(*j) + len);
	if (!j)
		return NULL;
	j->ks = ks;
	j->kind = kind;
	j->uid = uid;
	j->len = len;
	if (len)
		memcpy(j->in, data, len);
	return j;
}

/* Hands j to the pool (and frees it when the pool is full). */
static bool job_submit(struct kx_session *ks, struct job *j)
{
	if (fe_pool_submit(ks->g->in->pw->w, job_run, job_done, j) < 0) {
		free(j);
		proxy_drop(ks->g->in, PROXY_DROP_RESOURCES);
		return false;
	}
	ks->jobs++;
	return true;
}

static bool submit(struct kx_session *ks, enum job_kind kind, uint32_t uid,
		   const struct kx_peer *peer, const uint8_t *data, size_t len)
{
	struct job *j = job_new(ks, kind, uid, data, len);
	if (!j) {
		proxy_drop(ks->g->in, PROXY_DROP_RESOURCES);
		return false;
	}
	if (peer)
		j->peer = *peer;
	return job_submit(ks, j);
}

/* ---- the session's end ------------------------------------------------- */

static void session_free(struct kx_session *ks)
{
	for (size_t i = 0; i < ks->clients.cap; i++) {
		struct kx_client *c = ks->clients.slots[i].val;
		if (!ks->clients.slots[i].key || !c)
			continue;
		crypto_key_free(c->peer.pub);
		free(c->ck);
		explicit_bzero(c, sizeof(*c));
		free(c);
	}
	proxy_uid_map_free(&ks->clients);
	free(ks->client_key);
	proxy_kx_free(&ks->kg);
	explicit_bzero(ks, sizeof(*ks));
	free(ks);
}

void proxy_kxs_end(struct group *g)
{
	struct kx_session *ks = g->kx;
	g->kx = NULL;
	if (!ks)
		return;
	ks->g = NULL;
	fe_timer_cancel(g->in->pw->w, ks->ask_timer);
	fe_timer_cancel(g->in->pw->w, ks->resend_timer);
	ks->ask_timer = ks->resend_timer = NULL;
	if (!ks->jobs)
		session_free(ks);
}

/* An ABORT for our clients in the server's name: uftpd takes messages of
 * a session only from the ID its ANNOUNCE came from (it drops uftpproxyd's
 * ABORTs, sent under the proxy's own ID, as "Source ID mismatch"). */
static void abort_down(struct group *g, uint32_t host, const char *why)
{
	uint8_t buf[512];
	struct uftp_msg m = { .hdr = { .version = UFTP_VERSION, .func = UFTP_ABORT,
				       .src_id = g->server_id, .group_id = g->group_id,
				       .group_inst = g->inst, .grtt = g->grtt_q,
				       .gsize = g->gsize_q } };
	m.u.abort = (struct uftp_abort){
		.host = host,
		.text = { (const uint8_t *)why, strnlen(why, UFTP_ABORT_TEXT_LEN - 1) } };
	long n = uftp_encode(buf, sizeof(buf), &m);
	if (n > 0)
		proxy_send_to(g->in, &g->priv, buf, (size_t)n);
}

/* A reason to end the session: logged, told to the server and the clients. */
static void fail(struct group *g, const char *why)
{
	g->in->kx_up[PROXY_KX_FAILED]++;
	glog(LOG_LVL_WARN, g->group_id, g->inst, 0, "Aborting session: %s", why);
	proxy_send_abort_up(g, 0, why);
	abort_down(g, 0, why);
	proxy_group_destroy(g);
}

/* A reason to drop one client: logged, told to that client. */
static void reject(struct group *g, uint32_t uid, const char *what, const char *why)
{
	g->in->kx_clients[PROXY_KX_FAILED]++;
	glog(LOG_LVL_INFO, g->group_id, g->inst, 0, "Rejecting %s from %08X: %s",
	     what, uid, why);
	abort_down(g, uid, why);
}

/* ---- clients ------------------------------------------------------------ */

static struct kx_client *kx_client(struct kx_session *ks, uint32_t uid, bool add)
{
	struct kx_client *c = proxy_uid_map_get(&ks->clients, uid);
	if (c || !add)
		return c;
	if (!(c = calloc(1, sizeof(*c))))
		return NULL;
	if (proxy_uid_map_put(&ks->clients, uid, c) < 0) {
		free(c);
		return NULL;
	}
	c->peer.uid = uid;
	return c;
}

/* A registered (and, with client authentication, keyed) client joins the
 * REGISTER the proxy sends for its clients. again: the proxy asks for it
 * on its own (no REG_CONF came): its timestamp moves on by the time since
 * it was first handed over, so the server measures no stale round trip. */
static void client_registered(struct group *g, struct kx_client *kc, bool again)
{
	struct client *c = proxy_group_client(g, kc->peer.uid, true);
	if (!c) {
		proxy_drop(g->in, PROXY_DROP_RESOURCES);
		return;
	}
	uint64_t now = fe_now_ms(g->in->pw->w);
	if (!again)
		kc->agg_ms = now;
	uint64_t us = (uint64_t)kc->ts_sec * 1000000 + kc->ts_usec +
		      (now - kc->agg_ms) * 1000;
	struct uftp_msg m = { .hdr = { .func = UFTP_REGISTER } };
	m.u.reg.ts_sec = (uint32_t)(us / 1000000);
	m.u.reg.ts_usec = (uint32_t)(us % 1000000);
	proxy_aggregate_add(g, c, &m);
}

static void check_client_key(struct kx_session *ks, struct kx_client *kc)
{
	if (!kc->ck || kc->busy || !kc->registered)
		return;
	kc->busy = submit(ks, JOB_CLIENT_KEY, kc->peer.uid, &kc->peer, kc->ck, kc->cklen);
	free(kc->ck);
	kc->ck = NULL;
}

static void done_client(struct group *g, struct kx_session *ks, struct job *j)
{
	struct kx_client *kc = kx_client(ks, j->uid, false);
	if (!kc)
		return;
	kc->busy = false;
	const char *what = j->kind == JOB_REGISTER ? "REGISTER" : "CLIENT_KEY";
	if (j->why) {
		crypto_key_free(j->peer.pub);
		g->in->kx_clients[PROXY_KX_FAILED]++;
		glog(LOG_LVL_WARN, g->group_id, g->inst, 0, "Rejecting %s from %08X: %s",
		     what, j->uid, j->why);
		abort_down(g, j->uid, j->why);
		return;
	}
	if (j->kind == JOB_REGISTER) {
		kc->peer = j->peer;
		kc->registered = true;
		check_client_key(ks, kc);
	} else {
		crypto_key_free(kc->peer.pub);
		kc->peer.pub = j->peer.pub;
		kc->keyed = true;
	}
	glog(LOG_LVL_INFO, g->group_id, g->inst, 0, "Received %s from %08X", what, j->uid);
	if (kc->registered && (!ks->kg.client_auth || kc->keyed))
		client_registered(g, kc, false);
}

static void done_announce(struct group *g, struct kx_session *ks, struct job *j)
{
	if (j->kind == JOB_ANNOUNCE) {
		ks->announcing = false;
		if (j->why) {
			fail(g, j->why);
			return;
		}
		memcpy(ks->regkey, j->regkey, j->regkeylen);
		ks->regkeylen = j->regkeylen;
		ks->client_key = j->client_key;
		ks->client_key_len = j->client_key_len;
		j->client_key = NULL;
		ks->keyed = true;
		char fp[CRYPTO_FP_STR];
		uint8_t raw[CRYPTO_FP_LEN];
		crypto_key_fingerprint(ks->kg.key, raw);
		crypto_fingerprint_str(raw, fp);
		glog(LOG_LVL_INFO, g->group_id, g->inst, 0,
		     "Encrypted session: using our key %s", fp);
	} else {
		ks->announcing = false;
		if (j->why) {
			fail(g, j->why);
			return;
		}
	}
	if (g->in->sh->pc->role == PROXY_CLIENT)
		proxy_send_to(g->in, &g->pub, j->out, j->outlen);
}

static void client_opened(struct group *g, uint32_t uid, const struct uftp_hdr *outer,
			  const uint8_t *plain, long n, const char *why);

static void done_keyex(struct group *g, struct job *j)
{
	struct uftp_hdr outer;
	switch (j->kind) {
	case JOB_RESIGN:
		if (!j->why) {
			proxy_send_to(g->in, &g->priv, j->out, j->outlen);
			break;
		}
		glog(LOG_LVL_INFO, g->group_id, g->inst, 0,
		     "Dropping ENCRYPTED from the server: %s", j->why);
		proxy_drop(g->in, PROXY_DROP_AUTH);
		break;
	case JOB_OPEN:
		uftp_peek(j->in, j->len, &outer);
		client_opened(g, j->uid, &outer, j->out, j->why ? -1 : (long)j->outlen,
			      "Decrypt/validate failed");
		break;
	default:
		if (j->why) {
			glog(LOG_LVL_ERR, g->group_id, g->inst, 0, "cannot seal %s: %s",
			     uftp_func_name(j->hdr.func), j->why);
		} else if (proxy_send_to(g->in, &g->up, j->out, j->outlen) != 0) {
			break;
		} else if (j->kind == JOB_KEYINFO_ACK) {
			glog(LOG_LVL_INFO, g->group_id, g->inst, 0, "KEYINFO_ACK sent");
		} else {
			glog(LOG_LVL_INFO, g->group_id, g->inst, 0,
			     "Sent %s for %zu client%s", uftp_func_name(j->hdr.func),
			     j->count, j->count == 1 ? "" : "s");
		}
		break;
	}
}

static void job_done(struct fe_worker *w, void *arg)
{
	struct job *j = arg;
	struct kx_session *ks = j->ks;
	(void)w;
	ks->jobs--;
	struct group *g = ks->g;
	if (!g) {
		if (j->kind == JOB_REGISTER || j->kind == JOB_CLIENT_KEY)
			crypto_key_free(j->peer.pub);
		if (!ks->jobs)
			session_free(ks);
	} else if (j->kind == JOB_ANNOUNCE || j->kind == JOB_REANNOUNCE) {
		done_announce(g, ks, j);
	} else if (j->kind == JOB_REGISTER || j->kind == JOB_CLIENT_KEY) {
		done_client(g, ks, j);
	} else {
		done_keyex(g, j);
	}
	free(j->client_key);
	explicit_bzero(&j->peer, sizeof(j->peer));
	free(j);
}

/* ---- start --------------------------------------------------------------- */

int proxy_kxs_start(struct group *g, const struct pmsg *m)
{
	const struct fb_bview *r = &m->msg.u.announce.ext.enc_info.rand1;
	struct kx_session *ks = calloc(1, sizeof(*ks));
	if (!ks)
		return -1;
	if (r->len == CRYPTO_RAND_LEN)
		memcpy(ks->rand1, r->p, CRYPTO_RAND_LEN);
	ks->g = g;
	ks->sh = g->in->sh;
	ks->inst = g->inst;
	proxy_uid_map_init(&ks->clients);
	g->kx = ks;
	g->in->kx_started++;
	return 0;
}

bool proxy_kxs_new_session(const struct group *g, const struct pmsg *m)
{
	const struct uftp_exts *x = &m->msg.u.announce.ext;
	bool enc = UFTP_HAS_EXT(x, UFTP_EXT_ENC_INFO);
	if (!g->kx)
		return enc && g->in->sh->pc->role != PROXY_SERVER;
	const struct fb_bview *r = &x->enc_info.rand1;
	return !enc || r->len != CRYPTO_RAND_LEN ||
	       memcmp(r->p, g->kx->rand1, CRYPTO_RAND_LEN) != 0;
}

/* ---- from the server ------------------------------------------------------- */

static void seal_header(struct group *g, uint8_t func, uint8_t h[UFTP_HDR_LEN],
			struct uftp_hdr *out)
{
	*out = (struct uftp_hdr){ .version = g->kx->kg.version, .func = func,
				  .seq = g->seq_up++, .src_id = g->in->sh->uid,
				  .group_id = g->group_id, .group_inst = g->inst };
	struct fb_wcur w;
	fb_wcur_init(&w, h, UFTP_HDR_LEN);
	uftp_hdr_encode(&w, out);
}

/* A message of ours for the server signed with our key (KEYEX): on the
 * pool, which sends it. */
static void seal_keyex(struct group *g, enum job_kind kind, const struct uftp_hdr *hdr,
		       const uint8_t *body, size_t len, size_t count)
{
	struct kx_session *ks = g->kx;
	struct job *j = job_new(ks, kind, 0, body, len);
	if (!j) {
		proxy_drop(g->in, PROXY_DROP_RESOURCES);
		return;
	}
	j->hdr = *hdr;
	j->ivctr = ++ks->ivctr;
	j->count = count;
	job_submit(ks, j);
}

static void send_keyinfo_ack(struct group *g)
{
	struct kx_session *ks = g->kx;
	uint8_t buf[512], h[UFTP_HDR_LEN];
	struct uftp_hdr hdr;
	seal_header(g, UFTP_KEYINFO_ACK, h, &hdr);
	if (ks->kg.sigtype == UFTP_SIG_KEYEX) {
		seal_keyex(g, JOB_KEYINFO_ACK, &hdr, NULL, 0, 0);
		return;
	}
	long n = proxy_kx_keyinfo_ack(&ks->kg, NULL, &hdr, ++ks->ivctr, buf, sizeof(buf));
	if (n < 0) {
		fail(g, "Error encrypting KEYINFO_ACK");
		return;
	}
	if (proxy_send_to(g->in, &g->up, buf, (size_t)n) == 0)
		glog(LOG_LVL_INFO, g->group_id, g->inst, 0, "KEYINFO_ACK sent");
}

static size_t keyinfo_batch(const struct group *g)
{
	size_t n = g->blocksize / (4 + UFTP_MASTER_LEN);
	return n == 0 ? 1 : n > KEYINFO_BATCH ? KEYINFO_BATCH : n;
}

static void keyinfo_flush(struct group *g, struct kx_peer **list, size_t n)
{
	struct kx_session *ks = g->kx;
	uint8_t buf[DGRAM_MAX];
	if (!n)
		return;
	struct uftp_hdr hdr = { .version = ks->kg.version, .func = UFTP_KEYINFO,
				.src_id = g->server_id, .group_id = g->group_id,
				.group_inst = g->inst, .grtt = g->grtt_q,
				.gsize = g->gsize_q };
	long len = proxy_kx_keyinfo(&ks->kg, &hdr, ++ks->ivctr, list, n, buf, sizeof(buf));
	if (len < 0) {
		glog(LOG_LVL_ERR, g->group_id, g->inst, 0, "Error encrypting KEYINFO");
		return;
	}
	if (proxy_send_to(g->in, &g->priv, buf, (size_t)len) == 0)
		glog(LOG_LVL_INFO, g->group_id, g->inst, 0, "Sent KEYINFO for %zu client%s",
		     n, n == 1 ? "" : "s");
}

/* KEYINFO goes out in batches of clients that are confirmed and not yet
 * ready. */
struct kinfo_batch {
	struct kx_peer *list[KEYINFO_BATCH];
	size_t n, max, sent;
};

static void batch_add(struct group *g, struct kinfo_batch *b, struct kx_client *c)
{
	if (!c || !c->conf || !c->registered || c->ready)
		return;
	b->list[b->n++] = &c->peer;
	b->sent++;
	if (b->n == b->max) {
		keyinfo_flush(g, b->list, b->n);
		b->n = 0;
	}
}

static void resend_keyinfo(struct fe_worker *w, void *arg);

/* The recovery of lost key exchange messages (KEYINFO again to our
 * clients, REGISTER again for them) is the client proxy's: a response
 * proxy's clients hear the server themselves, and it keeps uftpproxyd's
 * behaviour until that is tested there. */
static bool recovers(const struct group *g)
{
	return g->in->sh->pc->role == PROXY_CLIENT;
}

/* KEYINFO to every confirmed client not yet ready (only, when only is
 * given: those the server just confirmed, found by UID: scanning every
 * client for each REG_CONF costs clients x list, and with thousands of
 * clients (and their REGISTERs resent, each confirmed again) that held the
 * worker for seconds). Sent again after 2 * GRTT to those that did not
 * answer (protocol.txt 3.2, as uftpproxyd), at most ROBUST times. */
static void send_keyinfo(struct group *g, const struct uftp_uids *only)
{
	struct kx_session *ks = g->kx;
	struct kinfo_batch b = { .max = keyinfo_batch(g) };
	uint32_t uid;
	if (!ks->kg.have_group)
		return;
	if (only)
		for (size_t i = 0; uftp_uid_next(only, &i, &uid);)
			batch_add(g, &b, kx_client(ks, uid, false));
	else
		for (size_t i = 0; i < ks->clients.cap; i++)
			if (ks->clients.slots[i].key)
				batch_add(g, &b, ks->clients.slots[i].val);
	keyinfo_flush(g, b.list, b.n);
	if (b.sent && recovers(g) && !ks->resend_timer && ks->resends < g->robust)
		ks->resend_timer = fe_timer_add(g->in->pw->w,
						(uint64_t)(2000.0 * g->grtt) + 1,
						resend_keyinfo, g);
}

static void resend_keyinfo(struct fe_worker *w, void *arg)
{
	struct group *g = arg;
	(void)w;
	g->kx->resend_timer = NULL;
	g->kx->resends++;
	send_keyinfo(g, NULL);
}

/* ---- asking again for a lost REG_CONF -------------------------------------- */

/* uftp sends REG_CONF once, right after its KEYINFO, and again only for
 * an extra REGISTER (protocol.txt 5.2.6); it waits one GRTT (its measured
 * one, which can be far below what its headers said) for late REGISTERs
 * before the files begin, and ignores REGISTERs after that. So a missing
 * REG_CONF is asked for soon, and every few milliseconds after. */
static uint64_t ask_delay_ms(const struct group *g)
{
	uint64_t ms = (uint64_t)(g->grtt * 1000.0 / 8);
	return ms < 2 ? 2 : ms > 20 ? 20 : ms;
}

static void ask_again(struct fe_worker *w, void *arg);

static void ask_arm(struct group *g)
{
	struct kx_session *ks = g->kx;
	ks->keyinfo_ms = fe_now_ms(g->in->pw->w);
	if (recovers(g) && !ks->ask_timer && ks->asks < g->robust)
		ks->ask_timer = fe_timer_add(g->in->pw->w, ask_delay_ms(g), ask_again, g);
}

/* A client in the REGISTERs sent for which no REG_CONF came. */
static bool unconfirmed(const struct kx_session *ks, const struct kx_client *c)
{
	return c->registered && !c->conf && (!ks->kg.client_auth || c->keyed);
}

/* ...and whose REG_CONF should have come with the server's KEYINFO: its
 * REGISTER went up before that KEYINFO came. A client handed over later,
 * or still waiting in the aggregate, is on its normal way: asking for it
 * would send its REGISTER early and again every few milliseconds until
 * its REG_CONF came back one round trip later, on the normal path. */
static bool overdue(struct group *g, const struct kx_session *ks,
		    const struct kx_client *c)
{
	if (!unconfirmed(ks, c) || c->agg_ms > ks->keyinfo_ms)
		return false;
	const struct client *gc = proxy_group_client(g, c->peer.uid, false);
	return gc && !proxy_aggregate_holds(g, gc, UFTP_REGISTER);
}

static void ask_again(struct fe_worker *w, void *arg)
{
	struct group *g = arg;
	struct kx_session *ks = g->kx;
	size_t n = 0;
	(void)w;
	ks->ask_timer = NULL;
	for (size_t i = 0; i < ks->clients.cap; i++) {
		struct kx_client *c = ks->clients.slots[i].val;
		if (ks->clients.slots[i].key && c && overdue(g, ks, c)) {
			client_registered(g, c, true);
			n++;
		}
	}
	if (!n)
		return;
	ks->asks++;
	glog(LOG_LVL_INFO, g->group_id, g->inst, 0,
	     "No REG_CONF for %zu client%s: REGISTER again", n, n == 1 ? "" : "s");
	proxy_aggregate_flush_func(g, UFTP_REGISTER);
	ask_arm(g);
}

static bool decode(const struct pmsg *m, struct uftp_msg *out)
{
	struct fb_rcur c;
	fb_rcur_init(&c, m->raw, m->len);
	return uftp_decode(&c, out) == UFTP_OK;
}

static void server_keyinfo(struct group *g, const struct pmsg *pm)
{
	struct kx_session *ks = g->kx;
	struct uftp_msg m;
	struct uftp_destkey dk;
	bool ours = false;
	if (!decode(pm, &m)) {
		fail(g, "Invalid KEYINFO from server: invalid message size");
		return;
	}
	for (size_t i = 0; !ours && uftp_keyinfo_at(&m.u.keyinfo, i, &dk); i++)
		ours = dk.uid == g->in->sh->uid;
	if (!ours)
		return;           /* for the server's other clients */
	glog(LOG_LVL_INFO, g->group_id, g->inst, 0, "Received KEYINFO");
	if (!ks->kg.have_group) {
		const char *why = proxy_kx_server_keyinfo(&ks->kg, g->in->sh->uid, &m);
		if (why) {
			fail(g, why);
			return;
		}
		g->in->kx_up[PROXY_KX_OK]++;
		send_keyinfo_ack(g);
		send_keyinfo(g, NULL);
	} else {
		send_keyinfo_ack(g);      /* ours was lost: the server asks again */
	}
	ask_arm(g);               /* its REG_CONF should be right behind */
}

static void server_reg_conf(struct group *g, const struct pmsg *pm)
{
	struct kx_session *ks = g->kx;
	struct uftp_msg m;
	uint32_t uid;
	if (!decode(pm, &m)) {
		proxy_drop(g->in, PROXY_DROP_MALFORMED);
		return;
	}
	glog(LOG_LVL_INFO, g->group_id, g->inst, 0, "Received REG_CONF");
	for (size_t i = 0; uftp_uid_next(&m.u.reg_conf.uids, &i, &uid);) {
		struct kx_client *c = kx_client(ks, uid, false);
		if (c)
			c->conf = true;
	}
	send_keyinfo(g, &m.u.reg_conf.uids);
}

static void server_announce(struct group *g, const struct pmsg *m)
{
	struct kx_session *ks = g->kx;
	if (ks->announcing)
		return;          /* the last one is still being re-keyed */
	if (ks->started && g->in->sh->pc->role != PROXY_CLIENT)
		return;          /* clients hear the server's ANNOUNCE directly */
	enum job_kind kind = ks->started ? JOB_REANNOUNCE : JOB_ANNOUNCE;
	if (submit(ks, kind, 0, NULL, m->raw, m->len)) {
		ks->started = true;
		ks->announcing = true;
	}
}

bool proxy_kxs_down(struct group *g, const struct pmsg *m)
{
	if (m->hdr.func != UFTP_ANNOUNCE && !g->kx->keyed) {
		proxy_drop(g->in, PROXY_DROP_UNEXPECTED);   /* nothing of ours is out yet */
		return true;
	}
	switch (m->hdr.func) {
	case UFTP_ANNOUNCE:
		server_announce(g, m);
		return true;
	case UFTP_KEYINFO:
		server_keyinfo(g, m);
		return true;
	case UFTP_REG_CONF:
		server_reg_conf(g, m);
		return true;
	case UFTP_ENCRYPTED:
		if (g->kx->kg.sigtype != UFTP_SIG_KEYEX || g->in->sh->pc->role != PROXY_CLIENT)
			return false;
		/* Our clients check the signature with the key our ANNOUNCE
		 * gave them: ours, as uftpproxyd re-signs. */
		submit(g->kx, JOB_RESIGN, 0, NULL, m->raw, m->len);
		return true;
	default:
		return false;    /* forwarded: the clients hold the group keys */
	}
}

/* ---- from the clients -------------------------------------------------------- */

/* A confirmed client REGISTERs again: our KEYINFO to it was lost, and the
 * server will not confirm it again once its files began. At most once a
 * GRTT and ROBUST times per client: REGISTER is not authenticated, and a
 * flood of forged ones with that client's ID must not make us send a
 * KEYINFO for each. */
static void keyinfo_again(struct group *g, struct kx_client *kc)
{
	uint64_t now = fe_now_ms(g->in->pw->w);
	uint64_t gap = (uint64_t)(g->grtt * 1000.0);
	if (kc->kinfo_again >= g->robust || (kc->kinfo_again && now - kc->kinfo_ms < gap))
		return;
	kc->kinfo_again++;
	kc->kinfo_ms = now;
	struct kx_peer *one = &kc->peer;
	keyinfo_flush(g, &one, 1);
}

static void client_register(struct group *g, const struct pmsg *pm)
{
	struct kx_session *ks = g->kx;
	uint32_t uid = pm->hdr.src_id;
	struct kx_client *kc = kx_client(ks, uid, true);
	if (!kc) {
		proxy_drop(g->in, PROXY_DROP_RESOURCES);
		return;
	}
	const struct uftp_register *r = &pm->msg.u.reg;
	if (r->rand2.len != CRYPTO_RAND_LEN || !r->keyinfo.len ||
	    r->keyinfo.len > CRYPTO_BLOB_MAX) {
		reject(g, uid, "REGISTER", "Invalid key information");
		return;
	}
	kc->ts_sec = pm->msg.u.reg.ts_sec;
	kc->ts_usec = pm->msg.u.reg.ts_usec;
	if (kc->registered) {
		glog(LOG_LVL_INFO, g->group_id, g->inst, 0, "Received REGISTER+ from %08X",
		     uid);
		if (!ks->kg.client_auth || kc->keyed)
			client_registered(g, kc, false);
		if (kc->conf && !kc->ready && ks->kg.have_group && recovers(g))
			keyinfo_again(g, kc);
		return;
	}
	if (!kc->busy)
		kc->busy = submit(ks, JOB_REGISTER, uid, &kc->peer, pm->raw, pm->len);
}

/* What is wrong with a CLIENT_KEY before any public-key work: its length
 * fields against the datagram, its key type, a signature longer than any
 * key of ours could make (uftpproxyd's checks, and the size bound). */
static const char *client_key_check(const struct kx_session *ks, const struct pmsg *pm)
{
	struct uftp_msg m;
	if (!decode(pm, &m))
		return "Invalid message size";
	const struct uftp_client_key *ck = &m.u.client_key;
	bool rsa = ks->kg.keyextype != UFTP_KEYEX_ECDH_ECDSA;
	if (!ck->keyblob.len || ck->keyblob.len > CRYPTO_BLOB_MAX ||
	    ck->keyblob.p[0] != (rsa ? UFTP_KEYBLOB_RSA : UFTP_KEYBLOB_EC))
		return "Invalid keyblob type";
	if (!ck->verify.len || ck->verify.len > CRYPTO_SIG_MAX)
		return "Invalid signature length";
	return NULL;
}

static void client_key(struct group *g, const struct pmsg *pm)
{
	struct kx_session *ks = g->kx;
	const char *why = client_key_check(ks, pm);
	if (why) {
		reject(g, pm->hdr.src_id, "CLIENT_KEY", why);
		return;
	}
	struct kx_client *kc = kx_client(ks, pm->hdr.src_id, true);
	if (!kc || kc->keyed) {
		if (!kc)
			proxy_drop(g->in, PROXY_DROP_RESOURCES);
		return;
	}
	uint8_t *copy = malloc(pm->len);
	if (!copy) {
		proxy_drop(g->in, PROXY_DROP_RESOURCES);
		return;
	}
	memcpy(copy, pm->raw, pm->len);
	free(kc->ck);
	kc->ck = copy;
	kc->cklen = pm->len;
	check_client_key(ks, kc);
}

static void client_keyinfo_ack(struct group *g, struct kx_client *kc,
			       const struct uftp_msg *m)
{
	const struct fb_bview *v = &m->u.keyinfo_ack.verify;
	if (v->len != CRYPTO_VERIFY_LEN || !kc || !kc->registered ||
	    !proxy_kx_client_ack(&g->kx->kg, &kc->peer, v->p)) {
		reject(g, m->hdr.src_id, "KEYINFO_ACK", "Verify data mismatch");
		return;
	}
	glog(LOG_LVL_INFO, g->group_id, g->inst, 0, "Received KEYINFO_ACK%s from %08X",
	     kc->ready ? "+" : "", m->hdr.src_id);
	if (!kc->ready)
		g->in->kx_clients[PROXY_KX_OK]++;
	kc->ready = true;
}

/* A client's ENCRYPTED answer, opened (n > 0: the plaintext's length)
 * or not (why), handled as if it had come in the clear. */
static void client_opened(struct group *g, uint32_t uid, const struct uftp_hdr *outer,
			  const uint8_t *plain, long n, const char *why)
{
	struct kx_session *ks = g->kx;
	struct uftp_msg inner;
	struct fb_rcur cur;
	fb_rcur_init(&cur, plain, n > 0 ? (size_t)n : 0);
	struct kx_client *kc = kx_client(ks, uid, false);
	struct client *c = proxy_group_client(g, uid, false);
	if (n <= 0 || uftp_decode_inner(&cur, outer, &inner) != UFTP_OK) {
		/* A forgery under a client's UID must not end that client's
		 * session: only a stranger hears the ABORT. */
		if (kc && kc->registered) {
			glog(LOG_LVL_INFO, g->group_id, g->inst, 0,
			     "Dropping message from %08X: %s", uid, why);
			proxy_drop(g->in, PROXY_DROP_AUTH);
		} else {
			reject(g, uid, "message", why);
		}
		return;
	}
	switch (inner.hdr.func) {
	case UFTP_KEYINFO_ACK:
		client_keyinfo_ack(g, kc, &inner);
		break;
	case UFTP_FILEINFO_ACK:
	case UFTP_STATUS:
	case UFTP_COMPLETE:
		if (c)
			proxy_aggregate_add(g, c, &inner);
		break;
	case UFTP_ABORT: {
		char text[UFTP_ABORT_TEXT_LEN];
		snprintf(text, sizeof(text), "%.*s", (int)inner.u.abort.text.len,
			 (const char *)inner.u.abort.text.p);
		glog(LOG_LVL_INFO, g->group_id, g->inst, 0, "Transfer aborted by %08X: %s",
		     uid, text);
		proxy_send_abort_up(g, uid, text);
		break;
	}
	case UFTP_CC_ACK:
		/* uftpproxyd passes an encrypted CC_ACK on, and the uftp 4.10.2
		 * server then crashes (it looks for the key of a client behind
		 * a proxy): kept back, TFMCC goes on with the other answers. */
	default:
		proxy_drop(g->in, PROXY_DROP_UNEXPECTED);
		break;
	}
}

/* An ENCRYPTED answer: opened with the group keys (and, under KEYEX
 * signatures, checked against the client's CLIENT_KEY on the pool). */
static void client_encrypted(struct group *g, const struct pmsg *pm)
{
	struct kx_session *ks = g->kx;
	struct uftp_msg outer;
	uint8_t plain[DGRAM_MAX];
	const char *why = "Decrypt/validate failed";
	uint32_t uid = pm->hdr.src_id;
	struct kx_client *kc = kx_client(ks, uid, false);
	long n = -1;
	if (!ks->kg.have_group) {
		why = "Encrypted message before the keys were established";
	} else if (!decode(pm, &outer)) {
		why = "Invalid message size";
	} else if (ks->kg.sigtype == UFTP_SIG_KEYEX) {
		if (kc && kc->keyed && kc->peer.pub) {
			struct job *j = job_new(ks, JOB_OPEN, uid, pm->raw, pm->len);
			if (!j) {
				proxy_drop(g->in, PROXY_DROP_RESOURCES);
				return;
			}
			j->signer = kc->peer.pub;   /* set once, freed with the session */
			job_submit(ks, j);
			return;
		}
		why = "No CLIENT_KEY to check the signature with";
	} else {
		n = crypto_uftp_open(&ks->kg.group, ks->kg.keytype, ks->kg.hashtype,
				     ks->kg.sigtype, NULL, pm->raw, pm->len,
				     outer.u.encrypted.sig.p, outer.u.encrypted.sig.len,
				     outer.u.encrypted.payload.p,
				     outer.u.encrypted.payload.len, plain, sizeof(plain));
	}
	client_opened(g, uid, &pm->hdr, plain, n, why);
}

bool proxy_kxs_up(struct group *g, const struct pmsg *m)
{
	if (!g->kx->keyed && m->hdr.func != UFTP_ABORT) {
		proxy_drop(g->in, PROXY_DROP_UNEXPECTED);   /* our ANNOUNCE is not out yet */
		return true;
	}
	switch (m->hdr.func) {
	case UFTP_REGISTER:
		client_register(g, m);
		return true;
	case UFTP_CLIENT_KEY:
		client_key(g, m);
		return true;
	case UFTP_ENCRYPTED:
		client_encrypted(g, m);
		return true;
	case UFTP_KEYINFO_ACK:
	case UFTP_FILEINFO_ACK:
	case UFTP_STATUS:
	case UFTP_COMPLETE:
		glog(LOG_LVL_INFO, g->group_id, g->inst, 0,
		     "Rejecting %s message from %08X: not encrypted",
		     uftp_func_name(m->hdr.func), m->hdr.src_id);
		proxy_drop(g->in, PROXY_DROP_UNEXPECTED);
		return true;
	default:
		return false;
	}
}

/* ---- toward the server -------------------------------------------------------- */

long proxy_kxs_encode_up(struct group *g, struct uftp_msg *m, size_t count, uint8_t *buf,
			 size_t cap)
{
	struct kx_session *ks = g->kx;
	if (m->hdr.func == UFTP_REGISTER) {
		m->u.reg.rand2 = (struct fb_bview){ ks->kg.self.rand2, CRYPTO_RAND_LEN };
		m->u.reg.keyinfo = (struct fb_bview){ ks->regkey, ks->regkeylen };
		return uftp_encode(buf, cap, m);
	}
	uint8_t body[DGRAM_MAX], h[UFTP_HDR_LEN];
	if (!ks->kg.have_group)
		return -1;
	m->hdr.version = ks->kg.version;
	long n = uftp_encode_body(body, sizeof(body), m);
	struct fb_wcur w;
	fb_wcur_init(&w, h, sizeof(h));
	uftp_hdr_encode(&w, &m->hdr);
	if (n < 0 || !fb_wcur_ok(&w))
		return -1;
	if (ks->kg.sigtype == UFTP_SIG_KEYEX) {
		seal_keyex(g, JOB_SEAL, &m->hdr, body, (size_t)n, count);
		return 0;
	}
	return crypto_uftp_seal(&ks->kg.group, ks->kg.keytype, ks->kg.hashtype,
				ks->kg.sigtype, NULL, NULL, h, ++ks->ivctr, body,
				(size_t)n, buf, cap);
}

void proxy_kxs_after_register(struct group *g)
{
	struct kx_session *ks = g->kx;
	if (!ks->client_key)
		return;
	struct uftp_hdr h;
	uftp_peek(ks->client_key, ks->client_key_len, &h);
	h.seq = g->seq_up++;
	uftp_set_hdr(ks->client_key, ks->client_key_len, &h);
	if (proxy_send_to(g->in, &g->up, ks->client_key, ks->client_key_len) == 0)
		glog(LOG_LVL_INFO, g->group_id, g->inst, 0, "CLIENT_KEY sent");
}
