/* test_peerlist.c — -C / -S list lines and files: the man page's examples,
 * malformed lines reported with file and line, lookups by UID. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "peerlist.h"

static void test_man_page_examples(void **state)
{
	(void)state;
	struct peer p;
	const char *why;
	assert_int_equal(proxy_peerlist_parse_line(
		"0x00001111|66:1E:C9:1D:FC:99:DB:60:B0:1A:F0:8F:CA:F4:28:27:A6:BE:94:BC",
		false, &p, &why), 0);
	assert_int_equal(p.uid, 0x1111);
	assert_true(p.has_fp);
	assert_int_equal(p.fp[0], 0x66);
	assert_int_equal(p.fp[19], 0xBC);
	assert_int_equal(proxy_peerlist_parse_line("0x00002222", false, &p, &why), 0);
	assert_false(p.has_fp);
	assert_int_equal(proxy_peerlist_parse_line(
		"0x11112222|192.168.1.101|66:1E:C9:1D:FC:99:DB:60:B0:1A:F0:8F:CA:F4:28:27:A6:BE:94:BC",
		true, &p, &why), 0);
	assert_true(p.has_addr && p.has_fp);
	assert_int_equal(p.addr.ss_family, AF_INET);
	assert_int_equal(proxy_peerlist_parse_line("0x11113333|fe80::213:72ff:fed6:69ca",
					     true, &p, &why), 0);
	assert_int_equal(p.addr.ss_family, AF_INET6);
	assert_false(p.has_fp);
}

static void test_malformed(void **state)
{
	(void)state;
	static const struct { const char *line; bool addr; } bad[] = {
		{ "", false }, { "0x0", false }, { "0x123456789", false },
		{ "zz", false }, { "0x1|12:34", false },
		{ "0x1|66:1E:C9:1D:FC:99:DB:60:B0:1A:F0:8F:CA:F4:28:27:A6:BE:94", false },
		{ "0x1|a|b", false }, { "0x1", true }, { "0x1|999.1.1.1", true },
		{ "0x1|10.0.0.1|nope", true }, { "0x1|10.0.0.1|x|y", true },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct peer p;
		const char *why = NULL;
		assert_int_equal(proxy_peerlist_parse_line(bad[i].line, bad[i].addr, &p, &why), -1);
		assert_non_null(why);
	}
}

static void test_file(void **state)
{
	(void)state;
	char path[] = "/tmp/ferry-peerlist-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	fputs("# servers\n0x11112222|198.18.0.1\n\n  0x11113333|198.18.0.2  \n", f);
	fclose(f);
	struct peerlist l;
	char err[256];
	assert_int_equal(proxy_peerlist_load(path, true, &l, err, sizeof(err)), 0);
	assert_int_equal(l.n, 2);
	assert_non_null(proxy_peerlist_find(&l, 0x11113333));
	assert_null(proxy_peerlist_find(&l, 0x11114444));
	proxy_peerlist_free(&l);

	f = fopen(path, "w");
	fputs("0x11112222|198.18.0.1\n0x11113333\n", f);
	fclose(f);
	assert_int_equal(proxy_peerlist_load(path, true, &l, err, sizeof(err)), -1);
	char want[300];
	snprintf(want, sizeof(want), "%s:2: ", path);
	assert_memory_equal(err, want, strlen(want));
	unlink(path);
	assert_int_equal(proxy_peerlist_load(path, true, &l, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_man_page_examples),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
