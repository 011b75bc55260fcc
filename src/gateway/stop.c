/* stop.c — ferryd's stop on the gateway's side: each worker sees the flag,
 * closes its listeners, tells every control session's client why (421, at a
 * reply boundary) and its backend QUIT, cuts data connections, and counts
 * itself done once nothing it queued is left to hand to the kernel. */
#include "ferry/base.h"
#include "gw_internal.h"

enum {
	WATCH_MS = 200,  /* the main thread cannot post mail: the flag is polled */
	QUIET_MS = 20,   /* after the stop: how often "all sent?" is asked */
};

static const char shutting_down[] = "Service shutting down; closing control connection.";

void gw_server_shutdown(struct gw_server *srv)
{
	__atomic_store_n(&srv->stopping, 1, __ATOMIC_RELEASE);
}

bool gw_server_idle(struct gw_server *srv)
{
	return __atomic_load_n(&srv->busy_workers, __ATOMIC_ACQUIRE) == 0;
}

/* One link at the stop. A client in the middle of a multi-line reply gets
 * no 421: the gateway relays whole lines only, so what it has is complete
 * lines of a reply whose end the backend has not sent, and a 421 line there
 * would be read as part of that reply; the connection just closes (as when
 * the backend itself drops). A data connection is cut (its control
 * session says why), without close_notify on either hop, as when the
 * engine closed it at the stop before: a cut download must not look like a
 * whole one to a TLS client. */
static void stop_link(struct gw_link *l)
{
	const char *how = ": in the middle of a reply, closed without 421";
	if (l->st == GW_PIPE) {
		l->ct.closed = l->bt.closed = true;
	} else if (!gw_tls_writable(&l->ct)) {
		how = ": TLS handshake with the client under way, closed without 421";
	} else if (!l->cli_mid) {
		gw_reply(l, 421, "%s", shutting_down);
		how = ", 421 sent";
	}
	/* The backend's control connection is at a command boundary whatever
	 * the client's reply is doing (the gateway forwards whole commands):
	 * QUIT lets it end the session as a normal logout. */
	if (l->st == GW_RELAY)
		gw_send_be(l, "QUIT\r\n", 6);
	if (l->session)
		flog(LOG_LVL_VERB, "gateway: session %llu: ferryd stops%s",
		     (unsigned long long)l->id, how);
	gw_link_end(l);
}

/* Every link ended, and what a control link queued (its 421, the backend's
 * QUIT, close_notify) handed to the kernel; a cut data connection's queue is
 * not waited for. */
static bool quiet(const struct gw_worker *gw)
{
	for (const struct gw_link *l = gw->links; l; l = l->next) {
		if (!l->ending || l->jobs)
			return false;
		if (l->st != GW_PIPE && ((l->cli && fe_conn_queued(l->cli)) ||
					 (l->be && fe_conn_queued(l->be))))
			return false;
	}
	return true;
}

static void stop_worker(struct gw_worker *gw)
{
	for (size_t i = 0; i < gw->nlisteners; i++)
		fe_listener_close(gw->listeners[i]);
	gw->nlisteners = 0;
	for (struct gw_link *l = gw->links, *next; l; l = next) {
		next = l->next;         /* ending may free l */
		if (!l->ending)
			stop_link(l);
	}
}

/* Before the stop: a look at the flag every WATCH_MS. After it: the links
 * told once, then "all sent?" every QUIET_MS until it is so. */
static void watch(struct fe_worker *w, void *arg)
{
	struct gw_worker *gw = arg;
	bool stopping = __atomic_load_n(&gw->srv->stopping, __ATOMIC_ACQUIRE);
	if (stopping && !gw->stopped) {
		gw->stopped = true;
		stop_worker(gw);
	}
	if (stopping && quiet(gw)) {
		gw->watch = NULL;
		gw->counted = false;
		__atomic_sub_fetch(&gw->srv->busy_workers, 1, __ATOMIC_RELEASE);
		return;
	}
	gw->watch = fe_timer_add(w, stopping ? QUIET_MS : WATCH_MS, watch, gw);
}

void gw_stop_watch(struct gw_worker *gw)
{
	gw->counted = true;
	__atomic_add_fetch(&gw->srv->busy_workers, 1, __ATOMIC_RELEASE);
	gw->watch = fe_timer_add(gw->w, WATCH_MS, watch, gw);
}

void gw_stop_fini(struct gw_worker *gw)
{
	fe_timer_cancel(gw->w, gw->watch);
	gw->watch = NULL;
	if (gw->counted)
		__atomic_sub_fetch(&gw->srv->busy_workers, 1, __ATOMIC_RELEASE);
	gw->counted = false;
}
