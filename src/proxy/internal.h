/* internal.h — what the proxy's files share: per-instance state (shared by
 * workers, or one per worker), groups and their clients, pending aggregates
 * and the proxy's decoded view of a message. */
#ifndef FERRY_PROXY_INTERNAL_H
#define FERRY_PROXY_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ferry/config.h"
#include "ferry/crypto.h"
#include "ferry/engine.h"
#include "ferry/proxy.h"
#include "peerlist.h"
#include "table.h"
#include "ferry/uftp.h"

/* ---- the proxy's view of a UFTP message -------------------------------- */

/* The header always; the body only for the messages a proxy acts on (the
 * rest is forwarded as it came, after a size check). */
struct pmsg {
	const uint8_t *raw;         /* the whole datagram */
	size_t len;
	struct uftp_hdr hdr;
	bool decoded;               /* msg.u is valid */
	struct uftp_msg msg;
};

/* 0 or -(enum uftp_err); a failure is counted and the datagram dropped. */
int proxy_pmsg_decode(const uint8_t *data, size_t len, struct pmsg *m);
bool proxy_pmsg_addr(const struct uftp_announce *a, bool priv,
	       struct sockaddr_storage *out);

/* ---- instances ----------------------------------------------------------- */

enum { HOT_SLOTS = 64, PROXY_MAX_PUB = 16 };

/* Groups alive per source address are counted in this many buckets
 * (hashed by IP address; a collision only makes a limit stricter). */
enum { SOURCE_BUCKETS = 4096 };

/* An instance's own keys (-k/-K, or an ephemeral RSA key) and a response
 * proxy's ECDH key: made before the workers start, read-only after. */
enum { PROXY_MAX_KEYS = 32 };
struct proxy_keys {
	struct crypto_key *key[PROXY_MAX_KEYS];
	size_t n;
	struct crypto_key *dh;           /* NULL: no -e / -r:curve */
};
/* 0 or FERRY_EXIT_CRYPTO / _PARAM, the reason logged with the file name. */
int proxy_keys_load(const struct proxy_config *pc, struct proxy_keys *pk);
void proxy_keys_free(struct proxy_keys *pk);

struct inst_shared;
/* What is wrong with an encrypted ANNOUNCE for a client or response proxy,
 * in uftpproxyd's words (NULL: nothing found before public-key work). */
const char *proxy_enc_check(const struct inst_shared *sh, uint32_t server,
			    const struct uftp_enc_info *e);

struct client_list {
	struct client_list *older;
	struct peerlist l;
};

/* Shared by all workers, read-only after start-up except where noted. */
struct inst_shared {
	const struct proxy_config *pc;
	unsigned index;
	uint32_t uid;
	struct proxy_table *groups;
	struct peerlist clients, servers;
	/* -C as the last reload read it (NULL: `clients`). Workers read it with
	 * one atomic load; a replaced list stays until exit, since a worker may
	 * still be reading it and reloads are rare. */
	struct client_list *clients_now;
	/* -S likewise (NULL: `servers`); a reload that changes it also makes
	 * each worker re-join its public addresses for the new sources. */
	struct client_list *servers_now;
	struct proxy_keys keys;
	struct sockaddr_storage hb[16];  /* -H targets */
	size_t nhb;
	unsigned join_if[64];            /* -I, or every multicast interface */
	size_t njoin_if;
	/* -s: the downstream address. -s dest sets it before the workers
	 * start (down_static: read without the lock, once per datagram); with
	 * fp= it is learnt from a heartbeat, so it is guarded. */
	pthread_mutex_t down_lock;
	struct sockaddr_storage down;
	bool down_known, down_static;
	/* -s fp=: the key's fingerprint, and the nonce the next signed
	 * HB_REQ must carry (under down_lock; never 0, the unsigned one's). */
	bool down_fp_set;
	uint8_t down_fp[CRYPTO_FP_LEN];
	uint32_t hb_nonce;
	/* The first key's blob, sent in a signed HB_REQ. */
	uint8_t hb_blob[CRYPTO_BLOB_MAX];
	size_t hb_bloblen;
	/* Group bounds (issue 9): alive in all, alive per source bucket. */
	_Atomic unsigned groups_alive;
	_Atomic unsigned *per_source;    /* SOURCE_BUCKETS counters */
	_Atomic unsigned long long groups_refused;
	/* A response proxy's PROXY_KEY (proxykey.c), made at start-up; the
	 * time it last went out is the one field workers write. */
	uint8_t *proxy_key;
	size_t proxy_key_len;
	struct sockaddr_storage pub[PROXY_MAX_PUB];
	size_t npub;
	_Atomic uint64_t proxy_key_sent_ms;
};

