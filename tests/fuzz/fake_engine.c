/* fake_engine.c — the engine API as a test double: sockets that record
 * what is sent, timers in a list fired by a clock the harness moves, mail
 * queued and run between deliveries, all on the calling thread. Misuse a
 * real engine would turn into memory corruption (cancelling a timer that
 * is not pending, closing a socket twice, mail to no worker) is a finding. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fake_engine.h"
#include "fuzz.h"

struct fe_engine {
	unsigned nworkers;
};

struct fe_worker {
	struct fe_engine *e;
	unsigned index;
	void *data;
};

struct fe_udp {
	struct fe_worker *w;
	fe_udp_cb *cb;
	void *arg;
	struct sockaddr_storage local;
	struct fe_udp *next;
};

struct fe_timer {
	struct fe_worker *w;
	uint64_t due, seq;
	fe_timer_cb *cb;
	void *arg;
	struct fe_timer *next;
};

struct mail {
	struct fe_worker *to;
	fe_mail_cb *cb;
	void *arg;
	bool pool;                /* a helper pool job's done() */
	struct mail *next;
};

/* Spent timers, kept for a later fe_timer_add: a worker's watch re-arms
 * five times a simulated second and a fuzzer moves the clock by minutes,
 * so malloc and free (ASan's, with a stack trace each) would dominate.
 * The code under test never reads a timer. Like ASan's quarantine, a
 * spent timer is reused only after SPARE_MIN others: cancelling a timer
 * after it fired is still caught by fe_timer_cancel's list check. */
enum { SPARE_MIN = 1024 };
static struct {
	struct fe_timer *head, **tail;
	unsigned n;
} spare = { .tail = &spare.head };

static void timer_free(struct fe_timer *t)
{
	*t = (struct fe_timer){ 0 };
	*spare.tail = t;
	spare.tail = &t->next;
	spare.n++;
}

static struct fe_timer *timer_alloc(void)
{
	if (spare.n <= SPARE_MIN)
		return malloc(sizeof(struct fe_timer));
	struct fe_timer *t = spare.head;
	spare.head = t->next;
	if (!spare.head)
		spare.tail = &spare.head;
	spare.n--;
	return t;
}

/* The one loop being played (a test double: the harness is the engine). */
static struct {
	struct fe_engine e;
	struct fe_worker w[FAKE_MAX_WORKERS];
	uint64_t now, seq;
	struct fe_udp *sockets;
	struct fe_timer *timers;
	struct mail *mail, **mail_tail;
	bool pool_held;           /* pool jobs are slow: their done() waits */
	struct fake_stats st;
} fk;

void fake_begin(unsigned nworkers, uint64_t now_ms)
{
	FUZZ_CHECK(nworkers >= 1 && nworkers <= FAKE_MAX_WORKERS);
	FUZZ_CHECK(!fk.sockets && !fk.timers && !fk.mail);
	memset(&fk, 0, sizeof(fk));
	fk.e.nworkers = nworkers;
	for (unsigned i = 0; i < nworkers; i++)
		fk.w[i] = (struct fe_worker){ .e = &fk.e, .index = i };
	fk.now = now_ms;
	fk.mail_tail = &fk.mail;
}

struct fe_worker *fake_worker(unsigned index)
{
	FUZZ_CHECK(index < fk.e.nworkers);
	return &fk.w[index];
}

const struct fake_stats *fake_stats(void)
{
	return &fk.st;
}

/* Unlinks and runs the first queued mail that want() accepts, in order;
 * false when there is none. */
static bool run_first(bool (*want)(const struct mail *m))
{
	for (struct mail **p = &fk.mail; *p; p = &(*p)->next) {
		if (!want(*p))
			continue;
		struct mail *m = *p;
		*p = m->next;
		fk.mail_tail = &fk.mail;
		while (*fk.mail_tail)
			fk.mail_tail = &(*fk.mail_tail)->next;
		fk.st.pending_mail--;
		m->cb(m->to, m->arg);
		free(m);
		return true;
	}
	return false;
}

static bool runnable(const struct mail *m)
{
	return !m->pool || !fk.pool_held;
}

