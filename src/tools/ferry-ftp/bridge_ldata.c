/* bridge_ldata.c — a transfer whose local data connection is inside TLS (the
 * client sent PROT P to the bridge): the bridge is the TLS server there, in
 * passive and active mode; the handshake, the check that the client resumed
 * its control connection's session (unless --local-no-reuse), then the bytes
 * through one bounded plaintext buffer between that connection and the
 * server's, which is in clear or in TLS as the server's PROT decided. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "bridge.h"
#include "ferry/crypto.h"
#include "ferry_ftp.h"

enum { LBUF = 64 * 1024, CHUNK = 16 * 1024 + 64, ROUNDS = 64 };

/* One end of the transfer: a socket, and its TLS when there is one. */
struct side {
	int fd;
	struct crypto_tls *t;
};

static struct side client_side(const struct br_session *s)
{
	return (struct side){ .fd = s->cd.fd, .t = s->ldtls };
}

static struct side server_side(const struct br_session *s)
{
	return (struct side){ .fd = s->sd.fd, .t = s->dtls };
}

static struct side src_side(const struct br_session *s)
{
	return s->up ? client_side(s) : server_side(s);
}

static struct side dst_side(const struct br_session *s)
{
	return s->up ? server_side(s) : client_side(s);
}

void ftpc_br_ldata_end(struct br_session *s)
{
	crypto_tls_free(s->ldtls);
	s->ldtls = NULL;
	free(s->lbuf);
	s->lbuf = NULL;
	s->l_len = s->l_off = 0;
	s->l_cshut = s->l_ceof = s->l_sshut = s->l_seof = s->l_half = s->l_refused = false;
}

/* Sends the side's queued ciphertext: false when its connection broke. */
static bool push(struct side x)
{
	return ftpc_br_tls_push(x.t, x.fd);
}

static bool pending(struct side x)
{
	return ftpc_br_tls_pending(x.t);
}

static bool ready(const struct br_session *s)
{
	return s->ldtls && crypto_tls_ready(s->ldtls) && !s->l_refused;
}

/* NULL when the data connection may carry the session's data, else why not:
 * ferryd's ftp.tls.require_reuse rule, the one crypto keeps for every FTPS
 * server (in TLS 1.2 the control connection's own session; TLS 1.3 tickets
 * tell only that this bridge issued them). */
static const char *reuse_refusal(const struct br_session *s)
{
	if (!s->b->lreuse)
		return NULL;
	struct crypto_tls_origin ctl;
	crypto_tls_origin_of(s->ctls, &ctl);
	return crypto_tls_reuse_refusal(s->ldtls, &ctl);
}

/* The client's ClientHello and the rest of the handshake: NULL (done or not
 * yet), or why it failed. */
static const char *handshake(struct br_session *s)
{
	if (!s->ldtls) {
		s->ldtls = crypto_tls_new(s->b->ltls_ctx);
		s->l_hs_since = ftpc_br_now();
		s->lbuf = malloc(LBUF);
		if (!s->ldtls || !s->lbuf)
			return "no memory for the client's data connection TLS";
		/* A ticket here would come after the handshake, when an uploading
		 * client may no longer read (curl reads once, before its
		 * close_notify): unread at its close, it resets the connection and
		 * the upload's tail is lost. The control connection gives it. */
		crypto_tls_no_tickets(s->ldtls);
	}
	uint8_t buf[CHUNK];
	ssize_t n = recv(s->cd.fd, buf, sizeof(buf), 0);
	if (n == 0)
		return "the client closed its data connection during the TLS handshake";
	if (n < 0 && errno != EAGAIN && errno != EINTR)
		return strerror(errno);
	if (n > 0 && !crypto_tls_feed(s->ldtls, buf, (size_t)n))
		return "too much TLS input on the client's data connection";
	int h = crypto_tls_handshake(s->ldtls);
	if (!push(client_side(s)) || h == CRYPTO_TLS_ERROR)
		return crypto_tls_why(s->ldtls);
	if (h != 1)
		return NULL;
	const char *why = reuse_refusal(s);
	if (why) {
		s->l_refused = true;
		return why;
	}
	if (crypto_tls_resumed(s->ldtls))
		ftpc_br_client_next_ticket(s);
	if (s->b->verbose) {
		char d[96];
		fprintf(stderr, "%s bridge: client's data connection in TLS: %s%s\n",
			FERRY_FTP_PROG, crypto_tls_desc(s->ldtls, d, sizeof(d)),
			crypto_tls_resumed(s->ldtls) ? ", session resumed" : "");
	}
	return NULL;
}

