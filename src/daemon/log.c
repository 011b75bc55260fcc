/* log.c — writes uftp-format log lines to stderr or to a file that rolls
 * by size (-g/-n) and reopens on SIGHUP, from any number of threads. */
#include "ferry/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "ferry/config.h"

/* A line longer than this is cut short (and still ends in '\n'). */
#define LOG_LINE_MAX 4096

/* uftp counts -g in decimal megabytes. */
#define LOG_MB 1000000LL

/*
 * The log is the one piece of process-wide mutable state ferry allows
 * besides the immutable config: every module and every worker thread logs,
 * and passing a logger through each call would buy nothing. The mutex
 * guards fd, size and the rolling fields; the level is atomic so that the
 * filter in log_line() costs no lock for lines that are dropped.
 */
static struct {
	pthread_mutex_t mu;
	int fd;             /* STDERR_FILENO when path is NULL */
	char *path;         /* NULL: logging to stderr, never rolled */
	long long size;     /* bytes in the current file */
	long long max_size; /* 0: no rolling */
	int max_count;      /* archives kept: path.1 .. path.max_count */
	atomic_int level;
} g_log = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.fd = STDERR_FILENO,
	.level = LOG_LVL_INFO,
};

/* Writes all of buf, retrying short writes and EINTR. O_APPEND makes each
 * write(2) land at the end even if another process appends too. */
static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* nowhere left to report a log write failure */
		buf += n;
		len -= (size_t)n;
	}
}

