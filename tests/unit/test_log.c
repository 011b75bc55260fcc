/* test_log.c — checks log line format, level filter, thread safety,
 * size-based rolling and reopen against real files in a temp directory,
 * that a worker never waits for a stuck writer, and fb_logfile. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ferry/daemon.h"
#include "ferry/base.h"

/* "YYYY/MM/DD HH:MM:SS.uuuuuu: " */
#define STAMP_LEN 28

struct fixture {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->dir, "/tmp/ferry-test-log-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/ferryd.log", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	fb_log_close();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", f->dir);
	free(f);
	return 0;
}

/* Whole file as a NUL-terminated string (caller frees); NULL if missing. */
static char *slurp(const char *path, size_t *len_out)
{
	FILE *fp = fopen(path, "rb");
	if (fp == NULL)
		return NULL;
	fseek(fp, 0, SEEK_END);
	long len = ftell(fp);
	rewind(fp);
	char *buf = malloc((size_t)len + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)len, fp), (size_t)len);
	buf[len] = '\0';
	fclose(fp);
	if (len_out != NULL)
		*len_out = (size_t)len;
	return buf;
}

static long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Checks the timestamp shape and returns what follows it. */
static const char *after_stamp(const char *line)
{
	int y, mo, d, h, mi, s, us, n = -1;

	assert_int_equal(sscanf(line, "%4d/%2d/%2d %2d:%2d:%2d.%6d: %n",
				&y, &mo, &d, &h, &mi, &s, &us, &n), 7);
	assert_int_equal(n, STAMP_LEN);
	assert_true(y >= 2020 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31);
	assert_true(h <= 23 && mi <= 59 && s <= 60 && us <= 999999);
	for (int i = 0; i < STAMP_LEN; i++) {
		const char *shape = "dddd/dd/dd dd:dd:dd.dddddd: ";
		if (shape[i] == 'd')
			assert_true(line[i] >= '0' && line[i] <= '9');
		else
			assert_int_equal(line[i], shape[i]);
	}
	return line + STAMP_LEN;
}

static void test_format_without_group(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(fb_log_open(f->path, LOG_LVL_INFO, 0, 5), FERRY_EXIT_OK);
	flog(LOG_LVL_INFO, "hello %d", 42);
	fb_log_flush();
	char *text = slurp(f->path, NULL);
	assert_non_null(text);
	assert_string_equal(after_stamp(text), "hello 42\n");
	free(text);
}

static void test_format_with_group(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(fb_log_open(f->path, LOG_LVL_INFO, 0, 5), FERRY_EXIT_OK);
	glog(LOG_LVL_ERR, 0x1234abcdu, 5, 0x2a, "with file");
	glog(LOG_LVL_ERR, 0x00000001u, 0xff, 0, "no file");
	fb_log_flush();
	char *text = slurp(f->path, NULL);
	assert_non_null(text);
	char *second = strchr(text, '\n') + 1;
	second[-1] = '\0';
	assert_string_equal(after_stamp(text), "[1234ABCD/05:002A]: with file");
	assert_string_equal(after_stamp(second), "[00000001/FF:0]: no file\n");
	free(text);
}

static void test_level_filter(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(fb_log_open(f->path, LOG_LVL_INFO, 0, 5), FERRY_EXIT_OK);
	assert_int_equal(fb_log_get_level(), LOG_LVL_INFO);
	for (int lvl = LOG_LVL_ERR; lvl <= LOG_LVL_TRACE; lvl++)
		flog(lvl, "level %d", lvl);
	fb_log_flush();
	char *text = slurp(f->path, NULL);
	assert_non_null(text);
	assert_non_null(strstr(text, "level 0\n"));
	assert_non_null(strstr(text, "level 1\n"));
	assert_non_null(strstr(text, "level 2\n"));
	assert_null(strstr(text, "level 3"));
	assert_null(strstr(text, "level 5"));
	free(text);
}

static void test_long_line_truncated(void **state)
{
	struct fixture *f = *state;
	size_t big = 20000, len;
	char *msg = malloc(big + 1);

	assert_non_null(msg);
	memset(msg, 'x', big);
	msg[big] = '\0';
	assert_int_equal(fb_log_open(f->path, LOG_LVL_INFO, 0, 5), FERRY_EXIT_OK);
	glog(LOG_LVL_ERR, 7, 1, 1, "%s", msg);
	fb_log_flush();
	char *text = slurp(f->path, &len);
	assert_non_null(text);
	assert_true(len > 1000 && len < big);
	assert_int_equal(text[len - 1], '\n');
	assert_ptr_equal(strchr(text, '\n'), text + len - 1);
	free(text);
	free(msg);
}

