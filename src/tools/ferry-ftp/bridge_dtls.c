/* bridge_dtls.c — a bridge transfer's data connection inside TLS (the
 * server accepted PROT P): AUTH TLS on the SPSV connection after its 220,
 * a handshake offering the control connection's session, the login inside
 * TLS, then the bytes decrypted to or encrypted from the client's plain data
 * connection through one bounded buffer, ended by close_notify. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "bridge.h"
#include "ferry/crypto.h"
#include "ferry_ftp.h"

enum { UBUF = 64 * 1024, CHUNK = 16 * 1024 + 64 };

void ftpc_br_dtls_end(struct br_session *s)
{
	crypto_tls_free(s->dtls);
	s->dtls = NULL;
	free(s->ubuf);
	s->ubuf = NULL;
	s->u_len = s->u_off = 0;
	s->dt = BR_DT_NONE;
	s->d_shut = s->d_eof = false;
}

/* Sends the ciphertext queued: false when the connection broke. */
static bool push(struct br_session *s)
{
	return ftpc_br_tls_push(s->dtls, s->sd.fd);
}

static bool pending(const struct br_session *s)
{
	return ftpc_br_tls_pending(s->dtls);
}

bool ftpc_br_dtls_start(struct br_session *s, const char **why)
{
	s->dtls = crypto_tls_client_new(s->b->tls_ctx, s->b->tls_host);
	s->ubuf = malloc(UBUF);
	if (!s->dtls || !s->ubuf) {
		*why = "no memory for the data connection's TLS";
		return false;
	}
	void *sess = crypto_tls_session_get(s->stls);
	if (sess) {
		(void)crypto_tls_session_set(s->dtls, sess);
		crypto_tls_session_free(sess);
	}
	s->dt = BR_DT_HS;
	return true;
}

int ftpc_br_dtls_send(struct br_session *s, const char *p, size_t n)
{
	return crypto_tls_write(s->dtls, p, n) == 0 && push(s) ? 0 : -1;
}

int ftpc_br_dtls_login_input(struct br_session *s, const char **why)
{
	uint8_t buf[CHUNK];
	ssize_t n = recv(s->sd.fd, buf, sizeof(buf), 0);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		*why = "the server closed the data connection during its TLS login";
		return -1;
	}
	if (n > 0 && !crypto_tls_feed(s->dtls, buf, (size_t)n)) {
		*why = "too much TLS input during the data connection's login";
		return -1;
	}
	if (s->dt == BR_DT_HS) {
		int h = crypto_tls_handshake(s->dtls);
		if (!push(s) || h == CRYPTO_TLS_ERROR) {
			*why = crypto_tls_why(s->dtls);
			return -1;
		}
		if (h != 1)
			return 0;
		s->dt = BR_DT_LOGIN;
		if (s->b->verbose) {
			char d[96];
			fprintf(stderr, "%s bridge: data connection in TLS: %s%s\n", FERRY_FTP_PROG,
				crypto_tls_desc(s->dtls, d, sizeof(d)),
				crypto_tls_resumed(s->dtls) ? ", session resumed" : "");
		}
		return 1;      /* the login may start */
	}
	/* one record a read: take all that came, or replies would wait */
	while (s->dlin_len < sizeof(s->dlin)) {
		long r = crypto_tls_read(s->dtls, s->dlin + s->dlin_len,
					 sizeof(s->dlin) - s->dlin_len);
		if (!push(s) || r == CRYPTO_TLS_ERROR || r == CRYPTO_TLS_CLOSED) {
			*why = "the data connection's TLS broke during its login";
			return -1;
		}
		if (r <= 0)
			break;
		s->dlin_len += (size_t)r;
	}
	return 0;
}

