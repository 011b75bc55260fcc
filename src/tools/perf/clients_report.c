/* clients_report.c — the results of ferry-perf clients: each phase's tally
 * (distinct answers, duplicates, aggregation times), interval lines, the
 * summary and the JSON end document. */

#include "clients.h"

void perf_cl_tally_finish(struct ctx *c, struct tally *t, enum phase p)
{
	if (!t->ran)
		return;
	if (p == PH_STATUS) {
		/* Only the section's blocks count; a proxy may send the bitmap
		 * padded to the block size, and what it puts there is noted. */
		for (unsigned b = 0; b < c->o.blocksize * 8u; b++) {
			bool want = c->nak_expected[b / 8] & (0x80u >> (b % 8));
			bool got = c->nak_got[b / 8] & (0x80u >> (b % 8));
			if (b >= c->o.blocks)
				t->beyond_bits += got;
			else if (want && !got)
				t->missing_bits++;
			else if (got && !want)
				t->extra_bits++;
		}
		uint64_t end = t->complete_ns ? t->complete_ns : t->last_new_ns;
		t->agg_ms = t->first_sent_ns && end > t->first_sent_ns
			    ? (double)(end - t->first_sent_ns) / 1e6 : 0;
		return;
	}
	double *d = malloc((t->distinct ? t->distinct : 1) * sizeof(*d));
	size_t n = 0;
	for (size_t i = 0; d && i < c->o.clients; i++)
		if (t->count[i] && t->sent_ns[i] && t->recv_ns[i] >= t->sent_ns[i])
			d[n++] = (double)(t->recv_ns[i] - t->sent_ns[i]) / 1e6;
	if (d && n) {
		qsort(d, n, sizeof(*d), perf_cmp_double);
		t->p50 = perf_percentile(d, n, 50);
		t->p90 = perf_percentile(d, n, 90);
		t->p99 = perf_percentile(d, n, 99);
		t->max = d[n - 1];
	}
	free(d);
	uint64_t end = t->complete_ns ? t->complete_ns : t->last_new_ns;
	t->agg_ms = t->first_sent_ns && end > t->first_sent_ns
		    ? (double)(end - t->first_sent_ns) / 1e6 : 0;
}

bool perf_cl_tally_ok(const struct tally *t, enum phase p)
{
	if (!t->ran)
		return t->expected == 0;
	if (p == PH_STATUS)
		return !t->missing_bits && !t->extra_bits && !t->unknown;
	return t->distinct == t->expected && !t->dups && !t->unknown;
}

static json_t *tally_json(const struct tally *t, enum phase p)
{
	json_t *o = json_pack("{s:b, s:I, s:I, s:I, s:I, s:f, s:b}",
			      "ran", t->ran, "expected", (json_int_t)t->expected,
			      "sent", (json_int_t)t->sent,
			      "send_errors", (json_int_t)t->send_errors,
			      "messages", (json_int_t)t->msgs,
			      "aggregation_ms", t->agg_ms, "ok", perf_cl_tally_ok(t, p));
	json_object_set_new(o, "timed_out", json_boolean(t->timed_out));
	if (p == PH_STATUS) {
		json_object_set_new(o, "union_ok",
				    json_boolean(!t->missing_bits && !t->extra_bits));
		json_object_set_new(o, "missing_bits", json_integer((json_int_t)t->missing_bits));
		json_object_set_new(o, "extra_bits", json_integer((json_int_t)t->extra_bits));
		json_object_set_new(o, "bits_past_section",
				    json_integer((json_int_t)t->beyond_bits));
		json_object_set_new(o, "unknown", json_integer((json_int_t)t->unknown));
		return o;
	}
	json_object_set_new(o, "received", json_integer((json_int_t)t->distinct));
	json_object_set_new(o, "duplicates", json_integer((json_int_t)t->dups));
	json_object_set_new(o, "missing", json_integer((json_int_t)(t->expected - t->distinct)));
	json_object_set_new(o, "unknown", json_integer((json_int_t)t->unknown));
	json_object_set_new(o, "direct", json_integer((json_int_t)t->direct));
	json_object_set_new(o, "delay_ms", json_pack("{s:f, s:f, s:f, s:f}",
		"p50", t->p50, "p90", t->p90, "p99", t->p99, "max", t->max));
	return o;
}

