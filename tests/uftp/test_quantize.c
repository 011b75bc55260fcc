/* test_quantize.c — GRTT, group size and rate encodings against values
 * computed with uftp 4.10's own formulas (uftp_common.c: ceil(255 - 13
 * ln(1000 / rtt)), the 5+3 and 12+4 bit floats), and against what real
 * uftp put in the headers the capture test recorded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ferry/uftp.h"

static void test_grtt_table(void **state)
{
	(void)state;
	static const struct { double rtt; uint8_t q; } t[] = {
		{ 0, 0 }, { -1, 0 }, { 1e-6, 0 }, { 5e-6, 4 }, { 32e-6, 31 },
		{ 33e-6, 32 }, { 1e-4, 46 }, { 0.001, 76 },
		{ 0.01, 106 },    /* uftp's minimum GRTT: header byte 0x6a */
		{ 0.05, 127 },    /* -r 0.05 before any RTT: header byte 0x7f */
		{ 0.1, 136 }, { 0.5, 157 }, { 1.0, 166 }, { 2.0, 175 },
		{ 15.0, 201 }, { 100.0, 226 }, { 999.0, 255 }, { 1000.0, 255 },
		{ 5000.0, 255 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (uftp_grtt_quantize(t[i].rtt) != t[i].q)
			fail_msg("quantize(%g) = %u, want %u", t[i].rtt,
				 uftp_grtt_quantize(t[i].rtt), t[i].q);
	assert_true(uftp_grtt_quantize(0.0 / 0.0) == 0);   /* NaN: minimum */
}

static void test_grtt_unquantize(void **state)
{
	(void)state;
	static const struct { uint8_t q; double rtt; } t[] = {
		{ 0, 1e-6 }, { 31, 3.2e-05 }, { 32, 3.54959882516654e-05 },
		{ 106, 0.010527302246684694 }, { 127, 0.05295045747742773 },
		{ 157, 0.5322157857965678 }, { 255, 1000.0 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		double got = uftp_grtt_unquantize(t[i].q);
		double d = got - t[i].rtt;
		if (d < 0)
			d = -d;
		if (d > t[i].rtt * 1e-12)
			fail_msg("unquantize(%u) = %.17g, want %.17g", t[i].q,
				 got, t[i].rtt);
	}
}

/* Quantising rounds up: a code's own value maps back to it, anything a
 * little above maps to the next code. */
static void test_grtt_consistent(void **state)
{
	(void)state;
	for (unsigned q = 32; q < 255; q++) {
		double v = uftp_grtt_unquantize((uint8_t)q);
		assert_int_equal(uftp_grtt_quantize(v), q);
		assert_int_equal(uftp_grtt_quantize(v * 1.000001), q + 1);
		assert_true(uftp_grtt_unquantize((uint8_t)(q + 1)) > v);
	}
}

static void test_gsize(void **state)
{
	(void)state;
	static const struct { unsigned n; uint8_t q; unsigned back; } t[] = {
		{ 0, 0x00, 0 }, { 1, 0x18, 1 },   /* real uftp, 1 client */
		{ 2, 0x30, 2 }, { 3, 0x50, 3 },   /* real uftp, -H with 3 */
		{ 9, 0xe8, 9 }, { 10, 0x19, 9 }, { 31, 0x51, 31 },
		{ 32, 0x51, 31 }, { 99, 0x1a, 94 }, { 100, 0x1a, 94 },
		{ 1000, 0x1b, 938 }, { 9999, 0x1c, 9375 }, { 10000, 0x1c, 9375 },
		{ 123456, 0x25, 125000 }, { 10000000, 0x1f, 9375000 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint8_t q = uftp_gsize_quantize(t[i].n);
		if (q != t[i].q)
			fail_msg("gsize(%u) = 0x%02x, want 0x%02x", t[i].n, q,
				 t[i].q);
		assert_int_equal(uftp_gsize_unquantize(q), t[i].back);
	}
	/* Beyond the 3-bit exponent: saturate rather than wrap. */
	assert_int_equal(uftp_gsize_quantize(4000000000u), 0xff);
}

static void test_rate(void **state)
{
	(void)state;
	static const struct { uint64_t r; uint16_t q; uint64_t back; } t[] = {
		{ 0, 0x0000, 0 }, { 1, 0x19a0, 1 }, { 10, 0x19a1, 10 },
		{ 11, 0x1c31, 11 }, { 1000, 0x19a3, 1000 },
		{ 125000, 0x2005, 125000 }, { 1250000, 0x2006, 1250000 },
		{ 105957, 0x1b25, 105957 },       /* TFMCC send_rate seen */
		{ 57568, 0x9364, 57568 },         /* CC_ACK cc_rate seen */
		{ 1000000000, 0x19a9, 1000976562 },
		{ 1000000000000ull, 0x19ac, 1000976562500ull },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint16_t q = uftp_rate_quantize(t[i].r);
		if (q != t[i].q)
			fail_msg("rate(%llu) = 0x%04x, want 0x%04x",
				 (unsigned long long)t[i].r, q, t[i].q);
		assert_true(uftp_rate_unquantize(q) == t[i].back);
	}
	/* The initial cc_rate uftp's TFMCC server sends. */
	assert_true(uftp_rate_unquantize(0x481e) == 281494140625000ull);
	assert_int_equal(uftp_rate_quantize(UINT64_MAX), 0xffff);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grtt_table),
		cmocka_unit_test(test_grtt_unquantize),
		cmocka_unit_test(test_grtt_consistent),
		cmocka_unit_test(test_gsize),
		cmocka_unit_test(test_rate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
