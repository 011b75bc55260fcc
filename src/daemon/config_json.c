/* config_json.c — reads ferryd's JSON configuration (see ferryd.json(5)) into
 * a struct ferry_config, reporting every bad key with its line and column. */
#include "config_priv.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CONFIG_BYTES (4u << 20)

struct jctx {
	const char *text;
	size_t len;
	const char *name;
	struct config_error *err;
};

/* Paths are for messages only; one that does not fit is cut short. */
__attribute__((format(printf, 3, 4)))
static void jpath(char *out, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out, cap, fmt, ap);
	va_end(ap);
}

/* ---- locating a value in the text ----
 * jansson keeps no positions for values, so this small scanner walks the
 * (already well-formed) text again, tracking the path of the value it is
 * on, until it reaches the one an error is about. */

struct scan {
	const char *s;
	size_t len, pos;
	int line, col;
	const char *want;
	bool found;
	int fline, fcol;
	char path[256];
};

static void sc_next(struct scan *sc)
{
	unsigned char ch = (unsigned char)sc->s[sc->pos++];
	if (ch == '\n') {
		sc->line++;
		sc->col = 0;
	} else if ((ch & 0xc0) != 0x80) {   /* columns count characters, as jansson does */
		sc->col++;
	}
}

static char sc_peek(const struct scan *sc)
{
	return sc->pos < sc->len ? sc->s[sc->pos] : '\0';
}

static void sc_ws(struct scan *sc)
{
	while (sc->pos < sc->len && strchr(" \t\r\n", sc_peek(sc)))
		sc_next(sc);
}

/* Copies a string's raw bytes (escapes are kept as written; keys in the
 * schema never need them) and moves past its closing quote. */
static void sc_string(struct scan *sc, char *out, size_t cap)
{
	size_t n = 0;
	sc_next(sc);
	while (sc->pos < sc->len && sc_peek(sc) != '"') {
		if (sc_peek(sc) == '\\') {
			sc_next(sc);
			if (sc->pos >= sc->len)
				break;
		}
		if (out && n + 1 < cap)
			out[n++] = sc_peek(sc);
		sc_next(sc);
	}
	if (sc->pos < sc->len)
		sc_next(sc);
	if (out)
		out[n] = '\0';
}

static void sc_value(struct scan *sc);

static void sc_members(struct scan *sc, char close, bool object)
{
	size_t base = strlen(sc->path);
	sc_next(sc);
	for (size_t idx = 0; !sc->found && sc->pos < sc->len; idx++) {
		sc_ws(sc);
		if (sc_peek(sc) == close)
			break;
		char key[128];
		if (object) {
			sc_string(sc, key, sizeof(key));
			jpath(sc->path + base, sizeof(sc->path) - base,
			      base ? ".%s" : "%s", key);
			sc_ws(sc);
			sc_next(sc);   /* ':' */
		} else {
			jpath(sc->path + base, sizeof(sc->path) - base, "[%zu]", idx);
		}
		sc_value(sc);
		sc->path[base] = '\0';
		sc_ws(sc);
		if (sc_peek(sc) != ',')
			break;
		sc_next(sc);
	}
	if (!sc->found && sc->pos < sc->len)
		sc_next(sc);
}

static void sc_value(struct scan *sc)
{
	sc_ws(sc);
	if (!strcmp(sc->path, sc->want)) {
		sc->found = true;
		sc->fline = sc->line;
		sc->fcol = sc->col + 1;
		return;
	}
	char c = sc_peek(sc);
	if (c == '{' || c == '[')
		sc_members(sc, c == '{' ? '}' : ']', c == '{');
	else if (c == '"')
		sc_string(sc, NULL, 0);
	else
		while (sc->pos < sc->len && !strchr(",}] \t\r\n", sc_peek(sc)))
			sc_next(sc);
}

/* A key that is missing (say a server proxy without "dest") is reported
 * at the nearest enclosing value that is there. */
static void locate(const struct jctx *c, const char *path, int *line, int *col)
{
	char want[256];
	jpath(want, sizeof(want), "%s", path);
	for (;;) {
		struct scan sc = { .s = c->text, .len = c->len, .line = 1, .want = want };
		sc_value(&sc);
		*line = sc.found ? sc.fline : 0;
		*col = sc.found ? sc.fcol : 0;
		char *cut = strrchr(want, '.');
		char *brk = strrchr(want, '[');
		if (brk > cut)
			cut = brk;
		if (sc.found || !want[0])
			return;
		if (cut)
			*cut = '\0';
		else
			want[0] = '\0';
	}
}

