/* test_ftp_units.c — the FTP module's pure parts: path confinement (with
 * "..", absolute and relative escaping symlinks), command lines and Telnet
 * bytes, PORT/EPRT, ASCII conversion, replies, SPSV tokens, passwords,
 * lockout and the transfer-log line. */
#include <arpa/inet.h>
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "ferry/crypto.h"
#include "ftp_internal.h"

static void join_is(const char *cwd, const char *arg, const char *want)
{
	char out[PATH_MAX];
	assert_int_equal(ftp_path_join(cwd, arg, out, sizeof(out)), 0);
	assert_string_equal(out, want);
}

static void test_path_join(void **state)
{
	(void)state;
	join_is("/", "a", "/a");
	join_is("/a/b", "c", "/a/b/c");
	join_is("/a/b", "../c", "/a/c");
	join_is("/a", "../../../../etc/passwd", "/etc/passwd");
	join_is("/a", "/x/./y//z/", "/x/y/z");
	join_is("/", "..", "/");
	join_is("/a/b", "..", "/a");
	join_is("/a", ".", "/a");
	join_is("/", "...", "/...");
	char small[4];
	assert_int_equal(ftp_path_join("/", "abcdef", small, sizeof(small)), -ENAMETOOLONG);
}

/* A root holding: f (file), d/ (dir), in -> f, up -> ../outside,
 * abs -> /etc/passwd, d/deep -> ../../outside; and outside/secret next to it. */
static char base[64], rootdir[128];

static void make_tree(void)
{
	strcpy(base, "/tmp/ferry-path-XXXXXX");
	assert_non_null(mkdtemp(base));
	snprintf(rootdir, sizeof(rootdir), "%s/root", base);
	char p[PATH_MAX * 2];
	assert_int_equal(mkdir(rootdir, 0755), 0);
	snprintf(p, sizeof(p), "%s/outside", base);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/outside/secret", base);
	close(open(p, O_CREAT | O_WRONLY, 0644));
	snprintf(p, sizeof(p), "%s/f", rootdir);
	close(open(p, O_CREAT | O_WRONLY, 0644));
	snprintf(p, sizeof(p), "%s/d", rootdir);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/in", rootdir);
	assert_int_equal(symlink("f", p), 0);
	snprintf(p, sizeof(p), "%s/up", rootdir);
	assert_int_equal(symlink("../outside", p), 0);
	snprintf(p, sizeof(p), "%s/abs", rootdir);
	assert_int_equal(symlink("/etc/passwd", p), 0);
	snprintf(p, sizeof(p), "%s/d/deep", rootdir);
	assert_int_equal(symlink("../../outside/secret", p), 0);
	snprintf(p, sizeof(p), "%s/proc", rootdir);
	assert_int_equal(symlink("/proc/self/root", p), 0);
}

