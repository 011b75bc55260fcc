/* test_log.c — checks log line format, level filter, thread safety,
 * size-based rolling and reopen against real files in a temp directory. */
#include <errno.h>
#include <pthread.h>
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

#include "ferry/config.h"
#include "ferry/log.h"

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

	log_close();
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

	assert_int_equal(log_open(f->path, LOG_LVL_INFO, 0, 5), FERRY_EXIT_OK);
	flog(LOG_LVL_INFO, "hello %d", 42);
	char *text = slurp(f->path, NULL);
	assert_non_null(text);
	assert_string_equal(after_stamp(text), "hello 42\n");
	free(text);
}

static void test_format_with_group(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(log_open(f->path, LOG_LVL_INFO, 0, 5), FERRY_EXIT_OK);
	glog(LOG_LVL_ERR, 0x1234abcdu, 5, 0x2a, "with file");
	glog(LOG_LVL_ERR, 0x00000001u, 0xff, 0, "no file");
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

	assert_int_equal(log_open(f->path, LOG_LVL_INFO, 0, 5), FERRY_EXIT_OK);
	assert_int_equal(log_get_level(), LOG_LVL_INFO);
	for (int lvl = LOG_LVL_ERR; lvl <= LOG_LVL_TRACE; lvl++)
		flog(lvl, "level %d", lvl);
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
	assert_int_equal(log_open(f->path, LOG_LVL_INFO, 0, 5), FERRY_EXIT_OK);
	glog(LOG_LVL_ERR, 7, 1, 1, "%s", msg);
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

	assert_int_equal(log_open(f->path, LOG_LVL_INFO, 0, 5), FERRY_EXIT_OK);
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

	assert_int_equal(log_open(f->path, LOG_LVL_INFO, 0, 5), FERRY_EXIT_OK);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, log_worker,
						(void *)(intptr_t)i), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
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

	assert_int_equal(log_open(f->path, LOG_LVL_INFO, 1, 3), FERRY_EXIT_OK);
	for (int i = 0; i < 60000; i++) /* ~100 bytes each: ~6 MB */
		flog(LOG_LVL_INFO, "rolling line %06d %s", i,
		     "0123456789012345678901234567890123456789012345678901");
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
	assert_int_equal(log_open(f->path, LOG_LVL_INFO, 1, 2), FERRY_EXIT_OK);
	flog(LOG_LVL_INFO, "tips it over");
	snprintf(name, sizeof(name), "%s.1", f->path);
	assert_true(file_size(name) > 1000000);
	assert_true(file_size(f->path) < 1000);
}

static void test_reopen_after_move(void **state)
{
	struct fixture *f = *state;
	char moved[160];

	snprintf(moved, sizeof(moved), "%s.moved", f->path);
	assert_int_equal(log_open(f->path, LOG_LVL_INFO, 0, 5), FERRY_EXIT_OK);
	flog(LOG_LVL_INFO, "before move");
	assert_int_equal(rename(f->path, moved), 0);
	flog(LOG_LVL_INFO, "after move, before reopen");
	assert_int_equal(log_reopen(), FERRY_EXIT_OK);
	flog(LOG_LVL_INFO, "after reopen");

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
	assert_int_equal(log_open("/nonexistent/dir/x.log", LOG_LVL_INFO, 0, 5),
			 FERRY_EXIT_LOG);
}

static void test_stderr_reopen_is_noop(void **state)
{
	(void)state;
	assert_int_equal(log_open(NULL, LOG_LVL_ERR, 5, 5), FERRY_EXIT_OK);
	assert_int_equal(log_reopen(), FERRY_EXIT_OK);
	flog(LOG_LVL_INFO, "filtered, never printed");
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
