/* fuzz_crypto_tls.c — the server side of src/crypto/tls.c (what every FTPS
 * connection's bytes meet first) fed an arbitrary byte stream where a
 * client's ClientHello and records belong, cut into pieces as a network
 * would: the handshake, then reads, each step's output taken as the engine
 * takes it. Seeds are real ClientHellos of wolfSSL's client, made by
 * make_tls_corpus.c through the project's own crypto_tls_client.
 *
 * Input: one byte choosing how the rest is cut (bits 0-3: pieces of
 * 1 << (b & 15) bytes at most, capped at 16 KiB; bit 4: the server also
 * writes a reply after each read; bit 5: it shuts down at the end), then
 * the bytes. Checked: no crash, no leak (ASan), the layer never holds more
 * than CRYPTO_TLS_IN_MAX unread, what it has to send only shrinks when
 * taken, and once it failed or closed it stays so. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ferry/crypto.h"
#include "fuzz.h"
#include "tls_cert.h"

/* The Debian wolfSSL is not instrumented, so libFuzzer's coverage ends at
 * ferry's wrapper. What the library says is turned into features instead
 * (libFuzzer's extra counters; plain data in the replay build): each step's
 * result with how much it sent, and the text of each failure, so an input
 * that reaches a new alert, error or handshake stage is kept. */
enum { FEATURES = 4096 };
__attribute__((used, section("__libfuzzer_extra_counters")))
static uint8_t features[FEATURES];

static void feature(uint32_t kind, uint32_t value)
{
	uint32_t h = (kind + 1) * 2654435761u ^ value * 40503u;
	features[h % FEATURES]++;
}

static uint32_t text_hash(const char *s)
{
	uint32_t h = 2166136261u;
	while (s && *s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

/* log2 of n, 0 for 0: how much was sent, in buckets */
static uint32_t bucket(size_t n)
{
	uint32_t b = 0;
	while (n) {
		b++;
		n >>= 1;
	}
	return b;
}

static struct crypto_tls_ctx *server_ctx(void)
{
	static struct crypto_tls_ctx *ctx;
	if (ctx)
		return ctx;
	char why[CRYPTO_ERR_LEN];
	const struct fuzz_cert *c = fuzz_cert_make();
	if (!(ctx = crypto_tls_ctx_new(c->cert, c->key, why))) {
		fprintf(stderr, "fuzz_crypto_tls: %s\n", why);
		FUZZ_CHECK(!"the server's TLS context loads");
	}
	return ctx;
}

/* Takes all the layer has to send; its length must not grow meanwhile. */
static void drain(struct crypto_tls *t)
{
	const uint8_t *p;
	size_t n = crypto_tls_out(t, &p);
	feature(1, bucket(n));
	if (n >= 7)   /* the first record's type, its handshake message or alert */
		feature(2, (uint32_t)p[0] << 16 | (uint32_t)p[5] << 8 | p[6]);
	volatile uint8_t sum = 0;    /* every byte readable (ASan) */
	for (size_t i = 0; i < n; i++)
		sum ^= p[i];
	(void)sum;
	crypto_tls_sent(t, n);
	FUZZ_CHECK(crypto_tls_out(t, &p) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t how = data[0];
	size_t piece = (size_t)1 << (how & 15);
	if (piece > 16384)
		piece = 16384;
	struct crypto_tls *t = crypto_tls_new(server_ctx());
	FUZZ_CHECK(t);
	bool over = false;           /* failed or closed: stays over */
	for (size_t off = 1; off < size && !over;) {
		size_t n = size - off < piece ? size - off : piece;
		if (!crypto_tls_feed(t, data + off, n))
			break;               /* more than CRYPTO_TLS_IN_MAX unread */
		off += n;
		if (!crypto_tls_ready(t)) {
			int r = crypto_tls_handshake(t);
			FUZZ_CHECK(r == 1 || r == CRYPTO_TLS_AGAIN || r == CRYPTO_TLS_ERROR);
			FUZZ_CHECK((r == 1) == crypto_tls_ready(t));
			over = r == CRYPTO_TLS_ERROR;
			feature(3, (uint32_t)(r + 8));
		}
		uint8_t plain[4096];
		long got;
		while (!over && crypto_tls_ready(t) &&
		       (got = crypto_tls_read(t, plain, sizeof(plain))) != CRYPTO_TLS_AGAIN) {
			FUZZ_CHECK(got <= (long)sizeof(plain));
			if (got == CRYPTO_TLS_CLOSED || got == CRYPTO_TLS_ERROR) {
				feature(4, (uint32_t)(got + 8));
				over = true;
				break;
			}
			FUZZ_CHECK(got > 0);
			if (how & 16)
				FUZZ_CHECK(crypto_tls_write(t, plain, (size_t)got) == 0);
		}
		drain(t);
	}
	if (how & 32) {
		crypto_tls_shutdown(t);
		drain(t);
	}
	char desc[96];
	feature(5, text_hash(crypto_tls_desc(t, desc, sizeof(desc))));
	feature(6, text_hash(crypto_tls_why(t)));
	crypto_tls_free(t);
	return 0;
}
