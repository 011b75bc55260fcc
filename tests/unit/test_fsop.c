/* test_fsop.c — the engine's io_uring file operations: OPENAT2 confined
 * beneath a directory, STATX, MKDIRAT, RENAMEAT, UNLINKAT, WRITE and READ,
 * each completing with its callback on the worker. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "ferry/engine.h"

static char dir[64];
static int dir_fd;
static atomic_int step_done, failures;
static int fd_opened = -1, fd_escape = 0;
static struct statx stx;
static char rbuf[16];

static void expect(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fsop: %s\n", what);
		atomic_fetch_add(&failures, 1);
	}
}

static void on_read(struct fe_worker *w, int res, void *arg)
{
	(void)w, (void)arg;
	expect(res == 5 && !memcmp(rbuf, "hello", 5), "read back");
	close(fd_opened);
	atomic_store(&step_done, 1);
}

static void on_unlink(struct fe_worker *w, int res, void *arg)
{
	(void)arg;
	expect(res == 0, "unlinkat");
	fe_fs_read(w, fd_opened, rbuf, sizeof(rbuf), 0, on_read, NULL);
}

static void on_rename(struct fe_worker *w, int res, void *arg)
{
	(void)arg;
	expect(res == 0, "renameat");
	fe_fs_unlinkat(w, dir_fd, "d2", AT_REMOVEDIR, on_unlink, NULL);
}

static void on_mkdir(struct fe_worker *w, int res, void *arg)
{
	(void)arg;
	expect(res == 0, "mkdirat");
	fe_fs_renameat(w, dir_fd, "d", dir_fd, "d2", 0, on_rename, NULL);
}

static void on_statx(struct fe_worker *w, int res, void *arg)
{
	(void)arg;
	expect(res == 0 && stx.stx_size == 5, "statx size 5");
	fe_fs_mkdirat(w, dir_fd, "d", 0755, on_mkdir, NULL);
}

static void on_write(struct fe_worker *w, int res, void *arg)
{
	(void)arg;
	expect(res == 5, "write 5 bytes");
	char path[] = "f";
	fe_fs_statx(w, dir_fd, path, 0, STATX_SIZE, &stx, on_statx, NULL);
}

static void on_escape(struct fe_worker *w, int res, void *arg)
{
	(void)w, (void)arg;
	fd_escape = res;
	expect(res == -EXDEV, "RESOLVE_BENEATH refuses ..");
}

static void on_open(struct fe_worker *w, int res, void *arg)
{
	(void)arg;
	fd_opened = res;
	expect(res >= 0, "openat2 O_CREAT");
	if (res >= 0)
		fe_fs_write(w, res, "hello", 5, 0, on_write, NULL);
}

static void start_ops(struct fe_worker *w, void *arg)
{
	(void)arg;
	struct open_how how = { .flags = O_RDWR | O_CREAT, .mode = 0600,
				.resolve = RESOLVE_BENEATH };
	char name[] = "f";
	assert_int_equal(fe_fs_openat2(w, dir_fd, name, &how, on_open, NULL), 0);
	name[0] = 'x';     /* the path was copied: changing it changes nothing */
	struct open_how out = { .flags = O_RDONLY, .resolve = RESOLVE_BENEATH };
	assert_int_equal(fe_fs_openat2(w, dir_fd, "../etc/passwd", &out, on_escape, NULL), 0);
}

static int init(struct fe_worker *w, void *arg)
{
	return fe_timer_add(w, 0, start_ops, arg) ? 0 : 1;
}

static void test_chain(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/ferry-fsop-XXXXXX");
	assert_non_null(mkdtemp(dir));
	dir_fd = open(dir, O_PATH | O_DIRECTORY);
	struct fe_engine_opts o = { .workers = 1, .worker_init = init };
	struct fe_engine *e = fe_engine_create(&o);
	assert_non_null(e);
	assert_int_equal(fe_engine_start(e), 0);
	for (int i = 0; i < 5000 && !atomic_load(&step_done); i++)
		usleep(1000);
	fe_engine_stop(e);
	fe_engine_destroy(e);
	assert_int_equal(atomic_load(&step_done), 1);
	assert_int_equal(atomic_load(&failures), 0);
	assert_int_equal(fd_escape, -EXDEV);
	struct stat st;
	char path[128];
	snprintf(path, sizeof(path), "%s/f", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 5);
	unlink(path);
	close(dir_fd);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
