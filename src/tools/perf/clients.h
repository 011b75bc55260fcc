/* clients.h — what the files of ferry-perf clients share: the phases, the
 * options, the run's state (struct ctx) and each file's entry points.
 *
 * ferry-perf clients is a simulated UFTP server and N simulated clients on
 * both sides of a response or client proxy; it checks that each client's
 * answer reaches the server exactly once per phase and times the
 * aggregation. The server sends ANNOUNCE, REG_CONF, FILEINFO, a DONE to the
 * clients that have NAKs (they answer STATUS), a few NAKed blocks, a DONE to
 * everyone (COMPLETE) and DONE_CONF, each phase once every expected answer
 * is in (or its time is up). Clients answer each phase once, as uftpd does,
 * but never resend: what the server lacks was lost. With a response proxy
 * the clients hear the server directly, so the tool hands them the server's
 * messages itself; with a client proxy they hear the proxy's multicast
 * copies. */
#ifndef FERRY_PERF_CLIENTS_H
#define FERRY_PERF_CLIENTS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "ferry/uftp.h"
#include "perf.h"

/* ---- phases ---------------------------------------------------------------- */

enum phase { PH_REGISTER, PH_FILEINFO, PH_STATUS, PH_COMPLETE, PH_COUNT };

static const char *const phase_name[PH_COUNT] = {
	[PH_REGISTER] = "register", [PH_FILEINFO] = "fileinfo_ack",
	[PH_STATUS] = "status", [PH_COMPLETE] = "complete",
};

/* The answer each phase collects, and the server message that asks for it. */
static const uint8_t phase_answer[PH_COUNT] = {
	[PH_REGISTER] = UFTP_REGISTER, [PH_FILEINFO] = UFTP_FILEINFO_ACK,
	[PH_STATUS] = UFTP_STATUS, [PH_COMPLETE] = UFTP_COMPLETE,
};

static inline int phase_of_answer(uint8_t func)
{
	for (int p = 0; p < PH_COUNT; p++)
		if (phase_answer[p] == func)
			return p;
	return -1;
}

/* Per client flags. */
enum { CL_NAKS = 1, CL_REPAIRED = 2 };   /* + 1 << (4 + phase): answered */
#define CL_ANSWERED(p) ((uint8_t)(1u << (4 + (p))))

enum { FILE_ID = 1, MAXDGRAM = 9216, RECV_BATCH = 64, SEND_BURST = 4096,
       REPAIRS = 8 };

/* ---- options ---------------------------------------------------------------- */

struct opts {
	struct sockaddr_storage proxy, server_bind;
	bool client_mode, closed, json;
	size_t clients, ports;
	struct in_addr *addrs;
	size_t naddrs;
	double rate;                     /* answers per second; 0: unlimited */
	double grtt, delay, settle, timeout, interval;
	int cpu;
	unsigned robust, blocksize, blocks, nak_blocks;
	double nak_fraction;
	uint32_t uid_base, server_uid, group_id;
	uint16_t dest_port;
	struct in_addr pub, priv, mcast_if;
	uint64_t seed;
	/* encrypted clients (clients_kx.c): keyex 0 = none */
	int keyex, keytype, hashtype, sigtype;
	const char *server_key, *curve;
	bool client_auth;
	size_t key_pool;
	double resend;                   /* REGISTER again without KEYINFO */
	/* plain-session probe (clients_probe.c): CC_ACKs after REGISTER */
	double probe_rate, probe_secs;
};

/* ---- state -------------------------------------------------------------------- */

/* What one phase's answers did: sent by the clients, seen by the server. */
struct tally {
	size_t expected;                 /* clients that should answer */
	size_t queued, sent, send_errors;
	size_t distinct, dups, unknown, direct, msgs;
	uint64_t first_sent_ns, last_new_ns, complete_ns;
	uint64_t *sent_ns, *recv_ns;     /* per client */
	uint16_t *count;                 /* per client: UIDs seen */
	bool ran, timed_out;
	double agg_ms, p50, p90, p99, max;
	/* STATUS: the union the clients sent and the one the server got */
	size_t missing_bits, extra_bits, beyond_bits;
};

