/* fuzz_gateway.c — the SPSV gateway (src/gateway: the front door, SPSV and
 * SPDT data logins, the control relay, the backend's 227/229/FEAT and
 * multi-line replies, login deadlines, token expiry, the stop) run without
 * a ring: linked with fake_engine.c and fake_tcp.c, the harness plays both
 * the clients and the legacy FTP server behind the gateway.
 *
 * Input: one byte of set-up (bit 0: two workers; bit 1: stop the gateway
 * with sessions still open, else the clients close everything and the
 * clock runs out first; bit 2: connects refused at first; bit 3: tight
 * limits, one session and two connections not logged in; bit 4: see
 * fuzz_gateway_tls below), then records of
 * an op byte and its operands. Op bits 0-2 say what, bits 3-6 (a) how,
 * bit 7: no loop turn after:
 *   0 SEND from the a-th client connection: 2 bytes length (big-endian),
 *     the bytes; a byte 0x01 in them stands for the last DATACONN token
 *     replied to any client;
 *   1 CONNECT a client to the gateway's port (a session or a data login):
 *     a bits 0-1 the address (127.0.0.1, ::1, 127.0.0.3, 127.0.0.1), a
 *     bit 2 the worker;
 *   2 BACKEND bytes on the a-th connection the gateway dialled (its
 *     control connection or a passive port's): 2 bytes length, the bytes;
 *   3 REPLY from the a-th dialled connection: one byte, a canned reply
 *     (greeting, 331, 230, 229 and 227 with a port from a second byte,
 *     a multi-line FEAT, refusals, ...);
 *   4 CLOCK: on by a*a*a*20 ms (up to 67.5 s), timers firing;
 *   5 CLOSE the a-th connection of any kind (the far end's side);
 *   6 READ: the a&7-th connection's far end reads (a bit 3) or not;
 *   7 a bit 0: SIGTERM (gw_server_shutdown); a bit 1: connects are
 *     refused from now on, or no longer; a bit 2 (bit 3): the newest
 *     dialled connection (client) sends 320 KiB of text lines, more than
 *     the gateway queues before it stops reading the other side (once an
 *     input each).
 * Connections are numbered in order of opening, clients and dialled ones
 * each by themselves for SEND and BACKEND, all together for CLOSE and READ.
 *
 * Built as fuzz_gateway_tls (-DFUZZ_GATEWAY_TLS=1) the gateway has FTPS
 * toward its clients (tls_cert.c's certificate, an implicit listener on
 * 127.0.0.1:990, the backend hop in clear; set-up bit 4: TLS required for
 * logins and data, policy "data"): CONNECT with a bit 3 goes to the
 * implicit listener, and op 7 with bits 2 and 3 both makes the newest
 * client a real TLS client (fake_tcp_tls_client) instead of two bulk
 * sends. Without one, what the fuzzer sends after 234 or to the implicit
 * listener is where the ClientHello belongs.
 *
 * Invariants: ASan/UBSan; the fake engine's checks (no connection used
 * after its close, no timer cancelled twice, ...); the loop settles; what
 * a link holds stays bounded; every connect goes to the backend, and a
 * data connection's only to a port the backend announced (in a 227 or 229,
 * or any number that could be read as one) on the control connection of
 * the session whose client was given the token the data login showed,
 * from that client's address; after the clients close, no link, session
 * or connection is left; the stop ends with every worker idle; at the end
 * every link, timer and descriptor is gone. The clients' replies are not
 * judged line by line: the gateway passes on what the backend says. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_engine.h"
#include "fake_tcp.h"
#include "tls_cert.h"
#include "ferry/base.h"
#include "ferry/daemon.h"
#include "ferry/gateway.h"
#include "fuzz.h"
#include "gw_internal.h"
#include "script.h"

#ifndef FUZZ_GATEWAY_TLS
#define FUZZ_GATEWAY_TLS 0   /* fuzz_gateway_tls: 1 */
#endif
enum { TLS = FUZZ_GATEWAY_TLS, VARIANTS = 4, BACKEND_PORT = 2121 };

static const char *const client_addrs[4] = { "127.0.0.1", "::1", "127.0.0.3", "127.0.0.1" };

/* ---- configurations ---------------------------------------------------------- */

