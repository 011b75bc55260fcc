/* blast.c — acts as a UFTP server toward a proxy: one ANNOUNCE per session,
 * then FILESEGs as fast as allowed, sessions interleaved, sent with
 * sendmmsg in batches; every FILESEG's data starts with a stamp (session,
 * sequence, send time) that sink reads back. Ends each session with an
 * ABORT so the proxy forgets it. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "ferry/base.h"
#include "ferry/uftp.h"
#include "perf.h"

enum { BATCH_MAX = 256, DGRAM_MAX = 9000 };

struct blast_opts {
	struct sockaddr_storage target, bind, pub, priv;
	unsigned sessions, block, batch, ports;
	double rate;            /* datagrams/s, 0: unlimited */
	double duration, interval, grtt;
	uint32_t uid;
	int cpu;
	bool json;
};

struct session {
	uint32_t group_id;
	uint64_t seq;
	uint16_t hdr_seq;
};

struct blaster {
	const struct blast_opts *o;
	int *fd;                 /* one per source port; session i uses i % ports */
	unsigned *next_in;       /* per socket: its next session */
	unsigned next_sock;
	struct session *s;
	uint8_t (*bufs)[DGRAM_MAX];
	struct mmsghdr msgs[BATCH_MAX];
	struct iovec iov[BATCH_MAX];
	uint8_t *block;          /* one block of data, the stamp goes first */
	uint64_t sent, bytes, errors, last_sent, last_bytes;
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: ferry-perf blast -t ADDR[:PORT] [options]\n"
"  -t, --target ADDR[:PORT]  the proxy (or anything) to send to (port 1044)\n"
"  -B, --bind ADDR[:PORT]    local address to send from\n"
"  -P, --sessions N          concurrent sessions (groups), interleaved (1)\n"
"      --ports N             source ports (sockets) to spread them over (1)\n"
"  -l, --block BYTES         FILESEG data bytes, as uftp -b (1300)\n"
"  -r, --rate R              datagrams/s over all sessions, k/M/G (0: unlimited)\n"
"  -b, --bitrate R           or bits/s of UFTP datagrams, k/M/G\n"
"  -d, --duration S          seconds of FILESEGs (10)\n"
"  -i, --interval S          seconds between interval lines (1)\n"
"      --batch N             datagrams per sendmmsg (64, at most %d)\n"
"      --pub ADDR            public multicast address in the ANNOUNCE (230.4.4.1)\n"
"      --priv ADDR           private multicast address in the ANNOUNCE (230.5.5.1)\n"
"      --grtt S              GRTT in the headers (0.5)\n"
"      --uid HEX             server UID (random)\n"
"  -A, --cpu N               pin to CPU N\n"
"  -J, --json                one JSON document at the end\n", BATCH_MAX);
}

