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

#include "ferry/config.h"
#include "ferry/engine.h"
#include "ferry/ftp.h"
#include "ferry/iface.h"

enum {
	CTL_LINE_MAX = 1024,       /* longest command line accepted */
	CTL_INBUF = 4096,          /* control input held while a transfer runs */
	SPSV_TOKEN_LEN = 20,       /* 20 base62 characters: 119 bits */
	LIMITED_TIMEOUT_MS = 30000,
};

#define SPSV_USER "DATACONN"

/* ---- buf.c: a growable byte buffer; the only place that does its math ---- */
struct buf {
	char *p;
	size_t len, cap;
	bool failed;               /* an allocation failed: contents incomplete */
};
void buf_append(struct buf *b, const void *data, size_t len);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_consume(struct buf *b, size_t len);
/* Room for len more bytes (NULL on failure); buf_commit then adds them. */
char *buf_space(struct buf *b, size_t len);
void buf_commit(struct buf *b, size_t len);   /* drop len bytes at the front */
void buf_free(struct buf *b);

/* ---- cmdline.c: Telnet filtering, lines, verbs, addresses --------------- */
struct telnet_state {
	int state;                 /* 0 data, 1 after IAC, 2 after WILL/WONT/DO/DONT */
};
/* Removes Telnet commands (IAC IP, IAC DM, option negotiation); IAC IAC is
 * a data byte 0xFF. out has room for n bytes. Returns bytes written. */
size_t telnet_filter(struct telnet_state *st, const uint8_t *in, size_t n, uint8_t *out);
/* Splits "VERB arg" in place: verb upper-cased (max 4+ letters), arg may be
 * "". Returns false if the line is not a command (no letters, NUL inside). */
bool cmd_split(char *line, size_t len, char **verb, char **arg);
int parse_port_arg(const char *arg, struct sockaddr_storage *out);
int parse_eprt_arg(const char *arg, struct sockaddr_storage *out);
bool parse_u64(const char *s, uint64_t *out);
/* "(h1,h2,h3,h4,p1,p2)" for PASV, from an IPv4 address. */
int format_pasv(const struct sockaddr_storage *a, char *out, size_t cap);
bool same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
const char *addr_text(const struct sockaddr_storage *a, char *out, size_t cap);

/* ---- reply.c ------------------------------------------------------------- */
/* "code text\r\n", or RFC 959's multi-line form when text has '\n' in it:
 * "code-first\r\n more\r\n code last\r\n". Returns bytes, or 0 on error. */
void reply_format(struct buf *out, int code, const char *text);

/* ---- ascii.c: TYPE A conversion ------------------------------------------ */
/* Local LF → CRLF on the wire (a CRLF already in the file stays). out has room
 * for 2n bytes; *prev_cr carries the last byte's state across chunks. */
size_t ascii_to_net(const uint8_t *in, size_t n, uint8_t *out, bool *prev_cr);
/* Wire CRLF → LF; a CR not followed by LF stays. out has room for n + 1
 * bytes; *held_cr: a CR at the end of the previous chunk not yet written. */
size_t ascii_from_net(const uint8_t *in, size_t n, uint8_t *out, bool *held_cr);

/* ---- path.c: every path is resolved here, beneath the account's root ----- */
/* Joins cwd and arg into a normalised virtual absolute path ("/a/b"): "."
 * and ".." are resolved lexically and never climb above "/". */
int path_join(const char *cwd, const char *arg, char *out, size_t cap);
/* openat2(root, vpath, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS). -errno. */
int path_open(int root_fd, const char *vpath, int flags, mode_t mode);
/* The parent directory of vpath (O_PATH) and a pointer to the last name;
 * -EINVAL for "/". */
int path_parent(int root_fd, const char *vpath, const char **name);
int path_stat(int root_fd, const char *vpath, struct stat *st);

/* ---- auth.c: passwords and lockout --------------------------------------- */
bool auth_password_ok(const char *hash, const char *password);
bool ct_equal(const void *a, const void *b, size_t n);
struct lockout;
struct lockout *lockout_create(int max_failures, int lockout_seconds);
void lockout_destroy(struct lockout *l);
bool lockout_blocked(struct lockout *l, const struct sockaddr_storage *a, uint64_t now_ms);
void lockout_failed(struct lockout *l, const struct sockaddr_storage *a, uint64_t now_ms);
void lockout_succeeded(struct lockout *l, const struct sockaddr_storage *a);

/* ---- spsv.c: one-time DATACONN credentials, shared by all workers -------- */
struct spsv_table;
struct spsv_table *spsv_create(void);
void spsv_destroy(struct spsv_table *t);
/* A new token for the session (replacing its previous one) into out
 * (SPSV_TOKEN_LEN + 1 bytes). 0 or -errno. */
