/* internal.h — what the proxy's files share: per-instance state (shared by
 * workers, or one per worker), groups and their clients, pending aggregates
 * and the proxy's decoded view of a message. */
#ifndef FERRY_PROXY_INTERNAL_H
#define FERRY_PROXY_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ferry/config.h"
#include "ferry/engine.h"
#include "ferry/peerlist.h"
#include "ferry/session.h"

/* ---- the proxy's view of a UFTP message -------------------------------- */

/* Message types of protocol.txt 5.3.1. */
enum {
	M_ANNOUNCE = 1, M_REGISTER = 2, M_CLIENT_KEY = 3, M_REG_CONF = 4,
	M_KEYINFO = 5, M_KEYINFO_ACK = 6, M_FILEINFO = 7, M_FILEINFO_ACK = 8,
	M_FILESEG = 9, M_DONE = 10, M_STATUS = 11, M_COMPLETE = 12,
	M_DONE_CONF = 13, M_HB_REQ = 14, M_HB_RESP = 15, M_KEY_REQ = 16,
	M_PROXY_KEY = 17, M_ENCRYPTED = 18, M_ABORT = 19, M_CONG_CTRL = 20,
	M_CC_ACK = 21, M__COUNT
};

struct tstamp {
	uint32_t sec, usec;
};

struct pmsg {
	const uint8_t *raw;         /* the whole datagram */
	size_t len;
	uint8_t func;               /* header function (ENCRYPTED stays so) */
	uint16_t seq;
	uint32_t src_id, group_id;
	uint8_t inst, grtt, gsize;
	union {
		struct {
			uint8_t flags, robust;
			uint16_t blocksize;
			bool encrypted;     /* carries EXT_ENC_INFO */
			struct sockaddr_storage pub, priv;   /* port 0 */
		} announce;
		struct { struct tstamp ts; } reg;
		struct { uint16_t file_id; uint8_t flags; struct tstamp ts; } fack;
		struct {
			uint16_t file_id, section;
			const uint8_t *naks;
			size_t naklen;
			const uint8_t *cc_ext;  /* EXT_TFMCC_ACK_INFO, whole, or NULL */
			size_t cc_extlen;
			uint16_t cc_rate;
		} status;
		struct { uint16_t file_id; uint8_t status; } complete;
		struct { uint8_t flags; uint32_t host; const char *text; size_t textlen; } abort;
	} u;
};

/* 0 or a negative reason; a failure is counted and the datagram dropped. */
int pmsg_decode(const uint8_t *data, size_t len, struct pmsg *m);
const char *pmsg_name(uint8_t func);
double grtt_seconds(uint8_t q);
double cc_rate_value(uint16_t q);

/* ---- instances ----------------------------------------------------------- */

/* Shared by all workers, read-only after start-up except where noted. */
struct inst_shared {
	const struct proxy_config *pc;
	unsigned index;
	uint32_t uid;                    /* network order, as in headers */
	struct sess_table *groups;
	struct peerlist clients, servers;
	struct sockaddr_storage hb[16];  /* -H targets */
	size_t nhb;
	unsigned join_if[64];            /* -I, or every multicast interface */
	size_t njoin_if;
	/* -s: the downstream address; with fp= it is learnt from a heartbeat,
	 * so it is guarded. */
	pthread_mutex_t down_lock;
	struct sockaddr_storage down;
	bool down_known;
};

struct proxy_worker;

struct proxy_shared {
	struct proxy_worker **workers;   /* by worker index, set at start-up */
	unsigned nworkers;
	size_t count;
	struct inst_shared inst[];
};

/* A multicast address joined by one worker, counted by its users (servers
 * may reuse a private address across sessions). */
struct membership {
	struct membership *next;
	struct sockaddr_storage addr;
	unsigned users;
};

