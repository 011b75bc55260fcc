/* ferry-ftp.c — a command-line FTP client for scripts: ls, get, put and
 * mirror (both directions, recursive) over SPSV data connections on the
 * control port by default, PASV or EPSV on request, with a progress bar and
 * exit codes that say what failed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ftpc.h"

/* Exit codes (man ferry-ftp(1)). */
enum {
	EX_OK = 0,
	EX_USAGE = 1,      /* bad command line */
	EX_CONNECT = 2,    /* could not reach the server */
	EX_LOGIN = 3,      /* login refused */
	EX_REMOTE = 4,     /* the server refused a file command (5xx on a file) */
	EX_LOCAL = 5,      /* a local file could not be read or written */
	EX_DATA = 6,       /* no data connection, or it broke (425, 426) */
	EX_PROTO = 7,      /* unexpected reply or connection lost */
	EX_PARTIAL = 8,    /* mirror: done, but some entries could not be copied */
};

struct client {
	struct ftpc_conn conn;
	enum ftpc_data_mode mode;
	enum ftpc_spsv_form form;
	bool progress;
};

static const char *prog = "ferry-ftp";

static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return code;
}

/* The library does the talking; these keep the old short names. */
#define cmd(c, ...) ftpc_cmd(&(c)->conn, __VA_ARGS__)
#define REPLY(c) ((c)->conn.reply)

/* ---- progress ------------------------------------------------------------ */

