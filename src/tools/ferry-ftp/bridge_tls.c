/* bridge_tls.c — a bridge session's TLS toward the server: the set-up the
 * bridge runs before the client sees the greeting (FEAT, AUTH TLS when the
 * server offers it or --tls asks, the handshake), and the control
 * connection's bytes through TLS records; PBSZ 0 and PROT P asked before the
 * login, so that data connections go inside TLS too when the server agrees;
 * and sending queued ciphertext, which every TLS object of the bridge shares. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "bridge.h"
#include "ferry/crypto.h"
#include "ferry_ftp.h"

static void say(struct br_session *s, const char *cmd)
{
	if (s->b->verbose)
		fprintf(stderr, "%s bridge: >> %s", FERRY_FTP_PROG, cmd);
	ftpc_br_to_server(s, cmd, strlen(cmd));
}

/* The set-up is over: the client gets the server's greeting now. */
static void done(struct br_session *s)
{
	s->pre = BR_P_DONE;
	ftpc_br_to_client(s, s->greet, s->greet_len);
	s->greet_len = 0;
}

/* FEAT lists " AUTH TLS" (or "AUTH TLS;SSL", as some servers write it). */
static bool offers_tls(const char *feat)
{
	for (const char *p = feat; (p = strchr(p, '\n')); p++) {
		const char *l = p + 1;
		while (*l == ' ')
			l++;
		if (!strncasecmp(l, "AUTH", 4) && l[4] == ' ') {
			size_t n = strcspn(l, "\n");
			for (size_t i = 5; i + 3 <= n; i++)
				if (!strncasecmp(l + i, "TLS", 3))
					return true;
		}
	}
	return false;
}

static void start_handshake(struct br_session *s)
{
	s->stls = crypto_tls_client_new(s->b->tls_ctx, s->b->tls_host);
	if (!s->stls)
		return ftpc_br_fatal(s, "cannot set up TLS toward the server");
	s->pre = BR_P_HANDSHAKE;
	ftpc_br_server_tls_step(s);
}

void ftpc_br_pre_reply(struct br_session *s, int code)
{
	bool must = s->b->tls == BR_TLS_ON;
	switch (s->pre) {
	case BR_P_GREET:
		if (code != 220)
			return done(s);       /* 421 and the like: the client hears it */
		if (must) {
			s->pre = BR_P_AUTH;
			return say(s, "AUTH TLS\r\n");
		}
		s->pre = BR_P_FEAT;
		return say(s, "FEAT\r\n");
	case BR_P_FEAT:
		if (code != 211 || !offers_tls(s->kept))
			return done(s);       /* no TLS offered: plain FTP, as before */
		s->pre = BR_P_AUTH;
		return say(s, "AUTH TLS\r\n");
	case BR_P_AUTH:
		if (code == 234 && s->sin_len)
			/* bytes in clear after 234 would pass for replies inside TLS */
			return ftpc_br_fatal(s, "the server sent bytes in clear after 234");
		if (code == 234)
			return start_handshake(s);
		if (must)
			return ftpc_br_fatal(s, "the server refused AUTH TLS (--tls)");
		return done(s);
	case BR_P_HANDSHAKE:
		/* a reply in clear after 234: the server is not doing TLS */
		return ftpc_br_fatal(s, "the server's TLS handshake failed");
	case BR_P_PBSZ:
		if (code != 200)
			return done(s);       /* data connections stay PROT C */
		s->pre = BR_P_PROT;
		return say(s, "PROT P\r\n");
	case BR_P_PROT:
		s->prot_p = code == 200;
		if (s->b->verbose)
			fprintf(stderr, "%s bridge: data connections toward the server: %s\n",
				FERRY_FTP_PROG, s->prot_p ? "TLS (PROT P)" : "clear (PROT C)");
		return done(s);
	case BR_P_DONE:
		break;
	}
}

