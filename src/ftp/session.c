/* session.c — a control connection's life: accept (with the session limits
 * and the "only SPSV connections allowed" greeting), Telnet-filtered line
 * input, dispatch in order, idle and login-delay timers, teardown. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/log.h"
#include "ftp_internal.h"

static void ctl_data(struct fe_conn *c, const uint8_t *data, size_t len, void *arg);
static void ctl_closed(struct fe_conn *c, int err, void *arg);
static const struct fe_conn_ops ctl_ops = { .on_data = ctl_data, .on_close = ctl_closed };

static void ignore_data(struct fe_conn *c, const uint8_t *d, size_t n, void *a)
{
	(void)c, (void)d, (void)n, (void)a;
}
static void ignore_close(struct fe_conn *c, int err, void *a) { (void)c, (void)err, (void)a; }
static const struct fe_conn_ops reject_ops = { .on_data = ignore_data,
					       .on_close = ignore_close };

void session_reply(struct ftp_session *s, int code, const char *fmt, ...)
{
	char *text = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	struct buf b = { 0 };
	reply_format(&b, code, text);
	if (!b.failed) {
		flog(LOG_LVL_DEBUG, "ftp: session %llu: > %d %.200s",
		     (unsigned long long)s->id, code, text);
		fe_conn_send(s->ctl, b.p, b.len);
	}
	buf_free(&b);
	free(text);
}

int session_root(const struct ftp_session *s) { return s->acct->root_fd; }

bool session_writable(const struct ftp_session *s) { return s->acct && s->acct->write; }

const char *session_cwd(const struct ftp_session *s) { return s->cwd ? s->cwd : "/"; }

bool session_set_cwd(struct ftp_session *s, const char *vpath)
{
	char *v = strcmp(vpath, "/") ? strdup(vpath) : NULL;
	if (!v && strcmp(vpath, "/"))
		return false;
	free(s->cwd);
	s->cwd = v;
	return true;
}

static uint64_t idle_ms(const struct ftp_session *s)
{
	uint64_t ms = (uint64_t)s->srv->fc->idle_timeout * 1000;
	return s->limited && ms > LIMITED_TIMEOUT_MS ? LIMITED_TIMEOUT_MS : ms;
}

static void idle_fired(struct fe_worker *w, void *arg)
{
	struct ftp_session *s = arg;
	(void)w;
	s->idle_timer = NULL;
	if (s->xfer) {           /* a running transfer is activity */
		session_touch(s);
		return;
	}
	session_reply(s, 421, "Timeout: closing control connection.");
	session_close(s);
}

void session_touch(struct ftp_session *s)
{
	if (s->closing)
		return;
	fe_timer_cancel(s->fw->w, s->idle_timer);
	s->idle_timer = fe_timer_add(s->fw->w, idle_ms(s), idle_fired, s);
}

void session_close(struct ftp_session *s)
{
	if (s->closing)
		return;
	s->closing = true;
	fe_conn_close(s->ctl);
}

void session_accept(struct ftp_worker *fw, struct fe_conn *c)
{
	struct ftp_server *srv = fw->srv;
	struct ftp_session *s = NULL;
	bool taken = server_take_connection(srv);
	if (taken && !(s = calloc(1, sizeof(*s))))
		server_release_connection(srv);
	if (!s) {
		fe_conn_hold(c, &reject_ops, NULL);
		static const char full[] = "421 Too many users connected. Try later.\r\n";
		fe_conn_send(c, full, sizeof(full) - 1);
		fe_conn_close(c);
		return;
	}
	s->fw = fw;
	s->srv = srv;
	s->ctl = c;
	s->id = __atomic_add_fetch(&srv->next_id, 1, __ATOMIC_RELAXED);
	s->peer = *fe_conn_peer(c);
	fe_conn_local(c, &s->local);
	fe_conn_urgent_inline(c);
	/* A reply that follows another with no command between (150 then 226,
	 * 331 then 200 on an SPSV login) must not wait 40 ms for the client's
	 * delayed ACK: Nagle would hold it until then. */
	fe_conn_nodelay(c);
	s->counted = server_take_slot(srv, &s->peer);
	s->limited = !s->counted;
	s->ascii = true;           /* RFC 959's default type */
	s->next = fw->sessions;
	if (fw->sessions)
		fw->sessions->prev = s;
	fw->sessions = s;
	fe_conn_start(c, &ctl_ops, s);
	char peer[64];
	flog(LOG_LVL_VERB, "ftp: session %llu from %s on worker %u%s",
	     (unsigned long long)s->id, addr_text(&s->peer, peer, sizeof(peer)),
	     fe_worker_index(fw->w), s->limited ? " (limited to SPSV data)" : "");
	if (s->limited)
		session_reply(s, 220, "Too many users; only SPSV connections allowed");
	else
		session_reply(s, 220, "FTP server ready");
	session_touch(s);
}

