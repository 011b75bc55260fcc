/* config.c — ferryd's configuration defaults, value syntax, cross-field
 * validation and error reports, shared by the flag and JSON front ends. */
#include "config_priv.h"
#include "ferry/base.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Curves uftpproxyd(1) lists for -K ec:, -e and -r:, plus the two OpenSSL
 * aliases uftp also accepts. */
static const char *const known_curves[] = {
	"sect163k1", "sect163r1", "sect163r2", "sect193r1", "sect193r2",
	"sect233k1", "sect233r1", "sect239k1", "sect283k1", "sect283r1",
	"sect409k1", "sect409r1", "sect571k1", "sect571r1", "secp160k1",
	"secp160r1", "secp160r2", "secp192k1", "prime192v1", "secp224k1",
	"secp224r1", "secp256k1", "prime256v1", "secp384r1", "secp521r1",
	"secp192r1", "secp256r1",
};

void daemon_proxy_init(struct proxy_config *p)
{
	memset(p, 0, sizeof(*p));
	p->port = DEFAULT_PORT;
	p->dest_port = DEFAULT_PORT;
	p->ttl = 1;
	p->dscp = 0;
	p->hb_interval = 20;
	p->udp_buf_size = 262144;
	p->max_groups = DEFAULT_MAX_GROUPS;
	p->max_groups_per_source = DEFAULT_MAX_GROUPS_PER_SOURCE;
	p->group_idle_max = DEFAULT_GROUP_IDLE_MAX;
}

void daemon_config_init(struct ferry_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->log_level = 2;
	cfg->max_log_count = 5;
	cfg->log_file = strdup(DEFAULT_LOG_FILE);
	cfg->ftp.spsv_timeout = 60;
	cfg->ftp.idle_timeout = 300;
	cfg->ftp.data_timeout = 60;
	cfg->ftp.max_sessions = 200;
	cfg->ftp.max_per_address = 20;
	cfg->ftp.login_delay_ms = 1000;
	cfg->ftp.max_login_failures = 5;
	cfg->ftp.lockout_seconds = 300;
	cfg->ftp.spsv_bind_address = true;
	cfg->ftp.login_timeout = 30;
	cfg->ftp.max_login_commands = 20;
	cfg->ftp.max_hash_jobs = 2;
	cfg->ftp.atomic_uploads = true;
	cfg->ftp.tls_require_reuse = true;
	cfg->gateway.max_sessions = 200;
	cfg->gateway.max_unauthenticated = 64;
	cfg->gateway.login_timeout = 30;
	cfg->gateway.token_timeout = 60;
	cfg->gateway.tls_require_reuse = true;
}

/* Defaults that depend on what was given: the public multicast address,
 * and a response proxy answers on its own port, as uftpproxyd does. */
int daemon_proxy_finish(struct proxy_config *p)
{
	if (p->pub_mcast.n == 0 && daemon_strlist_push(&p->pub_mcast, DEFAULT_PUB_MCAST))
		return -1;
	if (p->role == PROXY_RESPONSE)
		p->dest_port = p->port;
	if (!p->name && daemon_strdup(&p->name, "proxy"))
		return -1;
	return 0;
}

void daemon_strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void daemon_proxy_free(struct proxy_config *p)
{
	free(p->name);
	free(p->dest);
	free(p->dest_fingerprint);
	free(p->response_curve);
	free(p->out_interface);
	for (size_t i = 0; i < p->hb_count; i++)
		free(p->hb_servers[i].host);
	free(p->hb_servers);
	free(p->client_list);
	free(p->server_list);
	daemon_strlist_free(&p->key_files);
	daemon_strlist_free(&p->key_specs);
	free(p->ecdh_curve);
	daemon_strlist_free(&p->interfaces);
	daemon_strlist_free(&p->pub_mcast);
	memset(p, 0, sizeof(*p));
}

void daemon_ftp_user_free(struct ftp_user *u)
{
	free(u->name);
	free(u->password_hash);
	free(u->root);
	free(u->umask);
	memset(u, 0, sizeof(*u));
}

