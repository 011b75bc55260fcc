/* test_addr.c — checks base's address helpers: host:port specs in every
 * accepted form and the refused ones, IP literals, formatting, and the one
 * comparison (IPv4-mapped IPv6 equals IPv4; ports ignored or compared). */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ferry/base.h"

static void split_ok(const char *spec, const char *host, int port, bool has)
{
	char h[64];
	uint16_t p = 7;
	bool hp = !has;
	assert_int_equal(fb_hostport_split(spec, h, sizeof(h), &p, &hp), 0);
	assert_string_equal(h, host);
	assert_int_equal(p, port);
	assert_int_equal(hp, has);
}

static void test_split_forms(void **state)
{
	(void)state;
	split_ok("198.18.0.1", "198.18.0.1", 7, false);
	split_ok("198.18.0.1:2121", "198.18.0.1", 2121, true);
	split_ok("host.example:1044", "host.example", 1044, true);
	split_ok("[2001:db8::1]", "2001:db8::1", 7, false);
	split_ok("[2001:db8::1]:21", "2001:db8::1", 21, true);
	split_ok("2001:db8::1", "2001:db8::1", 7, false);   /* bare v6: no port */
	split_ok("h:65535", "h", 65535, true);
}

static void test_split_refused(void **state)
{
	(void)state;
	const char *bad[] = { "", ":21", "h:", "h:0", "h:65536", "h:2x", "[::1",
			      "[::1]x", "[]:21", "h:-1", "h: 21", "[::1]:" };
	char h[64];
	uint16_t p = 0;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(fb_hostport_split(bad[i], h, sizeof(h), &p, NULL), -EINVAL);
	char small[4];
	assert_int_equal(fb_hostport_split("abcd:1", small, sizeof(small), &p, NULL), -EINVAL);
	assert_int_equal(fb_hostport_split(NULL, h, sizeof(h), &p, NULL), -EINVAL);
}

static void test_listen_same(void **state)
{
	(void)state;
	assert_true(fb_listen_same("127.0.0.1:990", "127.0.0.1:0990"));
	assert_true(fb_listen_same("[::1]:21", "[0:0::1]:21"));
	assert_false(fb_listen_same("127.0.0.1:990", "127.0.0.1:991"));
	assert_false(fb_listen_same("127.0.0.1:990", "127.0.0.2:990"));
	assert_false(fb_listen_same("localhost:990", "localhost:990"));   /* literals only */
	struct sockaddr_storage a;
	assert_int_equal(fb_listen_parse("198.18.0.1:21", &a), 0);
	assert_int_equal(fb_addr_port((struct sockaddr *)&a), 21);
}

static void test_parse_and_format(void **state)
{
	(void)state;
	struct sockaddr_storage a;
	char buf[64];
	assert_int_equal(fb_addr_parse("198.18.0.1", 2121, &a), 0);
	assert_int_equal(a.ss_family, AF_INET);
	assert_string_equal(fb_addr_format((struct sockaddr *)&a, buf, sizeof(buf)),
			    "198.18.0.1:2121");
	assert_string_equal(fb_addr_text(&a, buf, sizeof(buf)), "198.18.0.1");
	assert_int_equal(fb_addr_parse("2001:db8::1", 21, &a), 0);
	assert_int_equal(a.ss_family, AF_INET6);
	assert_string_equal(fb_addr_format((struct sockaddr *)&a, buf, sizeof(buf)),
			    "[2001:db8::1]:21");
	assert_int_equal(fb_addr_port((struct sockaddr *)&a), 21);
	fb_addr_set_port(&a, 0);
	assert_string_equal(fb_addr_format((struct sockaddr *)&a, buf, sizeof(buf)),
			    "2001:db8::1");
	assert_int_equal(fb_addr_len((struct sockaddr *)&a), sizeof(struct sockaddr_in6));
	assert_int_equal(fb_addr_parse("host.example", 1, &a), -EINVAL);
	assert_int_equal(fb_addr_parse("198.18.0.256", 1, &a), -EINVAL);
	assert_int_equal(fb_addr_resolve("198.18.0.9", 1044, AF_UNSPEC, &a), 0);
	assert_string_equal(fb_addr_format((struct sockaddr *)&a, buf, sizeof(buf)),
			    "198.18.0.9:1044");
}

