/* bridge.h — what the files of `ferry-ftp bridge` share: a local FTP server
 * for unmodified clients that carries each session to a single-port (SPSV)
 * server over its one TCP port. One thread, one epoll; every socket of a
 * session is an endpoint whose wanted events are recomputed after each event,
 * so a slow peer only stops its own session. */
#ifndef FERRY_TOOLS_BRIDGE_H
#define FERRY_TOOLS_BRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "ftpc.h"

enum {
	BR_CTL_IN = 8192,          /* one control connection's unread input */
	BR_CTL_OUT = 65536,        /* replies not yet written to the client */
	BR_PIPE = 1024 * 1024,     /* data bytes between the two data connections (at most) */
	BR_PIPE_MANY = 256 * 1024, /* the same once BR_PIPES_BIG pipes are open */
	BR_PIPES_BIG = 16,
	BR_QMAX = 8,               /* server replies still expected */
	BR_MAX_SESSIONS = 1000,
	BR_MAX_REFUSED = 20,       /* commands refused for want of TLS, then 421 */
};

/* The sockets of a session (and the bridge's own listener). */
enum br_kind { BR_SIGNAL, BR_LISTENER, BR_CC, BR_SC, BR_LST, BR_CD, BR_SD };

struct br_session;
struct br_ep {
	int fd;                 /* -1: closed */
	uint32_t armed;         /* events registered with epoll (0 until it wants some) */
	enum br_kind kind;
	bool connecting;        /* non-blocking connect() under way */
	bool added;             /* in the epoll set */
	struct br_session *s;
	/* The epoll batch it was closed in: the batch's other events for it
	 * are the old socket's, never those of one opened since. */
	unsigned long closed_in;
};

/* What the next final reply of the server answers. */
enum br_expect {
	BR_Q_RELAY,             /* a client's command: forward */
	BR_Q_SPSV,              /* the bridge's SPSV: read it */
	BR_Q_XFER,              /* a transfer command: hold 2xx until the data is through */
	BR_Q_DROP,              /* an SPSV whose transfer was aborted: ignore */
	BR_Q_FEAT,              /* the client's FEAT: forward, TLS lines as the bridge serves */
};

/* Where a transfer stands. The data connection to the server is opened
 * when the client announces a transfer (PASV, EPSV, PORT, EPRT, SIZE,
 * REST: pre-opened), so its round trips overlap the client's own; READY:
 * logged in, no transfer command yet (xcmd_len 0 until the client sends
 * one). */
enum br_xfer { BR_X_NONE, BR_X_SPSV, BR_X_DLOGIN, BR_X_READY, BR_X_SENT };
/* How the client's data connection is made. */
enum br_dmode { BR_DM_NONE, BR_DM_PASV, BR_DM_PORT };
/* What is done with the lines of the reply being read. */
enum br_disp { BR_D_FORWARD, BR_D_KEEP, BR_D_HOLD, BR_D_DROP, BR_D_GREET, BR_D_FEAT };
/* The set-up before the client sees the greeting (bridge_tls.c). */
enum br_pre { BR_P_DONE, BR_P_GREET, BR_P_FEAT, BR_P_AUTH, BR_P_HANDSHAKE, BR_P_PBSZ,
	      BR_P_PROT };
/* The SPSV data connection's way into TLS under PROT P (bridge_dtls.c). */
enum br_dt { BR_DT_NONE, BR_DT_GREET, BR_DT_AUTH, BR_DT_HS, BR_DT_LOGIN };
/* TLS toward the server: never, when FEAT offers AUTH TLS, always. */
enum br_tls { BR_TLS_OFF, BR_TLS_AUTO, BR_TLS_ON };
/* What local clients must do in TLS (--local-tls-required; ferryd's
 * ftp.tls.policy "optional", "login", "data"). */
enum br_lpolicy { BR_LP_OPTIONAL, BR_LP_LOGIN, BR_LP_DATA };
struct crypto_tls;
struct crypto_tls_ctx;

struct bridge;
struct br_session {
	struct bridge *b;
	struct br_session *next, *prev;
	struct br_ep cc, sc, lst, cd, sd;   /* client/server control, listener, data */
	bool closing;                       /* flush the replies, then end */
	bool dead;
	double last;                        /* last progress, for the timeout */
	size_t cin_len, sin_len, cout_len, sout_len;
	char cin[BR_CTL_IN], sin[BR_CTL_IN], cout[BR_CTL_OUT], sout[BR_CTL_IN];