__attribute__((format(printf, 3, 4)))
static int jfail(const struct jctx *c, const char *path, const char *fmt, ...)
{
	int line, col;
	va_list ap;
	locate(c, path, &line, &col);
	daemon_set_error(c->err, c->name, line, col, path, "%s", "");
	va_start(ap, fmt);
	vsnprintf(c->err->msg, sizeof(c->err->msg), fmt, ap);
	va_end(ap);
	return FERRY_EXIT_PARAM;
}

static int joom(const struct jctx *c, const char *path)
{
	return jfail(c, path, "out of memory");
}

/* ---- the schema ---- */

enum jkind { J_INT, J_PORT, J_BOOL, J_STR, J_STRLIST, J_OBJ, J_FN };

struct jfield;
typedef int jfield_fn(const struct jctx *c, json_t *v, void *base, const char *path);

struct jschema {
	const struct jfield *f;
	size_t n;
};

struct jfield {
	const char *key;
	enum jkind kind;
	size_t off;                    /* from the object's base struct */
	long min, max;                 /* J_INT, J_PORT */
	bool (*check)(const char *);   /* J_STR, J_STRLIST items */
	const char *what;              /* what check() accepts, for messages */
	const struct jschema *sub;     /* J_OBJ: same base, moved by off */
	jfield_fn *fn;                 /* J_FN */
};

static int walk(const struct jctx *c, json_t *obj, const struct jschema *s,
		void *base, const char *path);

static void join(char *out, size_t cap, const char *path, const char *key)
{
	jpath(out, cap, *path ? "%s.%s" : "%s%s", path, key);
}

static int get_int(const struct jctx *c, json_t *v, const struct jfield *f,
		   const char *path, long *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < f->min ||
	    json_integer_value(v) > f->max) {
		char *txt = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		int rc = jfail(c, path, "must be an integer %ld-%ld, got %s", f->min, f->max,
			       txt ? txt : "?");
		free(txt);
		return rc;
	}
	*out = (long)json_integer_value(v);
	return 0;
}

static int get_str(const struct jctx *c, json_t *v, const struct jfield *f,
		   const char *path, char **dst)
{
	if (!json_is_string(v) || !json_string_length(v))
		return jfail(c, path, "must be a non-empty string");
	if (f->check && !f->check(json_string_value(v)))
		return jfail(c, path, "must be %s, got '%s'", f->what, json_string_value(v));
	return daemon_strdup(dst, json_string_value(v)) ? joom(c, path) : 0;
}

static int get_strlist(const struct jctx *c, json_t *v, const struct jfield *f,
		       const char *path, struct strlist *l)
{
	char item[256];
	size_t i;
	json_t *e;
	if (!json_is_array(v))
		return jfail(c, path, "must be an array of strings");
	daemon_strlist_free(l);
	json_array_foreach(v, i, e) {
		char *s = NULL;
		jpath(item, sizeof(item), "%s[%zu]", path, i);
		int rc = get_str(c, e, f, item, &s);
		if (!rc && daemon_strlist_push(l, s))
			rc = joom(c, item);
		free(s);
		if (rc)
			return rc;
	}
	return 0;
}

static int set_field(const struct jctx *c, json_t *v, const struct jfield *f,
		     void *base, const char *path)
{
	void *dst = (char *)base + f->off;
	long n = 0;
	switch (f->kind) {
	case J_INT:
		if (get_int(c, v, f, path, &n))
			return FERRY_EXIT_PARAM;
		*(int *)dst = (int)n;
		return 0;
	case J_PORT:
		if (get_int(c, v, f, path, &n))
			return FERRY_EXIT_PARAM;
		*(uint16_t *)dst = (uint16_t)n;
		return 0;
	case J_BOOL:
		if (!json_is_boolean(v))
			return jfail(c, path, "must be true or false");
		*(bool *)dst = json_is_true(v);
		return 0;
	case J_STR:
		return get_str(c, v, f, path, dst);
	case J_STRLIST:
		return get_strlist(c, v, f, path, dst);
	case J_OBJ:
		return walk(c, v, f->sub, dst, path);
	case J_FN:
		return f->fn(c, v, base, path);
	}
	return jfail(c, path, "internal: unknown field kind");
}