bool ftpc_br_tls_push(struct crypto_tls *t, int fd)
{
	const uint8_t *p;
	size_t n;
	while (t && (n = crypto_tls_out(t, &p))) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0)
			return errno == EAGAIN || errno == EINTR;
		crypto_tls_sent(t, (size_t)w);
	}
	return true;
}

bool ftpc_br_tls_pending(struct crypto_tls *t)
{
	const uint8_t *p;
	return t && crypto_tls_out(t, &p);
}

static bool push(struct br_session *s)
{
	return ftpc_br_tls_push(s->stls, s->sc.fd);
}

void ftpc_br_server_tls_step(struct br_session *s)
{
	if (!s->stls || s->pre != BR_P_HANDSHAKE)
		return;
	int h = crypto_tls_handshake(s->stls);
	if (!push(s) || h == CRYPTO_TLS_ERROR) {
		char why[CRYPTO_ERR_LEN + 32];
		snprintf(why, sizeof(why), "TLS toward the server: %s", crypto_tls_why(s->stls));
		return ftpc_br_fatal(s, why);
	}
	if (h != 1)
		return;
	if (s->b->verbose) {
		char d[96];
		fprintf(stderr, "%s bridge: TLS toward the server: %s\n", FERRY_FTP_PROG,
			crypto_tls_desc(s->stls, d, sizeof(d)));
	}
	/* PBSZ/PROT before the login (RFC 4217 asks only for AUTH first);
	 * refused, the data connections stay in clear. */
	s->pre = BR_P_PBSZ;
	say(s, "PBSZ 0\r\n");
}

ssize_t ftpc_br_server_read(struct br_session *s)
{
	if (!s->stls) {
		if (s->sin_len == sizeof(s->sin))
			return -2;
		ssize_t n = recv(s->sc.fd, s->sin + s->sin_len, sizeof(s->sin) - s->sin_len, 0);
		if (n > 0)
			s->sin_len += (size_t)n;
		else if (n < 0)
			return errno == EAGAIN || errno == EINTR ? -2 : -1;
		return n;
	}
	uint8_t buf[16 * 1024 + 64];
	ssize_t n = recv(s->sc.fd, buf, sizeof(buf), 0);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? -2 : -1;
	if (n == 0)
		return 0;
	if (!crypto_tls_feed(s->stls, buf, (size_t)n))
		return -1;
	ftpc_br_server_tls_step(s);
	return ftpc_br_server_pull(s) < 0 ? -1 : n;
}

int ftpc_br_server_pull(struct br_session *s)
{
	while (s->stls && s->pre != BR_P_HANDSHAKE && s->sin_len < sizeof(s->sin)) {
		long r = crypto_tls_read(s->stls, s->sin + s->sin_len, sizeof(s->sin) - s->sin_len);
		if (!push(s))
			return -1;
		if (r > 0) {
			s->sin_len += (size_t)r;
			continue;
		}
		if (r == CRYPTO_TLS_AGAIN)
			return 0;
		return -1;        /* close_notify or an error: the end of the session */
	}
	return 0;
}

bool ftpc_br_server_flush(struct br_session *s)
{
	if (!s->stls || s->pre == BR_P_HANDSHAKE) {
		if (!s->sout_len || s->pre == BR_P_HANDSHAKE)
			return s->stls ? push(s) : true;
		ssize_t n = send(s->sc.fd, s->sout, s->sout_len, MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR;
		memmove(s->sout, s->sout + n, s->sout_len - (size_t)n);
		s->sout_len -= (size_t)n;
		return true;
	}
	if (s->sout_len) {
		if (crypto_tls_write(s->stls, s->sout, s->sout_len) < 0)
			return false;
		s->sout_len = 0;
	}
	return push(s);
}

bool ftpc_br_server_pending(const struct br_session *s)
{
	return s->sout_len || ftpc_br_tls_pending(s->stls);
}

void ftpc_br_server_tls_free(struct br_session *s)
{
	crypto_tls_free(s->stls);
	s->stls = NULL;
}
