/* gateway.h — the SPSV gateway: single-port FTP clients relayed to a legacy
 * FTP server that knows only PASV/EPSV, each SPSV data connection joined to
 * a passive port that server announced (man ferryd.json(5), "gateway"). */
#ifndef FERRY_GATEWAY_H
#define FERRY_GATEWAY_H

#if defined(FERRY_MODULE) && !defined(FERRY_USES_GATEWAY)
#error "ferry/gateway.h: this module may not use gateway (module graph: meson.build)"
#endif

#include <stdbool.h>

#include "ferry/config.h"
#include "ferry/engine.h"

struct gw_server;
struct gw_worker;

/* Resolves the backend (once, before the workers start). 0 or an exit code. */
int gw_server_create(const struct ferry_config *cfg, struct gw_server **out);
void gw_server_destroy(struct gw_server *srv);
/* SIGHUP (main thread): gateway.tls's certificate and key read again from
 * next; new connections get them, those in progress keep theirs, and tickets
 * issued before still resume. 0, or an exit code (the old ones stay). */
int gw_server_reload(struct gw_server *srv, const struct ferry_config *next);

/* SIGTERM, from the main thread: every worker (within ~0.2 s) closes its
 * listeners, sends each control session's client 421 at a reply boundary
 * (and the backend QUIT), cuts data connections; gw_server_idle then says
 * whether every worker has handed its last bytes to the kernel. */
void gw_server_shutdown(struct gw_server *srv);
bool gw_server_idle(struct gw_server *srv);

/* Listens on every gateway address on worker w (SO_REUSEPORT). 0 or exit code. */
int gw_worker_init(struct fe_worker *w, struct gw_server *srv, struct gw_worker **out);
void gw_worker_fini(struct gw_worker *gw);

#endif
