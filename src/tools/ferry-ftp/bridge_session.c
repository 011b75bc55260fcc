/* bridge_session.c — a bridge session's life: accepting the client,
 * connecting to the server, the control connections' buffers, the events
 * each endpoint wants, timeouts and the end. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "bridge.h"
#include "ferry_ftp.h"

int ftpc_br_dial(const struct sockaddr_storage *to, socklen_t len)
{
	int fd = socket(to->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)to, len) < 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

void ftpc_br_nodelay(int fd)
{
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* A reply written while the last one is unacknowledged (150, then 226)
 * must not wait for the peer's delayed ACK: 40 ms a file otherwise. What
 * a listener accepts inherits it from the listener; the server's data
 * connection in clear writes only its login (one write, or one after each
 * reply) unless it carries an upload, which sets it then (bridge_data.c). */
static bool wants_nodelay(const struct br_session *s, const struct br_ep *e)
{
	switch (e->kind) {
	case BR_CD: return e->connecting;
	case BR_SD: return s->prot_p;
	default: return true;
	}
}

void ftpc_br_ep_open(struct br_session *s, struct br_ep *e, int fd, bool connecting)
{
	if (e->fd >= 0)
		ftpc_br_ep_close(e, true);
	e->fd = fd;
	e->s = s;
	e->armed = 0;
	e->connecting = connecting;
	if (wants_nodelay(s, e))
		ftpc_br_nodelay(fd);
}

void ftpc_br_close_reset(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };
	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

void ftpc_br_ep_close(struct br_ep *e, bool reset)
{
	if (e->fd < 0)
		return;
	if (reset)
		ftpc_br_close_reset(e->fd);
	else
		close(e->fd);   /* also leaves the epoll set (no dup of it exists) */
	e->closed_in = e->s->b->batch;
	e->fd = -1;
	e->armed = 0;
	e->added = false;
	e->connecting = false;
}

static bool append(struct br_session *s, char *buf, size_t *len, size_t cap, const char *p,
		   size_t n)
{
	if (cap - *len < n) {
		ftpc_br_fatal(s, "output buffer full");
		return false;
	}
	memcpy(buf + *len, p, n);
	*len += n;
	return true;
}

bool ftpc_br_to_client(struct br_session *s, const char *p, size_t n)
{
	return append(s, s->cout, &s->cout_len, sizeof(s->cout), p, n);
}

bool ftpc_br_to_server(struct br_session *s, const char *p, size_t n)
{
	return append(s, s->sout, &s->sout_len, sizeof(s->sout), p, n);
}

void ftpc_br_reply(struct br_session *s, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	memcpy(line + n, "\r\n", 2);
	ftpc_br_to_client(s, line, (size_t)n + 2);
}

bool ftpc_br_expect(struct br_session *s, enum br_expect what)
{
	if (s->qn == BR_QMAX) {
		ftpc_br_fatal(s, "too many replies outstanding");
		return false;
	}
	s->q[s->qn++] = what;
	return true;
}

/* The session cannot go on: tell the client (if it can still hear) and end
 * once that is written. */
void ftpc_br_fatal(struct br_session *s, const char *why)
{
	if (s->closing)
		return;
	if (s->b->verbose)
		fprintf(stderr, "%s bridge: session ends: %s\n", FERRY_FTP_PROG, why);
	char line[256];
	int n = snprintf(line, sizeof(line), "421 Bridge: %s\r\n", why);
	if (n > 0 && sizeof(s->cout) - s->cout_len >= (size_t)n) {
		memcpy(s->cout + s->cout_len, line, (size_t)n);
		s->cout_len += (size_t)n;
	}
	s->closing = true;
	ftpc_br_data_free(s);
	ftpc_br_ep_close(&s->sc, false);
}

