/* ftp_load.h — what ferry-perf ftp's two files share: the options, the run
 * every load thread reads, and one thread's counters and samples. */
#ifndef FERRY_PERF_FTP_LOAD_H
#define FERRY_PERF_FTP_LOAD_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ftpc.h"

enum ftp_mode { MODE_LOGIN, MODE_RETR, MODE_STOR, MODE_IDLE };
enum ftp_data { DATA_PASV, DATA_EPSV, DATA_SPSV };

/* Why an operation failed; each kind is counted and reported. */
enum ftp_err {
	ERR_CONNECT,    /* control connection refused or failed */
	ERR_REPLY,      /* a reply code other than the one expected */
	ERR_CLOSED,     /* the server closed a connection too early */
	ERR_TIMEOUT,    /* no progress for --timeout seconds */
	ERR_DATA,       /* data connection could not be opened or broke */
	ERR_SIZE,       /* RETR: bytes received differ from --size */
	ERR_PROTO,      /* a reply we cannot parse (no port, line too long) */
	ERR__COUNT
};
extern const char *const ftp_err_names[ERR__COUNT];

struct ftp_opts {
	enum ftp_mode mode;
	enum ftp_data data;
	enum ftpc_spsv_form spsv_form;  /* SPSV: -01 (DATACONN login) or -00 (SPDT) */
	struct sockaddr_storage server;
	const char *user, *pass, *file;
	uint64_t size;
	bool size_given;
	unsigned concurrency, threads, ramp;
	double duration;            /* seconds, 0: none */
	uint64_t count;             /* operations, 0: none */
	double interval, timeout, noop;
	bool json;
	int cpu;                    /* -1: no pinning */
};

/* Growable array of samples (ms or Mbit/s); touched by one thread only. */
struct samples {
	double *v;
	size_t n, cap;
};
void samples_add(struct samples *s, double x);

/* One load thread: its clients, epoll set and figures. The counters are
 * read by the reporting thread while the load thread runs (relaxed atomics). */
struct ftp_client;
struct ftp_run;

struct ftp_thread {
	struct ftp_run *run;
	unsigned index;
	pthread_t tid;
	int epfd;
	struct ftp_client *clients;
	unsigned nclients, first_id;
	unsigned next_pending, logins_in_flight, done;
	/* relaxed atomics: */
	uint64_t ops, errors, bytes, errs[ERR__COUNT];
	uint64_t up;                /* idle mode: sessions logged in and held */
	uint64_t settled;           /* idle mode: clients that got up or failed */
	bool finished;
	/* this thread only, read after join: */
	uint64_t last_op_ns;
	struct samples latency_ms, rate_mbps;
	int sys_err;                /* errno of a failure that stops the thread */
};

struct ftp_run {
	const struct ftp_opts *o;
	struct ftp_thread *threads;
	uint64_t t0_ns;
	bool stop;                  /* atomic: abandon everything and end */
	uint64_t tickets;           /* atomic: operations handed out (--count) */
	unsigned errors_printed;    /* atomic: error messages shown so far */
};

void *ftp_thread_main(void *arg);
/* Counts ops for --count: true when this client may start another. */
bool ftp_take_ticket(struct ftp_run *r);

#endif