int spsv_issue(struct spsv_table *t, uint64_t session, unsigned worker,
	       uint64_t now_ms, uint64_t ttl_ms, char *out);
/* Takes (removes) the token: 0 with its session and worker, -ENOENT unknown,
 * -ETIMEDOUT expired. */
int spsv_take(struct spsv_table *t, const char *token, uint64_t now_ms,
	      uint64_t *session, unsigned *worker);
void spsv_revoke(struct spsv_table *t, uint64_t session);
size_t spsv_count(struct spsv_table *t);

/* ---- listing.c ----------------------------------------------------------- */
enum list_style { LIST_LONG, LIST_NAMES, LIST_MLSD };
void list_line(struct buf *out, enum list_style style, const char *name,
	       const struct stat *st, bool writable, time_t now);
/* "type=..;size=..;modify=..;perm=..;unix.mode=..;" for MLST/MLSD. */
void mlsx_facts(struct buf *out, const struct stat *st, bool writable);
/* Lists a directory (dir_fd opened O_RDONLY|O_DIRECTORY; closed here). */
int list_dir(int dir_fd, int root_fd, const char *vpath, enum list_style style,
	     bool writable, bool all, struct buf *out);

/* ---- the server, shared by all workers (server.c) ------------------------ */
struct ftp_account {
	const char *name;          /* NULL: anonymous */
	const char *hash;
	int root_fd;               /* O_PATH | O_DIRECTORY */
	bool write;
};

struct addr_slot {
	struct sockaddr_storage a;
	int count;
};

struct xferlog;

struct ftp_server {
	const struct ferry_config *cfg;
	const struct ftp_config *fc;
	struct ftp_account *accounts;
	size_t naccounts;
	struct ftp_account anon;
	bool has_anon;
	struct spsv_table *spsv;
	struct lockout *lockout;
	struct xferlog *xlog;
	pthread_mutex_t lock;      /* guards the counts and workers below */
	struct ftp_worker **workers; /* by worker index, for hand-offs */
	unsigned nworkers;
	int sessions, connections;
	struct addr_slot *addrs;
	size_t naddrs, addrs_cap;
	uint64_t next_id;
};

struct ftp_session;

struct ftp_worker {
	struct fe_worker *w;
	struct ftp_server *srv;
	struct fe_listener **listeners;
	size_t nlisteners;
	struct ftp_session *sessions;   /* doubly linked */
	struct ftp_session *graveyard;  /* torn down, freed on the next turn */
	struct data_link *links;        /* data connections waiting for on_close */
	struct fe_timer *reaper;
};

/* A data connection's tie to its session, cut when the session lets go
 * first; freed when the connection's on_close arrives. */
struct data_link {
	struct data_link *prev, *next;
	struct ftp_worker *fw;
	struct ftp_session *s;
	struct fe_conn *c;
};
struct data_link *link_new(struct ftp_worker *fw, struct ftp_session *s,
			   struct fe_conn *c);
void link_cut(struct data_link *l);          /* the session lets go */
void link_free(struct data_link *l);

/* Session slots: false when over max_sessions or max_per_address. */
bool server_take_slot(struct ftp_server *s, const struct sockaddr_storage *peer);
void server_release_slot(struct ftp_server *s, const struct sockaddr_storage *peer);
bool server_take_connection(struct ftp_server *s);
void server_release_connection(struct ftp_server *s);
const struct ftp_account *server_find_account(const struct ftp_server *s,
					      const char *user, bool *anonymous);

/* ---- xferlog.c ----------------------------------------------------------- */
struct xferlog *xferlog_open(const char *path, int *err);
void xferlog_close(struct xferlog *x);
struct xfer_record {
	time_t end;
	uint64_t ms;
	const char *host;
	uint64_t bytes;
	const char *path;
	bool ascii, incoming, anonymous, complete;
	const char *user;
};
void xferlog_write(struct xferlog *x, const struct xfer_record *r);
void xferlog_format(struct buf *out, const struct xfer_record *r);

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
	struct buf extra;              /* bytes that came with an SPSV hand-off */
	struct fe_timer *timer;
	bool want;                     /* a transfer waits for the connection */
};

struct transfer {
	enum xfer_kind kind;
	int fd;
	uint64_t offset, bytes, started_ms;
	char vpath[PATH_MAX];
	struct fe_xfer *fx;
	struct buf out;               /* listing, or ASCII chunk being sent */
	struct fe_timer *stall;       /* data_timeout without progress: 426 */
	uint64_t seen;                /* progress at the last stall check */
	bool ascii, cr_state, eof, closing_sent;
};