static const struct ferry_config *variant_config(unsigned v)
{
	static struct ferry_config cfg[VARIANTS];
	static bool ready[VARIANTS];
	if (ready[v])
		return &cfg[v];
	/* fuzz_gateway_tls: FTPS toward the clients, required when v bit 1 */
	char tls[1024] = "";
	if (TLS)
		snprintf(tls, sizeof(tls), "\"tls\": { \"cert\": \"%s\", \"key\": \"%s\", "
			 "\"policy\": \"%s\", \"implicit_listen\": [\"127.0.0.1:990\"] },\n"
			 "  \"backend_tls\": \"off\", ", fuzz_cert_make()->cert,
			 fuzz_cert_make()->key, v & 2 ? "data" : "optional");
	char json[2048];
	snprintf(json, sizeof(json),
		 "{ \"gateway\": { \"listen\": [\"127.0.0.1:2100\", \"[::1]:2100\"],\n"
		 "  %s\"backend\": \"127.0.0.9:%d\", \"max_sessions\": %d,\n"
		 "  \"max_unauthenticated\": %d, \"login_timeout\": 30, \"token_timeout\": 20 } }\n",
		 tls, BACKEND_PORT, v & 1 ? 1 : 4, v & 1 ? 2 : 6);
	fuzz_config(json, &cfg[v]);
	ready[v] = true;
	return &cfg[v];
}

/* ---- what the harness remembers of each connection ------------------------- */

static struct {
	struct gw_server *srv;
	struct gw_worker *gw[FAKE_MAX_WORKERS];
	unsigned nworkers;
	struct sockaddr_storage backend;
	int addr[FAKE_PEERS_MAX];           /* a client's address (client_addrs) */
	struct fb_buf said[FAKE_PEERS_MAX]; /* what the backend said on a dialled one */
	/* the tokens a client's bytes carried (0x01 replaced) */
	char shown[FAKE_PEERS_MAX][FAKE_TOKENS][FAKE_TOKEN_MAX];
	unsigned nshown[FAKE_PEERS_MAX];
	bool bulked[2];                     /* bulk(false), bulk(true) done */
} h;

static unsigned peer_index(const struct fake_peer *p)
{
	return (unsigned)(p - fake_tcp_peer(0));
}

/* The a-th connection of one kind (clients or dialled), counting round. */
static struct fake_peer *nth_of(unsigned a, bool dialled)
{
	unsigned n = 0;
	for (unsigned i = 0; i < fake_tcp_npeers(); i++)
		n += fake_tcp_peer(i)->dialled == dialled;
	if (!n)
		return NULL;
	a %= n;
	for (unsigned i = 0; i < fake_tcp_npeers(); i++) {
		struct fake_peer *p = fake_tcp_peer(i);
		if (p->dialled == dialled && a-- == 0)
			return p;
	}
	return NULL;
}

static void remember_shown(struct fake_peer *p, const char *tok)
{
	unsigned i = peer_index(p);
	if (!*tok || h.nshown[i] == FAKE_TOKENS)
		return;
	snprintf(h.shown[i][h.nshown[i]++], FAKE_TOKEN_MAX, "%s", tok);
}

static void backend_says(struct fake_peer *p, const void *d, size_t len)
{
	if (p->shut || !len)
		return;
	fb_buf_append(&h.said[peer_index(p)], d, len);
	fake_tcp_write(p, d, len);
}

static void connect_client(unsigned a)
{
	struct fake_peer *p = TLS && a & 8   /* to the implicit FTPS listener */
		? fake_tcp_connect_nth((a >> 2 & 1) % h.nworkers, client_addrs[a & 3], 1, true)
		: fake_tcp_connect_ctl((a >> 2 & 1) % h.nworkers, client_addrs[a & 3]);
	if (p) {
		p->lax = true;
		h.addr[peer_index(p)] = (int)(a & 3);
	}
}

/* ---- the backend's canned replies ------------------------------------------- */

static const char *const canned[] = {
	"220 legacy FTP server ready\r\n",
	"331 Password required\r\n",
	"230 User logged in\r\n",
	NULL,                                   /* 229 with a port */
	NULL,                                   /* 227 with a port */
	"211-Features:\r\n EPSV\r\n PASV\r\n AUTH TLS\r\n MDTM\r\n SIZE\r\n211 End\r\n",
	"500 EPSV not understood\r\n",
	"150 Opening data connection\r\n",
	"226 Transfer complete\r\n",
	"421 Service not available\r\n",
	"221 Goodbye\r\n",
	"200 OK\r\n",
	"120-Wait a little\r\n120 more\r\n",
	"220-Welcome\r\n to the\r\n220 legacy server\r\n",
	"530 Not logged in\r\n",
	"257 \"/\" is the current directory\r\n",
};
enum { CANNED = sizeof(canned) / sizeof(canned[0]) };

