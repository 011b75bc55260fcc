/* session.c — a control connection's life: accept (with the session limits
 * and the "only SPSV connections allowed" greeting), Telnet-filtered line
 * input, dispatch in order, idle and login-delay timers, teardown. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/base.h"
#include "ftp_internal.h"

static void ctl_data(struct fe_conn *c, const uint8_t *data, size_t len, void *arg);
static void ctl_closed(struct fe_conn *c, int err, void *arg);
static void ctl_drained(struct fe_conn *c, void *arg);
static const struct fe_conn_ops ctl_ops = { .on_data = ctl_data, .on_close = ctl_closed,
					    .on_drained = ctl_drained };

static void ignore_data(struct fe_conn *c, const uint8_t *d, size_t n, void *a)
{
	(void)c, (void)d, (void)n, (void)a;
}
static void ignore_close(struct fe_conn *c, int err, void *a) { (void)c, (void)err, (void)a; }
static const struct fe_conn_ops reject_ops = { .on_data = ignore_data,
					       .on_close = ignore_close };

/* The text of a reply as the log may show it: a DATACONN password (the 227
 * answer to SPSV) is a credential and never reaches any log, at any level. */
static void redact_credentials(char *text)
{
	char *p = strstr(text, SPSV_USER ":");
	if (!p)
		return;
	for (p += sizeof(SPSV_USER); *p && *p != ')'; p++)
		*p = '*';
}

void ftp_session_reply(struct ftp_session *s, int code, const char *fmt, ...)
{
	char *text = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	struct fb_buf b = { 0 };
	ftp_reply_format(&b, code, text);
	if (!b.failed) {
		ftp_ctl_send(s, b.p, b.len);
		if (fb_log_get_level() >= LOG_LVL_DEBUG) {
			char esc[256];
			redact_credentials(text);
			flog(LOG_LVL_DEBUG, "ftp: session %llu: > %d %s", (unsigned long long)s->id,
			     code, ftp_log_esc(text, esc, sizeof(esc)));
		}
	}
	fb_buf_free(&b);
	free(text);
}

int ftp_session_root(const struct ftp_session *s) { return s->acct->root_fd; }

bool ftp_session_writable(const struct ftp_session *s) { return s->acct && s->acct->write; }

const char *ftp_session_cwd(const struct ftp_session *s) { return s->cwd ? s->cwd : "/"; }

bool ftp_session_set_cwd(struct ftp_session *s, const char *vpath)
{
	char *v = strcmp(vpath, "/") ? strdup(vpath) : NULL;
	if (!v && strcmp(vpath, "/"))
		return false;
	free(s->cwd);
	s->cwd = v;
	return true;
}

/* Before a login, the session must log in within login_timeout of its
 * start however busy it keeps the line (slowloris). */
static uint64_t idle_ms(const struct ftp_session *s)
{
	uint64_t ms = (uint64_t)s->set->fc->idle_timeout * 1000;
	uint64_t now = fe_now_ms(s->fw->w);
	uint64_t left = s->login_by_ms > now ? s->login_by_ms - now : 0;
	if (s->state != ST_READY && ms > left)
		ms = left;
	return s->limited && ms > LIMITED_TIMEOUT_MS ? LIMITED_TIMEOUT_MS : ms;
}

static void idle_fired(struct fe_worker *w, void *arg)
{
	struct ftp_session *s = arg;
	s->idle_timer = NULL;
	/* A running transfer or job is activity, but not past the login
	 * deadline: there idle_ms() is 0, and re-arming would spin the worker
	 * on a timer due at once for as long as the job runs. */
	bool late = s->state != ST_READY && fe_now_ms(w) >= s->login_by_ms;
	if ((s->xfer || s->jobs) && !late) {
		ftp_session_touch(s);
		return;
	}
	ftp_session_reply(s, 421, "Timeout: closing control connection.");
	ftp_session_close(s);
}

void ftp_session_touch(struct ftp_session *s)
{
	if (s->closing)
		return;
	fe_timer_cancel(s->fw->w, s->idle_timer);
	s->idle_timer = fe_timer_add(s->fw->w, idle_ms(s), idle_fired, s);
}