/* Plaintext from a side: bytes, 0 at its end (close_notify, or FIN), -2
 * for nothing yet, -1 with why. The client's close_notify is answered with
 * the bridge's (ftplib's unwrap waits for it). */
static long read_plain(struct br_session *s, struct side x, const char **why)
{
	if (!x.t) {
		ssize_t n = recv(x.fd, s->lbuf, LBUF, 0);
		if (n >= 0)
			return n;
		*why = strerror(errno);
		return errno == EAGAIN || errno == EINTR ? -2 : -1;
	}
	for (;;) {
		long r = crypto_tls_read(x.t, s->lbuf, LBUF);
		if (r > 0)
			return r;
		if (r == CRYPTO_TLS_CLOSED) {
			if (x.t == s->ldtls && !s->l_cshut) {
				crypto_tls_shutdown(x.t);
				s->l_cshut = true;
			}
			return push(x) ? 0 : -1;
		}
		if (r == CRYPTO_TLS_ERROR) {
			*why = crypto_tls_why(x.t);
			return -1;
		}
		uint8_t buf[CHUNK];
		ssize_t n = recv(x.fd, buf, sizeof(buf), 0);
		if (n == 0)
			return 0;            /* FIN without close_notify: the 226 decides */
		if (n < 0) {
			*why = strerror(errno);
			return errno == EAGAIN || errno == EINTR ? -2 : -1;
		}
		if (!crypto_tls_feed(x.t, buf, (size_t)n)) {
			*why = "TLS input bound";
			return -1;
		}
	}
}

/* What the receiving side sends meanwhile (TLS 1.3 tickets from the
 * server, a close_notify) is read and dropped, so that closing never turns
 * into a reset; its end is noted. */
static const char *drain(struct side x, bool *eof)
{
	uint8_t buf[CHUNK];
	while (x.t && !*eof) {
		ssize_t n = recv(x.fd, buf, sizeof(buf), 0);
		if (n == 0) {
			*eof = true;
			break;
		}
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? NULL : strerror(errno);
		if (!crypto_tls_feed(x.t, buf, (size_t)n))
			return "TLS input bound";
		long r;
		while ((r = crypto_tls_read(x.t, buf, sizeof(buf))) > 0)
			;
		if (r == CRYPTO_TLS_ERROR)
			return crypto_tls_why(x.t);
	}
	return NULL;
}

static bool *dst_eof(struct br_session *s)
{
	return s->up ? &s->l_seof : &s->l_ceof;
}

/* The source has ended and everything is written: close_notify toward a
 * TLS destination, and toward the server a half-close (its close is
 * awaited, as bridge_dtls.c does). */
static const char *finish(struct br_session *s, struct side dst)
{
	if (!dst.t)
		return NULL;
	bool *shut = s->up ? &s->l_sshut : &s->l_cshut;
	if (!*shut) {
		crypto_tls_shutdown(dst.t);
		*shut = true;
	}
	if (!push(dst))
		return "the data connection broke at its close";
	if (!s->up || pending(dst) || s->l_half)
		return NULL;
	if (shutdown(dst.fd, SHUT_WR) < 0 && errno != ENOTCONN)
		return strerror(errno);
	s->l_half = true;
	if (s->b->verbose)
		fprintf(stderr, "%s bridge: upload's end: close_notify and FIN to the server\n",
			FERRY_FTP_PROG);
	return NULL;
}

