/* test_proxyproto.c — the PROXY protocol parser (v1 and v2, whole, split
 * and hostile headers) and the balancer prefixes it is trusted from. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "ftp_internal.h"

static const uint8_t sig[12] = { '\r', '\n', '\r', '\n', 0, '\r', '\n',
				 'Q', 'U', 'I', 'T', '\n' };

static const char *ip(const struct sockaddr_storage *a, char *buf)
{
	const void *src = a->ss_family == AF_INET6
		? (const void *)&((const struct sockaddr_in6 *)a)->sin6_addr
		: (const void *)&((const struct sockaddr_in *)a)->sin_addr;
	return inet_ntop(a->ss_family, src, buf, 64);
}

static void test_v1(void **state)
{
	(void)state;
	char buf[64];
	struct ftp_proxy_hdr h;
	const char *v4 = "PROXY TCP4 198.18.20.7 198.18.31.1 40001 2121\r\nUSER x\r\n";
	assert_int_equal(ftp_proxy_parse((const uint8_t *)v4, strlen(v4), &h), 1);
	assert_false(h.local);
	assert_int_equal(h.len, strlen(v4) - strlen("USER x\r\n"));
	assert_string_equal(ip(&h.src, buf), "198.18.20.7");
	assert_int_equal(ntohs(((struct sockaddr_in *)&h.src)->sin_port), 40001);
	const char *v6 = "PROXY TCP6 2001:db8::7 2001:db8::1 5 21\r\n";
	assert_int_equal(ftp_proxy_parse((const uint8_t *)v6, strlen(v6), &h), 1);
	assert_string_equal(ip(&h.src, buf), "2001:db8::7");
	const char *unk = "PROXY UNKNOWN\r\n";
	assert_int_equal(ftp_proxy_parse((const uint8_t *)unk, strlen(unk), &h), 1);
	assert_true(h.local);
	/* Every prefix of a good header asks for more. */
	for (size_t n = 1; n < strlen(v6); n++)
		assert_int_equal(ftp_proxy_parse((const uint8_t *)v6, n, &h), 0);
	const char *bad[] = { "PROXY TCP4 300.1.1.1 1.1.1.1 1 2\r\n",
			      "PROXY TCP5 1.1.1.1 1.1.1.1 1 2\r\n",
			      "PROXY TCP4 1.1.1.1 1.1.1.1 70000 2\r\n",
			      "PROXY TCP4 1.1.1.1 1.1.1.1 1 2 3\r\n",
			      "USER anonymous\r\n", "PROXX TCP4\r\n" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(ftp_proxy_parse((const uint8_t *)bad[i], strlen(bad[i]), &h),
				 -EINVAL);
	/* No CRLF within v1's 107 bytes: refused, not waited for. */
	char longline[200];
	memset(longline, 'a', sizeof(longline));
	memcpy(longline, "PROXY ", 6);
	assert_int_equal(ftp_proxy_parse((const uint8_t *)longline, sizeof(longline), &h),
			 -EINVAL);
}

static size_t v2(uint8_t *out, uint8_t cmd, uint8_t fam, const uint8_t *addr,
		 size_t alen, size_t tlv)
{
	memcpy(out, sig, 12);
	out[12] = (uint8_t)(0x20 | cmd);
	out[13] = fam;
	out[14] = (uint8_t)((alen + tlv) >> 8);
	out[15] = (uint8_t)(alen + tlv);
	memcpy(out + 16, addr, alen);
	memset(out + 16 + alen, 0x77, tlv);
	return 16 + alen + tlv;
}

static void test_v2(void **state)
{
	(void)state;
	char buf[64];
	uint8_t pkt[2048];
	struct ftp_proxy_hdr h;
	uint8_t a4[12] = { 198, 18, 20, 9, 198, 18, 31, 1, 0x9c, 0x41, 0x08, 0x49 };
	size_t n = v2(pkt, 1, 0x11, a4, sizeof(a4), 20);
	assert_int_equal(ftp_proxy_parse(pkt, n, &h), 1);
	assert_int_equal(h.len, n);
	assert_false(h.local);
	assert_string_equal(ip(&h.src, buf), "198.18.20.9");
	assert_int_equal(ntohs(((struct sockaddr_in *)&h.src)->sin_port), 0x9c41);
	for (size_t k = 1; k < n; k++)
		assert_int_equal(ftp_proxy_parse(pkt, k, &h), 0);
	uint8_t a6[36] = { 0x20, 0x01, 0x0d, 0xb8 };
	a6[15] = 9;
	n = v2(pkt, 1, 0x21, a6, sizeof(a6), 0);
	assert_int_equal(ftp_proxy_parse(pkt, n, &h), 1);
	assert_string_equal(ip(&h.src, buf), "2001:db8::9");
	n = v2(pkt, 0, 0x00, a4, 0, 0);              /* LOCAL: a health check */
	assert_int_equal(ftp_proxy_parse(pkt, n, &h), 1);
	assert_true(h.local);
	n = v2(pkt, 1, 0x11, a4, 4, 0);              /* too short for TCP4 */
	assert_int_equal(ftp_proxy_parse(pkt, n, &h), -EINVAL);
	n = v2(pkt, 1, 0x11, a4, sizeof(a4), 1500);  /* longer than we hold */
	assert_int_equal(ftp_proxy_parse(pkt, 16, &h), -EINVAL);
	pkt[12] = 0x31;                              /* version 3 */
	assert_int_equal(ftp_proxy_parse(pkt, 16, &h), -EINVAL);
}

static void test_prefixes(void **state)
{
	(void)state;
	struct fb_prefix p;
	struct sockaddr_storage a = { 0 };
	struct sockaddr_in *v4 = (struct sockaddr_in *)&a;
	v4->sin_family = AF_INET;
	inet_pton(AF_INET, "198.19.4.5", &v4->sin_addr);
	assert_int_equal(fb_prefix_parse("198.18.0.0/15", &p), 0);
	assert_true(fb_prefix_match(&p, &a));
	assert_int_equal(fb_prefix_parse("198.18.0.0/16", &p), 0);
	assert_false(fb_prefix_match(&p, &a));
	assert_int_equal(fb_prefix_parse("198.19.4.5", &p), 0);
	assert_true(fb_prefix_match(&p, &a));
	assert_int_equal(fb_prefix_parse("0.0.0.0/0", &p), 0);
	assert_true(fb_prefix_match(&p, &a));
	struct sockaddr_storage m = { 0 };      /* ::ffff:198.19.4.5 */
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&m;
	v6->sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:198.19.4.5", &v6->sin6_addr);
	assert_int_equal(fb_prefix_parse("198.19.4.0/24", &p), 0);
	assert_true(fb_prefix_match(&p, &m));
	assert_int_equal(fb_prefix_parse("2001:db8::/32", &p), 0);
	assert_false(fb_prefix_match(&p, &m));
	inet_pton(AF_INET6, "2001:db8:1::5", &v6->sin6_addr);
	assert_true(fb_prefix_match(&p, &m));
	assert_int_equal(fb_prefix_parse("2001:db8::/33", &p), 0);
	assert_true(fb_prefix_match(&p, &m));
	inet_pton(AF_INET6, "2001:db8:8000::5", &v6->sin6_addr);
	assert_false(fb_prefix_match(&p, &m));
	const char *bad[] = { "", "/8", "198.18.0.0/33", "198.18.0.0/", "2001:db8::/129",
			      "host.example", "198.18.0.0/-1", "198.18.0.0/8x" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(fb_prefix_parse(bad[i], &p), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1),
		cmocka_unit_test(test_v2),
		cmocka_unit_test(test_prefixes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
