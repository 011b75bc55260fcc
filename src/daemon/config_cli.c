/* config_cli.c — turns ferryd's command line (every uftpproxyd flag plus -f
 * and the long options) into a struct ferry_config, one table entry per flag. */
#include "config_priv.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum arg_kind { NOARG, ARG, COLON_ARG };            /* COLON_ARG: -r[:curve] */
enum opt_class { C_ROLE, C_PROXY, C_GENERAL, C_FTP, C_ACTION };

struct cli_state;
struct cli_opt;
typedef int opt_fn(struct cli_state *st, const struct cli_opt *o, const char *arg);

struct cli_opt {
	const char *name;
	enum arg_kind arg;
	enum opt_class cls;
	opt_fn *fn;
	size_t off;     /* field the generic handlers write */
	long min, max;  /* range for the numeric handlers */
};

/* What the command line said, kept apart from cfg until the end because
 * -f FILE may come after the flags that override it. */
struct cli_state {
	struct ferry_config *cfg;
	struct config_error *err;
	enum cli_action *action;
	struct proxy_config proxy;   /* the one proxy -s/-c/-r describe */
	struct ferry_config over;    /* general flags; strings borrow argv */
	unsigned long long given;    /* bit per table entry seen */
	const char *role_flag;       /* first of -s -c -r */
	const char *proxy_flag;      /* first proxy-only flag */
	const char *file;
	const char *ftp_root, *ftp_listen, *ftp_flag;
	bool ftp_write;
	bool stop;                   /* --help / --version: nothing else matters */
};

__attribute__((format(printf, 3, 4)))
static int cli_fail(struct cli_state *st, const char *flag, const char *fmt, ...)
{
	va_list ap;
	daemon_set_error(st->err, CLI_SOURCE, 0, 0, flag, "%s", "");
	va_start(ap, fmt);
	vsnprintf(st->err->msg, sizeof(st->err->msg), fmt, ap);
	va_end(ap);
	return FERRY_EXIT_PARAM;
}

static int oom(struct cli_state *st, const char *flag)
{
	return cli_fail(st, flag, "out of memory");
}

/* ---- handlers ---- */

static int set_role(struct cli_state *st, const struct cli_opt *o, enum proxy_role r)
{
	if (st->role_flag)
		return cli_fail(st, o->name, "only one of -s, -c or -r may be given (%s already was)",
				st->role_flag);
	st->role_flag = o->name;
	st->proxy.role = r;
	return 0;
}

static int opt_server(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	if (set_role(st, o, PROXY_SERVER))
		return FERRY_EXIT_PARAM;
	if (!strncmp(arg, "fp=", 3)) {
		if (!daemon_valid_fingerprint(arg + 3))
			return cli_fail(st, o->name, "fingerprint must be 20 hex pairs joined by ':', got '%s'",
					arg + 3);
		return daemon_strdup(&st->proxy.dest_fingerprint, arg + 3) ? oom(st, o->name) : 0;
	}
	if (!daemon_valid_hostname(arg))
		return cli_fail(st, o->name, "expected a host name, address or fp=FINGERPRINT, got '%s'", arg);
	return daemon_strdup(&st->proxy.dest, arg) ? oom(st, o->name) : 0;
}

static int opt_client(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	(void)arg;
	return set_role(st, o, PROXY_CLIENT);
}

static int opt_response(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	if (set_role(st, o, PROXY_RESPONSE))
		return FERRY_EXIT_PARAM;
	if (!arg)
		return 0;
	if (!daemon_valid_curve(arg))
		return cli_fail(st, o->name, "unknown EC curve '%s' (see -K in ferryd(8))", arg);
	return daemon_strdup(&st->proxy.response_curve, arg) ? oom(st, o->name) : 0;
}

static int range_fail(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	return cli_fail(st, o->name, "must be an integer %ld-%ld, got '%s'", o->min, o->max, arg);
}

static int opt_proxy_int(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	long v;
	if (!daemon_parse_long(arg, &v) || v < o->min || v > o->max)
		return range_fail(st, o, arg);
	*(int *)((char *)&st->proxy + o->off) = (int)v;
	return 0;
}