static void backend_reply(struct fake_peer *p, unsigned which, unsigned port_byte)
{
	char line[128];
	unsigned port = 30000 + port_byte;
	which %= CANNED;
	if (which == 3)
		snprintf(line, sizeof(line), "229 Entering Extended Passive Mode (|||%u|)\r\n", port);
	else if (which == 4)
		snprintf(line, sizeof(line), "227 Entering Passive Mode (127,0,0,9,%u,%u)\r\n",
			 port >> 8, port & 255);
	else
		snprintf(line, sizeof(line), "%s", canned[which]);
	backend_says(p, line, strlen(line));
}

/* ---- the gateway's rule on data connections ---------------------------------- */

/* Whether port can be read from what the backend said: a number (229), or
 * two in a row as p1,p2 (227), each as src/gateway/parse.c reads digits. */
static bool announced(const struct fb_buf *b, uint16_t port)
{
	unsigned prev = 100000;
	for (size_t i = 0; i < b->len;) {
		if (b->p[i] < '0' || b->p[i] > '9') {
			i++;
			continue;
		}
		unsigned v = 0, k = 0;
		for (; i < b->len && b->p[i] >= '0' && b->p[i] <= '9'; i++, k++)
			if (k < 6)
				v = v * 10 + (unsigned)(b->p[i] - '0');
		if (v == port || (prev <= 255 && v <= 255 && prev * 256 + v == port))
			return true;
		prev = v;
	}
	return false;
}

static struct gw_link *link_of_client(const struct fake_peer *p)
{
	for (unsigned w = 0; w < h.nworkers; w++)
		for (struct gw_link *l = h.gw[w]->links; l; l = l->next)
			if (p->c && l->cli == p->c)
				return l;
	return NULL;
}

/* The data connection d may reach to: its token was given to client x,
 * from d's address, and x's backend announced the port. */
static bool join_allowed(const struct fake_peer *d, const struct sockaddr_storage *to)
{
	unsigned di = peer_index(d);
	for (unsigned i = 0; i < fake_tcp_npeers(); i++) {
		const struct fake_peer *x = fake_tcp_peer(i);
		if (x->dialled || x == d || strcmp(client_addrs[h.addr[i]], client_addrs[h.addr[di]]))
			continue;
		bool given = false;
		for (unsigned t = 0; t < x->ntokens && !given; t++)
			for (unsigned s = 0; s < h.nshown[di] && !given; s++)
				given = !strcmp(x->tokens[t], h.shown[di][s]);
		const struct gw_link *l = given ? link_of_client(x) : NULL;
		const struct fake_peer *b = l && !l->ending ? fake_tcp_peer_of(l->be) : NULL;
		if (b && announced(&h.said[peer_index(b)], fb_addr_port((const struct sockaddr *)to)))
			return true;
	}
	return false;
}

/* fe_tcp_connect, seen before it is queued: which link asks, and whether
 * it may. */
static void on_connect(struct fe_worker *w, const struct sockaddr_storage *to,
		       const struct sockaddr_storage *from)
{
	(void)from;
	FUZZ_CHECK(fb_addr_same_host(to, &h.backend));   /* only ever the backend */
	struct gw_link *asking = NULL;
	unsigned n = 0;
	for (unsigned i = 0; i < h.nworkers; i++)
		for (struct gw_link *l = h.gw[i]->links; l; l = l->next)
			if (h.gw[i]->w == w && !l->ending && !l->connecting &&
			    (l->st == GW_JOINING || l->st == GW_CONNECTING)) {
				asking = l;
				n++;
			}
	FUZZ_CHECK(n == 1 && asking->cli);
	if (asking->st == GW_CONNECTING) {
		FUZZ_CHECK(asking->session);
		FUZZ_CHECK(fb_addr_port((const struct sockaddr *)to) == BACKEND_PORT);
		return;
	}
	const struct fake_peer *d = fake_tcp_peer_of(asking->cli);
	FUZZ_CHECK(d && !d->dialled);
	if (!join_allowed(d, to)) {
		fprintf(stderr, "fuzz_gateway: a data connection joins port %u, which no "
			"session it holds a token of announced\n",
			fb_addr_port((const struct sockaddr *)to));
		FUZZ_CHECK(!"a data connection reaches only its session's passive port");
	}
}

