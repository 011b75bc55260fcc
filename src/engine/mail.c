/* mail.c — hand-offs between workers: a message rides an IORING_OP_MSG_RING
 * from the sender's ring into the receiver's completion queue. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "ferry/base.h"
#include "internal.h"

enum { MAIL_TRIES = 3 };

static void mail_send(struct fe_worker *from, struct fe_mail *m)
{
	struct io_uring_sqe *sqe = fe_sqe(from);
	io_uring_prep_msg_ring(sqe, m->to->ring.ring_fd, 0, ud_make(OP_MAIL, m), 0);
	io_uring_sqe_set_data64(sqe, ud_make(OP_MAIL_SENT, m));
	from->inflight++;
	from->st.mail_tx++;
}

static struct fe_mail *mail_new(struct fe_engine *e, unsigned to, fe_mail_cb *cb,
				void *arg)
{
	struct fe_mail *m = to < e->nworkers ? calloc(1, sizeof(*m)) : NULL;
	if (m)
		*m = (struct fe_mail){ .cb = cb, .arg = arg, .to = &e->workers[to] };
	return m;
}

int fe_mail_post(struct fe_worker *from, unsigned to, fe_mail_cb *cb, void *arg)
{
	struct fe_mail *m = mail_new(from->eng, to, cb, arg);
	if (!m)
		return to < from->eng->nworkers ? -ENOMEM : -EINVAL;
	/* The receiver keeps its ring until this is back to zero. */
	atomic_fetch_add(&m->to->mail_pending, 1);
	mail_send(from, m);
	return 0;
}

int fe_engine_post(struct fe_engine *e, unsigned to, fe_mail_cb *cb, void *arg)
{
	struct fe_mail *m = mail_new(e, to, cb, arg);
	if (!m)
		return to < e->nworkers ? -ENOMEM : -EINVAL;
	pthread_mutex_lock(&e->lock);       /* the control ring, as fe_engine_stop */
	int r = -ESRCH;
	struct io_uring_sqe *sqe = m->to->thread ? io_uring_get_sqe(&e->ctl) : NULL;
	if (sqe) {
		atomic_fetch_add(&m->to->mail_pending, 1);
		io_uring_prep_msg_ring(sqe, m->to->ring.ring_fd, 0, ud_make(OP_MAIL, m), 0);
		struct io_uring_cqe *cqe;
		r = io_uring_submit_and_wait(&e->ctl, 1);
		if (r >= 0 && (r = io_uring_peek_cqe(&e->ctl, &cqe)) == 0) {
			r = cqe->res < 0 ? cqe->res : 0;
			io_uring_cqe_seen(&e->ctl, cqe);
		}
		if (r < 0)
			atomic_fetch_sub(&m->to->mail_pending, 1);
	}
	pthread_mutex_unlock(&e->lock);
	if (r < 0)
		free(m);
	return r;
}

/* On success the receiver owns the message and may already have freed it;
 * on failure (the receiver's CQ was full) it is still ours to retry. */
void fe_mail_on_sent(struct fe_worker *w, const struct io_uring_cqe *cqe)
{
	w->inflight--;
	if (cqe->res >= 0)
		return;
	struct fe_mail *m = ud_ptr(cqe->user_data);
	if (++m->tries < MAIL_TRIES && !w->stopping) {
		mail_send(w, m);
		return;
	}
	flog(LOG_LVL_ERR, "%s: worker %u: message to worker %u lost: %d", __func__,
	     w->index, m->to->index, cqe->res);
	atomic_fetch_sub(&m->to->mail_pending, 1);
	free(m);
}

/* Always delivered, also to a worker that is stopping: a hand-off carries
 * what only its callback can release (a descriptor, a buffer). After the
 * receiver's worker_fini the protocol must cope (its per-worker state is
 * gone; it releases what the message carries). */
void fe_mail_on_receive(struct fe_worker *w, const struct io_uring_cqe *cqe)
{
	struct fe_mail *m = ud_ptr(cqe->user_data);
	w->st.mail_rx++;
	m->cb(w, m->arg);
	free(m);
	atomic_fetch_sub(&w->mail_pending, 1);
}