static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out,
		      const char *what)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || !*s || *end || v < lo || v > hi) {
		fprintf(stderr, "ferry-perf blast: bad %s '%s' (%u-%u)\n", what, s, lo, hi);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

static int parse_double(const char *s, double *out, const char *what)
{
	double v = perf_parse_si(s);
	if (v < 0) {
		fprintf(stderr, "ferry-perf blast: bad %s '%s'\n", what, s);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_opts(int argc, char **argv, struct blast_opts *o)
{
	enum { O_BATCH = 256, O_PUB, O_PRIV, O_GRTT, O_UID, O_PORTS };
	static const struct option longopts[] = {
		{ "target", 1, 0, 't' }, { "bind", 1, 0, 'B' },
		{ "sessions", 1, 0, 'P' }, { "block", 1, 0, 'l' },
		{ "rate", 1, 0, 'r' }, { "bitrate", 1, 0, 'b' },
		{ "duration", 1, 0, 'd' }, { "interval", 1, 0, 'i' },
		{ "batch", 1, 0, O_BATCH }, { "pub", 1, 0, O_PUB },
		{ "priv", 1, 0, O_PRIV }, { "grtt", 1, 0, O_GRTT },
		{ "uid", 1, 0, O_UID }, { "ports", 1, 0, O_PORTS },
		{ "cpu", 1, 0, 'A' }, { "json", 0, 0, 'J' },
		{ "help", 0, 0, 'h' }, { 0, 0, 0, 0 },
	};
	double bitrate = 0;
	unsigned cpu = 0;
	bool have_target = false;
	*o = (struct blast_opts){ .sessions = 1, .block = 1300, .batch = 64, .ports = 1,
				  .duration = 10, .interval = 1, .grtt = 0.5, .cpu = -1 };
	perf_parse_addr("230.4.4.1", 0, &o->pub, "pub");
	perf_parse_addr("230.5.5.1", 0, &o->priv, "priv");
	if (getrandom(&o->uid, sizeof(o->uid), 0) != sizeof(o->uid) || !o->uid)
		o->uid = 0x5e4d0001;
	int c, r = 0;
	optind = 1;
	while (r == 0 && (c = getopt_long(argc, argv, "t:B:P:l:r:b:d:i:A:Jh", longopts,
					  NULL)) != -1) {
		switch (c) {
		case 't': r = perf_parse_addr(optarg, 1044, &o->target, "target");
			  have_target = true; break;
		case 'B': r = perf_parse_addr(optarg, 0, &o->bind, "bind"); break;
		case 'P': r = parse_uint(optarg, 1, 65536, &o->sessions, "sessions"); break;
		case 'l': r = parse_uint(optarg, PERF_STAMP_LEN, DGRAM_MAX - 64, &o->block,
					 "block"); break;
		case 'r': r = parse_double(optarg, &o->rate, "rate"); break;
		case 'b': r = parse_double(optarg, &bitrate, "bitrate"); break;
		case 'd': r = parse_double(optarg, &o->duration, "duration"); break;
		case 'i': r = parse_double(optarg, &o->interval, "interval"); break;
		case O_BATCH: r = parse_uint(optarg, 1, BATCH_MAX, &o->batch, "batch"); break;
		case O_PORTS: r = parse_uint(optarg, 1, 1024, &o->ports, "ports"); break;
		case O_PUB: r = perf_parse_addr(optarg, 0, &o->pub, "pub"); break;
		case O_PRIV: r = perf_parse_addr(optarg, 0, &o->priv, "priv"); break;
		case O_GRTT: r = parse_double(optarg, &o->grtt, "grtt"); break;
		case O_UID: {
			char *end;
			unsigned long v = strtoul(optarg, &end, 16);
			if (!*optarg || *end || !v || v > 0xffffffffUL) {
				fprintf(stderr, "ferry-perf blast: bad uid '%s'\n", optarg);
				r = -1;
			}
			o->uid = (uint32_t)v;
			break;
		}
		case 'A': r = parse_uint(optarg, 0, 4095, &cpu, "cpu"); o->cpu = (int)cpu; break;
		case 'J': o->json = true; break;
		case 'h': usage(stdout); exit(PERF_OK);
		default: r = -1;
		}
	}
	if (r == 0 && (optind < argc || !have_target)) {
		fprintf(stderr, "ferry-perf blast: %s\n", have_target ? "unexpected argument"
								 : "--target is required");
		r = -1;
	}
	if (r == 0 && o->ports > o->sessions) {
		fprintf(stderr, "ferry-perf blast: more --ports than --sessions\n");
		r = -1;
	}
	if (r == 0 && o->pub.ss_family != o->target.ss_family) {
		perf_parse_addr(o->target.ss_family == AF_INET6 ? "ff15::4:4:1" : "230.4.4.1",
				0, &o->pub, "pub");
		perf_parse_addr(o->target.ss_family == AF_INET6 ? "ff15::5:5:1" : "230.5.5.1",
				0, &o->priv, "priv");
	}
	if (r == 0 && bitrate > 0)
		o->rate = bitrate / 8.0 / (16 + 8 + o->block);
	if (r < 0)
		usage(stderr);
	return r;
}

/* ---- messages ---------------------------------------------------------- */

static struct uftp_hdr header(const struct blaster *b, struct session *s,
			      uint8_t func)
{
	return (struct uftp_hdr){
		.version = UFTP_VERSION, .func = func, .seq = s->hdr_seq++,
		.src_id = b->o->uid, .group_id = s->group_id,
		.group_inst = 0, .grtt = uftp_grtt_quantize(b->o->grtt),
		.gsize = uftp_gsize_quantize(1),
	};
}

static struct fb_bview addr_bytes(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET6)
		return (struct fb_bview){ ((const struct sockaddr_in6 *)a)->sin6_addr.s6_addr, 16 };
	return (struct fb_bview){ (const uint8_t *)&((const struct sockaddr_in *)a)->sin_addr, 4 };
}

static long encode_announce(struct blaster *b, struct session *s, uint8_t *buf)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	struct uftp_msg m = { .hdr = header(b, s, UFTP_ANNOUNCE) };
	m.u.announce = (struct uftp_announce){
		.flags = b->o->target.ss_family == AF_INET6 ? UFTP_F_IPV6 : 0,
		.robust = 20, .cc_type = 0, .blocksize = (uint16_t)b->o->block,
		.ts_sec = (uint32_t)now.tv_sec, .ts_usec = (uint32_t)(now.tv_nsec / 1000),
		.pub_addr = addr_bytes(&b->o->pub), .priv_addr = addr_bytes(&b->o->priv),
	};
	return uftp_encode(buf, DGRAM_MAX, &m);
}

static long encode_abort(struct blaster *b, struct session *s, uint8_t *buf)
{
	static const char text[] = "ferry-perf blast finished";
	struct uftp_msg m = { .hdr = header(b, s, UFTP_ABORT) };
	m.u.abort = (struct uftp_abort){
		.host = 0, .text = { (const uint8_t *)text, sizeof(text) - 1 } };
	return uftp_encode(buf, DGRAM_MAX, &m);
}

static long encode_fileseg(struct blaster *b, struct session *s, uint8_t *buf,
			   unsigned index)
{
	/* Sections of 8 * block blocks, as uftp: a NAK bitmap is one block. */
	uint64_t per_section = (uint64_t)b->o->block * 8;
	struct perf_stamp st = { .magic = PERF_STAMP_MAGIC, .session = index,
				 .seq = s->seq, .sent_ns = perf_now_ns() };
	perf_stamp_put(b->block, &st);
	struct uftp_msg m = { .hdr = header(b, s, UFTP_FILESEG) };
	m.u.fileseg = (struct uftp_fileseg){
		.file_id = 1, .section = (uint16_t)(s->seq / per_section),
		.sec_block = (uint16_t)(s->seq % per_section),
		.data = { b->block, b->o->block },
	};
	s->seq++;
	return uftp_encode(buf, DGRAM_MAX, &m);
}

/* ---- sending ---------------------------------------------------------------- */

static int send_batch(struct blaster *b, int fd, unsigned n)
{
	unsigned done = 0;
	while (done < n) {
		int r = sendmmsg(fd, b->msgs + done, n - done, 0);
		if (r < 0) {
			if (errno == EINTR || errno == ENOBUFS || errno == EAGAIN) {
				b->errors++;
				if (perf_stopping())
					return -1;
				continue;
			}
			fprintf(stderr, "ferry-perf blast: sendmmsg: %s\n", strerror(errno));
			return -1;
		}
		for (int i = 0; i < r; i++)
			b->bytes += b->iov[done + (unsigned)i].iov_len;
		b->sent += (unsigned)r;
		done += (unsigned)r;
	}
	return 0;
}

/* One message per session (ANNOUNCE or ABORT), each from the session's
 * own socket: a proxy knows its server by the ANNOUNCE's source. */
static int send_control(struct blaster *b,
			long (*enc)(struct blaster *, struct session *, uint8_t *))
{
	uint64_t sent = b->sent, bytes = b->bytes;
	for (unsigned p = 0; p < b->o->ports; p++) {
		unsigned n = 0;
		for (unsigned i = p; i < b->o->sessions; i += b->o->ports) {
			long len = enc(b, &b->s[i], b->bufs[n]);
			if (len < 0)
				return -1;
			b->iov[n].iov_len = (size_t)len;
			if (++n == b->o->batch || i + b->o->ports >= b->o->sessions) {
				if (send_batch(b, b->fd[p], n) < 0)
					return -1;
				n = 0;
			}
		}
	}
	b->sent = sent;             /* count FILESEGs only */
	b->bytes = bytes;
	return 0;
}

static void sleep_until(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000u),
			       .tv_nsec = (long)(ns % 1000000000u) };
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR &&
	       !perf_stopping())
		;
}

