/* pool.c — a small bounded pool of helper threads for work that may block
 * (password hashing, directory reads, chains of file operations); each job's
 * result returns to the worker that submitted it, through an eventfd whose
 * read is armed on that worker's ring, and its done() runs there.
 *
 * Why an eventfd and not MSG_RING from the helpers: a helper would need a
 * ring of its own, and a MSG_RING can fail when the target's CQ is full;
 * a list under a mutex plus one eventfd write per empty-to-non-empty change
 * never loses a completion and wakes the worker at most once per batch. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ferry/base.h"
#include "internal.h"

enum { POOL_THREADS_DEFAULT = 4, POOL_QUEUE_DEFAULT = 1024 };

struct fe_job {
	struct fe_job *next;
	fe_job_fn *fn;
	fe_job_done_fn *done;
	void *arg;
	struct fe_worker *w;
};

struct fe_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct fe_job *head, *tail;   /* waiting for a helper */
	unsigned queued, cap;
	unsigned nthreads, started;
	pthread_t *threads;
	bool stop;
	void (*thread_exit)(void);    /* fe_engine_opts.pool_thread_exit */
};

/* ---- the worker's inbox ---------------------------------------------------- */

static void inbox_arm(struct fe_worker *w)
{
	struct io_uring_sqe *sqe = fe_sqe(w);
	io_uring_prep_read(sqe, w->inbox.efd, &w->inbox.efd_val, sizeof(w->inbox.efd_val), 0);
	io_uring_sqe_set_data64(sqe, ud_make(OP_POOL, &w->inbox));
	w->inbox.armed = true;
	w->inflight++;
}

/* A helper hands a finished job back to its worker. */
static void inbox_put(struct fe_job *j)
{
	struct pool_inbox *in = &j->w->inbox;
	j->next = NULL;
	pthread_mutex_lock(&in->mu);
	bool was_empty = !in->head;
	if (in->tail)
		in->tail->next = j;
	else
		in->head = j;
	in->tail = j;
	pthread_cond_signal(&in->cv);    /* a worker draining at shutdown */
	pthread_mutex_unlock(&in->mu);
	if (was_empty) {
		uint64_t one = 1;
		while (write(in->efd, &one, sizeof(one)) < 0 && errno == EINTR)
			;
	}
}

/* Runs every finished job's done() on the worker; returns how many. */
static unsigned inbox_run(struct fe_worker *w, struct fe_job *list)
{
	unsigned n = 0;
	while (list) {
		struct fe_job *j = list;
		list = j->next;
		w->inbox.pending--;
		j->done(w, j->arg);
		free(j);
		n++;
	}
	return n;
}

static struct fe_job *inbox_take(struct pool_inbox *in)
{
	pthread_mutex_lock(&in->mu);
	struct fe_job *list = in->head;
	in->head = in->tail = NULL;
	pthread_mutex_unlock(&in->mu);
	return list;
}

void fe_pool_on_done(struct fe_worker *w, const struct io_uring_cqe *cqe)
{
	(void)cqe;
	w->inflight--;
	w->inbox.armed = false;
	inbox_run(w, inbox_take(&w->inbox));
	if (!w->stopping)
		inbox_arm(w);
}

int fe_pool_worker_init(struct fe_worker *w)
{
	struct pool_inbox *in = &w->inbox;
	in->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (in->efd < 0)
		return -errno;
	pthread_mutex_init(&in->mu, NULL);
	pthread_cond_init(&in->cv, NULL);
	in->ok = true;
	inbox_arm(w);
	return 0;
}

/* After the loop, before worker_fini: every job this worker submitted
 * finishes and its done() runs here (done may submit more; those too). */
void fe_pool_worker_drain(struct fe_worker *w)
{
	struct pool_inbox *in = &w->inbox;
	if (!in->ok)
		return;
	while (in->pending) {
		pthread_mutex_lock(&in->mu);
		while (!in->head)
			pthread_cond_wait(&in->cv, &in->mu);
		struct fe_job *list = in->head;
		in->head = in->tail = NULL;
		pthread_mutex_unlock(&in->mu);
		inbox_run(w, list);
	}
}

/* After the ring is gone (its read on the eventfd with it). */
void fe_pool_worker_fini(struct fe_worker *w)
{
	struct pool_inbox *in = &w->inbox;
	if (!in->ok)
		return;
	assert(!in->pending && !in->head);
	close(in->efd);
	pthread_mutex_destroy(&in->mu);
	pthread_cond_destroy(&in->cv);
	in->ok = false;
}

