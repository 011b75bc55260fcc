/* gw_internal.h — what the gateway's files share: the server, worker and
 * link structs, the token table, and the pure parsers the tests call. */
#ifndef FERRY_GW_INTERNAL_H
#define FERRY_GW_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ferry/config.h"
#include "ferry/crypto.h"
#include "ferry/engine.h"
#include "ferry/gateway.h"

enum {
	GW_LINE_MAX = 8192,        /* longest line held (either direction) */
	GW_UNAUTH_BYTES = 8192,    /* a client may send this much before login */
	GW_HIGH_WATER = 256 << 10, /* queued toward a peer: stop reading the other */
	/* A side is paused at GW_HIGH_WATER, but what its receive had already
	 * completed comes in one piece after the resume: as much as the kernel's
	 * receive buffer held (tcp_rmem's maximum, 6 MiB by default). The send
	 * queue takes that much, so no byte is ever dropped, and no more. */
	GW_QUEUE_LIMIT = 16 << 20,
	GW_TOKEN_LEN = 20,         /* base62: 119 bits */
	GW_LINGER_MS = 5000,       /* a peer's close awaited after ours */
};

#define GW_DATA_USER "DATACONN"

/* ---- tokens.c: one-time data credentials, shared by every worker ------- */
struct gw_tokens;
struct gw_grant {                  /* what a token lets its holder reach */
	uint64_t session;
	struct sockaddr_storage owner;  /* the control client's address */
	struct sockaddr_storage target; /* backend address and announced port */
	struct sockaddr_storage from;   /* the control connection's own address */
	bool prot_p;                    /* the session's PROT P: the data in TLS */
	struct crypto_tls_origin client_origin; /* the control connection's
					 * TLS session (its data connection
					 * resumes it) */
	bool be_tls;                    /* the backend's data connection in TLS */
	void *tls_session;              /* the backend hop's TLS session to resume,
					 * or NULL (owned: the table frees what is
					 * not taken) */
};
struct gw_tokens *gw_tokens_create(void);
void gw_tokens_destroy(struct gw_tokens *t);
/* A new token (replacing the session's previous one) into out
 * (GW_TOKEN_LEN + 1 bytes). 0 or -errno. */
int gw_tokens_issue(struct gw_tokens *t, const struct gw_grant *g, uint64_t now_ms,
		    uint64_t ttl_ms, char *out);
/* Takes the token: 0 and *g; -ENOENT unknown (or used), -ETIMEDOUT expired,
 * -EPERM shown from another host than its owner (then left in place). */
int gw_tokens_take(struct gw_tokens *t, const char *token,
		   const struct sockaddr_storage *from, uint64_t now_ms,
		   struct gw_grant *g);
void gw_tokens_revoke(struct gw_tokens *t, uint64_t session);

/* ---- parse.c: the bits of FTP the gateway must read ---------------------- */
/* The verb of a command line (Telnet IAC sequences skipped), upper-cased
 * into verb (cap >= 8), and where its argument starts (CR/LF not included,
 * arg_len). false: no verb. */
bool gw_parse_command(const char *line, size_t len, char *verb, size_t cap,
		      const char **arg, size_t *arg_len);
/* 229 "(|||port|)" with any delimiter: the port, or 0. */
uint16_t gw_parse_epsv(const char *line, size_t len);
/* 227 "(h1,h2,h3,h4,p1,p2)": the port, or 0 (the address is ignored: the
 * gateway connects to the backend it already talks to). */
uint16_t gw_parse_pasv(const char *line, size_t len);
/* The token in a data login: "DATACONN:token" (what SPDT clients echo from
 * the 227 reply) or the bare token. NULL when it cannot be one. */
const char *gw_token_of(const char *arg, size_t len, char *out, size_t cap);
/* A reply line: its code (100-599) and whether it is the last line of a
 * reply started with that code; -1 for a line that is no reply line. */
int gw_reply_code(const char *line, size_t len, bool *last);
/* A FEAT line that offers TLS: " AUTH TLS", " AUTH SSL;TLS", " AUTH TLS-C". */
bool gw_parse_feat_tls(const char *line, size_t len);

/* ---- server.c ------------------------------------------------------------ */
struct gw_link;

