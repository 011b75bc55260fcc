/* test_cursor.c — the read and write cursors alone: network byte order,
 * sticky errors at every boundary, views, sub-cursors and patching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ferry/cursor.h"

static const uint8_t bytes[] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
				 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
				 0x0f };

static void test_read_order(void **state)
{
	(void)state;
	struct rcur c;
	rcur_init(&c, bytes, sizeof(bytes));
	assert_int_equal(rcur_u8(&c), 0x01);
	assert_int_equal(rcur_u16(&c), 0x0203);
	assert_int_equal(rcur_u32(&c), 0x04050607);
	assert_true(rcur_u64(&c) == 0x08090a0b0c0d0e0fULL);
	assert_true(rcur_ok(&c));
	assert_int_equal(rcur_remaining(&c), 0);
	assert_int_equal(rcur_offset(&c), 15);
}

/* A read that does not fit returns 0, consumes nothing, and every later
 * read fails too, even one that would have fitted. */
static void test_read_sticky(void **state)
{
	(void)state;
	for (size_t len = 0; len < 8; len++) {
		struct rcur c;
		rcur_init(&c, bytes, len);
		assert_true(rcur_u64(&c) == 0);
		assert_false(rcur_ok(&c));
		assert_int_equal(rcur_remaining(&c), 0);
		assert_int_equal(rcur_u8(&c), 0);
		struct bview v = rcur_bytes(&c, 0);
		assert_null(v.p);
		assert_int_equal(v.len, 0);
	}
	struct rcur c;
	rcur_init(&c, bytes, 3);
	assert_int_equal(rcur_u16(&c), 0x0102);
	assert_int_equal(rcur_u16(&c), 0);
	assert_int_equal(rcur_u8(&c), 0);      /* would fit, but sticky */
	assert_false(rcur_ok(&c));
}

static void test_read_views(void **state)
{
	(void)state;
	struct rcur c;
	rcur_init(&c, bytes, sizeof(bytes));
	rcur_skip(&c, 2);
	struct bview v = rcur_bytes(&c, 4);
	assert_ptr_equal(v.p, bytes + 2);
	assert_int_equal(v.len, 4);
	assert_int_equal(rcur_peek(&c, 0), 0x07);
	assert_int_equal(rcur_peek(&c, 8), 0x0f);
	assert_int_equal(rcur_peek(&c, 9), 0);     /* absent: 0, no error */
	assert_true(rcur_ok(&c));
	struct rcur sub = rcur_sub(&c, 4);
	assert_int_equal(rcur_remaining(&sub), 4);
	assert_int_equal(rcur_u32(&sub), 0x0708090a);
	assert_int_equal(rcur_u8(&sub), 0);
	assert_false(rcur_ok(&sub));
	assert_true(rcur_ok(&c));                  /* parent unaffected */
	assert_int_equal(rcur_u8(&c), 0x0b);
	struct rcur big = rcur_sub(&c, 100);
	assert_false(rcur_ok(&big));
	assert_false(rcur_ok(&c));
	/* Huge skips do not wrap around. */
	rcur_init(&c, bytes, sizeof(bytes));
	rcur_skip(&c, SIZE_MAX);
	assert_false(rcur_ok(&c));
	rcur_init(&c, NULL, 10);
	assert_int_equal(rcur_remaining(&c), 0);
}

static void test_until_nul(void **state)
{
	(void)state;
	const uint8_t s[] = { 'a', 'b', 0, 'c' };
	struct bview v = bview_until_nul((struct bview){ s, 4 });
	assert_int_equal(v.len, 2);
	v = bview_until_nul((struct bview){ s, 2 });
	assert_int_equal(v.len, 2);
	v = bview_until_nul((struct bview){ NULL, 0 });
	assert_int_equal(v.len, 0);
}

static void test_write(void **state)
{
	(void)state;
	uint8_t buf[15];
	struct wcur w;
	wcur_init(&w, buf, sizeof(buf));
	wcur_u8(&w, 0x01);
	wcur_u16(&w, 0x0203);
	wcur_u32(&w, 0x04050607);
	wcur_u64(&w, 0x08090a0b0c0d0e0fULL);
	assert_true(wcur_ok(&w));
	assert_memory_equal(buf, bytes, sizeof(bytes));
	wcur_u8(&w, 0xff);
	assert_false(wcur_ok(&w));
	assert_int_equal(wcur_offset(&w), 15);
}

static void test_write_sticky_and_pad(void **state)
{
	(void)state;
	uint8_t buf[8];
	memset(buf, 0xaa, sizeof(buf));
	struct wcur w;
	wcur_init(&w, buf, 6);
	wcur_u8(&w, 1);
	wcur_pad4(&w, 0);
	assert_int_equal(wcur_offset(&w), 4);
	assert_int_equal(buf[3], 0);
	wcur_pad4(&w, 0);                       /* already aligned */
	assert_int_equal(wcur_offset(&w), 4);
	wcur_u32(&w, 7);                        /* does not fit */
	assert_false(wcur_ok(&w));
	assert_int_equal(wcur_offset(&w), 4);
	assert_int_equal(buf[4], 0xaa);         /* nothing written */
	wcur_u8(&w, 1);                         /* sticky */
	assert_int_equal(buf[4], 0xaa);
	wcur_init(&w, buf, sizeof(buf));
	wcur_bytes(&w, NULL, 3);                /* nowhere to copy from */
	assert_false(wcur_ok(&w));
	wcur_init(&w, buf, sizeof(buf));
	wcur_zeros(&w, SIZE_MAX);
	assert_false(wcur_ok(&w));
}

static void test_patch(void **state)
{
	(void)state;
	uint8_t buf[8] = { 0 };
	struct wcur w;
	wcur_init(&w, buf, sizeof(buf));
	wcur_zeros(&w, 4);
	wcur_patch_u16(&w, 2, 0xbeef);
	assert_true(wcur_ok(&w));
	assert_int_equal(buf[2], 0xbe);
	assert_int_equal(buf[3], 0xef);
	wcur_patch_u32(&w, 2, 1);               /* past what was written */
	assert_false(wcur_ok(&w));
	wcur_over(&w, buf, sizeof(buf));
	wcur_patch_u32(&w, 4, 0x01020304);
	wcur_patch_u8(&w, 0, 9);
	assert_true(wcur_ok(&w));
	assert_int_equal(buf[0], 9);
	assert_int_equal(buf[7], 4);
	wcur_patch_u8(&w, SIZE_MAX, 1);
	assert_false(wcur_ok(&w));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_order),
		cmocka_unit_test(test_read_sticky),
		cmocka_unit_test(test_read_views),
		cmocka_unit_test(test_until_nul),
		cmocka_unit_test(test_write),
		cmocka_unit_test(test_write_sticky_and_pad),
		cmocka_unit_test(test_patch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