/* ---- the helpers ----------------------------------------------------------- */

/* Helpers yield the CPU to the workers: on a machine with few CPUs, four
 * threads hashing passwords would otherwise take turns with a worker and
 * delay every session's replies. nice is per thread on Linux. (SCHED_BATCH,
 * so that a woken helper would not preempt the worker that woke it, was
 * tried for bench row 7: no measurable effect on a loaded machine, so the
 * helpers stay plain nice 10.) */
enum { HELPER_NICE = 10 };

static void helper_lower_priority(void)
{
	pid_t tid = (pid_t)syscall(SYS_gettid);
	errno = 0;
	int now = getpriority(PRIO_PROCESS, (id_t)tid);
	if (errno == 0)
		setpriority(PRIO_PROCESS, (id_t)tid, now + HELPER_NICE);
}

static void *helper_main(void *p)
{
	struct fe_pool *pool = p;
	helper_lower_priority();
	pthread_mutex_lock(&pool->mu);
	for (;;) {
		while (!pool->head && !pool->stop)
			pthread_cond_wait(&pool->cv, &pool->mu);
		if (!pool->head)
			break;                  /* stopping and nothing left */
		struct fe_job *j = pool->head;
		pool->head = j->next;
		if (!pool->head)
			pool->tail = NULL;
		pool->queued--;
		pthread_mutex_unlock(&pool->mu);
		j->fn(j->arg);
		inbox_put(j);
		pthread_mutex_lock(&pool->mu);
	}
	pthread_mutex_unlock(&pool->mu);
	if (pool->thread_exit)
		pool->thread_exit();
	return NULL;
}

int fe_pool_start(struct fe_engine *e)
{
	struct fe_pool *pool = calloc(1, sizeof(*pool));
	if (!pool)
		return -ENOMEM;
	pool->nthreads = e->opts.pool_threads ? e->opts.pool_threads : POOL_THREADS_DEFAULT;
	pool->cap = e->opts.pool_queue ? e->opts.pool_queue : POOL_QUEUE_DEFAULT;
	pool->thread_exit = e->opts.pool_thread_exit;
	pool->threads = calloc(pool->nthreads, sizeof(*pool->threads));
	if (!pool->threads) {
		free(pool);
		return -ENOMEM;
	}
	pthread_mutex_init(&pool->mu, NULL);
	pthread_cond_init(&pool->cv, NULL);
	e->pool = pool;
	for (; pool->started < pool->nthreads; pool->started++) {
		int r = pthread_create(&pool->threads[pool->started], NULL, helper_main, pool);
		if (r) {
			flog(LOG_LVL_ERR, "%s: pthread_create: %s", __func__, strerror(r));
			fe_pool_stop(e);
			return -r;
		}
	}
	return 0;
}

/* After every worker has drained: nothing is queued any more. */
void fe_pool_stop(struct fe_engine *e)
{
	struct fe_pool *pool = e->pool;
	if (!pool)
		return;
	pthread_mutex_lock(&pool->mu);
	pool->stop = true;
	pthread_cond_broadcast(&pool->cv);
	pthread_mutex_unlock(&pool->mu);
	for (unsigned i = 0; i < pool->started; i++)
		pthread_join(pool->threads[i], NULL);
	pthread_mutex_destroy(&pool->mu);
	pthread_cond_destroy(&pool->cv);
	free(pool->threads);
	free(pool);
	e->pool = NULL;
}

int fe_pool_submit(struct fe_worker *w, fe_job_fn *fn, fe_job_done_fn *done, void *arg)
{
	struct fe_pool *pool = w->eng->pool;
	assert(pool && w->inbox.ok && fn && done);
	struct fe_job *j = malloc(sizeof(*j));
	if (!j)
		return -ENOMEM;
	*j = (struct fe_job){ .fn = fn, .done = done, .arg = arg, .w = w };
	pthread_mutex_lock(&pool->mu);
	if (pool->queued >= pool->cap) {
		pthread_mutex_unlock(&pool->mu);
		free(j);
		w->st.pool_full++;
		return -EAGAIN;
	}
	if (pool->tail)
		pool->tail->next = j;
	else
		pool->head = j;
	pool->tail = j;
	pool->queued++;
	pthread_cond_signal(&pool->cv);
	pthread_mutex_unlock(&pool->mu);
	w->inbox.pending++;
	w->st.pool_jobs++;
	return 0;
}
