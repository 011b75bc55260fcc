/* perf.h — what ferry-perf's subcommands share: the clock, addresses, the
 * stamp blast puts in every FILESEG, and iperf3-like reporting (interval
 * lines on stdout, or one JSON document with --json). */
#ifndef FERRY_PERF_H
#define FERRY_PERF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <jansson.h>

/* ---- subcommands ------------------------------------------------------- */

int perf_blast(int argc, char **argv);
int perf_sink(int argc, char **argv);
int perf_relay(int argc, char **argv);
int perf_clients(int argc, char **argv);
int perf_ftp(int argc, char **argv);
int perf_ftps(int argc, char **argv);   /* ftps.c, or ftps_none.c without libssl */

/* Exit codes (ferry-perf(1)). */
enum { PERF_OK = 0, PERF_USAGE = 1, PERF_SYS = 2, PERF_FAILED = 3 };

/* ---- time and numbers --------------------------------------------------- */

uint64_t perf_now_ns(void);            /* CLOCK_MONOTONIC */
/* "10", "2.5k", "1M", "1G": bits or units per second and sizes; -1 if bad. */
double perf_parse_si(const char *s);
/* A plain decimal number in [lo, hi]; false if not. */
bool perf_parse_num(const char *s, double lo, double hi, double *out);
/* Percentile p (0-100) of n sorted values. */
double perf_percentile(const double *sorted, size_t n, double p);
int perf_cmp_double(const void *a, const void *b);

/* ---- addresses -------------------------------------------------------- */

/* "198.18.0.1:1044", "[fd00::1]:1044", or a bare host with def_port.
 * 0, or -1 with a message on stderr naming what. */
int perf_parse_addr(const char *s, unsigned def_port,
		    struct sockaddr_storage *out, const char *what);
socklen_t perf_addr_len(const struct sockaddr_storage *a);
const char *perf_addr_str(const struct sockaddr_storage *a, char *buf, size_t n);

/* ---- CPU pinning ---------------------------------------------------------- */

/* -1: leave alone. 0, or -1 with a message. */
int perf_pin(int cpu);

/* ---- the stamp in every blast FILESEG's data ----------------------------- */

#define PERF_STAMP_MAGIC 0x66657270u   /* "ferp" */
struct perf_stamp {                /* big-endian on the wire */
	uint32_t magic;
	uint32_t session;          /* 0..sessions-1 */
	uint64_t seq;              /* per session, from 0 */
	uint64_t sent_ns;          /* CLOCK_MONOTONIC when sent */
};
enum { PERF_STAMP_LEN = 24 };
void perf_stamp_put(uint8_t *p, const struct perf_stamp *s);
bool perf_stamp_get(const uint8_t *p, size_t len, struct perf_stamp *s);

/* ---- reporting ------------------------------------------------------------- */

/* Prints nothing in JSON mode until perf_report_end, which writes the
 * document {"start":..., "intervals":[...], "end":...} to stdout. */
struct perf_report {
	bool json;
	json_t *doc, *intervals;
	uint64_t t0_ns;
};
void perf_report_begin(struct perf_report *r, bool json, json_t *start);
/* Text mode prints line (already formatted, no newline); JSON mode keeps obj
 * (reference stolen). Either may be NULL. */
void perf_report_interval(struct perf_report *r, const char *line, json_t *obj);
void perf_report_end(struct perf_report *r, json_t *end);

/* ---- stop on SIGINT/SIGTERM --------------------------------------------- */

void perf_trap_signals(void);
bool perf_stopping(void);

#endif
