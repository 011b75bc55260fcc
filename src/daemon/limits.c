/* limits.c — resources ferryd needs before it starts: enough descriptors
 * for max_sessions and the proxies, raised from the soft limit up to the
 * hard one, or a refusal that names the number. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "ferry/daemon.h"
#include "ferry/base.h"

enum {
	FD_BASE = 64,          /* stdio, log and transfer log, pidfile, keys,
				* eventfds, the control ring, helper threads */
	FD_PER_WORKER = 2,     /* its ring, a spare */
	FD_PER_SESSION = 5,    /* control, a pending SPSV connection (the
				* server admits 2 x max_sessions + 64), PASV
				* listener, data connection, open file */
	FD_FTP_SLACK = 64,
	FD_PER_GW_SESSION = 4, /* client and backend control, a data pair */
};

unsigned long long daemon_fds_needed(const struct ferry_config *cfg, unsigned workers)
{
	unsigned long long per_worker = FD_PER_WORKER + 2ull * cfg->proxy_count;
	unsigned long long n = FD_BASE;
	if (cfg->ftp.enabled) {
		per_worker += cfg->ftp.listen.n;
		n += FD_PER_SESSION * (unsigned long long)cfg->ftp.max_sessions +
		     FD_FTP_SLACK;
	}
	if (cfg->gateway.enabled) {
		per_worker += cfg->gateway.listen.n + cfg->gateway.tls_implicit.n;
		n += FD_PER_GW_SESSION * (unsigned long long)cfg->gateway.max_sessions +
		     (unsigned long long)cfg->gateway.max_unauthenticated + FD_FTP_SLACK;
	}
	return n + per_worker * workers;
}

/* Like the Go runtime, the soft limit goes all the way to the hard one:
 * the table grows only as descriptors are used. */
int daemon_raise_nofile(const struct ferry_config *cfg, unsigned workers)
{
	unsigned long long need = daemon_fds_needed(cfg, workers);
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		flog(LOG_LVL_ERR, "%s: getrlimit: %s", __func__, strerror(errno));
		return FERRY_EXIT_PARAM;
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= need)
		return 0;
	if (rl.rlim_cur == RLIM_INFINITY)
		return 0;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
		flog(LOG_LVL_ERR, "%s: ferryd needs %llu file descriptors (%d FTP "
		     "sessions, %zu proxy instances, %u workers) but the hard "
		     "limit (RLIMIT_NOFILE) is %llu: raise it (ulimit -Hn, "
		     "systemd LimitNOFILE=) or lower ftp.max_sessions", __func__,
		     need, cfg->ftp.enabled ? cfg->ftp.max_sessions : 0,
		     cfg->proxy_count, workers, (unsigned long long)rl.rlim_max);
		return FERRY_EXIT_PARAM;
	}
	rlim_t was = rl.rlim_cur;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		flog(LOG_LVL_ERR, "%s: setrlimit to %llu: %s", __func__,
		     (unsigned long long)rl.rlim_cur, strerror(errno));
		return FERRY_EXIT_PARAM;
	}
	flog(LOG_LVL_VERB, "Raised the file descriptor limit from %llu to %llu "
	     "(%llu needed)", (unsigned long long)was,
	     (unsigned long long)rl.rlim_cur, need);
	return 0;
}
