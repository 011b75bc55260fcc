/* group.c — a UFTP session as the proxy sees it: created by an ANNOUNCE on
 * the worker that heard it, which then owns it; its clients, private
 * multicast membership, idle timeout and end. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/base.h"
#include "internal.h"

enum { MIN_IDLE_MS = 1000 };

static bool is_multicast(const struct sockaddr_storage *a, bool ssm)
{
	if (a->ss_family == AF_INET) {
		uint32_t ip = ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr);
		return ssm ? (ip >> 24) == 232 : (ip >> 28) == 14;
	}
	const uint8_t *b = ((const struct sockaddr_in6 *)a)->sin6_addr.s6_addr;
	if (!ssm)
		return b[0] == 0xff;
	/* uftp(1): IPv6 source-specific addresses are ff3x::/32, any scope. */
	return b[0] == 0xff && (b[1] & 0xf0) == 0x30 && b[2] == 0 && b[3] == 0;
}

/* -S: the server must be listed. The address a line names is the server's
 * own (uftpproxyd(1), uftpd(1)): it is checked where the server is heard
 * directly; a client proxy hears it through a server proxy, so there only
 * the ID counts and such a list migrates unchanged. */
static bool server_allowed(struct inst_shared *sh, const struct pmsg *m,
			   const struct sockaddr *src)
{
	const struct peerlist *servers = proxy_server_list(sh);
	if (!servers->n)
		return true;
	const struct peer *p = proxy_peerlist_find(servers, m->hdr.src_id);
	if (!p)
		return false;
	return !p->has_addr || sh->pc->role == PROXY_CLIENT ||
	       fb_addr_same_ip((const struct sockaddr *)&p->addr, src);
}

/* The ANNOUNCE's checks before a group exists; a refusal is told upstream. */
static const char *refuse(struct instance *in, const struct pmsg *m,
			  const struct sockaddr *src)
{
	const struct proxy_config *pc = in->sh->pc;
	if (!server_allowed(in->sh, m, src))
		return "server not in server list (-S): ferryd enforces -S also "
		       "in unencrypted sessions, see ferryd(8)";
	const struct uftp_announce *a = &m->msg.u.announce;
	if (UFTP_HAS_EXT(&a->ext, UFTP_EXT_ENC_INFO) && pc->role != PROXY_SERVER)
		return proxy_enc_check(in->sh, m->hdr.src_id, &a->ext.enc_info);
	if (pc->role == PROXY_CLIENT)
		return NULL;
	bool ssm = proxy_server_list(in->sh)->n > 0;
	struct sockaddr_storage priv;
	if (!proxy_pmsg_addr(a, true, &priv) || !is_multicast(&priv, ssm))
		return ssm ? "Invalid source specific multicast address"
			   : "Invalid multicast address";
	return NULL;
}

static void idle_check(struct fe_worker *w, void *arg);

static uint64_t idle_ms(const struct group *g)
{
	/* protocol.txt 3.2: nothing heard for 4 * ROBUST * GRTT ends it; an
	 * unauthenticated ANNOUNCE must not make that days (GRTT byte 255 and
	 * ROBUST 255 would be 11.8 days), so it is capped (group_idle_max). */
	uint64_t ms = (uint64_t)(4.0 * g->robust * g->grtt * 1000.0);
	uint64_t cap = (uint64_t)g->in->sh->pc->group_idle_max * 1000;
	if (cap && ms > cap)
		ms = cap;
	return ms < MIN_IDLE_MS ? MIN_IDLE_MS : ms;
}

/* ---- bounds: groups alive per instance and per source address ---------- */

static unsigned source_bucket(const struct sockaddr *src)
{
	const uint8_t *b;
	size_t n;
	if (src->sa_family == AF_INET6) {
		b = ((const struct sockaddr_in6 *)src)->sin6_addr.s6_addr;
		n = 16;
	} else {
		b = (const uint8_t *)&((const struct sockaddr_in *)src)->sin_addr;
		n = 4;
	}
	uint32_t h = 2166136261u;            /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h % SOURCE_BUCKETS;
}

/* Takes a place for a new group, or says which limit is reached. A limit
 * of 0 (a configuration built without proxy_init) is no limit. */