/* Download: the server's records, decrypted, to the client. */
static const char *pump_down(struct br_session *s)
{
	for (int round = 0; round < 64; round++) {
		while (s->u_len > s->u_off) {
			ssize_t w = send(s->cd.fd, s->ubuf + s->u_off, s->u_len - s->u_off,
					 MSG_NOSIGNAL);
			if (w < 0)
				return errno == EAGAIN || errno == EINTR ? NULL : strerror(errno);
			s->u_off += (size_t)w;
		}
		s->u_len = s->u_off = 0;
		if (s->src_eof)
			return NULL;
		long r = crypto_tls_read(s->dtls, s->ubuf, UBUF);
		if (!push(s))
			return "the server's data connection broke";
		if (r > 0) {
			s->u_len = (size_t)r;
			continue;
		}
		if (r == CRYPTO_TLS_CLOSED) {
			s->src_eof = true;
			return NULL;
		}
		if (r == CRYPTO_TLS_ERROR)
			return crypto_tls_why(s->dtls);
		uint8_t buf[CHUNK];
		ssize_t n = recv(s->sd.fd, buf, sizeof(buf), 0);
		if (n > 0 && !crypto_tls_feed(s->dtls, buf, (size_t)n))
			return "TLS input bound";
		if (n == 0)
			s->src_eof = true;   /* FIN without close_notify: the 226 decides */
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? NULL : strerror(errno);
	}
	return NULL;
}

/* What the server sends during an upload (TLS 1.3 tickets, its close_notify)
 * is read and dropped, so that closing never turns into a reset. */
static const char *drain_server(struct br_session *s)
{
	uint8_t buf[CHUNK];
	for (;;) {
		ssize_t n = recv(s->sd.fd, buf, sizeof(buf), 0);
		if (n == 0) {
			s->d_eof = true;
			return NULL;
		}
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? NULL : strerror(errno);
		if (!crypto_tls_feed(s->dtls, buf, (size_t)n))
			return "TLS input bound";
		long r;
		while ((r = crypto_tls_read(s->dtls, buf, sizeof(buf))) > 0)
			;
		if (r == CRYPTO_TLS_ERROR && !s->d_shut)
			return crypto_tls_why(s->dtls);
	}
}

/* Upload: the client's bytes, encrypted, to the server; at their end
 * close_notify, a half-close, and the server's own close awaited. */
static const char *pump_up(struct br_session *s)
{
	const char *err = drain_server(s);
	if (err)
		return err;
	for (int round = 0; round < 64; round++) {
		if (!push(s))
			return "the server's data connection broke";
		if (pending(s))
			return NULL;             /* EPOLLOUT on the server side */
		if (s->src_eof) {
			if (!s->d_shut) {
				crypto_tls_shutdown(s->dtls);
				s->d_shut = true;
				continue;
			}
			if (shutdown(s->sd.fd, SHUT_WR) < 0 && errno != ENOTCONN)
				return strerror(errno);
			return NULL;
		}
		ssize_t n = recv(s->cd.fd, s->ubuf, UBUF, 0);
		if (n > 0 && crypto_tls_write(s->dtls, s->ubuf, (size_t)n) < 0)
			return crypto_tls_why(s->dtls);
		if (n == 0)
			s->src_eof = true;
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? NULL : strerror(errno);
	}
	/* The end came in the last round: its close_notify must still start,
	 * or nothing would wake the session (the client's side is done). */
	return s->src_eof && !s->d_shut ? pump_up(s) : NULL;
}

const char *ftpc_br_dtls_pump(struct br_session *s)
{
	if (s->cd.fd < 0 || s->cd.connecting)
		return NULL;           /* the client's side is not there yet */
	return s->up ? pump_up(s) : pump_down(s);
}

bool ftpc_br_dtls_done(const struct br_session *s)
{
	if (s->up)
		return s->src_eof && s->d_shut && !pending(s) && s->d_eof;
	return s->src_eof && s->u_len == s->u_off;
}

uint32_t ftpc_br_dtls_want(const struct br_session *s, const struct br_ep *e)
{
	bool server = e == &s->sd;
	if (s->up) {
		if (server)
			return (s->d_eof ? 0 : EPOLLIN) | (pending(s) ? EPOLLOUT : 0);
		return !s->src_eof && !pending(s) ? EPOLLIN : 0;
	}
	if (server)
		return !s->src_eof && s->u_len == s->u_off ? EPOLLIN : 0;
	return s->u_len > s->u_off ? EPOLLOUT : 0;
}
