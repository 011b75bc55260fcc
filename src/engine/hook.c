/* hook.c — end-of-turn callbacks (Redis ae.c's beforesleep): batched work
 * that must run once per loop turn, just before the turn's single submit. */
#include <stdlib.h>

#include "internal.h"

struct fe_turn_hook {
	struct fe_turn_hook *next;
	fe_turn_fn *fn;
	void *arg;
	bool dead;              /* removed while the hooks were running */
	bool engine;            /* the engine's own: runs after the protocol's */
	bool fresh;             /* added while the hooks were running */
};

/* Protocol hooks run in the order they were added, then the engine's own
 * (the UDP flush), so that datagrams a hook queues leave in the same turn. */
struct fe_turn_hook *fe_turn_hook_add(struct fe_worker *w, fe_turn_fn *fn, void *arg,
				   bool engine)
{
	struct fe_turn_hook *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->fn = fn;
	h->arg = arg;
	h->engine = engine;
	h->fresh = w->hooks_running;
	struct fe_turn_hook **p = &w->hooks;
	while (*p && (engine || !(*p)->engine))
		p = &(*p)->next;
	h->next = *p;
	*p = h;
	return h;
}

struct fe_turn_hook *fe_worker_on_turn_end(struct fe_worker *w, fe_turn_fn *fn,
					   void *arg)
{
	return fe_turn_hook_add(w, fn, arg, false);
}

static void unlink_dead(struct fe_worker *w)
{
	for (struct fe_turn_hook **p = &w->hooks; *p;) {
		struct fe_turn_hook *h = *p;
		h->fresh = false;
		if (h->dead) {
			*p = h->next;
			free(h);
		} else {
			p = &h->next;
		}
	}
}

void fe_worker_turn_end_remove(struct fe_worker *w, struct fe_turn_hook *h)
{
	if (!h)
		return;
	h->dead = true;
	if (!w->hooks_running)
		unlink_dead(w);
}

/* A hook added by a hook runs from the next turn on. */
void fe_turn_hooks_run(struct fe_worker *w)
{
	w->hooks_running = true;
	for (struct fe_turn_hook *h = w->hooks; h; h = h->next)
		if (!h->dead && !h->fresh)
			h->fn(w, h->arg);
	w->hooks_running = false;
	unlink_dead(w);
}

/* After worker_fini the protocol's state is gone: only the engine's own
 * hooks may run during teardown. all: free those as well (the end). */
void fe_turn_hooks_drop(struct fe_worker *w, bool all)
{
	for (struct fe_turn_hook *h = w->hooks; h; h = h->next)
		if (all || !h->engine)
			h->dead = true;
	unlink_dead(w);
}