static int opt_proxy_port(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	long v;
	if (!daemon_parse_long(arg, &v) || v < o->min || v > o->max)
		return range_fail(st, o, arg);
	*(uint16_t *)((char *)&st->proxy + o->off) = (uint16_t)v;
	return 0;
}

static int opt_proxy_str(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	if (!*arg)
		return cli_fail(st, o->name, "needs a non-empty value");
	return daemon_strdup((char **)((char *)&st->proxy + o->off), arg) ? oom(st, o->name) : 0;
}

static int opt_dscp(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	if (!daemon_parse_dscp(arg, &st->proxy.dscp))
		return cli_fail(st, o->name, "must be 0-63 in decimal or 0x hex, got '%s'", arg);
	return 0;
}

static int opt_uid(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	if (!daemon_parse_uid(arg, &st->proxy.uid))
		return cli_fail(st, o->name,
				"must be 1-8 hex digits (0xnnnnnnnn), not 0 or 0xffffffff, got '%s'", arg);
	st->proxy.uid_set = true;
	return 0;
}

static int opt_buf_force(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	(void)o;
	(void)arg;
	st->proxy.udp_buf_force = true;
	return 0;
}

static int opt_flag_m(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	(void)o;
	(void)arg;
	st->proxy.system_keys = true;
	return 0;
}

static int opt_curve(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	if (!daemon_valid_curve(arg))
		return cli_fail(st, o->name, "unknown EC curve '%s' (see -K in ferryd(8))", arg);
	return daemon_strdup(&st->proxy.ecdh_curve, arg) ? oom(st, o->name) : 0;
}

static int opt_heartbeat(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	struct strlist items = { 0 };
	int rc = daemon_strlist_push_csv(&items, arg) ? oom(st, o->name) : 0;
	if (!rc && items.n == 0)
		rc = cli_fail(st, o->name, "expected host[:port][,host[:port]...], got '%s'", arg);
	for (size_t i = 0; !rc && i < items.n; i++) {
		int r = daemon_hb_push(&st->proxy, items.v[i]);
		if (r < 0)
			rc = oom(st, o->name);
		else if (r > 0)
			rc = cli_fail(st, o->name, "expected host[:port] with port 1-65535, got '%s'",
				      items.v[i]);
	}
	daemon_strlist_free(&items);
	return rc;
}

/* -k -K -I -M: comma lists; -K and -M items are checked here so the error
 * names the flag. */
static int opt_list(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	struct strlist *l = (struct strlist *)((char *)&st->proxy + o->off);
	size_t first = l->n;
	if (daemon_strlist_push_csv(l, arg))
		return oom(st, o->name);
	if (l->n == first)
		return cli_fail(st, o->name, "expected a comma-separated list, got '%s'", arg);
	for (size_t i = first; i < l->n; i++) {
		if (o->name[1] == 'K' && !daemon_valid_keyspec(l->v[i]))
			return cli_fail(st, o->name, "expected rsa:%d-%d or ec:CURVE, got '%s'",
					RSA_BITS_MIN, RSA_BITS_MAX, l->v[i]);
		if (o->name[1] == 'M' && !daemon_valid_multicast(l->v[i]))
			return cli_fail(st, o->name, "expected a multicast IP address, got '%s'", l->v[i]);
	}
	return 0;
}

static int opt_gen_int(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	long v;
	if (!daemon_parse_long(arg, &v) || v < o->min || v > o->max)
		return range_fail(st, o, arg);
	*(int *)((char *)&st->over + o->off) = (int)v;
	return 0;
}

static int opt_gen_str(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	if (!*arg)
		return cli_fail(st, o->name, "needs a non-empty value");
	*(const char **)((char *)&st->over + o->off) = arg;
	return 0;
}

static int opt_gen_flag(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	(void)arg;
	*(bool *)((char *)&st->over + o->off) = true;
	return 0;
}

static int opt_file(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	if (st->file)
		return cli_fail(st, o->name, "given twice");
	st->file = arg;
	return 0;
}

