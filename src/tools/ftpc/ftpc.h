/* ftpc.h — the FTP client library of ferry's tools (ferry-ftp, ferry-perf
 * ftp): pure parsers (replies, PASV/EPSV/SPSV answers, the SPSV data
 * connection's own login) that any event loop can drive, and a blocking
 * control connection built on them. */
#ifndef FERRY_TOOLS_FTPC_H
#define FERRY_TOOLS_FTPC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

enum {
	FTPC_LINE_MAX = 2048,    /* one reply line kept (longer ones are cut) */
	FTPC_REPLY_MAX = 8192,   /* one whole reply kept, lines joined by '\n' */
	FTPC_CRED_MAX = 32,      /* SPSV user or password (the draft's limit) */
	FTPC_IDENT_MAX = 96,     /* SPSV identifier of the -00 (SPDT) form */
};

/* ---- replies (pure) ----------------------------------------------------- */

/* RFC 959 replies, line by line: "123-" opens a multi-line reply that the
 * first line starting "123 " closes; anything else with three digits is a
 * whole reply ("200DATA" included, as the SPSV draft writes it). */
struct ftpc_reply_reader {
	int multi;               /* code of the multi-line reply open, 0: none */
};
/* One line without CR LF. The reply code when it ends a reply, 0 when more
 * lines follow, -1 when the line cannot start a reply. */
int ftpc_reply_line(struct ftpc_reply_reader *r, const char *line);

/* ---- passive answers (pure) --------------------------------------------- */

/* "227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)" and "229 ... (|||port|)":
 * the port (the address is always the control connection's peer). 0, or
 * -1 when the reply holds none. */
int ftpc_parse_pasv(const char *reply, unsigned *port);
int ftpc_parse_epsv(const char *reply, unsigned *port);

/* The two forms of the single-port draft (draft-rosenau-ftp-single-port):
 * -01 logs in on the new connection with the (USER:PASS) of the 227 reply;
 * -00 sends "SPDT <identifier>" there instead, as bytedance's g3 does. */
enum ftpc_spsv_form { FTPC_SPSV_DATACONN, FTPC_SPSV_SPDT };
struct ftpc_spsv {
	char user[FTPC_CRED_MAX + 1], pass[FTPC_CRED_MAX + 1]; /* -01 */
	char ident[FTPC_IDENT_MAX + 1];                        /* -00 */
};
enum ftpc_spsv_parse {
	FTPC_SPSV_OK,
	FTPC_SPSV_BAD,           /* no usable (...) in the reply */
	FTPC_SPSV_OLD_PUREFTPD,  /* "227 <port>": pure-ftpd 0.95-1.0.49's own SPSV */
};
/* The "227 text (...)" answer to SPSV, for the given form. */
enum ftpc_spsv_parse ftpc_parse_spsv(const char *reply, enum ftpc_spsv_form form,
				     struct ftpc_spsv *out);

/* ---- the SPSV data connection's own login (pure) ------------------------ */

/* -01: 220 → USER u → 331 → PASS p → "200 DATA"; -00: 220 → SPDT id → 200.
 * A 120 before the greeting is waited through. */
enum ftpc_dlogin_state { FTPC_DL_GREETING, FTPC_DL_USER, FTPC_DL_PASS, FTPC_DL_SPDT,
			 FTPC_DL_OPEN, FTPC_DL_FAILED };
struct ftpc_dlogin {
	enum ftpc_spsv_form form;
	enum ftpc_dlogin_state st;
	const struct ftpc_spsv *cred;
};
void ftpc_dlogin_start(struct ftpc_dlogin *d, enum ftpc_spsv_form form,
		       const struct ftpc_spsv *cred);
/* A whole reply (its code, its last line) read on the data connection:
 * writes the next command, CR LF included, into out and returns its length;
 * 0 when there is nothing to send (waiting, or FTPC_DL_OPEN: the connection
 * now carries the file); -1 when the login failed (FTPC_DL_FAILED). */
int ftpc_dlogin_step(struct ftpc_dlogin *d, int code, const char *line, char *out,
		     size_t cap);

/* ---- a blocking control connection ------------------------------------- */

/* Buffered line input from one socket, in clear or (tls set) inside TLS. */
struct crypto_tls;
struct crypto_tls_ctx;
struct ftpc_stream {
	int fd;
	struct crypto_tls *tls;         /* NULL: in clear */
	size_t have, off;
	char buf[8192];
};

struct ftpc_conn {
	struct ftpc_stream ctl;
	struct sockaddr_storage peer;   /* data connections go here too */
	socklen_t peerlen;
	int timeout;                    /* seconds, every socket operation */
	bool verbose;                   /* the dialogue on stderr (no passwords) */
	/* FTPS (RFC 4217): tls_ctx NULL is plain FTP */
	struct crypto_tls_ctx *tls_ctx;
	const char *tls_host;           /* SNI and the certificate's name */
	bool implicit;                  /* TLS before the greeting */
	bool prot_p;                    /* PROT P accepted: data inside TLS too */
	char reply[FTPC_REPLY_MAX];     /* the last reply, all its lines */
};

/* Connects to host:port (every address getaddrinfo gives, in turn) and reads
 * the greeting. 220, another reply code, or -1 when no connection. */
