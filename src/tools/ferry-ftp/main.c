/* main.c — ferry-ftp, a command-line FTP client for scripts: options, the
 * session (connect, log in, binary type) and its one command (ls, get, put,
 * mirror). Data connections use SPSV on the control port by default, PASV
 * or EPSV on request; FTPS explicit or implicit; exit codes say what failed. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ferry/base.h"
#include "ferry/crypto.h"
#include "ferry_ftp.h"

int ftpc_cli_fail(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", FERRY_FTP_PROG);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return code;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s [options] HOST[:PORT] COMMAND [ARGS]\n"
		"       %s bridge [--listen ADDR:PORT] SERVER[:PORT]\n"
		"commands:\n"
		"  ls [DIR]                 list a directory (LIST)\n"
		"  get REMOTE [LOCAL]       download a file\n"
		"  put LOCAL [REMOTE]       upload a file\n"
		"  mirror REMOTE LOCAL      download a tree\n"
		"  mirror -R LOCAL REMOTE   upload a tree\n"
		"options:\n"
		"  -u, --user USER[:PASS]   log in as USER (default anonymous);\n"
		"                           the password may come from FERRY_FTP_PASSWORD\n"
		"  --spsv                   data over the control port (default)\n"
		"  --spsv-form FORM         dataconn: log the data connection in as the\n"
		"                           SPSV reply says (draft -01, default); spdt:\n"
		"                           send SPDT <identifier> instead (draft -00)\n"
		"  --pasv, --epsv           classic passive data connections\n"
		"  -c, --continue           resume: get appends to a partial local file\n"
		"                           (REST), put to a partial remote one (APPE)\n"
		"  -P, --parallel N         mirror over N sessions at once (default 1)\n"
		"  --json                   a JSON summary on stdout at the end\n"
		"  --netrc-file FILE        credentials from FILE instead of ~/.netrc\n"
		"  --no-netrc               do not read a .netrc\n"
		"  -p, --progress           progress bar even when stderr is no terminal\n"
		"  -q, --quiet              no progress bar\n"
		"  --tls                    FTPS: AUTH TLS, PROT P; fail when refused\n"
		"  --tls-auto               FTPS when the server accepts AUTH TLS, else plain\n"
		"  --implicit               implicit FTPS: TLS from the first byte (port 990)\n"
		"  --ca FILE                trust the CA certificates of FILE (PEM) instead of\n"
		"                           the system's\n"
		"  --insecure               do not verify the server's certificate\n"
		"  -t, --timeout SECONDS    network timeout (default 30)\n"
		"  -v, --verbose            show the control dialogue on stderr\n"
		"exit status: 0 ok, 1 usage, 2 connect, 3 login, 4 remote file,\n"
		"             5 local file, 6 data connection, 7 protocol,\n"
		"             8 mirror skipped entries it could not copy, 9 TLS\n", FERRY_FTP_PROG,
		FERRY_FTP_PROG);
}

int ftpc_cli_split_host(char *arg, char **host, char **port)
{
	char h[256];
	uint16_t p = 21;
	bool has_port = false;
	/* port 0 passes: for --listen it means any free port */
	if (fb_hostport_split_listen(arg, h, sizeof(h), &p, &has_port) < 0)
		return -1;
	/* Both point into arg: the port's digits stay where they are, the
	 * host (brackets removed, never longer) is written over the front. */
	*port = has_port ? strrchr(arg, ':') + 1 : "21";
	memcpy(arg, h, strlen(h) + 1);
	*host = arg;
	return 0;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

static int run(struct client *c, int argc, char **argv, char **listing)
{
	const char *verb = argv[0];
	if (!strcmp(verb, "ls") && argc <= 2 && listing)
		return ftpc_cli_listing(c, "LIST", argc == 2 ? argv[1] : ".", listing);
	if (!strcmp(verb, "ls") && argc <= 2)
		return ftpc_cli_ls(c, argc == 2 ? argv[1] : ".");
	if (!strcmp(verb, "get") && (argc == 2 || argc == 3))
		return ftpc_cli_get(c, argv[1], argc == 3 ? argv[2] : base_name(argv[1]));
	if (!strcmp(verb, "put") && (argc == 2 || argc == 3))
		return ftpc_cli_put(c, argv[1], argc == 3 ? argv[2] : base_name(argv[1]));
	if (!strcmp(verb, "mirror") && argc == 4 && !strcmp(argv[1], "-R"))
		return ftpc_cli_mirror(c, true, argv[2], argv[3]);
	if (!strcmp(verb, "mirror") && argc == 3)
		return ftpc_cli_mirror(c, false, argv[1], argv[2]);
	usage(stderr);
	return EX_USAGE;
}

