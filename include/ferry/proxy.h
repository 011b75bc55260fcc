/* proxy.h — the UFTP proxy instances of one process: state shared by the
 * workers (made before they start), and each worker's sockets and groups. */
#ifndef FERRY_PROXY_H
#define FERRY_PROXY_H

#if defined(FERRY_MODULE) && !defined(FERRY_USES_PROXY)
#error "ferry/proxy.h: this module may not use proxy (module graph: meson.build)"
#endif

#include <stddef.h>
#include <stdint.h>

#include "ferry/config.h"
#include "ferry/engine.h"

struct proxy_shared;
struct proxy_worker;

/* Reads -C/-S lists, resolves -s/-H/-I, fixes each instance's UID. Returns
 * 0 or an exit code, with the reason logged. */
int proxy_shared_new(const struct ferry_config *cfg, unsigned nworkers,
		     struct proxy_shared **out);
void proxy_shared_free(struct proxy_shared *sh);
/* SIGHUP, main thread: re-reads each instance's -C and -S lists (new
 * REGISTERs and ANNOUNCEs use them; a changed -S makes every worker re-join
 * its public addresses for the new sources). The instances of cfg must
 * match those in force (the caller checks). */
void proxy_shared_reload(struct proxy_shared *s, const struct ferry_config *cfg);

/* Opens every instance's sockets on worker w (SO_REUSEPORT); each public
 * multicast address is joined by exactly one worker. 0 or an exit code. */
int proxy_worker_init(struct fe_worker *w, struct proxy_shared *sh,
		      struct proxy_worker **out);
void proxy_worker_fini(struct proxy_worker *pw);

/* One instance's counters on one worker (metrics). */
/* Why a datagram was not sent on: every drop counts under exactly one. */
enum proxy_drop_reason {
	PROXY_DROP_MALFORMED,      /* not a UFTP message, or fields that lie */
	PROXY_DROP_UNKNOWN_GROUP,  /* for no session this proxy knows */
	PROXY_DROP_NOT_LISTED,     /* a host or server not in -C/-S, a wrong source ID */
	PROXY_DROP_REFUSED,        /* an ANNOUNCE refused (answered with an ABORT) */
	PROXY_DROP_LIMIT,          /* a group or per-source limit */
	PROXY_DROP_UNEXPECTED,     /* not valid in this role or state */
	PROXY_DROP_AUTH,           /* failed decryption or verification */
	PROXY_DROP_RESOURCES,      /* memory, a full queue or mailbox */
	PROXY_DROP_SEND,           /* the send itself failed */
	PROXY_DROP_REASONS
};
/* The label of a reason in metrics ("malformed", "unknown_group", ...). */
const char *proxy_drop_reason_name(enum proxy_drop_reason r);

/* Key exchanges: with the server (upstream: the proxy's own, once per
 * encrypted session) and with each client (downstream). */
enum { PROXY_KX_OK, PROXY_KX_FAILED, PROXY_KX_RESULTS };

struct proxy_inst_stats {
	const char *name, *role;
	uint64_t rx, forwarded, dropped, handed_off, aggregates;
	uint64_t dropped_by[PROXY_DROP_REASONS];   /* sums to dropped */
	uint64_t kx_started;                     /* encrypted sessions begun */
	uint64_t kx_up[PROXY_KX_RESULTS], kx_clients[PROXY_KX_RESULTS];
	uint64_t groups, clients;        /* owned by this worker, now */
};
/* Fills up to max entries, one per instance; returns the instance count.
 * On the worker that owns pw. */
size_t proxy_worker_stats(const struct proxy_worker *pw, struct proxy_inst_stats *out,
			  size_t max);

/* Which worker joins the i-th multicast address of an instance. */
unsigned proxy_join_owner(size_t addr_index, unsigned nworkers);

#endif