struct gw_server {
	const struct gateway_config *gc;
	char backend_text[96];
	struct sockaddr_storage backend;
	struct gw_tokens *tokens;
	/* gateway.tls toward clients, which a reload replaces (tlsconf.c), or
	 * NULL; tls_on never changes. */
	struct crypto_tls_slot *tls;
	bool tls_on;
	struct crypto_tls_ctx *btls; /* client context toward the backend, or NULL */
	char backend_host[256];      /* the name (or address) its certificate names */
	int sessions, unauth;      /* __atomic counters */
	uint64_t next_id;
	int stopping;              /* __atomic: set by gw_server_shutdown */
	int busy_workers;          /* __atomic: workers with something left to send */
};

struct gw_worker {
	struct fe_worker *w;
	struct gw_server *srv;
	struct fe_listener **listeners;
	size_t nlisteners;
	struct gw_link *links;     /* doubly linked */
	struct fe_timer *watch;    /* stop.c: looks at srv->stopping */
	bool counted, stopped;     /* in srv->busy_workers; its links told */
};

/* ---- link.c: one accepted connection, as control relay or data pipe ----- */
enum gw_state {
	GW_FRONT,        /* greeted; the first command decides */
	GW_DATAPASS,     /* USER DATACONN seen: PASS token next */
	GW_JOINING,      /* connecting to the backend's passive port */
	GW_CONNECTING,   /* connecting to the backend's control port */
	GW_BGREETING,    /* waiting for the backend's greeting */
	GW_BSETUP,       /* TLS toward the backend being set up (backtls.c) */
	GW_RELAY,        /* control session relayed */
	GW_PIPE,         /* data connection joined */
};

enum gw_internal { GW_INT_NONE, GW_INT_FEAT, GW_INT_EPSV, GW_INT_PASV,
		   GW_INT_BFEAT, GW_INT_BAUTH, GW_INT_BHANDSHAKE, GW_INT_BPBSZ, GW_INT_BPROT };

struct gw_lines {                  /* bytes up to the next line end */
	char *p;
	size_t len;
};

struct gw_tside {                  /* one connection's TLS layer (tls.c) */
	struct crypto_tls *t;
	bool busy;                 /* a handshake step on the helper pool */
	bool closed;               /* close_notify sent (or the layer failed) */
	struct gw_lines hold;      /* ciphertext that came during a step */
	struct gw_lines early;     /* toward the backend before its handshake ends */
};

struct gw_link {
	struct gw_link *prev, *next;
	struct gw_worker *gw;
	uint64_t id;
	enum gw_state st;
	struct fe_conn *cli, *be;
	struct fe_connect *connecting;
	struct fe_timer *deadline;
	struct sockaddr_storage peer;
	bool unauth, session, ending, in_end;
	bool cli_paused, be_paused;
	size_t cli_bytes;           /* received before login */
	struct gw_lines cin, bin;   /* client and backend input not yet handled */
	int pending;                /* forwarded commands without a final reply */
	enum gw_internal internal;  /* a command of the gateway's own in flight */
	bool be_multi;              /* inside a multi-line backend reply */
	bool cli_mid;               /* the client has part of a multi-line reply:
				     * nothing else may go to it before the end */
	int be_code;
	bool feat_ok, no_epsv;
	char last[256];             /* the last backend reply line, for errors */
	/* FTPS (tls.c): toward the client after its AUTH TLS, toward the
	 * backend when gateway.backend_tls has it (backtls.c) */
	struct gw_tside ct, bt;
	int jobs;                   /* pool jobs in flight: l lives until 0 */
	bool pbsz, prot_p, user_sent;
	bool greet_pending;         /* implicit FTPS: the 220 after the handshake */
	bool be_feat_tls, be_prot_p;  /* the backend offers AUTH TLS; took PROT P */
	void *join_session;         /* a data link's backend TLS session to offer */
	bool join_tls;              /* its backend data connection is in TLS */
};

void gw_link_accept(struct gw_worker *gw, struct fe_conn *c, bool implicit);
void gw_link_greet(struct gw_link *l);       /* the 220 */
void gw_link_free_all(struct gw_worker *gw);
/* Ends the link: both connections closed (after what is queued), counts
 * released; freed when the last connection reports its close. */
