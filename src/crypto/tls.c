/* tls.c — server-side TLS 1.2/1.3 connections on wolfSSL whose records come
 * from and go to memory buffers, so the engine owns every socket. */
#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/chacha20_poly1305.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "ferry/crypto.h"
#include "tls_internal.h"

enum { TICKET_KEY_LEN = CHACHA20_POLY1305_AEAD_KEYSIZE };

struct crypto_tls_ctx {
	WOLFSSL_CTX *ctx;
	/* References beyond the creator's (atomic): crypto_tls_ctx_ref adds
	 * one, crypto_tls_ctx_free drops one and frees below zero. */
	int extra_refs;
	/* SNI (crypto_tls_ctx_new_multi): the next certificate's context, owned
	 * by the first, and this one's certificate for name matching. */
	struct crypto_tls_ctx *alt;
	WOLFSSL_X509 *x509;
	/* Session tickets: sealed with this key, the same in every context a
	 * reload derives from the first (so tickets survive a reload). */
	bool ticket_key_set;
	uint8_t ticket_name[WOLFSSL_TICKET_NAME_SZ];
	uint8_t ticket_key[TICKET_KEY_LEN];
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
	if (t->kernel_tx)
		return sz;      /* the kernel sends this connection's records now */
	if (!tbuf_add(&t->out, buf, (size_t)sz)) {
		t->oom = true;
		return WOLFSSL_CBIO_ERR_GENERAL;
	}
	crypto_ktls_track(&t->track, (const uint8_t *)buf, (size_t)sz);
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

/* A context of one side, TLS 1.2 or later; NULL with why filled (fn: the
 * caller's name for the message). */
static struct crypto_tls_ctx *ctx_alloc(bool server, const char *fn, char why[CRYPTO_ERR_LEN])
{
	pthread_once(&init_once, tls_init);
	struct crypto_tls_ctx *c = calloc(1, sizeof(*c));
	if (!c || !(c->ctx = wolfSSL_CTX_new(server ? wolfSSLv23_server_method()
						    : wolfSSLv23_client_method()))) {
		snprintf(why, CRYPTO_ERR_LEN, "%s: out of memory", fn);
		free(c);
		return NULL;
	}
	if (wolfSSL_CTX_SetMinVersion(c->ctx, WOLFSSL_TLSV1_2) != WOLFSSL_SUCCESS) {
		snprintf(why, CRYPTO_ERR_LEN, "%s: cannot require TLS 1.2 or later", fn);
		crypto_tls_ctx_free(c);
		return NULL;
	}
	return c;
}

struct crypto_tls_ctx *crypto_tls_ctx_new(const char *cert_pem, const char *key_pem,
					  char why[CRYPTO_ERR_LEN])
{
	struct crypto_tls_ctx *c = ctx_alloc(true, __func__, why);
	if (!c)
		return NULL;
	const char *what = NULL;
	if (wolfSSL_CTX_use_certificate_chain_file(c->ctx, cert_pem) != WOLFSSL_SUCCESS)
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
	if (!c || __atomic_sub_fetch(&c->extra_refs, 1, __ATOMIC_ACQ_REL) >= 0)
		return;
	crypto_tls_ctx_free(c->alt);
	if (c->x509)
		wolfSSL_X509_free(c->x509);
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
	t->owner = crypto_tls_ctx_ref(ctx);
	wolfSSL_KeepArrays(t->ssl);      /* the master secret, for name_session */
	wolfSSL_SetIOReadCtx(t->ssl, t);
	wolfSSL_SetIOWriteCtx(t->ssl, t);
	return t;
}

void crypto_tls_free(struct crypto_tls *t)
{
	if (!t)
		return;
	wolfSSL_free(t->ssl);
	crypto_tls_ctx_free(t->owner);
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
	crypto_ktls_track(&t->rtrack, in, len);
	return true;
}

void crypto_tls_no_tickets(struct crypto_tls *t)
{
	/* fails (harmlessly) where TLS 1.3 is not offered: no ticket then */
	(void)wolfSSL_no_ticket_TLSv13(t->ssl);
}

bool crypto_tls_send_ticket(struct crypto_tls *t)
{
	if (!t->ready || t->failed || t->kernel_tx || wolfSSL_version(t->ssl) != TLS1_3_VERSION ||
	    !wolfSSL_is_server(t->ssl))
		return false;
	return wolfSSL_send_SessionTicket(t->ssl) == WOLFSSL_SUCCESS;
}

static void name_session(struct crypto_tls *t);

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
	/* client connections (crypto_tls_client_new) run the other side */
	int r = wolfSSL_is_server(t->ssl) ? wolfSSL_accept(t->ssl) : wolfSSL_connect(t->ssl);
	if (r == WOLFSSL_SUCCESS) {
		t->ready = true;
		name_session(t);
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
	if (t->failed || t->kernel_rx)
		return CRYPTO_TLS_ERROR;
	int n = wolfSSL_read(t->ssl, out, cap > INT32_MAX ? INT32_MAX : (int)cap);
	if (n > 0)
		return n;
	return verdict(t, n, "read");
}

/* Room for len more bytes in one allocation (no doubling chain of
 * reallocs, each copying what is there, after crypto_tls_out_take). */
static bool tbuf_reserve(struct tbuf *b, size_t len)
{
	if (b->len + len <= b->cap)
		return true;
	if (b->off) {
		memmove(b->p, b->p + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	size_t cap = b->len + len;
	if (cap <= b->cap)
		return true;
	uint8_t *q = realloc(b->p, cap);
	if (!q)
		return false;
	b->p = q;
	b->cap = cap;
	return true;
}

int crypto_tls_write(struct crypto_tls *t, const void *in, size_t len)
{
	if (!t->ready || t->failed || t->kernel_tx)
		return CRYPTO_TLS_ERROR;
	/* records of 16 KiB add at most 29 bytes each (header, explicit
	 * nonce, tag); TLS 1.3 fewer */
	if (!tbuf_reserve(&t->out, len + len / 256 + 256)) {
		t->oom = true;
		t->failed = true;
		snprintf(t->why, sizeof(t->why), "write: out of memory");
		return CRYPTO_TLS_ERROR;
	}
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
	if (t->ready && !t->failed && !t->kernel_tx)
		(void)wolfSSL_shutdown(t->ssl);
}

size_t crypto_tls_out(const struct crypto_tls *t, const uint8_t **p)
{
	size_t n = t->out.len - t->out.off;
	*p = n ? t->out.p + t->out.off : NULL;   /* nothing yet: no buffer, and NULL + 0 is UB */
	return n;
}

void *crypto_tls_out_take(struct crypto_tls *t, size_t *len, size_t *cap)
{
	if (t->out.off || !t->out.len)
		return NULL;
	void *p = t->out.p;
	*len = t->out.len;
	*cap = t->out.cap;
	t->out = (struct tbuf){ 0 };
	return p;
}

void crypto_tls_out_untake(struct crypto_tls *t, void *p, size_t len, size_t cap)
{
	assert(!t->out.p);
	t->out = (struct tbuf){ .p = p, .len = len, .cap = cap };
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

/* ---- shared contexts: references, SNI, tickets across reloads ---------- */

struct crypto_tls_ctx *crypto_tls_ctx_ref(struct crypto_tls_ctx *c)
{
	if (c)
		__atomic_add_fetch(&c->extra_refs, 1, __ATOMIC_RELAXED);
	return c;
}

/* The first context whose certificate names host (subject CN or a SAN,
 * wildcards as RFC 6125 allows them), or NULL. */
static struct crypto_tls_ctx *sni_match(struct crypto_tls_ctx *head, const char *host)
{
	for (struct crypto_tls_ctx *c = head; c; c = c->alt)
		if (c->x509 && wolfSSL_X509_check_host(c->x509, host, strlen(host), 0, NULL) ==
		    WOLFSSL_SUCCESS)
			return c;
	return NULL;
}

/* The ClientHello's server name picks the certificate; no name, or one that
 * no certificate has, gets the first (never an alert: FTP clients often
 * connect by address). */
static int sni_pick(WOLFSSL *ssl, int *alert, void *arg)
{
	(void)alert;
	struct crypto_tls_ctx *head = arg;
	const char *host = wolfSSL_get_servername(ssl, WOLFSSL_SNI_HOST_NAME);
	struct crypto_tls_ctx *c = host && *host ? sni_match(head, host) : NULL;
	if (c && c != head)
		wolfSSL_set_SSL_CTX(ssl, c->ctx);
	return 0;
}

/* Session tickets sealed with ChaCha20-Poly1305 under the context's key: a
 * reloaded context that inherits the key still opens the tickets given out
 * before the reload, so data connections of sessions in progress resume
 * (the resumption check itself lives with the data connections). */
static int ticket_seal(WOLFSSL *ssl, unsigned char name[WOLFSSL_TICKET_NAME_SZ],
		       unsigned char iv[WOLFSSL_TICKET_IV_SZ],
		       unsigned char mac[WOLFSSL_TICKET_MAC_SZ], int enc, unsigned char *ticket,
		       int in_len, int *out_len, void *arg)
{
	(void)ssl;
	struct crypto_tls_ctx *c = arg;
	uint8_t aad[WOLFSSL_TICKET_NAME_SZ + WOLFSSL_TICKET_IV_SZ + sizeof(int)];
	if (enc) {
		struct crypto_rng *rng = crypto_thread_rng();
		if (!rng || crypto_random(rng, iv, WOLFSSL_TICKET_IV_SZ) < 0)
			return WOLFSSL_TICKET_RET_FATAL;
		memcpy(name, c->ticket_name, WOLFSSL_TICKET_NAME_SZ);
	} else if (memcmp(name, c->ticket_name, WOLFSSL_TICKET_NAME_SZ)) {
		return WOLFSSL_TICKET_RET_REJECT;   /* another key's: a full handshake */
	}
	memcpy(aad, name, WOLFSSL_TICKET_NAME_SZ);
	memcpy(aad + WOLFSSL_TICKET_NAME_SZ, iv, WOLFSSL_TICKET_IV_SZ);
	memcpy(aad + WOLFSSL_TICKET_NAME_SZ + WOLFSSL_TICKET_IV_SZ, &in_len, sizeof(in_len));
	int r = enc ? wc_ChaCha20Poly1305_Encrypt(c->ticket_key, iv, aad, sizeof(aad), ticket,
						  (word32)in_len, ticket, mac)
		    : wc_ChaCha20Poly1305_Decrypt(c->ticket_key, iv, aad, sizeof(aad), ticket,
						  (word32)in_len, mac, ticket);
	if (r)
		return enc ? WOLFSSL_TICKET_RET_FATAL : WOLFSSL_TICKET_RET_REJECT;
	*out_len = in_len;
	return WOLFSSL_TICKET_RET_OK;
}

static bool ticket_setup(struct crypto_tls_ctx *c, const struct crypto_tls_ctx *from)
{
	if (from && from->ticket_key_set) {
		memcpy(c->ticket_name, from->ticket_name, sizeof(c->ticket_name));
		memcpy(c->ticket_key, from->ticket_key, sizeof(c->ticket_key));
	} else {
		struct crypto_rng *rng = crypto_rng_new();
		bool ok = rng && crypto_random(rng, c->ticket_name, sizeof(c->ticket_name)) == 0 &&
			  crypto_random(rng, c->ticket_key, sizeof(c->ticket_key)) == 0;
		crypto_rng_free(rng);
		if (!ok)
			return false;
	}
	c->ticket_key_set = true;
	return wolfSSL_CTX_set_TicketEncCb(c->ctx, ticket_seal) == WOLFSSL_SUCCESS &&
	       wolfSSL_CTX_set_TicketEncCtx(c->ctx, c) == WOLFSSL_SUCCESS;
}

struct crypto_tls_ctx *crypto_tls_ctx_new_multi(const struct crypto_tls_cert *certs, size_t n,
						const struct crypto_tls_ctx *inherit,
						char why[CRYPTO_ERR_LEN])
{
	struct crypto_tls_ctx *head = NULL, **tail = &head;
	for (size_t i = 0; i < n; i++) {
		struct crypto_tls_ctx *c = crypto_tls_ctx_new(certs[i].cert_pem, certs[i].key_pem, why);
		if (!c)
			goto fail;
		*tail = c;
		tail = &c->alt;
		if (!(c->x509 = wolfSSL_X509_load_certificate_file(certs[i].cert_pem,
								   WOLFSSL_FILETYPE_PEM))) {
			snprintf(why, CRYPTO_ERR_LEN, "the certificate's names cannot be read (%s)",
				 certs[i].cert_pem);
			goto fail;
		}
		if (!ticket_setup(c, c == head ? inherit : head)) {
			snprintf(why, CRYPTO_ERR_LEN, "%s: cannot set up session tickets", __func__);
			goto fail;
		}
	}
	if (!head) {
		snprintf(why, CRYPTO_ERR_LEN, "%s: no certificate", __func__);
		return NULL;
	}
	if (head->alt) {
		wolfSSL_CTX_set_servername_callback(head->ctx, sni_pick);
		wolfSSL_CTX_set_servername_arg(head->ctx, head);
	}
	return head;
fail:
	crypto_tls_ctx_free(head);
	return NULL;
}

int crypto_tls_ctx_limit(struct crypto_tls_ctx *c, int max_minor, const char *ciphers)
{
	int v = max_minor == 2 ? TLS1_2_VERSION : TLS1_3_VERSION;
	if (wolfSSL_CTX_set_max_proto_version(c->ctx, v) != WOLFSSL_SUCCESS)
		return -1;
	if (ciphers && wolfSSL_CTX_set_cipher_list(c->ctx, ciphers) != WOLFSSL_SUCCESS)
		return -1;
	return 0;
}

const char *crypto_tls_ctx_subject(const struct crypto_tls_ctx *c, char *out, size_t cap)
{
	out[0] = '\0';
	WOLFSSL_X509_NAME *nm = c->x509 ? wolfSSL_X509_get_subject_name(c->x509) : NULL;
	if (!nm || !wolfSSL_X509_NAME_oneline(nm, out, (int)cap))
		snprintf(out, cap, "?");
	return out;
}

/* ---- client side: connections to FTPS servers (ferry-ftp, its bridge) ---- */

struct crypto_tls_ctx *crypto_tls_client_ctx_new(const char *ca_pem_or_NULL, bool verify,
						 char why[CRYPTO_ERR_LEN])
{
	struct crypto_tls_ctx *c = ctx_alloc(false, __func__, why);
	if (!c)
		return NULL;
	const char *what = NULL;
	if (verify && ca_pem_or_NULL &&
		 wolfSSL_CTX_load_verify_locations(c->ctx, ca_pem_or_NULL, NULL) !=
			 WOLFSSL_SUCCESS)
		what = "the CA file cannot be read as PEM certificates";
	else if (verify && !ca_pem_or_NULL &&
		 wolfSSL_CTX_set_default_verify_paths(c->ctx) != WOLFSSL_SUCCESS)
		what = "the system's CA certificates cannot be loaded";
	if (what) {
		snprintf(why, CRYPTO_ERR_LEN, "%s: %s%s%s", __func__, what,
			 ca_pem_or_NULL ? " " : "", ca_pem_or_NULL ? ca_pem_or_NULL : "");
		crypto_tls_ctx_free(c);
		return NULL;
	}
	wolfSSL_CTX_set_verify(c->ctx, verify ? WOLFSSL_VERIFY_PEER : WOLFSSL_VERIFY_NONE,
			       NULL);
	wolfSSL_CTX_SetIORecv(c->ctx, io_recv);
	wolfSSL_CTX_SetIOSend(c->ctx, io_send);
	return c;
}

/* An IPv4 or IPv6 literal: checked against the certificate's IP
 * addresses, and never sent as SNI (RFC 6066 3). */
static bool ip_literal(const char *host)
{
	for (const char *p = host; *p; p++)
		if (!((*p >= '0' && *p <= '9') || *p == '.'))
			return strchr(host, ':') != NULL;
	return true;
}

struct crypto_tls *crypto_tls_client_new(struct crypto_tls_ctx *ctx, const char *sni_host_or_NULL)
{
	struct crypto_tls *t = crypto_tls_new(ctx);
	if (!t || !sni_host_or_NULL)
		return t;
	const char *h = sni_host_or_NULL;
	bool verify = wolfSSL_get_verify_mode(t->ssl) & WOLFSSL_VERIFY_PEER, ok = true;
	if (ip_literal(h)) {
		if (verify)
			ok = wolfSSL_X509_VERIFY_PARAM_set1_ip_asc(wolfSSL_get0_param(t->ssl),
								   h) == WOLFSSL_SUCCESS;
	} else {
		ok = wolfSSL_UseSNI(t->ssl, WOLFSSL_SNI_HOST_NAME, h, (unsigned short)strlen(h)) ==
			     WOLFSSL_SUCCESS &&
		     (!verify || wolfSSL_check_domain_name(t->ssl, h) == WOLFSSL_SUCCESS);
	}
	if (!ok) {
		crypto_tls_free(t);
		return NULL;
	}
	return t;
}

void *crypto_tls_session_get(struct crypto_tls *t)
{
	return t->ready ? wolfSSL_get1_session(t->ssl) : NULL;
}

bool crypto_tls_session_set(struct crypto_tls *t, void *session)
{
	return session && wolfSSL_set_session(t->ssl, session) == WOLFSSL_SUCCESS;
}

void crypto_tls_session_free(void *session)
{
	if (session)
		wolfSSL_SESSION_free(session);
}

void crypto_tls_thread_end(void)
{
#ifdef FP_ECC
	wc_ecc_fp_free();      /* the thread's fixed-point ECC cache */
#endif
}

/* ---- resumption (FTPS data connections) -------------------------------- */

bool crypto_tls_resumed(const struct crypto_tls *t)
{
	return t->ready && wolfSSL_session_reused(t->ssl) == 1;
}

/* At the handshake's end: a TLS 1.2 connection's session named by a digest
 * of its master secret, which a resumption keeps, by session ID or by
 * ticket alike (the session ID does not: a client resuming by ticket sends
 * one of its own, and a server that gave a ticket none). The secret lives
 * in wolfSSL's handshake arrays, kept for this (crypto_tls_new) and freed
 * here. */
static void name_session(struct crypto_tls *t)
{
	static const char label[] = "ferry FTPS data connection origin";
	uint8_t in[sizeof(label) + WOLFSSL_MAX_MASTER_KEY_LENGTH];
	unsigned char *ms = NULL, *sr = NULL, *cr = NULL;
	unsigned int msn = 0, srn = 0, crn = 0;
	if (wolfSSL_version(t->ssl) == TLS1_2_VERSION &&
	    wolfSSL_get_keys(t->ssl, &ms, &msn, &sr, &srn, &cr, &crn) == WOLFSSL_SUCCESS &&
	    ms && msn && msn <= WOLFSSL_MAX_MASTER_KEY_LENGTH) {
		memcpy(in, label, sizeof(label));
		memcpy(in + sizeof(label), ms, msn);
		t->named = wc_Sha256Hash(in, (word32)(sizeof(label) + msn), t->name) == 0;
		explicit_bzero(in, sizeof(in));
	}
	wolfSSL_FreeArrays(t->ssl);
}

void crypto_tls_origin_of(const struct crypto_tls *ctl, struct crypto_tls_origin *o)
{
	memset(o, 0, sizeof(*o));
	if (ctl && ctl->named) {
		memcpy(o->id, ctl->name, sizeof(ctl->name));
		o->len = sizeof(ctl->name);
	}
}

int crypto_tls_resumed_from(const struct crypto_tls *data, const struct crypto_tls_origin *ctl)
{
	if (!crypto_tls_resumed(data))
		return -1;
	if (!ctl->len || !data->named)
		return 0;
	return ctl->len == sizeof(data->name) && !memcmp(data->name, ctl->id, ctl->len) ? 1 : -1;
}

const char *crypto_tls_reuse_refusal(const struct crypto_tls *data,
				     const struct crypto_tls_origin *ctl)
{
	if (!crypto_tls_resumed(data))
		return "the client did not resume the control connection's TLS session";
	if (crypto_tls_resumed_from(data, ctl) < 0)
		return "the client resumed a TLS session of another connection";
	return NULL;
}