struct proxy_worker;

/* droplog.c: one per kind of drop, per instance and worker. */
struct droplog {
	uint64_t last_ms, held, total;
	bool logged;
};
bool proxy_droplog_due(struct droplog *d, uint64_t now_ms, uint64_t *more);

struct instance;
/* stats.c: counts one datagram not sent on, under its reason. */
void proxy_drop(struct instance *in, enum proxy_drop_reason why);

enum drop_kind {
	DROP_NO_DOWNSTREAM, DROP_KEY_REQ, DROP_GROUP_LIMIT, DROP_SOURCE_LIMIT,
	DROP_NOT_LISTED, DROP_UNKNOWN_GROUP, DROP_KINDS
};

struct proxy_shared {
	struct proxy_worker **workers;   /* by worker index, set at start-up */
	struct fe_engine *engine;        /* for a reload's re-joins */
	unsigned nworkers;
	size_t count;
	struct inst_shared inst[];
};

/* A multicast address joined by one worker, counted by its users (servers
 * may reuse a private address across sessions). */
struct membership {
	struct membership *next;
	struct sockaddr_storage addr;
	struct sockaddr_storage source;  /* SSM source; family 0: any source */
	unsigned users;
	struct msock *on;                /* the extra socket holding it, or NULL:
					  * the instance's own (v4/v6) */
};

/* A receive socket opened beside the instance's own when the kernel's
 * per-socket membership limit (net.ipv4.igmp_max_memberships, 20 by
 * default) is reached; closed when its last membership goes. */
struct msock {
	struct msock *next;
	struct fe_udp *s;
	int family;
	unsigned members;
};

/* One instance on one worker. */
struct instance {
	struct inst_shared *sh;
	struct proxy_worker *pw;
	struct fe_udp *v4, *v6;
	struct membership *joined;       /* private groups joined by this worker */
	struct msock *msocks;            /* extra sockets holding memberships */
	struct group *groups;            /* owned here, for shutdown */
	struct fe_timer *hb_timer;
	bool hb_signing, hb_verifying;   /* a heartbeat pool job in flight */
	/* Groups this worker owns, by hash: a flood's datagrams find their
	 * group without the shared table's lock. */
	struct group *hot[HOT_SLOTS];
	uint64_t rx, dropped, forwarded, handed_off, aggregates;
	uint64_t dropped_by[PROXY_DROP_REASONS];   /* proxy_drop() only */
	uint64_t kx_started, kx_up[PROXY_KX_RESULTS], kx_clients[PROXY_KX_RESULTS];
	struct droplog drops[DROP_KINDS];
	struct parked *parked;           /* answers that came before their ANNOUNCE */
	size_t nparked;
	struct fe_timer *park_timer;
	uint64_t park_due;               /* when park_timer fires */
};

struct proxy_worker {
	struct fe_worker *w;
	struct proxy_shared *shared;
	size_t count;
	struct instance inst[];
};

/* ---- groups, owned by one worker ------------------------------------------ */

struct pending;

