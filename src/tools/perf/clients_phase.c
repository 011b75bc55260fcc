/* clients_phase.c — the simulated server's phases: when one starts and ends,
 * keepalives while it waits, and the timer that moves it on. */

#include "clients.h"

static bool phase_complete(const struct ctx *c)
{
	const struct tally *t = &c->t[c->phase];
	if (c->kx && c->phase == PH_REGISTER)
		return t->complete_ns != 0 && perf_cl_kx_done(c);
	return t->complete_ns != 0;
}

void perf_cl_phase_start(struct ctx *c, enum phase p, uint64_t now)
{
	struct tally *t = &c->t[p];
	c->phase = p;
	c->state = SV_WAIT;
	t->ran = true;
	perf_cl_trig_clear(c);
	wall_now(&c->ts_sec, &c->ts_usec);
	c->phase_start_ns = now;
	double expect_s = c->o.rate > 0 ? (double)t->expected / c->o.rate : 0;
	c->deadline_ns = now + secs_ns(c->o.timeout + 1.5 * expect_s);
	c->keepalive_ns = now + secs_ns(3 * c->o.grtt);
	switch (p) {
	case PH_REGISTER: perf_cl_send_announce(c); break;
	case PH_FILEINFO: perf_cl_send_fileinfo(c); break;
	case PH_STATUS: perf_cl_send_done(c, perf_cl_want_naks); break;
	case PH_COMPLETE: perf_cl_send_done(c, perf_cl_want_all); break;
	default: break;
	}
}

/* Between phases: the server's confirmations. */
static void phase_end(struct ctx *c, uint64_t now)
{
	struct tally *t = &c->t[c->phase];
	if (!t->complete_ns)
		t->timed_out = true;
	/* answers still queued for this phase will never count */
	c->qhead = c->qtail = 0;
	if (c->kx) {                   /* REG_CONFs went out as the proxy acked */
		perf_cl_kx_finish(c);
		perf_cl_trig_clear(c);
		c->state = SV_END;
		return;
	}
	if (c->phase == PH_REGISTER)
		perf_cl_send_confirm(c, UFTP_REG_CONF);
	if (c->probe) {
		perf_cl_probe_start(c, now);
		return;
	}
	if (c->phase == PH_STATUS)
		perf_cl_send_repairs(c);
	enum phase next = (enum phase)(c->phase + 1);
	if (next == PH_STATUS && !c->t[PH_STATUS].expected)
		next = PH_COMPLETE;
	if (next == PH_COUNT) {
		perf_cl_send_confirm(c, UFTP_DONE_CONF);
		perf_cl_trig_clear(c);
		c->state = SV_END;
		return;
	}
	perf_cl_phase_start(c, next, now);
}

/* Keeps the proxy's session alive while answers trickle in (a real server
 * resends its request every 3 GRTT too; clients answer only once). */
static void keepalive(struct ctx *c, uint64_t now)
{
	if (now < c->keepalive_ns || !c->ntrig)
		return;
	perf_cl_server_send_raw(c, c->trig[0].p, c->trig[0].len);
	if (c->kx)
		perf_cl_kx_keepalive(c);
	c->keepalives++;
	c->keepalive_ns = now + secs_ns(3 * c->o.grtt);
}

void perf_cl_server_tick(struct ctx *c, uint64_t now)
{
	if (c->state == SV_END)
		return;
	keepalive(c, now);
	if (c->state == SV_PROBE) {
		perf_cl_probe_tick(c, now);
		return;
	}
	if (c->state == SV_WAIT && (phase_complete(c) || now >= c->deadline_ns)) {
		c->state = SV_SETTLE;        /* wait for duplicates and stragglers */
		c->settle_end_ns = now + secs_ns(c->o.settle);
	}
	if (c->state == SV_SETTLE && now >= c->settle_end_ns)
		phase_end(c, now);
}

uint64_t perf_cl_server_next(const struct ctx *c)
{
	switch (c->state) {
	case SV_WAIT: {
		uint64_t t = c->deadline_ns < c->keepalive_ns ? c->deadline_ns : c->keepalive_ns;
		return t;
	}
	case SV_SETTLE:
		return c->settle_end_ns;
	case SV_PROBE: {
		uint64_t t = perf_cl_probe_next(c);
		return c->keepalive_ns < t ? c->keepalive_ns : t;
	}
	default:
		return UINT64_MAX;
	}
}