void ftp_session_close(struct ftp_session *s)
{
	if (s->closing)
		return;
	s->closing = true;
	if (s->tls && !s->tls_busy && crypto_tls_ready(s->tls)) {
		crypto_tls_shutdown(s->tls);  /* close_notify after the last reply */
		ftp_tls_flush(s);
	}
	fe_conn_close(s->ctl);
}

void ftp_session_accept(const struct ftp_listen_opt *lo, struct fe_conn *c)
{
	ftp_session_accept_as(lo, c, fe_conn_peer(c), NULL, 0);
}

void ftp_session_greet(struct ftp_session *s)
{
	s->greet_pending = false;
	if (s->limited)
		ftp_session_reply(s, 220, "Too many users; only SPSV connections allowed");
	else
		ftp_session_reply(s, 220, "FTP server ready");
}

void ftp_session_accept_as(const struct ftp_listen_opt *lo, struct fe_conn *c,
		       const struct sockaddr_storage *peer, const uint8_t *early,
		       size_t len)
{
	struct ftp_worker *fw = lo->fw;
	struct ftp_server *srv = fw->srv;
	struct ftp_session *s = NULL;
	/* A connection that passed a PROXY header already receives. */
	bool receiving = peer != fe_conn_peer(c);
	bool taken = ftp_server_take_connection(srv);
	if (taken && !(s = calloc(1, sizeof(*s))))
		ftp_server_release_connection(srv);
	if (!s) {
		fe_conn_hold(c, &reject_ops, NULL);
		static const char full[] = "421 Too many users connected. Try later.\r\n";
		fe_conn_send(c, full, sizeof(full) - 1);
		fe_conn_close(c);
		return;
	}
	s->fw = fw;
	s->srv = srv;
	s->lo = lo;
	s->set = ftp_settings_get(srv);   /* kept to the end, across reloads */
	s->ctl = c;
	s->id = __atomic_add_fetch(&srv->next_id, 1, __ATOMIC_RELAXED);
	s->peer = *peer;
	fe_conn_local(c, &s->local);
	ftp_addr_unmap(&s->peer);      /* an IPv4 client of a dual-stack listener */
	s->login_by_ms = fe_now_ms(fw->w) + (uint64_t)s->set->fc->login_timeout * 1000;
	ftp_addr_unmap(&s->local);
	fe_conn_urgent_inline(c);
	/* A reply that follows another with no command between (150 then 226,
	 * 331 then 200 on an SPSV login) must not wait 40 ms for the client's
	 * delayed ACK: Nagle would hold it until then. */
	fe_conn_nodelay(c);
	s->counted = ftp_server_take_slot(srv, &s->peer);
	s->limited = !s->counted;
	/* The type before any TYPE command is binary: RFC 959 says ASCII, but
	 * clients that never send TYPE I (scripts, some libraries) would get
	 * converted binaries, and vsftpd (ascii_download_enable off by default)
	 * and pure-ftpd serve them unchanged too. TYPE A still converts. */
	s->ascii = false;
	s->umask = 022;
	s->next = fw->sessions;
	if (fw->sessions)
		fw->sessions->prev = s;
	fw->sessions = s;
	if (receiving)
		fe_conn_hold(c, &ctl_ops, s);
	else
		fe_conn_start(c, &ctl_ops, s);
	char host[64], via[80] = "";
	if (receiving)
		snprintf(via, sizeof(via), " via balancer %s",
			 fb_addr_text(fe_conn_peer(c), host, sizeof(host)));
	flog(LOG_LVL_VERB, "ftp: session %llu from %s%s on worker %u%s",
	     (unsigned long long)s->id, fb_addr_text(&s->peer, host, sizeof(host)), via,
	     fe_worker_index(fw->w), s->limited ? " (limited to SPSV data)" : "");
	if (__atomic_load_n(&srv->stopping, __ATOMIC_ACQUIRE)) {  /* accepted as we stop */
		ftp_session_reply(s, 421, "Service shutting down; closing control connection.");
		ftp_session_close(s);
		return;
	}
	if (s->limited && ftp_spsv_count(srv->spsv) == 0) {
		/* Full, and no DATACONN login could follow: say so at once rather
		 * than greet and refuse after USER (clients read that as a hang). */
		ftp_session_reply(s, 421, "Too many users connected. Try later.");
		ftp_session_close(s);
		return;
	}
	/* Implicit FTPS: the handshake first (within login_timeout, as the
	 * idle timer bounds it), then the 220 inside TLS. */
	if (lo->implicit && !ftp_tls_implicit_start(s)) {
		ftp_session_close(s);
		return;
	}
	if (!lo->implicit)
		ftp_session_greet(s);
	ftp_session_touch(s);
	if (len)
		ctl_data(c, early, len, s);
}