/* A reply line inside another reply: the backend's own (passed on as it
 * came), never one of the gateway's, which the client would take for text
 * of the reply it is reading (the stop's 421 waits for the reply's end). */
static void inner_line(struct fake_peer *p, const char *line)
{
	(void)p;
	for (unsigned i = 0; i < fake_tcp_npeers(); i++)
		if (h.said[i].len && memmem(h.said[i].p, h.said[i].len, line, strlen(line)))
			return;
	fprintf(stderr, "fuzz_gateway: the gateway's \"%s\" inside a multi-line reply\n", line);
	FUZZ_CHECK(!"the gateway's own replies wait for the end of the backend's");
}

/* ---- the script ----------------------------------------------------------------- */

static bool refusing;

/* More than the gateway lets a queue hold before it stops reading the
 * other side (GW_HIGH_WATER), from the newest dialled connection or
 * client: lines without digits, so they announce no port. */
static struct fake_peer *newest(bool dialled)
{
	struct fake_peer *p = NULL;
	for (unsigned i = 0; i < fake_tcp_npeers(); i++)
		if (fake_tcp_peer(i)->dialled == dialled)
			p = fake_tcp_peer(i);
	return p;
}

static void bulk(bool dialled)
{
	enum { BULK = GW_HIGH_WATER + (64 << 10) };
	static uint8_t lines[BULK];
	struct fake_peer *p = newest(dialled);
	if (!p || h.bulked[dialled])
		return;
	h.bulked[dialled] = true;   /* once each an input: it costs 0.1 s */
	if (!lines[0])
		for (size_t i = 0; i < BULK; i++)
			lines[i] = (uint8_t)"bulk data line\r\n"[i % 16];
	if (dialled)   /* the backend's words, for inner_line (a half line may precede them) */
		backend_says(p, lines, BULK);
	else
		fake_tcp_write(p, lines, BULK);
}

/* The ops of this script only (fuzz_common_op has 4-6). */
static void gateway_op(unsigned kind, unsigned a, const uint8_t *data, size_t size, size_t *off)
{
	const uint8_t *bytes = NULL;
	struct fake_peer *p;
	if (kind == 0) {
		size_t len = fuzz_operand(data, size, off, &bytes);
		if ((p = nth_of(a, false)) && fuzz_send_text(p, bytes, len))
			remember_shown(p, fake_tcp_token());
	} else if (kind == 1) {
		connect_client(a);
	} else if (kind == 2) {
		size_t len = fuzz_operand(data, size, off, &bytes);
		if ((p = nth_of(a, true)))
			backend_says(p, bytes, len);
	} else if (kind == 3) {
		unsigned which = *off < size ? data[(*off)++] : 0;
		unsigned port = *off < size ? data[(*off)++] : 0;
		if ((p = nth_of(a, true)))
			backend_reply(p, which, port);
	} else {
		if (a & 1)
			gw_server_shutdown(h.srv);
		if (a & 2)
			fake_tcp_refuse(refusing = !refusing);
		if (TLS && (a & 12) == 12 && (p = newest(false)))
			(void)fake_tcp_tls_client(p);   /* the newest client's */
		else if (a & 4)
			bulk(true);
		if (a & 8 && (!TLS || (a & 12) != 12))
			bulk(false);
	}
}

static void step(const uint8_t *data, size_t size, size_t *off)
{
	uint8_t op = data[(*off)++];
	unsigned a = (op >> 3) & 15;
	if (!fuzz_common_op(op & 7, a))
		gateway_op(op & 7, a, data, size, off);
	if (!(op & 0x80))
		fake_tcp_run();
}

/* What a link holds stays bounded, whatever either side does: a line and
 * one receive of input, the queue limit of output. */
static void check_bounds(void)
{
	enum { RECV = 16384 };
	for (unsigned i = 0; i < h.nworkers; i++)
		for (const struct gw_link *l = h.gw[i]->links; l; l = l->next) {
			FUZZ_CHECK(l->cin.len < GW_LINE_MAX + RECV);
			FUZZ_CHECK(l->bin.len < GW_LINE_MAX + RECV);
			FUZZ_CHECK(l->cli_bytes <= GW_UNAUTH_BYTES + RECV);
			if (l->cli)
				FUZZ_CHECK(fe_conn_queued(l->cli) <= GW_QUEUE_LIMIT);
			if (l->be)
				FUZZ_CHECK(fe_conn_queued(l->be) <= GW_QUEUE_LIMIT);
		}
}

