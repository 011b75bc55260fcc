/* uidmap.c — a group's clients by UID: open addressing with linear probing,
 * doubled at half load, so 100,000 clients behind one proxy cost O(1) each;
 * key and value share a slot, so a lookup touches one cache line. */
#include <errno.h>
#include <stdlib.h>

#include "table.h"

static size_t home(uint32_t uid, size_t cap)
{
	return (size_t)((uid * UINT64_C(0x9E3779B97F4A7C15)) >> 32) & (cap - 1);
}

void proxy_uid_map_init(struct uid_map *m)
{
	*m = (struct uid_map){ 0 };
}

void proxy_uid_map_free(struct uid_map *m)
{
	free(m->slots);
	proxy_uid_map_init(m);
}

void *proxy_uid_map_get(const struct uid_map *m, uint32_t uid)
{
	if (!m->cap || !uid)
		return NULL;
	for (size_t i = home(uid, m->cap);; i = (i + 1) & (m->cap - 1)) {
		const struct uid_slot *s = &m->slots[i];
		if (s->key == uid)
			return s->val;
		if (!s->key)
			return NULL;
	}
}

static void place(struct uid_slot *slots, size_t cap, uint32_t uid, void *val)
{
	size_t i = home(uid, cap);
	while (slots[i].key && slots[i].key != uid)
		i = (i + 1) & (cap - 1);
	slots[i] = (struct uid_slot){ uid, val };
}

static int resize(struct uid_map *m, size_t cap)
{
	struct uid_slot *slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key)
			place(slots, cap, m->slots[i].key, m->slots[i].val);
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	return 0;
}

int proxy_uid_map_put(struct uid_map *m, uint32_t uid, void *val)
{
	if (!uid)
		return -EINVAL;
	if (2 * (m->n + 1) > m->cap && resize(m, m->cap ? m->cap * 2 : 16) < 0)
		return -ENOMEM;
	if (!proxy_uid_map_get(m, uid))
		m->n++;
	place(m->slots, m->cap, uid, val);
	return 0;
}
