/* test_pool.c — the engine's helper pool: jobs run off the workers and their
 * done() comes back on the submitting worker's thread; a full queue says
 * -EAGAIN; at shutdown every done() runs before worker_fini. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "ferry/engine.h"
#include "engine_testlib.h"

/* ---- results come back to the submitting worker ---------------------------- */

enum { JOBS = 200 };

struct job {
	pthread_t worker;
	pthread_t ran_on;
	unsigned index;
};

static atomic_int ran, done_ok, done_bad;

static void job_fn(void *arg)
{
	struct job *j = arg;
	j->ran_on = pthread_self();
	atomic_fetch_add(&ran, 1);
}

static void job_done(struct fe_worker *w, void *arg)
{
	struct job *j = arg;
	bool ok = pthread_equal(j->worker, pthread_self()) &&
		  !pthread_equal(j->ran_on, pthread_self()) && fe_worker_index(w) == j->index;
	atomic_fetch_add(ok ? &done_ok : &done_bad, 1);
	free(j);
}

static void submit_many(struct fe_worker *w, void *arg)
{
	(void)arg;
	for (int i = 0; i < JOBS; i++) {
		struct job *j = calloc(1, sizeof(*j));
		j->worker = pthread_self();
		j->index = fe_worker_index(w);
		if (fe_pool_submit(w, job_fn, job_done, j) != 0) {
			atomic_fetch_add(&done_bad, 1);
			free(j);
		}
	}
}

static int init_many(struct fe_worker *w, void *arg)
{
	return fe_timer_add(w, 0, submit_many, arg) ? 0 : 1;
}

static void test_done_on_worker(void **state)
{
	(void)state;
	struct fe_engine_opts o = { .workers = 2, .worker_init = init_many,
				    .pool_threads = 3 };
	struct fe_engine *e = fe_engine_create(&o);
	assert_non_null(e);
	assert_int_equal(fe_engine_start(e), 0);
	assert_true(wait_until(&done_ok, 2 * JOBS, 10));
	fe_engine_stop(e);
	fe_engine_wait(e);
	struct fe_stats st;
	fe_engine_stats(e, &st);
	fe_engine_destroy(e);
	assert_int_equal(atomic_load(&ran), 2 * JOBS);
	assert_int_equal(atomic_load(&done_bad), 0);
	assert_int_equal(st.pool_jobs, 2 * JOBS);
}

/* ---- a bounded queue --------------------------------------------------------- */

static atomic_int blocker_started, release, full_dones, full_result = 1;

static void blocker_fn(void *arg)
{
	(void)arg;
	atomic_store(&blocker_started, 1);
	while (!atomic_load(&release))
		usleep(1000);
}

static void noop_fn(void *arg) { (void)arg; }

static void count_done(struct fe_worker *w, void *arg)
{
	(void)w, (void)arg;
	atomic_fetch_add(&full_dones, 1);
}

static void fill(struct fe_worker *w, void *arg)
{
	(void)arg;
	assert_int_equal(fe_pool_submit(w, blocker_fn, count_done, NULL), 0);
	for (int i = 0; i < 5000 && !atomic_load(&blocker_started); i++)
		usleep(1000);     /* the one helper holds the blocker */
	int a = fe_pool_submit(w, noop_fn, count_done, NULL);
	int b = fe_pool_submit(w, noop_fn, count_done, NULL);
	int c = fe_pool_submit(w, noop_fn, count_done, NULL);
	atomic_store(&full_result, a == 0 && b == 0 && c == -EAGAIN ? 0 : -1);
	atomic_store(&release, 1);
}

static int init_fill(struct fe_worker *w, void *arg)
{
	return fe_timer_add(w, 0, fill, arg) ? 0 : 1;
}

static void test_queue_full(void **state)
{
	(void)state;
	struct fe_engine_opts o = { .workers = 1, .worker_init = init_fill,
				    .pool_threads = 1, .pool_queue = 2 };
	struct fe_engine *e = fe_engine_create(&o);
	assert_non_null(e);
	assert_int_equal(fe_engine_start(e), 0);
	assert_true(wait_until(&full_dones, 3, 10));
	fe_engine_stop(e);
	fe_engine_destroy(e);
	assert_int_equal(atomic_load(&full_result), 0);
	assert_int_equal(atomic_load(&full_dones), 3);
}

/* ---- shutdown: every done() before worker_fini ------------------------------- */

static atomic_int slow_dones, dones_at_fini = -1;

static void slow_fn(void *arg)
{
	(void)arg;
	usleep(50 * 1000);
}

static void slow_done(struct fe_worker *w, void *arg)
{
	(void)w, (void)arg;
	atomic_fetch_add(&slow_dones, 1);
}

static int init_slow(struct fe_worker *w, void *arg)
{
	(void)arg;
	for (int i = 0; i < 5; i++)
		if (fe_pool_submit(w, slow_fn, slow_done, NULL))
			return 1;
	return 0;
}

static void fini_slow(struct fe_worker *w, void *arg)
{
	(void)w, (void)arg;
	atomic_store(&dones_at_fini, atomic_load(&slow_dones));
}

static void test_shutdown_runs_done(void **state)
{
	(void)state;
	struct fe_engine_opts o = { .workers = 1, .worker_init = init_slow,
				    .worker_fini = fini_slow, .pool_threads = 1 };
	struct fe_engine *e = fe_engine_create(&o);
	assert_non_null(e);
	assert_int_equal(fe_engine_start(e), 0);
	fe_engine_stop(e);           /* at once: the jobs are still running */
	fe_engine_destroy(e);
	assert_int_equal(atomic_load(&dones_at_fini), 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_done_on_worker),
		cmocka_unit_test(test_queue_full),
		cmocka_unit_test(test_shutdown_runs_done),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