void gw_link_end(struct gw_link *l);
void gw_link_maybe_free(struct gw_link *l);  /* an ended link's last job is back */
/* code text to the client, unless it is in the middle of a multi-line
 * reply (it would read the line as part of it), then gw_link_end. */
void gw_link_fail(struct gw_link *l, int code, const char *text);
/* What the client (the backend) sent, in plain (decrypted if in TLS). */
void gw_link_client_input(struct gw_link *l, const uint8_t *p, size_t n);
void gw_link_backend_input(struct gw_link *l, const uint8_t *p, size_t n);
void gw_link_logged_in(struct gw_link *l);   /* no longer unauthenticated */
void gw_link_attach_backend(struct gw_link *l, struct fe_conn *c);
void gw_link_input_changed(struct gw_link *l);  /* re-decide who is read */
bool gw_lines_add(struct gw_lines *b, const uint8_t *p, size_t n);
void gw_send_cli(struct gw_link *l, const char *p, size_t n);
void gw_send_be(struct gw_link *l, const char *p, size_t n);
void gw_reply(struct gw_link *l, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- relay.c: the control session between client and backend ------------ */
void gw_relay_start(struct gw_link *l);           /* connect to the backend */
void gw_relay_client_lines(struct gw_link *l);    /* handle what can be */
void gw_relay_backend_data(struct gw_link *l, const uint8_t *p, size_t n);

/* ---- passive.c: SPSV and FEAT answered by the gateway -------------------- */
/* Called with a client command before it is forwarded: true when the
 * gateway handles it itself (it may have sent its own command). */
bool gw_passive_intercept(struct gw_link *l, const char *verb, const char *arg, size_t alen);
/* A line of the backend's reply to the gateway's own command. */
void gw_passive_reply_line(struct gw_link *l, const char *line, size_t len,
			   int code, bool last);

/* ---- tls.c: FTPS toward the client ---------------------------------------- */
/* Both sides: ts is &l->ct or &l->bt. */
void gw_tls_input(struct gw_link *l, struct gw_tside *ts, const uint8_t *p, size_t n);
bool gw_tls_send(struct gw_link *l, struct gw_tside *ts, const char *p, size_t n);
/* Whether a line sent on this side now reaches its peer: in clear, or in
 * TLS past the handshake (before it, a reply to the client is dropped). */
bool gw_tls_writable(const struct gw_tside *ts);
void gw_tls_start(struct gw_link *l, struct gw_tside *ts);  /* a client's handshake */
void gw_tls_close(struct gw_link *l, struct gw_tside *ts);  /* close_notify, once */
void gw_tls_free(struct gw_tside *ts);
void gw_tls_auth(struct gw_link *l, const char *arg, size_t len);
void gw_tls_pbsz(struct gw_link *l);
void gw_tls_prot(struct gw_link *l, const char *arg, size_t len);
void gw_tls_ccc(struct gw_link *l);
/* gateway.tls.policy: true when USER may go on (else 530 sent); when SPSV
 * may (else 521 sent). */
bool gw_tls_login_ok(struct gw_link *l);
bool gw_tls_spsv_ok(struct gw_link *l);
/* Why a data connection may not carry the grant's transfer, or NULL. */
const char *gw_tls_data_refusal(const struct gw_link *l, const struct gw_grant *g);

/* ---- tlsconf.c: the TLS contexts, reloaded by SIGHUP ---------------------- */
int gw_tlsconf_create(struct gw_server *s);      /* 0 or an exit code */
void gw_tlsconf_destroy(struct gw_server *s);

/* ---- backtls.c: TLS toward the backend ------------------------------------ */
/* After the backend's 220: true when the set-up began (state GW_BSETUP). */
bool gw_btls_begin(struct gw_link *l);
void gw_btls_reply_line(struct gw_link *l, const char *line, size_t len, int code, bool end);
void gw_btls_established(struct gw_link *l);   /* tls.c: the handshake is done */

/* ---- stop.c: ferryd's stop (SIGTERM) on each worker ----------------------- */
void gw_stop_watch(struct gw_worker *gw);   /* from gw_worker_init on */
void gw_stop_fini(struct gw_worker *gw);

/* ---- join.c: data connections -------------------------------------------- */
void gw_join(struct gw_link *l, const char *arg, size_t len);

#endif
