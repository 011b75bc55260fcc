/* ftp_internal.h — what the FTP files share: the server, worker and session
 * structs, and the small pure modules (buffers, parsing, paths, tokens). */
#ifndef FERRY_FTP_INTERNAL_H
#define FERRY_FTP_INTERNAL_H

#include <assert.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <time.h>

#include "ferry/config.h"
#include "ferry/crypto.h"
#include "ferry/engine.h"
#include "ferry/ftp.h"
#include "ferry/base.h"

enum {
	/* Longest command line accepted: a verb, a space and a PATH_MAX path
	 * (lftp mirror of a deep tree sends whole paths), with room to spare. */
	CTL_LINE_MAX = PATH_MAX + 64,
	CTL_INBUF = 2 * CTL_LINE_MAX, /* control input held while a transfer runs */
	SPSV_TOKEN_LEN = 20,       /* 20 base62 characters: 119 bits */
	LIMITED_TIMEOUT_MS = 30000,
};

#define SPSV_USER "DATACONN"

/* ---- cmdline.c: Telnet filtering, lines, verbs, addresses --------------- */
struct telnet_state {
	int state;                 /* 0 data, 1 after IAC, 2 after WILL/WONT/DO/DONT */
};
/* Removes Telnet commands (IAC IP, IAC DM, option negotiation); IAC IAC is
 * a data byte 0xFF. out has room for n bytes. Returns bytes written. */
size_t ftp_telnet_filter(struct telnet_state *st, const uint8_t *in, size_t n, uint8_t *out);
/* Splits "VERB arg" in place: verb upper-cased (max 4+ letters), arg may be
 * "". Returns false if the line is not a command (no letters, NUL inside). */
bool ftp_cmd_split(char *line, size_t len, char **verb, char **arg);
/* RFC 2640: a CR inside a name travels as CR NUL. Rewrites "CR NUL" to CR in
 * place (the line still ends CR LF); returns the new length. */
size_t ftp_cmd_unstuff_cr(char *line, size_t len);
/* An IPv4-mapped IPv6 address (a dual-stack socket) as plain IPv4. */
void ftp_addr_unmap(struct sockaddr_storage *a);
int ftp_parse_port_arg(const char *arg, struct sockaddr_storage *out);
int ftp_parse_eprt_arg(const char *arg, struct sockaddr_storage *out);
bool ftp_parse_u64(const char *s, uint64_t *out);
/* "(h1,h2,h3,h4,p1,p2)" for PASV, from an IPv4 address. */
int ftp_format_pasv(const struct sockaddr_storage *a, char *out, size_t cap);

/* ---- reply.c ------------------------------------------------------------- */
/* "code text\r\n", or RFC 959's multi-line form when text has '\n' in it:
 * "code-first\r\n more\r\n code last\r\n". Returns bytes, or 0 on error. */
void ftp_reply_format(struct fb_buf *out, int code, const char *text);
/* Text as it goes on the wire: 0xFF doubled (Telnet IAC IAC) and a CR in a
 * name sent as CR NUL (RFC 959, RFC 2640). */
void ftp_reply_text(struct fb_buf *out, const char *p, size_t n);

/* ---- audit.c: what the administrator reads ------------------------------- */
/* Untrusted text (a user name, a path) for a log line: control bytes, '\\'
 * and bytes >= 0x7f as \xNN, cut to fit cap. Returns out. */
const char *ftp_log_esc(const char *in, char *out, size_t cap);
struct ftp_session;
/* "login ok" (INFO) or "login failed: why" (WARN), with user and address. */
void ftp_audit_login(const struct ftp_session *s, const char *user, const char *outcome);
/* "delete /a/b by 'alice' from 192.0.2.1" (INFO), or with ": reason" (WARN)
 * when err (-errno) says it failed: for DELE RNFR/RNTO MKD RMD SITE CHMOD
 * MFMT and refused access. */
void ftp_audit_op(const struct ftp_session *s, const char *op, const char *vpath, int err);

/* ---- ascii.c: TYPE A conversion ------------------------------------------ */
/* Local LF → CRLF on the wire (a CRLF already in the file stays). out has room
 * for 2n bytes; *prev_cr carries the last byte's state across chunks. */
size_t ftp_ascii_to_net(const uint8_t *in, size_t n, uint8_t *out, bool *prev_cr);
/* Wire CRLF → LF; a CR not followed by LF stays. out has room for n + 1
 * bytes; *held_cr: a CR at the end of the previous chunk not yet written. */
size_t ftp_ascii_from_net(const uint8_t *in, size_t n, uint8_t *out, bool *held_cr);

/* ---- path.c: every path is resolved here, beneath the account's root ----- */
/* Joins cwd and arg into a normalised virtual absolute path ("/a/b"): "."
 * and ".." are resolved lexically and never climb above "/". */
int ftp_path_join(const char *cwd, const char *arg, char *out, size_t cap);
/* openat2(root, vpath, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS). -errno. */
int ftp_path_open(int root_fd, const char *vpath, int flags, mode_t mode);
/* The parent directory of vpath (O_PATH) and a pointer to the last name;
 * -EINVAL for "/". */