/* "YYYY/MM/DD HH:MM:SS.uuuuuu: " in local time, as uftp prints it. */
static size_t format_stamp(char *buf, size_t cap)
{
	struct timeval tv;
	struct tm tm;

	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	int n = snprintf(buf, cap, "%04d/%02d/%02d %02d:%02d:%02d.%06ld: ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec, (long)tv.tv_usec);
	return n < 0 ? 0 : ((size_t)n < cap ? (size_t)n : cap - 1);
}

/* "[GGGGGGGG/II:FFFF]: " — uftp prints file 0 as a bare "0", and nothing
 * at all when there is no group. */
static size_t format_group(char *buf, size_t cap, uint32_t group,
			   uint8_t inst, uint16_t file)
{
	int n;

	if (group == 0)
		return 0;
	if (file != 0)
		n = snprintf(buf, cap, "[%08X/%02X:%04X]: ", group, inst, file);
	else
		n = snprintf(buf, cap, "[%08X/%02X:0]: ", group, inst);
	return n < 0 ? 0 : ((size_t)n < cap ? (size_t)n : cap - 1);
}

/* Builds one whole line in buf (always '\n'-terminated); returns its length. */
static size_t format_line(char *buf, size_t cap, uint32_t group, uint8_t inst,
			  uint16_t file, const char *fmt, va_list ap)
{
	size_t len = format_stamp(buf, cap);
	len += format_group(buf + len, cap - len, group, inst, file);

	/* Keep one byte for '\n'; vsnprintf reports the untruncated length. */
	int n = vsnprintf(buf + len, cap - len - 1, fmt, ap);
	if (n > 0)
		len += (size_t)n < cap - len - 1 ? (size_t)n : cap - len - 2;
	buf[len++] = '\n';
	return len;
}

/* Writes a preformatted line while holding the lock (no roll check). */
static void emit_locked(const char *buf, size_t len)
{
	write_all(g_log.fd, buf, len);
	g_log.size += (long long)len;
}

/* Formats and writes a line of ferry's own while holding the lock; used
 * while rolling, when log_line() would deadlock. */
static void __attribute__((format(printf, 2, 3)))
note_locked(int level, const char *fmt, ...)
{
	char buf[LOG_LINE_MAX];
	va_list ap;

	if (level > atomic_load_explicit(&g_log.level, memory_order_relaxed))
		return;
	va_start(ap, fmt);
	size_t len = format_line(buf, sizeof(buf), 0, 0, 0, fmt, ap);
	va_end(ap);
	emit_locked(buf, len);
}

static int open_log_file(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
}

/* Archive i of the log: the log itself for 0, else "path.i". */
static bool archive_name(char *buf, size_t cap, int i)
{
	int n = i == 0 ? snprintf(buf, cap, "%s", g_log.path)
		       : snprintf(buf, cap, "%s.%d", g_log.path, i);
	return n > 0 && (size_t)n < cap;
}

/* Drops the oldest archive and shifts path.i to path.i+1, ending with the
 * live file becoming path.1 — uftp's order. Missing archives are normal
 * while fewer than max_count rolls have happened, so ENOENT is silent. */
static bool shift_archives(void)
{
	char from[PATH_MAX], to[PATH_MAX];

	if (!archive_name(to, sizeof(to), g_log.max_count))
		return false;
	if (unlink(to) < 0 && errno != ENOENT)
		note_locked(LOG_LVL_ERR, "log: cannot remove %s: %s", to,
			    strerror(errno));
	for (int i = g_log.max_count - 1; i >= 0; i--) {
		if (!archive_name(from, sizeof(from), i) ||
		    !archive_name(to, sizeof(to), i + 1))
			return false;
		if (rename(from, to) < 0 && errno != ENOENT) {
			note_locked(LOG_LVL_ERR, "log: cannot rename %s to %s: %s",
				    from, to, strerror(errno));
			if (i == 0)
				return false;
		}
	}
	return true;
}

/* Rolls the file: shift the archives, then start a fresh file at path.
 * A failure cannot stop the workers that are logging, so rolling is turned
 * off and lines keep going to the file already open. */
static void roll_locked(void)
{
	note_locked(LOG_LVL_INFO, "Log file reached %lld bytes, rolling",
		    g_log.size);
	if (!shift_archives()) {
		note_locked(LOG_LVL_ERR, "log: rolling %s failed, rolling off",
			    g_log.path);
		g_log.max_size = 0;
		return;
	}
	int fd = open_log_file(g_log.path);
	if (fd < 0) {
		note_locked(LOG_LVL_ERR, "log: cannot open %s: %s, rolling off",
			    g_log.path, strerror(errno));
		g_log.max_size = 0;
		return;
	}
	close(g_log.fd);
	g_log.fd = fd;
	g_log.size = 0;
	note_locked(LOG_LVL_INFO, "Log file rolled, previous log is %s.1",
		    g_log.path);
}

/* Closes the file (if any) and falls back to stderr; lock held. */
static void close_locked(void)
{
	if (g_log.path != NULL)
		close(g_log.fd);
	free(g_log.path);
	g_log.path = NULL;
	g_log.fd = STDERR_FILENO;
	g_log.size = 0;
	g_log.max_size = 0;
}

/* Opens path for appending and learns its current size, so a restart
 * continues counting towards -g where the last run stopped. */
static int open_with_size(const char *path, long long *size)
{
	struct stat st;
	int fd = open_log_file(path);

	if (fd < 0)
		return -errno;
	*size = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? st.st_size : 0;
	return fd;
}

int log_open(const char *path, int level, int max_size_mb, int max_count)
{
	long long size = 0;
	int fd = STDERR_FILENO;
	char *copy = NULL;

	if (path != NULL) {
		fd = open_with_size(path, &size);
		if (fd < 0) {
			fprintf(stderr, "ferryd: cannot open log file %s: %s\n",
				path, strerror(-fd));
			return FERRY_EXIT_LOG;
		}
		copy = strdup(path);
		if (copy == NULL) {
			close(fd);
			fprintf(stderr, "ferryd: log_open: out of memory\n");
			return FERRY_EXIT_ALLOC;
		}
	}
	pthread_mutex_lock(&g_log.mu);
	close_locked();
	g_log.fd = fd;
	g_log.path = copy;
	g_log.size = size;
	/* uftp never rolls stderr. */
	g_log.max_size = copy != NULL && max_size_mb > 0 ? max_size_mb * LOG_MB : 0;
	g_log.max_count = max_count < 0 ? 0 : max_count;
	atomic_store(&g_log.level, level);
	pthread_mutex_unlock(&g_log.mu);
	return FERRY_EXIT_OK;
}

/* Call from the main loop after SIGHUP, not from the signal handler: it
 * takes the mutex. If the new file cannot be opened, logging stays on the
 * old (moved) file and the error is written there. */
int log_reopen(void)
{
	long long size = 0;
	int rc = FERRY_EXIT_OK;

	pthread_mutex_lock(&g_log.mu);
	if (g_log.path != NULL) {
		int fd = open_with_size(g_log.path, &size);
		if (fd < 0) {
			note_locked(LOG_LVL_ERR, "log: cannot reopen %s: %s",
				    g_log.path, strerror(-fd));
			rc = FERRY_EXIT_LOG;
		} else {
			close(g_log.fd);
			g_log.fd = fd;
			g_log.size = size;
		}
	}
	pthread_mutex_unlock(&g_log.mu);
	return rc;
}

void log_close(void)
{
	pthread_mutex_lock(&g_log.mu);
	close_locked();
	pthread_mutex_unlock(&g_log.mu);
}

int log_get_level(void)
{
	return atomic_load_explicit(&g_log.level, memory_order_relaxed);
}

void log_line(int level, uint32_t group, uint8_t inst, uint16_t file,
	      const char *fmt, ...)
{
	char buf[LOG_LINE_MAX];
	va_list ap;

	if (level > atomic_load_explicit(&g_log.level, memory_order_relaxed))
		return;
	int saved_errno = errno; /* callers log, then still look at errno */
	va_start(ap, fmt);
	/* Formatting outside the lock keeps workers from queueing on it;
	 * lines from different threads may therefore appear a few
	 * microseconds out of timestamp order. */
	size_t len = format_line(buf, sizeof(buf), group, inst, file, fmt, ap);
	va_end(ap);

	pthread_mutex_lock(&g_log.mu);
	emit_locked(buf, len);
	/* Like uftp: check after writing, roll once the size is exceeded. */
	if (g_log.max_size > 0 && g_log.size > g_log.max_size)
		roll_locked();
	pthread_mutex_unlock(&g_log.mu);
	errno = saved_errno;
}
