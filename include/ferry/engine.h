/* engine.h — the event loop: one thread and one io_uring per worker. Protocol
 * code opens sockets, timers and mailboxes here and never sees io_uring. */
#ifndef FERRY_ENGINE_H
#define FERRY_ENGINE_H

#if defined(FERRY_MODULE) && !defined(FERRY_USES_ENGINE)
#error "ferry/engine.h: this module may not use engine (module graph: meson.build)"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct fe_engine;
struct fe_worker;
struct fe_udp;
struct fe_listener;
struct fe_conn;
struct fe_timer;

/* ---- create → start → (run) → stop → wait → destroy ------------------- */

enum { FE_UDP_GRO_MAX = 65536 };   /* holds the largest GRO aggregate */

struct fe_engine_opts {
	unsigned workers;             /* 0: one per online CPU */
	/* Called in each worker's own thread before its loop starts; a non-zero
	 * return (an exit code) aborts the whole engine start. */
	int (*worker_init)(struct fe_worker *w, void *arg);
	void (*worker_fini)(struct fe_worker *w, void *arg);
	void *arg;
	unsigned udp_buffers;         /* provided buffers per worker, power of 2 */
	unsigned udp_buffer_size;     /* bytes per buffer, largest datagram; at
				       * least FE_UDP_GRO_MAX (the default)
				       * turns on UDP GRO receives */
	unsigned pool_threads;        /* helper threads (fe_pool_submit), 0: 4 */
	unsigned pool_queue;          /* jobs waiting for a helper, 0: 1024 */
	/* Called by each helper thread as it exits (NULL: nothing), for
	 * per-thread state a job's library keeps (wolfCrypt's EC cache). */
	void (*pool_thread_exit)(void);
};

/* NULL with errno set (ENOMEM, or why io_uring is refused; logged). */
struct fe_engine *fe_engine_create(const struct fe_engine_opts *opts);
/* Starts the worker threads and waits until each has run worker_init.
 * Returns 0, or the first failing worker_init's code (threads then stopped). */
int fe_engine_start(struct fe_engine *e);
void fe_engine_stop(struct fe_engine *e);   /* any thread; returns at once */
void fe_engine_wait(struct fe_engine *e);   /* joins the workers */
void fe_engine_destroy(struct fe_engine *e);
unsigned fe_engine_workers(const struct fe_engine *e);
struct fe_worker *fe_engine_worker(struct fe_engine *e, unsigned index);

unsigned fe_worker_index(const struct fe_worker *w);
struct fe_engine *fe_worker_engine(const struct fe_worker *w);
void *fe_worker_data(const struct fe_worker *w);
void fe_worker_set_data(struct fe_worker *w, void *data);
uint64_t fe_now_ms(const struct fe_worker *w); /* CLOCK_MONOTONIC, per turn */

/* ---- UDP ---------------------------------------------------------------- */

struct fe_udp_opts {
	struct sockaddr_storage bind; /* address and port to bind */
	bool reuseport;               /* SO_REUSEPORT: one socket per worker */
	int bufsize;                  /* SO_RCVBUF and SO_SNDBUF, 0: default */
	bool bufforce;                /* past net.core.[rw]mem_max (CAP_NET_ADMIN) */
	int ttl;                      /* multicast TTL / hop limit, 0: default */
	int dscp;                     /* 0-63 */
	unsigned mcast_ifindex;       /* interface for multicast sends, 0: any */
	struct sockaddr_storage mcast_ifaddr; /* IPv4 source for it, or unset */
};

struct fe_datagram {
	const uint8_t *data;
	size_t len;
	const struct sockaddr *src;   /* sender */
	socklen_t srclen;
	struct sockaddr_storage dst;  /* address it was sent to (IP_PKTINFO) */
	unsigned ifindex;             /* interface it arrived on */
};

/* The datagram's memory is valid only during the call. */
typedef void fe_udp_cb(struct fe_udp *s, const struct fe_datagram *d, void *arg);

struct fe_udp *fe_udp_open(struct fe_worker *w, const struct fe_udp_opts *o,
			   fe_udp_cb *cb, void *arg, int *err);
/* Joins group on ifindex (0: kernel's choice); source non-NULL: SSM. */
int fe_udp_join(struct fe_udp *s, const struct sockaddr *group,
		unsigned ifindex, const struct sockaddr *source);