	/* TLS toward the server, and the set-up that decides it */
	enum br_pre pre;
	struct crypto_tls *stls;            /* NULL: the server connection is clear */
	char greet[FTPC_REPLY_MAX];         /* the server's greeting, CR LF kept */
	size_t greet_len;
	bool prot_p;                        /* the server took PROT P: data in TLS */
	struct crypto_tls *dtls;            /* this transfer's data connection */
	enum br_dt dt;
	char *ubuf;                         /* plaintext between TLS and the client */
	size_t u_len, u_off;
	bool d_shut, d_eof;                 /* close_notify sent; the server closed */

	/* server replies */
	enum br_expect q[BR_QMAX];
	int qn;
	struct ftpc_reply_reader rr;
	enum br_disp disp;
	char kept[FTPC_REPLY_MAX];          /* the SPSV reply, lines joined by '\n' */
	size_t kept_len;
	char held[FTPC_REPLY_MAX];          /* the transfer's final reply, CR LF kept */
	size_t held_len;
	int held_code;                      /* its code */
	bool holding;                       /* held until the data is through */

	/* the transfer */
	enum br_dmode dmode;
	struct sockaddr_storage port_to;
	socklen_t port_len;
	enum br_xfer xs;
	bool up, aborted, data_done, data_failed, src_eof;
	bool src_dry, dst_full;             /* the last splice found it so: epoll's turn */
	bool pipe_full;                     /* its slots are, though p_len < p_cap */
	bool logged_in;                     /* the server said 230: SPSV may be pre-opened */
	bool no_preopen;                    /* a pre-open failed: SPSV at the command only */
	char xcmd[BR_CTL_IN + 2];
	size_t xcmd_len;
	struct ftpc_spsv cred;
	struct ftpc_dlogin dl;
	struct ftpc_reply_reader dlr;
	bool dl_piped;                      /* its commands were sent up front */
	char dlin[1024];
	size_t dlin_len;
	int pfd[2];                         /* a kernel pipe, kept between transfers */
	size_t p_len, p_cap;                /* bytes in it, and its size */
	bool pipe_used;                     /* since the last tick (else given back) */
	unsigned lport;                     /* the passive listener's port (s->lst) */
	struct sockaddr_storage cpeer, cme; /* the client control connection's ends
					     * (cme read at the first PASV or EPSV;
					     * AF_UNSPEC: not yet) */

	/* TLS toward the client (bridge_ltls.c, bridge_ldata.c; --local-cert) */
	struct crypto_tls *ctls;            /* NULL: the client's control connection is clear */
	size_t cout_clear;                  /* bytes at the head of cout still sent in clear (234) */
	bool lpbsz, lprot_p;                /* the client sent PBSZ; PROT P: its data in TLS */
	bool feat_open;                     /* a multi-line FEAT reply is being forwarded */
	bool c_bye;                         /* close_notify queued toward the client */
	double c_hs_since, l_hs_since;      /* the client's handshakes began (control, data) */
	int refused;                        /* commands refused before AUTH TLS */
	struct crypto_tls *ldtls;           /* the client's data connection's TLS */
	char *lbuf;                         /* plaintext between the two data connections */
	size_t l_len, l_off;
	bool l_cshut, l_ceof;               /* close_notify sent to the client; its EOF */
	bool l_sshut, l_seof;               /* the same toward the server (upload under PROT P) */
	bool l_half;                        /* the upload's FIN to the server is out */
	bool l_refused;                     /* the resumption check failed: 522 */
};

struct bridge {
	int ep;                             /* epoll */
	struct br_ep lep;                   /* the listening socket */
	struct br_ep sig;                   /* SIGTERM, SIGINT */
	struct sockaddr_storage srv;        /* the single-port server */
	socklen_t srvlen;
	enum ftpc_spsv_form form;
	int timeout;                        /* seconds without progress */
	bool pipeline;                      /* send the data login in one go */
	enum br_tls tls;
	struct crypto_tls_ctx *tls_ctx;     /* with tls: verifies the server */
	const char *tls_host;               /* the name its certificate must have */
	struct crypto_tls_ctx *ltls_ctx;    /* --local-cert: TLS toward local clients */
	bool limplicit;                     /* --local-implicit: TLS from the first byte */
	bool lreuse;                        /* data connections must resume the control session */
	enum br_lpolicy lpolicy;            /* --local-tls-required */
	bool verbose;
	struct br_session *sessions;
	struct br_session *graveyard;       /* closed this turn, freed after it */
	size_t n;
	size_t pipes;                       /* sessions' pipes open (bridge_data.c) */
	unsigned long batch;                /* epoll_wait's returns, from 1 */
};

