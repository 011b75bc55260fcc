/* dispatch.c — every datagram's way in: decode and check it, answer the
 * stateless messages, find its group's owner (handing it over by mail when
 * another worker owns it) and run the role's handler for its direction. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/iface.h"
#include "ferry/log.h"
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
	return a->sa_family == b->ss_family &&
	       !memcmp(a, b, addr_len(a));
}

/* ---- handlers: downstream (from the server side) ----------------------- */

typedef void down_fn(struct group *g, const struct pmsg *m);

static void down_forward(struct group *g, const struct pmsg *m)
{
	forward_down(g, m);
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
			send_abort_down(g, 0, text, current);
		if (!current)
			group_destroy(g);
	} else if (g->in->sh->pc->role != PROXY_RESPONSE) {
		send_abort_down(g, a->host, text, false);
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
	aggregate_add(g, c, &m->msg);
}

static void up_forward(struct group *g, struct client *c, const struct pmsg *m)
{
	(void)c;
	forward_up(g->in, &g->up, m);
}

static void up_abort(struct group *g, struct client *c, const struct pmsg *m)
{
	const struct uftp_abort *a = &m->msg.u.abort;
	char text[UFTP_ABORT_TEXT_LEN];
	snprintf(text, sizeof(text), "%.*s", (int)a->text.len, (const char *)a->text.p);
	glog(LOG_LVL_INFO, g->group_id, g->inst, 0, "Transfer aborted by %08X: %s",
	     m->hdr.src_id, text);
	(void)c;
	send_abort_up(g, m->hdr.src_id, text);
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
		group_set_grtt(g, m->hdr.grtt);
		group_touch(g);
		forward_down(g, m);
	} else {
		forward_up(g->in, &g->up, m);
	}
}

static void from_server(struct group *g, const struct pmsg *m)
{
	char id[16];
	if (m->hdr.src_id != g->server_id) {
		snprintf(id, sizeof(id), "%08X", m->hdr.src_id);
		glog(LOG_LVL_WARN, g->group_id, g->inst, 0, "Source ID mismatch: %s", id);
		g->in->dropped++;
		return;
	}
	group_set_grtt(g, m->hdr.grtt);
	group_touch(g);
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
	const struct peerlist *l = &g->in->sh->clients;
	return !l->n || peerlist_find(l, uid);
}

static void from_client(struct group *g, const struct pmsg *m,
			const struct sockaddr *src)
{
	char from[64];
	up_fn *fn = aggregator_up[m->hdr.func];
	if (m->hdr.func == UFTP_REGISTER && !client_allowed(g, m->hdr.src_id)) {
		glog(LOG_LVL_WARN, g->group_id, g->inst, 0,
		     "Rejecting REGISTER from %08X (%s): not in client list",
		     m->hdr.src_id, addr_format(src, from, sizeof(from)));
		g->in->dropped++;
		return;
	}
	if (g->kx && proxy_kxs_up(g, group_client(g, m->hdr.src_id, false), m))
		return;
	struct client *c = group_client(g, m->hdr.src_id, m->hdr.func == UFTP_REGISTER);
	if (!c && m->hdr.func != UFTP_ABORT) {
		glog(LOG_LVL_VERB, g->group_id, g->inst, 0, "Host %08X not in host list",
		     m->hdr.src_id);
		g->in->dropped++;
		return;
	}
	if (m->hdr.func == UFTP_ENCRYPTED) {
		/* Only the aggregating roles need the group keys; until they have
		 * them such a session was already refused at its ANNOUNCE. */
		g->in->dropped++;
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
		group_destroy(g);
		if (!(g = group_create(in, m, src)))
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

void hot_forget(struct instance *in, const struct group *g)
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
		in->dropped++;
		return;
	}
	h->shared = in->pw->shared;
	h->inst = in->sh->index;
	memcpy(&h->src, src, addr_len(src));
	h->len = len;
	memcpy(h->data, data, len);
	if (fe_mail_post(in->pw->w, owner, on_handoff, h) < 0) {
		free(h);
		in->dropped++;
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
		heartbeat_request(in, m, src);
		return true;
	case UFTP_HB_RESP:
		heartbeat_response(in, m, src);
		return true;
	case UFTP_KEY_REQ:
		proxy_key_request(in, src);
		return true;
	case UFTP_PROXY_KEY:
		in->dropped++;      /* for clients, from response proxies */
		return true;
	default:
		return false;
	}
}

void proxy_intake(struct instance *in, const uint8_t *data, size_t len,
		  const struct sockaddr *src)
{
	struct pmsg m;
	char from[64];
	int r = pmsg_decode(data, len, &m);
	if (r < 0) {
		in->dropped++;
		flog(LOG_LVL_DEBUG, "%s: dropped %zu bytes from %s: %s",
		     in->sh->pc->name, len, addr_format(src, from, sizeof(from)),
		     uftp_strerror((enum uftp_err)-r));
		return;
	}
	in->rx++;
	if (stateless(in, &m, src))
		return;
	if (in->sh->pc->role == PROXY_SERVER && !downstream(in->sh, NULL)) {
		flog(LOG_LVL_VERB, "Rejecting message from %s: downstream address "
		     "not established", addr_format(src, from, sizeof(from)));
		in->dropped++;
		return;
	}
	struct group *hot = hot_find(in, m.hdr.group_id, m.hdr.group_inst);
	if (hot) {
		handle_owned(in, hot, &m, src);
		return;
	}
	struct sess_ref ref;
	if (!sess_table_find(in->sh->groups, m.hdr.group_id, m.hdr.group_inst, &ref)) {
		if (m.hdr.func != UFTP_ANNOUNCE) {
			in->dropped++;
			return;
		}
		struct group *g = group_create(in, &m, src);
		if (g)
			handle_owned(in, g, &m, src);
		return;
	}
	unsigned me = fe_worker_index(in->pw->w);
	if (ref.owner == me) {
		hot_keep(in, ref.group);
		handle_owned(in, ref.group, &m, src);
	} else if (in->sh->pc->role == PROXY_SERVER && m.hdr.func != UFTP_ANNOUNCE &&
		   !same_addr(src, &ref.up)) {
		forward_up(in, &ref.up, &m);    /* stateless: no need to hop */
	} else {
		hand_off(in, ref.owner, data, len, src);
	}
}