int ftp_path_parent(int root_fd, const char *vpath, const char **name);
int ftp_path_stat(int root_fd, const char *vpath, struct stat *st);

/* ---- auth.c: passwords and lockout --------------------------------------- */
bool ftp_auth_password_ok(const char *hash, const char *password);

/* ---- lockout.c: failed logins per (user, client address) ----------------- */
enum { LOCKOUT_MAX_ENTRIES = 65536 };
struct lockout;
struct lockout *ftp_lockout_create(int max_failures, int lockout_seconds, size_t max_entries);
void ftp_lockout_destroy(struct lockout *l);
/* A reload's new limits, for failures counted from now on. */
void ftp_lockout_configure(struct lockout *l, int max_failures, int lockout_seconds);
/* Locked: true with the milliseconds left in *left_ms (may be NULL). */
bool ftp_lockout_blocked(struct lockout *l, const char *user, const struct sockaddr_storage *a,
		     uint64_t now_ms, uint64_t *left_ms);
void ftp_lockout_failed(struct lockout *l, const char *user, const struct sockaddr_storage *a,
		    uint64_t now_ms);
void ftp_lockout_succeeded(struct lockout *l, const char *user, const struct sockaddr_storage *a);
size_t ftp_lockout_count(struct lockout *l);

/* ---- spsv.c: one-time DATACONN credentials, shared by all workers -------- */
struct spsv_table;
struct spsv_table *ftp_spsv_create(void);
void ftp_spsv_destroy(struct spsv_table *t);
/* A new token for the session (replacing its previous one) into out
 * (SPSV_TOKEN_LEN + 1 bytes), for the client at owner. 0 or -errno. */
int ftp_spsv_issue(struct spsv_table *t, uint64_t session, unsigned worker,
	       const struct sockaddr_storage *owner, uint64_t now_ms, uint64_t ttl_ms,
	       char *out);
/* Takes (removes) the token: 0 with its session and worker, -ENOENT unknown,
 * -ETIMEDOUT expired, -EPERM from a host other than its owner (from NULL:
 * any host will do, for NAT pools; the token is then left in place). */
int ftp_spsv_take(struct spsv_table *t, const char *token, const struct sockaddr_storage *from,
	      uint64_t now_ms, uint64_t *session, unsigned *worker);
void ftp_spsv_revoke(struct spsv_table *t, uint64_t session);
size_t ftp_spsv_count(struct spsv_table *t);
/* stats.c: a TLS handshake's end for metrics; ftp_tls_count once per
 * control connection. */
void ftp_stats_tls_handshake(struct ftp_worker *fw, bool ok, bool data);
void ftp_tls_count(struct ftp_session *s, bool ok);
void ftp_spsv_counters(struct spsv_table *t, uint64_t *issued, uint64_t *used,
		   uint64_t *expired, uint64_t *rejected);

/* ---- listing.c (helper threads) ------------------------------------------ */
enum list_style { LIST_LONG, LIST_NAMES, LIST_MLSD };
enum {
	LIST_DIRENT_BYTES = 16384,  /* one getdents64 read */
	LIST_CHUNK_BYTES = 32768,   /* a chunk stops growing past this */
	LIST_GLOB_MAX = 10000,      /* names a wildcard may match */
};
void ftp_list_line(struct fb_buf *out, enum list_style style, const char *name,
	       const struct stat *st, bool writable, time_t now);
/* "type=..;size=..;modify=..;perm=..;unix.mode=..;" for MLST/MLSD. */
void ftp_mlsx_facts(struct fb_buf *out, const struct stat *st, bool writable);
bool ftp_list_is_glob(const char *name);
struct list_opts {
	enum list_style style;
	bool writable, all;
	int root_fd;
	const char *vdir;           /* the directory's virtual path */
	const char *prefix;         /* put before each name ("dir/"), or NULL */
	const char *pattern;        /* fnmatch pattern for names, or NULL */
};
struct list_cursor {
	unsigned chunks;            /* chunks made so far */
	size_t matched;             /* names a pattern matched */
	bool eof;
};
/* Appends the next entries of dir_fd (O_RDONLY|O_DIRECTORY, read from its
 * current position) to out, stopping once out holds LIST_CHUNK_BYTES:
 * 1 at the end of the directory, 0 when more remain, or -errno. */
int ftp_list_chunk(int dir_fd, struct list_cursor *cur, const struct list_opts *o,
	       struct fb_buf *out);

/* ---- the server, shared by all workers (server.c) ------------------------ */
struct ftp_account {
	const char *name;          /* NULL: anonymous */
	const char *hash;
	int root_fd;               /* O_PATH | O_DIRECTORY */
	bool write;
	bool upload_only;          /* drop box: STOR of new names only */
	mode_t umask;
};

/* ---- settings.c: what a reload may change, shared by reference --------- */
/* Accounts and limits as one configuration gave them. A session holds a
 * reference from accept (renewed at each USER before a login) to its end,
 * so a reload (which installs a new snapshot) never changes a logged-in
 * session; the last reference closes
 * the roots and frees the configuration the snapshot came from. */