static int walk(const struct jctx *c, json_t *obj, const struct jschema *s,
		void *base, const char *path)
{
	const char *key;
	json_t *v;
	char sub[256];
	if (!json_is_object(obj))
		return jfail(c, path, "must be an object");
	json_object_foreach(obj, key, v) {
		const struct jfield *f = NULL;
		for (size_t i = 0; i < s->n && !f; i++)
			if (!strcmp(s->f[i].key, key))
				f = &s->f[i];
		join(sub, sizeof(sub), path, key);
		if (!f)
			return jfail(c, sub, "unknown key (see ferryd.json(5))");
		if (set_field(c, v, f, base, sub))
			return FERRY_EXIT_PARAM;
	}
	return 0;
}

/* ---- special values ---- */

static int j_role(const struct jctx *c, json_t *v, void *base, const char *path)
{
	static const char *const names[] = { [PROXY_SERVER] = "server",
		[PROXY_CLIENT] = "client", [PROXY_RESPONSE] = "response" };
	struct proxy_config *p = base;
	for (int r = PROXY_SERVER; r <= PROXY_RESPONSE; r++)
		if (json_is_string(v) && !strcmp(json_string_value(v), names[r])) {
			p->role = (enum proxy_role)r;
			return 0;
		}
	return jfail(c, path, "must be \"server\", \"client\" or \"response\"");
}

static int j_dscp(const struct jctx *c, json_t *v, void *base, const char *path)
{
	struct proxy_config *p = base;
	if (json_is_integer(v) && json_integer_value(v) >= DSCP_MIN &&
	    json_integer_value(v) <= DSCP_MAX) {
		p->dscp = (int)json_integer_value(v);
		return 0;
	}
	if (json_is_string(v) && daemon_parse_dscp(json_string_value(v), &p->dscp))
		return 0;
	return jfail(c, path, "must be 0-63, as an integer or a \"0x..\" string");
}

static int j_uid(const struct jctx *c, json_t *v, void *base, const char *path)
{
	struct proxy_config *p = base;
	if (!json_is_string(v) || !daemon_parse_uid(json_string_value(v), &p->uid))
		return jfail(c, path, "must be a string of 1-8 hex digits (\"0xnnnnnnnn\"), "
			     "not 0 or 0xffffffff");
	p->uid_set = true;
	return 0;
}

static int j_hb_servers(const struct jctx *c, json_t *v, void *base, const char *path)
{
	struct proxy_config *p = base;
	char item[256];
	size_t i;
	json_t *e;
	if (!json_is_array(v))
		return jfail(c, path, "must be an array of \"host[:port]\" strings");
	json_array_foreach(v, i, e) {
		jpath(item, sizeof(item), "%s[%zu]", path, i);
		int r = json_is_string(e) ? daemon_hb_push(p, json_string_value(e)) : 1;
		if (r < 0)
			return joom(c, item);
		if (r > 0)
			return jfail(c, item, "must be \"host[:port]\" with port 1-65535");
	}
	return 0;
}

static bool is_abs_path(const char *s)
{
	return s[0] == '/';
}

/* One to four octal digits, at most 0777. */
static bool is_umask(const char *s)
{
	size_t n = strspn(s, "01234567");
	return n >= 1 && n <= 4 && !s[n] && strtol(s, NULL, 8) <= 0777;
}

#define F_INT(k, st, f, lo, hi) { k, J_INT, offsetof(st, f), lo, hi, NULL, NULL, NULL, NULL }
#define F_PORT(k, f) { k, J_PORT, offsetof(struct proxy_config, f), PORT_MIN, PORT_MAX, NULL, NULL, NULL, NULL }
#define F_BOOL(k, st, f) { k, J_BOOL, offsetof(st, f), 0, 0, NULL, NULL, NULL, NULL }
#define F_STR(k, st, f, chk, what) { k, J_STR, offsetof(st, f), 0, 0, chk, what, NULL, NULL }
#define F_LIST(k, st, f, chk, what) { k, J_STRLIST, offsetof(st, f), 0, 0, chk, what, NULL, NULL }
#define F_OBJ(k, off, sub) { k, J_OBJ, off, 0, 0, NULL, NULL, &sub, NULL }
#define F_FN(k, fn) { k, J_FN, 0, 0, 0, NULL, NULL, NULL, fn }
#define SCHEMA(name, arr) static const struct jschema name = { arr, sizeof(arr) / sizeof(*arr) }

