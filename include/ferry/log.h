/* log.h — uftp-style log lines to stderr or a rolling log file, safe to call
 * from every worker; the one process-wide state besides the config. Lines
 * are formatted by the caller into its thread's bounded buffer and written
 * by one log thread within 20 ms; a worker never waits for a write(2): when
 * its buffer is full, lines are dropped and the count is logged. */
#ifndef FERRY_LOG_H
#define FERRY_LOG_H

#include <stddef.h>
#include <stdint.h>

/* Levels 0 (least) to 5 (most verbose), as uftp's -x. */
enum { LOG_LVL_ERR = 0, LOG_LVL_WARN = 1, LOG_LVL_INFO = 2,
       LOG_LVL_VERB = 3, LOG_LVL_DEBUG = 4, LOG_LVL_TRACE = 5 };

/* path NULL: stderr. max_size_mb 0: no rolling. Returns 0 or
 * FERRY_EXIT_LOG with a message on stderr. */
int log_open(const char *path, int level, int max_size_mb, int max_count);
int log_reopen(void);            /* SIGHUP: the same path, and every fb_logfile */
void log_close(void);            /* writes what is pending, then closes */
/* Returns once every line logged before the call is written (the lines go
 * to a log thread; tests and shutdown use this). Not from a worker. */
void fb_log_flush(void);
/* The calling thread (a worker) must never wait for the log: when its
 * buffer is full, lines are dropped and counted. Other threads wait. */
void fb_log_never_wait(void);
int log_get_level(void);
void fb_log_set_level(int level);   /* SIGHUP with a new log_level */

/* One line: "YYYY/MM/DD HH:MM:SS.uuuuuu: [GROUP/INST:FILE]: message".
 * group 0 leaves out the bracketed part, as uftp does. */
void log_line(int level, uint32_t group, uint8_t inst, uint16_t file,
	      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Append-only files (transfer log, audit) written by the same log thread:
 * fb_logfile_write copies the line and never blocks (a full buffer drops
 * it, counted). Open, reopen and close from a control thread (main, start
 * and shutdown), not from a worker; write nothing to a file being closed.
 * log_reopen (SIGHUP) reopens every open fb_logfile as well. */
struct fb_logfile;
/* O_NOFOLLOW | O_CLOEXEC | O_APPEND | O_CREAT; NULL and *err = -errno. */
struct fb_logfile *fb_logfile_open(const char *path, int *err);
void fb_logfile_write(struct fb_logfile *f, const char *line, size_t len);
int fb_logfile_reopen(struct fb_logfile *f);   /* 0 or -errno */
void fb_logfile_close(struct fb_logfile *f);   /* after writing what is queued */

#define flog(level, ...) log_line((level), 0, 0, 0, __VA_ARGS__)
#define glog(level, grp, inst, file, ...) \
	log_line((level), (grp), (inst), (file), __VA_ARGS__)

#endif
