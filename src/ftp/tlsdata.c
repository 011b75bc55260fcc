/* tlsdata.c — PROT P data connections (RFC 4217): the data connection's TLS
 * handshake on the helper pool, the resumption check, the data-protection
 * policy, encrypted sends and the decrypt-and-write jobs of uploads. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ferry/base.h"
#include "ftp_internal.h"

enum {
	PLAIN_CHUNK = 65536,          /* plaintext an upload job reads at once */
	FEED_SLICE = 16384,           /* ciphertext moved into the layer at once */
	OWNED_MIN = 16384,            /* ciphertext handed to the engine, not copied */
};

/* A data connection's TLS and what travels with it. A helper job may hold
 * it (busy); a session that lets go meanwhile marks it orphaned and the
 * job's end frees it. Everything but t is touched on the worker only. */
struct ftp_tlsdata {
	struct crypto_tls *t;
	struct fb_buf hold;           /* ciphertext not yet in t */
	struct fe_timer *timer;       /* the handshake's deadline */
	bool busy, orphaned;
	bool checked;                 /* handshake done and the policy passed */
	bool notify;                  /* the client's close_notify came */
	bool eof;                     /* the TCP connection ended */
	bool paused;                  /* we paused the connection's input */
	bool fed;                     /* ciphertext went in since the last job */
	/* ktlsrx.c: the kernel may take the receiving side, so receives end
	 * at record ends (capped); an upload stops the connection at the
	 * next one (want_stop) and, stopped there, hands it over. */
	bool capped, want_stop, stopped;
	struct crypto_tls_cursor cur; /* capped: the records in all received */
};


/* ---- policy ---------------------------------------------------------------- */

/* The listener's or the account's policy "data" (ftp.tls.policy,
 * listeners[].policy, users[].tls): transfers only with PROT P. */
bool ftp_tls_data_required(const struct ftp_session *s)
{
	return ftp_tls_policy(s, NULL) == TLS_POLICY_DATA;
}

/* The one place that decides whether a transfer may use the data
 * connection the session asked for: under policy "data", PROT C transfers
 * get 521. */
bool ftp_tls_data_allowed(struct ftp_session *s)
{
	if (s->prot_p || !ftp_tls_data_required(s))
		return true;
	ftp_session_reply(s, 521, "Data connections must be protected: send PROT P.");
	return false;
}

/* The resumption check (ftp.tls.require_reuse, on by default): NULL if the
 * data connection's TLS may carry this session's data, else why not. The
 * rule is crypto's (crypto_tls_reuse_refusal, the gateway's too). An SPSV
 * DATACONN connection is checked twice: at its login (resumed at all) and
 * when its session adopts it. */
static const char *reuse_refusal(const struct ftp_session *s, const struct crypto_tls *t)
{
	if (!s->set->fc->tls_require_reuse)
		return NULL;
	struct crypto_tls_origin ctl;
	crypto_tls_origin_of(s->tls, &ctl);
	return crypto_tls_reuse_refusal(t, &ctl);
}

bool ftp_tls_data_reuse_ok(struct ftp_session *s, const struct crypto_tls *t)
{
	const char *why = reuse_refusal(s, t);
	if (!why)
		return true;
	char host[64];
	flog(LOG_LVL_WARN, "ftp: session %llu from %s: data connection refused: %s "
	     "(ftp.tls.require_reuse)", (unsigned long long)s->id,
	     fb_addr_text(&s->peer, host, sizeof(host)), why);
	return false;
}

/* ---- the object ------------------------------------------------------------- */

static void td_destroy(struct ftp_tlsdata *td)
{
	crypto_tls_free(td->t);
	fb_buf_free(&td->hold);
	free(td);
}

void ftp_tlsdata_free(struct ftp_session *s)
{
	struct ftp_tlsdata *td = s->data.td;
	if (!td)
		return;
	s->data.td = NULL;
	fe_timer_cancel(s->fw->w, td->timer);
	td->timer = NULL;
	if (td->busy)
		td->orphaned = true;     /* the job's end frees it */
	else
		td_destroy(td);
}

struct crypto_tls *ftp_tlsdata_lend(struct ftp_session *s, struct ftp_tlsdata **out)
{
	struct ftp_tlsdata *td = s->data.td;
	assert(td && !td->busy);
	td->busy = true;
	*out = td;
	return td->t;
}

