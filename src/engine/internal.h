/* internal.h — what the engine's files share and nobody else sees: the
 * worker, the user_data layout, buffer rings and the timer heap. */
#ifndef FERRY_ENGINE_INTERNAL_H
#define FERRY_ENGINE_INTERNAL_H

#include <assert.h>
#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>

#include "ferry/engine.h"

/* user_data, defined once: the top byte names the operation, the low 56 bits
 * carry the object it belongs to (user-space pointers fit in 47 bits). */
enum fe_op {
	OP_NONE = 0,    /* completions nobody waits for (cancels) */
	OP_UDP_RECV,    /* multishot recvmsg; ptr: struct fe_udp */
	OP_UDP_SEND,    /* sendmsg; ptr: struct udp_run */
	OP_ACCEPT,      /* multishot accept; ptr: struct fe_listener */
	OP_TCP_RECV,    /* multishot recv; ptr: struct fe_conn */
	OP_TCP_SEND,    /* send; ptr: struct fe_conn */
	OP_MAIL,        /* a message arrived by MSG_RING; ptr: struct fe_mail */
	OP_MAIL_SENT,   /* our MSG_RING completed; ptr: struct fe_mail */
	OP_STOP,        /* the engine asks this worker to stop */
	OP_CONNECT,     /* outbound connect; ptr: struct fe_connect */
	OP_SPLICE,      /* one splice of a file transfer; ptr: struct fe_xfer */
	OP_POOL,        /* the pool's eventfd: jobs came back; ptr: struct pool_inbox */
	OP_FSOP,        /* a file operation (fsop.c); ptr: struct fe_fsop */
	OP__COUNT
};

#define UD_PTR_MASK ((UINT64_C(1) << 56) - 1)

static inline uint64_t ud_make(enum fe_op op, const void *p)
{
	return ((uint64_t)op << 56) | ((uint64_t)(uintptr_t)p & UD_PTR_MASK);
}
static inline enum fe_op ud_op(uint64_t ud) { return (enum fe_op)(ud >> 56); }
static inline void *ud_ptr(uint64_t ud) { return (void *)(uintptr_t)(ud & UD_PTR_MASK); }

/* Buffer group ids: one provided-buffer ring per worker and traffic kind. */
enum { BGID_UDP = 0, BGID_TCP = 1 };

struct bufring {
	struct io_uring_buf_ring *br;
	uint8_t *base;
	unsigned count;     /* power of two */
	unsigned size;      /* bytes per buffer */
	uint16_t bgid;
};

int fe_bufring_init(struct bufring *b, struct io_uring *ring, uint16_t bgid,
		 unsigned count, unsigned size);
void fe_bufring_free(struct bufring *b, struct io_uring *ring);
uint8_t *fe_bufring_at(const struct bufring *b, unsigned bid);
void fe_bufring_put(struct bufring *b, unsigned bid); /* hand back to the kernel */

/* Timers: a binary min-heap ordered by (deadline, sequence) so that timers
 * with the same deadline fire in the order they were added. */
struct fe_timer {
	uint64_t deadline;  /* ms, CLOCK_MONOTONIC */
	uint64_t seq;
	unsigned slot;      /* index in the heap */
	fe_timer_cb *cb;
	void *arg;
};

struct timer_heap {
	struct fe_timer **v;
	unsigned n, cap;
	uint64_t seq;
};

int fe_theap_push(struct timer_heap *h, struct fe_timer *t);
struct fe_timer *fe_theap_peek(const struct timer_heap *h);
void fe_theap_remove(struct timer_heap *h, struct fe_timer *t);
void fe_theap_free(struct timer_heap *h);

/* A message between workers. */
struct fe_mail {
	fe_mail_cb *cb;
	void *arg;
	struct fe_worker *to;
	unsigned tries;
};