static int opt_ftp(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	if (!st->ftp_flag)
		st->ftp_flag = o->name;
	if (!strcmp(o->name, "--ftp-write"))
		st->ftp_write = true;
	else if (!*arg)
		return cli_fail(st, o->name, "needs a non-empty value");
	else if (!strcmp(o->name, "--ftp-root"))
		st->ftp_root = arg;
	else if (!daemon_valid_listen(arg))
		return cli_fail(st, o->name, "expected ADDR:PORT or [V6ADDR]:PORT, got '%s'", arg);
	else
		st->ftp_listen = arg;
	return 0;
}

static int opt_action(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	(void)arg;
	if (!strcmp(o->name, "--check-config")) {
		*st->action = CLI_CHECK;
		return 0;
	}
	*st->action = strcmp(o->name, "--help") ? CLI_VERSION : CLI_HELP;
	st->stop = true;
	return 0;
}

#define P(f) offsetof(struct proxy_config, f)
#define G(f) offsetof(struct ferry_config, f)
static const struct cli_opt options[] = {
	{ "-s", ARG, C_ROLE, opt_server, 0, 0, 0 },
	{ "-c", NOARG, C_ROLE, opt_client, 0, 0, 0 },
	{ "-r", COLON_ARG, C_ROLE, opt_response, 0, 0, 0 },
	{ "-p", ARG, C_PROXY, opt_proxy_port, P(port), PORT_MIN, PORT_MAX },
	{ "-q", ARG, C_PROXY, opt_proxy_port, P(dest_port), PORT_MIN, PORT_MAX },
	{ "-t", ARG, C_PROXY, opt_proxy_int, P(ttl), TTL_MIN, TTL_MAX },
	{ "-Q", ARG, C_PROXY, opt_dscp, 0, DSCP_MIN, DSCP_MAX },
	{ "-O", ARG, C_PROXY, opt_proxy_str, P(out_interface), 0, 0 },
	{ "-U", ARG, C_PROXY, opt_uid, 0, 0, 0 },
	{ "-m", NOARG, C_PROXY, opt_flag_m, 0, 0, 0 },
	{ "-H", ARG, C_PROXY, opt_heartbeat, 0, 0, 0 },
	{ "-h", ARG, C_PROXY, opt_proxy_int, P(hb_interval), HBINT_MIN, HBINT_MAX },
	{ "-B", ARG, C_PROXY, opt_proxy_int, P(udp_buf_size), UDPBUF_MIN, UDPBUF_MAX },
	{ "-C", ARG, C_PROXY, opt_proxy_str, P(client_list), 0, 0 },
	{ "-S", ARG, C_PROXY, opt_proxy_str, P(server_list), 0, 0 },
	{ "-k", ARG, C_PROXY, opt_list, P(key_files), 0, 0 },
	{ "-K", ARG, C_PROXY, opt_list, P(key_specs), 0, 0 },
	{ "-e", ARG, C_PROXY, opt_curve, 0, 0, 0 },
	{ "-I", ARG, C_PROXY, opt_list, P(interfaces), 0, 0 },
	{ "-M", ARG, C_PROXY, opt_list, P(pub_mcast), 0, 0 },
	{ "--max-groups", ARG, C_PROXY, opt_proxy_int, P(max_groups), GROUPS_MIN, GROUPS_MAX },
	{ "--max-groups-per-source", ARG, C_PROXY, opt_proxy_int, P(max_groups_per_source),
	  GROUPS_MIN, GROUPS_MAX },
	{ "--group-idle-max", ARG, C_PROXY, opt_proxy_int, P(group_idle_max),
	  GROUP_IDLE_MIN, GROUP_IDLE_MAX },
	{ "--udp-buffer-force", NOARG, C_PROXY, opt_buf_force, 0, 0, 0 },
	{ "-d", NOARG, C_GENERAL, opt_gen_flag, G(foreground), 0, 0 },
	{ "-x", ARG, C_GENERAL, opt_gen_int, G(log_level), LOGLVL_MIN, LOGLVL_MAX },
	{ "-N", ARG, C_GENERAL, opt_gen_int, G(priority), PRIO_MIN, PRIO_MAX },
	{ "-g", ARG, C_GENERAL, opt_gen_int, G(max_log_size), LOGSIZE_MIN, LOGSIZE_MAX },
	{ "-n", ARG, C_GENERAL, opt_gen_int, G(max_log_count), LOGCOUNT_MIN, LOGCOUNT_MAX },
	{ "-L", ARG, C_GENERAL, opt_gen_str, G(log_file), 0, 0 },
	{ "-P", ARG, C_GENERAL, opt_gen_str, G(pidfile), 0, 0 },
	{ "--workers", ARG, C_GENERAL, opt_gen_int, G(workers), WORKERS_MIN, WORKERS_MAX },
	{ "--metrics-listen", ARG, C_GENERAL, opt_gen_str, G(metrics_listen), 0, 0 },
	{ "--user", ARG, C_GENERAL, opt_gen_str, G(user), 0, 0 },
	{ "--allow-root", NOARG, C_GENERAL, opt_gen_flag, G(allow_root), 0, 0 },
	{ "--allow-unsafe", NOARG, C_GENERAL, opt_gen_flag, G(allow_unsafe), 0, 0 },
	{ "--allow-no-seccomp", NOARG, C_GENERAL, opt_gen_flag, G(allow_no_seccomp), 0, 0 },
	{ "--sandbox-probe", ARG, C_GENERAL, opt_gen_str, G(sandbox_probe), 0, 0 },
	{ "-f", ARG, C_ACTION, opt_file, 0, 0, 0 },
	{ "--ftp-root", ARG, C_FTP, opt_ftp, 0, 0, 0 },
	{ "--ftp-listen", ARG, C_FTP, opt_ftp, 0, 0, 0 },
	{ "--ftp-write", NOARG, C_FTP, opt_ftp, 0, 0, 0 },
	{ "--check-config", NOARG, C_ACTION, opt_action, 0, 0, 0 },
	{ "--help", NOARG, C_ACTION, opt_action, 0, 0, 0 },
	{ "--version", NOARG, C_ACTION, opt_action, 0, 0, 0 },
};
#define N_OPTIONS (sizeof(options) / sizeof(*options))
_Static_assert(N_OPTIONS <= 64, "the 'given' bitmask holds 64 options");

