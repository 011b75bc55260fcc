/* bridge_main.c — `ferry-ftp bridge`: its options, the local listening
 * socket, the server's address, and the one epoll loop that drives every
 * session. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "ferry/base.h"
#include "bridge.h"
#include "ferry/crypto.h"
#include "ferry_ftp.h"

double ftpc_br_now(void)
{
	struct timespec ts;
	/* Read on every event, for timeouts of whole seconds: the coarse clock
	 * costs no clock-source read (3-7% of the bridge's samples were in them). */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s bridge [options] SERVER[:PORT]\n"
		"A local FTP server for any client; each session goes on to the\n"
		"single-port SERVER over its one port, data connections by SPSV.\n"
		"options:\n"
		"  -l, --listen ADDR:PORT   where clients connect (default 127.0.0.1:2121)\n"
		"  --spsv-form FORM         dataconn (draft -01, default) or spdt (-00)\n"
		"  --no-pipeline            wait for each reply of the data login\n"
		"  --tls                    TLS toward the server always (AUTH TLS)\n"
		"  --no-tls                 never TLS toward the server (default: when\n"
		"                           its FEAT offers AUTH TLS)\n"
		"  --ca FILE                trust these CA certificates (PEM), not the system's\n"
		"  --insecure               do not verify the server's certificate\n"
		"  --local-cert FILE        serve FTPS to local clients (AUTH TLS) with this\n"
		"                           certificate chain (PEM)\n"
		"  --local-key FILE         its private key (PEM; default: in --local-cert)\n"
		"  --local-implicit         local clients start TLS at once (implicit FTPS)\n"
		"  --local-no-reuse         do not require local PROT P data connections to\n"
		"                           resume the control connection's TLS session\n"
		"  --local-tls-required login|data\n"
		"                           local clients must send AUTH TLS before USER\n"
		"                           (530); data: also PROT P before transfers (521)\n"
		"  -t, --timeout SECONDS    a session's data and connect timeout, and the\n"
		"                           bound on a local TLS handshake (default 30)\n"
		"  -v, --verbose            sessions and their commands on stderr\n",
		FERRY_FTP_PROG);
}

/* One address: an IP literal only (numeric, to listen on) or a name too.
 * 0 or -1 with a message. */
static int resolve(const char *host, const char *port, bool numeric,
		   struct sockaddr_storage *a, socklen_t *len)
{
	uint16_t p;
	int r = fb_port_parse(port, numeric, &p);   /* listening: 0 is any */
	if (r == 0)
		r = numeric ? fb_addr_parse(host, p, a) : fb_addr_resolve(host, p, AF_UNSPEC, a);
	if (r < 0) {
		fprintf(stderr, "%s bridge: %s port %s: %s\n", FERRY_FTP_PROG, host, port,
			numeric && r == -EINVAL ? "not an IP address" : strerror(-r));
		return -1;
	}
	*len = fb_addr_len((const struct sockaddr *)a);
	return 0;
}

static int open_listener(struct bridge *b, char *spec)
{
	char *host, *port;
	if (ftpc_cli_split_host(spec, &host, &port) < 0)
		return ftpc_cli_fail(-1, "bridge: bad --listen '%s'", spec);
	struct sockaddr_storage a;
	socklen_t len;
	if (resolve(host, port, true, &a, &len) < 0)
		return -1;
	int fd = socket(a.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
	if (fd < 0)
		return ftpc_cli_fail(-1, "bridge: socket: %s", strerror(errno));
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, len) < 0 || listen(fd, 128) < 0) {
		ftpc_cli_fail(-1, "bridge: cannot listen on %s port %s: %s", host, port,
			      strerror(errno));
		close(fd);
		return -1;
	}
	len = sizeof(a);
	getsockname(fd, (struct sockaddr *)&a, &len);
	char text[80];
	printf("%s bridge: listening on %s\n", FERRY_FTP_PROG,
	       fb_addr_format((struct sockaddr *)&a, text, sizeof(text)));
	fflush(stdout);
	b->lep = (struct br_ep){ .fd = fd, .kind = BR_LISTENER, .armed = EPOLLIN };
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &b->lep };
	return epoll_ctl(b->ep, EPOLL_CTL_ADD, fd, &ev);
}

/* SIGTERM and SIGINT end the loop through the epoll set, so sessions are
 * closed and everything freed on the way out. */
static int open_signals(struct bridge *b)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -1;
	b->sig = (struct br_ep){ .fd = fd, .kind = BR_SIGNAL, .armed = EPOLLIN };
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &b->sig };
	return epoll_ctl(b->ep, EPOLL_CTL_ADD, fd, &ev);
}

static void loop(struct bridge *b)
{
	struct epoll_event evs[64];
	double tick = ftpc_br_now();
	for (;;) {
		int n = epoll_wait(b->ep, evs, 64, 1000);
		if (n < 0 && errno != EINTR) {
			ftpc_cli_fail(0, "bridge: epoll_wait: %s", strerror(errno));
			return;
		}
		b->batch++;
		for (int i = 0; i < n; i++) {
			struct br_ep *e = evs[i].data.ptr;
			if (e->kind == BR_SIGNAL)
				return;
			if (e->kind == BR_LISTENER)
				ftpc_br_accept(b);
			else
				ftpc_br_event(e, evs[i].events);
		}
		ftpc_br_reap(b);
		if (ftpc_br_now() - tick >= 1) {
			tick = ftpc_br_now();
			ftpc_br_tick(b);
		}
	}
}

