/* ferryd.c — the daemon's life: configuration in, detach, log, workers up,
 * then wait for signals (SIGHUP reopens the log, SIGINT/SIGTERM stop). */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ferry/config.h"
#include "ferry/crypto.h"
#include "ferry/daemon.h"
#include "ferry/engine.h"
#include "ferry/ftp.h"
#include "ferry/log.h"
#include "ferry/proxy.h"

/* What every worker is started with: the proxy instances' and the FTP
 * service's shared state, made before the workers run. */
struct services {
	const struct ferry_config *cfg;
	struct proxy_shared *proxy;
	struct ftp_server *ftp;   /* NULL: no FTP service */
};

struct worker_parts {
	struct proxy_worker *proxy;
	struct ftp_worker *ftp;
};

static int worker_init(struct fe_worker *w, void *arg)
{
	const struct services *sv = arg;
	struct worker_parts *wp = calloc(1, sizeof(*wp));
	if (!wp)
		return FERRY_EXIT_ALLOC;
	fe_worker_set_data(w, wp);
	int r = proxy_worker_init(w, sv->proxy, &wp->proxy);
	if (r == 0 && sv->ftp)
		r = ftp_worker_init(w, sv->ftp, &wp->ftp);
	if (r) {
		proxy_worker_fini(wp->proxy);
		free(wp);
		fe_worker_set_data(w, NULL);
	}
	return r;
}

static void worker_fini(struct fe_worker *w, void *arg)
{
	(void)arg;
	struct worker_parts *wp = fe_worker_data(w);
	if (!wp)
		return;
	ftp_worker_fini(wp->ftp);
	proxy_worker_fini(wp->proxy);
	free(wp);
}

/* The daemon leaves its working directory, so paths become absolute first. */
static int absolutise(char **path)
{
	if (!*path || (*path)[0] == '/')
		return 0;
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd)))
		return -errno;
	char *abs = NULL;
	if (asprintf(&abs, "%s/%s", cwd, *path) < 0)
		return -ENOMEM;
	free(*path);
	*path = abs;
	return 0;
}

static int absolutise_all(struct ferry_config *cfg)
{
	int r = absolutise(&cfg->log_file) | absolutise(&cfg->pidfile) |
		absolutise(&cfg->ftp.xferlog) | absolutise(&cfg->ftp.anonymous_root);
	for (size_t i = 0; i < cfg->proxy_count; i++) {
		struct proxy_config *pc = &cfg->proxies[i];
		r |= absolutise(&pc->client_list) | absolutise(&pc->server_list);
		for (size_t k = 0; k < pc->key_files.n; k++)
			r |= absolutise(&pc->key_files.v[k]);
	}
	return r ? FERRY_EXIT_ALLOC : 0;
}

static void log_stats(struct fe_engine *e)
{
	struct fe_stats s;
	fe_engine_stats(e, &s);
	flog(LOG_LVL_INFO, "engine: %llu turns, %llu io_uring_enter, %llu SQEs, "
	     "%llu CQEs; UDP %llu in, %llu out in %llu segmented sends, %llu send "
	     "drops, %llu no-buffer stops",
	     (unsigned long long)s.turns, (unsigned long long)s.enters,
	     (unsigned long long)s.sqes, (unsigned long long)s.cqes,
	     (unsigned long long)s.udp_rx, (unsigned long long)s.udp_tx,
	     (unsigned long long)s.udp_tx_gso, (unsigned long long)s.udp_tx_drop, (unsigned long long)s.udp_rx_nobufs);
}

/* Block the signals we wait for before any thread exists, so only the main
 * thread's sigwaitinfo() sees them. */
static void block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int wait_for_stop(const sigset_t *set)
{
	for (;;) {
		int sig = sigwaitinfo(set, NULL);
		if (sig == SIGHUP) {
			if (log_reopen() == 0)
				flog(LOG_LVL_INFO, "Reopened log file on SIGHUP");
			continue;
		}
		if (sig == SIGINT || sig == SIGTERM) {
			flog(LOG_LVL_INFO, "Stopping on signal %d (%s)", sig,
			     strsignal(sig));
			return sig;
		}
	}
}

static int run(struct ferry_config *cfg)
{
	sigset_t set;
	struct services sv = { .cfg = cfg };
	int r = absolutise_all(cfg);
	if (r)
		return r;
	if (!cfg->foreground && daemon_detach() < 0)
		return FERRY_EXIT_PARAM;
	r = log_open(cfg->foreground ? NULL : cfg->log_file, cfg->log_level,
		     cfg->max_log_size, cfg->max_log_count);
	if (r)
		goto out;
	if (cfg->priority && set_priority(cfg->priority) < 0)
		flog(LOG_LVL_WARN, "Could not set priority %d: %s", cfg->priority,
		     strerror(errno));
	block_signals(&set);
	if (cfg->ftp.enabled && (r = ftp_server_create(cfg, &sv.ftp)))
		goto out;

	struct fe_engine_opts eo = { .workers = (unsigned)cfg->workers,
				     .worker_init = worker_init,
				     .worker_fini = worker_fini, .arg = &sv,
				     /* key exchange jobs use EC keys there */
				     .pool_thread_exit = crypto_thread_done };
	struct fe_engine *e = fe_engine_create(&eo);
	if (!e) {
		r = FERRY_EXIT_ALLOC;
		goto out;
	}
	r = proxy_shared_new(cfg, fe_engine_workers(e), &sv.proxy);
	if (r == 0)
		r = fe_engine_start(e);
	if (r == 0 && cfg->pidfile && pidfile_write(cfg->pidfile) < 0) {
		flog(LOG_LVL_ERR, "Could not write pidfile %s", cfg->pidfile);
		fe_engine_stop(e);
		r = FERRY_EXIT_PARAM;
	}
	if (r == 0) {
		flog(LOG_LVL_INFO, "ferryd %s started: %u workers, %zu proxy instances%s",
		     FERRY_VERSION, fe_engine_workers(e), cfg->proxy_count,
		     cfg->ftp.enabled ? ", FTP" : "");
		daemon_ready(0);
		wait_for_stop(&set);
		r = FERRY_EXIT_INTR;   /* as uftpproxyd: stopped by a signal */
		fe_engine_stop(e);
		fe_engine_wait(e);
		log_stats(e);
		if (cfg->pidfile)
			pidfile_remove(cfg->pidfile);
	}
	fe_engine_destroy(e);
	proxy_shared_free(sv.proxy);
out:
	ftp_server_destroy(sv.ftp);
	if (r != FERRY_EXIT_INTR)
		daemon_ready(r);
	log_close();
	return r;
}

int main(int argc, char **argv)
{
	struct ferry_config cfg;
	struct config_error err;
	enum cli_action action = CLI_RUN;
	config_init(&cfg);
	int r = config_parse_args(argc, argv, &cfg, &action, &err);
	if (r == 0 && (action == CLI_RUN || action == CLI_CHECK))
		r = config_validate(&cfg, &err);
	if (r) {
		config_error_print(&err, stderr);
		config_free(&cfg);
		return r;
	}
	switch (action) {
	case CLI_HELP:
		config_usage(stdout);
		break;
	case CLI_VERSION:
		printf("ferryd %s (UFTP 4 proxy protocol 0x40)\n", FERRY_VERSION);
		break;
	case CLI_CHECK:
		printf("%s: configuration OK\n", cfg.source ? cfg.source : "ferryd");
		break;
	case CLI_RUN:
		r = run(&cfg);
		break;
	}
	config_free(&cfg);
	return r;
}
