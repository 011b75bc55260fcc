/* stats.c — one worker's view of each proxy instance for metrics: its
 * datagram counters (drops by reason), key exchanges, and the groups and
 * clients it owns right now. */
#include <assert.h>
#include <string.h>

#include "ferry/proxy.h"
#include "internal.h"

static const char *const drop_names[PROXY_DROP_REASONS] = {
	[PROXY_DROP_MALFORMED] = "malformed",
	[PROXY_DROP_UNKNOWN_GROUP] = "unknown_group",
	[PROXY_DROP_NOT_LISTED] = "not_listed",
	[PROXY_DROP_REFUSED] = "refused",
	[PROXY_DROP_LIMIT] = "limit",
	[PROXY_DROP_UNEXPECTED] = "unexpected",
	[PROXY_DROP_AUTH] = "auth",
	[PROXY_DROP_RESOURCES] = "resources",
	[PROXY_DROP_SEND] = "send_failed",
};

const char *proxy_drop_reason_name(enum proxy_drop_reason r)
{
	return (unsigned)r < PROXY_DROP_REASONS ? drop_names[r] : "unknown";
}

void proxy_drop(struct instance *in, enum proxy_drop_reason why)
{
	assert((unsigned)why < PROXY_DROP_REASONS);
	in->dropped++;
	in->dropped_by[why]++;
}

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
			.kx_started = in->kx_started,
		};
		memcpy(st->dropped_by, in->dropped_by, sizeof(st->dropped_by));
		memcpy(st->kx_up, in->kx_up, sizeof(st->kx_up));
		memcpy(st->kx_clients, in->kx_clients, sizeof(st->kx_clients));
		for (const struct group *g = in->groups; g; g = g->next) {
			st->groups++;
			st->clients += g->nclients;
		}
	}
	return pw ? pw->count : 0;
}
