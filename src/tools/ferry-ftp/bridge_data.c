/* bridge_data.c — one transfer of a bridge session: the client's side (the
 * session's passive port, or a connection to its PORT), the server's side
 * (SPSV and the data connection's own login), and the bounded pipe between
 * them (the session's, kept empty between transfers); the transfer's final
 * reply reaches the client only after the last byte. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "bridge.h"
#include "ferry/base.h"
#include "ferry_ftp.h"

static struct br_ep *src(struct br_session *s) { return s->up ? &s->cd : &s->sd; }
static struct br_ep *dst(struct br_session *s) { return s->up ? &s->sd : &s->cd; }

static void pipe_close(struct br_session *s)
{
	if (s->pfd[0] < 0)
		return;
	s->b->pipes--;
	close(s->pfd[0]);
	close(s->pfd[1]);
	s->pfd[0] = s->pfd[1] = -1;
	s->p_len = s->p_cap = 0;
}

/* The pipe stays for the session's next transfer (a pipe2 and two fcntl
 * and two close fewer a file) when the splices left nothing in it: p_len
 * counts every byte they moved, so an aborted transfer's bytes, the only
 * ones that can be left, close it. */
void ftpc_br_xfer_end(struct br_session *s)
{
	ftpc_br_ep_close(&s->cd, true);
	ftpc_br_ep_close(&s->sd, true);
	if (s->p_len)
		pipe_close(s);
	ftpc_br_dtls_end(s);
	ftpc_br_ldata_end(s);
	s->dlin_len = s->held_len = s->xcmd_len = 0;
	s->held_code = 0;
	s->xs = BR_X_NONE;
	s->dmode = BR_DM_NONE;
	s->up = s->aborted = s->data_done = s->data_failed = s->src_eof = s->holding = false;
	s->src_dry = s->dst_full = s->pipe_full = false;
}

void ftpc_br_listener_close(struct br_session *s)
{
	ftpc_br_ep_close(&s->lst, false);
	if (s->dmode == BR_DM_PASV)
		s->dmode = BR_DM_NONE;
}

void ftpc_br_data_free(struct br_session *s)
{
	ftpc_br_xfer_end(s);
	ftpc_br_listener_close(s);
	pipe_close(s);
}

/* An idle session holds no pipe for long: pipes count against the user's
 * pipe pages (fs.pipe-user-pages-soft), which transfers under way need. */
void ftpc_br_data_idle(struct br_session *s)
{
	if (s->xs == BR_X_NONE && !s->pipe_used)
		pipe_close(s);
	s->pipe_used = false;
}

/* Connections waiting on the kept listener are left over from earlier
 * (a client's second try, one it gave up): none of them may become the
 * data connection of the transfer that this PASV or EPSV announces. true
 * when the backlog is empty now. */
static bool drain_backlog(struct br_session *s)
{
	for (int i = 0; i < 16; i++) {
		int fd = accept4(s->lst.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0 && (errno == ECONNABORTED || errno == EINTR))
			continue;
		if (fd < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK;
		ftpc_br_close_reset(fd);
		if (s->b->verbose)
			fprintf(stderr, "%s bridge: a stale connection to the passive port closed\n",
				FERRY_FTP_PROG);
	}
	return false;
}

/* A passive listener, bound to the address the client reached the bridge
 * at (any port); what it accepts inherits its TCP_NODELAY. */
static int listener_open(struct br_session *s)
{
	struct sockaddr_storage me;
	if (!ftpc_br_client_me(s, &me))
		return -1;
	socklen_t l = fb_addr_len((struct sockaddr *)&me);
	fb_addr_set_port(&me, 0);
	int fd = socket(me.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&me, l) < 0 || listen(fd, 1) < 0 ||
	    getsockname(fd, (struct sockaddr *)&me, &l) < 0) {
		close(fd);
		return -1;
	}
	ftpc_br_ep_open(s, &s->lst, fd, false);
	s->lport = fb_addr_port((struct sockaddr *)&me);
	return 0;
}

