/* dispatch.c — every datagram's way in: decode and check it, answer the
 * stateless messages, find its group's owner (handing it over by mail when
 * another worker owns it) and run the role's handler for its direction. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/base.h"
#include "internal.h"

/* A datagram travelling to the worker that owns its group. */
struct handoff {
	struct proxy_shared *shared;
	unsigned inst;
	struct sockaddr_storage src;
	size_t len;
	uint8_t data[];
};

static bool same_addr(const struct sockaddr *a, const struct sockaddr_storage *b)
{
	return fb_addr_equal(a, (const struct sockaddr *)b);
}

/* A counted drop with a rate-limited log line: the first at once, then one
 * per interval saying how many more there were. */
#define NOT_LISTED_TEXT "Client not in client list (-C) of this proxy"

/* The metrics reason of each kind of logged drop. */
static const enum proxy_drop_reason kind_reason[DROP_KINDS] = {
	[DROP_NO_DOWNSTREAM] = PROXY_DROP_UNEXPECTED,
	[DROP_KEY_REQ] = PROXY_DROP_LIMIT,
	[DROP_GROUP_LIMIT] = PROXY_DROP_LIMIT,
	[DROP_SOURCE_LIMIT] = PROXY_DROP_LIMIT,
	[DROP_NOT_LISTED] = PROXY_DROP_NOT_LISTED,
	[DROP_UNKNOWN_GROUP] = PROXY_DROP_UNKNOWN_GROUP,
};

/* True when a line was written. */
__attribute__((format(printf, 5, 6)))
static bool drop_logged(struct instance *in, enum drop_kind kind, int level,
			const struct sockaddr *src, const char *fmt, ...)
{
	uint64_t more;
	proxy_drop(in, kind_reason[kind]);
	if (!proxy_droplog_due(&in->drops[kind], fe_now_ms(in->pw->w), &more))
		return false;
	char what[200], from[64];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (more)
		flog(level, "%s: %s from %s (and %llu more like it since the last such line)",
		     in->sh->pc->name, what, fb_addr_format(src, from, sizeof(from)),
		     (unsigned long long)more);
	else
		flog(level, "%s: %s from %s", in->sh->pc->name, what,
		     fb_addr_format(src, from, sizeof(from)));
	return true;
}

/* ---- handlers: downstream (from the server side) ----------------------- */

typedef void down_fn(struct group *g, const struct pmsg *m);

static void down_forward(struct group *g, const struct pmsg *m)
{
	proxy_forward_down(g, m);
}

static void down_abort(struct group *g, const struct pmsg *m)
{
	const struct uftp_abort *a = &m->msg.u.abort;
	char text[UFTP_ABORT_TEXT_LEN];
	bool current = a->flags & UFTP_F_CURRENT_FILE;
	snprintf(text, sizeof(text), "%.*s", (int)a->text.len, (const char *)a->text.p);
	glog(LOG_LVL_INFO, g->group_id, g->inst, 0, "Transfer aborted by server: %s", text);
	if (a->host == 0 || a->host == g->in->sh->uid) {
		if (g->in->sh->pc->role != PROXY_RESPONSE)
			proxy_send_abort_down(g, 0, text, current);
		if (!current)
			proxy_group_destroy(g);
	} else if (g->in->sh->pc->role != PROXY_RESPONSE) {
		proxy_send_abort_down(g, a->host, text, false);
	}
}

/* A response proxy only watches the server: clients hear it directly. */
static void down_watch(struct group *g, const struct pmsg *m)
{
	(void)g;
	(void)m;
}

static down_fn *const client_down[UFTP_FUNC_MAX + 1] = {
	[UFTP_ABORT] = down_abort,
};
static down_fn *const response_down[UFTP_FUNC_MAX + 1] = {
	[UFTP_ABORT] = down_abort,
};

/* ---- handlers: upstream (from clients) ---------------------------------- */

typedef void up_fn(struct group *g, struct client *c, const struct pmsg *m);

static void up_aggregate(struct group *g, struct client *c, const struct pmsg *m)
{
	proxy_aggregate_add(g, c, &m->msg);
}

static void up_forward(struct group *g, struct client *c, const struct pmsg *m)
{
	(void)c;
	proxy_forward_up(g->in, &g->up, m);
}

static void up_abort(struct group *g, struct client *c, const struct pmsg *m)
{
	const struct uftp_abort *a = &m->msg.u.abort;
	char text[UFTP_ABORT_TEXT_LEN];
	snprintf(text, sizeof(text), "%.*s", (int)a->text.len, (const char *)a->text.p);
	glog(LOG_LVL_INFO, g->group_id, g->inst, 0, "Transfer aborted by %08X: %s",
	     m->hdr.src_id, text);
	(void)c;
	proxy_send_abort_up(g, m->hdr.src_id, text);
}

