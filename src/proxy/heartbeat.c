/* heartbeat.c — NAT traversal: a proxy with -H sends HB_REQ upstream every
 * -h seconds to hold a pinhole open and answers a challenge with a signed
 * one; a proxy receiving one answers HB_RESP, and a server proxy started
 * with -s fp= challenges unknown senders (the public-key work: hbauth.c). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "ferry/base.h"
#include "internal.h"

/* Never 0: that is the nonce of every unsigned HB_REQ. */
uint32_t proxy_hb_nonce(void)
{
	uint32_t n = 0;
	while (n == 0)
		if (getrandom(&n, sizeof(n), 0) != sizeof(n))
			n = 0x5a5a5a5a;
	return n;
}

int proxy_hb_parse_fp(const char *fp, uint8_t out[CRYPTO_FP_LEN])
{
	for (size_t i = 0; i < CRYPTO_FP_LEN; i++, fp += 3) {
		if (!isxdigit((unsigned char)fp[0]) || !isxdigit((unsigned char)fp[1]) ||
		    fp[2] != (i + 1 < CRYPTO_FP_LEN ? ':' : '\0'))
			return -1;
		char hex[3] = { fp[0], fp[1], 0 };
		out[i] = (uint8_t)strtoul(hex, NULL, 16);
	}
	return 0;
}

static bool same_endpoint(const struct sockaddr *a, const struct sockaddr_storage *b)
{
	return fb_addr_same_ip(a, (const struct sockaddr *)b) &&
	       fb_addr_port(a) == fb_addr_port((const struct sockaddr *)b);
}

static void reply(struct instance *in, const struct sockaddr *to, uint8_t auth,
		  uint32_t nonce)
{
	struct sockaddr_storage dst = { 0 };
	memcpy(&dst, to, fb_addr_len(to));
	proxy_send_hb_resp(in, &dst, auth, nonce);
}

/* protocol.txt 4: the established downstream is welcome as it is; any
 * other sender gets the current nonce to sign, and a request carrying that
 * nonce is verified off the worker. Without fp= every heartbeat is welcome. */
void proxy_heartbeat_request(struct instance *in, const struct pmsg *m,
		       const struct sockaddr *src)
{
	char who[64];
	struct inst_shared *sh = in->sh;
	flog(LOG_LVL_INFO, "%s: received HB_REQ from %s", sh->pc->name,
	     fb_addr_format(src, who, sizeof(who)));
	if (sh->pc->role != PROXY_SERVER || !sh->down_fp_set) {
		reply(in, src, UFTP_HB_AUTH_OK, 0);
		return;
	}
	if (!m->decoded)
		return;
	pthread_mutex_lock(&sh->down_lock);
	bool same = sh->down_known && same_endpoint(src, &sh->down);
	uint32_t want = sh->hb_nonce;
	pthread_mutex_unlock(&sh->down_lock);
	if (same)
		reply(in, src, UFTP_HB_AUTH_OK, 0);
	else if (m->msg.u.hb_req.nonce != want)
		reply(in, src, UFTP_HB_AUTH_CHALLENGE, want);
	else
		proxy_hb_verify(in, src, &m->msg.u.hb_req);
}

static const char *auth_name(uint8_t auth)
{
	switch (auth) {
	case UFTP_HB_AUTH_OK: return "accepted";
	case UFTP_HB_AUTH_FAILED: return "authentication failed";
	case UFTP_HB_AUTH_CHALLENGE: return "challenge (a signed heartbeat is wanted)";
	default: return "unknown result";
	}
}

/* The answer to our HB_REQ and what it said, at the default level: an
 * operator behind a NAT follows the pinhole by these lines. A challenge
 * from one of our -H proxies is answered at once, signed with the first
 * key (as uftpproxyd does). */
void proxy_heartbeat_response(struct instance *in, const struct pmsg *m,
			const struct sockaddr *src)
{
	char who[64];
	struct inst_shared *sh = in->sh;
	uint8_t auth = m->decoded ? m->msg.u.hb_resp.auth : 0xff;
	flog(auth == UFTP_HB_AUTH_OK ? LOG_LVL_INFO : LOG_LVL_WARN,
	     "%s: received HB_RESP from %s: %s", sh->pc->name,
	     fb_addr_format(src, who, sizeof(who)), auth_name(auth));
	if (auth != UFTP_HB_AUTH_CHALLENGE)
		return;
	for (size_t i = 0; i < sh->nhb; i++)
		if (same_endpoint(src, &sh->hb[i])) {
			proxy_hb_answer_challenge(in, &sh->hb[i], m->msg.u.hb_resp.nonce);
			return;
		}
	flog(LOG_LVL_WARN, "%s: challenge from %s ignored: not a -H proxy",
	     sh->pc->name, who);
}

static void send_all(struct fe_worker *w, void *arg)
{
	struct instance *in = arg;
	struct uftp_hb_req req = { 0 };
	for (size_t i = 0; i < in->sh->nhb; i++)
		proxy_send_hb_req(in, &in->sh->hb[i], &req);
	int secs = in->sh->pc->hb_interval > 0 ? in->sh->pc->hb_interval : 20;
	in->hb_timer = fe_timer_add(w, (uint64_t)secs * 1000, send_all, in);
}

/* Worker 0 sends for the instance; the first goes out at once. */
void proxy_heartbeat_start(struct instance *in)
{
	if (in->sh->nhb)
		in->hb_timer = fe_timer_add(in->pw->w, 0, send_all, in);
}
