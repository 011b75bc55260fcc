/* sink.c — the far side of blast: receives UFTP datagrams (unicast, or
 * multicast groups it joins) with recvmmsg and UDP GRO, and counts per
 * session the FILESEGs that arrive: rate, loss, duplicates, reordering and
 * one-way latency from blast's stamp (same host clock: namespaces share
 * CLOCK_MONOTONIC). Stops after --duration, or --idle seconds of silence
 * once data has started, or when every session sent its ABORT. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ferry/base.h"
#include "ferry/uftp.h"
#include "perf.h"

#ifndef UDP_GRO
#define UDP_GRO 104
#endif

enum { BATCH = 64, BUF_SIZE = 65536, JOIN_MAX = 16,
       LAT_BUCKETS = 100000 };  /* 1 us each; the last is "100 ms or more" */

struct sink_opts {
	struct sockaddr_storage bind;
	struct sockaddr_storage join[JOIN_MAX];
	unsigned njoin, expect_sessions;
	double duration, idle, interval;
	int cpu;
	bool json, per_session;
};

/* What arrived for one session, in total or since the last interval. */
struct counts {
	uint64_t packets, bytes, dups, reordered;
};

/* One-way latency, 1 us buckets, over all sessions. */
struct hist {
	uint32_t *bucket;
	uint64_t n, max_ns;
};

struct sess {
	bool seen;
	uint64_t next_seq;       /* highest seen + 1 */
	uint8_t *bits;           /* seen sequence numbers */
	size_t nbits;
	struct counts total, ival;
};

struct sink {
	const struct sink_opts *o;
	int fd;
	struct sess *s;          /* by stamp session, grown on demand */
	size_t ns;
	struct hist lat_total, lat_ival;
	unsigned aborted;
	uint64_t announces, others, bad, first_ns, last_ns;
	uint8_t (*bufs)[BUF_SIZE];
	char (*ctl)[64];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: ferry-perf sink [options]\n"
"  -B, --bind ADDR[:PORT]    where to listen (0.0.0.0:1044)\n"
"  -j, --join GROUP          join a multicast group (repeatable, up to %d)\n"
"  -d, --duration S          stop after S seconds (0: no limit)\n"
"      --idle S              stop S seconds after the last datagram (2)\n"
"      --sessions N          stop when N sessions have sent their ABORT\n"
"  -i, --interval S          seconds between interval lines (1)\n"
"      --per-session         a summary line for each session\n"
"  -A, --cpu N               pin to CPU N\n"
"  -J, --json                one JSON document at the end\n", JOIN_MAX);
}