static const char *count_in(struct inst_shared *sh, unsigned bucket)
{
	const struct proxy_config *pc = sh->pc;
	unsigned max = pc->max_groups > 0 ? (unsigned)pc->max_groups : UINT_MAX;
	unsigned per = pc->max_groups_per_source > 0 ? (unsigned)pc->max_groups_per_source
						     : UINT_MAX;
	if (++sh->groups_alive > max) {
		sh->groups_alive--;
		return "max_groups";
	}
	if (++sh->per_source[bucket] > per) {
		sh->per_source[bucket]--;
		sh->groups_alive--;
		return "max_groups_per_source";
	}
	return NULL;
}

static void count_out(struct group *g)
{
	if (!g->counted)
		return;
	g->in->sh->per_source[g->source_bucket]--;
	g->in->sh->groups_alive--;
	g->counted = false;
}

/* A refusal for a limit is logged rate-limited, and not answered: an ABORT
 * to a forged source would only reflect the flood. */
static void log_limit(struct instance *in, const char *limit, const struct sockaddr *src)
{
	struct inst_shared *sh = in->sh;
	bool per_source = !strcmp(limit, "max_groups_per_source");
	unsigned long long total = ++sh->groups_refused;
	uint64_t more;
	if (!proxy_droplog_due(&in->drops[per_source ? DROP_SOURCE_LIMIT : DROP_GROUP_LIMIT],
			       fe_now_ms(in->pw->w), &more))
		return;
	char from[64];
	flog(LOG_LVL_WARN, "%s: refusing ANNOUNCE from %s: %s (%d) reached; %llu "
	     "refused in all, %" PRIu64 " not logged since the last line", sh->pc->name,
	     fb_addr_format(src, from, sizeof(from)), limit,
	     per_source ? sh->pc->max_groups_per_source : sh->pc->max_groups,
	     total, more);
}

static void arm_idle(struct group *g, uint64_t ms)
{
	g->idle_timer = fe_timer_add(g->in->pw->w, ms, idle_check, g);
}

static void idle_check(struct fe_worker *w, void *arg)
{
	struct group *g = arg;
	g->idle_timer = NULL;
	uint64_t quiet = fe_now_ms(w) - g->last_heard;
	if (quiet >= idle_ms(g)) {
		glog(LOG_LVL_INFO, g->group_id, g->inst, 0, "Group timed out");
		proxy_group_destroy(g);
		return;
	}
	arm_idle(g, idle_ms(g) - quiet);
}

/* Called for every message from the server: a timestamp, not a timer. */
void proxy_group_touch(struct group *g)
{
	g->last_heard = fe_now_ms(g->in->pw->w);
}

void proxy_group_set_grtt(struct group *g, uint8_t q)
{
	if (q == g->grtt_q)
		return;
	g->grtt_q = q;
	g->grtt = uftp_grtt_unquantize(q);
}

static struct group *group_alloc(struct instance *in, const struct pmsg *m,
				 const struct sockaddr *src)
{
	const struct proxy_config *pc = in->sh->pc;
	struct group *g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->in = in;
	const struct uftp_announce *a = &m->msg.u.announce;
	g->group_id = m->hdr.group_id;
	g->inst = m->hdr.group_inst;
	g->server_id = m->hdr.src_id;
	memcpy(&g->up, src, fb_addr_len(src));
	proxy_pmsg_addr(a, false, &g->pub);
	proxy_pmsg_addr(a, true, &g->priv);
	uint16_t out_port = pc->role == PROXY_CLIENT ? pc->dest_port : pc->port;
	fb_addr_set_port(&g->pub, out_port);
	fb_addr_set_port(&g->priv, out_port);
	g->robust = a->robust ? a->robust : 1;
	g->blocksize = a->blocksize;
	g->grtt_q = m->hdr.grtt;
	g->gsize_q = m->hdr.gsize;
	g->grtt = uftp_grtt_unquantize(m->hdr.grtt);
	proxy_uid_map_init(&g->by_uid);
	return g;
}

static void log_new(const struct group *g)
{
	char pub[64], priv[64];
	glog(LOG_LVL_INFO, g->group_id, g->inst, 0, "Received request from %08X",
	     g->server_id);
	glog(LOG_LVL_INFO, g->group_id, g->inst, 0, "Using public multicast address %s",
	     fb_addr_format((const struct sockaddr *)&g->pub, pub, sizeof(pub)));
	glog(LOG_LVL_INFO, g->group_id, g->inst, 0, "Using private multicast address %s",
	     fb_addr_format((const struct sockaddr *)&g->priv, priv, sizeof(priv)));
}

/* NULL when refused, or when another worker got the same group first (the
 * caller then finds it in the table again). */
