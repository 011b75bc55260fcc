/* table.c — the shared session table: 64 lock-striped shards of chained
 * hash buckets that grow with their load, so lookups stay O(1) and no group
 * count limit exists; a worker holds a shard lock only to copy an entry. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "table.h"

enum { SHARDS = 64, INITIAL_BUCKETS = 16 };

struct entry {
	struct entry *next;
	uint32_t group_id;
	uint8_t inst;
	struct proxy_table_ref ref;
};

struct shard {
	pthread_mutex_t lock;
	struct entry **buckets;
	size_t nbuckets, n;
};

struct proxy_table {
	struct shard shards[SHARDS];
};

/* Group IDs are random per session but mixed anyway: a server may number
 * its groups sequentially. */
static uint64_t mix(uint32_t group_id, uint8_t inst)
{
	uint64_t x = ((uint64_t)group_id << 8) | inst;
	x ^= x >> 33;
	x *= UINT64_C(0xff51afd7ed558ccd);
	x ^= x >> 33;
	return x;
}

static struct shard *shard_of(struct proxy_table *t, uint64_t h)
{
	return &t->shards[h % SHARDS];
}

static struct entry **slot(struct shard *s, uint64_t h, uint32_t gid, uint8_t inst)
{
	struct entry **p = &s->buckets[(h / SHARDS) & (s->nbuckets - 1)];
	while (*p && ((*p)->group_id != gid || (*p)->inst != inst))
		p = &(*p)->next;
	return p;
}

static int grow(struct shard *s)
{
	size_t nb = s->nbuckets * 2;
	struct entry **b = calloc(nb, sizeof(*b));
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < s->nbuckets; i++) {
		for (struct entry *e = s->buckets[i], *nx; e; e = nx) {
			nx = e->next;
			size_t k = (mix(e->group_id, e->inst) / SHARDS) & (nb - 1);
			e->next = b[k];
			b[k] = e;
		}
	}
	free(s->buckets);
	s->buckets = b;
	s->nbuckets = nb;
	return 0;
}

struct proxy_table *proxy_table_new(void)
{
	struct proxy_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	for (int i = 0; i < SHARDS; i++) {
		struct shard *s = &t->shards[i];
		pthread_mutex_init(&s->lock, NULL);
		s->nbuckets = INITIAL_BUCKETS;
		s->buckets = calloc(s->nbuckets, sizeof(*s->buckets));
		if (!s->buckets) {
			proxy_table_free(t);
			return NULL;
		}
	}
	return t;
}

void proxy_table_free(struct proxy_table *t)
{
	if (!t)
		return;
	for (int i = 0; i < SHARDS; i++) {
		struct shard *s = &t->shards[i];
		for (size_t k = 0; s->buckets && k < s->nbuckets; k++)
			for (struct entry *e = s->buckets[k], *nx; e; e = nx) {
				nx = e->next;
				free(e);
			}
		free(s->buckets);
		pthread_mutex_destroy(&s->lock);
	}
	free(t);
}

int proxy_table_insert(struct proxy_table *t, uint32_t group_id, uint8_t inst,
		      const struct proxy_table_ref *ref, struct proxy_table_ref *out)
{
	uint64_t h = mix(group_id, inst);
	struct shard *s = shard_of(t, h);
	int r = 0;
	pthread_mutex_lock(&s->lock);
	struct entry **p = slot(s, h, group_id, inst);
	if (*p) {
		if (out)
			*out = (*p)->ref;
		r = -EEXIST;
	} else if (!(*p = malloc(sizeof(**p)))) {
		r = -ENOMEM;
	} else {
		**p = (struct entry){ .group_id = group_id, .inst = inst, .ref = *ref };
		if (++s->n > 2 * s->nbuckets)
			grow(s);   /* on failure the chains just get longer */
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

bool proxy_table_find(struct proxy_table *t, uint32_t group_id, uint8_t inst,
		     struct proxy_table_ref *out)
{
	uint64_t h = mix(group_id, inst);
	struct shard *s = shard_of(t, h);
	pthread_mutex_lock(&s->lock);
	struct entry *e = *slot(s, h, group_id, inst);
	if (e)
		*out = e->ref;
	pthread_mutex_unlock(&s->lock);
	return e != NULL;
}

bool proxy_table_remove(struct proxy_table *t, uint32_t group_id, uint8_t inst,
		       const void *group)
{
	uint64_t h = mix(group_id, inst);
	struct shard *s = shard_of(t, h);
	pthread_mutex_lock(&s->lock);
	struct entry **p = slot(s, h, group_id, inst);
	struct entry *e = *p;
	bool hit = e && e->ref.group == group;
	if (hit) {
		*p = e->next;
		s->n--;
		free(e);
	}
	pthread_mutex_unlock(&s->lock);
	return hit;
}

size_t proxy_table_count(struct proxy_table *t)
{
	size_t n = 0;
	for (int i = 0; i < SHARDS; i++) {
		pthread_mutex_lock(&t->shards[i].lock);
		n += t->shards[i].n;
		pthread_mutex_unlock(&t->shards[i].lock);
	}
	return n;
}
