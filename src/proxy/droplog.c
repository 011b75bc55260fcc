/* droplog.c — rate-limited log lines for repeated drops: the first of a kind
 * is logged at once, then at most one line per interval saying how many
 * more of that kind were dropped in between. */
#include "internal.h"

enum { DROPLOG_INTERVAL_MS = 10000 };

/* True when a line may be written now; *more is how many were held back
 * since the last line (0 for the first). The caller counts every drop. */
bool proxy_droplog_due(struct droplog *d, uint64_t now_ms, uint64_t *more)
{
	d->total++;
	if (d->logged && now_ms - d->last_ms < DROPLOG_INTERVAL_MS) {
		d->held++;
		return false;
	}
	*more = d->held;
	d->held = 0;
	d->last_ms = now_ms;
	d->logged = true;
	return true;
}
