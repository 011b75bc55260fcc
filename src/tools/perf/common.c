/* common.c — ferry-perf's small shared pieces: clock, SI numbers,
 * percentiles, addresses, CPU pinning, the FILESEG stamp, signals. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ferry/base.h"
#include "perf.h"

uint64_t perf_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double perf_parse_si(const char *s)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || v < 0 || !isfinite(v))
		return -1;
	static const struct { char c; double mul; } units[] = {
		{ 'k', 1e3 }, { 'K', 1e3 }, { 'm', 1e6 }, { 'M', 1e6 },
		{ 'g', 1e9 }, { 'G', 1e9 },
	};
	if (*end) {
		size_t i;
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (*end == units[i].c)
				break;
		if (i == sizeof(units) / sizeof(units[0]) || end[1])
			return -1;
		v *= units[i].mul;
	}
	return v;
}

bool perf_parse_num(const char *s, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

int perf_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double perf_percentile(const double *sorted, size_t n, double p)
{
	if (!n)
		return 0;
	double rank = p / 100.0 * (double)(n - 1);
	size_t lo = (size_t)rank;
	if (lo + 1 >= n)
		return sorted[n - 1];
	return sorted[lo] + (rank - (double)lo) * (sorted[lo + 1] - sorted[lo]);
}

int perf_parse_addr(const char *s, unsigned def_port,
		    struct sockaddr_storage *out, const char *what)
{
	char host[256];
	uint16_t port = (uint16_t)def_port;
	if (def_port > 65535 || fb_hostport_split(s, host, sizeof(host), &port, NULL) < 0 ||
	    fb_addr_parse(host, port, out) < 0) {
		fprintf(stderr, "ferry-perf: bad %s address '%s' (want IP[:port])\n", what, s);
		return -1;
	}
	return 0;
}

socklen_t perf_addr_len(const struct sockaddr_storage *a)
{
	return fb_addr_len((const struct sockaddr *)a);
}

const char *perf_addr_str(const struct sockaddr_storage *a, char *buf, size_t n)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port;
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)a;
		inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
		port = ntohs(s->sin6_port);
		snprintf(buf, n, "[%s]:%u", ip, port);
	} else {
		const struct sockaddr_in *s = (const void *)a;
		inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
		port = ntohs(s->sin_port);
		snprintf(buf, n, "%s:%u", ip, port);
	}
	return buf;
}

int perf_pin(int cpu)
{
	if (cpu < 0)
		return 0;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	int r = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (r) {
		fprintf(stderr, "ferry-perf: cannot pin to CPU %d: %s\n", cpu, strerror(r));
		return -1;
	}
	return 0;
}

/* ---- stamp ------------------------------------------------------------------ */

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void perf_stamp_put(uint8_t *p, const struct perf_stamp *s)
{
	put32(p, s->magic);
	put32(p + 4, s->session);
	put32(p + 8, (uint32_t)(s->seq >> 32));
	put32(p + 12, (uint32_t)s->seq);
	put32(p + 16, (uint32_t)(s->sent_ns >> 32));
	put32(p + 20, (uint32_t)s->sent_ns);
}

bool perf_stamp_get(const uint8_t *p, size_t len, struct perf_stamp *s)
{
	if (len < PERF_STAMP_LEN || get32(p) != PERF_STAMP_MAGIC)
		return false;
	s->magic = PERF_STAMP_MAGIC;
	s->session = get32(p + 4);
	s->seq = (uint64_t)get32(p + 8) << 32 | get32(p + 12);
	s->sent_ns = (uint64_t)get32(p + 16) << 32 | get32(p + 20);
	return true;
}

/* ---- signals --------------------------------------------------------------- */

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

void perf_trap_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

bool perf_stopping(void)
{
	return stop_requested;
}