static void session_free(struct br_session *s)
{
	ftpc_br_data_free(s);
	ftpc_br_ep_close(&s->cc, false);
	ftpc_br_ep_close(&s->sc, false);
	ftpc_br_server_tls_free(s);
	ftpc_br_client_tls_free(s);
	struct bridge *b = s->b;
	if (s->prev)
		s->prev->next = s->next;
	else
		b->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	b->n--;
	if (b->verbose)
		fprintf(stderr, "%s bridge: session closed (%zu open)\n", FERRY_FTP_PROG, b->n);
	/* Events of this epoll batch may still name it: freed after the batch. */
	s->dead = true;
	s->prev = NULL;
	s->next = b->graveyard;
	b->graveyard = s;
}

void ftpc_br_reap(struct bridge *b)
{
	while (b->graveyard) {
		struct br_session *s = b->graveyard;
		b->graveyard = s->next;
		free(s);
	}
}

static void new_session(struct bridge *b, int fd, const struct sockaddr_storage *peer)
{
	if (b->n >= BR_MAX_SESSIONS) {
		static const char busy[] = "421 Too many sessions on the bridge\r\n";
		(void)send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
		return;
	}
	struct br_session *s = calloc(1, sizeof(*s));
	int sfd = s ? ftpc_br_dial(&b->srv, b->srvlen) : -1;
	if (sfd < 0) {
		static const char down[] = "421 The bridge cannot reach the server\r\n";
		(void)send(fd, down, sizeof(down) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
		free(s);
		return;
	}
	s->b = b;
	s->cpeer = *peer;
	s->cc.fd = s->sc.fd = s->lst.fd = s->cd.fd = s->sd.fd = -1;
	s->pfd[0] = s->pfd[1] = -1;
	s->cc.kind = BR_CC, s->sc.kind = BR_SC, s->lst.kind = BR_LST;
	s->cd.kind = BR_CD, s->sd.kind = BR_SD;
	s->last = ftpc_br_now();
	s->pre = b->tls == BR_TLS_OFF ? BR_P_DONE : BR_P_GREET;
	s->next = b->sessions;
	if (b->sessions)
		b->sessions->prev = s;
	b->sessions = s;
	b->n++;
	int one = 1;
	/* ABOR may come after Telnet IP and a Synch (urgent data): keep it inline. */
	(void)setsockopt(fd, SOL_SOCKET, SO_OOBINLINE, &one, sizeof(one));
	ftpc_br_ep_open(s, &s->cc, fd, false);
	ftpc_br_ep_open(s, &s->sc, sfd, true);
	if (b->limplicit && !ftpc_br_client_implicit(s)) {
		session_free(s);
		return;
	}
	if (b->verbose)
		fprintf(stderr, "%s bridge: session opened (%zu open)\n", FERRY_FTP_PROG, b->n);
	ftpc_br_event(&s->cc, 0);
}

void ftpc_br_accept(struct bridge *b)
{
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage peer = { 0 };
		socklen_t l = sizeof(peer);
		int fd = accept4(b->lep.fd, (struct sockaddr *)&peer, &l,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				fprintf(stderr, "%s bridge: accept: %s\n", FERRY_FTP_PROG,
					strerror(errno));
			return;
		}
		new_session(b, fd, &peer);
	}
}

/* Reads what fits into an input buffer: bytes read, 0 at EOF, -1 on error
 * (EAGAIN: -2). */
static ssize_t fill(int fd, char *buf, size_t *len, size_t cap)
{
	if (*len == cap)
		return -2;
	ssize_t n = recv(fd, buf + *len, cap - *len, 0);
	if (n > 0)
		*len += (size_t)n;
	else if (n < 0)
		return errno == EAGAIN || errno == EINTR ? -2 : -1;
	return n;
}

static bool flush(int fd, char *buf, size_t *len)
{
	if (!*len)
		return true;
	ssize_t n = send(fd, buf, *len, MSG_NOSIGNAL);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	memmove(buf, buf + n, *len - (size_t)n);
	*len -= (size_t)n;
	return true;
}

