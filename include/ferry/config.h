/* config.h — ferryd's configuration: one struct, filled from a JSON file
 * (ferryd -f) or from uftpproxyd's own flags, validated once, then read-only.
 * Types only: the functions are in daemon.h. */
#ifndef FERRY_CONFIG_H
#define FERRY_CONFIG_H

#if defined(FERRY_MODULE) && !defined(FERRY_USES_CONFIG)
#error "ferry/config.h: this module may not use config (module graph: meson.build)"
#endif


#include "ferry/base.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum proxy_role { PROXY_NONE = 0, PROXY_SERVER, PROXY_CLIENT, PROXY_RESPONSE };

struct strlist {
	char **v;
	size_t n;
};

struct hostport {
	char *host;
	uint16_t port;
};

/* One proxy instance; every field maps to a uftpproxyd flag (in brackets). */
struct proxy_config {
	char *name;             /* label in logs; "proxy" from the CLI */
	enum proxy_role role;   /* [-s -c -r] */
	char *dest;             /* [-s dest] downstream proxy, name or IP */
	char *dest_fingerprint; /* [-s fp=..] wait for a signed heartbeat */
	char *response_curve;   /* [-r:curve] ECDH curve of a response proxy */
	uint16_t port;          /* [-p] UDP listen port, default 1044 */
	uint16_t dest_port;     /* [-q] downstream port, default 1044 */
	int ttl;                /* [-t] multicast TTL, default 1 */
	int dscp;               /* [-Q] 0-63, default 0 */
	char *out_interface;    /* [-O] name, host name or IP */
	uint32_t uid;           /* [-U] 0 = derive from first interface */
	bool uid_set;
	struct hostport *hb_servers; /* [-H] heartbeat targets */
	size_t hb_count;
	int hb_interval;        /* [-h] seconds, default 20 */
	int udp_buf_size;       /* [-B] 65536-104857600, default 262144 */
	bool udp_buf_force;     /* beyond net.core.rmem_max (needs CAP_NET_ADMIN) */
	int max_groups;         /* groups alive at once in this instance */
	int max_groups_per_source; /* of them from one source address */
	int group_idle_max;     /* seconds: cap on 4 * ROBUST * GRTT */
	char *client_list;      /* [-C] file */
	char *server_list;      /* [-S] file */
	struct strlist key_files; /* [-k] */
	struct strlist key_specs; /* [-K] rsa:LEN or ec:CURVE */
	char *ecdh_curve;       /* [-e] */
	struct strlist interfaces; /* [-I] */
	struct strlist pub_mcast;  /* [-M] default 230.4.4.1 */
	bool system_keys;       /* [-m] accepted, no effect off Windows */
};

/* FTPS policy, of a listener or an account (the stricter one applies). */
enum tls_policy {
	TLS_POLICY_UNSET = 0,   /* an account: the listener's decides */
	TLS_POLICY_OPTIONAL,    /* AUTH TLS if the client wants it */
	TLS_POLICY_LOGIN,       /* USER/PASS only in TLS (530 before AUTH) */
	TLS_POLICY_DATA,        /* and data connections only with PROT P */
};

/* ftp.tls.ktls: PROT P downloads through the kernel's TLS (kTLS). */
enum ktls_mode {
	KTLS_AUTO = 0,          /* when the kernel has it, else user space */
	KTLS_OFF,               /* always user space */
	KTLS_REQUIRED,          /* start-up fails without it */
};

struct ftp_tls_cert {
	char *cert;             /* PEM certificate chain */
	char *key;              /* PEM private key */
};

struct ftp_tls_listener {
	char *listen;           /* "ADDR:PORT", one of listen or tls_implicit */
	enum tls_policy policy;
};

struct ftp_user {
	char *name;
	char *password_hash;    /* crypt(3) string: yescrypt, sha512-crypt */
	char *root;
	bool write;
	char *umask;            /* octal "022" (the default when NULL) */
	enum tls_policy tls;    /* ftp.users[].tls */
};

