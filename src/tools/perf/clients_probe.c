/* clients_probe.c — ferry-perf clients' forwarding probe (--probe-rate): in
 * a plain session, once the clients are registered, they send CC_ACKs
 * (which a response or client proxy passes to the server at once, without
 * aggregation) at a steady rate; the server notes which arrive and when.
 * Run beside a big registration through the same proxy, it shows whether
 * that registration stalls the proxy's forwarding: loss and latency. */
#include <string.h>

#include "clients.h"

enum { PROBE_SETTLE_MS = 500 };

struct cl_probe {
	uint64_t start_ns, end_ns, next_ns, interval_ns;
	size_t nmax, sent, received, dups, unknown, send_errors;
	uint64_t *sent_ns, *recv_ns;     /* per probe, by sequence number */
};

int perf_cl_probe_setup(struct ctx *c)
{
	struct cl_probe *p = calloc(1, sizeof(*p));
	if (!p)
		return -1;
	c->probe = p;
	p->nmax = (size_t)(c->o.probe_rate * c->o.probe_secs) + 1;
	p->interval_ns = (uint64_t)(1e9 / c->o.probe_rate);
	p->sent_ns = calloc(p->nmax, sizeof(*p->sent_ns));
	p->recv_ns = calloc(p->nmax, sizeof(*p->recv_ns));
	if (!p->sent_ns || !p->recv_ns)
		return -1;
	/* The probe replaces the file phases. */
	for (int ph = PH_FILEINFO; ph < PH_COUNT; ph++)
		c->t[ph].expected = 0;
	return 0;
}

void perf_cl_probe_free(struct ctx *c)
{
	if (!c->probe)
		return;
	free(c->probe->sent_ns);
	free(c->probe->recv_ns);
	free(c->probe);
	c->probe = NULL;
}

void perf_cl_probe_start(struct ctx *c, uint64_t now)
{
	struct cl_probe *p = c->probe;
	p->start_ns = p->next_ns = now;
	p->end_ns = now + secs_ns(c->o.probe_secs);
	c->state = SV_PROBE;
}

static void send_one(struct ctx *c, struct cl_probe *p)
{
	uint8_t buf[256];
	size_t i = p->sent % c->o.clients;
	uint32_t seq = (uint32_t)p->sent;
	struct uftp_msg m;
	memset(&m, 0, sizeof(m));
	m.hdr = (struct uftp_hdr){ .version = UFTP_VERSION, .func = UFTP_CC_ACK,
				   .src_id = uid_of(c, i), .group_id = c->o.group_id };
	/* The sequence number rides in the echoed timestamp. */
	m.u.cc_ack.ext.present = 1u << UFTP_EXT_TFMCC_ACK_INFO;
	m.u.cc_ack.ext.tfmcc_ack = (struct uftp_tfmcc_ack){
		.cc_seq = (uint16_t)seq, .client_id = uid_of(c, i), .ts_sec = seq };
	long n = uftp_encode(buf, sizeof(buf), &m);
	int fd = c->fds[i % c->nfds];
	p->sent_ns[p->sent] = perf_now_ns();
	if (n <= 0 || sendto(fd, buf, (size_t)n, 0, (const struct sockaddr *)&c->o.proxy,
			     perf_addr_len(&c->o.proxy)) != n)
		p->send_errors++;
	p->sent++;
}

void perf_cl_probe_tick(struct ctx *c, uint64_t now)
{
	struct cl_probe *p = c->probe;
	while (p->next_ns <= now && now < p->end_ns && p->sent < p->nmax) {
		send_one(c, p);
		p->next_ns += p->interval_ns;
	}
	if (now < p->end_ns + (uint64_t)PROBE_SETTLE_MS * 1000000u)
		return;
	static const char text[] = "ferry-perf: probe done";
	struct uftp_msg m;
	memset(&m, 0, sizeof(m));
	m.hdr.func = UFTP_ABORT;
	m.u.abort.text = (struct fb_bview){ (const uint8_t *)text, sizeof(text) - 1 };
	perf_cl_server_send(c, &m, false, false);
	perf_cl_trig_clear(c);
	c->state = SV_END;
}

uint64_t perf_cl_probe_next(const struct ctx *c)
{
	const struct cl_probe *p = c->probe;
	uint64_t end = p->end_ns + (uint64_t)PROBE_SETTLE_MS * 1000000u;
	return p->next_ns < p->end_ns && p->next_ns < end ? p->next_ns : end;
}

void perf_cl_probe_rx(struct ctx *c, const struct uftp_msg *m, uint64_t now)
{
	struct cl_probe *p = c->probe;
	const struct uftp_exts *x = &m->u.cc_ack.ext;
	uint32_t seq = x->tfmcc_ack.ts_sec;
	if (!UFTP_HAS_EXT(x, UFTP_EXT_TFMCC_ACK_INFO) || seq >= p->sent) {
		p->unknown++;
		return;
	}
	if (p->recv_ns[seq]) {
		p->dups++;
		return;
	}
	p->recv_ns[seq] = now;
	p->received++;
}

static void latencies(const struct cl_probe *p, double *p50, double *p99, double *max)
{
	double *d = malloc((p->received ? p->received : 1) * sizeof(*d));
	size_t n = 0;
	*p50 = *p99 = *max = 0;
	for (size_t i = 0; d && i < p->sent; i++)
		if (p->recv_ns[i] && p->recv_ns[i] >= p->sent_ns[i])
			d[n++] = (double)(p->recv_ns[i] - p->sent_ns[i]) / 1e6;
	if (d && n) {
		qsort(d, n, sizeof(*d), perf_cmp_double);
		*p50 = perf_percentile(d, n, 50);
		*p99 = perf_percentile(d, n, 99);
		*max = d[n - 1];
	}
	free(d);
}

/* The figures, and every probe as [sent_ns, latency_ns or -1] (monotonic
 * clock, so a script can cut out the time another run was busy). */
json_t *perf_cl_probe_json(const struct ctx *c)
{
	const struct cl_probe *p = c->probe;
	double p50, p99, max;
	latencies(p, &p50, &p99, &max);
	json_t *samples = json_array();
	for (size_t i = 0; i < p->sent; i++)
		json_array_append_new(samples, json_pack("[I, I]", (json_int_t)p->sent_ns[i],
			(json_int_t)(p->recv_ns[i] ? (json_int_t)(p->recv_ns[i] - p->sent_ns[i])
						   : -1)));
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:I, s:o}",
		"sent", (json_int_t)p->sent, "received", (json_int_t)p->received,
		"duplicates", (json_int_t)p->dups, "unknown", (json_int_t)p->unknown,
		"send_errors", (json_int_t)p->send_errors, "rate", c->o.probe_rate,
		"p50_ms", p50, "p99_ms", p99, "max_ms", max,
		"start_ns", (json_int_t)p->start_ns, "samples", samples);
}

void perf_cl_probe_summary(const struct ctx *c)
{
	const struct cl_probe *p = c->probe;
	double p50, p99, max;
	latencies(p, &p50, &p99, &max);
	printf("probe: %zu CC_ACKs sent, %zu forwarded (%.2f %% lost), latency p50 %.3f "
	       "p99 %.3f max %.3f ms\n", p->sent, p->received,
	       p->sent ? 100.0 * (double)(p->sent - p->received) / (double)p->sent : 0.0,
	       p50, p99, max);
}

bool perf_cl_probe_ok(const struct ctx *c)
{
	return c->probe->received > 0 && !c->probe->unknown;
}