static int parse_opts(int argc, char **argv, struct sink_opts *o)
{
	enum { O_IDLE = 256, O_SESSIONS, O_PER };
	static const struct option longopts[] = {
		{ "bind", 1, 0, 'B' }, { "join", 1, 0, 'j' }, { "duration", 1, 0, 'd' },
		{ "idle", 1, 0, O_IDLE }, { "sessions", 1, 0, O_SESSIONS },
		{ "interval", 1, 0, 'i' }, { "per-session", 0, 0, O_PER },
		{ "cpu", 1, 0, 'A' }, { "json", 0, 0, 'J' }, { "help", 0, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	*o = (struct sink_opts){ .idle = 2, .interval = 1, .cpu = -1 };
	perf_parse_addr("0.0.0.0", 1044, &o->bind, "bind");
	int c, r = 0;
	double v;
	optind = 1;
	while (r == 0 && (c = getopt_long(argc, argv, "B:j:d:i:A:Jh", longopts, NULL)) != -1) {
		switch (c) {
		case 'B': r = perf_parse_addr(optarg, 1044, &o->bind, "bind"); break;
		case 'j':
			if (o->njoin == JOIN_MAX) {
				fprintf(stderr, "ferry-perf sink: at most %d --join\n", JOIN_MAX);
				r = -1;
				break;
			}
			r = perf_parse_addr(optarg, 0, &o->join[o->njoin++], "join");
			break;
		case 'd': case 'i': case O_IDLE: case O_SESSIONS: case 'A':
			v = perf_parse_si(optarg);
			if (v < 0 || ((c == O_SESSIONS || c == 'A') && v != (unsigned)v)) {
				fprintf(stderr, "ferry-perf sink: bad value '%s'\n", optarg);
				r = -1;
			} else if (c == 'd') {
				o->duration = v;
			} else if (c == 'i') {
				o->interval = v > 0 ? v : 1;
			} else if (c == O_IDLE) {
				o->idle = v;
			} else if (c == O_SESSIONS) {
				o->expect_sessions = (unsigned)v;
			} else {
				o->cpu = (int)v;
			}
			break;
		case O_PER: o->per_session = true; break;
		case 'J': o->json = true; break;
		case 'h': usage(stdout); exit(PERF_OK);
		default: r = -1;
		}
	}
	if (r == 0 && optind < argc) {
		fprintf(stderr, "ferry-perf sink: unexpected argument '%s'\n", argv[optind]);
		r = -1;
	}
	if (r < 0)
		usage(stderr);
	return r;
}

/* ---- counting -------------------------------------------------------------- */

static int hist_init(struct hist *h)
{
	*h = (struct hist){ .bucket = calloc(LAT_BUCKETS, sizeof(uint32_t)) };
	return h->bucket ? 0 : -1;
}

static void hist_reset(struct hist *h)
{
	memset(h->bucket, 0, LAT_BUCKETS * sizeof(uint32_t));
	h->n = h->max_ns = 0;
}

static void hist_add(struct hist *h, uint64_t ns)
{
	uint64_t us = ns / 1000;
	h->bucket[us < LAT_BUCKETS ? us : LAT_BUCKETS - 1]++;
	h->n++;
	if (ns > h->max_ns)
		h->max_ns = ns;
}

/* Percentile p, in microseconds (bucket middles). */
static double hist_percentile(const struct hist *h, double p)
{
	if (!h->n)
		return 0;
	uint64_t want = (uint64_t)(p / 100.0 * (double)(h->n - 1)) + 1, seen = 0;
	for (size_t i = 0; i < LAT_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= want)
			return (double)i + 0.5;
	}
	return (double)h->max_ns / 1000;
}

static struct sess *session(struct sink *k, uint32_t id)
{
	if (id >= 1u << 20)
		return NULL;
	if (id >= k->ns) {
		size_t n = k->ns ? k->ns : 16;
		while (n <= id)
			n *= 2;
		struct sess *s = realloc(k->s, n * sizeof(*s));
		if (!s)
			return NULL;
		memset(s + k->ns, 0, (n - k->ns) * sizeof(*s));
		k->s = s;
		k->ns = n;
	}
	k->s[id].seen = true;
	return &k->s[id];
}

/* Marks seq seen; false if it was already. */
static bool mark(struct sess *s, uint64_t seq)
{
	if (seq >= (uint64_t)s->nbits * 8) {
		size_t n = s->nbits ? s->nbits : 4096;
		while ((uint64_t)n * 8 <= seq)
			n *= 2;
		uint8_t *b = realloc(s->bits, n);
		if (!b)
			return true;         /* cannot tell: count it as new */
		memset(b + s->nbits, 0, n - s->nbits);
		s->bits = b;
		s->nbits = n;
	}
	uint8_t bit = (uint8_t)(1u << (seq & 7));
	if (s->bits[seq >> 3] & bit)
		return false;
	s->bits[seq >> 3] |= bit;
	return true;
}

static void count_fileseg(struct sink *k, const struct uftp_fileseg *f, size_t len,
			  uint64_t now)
{
	struct perf_stamp st;
	struct sess *s;
	if (!perf_stamp_get(f->data.p, f->data.len, &st) || !(s = session(k, st.session))) {
		k->bad++;
		return;
	}
	struct counts *cs[2] = { &s->total, &s->ival };
	bool fresh = mark(s, st.seq);
	for (int i = 0; i < 2; i++) {
		if (!fresh) {
			cs[i]->dups++;
			continue;
		}
		cs[i]->packets++;
		cs[i]->bytes += len;
		if (st.seq + 1 < s->next_seq)
			cs[i]->reordered++;
	}
	if (fresh) {
		uint64_t lat = now > st.sent_ns ? now - st.sent_ns : 0;
		hist_add(&k->lat_total, lat);
		hist_add(&k->lat_ival, lat);
	}
	if (st.seq + 1 > s->next_seq)
		s->next_seq = st.seq + 1;
}

static void count_abort(struct sink *k, const struct uftp_hdr *h)
{
	(void)h;
	k->aborted++;
}

static void count(struct sink *k, const uint8_t *p, size_t len, uint64_t now)
{
	struct fb_rcur c;
	struct uftp_msg m;
	fb_rcur_init(&c, p, len);
	if (uftp_decode(&c, &m) != UFTP_OK) {
		k->bad++;
		return;
	}
	if (!k->first_ns)
		k->first_ns = now;
	k->last_ns = now;
	if (m.hdr.func == UFTP_FILESEG)
		count_fileseg(k, &m.u.fileseg, len, now);
	else if (m.hdr.func == UFTP_ANNOUNCE)
		k->announces++;
	else if (m.hdr.func == UFTP_ABORT)
		count_abort(k, &m.hdr);
	else
		k->others++;
}

/* One received buffer: a datagram, or with GRO several of gso_size each. */
static void count_buffer(struct sink *k, struct msghdr *mh, size_t len, uint64_t now)
{
	size_t seg = len;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
			uint16_t gso;
			memcpy(&gso, CMSG_DATA(c), sizeof(gso));
			if (gso)
				seg = gso;
		}
	}
	const uint8_t *p = mh->msg_iov->iov_base;
	for (size_t off = 0; off < len; off += seg)
		count(k, p + off, len - off < seg ? len - off : seg, now);
}