static bool from_pool(const struct mail *m)
{
	return m->pool;
}

void fake_run_mail(void)
{
	while (run_first(runnable))
		;
}

bool fake_mail_waiting(void)
{
	for (const struct mail *m = fk.mail; m; m = m->next)
		if (runnable(m))
			return true;
	return false;
}

void fake_pool_hold(bool hold)
{
	fk.pool_held = hold;
}

void fake_pool_drain(void)
{
	while (run_first(from_pool))
		;
}

int fake_deliver(unsigned worker, int family, const uint8_t *data, size_t len,
		 const struct sockaddr *src, socklen_t srclen)
{
	for (struct fe_udp *s = fk.sockets; s; s = s->next) {
		if (s->w != &fk.w[worker] || s->local.ss_family != family)
			continue;
		struct fe_datagram d = { .data = data, .len = len, .src = src,
					 .srclen = srclen, .dst = s->local };
		s->cb(s, &d, s->arg);
		return 1;
	}
	return 0;
}

void fake_advance(uint64_t ms)
{
	uint64_t until = fk.now + ms;
	for (;;) {
		/* the earliest due timer, first added first among equals */
		struct fe_timer **best = NULL;
		for (struct fe_timer **p = &fk.timers; *p; p = &(*p)->next)
			if ((*p)->due <= until && (!best || (*p)->due < (*best)->due ||
			    ((*p)->due == (*best)->due && (*p)->seq < (*best)->seq)))
				best = p;
		if (!best)
			break;
		struct fe_timer *t = *best;
		*best = t->next;
		fk.st.pending_timers--;
		if (t->due > fk.now)
			fk.now = t->due;
		t->cb(t->w, t->arg);
		timer_free(t);
		if (fk.mail)
			fake_run_mail();
	}
	fk.now = until;
}

void fake_end(void)
{
	fk.pool_held = false;
	fake_run_mail();
	FUZZ_CHECK(fk.sockets == NULL);   /* every socket closed */
	FUZZ_CHECK(fk.timers == NULL);    /* every timer cancelled or fired */
	FUZZ_CHECK(fk.st.pending_mail == 0);
}

/* ---- the engine API ------------------------------------------------------ */

static int post(size_t to, fe_mail_cb *cb, void *arg, bool pool);

unsigned fe_engine_workers(const struct fe_engine *e)
{
	return e->nworkers;
}

struct fe_worker *fe_engine_worker(struct fe_engine *e, unsigned index)
{
	return index < e->nworkers ? &fk.w[index] : NULL;
}

unsigned fe_worker_index(const struct fe_worker *w)
{
	return w->index;
}

struct fe_engine *fe_worker_engine(const struct fe_worker *w)
{
	return w->e;
}

void *fe_worker_data(const struct fe_worker *w)
{
	return w->data;
}

void fe_worker_set_data(struct fe_worker *w, void *data)
{
	w->data = data;
}

uint64_t fe_now_ms(const struct fe_worker *w)
{
	(void)w;
	return fk.now;
}

struct fe_udp *fe_udp_open(struct fe_worker *w, const struct fe_udp_opts *o,
			   fe_udp_cb *cb, void *arg, int *err)
{
	FUZZ_CHECK(o->bind.ss_family == AF_INET || o->bind.ss_family == AF_INET6);
	struct fe_udp *s = calloc(1, sizeof(*s));
	if (!s) {
		*err = -ENOMEM;
		return NULL;
	}
	s->w = w;
	s->cb = cb;
	s->arg = arg;
	s->local = o->bind;
	s->next = fk.sockets;
	fk.sockets = s;
	fk.st.open_sockets++;
	return s;
}

static void check_open(const struct fe_udp *s)
{
	const struct fe_udp *p = fk.sockets;
	while (p && p != s)
		p = p->next;
	FUZZ_CHECK(p == s);   /* a socket that is open */
}

static void check_group(const struct fe_udp *s, const struct sockaddr *group)
{
	check_open(s);
	FUZZ_CHECK(group->sa_family == AF_INET || group->sa_family == AF_INET6);
}