/* Writes lbuf to the destination: false with why set, or true (all written,
 * or wait for EPOLLOUT: l_off < l_len or ciphertext pending). */
static bool write_out(struct br_session *s, struct side dst, const char **why)
{
	while (s->l_off < s->l_len) {
		if (dst.t) {
			if (crypto_tls_write(dst.t, s->lbuf + s->l_off, s->l_len - s->l_off) < 0) {
				*why = crypto_tls_why(dst.t);
				return false;
			}
			s->l_off = s->l_len;
			break;
		}
		ssize_t w = send(dst.fd, s->lbuf + s->l_off, s->l_len - s->l_off, MSG_NOSIGNAL);
		if (w < 0) {
			*why = strerror(errno);
			return errno == EAGAIN || errno == EINTR;
		}
		s->l_off += (size_t)w;
	}
	if (!push(dst)) {
		*why = "the data connection broke";
		return false;
	}
	return true;
}

/* Bounded from the handshake's first byte, as the control connection's
 * (bridge_ltls.c); a data connection that sends nothing at all is -t's, as
 * any data connection without progress. */
bool ftpc_br_ldata_hs_late(const struct br_session *s, double now)
{
	if (!s->ldtls || crypto_tls_ready(s->ldtls) || s->l_refused ||
	    now - s->l_hs_since < s->b->timeout)
		return false;
	fprintf(stderr, "%s bridge: TLS handshake on the client's data connection not done "
		"within %d s (-t): transfer failed\n", FERRY_FTP_PROG, s->b->timeout);
	return true;
}

const char *ftpc_br_ldata_pump(struct br_session *s)
{
	if (s->cd.fd < 0 || s->cd.connecting || s->l_refused)
		return NULL;           /* the client's side is not there yet */
	if (!ready(s)) {
		const char *why = handshake(s);
		if (why || !ready(s))
			return why;
	}
	struct side src = src_side(s), dst = dst_side(s);
	const char *why = drain(dst, dst_eof(s));
	if (why)
		return why;
	for (int round = 0; round < ROUNDS; round++) {
		if (!push(src))
			return "the data connection broke";
		if (!write_out(s, dst, &why))
			return why;
		if (s->l_off < s->l_len || pending(dst))
			return NULL;                /* EPOLLOUT on the destination */
		s->l_len = s->l_off = 0;
		if (s->src_eof)
			return finish(s, dst);
		long r = read_plain(s, src, &why);
		if (r == -2)
			return NULL;
		if (r < 0)
			return why;
		if (r == 0)
			s->src_eof = true;
		s->l_len = (size_t)r;
	}
	if (s->src_eof && s->l_off == s->l_len && !pending(dst))
		return finish(s, dst);         /* the end came in the last round */
	return NULL;
}

bool ftpc_br_ldata_done(const struct br_session *s)
{
	if (!ready(s) || !s->src_eof || s->l_len > s->l_off)
		return false;
	struct side dst = dst_side(s);
	if (pending(client_side(s)) || pending(dst))
		return false;
	if (!s->up)
		return s->l_cshut;                  /* close_notify is out */
	return !s->dtls || (s->l_sshut && s->l_seof);
}

uint32_t ftpc_br_ldata_want(const struct br_session *s, const struct br_ep *e)
{
	bool client = e == &s->cd;
	struct side me = client ? client_side(s) : server_side(s);
	uint32_t w = pending(me) ? EPOLLOUT : 0;
	if (s->l_refused)
		return 0;
	if (!ready(s))
		return client ? w | EPOLLIN : 0;    /* the handshake first */
	bool is_src = s->up == client;
	if (is_src) {
		if (!s->src_eof && s->l_len == s->l_off && !pending(dst_side(s)))
			w |= EPOLLIN;
		return w;
	}
	if (s->l_len > s->l_off)
		w |= EPOLLOUT;
	bool eof = s->up ? s->l_seof : s->l_ceof;
	if (me.t && !eof)
		w |= EPOLLIN;
	return w;
}
