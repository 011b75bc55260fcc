/* tlsslot.c — a server TLS context that a reload replaces: connections take
 * the one in force under a lock, so a reload never drops a context that a
 * new connection is about to reference, and each keeps the one it began
 * with (ftp.tls and gateway.tls alike). */
#include <pthread.h>
#include <stdlib.h>

#include "ferry/crypto.h"

struct crypto_tls_slot {
	pthread_mutex_t lock;
	struct crypto_tls_ctx *ctx;
};

struct crypto_tls_slot *crypto_tls_slot_new(struct crypto_tls_ctx *ctx)
{
	struct crypto_tls_slot *s = calloc(1, sizeof(*s));
	if (!s || pthread_mutex_init(&s->lock, NULL)) {
		free(s);
		return NULL;
	}
	s->ctx = ctx;
	return s;
}

void crypto_tls_slot_free(struct crypto_tls_slot *s)
{
	if (!s)
		return;
	crypto_tls_ctx_free(s->ctx);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

struct crypto_tls_ctx *crypto_tls_slot_get(struct crypto_tls_slot *s)
{
	if (!s)
		return NULL;
	pthread_mutex_lock(&s->lock);
	struct crypto_tls_ctx *c = crypto_tls_ctx_ref(s->ctx);
	pthread_mutex_unlock(&s->lock);
	return c;
}

struct crypto_tls *crypto_tls_slot_conn(struct crypto_tls_slot *s)
{
	if (!s)
		return NULL;
	pthread_mutex_lock(&s->lock);
	struct crypto_tls *t = s->ctx ? crypto_tls_new(s->ctx) : NULL;
	pthread_mutex_unlock(&s->lock);
	return t;
}

void crypto_tls_slot_swap(struct crypto_tls_slot *s, struct crypto_tls_ctx *next)
{
	pthread_mutex_lock(&s->lock);
	struct crypto_tls_ctx *old = s->ctx;
	s->ctx = next;
	pthread_mutex_unlock(&s->lock);
	crypto_tls_ctx_free(old);     /* connections hold their own reference */
}