/* Client and response proxies aggregate the four answers of protocol.txt
 * 3.2, pass CC_ACK (and anything unforeseen) on at once. */
static up_fn *const aggregator_up[UFTP_FUNC_MAX + 1] = {
	[UFTP_REGISTER] = up_aggregate, [UFTP_FILEINFO_ACK] = up_aggregate,
	[UFTP_STATUS] = up_aggregate, [UFTP_COMPLETE] = up_aggregate,
	[UFTP_ABORT] = up_abort, [UFTP_CC_ACK] = up_forward,
	[UFTP_KEYINFO_ACK] = up_forward, [UFTP_CLIENT_KEY] = up_forward,
};

/* ---- per role --------------------------------------------------------------- */

static void server_owned(struct group *g, const struct pmsg *m,
			 const struct sockaddr *src)
{
	if (same_addr(src, &g->up)) {
		proxy_group_set_grtt(g, m->hdr.grtt);
		proxy_group_touch(g);
		proxy_forward_down(g, m);
	} else {
		proxy_forward_up(g->in, &g->up, m);
	}
}

static void from_server(struct group *g, const struct pmsg *m)
{
	char id[16];
	if (m->hdr.src_id != g->server_id) {
		snprintf(id, sizeof(id), "%08X", m->hdr.src_id);
		glog(LOG_LVL_WARN, g->group_id, g->inst, 0, "Source ID mismatch: %s", id);
		proxy_drop(g->in, PROXY_DROP_NOT_LISTED);
		return;
	}
	proxy_group_set_grtt(g, m->hdr.grtt);
	proxy_group_touch(g);
	if (g->kx && proxy_kxs_down(g, m))
		return;
	bool client = g->in->sh->pc->role == PROXY_CLIENT;
	down_fn *fn = (client ? client_down : response_down)[m->hdr.func];
	if (!fn)
		fn = client ? down_forward : down_watch;
	fn(g, m);
}

static bool client_allowed(struct group *g, uint32_t uid)
{
	const struct peerlist *l = proxy_client_list(g->in->sh);
	return !l->n || proxy_peerlist_find(l, uid);
}

static void from_client(struct group *g, const struct pmsg *m,
			const struct sockaddr *src)
{
	char from[64];
	up_fn *fn = aggregator_up[m->hdr.func];
	if (m->hdr.func == UFTP_REGISTER && !client_allowed(g, m->hdr.src_id)) {
		/* The client is told once per log line (not per REGISTER: a
		 * forged source must not get an ABORT for each datagram). */
		if (drop_logged(g->in, DROP_NOT_LISTED, LOG_LVL_WARN, src,
				"group %08X: rejecting REGISTER from %08X: not in client "
				"list (-C; ferryd enforces it also in unencrypted sessions)",
				g->group_id, m->hdr.src_id))
			proxy_send_abort_to(g, m->hdr.src_id, NOT_LISTED_TEXT, src);
		return;
	}
	bool known = proxy_group_client(g, m->hdr.src_id, false) != NULL;
	if (g->kx && proxy_kxs_up(g, m))
		return;
	struct client *c = proxy_group_client(g, m->hdr.src_id, m->hdr.func == UFTP_REGISTER);
	if (c && !known)
		glog(LOG_LVL_INFO, g->group_id, g->inst, 0, "Client %08X registered (%s)",
		     m->hdr.src_id, fb_addr_format(src, from, sizeof(from)));
	if (!c && m->hdr.func != UFTP_ABORT) {
		glog(LOG_LVL_VERB, g->group_id, g->inst, 0, "Host %08X not in host list",
		     m->hdr.src_id);
		proxy_drop(g->in, PROXY_DROP_NOT_LISTED);
		return;
	}
	if (m->hdr.func == UFTP_ENCRYPTED) {
		/* Only the aggregating roles need the group keys; until they have
		 * them such a session was already refused at its ANNOUNCE. */
		proxy_drop(g->in, PROXY_DROP_UNEXPECTED);
		return;
	}
	(fn ? fn : up_forward)(g, c, m);
}

