/* config_priv.h — helpers shared by the three config files (defaults, value
 * syntax checks, list handling); not part of the public config API. */
#ifndef FERRY_CONFIG_PRIV_H
#define FERRY_CONFIG_PRIV_H

#include "ferry/daemon.h"

/* Ranges shared by the flags, the JSON schema and daemon_validate, so the
 * three can never disagree. */
#define PORT_MIN 1
#define PORT_MAX 65535
#define PASV_PORT_MIN 1024   /* ftp.passive_ports: never a privileged port */
#define TTL_MIN 1
#define TTL_MAX 255
#define DSCP_MIN 0
#define DSCP_MAX 63
#define PRIO_MIN (-20)
#define PRIO_MAX 19
#define LOGLVL_MIN 0
#define LOGLVL_MAX 5
#define HBINT_MIN 1
#define HBINT_MAX 3600       /* uftpproxyd refuses longer intervals */
#define LOGSIZE_MIN 1
#define LOGSIZE_MAX 1024
#define LOGCOUNT_MIN 1
#define LOGCOUNT_MAX 1000
#define UDPBUF_MIN 65536
#define UDPBUF_MAX 104857600
#define WORKERS_MIN 1
#define GROUPS_MIN 1
#define GROUPS_MAX 1000000
#define GROUP_IDLE_MIN 10
#define GROUP_IDLE_MAX 86400
#define DEFAULT_MAX_GROUPS 4096
#define DEFAULT_MAX_GROUPS_PER_SOURCE 256
#define DEFAULT_GROUP_IDLE_MAX 600
#define WORKERS_MAX 256
#define RSA_BITS_MIN 512
#define RSA_BITS_MAX 2048    /* uftp refuses larger RSA keys */

#define DEFAULT_PORT 1044
#define DEFAULT_PUB_MCAST "230.4.4.1"
#define DEFAULT_FTP_LISTEN "127.0.0.1:2121"
#define CLI_SOURCE "command line"
/* Not in /tmp, unlike uftpproxyd's: a world-writable directory lets anyone
 * plant a symlink or a file of their own where the log will be. */
#define DEFAULT_LOG_FILE "/var/log/ferryd.log"
#define UFTPPROXYD_LOG_FILE "/var/log/uftpproxyd.log"

/* Proxy defaults, release, and the defaults that depend on other fields. */
void daemon_proxy_init(struct proxy_config *p);
void daemon_proxy_free(struct proxy_config *p);
int daemon_proxy_finish(struct proxy_config *p);
void daemon_ftp_user_free(struct ftp_user *u);

/* Heap helpers: 0 on success, -1 when out of memory. */
int daemon_strdup(char **dst, const char *s);
int daemon_strlist_push(struct strlist *l, const char *s);
int daemon_strlist_push_csv(struct strlist *l, const char *csv);
void daemon_strlist_free(struct strlist *l);
/* Appends s, "host[:port]", to p's heartbeat servers: 0, -1 when out of
 * memory, 1 when s is no host[:port] (see daemon_parse_hostport). */
int daemon_hb_push(struct proxy_config *p, const char *s);

/* Strict value syntax. Numbers must be whole strings, no trailing junk. */
bool daemon_parse_long(const char *s, long *out);
bool daemon_parse_dscp(const char *s, int *out);           /* decimal or 0x hex */
bool daemon_parse_uid(const char *s, uint32_t *out);       /* [0x]1-8 hex digits */
bool daemon_parse_hostport(const char *s, struct hostport *out); /* allocates host */
bool daemon_valid_fingerprint(const char *s);              /* 20 hex pairs, ':' */
bool daemon_valid_curve(const char *s);
bool daemon_valid_keyspec(const char *s);                  /* rsa:LEN | ec:CURVE */
bool daemon_valid_listen(const char *s);                   /* ADDR:PORT, [V6]:PORT */
bool daemon_valid_multicast(const char *s);                /* IPv4/IPv6 literal */
bool daemon_valid_hostname(const char *s);

void daemon_set_error(struct config_error *err, const char *file, int line,
		      int column, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

#endif