void perf_cl_print_summary(const struct ctx *c)
{
	printf("- - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -\n");
	printf("%-13s %8s %8s %6s %7s %7s %6s %9s %8s %8s %8s %8s\n", "phase",
	       "clients", "received", "dups", "missing", "unknown", "msgs", "agg_ms",
	       "p50_ms", "p90_ms", "p99_ms", "max_ms");
	for (int p = 0; p < PH_COUNT; p++) {
		const struct tally *t = &c->t[p];
		if (!t->ran) {
			printf("%-13s %8zu  (not run)\n", phase_name[p], t->expected);
			continue;
		}
		if (p == PH_STATUS) {
			printf("%-13s %8zu  union %-5s %4zu missing %4zu extra %6zu %9.1f"
			       "  (%zu bits set past the section)\n",
			       phase_name[p], t->expected,
			       t->missing_bits || t->extra_bits ? "WRONG" : "ok",
			       t->missing_bits, t->extra_bits, t->msgs, t->agg_ms,
			       t->beyond_bits);
			continue;
		}
		printf("%-13s %8zu %8zu %6zu %7zu %7zu %6zu %9.1f %8.2f %8.2f %8.2f %8.2f%s\n",
		       phase_name[p], t->expected, t->distinct, t->dups,
		       t->expected - t->distinct, t->unknown, t->msgs, t->agg_ms,
		       t->p50, t->p90, t->p99, t->max, t->timed_out ? "  (timed out)" : "");
	}
	if (c->aborts_up || c->aborts_down)
		printf("ABORTs: %zu to the server (first: \"%s\"), %zu to clients\n",
		       c->aborts_up, c->abort_text, c->aborts_down);
}

/* ---- interval reports ---------------------------------------------------------------- */

void perf_cl_report_interval(struct ctx *c, uint64_t now)
{
	size_t sent = 0, uids = 0, msgs = 0;
	for (int p = 0; p < PH_COUNT; p++) {
		sent += c->t[p].sent;
		uids += p == PH_STATUS ? 0 : c->t[p].distinct;
		msgs += c->t[p].msgs;
	}
	double from = (double)(c->last_report_ns - c->t0_ns) / 1e9;
	double to = (double)(now - c->t0_ns) / 1e9;
	char line[256];
	snprintf(line, sizeof(line),
		 "[%6.2f-%6.2f s] %-12s answers %8zu (%8.0f/s)  server: UIDs %8zu  msgs %6zu",
		 from, to, c->state == SV_END ? "end" : phase_name[c->phase],
		 sent - c->last_sent_total,
		 (double)(sent - c->last_sent_total) / (to - from > 0 ? to - from : 1),
		 uids - c->last_uids_total, msgs);
	json_t *o = json_pack("{s:f, s:f, s:s, s:I, s:I, s:I}", "start", from, "end", to,
			      "phase", c->state == SV_END ? "end" : phase_name[c->phase],
			      "answers", (json_int_t)(sent - c->last_sent_total),
			      "uids", (json_int_t)(uids - c->last_uids_total),
			      "messages_total", (json_int_t)msgs);
	perf_report_interval(&c->rep, line, o);
	c->last_sent_total = sent;
	c->last_uids_total = uids;
	c->last_report_ns = now;
}

json_t *perf_cl_end_json(const struct ctx *c, bool ok)
{
	json_t *ph = json_object();
	for (int p = 0; p < PH_COUNT; p++)
		json_object_set_new(ph, phase_name[p], tally_json(&c->t[p], (enum phase)p));
	return json_pack("{s:o, s:b, s:I, s:I, s:I, s:I, s:I, s:s, s:I, s:I}",
		"phases", ph, "ok", ok,
		"nak_clients", (json_int_t)c->nak_clients,
		"server_sent", (json_int_t)c->server_sent,
		"keepalives", (json_int_t)c->keepalives,
		"aborts_to_server", (json_int_t)c->aborts_up,
		"aborts_to_clients", (json_int_t)c->aborts_down,
		"first_abort", c->abort_text,
		"stray", (json_int_t)c->strays, "undecodable", (json_int_t)c->bad);
}
