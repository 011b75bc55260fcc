/* metrics.c — the optional HTTP listener (metrics.listen) that serves
 * /metrics in Prometheus' text format. A scrape asks every worker by mail
 * for its own counters and answers when the last one has replied, so no
 * worker waits on a lock or on another worker, and the reply is built on
 * the worker that accepted the scrape. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/daemon.h"
#include "ferry/base.h"

enum { REQ_MAX = 4096, REQ_TIMEOUT_MS = 5000 };

struct scrape;

/* Lives until it is stopped and the last scrape in flight has ended: a
 * scrape's mail may reach a worker after its worker_fini. Only the home
 * worker (worker 0) touches the list and the flags. */
struct daemon_metrics {
	struct fe_worker *w;            /* home: where scrapes are answered */
	struct fe_listener *l;
	daemon_metrics_collect_fn *collect;
	void *arg;
	struct scrape *scrapes;         /* not yet answered */
	bool stopped;
};

/* One scrape: the connection, one sample per worker, and how many
 * workers have not answered yet (the last one posts the reply home). */
struct scrape {
	struct scrape *prev, *next;     /* m->scrapes */
	struct daemon_metrics *m;
	struct fe_conn *c;              /* NULL once the client left */
	struct fe_timer *timer;
	unsigned home, left, nworkers;
	bool answered;                  /* no more input wanted */
	bool gathering;                 /* the workers hold it until finish() */
	size_t len;
	char req[REQ_MAX];
	struct daemon_metrics_sample samples[];
};

/* ---- text ------------------------------------------------------------------ */

struct text {
	char *p;
	size_t len, cap;
	bool failed;
};

