/* fake_tcp.c — the engine's TCP calls (listeners, connections, connects,
 * detach/adopt, sendfile/recvfile) and its io_uring open as a test double:
 * completions come back as mail, a loop run by the harness moves bytes
 * between each connection and its peer (the client the harness plays),
 * and the replies a control connection receives are checked as they are
 * read. Misuse the real engine would turn into memory corruption (a
 * connection used after on_close, a transfer on a busy connection) is a
 * finding. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fake_tcp.h"
#include "fuzz.h"

struct fe_listener {
	struct fe_worker *w;
	fe_accept_cb *cb;
	void *arg;
	struct sockaddr_storage local;
	bool service;             /* opened with reuseport: the service's own */
	struct fe_listener *next;
};

struct fe_xfer {
	struct fe_conn *c;
	int fd;
	uint64_t offset, moved;
	fe_xfer_cb *cb;
	void *arg;
	bool recv, aborted, mail_pending;
};

struct fe_conn {
	struct fe_worker *w;
	const struct fe_conn_ops *ops;
	void *arg;
	struct fake_peer *p;
	struct sockaddr_storage peer, local;
	int fd;                   /* adopted: the descriptor it wraps */
	bool owned;               /* started or held */
	bool receiving, paused, closing, detaching;
	size_t queued, limit;
	struct fe_xfer *x;
	struct fe_conn *next;
};

struct fe_connect {
	struct fe_worker *w;
	struct sockaddr_storage to, from;
	fe_connect_cb *cb;
	void *arg;
	bool cancelled;
};

/* A detached connection waiting to be adopted: its peer, by descriptor. */
struct parked {
	int fd;
	struct fake_peer *p;
	struct sockaddr_storage peer, local;
	struct parked *next;
};

static struct {
	struct fe_listener *listeners;
	struct fe_conn *conns;
	struct parked *parked;
	struct fake_peer peers[FAKE_PEERS_MAX];
	unsigned npeers;
	uint16_t next_port;
	bool refuse_connects, moved;
	size_t peak;
	char token[FAKE_TOKEN_MAX];
	fake_connect_hook *hook;
	fake_inner_hook *inner;
} ft;

static void peer_free(struct fake_peer *p)
{
	fb_buf_free(&p->in);
	fb_buf_free(&p->plain);
	crypto_tls_free(p->tlsc);
	p->tlsc = NULL;
}

void fake_tcp_begin(bool refuse_connects)
{
	FUZZ_CHECK(!ft.listeners && !ft.conns && !ft.parked);
	for (unsigned i = 0; i < ft.npeers; i++)
		peer_free(&ft.peers[i]);
	memset(&ft, 0, sizeof(ft));
	ft.refuse_connects = refuse_connects;
	ft.next_port = 40000;
}

void fake_tcp_refuse(bool refuse_connects) { ft.refuse_connects = refuse_connects; }
void fake_tcp_connect_hook(fake_connect_hook *hook) { ft.hook = hook; }
void fake_tcp_inner_hook(fake_inner_hook *hook) { ft.inner = hook; }

struct fake_peer *fake_tcp_peer_of(const struct fe_conn *c)
{
	for (unsigned i = 0; c && i < ft.npeers; i++)
		if (ft.peers[i].c == c)
			return &ft.peers[i];
	return NULL;
}

unsigned fake_tcp_npeers(void) { return ft.npeers; }
struct fake_peer *fake_tcp_peer(unsigned i) { return i < ft.npeers ? &ft.peers[i] : NULL; }
const char *fake_tcp_token(void) { return ft.token; }
size_t fake_tcp_peak_queue(void) { return ft.peak; }

unsigned fake_tcp_listeners(void)
{
	unsigned n = 0;
	for (struct fe_listener *l = ft.listeners; l; l = l->next)
		n++;
	return n;
}

unsigned fake_tcp_conns(void)
{
	unsigned n = 0;
	for (struct fe_conn *c = ft.conns; c; c = c->next)
		n++;
	return n;
}

static struct fake_peer *peer_new(bool ctl)
{
	if (ft.npeers == FAKE_PEERS_MAX)
		return NULL;
	struct fake_peer *p = &ft.peers[ft.npeers++];
	memset(p, 0, sizeof(*p));
	p->ctl = ctl;
	p->reading = true;
	return p;
}

