/* test_config.c — unit tests for ferryd's configuration: defaults, every
 * uftpproxyd flag, role rules, -f, the JSON schema and its error positions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ferry/daemon.h"

#define MAXARGS 40

/* argv as a NULL-terminated list of literals, argv[0] included. */
static int parse(const char *const *args, struct ferry_config *cfg,
		 enum cli_action *action, struct config_error *err)
{
	char *argv[MAXARGS + 1];
	int argc = 0;
	while (args[argc] && argc < MAXARGS) {
		argv[argc] = (char *)args[argc];
		argc++;
	}
	argv[argc] = NULL;
	daemon_config_init(cfg);
	return daemon_parse_args(argc, argv, cfg, action, err);
}

#define ARGV(...) ((const char *const[]){ "ferryd", __VA_ARGS__, NULL })

static int parse_ok(const char *const *args, struct ferry_config *cfg)
{
	enum cli_action a;
	struct config_error err;
	int rc = parse(args, cfg, &a, &err);
	if (rc) {
		daemon_error_print(&err, stderr);
		fail_msg("unexpected failure for %s %s", args[1], args[2] ? args[2] : "");
	}
	return rc;
}

static void expect_bad(const char *const *args, const char *key)
{
	struct ferry_config cfg;
	enum cli_action a;
	struct config_error err;
	int rc = parse(args, &cfg, &a, &err);
	if (rc != FERRY_EXIT_PARAM || strcmp(err.key, key)) {
		daemon_error_print(&err, stderr);
		fail_msg("%s %s %s: rc %d key '%s', wanted key '%s'", args[1],
			 args[2] ? args[2] : "", args[2] && args[3] ? args[3] : "",
			 rc, err.key, key);
	}
	assert_string_equal(err.file, "command line");
	assert_int_equal(err.line, 0);
	assert_int_equal(err.column, 0);
	assert_true(err.msg[0] != '\0');
	daemon_config_free(&cfg);
}

/* ---- defaults ---- */

static void test_defaults(void **state)
{
	(void)state;
	struct ferry_config cfg;
	daemon_config_init(&cfg);
	assert_int_equal(cfg.log_level, 2);
	assert_int_equal(cfg.max_log_count, 5);
	assert_int_equal(cfg.max_log_size, 0);
	assert_int_equal(cfg.priority, 0);
	assert_int_equal(cfg.workers, 0);
	assert_false(cfg.foreground);
	assert_string_equal(cfg.log_file, "/var/log/ferryd.log");
	assert_null(cfg.pidfile);
	assert_false(cfg.ftp.enabled);
	assert_int_equal(cfg.ftp.spsv_timeout, 60);
	assert_int_equal(cfg.ftp.idle_timeout, 300);
	assert_int_equal(cfg.ftp.data_timeout, 60);
	assert_int_equal(cfg.ftp.max_sessions, 200);
	assert_int_equal(cfg.ftp.max_per_address, 20);
	assert_int_equal(cfg.ftp.login_delay_ms, 1000);
	assert_int_equal(cfg.ftp.max_login_failures, 5);
	assert_int_equal(cfg.ftp.lockout_seconds, 300);
	daemon_config_free(&cfg);
}

static void test_proxy_defaults(void **state)
{
	(void)state;
	struct ferry_config cfg;
	assert_int_equal(parse_ok(ARGV("-c"), &cfg), 0);
	assert_int_equal(cfg.proxy_count, 1);
	struct proxy_config *p = &cfg.proxies[0];
	assert_int_equal(p->role, PROXY_CLIENT);
	assert_int_equal(p->port, 1044);
	assert_int_equal(p->dest_port, 1044);
	assert_int_equal(p->ttl, 1);
	assert_int_equal(p->dscp, 0);
	assert_int_equal(p->hb_interval, 20);
	assert_int_equal(p->udp_buf_size, 262144);
	assert_false(p->uid_set);
	assert_int_equal(p->pub_mcast.n, 1);
	assert_string_equal(p->pub_mcast.v[0], "230.4.4.1");
	assert_string_equal(cfg.source, "command line");
	daemon_config_free(&cfg);
}

static void test_uftpproxyd_name(void **state)
{
	(void)state;
	struct ferry_config cfg;
	const char *const args[] = { "/usr/sbin/uftpproxyd", "-c", NULL };
	assert_int_equal(parse_ok(args, &cfg), 0);
	assert_string_equal(cfg.log_file, "/var/log/uftpproxyd.log");
	daemon_config_free(&cfg);
	const char *const args2[] = { "uftpproxyd", "-c", "-L", "/tmp/x.log", NULL };
	assert_int_equal(parse_ok(args2, &cfg), 0);
	assert_string_equal(cfg.log_file, "/tmp/x.log");
	daemon_config_free(&cfg);
}

/* ---- every flag, good values ---- */

