/* ferryd.c — the daemon's life: configuration in, detach, log, workers up,
 * confine (Landlock, privilege drop, seccomp), then wait for signals
 * (SIGHUP reopens the logs and reloads the -f file, SIGINT/SIGTERM stop). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ferry/daemon.h"
#include "ferry/crypto.h"
#include "ferry/engine.h"
#include "ferry/ftp.h"
#include "ferry/gateway.h"
#include "ferry/base.h"
#include "ferry/proxy.h"

/* What every worker is started with: the proxy instances' and the FTP
 * service's shared state, made before the workers run. */
struct services {
	const struct ferry_config *cfg;
	struct proxy_shared *proxy;
	struct ftp_server *ftp;   /* NULL: no FTP service */
	struct gw_server *gateway; /* NULL: no SPSV gateway */
};

struct worker_parts {
	struct proxy_worker *proxy;
	struct ftp_worker *ftp;
	struct gw_worker *gateway;
	struct daemon_metrics *metrics;   /* worker 0 only */
};

/* A scrape's sample of worker w (metrics.c runs this on w). */
static void collect(struct fe_worker *w, struct daemon_metrics_sample *out, void *arg)
{
	const struct services *sv = arg;
	struct worker_parts *wp = fe_worker_data(w);
	fe_worker_stats(w, &out->engine);
	size_t n = sv->cfg->proxy_count;
	out->inst = n && wp ? calloc(n, sizeof(*out->inst)) : NULL;
	out->ninst = out->inst && wp ? proxy_worker_stats(wp->proxy, out->inst, n) : 0;
	out->ftp_enabled = wp && wp->ftp;
	if (out->ftp_enabled)
		ftp_worker_stats(wp->ftp, &out->ftp);
}

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
	if (r == 0 && sv->gateway)
		r = gw_worker_init(w, sv->gateway, &wp->gateway);
	if (r == 0 && sv->cfg->metrics_listen && fe_worker_index(w) == 0)
		r = daemon_metrics_start(w, sv->cfg->metrics_listen, collect, arg,
					 &wp->metrics);
	if (r) {
		gw_worker_fini(wp->gateway);
		ftp_worker_fini(wp->ftp);
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
	daemon_metrics_stop(wp->metrics);
	gw_worker_fini(wp->gateway);
	ftp_worker_fini(wp->ftp);
	proxy_worker_fini(wp->proxy);
	fe_worker_set_data(w, NULL);   /* a scrape's late mail finds nothing */
	free(wp);
}