static void report_interval(struct blaster *b, struct perf_report *rep,
			    uint64_t from, uint64_t to)
{
	double secs = (double)(to - from) / 1e9;
	double t0 = (double)(from - rep->t0_ns) / 1e9, t1 = (double)(to - rep->t0_ns) / 1e9;
	uint64_t pk = b->sent - b->last_sent, by = b->bytes - b->last_bytes;
	char line[160];
	snprintf(line, sizeof(line), "[SUM] %6.2f-%-6.2f sec  %8.1f MBytes  %7.3f Gbits/sec"
		 "  %9.0f pkt/s", t0, t1, (double)by / 1e6, (double)by * 8 / secs / 1e9,
		 (double)pk / secs);
	perf_report_interval(rep, line, json_pack("{s:f,s:f,s:I,s:I,s:f,s:f}",
		"start", t0, "end", t1, "packets", (json_int_t)pk, "bytes",
		(json_int_t)by, "pps", (double)pk / secs,
		"bits_per_second", (double)by * 8 / secs));
	b->last_sent = b->sent;
	b->last_bytes = b->bytes;
}

static int flood(struct blaster *b, struct perf_report *rep)
{
	const struct blast_opts *o = b->o;
	uint64_t start = perf_now_ns(), end = start + (uint64_t)(o->duration * 1e9);
	uint64_t tick = start, next_report = start + (uint64_t)(o->interval * 1e9);
	unsigned batch = o->batch;
	if (o->rate > 0 && o->rate / 1000 < batch)      /* at most ~1 ms of bursts */
		batch = o->rate / 1000 >= 1 ? (unsigned)(o->rate / 1000) : 1;
	uint64_t queued = 0;
	for (;;) {
		uint64_t now = perf_now_ns();
		if (now >= end || perf_stopping())
			break;
		if (now >= next_report) {
			report_interval(b, rep, tick, now);
			tick = now;
			next_report += (uint64_t)(o->interval * 1e9);
		}
		if (o->rate > 0) {
			uint64_t due = start + (uint64_t)((double)queued / o->rate * 1e9);
			if (due > now)
				sleep_until(due < end ? due : end);
		}
		/* A batch per socket in turn, its sessions interleaved. */
		unsigned p = b->next_sock;
		b->next_sock = (p + 1) % o->ports;
		for (unsigned i = 0; i < batch; i++) {
			unsigned k = b->next_in[p];
			long len = encode_fileseg(b, &b->s[k], b->bufs[i], k);
			if (len < 0)
				return -1;
			b->iov[i].iov_len = (size_t)len;
			b->next_in[p] = k + o->ports < o->sessions ? k + o->ports : p;
		}
		queued += batch;
		if (send_batch(b, b->fd[p], batch) < 0 && !perf_stopping())
			return -1;
	}
	uint64_t now = perf_now_ns();
	if (now > tick + 1000000)
		report_interval(b, rep, tick, now);
	return 0;
}