/* ---- the end ------------------------------------------------------------------ */

static void all_read(void)
{
	for (unsigned i = 0; i < fake_tcp_npeers(); i++)
		fake_tcp_peer(i)->reading = true;
	fake_tcp_run();
}

/* Timers pending besides each worker's watch on the stop flag. */
static unsigned other_timers(void)
{
	unsigned n = fake_stats()->pending_timers;
	for (unsigned i = 0; i < h.nworkers; i++)
		n -= h.gw[i]->watch != NULL;
	return n;
}

/* Every far end reads, then closes; the clock runs past every deadline:
 * nothing is left. */
static void wind_down(void)
{
	fuzz_close_all();
	for (int i = 0; i < 20 && other_timers(); i++) {
		fake_advance(30 * 1000);
		fake_tcp_run();
	}
	for (unsigned i = 0; i < h.nworkers; i++)
		FUZZ_CHECK(h.gw[i]->links == NULL);
	FUZZ_CHECK(h.srv->sessions == 0 && h.srv->unauth == 0);
	FUZZ_CHECK(fake_tcp_conns() == 0);
}

/* SIGTERM: every worker tells its links and counts itself idle once what
 * they queued is sent (the far ends read). */
static void stop(void)
{
	gw_server_shutdown(h.srv);
	all_read();
	for (int i = 0; i < 100 && !gw_server_idle(h.srv); i++) {
		fake_advance(20);
		fake_tcp_run();
	}
	FUZZ_CHECK(gw_server_idle(h.srv));
	for (unsigned i = 0; i < h.nworkers; i++) {
		for (const struct gw_link *l = h.gw[i]->links; l; l = l->next)
			FUZZ_CHECK(l->ending);
		FUZZ_CHECK(h.gw[i]->watch == NULL);
	}
}

static void forget(void)
{
	for (unsigned i = 0; i < FAKE_PEERS_MAX; i++)
		fb_buf_free(&h.said[i]);
	struct gw_server *srv = h.srv;
	memset(&h, 0, sizeof(h));
	h.srv = srv;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool once;
	static int level = -1;
	if (size < 1)
		return 0;
	if (!once) {
		const char *lvl = getenv("FUZZ_GATEWAY_LOG");   /* 5: what it did */
		level = lvl ? atoi(lvl) : -1;
		fb_log_open(NULL, level, 0, 0);
		once = true;
	}
	unsigned fds = fuzz_open_fds();
	forget();
	h.nworkers = data[0] & 1 ? 2 : 1;
	FUZZ_CHECK(gw_server_create(variant_config(data[0] >> 3 & 3), &h.srv) == 0);
	h.backend = h.srv->backend;
	fake_begin(h.nworkers, 1000000);
	fake_tcp_begin(refusing = data[0] & 4);
	fake_tcp_connect_hook(on_connect);
	fake_tcp_inner_hook(inner_line);
	for (unsigned i = 0; i < h.nworkers; i++)
		FUZZ_CHECK(gw_worker_init(fake_worker(i), h.srv, &h.gw[i]) == 0);
	connect_client(0);
	fake_tcp_run();
	size_t off = 1;
	while (off < size) {
		step(data, size, &off);
		check_bounds();
	}
	fake_tcp_refuse(false);
	if (!(data[0] & 2))
		wind_down();
	stop();
	fake_tcp_run();
	fake_pool_drain();
	for (unsigned i = 0; i < h.nworkers; i++)
		gw_worker_fini(h.gw[i]);
	fake_tcp_drop_conns();   /* the engine frees them, no callbacks */
	fake_tcp_connect_hook(NULL);
	fake_tcp_inner_hook(NULL);
	fake_end();
	fake_tcp_end();
	FUZZ_CHECK(h.srv->sessions == 0 && h.srv->unauth == 0 && h.srv->busy_workers == 0);
	gw_server_destroy(h.srv);
	h.srv = NULL;
	forget();
	FUZZ_CHECK(fuzz_open_fds() == fds);   /* no descriptor left open */
	if (level >= 0)
		fb_log_flush();
	return 0;
}