static void check_conn(const struct fe_conn *c)
{
	const struct fe_conn *q = ft.conns;
	while (q && q != c)
		q = q->next;
	FUZZ_CHECK(q == c);   /* a connection not yet gone */
}

static struct fe_conn *conn_new(struct fe_worker *w, struct fake_peer *p,
				const struct sockaddr_storage *peer,
				const struct sockaddr_storage *local)
{
	struct fe_conn *c = calloc(1, sizeof(*c));
	FUZZ_CHECK(c);
	c->w = w;
	c->p = p;
	c->peer = *peer;
	c->local = *local;
	c->fd = -1;
	c->limit = FE_CONN_LIMIT;
	c->next = ft.conns;
	ft.conns = c;
	if (p)
		p->c = c;
	return c;
}

static void conn_free(struct fe_conn *c)
{
	struct fe_conn **pp = &ft.conns;
	while (*pp && *pp != c)
		pp = &(*pp)->next;
	FUZZ_CHECK(*pp == c);
	*pp = c->next;
	if (c->p && c->p->c == c)
		c->p->c = NULL;
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

/* ---- the reply checker ---------------------------------------------------- */

static void take_token(struct fake_peer *p, const char *line)
{
	const char *t = strstr(line, "(DATACONN:");
	if (!t)
		return;
	t += strlen("(DATACONN:");
	size_t n = strcspn(t, ")");
	if (n < sizeof(ft.token)) {
		memcpy(ft.token, t, n);
		ft.token[n] = '\0';
		if (p->ntokens == FAKE_TOKENS) {
			memmove(p->tokens[0], p->tokens[1], sizeof(p->tokens[0]) * (FAKE_TOKENS - 1));
			p->ntokens--;
		}
		memcpy(p->tokens[p->ntokens++], ft.token, n + 1);
	}
}

static bool is_code(const char *l)
{
	return l[0] >= '1' && l[0] <= '5' && l[1] >= '0' && l[1] <= '9' &&
	       l[2] >= '0' && l[2] <= '9';
}

/* A lax stream's line, followed as src/gateway/parse.c reads replies (a
 * code alone, or with ' ', '-' or CR after it): inside a multi-line reply
 * a line "ddd text" of another code, which a client takes for text of the
 * reply it is reading, goes to the hook. */
static void lax_line(struct fake_peer *p, const char *l)
{
	char sep = p->linelen > 3 ? l[3] : '\n';
	bool coded = p->linelen >= 3 && is_code(l) && strchr(" -\r\n", sep);
	if (!coded) {
		return;
	} else if (!p->multi) {
		p->code = atoi(l);
		p->multi = sep == '-';
	} else if (atoi(l) == p->code && sep != '-') {
		p->multi = false;
	} else if (sep == ' ' && ft.inner) {
		ft.inner(p, l);
	}
}

/* One complete line (CR LF stripped; linelen may exceed what line holds). */
static void reply_line(struct fake_peer *p)
{
	char *l = p->line;
	size_t n = p->linelen < sizeof(p->line) ? p->linelen : sizeof(p->line) - 1;
	l[n] = '\0';
	if (p->lax) {
		lax_line(p, l);
	} else if (!p->multi) {
		/* "ddd text" or "ddd-first line of several" */
		FUZZ_CHECK(p->linelen >= 4 && is_code(l) && (l[3] == ' ' || l[3] == '-'));
		p->code = atoi(l);
		p->multi = l[3] == '-';
	} else if (p->linelen >= 4 && is_code(l) && atoi(l) == p->code && l[3] == ' ') {
		p->multi = false;     /* the last line of a multi-line reply */
	} else {
		/* RFC 959: the lines between start with a space (or the code and '-'),
		 * so no client takes one for the end */
		FUZZ_CHECK(p->linelen >= 1 && (l[0] == ' ' ||
			   (p->linelen >= 4 && is_code(l) && atoi(l) == p->code && l[3] == '-')));
	}
	take_token(p, l);
	if (!p->multi && !p->lax) {
		p->replies++;
		if (p->code == 234)
			p->tls = true;    /* AUTH TLS accepted: records follow */
	}
	p->linelen = 0;
}

static void reply_bytes(struct fake_peer *p, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n && !p->tls; i++) {
		if (b[i] == '\n') {
			FUZZ_CHECK(p->cr || p->lax);    /* every line ends CR LF */
			if (p->cr)
				p->linelen--;         /* the CR */
			reply_line(p);
			p->cr = false;
			continue;
		}
		p->cr = b[i] == '\r';
		if (p->linelen < sizeof(p->line) - 1)
			p->line[p->linelen] = (char)b[i];
		p->linelen++;
	}
}

