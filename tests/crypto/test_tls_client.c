/* test_tls_client.c — the client side of the TLS layer against its own
 * server side, in memory: verification by CA file and host name (DNS and IP
 * literal), --insecure, data both ways, session resumption, a server that
 * sends no session ticket (PROT P data connections) and one that sends
 * another later (the control connection's), and the slot a
 * reload swaps (certificates made by openssl at run time). Real FTPS
 * servers are in tests/ftp. */
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

#define SAN "DNS:localhost,IP:127.0.0.1"
static char ocert[64], okey[64];

static int setup(void **state)
{
	(void)state;
	if (certs_setup("localhost", SAN))
		return -1;
	certs_path(ocert, sizeof(ocert), "c2.pem");
	certs_path(okey, sizeof(okey), "k2.pem");
	return certs_make(ocert, okey, "localhost", SAN) ? -1 : 0;
}

/* Moves what one side has to send to the other; the bytes moved. */
static size_t move(struct crypto_tls *from, struct crypto_tls *to)
{
	const uint8_t *p;
	size_t n = crypto_tls_out(from, &p);
	if (n) {
		assert_true(crypto_tls_feed(to, p, n));
		crypto_tls_sent(from, n);
	}
	return n;
}

/* Runs both handshakes to the end: 1 both done, CRYPTO_TLS_ERROR when the
 * client (or the server) gave up. *srv_bytes: what the server sent. */
static int handshake(struct crypto_tls *cli, struct crypto_tls *srv, size_t *srv_bytes)
{
	size_t sb = 0;
	for (int round = 0; round < 10; round++) {
		int c = crypto_tls_handshake(cli);
		move(cli, srv);
		int s = crypto_tls_handshake(srv);
		sb += move(srv, cli);
		if (c == CRYPTO_TLS_ERROR || s == CRYPTO_TLS_ERROR)
			return CRYPTO_TLS_ERROR;
		if (c == 1 && s == 1) {
			if (srv_bytes)
				*srv_bytes = sb;
			return 1;
		}
	}
	return CRYPTO_TLS_AGAIN;
}

/* "ping" to the server, "pong" back; the client's read also takes in the
 * TLS 1.3 session ticket that came after the handshake. */
