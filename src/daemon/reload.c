/* reload.c — SIGHUP with a configuration file: read it again, refuse it
 * whole when it is invalid, name every key that needs a restart, and hand
 * what may change at run time (log level, -C lists, FTP accounts, limits,
 * passive ports, TLS certificates and policies, the gateway's certificate)
 * to the modules that own it. */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ferry/daemon.h"
#include "ferry/base.h"

/* ---- paths ------------------------------------------------------------- */

/* The daemon leaves its working directory, so paths become absolute, taken
 * from where ferryd was started (also on a reload, after it left). */
/* A configuration read by a reload: freed once nothing uses it. */
static void release(struct ferry_config *cfg)
{
	daemon_config_free(cfg);
	free(cfg);
}

static int absolutise(char **path, const char *base)
{
	if (!*path || (*path)[0] == '/')
		return 0;
	char *abs = NULL;
	if (asprintf(&abs, "%s/%s", base, *path) < 0)
		return -ENOMEM;
	free(*path);
	*path = abs;
	return 0;
}

int daemon_config_absolutise(struct ferry_config *cfg, const char *base)
{
	int r = absolutise(&cfg->log_file, base) | absolutise(&cfg->pidfile, base) |
		absolutise(&cfg->ftp.xferlog, base) | absolutise(&cfg->ftp.anonymous_root, base);
	if (cfg->from_file)
		r |= absolutise(&cfg->source, base);
	for (size_t i = 0; i < cfg->ftp.user_count; i++)
		r |= absolutise(&cfg->ftp.users[i].root, base);
	r |= absolutise(&cfg->ftp.tls_cert, base) | absolutise(&cfg->ftp.tls_key, base);
	r |= absolutise(&cfg->gateway.tls_cert, base) | absolutise(&cfg->gateway.tls_key, base) |
	     absolutise(&cfg->gateway.backend_ca, base);
	for (size_t i = 0; i < cfg->ftp.tls_cert_count; i++)
		r |= absolutise(&cfg->ftp.tls_certs[i].cert, base) |
		     absolutise(&cfg->ftp.tls_certs[i].key, base);
	for (size_t i = 0; i < cfg->proxy_count; i++) {
		struct proxy_config *pc = &cfg->proxies[i];
		r |= absolutise(&pc->client_list, base) | absolutise(&pc->server_list, base);
		for (size_t k = 0; k < pc->key_files.n; k++)
			r |= absolutise(&pc->key_files.v[k], base);
	}
	return r ? FERRY_EXIT_ALLOC : 0;
}

/* ---- what needs a restart ------------------------------------------------ */

enum kind { K_INT, K_BOOL, K_STR, K_LIST, K_U16, K_U32 };
struct key {
	const char *name;
	enum kind kind;
	size_t off;
};

#define TOP(n, k, f) { n, k, offsetof(struct ferry_config, f) }
#define FTP(n, k, f) { "ftp." n, k, offsetof(struct ferry_config, ftp.f) }
#define GW(n, k, f) { "gateway." n, k, offsetof(struct ferry_config, gateway.f) }
#define PX(n, k, f) { n, k, offsetof(struct proxy_config, f) }

/* Bound at start-up (sockets, threads, files opened before the sandbox,
 * the identity): compared, never applied. */
static const struct key top_keys[] = {
	TOP("workers", K_INT, workers), TOP("foreground", K_BOOL, foreground),
	TOP("log.file", K_STR, log_file), TOP("log.max_size_mb", K_INT, max_log_size),
	TOP("log.max_count", K_INT, max_log_count), TOP("pidfile", K_STR, pidfile),
	TOP("priority", K_INT, priority), TOP("metrics.listen", K_STR, metrics_listen),
	TOP("user", K_STR, user), TOP("group", K_STR, group),
	TOP("allow_root", K_BOOL, allow_root), TOP("allow_unsafe", K_BOOL, allow_unsafe),
	TOP("allow_no_seccomp", K_BOOL, allow_no_seccomp),
	FTP("enabled", K_BOOL, enabled), FTP("listen", K_LIST, listen),
	FTP("xferlog", K_STR, xferlog), FTP("proxy_protocol", K_LIST, proxy_from),
	FTP("max_hash_jobs", K_INT, max_hash_jobs),
	FTP("tls.implicit_listen", K_LIST, tls_implicit),
	FTP("tls.ktls", K_INT, tls_ktls),    /* probed once, before the privilege drop */
	GW("enabled", K_BOOL, enabled), GW("listen", K_LIST, listen),
	GW("backend", K_STR, backend), GW("max_sessions", K_INT, max_sessions),
	GW("max_unauthenticated", K_INT, max_unauthenticated),
	GW("login_timeout", K_INT, login_timeout), GW("token_timeout", K_INT, token_timeout),
	/* the gateway reloads gateway.tls's certificate and key only */
	GW("tls.implicit_listen", K_LIST, tls_implicit), GW("tls.policy", K_INT, tls_policy), GW("tls.require_reuse", K_BOOL, tls_require_reuse),
	GW("backend_tls", K_INT, backend_tls), GW("backend_ca", K_STR, backend_ca),
	GW("backend_insecure", K_BOOL, backend_insecure),
};

