/* test_session.c — the shared session table under concurrent use (10,000
 * groups from 4 threads) and the client map with 100,000 clients. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "table.h"

enum { THREADS = 4, GROUPS_PER_THREAD = 2500 };

struct worker_arg {
	struct proxy_table *t;
	unsigned index;
	int errors;
};

static uint32_t gid_of(unsigned thread, unsigned i)
{
	return 0x10000000u + thread * GROUPS_PER_THREAD + i;  /* sequential IDs */
}

static void *insert_find_remove(void *p)
{
	struct worker_arg *a = p;
	static int marker[THREADS][GROUPS_PER_THREAD];
	for (unsigned i = 0; i < GROUPS_PER_THREAD; i++) {
		struct proxy_table_ref r = { .server_id = 7, .owner = a->index,
				      .group = &marker[a->index][i] };
		if (proxy_table_insert(a->t, gid_of(a->index, i), (uint8_t)i, &r, NULL))
			a->errors++;
	}
	/* every thread looks up every other thread's groups while they exist */
	for (unsigned other = 0; other < THREADS; other++)
		for (unsigned i = 0; i < GROUPS_PER_THREAD; i += 7) {
			struct proxy_table_ref r;
			if (proxy_table_find(a->t, gid_of(other, i), (uint8_t)i, &r) &&
			    (r.owner != other || r.group != &marker[other][i]))
				a->errors++;
		}
	return NULL;
}

static void test_concurrent_groups(void **state)
{
	(void)state;
	struct proxy_table *t = proxy_table_new();
	pthread_t th[THREADS];
	struct worker_arg args[THREADS];
	for (unsigned i = 0; i < THREADS; i++) {
		args[i] = (struct worker_arg){ t, i, 0 };
		pthread_create(&th[i], NULL, insert_find_remove, &args[i]);
	}
	for (unsigned i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].errors, 0);
	}
	assert_int_equal(proxy_table_count(t), THREADS * GROUPS_PER_THREAD);
	/* all 10,000 findable, with the right owner */
	for (unsigned k = 0; k < THREADS; k++)
		for (unsigned i = 0; i < GROUPS_PER_THREAD; i++) {
			struct proxy_table_ref r;
			assert_true(proxy_table_find(t, gid_of(k, i), (uint8_t)i, &r));
			assert_int_equal(r.owner, k);
		}
	/* same group ID, other instance: a different session */
	struct proxy_table_ref r;
	assert_false(proxy_table_find(t, gid_of(0, 0), 1, &r));
	/* a duplicate insert reports the present entry */
	struct proxy_table_ref dup = { .owner = 3 }, present;
	assert_int_equal(proxy_table_insert(t, gid_of(1, 5), 5, &dup, &present), -EEXIST);
	assert_int_equal(present.owner, 1);
	/* remove only when the entry still points at the caller's group */
	assert_false(proxy_table_remove(t, gid_of(1, 5), 5, &dup));
	assert_true(proxy_table_remove(t, gid_of(1, 5), 5, present.group));
	assert_false(proxy_table_find(t, gid_of(1, 5), 5, &r));
	assert_int_equal(proxy_table_count(t), THREADS * GROUPS_PER_THREAD - 1);
	proxy_table_free(t);
}

static void test_hundred_thousand_clients(void **state)
{
	(void)state;
	enum { N = 100000 };
	struct uid_map m;
	proxy_uid_map_init(&m);
	static int vals[N];
	for (uint32_t i = 0; i < N; i++)
		assert_int_equal(proxy_uid_map_put(&m, 0x0A000000u + i * 3, &vals[i]), 0);
	assert_int_equal(m.n, N);
	for (uint32_t i = 0; i < N; i++)
		assert_ptr_equal(proxy_uid_map_get(&m, 0x0A000000u + i * 3), &vals[i]);
	assert_null(proxy_uid_map_get(&m, 0x0A000001u));        /* never added */
	assert_null(proxy_uid_map_get(&m, 0));
	assert_int_equal(proxy_uid_map_put(&m, 0, &vals[0]), -EINVAL);
	assert_int_equal(proxy_uid_map_put(&m, 0x0A000000u, &vals[1]), 0); /* replace */
	assert_int_equal(m.n, N);
	assert_ptr_equal(proxy_uid_map_get(&m, 0x0A000000u), &vals[1]);
	proxy_uid_map_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concurrent_groups),
		cmocka_unit_test(test_hundred_thousand_clients),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