#define PC struct proxy_config
static const struct jfield heartbeat_fields[] = {
	F_FN("servers", j_hb_servers),
	F_INT("interval", PC, hb_interval, HBINT_MIN, HBINT_MAX),
};
SCHEMA(heartbeat_schema, heartbeat_fields);

static const struct jfield keys_fields[] = {
	F_LIST("files", PC, key_files, NULL, NULL),
	F_LIST("generate", PC, key_specs, daemon_valid_keyspec, "rsa:512-2048 or ec:CURVE"),
	F_STR("ecdh_curve", PC, ecdh_curve, daemon_valid_curve, "an EC curve from ferryd.json(5)"),
};
SCHEMA(keys_schema, keys_fields);

static const struct jfield limits_fields[] = {
	F_INT("max_groups", PC, max_groups, GROUPS_MIN, GROUPS_MAX),
	F_INT("max_groups_per_source", PC, max_groups_per_source, GROUPS_MIN, GROUPS_MAX),
	F_INT("group_idle_max", PC, group_idle_max, GROUP_IDLE_MIN, GROUP_IDLE_MAX),
};
SCHEMA(limits_schema, limits_fields);

static const struct jfield proxy_fields[] = {
	F_STR("name", PC, name, NULL, NULL),
	F_FN("role", j_role),
	F_STR("dest", PC, dest, daemon_valid_hostname, "a host name or address"),
	F_STR("dest_fingerprint", PC, dest_fingerprint, daemon_valid_fingerprint,
	      "20 hex pairs joined by ':'"),
	F_STR("response_curve", PC, response_curve, daemon_valid_curve, "an EC curve from ferryd.json(5)"),
	F_PORT("port", port),
	F_PORT("dest_port", dest_port),
	F_INT("ttl", PC, ttl, TTL_MIN, TTL_MAX),
	F_FN("dscp", j_dscp),
	F_STR("out_interface", PC, out_interface, NULL, NULL),
	F_FN("uid", j_uid),
	F_OBJ("heartbeat", 0, heartbeat_schema),
	F_INT("udp_buffer", PC, udp_buf_size, UDPBUF_MIN, UDPBUF_MAX),
	F_BOOL("udp_buffer_force", PC, udp_buf_force),
	F_OBJ("limits", 0, limits_schema),
	F_STR("client_list", PC, client_list, NULL, NULL),
	F_STR("server_list", PC, server_list, NULL, NULL),
	F_OBJ("keys", 0, keys_schema),
	F_BOOL("system_keys", PC, system_keys),
	F_LIST("interfaces", PC, interfaces, NULL, NULL),
	F_LIST("public_multicast", PC, pub_mcast, daemon_valid_multicast, "a multicast IP address"),
};
SCHEMA(proxy_schema, proxy_fields);
#undef PC

#define FC struct ftp_config
static int parse_policy(const struct jctx *c, json_t *v, const char *path,
			enum tls_policy *out)
{
	static const char *const names[] = { [TLS_POLICY_OPTIONAL] = "optional",
		[TLS_POLICY_LOGIN] = "login", [TLS_POLICY_DATA] = "data" };
	for (int p = TLS_POLICY_OPTIONAL; p <= TLS_POLICY_DATA; p++)
		if (json_is_string(v) && !strcmp(json_string_value(v), names[p])) {
			*out = (enum tls_policy)p;
			return 0;
		}
	return jfail(c, path, "must be \"optional\", \"login\" or \"data\"");
}

static int j_ktls(const struct jctx *c, json_t *v, void *base, const char *path)
{
	static const char *const names[] = { [KTLS_AUTO] = "auto", [KTLS_OFF] = "off",
		[KTLS_REQUIRED] = "required" };
	for (int m = KTLS_AUTO; m <= KTLS_REQUIRED; m++)
		if (json_is_string(v) && !strcmp(json_string_value(v), names[m])) {
			((struct ftp_config *)base)->tls_ktls = (enum ktls_mode)m;
			return 0;
		}
	return jfail(c, path, "must be \"auto\", \"off\" or \"required\"");
}

