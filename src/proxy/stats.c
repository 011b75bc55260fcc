/* stats.c — one worker's view of each proxy instance for metrics: its
 * datagram counters and the groups and clients it owns right now. */
#include "ferry/proxy.h"
#include "internal.h"

static const char *role_name(enum proxy_role r)
{
	return r == PROXY_SERVER ? "server" : r == PROXY_CLIENT ? "client" : "response";
}

size_t proxy_worker_stats(const struct proxy_worker *pw, struct proxy_inst_stats *out,
			  size_t max)
{
	for (size_t i = 0; pw && i < pw->count && i < max; i++) {
		const struct instance *in = &pw->inst[i];
		struct proxy_inst_stats *st = &out[i];
		*st = (struct proxy_inst_stats){
			.name = in->sh->pc->name ? in->sh->pc->name : "proxy",
			.role = role_name(in->sh->pc->role),
			.rx = in->rx, .forwarded = in->forwarded, .dropped = in->dropped,
			.handed_off = in->handed_off, .aggregates = in->aggregates,
		};
		for (const struct group *g = in->groups; g; g = g->next) {
			st->groups++;
			st->clients += g->nclients;
		}
	}
	return pw ? pw->count : 0;
}