/* A TLS client whose TLS failed closes; what it read of the replies is
 * no longer a stream the checker can follow. */
static void client_gives_up(struct fake_peer *p)
{
	p->shut = true;
	p->tls = true;
}

/* ---- listeners ------------------------------------------------------------ */

struct fe_listener *fe_tcp_listen(struct fe_worker *w, const struct sockaddr_storage *addr,
				  bool reuseport, fe_accept_cb *cb, void *arg, int *err)
{
	FUZZ_CHECK(addr->ss_family == AF_INET || addr->ss_family == AF_INET6);
	struct fe_listener *l = calloc(1, sizeof(*l));
	if (!l) {
		*err = -ENOMEM;
		return NULL;
	}
	*l = (struct fe_listener){ .w = w, .cb = cb, .arg = arg, .local = *addr,
				   .service = reuseport };
	if (!fb_addr_port((const struct sockaddr *)&l->local))
		fb_addr_set_port(&l->local, ft.next_port++);
	struct fe_listener **pp = &ft.listeners;   /* in order of opening */
	while (*pp)
		pp = &(*pp)->next;
	*pp = l;
	return l;
}

struct fe_listener *fe_tcp_listen_range(struct fe_worker *w, const struct sockaddr_storage *addr,
					uint16_t lo, uint16_t hi, fe_accept_cb *cb, void *arg,
					int *err)
{
	FUZZ_CHECK(lo >= 1 && lo <= hi);
	struct sockaddr_storage at = *addr;
	fb_addr_set_port(&at, lo);
	return fe_tcp_listen(w, &at, false, cb, arg, err);
}

static void check_listener(const struct fe_listener *l)
{
	const struct fe_listener *q = ft.listeners;
	while (q && q != l)
		q = q->next;
	FUZZ_CHECK(q == l);   /* open: not closed before */
}

int fe_listener_local(const struct fe_listener *l, struct sockaddr_storage *out)
{
	check_listener(l);
	*out = l->local;
	return 0;
}

void fe_listener_close(struct fe_listener *l)
{
	if (!l)
		return;
	struct fe_listener **pp = &ft.listeners;
	while (*pp && *pp != l)
		pp = &(*pp)->next;
	FUZZ_CHECK(*pp == l);   /* closed once */
	*pp = l->next;
	free(l);
}

static socklen_t client_addr(const char *text, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	FUZZ_CHECK(fb_addr_parse(text, (uint16_t)(50000 + ft.npeers), ss) == 0);
	return 0;
}

/* A connection the accept callback neither started nor held is closed. */
static void accept_on(struct fe_listener *l, struct fake_peer *p, const char *addr)
{
	struct sockaddr_storage peer;
	client_addr(addr, &peer);
	struct fe_conn *c = conn_new(l->w, p, &peer, &l->local);
	l->cb(l, c, l->arg);
	if (!c->owned)
		conn_free(c);
}

struct fake_peer *fake_tcp_connect_nth(unsigned w, const char *addr, unsigned nth, bool tls)
{
	struct sockaddr_storage a;
	client_addr(addr, &a);
	for (struct fe_listener *l = ft.listeners; l; l = l->next) {
		if (!l->service || fe_worker_index(l->w) != w || l->local.ss_family != a.ss_family)
			continue;
		if (nth--)
			continue;
		struct fake_peer *p = peer_new(true);
		if (p) {
			p->tls = tls;
			accept_on(l, p, addr);
		}
		return p;
	}
	return NULL;
}

struct fake_peer *fake_tcp_connect_ctl(unsigned w, const char *addr)
{
	return fake_tcp_connect_nth(w, addr, 0, false);
}

struct fake_peer *fake_tcp_connect_data(const char *addr)
{
	struct fe_listener *last = NULL;
	for (struct fe_listener *l = ft.listeners; l; l = l->next)
		if (!l->service)
			last = l;
	struct fake_peer *p = last ? peer_new(false) : NULL;
	if (p)
		accept_on(last, p, addr);
	return p;
}

