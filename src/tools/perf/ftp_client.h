/* ftp_client.h — what the files of one ferry-perf ftp load thread share: a
 * client's states and struct, and each file's entry points. Each client is
 * a state machine over non-blocking sockets (login, QUIT, PASV/EPSV/SPSV
 * data connections, RETR/STOR, idle sessions with NOOPs) driven by its
 * thread's epoll loop. */
#ifndef FERRY_PERF_FTP_CLIENT_H
#define FERRY_PERF_FTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ftp_load.h"
#include "ftpc.h"
#include "perf.h"

enum {
	CTL_IN = 2048,          /* control input held: replies are short */
	CTL_OUT = 256,
	DATA_IN = 256,          /* SPSV data connection's own login replies */
	IO_CHUNK = 256 * 1024,  /* STOR send size */
	MAX_ERROR_LINES = 10,   /* error messages shown on stderr */
	TICK_MS = 20,           /* timeout and back-off resolution */
	BACKOFF_MS = 50,        /* pause before a failed client tries again */
	CLOSE_GRACE_MS = 1000,  /* after 221: wait this long for the server's FIN */
};


/* Where a client is; each state waits for one thing. */
enum cstate {
	C_PENDING,      /* idle mode: not started yet (ramp) */
	C_CONNECTING,   /* control connect in progress */
	C_GREETING,     /* 220 */
	C_USER,         /* 331 (or 230) */
	C_PASS,         /* 230 */
	C_TYPE,         /* 200 after TYPE I */
	C_DSETUP,       /* 227 / 229 after PASV, EPSV or SPSV */
	C_DWAIT,        /* SPSV: the data connection logs in first */
	C_XSTART,       /* 150 / 125 after RETR or STOR */
	C_XFER,         /* 226 and the data side's end */
	C_QUIT,         /* 221 */
	C_CLOSING,      /* EOF after 221 */
	C_IDLE,         /* idle mode: logged in, holding */
	C_NOOP,         /* idle mode: 200 after NOOP */
	C_BACKOFF,      /* after an error, before the next try */
	C_DONE,         /* finished for good */
};

enum dstate { D_NONE, D_CONNECTING, D_LOGIN, D_OPEN };  /* D_LOGIN: SPSV only */

struct ftp_client {
	struct ftp_thread *t;
	unsigned id;
	enum cstate st;
	bool ending;            /* QUIT sent because no more work: DONE after */
	unsigned index;         /* in its thread's array */
	int ctl, dat;
	uint32_t ctl_gen, dat_gen; /* bumped per descriptor: stale events differ */
	uint64_t deadline_ns;   /* UINT64_MAX: none */
	uint64_t op_ns;         /* start of the operation being timed */
	/* control input and output */
	char in[CTL_IN];
	size_t inlen;
	struct ftpc_reply_reader rr, drr; /* replies in progress (control, data) */
	char out[CTL_OUT];
	size_t outlen, outoff;
	/* data connection */
	enum dstate dst;
	char din[DATA_IN];
	size_t dinlen;
	struct ftpc_spsv cred;  /* from the SPSV reply */
	struct ftpc_dlogin dl;  /* the SPSV data connection's own login */
	uint64_t moved;
	bool got_150, final, data_done;
	bool ticketed;          /* --count: the operation under way holds one */
	unsigned gen;           /* bumped whenever the connections are reset */
};

static inline void add(uint64_t *p, uint64_t v) { __atomic_add_fetch(p, v, __ATOMIC_RELAXED); }
static inline bool stopping(const struct ftp_run *r)
{
	return __atomic_load_n(&r->stop, __ATOMIC_RELAXED) || perf_stopping();
}

static const struct ftp_opts *opts(const struct ftp_client *c) { return c->t->run->o; }

/* The client has nothing more to do in this run. */

/* ---- entry points of each file ------------------------------------------- */

/* ftp_client.c */
void perf_ftp_client_settled(struct ftp_client *c);
void perf_ftp_finish(struct ftp_client *c);
void perf_ftp_set_deadline(struct ftp_client *c, uint64_t ms);
void perf_ftp_start_client(struct ftp_client *c);
bool perf_ftp_tickets_left(struct ftp_run *r);
void perf_ftp_wait_reply(struct ftp_client *c, enum cstate st);

/* ftp_conn.c */
void perf_ftp_close_all(struct ftp_client *c);
void perf_ftp_close_fd(struct ftp_client *c, bool data);
int perf_ftp_dial(struct ftp_client *c, unsigned port, int *out);
/* Counts and shows (the first few) a failure, then resets the client for
 * its next try, or ends it. */
void perf_ftp_fail(struct ftp_client *c, enum ftp_err kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void perf_ftp_on_ctl_event(struct ftp_client *c, uint32_t ev);
/* Queues one command line (CR LF added) and sends what it can. */
void perf_ftp_say(struct ftp_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int perf_ftp_sock_error(int fd);
uint64_t perf_ftp_tag(const struct ftp_client *c, bool data);
bool perf_ftp_take_lines(struct ftp_client *c, bool data);
int perf_ftp_watch(struct ftp_client *c, bool data);

/* ftp_data.c */
void perf_ftp_on_data_event(struct ftp_client *c, uint32_t ev);
void perf_ftp_on_data_reply(struct ftp_client *c, int code, const char *line);
void perf_ftp_stor_output(struct ftp_client *c);

/* ftp_session.c */
void perf_ftp_on_reply(struct ftp_client *c, int code, const char *line);
void perf_ftp_send_transfer_cmd(struct ftp_client *c);
void perf_ftp_transfer_check(struct ftp_client *c);

#endif
