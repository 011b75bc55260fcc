/* ktls.c — a TLS connection's keys, as Linux's kernel TLS (kTLS) takes
 * them: the sending ones, so that the kernel seals the records of a file
 * sent by splice, and the peer's, so that it opens those of an upload. */
#include <stdio.h>
#include <string.h>

#include <linux/tls.h>

#include "tls_internal.h"

static void be64(uint64_t v, unsigned char out[8])
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		out[i] = (unsigned char)v;
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* Every byte we send passes here (whole records in practice, but any
 * split works): the header of each record, and of each sealed one its
 * first 8 bytes, TLS 1.2 AES-GCM's explicit nonce (TLS 1.3 records have
 * none: what is read there then is never used). */
void crypto_ktls_track(struct rec_track *r, const uint8_t *p, size_t n)
{
	while (n) {
		size_t want = r->have < 5 ? 5 : r->cur_sealed && r->have < 13 ? 13 : 0;
		if (want) {
			size_t take = want - r->have < n ? want - r->have : n;
			memcpy(r->head + r->have, p, take);
			r->have += take;
			p += take;
			n -= take;
			if (r->have == 5) {
				r->left = (size_t)r->head[3] << 8 | r->head[4];
				r->cur_sealed = r->sealed && r->left >= 8;
				if (r->head[0] == 20)
					r->sealed = true;      /* what follows is sealed */
			} else if (r->have == 13) {
				r->last_nonce = get_be64(r->head + 5);
				r->nonce_seen = true;
				r->left -= 8;
			}
			if (r->have == 5 && !r->left)
				r->have = 0;
			continue;
		}
		size_t take = r->left < n ? r->left : n;
		r->left -= take;
		p += take;
		n -= take;
		if (!r->left)
			r->have = 0;
	}
}

/* Why this version and cipher cannot go to the kernel, or NULL. */
static const char *unsuitable(struct crypto_tls *t, int version, int keylen, int ivlen)
{
	if (version != TLS1_2_VERSION && version != TLS1_3_VERSION)
		return "not TLS 1.2 or 1.3";
	int bulk = wolfSSL_GetBulkCipher(t->ssl);
	if (bulk == wolfssl_chacha)      /* RFC 7905 and 8446: a 12-byte IV */
		return keylen == 32 && ivlen == 12 ? NULL : "unexpected ChaCha20 key or IV";
	if (bulk != wolfssl_aes_gcm || (keylen != 16 && keylen != 32))
		return "the cipher is not AES-128-GCM, AES-256-GCM or ChaCha20-Poly1305";
	/* wolfSSL's write IV: TLS 1.2's 4-byte implicit salt, TLS 1.3's
	 * 12-byte static IV */
	if (ivlen != (version == TLS1_3_VERSION ? 12 : 4))
		return "unexpected IV length";
	return NULL;
}

/* Why the sending side cannot go to the kernel now, or NULL. */
static const char *tx_unready(const struct crypto_tls *t)
{
	if (!t->ready || t->failed || t->kernel_tx)
		return "the handshake has not completed";
	if (t->out.len != t->out.off)
		return "records are still waiting to be sent";
	return NULL;
}

/* Why the receiving side cannot go to the kernel now, or NULL: the layer
 * must have opened every record it was given, whole records only. */
static const char *rx_unready(const struct crypto_tls *t)
{
	if (!t->ready || t->failed || t->kernel_rx)
		return "the handshake has not completed";
	if (t->in.len != t->in.off || t->rtrack.have || wolfSSL_pending(t->ssl))
		return "records are still waiting to be read";
	return NULL;
}

/* k for one direction: key and IV (wolfSSL's write IV of that side), the
 * next record sequence number and, TLS 1.2 AES-GCM, the next explicit
 * nonce (unused by the kernel when receiving: it reads each record's). */
static void fill(struct crypto_ktls *k, int version, bool chacha, int keylen,
		 const unsigned char *key, const unsigned char *iv, uint64_t seq,
		 uint64_t nonce)
{
	k->version = version == TLS1_3_VERSION ? 13 : 12;
	if (chacha) {
		/* nonce = iv XOR the record sequence number, both versions */
		struct tls12_crypto_info_chacha20_poly1305 *c = (void *)k->info.bytes;
		_Static_assert(sizeof(*c) <= sizeof(k->info.bytes), "crypto_ktls too small");
		c->info.version = version == TLS1_3_VERSION ? TLS_1_3_VERSION : TLS_1_2_VERSION;
		c->info.cipher_type = TLS_CIPHER_CHACHA20_POLY1305;
		memcpy(c->key, key, 32);
		memcpy(c->iv, iv, 12);
		be64(seq, c->rec_seq);
		k->cipher = CRYPTO_KTLS_CHACHA20_POLY1305;
		k->len = sizeof(*c);
		return;
	}
	/* The two layouts differ only in the key's length; both start with
	 * the version and cipher, then the 8-byte IV field, then the key. */
	struct tls12_crypto_info_aes_gcm_128 *a = (void *)k->info.bytes;
	struct tls12_crypto_info_aes_gcm_256 *b = (void *)k->info.bytes;
	_Static_assert(sizeof(*b) <= sizeof(k->info.bytes), "crypto_ktls too small");
	unsigned char *f_iv = keylen == 16 ? a->iv : b->iv;
	unsigned char *f_key = keylen == 16 ? a->key : b->key;
	unsigned char *f_salt = keylen == 16 ? a->salt : b->salt;
	unsigned char *f_seq = keylen == 16 ? a->rec_seq : b->rec_seq;
	a->info.version = version == TLS1_3_VERSION ? TLS_1_3_VERSION : TLS_1_2_VERSION;
	a->info.cipher_type = keylen == 16 ? TLS_CIPHER_AES_GCM_128 : TLS_CIPHER_AES_GCM_256;
	memcpy(f_key, key, (size_t)keylen);
	memcpy(f_salt, iv, 4);
	if (version == TLS1_3_VERSION)
		memcpy(f_iv, iv + 4, 8);   /* nonce = (salt || iv) XOR the sequence number */
	else
		be64(nonce, f_iv);
	be64(seq, f_seq);
	k->cipher = keylen == 16 ? CRYPTO_KTLS_AES128_GCM : CRYPTO_KTLS_AES256_GCM;
	k->len = keylen == 16 ? sizeof(*a) : sizeof(*b);
}