/* ---- connections ------------------------------------------------------------ */

static void own(struct fe_conn *c, const struct fe_conn_ops *ops, void *arg, bool receive)
{
	check_conn(c);
	/* owned again: a new owner (a PROXY header read, the session next);
	 * hold then keeps receiving as it was */
	c->receiving = receive || (c->owned && c->receiving);
	c->owned = true;
	c->ops = ops;
	c->arg = arg;
}

void fe_conn_start(struct fe_conn *c, const struct fe_conn_ops *ops, void *arg)
{
	own(c, ops, arg, true);
}

void fe_conn_hold(struct fe_conn *c, const struct fe_conn_ops *ops, void *arg)
{
	own(c, ops, arg, false);
}

void fe_conn_recv_start(struct fe_conn *c)
{
	check_conn(c);
	c->receiving = true;
}

int fe_conn_send(struct fe_conn *c, const void *data, size_t len)
{
	check_conn(c);
	FUZZ_CHECK(!c->detaching);   /* the descriptor is someone else's */
	FUZZ_CHECK(!c->x);        /* not while a splice owns the socket */
	if (c->closing)
		return -EPIPE;        /* as the engine: refused, harmless */
	if (c->queued + len > c->limit)
		return -ENOBUFS;
	volatile uint8_t sum = 0; /* every byte readable (ASan) */
	for (size_t i = 0; i < len; i++)
		sum ^= ((const uint8_t *)data)[i];
	(void)sum;
	if (c->p && c->p->tlsc) {
		if (!crypto_tls_feed(c->p->tlsc, data, len))
			client_gives_up(c->p);   /* 64 KiB it did not read */
	}
	else if (c->p && c->p->ctl)
		reply_bytes(c->p, data, len);   /* checked in order; read later */
	c->queued += len;
	if (c->queued > ft.peak)
		ft.peak = c->queued;
	return 0;
}

/* A buffer handed over: checked and counted as fe_conn_send's, then freed. */
int fe_conn_send_owned(struct fe_conn *c, void *p, size_t len, size_t cap)
{
	(void)cap;
	int r = fe_conn_send(c, p, len);
	if (r == 0)
		free(p);
	return r;
}

/* Kernel TLS: this double has none, so ferryd keeps user-space TLS. */
unsigned fe_ktls_probe(char *why, size_t cap, unsigned *rx)
{
	snprintf(why, cap, "not in the fuzz double");
	*rx = 0;
	return 0;
}

int fe_conn_ktls_rx(struct fe_conn *c, const void *info, size_t len)
{
	(void)info;
	(void)len;
	check_conn(c);
	return -ENOPROTOOPT;
}

long fe_conn_ktls_record(struct fe_conn *c, uint8_t *type, void *buf, size_t cap)
{
	(void)buf;
	(void)cap;
	check_conn(c);
	*type = 0;
	return -EINVAL;
}

void fe_conn_recv_max(struct fe_conn *c, size_t bytes)
{
	(void)bytes;
	check_conn(c);
}

int fe_conn_ktls_tx(struct fe_conn *c, const void *info, size_t len)
{
	(void)info;
	(void)len;
	check_conn(c);
	return -ENOPROTOOPT;
}

bool fe_conn_ktls(const struct fe_conn *c)
{
	check_conn(c);
	return false;
}

int fe_conn_ktls_alert(struct fe_conn *c, uint8_t level, uint8_t desc)
{
	(void)level;
	(void)desc;
	check_conn(c);
	return -EINVAL;
}

size_t fe_conn_queued(const struct fe_conn *c)
{
	check_conn(c);
	return c->queued;
}

void fe_conn_set_limit(struct fe_conn *c, size_t bytes)
{
	check_conn(c);
	c->limit = bytes;
}

void fe_conn_pause(struct fe_conn *c)
{
	check_conn(c);
	c->paused = true;
}

void fe_conn_resume(struct fe_conn *c)
{
	check_conn(c);
	c->paused = false;        /* delivery from the next turn on */
}

static void xfer_stop(struct fe_xfer *x)
{
	x->aborted = true;
	if (x->c)
		x->c->x = NULL;
	x->c = NULL;
	if (!x->mail_pending)
		free(x);
}

/* No FIN-then-wait here: the peer's late bytes meet no reset in this
 * double, so it is fe_conn_close (on_close once all is sent). */