int ftpc_bridge_main(int argc, char **argv)
{
	enum { OPT_FORM = 256, OPT_NO_PIPELINE, OPT_TLS, OPT_NO_TLS, OPT_CA, OPT_INSECURE,
	       OPT_LOCAL_CERT, OPT_LOCAL_KEY, OPT_LOCAL_IMPLICIT, OPT_LOCAL_NO_REUSE,
	       OPT_LOCAL_REQUIRED };
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "no-pipeline", no_argument, NULL, OPT_NO_PIPELINE },
		{ "spsv-form", required_argument, NULL, OPT_FORM },
		{ "tls", no_argument, NULL, OPT_TLS },
		{ "no-tls", no_argument, NULL, OPT_NO_TLS },
		{ "ca", required_argument, NULL, OPT_CA },
		{ "insecure", no_argument, NULL, OPT_INSECURE },
		{ "local-cert", required_argument, NULL, OPT_LOCAL_CERT },
		{ "local-key", required_argument, NULL, OPT_LOCAL_KEY },
		{ "local-implicit", no_argument, NULL, OPT_LOCAL_IMPLICIT },
		{ "local-no-reuse", no_argument, NULL, OPT_LOCAL_NO_REUSE },
		{ "local-tls-required", required_argument, NULL, OPT_LOCAL_REQUIRED },
		{ "timeout", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct bridge b = { .ep = -1, .lep.fd = -1, .sig.fd = -1, .form = FTPC_SPSV_DATACONN,
			    .timeout = 30, .pipeline = true, .tls = BR_TLS_AUTO, .lreuse = true };
	char deflisten[] = "127.0.0.1:2121", *listen_on = deflisten;
	const char *ca = NULL, *lcert = NULL, *lkey = NULL;
	bool insecure = false;
	int o;
	while ((o = getopt_long(argc, argv, "+l:t:vh", opts, NULL)) != -1) {
		switch (o) {
		case 'l': listen_on = optarg; break;
		case OPT_FORM:
			if (!strcmp(optarg, "spdt"))
				b.form = FTPC_SPSV_SPDT;
			else if (strcmp(optarg, "dataconn"))
				return ftpc_cli_fail(EX_USAGE, "--spsv-form: 'dataconn' or 'spdt'");
			break;
		case 't':
			if ((b.timeout = atoi(optarg)) <= 0)
				return ftpc_cli_fail(EX_USAGE, "--timeout: seconds > 0");
			break;
		case OPT_NO_PIPELINE: b.pipeline = false; break;
		case OPT_TLS: b.tls = BR_TLS_ON; break;
		case OPT_NO_TLS: b.tls = BR_TLS_OFF; break;
		case OPT_CA: ca = optarg; break;
		case OPT_INSECURE: insecure = true; break;
		case OPT_LOCAL_CERT: lcert = optarg; break;
		case OPT_LOCAL_KEY: lkey = optarg; break;
		case OPT_LOCAL_IMPLICIT: b.limplicit = true; break;
		case OPT_LOCAL_NO_REUSE: b.lreuse = false; break;
		case OPT_LOCAL_REQUIRED:
			if (!strcmp(optarg, "login"))
				b.lpolicy = BR_LP_LOGIN;
			else if (!strcmp(optarg, "data"))
				b.lpolicy = BR_LP_DATA;
			else
				return ftpc_cli_fail(EX_USAGE, "bridge: --local-tls-required: "
						     "'login' or 'data'");
			break;
		case 'v': b.verbose = true; break;
		case 'h': usage(stdout); return EX_OK;
		default: usage(stderr); return EX_USAGE;
		}
	}
	if (argc - optind != 1) {
		usage(stderr);
		return EX_USAGE;
	}
	char *host, *port;
	if (ftpc_cli_split_host(argv[optind], &host, &port) < 0)
		return ftpc_cli_fail(EX_USAGE, "bad server '%s'", argv[optind]);
	if (resolve(host, port, false, &b.srv, &b.srvlen) < 0)
		return EX_CONNECT;
	if (b.tls == BR_TLS_OFF && (ca || insecure))
		return ftpc_cli_fail(EX_USAGE, "bridge: --ca and --insecure make no sense with --no-tls");
	if (!lcert && (lkey || b.limplicit || !b.lreuse || b.lpolicy != BR_LP_OPTIONAL))
		return ftpc_cli_fail(EX_USAGE, "bridge: --local-key, --local-implicit, "
				     "--local-no-reuse and --local-tls-required need --local-cert");
	char why[CRYPTO_ERR_LEN];
	if (b.tls != BR_TLS_OFF && !(b.tls_ctx = crypto_tls_client_ctx_new(ca, !insecure, why)))
		return ftpc_cli_fail(EX_TLS, "bridge: %s", why);
	/* One server context for the control and data connections: its session
	 * cache and ticket key are what data connections resume. */
	struct crypto_tls_cert lc = { .cert_pem = lcert, .key_pem = lkey ? lkey : lcert };
	if (lcert && !(b.ltls_ctx = crypto_tls_ctx_new_multi(&lc, 1, NULL, why))) {
		crypto_tls_ctx_free(b.tls_ctx);
		return ftpc_cli_fail(EX_TLS, "bridge: --local-cert: %s", why);
	}
	b.tls_host = host;
	signal(SIGPIPE, SIG_IGN);
	b.ep = epoll_create1(EPOLL_CLOEXEC);
	/* Signals first: "listening on" tells the caller the bridge is
	 * ready, so a SIGTERM right after it must already end the loop. */
	if (b.ep < 0 || open_signals(&b) < 0 || open_listener(&b, listen_on) < 0) {
		ftpc_br_close_all(&b);
		crypto_tls_ctx_free(b.tls_ctx);
		crypto_tls_ctx_free(b.ltls_ctx);
		return EX_CONNECT;
	}
	loop(&b);
	ftpc_br_close_all(&b);
	crypto_tls_ctx_free(b.tls_ctx);
	crypto_tls_ctx_free(b.ltls_ctx);
	return EX_OK;
}
