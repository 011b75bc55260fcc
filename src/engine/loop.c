/* loop.c — one worker's turn, top to bottom: submit what the last turn queued
 * and wait (one io_uring_enter, bounded by the next timer), dispatch every
 * completion through the operation table, run the timers that are due, then
 * the end-of-turn hooks (batched work such as the UDP flush) before the next
 * submit. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "ferry/base.h"
#include "internal.h"

static void on_stop(struct fe_worker *w, const struct io_uring_cqe *cqe)
{
	(void)cqe;
	w->stopping = true;
}

static void on_ignore(struct fe_worker *w, const struct io_uring_cqe *cqe)
{
	(void)w;
	(void)cqe;
}

/* One handler per operation; user_data's top byte indexes it. */
static op_handler *const handlers[OP__COUNT] = {
	[OP_NONE] = on_ignore,
	[OP_UDP_RECV] = fe_udp_on_recv,
	[OP_UDP_SEND] = fe_udp_on_sent,
	[OP_ACCEPT] = fe_tcp_on_accept,
	[OP_TCP_RECV] = fe_tcp_on_recv,
	[OP_TCP_SEND] = fe_tcp_on_sent,
	[OP_MAIL] = fe_mail_on_receive,
	[OP_MAIL_SENT] = fe_mail_on_sent,
	[OP_STOP] = on_stop,
	[OP_CONNECT] = fe_connect_on_done,
	[OP_SPLICE] = fe_splice_on_done,
	[OP_POOL] = fe_pool_on_done,
	[OP_FSOP] = fe_fsop_on_done,
};

static uint64_t clock_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t clock_ms(void) { return clock_ns() / 1000000; }

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* How long the turn took, from the wake-up to the next enter, and how much
 * of it this thread ran. A turn that ran long is ferryd's own stall (work
 * that belongs on the pool); one that only lasted long waited for a CPU
 * (preempted: other processes, or our helpers, on too few CPUs). Both hold
 * up every session of the worker: counted apart and logged (at most once a
 * second per worker), so a stall seen by a client can be told from the
 * machine's. */
static void turn_account(struct fe_worker *w)
{
	if (!w->woke_ns)
		return;
	uint64_t wall = clock_ns() - w->woke_ns;
	uint64_t cpu = thread_cpu_ns() - w->woke_cpu_ns;
	w->st.busy_us += cpu / 1000;
	const uint64_t slow = (uint64_t)FE_SLOW_TURN_MS * 1000000;
	if (wall < slow)
		return;
	bool ran = cpu >= slow;
	if (ran)
		w->st.turns_slow++;
	else
		w->st.turns_preempted++;
	uint64_t now = w->woke_ns / 1000000;
	if (w->slow_logged_ms && now - w->slow_logged_ms < 1000)
		return;
	w->slow_logged_ms = now;
	flog(ran ? LOG_LVL_WARN : LOG_LVL_INFO,
	     "%s: worker %u: a turn took %llu ms, %llu ms of it running (%u "
	     "completions, %u timers)%s; so far %llu slow, %llu preempted", __func__,
	     w->index, (unsigned long long)(wall / 1000000), (unsigned long long)(cpu / 1000000),
	     w->turn_cqes, w->turn_timers, ran ? "" : ": it waited for a CPU",
	     (unsigned long long)w->st.turns_slow, (unsigned long long)w->st.turns_preempted);
}

/* An SQE, submitting early only when the SQ is full (a rare extra enter). */
struct io_uring_sqe *fe_sqe(struct fe_worker *w)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
	while (!sqe) {
		io_uring_submit(&w->ring);
		w->st.enters++;
		sqe = io_uring_get_sqe(&w->ring);
	}
	w->st.sqes++;
	io_uring_sqe_set_data64(sqe, 0);
	return sqe;
}

void fe_cancel(struct fe_worker *w, enum fe_op op, const void *p)
{
	io_uring_prep_cancel64(fe_sqe(w), ud_make(op, p), 0);
}

int fe_fd_local(int fd, struct sockaddr_storage *out)
{
	socklen_t len = sizeof(*out);
	return getsockname(fd, (struct sockaddr *)out, &len) < 0 ? -errno : 0;
}

static void dispatch(struct fe_worker *w, const struct io_uring_cqe *cqe)
{
	enum fe_op op = ud_op(cqe->user_data);
	if (op >= OP__COUNT || !handlers[op]) {
		flog(LOG_LVL_ERR, "%s: worker %u: completion for unknown op %d",
		     __func__, w->index, (int)op);
		return;
	}
	handlers[op](w, cqe);
}

/* Walk every ready completion, then advance the CQ once. */
static unsigned reap(struct fe_worker *w)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	io_uring_for_each_cqe(&w->ring, head, cqe) {
		dispatch(w, cqe);
		n++;
	}
	io_uring_cq_advance(&w->ring, n);
	w->st.cqes += n;
	return n;
}