static void process_input(struct ftp_session *s);

bool ftp_tlsdata_back(struct ftp_session *s, struct ftp_tlsdata *td)
{
	if (!td)
		return true;
	td->busy = false;
	if (td->orphaned || s->data.td != td) {
		td_destroy(td);
		return false;
	}
	ftp_tlsdata_flush(s);
	return true;
}

void ftp_tlsdata_drop(struct ftp_tlsdata *td)
{
	if (td && td->orphaned)
		td_destroy(td);
	else if (td)
		td->busy = false;
}

bool ftp_tlsdata_ready(const struct ftp_session *s)
{
	return !s->data.td || s->data.td->checked;
}

bool ftp_tlsdata_busy(const struct ftp_session *s)
{
	return s->data.td && s->data.td->busy;
}

/* ---- output ----------------------------------------------------------------- */

bool ftp_tlsdata_flush(struct ftp_session *s)
{
	struct ftp_tlsdata *td = s->data.td;
	if (!td || td->busy || !s->data.conn)
		return true;
	const uint8_t *p;
	size_t n = crypto_tls_out(td->t, &p), cap;
	if (!n)
		return true;
	/* A download's chunk of records goes to the engine as it is (one
	 * copy less per byte); a handshake flight or an alert is copied. */
	void *buf = n >= OWNED_MIN ? crypto_tls_out_take(td->t, &n, &cap) : NULL;
	if (buf) {
		if (fe_conn_send_owned(s->data.conn, buf, n, cap) == 0)
			return true;
		crypto_tls_out_untake(td->t, buf, n, cap);
		return false;
	}
	if (fe_conn_send(s->data.conn, p, n) < 0)
		return false;
	crypto_tls_sent(td->t, n);
	return true;
}

int ftp_data_send(struct ftp_session *s, const void *p, size_t n)
{
	struct ftp_tlsdata *td = s->data.td;
	if (!td)
		return fe_conn_send(s->data.conn, p, n);
	/* listings only: chunks of at most LIST_CHUNK_BYTES and a bit */
	if (td->busy || crypto_tls_write(td->t, p, n) < 0)
		return -EPIPE;
	return ftp_tlsdata_flush(s) ? 0 : -ENOBUFS;
}

struct crypto_tls *ftp_tlsdata_tls(struct ftp_session *s)
{
	struct ftp_tlsdata *td = s->data.td;
	return td && !td->busy && td->checked ? td->t : NULL;
}

void ftp_data_finish(struct ftp_session *s)
{
	struct ftp_tlsdata *td = s->data.td;
	if (td && fe_conn_ktls(s->data.conn)) {
		/* the kernel seals our records: close_notify is its alert */
		if (fe_conn_ktls_alert(s->data.conn, 1, 0) < 0)
			flog(LOG_LVL_WARN, "ftp: session %llu: kTLS: close_notify not sent",
			     (unsigned long long)s->id);
	} else if (td && !td->busy) {
		crypto_tls_shutdown(td->t);     /* close_notify: the data is whole */
		ftp_tlsdata_flush(s);
	}
	fe_conn_close(s->data.conn);        /* on_close completes the transfer */
}

/* ---- record boundaries, for the kernel's TLS (ktlsrx.c) ----------------------- */

/* Bytes to the end of the record being read; 0 at a record's end. */
static size_t record_rest(const struct ftp_tlsdata *td)
{
	return crypto_tls_cursor_need(&td->cur);
}

/* The next receive: the rest of the record being read, or a header. */
static size_t next_read(const struct ftp_tlsdata *td)
{
	size_t need = record_rest(td);
	return need ? need : 5;
}

/* Receives go back to whole buffers: the kernel will not take this one. */
static void uncap(struct ftp_session *s)
{
	struct ftp_tlsdata *td = s->data.td;
	td->capped = td->want_stop = td->stopped = false;
	if (s->data.conn)
		fe_conn_recv_max(s->data.conn, 0);
}

/* From on_data: at a record's end an upload that wants the kernel stops
 * receiving (nothing in flight after this completion, nothing held); else
 * the next receive asks for no more than the record's rest. */
