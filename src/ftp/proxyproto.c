/* proxyproto.c — the PROXY protocol (HAProxy's v1 text and v2 binary
 * headers) on FTP listeners: a connection from a configured balancer must
 * open with a header naming the real client, which then stands for the
 * peer in every check and log; nobody else may send one. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/base.h"
#include "ftp_internal.h"

enum {
	PP_V1_MAX = 107,            /* "PROXY TCP6 <39> <39> 65535 65535\r\n" */
	PP_V2_FIXED = 16,
	PP_MAX = 1024,              /* v2 with TLVs: more is refused */
	PP_TIMEOUT_MS = 5000,
};

static const uint8_t v2_sig[12] = { '\r', '\n', '\r', '\n', 0, '\r', '\n',
				    'Q', 'U', 'I', 'T', '\n' };

static int v1_addr(const char *text, int family, uint16_t port,
		   struct sockaddr_storage *out)
{
	if (fb_addr_parse(text, port, out) < 0)
		return -EINVAL;
	return out->ss_family == family ? 0 : -EINVAL;
}

/* "PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n" or "PROXY UNKNOWN ...\r\n". */
static int parse_v1(const uint8_t *p, size_t n, struct ftp_proxy_hdr *h)
{
	const uint8_t *crlf = NULL;
	for (size_t i = 0; i + 1 < n && i < PP_V1_MAX; i++)
		if (p[i] == '\r' && p[i + 1] == '\n') {
			crlf = p + i;
			break;
		}
	if (!crlf)
		return n >= PP_V1_MAX ? -EINVAL : 0;
	char line[PP_V1_MAX + 1];
	size_t len = (size_t)(crlf - p);
	memcpy(line, p, len);
	line[len] = '\0';
	h->len = len + 2;
	h->local = false;
	if (!strncmp(line, "PROXY UNKNOWN", 13)) {
		h->local = true;       /* the balancer's own connection */
		return 1;
	}
	char proto[8], src[48], dst[48];
	unsigned sport, dport;
	char extra;
	if (sscanf(line, "PROXY %7s %47s %47s %u %u%c", proto, src, dst, &sport, &dport,
		   &extra) != 5 || sport > 65535 || dport > 65535)
		return -EINVAL;
	int family = !strcmp(proto, "TCP4") ? AF_INET : !strcmp(proto, "TCP6") ? AF_INET6 : 0;
	if (!family || v1_addr(src, family, (uint16_t)sport, &h->src))
		return -EINVAL;
	return 1;
}

/* 12-byte signature, version/command, family/protocol, length, addresses,
 * then TLVs (skipped). */
static int parse_v2(const uint8_t *p, size_t n, struct ftp_proxy_hdr *h)
{
	if (n < PP_V2_FIXED)
		return 0;
	unsigned ver_cmd = p[12], fam = p[13];
	size_t len = (size_t)p[14] << 8 | p[15];
	if ((ver_cmd >> 4) != 2 || (ver_cmd & 15) > 1 || PP_V2_FIXED + len > PP_MAX)
		return -EINVAL;
	if (n < PP_V2_FIXED + len)
		return 0;
	h->len = PP_V2_FIXED + len;
	h->local = (ver_cmd & 15) == 0;
	if (h->local)
		return 1;
	const uint8_t *a = p + PP_V2_FIXED;
	memset(&h->src, 0, sizeof(h->src));
	if (fam == 0x11 && len >= 12) {            /* TCP over IPv4 */
		struct sockaddr_in *s = (struct sockaddr_in *)&h->src;
		s->sin_family = AF_INET;
		memcpy(&s->sin_addr, a, 4);
		memcpy(&s->sin_port, a + 8, 2);
		return 1;
	}
	if (fam == 0x21 && len >= 36) {            /* TCP over IPv6 */
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&h->src;
		s->sin6_family = AF_INET6;
		memcpy(&s->sin6_addr, a, 16);
		memcpy(&s->sin6_port, a + 32, 2);
		return 1;
	}
	if ((fam & 0xf0) == 0) {                   /* AF_UNSPEC: as LOCAL */
		h->local = true;
		return 1;
	}
	return -EINVAL;
}

int ftp_proxy_parse(const uint8_t *p, size_t n, struct ftp_proxy_hdr *h)
{
	size_t k = n < sizeof(v2_sig) ? n : sizeof(v2_sig);
	if (!memcmp(p, v2_sig, k))
		return k < sizeof(v2_sig) ? 0 : parse_v2(p, n, h);
	k = n < 6 ? n : 6;
	if (!memcmp(p, "PROXY ", k))
		return k < 6 ? 0 : parse_v1(p, n, h);
	return -EINVAL;
}

