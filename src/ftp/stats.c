/* stats.c — the FTP service's counters for metrics: this worker's logins,
 * transfers and TLS handshakes, and the process-wide session, connection and
 * SPSV counts. */
#include "ftp_internal.h"

void ftp_stats_tls_handshake(struct ftp_worker *fw, bool ok, bool data)
{
	fw->st.tls_handshakes[data][!ok]++;
}

/* A TLS handshake ended, once per connection: ok, failed, or abandoned
 * (the connection closed first, counted as failed). */
void ftp_tls_count(struct ftp_session *s, bool ok)
{
	if (s->tls_counted)
		return;
	s->tls_counted = true;
	ftp_stats_tls_handshake(s->fw, ok, false);
}

/* Bytes of the transfers still running count now, so that a scrape during
 * a long transfer sees them move; at its end the whole is added to st. */
static void add_running(const struct ftp_worker *fw, struct ftp_stats *out)
{
	for (const struct ftp_session *s = fw->sessions; s; s = s->next) {
		const struct transfer *x = s->xfer;
		if (x && !ftp_xk_listing(x->kind))
			out->bytes[ftp_xk_incoming(x->kind)][x->ascii] += ftp_transfer_progress(x);
	}
}

void ftp_worker_stats(const struct ftp_worker *fw, struct ftp_stats *out)
{
	struct ftp_server *srv = fw->srv;
	*out = fw->st;
	add_running(fw, out);
	pthread_mutex_lock(&srv->lock);
	out->sessions = (uint64_t)srv->sessions;
	out->connections = (uint64_t)srv->connections;
	pthread_mutex_unlock(&srv->lock);
	ftp_spsv_counters(srv->spsv, &out->spsv_issued, &out->spsv_used, &out->spsv_expired,
		      &out->spsv_rejected);
}