/* The four answers a proxy aggregates, as an index. */
enum { AGG_REGISTER, AGG_FILEINFO_ACK, AGG_STATUS, AGG_COMPLETE, AGG_KINDS };

struct client {
	uint32_t uid;
	/* Per kind, the serial of the aggregate it was last put in: serials are
	 * never reused, so a freed aggregate needs no clean-up here. */
	uint32_t in[AGG_KINDS];
};

enum { CLIENT_CHUNK = 1024 };

struct group {
	struct group *next;              /* instance's owned list */
	struct instance *in;
	uint32_t group_id, server_id;
	uint8_t inst;
	struct sockaddr_storage up;      /* where the ANNOUNCE came from */
	struct sockaddr_storage pub, priv;
	bool joined;
	bool ssm;                        /* joined source-specifically (-S) */
	double grtt;
	uint8_t grtt_q, gsize_q, robust;
	uint16_t blocksize;
	uint16_t seq_up;
	struct uid_map by_uid;
	struct client **chunks;          /* clients, CLIENT_CHUNK a chunk */
	size_t nclients, nchunks;
	struct pending *pend;
	uint32_t pend_serial;            /* last aggregate serial handed out */
	struct fe_timer *flush_timer, *idle_timer;
	uint64_t last_heard;             /* ms, last message from the server */
	unsigned source_bucket;          /* counted in sh->per_source[] */
	bool counted;
	struct kx_session *kx;           /* an encrypted session's keys, or NULL */
};

/* group.c */
struct group *proxy_group_create(struct instance *in, const struct pmsg *m,
			   const struct sockaddr *src);
void proxy_group_destroy(struct group *g);
void proxy_group_touch(struct group *g);              /* reset the idle timeout */
void proxy_group_set_grtt(struct group *g, uint8_t q);
struct client *proxy_group_client(struct group *g, uint32_t uid, bool add);

/* membership.c: multicast memberships of a worker, counted by users, on
 * the instance's socket or, past the kernel's per-socket limit, on extra
 * ones. 0 or -errno. */
int proxy_membership_join(struct instance *in, const struct sockaddr_storage *grp,
		    const struct sockaddr_storage *source);
void proxy_membership_leave(struct instance *in, const struct sockaddr_storage *grp,
		      const struct sockaddr_storage *source);

/* sockets.c: one more receive socket on the instance's port (logged if not). */
struct fe_udp *proxy_socket_open(struct instance *in, int family);

/* kxsession.c: a client or response proxy's encrypted session */
struct kx_session;
int proxy_kxs_start(struct group *g, const struct pmsg *m);  /* 0 or -1 */
/* Whether an ANNOUNCE for g's group ID is another session's (its server
 * restarted with the same ID): its encryption differs from g's. */
bool proxy_kxs_new_session(const struct group *g, const struct pmsg *m);
void proxy_kxs_end(struct group *g);             /* from proxy_group_destroy */
/* The server's ANNOUNCE, KEYINFO and REG_CONF, and under KEYEX signatures
 * its ENCRYPTED messages, re-signed (true: handled, and the group may be
 * gone); false: forward as usual. */
bool proxy_kxs_down(struct group *g, const struct pmsg *m);
/* A client's REGISTER, CLIENT_KEY and ENCRYPTED answers; false: the
 * usual handler. */
bool proxy_kxs_up(struct group *g, const struct pmsg *m);
/* An aggregate for the server with our key info, or sealed; length or -1.
 * 0: under KEYEX signatures the helper pool signs it and sends it itself
 * (n clients in it, for the log). */
long proxy_kxs_encode_up(struct group *g, struct uftp_msg *m, size_t n, uint8_t *buf,
			 size_t cap);
void proxy_kxs_after_register(struct group *g);  /* our CLIENT_KEY, if asked */

/* dispatch.c */
void proxy_hot_forget(struct instance *in, const struct group *g);

/* forward.c */
/* The server proxy's downstream address into out (NULL: only whether it
 * is known); false while unknown. */