/* One client answer waiting to be sent. */
struct answer {
	uint64_t rx_ns;                  /* when the client heard the request */
	uint32_t client;
	uint32_t ts_sec, ts_usec;        /* the request's timestamp, to echo */
	uint16_t file_id, section;
	uint8_t func;
};

struct dgram {
	size_t len;
	uint8_t *p;
};

/* epoll tags: the server socket, the multicast socket, client socket i. */
enum { TAG_SERVER = 1, TAG_MCAST = 2, TAG_CLIENT = 1u << 24 };

enum sv_state { SV_WAIT, SV_SETTLE, SV_PROBE, SV_END };

struct cl_kx;      /* clients_kx.c */
struct cl_probe;   /* clients_probe.c */

struct ctx {
	struct opts o;
	int ep, server_fd, mcast_fd;
	int *fds;                        /* client sockets */
	size_t nfds;
	uint8_t *flags;                  /* per client */
	struct tally t[PH_COUNT];
	size_t naklen;                   /* bytes of a client's STATUS bitmap */
	uint8_t *nak_expected, *nak_got; /* blocksize bytes each */
	size_t nak_clients;
	/* answers waiting */
	struct answer *q;
	size_t qhead, qtail, qcap;
	double tokens;
	uint64_t last_pump_ns, delay_ns;
	/* server */
	enum phase phase;
	enum sv_state state;
	uint64_t phase_start_ns, deadline_ns, settle_end_ns, keepalive_ns;
	struct dgram *trig;              /* this phase's requests, for keepalives */
	size_t ntrig, captrig;
	uint16_t seq;
	size_t server_sent, keepalives, aborts_up, aborts_down, strays, bad;
	size_t reg_confs, done_confs;
	uint32_t ts_sec, ts_usec;        /* timestamp of this phase's requests */
	char abort_text[128];
	struct perf_report rep;
	uint64_t t0_ns, next_report_ns, last_report_ns;
	size_t last_sent_total, last_uids_total;
	struct cl_kx *kx;                /* encrypted session, or NULL */
	struct cl_probe *probe;          /* plain-session probe, or NULL */
};

/* ---- small helpers ---------------------------------------------------------------- */

static inline uint64_t splitmix(uint64_t x)
{
	x += UINT64_C(0x9E3779B97F4A7C15);
	x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
	return x ^ (x >> 31);
}

static inline void wall_now(uint32_t *sec, uint32_t *usec)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	*sec = (uint32_t)tv.tv_sec;
	*usec = (uint32_t)tv.tv_usec;
}

static inline uint64_t secs_ns(double s)
{
	return s <= 0 ? 0 : (uint64_t)(s * 1e9);
}

static inline bool client_of(const struct ctx *c, uint32_t uid, size_t *idx)
{
	uint32_t off = uid - c->o.uid_base;
	if (off >= c->o.clients)
		return false;
	*idx = off;
	return true;
}

static inline uint32_t uid_of(const struct ctx *c, size_t idx)
{
	return c->o.uid_base + (uint32_t)idx;
}

static inline size_t list_max(const struct ctx *c)
{
	size_t n = c->o.blocksize / 4;
	return n ? n : 1;
}

/* Block k (0..nak_blocks-1) that client i NAKs. */
static inline unsigned nak_block(const struct ctx *c, size_t i, unsigned k)
{
	uint64_t h = splitmix(c->o.seed ^ splitmix(((uint64_t)i << 8) | k | 0x80));
	return (unsigned)(h % c->o.blocks);
}

