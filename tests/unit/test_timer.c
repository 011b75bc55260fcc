/* test_timer.c — the timer heap alone: order by deadline, FIFO among equal
 * deadlines, removal from anywhere, against a brute-force model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "../../src/engine/internal.h"

static void test_order_and_fifo(void **state)
{
	(void)state;
	struct timer_heap h = { 0 };
	uint64_t deadlines[] = { 30, 10, 20, 10, 0, 20 };
	struct fe_timer t[6] = { 0 };
	for (int i = 0; i < 6; i++) {
		t[i].deadline = deadlines[i];
		assert_int_equal(fe_theap_push(&h, &t[i]), 0);
	}
	int expect[] = { 4, 1, 3, 2, 5, 0 };
	for (int i = 0; i < 6; i++) {
		struct fe_timer *top = fe_theap_peek(&h);
		assert_ptr_equal(top, &t[expect[i]]);
		fe_theap_remove(&h, top);
	}
	assert_null(fe_theap_peek(&h));
	free(h.v);
}

static void test_random_against_model(void **state)
{
	(void)state;
	enum { N = 5000 };
	struct timer_heap h = { 0 };
	struct fe_timer *t = calloc(N, sizeof(*t));
	bool *live = calloc(N, sizeof(*live));
	srand(42);
	for (int i = 0; i < N; i++) {
		t[i].deadline = (uint64_t)(rand() % 1000);
		assert_int_equal(fe_theap_push(&h, &t[i]), 0);
		live[i] = true;
	}
	for (int i = 0; i < N; i += 3) {     /* remove a third from the middle */
		fe_theap_remove(&h, &t[i]);
		live[i] = false;
	}
	uint64_t last_d = 0, last_seq = 0;
	int popped = 0;
	struct fe_timer *top;
	while ((top = fe_theap_peek(&h))) {
		assert_true(live[top - t]);
		assert_true(top->deadline > last_d ||
			    (top->deadline == last_d && top->seq >= last_seq));
		last_d = top->deadline;
		last_seq = top->seq;
		live[top - t] = false;
		fe_theap_remove(&h, top);
		popped++;
	}
	assert_int_equal(popped, N - (N + 2) / 3);
	free(h.v);
	free(t);
	free(live);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_and_fifo),
		cmocka_unit_test(test_random_against_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
