/* ftp.c — ferry-perf ftp: options, the load threads, and the report (logins
 * or transfers per interval, then totals, throughput and latency
 * percentiles); ftp_client.c is what each client does. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "ftp_load.h"
#include "perf.h"

static const char *const mode_names[] = { "login", "retr", "stor", "idle" };
static const char *const data_names[] = { "pasv", "epsv", "spsv" };
static const char *const form_names[] = { "dataconn", "spdt" };

static void usage(FILE *f)
{
	fprintf(f,
"usage: ferry-perf ftp --server ADDR:PORT [options]\n"
"\n"
"N concurrent FTP clients in one process (epoll, non-blocking sockets).\n"
"\n"
"  -s, --server ADDR:PORT  the FTP server (port 21 if left out)\n"
"  -m, --mode MODE         login: connect, USER, PASS, QUIT, close, again\n"
"                          retr:  log in once, then RETR --file over and over\n"
"                          stor:  log in once, then STOR --size bytes over and over\n"
"                          idle:  log in -c sessions and hold them (SIGINT ends)\n"
"  -c, --concurrency N     clients at once (idle: sessions to hold) [1]\n"
"  -t, --duration SEC      run this long [10]; idle: hold this long once all\n"
"                          sessions are up [0: until SIGINT]\n"
"  -n, --count N           stop after N logins or transfers (errors count)\n"
"  -d, --data MODE         data connections: pasv, epsv or spsv [epsv]\n"
"      --spsv-form FORM    spsv: dataconn logs the data connection in with\n"
"                          the reply's (USER:PASS) (draft -01), spdt sends\n"
"                          SPDT <identifier> (draft -00) [dataconn]\n"
"  -f, --file NAME         RETR: file to fetch; STOR: name to write, with\n"
"                          \".ID\" appended per client when -c > 1 [ferry-perf.dat]\n"
"  -S, --size BYTES        STOR: bytes to send; RETR: bytes expected (a\n"
"                          different count is an error). k/M/G: powers of\n"
"                          1000, Ki/Mi/Gi: powers of 1024\n"
"  -u, --user NAME         [anonymous]\n"
"  -p, --pass PASSWORD     [ferry-perf@]\n"
"  -i, --interval SEC      seconds between interval lines, 0: none [1]\n"
"  -J, --json              one JSON document at the end instead of text\n"
"  -A, --cpu N             pin the load threads to CPU N\n"
"  -T, --threads N         load threads, each with its own epoll [1]\n"
"      --timeout SEC       an operation with no progress this long fails [30]\n"
"      --ramp N            idle: logins in flight at once [200]\n"
"      --noop SEC          idle: send NOOP on each session this often [0: never]\n"
"  -h, --help\n"
"\n"
"Any reply other than the expected one, a refused or broken connection, a\n"
"timeout or a wrong RETR size is an error: counted, the first few shown on\n"
"stderr. Exit status: 0 no errors, 1 usage, 2 system failure, 3 errors.\n");
}

/* "1048576", "1M" (10^6), "1Mi" (2^20). */
static bool parse_size(const char *s, uint64_t *out)
{
	size_t n = strlen(s);
	if (n >= 2 && s[n - 1] == 'i') {
		static const char units[] = "KMGT";
		const char *u = strchr(units, s[n - 2] == 'k' ? 'K' : s[n - 2]);
		if (!u || !*u)
			return false;
		char num[64];
		if (n - 2 >= sizeof(num) || n == 2)
			return false;
		memcpy(num, s, n - 2);
		num[n - 2] = '\0';
		char *end;
		errno = 0;
		unsigned long long v = strtoull(num, &end, 10);
		unsigned shift = 10 * (unsigned)(u - units + 1);
		if (errno || *end || v > (UINT64_MAX >> shift))
			return false;
		*out = (uint64_t)v << shift;
		return true;
	}
	double v = perf_parse_si(s);
	if (v < 0 || v > 1.8e19)
		return false;
	*out = (uint64_t)v;
	return true;
}

static int pick(const char *s, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(s, names[i]))
			return (int)i;
	return -1;
}