static int j_user_tls(const struct jctx *c, json_t *v, void *base, const char *path)
{
	return parse_policy(c, v, path, &((struct ftp_user *)base)->tls);
}

static int j_tls_policy(const struct jctx *c, json_t *v, void *base, const char *path)
{
	return parse_policy(c, v, path, &((struct ftp_config *)base)->tls_policy);
}

static int j_listener_policy(const struct jctx *c, json_t *v, void *base, const char *path)
{
	return parse_policy(c, v, path, &((struct ftp_tls_listener *)base)->policy);
}

static const struct jfield user_fields[] = {
	F_FN("tls", j_user_tls),
	F_STR("name", struct ftp_user, name, NULL, NULL),
	F_STR("password", struct ftp_user, password_hash, NULL, NULL),
	F_STR("root", struct ftp_user, root, is_abs_path, "an absolute path"),
	F_BOOL("write", struct ftp_user, write),
	F_STR("umask", struct ftp_user, umask, is_umask, "an octal umask such as \"027\""),
};
SCHEMA(user_schema, user_fields);

static const struct jfield anon_fields[] = {
	F_STR("root", FC, anonymous_root, is_abs_path, "an absolute path"),
	F_BOOL("write", FC, anonymous_write),
	F_BOOL("upload_only", FC, anonymous_upload_only),
	F_STR("umask", FC, anonymous_umask, is_umask, "an octal umask such as \"027\""),
};
SCHEMA(anon_schema, anon_fields);

static const struct jfield cert_fields[] = {
	F_STR("cert", struct ftp_tls_cert, cert, NULL, NULL),
	F_STR("key", struct ftp_tls_cert, key, NULL, NULL),
};
SCHEMA(cert_schema, cert_fields);

static const struct jfield listener_fields[] = {
	F_STR("listen", struct ftp_tls_listener, listen, daemon_valid_listen,
	      "ADDR:PORT or [V6ADDR]:PORT"),
	F_FN("policy", j_listener_policy),
};
SCHEMA(listener_schema, listener_fields);

/* An array of objects read into a growing array of structs: the element
 * size, its schema, what the elements are called in the error message, and
 * missing(), which says what a filled element lacks, or NULL. */
struct jarray {
	size_t size;
	const struct jschema *sch;
	const char *what;
	const char *(*missing)(const void *elem);
};

/* Elements are zeroed and counted before they are filled, so that
 * daemon_config_free frees them. */
static int j_array(const struct jctx *c, json_t *v, const char *path, void **arr,
		   size_t *count, const struct jarray *a)
{
	char item[256];
	size_t i, size = a->size;
	json_t *e;
	if (!json_is_array(v))
		return jfail(c, path, "must be an array of %s", a->what);
	json_array_foreach(v, i, e) {
		jpath(item, sizeof(item), "%s[%zu]", path, i);
		char *grown = realloc(*arr, (*count + 1) * size);
		if (!grown)
			return joom(c, item);
		*arr = grown;
		char *elem = grown + *count * size;
		memset(elem, 0, size);
		(*count)++;
		if (walk(c, e, a->sch, elem, item))
			return FERRY_EXIT_PARAM;
		const char *lack = a->missing(elem);
		if (lack)
			return jfail(c, item, "%s", lack);
	}
	return 0;
}

static const char *cert_missing(const void *elem)
{
	const struct ftp_tls_cert *t = elem;
	return !t->cert ? "\"cert\" is required" : !t->key ? "\"key\" is required" : NULL;
}

static const char *listener_missing(const void *elem)
{
	const struct ftp_tls_listener *l = elem;
	return !l->listen ? "\"listen\" is required" :
	       !l->policy ? "\"policy\" is required" : NULL;
}

static const struct jarray cert_array = {
	sizeof(struct ftp_tls_cert), &cert_schema, "objects", cert_missing,
};
static const struct jarray listener_array = {
	sizeof(struct ftp_tls_listener), &listener_schema, "objects", listener_missing,
};

