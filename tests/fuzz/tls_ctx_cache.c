/* tls_ctx_cache.c — fuzz_ftps makes a server per input, and each loaded its
 * certificate and key again: about 13 ms of key checks in Debian's wolfSSL,
 * most of an input's time. crypto_tls_ctx_new_multi is wrapped at link time
 * (-Wl,--wrap, tests/fuzz/meson.build): the first call for a certificate
 * makes the context, later ones for the same files get a reference to it,
 * which each server's destroy drops as usual. A reload (inherit) or other
 * files go through unchanged. */
#include <stdbool.h>
#include <string.h>

#include "ferry/crypto.h"

struct crypto_tls_ctx *__real_crypto_tls_ctx_new_multi(const struct crypto_tls_cert *certs,
						       size_t n,
						       const struct crypto_tls_ctx *inherit,
						       char why[CRYPTO_ERR_LEN]);
struct crypto_tls_ctx *__wrap_crypto_tls_ctx_new_multi(const struct crypto_tls_cert *certs,
						       size_t n,
						       const struct crypto_tls_ctx *inherit,
						       char why[CRYPTO_ERR_LEN]);

static struct {
	struct crypto_tls_ctx *ctx;
	char cert[512], key[512];
} made;

static bool same_files(const struct crypto_tls_cert *c)
{
	return !strcmp(c->cert_pem, made.cert) && !strcmp(c->key_pem, made.key);
}

struct crypto_tls_ctx *__wrap_crypto_tls_ctx_new_multi(const struct crypto_tls_cert *certs,
						       size_t n,
						       const struct crypto_tls_ctx *inherit,
						       char why[CRYPTO_ERR_LEN])
{
	if (inherit || n != 1 || strlen(certs[0].cert_pem) >= sizeof(made.cert) ||
	    strlen(certs[0].key_pem) >= sizeof(made.key))
		return __real_crypto_tls_ctx_new_multi(certs, n, inherit, why);
	if (made.ctx && same_files(&certs[0]))
		return crypto_tls_ctx_ref(made.ctx);
	struct crypto_tls_ctx *ctx = __real_crypto_tls_ctx_new_multi(certs, n, NULL, why);
	if (!ctx || made.ctx)
		return ctx;           /* the first files are the ones kept */
	made.ctx = crypto_tls_ctx_ref(ctx);
	strcpy(made.cert, certs[0].cert_pem);
	strcpy(made.key, certs[0].key_pem);
	return ctx;
}
