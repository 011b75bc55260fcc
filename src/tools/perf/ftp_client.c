/* ftp_client.c — one load thread of ferry-perf ftp: its epoll loop, and each
 * client's start, back-off, deadlines and end. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "ftp_client.h"

const char *const ftp_err_names[ERR__COUNT] = {
	[ERR_CONNECT] = "connect", [ERR_REPLY] = "reply", [ERR_CLOSED] = "closed",
	[ERR_TIMEOUT] = "timeout", [ERR_DATA] = "data", [ERR_SIZE] = "size",
	[ERR_PROTO] = "protocol",
};

void samples_add(struct samples *s, double x)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4096;
		double *v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return;   /* a lost sample, not a lost run */
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = x;
}

bool ftp_take_ticket(struct ftp_run *r)
{
	if (!r->o->count)
		return true;
	return __atomic_fetch_add(&r->tickets, 1, __ATOMIC_RELAXED) < r->o->count;
}

bool perf_ftp_tickets_left(struct ftp_run *r)
{
	return !r->o->count || __atomic_load_n(&r->tickets, __ATOMIC_RELAXED) < r->o->count;
}

void perf_ftp_finish(struct ftp_client *c)
{
	if (c->st == C_DONE)
		return;
	c->st = C_DONE;
	c->t->done++;
}

void perf_ftp_set_deadline(struct ftp_client *c, uint64_t ms)
{
	c->deadline_ns = ms == UINT64_MAX ? UINT64_MAX : perf_now_ns() + ms * 1000000u;
}

void perf_ftp_wait_reply(struct ftp_client *c, enum cstate st)
{
	c->st = st;
	perf_ftp_set_deadline(c, (uint64_t)(opts(c)->timeout * 1000));
}

void perf_ftp_start_client(struct ftp_client *c)
{
	bool login = opts(c)->mode == MODE_LOGIN;
	if (stopping(c->t->run) || (login && !ftp_take_ticket(c->t->run))) {
		perf_ftp_finish(c);
		return;
	}
	c->ticketed = login && opts(c)->count;
	c->ending = false;
	c->op_ns = perf_now_ns();
	int r = perf_ftp_dial(c, 0, &c->ctl);
	if (r < 0) {
		c->st = C_CONNECTING;
		perf_ftp_fail(c, ERR_CONNECT, "%s", strerror(-r));
		return;
	}
	perf_ftp_wait_reply(c, C_CONNECTING);
	if ((r = perf_ftp_watch(c, false)) < 0)
		perf_ftp_fail(c, ERR_CONNECT, "epoll: %s", strerror(-r));
}

/* Idle mode: a client got its session up, or gave up; the next one starts. */
void perf_ftp_client_settled(struct ftp_client *c)
{
	struct ftp_thread *t = c->t;
	add(&t->settled, 1);
	t->logins_in_flight--;
	if (t->next_pending < t->nclients) {
		t->logins_in_flight++;
		perf_ftp_start_client(&t->clients[t->next_pending++]);
	}
}

static void on_deadline(struct ftp_client *c)
{
	switch (c->st) {
	case C_IDLE:
		perf_ftp_wait_reply(c, C_NOOP);
		perf_ftp_say(c, "NOOP");
		break;
	case C_BACKOFF:
		perf_ftp_start_client(c);
		break;
	case C_CLOSING:             /* no FIN after 221: close ours */
		perf_ftp_close_all(c);
		if (c->ending || stopping(c->t->run))
			perf_ftp_finish(c);
		else
			perf_ftp_start_client(c);
		break;
	default:
		perf_ftp_fail(c, ERR_TIMEOUT, "no progress for %.0f s", opts(c)->timeout);
		break;
	}
}

static void check_deadlines(struct ftp_thread *t, uint64_t now)
{
	for (unsigned i = 0; i < t->nclients; i++) {
		struct ftp_client *c = &t->clients[i];
		if (c->st != C_DONE && c->st != C_PENDING && c->deadline_ns <= now)
			on_deadline(c);
	}
}

void *ftp_thread_main(void *arg)
{
	struct ftp_thread *t = arg;
	struct ftp_run *r = t->run;
	const struct ftp_opts *o = r->o;
	if (perf_pin(o->cpu) < 0) {
		t->sys_err = EINVAL;
		goto out;
	}
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	t->clients = calloc(t->nclients, sizeof(*t->clients));
	if (t->epfd < 0 || !t->clients) {
		t->sys_err = errno ? errno : ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < t->nclients; i++) {
		struct ftp_client *c = &t->clients[i];
		c->t = t;
		c->id = t->first_id + i;
		c->index = i;
		c->ctl = c->dat = -1;
		c->deadline_ns = UINT64_MAX;
	}
	/* Idle mode ramps up: at most `ramp` logins in flight per thread. */
	unsigned first = t->nclients;
	if (o->mode == MODE_IDLE && o->ramp < first)
		first = o->ramp;
	for (unsigned i = 0; i < first; i++) {
		t->logins_in_flight++;
		t->next_pending++;
		perf_ftp_start_client(&t->clients[i]);
	}

	struct epoll_event ev[256];
	uint64_t next_tick = perf_now_ns();
	while (t->done < t->nclients) {
		int n = epoll_wait(t->epfd, ev, 256, TICK_MS);
		if (n < 0 && errno != EINTR) {
			t->sys_err = errno;
			break;
		}
		for (int i = 0; i < n; i++) {
			uint64_t u = ev[i].data.u64;
			bool data = u & 1;
			struct ftp_client *c = &t->clients[u >> 32];
			if (c->st == C_DONE || (data ? c->dat : c->ctl) < 0 || perf_ftp_tag(c, data) != u)
				continue;     /* stale: from a descriptor since closed */
			if (data)
				perf_ftp_on_data_event(c, ev[i].events);
			else
				perf_ftp_on_ctl_event(c, ev[i].events);
		}
		uint64_t now = perf_now_ns();
		if (stopping(r))
			break;
		if (now >= next_tick) {
			next_tick = now + TICK_MS * 1000000u;
			check_deadlines(t, now);
		}
	}
	for (unsigned i = 0; i < t->nclients; i++)
		perf_ftp_close_all(&t->clients[i]);
out:
	if (t->epfd >= 0)
		close(t->epfd);
	free(t->clients);
	t->clients = NULL;
	__atomic_store_n(&t->finished, true, __ATOMIC_RELEASE);
	return NULL;
}