static void cap_or_stop(struct ftp_session *s)
{
	struct ftp_tlsdata *td = s->data.td;
	if (td->want_stop && !record_rest(td)) {
		fe_conn_pause(s->data.conn);
		td->paused = td->stopped = true;
		td->want_stop = false;
		return;
	}
	fe_conn_recv_max(s->data.conn, next_read(td));
}

/* Stopped at a record's end with every record opened and written: the
 * kernel takes the rest, or (nothing changed) user space goes on. */
static void hand_over(struct ftp_session *s)
{
	struct ftp_tlsdata *td = s->data.td;
	/* before: a take whose splice cannot start ends the transfer (425),
	 * and with it td */
	td->stopped = td->capped = false;
	if (ftp_ktlsrx_take(s, td->t))
		return;
	uncap(s);
	if (td->paused && s->data.conn) {
		fe_conn_resume(s->data.conn);
		td->paused = false;
	}
}

void ftp_tlsdata_notified(struct ftp_session *s)
{
	struct ftp_tlsdata *td = s->data.td;
	td->notify = true;
	crypto_tls_shutdown(td->t);
	ftp_tlsdata_flush(s);
}

/* ---- the handshake ------------------------------------------------------------ */

static void refuse(struct ftp_session *s, int code, const char *text)
{
	ftp_data_close_conn(s);
	ftp_tlsdata_free(s);
	s->data.want = false;
	if (s->xfer) {
		ftp_xfer_done(s, code, text, false);
	} else {
		s->data.refuse_code = code;      /* the next transfer says it */
		s->data.refuse_text = text;
	}
}

static void established(struct ftp_session *s)
{
	struct ftp_tlsdata *td = s->data.td;
	fe_timer_cancel(s->fw->w, td->timer);
	td->timer = NULL;
	if (!ftp_tls_data_reuse_ok(s, td->t)) {
		ftp_stats_tls_handshake(s->fw, false, true);
		refuse(s, 522, "TLS session of data connection not resumed (ftp.tls.require_reuse).");
		return;
	}
	ftp_stats_tls_handshake(s->fw, true, true);
	if (fb_log_get_level() >= LOG_LVL_DEBUG) {
		char desc[96];
		flog(LOG_LVL_DEBUG, "ftp: session %llu: data connection in TLS (%s%s)",
		     (unsigned long long)s->id, crypto_tls_desc(td->t, desc, sizeof(desc)),
		     crypto_tls_resumed(td->t) ? ", resumed" : "");
	}
	td->checked = true;
	if (crypto_tls_resumed(td->t))
		ftp_tls_next_ticket(s);      /* instead of one here (begin) */
	if (s->data.want) {
		s->data.want = false;
		ftp_transfer_ready(s);
	}
}

static void hs_failed(struct ftp_session *s, const char *what)
{
	char host[64];
	struct ftp_tlsdata *td = s->data.td;
	flog(LOG_LVL_WARN, "ftp: session %llu from %s: data connection TLS %s: %s",
	     (unsigned long long)s->id, fb_addr_text(&s->peer, host, sizeof(host)), what,
	     td ? crypto_tls_why(td->t) : "-");
	ftp_stats_tls_handshake(s->fw, false, true);
	ftp_tlsdata_flush(s);                 /* the alert, if any */
	refuse(s, 522, "TLS negotiation on the data connection failed.");
}

struct hs_job {
	struct ftp_tlsdata *td;
	int r;
};

static void hs_work(void *ctx)
{
	struct hs_job *j = ctx;
	j->r = crypto_tls_handshake(j->td->t);
	crypto_thread_done();
}

static void hs_drop(void *ctx)
{
	struct hs_job *j = ctx;
	ftp_tlsdata_drop(j->td);
}

static void hs_done(struct ftp_session *s, void *ctx)
{
	struct hs_job *j = ctx;
	if (!ftp_tlsdata_back(s, j->td))
		return;
	if (j->r == CRYPTO_TLS_ERROR)
		hs_failed(s, "handshake");
	else if (j->r == 1)
		established(s);
	if (s->data.td == j->td)
		process_input(s);           /* what came meanwhile */
	struct ftp_tlsdata *td = s->data.td;
	if (td == j->td && td->eof && !td->checked && !td->busy && s->xfer)
		ftp_xfer_done(s, 426, "Connection closed; transfer aborted.", false);
}