/* PASV and EPSV: the session's passive port, opened at the first and kept
 * (answered again; across REIN too, as a client may use it after) until
 * PORT, EPRT or the session's end: socket, bind, listen, getsockname and
 * close fewer a file. */
int ftpc_br_listen(struct br_session *s, unsigned *port)
{
	if (ftpc_br_xfer_busy(s))
		return -1;
	ftpc_br_ep_close(&s->cd, false);
	if (s->lst.fd >= 0 && !drain_backlog(s))
		ftpc_br_listener_close(s);     /* a flood: a new port, the old one's gone */
	if (s->lst.fd < 0 && listener_open(s) < 0)
		return -1;
	*port = s->lport;
	s->dmode = BR_DM_PASV;
	return 0;
}

/* An SPSV still to be answered belongs to no transfer any more. */
static void drop_spsv(struct br_session *s)
{
	for (int i = 0; i < s->qn; i++)
		if (s->q[i] == BR_Q_SPSV)
			s->q[i] = BR_Q_DROP;
}

bool ftpc_br_preopen_login_sent(const struct br_session *s)
{
	return s->xs == BR_X_DLOGIN && !s->xcmd_len;
}

bool ftpc_br_xfer_busy(const struct br_session *s)
{
	return s->xs != BR_X_NONE && s->xcmd_len;
}

/* A pre-opened data connection went away before any transfer command: only
 * the server's side goes (the client's passive port stays), and the command,
 * when it comes, asks for SPSV afresh and reports what fails then. */
static void preopen_drop(struct br_session *s, const char *why)
{
	if (s->b->verbose)
		fprintf(stderr, "%s bridge: pre-opened data connection dropped: %s\n",
			FERRY_FTP_PROG, why);
	drop_spsv(s);
	ftpc_br_ep_close(&s->sd, true);
	ftpc_br_dtls_end(s);
	s->dlin_len = 0;
	s->xs = BR_X_NONE;
}

/* The data connection could not be set up: the client hears why, as the
 * answer to its transfer command. Before any command (a pre-open) it hears
 * nothing, and later commands ask for SPSV only when they come. */
static void fail_setup(struct br_session *s, const char *why, const char *detail)
{
	if (!s->xcmd_len) {
		s->no_preopen = true;
		return preopen_drop(s, why);
	}
	drop_spsv(s);
	ftpc_br_reply(s, "425 Bridge: %s%s%s", why, detail ? ": " : "", detail ? detail : "");
	ftpc_br_xfer_end(s);
}

/* The data connection broke after the transfer command: both sides are
 * reset, and a 2xx the server may still send becomes a 426. */
static void data_fail(struct br_session *s, const char *why)
{
	if (s->b->verbose)
		fprintf(stderr, "%s bridge: data connection: %s\n", FERRY_FTP_PROG, why);
	ftpc_br_ep_close(&s->cd, true);
	ftpc_br_ep_close(&s->sd, true);
	s->data_done = s->data_failed = true;
}

/* The data moves socket to pipe to socket by splice(2): no copy through
 * the bridge, and the pipe's size bounds what a session holds. 1 MiB (the
 * default fs.pipe-max-size) moves a 1 GiB RETR in 3,000 splices and 1,700
 * wake-ups, where 256 KiB took 9,800 and 5,100 (BENCHMARKS.md row 8). An
 * unprivileged user has 64 MiB of pipes (fs.pipe-user-pages-soft), past
 * which every pipe gets 8 KiB: so only the first BR_PIPES_BIG transfers at
 * once get 1 MiB, the others 256 KiB (about 200 at once before that limit,
 * as when all had 256 KiB). A size refused leaves what pipe2 gave. */