static void ping_pong(struct crypto_tls *cli, struct crypto_tls *srv)
{
	char buf[16];
	assert_int_equal(crypto_tls_write(cli, "ping", 4), 0);
	move(cli, srv);
	assert_int_equal(crypto_tls_read(srv, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(crypto_tls_write(srv, "pong", 4), 0);
	move(srv, cli);
	assert_int_equal(crypto_tls_read(cli, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "pong", 4);
}

static int connect_to(struct crypto_tls_ctx *cc, struct crypto_tls_ctx *sc, const char *host)
{
	struct crypto_tls *cli = crypto_tls_client_new(cc, host), *srv = crypto_tls_new(sc);
	assert_non_null(cli);
	assert_non_null(srv);
	int r = handshake(cli, srv, NULL);
	if (r == 1)
		ping_pong(cli, srv);
	else
		assert_string_not_equal(crypto_tls_why(cli), "no error");
	crypto_tls_free(cli);
	crypto_tls_free(srv);
	return r;
}

static void test_verify(void **state)
{
	(void)state;
	char why[CRYPTO_ERR_LEN];
	struct crypto_tls_ctx *sc = crypto_tls_ctx_new(cert, key, why);
	struct crypto_tls_ctx *good = crypto_tls_client_ctx_new(cert, true, why);
	struct crypto_tls_ctx *other = crypto_tls_client_ctx_new(ocert, true, why);
	struct crypto_tls_ctx *insecure = crypto_tls_client_ctx_new(NULL, false, why);
	assert_non_null(sc);
	assert_non_null(good);
	assert_non_null(other);
	assert_non_null(insecure);

	assert_int_equal(connect_to(good, sc, "localhost"), 1);
	assert_int_equal(connect_to(good, sc, "127.0.0.1"), 1);
	assert_int_equal(connect_to(good, sc, "wrong.example"), CRYPTO_TLS_ERROR);
	assert_int_equal(connect_to(good, sc, "127.0.0.2"), CRYPTO_TLS_ERROR);
	assert_int_equal(connect_to(other, sc, "localhost"), CRYPTO_TLS_ERROR);
	assert_int_equal(connect_to(insecure, sc, "wrong.example"), 1);
	assert_int_equal(connect_to(insecure, sc, NULL), 1);

	crypto_tls_ctx_free(sc);
	crypto_tls_ctx_free(good);
	crypto_tls_ctx_free(other);
	crypto_tls_ctx_free(insecure);
}

static void test_ca_errors(void **state)
{
	(void)state;
	char why[CRYPTO_ERR_LEN];
	assert_null(crypto_tls_client_ctx_new("/nonexistent/ca.pem", true, why));
	assert_non_null(strstr(why, "CA file"));
	/* --insecure does not read the CA file at all */
	struct crypto_tls_ctx *c = crypto_tls_client_ctx_new("/nonexistent/ca.pem", false, why);
	assert_non_null(c);
	crypto_tls_ctx_free(c);
}

/* The server's context (cert, key) and a client's that trusts cert. */
static void pair(struct crypto_tls_ctx **sc, struct crypto_tls_ctx **cc)
{
	char why[CRYPTO_ERR_LEN];
	*sc = crypto_tls_ctx_new(cert, key, why);
	*cc = crypto_tls_client_ctx_new(cert, true, why);
	assert_non_null(*sc);
	assert_non_null(*cc);
}

/* A resumed handshake has the server send no certificate: its flight is
 * much shorter than the first one's. */
static void test_resumption(void **state)
{
	(void)state;
	struct crypto_tls_ctx *sc, *cc;
	pair(&sc, &cc);

	struct crypto_tls *cli = crypto_tls_client_new(cc, "localhost"), *srv = crypto_tls_new(sc);
	size_t full = 0, again = 0;
	assert_null(crypto_tls_session_get(cli));          /* no handshake yet */
	assert_int_equal(handshake(cli, srv, &full), 1);
	ping_pong(cli, srv);
	void *sess = crypto_tls_session_get(cli);
	assert_non_null(sess);

	struct crypto_tls *cli2 = crypto_tls_client_new(cc, "localhost"),
			  *srv2 = crypto_tls_new(sc);
	assert_true(crypto_tls_session_set(cli2, sess));
	assert_int_equal(handshake(cli2, srv2, &again), 1);
	ping_pong(cli2, srv2);
	assert_true(again + 200 < full);

	assert_false(crypto_tls_session_set(cli2, NULL));
	crypto_tls_session_free(sess);
	crypto_tls_session_free(NULL);
	crypto_tls_free(cli2);
	crypto_tls_free(srv2);
	crypto_tls_free(cli);
	crypto_tls_free(srv);
	crypto_tls_ctx_free(sc);
	crypto_tls_ctx_free(cc);
}

/* What the server sends in answer to the client's last flight (the call
 * in which its handshake ends): a TLS 1.3 session ticket, or nothing. */
static size_t after_finished(struct crypto_tls *cli, struct crypto_tls *srv)
{
	for (int round = 0; round < 10; round++) {
		int c = crypto_tls_handshake(cli);
		move(cli, srv);
		int s = crypto_tls_handshake(srv);
		size_t n = move(srv, cli);
		assert_int_not_equal(c, CRYPTO_TLS_ERROR);
		assert_int_not_equal(s, CRYPTO_TLS_ERROR);
		if (s == 1) {
			assert_int_equal(crypto_tls_handshake(cli), 1);
			return n;
		}
	}
	fail_msg("handshake did not end");
	return 0;
}

/* A PROT P data connection: it resumes sess, and its server (no tickets)
 * sends nothing after the handshake; then data both ways. */
static void data_connection(struct crypto_tls_ctx *sc, struct crypto_tls_ctx *cc, void *sess)
{
	struct crypto_tls *c = crypto_tls_client_new(cc, "localhost"), *s = crypto_tls_new(sc);
	crypto_tls_no_tickets(s);
	assert_true(crypto_tls_session_set(c, sess));
	assert_int_equal(after_finished(c, s), 0);
	assert_true(crypto_tls_resumed(s));
	ping_pong(c, s);
	crypto_tls_free(c);
	crypto_tls_free(s);
}

/* crypto_tls_no_tickets (PROT P data connections): nothing follows the
 * handshake, where a TLS 1.3 server otherwise sends a ticket; the session
 * resumed stays resumable, again and again. */
static void test_no_tickets(void **state)
{
	(void)state;
	struct crypto_tls_ctx *sc, *cc;
	pair(&sc, &cc);

	struct crypto_tls *cli = crypto_tls_client_new(cc, "localhost"), *srv = crypto_tls_new(sc);
	assert_true(after_finished(cli, srv) > 0);      /* the control connection's ticket */
	ping_pong(cli, srv);
	void *sess = crypto_tls_session_get(cli);
	assert_non_null(sess);
	for (int i = 0; i < 3; i++) {
		data_connection(sc, cc, sess);
	}
	/* a full handshake too */
	struct crypto_tls *c3 = crypto_tls_client_new(cc, "localhost"), *s3 = crypto_tls_new(sc);
	crypto_tls_no_tickets(s3);
	assert_int_equal(after_finished(c3, s3), 0);
	ping_pong(c3, s3);

	crypto_tls_session_free(sess);
	crypto_tls_free(c3);
	crypto_tls_free(s3);
	crypto_tls_free(cli);
	crypto_tls_free(srv);
	crypto_tls_ctx_free(sc);
	crypto_tls_ctx_free(cc);
}

/* crypto_tls_send_ticket (the control connection's next ticket for a
 * client that spent one on a data connection): not before the handshake;
 * after it, a ticket the client takes in with its next read and resumes. */
static void test_send_ticket(void **state)
{
	(void)state;
	char buf[16];
	struct crypto_tls_ctx *sc, *cc;
	pair(&sc, &cc);

	struct crypto_tls *cli = crypto_tls_client_new(cc, "localhost"), *srv = crypto_tls_new(sc);
	assert_false(crypto_tls_send_ticket(srv));
	assert_int_equal(handshake(cli, srv, NULL), 1);
	ping_pong(cli, srv);
	assert_false(crypto_tls_send_ticket(cli));           /* a client has none to give */
	for (int i = 0; i < 3; i++) {
		assert_true(crypto_tls_send_ticket(srv));
		assert_true(move(srv, cli) > 0);
		assert_int_equal(crypto_tls_read(cli, buf, sizeof(buf)), CRYPTO_TLS_AGAIN);
		void *sess = crypto_tls_session_get(cli);
		assert_non_null(sess);
		data_connection(sc, cc, sess);
		crypto_tls_session_free(sess);
	}
	ping_pong(cli, srv);                                  /* the stream goes on */

	crypto_tls_free(cli);
	crypto_tls_free(srv);
	crypto_tls_ctx_free(sc);
	crypto_tls_ctx_free(cc);
}

/* A slot (what a reload swaps): a connection taken before the swap keeps
 * the old context (and certificate) alive to its end; one taken after gets
 * the new one. */
static void handshake_slot(struct crypto_tls_ctx *cc, struct crypto_tls *srv, int want)
{
	struct crypto_tls *cli = crypto_tls_client_new(cc, "localhost");
	assert_non_null(cli);
	assert_non_null(srv);
	assert_int_equal(handshake(cli, srv, NULL), want);
	if (want == 1)
		ping_pong(cli, srv);
	crypto_tls_free(cli);
	crypto_tls_free(srv);
}

static void test_slot(void **state)
{
	(void)state;
	char why[CRYPTO_ERR_LEN];
	struct crypto_tls_ctx *first = crypto_tls_ctx_new(cert, key, why);
	struct crypto_tls_ctx *second = crypto_tls_ctx_new(ocert, okey, why);
	struct crypto_tls_ctx *trusts_first = crypto_tls_client_ctx_new(cert, true, why);
	struct crypto_tls_ctx *trusts_second = crypto_tls_client_ctx_new(ocert, true, why);
	assert_non_null(first);
	assert_non_null(second);
	assert_null(crypto_tls_slot_conn(NULL));
	assert_null(crypto_tls_slot_get(NULL));
	struct crypto_tls_slot *slot = crypto_tls_slot_new(first);
	assert_non_null(slot);
	struct crypto_tls *before = crypto_tls_slot_conn(slot);
	crypto_tls_slot_swap(slot, second);            /* first: only before holds it */
	struct crypto_tls *after = crypto_tls_slot_conn(slot);
	struct crypto_tls *after2 = crypto_tls_slot_conn(slot);
	struct crypto_tls_ctx *got = crypto_tls_slot_get(slot);
	assert_ptr_equal(got, second);
	crypto_tls_ctx_free(got);
	handshake_slot(trusts_first, before, 1);
	handshake_slot(trusts_second, after, 1);
	handshake_slot(trusts_first, after2, CRYPTO_TLS_ERROR);
	crypto_tls_slot_free(slot);
	crypto_tls_slot_free(NULL);
	crypto_tls_ctx_free(trusts_first);
	crypto_tls_ctx_free(trusts_second);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_ca_errors),
		cmocka_unit_test(test_resumption),
		cmocka_unit_test(test_no_tickets),
		cmocka_unit_test(test_send_ticket),
		cmocka_unit_test(test_slot),
	};
	return cmocka_run_group_tests(tests, setup, certs_teardown);
}