static void test_flag_values(void **state)
{
	(void)state;
	struct ferry_config cfg;
	assert_int_equal(parse_ok(ARGV("-c", "-d", "-p", "2000", "-t", "255", "-Q", "0x2e",
				       "-N", "-20", "-O", "eth1", "-U", "0x0A0B0C0D", "-q", "3000",
				       "-m", "-x", "5"), &cfg), 0);
	struct proxy_config *p = &cfg.proxies[0];
	assert_true(cfg.foreground);
	assert_int_equal(p->port, 2000);
	assert_int_equal(p->ttl, 255);
	assert_int_equal(p->dscp, 0x2e);
	assert_int_equal(cfg.priority, -20);
	assert_string_equal(p->out_interface, "eth1");
	assert_true(p->uid_set);
	assert_int_equal(p->uid, 0x0A0B0C0D);
	assert_int_equal(p->dest_port, 3000);
	assert_true(p->system_keys);
	assert_int_equal(cfg.log_level, 5);
	daemon_config_free(&cfg);

	assert_int_equal(parse_ok(ARGV("-c", "-H", "198.18.1.1,198.18.1.3:2000,[fd00::1]:3000,fd00::2",
				       "-h", "3600", "-g", "1024", "-n", "1000", "-B", "104857600",
				       "-L", "/tmp/l.log", "-P", "/tmp/p.pid", "-C", "/etc/c.txt"),
				  &cfg), 0);
	p = &cfg.proxies[0];
	assert_int_equal(p->hb_count, 4);
	assert_string_equal(p->hb_servers[0].host, "198.18.1.1");
	assert_int_equal(p->hb_servers[0].port, 1044);
	assert_int_equal(p->hb_servers[1].port, 2000);
	assert_string_equal(p->hb_servers[2].host, "fd00::1");
	assert_int_equal(p->hb_servers[2].port, 3000);
	assert_string_equal(p->hb_servers[3].host, "fd00::2");
	assert_int_equal(p->hb_servers[3].port, 1044);
	assert_int_equal(p->hb_interval, 3600);
	assert_int_equal(cfg.max_log_size, 1024);
	assert_int_equal(cfg.max_log_count, 1000);
	assert_int_equal(p->udp_buf_size, 104857600);
	assert_string_equal(cfg.log_file, "/tmp/l.log");
	assert_string_equal(cfg.pidfile, "/tmp/p.pid");
	assert_string_equal(p->client_list, "/etc/c.txt");
	daemon_config_free(&cfg);

	assert_int_equal(parse_ok(ARGV("-r:prime256v1", "-S", "/etc/s.txt", "-k", "/a.pem,/b.pem",
				       "-K", "rsa:2048,ec:secp384r1", "-e", "secp521r1",
				       "-I", "eth0,198.18.0.1", "-M", "230.4.4.1,ff15::1",
				       "--workers", "4"), &cfg), 0);
	p = &cfg.proxies[0];
	assert_int_equal(p->role, PROXY_RESPONSE);
	assert_string_equal(p->response_curve, "prime256v1");
	assert_string_equal(p->server_list, "/etc/s.txt");
	assert_int_equal(p->key_files.n, 2);
	assert_string_equal(p->key_specs.v[1], "ec:secp384r1");
	assert_string_equal(p->ecdh_curve, "secp521r1");
	assert_int_equal(p->interfaces.n, 2);
	assert_int_equal(p->pub_mcast.n, 2);
	assert_string_equal(p->pub_mcast.v[1], "ff15::1");
	assert_int_equal(cfg.workers, 4);
	daemon_config_free(&cfg);
}

static void test_flag_edges(void **state)
{
	(void)state;
	static const char *const good[][6] = {
		{ "-c", "-p", "1" }, { "-c", "-p", "65535" }, { "-c", "-t", "1" },
		{ "-c", "-Q", "63" }, { "-c", "-Q", "0x3F" }, { "-c", "-Q", "0" },
		{ "-c", "-N", "19" }, { "-c", "-U", "12345678" }, { "-c", "-U", "0xfffffffe" },
		{ "-c", "-x", "0" }, { "-c", "-h", "1" }, { "-c", "-g", "1" }, { "-c", "-n", "1" },
		{ "-c", "-B", "65536" }, { "-r", "--max-groups", "1", "--group-idle-max", "10" },
		{ "-s", "proxy-b.example" }, { "-s", "fd00::5" }, { "-r" }, { "-cd" }, { "-cp1045" },
		{ "-c", "-K", "rsa:512" }, { "-c", "-K", "ec:sect571r1" }, { "-c", "--workers=256" },
		{ "-c", "-x", "3", "--check-config" }, { "-c", "-q", "65535" },
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
		const char *args[8] = { "ferryd" };
		for (int j = 0; j < 6 && good[i][j]; j++)
			args[j + 1] = good[i][j];
		struct ferry_config cfg;
		assert_int_equal(parse_ok(args, &cfg), 0);
		daemon_config_free(&cfg);
	}
}

/* ---- every flag, bad values ---- */

struct bad_case {
	const char *args[6];
	const char *key;
};