struct group *proxy_group_create(struct instance *in, const struct pmsg *m,
			   const struct sockaddr *src)
{
	const char *why = refuse(in, m, src);
	struct group *g = group_alloc(in, m, src);
	if (!g) {
		proxy_drop(in, PROXY_DROP_RESOURCES);
		return NULL;
	}
	if (why) {
		glog(LOG_LVL_WARN, m->hdr.group_id, m->hdr.group_inst, 0,
		     "Rejecting ANNOUNCE from %08X: %s",
		     m->hdr.src_id, why);
		proxy_send_abort_up(g, 0, why);
		proxy_drop(in, PROXY_DROP_REFUSED);
		if (UFTP_HAS_EXT(&m->msg.u.announce.ext, UFTP_EXT_ENC_INFO) &&
		    in->sh->pc->role != PROXY_SERVER) {
			in->kx_started++;            /* begun and failed at once */
			in->kx_up[PROXY_KX_FAILED]++;
		}
		free(g);
		return NULL;
	}
	g->source_bucket = source_bucket(src);
	const char *limit = count_in(in->sh, g->source_bucket);
	if (limit) {
		log_limit(in, limit, src);
		proxy_drop(in, PROXY_DROP_LIMIT);
		free(g);
		return NULL;
	}
	g->counted = true;
	struct proxy_table_ref ref = { .server_id = g->server_id, .group = g,
				.owner = fe_worker_index(in->pw->w), .up = g->up };
	if (proxy_table_insert(in->sh->groups, g->group_id, g->inst, &ref, NULL) < 0) {
		count_out(g);
		free(g);
		return NULL;
	}
	if (in->sh->pc->role != PROXY_CLIENT) {
		/* With a server list the membership is source-specific. */
		g->ssm = proxy_server_list(in->sh)->n > 0;
		int r = proxy_membership_join(in, &g->priv, g->ssm ? &g->up : NULL);
		g->joined = r == 0;
		if (r < 0) {
			glog(LOG_LVL_ERR, g->group_id, g->inst, 0,
			     "Error joining multicast group: %s", strerror(-r));
			proxy_send_abort_up(g, 0, "Error joining multicast group");
			proxy_table_remove(in->sh->groups, g->group_id, g->inst, g);
			count_out(g);
			free(g);
			return NULL;
		}
	}
	if (UFTP_HAS_EXT(&m->msg.u.announce.ext, UFTP_EXT_ENC_INFO) &&
	    in->sh->pc->role != PROXY_SERVER && proxy_kxs_start(g, m) < 0) {
		proxy_send_abort_up(g, 0, "Out of memory");
		proxy_table_remove(in->sh->groups, g->group_id, g->inst, g);
		free(g);
		return NULL;
	}
	g->next = in->groups;
	in->groups = g;
	proxy_group_touch(g);
	arm_idle(g, idle_ms(g));
	log_new(g);
	return g;
}

/* Clients live in chunks: few allocations, and neighbours in memory. */
static struct client *client_slot(struct group *g)
{
	size_t k = g->nclients / CLIENT_CHUNK;
	if (k == g->nchunks) {
		struct client **v = realloc(g->chunks, (k + 1) * sizeof(*v));
		if (!v)
			return NULL;
		g->chunks = v;
		if (!(v[k] = calloc(CLIENT_CHUNK, sizeof(**v))))
			return NULL;
		g->nchunks++;
	}
	return &g->chunks[k][g->nclients % CLIENT_CHUNK];
}

struct client *proxy_group_client(struct group *g, uint32_t uid, bool add)
{
	struct client *c = proxy_uid_map_get(&g->by_uid, uid);
	if (c || !add)
		return c;
	if (!(c = client_slot(g)) || proxy_uid_map_put(&g->by_uid, uid, c) < 0)
		return NULL;
	c->uid = uid;
	g->nclients++;
	return c;
}

void proxy_group_destroy(struct group *g)
{
	struct instance *in = g->in;
	proxy_kxs_end(g);
	proxy_aggregate_free(g);
	fe_timer_cancel(in->pw->w, g->idle_timer);
	if (g->joined)
		proxy_membership_leave(in, &g->priv, g->ssm ? &g->up : NULL);
	proxy_table_remove(in->sh->groups, g->group_id, g->inst, g);
	count_out(g);
	proxy_hot_forget(in, g);
	for (struct group **p = &in->groups; *p; p = &(*p)->next)
		if (*p == g) {
			*p = g->next;
			break;
		}
	for (size_t i = 0; i < g->nchunks; i++)
		free(g->chunks[i]);
	free(g->chunks);
	proxy_uid_map_free(&g->by_uid);
	free(g);
}