static void hs_step(struct ftp_session *s)
{
	struct ftp_tlsdata *td = s->data.td;
	struct hs_job *j = malloc(sizeof(*j));
	if (j) {
		j->td = td;
		td->busy = true;
		if (ftp_defer_quiet(s, hs_work, hs_done, hs_drop, j))
			return;
		/* not submitted: hs_drop cleared busy */
	}
	int r = crypto_tls_handshake(td->t);   /* no pool slot: here, once */
	if (r == CRYPTO_TLS_ERROR)
		hs_failed(s, "handshake");
	else if (r == 1) {
		ftp_tlsdata_flush(s);
		established(s);
	} else
		ftp_tlsdata_flush(s);
}

static void hs_timeout(struct fe_worker *w, void *arg)
{
	struct ftp_session *s = arg;
	(void)w;
	s->data.td->timer = NULL;
	char host[64];
	flog(LOG_LVL_WARN, "ftp: session %llu from %s: data connection TLS handshake "
	     "timed out", (unsigned long long)s->id,
	     fb_addr_text(&s->peer, host, sizeof(host)));
	ftp_stats_tls_handshake(s->fw, false, true);
	refuse(s, 425, "TLS handshake on the data connection timed out.");
}

bool ftp_tlsdata_begin(struct ftp_session *s, struct crypto_tls *handed)
{
	struct ftp_tlsdata *td = calloc(1, sizeof(*td));
	struct crypto_tls *t = handed ? handed : ftp_tls_conn_new(s->srv);
	if (!td || !t) {
		free(td);
		if (!handed)
			crypto_tls_free(t);
		return false;
	}
	td->t = t;
	s->data.td = td;
	/* A ticket here would come after the handshake, when an uploading
	 * client may no longer read (curl reads once, before its close_notify):
	 * one that arrives later resets the connection and loses the upload's
	 * tail. The client gets its next ticket on the control connection
	 * (established). SPSV's DATACONN connection is a login: its ticket
	 * comes before the reply the client waits for. */
	if (!handed)
		crypto_tls_no_tickets(t);
	if (handed) {                /* SPSV: the DATACONN connection's handshake */
		if (!ftp_tls_data_reuse_ok(s, t)) {
			refuse(s, 522, "TLS session of data connection not resumed "
			       "(ftp.tls.require_reuse).");
			return true;
		}
		td->checked = true;
		td->fed = true;          /* records may wait in the layer */
	} else {
		td->timer = fe_timer_add(s->fw->w, (uint64_t)s->set->fc->data_timeout * 1000,
					 hs_timeout, s);
	}
	td->capped = s->srv->ktls_rx != 0;
	if (td->capped) {
		crypto_tls_cursor_init(t, &td->cur);   /* SPSV: what the login fed */
		fe_conn_recv_max(s->data.conn, next_read(td));
	}
	fe_conn_recv_start(s->data.conn);
	ftp_tlsdata_flush(s);
	if (td->checked && s->data.want) {   /* the transfer came first */
		s->data.want = false;
		ftp_transfer_ready(s);
	}
	return true;
}

/* ---- input ---------------------------------------------------------------------- */

/* Moves held ciphertext into the layer while it takes it. */
static void feed_held(struct ftp_tlsdata *td)
{
	while (td->hold.len) {
		size_t n = td->hold.len < FEED_SLICE ? td->hold.len : FEED_SLICE;
		if (!crypto_tls_feed(td->t, td->hold.p, n))
			return;
		fb_buf_consume(&td->hold, n);
		td->fed = true;
	}
}

static bool upload_running(const struct ftp_session *s)
{
	const struct transfer *x = s->xfer;
	return x && ftp_xk_incoming(x->kind) && x->fd >= 0 && !x->peer_done;
}

static void upload_pump(struct ftp_session *s);

/* Not an upload: what a client may send on a download's connection is its
 * close_notify (or an alert); data is read and thrown away. */
static void read_other(struct ftp_session *s)
{
	struct ftp_tlsdata *td = s->data.td;
	uint8_t sink[4096];
	for (;;) {
		long n = crypto_tls_read(td->t, sink, sizeof(sink));
		if (n > 0)
			continue;
		if (n == CRYPTO_TLS_CLOSED)
			td->notify = true;
		else if (n == CRYPTO_TLS_ERROR) {
			hs_failed(s, "record");
			return;
		}
		break;
	}
	ftp_tlsdata_flush(s);
}