static const struct bad_case bad_cases[] = {
	{ { "-c", "-p", "0" }, "-p" }, { { "-c", "-p", "65536" }, "-p" },
	{ { "-c", "-p", "12x" }, "-p" }, { { "-c", "-p", "" }, "-p" },
	{ { "-c", "-q", "0" }, "-q" }, { { "-c", "-q", "70000" }, "-q" },
	{ { "-c", "-t", "0" }, "-t" }, { { "-c", "-t", "256" }, "-t" }, { { "-c", "-t", "one" }, "-t" },
	{ { "-c", "-Q", "64" }, "-Q" }, { { "-c", "-Q", "0x40" }, "-Q" }, { { "-c", "-Q", "-1" }, "-Q" },
	{ { "-c", "-Q", "0xzz" }, "-Q" },
	{ { "-c", "-N", "20" }, "-N" }, { { "-c", "-N", "-21" }, "-N" },
	{ { "-c", "-U", "0x123456789" }, "-U" }, { { "-c", "-U", "zz" }, "-U" },
	{ { "-c", "-U", "0" }, "-U" }, { { "-c", "-U", "0xffffffff" }, "-U" }, { { "-c", "-U", "0x" }, "-U" },
	{ { "-c", "-x", "6" }, "-x" }, { { "-c", "-x", "-1" }, "-x" },
	{ { "-c", "-H", "host:0" }, "-H" }, { { "-c", "-H", "host:99999" }, "-H" },
	{ { "-c", "-H", "[fd00::1" }, "-H" }, { { "-c", "-H", "," }, "-H" }, { { "-c", "-H", "a b" }, "-H" },
	{ { "-c", "-h", "0" }, "-h" }, { { "-c", "-h", "3601" }, "-h" },
	{ { "-c", "-g", "0" }, "-g" }, { { "-c", "-g", "1025" }, "-g" },
	{ { "-c", "-n", "0" }, "-n" }, { { "-c", "-n", "1001" }, "-n" },
	{ { "-c", "-B", "1" }, "-B" }, { { "-c", "-B", "65535" }, "-B" }, { { "-c", "-B", "104857601" }, "-B" },
	{ { "-c", "-L", "" }, "-L" }, { { "-c", "-P", "" }, "-P" }, { { "-c", "-O", "" }, "-O" },
	{ { "-c", "-K", "rsa:511" }, "-K" }, { { "-c", "-K", "rsa:4096" }, "-K" },
	{ { "-c", "-K", "ec:nosuch" }, "-K" }, { { "-c", "-K", "dsa:1024" }, "-K" },
	{ { "-c", "-k", "a,b", "-K", "rsa:512" }, "-K" },
	{ { "-c", "-e", "curve25519" }, "-e" },
	{ { "-c", "-M", "10.0.0.1" }, "-M" }, { { "-c", "-M", "group" }, "-M" },
	{ { "-s", "fp=66:1E" }, "-s" }, { { "-s", "fp=zz" }, "-s" }, { { "-s", "bad host" }, "-s" },
	{ { "-r:nosuch" }, "-r" },
	{ { "-s", "198.18.1.2", "-c" }, "-c" }, { { "-c", "-r" }, "-r" },
	{ { "-p", "1044" }, "-p" }, { { "-B", "65536" }, "-B" }, { { "-k", "a.pem" }, "-k" },
	{ { "-c", "--workers", "0" }, "--workers" }, { { "-c", "--workers", "257" }, "--workers" },
	{ { "-c", "-z" }, "-z" }, { { "-c", "--bogus" }, "--bogus" }, { { "-c", "--bogus=1" }, "--bogus" }, { { "-c", "stray" }, "stray" },
	{ { "-c", "-p" }, "-p" }, { { "-c", "--help=1" }, "--help" },
	{ { "--ftp-write" }, "--ftp-write" }, { { "--ftp-root", "/srv", "--ftp-listen", "host:21" }, "--ftp-listen" },
	{ { "--ftp-root", "/srv", "--ftp-listen", "::1:21" }, "--ftp-listen" },
	{ { "--ftp-root", "relative" }, "--ftp-root" },
	{ { "-c", "-p", "1044", "-f", "/nonexistent.json" }, "-c" },
	{ { "-p", "1044", "-f", "/nonexistent.json" }, "-p" },
};

static void test_flag_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(*bad_cases); i++) {
		const char *args[8] = { "ferryd" };
		for (int j = 0; j < 6 && bad_cases[i].args[j]; j++)
			args[j + 1] = bad_cases[i].args[j];
		expect_bad(args, bad_cases[i].key);
	}
}

static void test_bad_message(void **state)
{
	(void)state;
	struct ferry_config cfg;
	enum cli_action a;
	struct config_error err;
	assert_int_equal(parse(ARGV("-c", "-B", "1"), &cfg, &a, &err), FERRY_EXIT_PARAM);
	assert_non_null(strstr(err.msg, "65536-104857600"));
	assert_non_null(strstr(err.msg, "'1'"));
	daemon_config_free(&cfg);
}

/* ---- actions and roles ---- */

static void test_actions(void **state)
{
	(void)state;
	struct ferry_config cfg;
	enum cli_action a;
	struct config_error err;
	assert_int_equal(parse(ARGV("--help"), &cfg, &a, &err), 0);
	assert_int_equal(a, CLI_HELP);
	daemon_config_free(&cfg);
	assert_int_equal(parse(ARGV("--version"), &cfg, &a, &err), 0);
	assert_int_equal(a, CLI_VERSION);
	daemon_config_free(&cfg);
	assert_int_equal(parse(ARGV("-c", "--check-config"), &cfg, &a, &err), 0);
	assert_int_equal(a, CLI_CHECK);
	daemon_config_free(&cfg);
	assert_int_equal(parse(ARGV("-c"), &cfg, &a, &err), 0);
	assert_int_equal(a, CLI_RUN);
	daemon_config_free(&cfg);
}

static void test_builtin_default(void **state)
{
	(void)state;
	struct ferry_config cfg;
	enum cli_action a;
	struct config_error err;
	const char *const none[] = { "ferryd", NULL };
	assert_int_equal(parse(none, &cfg, &a, &err), 0);
	assert_int_equal(a, CLI_RUN);
	assert_string_equal(cfg.source, "conf/ferryd.json (built in)");
	assert_int_equal(cfg.proxy_count, 1);
	assert_int_equal(cfg.proxies[0].role, PROXY_CLIENT);
	assert_int_equal(cfg.proxies[0].port, 1044);
	assert_int_equal(cfg.log_level, 2);
	assert_false(cfg.foreground);
	daemon_config_free(&cfg);
	/* general flags apply on top of the built-in file */
	assert_int_equal(parse(ARGV("-d", "-x", "4"), &cfg, &a, &err), 0);
	assert_true(cfg.foreground);
	assert_int_equal(cfg.log_level, 4);
	daemon_config_free(&cfg);
	/* and the text itself loads on its own */
	daemon_config_init(&cfg);
	assert_int_equal(daemon_load_json(daemon_default_conf, strlen(daemon_default_conf),
					  "builtin", &cfg, &err), 0);
	assert_int_equal(daemon_validate(&cfg, &err), 0);
	daemon_config_free(&cfg);
}

