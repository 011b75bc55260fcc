/* engine.c — the workers' life cycle: create, start behind a barrier so that
 * start-up errors reach the caller, stop through MSG_RING, join, destroy. */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ferry/base.h"
#include "internal.h"

enum { SQ_ENTRIES = 2048, CQ_ENTRIES = 16384, TCP_BUFFERS = 256,
       TCP_BUFFER_SIZE = FE_TCP_RECV_MAX, UDP_OVERHEAD = 256 };

/* Flags tried in order, newest first. SINGLE_ISSUER: only this thread
 * submits; DEFER_TASKRUN: completion work runs when we wait, never as an
 * interrupt; SUBMIT_ALL: a bad SQE does not stop the batch behind it. */
static const unsigned ring_flags[] = {
	IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE,
	IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE,
	IORING_SETUP_CQSIZE,
};

static int ring_setup(struct io_uring *ring)
{
	int r = -EINVAL;
	for (size_t i = 0; i < sizeof(ring_flags) / sizeof(ring_flags[0]); i++) {
		struct io_uring_params p = { .flags = ring_flags[i],
					     .cq_entries = CQ_ENTRIES };
		r = io_uring_queue_init_params(SQ_ENTRIES, ring, &p);
		if (r != -EINVAL)
			break;
	}
	return r;
}

/* Worker i runs on the i-th CPU this process may use (taskset is honoured). */
static void pin(struct fe_worker *w)
{
	cpu_set_t allowed, one;
	if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0)
		return;
	int count = CPU_COUNT(&allowed);
	if (count <= 1)
		return;
	int want = (int)(w->index % (unsigned)count);
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &allowed) || want--)
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
		return;
	}
}

static int worker_setup(struct fe_worker *w)
{
	const struct fe_engine_opts *o = &w->eng->opts;
	pin(w);
	int r = ring_setup(&w->ring);
	if (r < 0) {
		flog(LOG_LVL_ERR, "%s: io_uring_queue_init: %s", __func__, strerror(-r));
		return FERRY_EXIT_NET;
	}
	w->ring_ok = true;
	/* Rounded so every buffer starts aligned for the recvmsg header. */
	r = fe_bufring_init(&w->udp_bufs, &w->ring, BGID_UDP, o->udp_buffers,
			 (o->udp_buffer_size + UDP_OVERHEAD + 63) & ~63u);
	if (r == 0)
		r = fe_bufring_init(&w->tcp_bufs, &w->ring, BGID_TCP, TCP_BUFFERS,
				 TCP_BUFFER_SIZE);
	if (r < 0) {
		flog(LOG_LVL_ERR, "%s: provided buffers: %s", __func__, strerror(-r));
		return r == -ENOMEM ? FERRY_EXIT_ALLOC : FERRY_EXIT_NET;
	}
	if (!fe_turn_hook_add(w, fe_udp_flush, NULL, true))
		return FERRY_EXIT_ALLOC;
	r = fe_pool_worker_init(w);
	if (r < 0) {
		flog(LOG_LVL_ERR, "%s: helper pool: %s", __func__, strerror(-r));
		return FERRY_EXIT_ALLOC;
	}
	return 0;
}

/* Report this worker's start-up result; true when every worker succeeded. */
static bool barrier(struct fe_engine *e, int err)
{
	pthread_mutex_lock(&e->lock);
	if (err && !e->start_err)
		e->start_err = err;
	e->ready++;
	pthread_cond_broadcast(&e->cond);
	while (e->ready < e->nworkers)
		pthread_cond_wait(&e->cond, &e->lock);
	bool ok = e->start_err == 0;
	pthread_mutex_unlock(&e->lock);
	return ok;
}

/* Wait until every worker is past worker_fini: then no protocol code runs
 * anywhere, so no more mail is posted, and what is in flight reaches a
 * ring that is still there (teardown waits for it). */
static void fini_barrier(struct fe_engine *e)
{
	pthread_mutex_lock(&e->lock);
	e->finished++;
	pthread_cond_broadcast(&e->cond);
	while (e->finished < e->nworkers)
		pthread_cond_wait(&e->cond, &e->lock);
	pthread_mutex_unlock(&e->lock);
}

static void *worker_main(void *p)
{
	struct fe_worker *w = p;
	struct fe_engine *e = w->eng;
	fb_log_never_wait();          /* a full log buffer drops, never stalls */
	int err = worker_setup(w);
	bool inited = false;
	if (!err && e->opts.worker_init) {
		err = e->opts.worker_init(w, e->opts.arg);
		inited = err == 0;
	}
	if (barrier(e, err))
		fe_worker_loop(w);
	fe_pool_worker_drain(w);          /* every done() before worker_fini */
	if (inited && e->opts.worker_fini)
		e->opts.worker_fini(w, e->opts.arg);
	if (w->ring_ok)
		io_uring_submit(&w->ring);    /* mail the protocol posted last */
	fini_barrier(e);
	if (w->ring_ok) {
		fe_worker_teardown(w);
		fe_bufring_free(&w->udp_bufs, &w->ring);
		fe_bufring_free(&w->tcp_bufs, &w->ring);
		io_uring_queue_exit(&w->ring);
		w->ring_ok = false;
	}
	fe_pool_worker_fini(w);
	return NULL;
}