static void test_errno_preserved(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(fb_log_open(f->path, LOG_LVL_INFO, 0, 5), FERRY_EXIT_OK);
	errno = EADDRINUSE;
	flog(LOG_LVL_ERR, "bind failed");
	assert_int_equal(errno, EADDRINUSE);
}

#define THREADS 4
#define LINES_PER_THREAD 20000

static void *log_worker(void *arg)
{
	int id = (int)(intptr_t)arg;

	for (int i = 0; i < LINES_PER_THREAD; i++)
		glog(LOG_LVL_INFO, (uint32_t)id + 1, 0, 1,
		     "thread %d line %d %s", id, i,
		     "padding-padding-padding-padding-padding-padding");
	return NULL;
}

/* Every line must parse as a whole line; each thread's lines all arrive,
 * in its own order. */
static void check_concurrent_lines(char *text)
{
	int next[THREADS] = { 0 };
	char *save = NULL;

	for (char *line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		const char *rest = after_stamp(line);
		unsigned grp;
		int id, seq, n = -1;
		assert_int_equal(sscanf(rest, "[%8X/00:0001]: thread %d line %d %n",
					&grp, &id, &seq, &n), 3);
		assert_true(n > 0);
		assert_string_equal(rest + n,
			"padding-padding-padding-padding-padding-padding");
		assert_true(id >= 0 && id < THREADS && grp == (unsigned)id + 1);
		assert_int_equal(seq, next[id]);
		next[id]++;
	}
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(next[i], LINES_PER_THREAD);
}

static void test_concurrent_whole_lines(void **state)
{
	struct fixture *f = *state;
	pthread_t t[THREADS];

	assert_int_equal(fb_log_open(f->path, LOG_LVL_INFO, 0, 5), FERRY_EXIT_OK);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, log_worker,
						(void *)(intptr_t)i), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	fb_log_flush();
	char *text = slurp(f->path, NULL);
	assert_non_null(text);
	check_concurrent_lines(text);
	free(text);
}

static void test_rolling(void **state)
{
	struct fixture *f = *state;
	char name[160];
	const long limit = 1000000; /* -g 1 is one decimal megabyte, as uftp */
	const long slack = 4096;    /* one line plus the roll notices */

	assert_int_equal(fb_log_open(f->path, LOG_LVL_INFO, 1, 3), FERRY_EXIT_OK);
	for (int i = 0; i < 60000; i++) /* ~100 bytes each: ~6 MB */
		flog(LOG_LVL_INFO, "rolling line %06d %s", i,
		     "0123456789012345678901234567890123456789012345678901");
	fb_log_flush();
	assert_true(file_size(f->path) > 0);
	assert_true(file_size(f->path) <= limit + slack);
	for (int i = 1; i <= 3; i++) {
		snprintf(name, sizeof(name), "%s.%d", f->path, i);
		long sz = file_size(name);
		assert_true(sz > limit);
		assert_true(sz <= limit + slack);
	}
	snprintf(name, sizeof(name), "%s.4", f->path);
	assert_int_equal(file_size(name), -1);

	/* The newest lines are in the live file, older ones in .1. */
	snprintf(name, sizeof(name), "%s.1", f->path);
	char *live = slurp(f->path, NULL), *arch = slurp(name, NULL);
	assert_non_null(strstr(live, "rolling line 059999 "));
	assert_null(strstr(arch, "rolling line 059999 "));
	free(live);
	free(arch);
}

/* A file that already exceeds the limit rolls at the next line. */
static void test_rolling_counts_existing_size(void **state)
{
	struct fixture *f = *state;
	char name[160];

	FILE *fp = fopen(f->path, "w");
	assert_non_null(fp);
	for (int i = 0; i < 1000001; i++)
		fputc('z', fp);
	fclose(fp);
	assert_int_equal(fb_log_open(f->path, LOG_LVL_INFO, 1, 2), FERRY_EXIT_OK);
	flog(LOG_LVL_INFO, "tips it over");
	fb_log_flush();
	snprintf(name, sizeof(name), "%s.1", f->path);
	assert_true(file_size(name) > 1000000);
	assert_true(file_size(f->path) < 1000);
}

