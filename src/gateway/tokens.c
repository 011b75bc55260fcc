/* tokens.c — the gateway's one-time data tokens, shared by every worker:
 * each names the backend passive port one control session was given, lives
 * token_timeout seconds, is spent by its first use, and is refused (and kept
 * for its owner) when shown from any other host. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/base.h"
#include "ferry/crypto.h"
#include "gw_internal.h"

enum { BUCKETS = 256 };

struct token {
	struct token *next;
	char text[GW_TOKEN_LEN + 1];
	uint64_t expires_ms;
	struct gw_grant g;
};

struct gw_tokens {
	pthread_mutex_t mu;
	struct token *b[BUCKETS];
};

static unsigned bucket(const char *text) { return fb_token_bucket(text, BUCKETS); }

struct gw_tokens *gw_tokens_create(void)
{
	struct gw_tokens *t = calloc(1, sizeof(*t));
	if (t)
		pthread_mutex_init(&t->mu, NULL);
	return t;
}

void gw_tokens_destroy(struct gw_tokens *t)
{
	if (!t)
		return;
	for (int i = 0; i < BUCKETS; i++)
		for (struct token *k = t->b[i], *n; k; k = n) {
			n = k->next;
			crypto_tls_session_free(k->g.tls_session);
			free(k);
		}
	pthread_mutex_destroy(&t->mu);
	free(t);
}

static void drop_session(struct gw_tokens *t, uint64_t session)
{
	for (int i = 0; i < BUCKETS; i++)
		for (struct token **pp = &t->b[i]; *pp;) {
			struct token *k = *pp;
			if (k->g.session == session) {
				*pp = k->next;
				crypto_tls_session_free(k->g.tls_session);
				free(k);
			} else {
				pp = &k->next;
			}
		}
}

int gw_tokens_issue(struct gw_tokens *t, const struct gw_grant *g, uint64_t now_ms,
		    uint64_t ttl_ms, char *out)
{
	struct token *k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	int r = fb_token_random(k->text, GW_TOKEN_LEN);
	if (r) {
		free(k);
		return r;
	}
	k->g = *g;
	k->expires_ms = now_ms + ttl_ms;
	memcpy(out, k->text, sizeof(k->text));
	unsigned b = bucket(k->text);
	pthread_mutex_lock(&t->mu);
	drop_session(t, g->session);
	k->next = t->b[b];
	t->b[b] = k;
	pthread_mutex_unlock(&t->mu);
	return 0;
}

int gw_tokens_take(struct gw_tokens *t, const char *token,
		   const struct sockaddr_storage *from, uint64_t now_ms,
		   struct gw_grant *g)
{
	if (strlen(token) != GW_TOKEN_LEN)
		return -ENOENT;
	int r = -ENOENT;
	pthread_mutex_lock(&t->mu);
	for (struct token **pp = &t->b[bucket(token)]; *pp; pp = &(*pp)->next) {
		struct token *k = *pp;
		if (!fb_ct_equal(k->text, token, GW_TOKEN_LEN))
			continue;
		if (!fb_addr_same_ip((const struct sockaddr *)&k->g.owner,
				  (const struct sockaddr *)from)) {
			r = -EPERM;
			break;
		}
		*pp = k->next;
		r = k->expires_ms > now_ms ? 0 : -ETIMEDOUT;
		*g = k->g;       /* the TLS session goes with it, to the caller */
		if (r) {         /* ... unless the token is refused */
			crypto_tls_session_free(g->tls_session);
			g->tls_session = NULL;
		}
		free(k);
		break;
	}
	pthread_mutex_unlock(&t->mu);
	return r;
}

void gw_tokens_revoke(struct gw_tokens *t, uint64_t session)
{
	pthread_mutex_lock(&t->mu);
	drop_session(t, session);
	pthread_mutex_unlock(&t->mu);
}