void fe_conn_close_linger(struct fe_conn *c, uint32_t ms)
{
	(void)ms;
	fe_conn_close(c);
}

void fe_conn_close(struct fe_conn *c)
{
	check_conn(c);
	FUZZ_CHECK(!c->detaching);
	if (c->closing)
		return;               /* as the engine: once is enough */
	c->closing = true;
	if (c->x)
		xfer_stop(c->x);
}

const struct sockaddr_storage *fe_conn_peer(const struct fe_conn *c)
{
	check_conn(c);
	return &c->peer;
}

int fe_conn_local(const struct fe_conn *c, struct sockaddr_storage *out)
{
	check_conn(c);
	*out = c->local;
	return 0;
}

int fe_conn_urgent_inline(struct fe_conn *c) { check_conn(c); return 0; }
int fe_conn_nodelay(struct fe_conn *c) { check_conn(c); return 0; }

struct fe_worker *fe_conn_worker(const struct fe_conn *c)
{
	check_conn(c);
	return c->w;
}

/* ---- detach / adopt (the SPSV hand-off) ----------------------------------- */

struct detach {
	struct fe_conn *c;
	fe_detach_cb *cb;
	void *arg;
};

static void detach_now(struct fe_worker *w, void *arg)
{
	struct detach *d = arg;
	struct fe_conn *c = d->c;
	check_conn(c);
	struct parked *pk = calloc(1, sizeof(*pk));
	FUZZ_CHECK(pk);
	/* a descriptor of its own, as a socket would be (closed by its owner) */
	pk->fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	FUZZ_CHECK(pk->fd >= 0);
	pk->p = c->p;
	pk->peer = c->peer;
	pk->local = c->local;
	pk->next = ft.parked;
	ft.parked = pk;
	struct fb_buf extra = { 0 };
	if (c->p) {
		extra = c->p->in;     /* what arrived after the call */
		c->p->in = (struct fb_buf){ 0 };
		c->p->c = NULL;
	}
	c->p = NULL;
	conn_free(c);
	d->cb(w, pk->fd, (const uint8_t *)extra.p, extra.len, d->arg);
	fb_buf_free(&extra);
	free(d);
}

void fe_conn_detach(struct fe_conn *c, fe_detach_cb *cb, void *arg)
{
	check_conn(c);
	FUZZ_CHECK(!c->closing && !c->detaching && !c->x);
	c->detaching = true;
	c->receiving = false;
	struct detach *d = malloc(sizeof(*d));
	FUZZ_CHECK(d);
	*d = (struct detach){ .c = c, .cb = cb, .arg = arg };
	FUZZ_CHECK(fe_mail_post(c->w, fe_worker_index(c->w), detach_now, d) == 0);
}

struct fe_conn *fe_conn_adopt(struct fe_worker *w, int fd)
{
	for (struct parked **pp = &ft.parked; *pp; pp = &(*pp)->next) {
		struct parked *pk = *pp;
		if (pk->fd != fd)
			continue;
		*pp = pk->next;
		struct fe_conn *c = conn_new(w, pk->p, &pk->peer, &pk->local);
		c->fd = fd;
		if (pk->p)
			pk->p->ctl = false;   /* data now, in the same stream */
		free(pk);
		return c;
	}
	FUZZ_CHECK(!"fe_conn_adopt of a descriptor no detach gave");
	return NULL;
}

/* ---- outbound connects (PORT / EPRT) ------------------------------------ */

static void connect_done(struct fe_worker *w, void *arg)
{
	struct fe_connect *k = arg;
	(void)w;
	if (k->cancelled) {
		free(k);
		return;
	}
	k->cancelled = true;      /* the handle is spent: cancel is now misuse */
	if (ft.refuse_connects) {
		fe_connect_cb *cb = k->cb;
		void *cbarg = k->arg;
		free(k);
		cb(NULL, -ECONNREFUSED, cbarg);
		return;
	}
	struct fake_peer *p = peer_new(false);
	if (p) {
		p->dialled = true;
		p->to = k->to;
	}
	struct fe_conn *c = conn_new(k->w, p, &k->to, &k->from);
	fe_connect_cb *cb = k->cb;
	void *cbarg = k->arg;
	free(k);
	cb(c, 0, cbarg);
	if (!c->owned)
		conn_free(c);
}