static int open_socket(const struct blast_opts *o)
{
	int fd = socket(o->target.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("ferry-perf blast: socket");
		return -1;
	}
	int size = 8 << 20;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (o->bind.ss_family && bind(fd, (const struct sockaddr *)&o->bind,
				      perf_addr_len(&o->bind)) < 0) {
		perror("ferry-perf blast: bind");
		close(fd);
		return -1;
	}
	return fd;
}

static int blaster_init(struct blaster *b, const struct blast_opts *o)
{
	*b = (struct blaster){ .o = o };
	b->s = calloc(o->sessions, sizeof(*b->s));
	b->bufs = calloc(o->batch, sizeof(*b->bufs));
	b->block = calloc(1, o->block);
	b->fd = malloc(o->ports * sizeof(*b->fd));
	b->next_in = malloc(o->ports * sizeof(*b->next_in));
	if (!b->s || !b->bufs || !b->block || !b->fd || !b->next_in)
		return -1;
	for (unsigned p = 0; p < o->ports; p++) {
		b->fd[p] = -1;
		b->next_in[p] = p;
	}
	uint32_t base;
	if (getrandom(&base, sizeof(base), 0) != sizeof(base))
		base = (uint32_t)perf_now_ns();
	for (unsigned i = 0; i < o->sessions; i++)
		b->s[i].group_id = (base + i) ? base + i : 1;
	for (unsigned i = 0; i < o->batch; i++) {
		b->iov[i].iov_base = b->bufs[i];
		b->msgs[i].msg_hdr = (struct msghdr){
			.msg_name = (void *)&o->target, .msg_namelen = perf_addr_len(&o->target),
			.msg_iov = &b->iov[i], .msg_iovlen = 1 };
	}
	for (unsigned p = 0; p < o->ports; p++)
		if ((b->fd[p] = open_socket(o)) < 0)
			return -1;
	return 0;
}