/* A proxy instance's everything but its -C and -S lists (see proxy). */
static const struct key proxy_keys[] = {
	PX("name", K_STR, name), PX("role", K_INT, role), PX("dest", K_STR, dest),
	PX("dest_fingerprint", K_STR, dest_fingerprint),
	PX("response_curve", K_STR, response_curve), PX("port", K_U16, port),
	PX("dest_port", K_U16, dest_port), PX("ttl", K_INT, ttl), PX("dscp", K_INT, dscp),
	PX("out_interface", K_STR, out_interface), PX("uid", K_U32, uid),
	PX("uid", K_BOOL, uid_set), PX("heartbeat.interval", K_INT, hb_interval),
	PX("udp_buffer", K_INT, udp_buf_size), PX("udp_buffer_force", K_BOOL, udp_buf_force),
	PX("limits.max_groups", K_INT, max_groups),
	PX("limits.max_groups_per_source", K_INT, max_groups_per_source),
	PX("limits.group_idle_max", K_INT, group_idle_max), PX("keys.files", K_LIST, key_files),
	PX("keys.generate", K_LIST, key_specs), PX("keys.ecdh_curve", K_STR, ecdh_curve),
	PX("interfaces", K_LIST, interfaces), PX("public_multicast", K_LIST, pub_mcast),
	PX("system_keys", K_BOOL, system_keys),
};

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static bool same_value(const struct key *k, const void *a, const void *b)
{
	const char *pa = (const char *)a + k->off, *pb = (const char *)b + k->off;
	switch (k->kind) {
	case K_INT: return *(const int *)pa == *(const int *)pb;
	case K_BOOL: return *(const bool *)pa == *(const bool *)pb;
	case K_U16: return *(const uint16_t *)pa == *(const uint16_t *)pb;
	case K_U32: return *(const uint32_t *)pa == *(const uint32_t *)pb;
	case K_STR: return same_str(*(char *const *)pa, *(char *const *)pb);
	case K_LIST: {
		const struct strlist *la = (const void *)pa, *lb = (const void *)pb;
		if (la->n != lb->n)
			return false;
		for (size_t i = 0; i < la->n; i++)
			if (strcmp(la->v[i], lb->v[i]))
				return false;
		return true;
	}
	}
	assert(!"reload: unknown key kind");
	return false;
}

/* Logs each differing key; returns how many. */
static int compare(const char *where, const struct key *keys, size_t n,
		   const void *now, const void *next)
{
	int diffs = 0;
	for (size_t i = 0; i < n; i++)
		if (!same_value(&keys[i], now, next)) {
			flog(LOG_LVL_ERR, "reload: %s%s changed: needs a restart; the old value "
			     "stays in force", where, keys[i].name);
			diffs++;
		}
	return diffs;
}

static bool same_heartbeats(const struct proxy_config *a, const struct proxy_config *b)
{
	if (a->hb_count != b->hb_count)
		return false;
	for (size_t i = 0; i < a->hb_count; i++)
		if (!same_str(a->hb_servers[i].host, b->hb_servers[i].host) ||
		    a->hb_servers[i].port != b->hb_servers[i].port)
			return false;
	return true;
}