struct fe_connect *fe_tcp_connect(struct fe_worker *w, const struct sockaddr_storage *to,
				  const struct sockaddr_storage *from, fe_connect_cb *cb,
				  void *arg, int *err)
{
	FUZZ_CHECK(to->ss_family == AF_INET || to->ss_family == AF_INET6);
	if (ft.hook)
		ft.hook(w, to, from);
	struct fe_connect *k = calloc(1, sizeof(*k));
	if (!k) {
		*err = -ENOMEM;
		return NULL;
	}
	*k = (struct fe_connect){ .w = w, .to = *to, .cb = cb, .arg = arg };
	if (from)
		k->from = *from;
	else
		k->from = *to;
	if (fe_mail_post(w, fe_worker_index(w), connect_done, k)) {
		free(k);
		*err = -ENOMEM;
		return NULL;
	}
	return k;
}

void fe_connect_cancel(struct fe_connect *k)
{
	if (!k)
		return;
	FUZZ_CHECK(!k->cancelled);   /* pending: not completed, not cancelled */
	k->cancelled = true;         /* freed by its completion */
}

/* ---- zero-copy transfers -------------------------------------------------- */

static void sendfile_done(struct fe_worker *w, void *arg)
{
	struct fe_xfer *x = arg;
	(void)w;
	x->mail_pending = false;
	if (x->aborted) {
		free(x);
		return;
	}
	/* the file from offset to its end, read as splice would */
	uint8_t buf[65536];
	ssize_t n;
	int err = 0;
	while ((n = pread(x->fd, buf, sizeof(buf), (off_t)(x->offset + x->moved))) > 0)
		x->moved += (uint64_t)n;
	if (n < 0)
		err = -errno;
	struct fe_conn *c = x->c;
	c->x = NULL;
	if (c->p)
		c->p->received += x->moved;
	fe_xfer_cb *cb = x->cb;
	void *cbarg = x->arg;
	uint64_t moved = x->moved;
	free(x);
	cb(c, err, moved, cbarg);
}

static struct fe_xfer *xfer_new(struct fe_conn *c, int fd, uint64_t offset, fe_xfer_cb *cb,
				void *arg, bool recv)
{
	check_conn(c);
	FUZZ_CHECK(fd >= 0 && fcntl(fd, F_GETFD) >= 0);   /* an open descriptor */
	FUZZ_CHECK(!c->x && !c->closing && !c->detaching);
	struct fe_xfer *x = calloc(1, sizeof(*x));
	FUZZ_CHECK(x);
	*x = (struct fe_xfer){ .c = c, .fd = fd, .offset = offset, .cb = cb, .arg = arg,
			       .recv = recv };
	c->x = x;
	return x;
}

struct fe_xfer *fe_conn_sendfile(struct fe_conn *c, int file_fd, uint64_t offset, uint64_t len,
				 fe_xfer_cb *cb, void *arg, int *err)
{
	(void)len;
	check_conn(c);
	FUZZ_CHECK(c->queued == 0 && !c->receiving);   /* the engine's precondition */
	struct fe_xfer *x = xfer_new(c, file_fd, offset, cb, arg, false);
	x->mail_pending = true;
	if (fe_mail_post(c->w, fe_worker_index(c->w), sendfile_done, x)) {
		c->x = NULL;
		free(x);
		*err = -ENOMEM;
		return NULL;
	}
	return x;
}

struct fe_xfer *fe_conn_recvfile(struct fe_conn *c, int file_fd, uint64_t offset,
				 fe_xfer_cb *cb, void *arg, int *err)
{
	(void)err;
	return xfer_new(c, file_fd, offset, cb, arg, true);
}

void fe_xfer_abort(struct fe_xfer *x)
{
	FUZZ_CHECK(x && !x->aborted);
	xfer_stop(x);
}

uint64_t fe_xfer_progress(const struct fe_xfer *x)
{
	FUZZ_CHECK(!x->aborted);
	return x->moved;
}

