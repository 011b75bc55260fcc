/* test_tls.c — the TLS layer's edges without a peer: certificate and key
 * loading errors, garbage instead of a ClientHello, a partial record, the
 * input bound, writes before the handshake. Full handshakes with real
 * clients are in tests/ftp/test_ftps.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ferry/crypto.h"
#include "cert_fixture.h"

static char other[64];

static int setup(void **state)
{
	(void)state;
	if (certs_setup("t", NULL))
		return -1;
	char ocrt[64];
	certs_path(other, sizeof(other), "k2.pem");
	certs_path(ocrt, sizeof(ocrt), "c2.pem");
	return certs_make(ocrt, other, "t", NULL) ? -1 : 0;
}

static void test_load_errors(void **state)
{
	(void)state;
	char why[CRYPTO_ERR_LEN];
	assert_null(crypto_tls_ctx_new("/nonexistent/c.pem", key, why));
	assert_non_null(strstr(why, "certificate"));
	assert_null(crypto_tls_ctx_new(cert, "/nonexistent/k.pem", why));
	assert_non_null(strstr(why, "key file"));
	assert_null(crypto_tls_ctx_new(key, key, why));   /* a key is no certificate */
	assert_null(crypto_tls_ctx_new(cert, other, why));
	assert_non_null(strstr(why, "does not belong"));
	struct crypto_tls_ctx *c = crypto_tls_ctx_new(cert, key, why);
	assert_non_null(c);
	crypto_tls_ctx_free(c);
	crypto_tls_ctx_free(NULL);
}

static void test_garbage_and_bounds(void **state)
{
	(void)state;
	char why[CRYPTO_ERR_LEN];
	struct crypto_tls_ctx *c = crypto_tls_ctx_new(cert, key, why);
	assert_non_null(c);

	/* A record header and nothing more: waits for the rest. */
	struct crypto_tls *t = crypto_tls_new(c);
	assert_non_null(t);
	assert_false(crypto_tls_ready(t));
	assert_int_equal(crypto_tls_write(t, "x", 1), CRYPTO_TLS_ERROR);
	assert_true(crypto_tls_feed(t, "\x16\x03\x01\x00\x80", 5));
	assert_int_equal(crypto_tls_handshake(t), CRYPTO_TLS_AGAIN);
	uint8_t buf[64];
	assert_int_equal(crypto_tls_read(t, buf, sizeof(buf)), CRYPTO_TLS_AGAIN);
	/* The bound on unread ciphertext. */
	static uint8_t big[CRYPTO_TLS_IN_MAX + 1];
	assert_false(crypto_tls_feed(t, big, sizeof(big)));
	crypto_tls_free(t);

	/* An HTTP request instead of a ClientHello: an error with a reason. */
	t = crypto_tls_new(c);
	const char *http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	assert_true(crypto_tls_feed(t, http, strlen(http)));
	assert_int_equal(crypto_tls_handshake(t), CRYPTO_TLS_ERROR);
	assert_string_not_equal(crypto_tls_why(t), "no error");
	assert_int_equal(crypto_tls_handshake(t), CRYPTO_TLS_ERROR);  /* stays failed */
	const uint8_t *p;
	size_t n = crypto_tls_out(t, &p);
	crypto_tls_sent(t, n);
	assert_int_equal(crypto_tls_out(t, &p), 0);
	crypto_tls_shutdown(t);     /* not established: nothing to say */
	crypto_tls_free(t);
	crypto_tls_free(NULL);
	crypto_tls_ctx_free(c);
	crypto_thread_done();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_garbage_and_bounds),
	};
	return cmocka_run_group_tests(tests, setup, certs_teardown);
}