static int open_pipe(struct br_session *s)
{
	s->pipe_used = true;
	if (s->pfd[0] >= 0)
		return 0;
	if (pipe2(s->pfd, O_NONBLOCK | O_CLOEXEC) < 0) {
		s->pfd[0] = s->pfd[1] = -1;
		return -1;
	}
	int size = s->b->pipes < BR_PIPES_BIG ? BR_PIPE : BR_PIPE_MANY;
	if (fcntl(s->pfd[1], F_SETPIPE_SZ, size) < 0 && size > BR_PIPE_MANY)
		(void)fcntl(s->pfd[1], F_SETPIPE_SZ, BR_PIPE_MANY);
	s->b->pipes++;
	int cap = fcntl(s->pfd[1], F_GETPIPE_SZ);
	s->p_cap = cap > 0 ? (size_t)cap : 4096;
	s->p_len = 0;
	return 0;
}

static void ask_spsv(struct br_session *s)
{
	s->xs = BR_X_SPSV;
	if (ftpc_br_to_server(s, "SPSV\r\n", 6))
		ftpc_br_expect(s, BR_Q_SPSV);
}

void ftpc_br_preopen(struct br_session *s)
{
	if (s->xs != BR_X_NONE || !s->logged_in || s->no_preopen || s->sc.fd < 0 ||
	    s->sc.connecting || s->pre != BR_P_DONE || s->closing)
		return;      /* one already (a second PASV keeps it), or not yet */
	if (open_pipe(s) == 0)
		ask_spsv(s);
}

static void data_open(struct br_session *s);