static void test_path_confinement(void **state)
{
	(void)state;
	make_tree();
	int root = open(rootdir, O_PATH | O_DIRECTORY);
	assert_true(root >= 0);
	int fd = ftp_path_open(root, "/f", O_RDONLY, 0);
	assert_true(fd >= 0);
	close(fd);
	fd = ftp_path_open(root, "/in", O_RDONLY, 0);   /* a symlink inside: fine */
	assert_true(fd >= 0);
	close(fd);
	fd = ftp_path_open(root, "/", O_RDONLY | O_DIRECTORY, 0);
	assert_true(fd >= 0);
	close(fd);
	/* every way out fails */
	assert_true(ftp_path_open(root, "/up/secret", O_RDONLY, 0) < 0);
	assert_true(ftp_path_open(root, "/up", O_PATH, 0) < 0);
	assert_true(ftp_path_open(root, "/abs", O_RDONLY, 0) < 0);
	assert_true(ftp_path_open(root, "/d/deep", O_RDONLY, 0) < 0);
	assert_true(ftp_path_open(root, "/proc", O_PATH, 0) < 0);
	assert_true(ftp_path_open(root, "/proc/etc/passwd", O_RDONLY, 0) < 0);
	assert_int_equal(ftp_path_open(root, "relative", O_RDONLY, 0), -EINVAL);
	/* creating through an escaping symlink fails too */
	assert_true(ftp_path_open(root, "/up/new", O_WRONLY | O_CREAT, 0644) < 0);
	char p[PATH_MAX * 2];
	snprintf(p, sizeof(p), "%s/outside/new", base);
	assert_int_equal(access(p, F_OK), -1);
	/* what lexical joining gives never names the outside */
	char v[PATH_MAX];
	assert_int_equal(ftp_path_join("/d", "../../outside/secret", v, sizeof(v)), 0);
	assert_true(ftp_path_open(root, v, O_RDONLY, 0) < 0);
	/* parents */
	const char *name;
	int dir = ftp_path_parent(root, "/d/x", &name);
	assert_true(dir >= 0);
	assert_string_equal(name, "x");
	close(dir);
	assert_int_equal(ftp_path_parent(root, "/", &name), -EINVAL);
	assert_true(ftp_path_parent(root, "/up/x", &name) < 0);
	struct stat st;
	assert_int_equal(ftp_path_stat(root, "/d", &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	close(root);
	snprintf(p, sizeof(p), "rm -rf %s", base);
	assert_int_equal(system(p), 0);
}

static void split_is(const char *line, const char *verb, const char *arg)
{
	char buf[256], *v, *a;
	strcpy(buf, line);
	assert_true(ftp_cmd_split(buf, strlen(buf), &v, &a));
	assert_string_equal(v, verb);
	assert_string_equal(a, arg);
}

static void test_cmd_split(void **state)
{
	(void)state;
	split_is("USER alice\r\n", "USER", "alice");
	split_is("retr my file.txt\r\n", "RETR", "my file.txt");
	split_is("PWD\n", "PWD", "");
	split_is("NOOP \r\n", "NOOP", "");
	char buf[64], *v, *a;
	strcpy(buf, "12 34\r\n");
	assert_false(ftp_cmd_split(buf, strlen(buf), &v, &a));
	strcpy(buf, "\r\n");
	assert_false(ftp_cmd_split(buf, strlen(buf), &v, &a));
	memcpy(buf, "RETR a\0b\r\n", 10);
	assert_false(ftp_cmd_split(buf, 10, &v, &a));
	strcpy(buf, "TOOLONGVERB x\r\n");
	assert_false(ftp_cmd_split(buf, strlen(buf), &v, &a));
	split_is("xsha256 f\r\n", "XSHA256", "f");          /* digits in verbs */
	split_is("XMD5 f\r\n", "XMD5", "f");
	strcpy(buf, "5MD x\r\n");
	assert_false(ftp_cmd_split(buf, strlen(buf), &v, &a));   /* a letter first */
	/* RFC 2640: CR NUL inside a name is a CR that belongs to the name. */
	memcpy(buf, "RETR a\r\0b\r\0\r\n", 13);
	size_t n = ftp_cmd_unstuff_cr(buf, 13);
	assert_int_equal(n, 11);
	assert_true(ftp_cmd_split(buf, n, &v, &a));
	assert_string_equal(a, "a\rb\r");
	assert_non_null(ftp_cmd_lookup("SPSV"));
	assert_non_null(ftp_cmd_lookup("MLSD"));
	assert_non_null(ftp_cmd_lookup("SITE"));
	assert_non_null(ftp_cmd_lookup("XSHA256"));
	assert_null(ftp_cmd_lookup("XSHA3"));
	assert_true(ftp_cmd_lookup("STOR")->flags & DROPBOX_OK);
	assert_false(ftp_cmd_lookup("RETR")->flags & DROPBOX_OK);
	assert_false(ftp_cmd_lookup("LIST")->flags & DROPBOX_OK);
	assert_false(ftp_cmd_lookup("DELE")->flags & DROPBOX_OK);
	assert_false(ftp_cmd_lookup("RNFR")->flags & DROPBOX_OK);
	assert_true(ftp_cmd_lookup("STOR")->flags & NEED_WRITE);
	assert_true(ftp_cmd_lookup("RETR")->flags & NEED_LOGIN);
	assert_false(ftp_cmd_lookup("USER")->flags & NEED_LOGIN);
}

static void test_telnet(void **state)
{
	(void)state;
	struct telnet_state st = { 0 };
	uint8_t out[64];
	/* IAC IP IAC DM ABOR: the commands vanish */
	const uint8_t abor[] = { 255, 244, 255, 242, 'A', 'B', 'O', 'R', '\r', '\n' };
	size_t n = ftp_telnet_filter(&st, abor, sizeof(abor), out);
	assert_int_equal(n, 6);
	assert_memory_equal(out, "ABOR\r\n", 6);
	/* DM taken out of band: IAC then 'A' keeps the A */
	const uint8_t oob[] = { 255, 244, 255, 'A', 'B' };
	n = ftp_telnet_filter(&st, oob, sizeof(oob), out);
	assert_int_equal(n, 2);
	assert_memory_equal(out, "AB", 2);
	/* IAC IAC is 0xFF; WILL x is three bytes; state carries across calls */
	const uint8_t a[] = { 'x', 255 }, b[] = { 255, 255, 251, 1, 'y' };
	n = ftp_telnet_filter(&st, a, sizeof(a), out);
	n += ftp_telnet_filter(&st, b, sizeof(b), out + n);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "x\xffy", 3);
}

static void test_port_eprt(void **state)
{
	(void)state;
	struct sockaddr_storage a;
	char txt[64];
	assert_int_equal(ftp_parse_port_arg("127,0,0,1,4,1", &a), 0);
	assert_int_equal(a.ss_family, AF_INET);
	assert_int_equal(fb_addr_port((struct sockaddr *)&a), 1025);
	assert_string_equal(fb_addr_text(&a, txt, sizeof(txt)), "127.0.0.1");
	assert_int_equal(ftp_parse_port_arg("127,0,0,1,4", &a), -EINVAL);
	assert_int_equal(ftp_parse_port_arg("256,0,0,1,4,1", &a), -EINVAL);
	assert_int_equal(ftp_parse_port_arg("1,2,3,4,5,6,7", &a), -EINVAL);
	assert_int_equal(ftp_parse_port_arg("a,2,3,4,5,6", &a), -EINVAL);
	assert_int_equal(ftp_parse_port_arg("", &a), -EINVAL);
	assert_int_equal(ftp_parse_eprt_arg("|1|198.18.0.1|6000|", &a), 0);
	assert_int_equal(fb_addr_port((struct sockaddr *)&a), 6000);
	assert_int_equal(ftp_parse_eprt_arg("|2|::1|6000|", &a), 0);
	assert_int_equal(a.ss_family, AF_INET6);
	assert_int_equal(ftp_parse_eprt_arg("!1!10.0.0.1!21!", &a), 0);
	assert_int_equal(ftp_parse_eprt_arg("|3|x|1|", &a), -EAFNOSUPPORT);
	assert_int_equal(ftp_parse_eprt_arg("|1|::1|6000|", &a), -EINVAL);
	assert_int_equal(ftp_parse_eprt_arg("|1|1.2.3.4|70000|", &a), -EINVAL);
	assert_int_equal(ftp_parse_eprt_arg("|1|1.2.3.4|6000", &a), -EINVAL);
	assert_int_equal(ftp_parse_eprt_arg("1|1|1.2.3.4|6000|", &a), -EINVAL);
	struct sockaddr_storage b;
	ftp_parse_port_arg("127,0,0,1,4,1", &a);
	ftp_parse_eprt_arg("|2|::ffff:127.0.0.1|9|", &b);
	assert_true(fb_addr_same_host(&a, &b));
	ftp_parse_port_arg("127,0,0,2,4,1", &b);
	assert_false(fb_addr_same_host(&a, &b));
	assert_int_equal(ftp_format_pasv(&a, txt, sizeof(txt)), 0);
	assert_string_equal(txt, "(127,0,0,1,4,1)");
	uint64_t v;
	assert_true(ftp_parse_u64("5368709120", &v));
	assert_true(v == 5368709120ull);
	assert_false(ftp_parse_u64("-1", &v));
	assert_false(ftp_parse_u64("12x", &v));
	assert_false(ftp_parse_u64("99999999999999999999999", &v));
}

static void test_ascii(void **state)
{
	(void)state;
	uint8_t out[64];
	bool cr = false;
	size_t n = ftp_ascii_to_net((const uint8_t *)"a\nb\r\nc", 6, out, &cr);
	assert_int_equal(n, 7);
	assert_memory_equal(out, "a\r\nb\r\nc", 7);
	/* a CR at a chunk's end still protects the LF that opens the next */
	cr = false;
	n = ftp_ascii_to_net((const uint8_t *)"x\r", 2, out, &cr);
	n += ftp_ascii_to_net((const uint8_t *)"\ny", 2, out + n, &cr);
	assert_int_equal(n, 4);
	assert_memory_equal(out, "x\r\ny", 4);
	bool held = false;
	n = ftp_ascii_from_net((const uint8_t *)"a\r\nb\rc\r", 7, out, &held);
	assert_int_equal(n, 5);
	assert_memory_equal(out, "a\nb\rc", 5);
	assert_true(held);
	n = ftp_ascii_from_net((const uint8_t *)"\nz", 2, out, &held);
	assert_int_equal(n, 2);
	assert_memory_equal(out, "\nz", 2);
	assert_false(held);
}

static void test_reply_format(void **state)
{
	(void)state;
	struct fb_buf b = { 0 };
	ftp_reply_format(&b, 200, "DATA");
	assert_string_equal(b.p, "200 DATA\r\n");
	b.len = 0;
	ftp_reply_format(&b, 211, "Features:\nSPSV\n123 looks like a code\nEnd");
	assert_string_equal(b.p, "211-Features:\r\n SPSV\r\n 123 looks like a code\r\n211 End\r\n");
	b.len = 0;   /* an MLST entry line keeps exactly one leading space */
	ftp_reply_format(&b, 250, "Listing /f\n type=file; /f\nEnd");
	assert_string_equal(b.p, "250-Listing /f\r\n type=file; /f\r\n250 End\r\n");
	b.len = 0;   /* 0xFF doubled (IAC IAC), CR in a name as CR NUL */
	ftp_reply_format(&b, 257, "\"/a\xff\rb\" created.");
	assert_int_equal(b.len, 24);
	assert_memory_equal(b.p, "257 \"/a\xff\xff\r\0b\" created.\r\n", 24);
	fb_buf_free(&b);
	char esc[32];
	assert_string_equal(ftp_log_esc("ev\nil\x1b[2J\\", esc, sizeof(esc)),
			    "ev\\x0ail\\x1b[2J\\x5c");
	assert_string_equal(ftp_log_esc("abcdefgh", esc, 6), "abcde");
}

static void test_spsv_table(void **state)
{
	(void)state;
	struct spsv_table *t = ftp_spsv_create();
	char a[SPSV_TOKEN_LEN + 1], b[SPSV_TOKEN_LEN + 1], c[SPSV_TOKEN_LEN + 1];
	uint64_t sess;
	unsigned w;
	struct sockaddr_storage me, other;
	assert_int_equal(fb_addr_resolve("127.0.0.1", 40000, AF_INET, &me), 0);
	assert_int_equal(fb_addr_resolve("127.0.0.2", 40001, AF_INET, &other), 0);
	assert_int_equal(ftp_spsv_issue(t, 1, 3, &me, 1000, 60000, a), 0);
	assert_int_equal(strlen(a), SPSV_TOKEN_LEN);
	for (const char *p = a; *p; p++)
		assert_true((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			    (*p >= '0' && *p <= '9'));
	assert_int_equal(ftp_spsv_issue(t, 2, 0, &me, 1000, 60000, b), 0);
	assert_string_not_equal(a, b);
	assert_int_equal(ftp_spsv_count(t), 2);
	/* one-time */
	assert_int_equal(ftp_spsv_take(t, a, &me, 2000, &sess, &w), 0);
	assert_true(sess == 1 && w == 3);
	assert_int_equal(ftp_spsv_take(t, a, &me, 2000, &sess, &w), -ENOENT);
	/* expired */
	assert_int_equal(ftp_spsv_take(t, b, &me, 61001, &sess, &w), -ETIMEDOUT);
	assert_int_equal(ftp_spsv_take(t, b, &me, 1000, &sess, &w), -ENOENT);
	/* a new token replaces the session's old one; revoke drops it */
	assert_int_equal(ftp_spsv_issue(t, 5, 0, &me, 0, 60000, a), 0);
	assert_int_equal(ftp_spsv_issue(t, 5, 0, &me, 0, 60000, c), 0);
	assert_int_equal(ftp_spsv_count(t), 1);
	assert_int_equal(ftp_spsv_take(t, a, &me, 1, &sess, &w), -ENOENT);
	ftp_spsv_revoke(t, 5);
	assert_int_equal(ftp_spsv_take(t, c, &me, 1, &sess, &w), -ENOENT);
	/* wrong lengths and near misses */
	assert_int_equal(ftp_spsv_issue(t, 6, 0, &me, 0, 60000, a), 0);
	strcpy(c, a);
	c[SPSV_TOKEN_LEN - 1] ^= 1;
	assert_int_equal(ftp_spsv_take(t, c, &me, 1, &sess, &w), -ENOENT);
	assert_int_equal(ftp_spsv_take(t, "", &me, 1, &sess, &w), -ENOENT);
	assert_int_equal(ftp_spsv_count(t), 1);
	/* bound to the control connection's host (any port); NULL: any host */
	assert_int_equal(ftp_spsv_issue(t, 7, 1, &me, 0, 60000, b), 0);
	assert_int_equal(ftp_spsv_take(t, b, &other, 1, &sess, &w), -EPERM);
	assert_int_equal(ftp_spsv_take(t, b, &me, 1, &sess, &w), 0);
	assert_true(sess == 7 && w == 1);
	assert_int_equal(ftp_spsv_issue(t, 8, 0, &me, 0, 60000, b), 0);
	assert_int_equal(ftp_spsv_take(t, b, NULL, 1, &sess, &w), 0);
	assert_true(sess == 8);
	ftp_spsv_destroy(t);
	assert_true(fb_ct_equal("abc", "abc", 3));
	assert_false(fb_ct_equal("abc", "abd", 3));
	assert_true(fb_ct_equal("", "", 0));
}

static void test_passwords(void **state)
{
	(void)state;
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	const char *prefixes[] = { "$y$", "$6$" };
	for (int i = 0; i < 2; i++) {
		assert_non_null(crypt_gensalt_rn(prefixes[i], 0, NULL, 0, setting, sizeof(setting)));
		char *h = strdup(crypt_rn("s3cret", setting, cd, sizeof(*cd)));
		assert_true(ftp_auth_password_ok(h, "s3cret"));
		assert_false(ftp_auth_password_ok(h, "s3cret "));
		assert_false(ftp_auth_password_ok(h, ""));
		free(h);
	}
	free(cd);
	assert_false(ftp_auth_password_ok("", ""));
	assert_false(ftp_auth_password_ok("plain", "plain"));
	assert_false(ftp_auth_password_ok("$6$broken", "x"));
	assert_false(ftp_auth_password_ok(NULL, "x"));
}

static void test_lockout(void **state)
{
	(void)state;
	struct lockout *l = ftp_lockout_create(3, 10, 64);
	struct sockaddr_storage a, b;
	uint64_t left = 0;
	ftp_parse_port_arg("10,0,0,1,4,1", &a);
	ftp_parse_port_arg("10,0,0,2,4,1", &b);
	ftp_lockout_failed(l, "bob", &a, 100);
	ftp_lockout_failed(l, "bob", &a, 200);
	assert_false(ftp_lockout_blocked(l, "bob", &a, 300, NULL));
	ftp_lockout_failed(l, "bob", &a, 300);
	assert_true(ftp_lockout_blocked(l, "bob", &a, 400, &left));
	assert_int_equal(left, 9900);                           /* time left */
	assert_false(ftp_lockout_blocked(l, "carol", &a, 400, NULL)); /* same NAT, other user */
	assert_false(ftp_lockout_blocked(l, "anonymous", &a, 400, NULL));
	assert_false(ftp_lockout_blocked(l, "bob", &b, 400, NULL));  /* other address */
	assert_false(ftp_lockout_blocked(l, "bob", &a, 300 + 10000, NULL)); /* over */
	ftp_lockout_failed(l, "bob", &b, 0);
	ftp_lockout_succeeded(l, "bob", &b);
	ftp_lockout_failed(l, "bob", &b, 0);
	ftp_lockout_failed(l, "bob", &b, 0);
	assert_false(ftp_lockout_blocked(l, "bob", &b, 1, NULL));    /* success reset it */
	ftp_lockout_destroy(l);

	/* Bounded, and a lock outlives a flood of failures from other addresses. */
	l = ftp_lockout_create(2, 100, 16);
	ftp_lockout_failed(l, "bob", &a, 0);
	ftp_lockout_failed(l, "bob", &a, 0);
	for (unsigned i = 0; i < 1000; i++) {
		struct sockaddr_storage x;
		char port[32];
		snprintf(port, sizeof(port), "10,1,%u,%u,4,1", i >> 8, i & 255);
		ftp_parse_port_arg(port, &x);
		ftp_lockout_failed(l, "mallory", &x, 1);
	}
	assert_true(ftp_lockout_count(l) <= 16);
	assert_true(ftp_lockout_blocked(l, "bob", &a, 2, NULL));
	ftp_lockout_destroy(l);
}

static void test_timeval(void **state)
{
	(void)state;
	struct timespec ts;
	size_t n;
	assert_true(ftp_parse_timeval("20240229123456 f", &ts, &n));
	assert_int_equal(n, 14);
	assert_int_equal(ts.tv_sec, 1709210096);
	assert_true(ftp_parse_timeval("20240229123456.25", &ts, &n));
	assert_int_equal(n, 17);
	assert_int_equal(ts.tv_nsec, 250000000);
	assert_false(ftp_parse_timeval("20230229123456", &ts, &n));   /* no 29 Feb */
	assert_false(ftp_parse_timeval("2024022912345", &ts, &n));
	assert_false(ftp_parse_timeval("20241301000000", &ts, &n));
}

static void test_digests(void **state)
{
	(void)state;
	static const struct { enum crypto_digest_alg alg; const char *hex; } v[] = {
		{ CRYPTO_MD5, "900150983cd24fb0d6963f7d28e17f72" },
		{ CRYPTO_SHA1, "a9993e364706816aba3e25717850c26c9cd0d89d" },
		{ CRYPTO_SHA256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ CRYPTO_CRC32, "352441c2" },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct crypto_digest *d = crypto_digest_new(v[i].alg);
		uint8_t out[CRYPTO_DIGEST_MAX];
		char hex[2 * CRYPTO_DIGEST_MAX + 1];
		assert_non_null(d);
		assert_int_equal(crypto_digest_update(d, "ab", 2), 0);
		assert_int_equal(crypto_digest_update(d, "c", 1), 0);
		int len = crypto_digest_final(d, out);
		crypto_digest_free(d);
		assert_int_equal((size_t)len * 2, strlen(v[i].hex));
		for (int k = 0; k < len; k++)
			snprintf(hex + 2 * k, 3, "%02x", out[k]);
		assert_string_equal(hex, v[i].hex);
	}
}

static void test_xferlog_line(void **state)
{
	(void)state;
	struct fb_buf b = { 0 };
	struct xfer_record r = { .end = 0, .ms = 1500, .host = "127.0.0.1", .bytes = 42,
				 .path = "/a b.txt", .incoming = true, .user = "alice",
				 .complete = true };
	ftp_xferlog_format(&b, &r);
	assert_non_null(strstr(b.p, " 1.500 127.0.0.1 42 /a_b.txt b _ i r alice ftp 0 * c\n"));
	b.len = 0;   /* anonymous: the ident given as password, spaces as '_' */
	r.anonymous = true;
	r.user = "guest@ex ample\n";
	r.ms = 42;
	ftp_xferlog_format(&b, &r);
	assert_non_null(strstr(b.p, " 0.042 127.0.0.1 42 /a_b.txt b _ i a guest@ex_ample_ ftp 0 * c\n"));
	fb_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_join),
		cmocka_unit_test(test_path_confinement),
		cmocka_unit_test(test_cmd_split),
		cmocka_unit_test(test_telnet),
		cmocka_unit_test(test_port_eprt),
		cmocka_unit_test(test_ascii),
		cmocka_unit_test(test_reply_format),
		cmocka_unit_test(test_spsv_table),
		cmocka_unit_test(test_passwords),
		cmocka_unit_test(test_lockout),
		cmocka_unit_test(test_xferlog_line),
		cmocka_unit_test(test_timeval),
		cmocka_unit_test(test_digests),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