struct ftp_session *ftp_session_find(struct ftp_worker *fw, uint64_t id)
{
	for (struct ftp_session *s = fw->sessions; s; s = s->next)
		if (s->id == id && s->state != ST_GONE && !s->closing)
			return s;
	return NULL;
}

/* ---- input ----------------------------------------------------------------
 *
 * Bytes go through the Telnet filter into s->in (CTL_INBUF), one pass per
 * byte: s->linelen counts the current line, so a long line costs linear
 * time. Commands run one at a time; input waits while a command's job is on
 * the helper pool, a transfer runs or replies pile up. When s->in is full
 * the rest of the delivered chunk is kept in s->stash (at most one engine
 * receive, 16 KiB, or what the engine had received before the pause took
 * effect; before login at most STASH_MAX) and the connection is paused, so
 * the kernel holds the rest and the TCP window closes: a session before
 * login holds at most CTL_INBUF + STASH_MAX of input and reply_high (+ one
 * reply) of output. */

/* Replies queued but not read by the client: above this no command runs
 * and input stops; data_timeout seconds later the session is closed. */
static size_t reply_high(const struct ftp_session *s)
{
	return s->state == ST_READY ? 64 * 1024 : 8 * 1024;
}

static void flow_update(struct ftp_session *s);

static void send_timeout(struct fe_worker *w, void *arg)
{
	struct ftp_session *s = arg;
	(void)w;
	s->send_timer = NULL;
	char host[64];
	flog(LOG_LVL_WARN, "ftp: session %llu from %s: replies not read for %d s; closing",
	     (unsigned long long)s->id, fb_addr_text(&s->peer, host, sizeof(host)),
	     s->set->fc->data_timeout);
	ftp_session_close(s);
}

/* Is the client reading its replies? If not, stop running its commands. */
static bool replies_blocked(struct ftp_session *s)
{
	if (!s->out_blocked && fe_conn_queued(s->ctl) > reply_high(s)) {
		s->out_blocked = true;
		s->send_timer = fe_timer_add(s->fw->w, (uint64_t)s->set->fc->data_timeout * 1000,
					     send_timeout, s);
		flow_update(s);
	}
	return s->out_blocked;
}

static void ctl_drained(struct fe_conn *c, void *arg)
{
	struct ftp_session *s = arg;
	(void)c;
	if (s->tls && s->state != ST_GONE && !ftp_tls_flush(s))
		return;
	if (!s->out_blocked || s->state == ST_GONE)
		return;
	s->out_blocked = false;
	fe_timer_cancel(s->fw->w, s->send_timer);
	s->send_timer = NULL;
	ftp_session_resume(s);
}

/* Pause the connection while input cannot be taken, resume when it can. */
static void flow_update(struct ftp_session *s)
{
	if (s->closing || s->state == ST_GONE)
		return;
	bool want_pause = s->stash || s->out_blocked;
	if (want_pause && !s->paused)
		fe_conn_pause(s->ctl);
	else if (!want_pause && s->paused)
		fe_conn_resume(s->ctl);
	s->paused = want_pause;
}

static bool ensure_in(struct ftp_session *s)
{
	if (s->in)
		return true;
	if ((s->in = malloc(CTL_INBUF)))
		return true;
	ftp_session_reply(s, 421, "Out of memory; closing.");
	ftp_session_close(s);
	return false;
}

/* Takes filtered bytes into s->in; returns how many were taken (fewer when
 * s->in is full of complete lines that wait their turn). */
static size_t take_input(struct ftp_session *s, const uint8_t *p, size_t n)
{
	size_t i = 0;
	for (; i < n; i++) {
		uint8_t b = p[i];
		if (s->discarding) {
			s->discarding = b != '\n';
			continue;
		}
		if (s->inlen == CTL_INBUF) {
			ftp_session_resume(s);     /* make room: answer what is complete */
			if (s->inlen == CTL_INBUF || s->closing || s->state == ST_GONE)
				break;
		}
		if (!ensure_in(s))
			return n;
		s->in[s->inlen++] = (char)b;
		if (b == '\n') {
			s->linelen = 0;
		} else if (++s->linelen > CTL_LINE_MAX) {
			s->inlen -= s->linelen;
			s->linelen = 0;
			s->discarding = true;
			ftp_session_reply(s, 500, "Command line too long.");
		}
	}
	return i;
}