/* ---- bridge_main.c ------------------------------------------------------ */
double ftpc_br_now(void);

/* ---- bridge_session.c: sessions, endpoints, control buffers ---------------- */
void ftpc_br_accept(struct bridge *b);
void ftpc_br_event(struct br_ep *e, uint32_t ev);
void ftpc_br_tick(struct bridge *b);          /* once a second: timeouts */
void ftpc_br_close_all(struct bridge *b);
void ftpc_br_reap(struct bridge *b);          /* after each epoll batch */
/* fd becomes e's; it joins the epoll set when it first wants an event. */
void ftpc_br_ep_open(struct br_session *s, struct br_ep *e, int fd, bool connecting);
void ftpc_br_nodelay(int fd);
/* reset: RST, so a peer never takes a broken transfer for a whole one. */
void ftpc_br_ep_close(struct br_ep *e, bool reset);
void ftpc_br_close_reset(int fd);
/* Queue bytes for the client or the server; false (and the session ends)
 * when the buffer is full, which the gating of input makes impossible for
 * well-behaved peers. */
bool ftpc_br_to_client(struct br_session *s, const char *p, size_t n);
bool ftpc_br_to_server(struct br_session *s, const char *p, size_t n);
void ftpc_br_reply(struct br_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
bool ftpc_br_expect(struct br_session *s, enum br_expect what);
void ftpc_br_fatal(struct br_session *s, const char *why);
/* Non-blocking connect; the socket or -1. */
int ftpc_br_dial(const struct sockaddr_storage *to, socklen_t len);

/* ---- bridge_cmd.c: the client's commands ----------------------------------- */
void ftpc_br_client_lines(struct br_session *s);

/* The client's control connection: its address (from accept), and the
 * bridge's end of it (read once): false when unknown. */
bool ftpc_br_client_peer(struct br_session *s, struct sockaddr_storage *a);
bool ftpc_br_client_me(struct br_session *s, struct sockaddr_storage *me);

/* ---- bridge_reply.c: the server's replies ---------------------------------- */
void ftpc_br_server_lines(struct br_session *s);

/* ---- bridge_tls.c: TLS toward the server ----------------------------------- */
/* For every TLS object of the bridge (NULL: a clear connection): sends its
 * queued ciphertext to fd, false when the connection broke; whether
 * ciphertext is still queued. */
bool ftpc_br_tls_push(struct crypto_tls *t, int fd);
bool ftpc_br_tls_pending(struct crypto_tls *t);
/* A whole reply during the set-up (s->pre not BR_P_DONE). */
void ftpc_br_pre_reply(struct br_session *s, int code);
void ftpc_br_server_tls_step(struct br_session *s);
/* The server connection's input into s->sin (decrypted): bytes, 0 at EOF,
 * -1 on error, -2 for EAGAIN. */
ssize_t ftpc_br_server_read(struct br_session *s);
/* Plaintext still inside TLS into s->sin as room allows: 0, -1 at the end. */
int ftpc_br_server_pull(struct br_session *s);
/* s->sout to the server (through TLS): false when the connection broke. */
bool ftpc_br_server_flush(struct br_session *s);
bool ftpc_br_server_pending(const struct br_session *s);
void ftpc_br_server_tls_free(struct br_session *s);

/* ---- bridge_dtls.c: the data connection inside TLS (PROT P) -------------- */
bool ftpc_br_dtls_start(struct br_session *s, const char **why);
/* Input during the login: 1 the handshake just finished (the login may
 * start), 0 go on, -1 failed (why). Plaintext replies go to s->dlin. */
int ftpc_br_dtls_login_input(struct br_session *s, const char **why);
int ftpc_br_dtls_send(struct br_session *s, const char *p, size_t n);
/* Moves what can move: NULL, or why the data connection failed. */
const char *ftpc_br_dtls_pump(struct br_session *s);
bool ftpc_br_dtls_done(const struct br_session *s);
uint32_t ftpc_br_dtls_want(const struct br_session *s, const struct br_ep *e);
void ftpc_br_dtls_end(struct br_session *s);

/* ---- bridge_ltls.c: TLS toward the client's control connection ------------- */
/* AUTH, PBSZ, PROT and CCC from the client (502 without --local-cert). */
void ftpc_br_cmd_auth(struct br_session *s, const char *arg);
void ftpc_br_cmd_pbsz(struct br_session *s, const char *arg);
void ftpc_br_cmd_prot(struct br_session *s, const char *arg);
void ftpc_br_cmd_ccc(struct br_session *s, const char *arg);
/* --local-tls-required: false (and 530 sent) for a command the client may
 * not send before AUTH TLS; false (and 521) for a transfer without PROT P
 * under "data". */
bool ftpc_br_ltls_cmd_allowed(struct br_session *s, const char *line);
bool ftpc_br_ltls_xfer_allowed(struct br_session *s);
/* One line of the server's FEAT reply toward the client: the server's own
 * TLS features dropped, the bridge's added when it serves TLS. */
void ftpc_br_feat_line(struct br_session *s, const char *line, size_t n);
/* --local-implicit: the session starts inside TLS. false: no memory. */
bool ftpc_br_client_implicit(struct br_session *s);
/* The client's ciphertext: read, decrypted into s->cin as room allows
 * (bytes read, 0 at EOF, -1 on error or close_notify, -2 for EAGAIN). */
ssize_t ftpc_br_client_tls_read(struct br_session *s);
/* Plaintext still inside TLS into s->cin, the handshake moved on: 0, -1 at the end. */
int ftpc_br_client_pull(struct br_session *s);
/* s->cout to the client through TLS: false when the connection broke. */
bool ftpc_br_client_tls_flush(struct br_session *s);
/* Something can be written to the client now (in clear or TLS). */
bool ftpc_br_client_has_out(const struct br_session *s);
/* A client's data connection resumed its TLS 1.3 session: a new ticket
 * on the control connection, queued (sent with the next flush). */
void ftpc_br_client_next_ticket(struct br_session *s);
/* The session ends: close_notify toward the client, once; true when
 * nothing is left to send (or it cannot be sent). */
bool ftpc_br_client_tls_bye(struct br_session *s);
void ftpc_br_client_tls_free(struct br_session *s);
/* The client's control handshake has taken -t seconds (counted from AUTH,
 * or from the connection with --local-implicit; progress does not extend it):
 * logged; true when the session must be closed. */
bool ftpc_br_client_hs_late(struct br_session *s, double now);

/* ---- bridge_ldata.c: the client's data connection inside TLS (its PROT P) -- */
/* Moves what can move (the handshake first, then the resumption check):
 * NULL, or why the data connection failed. */
const char *ftpc_br_ldata_pump(struct br_session *s);
bool ftpc_br_ldata_done(const struct br_session *s);
uint32_t ftpc_br_ldata_want(const struct br_session *s, const struct br_ep *e);
void ftpc_br_ldata_end(struct br_session *s);
/* The same for the client's data connection's handshake (from its first
 * byte): logged; true when the transfer must fail. */
bool ftpc_br_ldata_hs_late(const struct br_session *s, double now);

/* ---- bridge_data.c: data connections on both sides ------------------------- */
int ftpc_br_listen(struct br_session *s, unsigned *port);
/* A transfer is coming (PASV, EPSV, PORT, EPRT, SIZE, REST): the server's
 * side of its data connection is opened now. */
void ftpc_br_preopen(struct br_session *s);
/* A pre-opened connection's DATACONN login is sent, its answer not read. */
bool ftpc_br_preopen_login_sent(const struct br_session *s);
/* A transfer command is under way (not just a pre-opened connection). */
bool ftpc_br_xfer_busy(const struct br_session *s);
void ftpc_br_xfer_start(struct br_session *s, bool up, const char *line);
void ftpc_br_spsv_reply(struct br_session *s, int code);
void ftpc_br_xfer_final(struct br_session *s, int code);
void ftpc_br_abort(struct br_session *s);
void ftpc_br_data_event(struct br_ep *e, uint32_t ev);
uint32_t ftpc_br_data_want(struct br_session *s, struct br_ep *e);
void ftpc_br_data_settle(struct br_session *s);
void ftpc_br_data_timeout(struct br_session *s);
/* The transfer's end: its connections closed; the pipe (when empty) and
 * the passive listener stay for the next transfer. */
void ftpc_br_xfer_end(struct br_session *s);
/* The session's end: the listener and the pipe go too. */
void ftpc_br_data_free(struct br_session *s);
void ftpc_br_listener_close(struct br_session *s);
/* Once a second: a pipe no transfer used since the last call is given back. */
void ftpc_br_data_idle(struct br_session *s);

#endif