struct ftp_settings {
	int refs;                  /* atomic */
	struct ferry_config *owned; /* a reloaded configuration, or NULL */
	void (*release)(struct ferry_config *); /* frees owned (the daemon's) */
	const struct ftp_config *fc;
	struct ftp_account *accounts;
	size_t naccounts;
	struct ftp_account anon;
	bool has_anon;
	/* An unknown user's password is checked against this (the first
	 * account's hash: the same kind and cost), the result thrown away. */
	const char *dummy_hash;
};
/* Opens every root (as the calling thread's user). One reference. 0 or an
 * exit code, the reason logged. */
int ftp_settings_new(const struct ftp_config *fc, struct ftp_settings **out);
void ftp_settings_put(struct ftp_settings *set);
struct ftp_settings *ftp_settings_get(struct ftp_server *srv); /* the newest */

struct addr_slot {
	struct sockaddr_storage a;
	int count;
};

struct xferlog;

struct ftp_server {
	const struct ferry_config *cfg;
	struct fb_prefix *balancers;  /* PROXY protocol senders (ftp.proxy_protocol) */
	size_t nbalancers;
	const struct ftp_config *fc;   /* the start-up configuration */
	struct ftp_settings *set;      /* the newest settings; under lock */
	struct spsv_table *spsv;
	struct lockout *lockout;
	struct xferlog *xlog;
	/* ftp.tls's certificates, or NULL; replaced by a reload (the slot's
	 * lock; a connection in TLS holds its own reference). */
	struct crypto_tls_slot *tls;
	bool tls_on;               /* FTPS configured at start-up (constant) */
	unsigned ktls;             /* FE_KTLS_* the kernel takes (ktls.c; constant) */
	unsigned ktls_rx;          /* those it also opens (TLS_RX; constant) */
	pthread_mutex_t lock;      /* guards the counts and workers below */
	struct ftp_worker **workers; /* by worker index, for hand-offs */
	unsigned nworkers;
	int sessions, connections;
	struct addr_slot *addrs;
	size_t naddrs, addrs_cap;
	uint64_t next_id;
	int hash_jobs;             /* digests running, all workers (atomic) */
	int stopping;              /* SIGTERM: say 421 and close (atomic) */
};

struct ftp_session;

/* One listening address of a worker: the argument of its accepts. */
struct ftp_listen_opt {
	struct ftp_worker *fw;
	const char *addr;          /* as configured at start-up */
	bool implicit;             /* ftp.tls.implicit_listen: TLS from byte one */
};

struct ftp_worker {
	struct fe_worker *w;
	struct ftp_server *srv;
	struct fe_listener **listeners;
	struct ftp_listen_opt *lopts;   /* one per listener */
	size_t nlisteners;
	struct ftp_session *sessions;   /* doubly linked */
	struct ftp_session *graveyard;  /* torn down, freed on the next turn */
	struct data_link *links;        /* data connections waiting for on_close */
	struct fe_timer *reaper;
	struct ftp_stats st;            /* this worker's counters (metrics) */
	struct fe_timer *watch;         /* notices the server stopping */
	struct pp_wait *pp_waiting;     /* connections reading a PROXY header */
};

/* A data connection's tie to its session, cut when the session lets go
 * first; freed when the connection's on_close arrives. */
struct data_link {
	struct data_link *prev, *next;
	struct ftp_worker *fw;
	struct ftp_session *s;
	struct fe_conn *c;
};
struct data_link *ftp_link_new(struct ftp_worker *fw, struct ftp_session *s,
			   struct fe_conn *c);
void ftp_link_cut(struct data_link *l);          /* the session lets go */
void ftp_link_free(struct data_link *l);

/* ---- tls.c: RFC 4217 on the control connection; tlsconf.c: certificates
 * (SNI, reload) and policies ---------------------------------------------- */
/* ftp.tls's certificates (cert/key first, then certificates[]) as one
 * context, tickets sealed with inherit's key when given: *out NULL when
 * none is configured. 0, or FERRY_EXIT_CRYPTO (a file missing, unreadable,
 * not PEM, a key not the certificate's) after logging the file and why. */
int ftp_tls_build(const struct ftp_config *fc, const struct crypto_tls_ctx *inherit,
		  struct crypto_tls_ctx **out);
/* Loads them at start-up, before the privilege drop: 0, or FERRY_EXIT_CRYPTO
 * after logging why. */
int ftp_tls_load(struct ftp_server *srv);
/* Reload, in two steps so that nothing changes unless everything can:
 * build the new context (*next NULL: keep the one in force), then install
 * it; sessions already in TLS keep theirs. */
int ftp_tls_reload(struct ftp_server *srv, const struct ftp_config *fc,
		   struct crypto_tls_ctx **next);
void ftp_tls_install(struct ftp_server *srv, struct crypto_tls_ctx *next);
/* A new server-side TLS connection on the newest certificates, or NULL. */
struct crypto_tls *ftp_tls_conn_new(struct ftp_server *srv);
/* ftp.tls.policy, or "login" when ftp.tls.required says so. */
enum tls_policy ftp_tls_default_policy(const struct ftp_config *fc);
/* The session's policy: the stricter of its listener's and its account's
 * (u, or the logged-in account when u is NULL). The data side's check
 * refuses a transfer without PROT P when this is TLS_POLICY_DATA. */