/* The client's replies, in clear or through TLS (bridge_ltls.c). */
static bool client_flush(struct br_session *s)
{
	if (s->ctls)
		return ftpc_br_client_tls_flush(s);
	return flush(s->cc.fd, s->cout, &s->cout_len);
}

static void client_event(struct br_session *s, uint32_t ev)
{
	if (ev & EPOLLOUT && !client_flush(s)) {
		s->dead = true;
		return;
	}
	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		ssize_t n = s->ctls ? ftpc_br_client_tls_read(s)
				    : fill(s->cc.fd, s->cin, &s->cin_len, sizeof(s->cin));
		if ((n == 0 || n == -1) && ftpc_br_preopen_login_sent(s)) {
			/* The pre-opened connection's login is on its way: ending the
			 * server's session now would make it meet a revoked token (a
			 * failed login, toward the server's lockout). The session ends
			 * by a QUIT of its own, which waits for that login. */
			ftpc_br_ep_close(&s->cc, false);
			memcpy(s->cin, "QUIT\r\n", 6);
			s->cin_len = 6;
		} else if (n == 0 || n == -1) {
			s->dead = true;    /* the client went away: nobody to answer */
		}
	}
}

static void server_event(struct br_session *s, uint32_t ev)
{
	if (s->sc.connecting) {
		int err = 0;
		socklen_t l = sizeof(err);
		getsockopt(s->sc.fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err) {
			ftpc_br_fatal(s, "cannot connect to the server");
			return;
		}
		s->sc.connecting = false;
	}
	if (ev & EPOLLOUT && !ftpc_br_server_flush(s)) {
		ftpc_br_fatal(s, "the server connection broke");
		return;
	}
	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		ssize_t n = ftpc_br_server_read(s);
		if (n == 0 || n == -1) {
			ftpc_br_server_lines(s);        /* its last words, e.g. 221 */
			if (!s->closing) {
				s->closing = true;
				ftpc_br_data_free(s);
				ftpc_br_ep_close(&s->sc, false);
			}
		}
	}
}

/* An endpoint joins the epoll set when it first wants an event (a passive
 * data connection of a small download never does): until then it hears
 * of no hang-up either, which the next write to it finds. One whose ADD
 * failed tries again at the next turn (and -t ends what never moves). */
static void arm(struct br_session *s, struct br_ep *e, uint32_t want)
{
	if (e->fd < 0 || e->armed == want)
		return;
	struct epoll_event ev = { .events = want, .data.ptr = e };
	if (epoll_ctl(s->b->ep, e->added ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, e->fd,
		      &ev) == 0) {
		e->armed = want;
		e->added = true;
	}
}

static void rearm(struct br_session *s)
{
	uint32_t cc = ftpc_br_client_has_out(s) ? EPOLLOUT : 0;
	/* Inside TLS as toward the server: no ciphertext read while a whole
	 * line waits in cin, so unread records never pile up in the TLS layer. */
	bool cline_waits = s->ctls && memchr(s->cin, '\n', s->cin_len);
	if (s->cin_len < sizeof(s->cin) && !s->closing && !cline_waits)
		cc |= EPOLLIN;
	arm(s, &s->cc, cc);
	uint32_t sc = ftpc_br_server_pending(s) || s->sc.connecting ? EPOLLOUT : 0;
	/* Inside TLS, ciphertext is read only when no whole line waits in sin:
	 * else a slow client would let unread records pile up past the TLS
	 * layer's input bound while sin stays full. */
	bool line_waits = s->stls && memchr(s->sin, '\n', s->sin_len);
	if (!s->sc.connecting && s->sin_len < sizeof(s->sin) && !line_waits &&
	    sizeof(s->cout) - s->cout_len >= FTPC_LINE_MAX + 8)
		sc |= EPOLLIN;
	arm(s, &s->sc, sc);
	arm(s, &s->lst, ftpc_br_data_want(s, &s->lst));
	arm(s, &s->cd, ftpc_br_data_want(s, &s->cd));
	arm(s, &s->sd, ftpc_br_data_want(s, &s->sd));
}