bool proxy_downstream(struct inst_shared *sh, struct sockaddr_storage *out);
int proxy_send_to(struct instance *in, const struct sockaddr_storage *dst,
	    const void *data, size_t len);
void proxy_forward_down(struct group *g, const struct pmsg *m);
void proxy_forward_up(struct instance *in, const struct sockaddr_storage *up,
		const struct pmsg *m);

/* aggregate.c */
void proxy_aggregate_add(struct group *g, struct client *c, const struct uftp_msg *m);
void proxy_aggregate_flush_all(struct group *g);
/* The aggregate of func (REGISTER: the only one of its kind) sent now. */
void proxy_aggregate_flush_func(struct group *g, uint8_t func);
/* c waits in the aggregate of func (REGISTER: the only one of its kind),
 * not yet sent. */
bool proxy_aggregate_holds(const struct group *g, const struct client *c, uint8_t func);
void proxy_aggregate_free(struct group *g);

/* aggregate.c accessors, for the message builders */
/* The message an aggregate becomes (body only; the list is set by the
 * sender). */
void proxy_aggregate_message(const struct pending *p, struct uftp_msg *out,
		       const uint32_t **ids, size_t *nids);

/* upstream.c: the proxy's own messages */
void proxy_send_up(struct group *g, struct uftp_msg *m, const uint32_t *ids, size_t n);
void proxy_send_abort_up(struct group *g, uint32_t host, const char *text);
void proxy_send_abort_to(struct group *g, uint32_t host, const char *text,
		   const struct sockaddr *to);
void proxy_send_abort_down(struct group *g, uint32_t host, const char *text, bool current);
void proxy_send_hb_req(struct instance *in, const struct sockaddr_storage *to,
		 const struct uftp_hb_req *req);
void proxy_send_hb_resp(struct instance *in, const struct sockaddr_storage *to,
		  uint8_t auth, uint32_t nonce);

/* dispatch.c */
void proxy_park_free(struct instance *in);
void proxy_intake(struct instance *in, const uint8_t *data, size_t len,
		  const struct sockaddr *src);

/* proxykey.c: a response proxy's PROXY_KEY */
int proxy_key_prepare(struct inst_shared *sh);   /* 0 or an exit code */
void proxy_key_request(struct instance *in, const struct sockaddr *src);

/* heartbeat.c */
void proxy_heartbeat_request(struct instance *in, const struct pmsg *m,
		       const struct sockaddr *src);
void proxy_heartbeat_response(struct instance *in, const struct pmsg *m,
			const struct sockaddr *src);
void proxy_heartbeat_start(struct instance *in);
/* 0, or -1 when fp (-s fp=) is not 20 hex pairs joined by ':'. */
int proxy_hb_parse_fp(const char *fp, uint8_t out[CRYPTO_FP_LEN]);
uint32_t proxy_hb_nonce(void);

/* hbauth.c: the public-key work of signed heartbeats, on the helper pool.
 * Answer a challenge from -H proxy `to` (our first key signs nonce). */
void proxy_hb_answer_challenge(struct instance *in,
			       const struct sockaddr_storage *to, uint32_t nonce);
/* -s fp=: check a HB_REQ carrying the current nonce; the answer (OK and
 * the sender as downstream, or AUTH_FAILED) goes out when done. */
void proxy_hb_verify(struct instance *in, const struct sockaddr *src,
		     const struct uftp_hb_req *req);

/* The -C list in force (shared.c): the newest a reload read. */
const struct peerlist *proxy_client_list(const struct inst_shared *sh);
const struct peerlist *proxy_server_list(const struct inst_shared *sh);
/* sockets.c: on worker w, leaves the instance's public addresses and joins
 * them again for the server list now in force (a reload changed -S). */
void proxy_rejoin_public(struct fe_worker *w, struct instance *in);

#endif
