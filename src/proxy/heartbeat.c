/* heartbeat.c — NAT traversal: a proxy with -H sends HB_REQ upstream every
 * -h seconds to hold a pinhole open; a proxy receiving one answers HB_RESP,
 * and a server proxy started with -s fp= takes the sender as downstream. */
#include <arpa/inet.h>
#include <string.h>
#include <sys/random.h>

#include "ferry/iface.h"
#include "ferry/log.h"
#include "internal.h"

static uint32_t nonce32(void)
{
	uint32_t n = 0;
	if (getrandom(&n, sizeof(n), 0) != sizeof(n))
		n = 0;
	return n;
}

static void reply(struct instance *in, const struct sockaddr *to, uint8_t auth)
{
	struct sockaddr_storage dst = { 0 };
	memcpy(&dst, to, addr_len(to));
	send_hb(in, &dst, UFTP_HB_RESP, auth, 0);
}

/* With -s fp= the sender must prove its key; verifying the signature needs
 * the proxy's crypto, so until then a signed request is refused, never
 * trusted. Without fp= every heartbeat is welcome. */
void heartbeat_request(struct instance *in, const struct pmsg *m,
		       const struct sockaddr *src)
{
	char who[64];
	(void)m;
	flog(LOG_LVL_INFO, "%s: received HB_REQ from %s", in->sh->pc->name,
	     addr_format(src, who, sizeof(who)));
	struct inst_shared *sh = in->sh;
	if (sh->pc->role != PROXY_SERVER || !sh->pc->dest_fingerprint) {
		reply(in, src, UFTP_HB_AUTH_OK);
		return;
	}
	flog(LOG_LVL_WARN, "%s: cannot verify the HB_REQ signature from %s: "
	     "signed heartbeats are not supported yet", sh->pc->name, who);
	reply(in, src, UFTP_HB_AUTH_FAILED);
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
 * operator behind a NAT follows the pinhole by these lines. */
void heartbeat_response(struct instance *in, const struct pmsg *m,
			const struct sockaddr *src)
{
	char who[64];
	uint8_t auth = m->decoded ? m->msg.u.hb_resp.auth : 0xff;
	flog(auth == UFTP_HB_AUTH_OK ? LOG_LVL_INFO : LOG_LVL_WARN,
	     "%s: received HB_RESP from %s: %s", in->sh->pc->name,
	     addr_format(src, who, sizeof(who)), auth_name(auth));
}

static void send_all(struct fe_worker *w, void *arg)
{
	struct instance *in = arg;
	uint32_t nonce = nonce32();
	for (size_t i = 0; i < in->sh->nhb; i++)
		send_hb(in, &in->sh->hb[i], UFTP_HB_REQ, 0, nonce);
	int secs = in->sh->pc->hb_interval > 0 ? in->sh->pc->hb_interval : 20;
	in->hb_timer = fe_timer_add(w, (uint64_t)secs * 1000, send_all, in);
}

/* Worker 0 sends for the instance; the first goes out at once. */
void heartbeat_start(struct instance *in)
{
	if (in->sh->nhb)
		in->hb_timer = fe_timer_add(in->pw->w, 0, send_all, in);
}
