/* lockout.c — failed logins counted per (user, client address): a user who
 * keeps failing is locked out from that address only, so other users behind
 * the same NAT address (and anonymous) still get in. Memory is bounded, and
 * a locked entry is never evicted before its time runs out, so an attacker
 * cycling through addresses cannot flush a lock: when the table is full of
 * locks, further failures are not remembered (and each still costs the
 * login delay). */
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ftp_internal.h"

enum { NBUCKETS = 4096, NAME_MAX_LEN = 64 };

struct entry {
	struct entry *hnext;            /* hash chain */
	struct entry *prev, *next;      /* counting (LRU) or locked (by time) */
	uint8_t host[16];
	char user[NAME_MAX_LEN];
	int failures;
	uint64_t until_ms;              /* 0: counting, not locked */
};

struct list {
	struct entry *head, *tail;
};

struct lockout {
	pthread_mutex_t mu;
	int max_failures;
	uint64_t lock_ms;
	size_t n, max;
	struct list counting, locked;   /* locked: ordered by until_ms */
	struct entry *bucket[NBUCKETS];
};

static size_t hash(const char *user, const uint8_t host[16])
{
	uint32_t h = 2166136261u;
	for (int i = 0; i < 16; i++)
		h = (h ^ host[i]) * 16777619u;
	for (const char *p = user; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return h % NBUCKETS;
}

static void list_del(struct list *l, struct entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		l->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		l->tail = e->prev;
	e->prev = e->next = NULL;
}

static void list_add_tail(struct list *l, struct entry *e)
{
	e->next = NULL;
	e->prev = l->tail;
	if (l->tail)
		l->tail->next = e;
	else
		l->head = e;
	l->tail = e;
}

static struct entry **slot_of(struct lockout *l, const char *user, const uint8_t host[16])
{
	struct entry **pp = &l->bucket[hash(user, host)];
	while (*pp && (memcmp((*pp)->host, host, 16) || strcmp((*pp)->user, user)))
		pp = &(*pp)->hnext;
	return pp;
}

static void drop(struct lockout *l, struct entry *e)
{
	struct entry **pp = slot_of(l, e->user, e->host);
	*pp = e->hnext;
	list_del(e->until_ms ? &l->locked : &l->counting, e);
	l->n--;
	free(e);
}

/* Locks that have run out are forgotten; they sit in time order. */
static void expire(struct lockout *l, uint64_t now_ms)
{
	while (l->locked.head && l->locked.head->until_ms <= now_ms)
		drop(l, l->locked.head);
}

struct lockout *ftp_lockout_create(int max_failures, int lockout_seconds, size_t max_entries)
{
	struct lockout *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	pthread_mutex_init(&l->mu, NULL);
	l->max_failures = max_failures;
	l->lock_ms = (uint64_t)lockout_seconds * 1000;
	l->max = max_entries;
	return l;
}

void ftp_lockout_configure(struct lockout *l, int max_failures, int lockout_seconds)
{
	pthread_mutex_lock(&l->mu);
	l->max_failures = max_failures;
	l->lock_ms = (uint64_t)lockout_seconds * 1000;
	pthread_mutex_unlock(&l->mu);
}

void ftp_lockout_destroy(struct lockout *l)
{
	if (!l)
		return;
	while (l->counting.head)
		drop(l, l->counting.head);
	while (l->locked.head)
		drop(l, l->locked.head);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

/* What an entry is found by. Names longer than an entry holds are cut: the
 * same cut name counts together, which only makes such a user easier to
 * lock. */
struct key {
	uint8_t host[16];
	char user[NAME_MAX_LEN];
};

static void key_of(const char *user, const struct sockaddr_storage *a, struct key *k)
{
	fb_addr_key((const struct sockaddr *)a, k->host);
	size_t n = strnlen(user, NAME_MAX_LEN - 1);
	memcpy(k->user, user, n);
	k->user[n] = '\0';
}

bool ftp_lockout_blocked(struct lockout *l, const char *user, const struct sockaddr_storage *a,
		     uint64_t now_ms, uint64_t *left_ms)
{
	struct key k;
	key_of(user, a, &k);
	pthread_mutex_lock(&l->mu);
	expire(l, now_ms);
	struct entry *e = *slot_of(l, k.user, k.host);
	bool blocked = e && e->until_ms > now_ms;
	if (blocked && left_ms)
		*left_ms = e->until_ms - now_ms;
	pthread_mutex_unlock(&l->mu);
	return blocked;
}

static struct entry *make_room(struct lockout *l)
{
	if (l->n < l->max)
		return calloc(1, sizeof(struct entry));
	if (!l->counting.head)
		return NULL;            /* all locked: keep every lock */
	struct entry *e = l->counting.head;   /* least recently failed */
	struct entry **pp = slot_of(l, e->user, e->host);
	*pp = e->hnext;
	list_del(&l->counting, e);
	l->n--;
	memset(e, 0, sizeof(*e));
	return e;
}

void ftp_lockout_failed(struct lockout *l, const char *user, const struct sockaddr_storage *a,
		    uint64_t now_ms)
{
	struct key k;
	key_of(user, a, &k);
	pthread_mutex_lock(&l->mu);
	expire(l, now_ms);
	struct entry **pp = slot_of(l, k.user, k.host), *e = *pp;
	if (!e && (e = make_room(l))) {
		memcpy(e->host, k.host, sizeof(k.host));
		memcpy(e->user, k.user, sizeof(k.user));
		pp = slot_of(l, k.user, k.host);   /* make_room may have changed the chain */
		e->hnext = *pp;
		*pp = e;
		l->n++;
		list_add_tail(&l->counting, e);
	}
	if (e && !e->until_ms) {
		list_del(&l->counting, e);
		if (++e->failures >= l->max_failures && l->lock_ms) {
			e->until_ms = now_ms + l->lock_ms;
			list_add_tail(&l->locked, e);
		} else {
			list_add_tail(&l->counting, e);   /* most recent at the tail */
		}
	}
	pthread_mutex_unlock(&l->mu);
}

void ftp_lockout_succeeded(struct lockout *l, const char *user, const struct sockaddr_storage *a)
{
	struct key k;
	key_of(user, a, &k);
	pthread_mutex_lock(&l->mu);
	struct entry *e = *slot_of(l, k.user, k.host);
	if (e && !e->until_ms)
		drop(l, e);
	pthread_mutex_unlock(&l->mu);
}

size_t ftp_lockout_count(struct lockout *l)
{
	pthread_mutex_lock(&l->mu);
	size_t n = l->n;
	pthread_mutex_unlock(&l->mu);
	return n;
}
