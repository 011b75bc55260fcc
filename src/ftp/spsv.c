/* spsv.c — the table of one-time SPSV DATACONN passwords shared by every
 * worker: tokens from the system RNG, one live token per control session,
 * consumed by their first use, refused once expired or (by default) when
 * they come from another address than their control connection's. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ftp_internal.h"

enum { BUCKETS = 256 };

struct token {
	struct token *next;
	char text[SPSV_TOKEN_LEN + 1];
	uint64_t session, expires_ms;
	unsigned worker;
	struct sockaddr_storage owner;  /* the control connection's client */
};

struct spsv_table {
	pthread_mutex_t mu;
	struct token *b[BUCKETS];
	size_t count;
	uint64_t issued, used, expired, rejected;   /* for metrics */
};

static unsigned bucket(const char *text) { return fb_token_bucket(text, BUCKETS); }

struct spsv_table *ftp_spsv_create(void)
{
	struct spsv_table *t = calloc(1, sizeof(*t));
	if (t)
		pthread_mutex_init(&t->mu, NULL);
	return t;
}

void ftp_spsv_destroy(struct spsv_table *t)
{
	if (!t)
		return;
	for (int i = 0; i < BUCKETS; i++)
		for (struct token *k = t->b[i], *n; k; k = n) {
			n = k->next;
			free(k);
		}
	pthread_mutex_destroy(&t->mu);
	free(t);
}

static void remove_session(struct spsv_table *t, uint64_t session)
{
	for (int i = 0; i < BUCKETS; i++)
		for (struct token **pp = &t->b[i]; *pp;) {
			struct token *k = *pp;
			if (k->session == session) {
				*pp = k->next;
				free(k);
				t->count--;
			} else {
				pp = &k->next;
			}
		}
}

int ftp_spsv_issue(struct spsv_table *t, uint64_t session, unsigned worker,
	       const struct sockaddr_storage *owner, uint64_t now_ms, uint64_t ttl_ms,
	       char *out)
{
	struct token *k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	int r = fb_token_random(k->text, SPSV_TOKEN_LEN);
	if (r) {
		free(k);
		return r;
	}
	k->session = session;
	k->worker = worker;
	k->owner = *owner;
	k->expires_ms = now_ms + ttl_ms;
	memcpy(out, k->text, sizeof(k->text));
	unsigned b = bucket(k->text);
	pthread_mutex_lock(&t->mu);
	remove_session(t, session);
	k->next = t->b[b];
	t->b[b] = k;
	t->count++;
	t->issued++;
	pthread_mutex_unlock(&t->mu);
	return 0;
}

/* A token shown from the wrong address stays valid: whoever saw it on the
 * way cannot spend it, nor burn it for the client it belongs to. */
int ftp_spsv_take(struct spsv_table *t, const char *token, const struct sockaddr_storage *from,
	      uint64_t now_ms, uint64_t *session, unsigned *worker)
{
	if (strlen(token) != SPSV_TOKEN_LEN)
		return -ENOENT;
	int r = -ENOENT;
	pthread_mutex_lock(&t->mu);
	for (struct token **pp = &t->b[bucket(token)]; *pp; pp = &(*pp)->next) {
		struct token *k = *pp;
		if (!fb_ct_equal(k->text, token, SPSV_TOKEN_LEN))
			continue;
		if (from && !fb_addr_same_host(&k->owner, from)) {
			r = -EPERM;
			break;
		}
		*pp = k->next;
		t->count--;
		r = k->expires_ms > now_ms ? 0 : -ETIMEDOUT;
		*session = k->session;
		*worker = k->worker;
		free(k);
		break;
	}
	if (r == 0)
		t->used++;
	else if (r == -ETIMEDOUT)
		t->expired++;
	else
		t->rejected++;
	pthread_mutex_unlock(&t->mu);
	return r;
}

void ftp_spsv_revoke(struct spsv_table *t, uint64_t session)
{
	pthread_mutex_lock(&t->mu);
	remove_session(t, session);
	pthread_mutex_unlock(&t->mu);
}

size_t ftp_spsv_count(struct spsv_table *t)
{
	pthread_mutex_lock(&t->mu);
	size_t n = t->count;
	pthread_mutex_unlock(&t->mu);
	return n;
}

void ftp_spsv_counters(struct spsv_table *t, uint64_t *issued, uint64_t *used,
		   uint64_t *expired, uint64_t *rejected)
{
	pthread_mutex_lock(&t->mu);
	*issued = t->issued;
	*used = t->used;
	*expired = t->expired;
	*rejected = t->rejected;
	pthread_mutex_unlock(&t->mu);
}
