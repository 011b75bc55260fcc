/* main.c — ferry-ftp, a command-line FTP client for scripts: options, the
 * session (connect, log in, binary type) and its one command (ls, get, put,
 * mirror). Data connections use SPSV on the control port by default, PASV
 * or EPSV on request; exit codes say what failed. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
		"  -p, --progress           progress bar even when stderr is no terminal\n"
		"  -q, --quiet              no progress bar\n"
		"  -t, --timeout SECONDS    network timeout (default 30)\n"
		"  -v, --verbose            show the control dialogue on stderr\n"
		"exit status: 0 ok, 1 usage, 2 connect, 3 login, 4 remote file,\n"
		"             5 local file, 6 data connection, 7 protocol,\n"
		"             8 mirror skipped entries it could not copy\n", FERRY_FTP_PROG,
		FERRY_FTP_PROG);
}

int ftpc_cli_split_host(char *arg, char **host, char **port)
{
	*port = "21";
	if (arg[0] == '[') {
		char *e = strchr(arg, ']');
		if (!e)
			return -1;
		*e = '\0';
		*host = arg + 1;
		if (e[1] == ':')
			*port = e + 2;
		return 0;
	}
	*host = arg;
	char *colon = strrchr(arg, ':');
	if (colon && strchr(arg, ':') == colon) {
		*colon = '\0';
		*port = colon + 1;
	}
	return 0;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

static int run(struct client *c, int argc, char **argv)
{
	const char *verb = argv[0];
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

/* Connect, log in, binary mode: EX_OK or the exit code of what failed. */
static int open_session(struct client *c, const char *host, const char *port,
			const char *user, const char *pass, int timeout, bool verbose)
{
	int r = ftpc_connect(&c->conn, host, port, timeout, verbose);
	if (r < 0 && c->conn.ctl.fd < 0)
		return ftpc_cli_fail(EX_CONNECT, "cannot connect to %s port %s", host, port);
	if (r != 220)
		return ftpc_cli_fail(EX_CONNECT, "server not ready: %s", REPLY(c));
	r = ftpc_login(&c->conn, user, pass);
	if (r != 230 && r != 202)
		return ftpc_cli_fail(r < 0 ? EX_PROTO : EX_LOGIN, "login failed: %s", REPLY(c));
	if (cmd(c, "TYPE I") != 200)
		return ftpc_cli_fail(EX_PROTO, "TYPE I refused: %s", REPLY(c));
	return EX_OK;
}

int main(int argc, char **argv)
{
	enum { OPT_FORM = 256 };
	static const struct option opts[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "spsv", no_argument, NULL, 'S' },
		{ "spsv-form", required_argument, NULL, OPT_FORM },
		{ "pasv", no_argument, NULL, 'A' },
		{ "epsv", no_argument, NULL, 'E' },
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
			    .form = FTPC_SPSV_DATACONN, .progress = isatty(2) };
	char *user = "anonymous", *pass = NULL;
	int o, timeout = 30;
	bool verbose = false;
	while ((o = getopt_long(argc, argv, "+u:pqt:vh", opts, NULL)) != -1) {
		switch (o) {
		case 'u':
			user = optarg;
			if ((pass = strchr(optarg, ':')))
				*pass++ = '\0';
			break;
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
		case 't': timeout = atoi(optarg) > 0 ? atoi(optarg) : 30; break;
		case 'v': verbose = true; break;
		case 'h': usage(stdout); return EX_OK;
		default: usage(stderr); return EX_USAGE;
		}
	}
	if (argc - optind < 2) {
		usage(stderr);
		return EX_USAGE;
	}
	if (!pass)
		pass = getenv("FERRY_FTP_PASSWORD");
	if (!pass)
		pass = "ferry-ftp@";
	char *host, *port;
	if (ftpc_cli_split_host(argv[optind], &host, &port) < 0)
		return ftpc_cli_fail(EX_USAGE, "bad host '%s'", argv[optind]);
	int r = open_session(&c, host, port, user, pass, timeout, verbose);
	if (r == EX_OK) {
		r = run(&c, argc - optind - 1, argv + optind + 1);
		cmd(&c, "QUIT");
	}
	ftpc_close(&c.conn);
	return r;
}