static void __attribute__((format(printf, 2, 3))) put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || t->failed)
		return;
	if (t->len + (size_t)n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 4096;
		while (cap < t->len + (size_t)n + 1)
			cap *= 2;
		char *p = realloc(t->p, cap);
		if (!p) {
			t->failed = true;
			return;
		}
		t->p = p;
		t->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(t->p + t->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

static void family(struct text *t, const char *name, const char *type, const char *help)
{
	put(t, "# HELP ferry_%s %s\n# TYPE ferry_%s %s\n", name, help, name, type);
}

/* ---- the exposition: one table per source ---------------------------------- */

struct engine_metric {
	const char *name, *help;
	size_t off;
};

#define EM(n, f, h) { n, h, offsetof(struct fe_stats, f) }
static const struct engine_metric engine_metrics[] = {
	EM("engine_turns_total", turns, "Event loop turns."),
	EM("engine_enters_total", enters, "io_uring_enter calls."),
	EM("engine_sqes_total", sqes, "Submission queue entries."),
	EM("engine_cqes_total", cqes, "Completions reaped."),
	EM("engine_udp_rx_total", udp_rx, "Datagrams received."),
	EM("engine_udp_rx_truncated_total", udp_rx_trunc, "Datagrams larger than a buffer, dropped."),
	EM("engine_udp_rx_nobufs_total", udp_rx_nobufs, "Receives stopped because every buffer was in use."),
	EM("engine_udp_tx_total", udp_tx, "Datagrams sent."),
	EM("engine_udp_tx_gso_total", udp_tx_gso, "Segmented (GSO) sends carrying several datagrams."),
	EM("engine_udp_tx_dropped_total", udp_tx_drop, "Datagrams dropped because the send queue was full."),
	EM("engine_udp_tx_errors_total", udp_tx_err, "Send errors."),
	EM("engine_accepts_total", accepts, "TCP connections accepted."),
	EM("engine_tcp_rx_bytes_total", tcp_rx_bytes, "TCP bytes received."),
	EM("engine_tcp_tx_bytes_total", tcp_tx_bytes, "TCP bytes sent."),
	EM("engine_timers_total", timers, "Timers fired."),
	EM("engine_mail_rx_total", mail_rx, "Messages received from other workers."),
	EM("engine_turns_slow_total", turns_slow, "Turns that ran 10 ms or more (work that stalls the worker)."),
	EM("engine_turns_preempted_total", turns_preempted, "Turns that lasted 10 ms or more mostly waiting for a CPU."),
};
#undef EM

static void put_engine(struct text *t, const struct scrape *s)
{
	for (size_t k = 0; k < sizeof(engine_metrics) / sizeof(*engine_metrics); k++) {
		const struct engine_metric *em = &engine_metrics[k];
		family(t, em->name, "counter", em->help);
		for (unsigned i = 0; i < s->nworkers; i++) {
			const uint64_t *v = (const uint64_t *)(const void *)
				((const char *)&s->samples[i].engine + em->off);
			put(t, "ferry_%s{worker=\"%u\"} %llu\n", em->name, i,
			    (unsigned long long)*v);
		}
	}
}

struct proxy_metric {
	const char *name, *type, *help;
	size_t off;
};

#define PM(n, t, f, h) { n, t, h, offsetof(struct proxy_inst_stats, f) }
static const struct proxy_metric proxy_metrics[] = {
	PM("proxy_datagrams_in_total", "counter", rx, "UFTP datagrams taken in."),
	PM("proxy_datagrams_forwarded_total", "counter", forwarded, "Datagrams sent on (forwarded or aggregated)."),
	PM("proxy_datagrams_handed_off_total", "counter", handed_off, "Datagrams handed to the worker that owns their group."),
	PM("proxy_aggregates_sent_total", "counter", aggregates, "Aggregated answers sent upstream."),
	PM("proxy_encrypted_sessions_total", "counter", kx_started, "Encrypted sessions whose key exchange began."),
	PM("proxy_groups", "gauge", groups, "UFTP sessions (groups) open."),
	PM("proxy_clients", "gauge", clients, "Clients known in open groups."),
};
#undef PM

/* One instance's field (at offset off) summed over the workers. */
static uint64_t inst_sum(const struct scrape *s, size_t j, size_t off)
{
	uint64_t sum = 0;
	for (unsigned i = 0; i < s->nworkers; i++)
		if (j < s->samples[i].ninst)   /* 0 on a worker past its fini */
			sum += *(const uint64_t *)(const void *)
				((const char *)&s->samples[i].inst[j] + off);
	return sum;
}

#define INST_LABELS "instance=\"%s\",role=\"%s\""
#define INST_ARGS(s, j) (s)->samples[0].inst[j].name, (s)->samples[0].inst[j].role

static void put_proxy_drops(struct text *t, const struct scrape *s, size_t n)
{
	family(t, "proxy_datagrams_dropped_total", "counter",
	       "Datagrams not sent on, by reason (each drop has exactly one).");
	for (size_t j = 0; j < n; j++)
		for (int r = 0; r < PROXY_DROP_REASONS; r++)
			put(t, "ferry_proxy_datagrams_dropped_total{" INST_LABELS ",reason=\"%s\"} %llu\n",
			    INST_ARGS(s, j), proxy_drop_reason_name((enum proxy_drop_reason)r),
			    (unsigned long long)inst_sum(s, j, offsetof(struct proxy_inst_stats,
								 dropped_by) + (size_t)r * sizeof(uint64_t)));
}

static void put_proxy_kx(struct text *t, const struct scrape *s, size_t n)
{
	static const char *result[PROXY_KX_RESULTS] = { "ok", "failed" };
	family(t, "proxy_key_exchanges_total", "counter",
	       "Key exchanges ended, with the server (peer=server) and with each client.");
	for (size_t j = 0; j < n; j++)
		for (int r = 0; r < PROXY_KX_RESULTS; r++) {
			size_t up = offsetof(struct proxy_inst_stats, kx_up) + (size_t)r * sizeof(uint64_t);
			size_t cl = offsetof(struct proxy_inst_stats, kx_clients) +
				    (size_t)r * sizeof(uint64_t);
			put(t, "ferry_proxy_key_exchanges_total{" INST_LABELS ",peer=\"server\","
			    "result=\"%s\"} %llu\n", INST_ARGS(s, j), result[r],
			    (unsigned long long)inst_sum(s, j, up));
			put(t, "ferry_proxy_key_exchanges_total{" INST_LABELS ",peer=\"client\","
			    "result=\"%s\"} %llu\n", INST_ARGS(s, j), result[r],
			    (unsigned long long)inst_sum(s, j, cl));
		}
}

static void put_proxy(struct text *t, const struct scrape *s)
{
	size_t n = s->nworkers ? s->samples[0].ninst : 0;
	if (!n)
		return;
	for (size_t k = 0; k < sizeof(proxy_metrics) / sizeof(*proxy_metrics); k++) {
		const struct proxy_metric *pm = &proxy_metrics[k];
		family(t, pm->name, pm->type, pm->help);
		for (size_t j = 0; j < n; j++)
			put(t, "ferry_%s{" INST_LABELS "} %llu\n", pm->name, INST_ARGS(s, j),
			    (unsigned long long)inst_sum(s, j, pm->off));
	}
	put_proxy_drops(t, s, n);
	put_proxy_kx(t, s, n);
}

static void put_ftp(struct text *t, const struct scrape *s)
{
	if (!s->nworkers || !s->samples[0].ftp_enabled)
		return;
	struct ftp_stats sum = s->samples[0].ftp;   /* gauges: process-wide */
	for (unsigned i = 1; i < s->nworkers; i++) {
		const struct ftp_stats *w = &s->samples[i].ftp;
		sum.logins_ok += w->logins_ok;
		sum.logins_failed += w->logins_failed;
		for (int d = 0; d < 2; d++)
			for (int m = 0; m < 2; m++) {
				sum.transfers[d][m] += w->transfers[d][m];
				sum.bytes[d][m] += w->bytes[d][m];
				sum.tls_handshakes[d][m] += w->tls_handshakes[d][m];
			}
		for (int k = 0; k < 2; k++) {
			sum.tls_data_sends[k] += w->tls_data_sends[k];
			sum.tls_data_recvs[k] += w->tls_data_recvs[k];
		}
	}
	family(t, "ftp_sessions", "gauge", "FTP control sessions open.");
	put(t, "ferry_ftp_sessions %llu\n", (unsigned long long)sum.sessions);
	family(t, "ftp_connections", "gauge", "FTP connections open (sessions, data and not yet logged in).");
	put(t, "ferry_ftp_connections %llu\n", (unsigned long long)sum.connections);
	family(t, "ftp_logins_total", "counter", "FTP logins by result.");
	put(t, "ferry_ftp_logins_total{result=\"ok\"} %llu\n", (unsigned long long)sum.logins_ok);
	put(t, "ferry_ftp_logins_total{result=\"failed\"} %llu\n",
	    (unsigned long long)sum.logins_failed);
	static const char *dir[2] = { "download", "upload" }, *mode[2] = { "binary", "ascii" };
	family(t, "ftp_transfers_total", "counter", "FTP file transfers ended, complete or not.");
	for (int d = 0; d < 2; d++)
		for (int m = 0; m < 2; m++)
			put(t, "ferry_ftp_transfers_total{direction=\"%s\",mode=\"%s\"} %llu\n",
			    dir[d], mode[m], (unsigned long long)sum.transfers[d][m]);
	family(t, "ftp_bytes_total", "counter", "FTP file bytes moved.");
	for (int d = 0; d < 2; d++)
		for (int m = 0; m < 2; m++)
			put(t, "ferry_ftp_bytes_total{direction=\"%s\",mode=\"%s\"} %llu\n",
			    dir[d], mode[m], (unsigned long long)sum.bytes[d][m]);
	family(t, "ftp_spsv_tokens_total", "counter", "SPSV DATACONN credentials by fate.");
	put(t, "ferry_ftp_spsv_tokens_total{event=\"issued\"} %llu\n",
	    (unsigned long long)sum.spsv_issued);
	put(t, "ferry_ftp_spsv_tokens_total{event=\"used\"} %llu\n",
	    (unsigned long long)sum.spsv_used);
	put(t, "ferry_ftp_spsv_tokens_total{event=\"expired\"} %llu\n",
	    (unsigned long long)sum.spsv_expired);
	put(t, "ferry_ftp_spsv_tokens_total{event=\"rejected\"} %llu\n",
	    (unsigned long long)sum.spsv_rejected);
	static const char *conn[2] = { "control", "data" }, *res[2] = { "ok", "failed" };
	family(t, "ftp_tls_handshakes_total", "counter",
	       "FTPS handshakes ended, by connection and result (abandoned counts as failed).");
	for (int c = 0; c < 2; c++)
		for (int r = 0; r < 2; r++)
			put(t, "ferry_ftp_tls_handshakes_total{connection=\"%s\",result=\"%s\"} %llu\n",
			    conn[c], res[r], (unsigned long long)sum.tls_handshakes[c][r]);
	const struct {
		const char *name, *help;
		const uint64_t *v;
	} by_tls[] = {
		{ "ftp_tls_downloads_total", "PROT P downloads by who sealed the records: "
		  "wolfSSL in user space, or the kernel (kTLS, ftp.tls.ktls).", sum.tls_data_sends },
		{ "ftp_tls_uploads_total", "PROT P uploads ended by the client's close_notify, "
		  "by who opened the records: wolfSSL in user space, or the kernel (kTLS, "
		  "ftp.tls.ktls).", sum.tls_data_recvs },
	};
	static const char *how[2] = { "user", "ktls" };
	for (size_t f = 0; f < sizeof(by_tls) / sizeof(by_tls[0]); f++) {
		family(t, by_tls[f].name, "counter", by_tls[f].help);
		for (int k = 0; k < 2; k++)
			put(t, "ferry_%s{tls=\"%s\"} %llu\n", by_tls[f].name, how[k],
			    (unsigned long long)by_tls[f].v[k]);
	}
}

/* ---- HTTP ------------------------------------------------------------------ */

static void respond(struct fe_conn *c, const char *status, const char *type,
		    const char *body, size_t len)
{
	char head[256];
	int n = snprintf(head, sizeof(head), "HTTP/1.1 %s\r\nContent-Type: %s\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, type, len);
	fe_conn_send(c, head, (size_t)n);
	if (len)
		fe_conn_send(c, body, len);
	fe_conn_close(c);
}

/* After the reply: the connection only drains and closes. */
static void done_data(struct fe_conn *c, const uint8_t *d, size_t n, void *a)
{
	(void)c, (void)d, (void)n, (void)a;
}
static void done_close(struct fe_conn *c, int err, void *a) { (void)c, (void)err, (void)a; }
static const struct fe_conn_ops done_ops = { .on_data = done_data, .on_close = done_close };

static void scrape_free(struct scrape *s)
{
	struct daemon_metrics *m = s->m;
	if (s->prev)
		s->prev->next = s->next;
	else
		m->scrapes = s->next;
	if (s->next)
		s->next->prev = s->prev;
	for (unsigned i = 0; i < s->nworkers; i++)
		free(s->samples[i].inst);
	free(s);
	if (m->stopped && !m->scrapes)
		free(m);
}

/* On the home worker once every sample is in. */
static void finish(struct fe_worker *w, void *arg)
{
	struct scrape *s = arg;
	(void)w;
	if (s->c && !s->m->stopped) {
		struct text t = { 0 };
		put_engine(&t, s);
		put_proxy(&t, s);
		put_ftp(&t, s);
		if (t.failed)
			respond(s->c, "500 Internal Server Error", "text/plain", "", 0);
		else
			respond(s->c, "200 OK", "text/plain; version=0.0.4; charset=utf-8",
				t.p, t.len);
		free(t.p);
		fe_conn_hold(s->c, &done_ops, NULL);
	}
	scrape_free(s);
}

/* On every worker: its own counters, then (the last one) back home. */
static void sample(struct fe_worker *w, void *arg)
{
	struct scrape *s = arg;
	unsigned i = fe_worker_index(w);
	s->m->collect(w, &s->samples[i], s->m->arg);
	if (__atomic_sub_fetch(&s->left, 1, __ATOMIC_ACQ_REL))
		return;
	if (i == s->home || fe_mail_post(w, s->home, finish, s) < 0)
		finish(w, s);
}

static void ask_workers(struct fe_worker *w, struct scrape *s)
{
	s->answered = s->gathering = true;
	fe_timer_cancel(w, s->timer);
	s->timer = NULL;
	for (unsigned i = 0; i < s->nworkers; i++) {
		if (i == s->home)
			continue;
		if (fe_mail_post(w, i, sample, s) < 0)
			__atomic_sub_fetch(&s->left, 1, __ATOMIC_ACQ_REL); /* sample missing */
	}
	sample(w, s);
}

static void on_data(struct fe_conn *c, const uint8_t *data, size_t len, void *arg)
{
	struct scrape *s = arg;
	if (s->answered)
		return;
	size_t take = len < REQ_MAX - 1 - s->len ? len : REQ_MAX - 1 - s->len;
	memcpy(s->req + s->len, data, take);
	s->len += take;
	s->req[s->len] = '\0';
	if (!strstr(s->req, "\r\n\r\n") && !strstr(s->req, "\n\n")) {
		if (s->len == REQ_MAX - 1) {
			s->answered = true;
			respond(c, "431 Request Header Fields Too Large", "text/plain", "", 0);
		}
		return;
	}
	if (strncmp(s->req, "GET /metrics ", 13) && strncmp(s->req, "GET /metrics?", 13)) {
		s->answered = true;
		static const char nf[] = "only /metrics is served here\n";
		respond(c, strncmp(s->req, "GET ", 4) ? "405 Method Not Allowed" : "404 Not Found",
			"text/plain", nf, sizeof(nf) - 1);
		return;
	}
	ask_workers(fe_conn_worker(c), s);
}

static void on_close(struct fe_conn *c, int err, void *arg)
{
	struct scrape *s = arg;
	(void)err;
	s->c = NULL;
	if (!s->gathering) {       /* nobody else holds it */
		fe_timer_cancel(fe_conn_worker(c), s->timer);
		scrape_free(s);
	}
}

static const struct fe_conn_ops scrape_ops = { .on_data = on_data, .on_close = on_close };

static void req_timeout(struct fe_worker *w, void *arg)
{
	struct scrape *s = arg;
	(void)w;
	s->timer = NULL;
	if (s->c)
		fe_conn_close(s->c);
}

static void on_accept(struct fe_listener *l, struct fe_conn *c, void *arg)
{
	struct daemon_metrics *m = arg;
	(void)l;
	struct fe_worker *w = fe_conn_worker(c);
	unsigned n = fe_engine_workers(fe_worker_engine(w));
	struct scrape *s = calloc(1, sizeof(*s) + n * sizeof(s->samples[0]));
	if (!s)
		return;                 /* not started: the engine closes it */
	s->m = m;
	s->c = c;
	s->next = m->scrapes;
	if (m->scrapes)
		m->scrapes->prev = s;
	m->scrapes = s;
	s->home = fe_worker_index(w);
	s->nworkers = s->left = n;
	fe_conn_start(c, &scrape_ops, s);
	s->timer = fe_timer_add(w, REQ_TIMEOUT_MS, req_timeout, s);
}

/* "ADDR:PORT" or "[V6ADDR]:PORT", as --check-config validated it. */
static int parse_listen(const char *spec, struct sockaddr_storage *out)
{
	char host[256];
	uint16_t port = 0;
	bool has_port = false;
	if (fb_hostport_split(spec, host, sizeof(host), &port, &has_port) < 0 || !has_port)
		return -EINVAL;
	return fb_addr_resolve(host, port, AF_UNSPEC, out);
}

int daemon_metrics_start(struct fe_worker *w, const char *listen,
			 daemon_metrics_collect_fn *collect, void *arg,
			 struct daemon_metrics **out)
{
	struct sockaddr_storage a;
	int r = parse_listen(listen, &a);
	struct daemon_metrics *m = r == 0 ? calloc(1, sizeof(*m)) : NULL;
	if (!m) {
		flog(LOG_LVL_ERR, "metrics: listen %s: %s", listen,
		     r ? strerror(-r) : "out of memory");
		return r ? FERRY_EXIT_PARAM : FERRY_EXIT_ALLOC;
	}
	m->w = w;
	m->collect = collect;
	m->arg = arg;
	if (!(m->l = fe_tcp_listen(w, &a, false, on_accept, m, &r))) {
		flog(LOG_LVL_ERR, "metrics: listen on %s: %s", listen, strerror(-r));
		free(m);
		return FERRY_EXIT_NET;
	}
	flog(LOG_LVL_INFO, "metrics: serving /metrics on %s", listen);
	*out = m;
	return 0;
}

/* On the home worker, from worker_fini: the engine closes what is left of
 * the connections without on_close, so scrapes still reading a request go
 * now; those out with the workers end in finish(), without an answer. */
void daemon_metrics_stop(struct daemon_metrics *m)
{
	if (!m)
		return;
	fe_listener_close(m->l);
	for (struct scrape *s = m->scrapes, *n; s; s = n) {
		n = s->next;
		s->c = NULL;
		if (!s->gathering) {
			fe_timer_cancel(m->w, s->timer);
			scrape_free(s);
		}
	}
	m->stopped = true;
	if (!m->scrapes)
		free(m);
}