static void log_stats(struct fe_engine *e)
{
	struct fe_stats s;
	fe_engine_stats(e, &s);
	flog(LOG_LVL_INFO, "engine: %llu turns, %llu io_uring_enter, %llu SQEs, "
	     "%llu CQEs; UDP %llu in, %llu out in %llu segmented sends, %llu send "
	     "drops, %llu no-buffer stops; busy %.1f s; turns of %d ms or more: %llu "
	     "working, %llu waiting for a CPU",
	     (unsigned long long)s.turns, (unsigned long long)s.enters,
	     (unsigned long long)s.sqes, (unsigned long long)s.cqes,
	     (unsigned long long)s.udp_rx, (unsigned long long)s.udp_tx,
	     (unsigned long long)s.udp_tx_gso, (unsigned long long)s.udp_tx_drop, (unsigned long long)s.udp_rx_nobufs,
	     (double)s.busy_us / 1e6, FE_SLOW_TURN_MS, (unsigned long long)s.turns_slow,
	     (unsigned long long)s.turns_preempted);
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

static int wait_for_stop(const sigset_t *set, struct daemon_reload *rl)
{
	for (;;) {
		int sig = sigwaitinfo(set, NULL);
		if (sig == SIGHUP) {
			daemon_notify_reloading();
			if (fb_log_reopen() == 0)
				flog(LOG_LVL_INFO, "Reopened log file on SIGHUP");
			if (rl->ftp && ftp_server_reopen(rl->ftp) == 0)
				flog(LOG_LVL_INFO, "Reopened the FTP transfer log on SIGHUP");
			daemon_reload(rl);
			daemon_notify("READY=1");
			continue;
		}
		if (sig == SIGINT || sig == SIGTERM) {
			flog(LOG_LVL_INFO, "Stopping on signal %d (%s)", sig,
			     strsignal(sig));
			return sig;
		}
	}
}

/* FTP and gateway sessions get their 421 and close before the engine
 * stops; one bound for both (2 s), since a client that never reads keeps
 * its connection. */
static bool drained(const struct services *sv)
{
	return (!sv->ftp || ftp_server_idle(sv->ftp)) &&
	       (!sv->gateway || gw_server_idle(sv->gateway));
}

static void drain(const struct services *sv)
{
	if (sv->ftp)
		ftp_server_shutdown(sv->ftp);
	if (sv->gateway)
		gw_server_shutdown(sv->gateway);
	for (int i = 0; i < 100 && !drained(sv); i++)
		nanosleep(&(struct timespec){ .tv_nsec = 20 * 1000000 }, NULL);
}

/* A service manager (systemd Type=notify) learns that every socket is
 * bound: READY=1 with our pid, since a detached ferryd is not the process
 * the manager started. */
static void notify_ready(void)
{
	char msg[64];
	snprintf(msg, sizeof(msg), "READY=1\nMAINPID=%ld", (long)getpid());
	int r = daemon_notify(msg);
	if (r < 0)
		flog(LOG_LVL_WARN, "Could not notify the service manager: %s",
		     strerror(-r));
}

static void *probe_thread(void *arg)
{
	return arg;
}

/* Tests only (--sandbox-probe): after start-up, try what the sandbox must
 * refuse (or allow) and log what happened. "exec:" ends with SIGSYS when
 * seccomp works. */
static void sandbox_probe(const char *probe)
{
	if (!strncmp(probe, "open:", 5)) {
		int fd = open(probe + 5, O_RDONLY | O_CLOEXEC);
		flog(LOG_LVL_WARN, "sandbox probe: open %s: %s", probe + 5,
		     fd >= 0 ? "opened" : strerror(errno));
		if (fd >= 0)
			close(fd);
	} else if (!strcmp(probe, "thread")) {
		/* The helper pool may start threads after the sandbox is on. */
		pthread_t t;
		int r = pthread_create(&t, NULL, probe_thread, NULL);
		if (r == 0)
			pthread_join(t, NULL);
		flog(LOG_LVL_WARN, "sandbox probe: thread: %s", r ? strerror(r) : "started");
	} else if (!strncmp(probe, "exec:", 5)) {
		char *argv[] = { (char *)(probe + 5), NULL };
		execv(probe + 5, argv);
		flog(LOG_LVL_WARN, "sandbox probe: exec %s: %s", probe + 5, strerror(errno));
	}
}

/*
 * The order is the security model (ferryd(8) SECURITY): everything that
 * needs root or a path outside the FTP roots happens first — logs, roots,
 * transfer log, keys and lists, then Landlock (inherited by every thread
 * started after it), the workers binding their sockets, the pidfile —
 * then the process becomes the service user and seccomp closes the rest.
 */
static int confine(const struct ferry_config *cfg, const struct daemon_identity *id,
		   struct fe_engine *e)
{
	int r = daemon_sandbox_files(cfg) ? FERRY_EXIT_PARAM : 0;
	if (r == 0)
		r = fe_engine_start(e);
	if (r == 0 && cfg->pidfile && daemon_pidfile_write(cfg->pidfile) < 0) {
		flog(LOG_LVL_ERR, "Could not write pidfile %s", cfg->pidfile);
		r = FERRY_EXIT_PARAM;
	}
	if (r == 0 && (daemon_privdrop(id) || daemon_sandbox_syscalls(cfg))) {
		r = FERRY_EXIT_PARAM;
		if (cfg->pidfile)
			daemon_pidfile_remove(cfg->pidfile);
	}
	return r;
}

static int run(struct ferry_config *cfg, const struct daemon_identity *id,
	       int argc, char **argv)
{
	sigset_t set;
	struct services sv = { .cfg = cfg };
	struct daemon_reload rl;
	int r = daemon_reload_init(&rl, argc, argv, cfg);
	if (r == 0)
		r = daemon_config_absolutise(cfg, rl.cwd);
	if (r) {
		daemon_reload_fini(&rl);
		return r;
	}
	rl.id = id;
	if (!cfg->foreground && daemon_detach() < 0)
		return FERRY_EXIT_PARAM;
	r = fb_log_open(cfg->foreground ? NULL : cfg->log_file, cfg->log_level,
		     cfg->max_log_size, cfg->max_log_count);
	if (r)
		goto out;
	if (cfg->priority && daemon_set_priority(cfg->priority) < 0)
		flog(LOG_LVL_WARN, "Could not set priority %d: %s", cfg->priority,
		     strerror(errno));
	block_signals(&set);
	if (cfg->ftp.enabled && (r = ftp_server_create(cfg, &sv.ftp)))
		goto out;
	if (cfg->gateway.enabled && (r = gw_server_create(cfg, &sv.gateway)))
		goto out;

	struct fe_engine_opts eo = { .workers = (unsigned)cfg->workers,
				     .worker_init = worker_init,
				     .worker_fini = worker_fini, .arg = &sv,
				     /* key exchange jobs use EC keys there */
				     .pool_thread_exit = crypto_thread_done };
	struct fe_engine *e = fe_engine_create(&eo);
	if (!e) {
		r = errno == ENOMEM ? FERRY_EXIT_ALLOC : FERRY_EXIT_NET;
		goto out;
	}
	r = daemon_raise_nofile(cfg, fe_engine_workers(e));
	if (r == 0)
		r = proxy_shared_new(cfg, fe_engine_workers(e), &sv.proxy);
	if (r == 0)
		r = confine(cfg, id, e);
	if (r == 0) {
		char lib[512];
		if (crypto_lib_describe(lib, sizeof(lib)) == 0)
			flog(LOG_LVL_INFO, "crypto: %s", lib);
		flog(LOG_LVL_INFO, "ferryd %s started: %u workers, %zu proxy instances%s%s",
		     FERRY_VERSION, fe_engine_workers(e), cfg->proxy_count,
		     cfg->ftp.enabled ? ", FTP" : "",
		     cfg->gateway.enabled ? ", SPSV gateway" : "");
		if (cfg->sandbox_probe)
			sandbox_probe(cfg->sandbox_probe);
		daemon_ready(0);
		notify_ready();
		rl.ftp = sv.ftp;
		rl.proxy = sv.proxy;
		rl.gateway = sv.gateway;
		wait_for_stop(&set, &rl);
		daemon_notify("STOPPING=1");
		r = FERRY_EXIT_INTR;   /* as uftpproxyd: stopped by a signal */
		drain(&sv);
	}
	fe_engine_stop(e);
	fe_engine_wait(e);
	if (r == FERRY_EXIT_INTR) {
		log_stats(e);
		if (cfg->pidfile)
			daemon_pidfile_remove(cfg->pidfile);
	}
	fe_engine_destroy(e);
	proxy_shared_free(sv.proxy);
out:
	ftp_server_destroy(sv.ftp);
	gw_server_destroy(sv.gateway);
	if (r != FERRY_EXIT_INTR)
		daemon_ready(r);
	fb_log_close();
	daemon_reload_fini(&rl);
	return r;
}

/* Who to run as, and whether the set-up is safe, decided before anything is
 * opened. --check-config reports a missing service user as a warning: the
 * file is fine, the machine is not ready yet. */
static int preflight(const struct ferry_config *cfg, enum cli_action action,
		     struct daemon_identity *id)
{
	char why[512];
	struct config_error err;
	memset(&err, 0, sizeof(err));
	if (daemon_privdrop_plan(cfg, geteuid(), id, why, sizeof(why)) < 0) {
		fprintf(stderr, "ferryd: %s%s\n", action == CLI_CHECK ? "warning: " : "", why);
		if (action != CLI_CHECK)
			return FERRY_EXIT_PARAM;
		id->mode = PRIV_STAY_ROOT;
	}
	int r = daemon_check_safety(cfg, id, &err);
	if (r)
		daemon_error_print(&err, stderr);
	return r;
}

int main(int argc, char **argv)
{
	struct ferry_config cfg;
	struct config_error err;
	enum cli_action action = CLI_RUN;
	daemon_config_init(&cfg);
	int r = daemon_parse_args(argc, argv, &cfg, &action, &err);
	if (r == 0 && (action == CLI_RUN || action == CLI_CHECK))
		r = daemon_validate(&cfg, &err);
	if (r) {
		daemon_error_print(&err, stderr);
		daemon_config_free(&cfg);
		return r;
	}
	struct daemon_identity id;
	if ((action == CLI_RUN || action == CLI_CHECK) && (r = preflight(&cfg, action, &id))) {
		daemon_config_free(&cfg);
		return r;
	}
	switch (action) {
	case CLI_HELP:
		daemon_usage(stdout);
		break;
	case CLI_VERSION:
		printf("ferryd %s (UFTP 4 proxy protocol 0x40)\n", FERRY_VERSION);
		break;
	case CLI_CHECK:
		/* What start-up would refuse beyond the syntax: files and dirs. */
		r = ftp_check_config(&cfg);
		if (r == 0)
			printf("%s: configuration OK\n", cfg.source ? cfg.source : "ferryd");
		break;
	case CLI_RUN:
		r = run(&cfg, &id, argc, argv);
		break;
	}
	daemon_config_free(&cfg);
	return r;
}