/* recvfile: what the peer sent goes to the file; the peer's close ends it. */
static bool recv_step(struct fe_conn *c)
{
	struct fe_xfer *x = c->x;
	bool moved = false;
	struct fake_peer *p = c->p;
	if (p && p->in.len) {
		ssize_t n = pwrite(x->fd, p->in.p, p->in.len, (off_t)(x->offset + x->moved));
		if (n > 0)
			x->moved += (uint64_t)n;
		fb_buf_free(&p->in);
		moved = true;
		if (n < 0) {
			c->x = NULL;
			fe_xfer_cb *cb = x->cb;
			void *a = x->arg;
			uint64_t m = x->moved;
			free(x);
			cb(c, -errno, m, a);
			return true;
		}
	}
	if (!p || p->shut) {
		c->x = NULL;
		fe_xfer_cb *cb = x->cb;
		void *a = x->arg;
		uint64_t m = x->moved;
		free(x);
		cb(c, 0, m, a);
		return true;
	}
	return moved;
}

/* ---- io_uring file operations (done at once, completed as mail) ---------- */

struct fsop {
	fe_fs_cb *cb;
	void *arg;
	int res;
};

static void fsop_done(struct fe_worker *w, void *arg)
{
	struct fsop *o = arg;
	o->cb(w, o->res, o->arg);
	free(o);
}

static int fsop_post(struct fe_worker *w, int res, fe_fs_cb *cb, void *arg)
{
	struct fsop *o = malloc(sizeof(*o));
	if (!o)
		return -ENOMEM;
	*o = (struct fsop){ .cb = cb, .arg = arg, .res = res };
	if (fe_mail_post(w, fe_worker_index(w), fsop_done, o)) {
		free(o);
		return -ENOMEM;
	}
	return 0;
}

int fe_fs_openat2(struct fe_worker *w, int dirfd, const char *path, const struct open_how *how,
		  fe_fs_cb *cb, void *arg)
{
	long r = syscall(SYS_openat2, dirfd, path, how, sizeof(*how));
	return fsop_post(w, r < 0 ? -errno : (int)r, cb, arg);
}

void fake_tcp_write(struct fake_peer *p, const uint8_t *data, size_t len)
{
	if (!p->shut)
		fb_buf_append(p->tlsc ? &p->plain : &p->in, data, len);
}

/* ---- a real TLS client -------------------------------------------------- */

static struct crypto_tls_ctx *client_ctx(void)
{
	static struct crypto_tls_ctx *ctx;
	char why[CRYPTO_ERR_LEN];
	if (!ctx && !(ctx = crypto_tls_client_ctx_new(NULL, false, why))) {
		fprintf(stderr, "fake_tcp: TLS client context: %s\n", why);
		FUZZ_CHECK(!"a TLS client context");
	}
	return ctx;
}

bool fake_tcp_tls_client(struct fake_peer *p)
{
	if (p->tlsc || p->shut)
		return false;
	if (!(p->tlsc = crypto_tls_client_new(client_ctx(), NULL)))
		return false;
	/* offers the session of the newest other control connection: a data
	 * connection must resume it (as curl and lftp do), and so must an SPSV
	 * data connection, which comes in as a control connection */
	for (unsigned i = ft.npeers; i-- > 0;) {
		struct fake_peer *q = &ft.peers[i];
		if (q == p || !q->ctl || !q->tlsc || !crypto_tls_ready(q->tlsc))
			continue;
		void *sess = crypto_tls_session_get(q->tlsc);
		if (sess) {
			(void)crypto_tls_session_set(p->tlsc, sess);
			crypto_tls_session_free(sess);
		}
		break;
	}
	p->tls = false;            /* the replies are checked in the clear again */
	return true;
}

/* The client's turn: handshake, plaintext in (checked as replies on a
 * control connection), what it has to send out. Returns whether bytes
 * moved; a client whose TLS failed closes its connection. */
static bool tls_turn(struct fake_peer *p)
{
	bool moved = false;
	if (!crypto_tls_ready(p->tlsc) && crypto_tls_handshake(p->tlsc) == CRYPTO_TLS_ERROR)
		client_gives_up(p);
	if (crypto_tls_ready(p->tlsc)) {
		if (p->plain.len && !p->shut) {
			if (crypto_tls_write(p->tlsc, p->plain.p, p->plain.len) < 0)
				client_gives_up(p);
			fb_buf_free(&p->plain);
			moved = true;
		}
		uint8_t buf[4096];
		long n;
		while ((n = crypto_tls_read(p->tlsc, buf, sizeof(buf))) > 0) {
			if (p->ctl)
				reply_bytes(p, buf, (size_t)n);
			moved = true;
		}
	}
	const uint8_t *out;
	size_t n = crypto_tls_out(p->tlsc, &out);
	if (n && !p->shut) {
		fb_buf_append(&p->in, out, n);
		moved = true;
	}
	crypto_tls_sent(p->tlsc, n);
	return moved;
}

