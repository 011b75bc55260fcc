/* ferry-ftp.c — a command-line FTP client for scripts: ls, get, put and
 * mirror (both directions, recursive) over SPSV data connections on the
 * control port by default, PASV or EPSV on request, with a progress bar and
 * exit codes that say what failed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

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
};

enum data_mode { MODE_SPSV, MODE_PASV, MODE_EPSV };

struct client {
	int fd;
	struct sockaddr_storage peer;
	socklen_t peerlen;
	char buf[8192];
	size_t have, off;
	char reply[8192];          /* the last reply, all its lines */
	enum data_mode mode;
	bool verbose, progress;
	int timeout;
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

/* ---- the control connection ------------------------------------------- */

static int set_timeouts(int fd, int seconds)
{
	struct timeval tv = { .tv_sec = seconds };
	return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) |
	       setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int dial(const char *host, const char *port, struct sockaddr_storage *peer,
		socklen_t *peerlen, int timeout)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	if (getaddrinfo(host, port, &hints, &res))
		return -1;
	int fd = -1;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		set_timeouts(fd, timeout);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			memcpy(peer, ai->ai_addr, ai->ai_addrlen);
			*peerlen = ai->ai_addrlen;
			break;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* A second connection to the control connection's own peer, on `port`
 * (0: the same port, for SPSV). */