static void process_input(struct ftp_session *s)
{
	struct ftp_tlsdata *td = s->data.td;
	if (!td || td->busy)
		return;
	if (!crypto_tls_ready(td->t)) {
		feed_held(td);
		if (td->fed) {
			td->fed = false;
			hs_step(s);
		}
		return;
	}
	struct transfer *x = s->xfer;
	if (!td->checked || !x)
		return;          /* kept until a transfer says what the bytes are */
	if (ftp_xk_incoming(x->kind)) {
		if (upload_running(s) && !x->busy)
			upload_pump(s);
		return;                      /* else kept until the file is open */
	}
	feed_held(td);
	read_other(s);
}

void ftp_tlsdata_input(struct ftp_session *s, const uint8_t *data, size_t len)
{
	struct ftp_tlsdata *td = s->data.td;
	/* What comes while we do not read (a TLS 1.3 client may send data
	 * right after its Finished, before our handshake job read it) is
	 * bounded by pausing the connection: what the engine had already
	 * received then still comes, once. */
	fb_buf_append(&td->hold, data, len);
	if (td->hold.failed) {
		hs_failed(s, "input (out of memory)");
		return;
	}
	if (td->capped)
		crypto_tls_cursor_add(&td->cur, data, len);
	if (td->capped && s->data.conn)
		cap_or_stop(s);
	if (td->hold.len >= CRYPTO_TLS_IN_MAX && s->data.conn && !td->paused) {
		fe_conn_pause(s->data.conn);  /* the peer waits for us */
		td->paused = true;
	}
	process_input(s);
}

/* ---- uploads: decrypt and write on the pool ----------------------------------- */

struct store_job {
	struct xfer_job_head h;
	struct ftp_tlsdata *td;
	uint64_t offset;
	uint64_t got;                 /* plaintext bytes from the wire */
	bool ascii, held_cr;
	int r;                        /* the file: 0 or -errno */
	int end;                      /* 0, CRYPTO_TLS_CLOSED or CRYPTO_TLS_ERROR */
};

static void store_work(void *ctx)
{
	struct store_job *j = ctx;
	uint8_t *in = malloc(PLAIN_CHUNK), *out = j->ascii ? malloc(PLAIN_CHUNK + 2) : NULL;
	if (!in || (j->ascii && !out)) {
		j->r = -ENOMEM;
		goto done;
	}
	for (;;) {
		long n = crypto_tls_read(j->td->t, in, PLAIN_CHUNK);
		if (n == CRYPTO_TLS_AGAIN)
			break;
		if (n < 0) {
			j->end = (int)n;
			break;
		}
		j->got += (uint64_t)n;
		const uint8_t *p = in;
		size_t m = (size_t)n;
		if (j->ascii) {
			m = ftp_ascii_from_net(in, m, out, &j->held_cr);
			p = out;
		}
		if ((j->r = ftp_upload_write(j->h.fd, p, m, &j->offset)))
			break;
	}
	if (!j->r && j->end == CRYPTO_TLS_CLOSED && j->ascii && j->held_cr) {
		j->held_cr = false;      /* a CR that ended the file */
		j->r = ftp_upload_write(j->h.fd, (const uint8_t *)"\r", 1, &j->offset);
	}
	if (j->end == CRYPTO_TLS_CLOSED)
		crypto_tls_shutdown(j->td->t);    /* our close_notify answers it */
done:
	free(in);
	free(out);
}

static void store_drop(void *ctx)
{
	struct store_job *j = ctx;
	ftp_xfer_fd_drop(j);
	ftp_tlsdata_drop(j->td);
}

void ftp_tlsdata_truncated(struct ftp_session *s)
{
	char host[64];
	flog(LOG_LVL_WARN, "ftp: session %llu from %s: TLS data connection closed without "
	     "close_notify: upload truncated", (unsigned long long)s->id,
	     fb_addr_text(&s->peer, host, sizeof(host)));
	ftp_xfer_done(s, 426, "Data connection closed without TLS close_notify; upload "
		      "incomplete.", false);
}