static void test_reopen_after_move(void **state)
{
	struct fixture *f = *state;
	char moved[160];

	snprintf(moved, sizeof(moved), "%s.moved", f->path);
	assert_int_equal(fb_log_open(f->path, LOG_LVL_INFO, 0, 5), FERRY_EXIT_OK);
	flog(LOG_LVL_INFO, "before move");
	assert_int_equal(rename(f->path, moved), 0);
	flog(LOG_LVL_INFO, "after move, before reopen");
	assert_int_equal(fb_log_reopen(), FERRY_EXIT_OK);
	flog(LOG_LVL_INFO, "after reopen");

	fb_log_flush();
	char *old = slurp(moved, NULL), *fresh = slurp(f->path, NULL);
	assert_non_null(old);
	assert_non_null(fresh);
	assert_non_null(strstr(old, "before move\n"));
	assert_non_null(strstr(old, "after move, before reopen\n"));
	assert_null(strstr(old, "after reopen"));
	assert_string_equal(after_stamp(fresh), "after reopen\n");
	free(old);
	free(fresh);
}

static void test_open_unwritable(void **state)
{
	(void)state;
	assert_int_equal(fb_log_open("/nonexistent/dir/x.log", LOG_LVL_INFO, 0, 5),
			 FERRY_EXIT_LOG);
}

static void test_stderr_reopen_is_noop(void **state)
{
	(void)state;
	assert_int_equal(fb_log_open(NULL, LOG_LVL_ERR, 5, 5), FERRY_EXIT_OK);
	assert_int_equal(fb_log_reopen(), FERRY_EXIT_OK);
	flog(LOG_LVL_INFO, "filtered, never printed");
}

/* Lines reach the file within the log thread's round, without a flush. */
static void test_prompt_without_flush(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(fb_log_open(f->path, LOG_LVL_INFO, 0, 5), FERRY_EXIT_OK);
	flog(LOG_LVL_INFO, "soon");
	char *text = NULL;
	for (int i = 0; i < 2000 && !text; i++) {  /* the round is 20 ms */
		usleep(1000);
		text = slurp(f->path, NULL);
		if (text && !strstr(text, "soon\n")) {
			free(text);
			text = NULL;
		}
	}
	assert_non_null(text);
	free(text);
}

enum { STUCK_LINES = 20000 };

static atomic_int stuck_done;

static void *stuck_worker(void *arg)
{
	(void)arg;
	fb_log_never_wait();
	for (int i = 0; i < STUCK_LINES; i++)
		flog(LOG_LVL_INFO, "stuck %d %s", i,
		     "padding-padding-padding-padding-padding-padding-padding");
	atomic_store(&stuck_done, 1);
	return NULL;
}

struct pipe_reader {
	int fd;
	char *text;
	size_t len, cap;
};

static void *read_all(void *arg)
{
	struct pipe_reader *r = arg;
	for (;;) {
		if (r->cap - r->len < 65536) {
			r->cap = r->cap * 2 + 65536;
			r->text = realloc(r->text, r->cap + 1);
			assert_non_null(r->text);
		}
		ssize_t n = read(r->fd, r->text + r->len, r->cap - r->len);
		if (n <= 0)
			break;
		r->len += (size_t)n;
	}
	r->text[r->len] = '\0';
	return NULL;
}

/* A worker logging while the log's writer is stuck (stderr is a pipe that
 * nobody reads) is never held up: it drops lines, and the log says how
 * many once the writer moves again. */
