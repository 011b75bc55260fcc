/* test_sandbox_uring.c — the Landlock rules of daemon_sandbox_files() also
 * hold for io_uring's OPENAT and OPENAT2, inline and when the kernel hands
 * the open to an io-wq worker thread (IOSQE_ASYNC). */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <liburing.h>
#include <linux/landlock.h>

#include "ferry/daemon.h"

static char root[64], inside[96], outside[64];

static int uring_open(struct io_uring *ring, const char *path, bool v2, unsigned flags)
{
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC };
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	if (v2)
		io_uring_prep_openat2(sqe, AT_FDCWD, path, &how);
	else
		io_uring_prep_openat(sqe, AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
	sqe->flags |= flags;
	io_uring_submit(ring);
	if (io_uring_wait_cqe(ring, &cqe) < 0)
		return -EIO;
	int r = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	if (r >= 0)
		close(r);
	return r;
}

/* The child's verdict as an exit status: 0 all confined, else which check
 * failed (10 + n). Runs after the sandbox, so it touches nothing else. */
static int confined_child(void)
{
	struct ferry_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.foreground = true;           /* no log file rule */
	cfg.ftp.enabled = true;
	cfg.ftp.anonymous_root = root;
	if (daemon_sandbox_files(&cfg) < 0)
		return 1;
	if (open(outside, O_RDONLY) >= 0 || errno != EACCES)
		return 2;
	struct io_uring ring;
	if (io_uring_queue_init(8, &ring, 0) < 0)
		return 3;
	int n = 10;
	for (int v2 = 0; v2 < 2; v2++)
		for (int async = 0; async < 2; async++, n += 2) {
			unsigned fl = async ? IOSQE_ASYNC : 0;
			if (uring_open(&ring, outside, v2, fl) != -EACCES)
				return n;
			if (uring_open(&ring, inside, v2, fl) < 0)
				return n + 1;
		}
	io_uring_queue_exit(&ring);
	return 0;
}

static void test_uring_open_confined(void **state)
{
	(void)state;
	if (syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION) < 1)
		skip();
	snprintf(root, sizeof(root), "/tmp/ferry-ll-XXXXXX");
	assert_non_null(mkdtemp(root));
	snprintf(inside, sizeof(inside), "%s/in.txt", root);
	snprintf(outside, sizeof(outside), "/tmp/ferry-ll-out-XXXXXX");
	int fd = mkstemp(outside);
	assert_true(fd >= 0);
	close(fd);
	fd = open(inside, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	close(fd);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(confined_child());
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	unlink(inside);
	rmdir(root);
	unlink(outside);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uring_open_confined),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