bool ftp_proxy_trusted(const struct ftp_server *srv, const struct sockaddr_storage *peer)
{
	for (size_t i = 0; i < srv->nbalancers; i++)
		if (fb_prefix_match(&srv->balancers[i], peer))
			return true;
	return false;
}

/* ---- the stage before a session: read the header ------------------------ */

struct pp_wait {
	struct pp_wait *prev, *next;   /* the worker's, for ftp_proxy_worker_fini */
	struct ftp_worker *fw;
	const struct ftp_listen_opt *lo;
	struct fe_conn *c;
	struct fe_timer *timer;
	size_t len;
	bool done;
	uint8_t buf[PP_MAX];
};

static void pp_unlink(struct pp_wait *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		w->fw->pp_waiting = w->next;
	if (w->next)
		w->next->prev = w->prev;
}

/* The worker stops: the engine drops the connections without on_close and
 * their timers with them, so what waits for a header is freed here. */
void ftp_proxy_worker_fini(struct ftp_worker *fw)
{
	while (fw->pp_waiting) {
		struct pp_wait *w = fw->pp_waiting;
		pp_unlink(w);
		fe_timer_cancel(fw->w, w->timer);
		ftp_server_release_connection(fw->srv);
		free(w);
	}
}

static void pp_refuse(struct pp_wait *w, const char *why)
{
	char host[64];
	flog(LOG_LVL_WARN, "ftp: connection from balancer %s refused: %s",
	     fb_addr_text(fe_conn_peer(w->c), host, sizeof(host)), why);
	w->done = true;
	fe_conn_close(w->c);
}

/* The service stops: what still waits for its header is closed now (each
 * on_close frees its wait), not left to hold the drain for 5 s. */
void ftp_proxy_worker_stop(struct ftp_worker *fw)
{
	for (struct pp_wait *w = fw->pp_waiting, *next; w; w = next) {
		next = w->next;      /* an engine may run on_close at once: w freed */
		if (!w->done)
			pp_refuse(w, "the service is stopping");
	}
}

static void pp_timeout(struct fe_worker *wk, void *arg)
{
	struct pp_wait *w = arg;
	(void)wk;
	w->timer = NULL;
	pp_refuse(w, "no PROXY header within 5 s");
}

static void pp_data(struct fe_conn *c, const uint8_t *data, size_t len, void *arg)
{
	struct pp_wait *w = arg;
	if (w->done)
		return;
	size_t take = len < sizeof(w->buf) - w->len ? len : sizeof(w->buf) - w->len;
	memcpy(w->buf + w->len, data, take);
	w->len += take;
	struct ftp_proxy_hdr h;
	int r = ftp_proxy_parse(w->buf, w->len, &h);
	if (r == 0 && take == len)
		return;                               /* wait for the rest */
	if (r <= 0) {
		pp_refuse(w, r == 0 ? "header too long" : "not a PROXY protocol header");
		return;
	}
	w->done = true;
	if (h.local) {           /* a health check: nothing to serve */
		fe_conn_close(c);
		return;
	}
	/* Bytes after the header (and beyond buf) belong to the session,
	 * which takes the connection over (and counts it itself). */
	struct ftp_worker *fw = w->fw;
	const struct ftp_listen_opt *lo = w->lo;
	struct fb_buf rest = { 0 };
	fb_buf_append(&rest, w->buf + h.len, w->len - h.len);
	fb_buf_append(&rest, data + take, len - take);
	fe_timer_cancel(fw->w, w->timer);
	ftp_server_release_connection(fw->srv);
	pp_unlink(w);
	free(w);
	ftp_session_accept_as(lo, c, &h.src, (const uint8_t *)rest.p, rest.len);
	fb_buf_free(&rest);
}

static void pp_closed(struct fe_conn *c, int err, void *arg)
{
	struct pp_wait *w = arg;
	(void)c, (void)err;
	fe_timer_cancel(w->fw->w, w->timer);
	ftp_server_release_connection(w->fw->srv);
	pp_unlink(w);
	free(w);
}

static const struct fe_conn_ops pp_ops = { .on_data = pp_data, .on_close = pp_closed };

void ftp_proxy_accept(const struct ftp_listen_opt *lo, struct fe_conn *c)
{
	struct ftp_worker *fw = lo->fw;
	if (!ftp_server_take_connection(fw->srv))
		return;          /* over the limit; not started: the engine closes it */
	struct pp_wait *w = calloc(1, sizeof(*w));
	if (!w) {
		ftp_server_release_connection(fw->srv);
		return;
	}
	w->fw = fw;
	w->lo = lo;
	w->c = c;
	w->next = fw->pp_waiting;
	if (fw->pp_waiting)
		fw->pp_waiting->prev = w;
	fw->pp_waiting = w;
	fe_conn_start(c, &pp_ops, w);
	w->timer = fe_timer_add(fw->w, PP_TIMEOUT_MS, pp_timeout, w);
}