/* ---- reporting -------------------------------------------------------------- */

struct totals {
	uint64_t packets, bytes, dups, reordered, expected;
	double p50, p99, max;
	unsigned sessions;
};

static struct totals sum(const struct sink *k, bool interval)
{
	struct totals t = { 0 };
	const struct hist *h = interval ? &k->lat_ival : &k->lat_total;
	for (size_t i = 0; i < k->ns; i++) {
		const struct sess *s = &k->s[i];
		if (!s->seen)
			continue;
		const struct counts *c = interval ? &s->ival : &s->total;
		t.sessions++;
		t.packets += c->packets;
		t.bytes += c->bytes;
		t.dups += c->dups;
		t.reordered += c->reordered;
		t.expected += s->next_seq;
	}
	t.p50 = hist_percentile(h, 50);
	t.p99 = hist_percentile(h, 99);
	t.max = (double)h->max_ns / 1000;
	return t;
}

static json_t *totals_json(const struct totals *t, double t0, double t1)
{
	double secs = t1 - t0 > 0 ? t1 - t0 : 1e-9;
	return json_pack("{s:f,s:f,s:i,s:I,s:I,s:f,s:f,s:I,s:I,s:f,s:f,s:f}",
		"start", t0, "end", t1, "sessions", (int)t->sessions,
		"packets", (json_int_t)t->packets, "bytes", (json_int_t)t->bytes,
		"pps", (double)t->packets / secs, "bits_per_second",
		(double)t->bytes * 8 / secs, "duplicates", (json_int_t)t->dups,
		"reordered", (json_int_t)t->reordered, "latency_p50_us", t->p50,
		"latency_p99_us", t->p99, "latency_max_us", t->max);
}

static void report_interval(struct sink *k, struct perf_report *rep, uint64_t from,
			    uint64_t to)
{
	struct totals t = sum(k, true);
	double t0 = (double)(from - rep->t0_ns) / 1e9, t1 = (double)(to - rep->t0_ns) / 1e9;
	double secs = t1 - t0;
	char line[256];
	snprintf(line, sizeof(line), "[SUM] %6.2f-%-6.2f sec  %8.1f MBytes  %7.3f Gbits/sec"
		 "  %9.0f pkt/s  dup %llu  reord %llu  lat p50 %.0f us p99 %.0f us",
		 t0, t1, (double)t.bytes / 1e6, (double)t.bytes * 8 / secs / 1e9,
		 (double)t.packets / secs, (unsigned long long)t.dups,
		 (unsigned long long)t.reordered, t.p50, t.p99);
	perf_report_interval(rep, line, totals_json(&t, t0, t1));
	for (size_t i = 0; i < k->ns; i++)
		k->s[i].ival = (struct counts){ 0 };
	hist_reset(&k->lat_ival);
}