/* Keeps what did not fit for later and stops reading. */
static void stash_rest(struct ftp_session *s, const uint8_t *p, size_t n)
{
	char *st = malloc(n);
	if (!st) {
		ftp_session_reply(s, 421, "Out of memory; closing.");
		ftp_session_close(s);
		return;
	}
	memcpy(st, p, n);
	s->stash = st;
	s->stashlen = n;
	s->stashoff = 0;
	flow_update(s);
}

static void feed(struct ftp_session *s, const uint8_t *p, size_t n)
{
	size_t took = take_input(s, p, n);
	if (took < n && !s->closing && s->state != ST_GONE)
		stash_rest(s, p + took, n - took);
}

/* Input kept while paused (what the engine had already received) before
 * login: more than this is a flood, not a client waiting to log in. */
enum { STASH_MAX = 64 * 1024 };

static void ctl_data(struct fe_conn *c, const uint8_t *data, size_t len, void *arg)
{
	struct ftp_session *s = arg;
	(void)c;
	if (s->tls)
		ftp_tls_input(s, data, len);
	else
		ftp_session_input(s, data, len);
}

void ftp_session_input(struct ftp_session *s, const uint8_t *data, size_t len)
{
	if (s->closing || s->state == ST_GONE)
		return;
	if (s->state != ST_READY && s->stashlen - s->stashoff + len > STASH_MAX) {
		char host[64];
		flog(LOG_LVL_WARN, "ftp: session %llu from %s: too much input before login; "
		     "closing", (unsigned long long)s->id, fb_addr_text(&s->peer, host, sizeof(host)));
		ftp_session_reply(s, 421, "Too much input; closing.");
		ftp_session_close(s);
		return;
	}
	uint8_t clean[16384];
	while (len && !s->stash && !s->closing && s->state != ST_GONE) {
		size_t n = len < sizeof(clean) ? len : sizeof(clean);
		size_t m = ftp_telnet_filter(&s->tn, data, n, clean);
		data += n;
		len -= n;
		feed(s, clean, m);
	}
	if (len && s->stash && !s->closing) {
		/* filtered later, when the stash is taken back */
		size_t m = 0;
		uint8_t *more = malloc(len);
		if (more)
			m = ftp_telnet_filter(&s->tn, data, len, more);
		char *st = more ? realloc(s->stash, s->stashlen + m) : NULL;
		if (st) {
			memcpy(st + s->stashlen, more, m);
			s->stash = st;
			s->stashlen += m;
		} else {
			ftp_session_reply(s, 421, "Out of memory; closing.");
			ftp_session_close(s);
		}
		free(more);
	}
	ftp_session_resume(s);
}

/* The stash goes back into s->in as room appears; an offset, not a copy,
 * so a big stash costs linear time. */
static void unstash(struct ftp_session *s)
{
	size_t took = take_input(s, (const uint8_t *)s->stash + s->stashoff,
				 s->stashlen - s->stashoff);
	s->stashoff += took;
	if (s->stash && s->stashoff == s->stashlen) {
		free(s->stash);
		s->stash = NULL;
		s->stashlen = s->stashoff = 0;
	}
}

static bool can_run(const struct ftp_session *s)
{
	return !s->closing && s->state != ST_GONE && !s->delaying && !s->jobs;
}

