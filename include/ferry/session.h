/* session.h — the proxy's shared session table (UFTP groups by group ID and
 * instance, found from any worker in O(1), no fixed limits) and the
 * per-group client map (UID → client), which only the owning worker uses. */
#ifndef FERRY_SESSION_H
#define FERRY_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* ---- groups: shared by all workers ------------------------------------- */

struct sess_table;

/* What a lookup returns: the owner may be another worker; only the owner
 * dereferences `group`, so a stale copy elsewhere is never followed. */
struct sess_ref {
	uint32_t server_id;
	unsigned owner;
	void *group;
	/* Where the ANNOUNCE came from: fixed for the group's life, so any
	 * worker may forward a reply upstream without asking the owner. */
	struct sockaddr_storage up;
};

struct sess_table *sess_table_new(void);
void sess_table_free(struct sess_table *t);
/* 0 inserted; -EEXIST (then *out describes the present entry); -ENOMEM. */
int sess_table_insert(struct sess_table *t, uint32_t group_id, uint8_t inst,
		      const struct sess_ref *ref, struct sess_ref *out);
bool sess_table_find(struct sess_table *t, uint32_t group_id, uint8_t inst,
		     struct sess_ref *out);
/* Removes the entry only if it still points at `group`. */
bool sess_table_remove(struct sess_table *t, uint32_t group_id, uint8_t inst,
		       const void *group);
size_t sess_table_count(struct sess_table *t);

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

void uid_map_init(struct uid_map *m);
void uid_map_free(struct uid_map *m);
void *uid_map_get(const struct uid_map *m, uint32_t uid);
int uid_map_put(struct uid_map *m, uint32_t uid, void *val); /* 0 / -ENOMEM / -EINVAL */

#endif