struct ftp_session {
	struct ftp_session *prev, *next;
	struct ftp_worker *fw;
	struct ftp_server *srv;
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
	enum sess_state state;
	char user[64];
	const struct ftp_account *acct;
	bool anonymous;
	char *cwd;                 /* NULL: "/"; see session_cwd */
	char *rnfr;
	bool ascii;
	uint64_t rest;
	struct fe_timer *idle_timer, *delay_timer;
	int delay_code;
	struct data_chan data;
	struct transfer *xfer;
	unsigned jobs;             /* ftp_defer jobs in flight (defer.c) */
};

void session_accept(struct ftp_worker *fw, struct fe_conn *c);
void session_bury(struct ftp_session *s);       /* unlink; free next turn */
void session_free_now(struct ftp_session *s);
void session_reply(struct ftp_session *s, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void session_close(struct ftp_session *s);       /* after queued replies */
void session_resume(struct ftp_session *s);      /* process buffered input */
void session_touch(struct ftp_session *s);       /* reset the idle timer */
void session_free_all(struct ftp_worker *fw);
struct ftp_session *session_find(struct ftp_worker *fw, uint64_t id);
bool session_writable(const struct ftp_session *s);
const char *session_cwd(const struct ftp_session *s);
/* A new working directory (a normalised virtual path); false: no memory. */
bool session_set_cwd(struct ftp_session *s, const char *vpath);
int session_root(const struct ftp_session *s);

/* ---- defer.c: blocking work on the engine's helper pool ----------------- */
typedef void ftp_work_fn(void *ctx);                        /* helper thread */
typedef void ftp_done_fn(struct ftp_session *s, void *ctx); /* worker; s is alive */
/* ctx is malloc'ed by the caller and owned by the machinery: freed with
 * free() after done (or without calling done if the session went away).
 * The session reads no further command until done has run. false (and a
 * 450 reply sent, ctx freed) when the pool is full. */
bool ftp_defer(struct ftp_session *s, ftp_work_fn *work, ftp_done_fn *done, void *ctx);

/* ---- commands.c: the verb table ------------------------------------------ */
enum { NEED_LOGIN = 1, NEED_WRITE = 2, NEED_ARG = 4, NO_ARG = 8, ANY_STATE = 16,
       DURING_XFER = 32 };
typedef void cmd_handler(struct ftp_session *s, char *arg);
struct ftp_cmd {
	const char *verb;
	unsigned flags;
	cmd_handler *fn;
	const char *help;
};
const struct ftp_cmd *cmd_lookup(const char *verb);
void cmd_dispatch(struct ftp_session *s, const struct ftp_cmd *c, char *arg);
void cmd_help_list(struct buf *out);

cmd_handler cmd_user, cmd_pass, cmd_acct, cmd_rein, cmd_quit;        /* login.c */
cmd_handler cmd_pwd, cmd_cwd, cmd_cdup, cmd_mkd, cmd_rmd, cmd_dele,  /* files.c */
	cmd_rnfr, cmd_rnto, cmd_size, cmd_mdtm, cmd_mlst, cmd_stat;
cmd_handler cmd_pasv, cmd_epsv, cmd_port, cmd_eprt, cmd_spsv;       /* data.c */
cmd_handler cmd_retr, cmd_stor, cmd_appe, cmd_stou, cmd_list,        /* transfer.c */
	cmd_nlst, cmd_mlsd, cmd_abor;

/* ---- data.c -------------------------------------------------------------- */
/* Ask for the data connection; transfer_ready or transfer_failed follows. */
void data_request(struct ftp_session *s);
void data_reset(struct ftp_session *s);
/* An SPSV data connection handed over from any worker (server.c mail). */
void data_adopt(struct ftp_session *s, struct fe_conn *c, const uint8_t *extra,
		size_t len);

/* ---- transfer.c ---------------------------------------------------------- */
void transfer_ready(struct ftp_session *s);
void transfer_failed(struct ftp_session *s, int code, const char *text);
void transfer_abort(struct ftp_session *s);      /* session ends */
/* What the data connection reports while a transfer uses it. */
void transfer_on_data(struct ftp_session *s, const uint8_t *data, size_t len);
void transfer_on_close(struct ftp_session *s, int err);
void transfer_on_drained(struct ftp_session *s);
/* data.c: close the data connection now (the transfer is done with it). */
void data_close_conn(struct ftp_session *s);

/* ---- login.c ------------------------------------------------------------- */
void login_reset(struct ftp_session *s);
/* An SPSV DATACONN login succeeded on this connection: hand it over. */
void handoff_send(struct ftp_session *s, uint64_t session, unsigned worker);
/* server.c: deliver a handed-over descriptor on the owning worker. */
void server_deliver(struct fe_worker *from, struct ftp_server *srv, unsigned to,
		    uint64_t session, int fd, const uint8_t *extra, size_t len);

#endif
