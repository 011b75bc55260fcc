/* tls.c — FTPS (RFC 4217) on ftpc's blocking streams: AUTH TLS, PBSZ/PROT,
 * client handshakes that offer the control connection's session, and the
 * reads and writes of a stream in clear or inside TLS. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ferry/crypto.h"
#include "ftpc.h"

/* Sends all the ciphertext the TLS connection has queued: 0 or -1. */
static int flush(struct ftpc_stream *s)
{
	const uint8_t *p;
	size_t n;
	while ((n = crypto_tls_out(s->tls, &p))) {
		ssize_t w = send(s->fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return -1;
		crypto_tls_sent(s->tls, (size_t)w);
	}
	return 0;
}

/* More ciphertext from the socket: > 0, 0 at EOF, -1 on error. */
static long take_in(struct ftpc_stream *s)
{
	uint8_t buf[16 * 1024 + 64];
	ssize_t n = recv(s->fd, buf, sizeof(buf), 0);
	if (n > 0 && !crypto_tls_feed(s->tls, buf, (size_t)n))
		return -1;
	return n;
}

/* The handshake of s->tls, blocking: 0 or -1 (why in c->reply). */
static int handshake(struct ftpc_conn *c, struct ftpc_stream *s)
{
	for (;;) {
		int h = crypto_tls_handshake(s->tls);
		if (flush(s) < 0) {
			snprintf(c->reply, sizeof(c->reply), "TLS handshake: cannot send");
			return -1;
		}
		if (h == 1)
			break;
		if (h == CRYPTO_TLS_ERROR) {
			snprintf(c->reply, sizeof(c->reply), "TLS handshake failed: %s",
				 crypto_tls_why(s->tls));
			return -1;
		}
		long n = take_in(s);
		if (n <= 0) {
			snprintf(c->reply, sizeof(c->reply), "TLS handshake: the server %s",
				 n == 0 ? "closed the connection" : "did not answer in time");
			return -1;
		}
	}
	if (c->verbose) {
		char d[96];
		fprintf(stderr, "* TLS: %s%s\n", ftpc_stream_desc(s, d, sizeof(d)),
			crypto_tls_resumed(s->tls) ? ", session resumed" : "");
	}
	return 0;
}

int ftpc_stream_tls(struct ftpc_conn *c, struct ftpc_stream *s)
{
	if (s->have != s->off) {
		/* Bytes read before TLS could be an attacker's (CVE-2011-0411 kind). */
		snprintf(c->reply, sizeof(c->reply), "TLS: clear-text bytes before the handshake");
		return -1;
	}
	s->tls = crypto_tls_client_new(c->tls_ctx, c->tls_host);
	if (!s->tls) {
		snprintf(c->reply, sizeof(c->reply), "TLS: cannot set up a connection to '%s'",
			 c->tls_host ? c->tls_host : "");
		return -1;
	}
	void *sess = c->ctl.tls && s != &c->ctl ? crypto_tls_session_get(c->ctl.tls) : NULL;
	if (sess) {
		(void)crypto_tls_session_set(s->tls, sess);   /* refused: a full handshake */
		crypto_tls_session_free(sess);
	}
	return handshake(c, s);
}

long ftpc_stream_recv(struct ftpc_stream *s, void *buf, size_t cap)
{
	if (s->have > s->off) {
		size_t n = s->have - s->off < cap ? s->have - s->off : cap;
		memcpy(buf, s->buf + s->off, n);
		s->off += n;
		return (long)n;
	}
	if (!s->tls) {
		ssize_t n = recv(s->fd, buf, cap, 0);
		return n < 0 ? -1 : (long)n;
	}
	for (;;) {
		long r = crypto_tls_read(s->tls, buf, cap);
		if (flush(s) < 0)
			return -1;
		if (r > 0)
			return r;
		if (r == CRYPTO_TLS_CLOSED)
			return 0;
		if (r == CRYPTO_TLS_ERROR)
			return -1;
		long n = take_in(s);
		if (n <= 0)
			return n;    /* FIN without close_notify: the end, as most clients take it */
	}
}

int ftpc_stream_write(struct ftpc_stream *s, const void *p, size_t n)
{
	if (!s->tls) {
		const char *q = p;
		while (n) {
			ssize_t w = send(s->fd, q, n, MSG_NOSIGNAL);
			if (w <= 0)
				return -1;
			q += w;
			n -= (size_t)w;
		}
		return 0;
	}
	if (crypto_tls_write(s->tls, p, n) < 0)
		return -1;
	return flush(s);
}

void ftpc_stream_close(struct ftpc_stream *s)
{
	if (s->tls) {
		crypto_tls_shutdown(s->tls);
		(void)flush(s);
		crypto_tls_free(s->tls);
		s->tls = NULL;
	}
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->have = s->off = 0;
}

int ftpc_stream_finish(struct ftpc_stream *s)
{
	int r = 0;
	if (s->tls) {
		crypto_tls_shutdown(s->tls);
		r = flush(s);
		/* What the server sent and nobody read (TLS 1.3 session tickets
		 * on an upload) would make close() send a reset, which can cost
		 * the server the file's last bytes: read up to its close. */
		if (r == 0 && shutdown(s->fd, SHUT_WR) == 0) {
			char buf[4096];
			ssize_t n;
			size_t total = 0;
			while ((n = recv(s->fd, buf, sizeof(buf), 0)) > 0 && total < (1u << 20))
				total += (size_t)n;
			if (n < 0)
				r = -1;
		}
	}
	ftpc_stream_close(s);
	return r;
}

const char *ftpc_stream_desc(const struct ftpc_stream *s, char *out, size_t cap)
{
	if (!s->tls) {
		snprintf(out, cap, "clear");
		return out;
	}
	return crypto_tls_desc(s->tls, out, cap);
}

int ftpc_connect_tls(struct ftpc_conn *c, const char *host, const char *port, int timeout,
		     bool verbose, struct crypto_tls_ctx *ctx, bool implicit)
{
	if (!ctx)
		return ftpc_connect(c, host, port, timeout, verbose);
	/* ftpc_connect reads the greeting: implicit FTPS must first do TLS. */
	int r = ftpc_dial(c, host, port, timeout, verbose);
	c->tls_ctx = ctx;
	c->tls_host = host;
	c->implicit = implicit;
	if (r < 0)
		return -1;
	if (implicit && ftpc_stream_tls(c, &c->ctl) < 0)
		return -1;
	while ((r = ftpc_reply(c)) == 120)
		;
	return r;
}

int ftpc_auth_tls(struct ftpc_conn *c)
{
	if (c->ctl.tls)
		return 234;
	int r = ftpc_cmd(c, "AUTH TLS");
	if (r != 234)
		return r;
	return ftpc_stream_tls(c, &c->ctl) < 0 ? -1 : 234;
}

int ftpc_prot_p(struct ftpc_conn *c)
{
	int r = ftpc_cmd(c, "PBSZ 0");
	if (r == 200)
		r = ftpc_cmd(c, "PROT P");
	c->prot_p = r == 200;
	return r;
}