static int j_certificates(const struct jctx *c, json_t *v, void *base, const char *path)
{
	struct ftp_config *f = base;
	return j_array(c, v, path, (void **)&f->tls_certs, &f->tls_cert_count, &cert_array);
}

static int j_listeners(const struct jctx *c, json_t *v, void *base, const char *path)
{
	struct ftp_config *f = base;
	return j_array(c, v, path, (void **)&f->tls_listeners, &f->tls_listener_count,
		       &listener_array);
}

/* "MIN-MAX", both 1024-65535: the ports PASV and EPSV listen on. */
static int j_passive_ports(const struct jctx *c, json_t *v, void *base, const char *path)
{
	struct ftp_config *f = base;
	const char *s = json_is_string(v) ? json_string_value(v) : NULL;
	if (!s)
		return jfail(c, path, "must be a string \"MIN-MAX\" such as \"40000-40999\"");
	char *dash = NULL, *end = NULL;
	unsigned long lo = 0, hi = 0;
	if (*s >= '0' && *s <= '9')
		lo = strtoul(s, &dash, 10);
	if (dash && *dash == '-' && dash[1] >= '0' && dash[1] <= '9')
		hi = strtoul(dash + 1, &end, 10);
	if (!end || *end)
		return jfail(c, path, "must be \"MIN-MAX\" such as \"40000-40999\", got '%s'", s);
	if (lo < PASV_PORT_MIN || hi < PASV_PORT_MIN || lo > PORT_MAX || hi > PORT_MAX)
		return jfail(c, path, "ports must be %d-%d, got '%s'", PASV_PORT_MIN, PORT_MAX, s);
	if (lo > hi)
		return jfail(c, path, "the first port must not be above the second, got '%s'", s);
	f->passive_min = (uint16_t)lo;
	f->passive_max = (uint16_t)hi;
	return 0;
}

static const struct jfield tls_fields[] = {
	F_STR("cert", FC, tls_cert, NULL, NULL),
	F_STR("key", FC, tls_key, NULL, NULL),
	F_BOOL("required", FC, tls_required),
	F_FN("policy", j_tls_policy),
	F_FN("certificates", j_certificates),
	F_LIST("implicit_listen", FC, tls_implicit, daemon_valid_listen,
	       "ADDR:PORT or [V6ADDR]:PORT"),
	F_FN("listeners", j_listeners),
	F_BOOL("require_reuse", FC, tls_require_reuse),
	F_FN("ktls", j_ktls),
};
SCHEMA(tls_schema, tls_fields);

static int j_users(const struct jctx *c, json_t *v, void *base, const char *path);

static const struct jfield ftp_fields[] = {
	F_LIST("listen", FC, listen, daemon_valid_listen, "ADDR:PORT or [V6ADDR]:PORT"),
	F_FN("users", j_users),
	F_OBJ("anonymous", 0, anon_schema),
	F_INT("max_sessions", FC, max_sessions, 1, 1000000),
	F_INT("max_per_address", FC, max_per_address, 1, 1000000),
	F_INT("idle_timeout", FC, idle_timeout, 1, 86400),
	F_INT("data_timeout", FC, data_timeout, 1, 86400),
	F_INT("spsv_timeout", FC, spsv_timeout, 1, 3600),
	F_FN("passive_ports", j_passive_ports),
	F_INT("login_delay_ms", FC, login_delay_ms, 0, 60000),
	F_INT("max_login_failures", FC, max_login_failures, 1, 1000),
	F_INT("lockout_seconds", FC, lockout_seconds, 0, 86400),
	F_STR("xferlog", FC, xferlog, NULL, NULL),
	F_BOOL("spsv_bind_address", FC, spsv_bind_address),
	F_INT("login_timeout", FC, login_timeout, 1, 86400),
	F_INT("max_login_commands", FC, max_login_commands, 1, 100000),
	F_INT("max_hash_jobs", FC, max_hash_jobs, 1, 1024),
	F_BOOL("atomic_uploads", FC, atomic_uploads),
	F_OBJ("tls", 0, tls_schema),
	F_LIST("proxy_protocol", FC, proxy_from, NULL, NULL),
};
SCHEMA(ftp_schema, ftp_fields);
#undef FC

static const char *user_missing(const void *elem)
{
	const struct ftp_user *u = elem;
	return !u->name || !u->password_hash || !u->root ?
	       "a user needs \"name\", \"password\" and \"root\"" : NULL;
}