/* ---- the scanner ---- */

static const struct cli_opt *find_short(char c)
{
	for (size_t i = 0; i < N_OPTIONS; i++)
		if (options[i].name[1] == c && options[i].name[2] == '\0')
			return &options[i];
	return NULL;
}

static const struct cli_opt *find_long(const char *arg, size_t len)
{
	for (size_t i = 0; i < N_OPTIONS; i++)
		if (strlen(options[i].name) == len && !strncmp(options[i].name, arg, len))
			return &options[i];
	return NULL;
}

static int run_opt(struct cli_state *st, const struct cli_opt *o, const char *arg)
{
	st->given |= 1ULL << (o - options);
	if (o->cls == C_PROXY && !st->proxy_flag)
		st->proxy_flag = o->name;
	return o->fn(st, o, arg);
}

/* --name, --name=value or --name value */
static int scan_long(struct cli_state *st, int argc, char **argv, int *i)
{
	const char *a = argv[*i];
	const char *eq = strchr(a, '=');
	size_t len = eq ? (size_t)(eq - a) : strlen(a);
	const struct cli_opt *o = find_long(a, len);
	if (!o) {
		char name[64];
		snprintf(name, sizeof(name), "%.*s", (int)(len < 63 ? len : 63), a);
		return cli_fail(st, name, "unknown option '%s' (try --help)", a);
	}
	if (o->arg == NOARG && eq)
		return cli_fail(st, o->name, "takes no value");
	const char *val = eq ? eq + 1 : NULL;
	if (o->arg == ARG && !val) {
		if (*i + 1 >= argc)
			return cli_fail(st, o->name, "needs a value");
		val = argv[++*i];
	}
	return run_opt(st, o, val);
}