struct ftp_session *session_find(struct ftp_worker *fw, uint64_t id)
{
	for (struct ftp_session *s = fw->sessions; s; s = s->next)
		if (s->id == id && s->state != ST_GONE && !s->closing)
			return s;
	return NULL;
}

/* ---- input -------------------------------------------------------------- */

static size_t current_line_len(const struct ftp_session *s)
{
	size_t i = s->inlen;
	while (i > 0 && s->in[i - 1] != '\n')
		i--;
	return s->inlen - i;
}

static void ctl_data(struct fe_conn *c, const uint8_t *data, size_t len, void *arg)
{
	struct ftp_session *s = arg;
	(void)c;
	if (s->closing || s->state == ST_GONE)
		return;
	uint8_t clean[16384];
	while (len) {
		size_t n = len < sizeof(clean) ? len : sizeof(clean);
		size_t m = telnet_filter(&s->tn, data, n, clean);
		data += n;
		len -= n;
		for (size_t i = 0; i < m; i++) {
			uint8_t b = clean[i];
			if (s->discarding) {
				s->discarding = b != '\n';
				continue;
			}
			if (s->inlen == CTL_INBUF)
				session_resume(s);   /* make room: answer what is complete */
			if (s->closing || s->state == ST_GONE)
				return;
			if (s->inlen == CTL_INBUF) {
				session_reply(s, 421, "Too much input; closing.");
				session_close(s);
				return;
			}
			if (!s->in && !(s->in = malloc(CTL_INBUF))) {
				session_reply(s, 421, "Out of memory; closing.");
				session_close(s);
				return;
			}
			s->in[s->inlen++] = b;
			if (b != '\n' && current_line_len(s) > CTL_LINE_MAX) {
				s->inlen -= current_line_len(s);
				s->discarding = true;
				session_reply(s, 500, "Command line too long.");
			}
		}
	}
	session_resume(s);
}

void session_resume(struct ftp_session *s)
{
	if (s->resuming)
		return;           /* the loop below is already running */
	s->resuming = true;
	while (s->inlen && !s->closing && s->state != ST_GONE && !s->delaying &&
	       !s->jobs) {
		char *nl = memchr(s->in, '\n', s->inlen);
		if (!nl)
			break;
		size_t n = (size_t)(nl - s->in) + 1;
		char line[CTL_LINE_MAX + 2], *verb, *arg;
		memcpy(line, s->in, n);
		line[n] = '\0';
		bool ok = cmd_split(line, n, &verb, &arg);
		const struct ftp_cmd *cmd = ok ? cmd_lookup(verb) : NULL;
		if (s->xfer && !(cmd && (cmd->flags & DURING_XFER)))
			break;            /* waits for the transfer to finish */
		memmove(s->in, s->in + n, s->inlen - n);
		s->inlen -= n;
		session_touch(s);
		if (ok && cmd && strcmp(cmd->verb, "PASS"))
			flog(LOG_LVL_DEBUG, "ftp: session %llu: < %s %s",
			     (unsigned long long)s->id, verb, arg);
		if (!ok)
			session_reply(s, 500, "Syntax error, command unrecognized.");
		else if (!cmd)
			session_reply(s, 502, "Command not implemented.");
		else
			cmd_dispatch(s, cmd, arg);
	}
	s->resuming = false;
	if (!s->inlen) {         /* nothing held: give the buffer back */
		free(s->in);
		s->in = NULL;
	}
}

/* ---- teardown ----------------------------------------------------------- */

static void teardown(struct ftp_session *s)
{
	struct ftp_worker *fw = s->fw;
	fe_timer_cancel(fw->w, s->idle_timer);
	fe_timer_cancel(fw->w, s->delay_timer);
	s->idle_timer = s->delay_timer = NULL;
	transfer_abort(s);
	data_reset(s);
	spsv_revoke(s->srv->spsv, s->id);
	if (s->counted)
		server_release_slot(s->srv, &s->peer);
	s->counted = false;
	server_release_connection(s->srv);
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

void session_free_now(struct ftp_session *s)
{
	buf_free(&s->data.extra);
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
		session_free_now(s);
	}
}

void session_bury(struct ftp_session *s)
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
	session_bury(s);
}

void session_free_all(struct ftp_worker *fw)
{
	while (fw->sessions)
		session_bury(fw->sessions);
	fe_timer_cancel(fw->w, fw->reaper);
	reap(fw->w, fw);
}