static void test_ftp_cli(void **state)
{
	(void)state;
	struct ferry_config cfg;
	assert_int_equal(parse_ok(ARGV("--ftp-root", "/srv/ftp"), &cfg), 0);
	assert_int_equal(cfg.proxy_count, 0);
	assert_true(cfg.ftp.enabled);
	assert_string_equal(cfg.ftp.anonymous_root, "/srv/ftp");
	assert_false(cfg.ftp.anonymous_write);
	assert_int_equal(cfg.ftp.listen.n, 1);
	assert_string_equal(cfg.ftp.listen.v[0], "127.0.0.1:2121");
	daemon_config_free(&cfg);
	assert_int_equal(parse_ok(ARGV("-c", "--ftp-root=/srv", "--ftp-listen", "[::1]:21",
				       "--ftp-write"), &cfg), 0);
	assert_int_equal(cfg.proxy_count, 1);
	assert_true(cfg.ftp.anonymous_write);
	assert_string_equal(cfg.ftp.listen.v[0], "[::1]:21");
	daemon_config_free(&cfg);
}

static void test_server_dest(void **state)
{
	(void)state;
	struct ferry_config cfg;
	assert_int_equal(parse_ok(ARGV("-s", "198.18.1.2"), &cfg), 0);
	assert_string_equal(cfg.proxies[0].dest, "198.18.1.2");
	assert_null(cfg.proxies[0].dest_fingerprint);
	daemon_config_free(&cfg);
	/* fp=: the downstream is learnt from signed heartbeats */
	assert_int_equal(parse_ok(ARGV("-s", "fp=66:1E:C9:1D:FC:99:DB:60:B0:1A:F0:8F:CA:F4:28:27:A6:BE:94:BC"),
				  &cfg), 0);
	assert_null(cfg.proxies[0].dest);
	assert_string_equal(cfg.proxies[0].dest_fingerprint,
			    "66:1E:C9:1D:FC:99:DB:60:B0:1A:F0:8F:CA:F4:28:27:A6:BE:94:BC");
	daemon_config_free(&cfg);
	/* a response proxy answers on its own port, as uftpproxyd does */
	assert_int_equal(parse_ok(ARGV("-r", "-p", "1500", "-q", "1600"), &cfg), 0);
	assert_int_equal(cfg.proxies[0].dest_port, 1500);
	daemon_config_free(&cfg);
}

/* ---- -f ---- */