/* Jobs of the helper pool (pool.c) that came back to this worker. */
struct fe_job;
struct pool_inbox {
	pthread_mutex_t mu;
	pthread_cond_t cv;          /* signalled per job, for the shutdown drain */
	struct fe_job *head, *tail; /* finished, done() not yet run */
	int efd;                    /* eventfd: written when head was empty */
	uint64_t efd_val;           /* the armed read's buffer */
	unsigned pending;           /* submitted, done() not yet run (worker only) */
	bool ok, armed;
};

struct udp_slot;
struct udp_run;
struct fe_udp;
struct list_node {
	struct list_node *prev, *next;
};

struct fe_worker {
	struct fe_engine *eng;
	unsigned index;
	pthread_t thread;
	struct io_uring ring;
	bool ring_ok;
	bool stopping;
	uint64_t now_ms;
	unsigned inflight;          /* operations the kernel still owns */
	uint64_t turn_udp_rx;       /* datagrams the last turn brought */
	uint64_t woke_ns;           /* when the last io_uring_enter returned */
	uint64_t woke_cpu_ns;       /* this thread's CPU time then */
	uint64_t slow_logged_ms;    /* last slow-turn log line (rate limit) */
	unsigned turn_cqes, turn_timers; /* what the last turn did */
	struct bufring udp_bufs;
	struct bufring tcp_bufs;
	struct timer_heap timers;
	struct udp_slot *free_slots;
	unsigned slots;             /* allocated send slots */
	struct udp_run *free_runs;
	struct fe_udp *open_udps;   /* sockets with datagrams not yet submitted */
	struct fe_turn_hook *hooks; /* end-of-turn callbacks (hook.c) */
	atomic_uint mail_pending;   /* posted to us, not yet delivered */
	bool hooks_running;
	struct list_node udps, listeners, conns; /* for teardown */
	struct fe_stats st;
	struct pool_inbox inbox;
	void *data;
};

struct fe_engine {
	struct fe_engine_opts opts;
	unsigned nworkers;
	struct fe_worker *workers;
	/* start-up barrier */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned ready;
	unsigned finished;      /* workers past worker_fini (stop barrier) */
	int start_err;
	bool started;
	/* the control ring lets non-worker threads post MSG_RING (stop) */
	struct io_uring ctl;
	bool ctl_ok;
	/* ports this engine's workers share (claim.c) */
	pthread_mutex_t claim_lock;
	struct port_claim *claims;
	struct fe_pool *pool;       /* helper threads (pool.c) */
};

/* Completion handlers, one per operation (loop.c dispatches by table). */
typedef void op_handler(struct fe_worker *w, const struct io_uring_cqe *cqe);
op_handler fe_udp_on_recv, fe_udp_on_sent, fe_tcp_on_accept, fe_tcp_on_recv, fe_tcp_on_sent,
	fe_mail_on_receive, fe_mail_on_sent, fe_connect_on_done, fe_splice_on_done,
	fe_pool_on_done, fe_fsop_on_done;

/* pool.c */
int fe_pool_start(struct fe_engine *e);
void fe_pool_stop(struct fe_engine *e);
int fe_pool_worker_init(struct fe_worker *w);
void fe_pool_worker_drain(struct fe_worker *w);
void fe_pool_worker_fini(struct fe_worker *w);

/* A TCP connection (tcp.c), shared with connect.c and splice.c. Bytes handed
 * to the kernel stay put until their send completes, so output goes to
 * `next` while `busy` is in flight; the two swap when busy drains. */
struct obuf {
	uint8_t *p;
	size_t len, off, cap;
};

struct fe_xfer;

