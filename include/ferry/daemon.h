/* daemon.h — reading and checking the configuration (flags, JSON),
 * becoming a daemon (detach, pidfile, priority) and reporting start-up
 * success or failure back to the shell that started us. */
#ifndef FERRY_DAEMON_H
#define FERRY_DAEMON_H

#if defined(FERRY_MODULE) && !defined(FERRY_USES_DAEMON)
#error "ferry/daemon.h: this module may not use daemon (module graph: meson.build)"
#endif

#include <stdio.h>

#include "ferry/config.h"
#include <stddef.h>
#include <sys/types.h>


#include "ferry/engine.h"
#include "ferry/ftp.h"
#include "ferry/proxy.h"
#include "ferry/gateway.h"

/* Detach into the background. The parent stays until the child calls
 * daemon_ready(), then exits with the status the child reported, so a
 * failed start (bad interface, unwritable log) still fails the command.
 * Returns 0 in the child, -1 on error (nothing forked). */
int daemon_detach(void);

/* Report the start-up result to the waiting parent (no-op in foreground). */
void daemon_ready(int exit_status);

int daemon_pidfile_write(const char *path);   /* 0 or -errno */
void daemon_pidfile_remove(const char *path);

int daemon_set_priority(int nice_value);      /* 0 or -errno */

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

/* ---- reload: SIGHUP re-reads the -f file (reload.c) -------------------- */

struct daemon_identity;
/* Relative paths in cfg become absolute, from base (the start directory). */
int daemon_config_absolutise(struct ferry_config *cfg, const char *base);

struct daemon_reload {
	int argc;
	char **argv;                      /* the command line, -f made absolute */
	char *cwd;                        /* where ferryd was started */
	const struct ferry_config *start; /* what start-up bound */
	const struct daemon_identity *id; /* who runs it (safety checks) */
	struct ftp_server *ftp;           /* NULL: no FTP service */
	struct gw_server *gateway;        /* NULL: no gateway */
	struct proxy_shared *proxy;
};
int daemon_reload_init(struct daemon_reload *r, int argc, char **argv,
		       const struct ferry_config *start);
void daemon_reload_fini(struct daemon_reload *r);
/* Main thread: an invalid file is refused whole (file:line:column logged);
 * keys that need a restart are named and kept; the log level, the proxies'
 * -C lists and the FTP accounts and limits change for new sessions. */
void daemon_reload(struct daemon_reload *r);

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
/* ---- privdrop.c: who ferryd runs as ---- */
enum daemon_priv_mode {
	PRIV_UNPRIVILEGED,   /* not started as root: run as we are */
	PRIV_DROP,           /* root now, the service user after start-up */
	PRIV_STAY_ROOT,      /* --allow-root: stays root, warned at every start */
};
struct daemon_identity {
	enum daemon_priv_mode mode;
	uid_t uid;
	gid_t gid;
	char name[64];
};
/* Decides from cfg (user, group, allow_root) and the effective uid. 0, or
 * -1 with the reason in why (refuse to start). */
int daemon_privdrop_plan(const struct ferry_config *cfg, uid_t euid,
			 struct daemon_identity *id, char *why, size_t cap);
/* Becomes id for good (all threads), sets no_new_privs and checks that
 * root cannot be regained. 0 or -1 (logged): stop. */
int daemon_privdrop(const struct daemon_identity *id);

/* ---- sandbox.c: what the process may do after start-up ---- */
/* Landlock: file access only beneath the FTP roots and the log, transfer
 * log and pidfile paths. Per thread, so call it before any thread starts;
 * sets no_new_privs. 0, or -1 with a message logged (stop). */
int daemon_sandbox_files(const struct ferry_config *cfg);
/* seccomp-BPF allow-list on every thread (TSYNC). 0 or -1 (logged). */
int daemon_sandbox_syscalls(const struct ferry_config *cfg);

/* ---- safety.c: set-ups refused unless allow_unsafe ---- */
/* 0, or FERRY_EXIT_PARAM with err filled, naming the option to override. */
int daemon_check_safety(const struct ferry_config *cfg, const struct daemon_identity *id,
			struct config_error *err);

/* ---- configuration: parse, load, check, report ---------------- */

void daemon_config_init(struct ferry_config *cfg);
void daemon_config_free(struct ferry_config *cfg);

/* Parse argv (uftpproxyd flags, -f FILE, --help, --version, --check-config,
 * --workers N, --ftp-root DIR, --ftp-listen ADDR:PORT, --ftp-write).
 * Returns FERRY_EXIT_OK or FERRY_EXIT_PARAM with *err filled. */
int daemon_parse_args(int argc, char **argv, struct ferry_config *cfg,
		      enum cli_action *action, struct config_error *err);

/* Load JSON text or a JSON file into cfg (which daemon_config_init prepared). */
int daemon_load_json(const char *text, size_t len, const char *name,
		     struct ferry_config *cfg, struct config_error *err);
int daemon_load_file(const char *path, struct ferry_config *cfg,
		     struct config_error *err);

/* Cross-field checks (exactly one role, -k/-K counts, ranges). */
int daemon_validate(const struct ferry_config *cfg, struct config_error *err);

/* The synopsis for --help and for usage errors. */
void daemon_usage(FILE *out);

/* "file:line:column: key: message" on one line. */
void daemon_error_print(const struct config_error *err, FILE *out);

/* The built-in default configuration: conf/ferryd.json, compiled in. */
extern const char daemon_default_conf[];

#endif