int fe_udp_leave(struct fe_udp *s, const struct sockaddr *group, unsigned ifindex,
		 const struct sockaddr *source);
/* Copies the datagram into the send queue; it leaves at the end of this
 * loop turn with everything else queued, datagrams of one size to the same
 * destination together in one segmented (GSO) send. 0, or -ENOBUFS
 * (counted drop). */
int fe_udp_send(struct fe_udp *s, const struct sockaddr *dst, socklen_t dstlen,
		const void *data, size_t len);
int fe_udp_local(const struct fe_udp *s, struct sockaddr_storage *out);
void fe_udp_close(struct fe_udp *s);

/* ---- TCP ---------------------------------------------------------------- */

struct fe_conn_ops {
	/* Bytes received; valid only during the call. */
	void (*on_data)(struct fe_conn *c, const uint8_t *data, size_t len, void *arg);
	/* The connection is gone (peer closed: err 0, else -errno); the engine
	 * frees it after this returns. */
	void (*on_close)(struct fe_conn *c, int err, void *arg);
	/* Optional: everything queued has been sent (for paced output). */
	void (*on_drained)(struct fe_conn *c, void *arg);
};

typedef void fe_accept_cb(struct fe_listener *l, struct fe_conn *c, void *arg);

struct fe_listener *fe_tcp_listen(struct fe_worker *w,
				  const struct sockaddr_storage *addr,
				  bool reuseport, fe_accept_cb *cb, void *arg,
				  int *err);
/* A listener on addr's host (its port is ignored) at a free port of
 * [lo, hi] (1 <= lo <= hi), for data connections behind a firewall that
 * opens only that range: *err is -EADDRINUSE when every port is taken. */
struct fe_listener *fe_tcp_listen_range(struct fe_worker *w,
					const struct sockaddr_storage *addr,
					uint16_t lo, uint16_t hi, fe_accept_cb *cb,
					void *arg, int *err);
int fe_listener_local(const struct fe_listener *l, struct sockaddr_storage *out);
void fe_listener_close(struct fe_listener *l);

/* Must be called from the accept callback; starts receiving. */
void fe_conn_start(struct fe_conn *c, const struct fe_conn_ops *ops, void *arg);
/* Queues bytes (copied); 0 or -errno: -ENOBUFS when the queue would pass
 * the connection's limit (nothing is queued then: a peer that does not read
 * cannot make us hold more than the limit; wait for on_drained). */
int fe_conn_send(struct fe_conn *c, const void *data, size_t len);
enum { FE_CONN_LIMIT = 1 << 20 };   /* default send queue limit, bytes */
/* The same for a malloc'd buffer (len bytes from its start, cap allocated)
 * that the engine takes over and frees: no copy when nothing else is
 * queued. On error (as fe_conn_send's) p is still the caller's. */
int fe_conn_send_owned(struct fe_conn *c, void *p, size_t len, size_t cap);
size_t fe_conn_queued(const struct fe_conn *c);   /* queued, not yet sent */
/* Received while paused, kept for delivery after resume. One receive is in
 * flight per connection, so this is at most FE_TCP_RECV_MAX: a paused
 * connection holds no more than its send limit plus one buffer. */
size_t fe_conn_held(const struct fe_conn *c);
enum { FE_TCP_RECV_MAX = 16384 };   /* bytes per receive (one buffer) */
void fe_conn_set_limit(struct fe_conn *c, size_t bytes);
/* Each receive armed from now on asks for at most bytes (0, or
 * FE_TCP_RECV_MAX and more: a whole buffer), so that the owner can stop
 * at a point of the stream (a TLS record boundary, for fe_conn_ktls_rx):
 * set in on_data, it applies to the receive armed after it. */
void fe_conn_recv_max(struct fe_conn *c, size_t bytes);
/* Stop delivering on_data: the receive in flight is cancelled, so what the
 * peer sends stays in the kernel's buffer and the TCP window closes. A
 * buffer that had already completed (at most one: see fe_conn_held) is kept
 * and delivered after resume, before anything newer. Resume delivers from the next loop turn on, never from
 * inside the call. An error still ends a paused connection; the peer's
 * orderly close is seen after resume, behind the bytes it sent. */