struct fe_conn {
	struct list_node node;
	struct fe_worker *w;
	int fd;
	struct sockaddr_storage peer;
	const struct fe_conn_ops *ops;
	void *arg;
	unsigned refs;          /* operations in flight */
	int err;
	bool started, closing, recv_armed, send_busy, cancel_sent, quiet;
	bool detaching;         /* fe_conn_detach: hand the fd over when idle */
	bool receiving;         /* the owner wants on_data (start, recv_start) */
	bool paused;            /* fe_conn_pause: on_data waits for resume */
	size_t limit;           /* most bytes busy + next may hold */
	struct obuf busy, next;
	struct obuf extra;      /* bytes received while detaching */
	struct obuf held;       /* bytes that completed after fe_conn_pause */
	struct fe_timer *resume_timer; /* delivers `held` after fe_conn_resume */
	fe_detach_cb *detach_cb;
	void *detach_arg;
	struct fe_xfer *xfer;   /* splice transfer in progress (splice.c) */
	bool ktls_tx;           /* ktls.c: the kernel seals what we send */
	bool ktls_rx;           /* ktls.c: the kernel opens what we receive */
	bool rx_sock_end;       /* splice.c: the last receiving splice ended
				 * at the socket (kTLS: a record not data),
				 * not at its file */
	size_t recv_max;        /* bytes one receive asks for, 0: a buffer */
	struct fe_ktls_alert *alert; /* ktls.c: the bytes in flight are an alert */
	uint32_t linger_ms;     /* fe_conn_close_linger: wait for the peer's close */
	bool lingering;         /* our FIN is sent; reading until the peer's */
	bool linger_done;       /* the peer closed, failed, sent too much, or
				 * the wait expired */
	size_t linger_bytes;    /* read (and dropped) while lingering */
	struct fe_timer *linger_timer;
};

struct fe_conn *fe_tcp_conn_new(struct fe_worker *w, int fd);
/* A TCP socket as listeners have it: SO_REUSEADDR, SO_REUSEPORT when
 * asked, IPv6 only for AF_INET6. fd or -errno. */
int fe_tcp_socket(int family, bool reuseport);
/* portrange.c: a listening socket on a's host at a free port of [lo, hi]:
 * fd, or -EADDRINUSE when every port of it is taken, or another -errno. */
int fe_tcp_listen_in_range(const struct sockaddr_storage *a, uint16_t lo, uint16_t hi);
/* ktls.c: the send of an alert record (c->alert set), and its end. */
void fe_ktls_prep_alert(struct io_uring_sqe *sqe, struct fe_conn *c);
void fe_ktls_alert_free(struct fe_conn *c);
void fe_tcp_conn_settle(struct fe_conn *c);
void fe_xfer_abort_quiet(struct fe_xfer *x);

struct io_uring_sqe *fe_sqe(struct fe_worker *w);
/* Asks the kernel to end the operation (op, p); its final CQE follows. */
void fe_cancel(struct fe_worker *w, enum fe_op op, const void *p);
int fe_fd_local(int fd, struct sockaddr_storage *out);
/* Binds fd (SO_REUSEPORT set) to a; the first socket of this engine on a
 * port first proves no other process holds it: -EADDRINUSE then. *out is
 * released with fe_claim_release when the socket is closed. */
struct port_claim;
int fe_claim_bind(struct fe_worker *w, int fd, int type,
	       const struct sockaddr_storage *a, struct port_claim **out);
void fe_claim_release(struct fe_engine *e, struct port_claim *c);
void fe_worker_loop(struct fe_worker *w);
void fe_worker_teardown(struct fe_worker *w);
void fe_udp_close_all(struct fe_worker *w);
void fe_tcp_close_all(struct fe_worker *w);
void fe_udp_slots_free(struct fe_worker *w);
void fe_udp_flush(struct fe_worker *w, void *arg);   /* an end-of-turn hook */
struct fe_turn_hook *fe_turn_hook_add(struct fe_worker *w, fe_turn_fn *fn, void *arg,
				   bool engine);
void fe_turn_hooks_run(struct fe_worker *w);
void fe_turn_hooks_drop(struct fe_worker *w, bool all);

static inline void list_init(struct list_node *h) { h->prev = h->next = h; }
static inline void list_add(struct list_node *h, struct list_node *n)
{
	n->next = h->next;
	n->prev = h;
	h->next->prev = n;
	h->next = n;
}
static inline void list_del(struct list_node *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = n;
}

#define container_of(p, type, member) \
	((type *)(void *)((char *)(p) - offsetof(type, member)))

#endif