static char *write_temp(const char *text)
{
	char *path = strdup("/tmp/test_config_XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_file_option(void **state)
{
	(void)state;
	char *path = write_temp("{\"log\": {\"level\": 1}, \"priority\": 5,\n"
				" \"proxies\": [{\"role\": \"client\"}]}\n");
	struct ferry_config cfg;
	assert_int_equal(parse_ok(ARGV("-f", path), &cfg), 0);
	assert_int_equal(cfg.log_level, 1);
	assert_int_equal(cfg.priority, 5);
	assert_string_equal(cfg.source, path);
	daemon_config_free(&cfg);
	assert_int_equal(parse_ok(ARGV("-x", "4", "-f", path, "-N", "-3", "-d", "-L", "/tmp/o.log",
				       "-P", "/tmp/o.pid", "-g", "7", "-n", "9", "--workers", "3"), &cfg), 0);
	assert_int_equal(cfg.log_level, 4);
	assert_int_equal(cfg.priority, -3);
	assert_true(cfg.foreground);
	assert_string_equal(cfg.log_file, "/tmp/o.log");
	assert_string_equal(cfg.pidfile, "/tmp/o.pid");
	assert_int_equal(cfg.max_log_size, 7);
	assert_int_equal(cfg.max_log_count, 9);
	assert_int_equal(cfg.workers, 3);
	daemon_config_free(&cfg);
	const char *const *bad[] = {
		ARGV("-f", path, "-c"), ARGV("-s", "h", "-f", path), ARGV("-f", path, "-B", "65536"),
		ARGV("-f", path, "--ftp-root", "/srv"), ARGV("-f", path, "-f", path),
	};
	static const char *const keys[] = { "-c", "-s", "-B", "--ftp-root", "-f" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		expect_bad(bad[i], keys[i]);
	unlink(path);
	free(path);
}

/* ---- JSON ---- */

static int load(const char *text, struct ferry_config *cfg, struct config_error *err)
{
	daemon_config_init(cfg);
	return daemon_load_json(text, strlen(text), "t.json", cfg, err);
}

static void expect_json_error(const char *text, int line, int column, const char *key)
{
	struct ferry_config cfg;
	struct config_error err;
	int rc = load(text, &cfg, &err);
	if (rc != FERRY_EXIT_PARAM || err.line != line || err.column != column ||
	    strcmp(err.key, key)) {
		daemon_error_print(&err, stderr);
		fail_msg("wanted t.json:%d:%d: %s", line, column, key);
	}
	assert_string_equal(err.file, "t.json");
	daemon_config_free(&cfg);
}

/* Where "at" (a unique piece of text) starts: the line and column an error
 * about the value there must report. */
static void expect_json_at(const char *text, const char *at, const char *key)
{
	const char *hit = strstr(text, at);
	assert_non_null(hit);
	int line = 1, col = 1;
	for (const char *c = text; c < hit; c++, col++)
		if (*c == '\n') {
			line++;
			col = 0;
		}
	expect_json_error(text, line, col, key);
}

static void test_json_syntax(void **state)
{
	(void)state;
	expect_json_error("{\n  \"workers\": ,\n}", 2, 14, "");
	expect_json_error("{\n \"log\": {\n", 3, 1, "");
	expect_json_error("{\"a\": 1} x", 1, 10, "");
	/* duplicates are rejected, not silently merged */
	expect_json_error("{\n  \"workers\": 1,\n  \"workers\": 2}", 3, 11, "");
}

static void test_json_types(void **state)
{
	(void)state;
	/* positions written out once by hand, to pin the convention: 1-based
	 * line and column of the value's first character */
	expect_json_error("{\n  \"log\": { \"level\": \"high\" }\n}", 2, 21, "log.level");
	expect_json_error("{\n  \"log\": { \"level\": 9 }\n}", 2, 21, "log.level");
	expect_json_error("{\"foreground\": 1}", 1, 16, "foreground");
	expect_json_error("{\"proxies\": {}}", 1, 13, "proxies");
	expect_json_at("{\"workers\": 257}", "257", "workers");
	expect_json_at("{\"priority\": -21}", "-21", "priority");
	expect_json_at("{\"log\": {\"max_size_mb\": 1025}}", "1025", "log.max_size_mb");
	expect_json_at("{\"log\": {\"max_count\": 0}}", "0}", "log.max_count");
	expect_json_at("{\"pidfile\": \"\"}", "\"\"", "pidfile");
	expect_json_at("{\"workers\": 1.5}", "1.5", "workers");
	expect_json_at("{\"log\": {\"file\": 3}}", "3}", "log.file");
}

static void test_json_nested(void **state)
{
	(void)state;
	const char *text =
		"{\n"
		"  \"proxies\": [\n"
		"    { \"role\": \"client\" },\n"
		"    { \"role\": \"client\",\n"
		"      \"port\": 70000 }\n"
		"  ]\n"
		"}\n";
	expect_json_error(text, 5, 15, "proxies[1].port");
	static const struct { const char *text, *at, *key; } cases[] = {
		{ "{\"proxies\": [{\"role\": \"client\", \"udp_buffer\": 1024}]}", "1024",
		  "proxies[0].udp_buffer" },
		{ "{\"proxies\": [{\"role\": \"relay\"}]}", "\"relay\"", "proxies[0].role" },
		{ "{\"proxies\": [{\"role\": \"client\", \"ttl\": 0}]}", "0}", "proxies[0].ttl" },
		{ "{\"proxies\": [{\"role\": \"client\", \"dscp\": \"0x40\"}]}", "\"0x40\"", "proxies[0].dscp" },
		{ "{\"proxies\": [{\"role\": \"client\", \"dscp\": 64}]}", "64", "proxies[0].dscp" },
		{ "{\"proxies\": [{\"role\": \"client\", \"uid\": 5}]}", "5}", "proxies[0].uid" },
		{ "{\"proxies\": [{\"role\": \"client\", \"heartbeat\": {\"servers\": [\"a\", \"b:0\"]}}]}",
		  "\"b:0\"", "proxies[0].heartbeat.servers[1]" },
		{ "{\"proxies\": [{\"role\": \"client\", \"heartbeat\": {\"interval\": 0}}]}", "0}",
		  "proxies[0].heartbeat.interval" },
		{ "{\"proxies\": [{\"role\": \"client\", \"keys\": {\"generate\": [\"rsa:100\"]}}]}",
		  "\"rsa:100\"", "proxies[0].keys.generate[0]" },
		{ "{\"proxies\": [{\"role\": \"client\", \"keys\": {\"ecdh_curve\": \"p256\"}}]}",
		  "\"p256\"", "proxies[0].keys.ecdh_curve" },
		{ "{\"proxies\": [{\"role\": \"client\", \"public_multicast\": [\"10.1.1.1\"]}]}",
		  "\"10.1.1.1\"", "proxies[0].public_multicast[0]" },
		{ "{\"proxies\": [{\"role\": \"server\", \"dest_fingerprint\": \"AA:BB\"}]}", "\"AA:BB\"",
		  "proxies[0].dest_fingerprint" },
		{ "{\"proxies\": [{\"role\": \"client\"},\n {\"role\": \"client\", \"port\": 2000,\n"
		  "  \"interfaces\": [\"eth0\", 7]}]}", "7]", "proxies[1].interfaces[1]" },
		{ "{\"proxies\": [{\"role\": \"client\", \"system_keys\": \"yes\"}]}", "\"yes\"",
		  "proxies[0].system_keys" },
		{ "{\"ftp\": {\"listen\": [\"127.0.0.1\"]}}", "\"127.0.0.1\"", "ftp.listen[0]" },
		{ "{\"ftp\": {\"users\": [{\"name\": \"a\", \"password\": \"$6$x\", \"root\": \"r\"}]}}", "\"r\"",
		  "ftp.users[0].root" },
		{ "{\"ftp\": {\"anonymous\": {\"root\": \"/p\"}, \"spsv_timeout\": 0}}", "0}",
		  "ftp.spsv_timeout" },
		{ "{\"ftp\": {\"tls\": {\"policy\": \"always\"}}}", "\"always\"", "ftp.tls.policy" },
		{ "{\"ftp\": {\"users\": [{\"name\": \"a\", \"tls\": true}]}}", "true",
		  "ftp.users[0].tls" },
		{ "{\"ftp\": {\"tls\": {\"certificates\": [{\"cert\": \"/c\"}]}}}", "{\"cert\": ",
		  "ftp.tls.certificates[0]" },
		{ "{\"ftp\": {\"tls\": {\"implicit_listen\": [\"127.0.0.1\"]}}}", "\"127.0.0.1\"",
		  "ftp.tls.implicit_listen[0]" },
		{ "{\"ftp\": {\"tls\": {\"listeners\": [{\"listen\": \"127.0.0.1:21\"}]}}}",
		  "{\"listen\": ", "ftp.tls.listeners[0]" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++)
		expect_json_at(cases[i].text, cases[i].at, cases[i].key);
}

/* Users, TLS certificates and listeners share one array reader: each keeps
 * its own complaint about the array and about an element's missing keys. */
static void test_json_arrays(void **state)
{
	(void)state;
	static const struct { const char *text, *key, *msg; } cases[] = {
		{ "{\"ftp\": {\"users\": {}}}", "ftp.users", "must be an array of user objects" },
		{ "{\"ftp\": {\"users\": [{\"name\": \"a\", \"password\": \"$6$x\"}]}}",
		  "ftp.users[0]", "a user needs \"name\", \"password\" and \"root\"" },
		{ "{\"ftp\": {\"tls\": {\"certificates\": 1}}}", "ftp.tls.certificates",
		  "must be an array of objects" },
		{ "{\"ftp\": {\"tls\": {\"certificates\": [{\"key\": \"/k\"}]}}}",
		  "ftp.tls.certificates[0]", "\"cert\" is required" },
		{ "{\"ftp\": {\"tls\": {\"listeners\": [{\"listen\": \"127.0.0.1:21\"}]}}}",
		  "ftp.tls.listeners[0]", "\"policy\" is required" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct ferry_config cfg;
		struct config_error err;
		assert_int_equal(load(cases[i].text, &cfg, &err), FERRY_EXIT_PARAM);
		assert_string_equal(err.key, cases[i].key);
		assert_non_null(strstr(err.msg, cases[i].msg));
		daemon_config_free(&cfg);
	}
}

static void test_json_unknown(void **state)
{
	(void)state;
	expect_json_at("{\n  \"proxies\": [ { \"role\": \"client\", \"colour\": 1 } ]\n}", "1 }",
		       "proxies[0].colour");
	expect_json_at("{\"logs\": {}}", "{}", "logs");
	expect_json_at("{\"ftp\": {\"tls\": {\"crt\": \"x\"}}}", "\"x\"", "ftp.tls.crt");
	expect_json_error("[1]", 1, 1, "");
}

static void test_json_cross_field(void **state)
{
	(void)state;
	/* checks that need more than one key still point into the file; a key
	 * that is missing is reported at its enclosing object */
	expect_json_at("{\"proxies\": [{\"role\": \"server\"}]}", "{\"role", "proxies[0].dest_fingerprint");
	expect_json_at("{\"proxies\": [{\"role\": \"client\", \"keys\": {\"files\": [\"a\", \"b\"], "
		       "\"generate\": [\"rsa:512\"]}}]}", "[\"rsa", "proxies[0].keys.generate");
	expect_json_at("{\"proxies\": [{\"role\": \"client\"}, {\"role\": \"client\"}]}",
		       "{\"role\": \"client\"}]", "proxies[1].port");
	expect_json_error("{}", 1, 1, "proxies");
	expect_json_at("{\"ftp\": {}}", "{}", "ftp.users");
	expect_json_at("{\"ftp\": {\"anonymous\": {\"root\": \"/p\"}, \"tls\": {\"cert\": \"c\"}}}",
		       "{\"cert", "ftp.tls.key");
	expect_json_at("{\"ftp\": {\"users\": [{\"name\": \"a\", \"password\": \"plain\", \"root\": \"/r\"}]}}",
		       "\"plain\"", "ftp.users[0].password");
	expect_json_at("{\"ftp\": {\"anonymous\": {\"root\": \"/p\"}, \"tls\": {\"cert\": \"/c\", "
		       "\"key\": \"/k\", \"listeners\": [{\"listen\": \"127.0.0.1:21\", \"policy\": "
		       "\"login\"}]}}}", "\"127.0.0.1:21\"", "ftp.tls.listeners[0].listen");
	expect_json_at("{\"ftp\": {\"anonymous\": {\"root\": \"/p\"}, \"tls\": {\"policy\": "
		       "\"login\"}}}", "{\"policy", "ftp.tls");
	expect_json_at("{\"ftp\": {\"anonymous\": {\"root\": \"/p\"}, \"tls\": {\"cert\": \"/c\", "
		       "\"key\": \"/k\", \"implicit_listen\": [\"127.0.0.1:2121\"]}}}",
		       "\"127.0.0.1:2121\"", "ftp.tls.implicit_listen[0]");
	expect_json_at("{\"proxies\": [{\"role\": \"client\", \"dest\": \"h\"}]}", "\"h\"", "proxies[0].dest");
	expect_json_at("{\"proxies\": [{\"role\": \"client\", \"response_curve\": \"prime256v1\"}]}",
		       "\"prime256v1\"", "proxies[0].response_curve");
}

/* ftp.passive_ports: "MIN-MAX", both 1024-65535, MIN <= MAX; none (0-0,
 * ephemeral ports) unless given. Each refusal says what is wrong, at the
 * value. */
static void test_json_passive_ports(void **state)
{
	(void)state;
	struct ferry_config cfg;
	struct config_error err;
	assert_int_equal(load("{\"ftp\": {\"anonymous\": {\"root\": \"/p\"}}}", &cfg, &err), 0);
	assert_int_equal(cfg.ftp.passive_min, 0);
	assert_int_equal(cfg.ftp.passive_max, 0);
	daemon_config_free(&cfg);
	static const struct { const char *value; int lo, hi; } good[] = {
		{ "\"40000-40999\"", 40000, 40999 }, { "\"1024-65535\"", 1024, 65535 },
		{ "\"50000-50000\"", 50000, 50000 },
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
		char text[160];
		snprintf(text, sizeof(text), "{\"ftp\": {\"anonymous\": {\"root\": \"/p\"}, "
			 "\"passive_ports\": %s}}", good[i].value);
		assert_int_equal(load(text, &cfg, &err), 0);
		assert_int_equal(cfg.ftp.passive_min, good[i].lo);
		assert_int_equal(cfg.ftp.passive_max, good[i].hi);
		daemon_config_free(&cfg);
	}
	static const struct { const char *value, *msg; } bad[] = {
		{ "\"40999-40000\"", "the first port must not be above the second, got '40999-40000'" },
		{ "\"21-40000\"", "ports must be 1024-65535, got '21-40000'" },
		{ "\"1023-1024\"", "ports must be 1024-65535, got '1023-1024'" },
		{ "\"40000-65536\"", "ports must be 1024-65535, got '40000-65536'" },
		{ "\"40000-99999999999999999999\"", "ports must be 1024-65535" },
		{ "\"40000\"", "must be \"MIN-MAX\" such as \"40000-40999\", got '40000'" },
		{ "\"40000-\"", "got '40000-'" },
		{ "\"-40000\"", "got '-40000'" },
		{ "\"40000--40999\"", "got '40000--40999'" },
		{ "\" 40000-40999\"", "got ' 40000-40999'" },
		{ "\"40000-40999x\"", "got '40000-40999x'" },
		{ "\"\"", "got ''" },
		{ "40000", "must be a string \"MIN-MAX\" such as \"40000-40999\"" },
		{ "[40000, 40999]", "must be a string \"MIN-MAX\"" },
		{ "null", "must be a string \"MIN-MAX\"" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		char text[160];
		snprintf(text, sizeof(text), "{\"ftp\": {\"anonymous\": {\"root\": \"/p\"}, "
			 "\"passive_ports\": %s}}", bad[i].value);
		expect_json_at(text, bad[i].value, "ftp.passive_ports");
		assert_int_equal(load(text, &cfg, &err), FERRY_EXIT_PARAM);
		if (!strstr(err.msg, bad[i].msg))
			fail_msg("%s: '%s' lacks '%s'", bad[i].value, err.msg, bad[i].msg);
		daemon_config_free(&cfg);
	}
}

static void test_json_full(void **state)
{
	(void)state;
	const char *text =
		"{ \"workers\": 2, \"foreground\": true, \"pidfile\": \"/run/f.pid\", \"priority\": -5,\n"
		"  \"log\": { \"file\": \"/tmp/f.log\", \"level\": 3, \"max_size_mb\": 10, \"max_count\": 7 },\n"
		"  \"proxies\": [\n"
		"   { \"name\": \"a\", \"role\": \"server\", \"dest\": \"198.18.1.2\", \"port\": 1044,\n"
		"     \"dest_port\": 1050, \"ttl\": 3, \"dscp\": \"0x2e\", \"uid\": \"0x01020304\",\n"
		"     \"heartbeat\": { \"servers\": [\"198.18.9.9:1100\"], \"interval\": 30 },\n"
		"     \"udp_buffer\": 524288, \"client_list\": \"/c\", \"server_list\": \"/s\",\n"
		"     \"keys\": { \"files\": [\"/k.pem\"], \"generate\": [\"ec:prime256v1\"], \"ecdh_curve\": \"secp384r1\" },\n"
		"     \"system_keys\": true, \"interfaces\": [\"eth0\"], \"public_multicast\": [\"230.4.4.9\"] },\n"
		"   { \"role\": \"response\", \"response_curve\": \"prime256v1\", \"port\": 1045, \"dscp\": 10 }\n"
		"  ],\n"
		"  \"ftp\": { \"users\": [{\"name\": \"alice\", \"password\": \"$y$j9T$abc\", \"root\": \"/srv/a\", \"write\": true,\n"
		"                       \"tls\": \"login\"}],\n"
		"           \"anonymous\": {\"root\": \"/srv/pub\", \"write\": false}, \"max_sessions\": 10,\n"
		"           \"max_per_address\": 2, \"idle_timeout\": 30, \"data_timeout\": 20, \"spsv_timeout\": 15,\n"
		"           \"login_delay_ms\": 0, \"max_login_failures\": 3, \"lockout_seconds\": 60,\n"
		"           \"xferlog\": \"/tmp/x\", \"tls\": {\"cert\": \"/c.pem\", \"key\": \"/k.pem\",\n"
		"             \"policy\": \"optional\", \"implicit_listen\": [\"127.0.0.1:990\"],\n"
		"             \"certificates\": [{\"cert\": \"/c2.pem\", \"key\": \"/k2.pem\"}],\n"
		"             \"listeners\": [{\"listen\": \"127.0.0.1:2121\", \"policy\": \"login\"}]} }\n"
		"}\n";
	struct ferry_config cfg;
	struct config_error err;
	if (load(text, &cfg, &err)) {
		daemon_error_print(&err, stderr);
		fail();
	}
	assert_int_equal(cfg.workers, 2);
	assert_true(cfg.foreground);
	assert_int_equal(cfg.priority, -5);
	assert_string_equal(cfg.log_file, "/tmp/f.log");
	assert_int_equal(cfg.max_log_size, 10);
	assert_int_equal(cfg.proxy_count, 2);
	struct proxy_config *p = &cfg.proxies[0];
	assert_string_equal(p->name, "a");
	assert_int_equal(p->dest_port, 1050);
	assert_int_equal(p->dscp, 0x2e);
	assert_int_equal(p->uid, 0x01020304);
	assert_int_equal(p->hb_servers[0].port, 1100);
	assert_int_equal(p->hb_interval, 30);
	assert_int_equal(p->udp_buf_size, 524288);
	assert_string_equal(p->ecdh_curve, "secp384r1");
	assert_true(p->system_keys);
	assert_string_equal(p->pub_mcast.v[0], "230.4.4.9");
	p = &cfg.proxies[1];
	assert_string_equal(p->name, "proxy1");
	assert_int_equal(p->role, PROXY_RESPONSE);
	assert_int_equal(p->dscp, 10);
	assert_int_equal(p->dest_port, 1045);
	assert_string_equal(p->pub_mcast.v[0], "230.4.4.1");
	assert_true(cfg.ftp.enabled);
	assert_int_equal(cfg.ftp.user_count, 1);
	assert_true(cfg.ftp.users[0].write);
	assert_string_equal(cfg.ftp.listen.v[0], "127.0.0.1:2121");
	assert_int_equal(cfg.ftp.lockout_seconds, 60);
	assert_string_equal(cfg.ftp.tls_key, "/k.pem");
	assert_int_equal(cfg.ftp.tls_policy, TLS_POLICY_OPTIONAL);
	assert_int_equal(cfg.ftp.users[0].tls, TLS_POLICY_LOGIN);
	assert_string_equal(cfg.ftp.tls_implicit.v[0], "127.0.0.1:990");
	assert_int_equal(cfg.ftp.tls_cert_count, 1);
	assert_string_equal(cfg.ftp.tls_certs[0].key, "/k2.pem");
	assert_int_equal(cfg.ftp.tls_listener_count, 1);
	assert_int_equal(cfg.ftp.tls_listeners[0].policy, TLS_POLICY_LOGIN);
	daemon_config_free(&cfg);
}

static void test_validate(void **state)
{
	(void)state;
	struct ferry_config cfg;
	struct config_error err;
	daemon_config_init(&cfg);
	assert_int_equal(daemon_validate(&cfg, &err), FERRY_EXIT_PARAM);
	assert_string_equal(err.key, "-s");
	daemon_config_free(&cfg);
	assert_int_equal(parse_ok(ARGV("-c"), &cfg), 0);
	cfg.proxies[0].ttl = 0;
	assert_int_equal(daemon_validate(&cfg, &err), FERRY_EXIT_PARAM);
	assert_string_equal(err.key, "-t");
	cfg.proxies[0].ttl = 1;
	cfg.log_level = 7;
	assert_int_equal(daemon_validate(&cfg, &err), FERRY_EXIT_PARAM);
	assert_string_equal(err.key, "-x");
	daemon_config_free(&cfg);
}

static void test_error_print(void **state)
{
	(void)state;
	struct config_error err = { "f.json", 3, 7, "proxies[1].port", "bad" };
	char buf[512] = { 0 };
	FILE *f = fmemopen(buf, sizeof(buf), "w");
	daemon_error_print(&err, f);
	err.line = 0;
	err.column = 0;
	snprintf(err.file, sizeof(err.file), "command line");
	snprintf(err.key, sizeof(err.key), "-B");
	daemon_error_print(&err, f);
	fclose(f);
	assert_string_equal(buf, "f.json:3:7: proxies[1].port: bad\ncommand line: -B: bad\n");
}

static void test_load_file(void **state)
{
	(void)state;
	struct ferry_config cfg;
	struct config_error err;
	daemon_config_init(&cfg);
	assert_int_equal(daemon_load_file("/nonexistent/ferryd.json", &cfg, &err), FERRY_EXIT_PARAM);
	assert_string_equal(err.file, "/nonexistent/ferryd.json");
	daemon_config_free(&cfg);
	char *path = write_temp("{\n\"workers\": \"two\"}");
	daemon_config_init(&cfg);
	assert_int_equal(daemon_load_file(path, &cfg, &err), FERRY_EXIT_PARAM);
	assert_string_equal(err.file, path);
	assert_int_equal(err.line, 2);
	assert_int_equal(err.column, 12);
	daemon_config_free(&cfg);
	unlink(path);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_proxy_defaults),
		cmocka_unit_test(test_uftpproxyd_name),
		cmocka_unit_test(test_flag_values),
		cmocka_unit_test(test_flag_edges),
		cmocka_unit_test(test_flag_bad),
		cmocka_unit_test(test_bad_message),
		cmocka_unit_test(test_actions),
		cmocka_unit_test(test_builtin_default),
		cmocka_unit_test(test_ftp_cli),
		cmocka_unit_test(test_server_dest),
		cmocka_unit_test(test_file_option),
		cmocka_unit_test(test_json_syntax),
		cmocka_unit_test(test_json_types),
		cmocka_unit_test(test_json_nested),
		cmocka_unit_test(test_json_arrays),
		cmocka_unit_test(test_json_unknown),
		cmocka_unit_test(test_json_cross_field),
		cmocka_unit_test(test_json_passive_ports),
		cmocka_unit_test(test_json_full),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_error_print),
		cmocka_unit_test(test_load_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