void fe_conn_pause(struct fe_conn *c);
void fe_conn_resume(struct fe_conn *c);
/* Closes once queued bytes are sent; on_close follows. */
void fe_conn_close(struct fe_conn *c);
/* The same, but once queued bytes are sent it shuts down the sending side
 * (FIN) and reads, discarding, until the peer closes too or ms pass, before
 * close(): bytes the peer sends late (a TLS ticket, its close_notify) then
 * never meet a closed socket, whose reset would drop the tail of what we
 * sent that the peer had not read yet. For a peer that reads to our end
 * and then closes (an FTP server's upload data connection); a peer that
 * goes on sending (64 KiB and more) is closed at once, as fe_conn_close. */
void fe_conn_close_linger(struct fe_conn *c, uint32_t ms);
const struct sockaddr_storage *fe_conn_peer(const struct fe_conn *c);
int fe_conn_local(const struct fe_conn *c, struct sockaddr_storage *out);
/* SO_OOBINLINE: urgent bytes stay in the stream (FTP's ABOR is sent with
 * MSG_OOB by some clients, its last byte urgent). 0 or -errno. */
int fe_conn_urgent_inline(struct fe_conn *c);
/* TCP_NODELAY: for request/reply protocols whose replies are whole messages
 * (the engine already gathers one turn's output into one send), so a reply
 * never waits for the peer's delayed ACK of the one before. 0 or -errno. */
int fe_conn_nodelay(struct fe_conn *c);
struct fe_worker *fe_conn_worker(const struct fe_conn *c);

/* Like fe_conn_start but without receiving: for connections that only send,
 * or that receive later through fe_conn_recv_start or fe_conn_recvfile. */
void fe_conn_hold(struct fe_conn *c, const struct fe_conn_ops *ops, void *arg);
void fe_conn_recv_start(struct fe_conn *c);

/* Hands a connection to another owner (e.g. another worker): once queued
 * output is sent and the receive has stopped, cb gets the descriptor and the
 * bytes that arrived after the call; the engine object is freed, the fd
 * stays open and on_close is not called. */
typedef void fe_detach_cb(struct fe_worker *w, int fd, const uint8_t *extra,
			  size_t len, void *arg);
void fe_conn_detach(struct fe_conn *c, fe_detach_cb *cb, void *arg);
/* Wraps a connected socket on worker w; start, hold or close it. */
struct fe_conn *fe_conn_adopt(struct fe_worker *w, int fd);

/* Outbound connection, from `from` (address, port 0: any) when given. cb gets
 * the connection (start or hold it there, else it is closed) or NULL and
 * -errno. After fe_connect_cancel the callback never runs. */
struct fe_connect;
typedef void fe_connect_cb(struct fe_conn *c, int err, void *arg);
struct fe_connect *fe_tcp_connect(struct fe_worker *w,
				  const struct sockaddr_storage *to,
				  const struct sockaddr_storage *from,
				  fe_connect_cb *cb, void *arg, int *err);
void fe_connect_cancel(struct fe_connect *k);

/* ---- file transfers over a connection, zero-copy (splice) -------------- */

/* Bytes moved and 0, or -errno. Runs once, unless the transfer is aborted. */
typedef void fe_xfer_cb(struct fe_conn *c, int err, uint64_t bytes, void *arg);
struct fe_xfer;

/* file[offset, offset+len) → connection (len UINT64_MAX: to end of file);
 * the connection's send queue must be empty and it must not be receiving
 * (or be paused: fe_conn_pause). */
struct fe_xfer *fe_conn_sendfile(struct fe_conn *c, int file_fd, uint64_t offset,
				 uint64_t len, fe_xfer_cb *cb, void *arg, int *err);
/* connection → file from offset, until the peer closes its side. */
struct fe_xfer *fe_conn_recvfile(struct fe_conn *c, int file_fd, uint64_t offset,
				 fe_xfer_cb *cb, void *arg, int *err);
/* Stops the transfer (the socket is shut down); its callback never runs.
 * fe_conn_close aborts a running transfer the same way. */
void fe_xfer_abort(struct fe_xfer *x);
/* Bytes delivered so far (for stall detection). */
uint64_t fe_xfer_progress(const struct fe_xfer *x);

/* ---- kernel TLS (ktls.c) -------------------------------------------------- */

/* TLS record content types (RFC 8446 5.1) that the kTLS paths name. */
enum { FE_TLS_REC_ALERT = 21, FE_TLS_REC_HANDSHAKE = 22 };

