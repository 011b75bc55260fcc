/* log.h — uftp-style log lines to stderr or a rolling log file, safe to call
 * from every worker; the one process-wide state besides the config. */
#ifndef FERRY_LOG_H
#define FERRY_LOG_H

#include <stdint.h>

/* Levels 0 (least) to 5 (most verbose), as uftp's -x. */
enum { LOG_LVL_ERR = 0, LOG_LVL_WARN = 1, LOG_LVL_INFO = 2,
       LOG_LVL_VERB = 3, LOG_LVL_DEBUG = 4, LOG_LVL_TRACE = 5 };

/* path NULL: stderr. max_size_mb 0: no rolling. Returns 0 or
 * FERRY_EXIT_LOG with a message on stderr. */
int log_open(const char *path, int level, int max_size_mb, int max_count);
int log_reopen(void);            /* SIGHUP: reopen the same path */
void log_close(void);
int log_get_level(void);

/* One line: "YYYY/MM/DD HH:MM:SS.uuuuuu: [GROUP/INST:FILE]: message".
 * group 0 leaves out the bracketed part, as uftp does. */
void log_line(int level, uint32_t group, uint8_t inst, uint16_t file,
	      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#define flog(level, ...) log_line((level), 0, 0, 0, __VA_ARGS__)
#define glog(level, grp, inst, file, ...) \
	log_line((level), (grp), (inst), (file), __VA_ARGS__)

#endif