void ftpc_br_xfer_start(struct br_session *s, bool up, const char *line)
{
	size_t n = strlen(line);
	if (open_pipe(s) < 0)
		return ftpc_br_reply(s, "425 Bridge: no pipe for the data");
	memcpy(s->xcmd, line, n);
	memcpy(s->xcmd + n, "\r\n", 2);
	s->xcmd_len = n + 2;
	s->up = up;
	char peek;
	if (s->xs == BR_X_READY && recv(s->sd.fd, &peek, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
		preopen_drop(s, "the server closed it");   /* its end not yet seen by epoll */
	if (s->xs == BR_X_READY)
		data_open(s);        /* pre-opened and logged in: the command goes now */
	else if (s->xs == BR_X_NONE)
		ask_spsv(s);         /* else a pre-open's login is under way: its end sends it */
}

static int pipeline_login(struct br_session *s);

void ftpc_br_spsv_reply(struct br_session *s, int code)
{
	if (s->xs != BR_X_SPSV)
		return;
	const char *last = strrchr(s->kept, '\n');
	last = last ? last + 1 : s->kept;
	if (code != 227)
		return fail_setup(s, "the server refused SPSV", last);
	switch (ftpc_parse_spsv(s->kept, s->b->form, &s->cred)) {
	case FTPC_SPSV_OK:
		break;
	case FTPC_SPSV_OLD_PUREFTPD:
		return fail_setup(s, "the server's SPSV is pure-ftpd's old form, not the "
				  "single-port draft's", NULL);
	case FTPC_SPSV_BAD:
		return fail_setup(s, "no credentials in the server's SPSV answer", last);
	}
	int fd = ftpc_br_dial(&s->b->srv, s->b->srvlen);
	if (fd < 0)
		return fail_setup(s, "cannot connect to the server for data", NULL);
	ftpc_br_ep_open(s, &s->sd, fd, true);
	ftpc_dlogin_start(&s->dl, s->b->form, &s->cred);
	s->dt = s->prot_p ? BR_DT_GREET : BR_DT_NONE;
	s->dlr = (struct ftpc_reply_reader){ 0 };
	s->dlin_len = 0;
	s->dl_piped = false;
	s->xs = BR_X_DLOGIN;
	/* On loopback the connection is up when connect() returns: the login
	 * goes now, a turn before epoll would report the socket writable. */
	if (s->b->pipeline && !s->prot_p && pipeline_login(s) == 1)
		s->sd.connecting = false;
}

/* The SPSV connection is a data connection now: the transfer command goes
 * to the server, and the client's side of PORT is dialled. */
static void data_open(struct br_session *s)
{
	if (!ftpc_br_to_server(s, s->xcmd, s->xcmd_len) || !ftpc_br_expect(s, BR_Q_XFER))
		return;
	s->xs = BR_X_SENT;
	if (s->up && !s->prot_p)
		ftpc_br_nodelay(s->sd.fd);      /* see wants_nodelay (bridge_session.c) */
	if (s->dmode == BR_DM_PORT) {
		int fd = ftpc_br_dial(&s->port_to, s->port_len);
		if (fd < 0)
			data_fail(s, "cannot connect to the client's PORT");
		else
			ftpc_br_ep_open(s, &s->cd, fd, true);
	}
}

/* Under PROT P the new connection first goes into TLS: 220, AUTH TLS, 234
 * (the CONTRACT order). true when the reply was one of these. */
static bool dtls_reply(struct br_session *s, int code, const char *line)
{
	const char *why;
	switch (s->dt) {
	case BR_DT_GREET:
		if (code == 120)
			return true;
		if (code != 220) {
			fail_setup(s, "the server refused the data connection", line);
			return true;
		}
		if (send(s->sd.fd, "AUTH TLS\r\n", 10, MSG_NOSIGNAL) != 10)
			fail_setup(s, "the data connection's login broke", NULL);
		else
			s->dt = BR_DT_AUTH;
		return true;
	case BR_DT_AUTH:
		if (code != 234 || s->dlin_len)
			fail_setup(s, "the server refused TLS on the data connection", line);
		else if (!ftpc_br_dtls_start(s, &why))
			fail_setup(s, why, NULL);
		else if (ftpc_br_dtls_login_input(s, &why) < 0)   /* the ClientHello */
			fail_setup(s, "the data connection's TLS failed", why);
		return true;
	default:
		return false;
	}
}

/* A command of the data connection's login, in clear or inside TLS. */
static bool dlogin_send(struct br_session *s, const char *out, size_t n)
{
	if (s->dtls)
		return ftpc_br_dtls_send(s, out, n) == 0;
	return send(s->sd.fd, out, n, MSG_NOSIGNAL) == (ssize_t)n;
}

/* Replies on the new connection drive the login of the ftpc library. */
static void dlogin_lines(struct br_session *s)
{
	char *nl;
	while (s->xs == BR_X_DLOGIN && (nl = memchr(s->dlin, '\n', s->dlin_len))) {
		size_t take = (size_t)(nl - s->dlin) + 1, n = take - 1;
		char line[sizeof(s->dlin) + 1], out[FTPC_IDENT_MAX + 16];
		if (n && s->dlin[n - 1] == '\r')
			n--;
		memcpy(line, s->dlin, n);
		line[n] = '\0';
		memmove(s->dlin, s->dlin + take, s->dlin_len - take);
		s->dlin_len -= take;
		int code = ftpc_reply_line(&s->dlr, line);
		if (code < 0)
			return fail_setup(s, "the data connection's login got no FTP reply", NULL);
		if (!code)
			continue;
		if (dtls_reply(s, code, line))
			continue;
		int k = ftpc_dlogin_step(&s->dl, code, line, out, sizeof(out));
		if (k < 0)
			return fail_setup(s, "the server refused the data connection's login", line);
		if (k > 0 && !s->dl_piped && !dlogin_send(s, out, (size_t)k))
			return fail_setup(s, "the data connection's login broke", NULL);
		if (s->dl.st == FTPC_DL_OPEN) {
			if (s->dlin_len)
				return fail_setup(s, "bytes after the data connection's 200", NULL);
			if (s->xcmd_len)
				data_open(s);
			else
				s->xs = BR_X_READY;   /* pre-opened: waits for the command */
		}
	}
	if (s->xs == BR_X_DLOGIN && s->dlin_len == sizeof(s->dlin))
		fail_setup(s, "the data connection's login sent too long a line", NULL);
}

static void dlogin_event(struct br_session *s)
{
	if (s->dt == BR_DT_HS || s->dt == BR_DT_LOGIN) {
		const char *why;
		int r = ftpc_br_dtls_login_input(s, &why);
		if (r < 0)
			return fail_setup(s, "the data connection's TLS failed", why);
		if (r == 1) {
			/* inside TLS now: the login starts as after a greeting */
			char out[FTPC_IDENT_MAX + 16];
			int k = ftpc_dlogin_step(&s->dl, 220, "220", out, sizeof(out));
			if (k <= 0 || !dlogin_send(s, out, (size_t)k))
				return fail_setup(s, "the data connection's login broke", NULL);
		}
		return dlogin_lines(s);
	}
	ssize_t n = recv(s->sd.fd, s->dlin + s->dlin_len, sizeof(s->dlin) - s->dlin_len, 0);
	if (n > 0) {
		s->dlin_len += (size_t)n;
		dlogin_lines(s);
	} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		fail_setup(s, "the server closed the data connection during its login", NULL);
	}
}

/* ---- the pipe: src to dst through a kernel pipe of p_cap bytes ----------- */

/* A splice that moved less than asked found the source socket empty (or
 * the destination full): that side is left to epoll (level-triggered, it
 * reports the socket again) until an event of its own, instead of being
 * asked again for an EAGAIN: two thirds of all splice calls were, measured
 * over a 1 GiB RETR. true when bytes moved. */
static bool pump_in(struct br_session *s)
{
	struct br_ep *e = src(s);
	if (e->fd < 0 || s->src_eof || s->src_dry || s->pipe_full || s->p_len == s->p_cap)
		return false;
	size_t want = s->p_cap - s->p_len;
	ssize_t n = splice(e->fd, NULL, s->pfd[1], NULL, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (n > 0) {
		s->p_len += (size_t)n;
		s->src_dry = (size_t)n < want;
		return true;
	}
	if (n == 0)
		s->src_eof = true;
	else if (errno == EAGAIN && s->p_len)
		s->pipe_full = true;    /* see ftpc_br_data_want */
	else if (errno == EAGAIN || errno == EINTR)
		s->src_dry = true;
	else
		data_fail(s, strerror(errno));
	return false;
}

static bool pump_out(struct br_session *s)
{
	struct br_ep *e = dst(s);
	if (e->fd < 0 || e->connecting || s->dst_full || !s->p_len)
		return false;
	size_t want = s->p_len;
	ssize_t w = splice(s->pfd[0], NULL, e->fd, NULL, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (w > 0) {
		s->p_len -= (size_t)w;
		s->dst_full = (size_t)w < want;
		s->pipe_full = false;
		return true;
	}
	if (w == 0 || errno == EAGAIN || errno == EINTR)
		s->dst_full = true;
	else
		data_fail(s, strerror(errno));
	return false;
}

/* An event on one side: move what moves, both ways round, until neither
 * does. When the source has ended (RDHUP), it is read on to its EOF in this
 * turn, so a small file's end costs no extra turn. */
static void pump(struct br_session *s, const struct br_ep *e, uint32_t ev)
{
	bool fin = e == src(s) && ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR);
	if (e == src(s))
		s->src_dry = false;
	else
		s->dst_full = false;
	for (int i = 0; i < 8 && !s->data_failed; i++) {
		if (fin)
			s->src_dry = false;
		bool in = pump_in(s);
		if (!pump_out(s) && !in)
			return;
	}
}

static void release(struct br_session *s)
{
	if (s->l_refused)      /* the client's data connection did not resume (bridge_ldata.c) */
		ftpc_br_reply(s, "522 TLS session of data connection not resumed "
			      "(see the bridge's --local-no-reuse).");
	else if (s->data_failed && s->held_code < 300)
		ftpc_br_reply(s, "426 Bridge: the data connection broke; transfer aborted");
	else
		ftpc_br_to_client(s, s->held, s->held_len);
	ftpc_br_xfer_end(s);
}

void ftpc_br_data_settle(struct br_session *s)
{
	if (s->xs != BR_X_SENT)
		return;
	bool drained = s->lprot_p ? ftpc_br_ldata_done(s)
		       : s->dtls ? ftpc_br_dtls_done(s) : s->src_eof && !s->p_len;
	if (!s->data_done && drained && dst(s)->fd >= 0 && !dst(s)->connecting) {
		ftpc_br_ep_close(dst(s), false);   /* FIN: the end of the file */
		ftpc_br_ep_close(src(s), false);
		s->data_done = true;
	}
	if (s->holding && s->data_done)
		release(s);
}

void ftpc_br_xfer_final(struct br_session *s, int code)
{
	if (s->xs != BR_X_SENT)
		return;
	if (s->aborted || code >= 300) {
		if (!s->data_done) {   /* refused, or failed: no data will follow */
			ftpc_br_ep_close(&s->cd, false);
			ftpc_br_ep_close(&s->sd, false);
		}
		s->data_failed = s->data_failed || !s->data_done;
		return release(s);
	}
	s->holding = true;
	/* A server sends a download's 2xx once its data connection is
	 * closed: the bytes and the end are most often in the socket already,
	 * read now instead of a turn later, so the client gets 150, the data
	 * and the 226 in one turn (one EAGAIN when they are not). */
	if (!s->up && !s->data_done && !s->lprot_p && !s->dtls && s->sd.fd >= 0)
		pump(s, &s->sd, EPOLLRDHUP);
	ftpc_br_data_settle(s);
}

void ftpc_br_abort(struct br_session *s)
{
	if (s->xs == BR_X_SPSV || s->xs == BR_X_DLOGIN) {
		drop_spsv(s);
		ftpc_br_xfer_end(s);
		ftpc_br_reply(s, "426 Transfer aborted");
		ftpc_br_reply(s, "226 ABOR command successful");
		return;
	}
	if (!s->data_done)
		data_fail(s, "aborted by the client");
	s->aborted = true;
	if (ftpc_br_to_server(s, "ABOR\r\n", 6))
		ftpc_br_expect(s, BR_Q_RELAY);
	if (s->holding) {
		ftpc_br_reply(s, "426 Transfer aborted");
		ftpc_br_xfer_end(s);
	}
}

/* Only the client itself may use its passive port, and only for the
 * transfer it was last announced for: a connection while none is awaited
 * (between transfers, or a second one) is reset, as the closed port of
 * an ended transfer would have refused it. */
static void accept_client(struct br_session *s)
{
	struct sockaddr_storage peer;
	socklen_t l = sizeof(peer);
	int fd = accept4(s->lst.fd, (struct sockaddr *)&peer, &l, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (s->dmode != BR_DM_PASV || s->cd.fd >= 0 ||
	    !fb_addr_same_host(&peer, &s->cpeer)) {
		ftpc_br_close_reset(fd);
		return;
	}
	ftpc_br_ep_open(s, &s->cd, fd, false);
}

/* The login's commands go out at once, before the greeting: the replies
 * still drive the ftpc state machine (which then has nothing left to
 * send), and a server reads commands in order, so two round trips of each
 * transfer are saved. 1 sent, 0 not connected yet, -1 failed. */
static int pipeline_login(struct br_session *s)
{
	char out[2 * (FTPC_CRED_MAX + 8) + FTPC_IDENT_MAX + 16];
	int n = s->b->form == FTPC_SPSV_SPDT
		? snprintf(out, sizeof(out), "SPDT %s\r\n", s->cred.ident)
		: snprintf(out, sizeof(out), "USER %s\r\nPASS %s\r\n", s->cred.user, s->cred.pass);
	if (n <= 0 || (size_t)n >= sizeof(out))
		return -1;
	ssize_t w = send(s->sd.fd, out, (size_t)n, MSG_NOSIGNAL);
	s->dl_piped = w == n;
	if (w == n)
		return 1;
	return w < 0 && (errno == EAGAIN || errno == ENOTCONN) ? 0 : -1;
}

static bool connected(struct br_ep *e)
{
	int err = 0;
	socklen_t l = sizeof(err);
	if (getsockopt(e->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0 || err)
		return false;
	e->connecting = false;
	return true;
}

void ftpc_br_data_event(struct br_ep *e, uint32_t ev)
{
	struct br_session *s = e->s;
	if (e->kind == BR_LST)
		return accept_client(s);
	if (e->connecting) {
		if (!connected(e)) {
			if (e->kind == BR_SD && s->xs == BR_X_DLOGIN)
				return fail_setup(s, "cannot connect to the server for data", NULL);
			return data_fail(s, "cannot connect to the client's PORT");
		}
		if (e->kind == BR_SD && s->xs == BR_X_DLOGIN && s->b->pipeline && !s->prot_p &&
		    !s->dl_piped)
			(void)pipeline_login(s);
		return;
	}
	if (e->kind == BR_SD && s->xs == BR_X_DLOGIN)
		return dlogin_event(s);
	if (e->kind == BR_SD && s->xs == BR_X_READY)   /* only its end is expected */
		return preopen_drop(s, "the server closed it");
	if (s->xs != BR_X_SENT || s->data_done) {
		if (ev & (EPOLLHUP | EPOLLERR))     /* an idle connection gave up */
			ftpc_br_ep_close(e, false);
		return;
	}
	if (s->lprot_p) {      /* the client's side in TLS (bridge_ldata.c) */
		const char *why = ftpc_br_ldata_pump(s);
		if (why)
			data_fail(s, why);
		return;
	}
	if (s->dtls) {
		const char *why = ftpc_br_dtls_pump(s);
		if (why)
			data_fail(s, why);
		return;
	}
	pump(s, e, ev);
}

uint32_t ftpc_br_data_want(struct br_session *s, struct br_ep *e)
{
	if (e->fd < 0)
		return 0;
	if (e->connecting)
		return EPOLLOUT;
	if (e->kind == BR_LST)
		return EPOLLIN;
	/* In clear the server's side wants the same from its login to a
	 * download's end, with no epoll_ctl between: when READY nothing but
	 * its end may come (a byte is the server's error, and drops it too).
	 * Inside TLS a READY one may send a ticket: its end only. */
	if (e->kind == BR_SD && s->xs == BR_X_DLOGIN)
		return EPOLLIN | EPOLLRDHUP;
	if (e->kind == BR_SD && s->xs == BR_X_READY)
		return s->dtls ? EPOLLRDHUP : EPOLLIN | EPOLLRDHUP;
	if (s->xs != BR_X_SENT || s->data_done)
		return 0;
	if (s->lprot_p)
		return ftpc_br_ldata_want(s, e);
	if (s->dtls)
		return ftpc_br_dtls_want(s, e);
	/* A pipe holds p_cap / 4096 buffers, not p_cap bytes: after a short
	 * write to dst left part-pages in it, the slots fill before the bytes
	 * do, splice from src says EAGAIN, and src (readable all along) would
	 * wake the bridge in a loop until dst drains: 22,000 times a second
	 * when the client read slower than the server sent. */
	if (e == src(s)) {
		bool room = !s->pipe_full && s->p_len < s->p_cap;
		return !s->src_eof && room ? EPOLLIN | EPOLLRDHUP : 0;
	}
	return s->p_len ? EPOLLOUT : 0;
}

void ftpc_br_data_timeout(struct br_session *s)
{
	if (s->xs == BR_X_SPSV || s->xs == BR_X_DLOGIN)
		fail_setup(s, "timed out opening the data connection", NULL);
	else if (!s->data_done)
		data_fail(s, "timed out");
	else
		ftpc_br_fatal(s, "the server does not answer the transfer");
}