/* Runs the next complete command; false when none can run now. */
static bool run_one(struct ftp_session *s)
{
	char *nl = memchr(s->in, '\n', s->inlen);
	if (!nl || replies_blocked(s))
		return false;
	size_t n = (size_t)(nl - s->in) + 1;
	char line[CTL_LINE_MAX + 2], *verb, *arg;
	memcpy(line, s->in, n);
	line[n] = '\0';
	bool ok = ftp_cmd_split(line, ftp_cmd_unstuff_cr(line, n), &verb, &arg);
	const struct ftp_cmd *cmd = ok ? ftp_cmd_lookup(verb) : NULL;
	if (s->xfer && !(cmd && (cmd->flags & DURING_XFER)))
		return false;            /* waits for the transfer to finish */
	memmove(s->in, s->in + n, s->inlen - n);
	s->inlen -= n;
	ftp_session_touch(s);
	if (ok && cmd && strcmp(cmd->verb, "PASS") && strcmp(cmd->verb, "SPDT")) {
		char esc[256];
		flog(LOG_LVL_DEBUG, "ftp: session %llu: < %s %s",
		     (unsigned long long)s->id, verb, ftp_log_esc(arg, esc, sizeof(esc)));
	}
	if (!ok)
		ftp_cmd_reject(s, 500, "Syntax error, command unrecognized.");
	else if (!cmd)
		ftp_cmd_reject(s, 502, "Command not implemented.");
	else
		ftp_cmd_dispatch(s, cmd, arg);
	explicit_bzero(line, n);
	return true;
}

void ftp_session_resume(struct ftp_session *s)
{
	if (s->resuming)
		return;           /* the loop below is already running */
	s->resuming = true;
	for (;;) {
		while (s->inlen && can_run(s) && run_one(s))
			;
		if (!s->stash || !can_run(s) || s->inlen == CTL_INBUF)
			break;
		unstash(s);       /* room again: take the kept input */
	}
	s->resuming = false;
	if (!s->inlen && s->in) {  /* nothing held: give the buffer back */
		free(s->in);
		s->in = NULL;
	}
	flow_update(s);
}

/* ---- teardown ----------------------------------------------------------- */

static void teardown(struct ftp_session *s)
{
	struct ftp_worker *fw = s->fw;
	fe_timer_cancel(fw->w, s->idle_timer);
	fe_timer_cancel(fw->w, s->delay_timer);
	fe_timer_cancel(fw->w, s->send_timer);
	s->idle_timer = s->delay_timer = s->send_timer = NULL;
	free(s->stash);
	s->stash = NULL;
	s->stashlen = s->stashoff = 0;
	ftp_transfer_abort(s);
	ftp_data_reset(s);
	ftp_spsv_revoke(s->srv->spsv, s->id);
	if (s->counted)
		ftp_server_release_slot(s->srv, &s->peer);
	s->counted = false;
	ftp_server_release_connection(s->srv);
	free(s->rnfr);
	s->rnfr = NULL;
	free(s->in);
	s->in = NULL;
	s->inlen = 0;
	free(s->cwd);
	s->cwd = NULL;
	if (s->prev)
		s->prev->next = s->next;
	else
		fw->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
	s->state = ST_GONE;
}

void ftp_session_free_now(struct ftp_session *s)
{
	fb_buf_free(&s->data.extra);
	ftp_settings_put(s->set);
	crypto_tls_free(s->tls);
	fb_buf_free(&s->tls_hold);
	free(s);
}

static void reap(struct fe_worker *w, void *arg)
{
	struct ftp_worker *fw = arg;
	(void)w;
	fw->reaper = NULL;
	while (fw->graveyard) {
		struct ftp_session *s = fw->graveyard;
		fw->graveyard = s->next;
		ftp_session_free_now(s);
	}
}

void ftp_session_bury(struct ftp_session *s)
{
	struct ftp_worker *fw = s->fw;
	teardown(s);
	if (s->jobs)
		return;      /* freed by defer.c when its last job comes back */
	s->next = fw->graveyard;
	fw->graveyard = s;
	if (!fw->reaper)
		fw->reaper = fe_timer_add(fw->w, 0, reap, fw);
}

static void ctl_closed(struct fe_conn *c, int err, void *arg)
{
	struct ftp_session *s = arg;
	(void)c;
	flog(LOG_LVL_VERB, "ftp: session %llu closed%s%s", (unsigned long long)s->id,
	     err ? ": " : "", err ? strerror(-err) : "");
	if (s->tls)
		ftp_tls_count(s, crypto_tls_ready(s->tls));   /* abandoned: failed */
	ftp_session_bury(s);
}

void ftp_session_free_all(struct ftp_worker *fw)
{
	while (fw->sessions)
		ftp_session_bury(fw->sessions);
	fe_timer_cancel(fw->w, fw->reaper);
	reap(fw->w, fw);
}