static int parse_opts(int argc, char **argv, struct ftp_opts *o)
{
	enum { OPT_TIMEOUT = 256, OPT_RAMP, OPT_NOOP, OPT_FORM };
	static const struct option longs[] = {
		{ "server", required_argument, NULL, 's' },
		{ "mode", required_argument, NULL, 'm' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 't' },
		{ "count", required_argument, NULL, 'n' },
		{ "data", required_argument, NULL, 'd' },
		{ "file", required_argument, NULL, 'f' },
		{ "size", required_argument, NULL, 'S' },
		{ "user", required_argument, NULL, 'u' },
		{ "pass", required_argument, NULL, 'p' },
		{ "interval", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'J' },
		{ "cpu", required_argument, NULL, 'A' },
		{ "threads", required_argument, NULL, 'T' },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "ramp", required_argument, NULL, OPT_RAMP },
		{ "noop", required_argument, NULL, OPT_NOOP },
		{ "spsv-form", required_argument, NULL, OPT_FORM },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	*o = (struct ftp_opts){ .mode = MODE_LOGIN, .data = DATA_EPSV, .user = "anonymous",
				.pass = "ferry-perf@", .concurrency = 1, .threads = 1,
				.ramp = 200, .duration = -1, .interval = 1, .timeout = 30,
				.cpu = -1 };
	const char *server = NULL;
	double v;
	int ch, m;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "s:m:c:t:n:d:f:S:u:p:i:JA:T:h", longs, NULL)) != -1) {
		switch (ch) {
		case 's': server = optarg; break;
		case 'm':
			if ((m = pick(optarg, mode_names, 4)) < 0)
				goto bad;
			o->mode = (enum ftp_mode)m;
			break;
		case 'd':
			if ((m = pick(optarg, data_names, 3)) < 0)
				goto bad;
			o->data = (enum ftp_data)m;
			break;
		case 'c':
			if (!perf_parse_num(optarg, 1, 1000000, &v))
				goto bad;
			o->concurrency = (unsigned)v;
			break;
		case 't':
			if (!perf_parse_num(optarg, 0, 1e7, &v))
				goto bad;
			o->duration = v;
			break;
		case 'n':
			if (!perf_parse_num(optarg, 1, 1e15, &v))
				goto bad;
			o->count = (uint64_t)v;
			break;
		case 'f': o->file = optarg; break;
		case 'S':
			if (!parse_size(optarg, &o->size))
				goto bad;
			o->size_given = true;
			break;
		case 'u': o->user = optarg; break;
		case 'p': o->pass = optarg; break;
		case 'i':
			if (!perf_parse_num(optarg, 0, 1e6, &o->interval))
				goto bad;
			break;
		case 'J': o->json = true; break;
		case 'A':
			if (!perf_parse_num(optarg, 0, 4095, &v))
				goto bad;
			o->cpu = (int)v;
			break;
		case 'T':
			if (!perf_parse_num(optarg, 1, 256, &v))
				goto bad;
			o->threads = (unsigned)v;
			break;
		case OPT_TIMEOUT:
			if (!perf_parse_num(optarg, 0.1, 1e6, &o->timeout))
				goto bad;
			break;
		case OPT_RAMP:
			if (!perf_parse_num(optarg, 1, 1000000, &v))
				goto bad;
			o->ramp = (unsigned)v;
			break;
		case OPT_FORM:
			if ((m = pick(optarg, form_names, 2)) < 0)
				goto bad;
			o->spsv_form = (enum ftpc_spsv_form)m;
			break;
		case OPT_NOOP:
			if (!perf_parse_num(optarg, 0, 1e6, &o->noop))
				goto bad;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ferry-perf ftp: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (!server) {
		fprintf(stderr, "ferry-perf ftp: --server is required\n");
		return -1;
	}
	if (perf_parse_addr(server, 21, &o->server, "server") < 0)
		return -1;
	if (o->mode == MODE_RETR && !o->file) {
		fprintf(stderr, "ferry-perf ftp: --mode retr needs --file\n");
		return -1;
	}
	if (o->mode == MODE_STOR && !o->size_given) {
		fprintf(stderr, "ferry-perf ftp: --mode stor needs --size\n");
		return -1;
	}
	if (o->duration < 0)
		o->duration = o->mode == MODE_IDLE ? 0 : (o->count ? 0 : 10);
	if (o->threads > o->concurrency)
		o->threads = o->concurrency;
	return 0;
bad:
	fprintf(stderr, "ferry-perf ftp: bad value '%s' for -%c\n", optarg, ch);
	return -1;
}

/* Two descriptors per client (control and data) and some to spare. */
static int raise_nofile(unsigned clients)
{
	rlim_t need = (rlim_t)clients * 2 + 64;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -1;
	if (rl.rlim_cur >= need)
		return 0;
	if (rl.rlim_max < need)
		rl.rlim_max = need;     /* works as root */
	rl.rlim_cur = need;
	if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
		return 0;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	fprintf(stderr, "ferry-perf ftp: only %llu descriptors allowed, %llu wanted\n",
		(unsigned long long)rl.rlim_cur, (unsigned long long)need);
	return rl.rlim_cur >= (rlim_t)clients + 16 ? 0 : -1;
}

/* ---- figures ---------------------------------------------------------------- */

struct totals {
	uint64_t ops, errors, bytes, up, settled, errs[ERR__COUNT];
};

static uint64_t ld(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }

static void sum(const struct ftp_run *r, struct totals *t)
{
	*t = (struct totals){ 0 };
	for (unsigned i = 0; i < r->o->threads; i++) {
		const struct ftp_thread *th = &r->threads[i];
		t->ops += ld(&th->ops);
		t->errors += ld(&th->errors);
		t->bytes += ld(&th->bytes);
		t->up += ld(&th->up);
		t->settled += ld(&th->settled);
		for (int k = 0; k < ERR__COUNT; k++)
			t->errs[k] += ld(&th->errs[k]);
	}
}

static bool all_finished(const struct ftp_run *r)
{
	for (unsigned i = 0; i < r->o->threads; i++)
		if (!__atomic_load_n(&r->threads[i].finished, __ATOMIC_ACQUIRE))
			return false;
	return true;
}

static const char *ops_word(enum ftp_mode m)
{
	return m == MODE_LOGIN ? "logins" : m == MODE_IDLE ? "sessions" : "transfers";
}

/* "1.23 GBytes" the way iperf3 prints sizes. */
static void bytes_text(double b, char *out, size_t n)
{
	if (b >= 1024.0 * 1024 * 1024)
		snprintf(out, n, "%6.2f GBytes", b / (1024.0 * 1024 * 1024));
	else if (b >= 1024.0 * 1024)
		snprintf(out, n, "%6.2f MBytes", b / (1024.0 * 1024));
	else
		snprintf(out, n, "%6.2f KBytes", b / 1024.0);
}

static void interval_line(struct perf_report *rep, const struct ftp_opts *o, double t0,
			  double t1, const struct totals *a, const struct totals *b,
			  uint64_t sessions)
{
	double dt = t1 - t0 > 1e-9 ? t1 - t0 : 1e-9;
	uint64_t ops = b->ops - a->ops, errors = b->errors - a->errors;
	uint64_t bytes = b->bytes - a->bytes;
	char line[256], size[32];
	json_t *j = json_pack("{s:f, s:f, s:f, s:I, s:f, s:I, s:f, s:I}",
			      "start", t0, "end", t1, "seconds", dt, "ops", (json_int_t)ops,
			      "ops_per_second", (double)ops / dt, "bytes", (json_int_t)bytes,
			      "bits_per_second", (double)bytes * 8 / dt,
			      "errors", (json_int_t)errors);
	if (o->mode == MODE_IDLE) {
		json_object_set_new(j, "sessions_up", json_integer((json_int_t)sessions));
		snprintf(line, sizeof(line), "[FTP] %6.2f-%-6.2f sec  %llu/%u sessions up  "
			 "%llu errors", t0, t1, (unsigned long long)sessions, o->concurrency,
			 (unsigned long long)b->errors);
	} else if (o->mode == MODE_LOGIN) {
		snprintf(line, sizeof(line), "[FTP] %6.2f-%-6.2f sec  %8llu logins  %9.1f "
			 "logins/sec  %llu errors", t0, t1, (unsigned long long)ops,
			 (double)ops / dt, (unsigned long long)errors);
	} else {
		bytes_text((double)bytes, size, sizeof(size));
		snprintf(line, sizeof(line), "[FTP] %6.2f-%-6.2f sec  %s  %7.2f Gbits/sec  "
			 "%8.1f MB/s  %4llu transfers  %llu errors", t0, t1, size,
			 (double)bytes * 8 / dt / 1e9, (double)bytes / dt / 1e6,
			 (unsigned long long)ops, (unsigned long long)errors);
	}
	perf_report_interval(rep, line, j);
}

static int merge(const struct ftp_run *r, bool rates, struct samples *out)
{
	size_t n = 0;
	for (unsigned i = 0; i < r->o->threads; i++)
		n += rates ? r->threads[i].rate_mbps.n : r->threads[i].latency_ms.n;
	out->v = malloc((n ? n : 1) * sizeof(double));
	out->n = 0;
	if (!out->v)
		return -1;
	for (unsigned i = 0; i < r->o->threads; i++) {
		const struct samples *s = rates ? &r->threads[i].rate_mbps
						: &r->threads[i].latency_ms;
		if (s->n)
			memcpy(out->v + out->n, s->v, s->n * sizeof(double));
		out->n += s->n;
	}
	qsort(out->v, out->n, sizeof(double), perf_cmp_double);
	return 0;
}

static json_t *distribution(const struct samples *s)
{
	double total = 0;
	for (size_t i = 0; i < s->n; i++)
		total += s->v[i];
	return json_pack("{s:I, s:f, s:f, s:f, s:f, s:f, s:f}", "samples", (json_int_t)s->n,
			 "min", s->n ? s->v[0] : 0.0, "mean", s->n ? total / (double)s->n : 0.0,
			 "p50", perf_percentile(s->v, s->n, 50),
			 "p90", perf_percentile(s->v, s->n, 90),
			 "p99", perf_percentile(s->v, s->n, 99), "max", s->n ? s->v[s->n - 1] : 0.0);
}

static void summary(struct perf_report *rep, const struct ftp_run *r, double secs,
		    const struct totals *t, double established_s)
{
	const struct ftp_opts *o = r->o;
	struct samples lat = { 0 }, rate = { 0 };
	merge(r, false, &lat);
	merge(r, true, &rate);
	double dt = secs > 1e-9 ? secs : 1e-9;
	json_t *errs = json_object();
	for (int k = 0; k < ERR__COUNT; k++)
		json_object_set_new(errs, ftp_err_names[k], json_integer((json_int_t)t->errs[k]));
	json_t *end = json_pack("{s:f, s:I, s:f, s:I, s:f, s:f, s:I, s:o, s:o}",
				"seconds", secs, "ops", (json_int_t)t->ops,
				"ops_per_second", (double)t->ops / dt,
				"bytes", (json_int_t)t->bytes,
				"bits_per_second", (double)t->bytes * 8 / dt,
				"MBps", (double)t->bytes / dt / 1e6,
				"errors", (json_int_t)t->errors, "errors_by_kind", errs,
				"latency_ms", distribution(&lat));
	if (o->mode == MODE_RETR || o->mode == MODE_STOR)
		json_object_set_new(end, "transfer_Mbps", distribution(&rate));
	if (o->mode == MODE_IDLE) {
		json_object_set_new(end, "sessions_up", json_integer((json_int_t)t->up));
		json_object_set_new(end, "established_seconds", json_real(established_s));
	}
	if (!rep->json) {
		char size[32];
		printf("- - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -\n");
		if (o->mode == MODE_IDLE) {
			printf("[FTP] %u sessions wanted, %llu up after %.2f sec, %llu errors\n",
			       o->concurrency, (unsigned long long)t->up, established_s,
			       (unsigned long long)t->errors);
		} else if (o->mode == MODE_LOGIN) {
			printf("[FTP]   0.00-%-6.2f sec  %8llu logins  %9.1f logins/sec  "
			       "%llu errors\n", secs, (unsigned long long)t->ops,
			       (double)t->ops / dt, (unsigned long long)t->errors);
		} else {
			bytes_text((double)t->bytes, size, sizeof(size));
			printf("[FTP]   0.00-%-6.2f sec  %s  %7.2f Gbits/sec  %8.1f MB/s  "
			       "%llu transfers  %llu errors\n", secs, size,
			       (double)t->bytes * 8 / dt / 1e9, (double)t->bytes / dt / 1e6,
			       (unsigned long long)t->ops, (unsigned long long)t->errors);
		}
		printf("[FTP] %s latency ms: p50 %.3f  p90 %.3f  p99 %.3f  max %.3f  (%zu)\n",
		       o->mode == MODE_IDLE ? "login" : o->mode == MODE_LOGIN ? "login" : "transfer",
		       perf_percentile(lat.v, lat.n, 50), perf_percentile(lat.v, lat.n, 90),
		       perf_percentile(lat.v, lat.n, 99), lat.n ? lat.v[lat.n - 1] : 0.0, lat.n);
		if (rate.n)
			printf("[FTP] per transfer Mbit/s: p50 %.1f  p90 %.1f  p99 %.1f  "
			       "(slowest %.1f)\n", perf_percentile(rate.v, rate.n, 50),
			       perf_percentile(rate.v, rate.n, 90),
			       perf_percentile(rate.v, rate.n, 99), rate.v[0]);
		if (t->errors) {
			printf("[FTP] errors:");
			for (int k = 0; k < ERR__COUNT; k++)
				if (t->errs[k])
					printf(" %s %llu", ftp_err_names[k],
					       (unsigned long long)t->errs[k]);
			printf("\n");
		}
		fflush(stdout);
	}
	perf_report_end(rep, end);
	free(lat.v);
	free(rate.v);
}

/* ---- the run ---------------------------------------------------------------- */

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000u),
			       .tv_nsec = (long)(ns % 1000000000u) };
	nanosleep(&ts, NULL);
}

