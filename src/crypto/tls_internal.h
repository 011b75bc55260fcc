/* tls_internal.h — the TLS connection object, shared by tls.c (records
 * through memory buffers) and ktls.c (its keys handed to the kernel). */
#ifndef FERRY_CRYPTO_TLS_INTERNAL_H
#define FERRY_CRYPTO_TLS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "ferry/crypto.h"

/* A byte queue: bytes [off, len) of p are pending. */
struct tbuf {
	uint8_t *p;
	size_t off, len, cap;
};

/* ktls.c follows the records we send (and, for the boundary a receiving
 * side may change hands at, those fed in): TLS 1.2's AES-GCM explicit nonce
 * starts at a random value in wolfSSL and counts up, so the kernel must go
 * on from the last one sent, not from the sequence number. */
struct rec_track {
	uint8_t head[13];         /* the record header, then the 8-byte nonce */
	size_t have;              /* bytes of head filled */
	size_t left;              /* body bytes of the current record not seen */
	bool sealed;              /* past our ChangeCipherSpec: records sealed */
	bool cur_sealed;          /* the current record is */
	bool nonce_seen;
	uint64_t last_nonce;
};
void crypto_ktls_track(struct rec_track *r, const uint8_t *p, size_t n);

struct crypto_tls {
	WOLFSSL *ssl;
	struct crypto_tls_ctx *owner;   /* referenced while the connection lives */
	struct tbuf in, out;
	bool ready, failed, oom;
	bool named;                     /* name: TLS 1.2 (name_session) */
	uint8_t name[CRYPTO_TLS_ORIGIN_MAX];
	bool kernel_tx;   /* ktls.c: the kernel seals our records; we send none */
	bool kernel_rx;   /* ktls.c: the kernel opens the peer's; we read none */
	struct rec_track track;
	struct rec_track rtrack;        /* the records fed in (crypto_tls_feed) */
	char why[CRYPTO_ERR_LEN];
};

#endif