void ftpc_br_event(struct br_ep *e, uint32_t ev)
{
	struct br_session *s = e->s;
	if (s->dead)
		return;
	s->last = ftpc_br_now();
	if (e->fd >= 0 && e->closed_in != s->b->batch) {
		switch (e->kind) {
		case BR_CC: client_event(s, ev); break;
		case BR_SC: server_event(s, ev); break;
		case BR_LST:
		case BR_CD:
		case BR_SD: ftpc_br_data_event(e, ev); break;
		case BR_SIGNAL:
		case BR_LISTENER: break;
		}
	}
	/* Whatever changed, let the session move on as far as it can. */
	for (int round = 0; round < 4 && !s->dead; round++) {
		size_t before = s->cin_len + s->sin_len + s->sout_len + s->cout_len;
		if (s->stls && s->sc.fd >= 0 && ftpc_br_server_pull(s) < 0 && !s->closing) {
			ftpc_br_server_lines(s);
			s->closing = true;          /* close_notify: as EOF below */
			ftpc_br_data_free(s);
			ftpc_br_ep_close(&s->sc, false);
		}
		if (s->ctls && ftpc_br_client_pull(s) < 0) {
			s->dead = true;             /* the client's close_notify, or bad TLS */
			break;
		}
		ftpc_br_server_lines(s);
		ftpc_br_data_settle(s);
		ftpc_br_client_lines(s);
		if (ftpc_br_server_pending(s) && s->sc.fd >= 0 && !s->sc.connecting &&
		    !ftpc_br_server_flush(s))
			ftpc_br_fatal(s, "the server connection broke");
		if (s->cc.fd < 0)
			s->cout_len = 0;   /* the client left (see client_event) */
		else if (ftpc_br_client_has_out(s) && !client_flush(s))
			s->dead = true;
		if (before == s->cin_len + s->sin_len + s->sout_len + s->cout_len)
			break;
	}
	if (s->closing && !ftpc_br_client_has_out(s) && ftpc_br_client_tls_bye(s))
		s->dead = true;
	if (s->dead)
		session_free(s);   /* (marks it dead again: harmless) */
	else
		rearm(s);
}

void ftpc_br_tick(struct bridge *b)
{
	double now = ftpc_br_now();
	for (struct br_session *s = b->sessions, *next; s; s = next) {
		next = s->next;
		ftpc_br_data_idle(s);
		if (ftpc_br_client_hs_late(s, now)) {
			session_free(s);            /* mid-handshake: no reply can reach it */
			continue;
		}
		if (s->xs == BR_X_SENT && !s->data_done && ftpc_br_ldata_hs_late(s, now)) {
			ftpc_br_data_timeout(s);    /* 426, and the session goes on */
			ftpc_br_event(&s->cc, 0);
			continue;
		}
		/* a pre-opened connection may wait as long as the client likes */
		bool busy = (s->xs != BR_X_NONE && s->xs != BR_X_READY) || s->sc.connecting;
		if (!busy || now - s->last < b->timeout) {
			if (!busy)
				s->last = now;
			continue;
		}
		s->last = now;
		if (s->sc.connecting)
			ftpc_br_fatal(s, "timed out connecting to the server");
		else
			ftpc_br_data_timeout(s);
		ftpc_br_event(&s->cc, 0);
	}
}

void ftpc_br_close_all(struct bridge *b)
{
	while (b->sessions)
		session_free(b->sessions);
	ftpc_br_reap(b);
	if (b->lep.fd >= 0)
		close(b->lep.fd);
	if (b->sig.fd >= 0)
		close(b->sig.fd);
	if (b->ep >= 0)
		close(b->ep);
}
