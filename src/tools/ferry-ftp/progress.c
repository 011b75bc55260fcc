/* progress.c — ferry-ftp's progress bar on stderr: name, percentage or byte
 * count, rate and time left, redrawn in place. */
#include <stdio.h>
#include <time.h>

#include "ferry_ftp.h"

double ftpc_cli_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void ftpc_cli_progress_draw(struct progress *p, bool final)
{
	double t = ftpc_cli_now();
	if (!p->on || (!final && t - p->last < 0.2))
		return;
	p->last = t;
	/* The rate of this run (a resumed transfer's first part is not in it). */
	double rate = (double)(p->done - p->from) / (t - p->start > 0.001 ? t - p->start : 0.001) / 1e6;
	if (p->total) {
		int pct = (int)(p->done * 100 / p->total), bar = pct * 30 / 100;
		char eta[32] = "";
		if (final)
			snprintf(eta, sizeof(eta), "in %.0fs", t - p->start);
		else if (rate > 0 && p->total > p->done) {
			double left = (double)(p->total - p->done) / (rate * 1e6);
			if (left < 360000)
				snprintf(eta, sizeof(eta), "ETA %d:%02d:%02d", (int)left / 3600,
					 (int)left / 60 % 60, (int)left % 60);
		}
		fprintf(stderr, "\r%-24.24s [%.*s%*s] %3d%% %8.2f MB/s %-13s", p->name, bar,
			"##############################", 30 - bar, "", pct, rate, eta);
	} else {
		fprintf(stderr, "\r%-24.24s %12llu bytes %8.2f MB/s", p->name,
			(unsigned long long)p->done, rate);
	}
	if (final)
		fputc('\n', stderr);
}
