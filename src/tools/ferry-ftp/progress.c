/* progress.c — ferry-ftp's progress bar on stderr: name, percentage or byte
 * count, and rate, redrawn in place. */
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
	double rate = p->done / (t - p->start > 0.001 ? t - p->start : 0.001) / 1e6;
	if (p->total) {
		int pct = (int)(p->done * 100 / p->total), bar = pct * 30 / 100;
		fprintf(stderr, "\r%-24.24s [%.*s%*s] %3d%% %8.2f MB/s", p->name, bar,
			"##############################", 30 - bar, "", pct, rate);
	} else {
		fprintf(stderr, "\r%-24.24s %12llu bytes %8.2f MB/s", p->name,
			(unsigned long long)p->done, rate);
	}
	if (final)
		fputc('\n', stderr);
}
