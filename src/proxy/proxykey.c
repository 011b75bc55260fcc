/* proxykey.c — a response proxy's PROXY_KEY (protocol.txt 5.2.20): made and
 * signed once at start-up, sent to each public multicast address when a
 * client asks with KEY_REQ, and never more than once per KEY_REQ_GAP_MS
 * however many ask (a KEY_REQ flood costs a lookup, not a signature). */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/base.h"
#include "internal.h"

enum { KEY_REQ_GAP_MS = 5000, PROXY_KEY_MAX = 16 + 12 + 2 * CRYPTO_BLOB_MAX + CRYPTO_SIG_MAX };

/* Main thread, before the workers: the key is [0] of -k/-K, as uftpproxyd. */
int proxy_key_prepare(struct inst_shared *sh)
{
	if (sh->pc->role != PROXY_RESPONSE || !sh->keys.n)
		return 0;
	uint8_t blob[CRYPTO_BLOB_MAX], dh[CRYPTO_BLOB_MAX], sig[CRYPTO_SIG_MAX], nonce[4];
	struct crypto_rng *rng = crypto_rng_new();
	struct crypto_key *k = sh->keys.key[0];
	long bl = crypto_key_blob(k, blob, sizeof(blob));
	long dl = sh->keys.dh ? crypto_key_blob(sh->keys.dh, dh, sizeof(dh)) : 0;
	long sl = -1;
	if (rng && crypto_random(rng, nonce, sizeof(nonce)) == 0)
		sl = crypto_sign(k, rng, UFTP_HASH_SHA1, nonce, sizeof(nonce), sig, sizeof(sig));
	crypto_rng_free(rng);
	struct uftp_msg m = { .hdr = { .version = UFTP_VERSION, .func = UFTP_PROXY_KEY,
				       .src_id = sh->uid } };
	m.u.proxy_key = (struct uftp_proxy_key){
		.nonce = (uint32_t)nonce[0] << 24 | (uint32_t)nonce[1] << 16 |
			 (uint32_t)nonce[2] << 8 | nonce[3],
		.keyblob = { blob, (size_t)bl }, .dhblob = { dh, (size_t)dl },
		.signed_nonce = { sig, (size_t)sl } };
	if (bl < 0 || dl < 0 || sl < 0 || !(sh->proxy_key = malloc(PROXY_KEY_MAX))) {
		flog(LOG_LVL_ERR, "%s: %s: cannot make PROXY_KEY", sh->pc->name, __func__);
		return FERRY_EXIT_CRYPTO;
	}
	long n = uftp_encode(sh->proxy_key, PROXY_KEY_MAX, &m);
	if (n < 0) {
		flog(LOG_LVL_ERR, "%s: %s: cannot encode PROXY_KEY", sh->pc->name, __func__);
		return FERRY_EXIT_CRYPTO;
	}
	sh->proxy_key_len = (size_t)n;
	for (size_t i = 0; i < sh->pc->pub_mcast.n && sh->npub < PROXY_MAX_PUB; i++) {
		struct sockaddr_storage *a = &sh->pub[sh->npub];
		if (fb_addr_resolve(sh->pc->pub_mcast.v[i], sh->pc->port, AF_UNSPEC, a) == 0)
			sh->npub++;
	}
	return 0;
}

void proxy_key_request(struct instance *in, const struct sockaddr *src)
{
	struct inst_shared *sh = in->sh;
	char from[64];
	if (!sh->proxy_key) {
		proxy_drop(in, PROXY_DROP_UNEXPECTED);
		return;
	}
	uint64_t now = fe_now_ms(in->pw->w);
	uint64_t last = atomic_load(&sh->proxy_key_sent_ms);
	/* A flood is logged at debug level only: the log is no amplifier. */
	if ((last && now - last < KEY_REQ_GAP_MS) ||
	    !atomic_compare_exchange_strong(&sh->proxy_key_sent_ms, &last, now)) {
		flog(LOG_LVL_DEBUG, "Received KEY_REQ from %s (PROXY_KEY sent lately)",
		     fb_addr_format(src, from, sizeof(from)));
		return;
	}
	flog(LOG_LVL_INFO, "Received KEY_REQ from %s",
	     fb_addr_format(src, from, sizeof(from)));
	for (size_t i = 0; i < sh->npub; i++)
		if (proxy_send_to(in, &sh->pub[i], sh->proxy_key, sh->proxy_key_len) == 0)
			flog(LOG_LVL_INFO, "Sent PROXY_KEY to %s",
			     fb_addr_format((const struct sockaddr *)&sh->pub[i], from,
					 sizeof(from)));
}
