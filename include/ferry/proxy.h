/* proxy.h — the UFTP proxy instances of one process: their sockets and
 * multicast memberships on each worker, and what arrives on them. */
#ifndef FERRY_PROXY_H
#define FERRY_PROXY_H

#include "ferry/config.h"
#include "ferry/engine.h"

struct proxy_worker;

/* Opens every configured instance's sockets on worker w (SO_REUSEPORT);
 * each public multicast address is joined by exactly one worker. Returns 0
 * or an exit code (FERRY_EXIT_PARAM for unknown interfaces, _NET else). */
int proxy_worker_init(struct fe_worker *w, const struct ferry_config *cfg,
		      struct proxy_worker **out);
void proxy_worker_fini(struct proxy_worker *pw);

/* Which worker joins the i-th multicast address of an instance. */
unsigned proxy_join_owner(size_t addr_index, unsigned nworkers);

#endif