static void ftp_free(struct ftp_config *f)
{
	daemon_strlist_free(&f->listen);
	daemon_strlist_free(&f->proxy_from);
	for (size_t i = 0; i < f->user_count; i++)
		daemon_ftp_user_free(&f->users[i]);
	free(f->users);
	free(f->anonymous_root);
	free(f->anonymous_umask);
	free(f->xferlog);
	free(f->tls_cert);
	free(f->tls_key);
	for (size_t i = 0; i < f->tls_cert_count; i++) {
		free(f->tls_certs[i].cert);
		free(f->tls_certs[i].key);
	}
	free(f->tls_certs);
	daemon_strlist_free(&f->tls_implicit);
	for (size_t i = 0; i < f->tls_listener_count; i++)
		free(f->tls_listeners[i].listen);
	free(f->tls_listeners);
}

void daemon_config_free(struct ferry_config *cfg)
{
	free(cfg->source);
	free(cfg->log_file);
	free(cfg->pidfile);
	free(cfg->metrics_listen);
	free(cfg->user);
	free(cfg->group);
	free(cfg->sandbox_probe);
	for (size_t i = 0; i < cfg->proxy_count; i++)
		daemon_proxy_free(&cfg->proxies[i]);
	free(cfg->proxies);
	ftp_free(&cfg->ftp);
	daemon_strlist_free(&cfg->gateway.listen);
	free(cfg->gateway.backend);
	free(cfg->gateway.tls_cert);
	free(cfg->gateway.tls_key);
	daemon_strlist_free(&cfg->gateway.tls_implicit);
	free(cfg->gateway.backend_ca);
	memset(cfg, 0, sizeof(*cfg));
}

/* ---- heap helpers ---- */

int daemon_strdup(char **dst, const char *s)
{
	char *copy = strdup(s);
	if (!copy)
		return -1;
	free(*dst);
	*dst = copy;
	return 0;
}

int daemon_strlist_push(struct strlist *l, const char *s)
{
	char **v = realloc(l->v, (l->n + 1) * sizeof(*v));
	if (!v)
		return -1;
	l->v = v;
	if (!(v[l->n] = strdup(s)))
		return -1;
	l->n++;
	return 0;
}

int daemon_hb_push(struct proxy_config *p, const char *s)
{
	struct hostport *hb = realloc(p->hb_servers, (p->hb_count + 1) * sizeof(*hb));
	if (!hb)
		return -1;
	p->hb_servers = hb;
	if (!daemon_parse_hostport(s, &hb[p->hb_count]))
		return 1;
	p->hb_count++;
	return 0;
}

/* "a,b,c" appends a, b and c; empty items are skipped, as strtok does in
 * uftpproxyd. */
int daemon_strlist_push_csv(struct strlist *l, const char *csv)
{
	char *copy = strdup(csv);
	if (!copy)
		return -1;
	int rc = 0;
	char *save = NULL;
	for (char *t = strtok_r(copy, ",", &save); t && !rc;
	     t = strtok_r(NULL, ",", &save))
		rc = daemon_strlist_push(l, t);
	free(copy);
	return rc;
}

/* ---- value syntax ---- */

