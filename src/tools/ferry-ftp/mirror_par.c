/* mirror_par.c — ferry-ftp mirror -P N: the files a walk of the tree found,
 * copied over N sessions of their own, each taking the next file when its
 * last one is done. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/crypto.h"
#include "ferry_ftp.h"

bool ftpc_cli_job_add(struct ftpc_cli_jobs *q, const char *from, const char *to)
{
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 64;
		struct ftpc_cli_job *v = realloc(q->v, cap * sizeof(*v));
		if (!v) {
			ftpc_cli_fail(0, "mirror: out of memory");
			return false;
		}
		q->v = v;
		q->cap = cap;
	}
	char *f = strdup(from), *t = strdup(to);
	if (!f || !t) {
		free(f);
		free(t);
		ftpc_cli_fail(0, "mirror: out of memory");
		return false;
	}
	q->v[q->n++] = (struct ftpc_cli_job){ .from = f, .to = t };
	return true;
}

/* What the sessions share, under mu. */
struct pool {
	pthread_mutex_t mu;
	const struct ftpc_cli_jobs *q;
	const struct client *like;
	bool up;
	size_t next;              /* the next job to take */
	unsigned files, skipped;
	uint64_t bytes;
	int fatal;                /* a session's control connection failed */
};

static const struct ftpc_cli_job *take(struct pool *p)
{
	pthread_mutex_lock(&p->mu);
	const struct ftpc_cli_job *j = p->next < p->q->n ? &p->q->v[p->next++] : NULL;
	pthread_mutex_unlock(&p->mu);
	return j;
}

static void count(struct pool *p, int *slot, int value)
{
	pthread_mutex_lock(&p->mu);
	*slot = value;
	pthread_mutex_unlock(&p->mu);
}

static void *session(void *arg)
{
	struct pool *p = arg;
	struct client w = *p->like;
	memset(&w.conn, 0, sizeof(w.conn));
	w.conn.ctl.fd = -1;
	w.files = w.skipped = 0;
	w.bytes = 0;
	w.progress = false;          /* N bars cannot share one line */
	int r = ftpc_cli_open(&w);
	const struct ftpc_cli_job *j;
	while (r == EX_OK && (j = take(p))) {
		r = p->up ? ftpc_cli_put(&w, j->from, j->to) : ftpc_cli_get(&w, j->from, j->to);
		if (r != EX_OK) {
			fprintf(stderr, "%s: mirror: skipped %s\n", FERRY_FTP_PROG, j->from);
			w.skipped++;
		}
		if (r != EX_PROTO && r != EX_CONNECT)
			r = EX_OK;       /* one file failed: go on with the next */
	}
	if (r == EX_OK)
		ftpc_cmd(&w.conn, "QUIT");
	else
		count(p, &p->fatal, r);
	ftpc_close(&w.conn);
	if (w.tls_ctx)
		crypto_tls_thread_end();
	pthread_mutex_lock(&p->mu);
	p->files += w.files;
	p->skipped += w.skipped;
	p->bytes += w.bytes;
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int ftpc_cli_jobs_run(struct client *c, bool up, struct ftpc_cli_jobs *q)
{
	struct pool p = { .q = q, .like = c, .up = up };
	pthread_mutex_init(&p.mu, NULL);
	pthread_t t[64];
	unsigned n = 0;
	for (unsigned i = 0; i < c->parallel && i < 64 && i < q->n; i++)
		if (pthread_create(&t[n], NULL, session, &p) == 0)
			n++;
	if (!n && q->n)
		session(&p);                 /* no thread to be had: one session here */
	for (unsigned i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	pthread_mutex_destroy(&p.mu);
	/* Jobs no session lived to take were not copied. */
	for (size_t i = p.next; i < q->n; i++)
		fprintf(stderr, "%s: mirror: skipped %s\n", FERRY_FTP_PROG, q->v[i].from);
	p.skipped += (unsigned)(q->n - p.next);
	c->files += p.files;
	c->skipped += p.skipped;
	c->bytes += p.bytes;
	int r = p.next < q->n ? p.fatal : EX_OK;
	ftpc_cli_jobs_free(q);
	return r;
}

void ftpc_cli_jobs_free(struct ftpc_cli_jobs *q)
{
	for (size_t i = 0; i < q->n; i++) {
		free(q->v[i].from);
		free(q->v[i].to);
	}
	free(q->v);
	*q = (struct ftpc_cli_jobs){ 0 };
}
