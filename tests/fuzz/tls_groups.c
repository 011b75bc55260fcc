/* tls_groups.c — the TLS harnesses spent most of an input in P-256: under
 * ASan every point wolfSSL's generic ECC math allocates goes through the
 * sanitizer's allocator, so a handshake cost several milliseconds (fuzz_ftps
 * ran at ~160 inputs/s). wolfSSL_new is wrapped at link time
 * (-Wl,--wrap, tests/fuzz/meson.build) to put X25519 first among the
 * groups of every connection, server and client: the clients the harness
 * drives send an X25519 key share, a server prefers it when a recorded
 * ClientHello offers it, and one still offering only P-256 (older corpus
 * entries) is served as before. tls_cert.c's certificate is RSA-1024,
 * whose signature a client checks for almost nothing (an ECDSA check is two
 * more point multiplications; Ed25519 would be cheaper still, but wolfSSL
 * 5.5.4 cannot read an Ed25519 certificate's names, which ferry's SNI code
 * needs). fuzz_ftps went from ~160 to ~600 inputs/s. What is fuzzed is
 * ferry's side of the layer, which depends on neither choice.
 *
 * The session harnesses can also make the next wolfSSL_new fail
 * (fuzz_tls_fail_next): a TLS object that cannot be made, as when memory
 * or the RNG's descriptor runs out, for whichever side asks next. */
#include <stdbool.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "tls_cert.h"

WOLFSSL *__real_wolfSSL_new(WOLFSSL_CTX *ctx);
WOLFSSL *__wrap_wolfSSL_new(WOLFSSL_CTX *ctx);

static bool fail_next;

void fuzz_tls_fail_next(bool fail)
{
	fail_next = fail;
}

WOLFSSL *__wrap_wolfSSL_new(WOLFSSL_CTX *ctx)
{
	if (fail_next) {
		fail_next = false;
		return NULL;
	}
	WOLFSSL *ssl = __real_wolfSSL_new(ctx);
	int groups[] = { WOLFSSL_ECC_X25519, WOLFSSL_ECC_SECP256R1 };
	if (ssl)
		(void)wolfSSL_set_groups(ssl, groups, 2);
	return ssl;
}
