/* ftp.h — the single-port FTP service: one shared server (accounts, session
 * counts, SPSV tokens) and, on every worker, listeners and control sessions. */
#ifndef FERRY_FTP_H
#define FERRY_FTP_H

#if defined(FERRY_MODULE) && !defined(FERRY_USES_FTP)
#error "ferry/ftp.h: this module may not use ftp (module graph: meson.build)"
#endif

#include <stdbool.h>

#include "ferry/config.h"
#include "ferry/engine.h"

struct ftp_server;
struct ftp_worker;

/* Opens every account's root directory and the transfer log; called once
 * before the workers start. Returns 0 or an exit code (FERRY_EXIT_PARAM for
 * a missing root, FERRY_EXIT_ALLOC). cfg must outlive the server. */
int ftp_server_create(const struct ferry_config *cfg, struct ftp_server **out);
void ftp_server_destroy(struct ftp_server *srv);

/* What ftp_server_create would reject, found without creating anything
 * (--check-config): roots, the transfer log's directory, TLS files.
 * 0 or an exit code, with the reason logged. */
int ftp_check_config(const struct ferry_config *cfg);

/* SIGTERM, from the main thread: every worker sends 421 to its sessions and
 * closes them and its listeners (within ~0.2 s). ftp_server_idle then says
 * whether all connections are gone, so the engine can stop. */
void ftp_server_shutdown(struct ftp_server *srv);
bool ftp_server_idle(struct ftp_server *srv);

/* SIGHUP: reopen the transfer log (after rotation). 0 or an exit code. */
int ftp_server_reopen(struct ftp_server *srv);

/* SIGHUP with a configuration file, from the main thread: new sessions get
 * cfg's accounts, limits and lockout settings (roots opened now, by the
 * caller's user); sessions in progress keep theirs. A root outside what the
 * sandbox allowed at start-up refuses it all. 0: srv owns cfg from now on;
 * else an exit code (logged) and cfg stays the caller's. */
int ftp_server_reload(struct ftp_server *srv, struct ferry_config *cfg,
		      void (*release)(struct ferry_config *cfg));

/* Listens on every FTP address on worker w (SO_REUSEPORT). 0 or exit code. */
int ftp_worker_init(struct fe_worker *w, struct ftp_server *srv,
		    struct ftp_worker **out);
void ftp_worker_fini(struct ftp_worker *fw);

/* Counters for metrics: sessions and connections (and the SPSV counts)
 * are process-wide, the rest per worker (sum them). */
struct ftp_stats {
	uint64_t sessions, connections;
	uint64_t logins_ok, logins_failed;
	uint64_t transfers[2][2], bytes[2][2];   /* [download, upload][binary, ascii] */
	uint64_t spsv_issued, spsv_used, spsv_expired, spsv_rejected;
	uint64_t tls_handshakes[2][2];   /* [control, data][ok, failed] */
	uint64_t tls_data_sends[2];      /* PROT P downloads: [user-space TLS, kTLS] */
	uint64_t tls_data_recvs[2];      /* PROT P uploads ended by close_notify: same */
};
/* This worker's counters plus the process-wide ones; on fw's worker. */
void ftp_worker_stats(const struct ftp_worker *fw, struct ftp_stats *out);

#endif