static void handle_owned(struct instance *in, struct group *g, const struct pmsg *m,
			 const struct sockaddr *src)
{
	/* Same group ID and instance from another address, or with other
	 * encryption: a new server run reusing the ID (uftp seeds it from the
	 * clock), not the old session. */
	if (m->hdr.func == UFTP_ANNOUNCE &&
	    (!same_addr(src, &g->up) || proxy_kxs_new_session(g, m))) {
		glog(LOG_LVL_INFO, g->group_id, g->inst, 0,
		     "New ANNOUNCE under this group ID: replacing the old session");
		proxy_group_destroy(g);
		if (!(g = proxy_group_create(in, m, src)))
			return;
	}
	if (in->sh->pc->role == PROXY_SERVER)
		server_owned(g, m, src);
	else if (same_addr(src, &g->up))
		from_server(g, m);
	else
		from_client(g, m, src);
}

/* ---- groups owned here, found without a lock ---------------------------- */

static unsigned hot_slot(uint32_t group_id, uint8_t inst)
{
	return (group_id * 2654435761u ^ inst) % HOT_SLOTS;
}

static struct group *hot_find(struct instance *in, uint32_t group_id, uint8_t inst)
{
	struct group *g = in->hot[hot_slot(group_id, inst)];
	return g && g->group_id == group_id && g->inst == inst ? g : NULL;
}

static void hot_keep(struct instance *in, struct group *g)
{
	in->hot[hot_slot(g->group_id, g->inst)] = g;
}

void proxy_hot_forget(struct instance *in, const struct group *g)
{
	unsigned i = hot_slot(g->group_id, g->inst);
	if (in->hot[i] == g)
		in->hot[i] = NULL;
}

/* ---- ownership ------------------------------------------------------------------- */

static void on_handoff(struct fe_worker *to, void *arg)
{
	struct handoff *h = arg;
	struct proxy_worker *pw = h->shared->workers[fe_worker_index(to)];
	if (pw && h->inst < pw->count)
		proxy_intake(&pw->inst[h->inst], h->data, h->len,
			     (const struct sockaddr *)&h->src);
	free(h);
}

static void hand_off(struct instance *in, unsigned owner, const uint8_t *data,
		     size_t len, const struct sockaddr *src)
{
	struct handoff *h = malloc(sizeof(*h) + len);
	if (!h) {
		proxy_drop(in, PROXY_DROP_RESOURCES);
		return;
	}
	h->shared = in->pw->shared;
	h->inst = in->sh->index;
	memcpy(&h->src, src, fb_addr_len(src));
	h->len = len;
	memcpy(h->data, data, len);
	if (fe_mail_post(in->pw->w, owner, on_handoff, h) < 0) {
		free(h);
		proxy_drop(in, PROXY_DROP_RESOURCES);
		return;
	}
	in->handed_off++;
}

/* Messages that belong to no group. */
static bool stateless(struct instance *in, const struct pmsg *m,
		      const struct sockaddr *src)
{
	switch (m->hdr.func) {
	case UFTP_HB_REQ:
		proxy_heartbeat_request(in, m, src);
		return true;
	case UFTP_HB_RESP:
		proxy_heartbeat_response(in, m, src);
		return true;
	case UFTP_KEY_REQ:
		proxy_key_request(in, src);
		return true;
	case UFTP_PROXY_KEY:
		proxy_drop(in, PROXY_DROP_UNEXPECTED);  /* for clients, from response proxies */
		return true;
	default:
		return false;
	}
}

/* ---- answers that arrive before their ANNOUNCE ----------------------------- */

/* A response proxy's clients hear the server's ANNOUNCE at the same moment
 * the proxy does, so a REGISTER may reach one worker before the worker that
 * heard the ANNOUNCE has made the group. It waits here instead of being
 * lost (which cost the server a second ANNOUNCE round): retried after 5,
 * 10, 20 ... 640 ms (1.3 s in all, for a loaded machine), then dropped. */
enum { PARK_MAX = 4096, PARK_FIRST_MS = 5, PARK_TRIES = 8 };

struct parked {
	struct parked *next;
	unsigned tries;
	uint64_t due_ms;
	struct sockaddr_storage src;
	size_t len;
	uint8_t data[];
};

static void route(struct instance *in, const struct pmsg *m, const uint8_t *data,
		  size_t len, const struct sockaddr *src, unsigned tries);

static void park_arm(struct instance *in);

static void park_tick(struct fe_worker *w, void *arg)
{
	struct instance *in = arg;
	uint64_t now = fe_now_ms(w);
	in->park_timer = NULL;
	/* Take the due ones out first: a retry may park again. */
	struct parked *due = NULL, **tail = &due;
	for (struct parked **pp = &in->parked; *pp;) {
		struct parked *p = *pp;
		if (p->due_ms > now) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		in->nparked--;
		p->next = NULL;
		*tail = p;
		tail = &p->next;
	}
	while (due) {
		struct parked *p = due;
		due = p->next;
		struct pmsg m;
		if (proxy_pmsg_decode(p->data, p->len, &m) == 0)
			route(in, &m, p->data, p->len, (const struct sockaddr *)&p->src,
			      p->tries);
		free(p);
	}
	park_arm(in);
}