int ftpc_connect(struct ftpc_conn *c, const char *host, const char *port, int timeout,
		 bool verbose);
/* The connection alone, no greeting read: 0 or -1. */
int ftpc_dial(struct ftpc_conn *c, const char *host, const char *port, int timeout,
	      bool verbose);
/* close_notify first when inside TLS. */
void ftpc_close(struct ftpc_conn *c);
/* Sends one command; 0 or -1. */
int ftpc_send(struct ftpc_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The next reply's code (c->reply holds it), or -1 when the connection is lost. */
int ftpc_reply(struct ftpc_conn *c);
/* Sends one command and returns its reply's code, or -1. */
int ftpc_cmd(struct ftpc_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* USER, and PASS when asked: the final code (230 or 202 is success), or -1. */
int ftpc_login(struct ftpc_conn *c, const char *user, const char *pass);
/* The same on another connection of the session (an SPSV data connection
 * logging in): a whole reply into c->reply, or one line with its CR LF. */
int ftpc_stream_reply(struct ftpc_conn *c, struct ftpc_stream *s);
int ftpc_stream_send(struct ftpc_conn *c, struct ftpc_stream *s, const char *line,
		     size_t len);
/* SO_RCVTIMEO and SO_SNDTIMEO (connect included) on a socket. */
void ftpc_set_timeouts(int fd, int seconds);

/* ---- FTPS (tls.c) --------------------------------------------------------- */

/* ftpc_connect for FTPS: with implicit, TLS is negotiated before the
 * greeting is read (a TLS failure reads as code -1 with c->reply saying
 * why); ctx NULL is ftpc_connect. host is the certificate's name. */
int ftpc_connect_tls(struct ftpc_conn *c, const char *host, const char *port, int timeout,
		     bool verbose, struct crypto_tls_ctx *ctx, bool implicit);
/* Explicit FTPS: AUTH TLS and the handshake. 234 when the control
 * connection is now inside TLS, the server's refusal code, or -1 (lost, or
 * the handshake failed: c->reply says why). A connection already inside
 * TLS (implicit) returns 234 at once. */
int ftpc_auth_tls(struct ftpc_conn *c);
/* PBSZ 0, PROT P: 200 (c->prot_p set), the refusal's code, or -1. */
int ftpc_prot_p(struct ftpc_conn *c);
/* TLS on another connection of the session, offering the control
 * connection's session for resumption: 0, or -1 with c->reply saying why. */
int ftpc_stream_tls(struct ftpc_conn *c, struct ftpc_stream *s);
/* Data through a stream, TLS or not: bytes read (0: the end, close_notify
 * or FIN), -1 on error; write: 0 or -1. */
long ftpc_stream_recv(struct ftpc_stream *s, void *buf, size_t cap);
int ftpc_stream_write(struct ftpc_stream *s, const void *p, size_t n);
/* close_notify (inside TLS), then close the socket. */
void ftpc_stream_close(struct ftpc_stream *s);
/* The same at the end of an upload: after close_notify, waits (within the
 * socket's timeout) for the server to close, so nothing it sent unread
 * turns the close into a reset. 0, or -1 when the server did not close. */
int ftpc_stream_finish(struct ftpc_stream *s);
/* "TLSv1.3 TLS_AES_128_GCM_SHA256" or "clear", for -v. */
const char *ftpc_stream_desc(const struct ftpc_stream *s, char *out, size_t cap);

/* ---- data connections ---------------------------------------------------- */

enum ftpc_data_mode { FTPC_DATA_SPSV, FTPC_DATA_PASV, FTPC_DATA_EPSV };
enum ftpc_data_err {
	FTPC_DE_LOST = -1,       /* the control connection is gone */
	FTPC_DE_REFUSED = -2,    /* the server refused PASV/EPSV/SPSV (c->reply) */
	FTPC_DE_SYNTAX = -3,     /* an answer without a port or credentials */
	FTPC_DE_OLD_SPSV = -4,   /* pure-ftpd's old "227 <port>" SPSV */
	FTPC_DE_CONNECT = -5,    /* the data connection could not be made */
	FTPC_DE_LOGIN = -6,      /* the SPSV data connection's login failed */
	FTPC_DE_TLS = -7,        /* the data connection's TLS failed (c->reply) */
};
/* Asks for a passive data connection and opens it: 0 (*d open, closed by
 * ftpc_stream_close), or an ftpc_data_err. Under PROT P an
 * SPSV connection negotiates TLS before its login (the order of ferryd.json.5);
 * PASV/EPSV ones do it in ftpc_data_start. */
int ftpc_open_data_stream(struct ftpc_conn *c, enum ftpc_data_mode mode,
			  enum ftpc_spsv_form form, struct ftpc_stream *d);
/* After the transfer command's 1xx: the PASV/EPSV data connection's TLS
 * handshake under PROT P (nothing to do otherwise). 0, or FTPC_DE_TLS. */
int ftpc_data_start(struct ftpc_conn *c, struct ftpc_stream *d);
const char *ftpc_data_strerror(int err);
const char *ftpc_data_mode_name(enum ftpc_data_mode mode);

#endif
