/* auth.c — password checks with libcrypt (crypt_rn: yescrypt, sha512-crypt,
 * whatever the hash names) and the lockout of addresses that keep failing. */
#include <crypt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ftp_internal.h"

enum { LOCKOUT_MAX_ENTRIES = 4096 };

bool ct_equal(const void *a, const void *b, size_t n)
{
	const volatile uint8_t *x = a, *y = b;
	uint8_t d = 0;
	for (size_t i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

bool auth_password_ok(const char *hash, const char *password)
{
	if (!hash || hash[0] != '$')
		return false;   /* no DES or empty hashes */
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	if (!cd)
		return false;
	/* crypt_rn is libxcrypt's crypt_r that returns NULL instead of a "*"
	 * string on failure; it also escapes the sanitizers' crypt_r interceptor,
	 * which would otherwise satisfy the link and leave libcrypt out. */
	const char *h = crypt_rn(password, hash, cd, (int)sizeof(*cd));
	size_t n = strlen(hash);
	bool ok = h && h[0] != '*' && strlen(h) == n && ct_equal(h, hash, n);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ok;
}

struct lock_entry {
	uint8_t host[16];
	int failures;
	uint64_t until_ms;     /* locked out until then */
	uint64_t last_ms;
};

struct lockout {
	pthread_mutex_t mu;
	int max_failures;
	uint64_t lock_ms;
	struct lock_entry *v;
	size_t n, cap;
};

static void host_key(const struct sockaddr_storage *a, uint8_t out[16])
{
	memset(out, 0, 16);
	if (a->ss_family == AF_INET) {
		out[10] = out[11] = 0xff;   /* as IPv4-mapped IPv6 */
		memcpy(out + 12, &((const struct sockaddr_in *)a)->sin_addr, 4);
	} else if (a->ss_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)a)->sin6_addr, 16);
	}
}

struct lockout *lockout_create(int max_failures, int lockout_seconds)
{
	struct lockout *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	pthread_mutex_init(&l->mu, NULL);
	l->max_failures = max_failures;
	l->lock_ms = (uint64_t)lockout_seconds * 1000;
	return l;
}

void lockout_destroy(struct lockout *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->mu);
	free(l->v);
	free(l);
}

static struct lock_entry *find(struct lockout *l, const uint8_t key[16])
{
	for (size_t i = 0; i < l->n; i++)
		if (!memcmp(l->v[i].host, key, 16))
			return &l->v[i];
	return NULL;
}

bool lockout_blocked(struct lockout *l, const struct sockaddr_storage *a, uint64_t now_ms)
{
	uint8_t key[16];
	host_key(a, key);
	pthread_mutex_lock(&l->mu);
	struct lock_entry *e = find(l, key);
	bool blocked = e && e->until_ms > now_ms;
	pthread_mutex_unlock(&l->mu);
	return blocked;
}

void lockout_failed(struct lockout *l, const struct sockaddr_storage *a, uint64_t now_ms)
{
	uint8_t key[16];
	host_key(a, key);
	pthread_mutex_lock(&l->mu);
	struct lock_entry *e = find(l, key);
	if (!e) {
		if (l->n == l->cap && l->cap < LOCKOUT_MAX_ENTRIES) {
			size_t cap = l->cap ? l->cap * 2 : 16;
			struct lock_entry *v = realloc(l->v, cap * sizeof(*v));
			if (v) {
				l->v = v;
				l->cap = cap;
			}
		}
		if (l->n < l->cap) {
			e = &l->v[l->n++];
		} else if (l->n) {      /* full: reuse the stalest entry */
			e = &l->v[0];
			for (size_t i = 1; i < l->n; i++)
				if (l->v[i].last_ms < e->last_ms)
					e = &l->v[i];
		}
		if (e) {
			memset(e, 0, sizeof(*e));
			memcpy(e->host, key, 16);
		}
	}
	if (e) {
		if (e->until_ms && e->until_ms <= now_ms) {
			e->failures = 0;    /* an old lockout has run out */
			e->until_ms = 0;
		}
		e->last_ms = now_ms;
		if (++e->failures >= l->max_failures)
			e->until_ms = now_ms + l->lock_ms;
	}
	pthread_mutex_unlock(&l->mu);
}

void lockout_succeeded(struct lockout *l, const struct sockaddr_storage *a)
{
	uint8_t key[16];
	host_key(a, key);
	pthread_mutex_lock(&l->mu);
	struct lock_entry *e = find(l, key);
	if (e && e->until_ms == 0)
		*e = l->v[--l->n];
	pthread_mutex_unlock(&l->mu);
}
