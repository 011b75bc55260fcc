/* report.c — iperf3-like output: interval lines while a run goes, then a
 * summary; or, with --json, one document at the end. */
#include <stdio.h>

#include "perf.h"

void perf_report_begin(struct perf_report *r, bool json, json_t *start)
{
	r->json = json;
	r->t0_ns = perf_now_ns();
	r->doc = NULL;
	r->intervals = NULL;
	if (json) {
		r->doc = json_object();
		r->intervals = json_array();
		json_object_set_new(r->doc, "start", start ? start : json_object());
		json_object_set(r->doc, "intervals", r->intervals);
	} else if (start) {
		json_decref(start);
	}
}

void perf_report_interval(struct perf_report *r, const char *line, json_t *obj)
{
	if (r->json) {
		if (obj)
			json_array_append_new(r->intervals, obj);
		return;
	}
	if (obj)
		json_decref(obj);
	if (line) {
		puts(line);
		fflush(stdout);
	}
}

void perf_report_end(struct perf_report *r, json_t *end)
{
	if (!r->json) {
		if (end)
			json_decref(end);
		return;
	}
	json_object_set_new(r->doc, "end", end ? end : json_object());
	json_dumpf(r->doc, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	fputc('\n', stdout);
	fflush(stdout);
	json_decref(r->intervals);
	json_decref(r->doc);
}