static void test_worker_never_blocks(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	fcntl(p[1], F_SETPIPE_SZ, 4096);
	int saved = dup(STDERR_FILENO);
	assert_true(dup2(p[1], STDERR_FILENO) >= 0);
	assert_int_equal(fb_log_open(NULL, LOG_LVL_INFO, 0, 0), FERRY_EXIT_OK);
	pthread_t t;
	atomic_store(&stuck_done, 0);
	assert_int_equal(pthread_create(&t, NULL, stuck_worker, NULL), 0);
	for (int i = 0; i < 10000 && !atomic_load(&stuck_done); i++)
		usleep(1000);
	bool finished = atomic_load(&stuck_done);   /* pipe still unread */
	struct pipe_reader r = { .fd = p[0] };
	pthread_t rt;
	assert_int_equal(pthread_create(&rt, NULL, read_all, &r), 0);
	pthread_join(t, NULL);
	fb_log_close();
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(p[1]);
	pthread_join(rt, NULL);
	close(p[0]);
	assert_true(finished);
	int lines = 0;
	long dropped = 0;
	for (char *q = r.text; (q = strstr(q, "stuck ")); q++)
		lines++;
	for (char *q = r.text; (q = strstr(q, "log: ")); q++)
		dropped += strtol(q + 5, NULL, 10);
	free(r.text);
	print_message("stuck writer: %d lines written, %ld dropped and counted\n",
		      lines, dropped);
	assert_true(dropped > 0);
	assert_int_equal(lines + dropped, STUCK_LINES);
}

/* ---- fb_logfile -------------------------------------------------------------- */

#define FILE_LINES 5000

struct file_writer {
	struct fb_logfile *lf;
	int id;
};

static void *file_worker(void *arg)
{
	struct file_writer *w = arg;
	char line[128];
	for (int i = 0; i < FILE_LINES; i++) {
		int n = snprintf(line, sizeof(line), "writer %d record %d\n", w->id, i);
		fb_logfile_write(w->lf, line, (size_t)n);
	}
	return NULL;
}

static void test_logfile_lines(void **state)
{
	struct fixture *f = *state;
	char path[160], moved[170];
	int err;

	snprintf(path, sizeof(path), "%s/xferlog", f->dir);
	snprintf(moved, sizeof(moved), "%s.moved", path);
	assert_int_equal(fb_log_open(f->path, LOG_LVL_INFO, 0, 5), FERRY_EXIT_OK);
	struct fb_logfile *lf = fb_logfile_open(path, &err);
	assert_non_null(lf);
	assert_int_equal(err, 0);
	struct file_writer w[2] = { { lf, 0 }, { lf, 1 } };
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, file_worker, &w[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	fb_log_flush();
	/* SIGHUP's reopen covers the file too. */
	assert_int_equal(rename(path, moved), 0);
	assert_int_equal(fb_log_reopen(), FERRY_EXIT_OK);
	fb_logfile_write(lf, "after reopen\n", 13);
	fb_logfile_close(lf);          /* what is queued is written first */

	char *old = slurp(moved, NULL), *fresh = slurp(path, NULL);
	assert_non_null(old);
	assert_non_null(fresh);
	assert_string_equal(fresh, "after reopen\n");
	int next[2] = { 0, 0 };
	char *save = NULL;
	for (char *l = strtok_r(old, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		int id, seq;
		assert_int_equal(sscanf(l, "writer %d record %d", &id, &seq), 2);
		assert_true(id == 0 || id == 1);
		assert_int_equal(seq, next[id]);
		next[id]++;
	}
	assert_int_equal(next[0], FILE_LINES);
	assert_int_equal(next[1], FILE_LINES);
	free(old);
	free(fresh);
	/* The main log saw none of it. */
	char *main_log = slurp(f->path, NULL);
	assert_true(!main_log || !strstr(main_log, "writer "));
	free(main_log);
}

static void test_logfile_refuses_symlink(void **state)
{
	struct fixture *f = *state;
	char link[160], target[160];
	int err = 0;

	snprintf(target, sizeof(target), "%s/target", f->dir);
	snprintf(link, sizeof(link), "%s/link", f->dir);
	assert_int_equal(symlink(target, link), 0);
	assert_null(fb_logfile_open(link, &err));
	assert_int_equal(err, -ELOOP);
	assert_int_equal(file_size(target), -1);
	/* Without a log thread (log closed), writes go straight to the file. */
	struct fb_logfile *lf = fb_logfile_open(target, &err);
	assert_non_null(lf);
	fb_logfile_write(lf, "direct\n", 7);
	assert_int_equal(file_size(target), 7);
	fb_logfile_close(lf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_format_without_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_format_with_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_level_filter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_line_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errno_preserved, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_whole_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rolling, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rolling_counts_existing_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_after_move, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_unwritable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stderr_reopen_is_noop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prompt_without_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_worker_never_blocks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_logfile_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_logfile_refuses_symlink, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