/* What this kernel's TLS takes for sending (TLS_TX; *rx: those of them it
 * takes for receiving, TLS_RX), one bit per version
 * and cipher; probed on loopback sockets, once, at start-up (as root it
 * may load the tls module). 0 with the reason in why ("kernel has no tls
 * ULP") when none. */
enum { FE_KTLS_TLS12_AES128 = 1, FE_KTLS_TLS12_AES256 = 2,
       FE_KTLS_TLS13_AES128 = 4, FE_KTLS_TLS13_AES256 = 8,
       FE_KTLS_TLS12_CHACHA = 16, FE_KTLS_TLS13_CHACHA = 32 };
unsigned fe_ktls_probe(char *why, size_t cap, unsigned *rx);
/* Hands the connection's sending side to the kernel: info is Linux's
 * struct tls12_crypto_info_* (crypto_tls_ktls_tx's). Nothing may be queued
 * or spliced then. From then on what is sent (fe_conn_send,
 * fe_conn_sendfile) leaves as application_data records sealed by the
 * kernel. 0 or -errno (the connection is unchanged for user-space TLS). */
int fe_conn_ktls_tx(struct fe_conn *c, const void *info, size_t len);
/* Hands the receiving side to the kernel (TLS_RX; what fe_ktls_probe's
 * *rx says it takes): only on a paused connection with nothing
 * held, received or receiving, whose next byte in the socket is the first
 * of a record (the owner stopped there: fe_conn_recv_max). From then on
 * fe_conn_recvfile splices plaintext; it ends at a record that is not data
 * (-EINVAL or -EIO) and fe_conn_ktls_record reads that one. 0 or -errno
 * (nothing changed: go on in user space). */
int fe_conn_ktls_rx(struct fe_conn *c, const void *info, size_t len);
/* One record waiting on a kTLS receiving side, at once (MSG_DONTWAIT):
 * its length and *type (21 alert, 22 handshake, 23 data), or -errno
 * (-EAGAIN: none yet; -ENOMSG: the splice's error was its file's, the
 * same -EINVAL or -EIO, and the socket was not read: no record stopped it). */
long fe_conn_ktls_record(struct fe_conn *c, uint8_t *type, void *buf, size_t cap);
bool fe_conn_ktls(const struct fe_conn *c);
/* One alert record (close_notify: level 1, description 0) through the
 * kernel, queued like fe_conn_send on an idle kTLS connection; 0 or -errno. */
int fe_conn_ktls_alert(struct fe_conn *c, uint8_t level, uint8_t desc);

/* ---- end of turn (Redis ae.c's beforesleep) ----------------------------- */

/* fn(w, arg) runs on w once at the end of every loop turn, after that turn's
 * completions and timers and just before its single submit: the place for
 * work batched over a turn (the engine flushes queued datagrams there, after
 * every protocol hook, so what a hook sends leaves in the same turn). Hooks
 * run in the order added; one added by a hook runs from the next turn on.
 * From w's own thread; remove it before worker_fini returns. */
typedef void fe_turn_fn(struct fe_worker *w, void *arg);
struct fe_turn_hook;
struct fe_turn_hook *fe_worker_on_turn_end(struct fe_worker *w, fe_turn_fn *fn,
					   void *arg);
void fe_worker_turn_end_remove(struct fe_worker *w, struct fe_turn_hook *h);

/* ---- timers ------------------------------------------------------------- */

typedef void fe_timer_cb(struct fe_worker *w, void *arg);

/* Fires once after delay_ms; the handle is invalid after it fired. */
struct fe_timer *fe_timer_add(struct fe_worker *w, uint64_t delay_ms,
			      fe_timer_cb *cb, void *arg);
void fe_timer_cancel(struct fe_worker *w, struct fe_timer *t);

/* ---- mailbox between workers (IORING_OP_MSG_RING) ---------------------- */

typedef void fe_mail_cb(struct fe_worker *to, void *arg);

/* Runs cb(to, arg) on worker `to` in its own thread, exactly once, also
 * when `to` is stopping: mail posted before the sender's worker_fini may
 * arrive after the receiver's worker_fini, and the callback must then only
 * release what the message carries (the protocol's per-worker state is
 * gone). From a worker only, never after its own worker_fini. */
int fe_mail_post(struct fe_worker *from, unsigned to, fe_mail_cb *cb, void *arg);
/* The same from a thread that is not a worker (the main thread on SIGHUP):
 * 0, -EINVAL, -ESRCH (that worker is not running) or the send's error;
 * on error cb never runs. Blocks until the message is in to's ring. */