static int parse_form(const char *arg, enum ftpc_spsv_form *form)
{
	if (!strcmp(arg, "dataconn"))
		*form = FTPC_SPSV_DATACONN;
	else if (!strcmp(arg, "spdt"))
		*form = FTPC_SPSV_SPDT;
	else
		return -1;
	return 0;
}

/* AUTH TLS after the greeting (implicit FTPS has done TLS already). */
static int secure(struct client *c)
{
	if (c->tls == TLS_OFF)
		return EX_OK;
	int r = ftpc_auth_tls(&c->conn);
	if (r == 234)
		return EX_OK;
	if (r < 0)
		return ftpc_cli_fail(EX_TLS, "TLS with %s: %s", c->host, REPLY(c));
	if (c->tls == TLS_AUTO) {
		if (c->verbose)
			fprintf(stderr, "%s: the server refused AUTH TLS: going on in clear\n",
				FERRY_FTP_PROG);
		return EX_OK;
	}
	return ftpc_cli_fail(EX_TLS, "the server refused AUTH TLS: %s", REPLY(c));
}

int ftpc_cli_open(struct client *c)
{
	int r = ftpc_connect_tls(&c->conn, c->host, c->port, c->timeout, c->verbose, c->tls_ctx,
				 c->tls == TLS_IMPLICIT);
	if (r < 0 && c->conn.ctl.fd < 0)
		return ftpc_cli_fail(EX_CONNECT, "cannot connect to %s port %s", c->host, c->port);
	if (r < 0 && c->tls == TLS_IMPLICIT && REPLY(c)[0])
		return ftpc_cli_fail(EX_TLS, "implicit TLS with %s: %s", c->host, REPLY(c));
	if (r != 220)
		return ftpc_cli_fail(EX_CONNECT, "server not ready: %s", REPLY(c));
	if ((r = secure(c)) != EX_OK)
		return r;
	r = ftpc_login(&c->conn, c->user, c->pass);
	if (r != 230 && r != 202)
		return ftpc_cli_fail(r < 0 ? EX_PROTO : EX_LOGIN, "login failed: %s", REPLY(c));
	if (cmd(c, "TYPE I") != 200)
		return ftpc_cli_fail(EX_PROTO, "TYPE I refused: %s", REPLY(c));
	if (c->conn.ctl.tls && (r = ftpc_prot_p(&c->conn)) != 200)
		return ftpc_cli_fail(r < 0 ? EX_PROTO : EX_TLS, "PROT P refused: %s", REPLY(c));
	return EX_OK;
}

/* The client TLS context of --tls, --tls-auto, --implicit: EX_OK or EX_TLS. */
static int tls_setup(struct client *c, const char *ca, bool insecure)
{
	if (c->tls == TLS_OFF)
		return ca || insecure ? ftpc_cli_fail(EX_USAGE, "--ca and --insecure need --tls, "
						      "--tls-auto or --implicit") : EX_OK;
	char why[CRYPTO_ERR_LEN];
	c->tls_ctx = crypto_tls_client_ctx_new(ca, !insecure, why);
	return c->tls_ctx ? EX_OK : ftpc_cli_fail(EX_TLS, "%s", why);
}

/* The password: -u user:pass, FERRY_FTP_PASSWORD, the .netrc entry of the
 * host (which may name the user too), else anonymous's. 0 or -1. */
static int credentials(struct client *c, const char *netrc, bool user_given)
{
	static struct ftpc_cli_netrc n;   /* lives as long as the run */
	if (!c->pass)
		c->pass = getenv("FERRY_FTP_PASSWORD");
	char home[4096];
	if (!c->pass && !netrc && getenv("HOME")) {
		snprintf(home, sizeof(home), "%s/.netrc", getenv("HOME"));
		netrc = getenv("NETRC") ? getenv("NETRC") : home;
	}
	if (!c->pass && netrc && netrc[0]) {
		int r = ftpc_cli_netrc_load(netrc, c->host, user_given ? c->user : NULL, &n);
		if (r < 0)
			return -1;
		if (r > 0) {
			if (n.login[0])
				c->user = n.login;
			c->pass = n.password;
		}
	}
	if (!c->pass)
		c->pass = "ferry-ftp@";
	return 0;
}