/* getopt-style clusters: "-cd", "-p1044", "-p 1044", and "-r:curve". */
static int scan_short(struct cli_state *st, int argc, char **argv, int *i)
{
	const char *a = argv[*i];
	for (size_t j = 1; a[j]; j++) {
		const struct cli_opt *o = find_short(a[j]);
		char flag[3] = { '-', a[j], '\0' };
		if (!o)
			return cli_fail(st, flag, "unknown option (try --help)");
		if (o->arg == COLON_ARG && a[j + 1] == ':')
			return run_opt(st, o, a + j + 2);
		if (o->arg == ARG) {
			if (a[j + 1])
				return run_opt(st, o, a + j + 1);
			if (*i + 1 >= argc)
				return cli_fail(st, o->name, "needs a value");
			return run_opt(st, o, argv[++*i]);
		}
		int rc = run_opt(st, o, NULL);
		if (rc || st->stop)
			return rc;
	}
	return 0;
}

static int scan_args(struct cli_state *st, int argc, char **argv)
{
	for (int i = 1; i < argc && !st->stop; i++) {
		const char *a = argv[i];
		int rc;
		if (a[0] == '-' && a[1] == '-' && a[2])
			rc = scan_long(st, argc, argv, &i);
		else if (a[0] == '-' && a[1] && a[1] != '-')
			rc = scan_short(st, argc, argv, &i);
		else
			rc = cli_fail(st, a, "unexpected argument (ferryd takes options only)");
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- putting it together ---- */

static int apply_general(struct cli_state *st)
{
	struct ferry_config *cfg = st->cfg;
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const struct cli_opt *o = &options[i];
		if (o->cls != C_GENERAL || !(st->given & (1ULL << i)))
			continue;
		char *dst = (char *)cfg + o->off;
		const char *src = (const char *)&st->over + o->off;
		if (o->fn == opt_gen_int)
			memcpy(dst, src, sizeof(int));
		else if (o->fn == opt_gen_flag)
			memcpy(dst, src, sizeof(bool));
		else if (daemon_strdup((char **)dst, *(const char *const *)src))
			return oom(st, o->name);
	}
	return 0;
}

/* --user NAME:GROUP names both; a JSON "user" never has a ':' in it. */
static int split_user_group(struct cli_state *st)
{
	struct ferry_config *cfg = st->cfg;
	char *colon = cfg->user ? strchr(cfg->user, ':') : NULL;
	if (!colon)
		return 0;
	if (colon == cfg->user || !colon[1])
		return cli_fail(st, "--user", "expected NAME or NAME:GROUP, got '%s'", cfg->user);
	*colon = '\0';
	return daemon_strdup(&cfg->group, colon + 1) ? oom(st, "--user") : 0;
}

static int take_proxy(struct cli_state *st)
{
	struct ferry_config *cfg = st->cfg;
	struct proxy_config *v = realloc(cfg->proxies, (cfg->proxy_count + 1) * sizeof(*v));
	if (!v)
		return oom(st, st->role_flag);
	cfg->proxies = v;
	if (daemon_proxy_finish(&st->proxy))
		return oom(st, st->role_flag);
	v[cfg->proxy_count++] = st->proxy;
	daemon_proxy_init(&st->proxy);   /* ownership moved to cfg */
	return 0;
}

static int take_ftp(struct cli_state *st)
{
	struct ftp_config *f = &st->cfg->ftp;
	if (!st->ftp_root)
		return cli_fail(st, st->ftp_flag, "needs --ftp-root DIR");
	f->enabled = true;
	f->anonymous_write = st->ftp_write;
	if (daemon_strdup(&f->anonymous_root, st->ftp_root) ||
	    daemon_strlist_push(&f->listen, st->ftp_listen ? st->ftp_listen : DEFAULT_FTP_LISTEN))
		return oom(st, st->ftp_flag);
	return 0;
}

static int from_file(struct cli_state *st)
{
	if (st->role_flag || st->proxy_flag)
		return cli_fail(st, st->role_flag ? st->role_flag : st->proxy_flag,
				"cannot be combined with -f (put it in the file)");
	if (st->ftp_flag)
		return cli_fail(st, st->ftp_flag, "cannot be combined with -f (put it in the file)");
	st->cfg->from_file = true;
	return daemon_load_file(st->file, st->cfg, st->err);
}

static int from_flags(struct cli_state *st)
{
	if (st->proxy_flag && !st->role_flag)
		return cli_fail(st, st->proxy_flag, "applies to a proxy: give one of -s, -c or -r");
	if (!st->role_flag && !st->ftp_flag)
		return daemon_load_json(daemon_default_conf, strlen(daemon_default_conf),
					"conf/ferryd.json (built in)", st->cfg, st->err);
	if (daemon_strdup(&st->cfg->source, CLI_SOURCE))
		return oom(st, "");
	int rc = st->role_flag ? take_proxy(st) : 0;
	return rc ? rc : st->ftp_flag ? take_ftp(st) : 0;
}

static const char *base_name(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;
	return slash ? slash + 1 : path ? path : "";
}

int daemon_parse_args(int argc, char **argv, struct ferry_config *cfg,
		      enum cli_action *action, struct config_error *err)
{
	struct cli_state st = { .cfg = cfg, .err = err, .action = action };
	daemon_proxy_init(&st.proxy);
	*action = CLI_RUN;
	memset(err, 0, sizeof(*err));
	/* Installed as uftpproxyd, ferryd keeps uftpproxyd's log file name. */
	int rc = 0;
	if (argc > 0 && !strcmp(base_name(argv[0]), "uftpproxyd"))
		rc = daemon_strdup(&cfg->log_file, UFTPPROXYD_LOG_FILE) ? oom(&st, "") : 0;
	rc = rc ? rc : scan_args(&st, argc, argv);
	if (!rc && !st.stop) {
		rc = st.file ? from_file(&st) : from_flags(&st);
		rc = rc ? rc : apply_general(&st);
		rc = rc ? rc : split_user_group(&st);
		rc = rc ? rc : daemon_validate(cfg, err);
	}
	daemon_proxy_free(&st.proxy);
	return rc;
}

void daemon_usage(FILE *out)
{
	fputs("usage: ferryd { -s { dest | fp=fingerprint } | -c | -r[:curve] } [ -d ]\n"
	      "    [ -p port ] [ -t ttl ] [ -Q dscp ] [ -N priority ]\n"
	      "    [ -O out_multi_interface ] [ -U UID ] [ -q dest_port ] [ -m ]\n"
	      "    [ -x log_level ] [ -H hb_server[:port][,hb_server[:port]...] ]\n"
	      "    [ -h hb_interval ] [ -g max_log_size ] [ -n max_log_count ]\n"
	      "    [ -B udp_buf_size ] [ -L logfile ] [ -P pidfile ]\n"
	      "    [ -C clientlist_file ] [ -S serverlist_file ] [ -e ecdh_curve ]\n"
	      "    [ -k keyfile[,keyfile...] ] [ -K rsa:key_len | ec:curve[,...] ]\n"
	      "    [ -I interface[,interface...] ] [ -M pub_mcast_addr[,...] ]\n"
	      "    [ --ftp-root DIR [ --ftp-listen ADDR:PORT ] [ --ftp-write ] ]\n"
	      "    [ --max-groups N ] [ --max-groups-per-source N ]\n"
	      "    [ --group-idle-max SECONDS ] [ --udp-buffer-force ]\n"
	      "    [ --workers N ] [ --user NAME[:GROUP] ] [ --allow-root ]\n"
	      "    [ --allow-unsafe ] [ --allow-no-seccomp ] [ --check-config ]\n"
	      "       ferryd -f FILE [ -d ] [ -x log_level ] [ -L logfile ] [ -P pidfile ]\n"
	      "    [ -g max_log_size ] [ -n max_log_count ] [ -N priority ]\n"
	      "    [ --workers N ] [ --user NAME[:GROUP] ] [ --allow-root ]\n"
	      "    [ --allow-unsafe ] [ --allow-no-seccomp ] [ --check-config ]\n"
	      "       ferryd --help | --version\n"
	      "With no role and no -f, ferryd runs the built-in configuration\n"
	      "(a client proxy on port 1044). See ferryd(8) and ferryd.json(5).\n",
	      out);
}