static void test_compare(void **state)
{
	(void)state;
	struct sockaddr_storage v4, v4b, mapped, v6, other;
	assert_int_equal(fb_addr_parse("198.18.0.1", 1000, &v4), 0);
	assert_int_equal(fb_addr_parse("198.18.0.1", 2000, &v4b), 0);
	assert_int_equal(fb_addr_parse("::ffff:198.18.0.1", 1000, &mapped), 0);
	assert_int_equal(fb_addr_parse("2001:db8::1", 1000, &v6), 0);
	assert_int_equal(fb_addr_parse("198.18.0.2", 1000, &other), 0);
	assert_true(fb_addr_same_host(&v4, &v4b));
	assert_true(fb_addr_same_host(&v4, &mapped));
	assert_true(fb_addr_same_host(&mapped, &v4));
	assert_false(fb_addr_same_host(&v4, &other));
	assert_false(fb_addr_same_host(&v4, &v6));
	assert_true(fb_addr_equal((struct sockaddr *)&v4, (struct sockaddr *)&mapped));
	assert_false(fb_addr_equal((struct sockaddr *)&v4, (struct sockaddr *)&v4b));
	uint8_t k1[16], k2[16], k3[16];
	fb_addr_key((struct sockaddr *)&v4, k1);
	fb_addr_key((struct sockaddr *)&mapped, k2);
	fb_addr_key((struct sockaddr *)&other, k3);
	assert_memory_equal(k1, k2, 16);
	assert_memory_not_equal(k1, k3, 16);
	assert_true(fb_addr_is_multicast((struct sockaddr *)&(struct sockaddr_in){
		.sin_family = AF_INET, .sin_addr.s_addr = htonl(0xe6040401) }));
	assert_false(fb_addr_is_multicast((struct sockaddr *)&v4));
}

static void test_port_and_lengths(void **state)
{
	(void)state;
	uint16_t p = 7;
	assert_int_equal(fb_port_parse("21", false, &p), 0);
	assert_int_equal(p, 21);
	assert_int_equal(fb_port_parse("65535", false, &p), 0);
	assert_int_equal(p, 65535);
	const char *bad[] = { "", "0", "65536", "-1", "21x", "ftp", " 21", "000021" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(fb_port_parse(bad[i], false, &p), -EINVAL);
	assert_int_equal(p, 65535);          /* untouched when refused */
	assert_int_equal(fb_port_parse("0", true, &p), 0);
	assert_int_equal(p, 0);
	assert_int_equal(fb_port_parse("65536", true, &p), -EINVAL);
	char h[64];
	assert_int_equal(fb_hostport_split("127.0.0.1:0", h, sizeof(h), &p, NULL), -EINVAL);
	assert_int_equal(fb_hostport_split_listen("[::1]:0", h, sizeof(h), &p, NULL), 0);
	assert_string_equal(h, "::1");
	assert_int_equal(p, 0);
	assert_int_equal(fb_family_len(AF_INET), sizeof(struct sockaddr_in));
	assert_int_equal(fb_family_len(AF_INET6), sizeof(struct sockaddr_in6));
}

static void test_v4_mapped(void **state)
{
	(void)state;
	struct sockaddr_storage a, b;
	char text[80];
	assert_int_equal(fb_addr_parse("198.18.0.7", 2121, &a), 0);
	b = a;
	fb_addr_v4_mapped(&a);
	assert_int_equal(a.ss_family, AF_INET6);
	assert_string_equal(fb_addr_format((struct sockaddr *)&a, text, sizeof(text)),
			    "[::ffff:198.18.0.7]:2121");
	assert_true(fb_addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
	fb_addr_v4_mapped(&a);               /* already IPv6: left alone */
	assert_string_equal(fb_addr_format((struct sockaddr *)&a, text, sizeof(text)),
			    "[::ffff:198.18.0.7]:2121");
}

static void test_resolve_all(void **state)
{
	(void)state;
	struct sockaddr_storage a[4];
	char text[80];
	int n = fb_addr_resolve_all("127.0.0.1", 21, AF_UNSPEC, a, 4);
	assert_int_equal(n, 1);
	assert_string_equal(fb_addr_format((struct sockaddr *)&a[0], text, sizeof(text)),
			    "127.0.0.1:21");
	n = fb_addr_resolve_all("::1", 990, AF_INET6, a, 4);
	assert_int_equal(n, 1);
	assert_string_equal(fb_addr_format((struct sockaddr *)&a[0], text, sizeof(text)),
			    "[::1]:990");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_forms),
		cmocka_unit_test(test_split_refused),
		cmocka_unit_test(test_parse_and_format),
		cmocka_unit_test(test_listen_same),
		cmocka_unit_test(test_compare),
		cmocka_unit_test(test_port_and_lengths),
		cmocka_unit_test(test_v4_mapped),
		cmocka_unit_test(test_resolve_all),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
