/* hbauth.c — the public-key half of signed heartbeats (protocol.txt 4),
 * run on the helper pool: a proxy answers a challenge by signing its nonce
 * with its first key; a server proxy started -s fp= checks a signed HB_REQ
 * against the fingerprint and takes its sender as downstream. */
#include <stdlib.h>
#include <string.h>

#include "ferry/base.h"
#include "internal.h"

/* uftp signs the nonce as it travels: 4 bytes, network order, SHA-1. */
static void nonce_bytes(uint32_t nonce, uint8_t out[4])
{
	out[0] = (uint8_t)(nonce >> 24);
	out[1] = (uint8_t)(nonce >> 16);
	out[2] = (uint8_t)(nonce >> 8);
	out[3] = (uint8_t)nonce;
}

/* ---- a challenge answered -------------------------------------------- */

struct sign_job {
	struct instance *in;
	struct sockaddr_storage to;
	uint32_t nonce;
	long siglen;
	uint8_t sig[CRYPTO_SIG_MAX];
};

static void sign_work(void *arg)
{
	struct sign_job *j = arg;
	struct crypto_rng *rng = crypto_rng_new();
	uint8_t msg[4];
	nonce_bytes(j->nonce, msg);
	j->siglen = rng ? crypto_sign(j->in->sh->keys.key[0], rng, UFTP_HASH_SHA1,
				      msg, sizeof(msg), j->sig, sizeof(j->sig)) : -1;
	crypto_rng_free(rng);
	crypto_thread_done();
}

static void sign_done(struct fe_worker *w, void *arg)
{
	struct sign_job *j = arg;
	struct inst_shared *sh = j->in->sh;
	(void)w;
	j->in->hb_signing = false;
	if (j->siglen <= 0) {
		flog(LOG_LVL_ERR, "%s: %s: cannot sign the heartbeat nonce with "
		     "the first key", sh->pc->name, __func__);
	} else {
		struct uftp_hb_req req = {
			.nonce = j->nonce,
			.keyblob = { sh->hb_blob, sh->hb_bloblen },
			.signed_nonce = { j->sig, (size_t)j->siglen },
		};
		proxy_send_hb_req(j->in, &j->to, &req);
	}
	free(j);
}

/* One signature in flight per instance: a flood of challenges costs one
 * helper thread at most. */
void proxy_hb_answer_challenge(struct instance *in,
			       const struct sockaddr_storage *to, uint32_t nonce)
{
	struct sign_job *j;
	if (in->hb_signing || !in->sh->hb_bloblen)
		return;
	if (!(j = calloc(1, sizeof(*j))))
		return;
	*j = (struct sign_job){ .in = in, .to = *to, .nonce = nonce };
	if (fe_pool_submit(in->pw->w, sign_work, sign_done, j) != 0) {
		flog(LOG_LVL_WARN, "%s: %s: helper pool full, the challenge waits "
		     "for the next heartbeat", in->sh->pc->name, __func__);
		free(j);
		return;
	}
	in->hb_signing = true;
}

/* ---- a signed HB_REQ checked ------------------------------------------- */

struct verify_job {
	struct instance *in;
	struct sockaddr_storage from;
	uint32_t nonce;
	size_t bloblen, siglen;
	uint8_t blob[CRYPTO_BLOB_MAX], sig[CRYPTO_SIG_MAX];
	const char *why;                 /* NULL: the signature holds */
};

static void verify_work(void *arg)
{
	struct verify_job *j = arg;
	uint8_t fp[CRYPTO_FP_LEN], msg[4];
	crypto_blob_fingerprint(j->blob, j->bloblen, fp);
	if (memcmp(fp, j->in->sh->down_fp, sizeof(fp))) {
		j->why = "its key's fingerprint is not the one given with -s fp=";
		return;
	}
	struct crypto_key *k = crypto_key_from_blob(j->blob, j->bloblen);
	if (!k) {
		j->why = "its public key blob cannot be read";
		return;
	}
	nonce_bytes(j->nonce, msg);
	if (!crypto_verify(k, UFTP_HASH_SHA1, msg, sizeof(msg), j->sig, j->siglen))
		j->why = "the signature of the nonce does not verify";
	crypto_key_free(k);
	crypto_thread_done();
}

/* The nonce is used once: a success draws the next; a verification that
 * lost the race to another one is challenged again. */
static void verify_done(struct fe_worker *w, void *arg)
{
	struct verify_job *j = arg;
	struct instance *in = j->in;
	struct inst_shared *sh = in->sh;
	char who[64], was[64] = "none";
	uint8_t auth = UFTP_HB_AUTH_FAILED;
	uint32_t nonce = 0;
	(void)w;
	in->hb_verifying = false;
	fb_addr_format((const struct sockaddr *)&j->from, who, sizeof(who));
	if (!j->why) {
		pthread_mutex_lock(&sh->down_lock);
		if (sh->hb_nonce == j->nonce) {
			if (sh->down_known)
				fb_addr_format((const struct sockaddr *)&sh->down, was, sizeof(was));
			sh->down = j->from;
			sh->down_known = true;
			sh->hb_nonce = proxy_hb_nonce();
			auth = UFTP_HB_AUTH_OK;
		} else {
			auth = UFTP_HB_AUTH_CHALLENGE;
			nonce = sh->hb_nonce;
		}
		pthread_mutex_unlock(&sh->down_lock);
	}
	if (auth == UFTP_HB_AUTH_OK)
		flog(LOG_LVL_INFO, "%s: signed HB_REQ from %s verified: using it as "
		     "downstream address (was %s)", sh->pc->name, who, was);
	else if (j->why)
		flog(LOG_LVL_WARN, "%s: signed HB_REQ from %s refused: %s; the "
		     "downstream stays as it was", sh->pc->name, who, j->why);
	proxy_send_hb_resp(in, &j->from, auth, nonce);
	free(j);
}

void proxy_hb_verify(struct instance *in, const struct sockaddr *src,
		     const struct uftp_hb_req *req)
{
	char who[64];
	struct inst_shared *sh = in->sh;
	struct sockaddr_storage from = { 0 };
	memcpy(&from, src, fb_addr_len(src));
	fb_addr_format(src, who, sizeof(who));
	if (!req->keyblob.len || !req->signed_nonce.len ||
	    req->keyblob.len > CRYPTO_BLOB_MAX || req->signed_nonce.len > CRYPTO_SIG_MAX) {
		flog(LOG_LVL_WARN, "%s: HB_REQ from %s carries the nonce but %s",
		     sh->pc->name, who, !req->keyblob.len || !req->signed_nonce.len ?
		     "no key or no signature" : "an oversized key or signature");
		proxy_send_hb_resp(in, &from, UFTP_HB_AUTH_FAILED, 0);
		return;
	}
	if (in->hb_verifying)
		return;   /* the one in flight answers; the sender retries */
	struct verify_job *j = calloc(1, sizeof(*j));
	if (!j)
		return;
	j->in = in;
	j->from = from;
	j->nonce = req->nonce;
	j->bloblen = req->keyblob.len;
	j->siglen = req->signed_nonce.len;
	memcpy(j->blob, req->keyblob.p, j->bloblen);
	memcpy(j->sig, req->signed_nonce.p, j->siglen);
	if (fe_pool_submit(in->pw->w, verify_work, verify_done, j) != 0) {
		flog(LOG_LVL_WARN, "%s: %s: helper pool full, HB_REQ from %s "
		     "left unanswered", sh->pc->name, __func__, who);
		free(j);
		return;
	}
	in->hb_verifying = true;
}
