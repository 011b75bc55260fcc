/* daemon.h — becoming a daemon (detach, pidfile, priority) and reporting
 * start-up success or failure back to the shell or service manager. */
#ifndef FERRY_DAEMON_H
#define FERRY_DAEMON_H

#include <stdbool.h>

#include "ferry/engine.h"
#include "ferry/ftp.h"
#include "ferry/proxy.h"

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
/* sd_notify(3)'s protocol on $NOTIFY_SOCKET ("READY=1", "STOPPING=1", ...):
 * 0 (also when no service manager listens) or -errno. */
int daemon_notify(const char *state);
/* "RELOADING=1" with the MONOTONIC_USEC that systemd 253+ expects. */
int daemon_notify_reloading(void);

/* ---- metrics: Prometheus text on an HTTP listener of worker w ---------- */

/* What one worker reports for a scrape; collect fills it on that worker. */
struct daemon_metrics_sample {
	struct fe_stats engine;
	struct proxy_inst_stats *inst;   /* malloc'ed by collect, ninst entries */
	size_t ninst;
	bool ftp_enabled;
	struct ftp_stats ftp;
};
typedef void daemon_metrics_collect_fn(struct fe_worker *w,
				       struct daemon_metrics_sample *out, void *arg);
struct daemon_metrics;
/* listen: "ADDR:PORT". 0 or an exit code (logged). */
int daemon_metrics_start(struct fe_worker *w, const char *listen,
			 daemon_metrics_collect_fn *collect, void *arg,
			 struct daemon_metrics **out);
void daemon_metrics_stop(struct daemon_metrics *m);

#endif