bool daemon_parse_long(const char *s, long *out)
{
	if (!s || !*s || isspace((unsigned char)*s))
		return false;
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

static bool all_hex(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);
	if (n < min || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

bool daemon_parse_dscp(const char *s, int *out)
{
	long v;
	if (s && (!strncmp(s, "0x", 2) || !strncmp(s, "0X", 2))) {
		if (!all_hex(s + 2, 1, 2))
			return false;
		v = strtol(s + 2, NULL, 16);
	} else if (!daemon_parse_long(s, &v)) {
		return false;
	}
	if (v < DSCP_MIN || v > DSCP_MAX)
		return false;
	*out = (int)v;
	return true;
}

/* uftpproxyd reads -U with strtoul(.., 16), so the 0x is optional; 0 and
 * 0xffffffff are not usable as member IDs in UFTP. */
bool daemon_parse_uid(const char *s, uint32_t *out)
{
	if (!s)
		return false;
	if (!strncmp(s, "0x", 2) || !strncmp(s, "0X", 2))
		s += 2;
	if (!all_hex(s, 1, 8))
		return false;
	unsigned long v = strtoul(s, NULL, 16);
	if (v == 0 || v == 0xffffffffUL)
		return false;
	*out = (uint32_t)v;
	return true;
}

bool daemon_valid_hostname(const char *s)
{
	if (!s || !*s || strlen(s) > 253)
		return false;
	for (const char *c = s; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("-._:%", *c))
			return false;
	return true;
}

/* host, host:port, [v6], [v6]:port; a bare IPv6 literal (two or more
 * colons) has no port. */
bool daemon_parse_hostport(const char *s, struct hostport *out)
{
	char host[256];
	uint16_t p = DEFAULT_PORT;
	if (fb_hostport_split(s, host, sizeof(host), &p, NULL) < 0 || !daemon_valid_hostname(host))
		return false;
	if (!(out->host = strdup(host)))
		return false;
	out->port = p;
	return true;
}

/* uftp fingerprints are SHA-1: 20 bytes as hex pairs joined by ':'. */
bool daemon_valid_fingerprint(const char *s)
{
	if (!s || strlen(s) != 20 * 3 - 1)
		return false;
	for (size_t i = 0; i < 20 * 3 - 1; i++) {
		bool sep = (i % 3 == 2);
		if (sep ? s[i] != ':' : !isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

bool daemon_valid_curve(const char *s)
{
	for (size_t i = 0; s && i < sizeof(known_curves) / sizeof(*known_curves); i++)
		if (!strcmp(s, known_curves[i]))
			return true;
	return false;
}

bool daemon_valid_keyspec(const char *s)
{
	long bits;
	if (!strncmp(s, "ec:", 3))
		return daemon_valid_curve(s + 3);
	if (!strncmp(s, "rsa:", 4))
		return daemon_parse_long(s + 4, &bits) && bits >= RSA_BITS_MIN &&
		       bits <= RSA_BITS_MAX;
	return false;
}

bool daemon_valid_multicast(const char *s)
{
	struct sockaddr_storage a;
	return s && fb_addr_parse(s, 0, &a) == 0 && fb_addr_is_multicast((const struct sockaddr *)&a);
}

/* The FTP listener binds a numeric address: no name lookups at start-up,
 * and the port is never implied. */
bool daemon_valid_listen(const char *s)
{
	char host[64];
	uint16_t port = 0;
	bool has_port = false;
	struct sockaddr_storage a;
	if (fb_hostport_split(s, host, sizeof(host), &port, &has_port) < 0 || !has_port ||
	    fb_addr_parse(host, port, &a) < 0)
		return false;
	return (a.ss_family == AF_INET6) == (s[0] == '[');
}

/* ---- errors ---- */

void daemon_set_error(struct config_error *err, const char *file, int line,
		      int column, const char *key, const char *fmt, ...)
{
	va_list ap;
	snprintf(err->file, sizeof(err->file), "%s", file ? file : "");
	err->line = line > 0 ? line : 0;
	err->column = line > 0 && column > 0 ? column : 0;
	snprintf(err->key, sizeof(err->key), "%s", key ? key : "");
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

void daemon_error_print(const struct config_error *err, FILE *out)
{
	fputs(err->file[0] ? err->file : "ferryd", out);
	if (err->line > 0)
		fprintf(out, ":%d:%d", err->line, err->column);
	if (err->key[0])
		fprintf(out, ": %s", err->key);
	fprintf(out, ": %s\n", err->msg);
}

/* ---- validation ---- */

/* Names the setting the way the user wrote it: the flag for a command
 * line, the JSON path for a file. */
struct vctx {
	const struct ferry_config *cfg;
	struct config_error *err;
	bool cli;
};

__attribute__((format(printf, 5, 6)))
static int vfail(struct vctx *v, long idx, const char *key, const char *flag,
		 const char *fmt, ...)
{
	char path[128];
	va_list ap;
	if (v->cli && flag)
		snprintf(path, sizeof(path), "%s", flag);
	else if (idx >= 0)
		snprintf(path, sizeof(path), "proxies[%ld].%s", idx, key);
	else
		snprintf(path, sizeof(path), "%s", key);
	daemon_set_error(v->err, v->cfg->source ? v->cfg->source : CLI_SOURCE,
			 0, 0, path, "%s", "");
	va_start(ap, fmt);
	vsnprintf(v->err->msg, sizeof(v->err->msg), fmt, ap);
	va_end(ap);
	return FERRY_EXIT_PARAM;
}

struct int_rule {
	const char *key;
	const char *flag;
	size_t off;
	int min, max;
};

#define PRULE(k, f, field, lo, hi) { k, f, offsetof(struct proxy_config, field), lo, hi }
static const struct int_rule proxy_rules[] = {
	PRULE("ttl", "-t", ttl, TTL_MIN, TTL_MAX),
	PRULE("dscp", "-Q", dscp, DSCP_MIN, DSCP_MAX),
	PRULE("heartbeat.interval", "-h", hb_interval, HBINT_MIN, HBINT_MAX),
	PRULE("udp_buffer", "-B", udp_buf_size, UDPBUF_MIN, UDPBUF_MAX),
	PRULE("limits.max_groups", "--max-groups", max_groups, GROUPS_MIN, GROUPS_MAX),
	PRULE("limits.max_groups_per_source", "--max-groups-per-source",
	      max_groups_per_source, GROUPS_MIN, GROUPS_MAX),
	PRULE("limits.group_idle_max", "--group-idle-max", group_idle_max,
	      GROUP_IDLE_MIN, GROUP_IDLE_MAX),
};

#define GRULE(k, f, field, lo, hi) { k, f, offsetof(struct ferry_config, field), lo, hi }
static const struct int_rule global_rules[] = {
	GRULE("workers", "--workers", workers, 0, WORKERS_MAX),
	GRULE("log.level", "-x", log_level, LOGLVL_MIN, LOGLVL_MAX),
	GRULE("log.max_size_mb", "-g", max_log_size, 0, LOGSIZE_MAX),
	GRULE("log.max_count", "-n", max_log_count, LOGCOUNT_MIN, LOGCOUNT_MAX),
	GRULE("priority", "-N", priority, PRIO_MIN, PRIO_MAX),
};

#define FRULE(k, field, lo, hi) { k, NULL, offsetof(struct ftp_config, field), lo, hi }
static const struct int_rule ftp_rules[] = {
	FRULE("ftp.max_sessions", max_sessions, 1, 1000000),
	FRULE("ftp.max_per_address", max_per_address, 1, 1000000),
	FRULE("ftp.idle_timeout", idle_timeout, 1, 86400),
	FRULE("ftp.data_timeout", data_timeout, 1, 86400),
	FRULE("ftp.spsv_timeout", spsv_timeout, 1, 3600),
	FRULE("ftp.login_delay_ms", login_delay_ms, 0, 60000),
	FRULE("ftp.max_login_failures", max_login_failures, 1, 1000),
	FRULE("ftp.lockout_seconds", lockout_seconds, 0, 86400),
	FRULE("ftp.login_timeout", login_timeout, 1, 86400),
	FRULE("ftp.max_login_commands", max_login_commands, 1, 100000),
	FRULE("ftp.max_hash_jobs", max_hash_jobs, 1, 1024),
};

#define WRULE(k, field, lo, hi) { k, NULL, offsetof(struct gateway_config, field), lo, hi }
static const struct int_rule gateway_rules[] = {
	WRULE("gateway.max_sessions", max_sessions, 1, 1000000),
	WRULE("gateway.max_unauthenticated", max_unauthenticated, 1, 1000000),
	WRULE("gateway.login_timeout", login_timeout, 1, 3600),
	WRULE("gateway.token_timeout", token_timeout, 1, 3600),
};

static int check_ints(struct vctx *v, long idx, const void *base,
		      const struct int_rule *rules, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int val = *(const int *)((const char *)base + rules[i].off);
		if (val < rules[i].min || val > rules[i].max)
			return vfail(v, idx, rules[i].key, rules[i].flag,
				     "must be %d-%d, got %d", rules[i].min,
				     rules[i].max, val);
	}
	return 0;
}

static int check_role(struct vctx *v, long i, const struct proxy_config *p)
{
	if (p->role < PROXY_SERVER || p->role > PROXY_RESPONSE)
		return vfail(v, i, "role", "-s", "exactly one of -s, -c or -r is required");
	if (p->role == PROXY_SERVER && !p->dest == !p->dest_fingerprint)
		return vfail(v, i, p->dest ? "dest" : "dest_fingerprint", "-s",
			     "a server proxy needs exactly one of a destination or a fingerprint");
	if (p->role != PROXY_SERVER && (p->dest || p->dest_fingerprint))
		return vfail(v, i, p->dest ? "dest" : "dest_fingerprint", "-s",
			     "only a server proxy has a destination");
	if (p->dest && !daemon_valid_hostname(p->dest))
		return vfail(v, i, "dest", "-s", "'%s' is not a host name or address", p->dest);
	if (p->dest_fingerprint && !daemon_valid_fingerprint(p->dest_fingerprint))
		return vfail(v, i, "dest_fingerprint", "-s",
			     "'%s' is not 20 hex pairs separated by ':'", p->dest_fingerprint);
	if (p->response_curve && p->role != PROXY_RESPONSE)
		return vfail(v, i, "response_curve", "-r", "only a response proxy has a response curve");
	if (p->response_curve && !daemon_valid_curve(p->response_curve))
		return vfail(v, i, "response_curve", "-r", "unknown EC curve '%s'", p->response_curve);
	return 0;
}

static int check_keys(struct vctx *v, long i, const struct proxy_config *p)
{
	for (size_t k = 0; k < p->key_specs.n; k++)
		if (!daemon_valid_keyspec(p->key_specs.v[k]))
			return vfail(v, i, "keys.generate", "-K",
				     "'%s' is not rsa:%d-%d or ec:CURVE", p->key_specs.v[k],
				     RSA_BITS_MIN, RSA_BITS_MAX);
	if (p->key_files.n && p->key_specs.n && p->key_files.n != p->key_specs.n)
		return vfail(v, i, "keys.generate", "-K",
			     "-k and -K must list the same number of items (%zu and %zu)",
			     p->key_files.n, p->key_specs.n);
	if (p->ecdh_curve && !daemon_valid_curve(p->ecdh_curve))
		return vfail(v, i, "keys.ecdh_curve", "-e", "unknown EC curve '%s'", p->ecdh_curve);
	return 0;
}

static int check_addresses(struct vctx *v, long i, const struct proxy_config *p)
{
	if (p->port == 0)
		return vfail(v, i, "port", "-p", "must be %d-%d, got 0", PORT_MIN, PORT_MAX);
	if (p->dest_port == 0)
		return vfail(v, i, "dest_port", "-q", "must be %d-%d, got 0", PORT_MIN, PORT_MAX);
	for (size_t k = 0; k < p->hb_count; k++)
		if (!daemon_valid_hostname(p->hb_servers[k].host) || p->hb_servers[k].port == 0)
			return vfail(v, i, "heartbeat.servers", "-H", "bad heartbeat server");
	for (size_t k = 0; k < p->pub_mcast.n; k++)
		if (!daemon_valid_multicast(p->pub_mcast.v[k]))
			return vfail(v, i, "public_multicast", "-M",
				     "'%s' is not a multicast address", p->pub_mcast.v[k]);
	for (size_t k = 0; k < p->interfaces.n; k++)
		if (!p->interfaces.v[k][0])
			return vfail(v, i, "interfaces", "-I", "empty interface name");
	if (p->out_interface && !p->out_interface[0])
		return vfail(v, i, "out_interface", "-O", "empty interface name");
	return 0;
}

static int check_proxy(struct vctx *v, long i)
{
	const struct proxy_config *p = &v->cfg->proxies[i];
	int rc = check_role(v, i, p);
	rc = rc ? rc : check_keys(v, i, p);
	rc = rc ? rc : check_addresses(v, i, p);
	rc = rc ? rc : check_ints(v, i, p, proxy_rules,
				  sizeof(proxy_rules) / sizeof(*proxy_rules));
	for (long j = 0; !rc && j < i; j++)
		if (v->cfg->proxies[j].port == p->port)
			rc = vfail(v, i, "port", "-p", "port %u is already used by proxies[%ld]",
				   p->port, j);
	return rc;
}

static bool abs_path(const char *s)
{
	return s && s[0] == '/';
}

static int check_ftp_user(struct vctx *v, size_t i)
{
	const struct ftp_user *u = &v->cfg->ftp.users[i];
	char key[64];
	if (!u->name || !u->name[0] || strpbrk(u->name, " \t\r\n:/"))
		return snprintf(key, sizeof(key), "ftp.users[%zu].name", i),
		       vfail(v, -1, key, NULL, "a user needs a name without spaces, ':' or '/'");
	if (!u->password_hash || u->password_hash[0] != '$')
		return snprintf(key, sizeof(key), "ftp.users[%zu].password", i),
		       vfail(v, -1, key, NULL, "a crypt(3) hash ($y$..., $6$...) is required");
	if (!abs_path(u->root))
		return snprintf(key, sizeof(key), "ftp.users[%zu].root", i),
		       vfail(v, -1, key, NULL, "an absolute root directory is required");
	for (size_t j = 0; j < i; j++)
		if (!strcmp(v->cfg->ftp.users[j].name, u->name))
			return snprintf(key, sizeof(key), "ftp.users[%zu].name", i),
			       vfail(v, -1, key, NULL, "user '%s' is already defined", u->name);
	return 0;
}

static bool is_listener(const struct ftp_config *f, const char *addr)
{
	for (size_t i = 0; i < f->listen.n; i++)
		if (fb_listen_same(f->listen.v[i], addr))
			return true;
	for (size_t i = 0; i < f->tls_implicit.n; i++)
		if (fb_listen_same(f->tls_implicit.v[i], addr))
			return true;
	return false;
}

/* ftp.tls: listeners and policies that need a certificate have one; a
 * policy names a listener that exists. */
static int check_ftp_tls(struct vctx *v)
{
	const struct ftp_config *f = &v->cfg->ftp;
	bool have = f->tls_cert || f->tls_cert_count;
	char key[64];
	if (!f->tls_cert != !f->tls_key)
		return vfail(v, -1, f->tls_cert ? "ftp.tls.key" : "ftp.tls.cert", NULL,
			     "TLS needs both a certificate and a key");
	for (size_t i = 0; i < f->tls_implicit.n; i++) {
		snprintf(key, sizeof(key), "ftp.tls.implicit_listen[%zu]", i);
		if (!daemon_valid_listen(f->tls_implicit.v[i]))
			return vfail(v, -1, key, NULL, "'%s' is not ADDR:PORT or [V6ADDR]:PORT",
				     f->tls_implicit.v[i]);
		for (size_t j = 0; j < f->listen.n; j++)
			if (fb_listen_same(f->listen.v[j], f->tls_implicit.v[i]))
				return vfail(v, -1, key, NULL, "'%s' is also in ftp.listen",
					     f->tls_implicit.v[i]);
	}
	for (size_t i = 0; i < f->tls_listener_count; i++)
		if (!is_listener(f, f->tls_listeners[i].listen))
			return snprintf(key, sizeof(key), "ftp.tls.listeners[%zu].listen", i),
			       vfail(v, -1, key, NULL, "'%s' is in neither ftp.listen nor "
				     "ftp.tls.implicit_listen", f->tls_listeners[i].listen);
	bool strict = f->tls_required || f->tls_policy > TLS_POLICY_OPTIONAL ||
		      f->tls_implicit.n || f->tls_listener_count;
	for (size_t i = 0; i < f->user_count; i++)
		strict |= f->users[i].tls > TLS_POLICY_OPTIONAL;
	if (strict && !have)
		return vfail(v, -1, "ftp.tls", NULL, "a TLS policy or an implicit FTPS "
			     "listener needs a certificate (ftp.tls.cert and key, or "
			     "ftp.tls.certificates)");
	if (f->tls_ktls == KTLS_REQUIRED && !have)
		return vfail(v, -1, "ftp.tls.ktls", NULL, "\"required\" needs FTPS (a "
			     "certificate: ftp.tls.cert and key, or ftp.tls.certificates)");
	return 0;
}

static int check_ftp(struct vctx *v)
{
	const struct ftp_config *f = &v->cfg->ftp;
	char key[64];
	if (!f->enabled)
		return 0;
	if (f->listen.n == 0)
		return vfail(v, -1, "ftp.listen", "--ftp-listen", "no listen address");
	for (size_t i = 0; i < f->listen.n; i++)
		if (!daemon_valid_listen(f->listen.v[i]))
			return snprintf(key, sizeof(key), "ftp.listen[%zu]", i),
			       vfail(v, -1, key, "--ftp-listen",
				     "'%s' is not ADDR:PORT or [V6ADDR]:PORT", f->listen.v[i]);
	for (size_t i = 0; i < f->user_count; i++)
		if (check_ftp_user(v, i))
			return FERRY_EXIT_PARAM;
	if (f->anonymous_root && !abs_path(f->anonymous_root))
		return vfail(v, -1, "ftp.anonymous.root", "--ftp-root",
			     "'%s' is not an absolute path", f->anonymous_root);
	if (f->user_count == 0 && !f->anonymous_root)
		return vfail(v, -1, "ftp.users", "--ftp-root", "no users and no anonymous root");
	for (size_t i = 0; i < f->proxy_from.n; i++) {
		struct fb_prefix p;
		if (fb_prefix_parse(f->proxy_from.v[i], &p) < 0)
			return snprintf(key, sizeof(key), "ftp.proxy_protocol[%zu]", i),
			       vfail(v, -1, key, NULL, "'%s' is not an address or ADDR/BITS",
				     f->proxy_from.v[i]);
	}
	if (check_ftp_tls(v))
		return FERRY_EXIT_PARAM;
	return check_ints(v, -1, f, ftp_rules, sizeof(ftp_rules) / sizeof(*ftp_rules));
}

/* gateway.tls and gateway.backend_tls: a certificate with its key; TLS
 * toward the clients only with the backend leg chosen explicitly, so that an
 * operator never gets a clear backend hop without having said so; the
 * backend's certificate verified with backend_ca (or the system's CAs)
 * unless backend_insecure says otherwise, never both. */
static int check_gateway_tls(struct vctx *v)
{
	const struct gateway_config *g = &v->cfg->gateway;
	if (!g->tls_cert != !g->tls_key)
		return vfail(v, -1, g->tls_cert ? "gateway.tls.key" : "gateway.tls.cert", NULL,
			     "a certificate needs its key and a key its certificate");
	if (!g->tls_cert && g->tls_policy > TLS_POLICY_OPTIONAL)
		return vfail(v, -1, "gateway.tls.policy", NULL,
			     "a TLS policy needs a certificate (gateway.tls.cert and key)");
	if (!g->tls_cert && g->tls_implicit.n)
		return vfail(v, -1, "gateway.tls.implicit_listen", NULL,
			     "an implicit FTPS listener needs a certificate (gateway.tls.cert "
			     "and key)");
	for (size_t i = 0; i < g->tls_implicit.n; i++)
		for (size_t j = 0; j < g->listen.n; j++)
			if (fb_listen_same(g->listen.v[j], g->tls_implicit.v[i]))
				return vfail(v, -1, "gateway.tls.implicit_listen", NULL,
					     "'%s' is also in gateway.listen", g->tls_implicit.v[i]);
	bool btls = g->backend_tls == GW_BACKEND_TLS_AUTO ||
		    g->backend_tls == GW_BACKEND_TLS_REQUIRED;
	if (g->tls_cert && g->backend_tls == GW_BACKEND_TLS_UNSET)
		return vfail(v, -1, "gateway.backend_tls", NULL,
			     "with gateway.tls the backend hop must be chosen: \"required\", "
			     "\"auto\" (TLS when the backend offers it) or \"off\" (in clear: "
			     "passwords cross it unencrypted)");
	if ((g->backend_ca || g->backend_insecure) && !btls)
		return vfail(v, -1, g->backend_ca ? "gateway.backend_ca" : "gateway.backend_insecure",
			     NULL, "needs gateway.backend_tls \"auto\" or \"required\"");
	if (g->backend_ca && g->backend_insecure)
		return vfail(v, -1, "gateway.backend_insecure", NULL,
			     "a CA file to verify with, or no verification: not both");
	return 0;
}

static int check_gateway(struct vctx *v)
{
	const struct gateway_config *g = &v->cfg->gateway;
	char key[64];
	if (!g->enabled)
		return 0;
	if (g->listen.n == 0)
		return vfail(v, -1, "gateway.listen", NULL, "no listen address");
	for (size_t i = 0; i < g->listen.n; i++)
		if (!daemon_valid_listen(g->listen.v[i]))
			return snprintf(key, sizeof(key), "gateway.listen[%zu]", i),
			       vfail(v, -1, key, NULL, "'%s' is not ADDR:PORT or [V6ADDR]:PORT",
				     g->listen.v[i]);
	/* The port is required: a legacy server on 1044 by default is no default. */
	char host[256];
	uint16_t port;
	bool has_port = false;
	bool ok = g->backend &&
		  fb_hostport_split(g->backend, host, sizeof(host), &port, &has_port) == 0 &&
		  has_port && daemon_valid_hostname(host);
	if (!ok)
		return vfail(v, -1, "gateway.backend", NULL,
			     "the legacy FTP server as \"HOST:PORT\" is required");
	int r = check_gateway_tls(v);
	if (r)
		return r;
	return check_ints(v, -1, g, gateway_rules, sizeof(gateway_rules) / sizeof(*gateway_rules));
}

int daemon_validate(const struct ferry_config *cfg, struct config_error *err)
{
	struct vctx v = { cfg, err, !cfg->source || !strcmp(cfg->source, CLI_SOURCE) };
	if (cfg->proxy_count == 0 && !cfg->ftp.enabled && !cfg->gateway.enabled)
		return vfail(&v, -1, "proxies", "-s",
			     "nothing to run: no proxy (-s, -c or -r), no FTP service and "
			     "no gateway");
	for (size_t i = 0; i < cfg->proxy_count; i++)
		if (check_proxy(&v, (long)i))
			return FERRY_EXIT_PARAM;
	if (!cfg->log_file || !cfg->log_file[0])
		return vfail(&v, -1, "log.file", "-L", "empty log file name");
	if (cfg->pidfile && !cfg->pidfile[0])
		return vfail(&v, -1, "pidfile", "-P", "empty pidfile name");
	if (cfg->user && (!cfg->user[0] || strchr(cfg->user, ':')))
		return vfail(&v, -1, "user", "--user", "'%s' is not a user name", cfg->user);
	if (cfg->group && !cfg->group[0])
		return vfail(&v, -1, "group", "--user", "empty group name");
	if (check_ints(&v, -1, cfg, global_rules, sizeof(global_rules) / sizeof(*global_rules)))
		return FERRY_EXIT_PARAM;
	if (cfg->metrics_listen && !daemon_valid_listen(cfg->metrics_listen))
		return vfail(&v, -1, "metrics.listen", "--metrics-listen",
			     "'%s' is not ADDR:PORT or [V6ADDR]:PORT", cfg->metrics_listen);
	return check_ftp(&v) ? FERRY_EXIT_PARAM : check_gateway(&v);
}