/* true when the instances are the same ones (their -C lists may reload). */
static bool compare_proxies(const struct ferry_config *now, const struct ferry_config *next)
{
	if (now->proxy_count != next->proxy_count) {
		flog(LOG_LVL_ERR, "reload: proxies: %zu instance(s) instead of %zu: needs a "
		     "restart; proxies unchanged", next->proxy_count, now->proxy_count);
		return false;
	}
	for (size_t i = 0; i < now->proxy_count; i++) {
		char where[96];
		snprintf(where, sizeof(where), "proxies[%zu] (%s): ", i, now->proxies[i].name);
		compare(where, proxy_keys, sizeof(proxy_keys) / sizeof(proxy_keys[0]),
			&now->proxies[i], &next->proxies[i]);
		if (!same_heartbeats(&now->proxies[i], &next->proxies[i]))
			flog(LOG_LVL_ERR, "reload: %sheartbeat.servers changed: needs a restart; "
			     "the old value stays in force", where);
	}
	return true;
}

/* ---- the reload ---------------------------------------------------------- */

/* argv for a reload: a relative -f FILE made absolute, since the daemon has
 * left the directory it was started in. */
int daemon_reload_init(struct daemon_reload *r, int argc, char **argv,
		       const struct ferry_config *start)
{
	memset(r, 0, sizeof(*r));
	r->start = start;
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd)) || !(r->cwd = strdup(cwd)) ||
	    !(r->argv = calloc((size_t)argc + 1, sizeof(*r->argv))))
		return FERRY_EXIT_ALLOC;
	r->argc = argc;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		bool file_next = i > 0 && !strcmp(argv[i - 1], "-f") && a[0] != '/';
		bool file_here = !strncmp(a, "-f", 2) && a[2] && a[2] != '/' && a[1] != '-';
		int n = file_next ? asprintf(&r->argv[i], "%s/%s", cwd, a)
		      : file_here ? asprintf(&r->argv[i], "-f%s/%s", cwd, a + 2)
		      : ((r->argv[i] = strdup(a)) ? 0 : -1);
		if (n < 0) {
			r->argv[i] = NULL;
			return FERRY_EXIT_ALLOC;
		}
	}
	return 0;
}

void daemon_reload_fini(struct daemon_reload *r)
{
	for (int i = 0; r->argv && i < r->argc; i++)
		free(r->argv[i]);
	free(r->argv);
	free(r->cwd);
}

/* The file again, exactly as start-up read it (the same command line);
 * NULL when it is invalid (logged with file:line:column). */
static struct ferry_config *read_again(struct daemon_reload *r)
{
	struct ferry_config *cfg = malloc(sizeof(*cfg));
	struct config_error err;
	enum cli_action action;
	if (!cfg) {
		flog(LOG_LVL_ERR, "reload: out of memory; configuration unchanged");
		return NULL;
	}
	daemon_config_init(cfg);
	memset(&err, 0, sizeof(err));
	int rc = daemon_parse_args(r->argc, r->argv, cfg, &action, &err);
	if (rc == 0)
		rc = daemon_config_absolutise(cfg, r->cwd);
	if (rc == 0 && r->id)
		rc = daemon_check_safety(cfg, r->id, &err);
	if (rc) {
		if (err.msg[0])
			flog(LOG_LVL_ERR, "reload refused: %s:%d:%d: %s%s%s; the configuration "
			     "in force stays", err.file, err.line, err.column, err.key,
			     err.key[0] ? ": " : "", err.msg);
		else
			flog(LOG_LVL_ERR, "reload refused (error %d); the configuration in "
			     "force stays", rc);
		daemon_config_free(cfg);
		free(cfg);
		return NULL;
	}
	return cfg;
}

void daemon_reload(struct daemon_reload *r)
{
	if (!r->start->from_file) {
		flog(LOG_LVL_INFO, "SIGHUP: started without a configuration file (-f): "
		     "reopened the logs only");
		return;
	}
	struct ferry_config *next = read_again(r);
	if (!next)
		return;
	flog(LOG_LVL_INFO, "reload: read %s", next->source);
	const struct ferry_config *now = r->start;
	compare("", top_keys, sizeof(top_keys) / sizeof(top_keys[0]), now, next);
	if (next->log_level != fb_log_get_level()) {
		flog(LOG_LVL_INFO, "reload: log level %d (was %d)", next->log_level,
		     fb_log_get_level());
		fb_log_set_level(next->log_level);
	}
	if (compare_proxies(now, next))
		proxy_shared_reload(r->proxy, next);
	if (r->gateway && next->gateway.enabled)
		gw_server_reload(r->gateway, next);   /* keeps no pointer into next */
	/* Last: on success the FTP server keeps next (its accounts' strings)
	 * and gives it back through release when the last session lets go. */
	if (r->ftp && next->ftp.enabled && ftp_server_reload(r->ftp, next, release) == 0)
		return;
	release(next);
}