/* One instance on one worker. */
struct instance {
	struct inst_shared *sh;
	struct proxy_worker *pw;
	struct fe_udp *v4, *v6;
	struct membership *joined;       /* private groups joined by this worker */
	struct group *groups;            /* owned here, for shutdown */
	struct fe_timer *hb_timer;
	uint64_t rx, dropped, forwarded, handed_off;
};

struct proxy_worker {
	struct fe_worker *w;
	struct proxy_shared *shared;
	size_t count;
	struct instance inst[];
};

/* ---- groups, owned by one worker ------------------------------------------ */

struct pending;

struct client {
	uint32_t uid;                    /* network order */
	struct pending *pending;         /* the aggregate it was last put in */
	bool done;                       /* sent COMPLETE for file 0 */
};

struct group {
	struct group *next;              /* instance's owned list */
	struct instance *in;
	uint32_t group_id, server_id;    /* server_id in network order */
	uint8_t inst;
	struct sockaddr_storage up;      /* where the ANNOUNCE came from */
	struct sockaddr_storage pub, priv;
	bool joined;
	double grtt;
	uint8_t grtt_q, gsize_q, robust;
	uint16_t blocksize;
	bool encrypted;
	uint16_t seq_up;
	struct uid_map by_uid;
	struct client **clients;
	size_t nclients, capclients;
	struct pending *pend;
	struct fe_timer *flush_timer, *idle_timer;
	uint64_t last_heard;             /* ms, last message from the server */
};

/* group.c */
struct group *group_create(struct instance *in, const struct pmsg *m,
			   const struct sockaddr *src);
void group_destroy(struct group *g);
void group_touch(struct group *g);              /* reset the idle timeout */
void group_set_grtt(struct group *g, uint8_t q);
struct client *group_client(struct group *g, uint32_t uid, bool add);
int membership_join(struct instance *in, const struct sockaddr_storage *grp,
		    const struct sockaddr_storage *source);
void membership_leave(struct instance *in, const struct sockaddr_storage *grp);

/* forward.c */
int send_to(struct instance *in, const struct sockaddr_storage *dst,
	    const void *data, size_t len);
void forward_down(struct group *g, const struct pmsg *m);
void forward_up(struct instance *in, const struct sockaddr_storage *up,
		const struct pmsg *m);

/* aggregate.c */
void aggregate_add(struct group *g, struct client *c, const struct pmsg *m);
void aggregate_flush_all(struct group *g);
void aggregate_free(struct group *g);

/* aggregate.c accessors, for the message builders */
struct tstamp aggregate_timestamp(const struct pending *p);
uint16_t pending_file(const struct pending *p);
uint16_t pending_section(const struct pending *p);
uint8_t pending_status(const struct pending *p);
bool pending_partial(const struct pending *p);
const uint8_t *pending_naks(const struct pending *p, size_t *len);
const uint8_t *pending_cc_ext(const struct pending *p, size_t *len);

/* upstream.c: the proxy's own messages */
void send_aggregate(struct group *g, uint8_t func, const struct pending *p,
		    const uint32_t *ids, size_t nids);
void send_abort_up(struct group *g, uint32_t host, const char *text);
void send_abort_down(struct group *g, uint32_t host, const char *text, bool current);
/* Into buf (at least 64 bytes); the length, 0 if it did not fit. */
size_t build_hb_req(uint8_t *buf, size_t cap, uint32_t uid, uint32_t nonce);
size_t build_hb_resp(uint8_t *buf, size_t cap, uint32_t uid, uint8_t auth,
		     uint32_t nonce);

/* dispatch.c */
void proxy_intake(struct instance *in, const uint8_t *data, size_t len,
		  const struct sockaddr *src);

/* heartbeat.c */
void heartbeat_request(struct instance *in, const struct pmsg *m,
		       const struct sockaddr *src);
void heartbeat_response(struct instance *in, const struct pmsg *m,
			const struct sockaddr *src);
void heartbeat_start(struct instance *in);

#endif
