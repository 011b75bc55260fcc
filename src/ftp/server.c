/* server.c — the FTP service shared by all workers: accounts and their root
 * directories, session counts, and on each worker its listeners and the
 * delivery of SPSV data connections handed over from other workers. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "ferry/base.h"
#include "ftp_internal.h"

int ftp_server_create(const struct ferry_config *cfg, struct ftp_server **out)
{
	const struct ftp_config *fc = &cfg->ftp;
	*out = NULL;
	struct ftp_server *s = calloc(1, sizeof(*s));
	if (!s)
		return FERRY_EXIT_ALLOC;
	s->cfg = cfg;
	s->fc = fc;
	pthread_mutex_init(&s->lock, NULL);
	s->spsv = ftp_spsv_create();
	s->lockout = ftp_lockout_create(fc->max_login_failures, fc->lockout_seconds,
				    LOCKOUT_MAX_ENTRIES);
	int r = s->spsv && s->lockout ? 0 : FERRY_EXIT_ALLOC;
	if (r == 0)
		r = ftp_tls_load(s);
	if (r == 0)
		r = ftp_settings_new(fc, &s->set);
	if (r == 0 && fc->proxy_from.n &&
	    !(s->balancers = calloc(fc->proxy_from.n, sizeof(*s->balancers))))
		r = FERRY_EXIT_ALLOC;
	for (size_t i = 0; r == 0 && i < fc->proxy_from.n; i++) {
		if (fb_prefix_parse(fc->proxy_from.v[i], &s->balancers[i]) < 0) {
			flog(LOG_LVL_ERR, "ftp: proxy_protocol: '%s' is not an address "
			     "or prefix", fc->proxy_from.v[i]);
			r = FERRY_EXIT_PARAM;
		} else {
			s->nbalancers++;
		}
	}
	int err = 0;
	if (r == 0 && !(s->xlog = ftp_xferlog_open(fc->xferlog, &err))) {
		flog(LOG_LVL_ERR, "ftp: transfer log %s: %s", fc->xferlog, strerror(-err));
		r = err == -ENOMEM ? FERRY_EXIT_ALLOC : FERRY_EXIT_LOG;
	}
	if (r) {
		ftp_server_destroy(s);
		return r;
	}
	*out = s;
	return 0;
}

void ftp_server_destroy(struct ftp_server *s)
{
	if (!s)
		return;
	ftp_settings_put(s->set);
	free(s->balancers);
	crypto_tls_slot_free(s->tls);
	ftp_spsv_destroy(s->spsv);
	ftp_lockout_destroy(s->lockout);
	ftp_xferlog_close(s->xlog);
	free(s->addrs);
	free(s->workers);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

const struct ftp_account *ftp_server_find_account(const struct ftp_settings *set,
					      const char *user, bool *anonymous)
{
	*anonymous = false;
	for (size_t i = 0; i < set->naccounts; i++)
		if (!strcmp(set->accounts[i].name, user))
			return &set->accounts[i];
	if (set->has_anon && (!strcasecmp(user, "anonymous") || !strcasecmp(user, "ftp"))) {
		*anonymous = true;
		return &set->anon;
	}
	return NULL;
}

/* ---- session and connection counts -------------------------------------- */

static struct addr_slot *addr_find(struct ftp_server *s, const struct sockaddr_storage *a)
{
	for (size_t i = 0; i < s->naddrs; i++)
		if (fb_addr_same_host(&s->addrs[i].a, a))
			return &s->addrs[i];
	return NULL;
}