static void blaster_free(struct blaster *b)
{
	for (unsigned p = 0; b->fd && p < b->o->ports; p++)
		if (b->fd[p] >= 0)
			close(b->fd[p]);
	free(b->fd);
	free(b->next_in);
	free(b->s);
	free(b->bufs);
	free(b->block);
}

int perf_blast(int argc, char **argv)
{
	struct blast_opts o;
	if (parse_opts(argc, argv, &o) < 0)
		return PERF_USAGE;
	if (perf_pin(o.cpu) < 0)
		return PERF_SYS;
	perf_trap_signals();
	struct blaster b;
	if (blaster_init(&b, &o) < 0) {
		blaster_free(&b);
		return PERF_SYS;
	}
	char to[64];
	perf_addr_str(&o.target, to, sizeof(to));
	if (!o.json)
		printf("ferry-perf blast: %u session(s) to %s, %u-byte blocks, %s\n",
		       o.sessions, to, o.block, o.rate > 0 ? "paced" : "unlimited");
	/* The proxy learns the groups first; give it a moment. Three times,
	 * as a uftp server repeats its ANNOUNCE, so one lost to a full socket
	 * buffer does not lose the session. */
	int r = 0;
	for (int i = 0; i < 3 && r == 0; i++) {
		r = send_control(&b, encode_announce);
		usleep(100000);
	}
	struct perf_report rep;
	perf_report_begin(&rep, o.json, json_pack("{s:s,s:i,s:i,s:f,s:f}", "target", to,
		"sessions", (int)o.sessions, "block", (int)o.block, "rate", o.rate,
		"duration", o.duration));
	uint64_t t0 = perf_now_ns();
	if (r == 0)
		r = flood(&b, &rep);
	double secs = (double)(perf_now_ns() - t0) / 1e9;
	if (r == 0) {
		usleep(100000);             /* let the tail arrive before the end */
		uint64_t sent = b.sent;
		r = send_control(&b, encode_abort);
		b.sent = sent;
	}
	if (!o.json)
		printf("- - - - - - - - - - - - - - - - - - - - - - - - -\n"
		       "[SUM]  0.00-%-6.2f sec  sent %llu datagrams, %.1f MBytes, "
		       "%.3f Gbits/sec, %.0f pkt/s, %llu send retries\n", secs,
		       (unsigned long long)b.sent, (double)b.bytes / 1e6,
		       (double)b.bytes * 8 / secs / 1e9, (double)b.sent / secs,
		       (unsigned long long)b.errors);
	perf_report_end(&rep, json_pack("{s:I,s:I,s:f,s:f,s:f,s:I}",
		"packets", (json_int_t)b.sent, "bytes", (json_int_t)b.bytes,
		"seconds", secs, "pps", (double)b.sent / secs,
		"bits_per_second", (double)b.bytes * 8 / secs, "retries", (json_int_t)b.errors));
	blaster_free(&b);
	return r == 0 ? PERF_OK : PERF_SYS;
}