struct fe_engine *fe_engine_create(const struct fe_engine_opts *opts)
{
	struct fe_engine *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->opts = *opts;
	/* Buffers that hold a whole GRO aggregate (64 KiB), so sockets can
	 * take a segmented burst from a peer in one receive. */
	if (!e->opts.udp_buffers)
		e->opts.udp_buffers = 256;
	if (!e->opts.udp_buffer_size)
		e->opts.udp_buffer_size = FE_UDP_GRO_MAX;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	e->nworkers = opts->workers ? opts->workers : (unsigned)(cpus > 0 ? cpus : 1);
	e->workers = calloc(e->nworkers, sizeof(*e->workers));
	int r = e->workers ? io_uring_queue_init(8, &e->ctl, 0) : -ENOMEM;
	if (r < 0) {
		/* ENOSYS/EPERM: a seccomp profile (podman's default) or the
		 * kernel.io_uring_disabled sysctl refuses io_uring itself. */
		flog(LOG_LVL_ERR, "%s: io_uring_queue_init: %s%s", __func__, strerror(-r),
		     r == -ENOSYS || r == -EPERM ? " (io_uring is refused here: a seccomp "
		     "profile without io_uring_setup, or kernel.io_uring_disabled)" : "");
		free(e->workers);
		free(e);
		errno = -r;
		return NULL;
	}
	e->ctl_ok = true;
	pthread_mutex_init(&e->lock, NULL);
	pthread_mutex_init(&e->claim_lock, NULL);
	pthread_cond_init(&e->cond, NULL);
	for (unsigned i = 0; i < e->nworkers; i++) {
		struct fe_worker *w = &e->workers[i];
		w->eng = e;
		w->index = i;
		list_init(&w->udps);
		list_init(&w->listeners);
		list_init(&w->conns);
	}
	return e;
}

int fe_engine_start(struct fe_engine *e)
{
	unsigned made = 0;
	if (fe_pool_start(e) < 0) {
		e->started = true;
		return FERRY_EXIT_ALLOC;
	}
	for (; made < e->nworkers; made++)
		if (pthread_create(&e->workers[made].thread, NULL, worker_main,
				   &e->workers[made]) != 0)
			break;
	if (made < e->nworkers) {
		/* Stand in for the threads that never started, so the barrier opens. */
		pthread_mutex_lock(&e->lock);
		e->start_err = FERRY_EXIT_ALLOC;
		e->ready += e->nworkers - made;
		e->finished += e->nworkers - made;
		pthread_cond_broadcast(&e->cond);
		pthread_mutex_unlock(&e->lock);
	}
	pthread_mutex_lock(&e->lock);
	while (e->ready < e->nworkers)
		pthread_cond_wait(&e->cond, &e->lock);
	int err = e->start_err;
	pthread_mutex_unlock(&e->lock);
	for (unsigned i = made; i < e->nworkers; i++)
		e->workers[i].thread = 0;
	e->started = true;
	if (err)
		fe_engine_wait(e);
	return err;
}

void fe_engine_stop(struct fe_engine *e)
{
	pthread_mutex_lock(&e->lock);
	unsigned sent = 0;
	for (unsigned i = 0; i < e->nworkers; i++) {
		struct fe_worker *w = &e->workers[i];
		if (!w->thread)
			continue;
		struct io_uring_sqe *sqe = io_uring_get_sqe(&e->ctl);
		if (!sqe) {
			io_uring_submit_and_wait(&e->ctl, sent);
			io_uring_cq_advance(&e->ctl, sent);
			sent = 0;
			sqe = io_uring_get_sqe(&e->ctl);
		}
		io_uring_prep_msg_ring(sqe, w->ring.ring_fd, 0, ud_make(OP_STOP, NULL), 0);
		sent++;
	}
	if (sent) {
		io_uring_submit_and_wait(&e->ctl, sent);
		io_uring_cq_advance(&e->ctl, sent);
	}
	pthread_mutex_unlock(&e->lock);
}

void fe_engine_wait(struct fe_engine *e)
{
	for (unsigned i = 0; i < e->nworkers; i++) {
		if (e->workers[i].thread)
			pthread_join(e->workers[i].thread, NULL);
		e->workers[i].thread = 0;
	}
	fe_pool_stop(e);     /* the workers have drained their jobs */
}

void fe_engine_destroy(struct fe_engine *e)
{
	if (!e)
		return;
	fe_engine_wait(e);
	if (e->ctl_ok)
		io_uring_queue_exit(&e->ctl);
	pthread_mutex_destroy(&e->lock);
	pthread_mutex_destroy(&e->claim_lock);
	pthread_cond_destroy(&e->cond);
	free(e->workers);
	free(e);
}

unsigned fe_engine_workers(const struct fe_engine *e) { return e->nworkers; }

struct fe_worker *fe_engine_worker(struct fe_engine *e, unsigned index)
{
	return index < e->nworkers ? &e->workers[index] : NULL;
}

unsigned fe_worker_index(const struct fe_worker *w) { return w->index; }
struct fe_engine *fe_worker_engine(const struct fe_worker *w) { return w->eng; }
void *fe_worker_data(const struct fe_worker *w) { return w->data; }
void fe_worker_set_data(struct fe_worker *w, void *data) { w->data = data; }
uint64_t fe_now_ms(const struct fe_worker *w) { return w->now_ms; }

void fe_worker_stats(const struct fe_worker *w, struct fe_stats *out)
{
	*out = w->st;
}

void fe_engine_stats(const struct fe_engine *e, struct fe_stats *sum)
{
	memset(sum, 0, sizeof(*sum));
	for (unsigned i = 0; i < e->nworkers; i++) {
		const uint64_t *src = (const uint64_t *)&e->workers[i].st;
		uint64_t *dst = (uint64_t *)sum;
		for (size_t k = 0; k < sizeof(*sum) / sizeof(uint64_t); k++)
			dst[k] += src[k];
	}
}