/* ---- the loop --------------------------------------------------------------- */

enum { RECV_CHUNK = 16384, TURNS_MAX = 100000 };

/* One connection's turn: output read, input delivered, close seen. Returns
 * whether anything happened; c may be gone after. */
static bool conn_turn(struct fe_conn *c)
{
	struct fake_peer *p = c->p;
	if (!c->owned && c->closing) {   /* adopted, never started, closed: */
		conn_free(c);                /* freed, no on_close (as the engine) */
		return true;
	}
	if (!c->owned || c->detaching)
		return false;
	if (c->queued && (!p || p->reading)) {
		if (p)
			p->received += c->queued;
		c->queued = 0;
		if (c->ops->on_drained && !c->closing) {
			c->ops->on_drained(c, c->arg);
			return true;
		}
		if (!c->closing)
			return true;
	}
	if (c->closing && !c->queued) {   /* sent: the close completes */
		c->ops->on_close(c, 0, c->arg);
		conn_free(c);
		return true;
	}
	if (c->closing)
		return false;
	if (c->x && c->x->recv)
		return recv_step(c);
	if (p && p->shut && c->queued && !p->reading) {
		/* unread bytes at the client's close: a reset */
		c->ops->on_close(c, -ECONNRESET, c->arg);
		conn_free(c);
		return true;
	}
	if (!c->receiving || c->paused || c->x)
		return false;
	if (p && p->in.len) {
		size_t n = p->in.len < RECV_CHUNK ? p->in.len : RECV_CHUNK;
		uint8_t *chunk = malloc(n);   /* exact size: ASan sees overreads */
		FUZZ_CHECK(chunk);
		memcpy(chunk, p->in.p, n);
		memmove(p->in.p, p->in.p + n, p->in.len - n);
		p->in.len -= n;
		c->ops->on_data(c, chunk, n, c->arg);
		free(chunk);
		return true;
	}
	if (!p || p->shut) {   /* the client's orderly close, after its bytes */
		c->ops->on_close(c, 0, c->arg);
		conn_free(c);
		return true;
	}
	return false;
}

void fake_tcp_run(void)
{
	for (unsigned turn = 0;; turn++) {
		FUZZ_CHECK(turn < TURNS_MAX);   /* the loop settles: no livelock */
		fake_run_mail();
		bool moved = false;
		/* a pass over a snapshot: callbacks add and free connections */
		struct fe_conn *snap[256];
		unsigned n = 0;
		for (struct fe_conn *c = ft.conns; c && n < 256; c = c->next)
			snap[n++] = c;
		for (unsigned i = 0; i < n; i++) {
			bool live = false;
			for (struct fe_conn *c = ft.conns; c; c = c->next)
				live |= c == snap[i];
			if (live)
				moved |= conn_turn(snap[i]);
		}
		for (unsigned i = 0; i < ft.npeers; i++)
			if (ft.peers[i].tlsc)
				moved |= tls_turn(&ft.peers[i]);
		if (!moved && !fake_mail_waiting())
			break;
	}
}

void fake_tcp_drop_conns(void)
{
	while (ft.conns) {
		struct fe_conn *c = ft.conns;
		if (c->x)
			xfer_stop(c->x);
		conn_free(c);
	}
}

void fake_tcp_end(void)
{
	FUZZ_CHECK(ft.conns == NULL);       /* every connection closed */
	FUZZ_CHECK(ft.listeners == NULL);   /* every listener closed */
	while (ft.parked) {                 /* a hand-off's descriptor: closed */
		struct parked *pk = ft.parked;
		ft.parked = pk->next;
		FUZZ_CHECK(fcntl(pk->fd, F_GETFD) < 0);
		free(pk);
	}
	for (unsigned i = 0; i < ft.npeers; i++) {
		struct fake_peer *p = &ft.peers[i];
		/* replies end on a complete one (not in TLS, not handed off) */
		if (p->ctl && !p->tls && !p->lax)
			FUZZ_CHECK(p->linelen == 0 && !p->multi);
		peer_free(p);
	}
	ft.npeers = 0;
}
