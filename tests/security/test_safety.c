/* test_safety.c — the start-up decisions alone: which account ferryd would
 * become (daemon_privdrop_plan) and which set-ups daemon_check_safety
 * refuses, without starting anything. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "ferry/daemon.h"

static void plan_unprivileged(void **state)
{
	(void)state;
	struct ferry_config cfg;
	struct daemon_identity id;
	char why[256];
	daemon_config_init(&cfg);
	cfg.user = strdup("root");   /* not applied when not started as root */
	assert_int_equal(daemon_privdrop_plan(&cfg, 1234, &id, why, sizeof(why)), 0);
	assert_int_equal(id.mode, PRIV_UNPRIVILEGED);
	assert_int_equal(id.uid, 1234);
	daemon_config_free(&cfg);
}

static void plan_as_root(void **state)
{
	(void)state;
	struct ferry_config cfg;
	struct daemon_identity id;
	char why[512];
	daemon_config_init(&cfg);
	cfg.user = strdup("nobody");
	assert_int_equal(daemon_privdrop_plan(&cfg, 0, &id, why, sizeof(why)), 0);
	assert_int_equal(id.mode, PRIV_DROP);
	assert_true(id.uid != 0 && id.gid != 0);
	assert_string_equal(id.name, "nobody");
	/* a group by number */
	cfg.group = strdup("4242");
	assert_int_equal(daemon_privdrop_plan(&cfg, 0, &id, why, sizeof(why)), 0);
	assert_int_equal(id.gid, 4242);
	free(cfg.group);
	cfg.group = strdup("no-such-group-for-ferry");
	assert_int_equal(daemon_privdrop_plan(&cfg, 0, &id, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "no-such-group-for-ferry"));
	free(cfg.group);
	cfg.group = NULL;
	/* root as the service user: only with allow_root */
	free(cfg.user);
	cfg.user = strdup("root");
	assert_int_equal(daemon_privdrop_plan(&cfg, 0, &id, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "--allow-root"));
	cfg.allow_root = true;
	assert_int_equal(daemon_privdrop_plan(&cfg, 0, &id, why, sizeof(why)), 0);
	assert_int_equal(id.mode, PRIV_STAY_ROOT);
	/* an unknown user named explicitly is refused even with allow_root */
	free(cfg.user);
	cfg.user = strdup("no-such-user-for-ferry");
	assert_int_equal(daemon_privdrop_plan(&cfg, 0, &id, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "no-such-user-for-ferry"));
	daemon_config_free(&cfg);
}

static int check(struct ferry_config *cfg, const char *want)
{
	struct daemon_identity id = { .mode = PRIV_STAY_ROOT };
	struct config_error err;
	memset(&err, 0, sizeof(err));
	int r = daemon_check_safety(cfg, &id, &err);
	if (want && (r == 0 || !strstr(err.msg, want)))
		fprintf(stderr, "wanted '%s', got %d '%s'\n", want, r, err.msg);
	return want ? r != 0 && strstr(err.msg, want) != NULL : r == 0;
}

static void ftp_anon(struct ferry_config *cfg, const char *root, bool write)
{
	cfg->ftp.enabled = true;
	free(cfg->ftp.anonymous_root);
	cfg->ftp.anonymous_root = strdup(root);
	cfg->ftp.anonymous_write = write;
}

static void safety_roots(void **state)
{
	(void)state;
	struct ferry_config cfg;
	daemon_config_init(&cfg);
	cfg.foreground = true;
	const char *slash[] = { "/", "//", "/.", "/./", "/tmp/..", "/tmp/../." };
	for (size_t i = 0; i < sizeof(slash) / sizeof(*slash); i++) {
		ftp_anon(&cfg, slash[i], false);
		assert_true(check(&cfg, "\"/\""));
	}
	ftp_anon(&cfg, "/", true);
	assert_true(check(&cfg, "anonymous users could write"));
	cfg.allow_unsafe = true;
	assert_true(check(&cfg, NULL));
	cfg.allow_unsafe = false;
	/* world-writable */
	char dir[] = "/tmp/ferry-safety-XXXXXX";
	assert_non_null(mkdtemp(dir));
	chmod(dir, 0755);
	ftp_anon(&cfg, dir, false);
	assert_true(check(&cfg, NULL));
	chmod(dir, 0777);
	assert_true(check(&cfg, "world-writable"));
	chmod(dir, 0755);
	/* anonymous write to (a directory holding) an account's root */
	char sub[64];
	snprintf(sub, sizeof(sub), "%s/bob", dir);
	struct ftp_user u = { .name = strdup("bob"), .password_hash = strdup("$y$x"),
			      .root = strdup(dir) };
	cfg.ftp.users = calloc(1, sizeof(u));
	cfg.ftp.users[0] = u;
	cfg.ftp.user_count = 1;
	ftp_anon(&cfg, dir, true);
	assert_true(check(&cfg, "bob"));
	free(cfg.ftp.users[0].root);
	cfg.ftp.users[0].root = strdup(sub);
	assert_true(check(&cfg, "bob"));
	ftp_anon(&cfg, sub, false);        /* read-only: fine */
	assert_true(check(&cfg, NULL));
	free(cfg.ftp.users[0].root);
	cfg.ftp.users[0].root = strdup(dir);   /* bob's root above anon's: fine */
	ftp_anon(&cfg, sub, true);
	assert_true(check(&cfg, NULL));
	rmdir(dir);
	daemon_config_free(&cfg);
}

static void safety_files(void **state)
{
	(void)state;
	struct ferry_config cfg;
	daemon_config_init(&cfg);
	free(cfg.log_file);
	cfg.log_file = strdup("/tmp/ferryd.log");
	assert_true(check(&cfg, "world-writable"));
	cfg.foreground = true;                 /* -d: the log file is not used */
	assert_true(check(&cfg, NULL));
	cfg.pidfile = strdup("/tmp/ferryd.pid");
	assert_true(check(&cfg, "world-writable"));
	free(cfg.pidfile);
	cfg.pidfile = strdup("/run/ferryd.pid");
	assert_true(check(&cfg, NULL));
	ftp_anon(&cfg, "/srv/nonexistent-ferry", false);
	cfg.ftp.xferlog = strdup("/tmp/./xferlog");
	assert_true(check(&cfg, "world-writable"));
	cfg.allow_unsafe = true;
	assert_true(check(&cfg, NULL));
	daemon_config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(plan_unprivileged),
		cmocka_unit_test(plan_as_root),
		cmocka_unit_test(safety_roots),
		cmocka_unit_test(safety_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