enum tls_policy ftp_tls_policy(const struct ftp_session *s, const struct ftp_user *u);
/* Implicit FTPS: the session starts in TLS; the 220 follows the handshake. */
bool ftp_tls_implicit_start(struct ftp_session *s);
/* Received bytes of a session in TLS: decrypted into ftp_session_input. */
void ftp_tls_input(struct ftp_session *s, const uint8_t *data, size_t len);
/* A reply: encrypted when the session is in TLS, else sent as is. */
void ftp_ctl_send(struct ftp_session *s, const void *p, size_t len);
/* Sends what the TLS layer holds; false when the connection refused it. */
bool ftp_tls_flush(struct ftp_session *s);
void ftp_tls_next_ticket(struct ftp_session *s);
/* USER before AUTH when the policy of the listener or of the account
 * (ftp.users[].tls) wants TLS for logins: replies 530 and returns false. */
bool ftp_tls_login_ok(struct ftp_session *s, const char *user);

/* ---- tlsdata.c: PROT P data connections ---------------------------------- */
struct ftp_tlsdata;
/* ftp.tls.data is "required" for this session. */
bool ftp_tls_data_required(const struct ftp_session *s);
/* The data-protection policy in one place: false after replying 521 when
 * this session's transfers may not use a clear data connection. */
bool ftp_tls_data_allowed(struct ftp_session *s);
/* The resumption check (ftp.tls.require_reuse); false after logging why. */
bool ftp_tls_data_reuse_ok(struct ftp_session *s, const struct crypto_tls *t);
/* A new data connection (s->data.conn) of a PROT P session: its handshake
 * starts (handed: the DATACONN connection's finished TLS, owned from here).
 * The transfer waits for ftp_tlsdata_ready. false: out of memory. */
bool ftp_tlsdata_begin(struct ftp_session *s, struct crypto_tls *handed);
bool ftp_tlsdata_ready(const struct ftp_session *s);  /* no TLS, or checked */
bool ftp_tlsdata_busy(const struct ftp_session *s);
void ftp_tlsdata_input(struct ftp_session *s, const uint8_t *data, size_t len);
void ftp_tlsdata_free(struct ftp_session *s);         /* from ftp_data_reset */
bool ftp_tlsdata_flush(struct ftp_session *s);        /* ciphertext out */
/* A helper job borrows the layer (*td for ftp_tlsdata_back/_drop); back on
 * the worker: false when the session let go meanwhile (then freed). */
struct crypto_tls *ftp_tlsdata_lend(struct ftp_session *s, struct ftp_tlsdata **td);
bool ftp_tlsdata_back(struct ftp_session *s, struct ftp_tlsdata *td);
void ftp_tlsdata_drop(struct ftp_tlsdata *td);        /* a job that never came back */
/* Uploads: the file is open; decrypt and write on the pool from now on
 * (or, at a record boundary, hand the rest to the kernel: ktlsrx.c). */
void ftp_tlsdata_recv(struct ftp_session *s);
/* The upload's stream ended without close_notify: logged, 426. */
void ftp_tlsdata_truncated(struct ftp_session *s);
/* The client's close_notify came (the kernel read it): ours answers. */
void ftp_tlsdata_notified(struct ftp_session *s);
/* The data connection ended: true when this decided the transfer's end. */
bool ftp_tlsdata_on_close(struct ftp_session *s, int err);
/* Data out on the data connection (encrypted in TLS): fe_conn_send's result. */
int ftp_data_send(struct ftp_session *s, const void *p, size_t n);
/* The data is whole: close_notify in TLS, then the connection closes. */
void ftp_data_finish(struct ftp_session *s);
/* The data connection's TLS layer when no job holds it, else NULL. */
struct crypto_tls *ftp_tlsdata_tls(struct ftp_session *s);

/* ---- ktls.c: PROT P downloads sealed by the kernel (ftp.tls.ktls) -------- */
/* Start-up: probes the kernel (unless "off"), logs what PROT P uses; 0, or
 * FERRY_EXIT_PARAM when "required" and the kernel has no TLS. */
int ftp_ktls_setup(struct ftp_server *srv);
int ftp_ktls_check(const struct ftp_config *fc);    /* the same, --check-config */
/* Gives the data connection's sending (or, rx, receiving) side to the
 * kernel if it takes t's version and cipher: true when it did; false
 * (logged why) when nothing changed. */
bool ftp_ktls_give(struct ftp_session *s, struct crypto_tls *t, bool rx);
/* A binary PROT P RETR is ready: true when the kernel path took it (it
 * falls back to user space itself if the cipher is not the kernel's). */
bool ftp_ktls_begin(struct ftp_session *s);
/* From on_drained: true when the transfer waits for the kernel path. */
bool ftp_ktls_drained(struct ftp_session *s);

/* ---- ktlsrx.c: PROT P uploads opened by the kernel (ftp.tls.ktls) -------- */
/* This transfer is an upload the kernel could open (binary, kTLS RX). */
bool ftp_ktlsrx_wanted(const struct ftp_session *s);
/* At a record boundary with every record opened and written: true when
 * the kernel took the receiving side (the upload is spliced from here, or
 * already failed with 425); false: nothing changed, user space goes on. */