static int dial_peer(struct client *c, unsigned port)
{
	struct sockaddr_storage a = c->peer;
	if (port && a.ss_family == AF_INET)
		((struct sockaddr_in *)&a)->sin_port = htons((uint16_t)port);
	else if (port)
		((struct sockaddr_in6 *)&a)->sin6_port = htons((uint16_t)port);
	int fd = socket(a.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	set_timeouts(fd, c->timeout);
	if (connect(fd, (struct sockaddr *)&a, c->peerlen) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One line (without CRLF) into out; false at EOF or error. */
static bool read_line(int fd, char *buf, size_t cap, size_t *have, size_t *off,
		      char *out, size_t outcap)
{
	size_t o = 0;
	for (;;) {
		if (*off == *have) {
			ssize_t n = recv(fd, buf, cap, 0);
			if (n <= 0)
				return false;
			*have = (size_t)n;
			*off = 0;
		}
		char ch = buf[(*off)++];
		if (ch == '\n')
			break;
		if (ch != '\r' && o + 1 < outcap)
			out[o++] = ch;
	}
	out[o] = '\0';
	return true;
}

/* Reads one reply (all lines of a multi-line one); returns its code, or -1. */
static int get_reply_on(struct client *c, int fd, char *buf, size_t cap, size_t *have,
			size_t *off)
{
	char line[2048];
	size_t len = 0;
	c->reply[0] = '\0';
	if (!read_line(fd, buf, cap, have, off, line, sizeof(line)))
		return -1;
	if (strlen(line) < 3 || line[0] < '1' || line[0] > '5')
		return -1;
	int code = atoi(line);
	len += (size_t)snprintf(c->reply + len, sizeof(c->reply) - len, "%s", line);
	if (line[3] == '-') {
		char end[5];
		snprintf(end, sizeof(end), "%.3s ", line);
		do {
			if (!read_line(fd, buf, cap, have, off, line, sizeof(line)))
				return -1;
			if (len < sizeof(c->reply))
				len += (size_t)snprintf(c->reply + len, sizeof(c->reply) - len,
							"\n%s", line);
		} while (strncmp(line, end, 4));
	}
	if (c->verbose)
		fprintf(stderr, "< %s\n", c->reply);
	return code;
}

static int get_reply(struct client *c)
{
	return get_reply_on(c, c->fd, c->buf, sizeof(c->buf), &c->have, &c->off);
}

static int send_line_on(struct client *c, int fd, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int send_line_on(struct client *c, int fd, const char *fmt, ...)
{
	char line[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2)
		return -1;
	if (c->verbose)
		fprintf(stderr, "> %s\n", strncmp(line, "PASS ", 5) ? line : "PASS ****");
	memcpy(line + n, "\r\n", 2);
	return send(fd, line, (size_t)n + 2, MSG_NOSIGNAL) == n + 2 ? 0 : -1;
}

/* Sends a command and returns the reply code (-1: connection lost). */
static int cmd(struct client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int cmd(struct client *c, const char *fmt, ...)
{
	char line[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (send_line_on(c, c->fd, "%s", line) < 0)
		return -1;
	return get_reply(c);
}

/* ---- data connections ---------------------------------------------------- */

/* SPSV: "227 text (USER:PASS)"; then log in on a new connection to the same
 * address and port. The draft shows both "200 DATA" and "200DATA". */
static int open_spsv(struct client *c)
{
	if (cmd(c, "SPSV") != 227)
		return -1;
	char *lp = strrchr(c->reply, '('), *colon, *rp;
	if (!lp || !(colon = strchr(lp, ':')) || !(rp = strchr(colon, ')')))
		return -1;
	char user[64], pass[64];
	snprintf(user, sizeof(user), "%.*s", (int)(colon - lp - 1), lp + 1);
	snprintf(pass, sizeof(pass), "%.*s", (int)(rp - colon - 1), colon + 1);
	int fd = dial_peer(c, 0);
	if (fd < 0)
		return -1;
	char buf[512];
	size_t have = 0, off = 0;
	int r = get_reply_on(c, fd, buf, sizeof(buf), &have, &off);
	if (r == 220 && send_line_on(c, fd, "USER %s", user) == 0)
		r = get_reply_on(c, fd, buf, sizeof(buf), &have, &off);
	if (r == 331 && send_line_on(c, fd, "PASS %s", pass) == 0)
		r = get_reply_on(c, fd, buf, sizeof(buf), &have, &off);
	if (r != 200 || (strcmp(c->reply, "200 DATA") && strcmp(c->reply, "200DATA")) ||
	    have != off) {
		close(fd);
		return -1;
	}
	return fd;
}

static int open_pasv(struct client *c)
{
	unsigned port = 0;
	if (c->mode == MODE_EPSV) {
		char *p;
		if (cmd(c, "EPSV") != 229 || !(p = strstr(c->reply, "(|||")))
			return -1;
		port = (unsigned)atoi(p + 4);
	} else {
		unsigned h[6];
		char *p;
		if (cmd(c, "PASV") != 227 || !(p = strchr(c->reply, '(')) ||
		    sscanf(p, "(%u,%u,%u,%u,%u,%u)", &h[0], &h[1], &h[2], &h[3], &h[4],
			   &h[5]) != 6)
			return -1;
		port = h[4] << 8 | h[5];   /* the address is the control's peer */
	}
	return port ? dial_peer(c, port) : -1;
}

static int open_data(struct client *c)
{
	return c->mode == MODE_SPSV ? open_spsv(c) : open_pasv(c);
}

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
	int r = get_reply(c);
	if (r < 0)
		return fail(EX_PROTO, "connection lost");
	if (r == 425 || r == 426 || !data_ok)
		return fail(EX_DATA, "data connection failed: %s", c->reply);
	if (r / 100 != 2)
		return fail(EX_REMOTE, "%s", c->reply);
	return EX_OK;
}

/* Starts a transfer command on a fresh data connection; returns the fd. */
static int begin(struct client *c, int *code, const char *verb, const char *arg)
{
	int dfd = open_data(c);
	if (dfd < 0) {
		*code = fail(EX_DATA, "no data connection (%s mode): %s",
			     c->mode == MODE_SPSV ? "SPSV" : c->mode == MODE_PASV ? "PASV" : "EPSV",
			     c->reply);
		return -1;
	}
	int r = cmd(c, "%s %s", verb, arg);
	if (r != 150 && r != 125) {
		close(dfd);
		*code = r < 0 ? fail(EX_PROTO, "connection lost")
			      : fail(r == 425 || r == 426 ? EX_DATA : EX_REMOTE, "%s: %s", arg,
				     c->reply);
		return -1;
	}
	return dfd;
}

static int do_get(struct client *c, const char *remote, const char *local)
{
	uint64_t size = 0;
	if (cmd(c, "SIZE %s", remote) == 213)
		size = strtoull(c->reply + 4, NULL, 10);
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

/* mirror REMOTE LOCAL: MLSD each directory, recurse into "type=dir". The
 * listing is parsed into entries before recursing (the next MLSD reuses
 * nothing of it). */
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
		bool dir = strstr(line, "type=dir;") == line || strstr(line, ";type=dir;");
		bool file = strstr(line, "type=file;") == line || strstr(line, ";type=file;");
		if (!dir && !file)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			struct entry *t = realloc(v, cap * sizeof(*v));
			if (!t)
				break;
			v = t;
		}
		v[n++] = (struct entry){ .name = name, .dir = dir };
	}
	*out = v;
	return n;
}

static int mirror_down(struct client *c, const char *remote, const char *local)
{
	if (mkdir(local, 0755) < 0 && errno != EEXIST)
		return fail(EX_LOCAL, "%s: %s", local, strerror(errno));
	char *list;
	int r = fetch_listing(c, "MLSD", remote, &list);
	if (r)
		return r;
	struct entry *v = NULL;
	size_t n = parse_mlsd(list, &v);
	for (size_t i = 0; i < n && !r; i++) {
		char rp[4096], lp[4096];
		join(rp, sizeof(rp), remote, v[i].name);
		join(lp, sizeof(lp), local, v[i].name);
		r = v[i].dir ? mirror_down(c, rp, lp) : do_get(c, rp, lp);
	}
	free(v);
	free(list);
	return r;
}

/* mirror -R LOCAL REMOTE: MKD (an existing directory is fine), STOR files. */
static int mirror_up(struct client *c, const char *local, const char *remote)
{
	int r = cmd(c, "MKD %s", remote);
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
			r = fail(EX_LOCAL, "%s: %s", lp, strerror(errno));
		else if (S_ISDIR(st.st_mode))
			r = mirror_up(c, lp, rp);
		else if (S_ISREG(st.st_mode))
			r = do_put(c, lp, rp);
	}
	closedir(d);
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
		"  --pasv, --epsv           classic passive data connections\n"
		"  -p, --progress           progress bar even when stderr is no terminal\n"
		"  -q, --quiet              no progress bar\n"
		"  -t, --timeout SECONDS    network timeout (default 30)\n"
		"  -v, --verbose            show the control dialogue on stderr\n"
		"exit status: 0 ok, 1 usage, 2 connect, 3 login, 4 remote file,\n"
		"             5 local file, 6 data connection, 7 protocol\n", prog);
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
		return mirror_up(c, argv[2], argv[3]);
	if (!strcmp(verb, "mirror") && argc == 3)
		return mirror_down(c, argv[1], argv[2]);
	usage(stderr);
	return EX_USAGE;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "spsv", no_argument, NULL, 'S' },
		{ "pasv", no_argument, NULL, 'A' },
		{ "epsv", no_argument, NULL, 'E' },
		{ "progress", no_argument, NULL, 'p' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "timeout", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct client c = { .fd = -1, .mode = MODE_SPSV, .timeout = 30,
			    .progress = isatty(2) };
	char *user = "anonymous", *pass = NULL;
	int o;
	while ((o = getopt_long(argc, argv, "+u:pqt:vh", opts, NULL)) != -1) {
		switch (o) {
		case 'u':
			user = optarg;
			if ((pass = strchr(optarg, ':')))
				*pass++ = '\0';
			break;
		case 'S': c.mode = MODE_SPSV; break;
		case 'A': c.mode = MODE_PASV; break;
		case 'E': c.mode = MODE_EPSV; break;
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
	if (!pass)
		pass = getenv("FERRY_FTP_PASSWORD");
	if (!pass)
		pass = "ferry-ftp@";
	char *host, *port;
	if (split_host(argv[optind], &host, &port) < 0)
		return fail(EX_USAGE, "bad host '%s'", argv[optind]);
	c.peerlen = sizeof(c.peer);
	c.fd = dial(host, port, &c.peer, &c.peerlen, c.timeout);
	if (c.fd < 0)
		return fail(EX_CONNECT, "cannot connect to %s port %s", host, port);
	int r = get_reply(&c);
	if (r != 220) {
		close(c.fd);
		return fail(EX_CONNECT, "server not ready: %s", c.reply);
	}
	r = cmd(&c, "USER %s", user);
	if (r == 331)
		r = cmd(&c, "PASS %s", pass);
	if (r != 230 && r != 202) {
		close(c.fd);
		return fail(r < 0 ? EX_PROTO : EX_LOGIN, "login failed: %s", c.reply);
	}
	if (cmd(&c, "TYPE I") != 200) {
		close(c.fd);
		return fail(EX_PROTO, "TYPE I refused: %s", c.reply);
	}
	r = run(&c, argc - optind - 1, argv + optind + 1);
	cmd(&c, "QUIT");
	close(c.fd);
	return r;
}