struct ftp_config {
	bool enabled;
	struct strlist listen;  /* "ADDR:PORT" or "[V6]:PORT" */
	struct ftp_user *users;
	size_t user_count;
	char *anonymous_root;   /* NULL: no anonymous login */
	bool anonymous_write;
	bool anonymous_upload_only; /* a drop box: STOR new names, nothing else */
	char *anonymous_umask;  /* octal, NULL: 022 */
	int login_timeout;      /* seconds a session may take to log in */
	int max_login_commands; /* commands accepted before a login */
	int max_hash_jobs;      /* HASH/XCRC/XMD5... running at once, all sessions */
	int max_sessions;       /* control sessions in all */
	int max_per_address;
	int idle_timeout;       /* seconds */
	int data_timeout;       /* seconds */
	int spsv_timeout;       /* seconds a DATACONN credential lives, 60 */
	uint16_t passive_min;   /* ftp.passive_ports "MIN-MAX": PASV/EPSV ports; */
	uint16_t passive_max;   /* 0-0: ephemeral ports */
	int login_delay_ms;     /* after a failed login */
	int max_login_failures; /* then lock the address out */
	int lockout_seconds;
	char *xferlog;          /* transfer log file, NULL: none */
	struct strlist proxy_from; /* balancers that send PROXY headers (ADDR[/BITS]) */
	bool spsv_bind_address; /* DATACONN only from the control client's address */
	bool atomic_uploads;    /* STOR to a temporary name, renamed on success */
	char *tls_cert;
	char *tls_key;
	bool tls_required;      /* USER/PASS only after AUTH TLS (530 before) */
	enum tls_policy tls_policy; /* every listener's unless tls_listeners says */
	struct ftp_tls_cert *tls_certs; /* more certificates (SNI), after tls_cert */
	size_t tls_cert_count;
	struct strlist tls_implicit; /* implicit FTPS listeners (TLS first) */
	struct ftp_tls_listener *tls_listeners;
	size_t tls_listener_count;
	bool tls_require_reuse; /* data connections resume the control session */
	enum ktls_mode tls_ktls; /* ftp.tls.ktls */
};

/* TLS between the gateway and its backend (gateway.backend_tls). */
enum gw_backend_tls {
	GW_BACKEND_TLS_UNSET = 0, /* "off" unless gateway.tls is set: then required */
	GW_BACKEND_TLS_OFF,       /* the gateway-backend hop in clear */
	GW_BACKEND_TLS_AUTO,      /* when the backend's FEAT lists AUTH TLS */
	GW_BACKEND_TLS_REQUIRED,  /* or the session is refused */
};

/* The SPSV gateway in front of a PASV/EPSV-only FTP server (src/gateway). */
struct gateway_config {
	bool enabled;
	struct strlist listen;  /* "ADDR:PORT" or "[V6]:PORT" */
	char *backend;          /* "HOST:PORT" of the legacy server */
	int max_sessions;       /* control sessions relayed at once, 200 */
	int max_unauthenticated; /* connections not yet logged in or joined, 64 */
	int login_timeout;      /* seconds to log in or join, 30 */
	int token_timeout;      /* seconds a DATACONN token lives, 60 */
	/* gateway.tls: explicit FTPS toward the clients (NULL cert: none). */
	char *tls_cert, *tls_key;
	struct strlist tls_implicit;  /* implicit FTPS listeners (TLS first) */
	enum tls_policy tls_policy;   /* optional (default), login, data */
	bool tls_require_reuse;       /* data connections resume the control's */
	enum gw_backend_tls backend_tls;
	char *backend_ca;             /* PEM CAs for the backend's certificate */
	bool backend_insecure;        /* its certificate not verified (said so) */
};

struct ferry_config {
	char *source;           /* file the config came from, or "command line" */
	bool from_file;         /* -f FILE: SIGHUP re-reads it */
	int workers;            /* 0: one per online CPU */
	bool foreground;        /* [-d] */
	char *log_file;         /* [-L] */
	int log_level;          /* [-x] 0-5, default 2 */
	int max_log_size;       /* [-g] MB, 1-1024; 0: no rolling */
	int max_log_count;      /* [-n] 1-1000, default 5 */
	char *pidfile;          /* [-P] */
	int priority;           /* [-N] nice value -20..19 */
	char *metrics_listen;   /* "ADDR:PORT" of the /metrics listener, or NULL */
	char *user;             /* [--user NAME[:GROUP]] service account; NULL: "ferry" */
	char *group;            /* NULL: the user's primary group */
	bool allow_root;        /* [--allow-root] may keep running as root */
	bool allow_unsafe;      /* [--allow-unsafe] start despite dangerous set-ups */
	bool allow_no_seccomp;  /* [--allow-no-seccomp] run where seccomp is missing */
	char *sandbox_probe;    /* [--sandbox-probe] tests only: "open:PATH", "exec:PATH" */
	struct proxy_config *proxies;
	size_t proxy_count;
	struct ftp_config ftp;
	struct gateway_config gateway;
};

/* Where a configuration error is: file (or "command line"), line and column
 * (0 when not applicable), the key or flag, and what is wrong. */
struct config_error {
	char file[256];
	int line;
	int column;
	char key[128];
	char msg[256];
};

/* What the command line asks ferryd to do. */
enum cli_action { CLI_RUN, CLI_HELP, CLI_VERSION, CLI_CHECK };

#endif