static json_t *report_sessions(const struct sink *k)
{
	json_t *arr = json_array();
	double secs = k->last_ns > k->first_ns ? (double)(k->last_ns - k->first_ns) / 1e9 : 1e-9;
	for (size_t i = 0; i < k->ns; i++) {
		const struct sess *s = &k->s[i];
		if (!s->seen)
			continue;
		uint64_t lost = s->next_seq - s->total.packets;
		json_array_append_new(arr, json_pack("{s:i,s:I,s:I,s:I,s:I}",
			"session", (int)i, "packets", (json_int_t)s->total.packets,
			"lost", (json_int_t)lost, "duplicates", (json_int_t)s->total.dups,
			"reordered", (json_int_t)s->total.reordered));
		if (k->o->per_session && !k->o->json)
			printf("[%3zu]  %llu datagrams  %.0f pkt/s  lost %llu  dup %llu  "
			       "reord %llu\n", i,
			       (unsigned long long)s->total.packets,
			       (double)s->total.packets / secs, (unsigned long long)lost,
			       (unsigned long long)s->total.dups,
			       (unsigned long long)s->total.reordered);
	}
	return arr;
}

static void report_end(struct sink *k, struct perf_report *rep)
{
	struct totals t = sum(k, false);
	double t0 = k->first_ns ? (double)(k->first_ns - rep->t0_ns) / 1e9 : 0;
	double t1 = k->last_ns ? (double)(k->last_ns - rep->t0_ns) / 1e9 : 0;
	uint64_t lost = t.expected - t.packets;
	double loss = t.expected ? 100.0 * (double)lost / (double)t.expected : 0;
	json_t *sessions = report_sessions(k);
	json_t *end = totals_json(&t, t0, t1);
	json_object_set_new(end, "lost", json_integer((json_int_t)lost));
	json_object_set_new(end, "loss_percent", json_real(loss));
	json_object_set_new(end, "announces", json_integer((json_int_t)k->announces));
	json_object_set_new(end, "aborts", json_integer((json_int_t)k->aborted));
	json_object_set_new(end, "other", json_integer((json_int_t)k->others));
	json_object_set_new(end, "malformed", json_integer((json_int_t)k->bad));
	json_object_set_new(end, "per_session", sessions);
	if (!rep->json) {
		double secs = t1 - t0 > 0 ? t1 - t0 : 1e-9;
		printf("- - - - - - - - - - - - - - - - - - - - - - - - -\n"
		       "[SUM] %6.2f-%-6.2f sec  %llu datagrams in %u session(s), %.1f MBytes, "
		       "%.3f Gbits/sec, %.0f pkt/s\n"
		       "      lost %llu/%llu (%.4f%%)  dup %llu  reordered %llu  "
		       "latency p50 %.0f us  p99 %.0f us  max %.0f us\n"
		       "      ANNOUNCE %llu  ABORT %llu  other %llu  malformed %llu\n",
		       t0, t1, (unsigned long long)t.packets, t.sessions,
		       (double)t.bytes / 1e6, (double)t.bytes * 8 / secs / 1e9,
		       (double)t.packets / secs, (unsigned long long)lost,
		       (unsigned long long)t.expected, loss, (unsigned long long)t.dups,
		       (unsigned long long)t.reordered, t.p50, t.p99, t.max,
		       (unsigned long long)k->announces, (unsigned long long)k->aborted,
		       (unsigned long long)k->others, (unsigned long long)k->bad);
	}
	perf_report_end(rep, end);
}

/* ---- socket and loop ------------------------------------------------------ */

static int join(int fd, const struct sockaddr_storage *g)
{
	struct group_req req = { .gr_interface = 0 };
	memcpy(&req.gr_group, g, perf_addr_len(g));
	int level = g->ss_family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP;
	if (setsockopt(fd, level, MCAST_JOIN_GROUP, &req, sizeof(req)) < 0) {
		char a[64];
		fprintf(stderr, "ferry-perf sink: join %s: %s\n",
			perf_addr_str(g, a, sizeof(a)), strerror(errno));
		return -1;
	}
	return 0;
}

