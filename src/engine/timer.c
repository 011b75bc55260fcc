/* timer.c — the per-worker timer heap and the fe_timer_* API; the loop asks
 * it for the next deadline and turns that into one ring timeout per turn. */
#include <stdlib.h>

#include "internal.h"

static bool earlier(const struct fe_timer *a, const struct fe_timer *b)
{
	return a->deadline < b->deadline ||
	       (a->deadline == b->deadline && a->seq < b->seq);
}

static void place(struct timer_heap *h, unsigned i, struct fe_timer *t)
{
	h->v[i] = t;
	t->slot = i;
}

static void sift_up(struct timer_heap *h, unsigned i)
{
	struct fe_timer *t = h->v[i];
	while (i > 0) {
		unsigned parent = (i - 1) / 2;
		if (!earlier(t, h->v[parent]))
			break;
		place(h, i, h->v[parent]);
		i = parent;
	}
	place(h, i, t);
}

static void sift_down(struct timer_heap *h, unsigned i)
{
	struct fe_timer *t = h->v[i];
	for (;;) {
		unsigned c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && earlier(h->v[c + 1], h->v[c]))
			c++;
		if (!earlier(h->v[c], t))
			break;
		place(h, i, h->v[c]);
		i = c;
	}
	place(h, i, t);
}

int fe_theap_push(struct timer_heap *h, struct fe_timer *t)
{
	if (h->n == h->cap) {
		unsigned cap = h->cap ? h->cap * 2 : 64;
		struct fe_timer **v = realloc(h->v, cap * sizeof(*v));
		if (!v)
			return -1;
		h->v = v;
		h->cap = cap;
	}
	t->seq = h->seq++;
	place(h, h->n++, t);
	sift_up(h, t->slot);
	return 0;
}

struct fe_timer *fe_theap_peek(const struct timer_heap *h)
{
	return h->n ? h->v[0] : NULL;
}

void fe_theap_remove(struct timer_heap *h, struct fe_timer *t)
{
	unsigned i = t->slot;
	struct fe_timer *last = h->v[--h->n];
	if (i == h->n)
		return;
	place(h, i, last);
	if (i > 0 && earlier(last, h->v[(i - 1) / 2]))
		sift_up(h, i);
	else
		sift_down(h, i);
}

void fe_theap_free(struct timer_heap *h)
{
	for (unsigned i = 0; i < h->n; i++)
		free(h->v[i]);
	free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}

struct fe_timer *fe_timer_add(struct fe_worker *w, uint64_t delay_ms,
			      fe_timer_cb *cb, void *arg)
{
	struct fe_timer *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->deadline = w->now_ms + delay_ms;
	t->cb = cb;
	t->arg = arg;
	if (fe_theap_push(&w->timers, t) < 0) {
		free(t);
		return NULL;
	}
	return t;
}

void fe_timer_cancel(struct fe_worker *w, struct fe_timer *t)
{
	if (!t)
		return;
	fe_theap_remove(&w->timers, t);
	free(t);
}