int perf_ftp(int argc, char **argv)
{
	struct ftp_opts o;
	int r = parse_opts(argc, argv, &o);
	if (r)
		return r > 0 ? PERF_OK : PERF_USAGE;
	if (raise_nofile(o.concurrency) < 0)
		return PERF_SYS;
	perf_trap_signals();

	struct ftp_run run = { .o = &o };
	run.threads = calloc(o.threads, sizeof(*run.threads));
	if (!run.threads)
		return PERF_SYS;
	char server[80];
	perf_addr_str(&o.server, server, sizeof(server));
	struct perf_report rep;
	json_t *start = json_pack("{s:s, s:s, s:s, s:i, s:i, s:f, s:I, s:I, s:s?, s:s, s:i}",
				  "mode", mode_names[o.mode], "server", server,
				  "data", data_names[o.data], "concurrency", (int)o.concurrency,
				  "threads", (int)o.threads, "duration", o.duration,
				  "count", (json_int_t)o.count, "size", (json_int_t)o.size,
				  "file", o.file, "user", o.user, "cpu", o.cpu);
	json_object_set_new(start, "timestamp", json_integer((json_int_t)time(NULL)));
	perf_report_begin(&rep, o.json, start);
	if (!o.json) {
		printf("Connecting to FTP server %s: %s, %u %s%s%s, %u thread(s)\n", server,
		       mode_names[o.mode], o.concurrency,
		       o.mode == MODE_IDLE ? "sessions" : "clients",
		       o.mode == MODE_RETR || o.mode == MODE_STOR ? ", data " : "",
		       o.mode == MODE_RETR || o.mode == MODE_STOR ? data_names[o.data] : "",
		       o.threads);
		fflush(stdout);
	}

	run.t0_ns = perf_now_ns();
	unsigned given = 0, started = 0;
	for (unsigned i = 0; i < o.threads; i++) {
		struct ftp_thread *t = &run.threads[i];
		t->run = &run;
		t->index = i;
		t->epfd = -1;
		t->first_id = given;
		t->nclients = o.concurrency / o.threads + (i < o.concurrency % o.threads);
		given += t->nclients;
		if (pthread_create(&t->tid, NULL, ftp_thread_main, t)) {
			fprintf(stderr, "ferry-perf ftp: cannot start a thread\n");
			__atomic_store_n(&run.stop, true, __ATOMIC_RELAXED);
			break;
		}
		started++;
	}

	/* Report until the end: duration over, --count done, or SIGINT. In idle
	 * mode the duration runs from the moment every session has settled. */
	struct totals prev = { 0 }, now;
	double last = 0, established = -1;
	uint64_t hold_from = 0, end_ns = 0;
	uint64_t step = o.interval > 0 ? (uint64_t)(o.interval * 1e9) : UINT64_MAX;
	uint64_t next = o.interval > 0 ? run.t0_ns + step : UINT64_MAX;
	while (started == o.threads) {
		sleep_ns(10000000);
		uint64_t t = perf_now_ns();
		double el = (double)(t - run.t0_ns) / 1e9;
		bool done = all_finished(&run);
		if (o.mode == MODE_IDLE && established < 0) {
			sum(&run, &now);
			if (now.settled >= o.concurrency) {
				established = el;
				hold_from = t;
				if (!o.json) {
					printf("[FTP] all %u sessions settled after %.2f sec: %llu up, "
					       "%llu failed; holding%s\n", o.concurrency, el,
					       (unsigned long long)now.up,
					       (unsigned long long)now.errors,
					       o.duration > 0 ? "" : " until SIGINT");
					fflush(stdout);
				}
			}
		}
		bool over = perf_stopping() || done ||
			    (o.mode != MODE_IDLE && o.duration > 0 && el >= o.duration) ||
			    (o.mode == MODE_IDLE && hold_from && o.duration > 0 &&
			     (double)(t - hold_from) / 1e9 >= o.duration);
		if (t >= next || over) {
			sum(&run, &now);
			if (t >= next || el - last > 0.05)
				interval_line(&rep, &o, last, el, &prev, &now, now.up);
			prev = now;
			last = el;
			while (next <= t)
				next += step;
		}
		if (over) {
			end_ns = t;
			break;
		}
	}
	__atomic_store_n(&run.stop, true, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < started; i++)
		pthread_join(run.threads[i].tid, NULL);

	int rc = PERF_OK;
	uint64_t last_op = 0;
	for (unsigned i = 0; i < started; i++) {
		if (run.threads[i].sys_err) {
			fprintf(stderr, "ferry-perf ftp: load thread %u: %s\n", i,
				strerror(run.threads[i].sys_err));
			rc = PERF_SYS;
		}
		if (run.threads[i].last_op_ns > last_op)
			last_op = run.threads[i].last_op_ns;
	}
	if (started < o.threads)
		rc = PERF_SYS;
	sum(&run, &now);
	/* With --count the run ends at its last operation, not at the QUITs. */
	uint64_t stop_ns = o.count && last_op && !o.duration ? last_op : end_ns;
	if (!stop_ns)
		stop_ns = perf_now_ns();
	double secs = (double)(stop_ns - run.t0_ns) / 1e9;
	if (o.mode == MODE_IDLE && hold_from)
		secs = (double)(stop_ns - hold_from) / 1e9;
	summary(&rep, &run, secs, &now, established);
	for (unsigned i = 0; i < o.threads; i++) {
		free(run.threads[i].latency_ms.v);
		free(run.threads[i].rate_mbps.v);
	}
	free(run.threads);
	if (rc == PERF_OK && now.errors)
		rc = PERF_FAILED;
	if (rc == PERF_OK && o.mode != MODE_IDLE && now.ops == 0 && now.bytes == 0) {
		fprintf(stderr, "ferry-perf ftp: no %s completed\n", ops_word(o.mode));
		rc = PERF_FAILED;
	}
	return rc;
}
