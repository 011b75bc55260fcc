/* clients.c — ferry-perf clients: set-up, the event loop that drives the
 * simulated server and clients, and the subcommand's entry point. */
#include <string.h>
#include <sys/epoll.h>

#include "clients.h"

static void handle_events(struct ctx *c, int timeout_ms)
{
	struct epoll_event ev[64];
	int n = epoll_wait(c->ep, ev, 64, timeout_ms);
	for (int i = 0; i < n; i++) {
		uint64_t tag = ev[i].data.u64;
		if (tag == TAG_SERVER)
			perf_cl_read_batch(c, c->server_fd, true);
		else if (tag == TAG_MCAST)
			perf_cl_read_batch(c, c->mcast_fd, false);
		else if (tag >= TAG_CLIENT && tag - TAG_CLIENT < c->nfds)
			perf_cl_client_socket_read(c, c->fds[tag - TAG_CLIENT]);
	}
}

static int run(struct ctx *c)
{
	uint64_t now = perf_now_ns();
	c->t0_ns = c->last_report_ns = c->last_pump_ns = now;
	uint64_t interval = secs_ns(c->o.interval);
	c->next_report_ns = interval ? now + interval : UINT64_MAX;
	perf_cl_phase_start(c, PH_REGISTER, now);
	while (c->state != SV_END && !perf_stopping()) {
		now = perf_now_ns();
		perf_cl_clients_pump(c, now);
		perf_cl_server_tick(c, now);
		if (now >= c->next_report_ns) {
			perf_cl_report_interval(c, now);
			c->next_report_ns += interval;
		}
		uint64_t next = perf_cl_clients_next(c, now);
		uint64_t s = perf_cl_server_next(c);
		if (s < next)
			next = s;
		if (c->next_report_ns < next)
			next = c->next_report_ns;
		int ms = 0;
		if (next > now) {
			uint64_t d = (next - now + 999999) / 1000000;
			ms = d > 100 ? 100 : (int)d;
		}
		handle_events(c, ms);
	}
	if (interval)
		perf_cl_report_interval(c, perf_now_ns());
	return perf_stopping() ? -1 : 0;
}

/* ---- set-up -------------------------------------------------------------------------- */

static int alloc_state(struct ctx *c)
{
	size_t n = c->o.clients;
	if (!(c->flags = calloc(n, 1)))
		return -1;
	for (int p = 0; p < PH_COUNT; p++) {
		struct tally *t = &c->t[p];
		t->sent_ns = calloc(n, sizeof(*t->sent_ns));
		t->recv_ns = calloc(n, sizeof(*t->recv_ns));
		t->count = calloc(n, sizeof(*t->count));
		if (!t->sent_ns || !t->recv_ns || !t->count)
			return -1;
		t->expected = n;
	}
	c->naklen = (c->o.blocks + 7) / 8;
	c->nak_expected = calloc(c->o.blocksize, 1);
	c->nak_got = calloc(c->o.blocksize, 1);
	if (!c->nak_expected || !c->nak_got)
		return -1;
	/* Which clients NAK, and the union the server must end up with. */
	uint64_t limit = (uint64_t)(c->o.nak_fraction * 18446744073709551615.0);
	for (size_t i = 0; i < n; i++) {
		if (c->o.nak_fraction <= 0 ||
		    (c->o.nak_fraction < 1 && splitmix(c->o.seed ^ splitmix(i)) >= limit))
			continue;
		c->flags[i] |= CL_NAKS;
		c->nak_clients++;
		for (unsigned k = 0; k < c->o.nak_blocks; k++)
			set_bit(c->nak_expected, nak_block(c, i, k));
	}
	c->t[PH_STATUS].expected = c->nak_clients;
	return 0;
}

static void free_state(struct ctx *c)
{
	free(c->flags);
	for (int p = 0; p < PH_COUNT; p++) {
		free(c->t[p].sent_ns);
		free(c->t[p].recv_ns);
		free(c->t[p].count);
	}
	free(c->nak_expected);
	free(c->nak_got);
	free(c->q);
	perf_cl_trig_clear(c);
	free(c->trig);
	free(c->fds);
	free(c->o.addrs);
}

int perf_clients(int argc, char **argv)
{
	struct ctx c;
	memset(&c, 0, sizeof(c));
	c.ep = c.server_fd = c.mcast_fd = -1;
	int r = perf_cl_parse_opts(argc, argv, &c.o);
	if (r) {
		perf_cl_usage(r > 0 ? stdout : stderr);
		free(c.o.addrs);
		return r > 0 ? PERF_OK : PERF_USAGE;
	}
	int rc = PERF_SYS;
	c.delay_ns = secs_ns(c.o.delay);
	if (perf_pin(c.o.cpu) < 0 || alloc_state(&c) < 0 || perf_cl_open_sockets(&c) < 0 ||
	    (c.o.keyex && perf_cl_kx_setup(&c) < 0) ||
	    (c.o.probe_rate > 0 && perf_cl_probe_setup(&c) < 0))
		goto out;
	perf_trap_signals();
	perf_report_begin(&c.rep, c.o.json, perf_cl_start_json(&c.o));
	if (!c.o.json) {
		char a[64];
		printf("ferry-perf clients: %zu %s-proxy clients -> %s, %zu ports, "
		       "%zu addresses, group %08X, %zu with NAKs\n", c.o.clients,
		       c.o.client_mode ? "client" : "response",
		       perf_addr_str(&c.o.proxy, a, sizeof(a)), c.o.ports, c.o.naddrs,
		       c.o.group_id, c.nak_clients);
	}
	int stopped = run(&c);
	bool ok = stopped == 0;
	for (int p = 0; p < PH_COUNT; p++) {
		perf_cl_tally_finish(&c, &c.t[p], (enum phase)p);
		/* An encrypted client resends its REGISTER until its KEYINFO
		 * comes, so the server may hear its UID more than once. */
		if (c.kx && p == PH_REGISTER)
			ok = ok && c.t[p].distinct == c.t[p].expected && !c.t[p].unknown;
		else
			ok = ok && perf_cl_tally_ok(&c.t[p], (enum phase)p);
	}
	if (c.kx)
		ok = ok && perf_cl_kx_ok(&c);
	if (c.probe)
		ok = ok && perf_cl_probe_ok(&c);
	if (!c.o.json) {
		perf_cl_print_summary(&c);
		if (c.kx)
			perf_cl_kx_summary(&c);
		if (c.probe)
			perf_cl_probe_summary(&c);
	}
	json_t *end = perf_cl_end_json(&c, ok);
	if (c.kx)
		json_object_set_new(end, "encrypted", perf_cl_kx_json(&c));
	if (c.probe)
		json_object_set_new(end, "probe", perf_cl_probe_json(&c));
	perf_report_end(&c.rep, end);
	rc = ok ? PERF_OK : PERF_FAILED;
out:
	perf_cl_kx_free(&c);
	perf_cl_probe_free(&c);
	perf_cl_close_sockets(&c);
	free_state(&c);
	return rc;
}