/* Timers added by a callback wait for the next turn, so a zero-delay timer
 * that re-adds itself cannot starve the ring. */
static void run_timers(struct fe_worker *w)
{
	uint64_t seq_limit = w->timers.seq;
	struct fe_timer *t;
	w->turn_timers = 0;
	while ((t = fe_theap_peek(&w->timers)) && t->deadline <= w->now_ms &&
	       t->seq < seq_limit) {
		fe_theap_remove(&w->timers, t);
		w->st.timers++;
		w->turn_timers++;
		t->cb(w, t->arg);
		free(t);
	}
}

/* Under a datagram flood, waking for every few datagrams costs more than
 * the datagrams: a wake-up and an enter each, and small send batches. So
 * once a turn brings COALESCE_MIN or more, the next one sleeps up to
 * COALESCE_NS first (like a NIC's interrupt moderation) and gathers what
 * came meanwhile; below that, the first completion wakes the worker. */
enum { COALESCE_MIN = 4, COALESCE_WAIT_NR = 1024, COALESCE_NS = 50000 };

static struct __kernel_timespec *next_wait(struct fe_worker *w,
					   struct __kernel_timespec *ts,
					   unsigned *wait_nr)
{
	struct fe_timer *t = fe_theap_peek(&w->timers);
	uint64_t ns = UINT64_MAX;
	if (t)
		ns = (t->deadline > w->now_ms ? t->deadline - w->now_ms : 0) * 1000000;
	*wait_nr = 1;
	if (w->turn_udp_rx >= COALESCE_MIN && ns > 0) {
		*wait_nr = COALESCE_WAIT_NR;
		if (ns > COALESCE_NS)
			ns = COALESCE_NS;
		w->st.coalesced++;
	}
	if (ns == UINT64_MAX)
		return NULL;
	ts->tv_sec = (long long)(ns / 1000000000u);
	ts->tv_nsec = (long long)(ns % 1000000000u);
	return ts;
}

/* Submit everything queued and wait (one io_uring_enter), then dispatch
 * every completion that is ready. */
static void submit_and_reap(struct fe_worker *w, struct __kernel_timespec *ts,
			    unsigned wait_nr)
{
	struct io_uring_cqe *cqe;
	uint64_t rx = w->st.udp_rx;
	turn_account(w);
	int r = io_uring_submit_and_wait_timeout(&w->ring, &cqe, wait_nr, ts, NULL);
	w->st.enters++;
	w->st.turns++;
	if (r < 0 && r != -ETIME && r != -EINTR && r != -EAGAIN && r != -EBUSY)
		flog(LOG_LVL_ERR, "%s: worker %u: io_uring_enter: %d", __func__,
		     w->index, r);
	w->woke_ns = clock_ns();
	w->woke_cpu_ns = thread_cpu_ns();
	w->now_ms = w->woke_ns / 1000000;
	w->turn_cqes = reap(w);
	w->turn_udp_rx = w->st.udp_rx - rx;
}

void fe_worker_loop(struct fe_worker *w)
{
	w->now_ms = clock_ms();
	fe_turn_hooks_run(w);            /* what worker_init queued */
	while (!w->stopping) {
		struct __kernel_timespec ts;
		unsigned wait_nr;
		struct __kernel_timespec *until = next_wait(w, &ts, &wait_nr);
		submit_and_reap(w, until, wait_nr);
		run_timers(w);
		fe_turn_hooks_run(w);    /* beforesleep: batched work, UDP flush */
	}
}

/* After the loop: the protocol has let go (worker_fini); close what is left,
 * cancel everything, and wait (bounded) until the kernel owns nothing of ours
 * before memory is freed. */
void fe_worker_teardown(struct fe_worker *w)
{
	fe_turn_hooks_drop(w, false);    /* the protocol's state is gone */
	fe_udp_close_all(w);
	fe_tcp_close_all(w);
	struct io_uring_sqe *sqe = fe_sqe(w);
	io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
	uint64_t give_up = clock_ms() + 2000;
	while ((w->inflight > 0 || atomic_load(&w->mail_pending) > 0) &&
	       clock_ms() < give_up) {
		struct __kernel_timespec ts = { .tv_nsec = 50 * 1000000 };
		fe_turn_hooks_run(w);
		submit_and_reap(w, &ts, 1);
	}
	if (w->inflight || atomic_load(&w->mail_pending))
		flog(LOG_LVL_WARN, "%s: worker %u: %u operations still in flight, "
		     "%u messages not delivered", __func__, w->index, w->inflight,
		     atomic_load(&w->mail_pending));
	fe_theap_free(&w->timers);
	fe_udp_slots_free(w);
	fe_turn_hooks_drop(w, true);
}
