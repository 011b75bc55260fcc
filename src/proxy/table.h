/* table.h — the proxy's shared session table (UFTP groups by group ID and
 * instance, found from any worker in O(1), no fixed limits) and the
 * per-group client map (UID → client), which only the owning worker uses. */
#ifndef FERRY_PROXY_TABLE_H
#define FERRY_PROXY_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* ---- groups: shared by all workers ------------------------------------- */

struct proxy_table;

/* What a lookup returns: the owner may be another worker; only the owner
 * dereferences `group`, so a stale copy elsewhere is never followed. */
struct proxy_table_ref {
	uint32_t server_id;
	unsigned owner;
	void *group;
	/* Where the ANNOUNCE came from: fixed for the group's life, so any
	 * worker may forward a reply upstream without asking the owner. */
	struct sockaddr_storage up;
};

struct proxy_table *proxy_table_new(void);
void proxy_table_free(struct proxy_table *t);
/* 0 inserted; -EEXIST (then *out describes the present entry); -ENOMEM. */
int proxy_table_insert(struct proxy_table *t, uint32_t group_id, uint8_t inst,
		      const struct proxy_table_ref *ref, struct proxy_table_ref *out);
bool proxy_table_find(struct proxy_table *t, uint32_t group_id, uint8_t inst,
		     struct proxy_table_ref *out);
/* Removes the entry only if it still points at `group`. */
bool proxy_table_remove(struct proxy_table *t, uint32_t group_id, uint8_t inst,
		       const void *group);
size_t proxy_table_count(struct proxy_table *t);

/* ---- clients of one group: owner-only ---------------------------------- */

/* Open addressing, linear probing: key and value share a slot, so a
 * lookup costs one cache miss, not two. */
struct uid_slot {
	uint32_t key;       /* 0 marks an empty slot (UID 0 is never valid) */
	void *val;
};

struct uid_map {
	struct uid_slot *slots;
	size_t cap, n;
};

void proxy_uid_map_init(struct uid_map *m);
void proxy_uid_map_free(struct uid_map *m);
void *proxy_uid_map_get(const struct uid_map *m, uint32_t uid);
int proxy_uid_map_put(struct uid_map *m, uint32_t uid, void *val); /* 0 / -ENOMEM / -EINVAL */

#endif