static int open_socket(const struct sink_opts *o)
{
	int fd = socket(o->bind.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("ferry-perf sink: socket");
		return -1;
	}
	int one = 1, size = 64 << 20;
	struct timeval tv = { .tv_usec = 50000 };
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one));   /* fewer wakeups */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (bind(fd, (const struct sockaddr *)&o->bind, perf_addr_len(&o->bind)) < 0) {
		perror("ferry-perf sink: bind");
		close(fd);
		return -1;
	}
	for (unsigned i = 0; i < o->njoin; i++)
		if (join(fd, &o->join[i]) < 0) {
			close(fd);
			return -1;
		}
	return fd;
}

static bool finished(const struct sink *k, uint64_t now, uint64_t start)
{
	const struct sink_opts *o = k->o;
	if (perf_stopping())
		return true;
	if (o->duration > 0 && now - start >= (uint64_t)(o->duration * 1e9))
		return true;
	if (o->expect_sessions && k->aborted >= o->expect_sessions)
		return true;
	return o->idle > 0 && k->last_ns && now - k->last_ns >= (uint64_t)(o->idle * 1e9);
}

static int receive(struct sink *k, struct perf_report *rep)
{
	uint64_t start = perf_now_ns(), tick = 0, step = (uint64_t)(k->o->interval * 1e9);
	for (;;) {
		for (unsigned i = 0; i < BATCH; i++) {
			k->msgs[i].msg_hdr.msg_controllen = sizeof(k->ctl[i]);
			k->msgs[i].msg_hdr.msg_flags = 0;
		}
		int n = recvmmsg(k->fd, k->msgs, BATCH, MSG_WAITFORONE, NULL);
		uint64_t now = perf_now_ns();
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			perror("ferry-perf sink: recvmmsg");
			return -1;
		}
		for (int i = 0; i < n; i++)
			count_buffer(k, &k->msgs[i].msg_hdr, k->msgs[i].msg_len, now);
		if (k->first_ns && !tick)
			tick = k->first_ns;
		if (tick && now - tick >= step) {
			report_interval(k, rep, tick, now);
			tick = now;
		}
		if (finished(k, now, start))
			break;
	}
	return 0;
}

static int sink_init(struct sink *k, const struct sink_opts *o)
{
	*k = (struct sink){ .o = o, .fd = -1 };
	k->bufs = malloc(BATCH * sizeof(*k->bufs));
	k->ctl = malloc(BATCH * sizeof(*k->ctl));
	if (!k->bufs || !k->ctl || hist_init(&k->lat_total) < 0 ||
	    hist_init(&k->lat_ival) < 0)
		return -1;
	for (unsigned i = 0; i < BATCH; i++) {
		k->iov[i] = (struct iovec){ k->bufs[i], BUF_SIZE };
		k->msgs[i].msg_hdr = (struct msghdr){ .msg_iov = &k->iov[i], .msg_iovlen = 1,
						      .msg_control = k->ctl[i] };
	}
	k->fd = open_socket(o);
	return k->fd < 0 ? -1 : 0;
}

static void sink_free(struct sink *k)
{
	if (k->fd >= 0)
		close(k->fd);
	for (size_t i = 0; i < k->ns; i++)
		free(k->s[i].bits);
	free(k->lat_total.bucket);
	free(k->lat_ival.bucket);
	free(k->s);
	free(k->bufs);
	free(k->ctl);
}

int perf_sink(int argc, char **argv)
{
	struct sink_opts o;
	if (parse_opts(argc, argv, &o) < 0)
		return PERF_USAGE;
	if (perf_pin(o.cpu) < 0)
		return PERF_SYS;
	perf_trap_signals();
	struct sink k;
	if (sink_init(&k, &o) < 0) {
		sink_free(&k);
		return PERF_SYS;
	}
	char at[64];
	perf_addr_str(&o.bind, at, sizeof(at));
	if (!o.json) {
		printf("ferry-perf sink: listening on %s\n", at);
		fflush(stdout);
	}
	struct perf_report rep;
	perf_report_begin(&rep, o.json, json_pack("{s:s}", "bind", at));
	int r = receive(&k, &rep);
	report_end(&k, &rep);
	sink_free(&k);
	return r == 0 ? PERF_OK : PERF_SYS;
}