/* The timer runs at the earliest due time (park_due). */
static void park_timer_at(struct instance *in, uint64_t due)
{
	uint64_t now = fe_now_ms(in->pw->w);
	fe_timer_cancel(in->pw->w, in->park_timer);
	in->park_due = due;
	in->park_timer = fe_timer_add(in->pw->w, due > now ? due - now : 0, park_tick, in);
}

static void park_arm(struct instance *in)
{
	if (in->park_timer || !in->parked)
		return;
	uint64_t first = UINT64_MAX;
	for (struct parked *p = in->parked; p; p = p->next)
		if (p->due_ms < first)
			first = p->due_ms;
	park_timer_at(in, first);
}

static bool park(struct instance *in, const uint8_t *data, size_t len,
		 const struct sockaddr *src, unsigned tries)
{
	if (in->nparked >= PARK_MAX)
		return false;
	struct parked *p = malloc(sizeof(*p) + len);
	if (!p)
		return false;
	p->tries = tries + 1;
	p->due_ms = fe_now_ms(in->pw->w) + ((uint64_t)PARK_FIRST_MS << tries);
	memcpy(&p->src, src, fb_addr_len(src));
	p->len = len;
	memcpy(p->data, data, len);
	p->next = in->parked;
	in->parked = p;
	in->nparked++;
	if (!in->park_timer || p->due_ms < in->park_due)
		park_timer_at(in, p->due_ms);
	return true;
}

void proxy_park_free(struct instance *in)
{
	fe_timer_cancel(in->pw->w, in->park_timer);
	in->park_timer = NULL;
	while (in->parked) {
		struct parked *p = in->parked;
		in->parked = p->next;
		free(p);
	}
	in->nparked = 0;
}

static bool may_park(const struct instance *in, const struct pmsg *m, unsigned tries)
{
	return m->hdr.func == UFTP_REGISTER && in->sh->pc->role == PROXY_RESPONSE &&
	       tries < PARK_TRIES;
}

static void route(struct instance *in, const struct pmsg *m, const uint8_t *data,
		  size_t len, const struct sockaddr *src, unsigned tries)
{
	struct group *hot = hot_find(in, m->hdr.group_id, m->hdr.group_inst);
	if (hot) {
		handle_owned(in, hot, m, src);
		return;
	}
	struct proxy_table_ref ref;
	if (!proxy_table_find(in->sh->groups, m->hdr.group_id, m->hdr.group_inst, &ref)) {
		if (m->hdr.func != UFTP_ANNOUNCE) {
			if (may_park(in, m, tries) && park(in, data, len, src, tries))
				return;
			drop_logged(in, DROP_UNKNOWN_GROUP, LOG_LVL_VERB, src,
				    "dropped %s for unknown group %08X",
				    uftp_func_name(m->hdr.func), m->hdr.group_id);
			return;
		}
		struct group *g = proxy_group_create(in, m, src);
		if (g)
			handle_owned(in, g, m, src);
		return;
	}
	unsigned me = fe_worker_index(in->pw->w);
	if (ref.owner == me) {
		hot_keep(in, ref.group);
		handle_owned(in, ref.group, m, src);
	} else if (in->sh->pc->role == PROXY_SERVER && m->hdr.func != UFTP_ANNOUNCE &&
		   !same_addr(src, &ref.up)) {
		proxy_forward_up(in, &ref.up, m);    /* stateless: no need to hop */
	} else {
		hand_off(in, ref.owner, data, len, src);
	}
}

void proxy_intake(struct instance *in, const uint8_t *data, size_t len,
		  const struct sockaddr *src)
{
	struct pmsg m;
	char from[64];
	int r = proxy_pmsg_decode(data, len, &m);
	if (r < 0) {
		proxy_drop(in, PROXY_DROP_MALFORMED);
		flog(LOG_LVL_DEBUG, "%s: dropped %zu bytes from %s: %s",
		     in->sh->pc->name, len, fb_addr_format(src, from, sizeof(from)),
		     uftp_strerror((enum uftp_err)-r));
		return;
	}
	in->rx++;
	if (stateless(in, &m, src))
		return;
	if (in->sh->pc->role == PROXY_SERVER && !proxy_downstream(in->sh, NULL)) {
		drop_logged(in, DROP_NO_DOWNSTREAM, LOG_LVL_INFO, src,
			    "rejecting %s: downstream address not established",
			    uftp_func_name(m.hdr.func));
		return;
	}
	route(in, &m, data, len, src, 0);
}
