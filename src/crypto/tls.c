/* tls.c — server-side TLS 1.2/1.3 connections on wolfSSL whose records come
 * from and go to memory buffers, so the engine owns every socket. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "ferry/crypto.h"

struct crypto_tls_ctx {
	WOLFSSL_CTX *ctx;
};

/* A byte queue: bytes [off, len) of p are pending. */
struct tbuf {
	uint8_t *p;
	size_t off, len, cap;
};

struct crypto_tls {
	WOLFSSL *ssl;
	struct tbuf in, out;
	bool ready, failed, oom;
	char why[CRYPTO_ERR_LEN];
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void tls_init(void)
{
	wolfSSL_Init();
}

static bool tbuf_add(struct tbuf *b, const void *p, size_t n)
{
	if (b->off && b->off == b->len)
		b->off = b->len = 0;
	if (b->len + n > b->cap) {
		if (b->off) {
			memmove(b->p, b->p + b->off, b->len - b->off);
			b->len -= b->off;
			b->off = 0;
		}
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		if (cap != b->cap) {
			uint8_t *q = realloc(b->p, cap);
			if (!q)
				return false;
			b->p = q;
			b->cap = cap;
		}
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return true;
}

/* wolfSSL's I/O callbacks: records come from t->in and go to t->out. */
static int io_recv(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	(void)ssl;
	struct crypto_tls *t = arg;
	size_t have = t->in.len - t->in.off;
	if (!have)
		return WOLFSSL_CBIO_ERR_WANT_READ;
	size_t n = (size_t)sz < have ? (size_t)sz : have;
	memcpy(buf, t->in.p + t->in.off, n);
	t->in.off += n;
	return (int)n;
}

static int io_send(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	(void)ssl;
	struct crypto_tls *t = arg;
	if (!tbuf_add(&t->out, buf, (size_t)sz)) {
		t->oom = true;
		return WOLFSSL_CBIO_ERR_GENERAL;
	}
	return sz;
}

/* wolfSSL 5.5.4's check_private_key accepts an EC key of the same curve
 * that is not the certificate's: a TLS 1.3 handshake in memory with a
 * client of our own proves the pair signs what the certificate says. */
static bool self_test(struct crypto_tls_ctx *c)
{
	WOLFSSL_CTX *cc = wolfSSL_CTX_new(wolfTLSv1_3_client_method());
	struct crypto_tls *srv = crypto_tls_new(c);
	struct crypto_tls *cli = calloc(1, sizeof(*cli));
	bool ok = false;
	if (!cc || !srv || !cli)
		goto out;
	wolfSSL_CTX_set_verify(cc, WOLFSSL_VERIFY_NONE, NULL);
	wolfSSL_CTX_SetIORecv(cc, io_recv);
	wolfSSL_CTX_SetIOSend(cc, io_send);
	if (!(cli->ssl = wolfSSL_new(cc)))
		goto out;
	wolfSSL_SetIOReadCtx(cli->ssl, cli);
	wolfSSL_SetIOWriteCtx(cli->ssl, cli);
	bool cdone = false;
	for (int round = 0; round < 8 && !ok; round++) {
		int r = wolfSSL_connect(cli->ssl);
		if (r == WOLFSSL_SUCCESS)
			cdone = true;
		else if (wolfSSL_get_error(cli->ssl, r) != WOLFSSL_ERROR_WANT_READ)
			break;
		const uint8_t *p;
		size_t n = crypto_tls_out(cli, &p);
		if (n && !crypto_tls_feed(srv, p, n))
			break;
		crypto_tls_sent(cli, n);
		int h = crypto_tls_handshake(srv);
		if (h == CRYPTO_TLS_ERROR)
			break;
		n = crypto_tls_out(srv, &p);
		if (n && !tbuf_add(&cli->in, p, n))
			break;
		crypto_tls_sent(srv, n);
		ok = cdone && h == 1;
	}
out:
	crypto_tls_free(cli);
	crypto_tls_free(srv);
	if (cc)
		wolfSSL_CTX_free(cc);
	return ok;
}

struct crypto_tls_ctx *crypto_tls_ctx_new(const char *cert_pem, const char *key_pem,
					  char why[CRYPTO_ERR_LEN])
{
	pthread_once(&init_once, tls_init);
	struct crypto_tls_ctx *c = calloc(1, sizeof(*c));
	if (!c || !(c->ctx = wolfSSL_CTX_new(wolfSSLv23_server_method()))) {
		snprintf(why, CRYPTO_ERR_LEN, "%s: out of memory", __func__);
		free(c);
		return NULL;
	}
	const char *what = NULL;
	if (wolfSSL_CTX_SetMinVersion(c->ctx, WOLFSSL_TLSV1_2) != WOLFSSL_SUCCESS)
		what = "cannot require TLS 1.2 or later";
	else if (wolfSSL_CTX_use_certificate_chain_file(c->ctx, cert_pem) != WOLFSSL_SUCCESS)
		what = "the certificate (chain) file cannot be read as PEM";
	else if (wolfSSL_CTX_use_PrivateKey_file(c->ctx, key_pem, WOLFSSL_FILETYPE_PEM) !=
		 WOLFSSL_SUCCESS)
		what = "the key file cannot be read as a PEM private key";
	else if (wolfSSL_CTX_check_private_key(c->ctx) != WOLFSSL_SUCCESS)
		what = "the key does not belong to the certificate";
	if (!what) {
		wolfSSL_CTX_SetIORecv(c->ctx, io_recv);
		wolfSSL_CTX_SetIOSend(c->ctx, io_send);
		if (!self_test(c))
			what = "the key does not belong to the certificate (a test "
			       "handshake failed)";
	}
	if (what) {
		snprintf(why, CRYPTO_ERR_LEN, "%s (%s, %s)", what, cert_pem, key_pem);
		crypto_tls_ctx_free(c);
		return NULL;
	}
	return c;
}

void crypto_tls_ctx_free(struct crypto_tls_ctx *c)
{
	if (!c)
		return;
	wolfSSL_CTX_free(c->ctx);
	free(c);
}

struct crypto_tls *crypto_tls_new(struct crypto_tls_ctx *ctx)
{
	struct crypto_tls *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	if (!(t->ssl = wolfSSL_new(ctx->ctx))) {
		free(t);
		return NULL;
	}
	wolfSSL_SetIOReadCtx(t->ssl, t);
	wolfSSL_SetIOWriteCtx(t->ssl, t);
	return t;
}

void crypto_tls_free(struct crypto_tls *t)
{
	if (!t)
		return;
	wolfSSL_free(t->ssl);
	free(t->in.p);
	free(t->out.p);
	free(t);
}

bool crypto_tls_feed(struct crypto_tls *t, const void *in, size_t len)
{
	if (t->in.len - t->in.off + len > CRYPTO_TLS_IN_MAX)
		return false;
	if (!tbuf_add(&t->in, in, len)) {
		t->oom = true;
		return false;
	}
	return true;
}

/* wolfSSL's verdict on a failed call: AGAIN, or ERROR with t->why set. */
static int verdict(struct crypto_tls *t, int ret, const char *op)
{
	int err = wolfSSL_get_error(t->ssl, ret);
	if (err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE)
		return CRYPTO_TLS_AGAIN;
	if (err == WOLFSSL_ERROR_ZERO_RETURN)
		return CRYPTO_TLS_CLOSED;
	char text[WOLFSSL_MAX_ERROR_SZ];
	wolfSSL_ERR_error_string_n((unsigned long)err, text, sizeof(text));
	snprintf(t->why, sizeof(t->why), "%s: %s", op, t->oom ? "out of memory" : text);
	t->failed = true;
	return CRYPTO_TLS_ERROR;
}

int crypto_tls_handshake(struct crypto_tls *t)
{
	if (t->ready)
		return 1;
	if (t->failed)
		return CRYPTO_TLS_ERROR;
	int r = wolfSSL_accept(t->ssl);
	if (r == WOLFSSL_SUCCESS) {
		t->ready = true;
		return 1;
	}
	int v = verdict(t, r, "handshake");
	return v == CRYPTO_TLS_CLOSED ? CRYPTO_TLS_ERROR : v;
}

bool crypto_tls_ready(const struct crypto_tls *t)
{
	return t->ready;
}

long crypto_tls_read(struct crypto_tls *t, void *out, size_t cap)
{
	if (!t->ready) {
		int h = crypto_tls_handshake(t);
		if (h != 1)
			return h;
	}
	if (t->failed)
		return CRYPTO_TLS_ERROR;
	int n = wolfSSL_read(t->ssl, out, cap > INT32_MAX ? INT32_MAX : (int)cap);
	if (n > 0)
		return n;
	return verdict(t, n, "read");
}

int crypto_tls_write(struct crypto_tls *t, const void *in, size_t len)
{
	if (!t->ready || t->failed)
		return CRYPTO_TLS_ERROR;
	const uint8_t *p = in;
	while (len) {
		int chunk = len > 16384 ? 16384 : (int)len;
		int n = wolfSSL_write(t->ssl, p, chunk);
		if (n <= 0) {
			/* output goes to memory: WANT_WRITE never happens */
			verdict(t, n, "write");
			t->failed = true;
			return CRYPTO_TLS_ERROR;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void crypto_tls_shutdown(struct crypto_tls *t)
{
	if (t->ready && !t->failed)
		(void)wolfSSL_shutdown(t->ssl);
}

size_t crypto_tls_out(const struct crypto_tls *t, const uint8_t **p)
{
	*p = t->out.p + t->out.off;
	return t->out.len - t->out.off;
}

void crypto_tls_sent(struct crypto_tls *t, size_t n)
{
	t->out.off += n;
	if (t->out.off == t->out.len)
		t->out.off = t->out.len = 0;
}

const char *crypto_tls_desc(const struct crypto_tls *t, char *out, size_t cap)
{
	const char *c = wolfSSL_get_cipher_name(t->ssl);
	snprintf(out, cap, "%s %s", wolfSSL_get_version(t->ssl), c ? c : "?");
	return out;
}

const char *crypto_tls_why(const struct crypto_tls *t)
{
	return t->why[0] ? t->why : "no error";
}

/* ---- resumption (FTPS data connections) -------------------------------- */

bool crypto_tls_resumed(const struct crypto_tls *t)
{
	return t->ready && wolfSSL_session_reused(t->ssl) == 1;
}

/* TLS 1.2 (session ID or ticket): the resumed session's ID is the one the
 * control connection's handshake made. A TLS 1.3 ticket carries an ID that
 * wolfSSL 5.5.4 keeps out of its public API, so there only "issued by this
 * context" can be told. */
int crypto_tls_resumed_from(const struct crypto_tls *data, const struct crypto_tls *ctl)
{
	if (!crypto_tls_resumed(data))
		return -1;
	if (!ctl || !ctl->ready || wolfSSL_version(data->ssl) != TLS1_2_VERSION ||
	    wolfSSL_version(ctl->ssl) != TLS1_2_VERSION)
		return 0;
	WOLFSSL_SESSION *a = wolfSSL_get_session(data->ssl), *b = wolfSSL_get_session(ctl->ssl);
	unsigned int na = 0, nb = 0;
	const unsigned char *ia = a ? wolfSSL_SESSION_get_id(a, &na) : NULL;
	const unsigned char *ib = b ? wolfSSL_SESSION_get_id(b, &nb) : NULL;
	if (!ia || !ib || !na)
		return 0;
	return na == nb && !memcmp(ia, ib, na) ? 1 : -1;
}