static inline void set_bit(uint8_t *map, unsigned bit)
{
	map[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
}

/* Which clients a DONE names. */
typedef bool want_fn(const struct ctx *c, size_t i);

/* ---- entry points of each file --------------------------------------------- */

/* clients_answer.c */
void perf_cl_client_socket_read(struct ctx *c, int fd);
void perf_cl_clients_deliver(struct ctx *c, const uint8_t *buf, size_t len,
			    uint64_t rx_ns);
uint64_t perf_cl_clients_next(const struct ctx *c, uint64_t now);
void perf_cl_clients_pump(struct ctx *c, uint64_t now);
void perf_cl_clients_resend_register(struct ctx *c, size_t i, uint64_t now);

/* clients_kx.c: the key exchange of encrypted clients (--keyex) */
int perf_cl_kx_setup(struct ctx *c);     /* keys, PROXY_KEY, precomputation */
void perf_cl_kx_free(struct ctx *c);
void perf_cl_kx_enc_info(struct ctx *c, struct uftp_announce *a);
void perf_cl_kx_sign_announce(struct ctx *c, uint8_t *dgram, size_t len);
void perf_cl_kx_register_fields(const struct ctx *c, size_t i, struct uftp_register *r);
void perf_cl_kx_after_register(struct ctx *c, int fd, size_t i);
bool perf_cl_kx_server_rx(struct ctx *c, const struct uftp_msg *m, const uint8_t *raw,
			  size_t len);
bool perf_cl_kx_client_rx(struct ctx *c, const struct uftp_msg *m, uint64_t now);
bool perf_cl_kx_done(const struct ctx *c);
void perf_cl_kx_keepalive(struct ctx *c);
void perf_cl_kx_finish(struct ctx *c);
bool perf_cl_kx_ok(const struct ctx *c);
json_t *perf_cl_kx_json(struct ctx *c);
void perf_cl_kx_summary(struct ctx *c);

/* clients_probe.c: a plain session's forwarding, CC_ACKs through the proxy */
int perf_cl_probe_setup(struct ctx *c);
void perf_cl_probe_free(struct ctx *c);
void perf_cl_probe_start(struct ctx *c, uint64_t now);
void perf_cl_probe_tick(struct ctx *c, uint64_t now);   /* sends; ends the phase */
uint64_t perf_cl_probe_next(const struct ctx *c);
void perf_cl_probe_rx(struct ctx *c, const struct uftp_msg *m, uint64_t now);
json_t *perf_cl_probe_json(const struct ctx *c);
bool perf_cl_probe_ok(const struct ctx *c);        /* some got through */
void perf_cl_probe_summary(const struct ctx *c);

/* clients_opts.c */
int perf_cl_parse_opts(int argc, char **argv, struct opts *o);
json_t *perf_cl_start_json(const struct opts *o);
void perf_cl_usage(FILE *f);

/* clients_phase.c */
void perf_cl_phase_start(struct ctx *c, enum phase p, uint64_t now);
uint64_t perf_cl_server_next(const struct ctx *c);
void perf_cl_server_tick(struct ctx *c, uint64_t now);

/* clients_report.c */
json_t *perf_cl_end_json(const struct ctx *c, bool ok);
void perf_cl_print_summary(const struct ctx *c);
void perf_cl_report_interval(struct ctx *c, uint64_t now);
void perf_cl_tally_finish(struct ctx *c, struct tally *t, enum phase p);
bool perf_cl_tally_ok(const struct tally *t, enum phase p);

/* clients_server_rx.c */
void perf_cl_read_batch(struct ctx *c, int fd, bool server);

/* clients_server_tx.c */
void perf_cl_send_announce(struct ctx *c);
void perf_cl_send_confirm(struct ctx *c, uint8_t func);
void perf_cl_send_done(struct ctx *c, want_fn *want);
void perf_cl_send_fileinfo(struct ctx *c);
void perf_cl_send_repairs(struct ctx *c);
void perf_cl_server_send_raw(struct ctx *c, const uint8_t *buf, size_t len);
/* m's header filled in and sent to the proxy; keep: resend as keepalive;
 * deliver: the clients hear it too (response mode). */
void perf_cl_server_send(struct ctx *c, struct uftp_msg *m, bool keep, bool deliver);
void perf_cl_send_uids(struct ctx *c, uint8_t func, const uint32_t *uids, size_t n);
void perf_cl_trig_clear(struct ctx *c);
bool perf_cl_want_all(const struct ctx *c, size_t i);
bool perf_cl_want_naks(const struct ctx *c, size_t i);

/* clients_sockets.c */
void perf_cl_close_sockets(struct ctx *c);
int perf_cl_open_sockets(struct ctx *c);

#endif