bool ftp_server_take_slot(struct ftp_server *s, const struct sockaddr_storage *peer)
{
	bool ok = false;
	pthread_mutex_lock(&s->lock);
	struct addr_slot *as = addr_find(s, peer);
	const struct ftp_config *fc = s->set->fc;   /* the newest limits */
	if (s->sessions < fc->max_sessions &&
	    (!as || as->count < fc->max_per_address)) {
		if (!as && s->naddrs == s->addrs_cap) {
			size_t cap = s->addrs_cap ? s->addrs_cap * 2 : 16;
			struct addr_slot *v = realloc(s->addrs, cap * sizeof(*v));
			if (v) {
				s->addrs = v;
				s->addrs_cap = cap;
			}
		}
		if (!as && s->naddrs < s->addrs_cap) {
			as = &s->addrs[s->naddrs++];
			as->a = *peer;
			as->count = 0;
		}
		if (as) {
			as->count++;
			s->sessions++;
			ok = true;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return ok;
}

void ftp_server_release_slot(struct ftp_server *s, const struct sockaddr_storage *peer)
{
	pthread_mutex_lock(&s->lock);
	struct addr_slot *as = addr_find(s, peer);
	if (as && --as->count == 0)
		*as = s->addrs[--s->naddrs];
	s->sessions--;
	pthread_mutex_unlock(&s->lock);
}

/* Connections of any kind, including those only allowed to become SPSV data
 * connections: bounded too, so a flood cannot exhaust descriptors. */
bool ftp_server_take_connection(struct ftp_server *s)
{
	pthread_mutex_lock(&s->lock);
	bool ok = s->connections < 2 * s->set->fc->max_sessions + 64;
	if (ok)
		s->connections++;
	pthread_mutex_unlock(&s->lock);
	return ok;
}

void ftp_server_release_connection(struct ftp_server *s)
{
	pthread_mutex_lock(&s->lock);
	s->connections--;
	pthread_mutex_unlock(&s->lock);
}

/* ---- hand-offs between workers ------------------------------------------ */

struct handoff {
	struct ftp_server *srv;
	uint64_t session;
	int fd;
	struct crypto_tls *tls;   /* the DATACONN connection's TLS, or NULL */
	size_t len;
	uint8_t extra[];
};

static void handoff_arrive(struct fe_worker *to, void *arg)
{
	struct handoff *h = arg;
	struct ftp_server *srv = h->srv;
	pthread_mutex_lock(&srv->lock);
	struct ftp_worker *fw = fe_worker_index(to) < srv->nworkers
					? srv->workers[fe_worker_index(to)] : NULL;
	pthread_mutex_unlock(&srv->lock);
	struct ftp_session *s = fw ? ftp_session_find(fw, h->session) : NULL;
	struct fe_conn *c = s ? fe_conn_adopt(to, h->fd) : NULL;
	if (!c) {
		flog(LOG_LVL_VERB, "ftp: SPSV data connection for a session that is gone");
		crypto_tls_free(h->tls);
		close(h->fd);
	} else {
		ftp_data_adopt(s, c, h->extra, h->len, h->tls);
	}
	free(h);
}

void ftp_server_deliver(struct fe_worker *from, struct ftp_server *srv, unsigned to,
		    uint64_t session, int fd, const uint8_t *extra, size_t len,
		    struct crypto_tls *tls)
{
	struct handoff *h = malloc(sizeof(*h) + len);
	if (!h) {
		crypto_tls_free(tls);
		close(fd);
		return;
	}
	h->tls = tls;
	h->srv = srv;
	h->session = session;
	h->fd = fd;
	h->len = len;
	if (len)
		memcpy(h->extra, extra, len);
	if (to == fe_worker_index(from)) {
		handoff_arrive(from, h);
		return;
	}
	flog(LOG_LVL_VERB, "ftp: SPSV data connection handed from worker %u to worker %u",
	     fe_worker_index(from), to);
	if (fe_mail_post(from, to, handoff_arrive, h) < 0) {
		crypto_tls_free(tls);
		close(fd);
		free(h);
	}
}

/* ---- shutdown ----------------------------------------------------------- */

void ftp_server_shutdown(struct ftp_server *srv)
{
	__atomic_store_n(&srv->stopping, 1, __ATOMIC_RELEASE);
}

bool ftp_server_idle(struct ftp_server *srv)
{
	pthread_mutex_lock(&srv->lock);
	bool idle = srv->connections == 0;
	pthread_mutex_unlock(&srv->lock);
	return idle;
}

int ftp_server_reopen(struct ftp_server *srv)
{
	int err = ftp_xferlog_reopen(srv->xlog);
	if (err)
		flog(LOG_LVL_ERR, "ftp: cannot reopen transfer log %s: %s", srv->fc->xferlog,
		     strerror(-err));
	return err ? FERRY_EXIT_LOG : 0;
}

enum { WATCH_MS = 200 };

/* The main thread cannot post mail, so each worker looks at the flag a few
 * times a second: cheap, and a stop is seen within WATCH_MS. */
static void watch(struct fe_worker *w, void *arg)
{
	struct ftp_worker *fw = arg;
	fw->watch = NULL;
	if (!__atomic_load_n(&fw->srv->stopping, __ATOMIC_ACQUIRE)) {
		fw->watch = fe_timer_add(w, WATCH_MS, watch, fw);
		return;
	}
	for (size_t i = 0; i < fw->nlisteners; i++)
		fe_listener_close(fw->listeners[i]);
	fw->nlisteners = 0;
	ftp_proxy_worker_stop(fw);
	for (struct ftp_session *s = fw->sessions, *next; s; s = next) {
		next = s->next;      /* closing may bury s */
		if (s->closing)
			continue;
		ftp_session_reply(s, 421, "Service shutting down; closing control connection.");
		ftp_session_close(s);
	}
}

/* ---- workers ------------------------------------------------------------ */

static void on_accept(struct fe_listener *l, struct fe_conn *c, void *arg)
{
	const struct ftp_listen_opt *lo = arg;
	(void)l;
	if (lo->fw->srv->nbalancers && ftp_proxy_trusted(lo->fw->srv, fe_conn_peer(c)))
		ftp_proxy_accept(lo, c);
	else
		ftp_session_accept(lo, c);
}

/* The i-th listening address: ftp.listen's, then ftp.tls.implicit_listen's. */
static const char *listen_addr(const struct ftp_config *fc, size_t i, bool *implicit)
{
	*implicit = i >= fc->listen.n;
	return *implicit ? fc->tls_implicit.v[i - fc->listen.n] : fc->listen.v[i];
}

int ftp_worker_init(struct fe_worker *w, struct ftp_server *srv,
		    struct ftp_worker **out)
{
	const struct ftp_config *fc = srv->fc;
	struct ftp_worker *fw = calloc(1, sizeof(*fw));
	size_t nl = fc->listen.n + (srv->tls_on ? fc->tls_implicit.n : 0);
	*out = NULL;
	if (!fw || !(fw->listeners = calloc(nl, sizeof(*fw->listeners))) ||
	    !(fw->lopts = calloc(nl, sizeof(*fw->lopts)))) {
		if (fw)
			free(fw->listeners);
		free(fw);
		return FERRY_EXIT_ALLOC;
	}
	fw->w = w;
	fw->srv = srv;
	unsigned nw = fe_engine_workers(fe_worker_engine(w));
	pthread_mutex_lock(&srv->lock);
	if (!srv->workers && (srv->workers = calloc(nw, sizeof(*srv->workers))))
		srv->nworkers = nw;
	if (srv->workers)
		srv->workers[fe_worker_index(w)] = fw;
	pthread_mutex_unlock(&srv->lock);
	for (size_t i = 0; i < nl; i++) {
		struct sockaddr_storage a;
		struct ftp_listen_opt *lo = &fw->lopts[i];
		lo->fw = fw;
		lo->addr = listen_addr(fc, i, &lo->implicit);
		int err = fb_listen_parse(lo->addr, &a);
		if (err == 0 &&
		    !(fw->listeners[i] = fe_tcp_listen(w, &a, true, on_accept, lo, &err)))
			err = err ? err : -ENOMEM;
		if (err) {
			flog(LOG_LVL_ERR, "ftp: listen on %s: %s", lo->addr, strerror(-err));
			ftp_worker_fini(fw);
			return FERRY_EXIT_NET;
		}
		fw->nlisteners++;
	}
	fw->watch = fe_timer_add(w, WATCH_MS, watch, fw);
	if (fe_worker_index(w) == 0)
		flog(LOG_LVL_INFO, "ftp: listening on %zu address(es), first %s; %zu implicit "
		     "FTPS", fc->listen.n, fc->listen.v[0], nl - fc->listen.n);
	*out = fw;
	return 0;
}

void ftp_worker_fini(struct ftp_worker *fw)
{
	if (!fw)
		return;
	struct ftp_server *srv = fw->srv;
	pthread_mutex_lock(&srv->lock);
	if (srv->workers)
		srv->workers[fe_worker_index(fw->w)] = NULL;
	pthread_mutex_unlock(&srv->lock);
	fe_timer_cancel(fw->w, fw->watch);
	for (size_t i = 0; i < fw->nlisteners; i++)
		fe_listener_close(fw->listeners[i]);
	ftp_session_free_all(fw);
	ftp_proxy_worker_fini(fw);
	while (fw->links)
		ftp_link_free(fw->links);
	free(fw->listeners);
	free(fw->lopts);
	free(fw);
	if (srv->tls_on)
		crypto_thread_done();   /* this worker's EC cache from handshakes */
}

/* ---- reload (main thread) ------------------------------------------------ */

/* Landlock was given the start-up roots: a root beneath one of them (with
 * write access only where that one had it) is reachable after a reload,
 * anything else is not. Lexical: both are absolute, as the config made them. */
static bool beneath(const char *dir, const char *path)
{
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	return !strncmp(dir, path, n) && (path[n] == '\0' || path[n] == '/' || n == 1);
}

static bool root_allowed(const struct ftp_config *start, const char *root, bool write)
{
	for (size_t i = 0; i < start->user_count; i++)
		if (beneath(start->users[i].root, root) && (!write || start->users[i].write))
			return true;
	return start->anonymous_root && beneath(start->anonymous_root, root) &&
	       (!write || start->anonymous_write || start->anonymous_upload_only);
}

static int check_roots(const struct ftp_server *srv, const struct ftp_config *fc)
{
	int r = 0;
	for (size_t i = 0; i < fc->user_count; i++)
		if (!root_allowed(srv->fc, fc->users[i].root, fc->users[i].write)) {
			flog(LOG_LVL_ERR, "reload: ftp.users '%s': root %s%s is outside the "
			     "directories the sandbox allowed at start-up: needs a restart",
			     fc->users[i].name, fc->users[i].root,
			     fc->users[i].write ? " (with write)" : "");
			r = FERRY_EXIT_PARAM;
		}
	bool aw = fc->anonymous_write || fc->anonymous_upload_only;
	if (fc->anonymous_root && !root_allowed(srv->fc, fc->anonymous_root, aw)) {
		flog(LOG_LVL_ERR, "reload: ftp.anonymous_root %s%s is outside the directories "
		     "the sandbox allowed at start-up: needs a restart", fc->anonymous_root,
		     aw ? " (with write)" : "");
		r = FERRY_EXIT_PARAM;
	}
	return r;
}

int ftp_server_reload(struct ftp_server *srv, struct ferry_config *cfg,
		      void (*release)(struct ferry_config *cfg))
{
	struct ftp_settings *set = NULL;
	struct crypto_tls_ctx *tls = NULL;
	int r = check_roots(srv, &cfg->ftp);
	if (r == 0)
		r = ftp_tls_reload(srv, &cfg->ftp, &tls);
	if (r == 0)
		r = ftp_settings_new(&cfg->ftp, &set);
	if (r) {
		crypto_tls_ctx_free(tls);
		flog(LOG_LVL_ERR, "reload refused: FTP accounts, limits and certificates "
		     "not changed");
		return r;
	}
	ftp_tls_install(srv, tls);
	set->owned = cfg;
	set->release = release;
	ftp_lockout_configure(srv->lockout, cfg->ftp.max_login_failures, cfg->ftp.lockout_seconds);
	pthread_mutex_lock(&srv->lock);
	struct ftp_settings *old = srv->set;
	srv->set = set;
	pthread_mutex_unlock(&srv->lock);
	ftp_settings_put(old);     /* sessions still holding it keep it */
	flog(LOG_LVL_INFO, "reload: FTP: %zu account(s)%s; sessions in progress keep "
	     "the settings they started with", set->naccounts,
	     set->has_anon ? " and anonymous" : "");
	return 0;
}
