/* test_cursor.c — the read and write cursors alone: network byte order,
 * sticky errors at every boundary, views, sub-cursors and patching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ferry/base.h"

static const uint8_t bytes[] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
				 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
				 0x0f };

static void test_read_order(void **state)
{
	(void)state;
	struct fb_rcur c;
	fb_rcur_init(&c, bytes, sizeof(bytes));
	assert_int_equal(fb_rcur_u8(&c), 0x01);
	assert_int_equal(fb_rcur_u16(&c), 0x0203);
	assert_int_equal(fb_rcur_u32(&c), 0x04050607);
	assert_true(fb_rcur_u64(&c) == 0x08090a0b0c0d0e0fULL);
	assert_true(fb_rcur_ok(&c));
	assert_int_equal(fb_rcur_remaining(&c), 0);
	assert_int_equal(fb_rcur_offset(&c), 15);
}

/* A read that does not fit returns 0, consumes nothing, and every later
 * read fails too, even one that would have fitted. */
static void test_read_sticky(void **state)
{
	(void)state;
	for (size_t len = 0; len < 8; len++) {
		struct fb_rcur c;
		fb_rcur_init(&c, bytes, len);
		assert_true(fb_rcur_u64(&c) == 0);
		assert_false(fb_rcur_ok(&c));
		assert_int_equal(fb_rcur_remaining(&c), 0);
		assert_int_equal(fb_rcur_u8(&c), 0);
		struct fb_bview v = fb_rcur_bytes(&c, 0);
		assert_null(v.p);
		assert_int_equal(v.len, 0);
	}
	struct fb_rcur c;
	fb_rcur_init(&c, bytes, 3);
	assert_int_equal(fb_rcur_u16(&c), 0x0102);
	assert_int_equal(fb_rcur_u16(&c), 0);
	assert_int_equal(fb_rcur_u8(&c), 0);      /* would fit, but sticky */
	assert_false(fb_rcur_ok(&c));
}

static void test_read_views(void **state)
{
	(void)state;
	struct fb_rcur c;
	fb_rcur_init(&c, bytes, sizeof(bytes));
	fb_rcur_skip(&c, 2);
	struct fb_bview v = fb_rcur_bytes(&c, 4);
	assert_ptr_equal(v.p, bytes + 2);
	assert_int_equal(v.len, 4);
	assert_int_equal(fb_rcur_peek(&c, 0), 0x07);
	assert_int_equal(fb_rcur_peek(&c, 8), 0x0f);
	assert_int_equal(fb_rcur_peek(&c, 9), 0);     /* absent: 0, no error */
	assert_true(fb_rcur_ok(&c));
	struct fb_rcur sub = fb_rcur_sub(&c, 4);
	assert_int_equal(fb_rcur_remaining(&sub), 4);
	assert_int_equal(fb_rcur_u32(&sub), 0x0708090a);
	assert_int_equal(fb_rcur_u8(&sub), 0);
	assert_false(fb_rcur_ok(&sub));
	assert_true(fb_rcur_ok(&c));                  /* parent unaffected */
	assert_int_equal(fb_rcur_u8(&c), 0x0b);
	struct fb_rcur big = fb_rcur_sub(&c, 100);
	assert_false(fb_rcur_ok(&big));
	assert_false(fb_rcur_ok(&c));
	/* Huge skips do not wrap around. */
	fb_rcur_init(&c, bytes, sizeof(bytes));
	fb_rcur_skip(&c, SIZE_MAX);
	assert_false(fb_rcur_ok(&c));
	fb_rcur_init(&c, NULL, 10);
	assert_int_equal(fb_rcur_remaining(&c), 0);
}

static void test_until_nul(void **state)
{
	(void)state;
	const uint8_t s[] = { 'a', 'b', 0, 'c' };
	struct fb_bview v = fb_bview_until_nul((struct fb_bview){ s, 4 });
	assert_int_equal(v.len, 2);
	v = fb_bview_until_nul((struct fb_bview){ s, 2 });
	assert_int_equal(v.len, 2);
	v = fb_bview_until_nul((struct fb_bview){ NULL, 0 });
	assert_int_equal(v.len, 0);
}

static void test_write(void **state)
{
	(void)state;
	uint8_t buf[15];
	struct fb_wcur w;
	fb_wcur_init(&w, buf, sizeof(buf));
	fb_wcur_u8(&w, 0x01);
	fb_wcur_u16(&w, 0x0203);
	fb_wcur_u32(&w, 0x04050607);
	fb_wcur_u64(&w, 0x08090a0b0c0d0e0fULL);
	assert_true(fb_wcur_ok(&w));
	assert_memory_equal(buf, bytes, sizeof(bytes));
	fb_wcur_u8(&w, 0xff);
	assert_false(fb_wcur_ok(&w));
	assert_int_equal(fb_wcur_offset(&w), 15);
}

static void test_write_sticky_and_pad(void **state)
{
	(void)state;
	uint8_t buf[8];
	memset(buf, 0xaa, sizeof(buf));
	struct fb_wcur w;
	fb_wcur_init(&w, buf, 6);
	fb_wcur_u8(&w, 1);
	fb_wcur_pad4(&w, 0);
	assert_int_equal(fb_wcur_offset(&w), 4);
	assert_int_equal(buf[3], 0);
	fb_wcur_pad4(&w, 0);                       /* already aligned */
	assert_int_equal(fb_wcur_offset(&w), 4);
	fb_wcur_u32(&w, 7);                        /* does not fit */
	assert_false(fb_wcur_ok(&w));
	assert_int_equal(fb_wcur_offset(&w), 4);
	assert_int_equal(buf[4], 0xaa);         /* nothing written */
	fb_wcur_u8(&w, 1);                         /* sticky */
	assert_int_equal(buf[4], 0xaa);
	fb_wcur_init(&w, buf, sizeof(buf));
	fb_wcur_bytes(&w, NULL, 3);                /* nowhere to copy from */
	assert_false(fb_wcur_ok(&w));
	fb_wcur_init(&w, buf, sizeof(buf));
	fb_wcur_zeros(&w, SIZE_MAX);
	assert_false(fb_wcur_ok(&w));
}

static void test_patch(void **state)
{
	(void)state;
	uint8_t buf[8] = { 0 };
	struct fb_wcur w;
	fb_wcur_init(&w, buf, sizeof(buf));
	fb_wcur_zeros(&w, 4);
	fb_wcur_patch_u16(&w, 2, 0xbeef);
	assert_true(fb_wcur_ok(&w));
	assert_int_equal(buf[2], 0xbe);
	assert_int_equal(buf[3], 0xef);
	fb_wcur_patch_u32(&w, 2, 1);               /* past what was written */
	assert_false(fb_wcur_ok(&w));
	fb_wcur_over(&w, buf, sizeof(buf));
	fb_wcur_patch_u32(&w, 4, 0x01020304);
	fb_wcur_patch_u8(&w, 0, 9);
	assert_true(fb_wcur_ok(&w));
	assert_int_equal(buf[0], 9);
	assert_int_equal(buf[7], 4);
	fb_wcur_patch_u8(&w, SIZE_MAX, 1);
	assert_false(fb_wcur_ok(&w));
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