int main(int argc, char **argv)
{
	enum { OPT_FORM = 256, OPT_JSON, OPT_NETRC, OPT_NO_NETRC, OPT_TLS, OPT_TLS_AUTO,
	       OPT_IMPLICIT, OPT_CA, OPT_INSECURE };
	static const struct option opts[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "spsv", no_argument, NULL, 'S' },
		{ "spsv-form", required_argument, NULL, OPT_FORM },
		{ "pasv", no_argument, NULL, 'A' },
		{ "epsv", no_argument, NULL, 'E' },
		{ "continue", no_argument, NULL, 'c' },
		{ "parallel", required_argument, NULL, 'P' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "netrc-file", required_argument, NULL, OPT_NETRC },
		{ "no-netrc", no_argument, NULL, OPT_NO_NETRC },
		{ "tls", no_argument, NULL, OPT_TLS },
		{ "tls-auto", no_argument, NULL, OPT_TLS_AUTO },
		{ "implicit", no_argument, NULL, OPT_IMPLICIT },
		{ "ca", required_argument, NULL, OPT_CA },
		{ "insecure", no_argument, NULL, OPT_INSECURE },
		{ "progress", no_argument, NULL, 'p' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "timeout", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	if (argc >= 2 && !strcmp(argv[1], "bridge"))
		return ftpc_bridge_main(argc - 1, argv + 1);
	struct client c = { .conn.ctl.fd = -1, .mode = FTPC_DATA_SPSV,
			    .form = FTPC_SPSV_DATACONN, .progress = isatty(2), .parallel = 1,
			    .user = "anonymous", .timeout = 30 };
	const char *netrc = NULL, *ca = NULL;
	bool json = false, user_given = false, insecure = false;
	int o;
	char *pw;
	while ((o = getopt_long(argc, argv, "+u:cP:pqt:vh", opts, NULL)) != -1) {
		switch (o) {
		case 'u':
			c.user = optarg;
			user_given = true;
			if ((pw = strchr(optarg, ':'))) {
				*pw++ = '\0';
				c.pass = pw;
			}
			break;
		case 'c': c.resume = true; break;
		case 'P':
			if (atoi(optarg) < 1 || atoi(optarg) > 64)
				return ftpc_cli_fail(EX_USAGE, "--parallel: 1 to 64 sessions");
			c.parallel = (unsigned)atoi(optarg);
			break;
		case OPT_JSON: json = true; break;
		case OPT_NETRC: netrc = optarg; break;
		case OPT_NO_NETRC: netrc = ""; break;
		case OPT_TLS: c.tls = TLS_EXPLICIT; break;
		case OPT_TLS_AUTO: c.tls = TLS_AUTO; break;
		case OPT_IMPLICIT: c.tls = TLS_IMPLICIT; break;
		case OPT_CA: ca = optarg; break;
		case OPT_INSECURE: insecure = true; break;
		case 'S': c.mode = FTPC_DATA_SPSV; break;
		case OPT_FORM:
			if (parse_form(optarg, &c.form) < 0)
				return ftpc_cli_fail(EX_USAGE, "--spsv-form: 'dataconn' or 'spdt', not '%s'",
					    optarg);
			break;
		case 'A': c.mode = FTPC_DATA_PASV; break;
		case 'E': c.mode = FTPC_DATA_EPSV; break;
		case 'p': c.progress = true; break;
		case 'q': c.progress = false; break;
		case 't': c.timeout = atoi(optarg) > 0 ? atoi(optarg) : 30; break;
		case 'v': c.verbose = true; break;
		case 'h': usage(stdout); return EX_OK;
		default: usage(stderr); return EX_USAGE;
		}
	}
	if (argc - optind < 2) {
		usage(stderr);
		return EX_USAGE;
	}
	char *host, *port, *arg = argv[optind];
	size_t arglen = strlen(arg);
	if (ftpc_cli_split_host(arg, &host, &port) < 0)
		return ftpc_cli_fail(EX_USAGE, "bad host '%s'", argv[optind]);
	bool port_given = port >= arg && port < arg + arglen;
	c.host = host;
	c.port = port;
	if (c.tls == TLS_IMPLICIT && !port_given)
		c.port = "990";          /* the implicit-FTPS port when none is given */
	if (credentials(&c, netrc, user_given) < 0)
		return EX_USAGE;
	if ((o = tls_setup(&c, ca, insecure)) != EX_OK)
		return o;
	double start = ftpc_cli_now();
	char *listing = NULL;
	int r = ftpc_cli_open(&c);
	if (r == EX_OK) {
		r = run(&c, argc - optind - 1, argv + optind + 1, json ? &listing : NULL);
		cmd(&c, "QUIT");
	}
	ftpc_close(&c.conn);
	if (json)
		ftpc_cli_json(&c, argv[optind + 1], r, ftpc_cli_now() - start, listing);
	free(listing);
	crypto_tls_ctx_free(c.tls_ctx);
	return r;
}
