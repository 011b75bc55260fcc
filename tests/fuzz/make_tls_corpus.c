/* make_tls_corpus.c — writes corpus/crypto_tls/ with the project's own TLS
 * client (crypto_tls_client_new, wolfSSL's): its ClientHello with and
 * without a server name, one offering to resume a session a full
 * handshake with the server side just made, and that client's second
 * flight (what follows the server's reply, which the fuzzer cannot
 * decrypt but can cut and garble). Each file is fuzz_crypto_tls's input: a
 * byte saying how to cut the stream, then the bytes. make_corpus.py puts
 * the hellos into the fuzz_ftps scripts (contrib/fuzz --seed).
 * Usage: make_tls_corpus CORPUS_DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/base.h"
#include "ferry/crypto.h"
#include "tls_cert.h"

static const char *out_dir;

static void put(const char *name, uint8_t how, const uint8_t *p, size_t n)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/crypto_tls/%s", out_dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fputc(how, f) == EOF || fwrite(p, 1, n, f) != n || fclose(f)) {
		fprintf(stderr, "make_tls_corpus: cannot write %s\n", path);
		exit(1);
	}
}

/* Everything t has to send, appended to b. */
static void take(struct crypto_tls *t, struct fb_buf *b)
{
	const uint8_t *p;
	size_t n = crypto_tls_out(t, &p);
	fb_buf_append(b, p, n);
	crypto_tls_sent(t, n);
}

/* One step each way until both sides stop; what the client sent, by
 * flight, into flights[0..1]. Returns whether both finished. */
static bool converse(struct crypto_tls *c, struct crypto_tls *s, struct fb_buf flights[2])
{
	for (int round = 0; round < 8; round++) {
		struct fb_buf to_s = { 0 }, to_c = { 0 };
		if (!crypto_tls_ready(c))
			(void)crypto_tls_handshake(c);
		take(c, &to_s);
		if (round < 2)
			fb_buf_append(&flights[round], to_s.p, to_s.len);
		if (to_s.len && !crypto_tls_feed(s, to_s.p, to_s.len))
			return false;
		if (!crypto_tls_ready(s))
			(void)crypto_tls_handshake(s);
		uint8_t plain[256];
		(void)crypto_tls_read(s, plain, sizeof(plain));
		take(s, &to_c);
		if (to_c.len && !crypto_tls_feed(c, to_c.p, to_c.len))
			return false;
		(void)crypto_tls_read(c, plain, sizeof(plain));   /* a 1.3 ticket */
		fb_buf_free(&to_s);
		fb_buf_free(&to_c);
		if (crypto_tls_ready(c) && crypto_tls_ready(s) && round >= 2)
			return true;
	}
	return crypto_tls_ready(c) && crypto_tls_ready(s);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: make_tls_corpus CORPUS_DIR\n");
		return 2;
	}
	out_dir = argv[1];
	char why[CRYPTO_ERR_LEN], path[1024];
	snprintf(path, sizeof(path), "mkdir -p %s/crypto_tls", out_dir);
	if (system(path) != 0)
		return 1;
	const struct fuzz_cert *cert = fuzz_cert_make();
	struct crypto_tls_ctx *sctx = crypto_tls_ctx_new(cert->cert, cert->key, why);
	struct crypto_tls_ctx *cctx = crypto_tls_client_ctx_new(NULL, false, why);
	if (!sctx || !cctx) {
		fprintf(stderr, "make_tls_corpus: %s\n", why);
		return 1;
	}
	/* a full handshake (with a server name), kept for its session */
	struct crypto_tls *c = crypto_tls_client_new(cctx, "fuzz.ferry.test");
	struct crypto_tls *s = crypto_tls_new(sctx);
	struct fb_buf fl[2] = { { 0 }, { 0 } };
	if (!c || !s || !converse(c, s, fl) || !fl[0].len) {
		fprintf(stderr, "make_tls_corpus: the handshake with the server side failed\n");
		return 1;
	}
	put("clienthello-sni", 0x0e, (const uint8_t *)fl[0].p, fl[0].len);
	put("clienthello-sni-bytewise", 0x00, (const uint8_t *)fl[0].p, fl[0].len);
	if (fl[1].len) {
		struct fb_buf both = { 0 };
		fb_buf_append(&both, fl[0].p, fl[0].len);
		fb_buf_append(&both, fl[1].p, fl[1].len);
		put("client-flights-sni", 0x3e, (const uint8_t *)both.p, both.len);
		fb_buf_free(&both);
	}
	void *sess = crypto_tls_session_get(c);
	crypto_tls_free(c);
	crypto_tls_free(s);
	fb_buf_free(&fl[0]);
	fb_buf_free(&fl[1]);

	/* without a server name (an IP address as the host) */
	c = crypto_tls_client_new(cctx, NULL);
	struct fb_buf b = { 0 };
	(void)crypto_tls_handshake(c);
	take(c, &b);
	put("clienthello-nosni", 0x0e, (const uint8_t *)b.p, b.len);
	put("clienthello-nosni-write", 0x1a, (const uint8_t *)b.p, b.len);
	crypto_tls_free(c);
	fb_buf_free(&b);

	/* offering to resume the first session (a ticket or a session ID) */
	if (sess) {
		c = crypto_tls_client_new(cctx, "fuzz.ferry.test");
		if (crypto_tls_session_set(c, sess)) {
			(void)crypto_tls_handshake(c);
			take(c, &b);
			put("clienthello-resume", 0x0e, (const uint8_t *)b.p, b.len);
			fb_buf_free(&b);
		}
		crypto_tls_free(c);
		crypto_tls_session_free(sess);
	}
	crypto_tls_ctx_free(sctx);
	crypto_tls_ctx_free(cctx);
	return 0;
}
