/* ferry_ftp.h — what the files of ferry-ftp share: its exit codes, the
 * session (a control connection of the ftpc library and the chosen data
 * mode), error reporting, transfers, the progress bar and mirror. */
#ifndef FERRY_TOOLS_FERRY_FTP_H
#define FERRY_TOOLS_FERRY_FTP_H

#include <stdbool.h>
#include <stdint.h>

#include "ftpc.h"

#define FERRY_FTP_PROG "ferry-ftp"

/* Exit codes (man ferry-ftp(1)). */
enum {
	EX_OK = 0,
	EX_USAGE = 1,      /* bad command line */
	EX_CONNECT = 2,    /* could not reach the server */
	EX_LOGIN = 3,      /* login refused */
	EX_REMOTE = 4,     /* the server refused a file command (5xx on a file) */
	EX_LOCAL = 5,      /* a local file could not be read or written */
	EX_DATA = 6,       /* no data connection, or it broke (425, 426) */
	EX_PROTO = 7,      /* unexpected reply or connection lost */
	EX_PARTIAL = 8,    /* mirror: done, but some entries could not be copied */
	EX_TLS = 9,        /* FTPS refused or failed (certificate, handshake, PROT P) */
};

/* How the session uses TLS (RFC 4217). */
enum ftpc_cli_tls {
	TLS_OFF,           /* plain FTP */
	TLS_EXPLICIT,      /* --tls: AUTH TLS, and fail when refused */
	TLS_AUTO,          /* --tls-auto: AUTH TLS when accepted, else plain */
	TLS_IMPLICIT,      /* --implicit: TLS from the first byte */
};

struct client {
	struct ftpc_conn conn;
	enum ftpc_data_mode mode;
	enum ftpc_spsv_form form;
	bool progress;
	bool resume;              /* -c: go on from what a partial file holds */
	unsigned parallel;        /* -P: sessions of a mirror */
	/* where and as whom: a parallel mirror opens more sessions alike */
	const char *host, *port, *user, *pass;
	int timeout;
	bool verbose;
	enum ftpc_cli_tls tls;
	struct crypto_tls_ctx *tls_ctx;   /* shared by the sessions of -P */
	/* what was done, for the --json summary */
	uint64_t bytes;           /* data bytes moved (listings excluded) */
	unsigned files, skipped;
};

/* Connect, log in, binary type: EX_OK or the exit code of what failed
 * (already reported). */
int ftpc_cli_open(struct client *c);

/* "ferry-ftp: message" on stderr; returns code. */
int ftpc_cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "host", "host:port", "[v6]:port" split in place (port default "21"): 0 or -1. */
int ftpc_cli_split_host(char *arg, char **host, char **port);
/* `ferry-ftp bridge ...` (bridge_main.c): argv[0] is "bridge". */
int ftpc_bridge_main(int argc, char **argv);

/* ---- netrc.c: credentials from a .netrc ------------------------------------ */

struct ftpc_cli_netrc {
	char login[256], password[256];
};
/* The entry for host (a "machine", else "default"), with login user when
 * user is not NULL: true and *out filled, or false. Pure. */
bool ftpc_cli_netrc_find(const char *text, const char *host, const char *user,
			 struct ftpc_cli_netrc *out);
/* The same from a file: 1 found, 0 not (or no file), -1 an error already
 * reported (a password in a file others may read is refused, as ftp(1)). */
int ftpc_cli_netrc_load(const char *path, const char *host, const char *user,
			struct ftpc_cli_netrc *out);

/* The library does the talking. */
#define cmd(c, ...) ftpc_cmd(&(c)->conn, __VA_ARGS__)
#define REPLY(c) ((c)->conn.reply)

/* ---- transfer.c: one file or listing over a fresh data connection --------- */

/* Each returns EX_OK or the exit code of what failed (already reported). */
int ftpc_cli_get(struct client *c, const char *remote, const char *local);
int ftpc_cli_put(struct client *c, const char *local, const char *remote);
int ftpc_cli_ls(struct client *c, const char *dir);
/* A whole MLSD or LIST into a malloc'd string. */
int ftpc_cli_listing(struct client *c, const char *verb, const char *dir, char **out);

/* ---- progress.c ------------------------------------------------------------ */

struct progress {
	const char *name;
	uint64_t total, done;   /* total 0: unknown */
	uint64_t from;          /* a resumed transfer started here */
	double start, last;
	bool on;
};

double ftpc_cli_now(void);     /* CLOCK_MONOTONIC, seconds */
/* Redraws at most five times a second; final: the last time, with a newline. */
void ftpc_cli_progress_draw(struct progress *p, bool final);

/* ---- mirror.c -------------------------------------------------------------- */

/* mirror REMOTE LOCAL, or (up) mirror -R LOCAL REMOTE. */
int ftpc_cli_mirror(struct client *c, bool up, const char *from, const char *to);

/* ---- mirror_par.c: -P N, the files a walk found over N sessions ------------ */

struct ftpc_cli_jobs {
	struct ftpc_cli_job { char *from, *to; } *v;
	size_t n, cap;
};
/* false when out of memory (reported). */
bool ftpc_cli_job_add(struct ftpc_cli_jobs *q, const char *from, const char *to);
/* Runs every job on c->parallel new sessions; adds to c->files, bytes,
 * skipped. EX_OK, or the code that stopped every session. Frees q. */
int ftpc_cli_jobs_run(struct client *c, bool up, struct ftpc_cli_jobs *q);
void ftpc_cli_jobs_free(struct ftpc_cli_jobs *q);

/* ---- summary.c: --json ------------------------------------------------------ */

/* One JSON object on stdout: command, exit code and its name, files,
 * bytes, skipped, seconds, rate; listing (may be NULL) for ls. */
void ftpc_cli_json(const struct client *c, const char *command, int code, double seconds,
		   const char *listing);

#endif