int fe_udp_join(struct fe_udp *s, const struct sockaddr *group, unsigned ifindex,
		const struct sockaddr *source)
{
	(void)ifindex;
	(void)source;
	check_group(s, group);
	fk.st.joins++;
	return 0;
}

int fe_udp_leave(struct fe_udp *s, const struct sockaddr *group, unsigned ifindex,
		 const struct sockaddr *source)
{
	(void)ifindex;
	(void)source;
	check_group(s, group);
	fk.st.leaves++;
	return 0;
}

int fe_udp_send(struct fe_udp *s, const struct sockaddr *dst, socklen_t dstlen,
		const void *data, size_t len)
{
	check_open(s);
	FUZZ_CHECK(dst->sa_family == AF_INET || dst->sa_family == AF_INET6);
	FUZZ_CHECK(dstlen >= (dst->sa_family == AF_INET ? sizeof(struct sockaddr_in)
							 : sizeof(struct sockaddr_in6)));
	FUZZ_CHECK(len <= 65507);   /* what one UDP datagram holds */
	/* read every byte sent: ASan checks they are inside the buffer
	 * (MSan, where built, that they were written) */
	volatile uint8_t sum = 0;
	for (size_t i = 0; i < len; i++)
		sum ^= ((const uint8_t *)data)[i];
	(void)sum;
	fk.st.sends++;
	fk.st.send_bytes += len;
	return 0;
}

int fe_udp_local(const struct fe_udp *s, struct sockaddr_storage *out)
{
	check_open(s);
	*out = s->local;
	return 0;
}

void fe_udp_close(struct fe_udp *s)
{
	if (!s)
		return;
	struct fe_udp **p = &fk.sockets;
	while (*p && *p != s)
		p = &(*p)->next;
	FUZZ_CHECK(*p == s);   /* closed once */
	*p = s->next;
	fk.st.open_sockets--;
	free(s);
}

struct fe_timer *fe_timer_add(struct fe_worker *w, uint64_t delay_ms,
			      fe_timer_cb *cb, void *arg)
{
	struct fe_timer *t = timer_alloc();
	if (!t)
		return NULL;
	*t = (struct fe_timer){ .w = w, .due = fk.now + delay_ms, .seq = fk.seq++,
				.cb = cb, .arg = arg, .next = fk.timers };
	fk.timers = t;
	fk.st.timers++;
	fk.st.pending_timers++;
	return t;
}

void fe_timer_cancel(struct fe_worker *w, struct fe_timer *t)
{
	if (!t)
		return;
	struct fe_timer **p = &fk.timers;
	while (*p && *p != t)
		p = &(*p)->next;
	FUZZ_CHECK(*p == t);   /* pending: not fired, not cancelled before */
	FUZZ_CHECK(t->w == w); /* on the worker that added it */
	*p = t->next;
	fk.st.pending_timers--;
	timer_free(t);
}

/* The helper pool: the job runs at once (public-key work of the key
 * exchange and of signed heartbeats), its done() comes back like mail,
 * but before worker_fini when the workers stop (fake_pool_drain), as the
 * engine drains the pool then. */
int fe_pool_submit(struct fe_worker *w, fe_job_fn *fn, fe_job_done_fn *done, void *arg)
{
	fn(arg);
	return post(w - fk.w, done, arg, true);
}

int fe_mail_post(struct fe_worker *from, unsigned to, fe_mail_cb *cb, void *arg)
{
	(void)from;
	return post(to, cb, arg, false);
}

static int post(size_t to, fe_mail_cb *cb, void *arg, bool pool)
{
	FUZZ_CHECK(to < fk.e.nworkers);
	struct mail *m = malloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	*m = (struct mail){ .to = &fk.w[to], .cb = cb, .arg = arg, .pool = pool };
	*fk.mail_tail = m;
	fk.mail_tail = &m->next;
	fk.st.mails++;
	fk.st.pending_mail++;
	return 0;
}

int fe_engine_post(struct fe_engine *e, unsigned to, fe_mail_cb *cb, void *arg)
{
	(void)e;
	return fe_mail_post(&fk.w[0], to, cb, arg);
}