bool ftp_ktlsrx_take(struct ftp_session *s, struct crypto_tls *t);

/* Session slots: false when over max_sessions or max_per_address. */
bool ftp_server_take_slot(struct ftp_server *s, const struct sockaddr_storage *peer);
void ftp_server_release_slot(struct ftp_server *s, const struct sockaddr_storage *peer);
bool ftp_server_take_connection(struct ftp_server *s);
void ftp_server_release_connection(struct ftp_server *s);
const struct ftp_account *ftp_server_find_account(const struct ftp_settings *set,
					      const char *user, bool *anonymous);

/* ---- xferlog.c ----------------------------------------------------------- */
struct xferlog *ftp_xferlog_open(const char *path, int *err);
void ftp_xferlog_close(struct xferlog *x);
int ftp_xferlog_reopen(struct xferlog *x);     /* 0 or -errno; the old fd stays on error */
struct xfer_record {
	time_t end;
	uint64_t ms;
	const char *host;
	uint64_t bytes;
	const char *path;
	bool ascii, incoming, anonymous, complete;
	const char *user;
};
void ftp_xferlog_write(struct xferlog *x, const struct xfer_record *r);
void ftp_xferlog_format(struct fb_buf *out, const struct xfer_record *r);

/* ---- a control session (session.c) --------------------------------------- */
enum sess_state { ST_USER, ST_PASS, ST_DATAPASS, ST_READY, ST_GONE };
enum data_mode { DATA_NONE, DATA_PASV, DATA_PORT, DATA_SPSV };
enum xfer_kind { XK_RETR, XK_STOR, XK_APPE, XK_STOU, XK_LIST, XK_NLST, XK_MLSD };

struct data_chan {
	enum data_mode mode;
	struct fe_listener *listener;  /* PASV/EPSV */
	struct sockaddr_storage port_to;
	struct fe_connect *connecting;
	struct fe_conn *conn;          /* established, held */
	struct data_link *link;
	struct fb_buf extra;              /* bytes that came with an SPSV hand-off */
	struct fe_timer *timer;
	bool want;                     /* a transfer waits for the connection */
	struct ftp_tlsdata *td;        /* PROT P: the connection's TLS (tlsdata.c) */
	int refuse_code;               /* the connection was refused: the next */
	const char *refuse_text;       /* transfer's reply (static text) */
};

struct transfer {
	enum xfer_kind kind;
	unsigned seq;                 /* the session's transfer number */
	int fd;                       /* -1 while a pool job holds it */
	uint64_t offset, bytes, started_ms;
	char vpath[PATH_MAX];
	char tmp[PATH_MAX];           /* atomic upload: the temporary name */
	struct fe_xfer *fx;
	struct fb_buf out;               /* one listing line; ASCII bytes held */
	struct fe_timer *stall;       /* data_timeout without progress: 426 */
	uint64_t seen;                /* progress at the last stall check */
	bool ascii, cr_state, eof;
	bool busy;                    /* a pool job works on it */
	bool peer_done;               /* upload: all bytes are in */
	bool single, all;             /* listing: one file's line; -a */
	bool ktls_wait;               /* ktls.c: the kernel takes over once drained */
	bool ktls_rx;                 /* ktlsrx.c: the kernel opens this upload */
	enum list_style style;
	struct list_cursor cursor;
	char prefix[PATH_MAX];        /* NLST dir: "dir/" before names */
	char pattern[NAME_MAX + 1];   /* NLST *.txt */
};

struct ftp_session {
	struct ftp_session *prev, *next;
	struct ftp_worker *fw;
	struct ftp_server *srv;
	struct ftp_settings *set;  /* taken at accept and USER, dropped at the end */
	struct fe_conn *ctl;
	uint64_t id;
	struct sockaddr_storage peer, local;
	bool counted, limited, closing, delaying, discarding, epsv_all, resuming;
	struct telnet_state tn;
	/* Control input not yet answered: CTL_INBUF bytes from the heap while
	 * there is any, none while the session waits (an idle session is
	 * mostly its connection's kernel buffers, not this struct). */
	char *in;
	size_t inlen;
	size_t linelen;            /* bytes of the last, unfinished line in `in` */
	char *stash;               /* filtered input that did not fit in `in` */
	size_t stashlen, stashoff; /* bytes in it; taken back so far */
	bool paused, out_blocked;  /* input paused; replies not being read */
	struct fe_timer *send_timer; /* out_blocked for data_timeout: close */
	enum sess_state state;
	char user[64];
	const struct ftp_account *acct;
	bool anonymous;
	char *cwd;                 /* NULL: "/"; see ftp_session_cwd */
	char *rnfr;
	bool ascii;
	uint64_t rest;
	struct fe_timer *idle_timer, *delay_timer;
	int delay_code;
	struct data_chan data;
	struct transfer *xfer;
	unsigned jobs;             /* ftp_defer jobs in flight (defer.c) */
	int prelogin_cmds;         /* commands since the connection or REIN */
	uint64_t login_by_ms;      /* log in by then (login_timeout) */
	char ident[64];            /* anonymous: the PASS string (xferlog) */
	uint8_t hash_alg;          /* OPTS HASH choice (hash.c), 0: SHA-256 */
	bool rang_set;             /* RANG given: the next HASH covers it */
	uint64_t rang_start, rang_end;
	unsigned xfer_seq;         /* transfers started (struct transfer.seq) */
	bool quit_pending;         /* QUIT during a transfer: 221 after it */
	mode_t umask;              /* files 0666 & ~umask, dirs 0777 & ~umask */
	struct crypto_tls *tls;    /* after AUTH TLS: the control connection's TLS */
	bool pbsz;                 /* PBSZ 0 given (after AUTH) */
	bool prot_p;               /* PROT P: data connections in TLS */
	bool tls_busy;             /* a helper thread runs the handshake */
	bool tls_counted;          /* its handshake is in the metrics */
	struct fb_buf tls_hold;       /* ciphertext that came meanwhile */
	const struct ftp_listen_opt *lo; /* the listener it came in on */
	bool greet_pending;        /* implicit FTPS: 220 once the handshake is done */
};