int fe_engine_post(struct fe_engine *e, unsigned to, fe_mail_cb *cb, void *arg);

/* ---- helper pool: blocking work off the workers ------------------------ */

typedef void fe_job_fn(void *arg);                           /* helper thread, may block */
typedef void fe_job_done_fn(struct fe_worker *w, void *arg); /* back on the submitting worker */
/* From worker w only. 0, or -EAGAIN when the bounded queue is full, -ENOMEM.
 * done() always runs later on w (also when the engine stops: then before
 * worker_fini, after fn has run). */
int fe_pool_submit(struct fe_worker *w, fe_job_fn *fn, fe_job_done_fn *done, void *arg);

/* ---- file operations by io_uring (fsop.c) ------------------------------ */

/* Each queues one operation; cb(w, result or -errno, arg) runs on w when it
 * completes (always, also if the caller lost interest: keep arg alive).
 * Paths are copied; buffers (statx out, read/write data) must live until cb.
 * 0 or -ENOMEM (then cb never runs). */
struct open_how;
struct statx;
typedef void fe_fs_cb(struct fe_worker *w, int res, void *arg);
int fe_fs_openat2(struct fe_worker *w, int dirfd, const char *path,
		  const struct open_how *how, fe_fs_cb *cb, void *arg);
int fe_fs_statx(struct fe_worker *w, int dirfd, const char *path, int flags,
		unsigned mask, struct statx *out, fe_fs_cb *cb, void *arg);
int fe_fs_mkdirat(struct fe_worker *w, int dirfd, const char *path, mode_t mode,
		  fe_fs_cb *cb, void *arg);
int fe_fs_unlinkat(struct fe_worker *w, int dirfd, const char *path, int flags,
		   fe_fs_cb *cb, void *arg);
int fe_fs_renameat(struct fe_worker *w, int olddir, const char *oldpath, int newdir,
		   const char *newpath, unsigned flags, fe_fs_cb *cb, void *arg);
int fe_fs_read(struct fe_worker *w, int fd, void *buf, size_t len, uint64_t off,
	       fe_fs_cb *cb, void *arg);
int fe_fs_write(struct fe_worker *w, int fd, const void *buf, size_t len, uint64_t off,
		fe_fs_cb *cb, void *arg);

/* ---- counters ----------------------------------------------------------- */

struct fe_stats {
	uint64_t turns;          /* loop iterations */
	uint64_t coalesced;      /* turns that waited to gather a flood */
	uint64_t enters;         /* io_uring_enter calls (submit + wait) */
	uint64_t sqes;           /* SQEs submitted */
	uint64_t cqes;           /* CQEs reaped */
	uint64_t udp_rx;         /* datagrams delivered */
	uint64_t udp_rx_trunc;   /* datagrams larger than a buffer, dropped */
	uint64_t udp_rx_nobufs;  /* multishot stopped by buffer exhaustion */
	uint64_t udp_tx;         /* datagrams sent */
	uint64_t udp_tx_gso;     /* sendmsg calls carrying several (UDP_SEGMENT) */
	uint64_t udp_tx_drop;    /* send queue full */
	uint64_t udp_tx_err;     /* sendmsg errors */
	uint64_t accepts;
	uint64_t accept_backoffs; /* accept paused: out of descriptors */
	uint64_t tcp_rx_bytes;
	uint64_t tcp_tx_bytes;
	uint64_t timers;         /* timers fired */
	uint64_t mail_rx;
	uint64_t mail_tx;
	uint64_t pool_jobs;      /* jobs submitted to the helper pool */
	uint64_t pool_full;      /* submissions refused: queue full */
	uint64_t busy_us;        /* CPU time of the workers' turns */
	uint64_t turns_slow;     /* turns that ran FE_SLOW_TURN_MS or more */
	uint64_t turns_preempted; /* turns that lasted as long, mostly waiting
				   * for a CPU (the machine, not our work) */
};
/* A turn this long holds up every session of its worker: counted, and logged
 * (at most once a second per worker) with what the turn did. */
enum { FE_SLOW_TURN_MS = 10 };

void fe_worker_stats(const struct fe_worker *w, struct fe_stats *out);
void fe_engine_stats(const struct fe_engine *e, struct fe_stats *sum);

#endif