/* One direction's keys (peer: the other side's, for receiving): 0, or -1
 * with why. */
static int export(struct crypto_tls *t, bool peer, const char *not_now, struct crypto_ktls *k,
		  char why[CRYPTO_ERR_LEN], const char *fn)
{
	memset(k, 0, sizeof(*k));
	int version = wolfSSL_version(t->ssl);
	int keylen = wolfSSL_GetKeySize(t->ssl), ivlen = wolfSSL_GetIVSize(t->ssl);
	const char *no = not_now ? not_now : unsuitable(t, version, keylen, ivlen);
	if (no) {
		snprintf(why, CRYPTO_ERR_LEN, "%s: %s", fn, no);
		return -1;
	}
	bool client = (wolfSSL_GetSide(t->ssl) == WOLFSSL_SERVER_END) == peer;
	const unsigned char *key = client ? wolfSSL_GetClientWriteKey(t->ssl)
					  : wolfSSL_GetServerWriteKey(t->ssl);
	const unsigned char *iv = client ? wolfSSL_GetClientWriteIV(t->ssl)
					 : wolfSSL_GetServerWriteIV(t->ssl);
	word64 seq = 0;            /* both return 1 for seq 0 */
	if (peer)
		(void)wolfSSL_GetPeerSequenceNumber(t->ssl, &seq);
	else
		(void)wolfSSL_GetSequenceNumber(t->ssl, &seq);
	if (!key || !iv) {
		snprintf(why, CRYPTO_ERR_LEN, "%s: wolfSSL gives no write key", fn);
		return -1;
	}
	bool chacha = wolfSSL_GetBulkCipher(t->ssl) == wolfssl_chacha;
	uint64_t nonce = 0;
	if (!peer && !chacha && version != TLS1_3_VERSION) {
		/* The explicit nonce: wolfSSL's starts at a random value with
		 * the keys (wc_AesGcmSetIV) and counts up by one per record; the
		 * kernel counts up from the one after the last we sent, so none
		 * repeats under this key. */
		if (!t->track.nonce_seen) {
			snprintf(why, CRYPTO_ERR_LEN, "%s: no sealed record seen", fn);
			return -1;
		}
		nonce = t->track.last_nonce + 1;
	}
	fill(k, version, chacha, keylen, key, iv, seq, nonce);
	return 0;
}

int crypto_tls_ktls_tx(struct crypto_tls *t, struct crypto_ktls *k, char why[CRYPTO_ERR_LEN])
{
	return export(t, false, tx_unready(t), k, why, __func__);
}

int crypto_tls_ktls_rx(struct crypto_tls *t, struct crypto_ktls *k, char why[CRYPTO_ERR_LEN])
{
	return export(t, true, rx_unready(t), k, why, __func__);
}

void crypto_tls_cursor_init(const struct crypto_tls *t, struct crypto_tls_cursor *c)
{
	const struct rec_track *r = &t->rtrack;
	memset(c, 0, sizeof(*c));
	if (r->have < 5) {           /* at a boundary, or in a header */
		memcpy(c->head, r->head, r->have);
		c->have = (uint8_t)r->have;
		return;
	}
	memcpy(c->head, r->head, 5);
	c->have = 5;                 /* left still counts the nonce below 13 */
	c->left = r->cur_sealed && r->have < 13 ? r->left - (r->have - 5) : r->left;
}

void crypto_tls_cursor_add(struct crypto_tls_cursor *c, const uint8_t *p, size_t n)
{
	while (n) {
		size_t take;
		if (c->have < 5) {
			take = 5u - c->have < n ? 5u - c->have : n;
			memcpy(c->head + c->have, p, take);
			c->have = (uint8_t)(c->have + take);
			if (c->have == 5)
				c->left = (size_t)c->head[3] << 8 | c->head[4];
		} else {
			take = c->left < n ? c->left : n;
			c->left -= take;
		}
		p += take;
		n -= take;
		if (c->have == 5 && !c->left)
			c->have = 0;         /* the record ended */
	}
}

size_t crypto_tls_cursor_need(const struct crypto_tls_cursor *c)
{
	if (!c->have)
		return 0;
	return c->have < 5 ? 5u - c->have : c->left;
}

void crypto_tls_kernel_rx(struct crypto_tls *t)
{
	t->kernel_rx = true;
}

void crypto_tls_kernel_tx(struct crypto_tls *t)
{
	t->kernel_tx = true;
}

void crypto_ktls_wipe(struct crypto_ktls *k)
{
	explicit_bzero(k, sizeof(*k));
}