static void store_done(struct ftp_session *s, void *ctx)
{
	struct store_job *j = ctx;
	struct transfer *x = ftp_xfer_current(s, j->h.seq);
	bool mine = ftp_tlsdata_back(s, j->td);
	if (!x || !mine) {
		ftp_xfer_fd_drop(j);
		return;
	}
	struct ftp_tlsdata *td = j->td;
	x->fd = j->h.fd;
	x->busy = false;
	x->offset = j->offset;
	x->bytes += j->got;
	x->cr_state = j->held_cr;
	if (j->r) {
		ftp_xfer_write_failed(s, j->r);
	} else if (j->end == CRYPTO_TLS_ERROR) {
		flog(LOG_LVL_WARN, "ftp: session %llu: data connection TLS: %s",
		     (unsigned long long)s->id, crypto_tls_why(td->t));
		ftp_xfer_done(s, 426, "TLS error on the data connection; transfer aborted.", false);
	} else if (j->end == CRYPTO_TLS_CLOSED) {
		td->notify = true;            /* whole: the client said so */
		s->fw->st.tls_data_recvs[0]++;
		x->peer_done = true;
		ftp_upload_finish(s);
	} else {
		upload_pump(s);
	}
}

static void upload_pump(struct ftp_session *s)
{
	struct ftp_tlsdata *td = s->data.td;
	struct transfer *x = s->xfer;
	assert(upload_running(s) && !x->busy);
	feed_held(td);
	if (td->paused && !td->stopped && td->hold.len < CRYPTO_TLS_IN_MAX && s->data.conn) {
		fe_conn_resume(s->data.conn);
		td->paused = false;
	}
	if (!td->fed && td->stopped && !td->hold.len && !td->eof && s->data.conn) {
		hand_over(s);                /* all opened and written */
		return;
	}
	if (!td->fed) {
		/* the last job read all there was: at the end, no close_notify */
		if (td->eof)
			ftp_tlsdata_truncated(s);
		return;
	}
	td->fed = false;
	struct store_job *j = ftp_xfer_job_new(s, sizeof(*j));
	if (!j)
		return;
	j->offset = x->offset;
	j->ascii = x->ascii;
	j->held_cr = x->cr_state;
	ftp_tlsdata_lend(s, &j->td);
	ftp_xfer_job_submit(s, store_work, store_done, store_drop, j);
}

void ftp_tlsdata_recv(struct ftp_session *s)
{
	struct ftp_tlsdata *td = s->data.td;
	td->fed = true;            /* what came with the handshake may be in it */
	if (td->capped && ftp_ktlsrx_wanted(s))
		td->want_stop = true;  /* at the next record's end (cap_or_stop) */
	else if (td->capped)
		uncap(s);
	upload_pump(s);
}

/* The TCP connection ended. An upload is complete only after the client's
 * close_notify: a FIN (or reset) without it is a truncated stream, 426,
 * and an atomic upload's temporary file is removed. Returns true when this
 * took care of the transfer. */
bool ftp_tlsdata_on_close(struct ftp_session *s, int err)
{
	struct ftp_tlsdata *td = s->data.td;
	struct transfer *x = s->xfer;
	if (!td || !x || !ftp_xk_incoming(x->kind))
		return false;
	td->eof = true;
	if (x->peer_done)
		return true;
	if (x->ktls_rx) {               /* the kernel's splice was cut short */
		if (x->fx)              /* it went with the connection: transfer.c */
			return false;   /* counts its bytes while they exist, 426 */
		ftp_xfer_done(s, 426, "Connection closed; transfer aborted.", false);
		return true;
	}
	/* A client may send its Finished, a small file, close_notify and FIN
	 * at once: they wait in hold while the handshake job runs, and its end
	 * (hs_done) goes on with them, or gives the 426 if it stays unfinished. */
	if (!err && !td->checked && td->busy)
		return true;
	if (err || !td->checked) {
		ftp_xfer_done(s, 426, "Connection closed; transfer aborted.", false);
		return true;
	}
	if (!x->busy && x->fd >= 0)
		upload_pump(s);               /* the last ciphertext, then the verdict */
	else if (!x->busy)
		ftp_tlsdata_truncated(s);     /* the file was never opened */
	return true;                          /* else the running job's end decides */
}