void ftp_session_accept(const struct ftp_listen_opt *lo, struct fe_conn *c);
/* A connection whose client is `peer` (named by a PROXY header) and that
 * already receives; early: bytes that came after the header. */
void ftp_session_accept_as(const struct ftp_listen_opt *lo, struct fe_conn *c,
		       const struct sockaddr_storage *peer, const uint8_t *early,
		       size_t len);
/* The 220 greeting (or "only SPSV connections allowed" when full). */
void ftp_session_greet(struct ftp_session *s);
void ftp_session_bury(struct ftp_session *s);       /* unlink; free next turn */
void ftp_session_free_now(struct ftp_session *s);
void ftp_session_reply(struct ftp_session *s, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void ftp_session_close(struct ftp_session *s);       /* after queued replies */
void ftp_session_resume(struct ftp_session *s);      /* process buffered input */
/* Plain control input (after Telnet filtering comes next), from the socket
 * or from the control connection's TLS. */
void ftp_session_input(struct ftp_session *s, const uint8_t *data, size_t len);
void ftp_session_touch(struct ftp_session *s);       /* reset the idle timer */
void ftp_session_free_all(struct ftp_worker *fw);
struct ftp_session *ftp_session_find(struct ftp_worker *fw, uint64_t id);
bool ftp_session_writable(const struct ftp_session *s);
const char *ftp_session_cwd(const struct ftp_session *s);
/* A new working directory (a normalised virtual path); false: no memory. */
bool ftp_session_set_cwd(struct ftp_session *s, const char *vpath);
int ftp_session_root(const struct ftp_session *s);

/* ---- defer.c: blocking work on the engine's helper pool ----------------- */
typedef void ftp_work_fn(void *ctx);                        /* helper thread */
typedef void ftp_done_fn(struct ftp_session *s, void *ctx); /* worker; s is alive */
/* ctx is malloc'ed by the caller and owned by the machinery: freed with
 * free() after done (or without calling done if the session went away).
 * The session reads no further command until done has run. false (and a
 * 450 reply sent, ctx freed) when the pool is full. */
bool ftp_defer(struct ftp_session *s, ftp_work_fn *work, ftp_done_fn *done, void *ctx);
/* A zeroed ctx of size bytes for the calls here, or NULL after a 451 reply. */
void *ftp_defer_job_new(struct ftp_session *s, size_t size);

/* ---- fsverb.c: shared by the verbs on one path that run on the pool ----- */
void ftp_fsverb_fail(struct ftp_session *s, int err);          /* reply for -errno */
bool ftp_fsverb_path(struct ftp_session *s, const char *arg, char *out); /* PATH_MAX */
/* Every job on one path starts with this: the account's root, the path
 * resolved against the cwd, and the work's result (0 or -errno). */
struct fsverb_job {
	int root;
	int err;
	char v[PATH_MAX];
};
/* A zeroed job of size bytes (at least a struct fsverb_job) for arg, or
 * NULL after the reply saying why not. */
void *ftp_fsverb_job(struct ftp_session *s, size_t size, const char *arg);
/* On the pool: the job's path opened beneath its root with flags, or -1
 * with h->err set. */
int ftp_fsverb_open(struct fsverb_job *h, int flags);
const char *ftp_fsverb_fd_path(int fd, char out[32]);
/* chmod / set times through an O_PATH descriptor: 0 or -errno. */
int ftp_fsverb_fchmod(int fd, mode_t mode, char proc[32]);
int ftp_fsverb_utimens(int fd, const struct timespec ts[2], char proc[32]);
/* The same, for a ctx that owns resources (a descriptor, buffers): drop(ctx)
 * releases them, before free(ctx), when done is not called. */
typedef void ftp_drop_fn(void *ctx);
bool ftp_defer_ex(struct ftp_session *s, ftp_work_fn *work, ftp_done_fn *done,
		  ftp_drop_fn *drop, void *ctx);
/* The same without the 450 reply: for jobs after 150, whose caller ends the
 * transfer with its own reply when this returns false. */
bool ftp_defer_quiet(struct ftp_session *s, ftp_work_fn *work, ftp_done_fn *done,
		     ftp_drop_fn *drop, void *ctx);
/* One io_uring OPENAT2 of vpath beneath the account's root (RESOLVE_BENEATH
 * | RESOLVE_NO_MAGICLINKS, no O_CREAT), with the same waiting as ftp_defer:
 * done(s, fd or -errno, ctx) owns the descriptor; ctx is freed after. */
typedef void ftp_open_fn(struct ftp_session *s, int fd, void *ctx);
bool ftp_open_beneath(struct ftp_session *s, const char *vpath, int flags,
		      ftp_open_fn *done, void *ctx);

/* ---- commands.c: the verb table ------------------------------------------ */
enum { NEED_LOGIN = 1, NEED_WRITE = 2, NEED_ARG = 4, NO_ARG = 8, ANY_STATE = 16,
       DURING_XFER = 32, DROPBOX_OK = 64 /* allowed to upload-only accounts */ };
typedef void cmd_handler(struct ftp_session *s, char *arg);
struct ftp_cmd {
	const char *verb;
	unsigned flags;
	cmd_handler *fn;
	const char *help;
};
const struct ftp_cmd *ftp_cmd_lookup(const char *verb);
void ftp_cmd_dispatch(struct ftp_session *s, const struct ftp_cmd *c, char *arg);
/* A line that names no command (500) or an unknown one (502); counts
 * toward max_login_commands like any other. */
void ftp_cmd_reject(struct ftp_session *s, int code, const char *text);
void ftp_cmd_help_list(struct fb_buf *out);

cmd_handler ftp_cmd_user, ftp_cmd_pass, ftp_cmd_acct, ftp_cmd_rein, ftp_cmd_quit;        /* login.c */
cmd_handler ftp_cmd_pwd, ftp_cmd_cwd, ftp_cmd_cdup, ftp_cmd_mkd, ftp_cmd_rmd, ftp_cmd_dele,  /* files.c */
	ftp_cmd_rnfr, ftp_cmd_rnto, ftp_cmd_size, ftp_cmd_mdtm, ftp_cmd_mlst, ftp_cmd_stat;
cmd_handler ftp_cmd_site;                                            /* site.c */
cmd_handler ftp_cmd_auth, ftp_cmd_pbsz, ftp_cmd_prot, ftp_cmd_ccc;    /* tls.c */
cmd_handler ftp_cmd_mfmt, ftp_cmd_mdtm_any;                          /* times.c */
cmd_handler ftp_cmd_hash, ftp_cmd_rang, ftp_cmd_xcrc, ftp_cmd_xmd5,   /* hash.c */
	ftp_cmd_xsha1, ftp_cmd_xsha256, ftp_cmd_xsha512;
cmd_handler ftp_cmd_avbl;                                            /* avbl.c */
/* times.c: RFC 3659 time-val "YYYYMMDDHHMMSS[.sss]", UTC; *len consumed. */
bool ftp_parse_timeval(const char *s, struct timespec *out, size_t *len);
/* hash.c: OPTS HASH [alg]. */
void ftp_hash_opts(struct ftp_session *s, const char *arg);
/* hash.c: the FEAT line for HASH, with the session's choice marked. */
void ftp_hash_feat(const struct ftp_session *s, struct fb_buf *out);
cmd_handler ftp_cmd_pasv, ftp_cmd_epsv, ftp_cmd_port, ftp_cmd_eprt, ftp_cmd_spsv;       /* data.c */
cmd_handler ftp_cmd_spdt;                                               /* spdt.c */
cmd_handler ftp_cmd_retr, ftp_cmd_abor,                                      /* transfer.c */
	ftp_cmd_stor, ftp_cmd_appe, ftp_cmd_stou,                                  /* upload.c */
	ftp_cmd_list, ftp_cmd_nlst, ftp_cmd_mlsd;                                  /* dirsend.c */

/* ---- data.c -------------------------------------------------------------- */
/* Ask for the data connection; ftp_transfer_ready or ftp_transfer_failed follows. */
void ftp_data_request(struct ftp_session *s);
void ftp_data_reset(struct ftp_session *s);
/* An SPSV data connection handed over from any worker (server.c mail). */
/* extra: plaintext that followed the DATACONN login; tls: that connection's
 * TLS (owned from here on), NULL in clear. */
void ftp_data_adopt(struct ftp_session *s, struct fe_conn *c, const uint8_t *extra,
		size_t len, struct crypto_tls *tls);

/* ---- transfer.c ---------------------------------------------------------- */
void ftp_transfer_ready(struct ftp_session *s);
void ftp_transfer_failed(struct ftp_session *s, int code, const char *text);
void ftp_transfer_abort(struct ftp_session *s);      /* session ends */
void ftp_transfer_quit(struct ftp_session *s);       /* QUIT: 221 after the result */
uint64_t ftp_transfer_progress(const struct transfer *x); /* bytes moved so far */
/* What the data connection reports while a transfer uses it. */
void ftp_transfer_on_data(struct ftp_session *s, const uint8_t *data, size_t len);
void ftp_transfer_on_close(struct ftp_session *s, int err);
void ftp_transfer_on_drained(struct ftp_session *s);
/* ---- what transfer.c shares with upload.c and dirsend.c ------------------ */
static inline bool ftp_xk_incoming(enum xfer_kind k)
{
	return k == XK_STOR || k == XK_APPE || k == XK_STOU;
}
static inline bool ftp_xk_listing(enum xfer_kind k)
{
	return k == XK_LIST || k == XK_NLST || k == XK_MLSD;
}
/* Every transfer job starts with this: the transfer it belongs to (a job
 * whose transfer ended meanwhile is discarded) and the descriptor, which
 * travels with the job and comes back to the transfer in done. */
struct xfer_job_head {
	unsigned seq;
	int fd;
};
void ftp_xfer_fd_drop(void *ctx);              /* closes a job's descriptor */
/* A job of the session's transfer: size bytes zeroed, its head filled (the
 * descriptor still the transfer's); NULL after a 451. */
void *ftp_xfer_job_new(struct ftp_session *s, size_t size);
/* The job goes to the pool with the descriptor and the transfer waits for
 * it (busy); false after a 451 when the pool is full. */
bool ftp_xfer_job_submit(struct ftp_session *s, ftp_work_fn *work, ftp_done_fn *done,
			 ftp_drop_fn *drop, void *job);
struct xfer_unlink_job {
	int root_fd;
	char vpath[PATH_MAX];
};
void ftp_xfer_unlink_work(void *arg);          /* removes vpath (helper) */
void ftp_xfer_job_free(struct fe_worker *w, void *arg);
struct transfer *ftp_xfer_start(struct ftp_session *s, enum xfer_kind kind,
				const char *vpath);
/* The job's transfer, if it is still the session's current one. */
struct transfer *ftp_xfer_current(struct ftp_session *s, unsigned seq);
/* Ends the transfer with a reply; the data connection is single-use. */
void ftp_xfer_done(struct ftp_session *s, int code, const char *text, bool complete);
void ftp_xfer_write_failed(struct ftp_session *s, int err);  /* 452/451/426 */
void ftp_xfer_errno_reply(struct ftp_session *s, int err);
bool ftp_xfer_resolve(struct ftp_session *s, const char *arg, char *v);
bool ftp_xfer_data_prepared(struct ftp_session *s);          /* else 425 */
void ftp_xfer_begin(struct ftp_session *s, const char *what); /* 150, connect */
/* The splice of a RETR or binary upload ended (fe_xfer_cb; arg: session). */
void ftp_xfer_spliced(struct fe_conn *c, int err, uint64_t bytes, void *arg);
/* A splice's end (fe_xfer_cb) for the session's transfer: counts the
 * bytes, forgets the splice; the transfer, or NULL when it is gone. */
struct transfer *ftp_xfer_splice_ended(struct ftp_session *s, uint64_t bytes);
void ftp_upload_open(struct ftp_session *s);    /* upload.c: the connection is up */
/* upload.c: pwrite all of p at *offset (advanced): 0 or -errno. */
int ftp_upload_write(int fd, const uint8_t *p, size_t n, uint64_t *offset);
void ftp_upload_finish(struct ftp_session *s);  /* upload.c: all bytes are in */
void ftp_list_next(struct ftp_session *s);      /* dirsend.c: the next chunk */

/* data.c: close the data connection now (the transfer is done with it). */
void ftp_data_close_conn(struct ftp_session *s);

/* ---- proxyproto.c: PROXY protocol v1/v2 from configured balancers -------- */
struct ftp_proxy_hdr {
	size_t len;                    /* bytes the header took */
	bool local;                    /* LOCAL/UNKNOWN: the balancer itself */
	struct sockaddr_storage src;   /* the real client */
};
/* 1 complete (h filled), 0 more bytes needed, -EINVAL not a valid header. */
int ftp_proxy_parse(const uint8_t *p, size_t n, struct ftp_proxy_hdr *h);
bool ftp_proxy_trusted(const struct ftp_server *srv, const struct sockaddr_storage *peer);
/* Reads the header (bounded: 1 KiB, 5 s), then hands over to a session. */
void ftp_proxy_accept(const struct ftp_listen_opt *lo, struct fe_conn *c);
/* Closes what still waits for a header (the service stops: watch). */
void ftp_proxy_worker_stop(struct ftp_worker *fw);
/* Frees what still waits for a header (ftp_worker_fini). */
void ftp_proxy_worker_fini(struct ftp_worker *fw);

/* ---- login.c ------------------------------------------------------------- */
void ftp_login_reset(struct ftp_session *s);
/* An SPSV DATACONN login succeeded on this connection: hand it over. */
void ftp_handoff_send(struct ftp_session *s, uint64_t session, unsigned worker);
/* server.c: deliver a handed-over descriptor on the owning worker. */
void ftp_server_deliver(struct fe_worker *from, struct ftp_server *srv, unsigned to,
		    uint64_t session, int fd, const uint8_t *extra, size_t len,
		    struct crypto_tls *tls);

#endif