static const struct jarray user_array = {
	sizeof(struct ftp_user), &user_schema, "user objects", user_missing,
};

static int j_users(const struct jctx *c, json_t *v, void *base, const char *path)
{
	struct ftp_config *f = base;
	return j_array(c, v, path, (void **)&f->users, &f->user_count, &user_array);
}

static int j_ftp(const struct jctx *c, json_t *v, void *base, const char *path)
{
	struct ftp_config *f = &((struct ferry_config *)base)->ftp;
	f->enabled = true;
	if (walk(c, v, &ftp_schema, f, path))
		return FERRY_EXIT_PARAM;
	/* A drop box writes: the unsafe set-up checks and the sandbox's
	 * rules must see it as anonymous write access. */
	if (f->anonymous_upload_only)
		f->anonymous_write = true;
	if (f->listen.n == 0 && daemon_strlist_push(&f->listen, DEFAULT_FTP_LISTEN))
		return joom(c, path);
	return 0;
}

#define WC struct gateway_config
static int j_gw_policy(const struct jctx *c, json_t *v, void *base, const char *path)
{
	return parse_policy(c, v, path, &((struct gateway_config *)base)->tls_policy);
}

static int j_backend_tls(const struct jctx *c, json_t *v, void *base, const char *path)
{
	static const char *const names[] = { [GW_BACKEND_TLS_OFF] = "off",
		[GW_BACKEND_TLS_AUTO] = "auto", [GW_BACKEND_TLS_REQUIRED] = "required" };
	for (int k = GW_BACKEND_TLS_OFF; k <= GW_BACKEND_TLS_REQUIRED; k++)
		if (json_is_string(v) && !strcmp(json_string_value(v), names[k])) {
			((struct gateway_config *)base)->backend_tls = (enum gw_backend_tls)k;
			return 0;
		}
	return jfail(c, path, "must be \"off\", \"auto\" or \"required\"");
}

static const struct jfield gateway_tls_fields[] = {
	F_STR("cert", WC, tls_cert, NULL, NULL),
	F_STR("key", WC, tls_key, NULL, NULL),
	F_LIST("implicit_listen", WC, tls_implicit, daemon_valid_listen,
	       "ADDR:PORT or [V6ADDR]:PORT"),
	F_FN("policy", j_gw_policy),
	F_BOOL("require_reuse", WC, tls_require_reuse),
};
SCHEMA(gateway_tls_schema, gateway_tls_fields);

static const struct jfield gateway_fields[] = {
	F_LIST("listen", WC, listen, daemon_valid_listen, "ADDR:PORT or [V6ADDR]:PORT"),
	F_STR("backend", WC, backend, NULL, NULL),
	F_INT("max_sessions", WC, max_sessions, 1, 1000000),
	F_INT("max_unauthenticated", WC, max_unauthenticated, 1, 1000000),
	F_INT("login_timeout", WC, login_timeout, 1, 3600),
	F_INT("token_timeout", WC, token_timeout, 1, 3600),
	F_OBJ("tls", 0, gateway_tls_schema),
	F_FN("backend_tls", j_backend_tls),
	F_STR("backend_ca", WC, backend_ca, NULL, NULL),
	F_BOOL("backend_insecure", WC, backend_insecure),
};
SCHEMA(gateway_schema, gateway_fields);
#undef WC

static int j_gateway(const struct jctx *c, json_t *v, void *base, const char *path)
{
	struct gateway_config *g = &((struct ferry_config *)base)->gateway;
	g->enabled = true;
	return walk(c, v, &gateway_schema, g, path);
}

static int j_proxies(const struct jctx *c, json_t *v, void *base, const char *path)
{
	struct ferry_config *cfg = base;
	char item[256];
	size_t i;
	json_t *e;
	if (!json_is_array(v))
		return jfail(c, path, "must be an array of proxy objects");
	json_array_foreach(v, i, e) {
		jpath(item, sizeof(item), "%s[%zu]", path, i);
		struct proxy_config *p = realloc(cfg->proxies, (cfg->proxy_count + 1) * sizeof(*p));
		if (!p)
			return joom(c, item);
		cfg->proxies = p;
		p = &p[cfg->proxy_count++];
		daemon_proxy_init(p);
		if (walk(c, e, &proxy_schema, p, item))
			return FERRY_EXIT_PARAM;
		if (p->role == PROXY_NONE)
			return jfail(c, item, "a proxy needs a \"role\"");
		char name[32];
		snprintf(name, sizeof(name), "proxy%zu", i);
		if ((!p->name && daemon_strdup(&p->name, name)) || daemon_proxy_finish(p))
			return joom(c, item);
	}
	return 0;
}

