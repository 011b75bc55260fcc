/* daemon.h — becoming a daemon (detach, pidfile, priority) and reporting
 * start-up success or failure back to the shell that started us. */
#ifndef FERRY_DAEMON_H
#define FERRY_DAEMON_H

#include <stdbool.h>

/* Detach into the background. The parent stays until the child calls
 * daemon_ready(), then exits with the status the child reported, so a
 * failed start (bad interface, unwritable log) still fails the command.
 * Returns 0 in the child, -1 on error (nothing forked). */
int daemon_detach(void);

/* Report the start-up result to the waiting parent (no-op in foreground). */
void daemon_ready(int exit_status);

int pidfile_write(const char *path);   /* 0 or -errno */
void pidfile_remove(const char *path);

int set_priority(int nice_value);      /* 0 or -errno */

struct ferry_config;
/* Descriptors the configuration can use at once with this many workers. */
unsigned long long daemon_fds_needed(const struct ferry_config *cfg, unsigned workers);
/* Raises RLIMIT_NOFILE's soft limit (up to the hard one) when it is below
 * what is needed; FERRY_EXIT_PARAM, logged with the number, when even the
 * hard limit is too low. */
int daemon_raise_nofile(const struct ferry_config *cfg, unsigned workers);

#endif