struct progress {
	const char *name;
	uint64_t total, done;   /* total 0: unknown */
	double start, last;
	bool on;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress_draw(struct progress *p, bool final)
{
	double t = now_s();
	if (!p->on || (!final && t - p->last < 0.2))
		return;
	p->last = t;
	double rate = p->done / (t - p->start > 0.001 ? t - p->start : 0.001) / 1e6;
	if (p->total) {
		int pct = (int)(p->done * 100 / p->total), bar = pct * 30 / 100;
		fprintf(stderr, "\r%-24.24s [%.*s%*s] %3d%% %8.2f MB/s", p->name, bar,
			"##############################", 30 - bar, "", pct, rate);
	} else {
		fprintf(stderr, "\r%-24.24s %12llu bytes %8.2f MB/s", p->name,
			(unsigned long long)p->done, rate);
	}
	if (final)
		fputc('\n', stderr);
}

/* ---- transfers ----------------------------------------------------------- */

static int finish_transfer(struct client *c, int data_ok)
{
	int r = ftpc_reply(&c->conn);
	if (r < 0)
		return fail(EX_PROTO, "connection lost");
	if (r == 425 || r == 426 || !data_ok)
		return fail(EX_DATA, "data connection failed: %s", REPLY(c));
	if (r / 100 != 2)
		return fail(EX_REMOTE, "%s", REPLY(c));
	return EX_OK;
}

/* Starts a transfer command on a fresh data connection; returns the fd. */
static int begin(struct client *c, int *code, const char *verb, const char *arg)
{
	int dfd = ftpc_open_data(&c->conn, c->mode, c->form);
	if (dfd == FTPC_DE_LOST) {
		*code = fail(EX_PROTO, "connection lost");
		return -1;
	}
	if (dfd < 0) {
		*code = fail(EX_DATA, "no data connection (%s): %s: %s",
			     ftpc_data_mode_name(c->mode), ftpc_data_strerror(dfd), REPLY(c));
		return -1;
	}
	int r = cmd(c, "%s %s", verb, arg);
	if (r != 150 && r != 125) {
		close(dfd);
		*code = r < 0 ? fail(EX_PROTO, "connection lost")
			      : fail(r == 425 || r == 426 ? EX_DATA : EX_REMOTE, "%s: %s", arg,
				     REPLY(c));
		return -1;
	}
	return dfd;
}

static int do_get(struct client *c, const char *remote, const char *local)
{
	uint64_t size = 0;
	if (cmd(c, "SIZE %s", remote) == 213)
		size = strtoull(REPLY(c) + 4, NULL, 10);
	int code;
	int dfd = begin(c, &code, "RETR", remote);
	if (dfd < 0)
		return code;
	int out = open(local, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		close(dfd);
		cmd(c, "ABOR");
		return fail(EX_LOCAL, "%s: %s", local, strerror(errno));
	}
	struct progress p = { .name = remote, .total = size, .start = now_s(),
			      .on = c->progress };
	char buf[1 << 16];
	ssize_t n;
	bool ok = true;
	while ((n = recv(dfd, buf, sizeof(buf), 0)) > 0) {
		if (write(out, buf, (size_t)n) != n) {
			close(out);
			close(dfd);
			return fail(EX_LOCAL, "%s: %s", local, strerror(errno));
		}
		p.done += (uint64_t)n;
		progress_draw(&p, false);
	}
	if (n < 0)
		ok = false;
	progress_draw(&p, true);
	close(dfd);
	if (close(out) < 0)
		return fail(EX_LOCAL, "%s: %s", local, strerror(errno));
	return finish_transfer(c, ok);
}

static int do_put(struct client *c, const char *local, const char *remote)
{
	int in = open(local, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (in < 0 || fstat(in, &st) < 0)
		return fail(EX_LOCAL, "%s: %s", local, strerror(errno));
	int code;
	int dfd = begin(c, &code, "STOR", remote);
	if (dfd < 0) {
		close(in);
		return code;
	}
	struct progress p = { .name = local, .total = (uint64_t)st.st_size,
			      .start = now_s(), .on = c->progress };
	char buf[1 << 16];
	ssize_t n;
	bool ok = true;
	while (ok && (n = read(in, buf, sizeof(buf))) > 0) {
		for (ssize_t o = 0; o < n;) {
			ssize_t w = send(dfd, buf + o, (size_t)(n - o), MSG_NOSIGNAL);
			if (w <= 0) {
				ok = false;
				break;
			}
			o += w;
		}
		p.done += (uint64_t)n;
		progress_draw(&p, false);
	}
	progress_draw(&p, true);
	close(in);
	close(dfd);
	return finish_transfer(c, ok);
}

/* Reads a whole listing (MLSD or LIST) into a malloc'd string. */
static int fetch_listing(struct client *c, const char *verb, const char *dir, char **out)
{
	int code;
	int dfd = begin(c, &code, verb, dir);
	if (dfd < 0)
		return code;
	size_t len = 0, cap = 4096;
	char *s = malloc(cap);
	ssize_t n;
	while (s && (n = recv(dfd, s + len, cap - len - 1, 0)) > 0) {
		len += (size_t)n;
		if (cap - len < 1024) {
			char *t = realloc(s, cap *= 2);
			if (!t) {
				free(s);
				s = NULL;
			}
			s = t;
		}
	}
	close(dfd);
	if (!s)
		return fail(EX_LOCAL, "out of memory");
	s[len] = '\0';
	code = finish_transfer(c, 1);
	if (code)
		free(s);
	else
		*out = s;
	return code;
}

static int do_ls(struct client *c, const char *dir)
{
	char *s;
	int r = fetch_listing(c, "LIST", dir, &s);
	if (r == 0) {
		fputs(s, stdout);
		free(s);
	}
	return r;
}

static void join(char *out, size_t cap, const char *a, const char *b)
{
	size_t n = strlen(a);
	snprintf(out, cap, "%s%s%s", a, n && a[n - 1] == '/' ? "" : "/", b);
}

/* ---- mirror ------------------------------------------------------------ */

/* A mirror goes on past an entry it cannot copy (reported on stderr, as
 * lftp and wget do) and ends with EX_PARTIAL; only a lost control
 * connection stops it. */
struct mirror {
	struct client *c;
	unsigned copied, skipped;
};

static bool fatal(int code)
{
	return code == EX_PROTO || code == EX_CONNECT;
}

/* The outcome of one entry: EX_OK, or the fatal code that ends the run. */
static int settle(struct mirror *m, int code, const char *what)
{
	if (code == EX_OK) {
		m->copied++;
		return EX_OK;
	}
	if (fatal(code))
		return code;
	m->skipped++;
	fprintf(stderr, "%s: mirror: skipped %s\n", prog, what);
	return EX_OK;
}

/* What mirror does with an MLSD entry (RFC 3659 7.5.1: facts are
 * case-insensitive; "OS.unix=slink" and other OS types may be symbolic
 * links a server follows, so they are fetched like files). */
enum entry_kind { ENTRY_SKIP, ENTRY_FILE, ENTRY_DIR };

static enum entry_kind mlsd_kind(const char *facts)
{
	for (const char *f = facts; *f;) {
		const char *end = strchr(f, ';');
		size_t n = end ? (size_t)(end - f) : strlen(f);
		if (n > 5 && !strncasecmp(f, "type=", 5)) {
			const char *v = f + 5;
			size_t vn = n - 5;
			if (vn == 3 && !strncasecmp(v, "dir", 3))
				return ENTRY_DIR;
			if ((vn == 4 && (!strncasecmp(v, "cdir", 4) || !strncasecmp(v, "pdir", 4))))
				return ENTRY_SKIP;
			return ENTRY_FILE;
		}
		f += n + (end ? 1 : 0);
	}
	return ENTRY_SKIP;
}

/* The listing is parsed into entries before recursing (the next MLSD
 * reuses nothing of it). Names with '/' and "." or ".." are left out. */
struct entry {
	char *name;
	bool dir;
};

static size_t parse_mlsd(char *list, struct entry **out)
{
	size_t n = 0, cap = 0;
	struct entry *v = NULL;
	for (char *save, *line = strtok_r(list, "\r\n", &save); line;
	     line = strtok_r(NULL, "\r\n", &save)) {
		char *name = strchr(line, ' ');
		if (!name || !name[1] || strchr(name + 1, '/') || !strcmp(name + 1, ".") ||
		    !strcmp(name + 1, ".."))
			continue;
		*name++ = '\0';
		enum entry_kind k = mlsd_kind(line);
		if (k == ENTRY_SKIP)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			struct entry *t = realloc(v, cap * sizeof(*v));
			if (!t)
				break;
			v = t;
		}
		v[n++] = (struct entry){ .name = name, .dir = k == ENTRY_DIR };
	}
	*out = v;
	return n;
}

/* mirror REMOTE LOCAL: MLSD each directory, recurse into directories. */
static int mirror_down(struct mirror *m, const char *remote, const char *local)
{
	if (mkdir(local, 0755) < 0 && errno != EEXIST)
		return fail(EX_LOCAL, "%s: %s", local, strerror(errno));
	char *list;
	int r = fetch_listing(m->c, "MLSD", remote, &list);
	if (r)
		return r;
	struct entry *v = NULL;
	size_t n = parse_mlsd(list, &v);
	for (size_t i = 0; i < n && !r; i++) {
		char rp[4096], lp[4096];
		join(rp, sizeof(rp), remote, v[i].name);
		join(lp, sizeof(lp), local, v[i].name);
		r = settle(m, v[i].dir ? mirror_down(m, rp, lp) : do_get(m->c, rp, lp), rp);
	}
	free(v);
	free(list);
	return r;
}

/* mirror -R LOCAL REMOTE: MKD (an existing directory is fine), STOR files. */
static int mirror_up(struct mirror *m, const char *local, const char *remote)
{
	int r = cmd(m->c, "MKD %s", remote);
	if (r < 0)
		return fail(EX_PROTO, "connection lost");
	DIR *d = opendir(local);
	if (!d)
		return fail(EX_LOCAL, "%s: %s", local, strerror(errno));
	struct dirent *e;
	r = 0;
	while (!r && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char lp[4096], rp[4096];
		struct stat st;
		join(lp, sizeof(lp), local, e->d_name);
		join(rp, sizeof(rp), remote, e->d_name);
		if (stat(lp, &st) < 0)
			r = settle(m, fail(EX_LOCAL, "%s: %s", lp, strerror(errno)), lp);
		else if (S_ISDIR(st.st_mode))
			r = settle(m, mirror_up(m, lp, rp), lp);
		else if (S_ISREG(st.st_mode))
			r = settle(m, do_put(m->c, lp, rp), lp);
		else
			r = settle(m, fail(EX_LOCAL, "%s: not a regular file", lp), lp);
	}
	closedir(d);
	return r;
}

/* The whole run: the top directory's own failure is the run's. */
static int mirror(struct client *c, bool up, const char *from, const char *to)
{
	struct mirror m = { .c = c };
	int r = up ? mirror_up(&m, from, to) : mirror_down(&m, from, to);
	if (r == EX_OK && m.skipped) {
		fprintf(stderr, "%s: mirror: %u of %u entries skipped\n", prog, m.skipped,
			m.skipped + m.copied);
		return EX_PARTIAL;
	}
	return r;
}

/* ---- main ---------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s [options] HOST[:PORT] COMMAND [ARGS]\n"
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
		"             8 mirror skipped entries it could not copy\n", prog);
}

static int split_host(char *arg, char **host, char **port)
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
		return do_ls(c, argc == 2 ? argv[1] : ".");
	if (!strcmp(verb, "get") && (argc == 2 || argc == 3))
		return do_get(c, argv[1], argc == 3 ? argv[2] : base_name(argv[1]));
	if (!strcmp(verb, "put") && (argc == 2 || argc == 3))
		return do_put(c, argv[1], argc == 3 ? argv[2] : base_name(argv[1]));
	if (!strcmp(verb, "mirror") && argc == 4 && !strcmp(argv[1], "-R"))
		return mirror(c, true, argv[2], argv[3]);
	if (!strcmp(verb, "mirror") && argc == 3)
		return mirror(c, false, argv[1], argv[2]);
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
		return fail(EX_CONNECT, "cannot connect to %s port %s", host, port);
	if (r != 220)
		return fail(EX_CONNECT, "server not ready: %s", REPLY(c));
	r = ftpc_login(&c->conn, user, pass);
	if (r != 230 && r != 202)
		return fail(r < 0 ? EX_PROTO : EX_LOGIN, "login failed: %s", REPLY(c));
	if (cmd(c, "TYPE I") != 200)
		return fail(EX_PROTO, "TYPE I refused: %s", REPLY(c));
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
				return fail(EX_USAGE, "--spsv-form: 'dataconn' or 'spdt', not '%s'",
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
	if (split_host(argv[optind], &host, &port) < 0)
		return fail(EX_USAGE, "bad host '%s'", argv[optind]);
	int r = open_session(&c, host, port, user, pass, timeout, verbose);
	if (r == EX_OK) {
		r = run(&c, argc - optind - 1, argv + optind + 1);
		cmd(&c, "QUIT");
	}
	ftpc_close(&c.conn);
	return r;
}