#define GC struct ferry_config
static const struct jfield log_fields[] = {
	F_STR("file", GC, log_file, NULL, NULL),
	F_INT("level", GC, log_level, LOGLVL_MIN, LOGLVL_MAX),
	F_INT("max_size_mb", GC, max_log_size, 0, LOGSIZE_MAX),
	F_INT("max_count", GC, max_log_count, LOGCOUNT_MIN, LOGCOUNT_MAX),
};
SCHEMA(log_schema, log_fields);

static const struct jfield metrics_fields[] = {
	F_STR("listen", GC, metrics_listen, daemon_valid_listen, "ADDR:PORT or [V6ADDR]:PORT"),
};
SCHEMA(metrics_schema, metrics_fields);

static const struct jfield root_fields[] = {
	F_INT("workers", GC, workers, 0, WORKERS_MAX),
	F_BOOL("foreground", GC, foreground),
	F_OBJ("log", 0, log_schema),
	F_STR("pidfile", GC, pidfile, NULL, NULL),
	F_INT("priority", GC, priority, PRIO_MIN, PRIO_MAX),
	F_STR("user", GC, user, NULL, NULL),
	F_STR("group", GC, group, NULL, NULL),
	F_BOOL("allow_root", GC, allow_root),
	F_BOOL("allow_unsafe", GC, allow_unsafe),
	F_BOOL("allow_no_seccomp", GC, allow_no_seccomp),
	F_FN("proxies", j_proxies),
	F_FN("ftp", j_ftp),
	F_FN("gateway", j_gateway),
	F_OBJ("metrics", 0, metrics_schema),
};
SCHEMA(root_schema, root_fields);
#undef GC

/* ---- entry points ---- */

int daemon_load_json(const char *text, size_t len, const char *name,
		     struct ferry_config *cfg, struct config_error *err)
{
	struct jctx c = { text, len, name, err };
	json_error_t je;
	memset(err, 0, sizeof(*err));
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		daemon_set_error(err, name, je.line, je.line > 0 && je.column < 1 ? 1 : je.column,
				 NULL, "%s", je.text);
		return FERRY_EXIT_PARAM;
	}
	int rc = daemon_strdup(&cfg->source, name) ? joom(&c, "") : 0;
	rc = rc ? rc : walk(&c, root, &root_schema, cfg, "");
	json_decref(root);
	if (rc)
		return rc;
	/* Cross-field checks run here too, while the text is at hand to say
	 * where the offending key is. */
	rc = daemon_validate(cfg, err);
	if (rc && err->line == 0 && err->key[0])
		locate(&c, err->key, &err->line, &err->column);
	return rc;
}

int daemon_load_file(const char *path, struct ferry_config *cfg,
		     struct config_error *err)
{
	FILE *f = fopen(path, "rb");
	char *buf = f ? malloc(MAX_CONFIG_BYTES + 1) : NULL;
	size_t n = buf ? fread(buf, 1, MAX_CONFIG_BYTES + 1, f) : 0;
	int rc = FERRY_EXIT_PARAM;
	memset(err, 0, sizeof(*err));
	if (!f)
		daemon_set_error(err, path, 0, 0, NULL, "cannot open: %s", strerror(errno));
	else if (!buf)
		daemon_set_error(err, path, 0, 0, NULL, "out of memory");
	else if (ferror(f))
		daemon_set_error(err, path, 0, 0, NULL, "cannot read: %s", strerror(errno));
	else if (n > MAX_CONFIG_BYTES)
		daemon_set_error(err, path, 0, 0, NULL, "larger than %u bytes", MAX_CONFIG_BYTES);
	else
		rc = daemon_load_json(buf, n, path, cfg, err);
	free(buf);
	if (f)
		fclose(f);
	return rc;
}
