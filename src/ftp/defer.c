/* defer.c — FTP work that may block (crypt, directory reads, file metadata)
 * runs on the engine's helper pool while its session waits: no further
 * command is read until the job's done() has run on the session's worker,
 * and a session that went away meanwhile is freed only when its jobs are. */
#include <errno.h>
#include <stdlib.h>

#include "ferry/log.h"
#include "ftp_internal.h"

struct deferred {
	struct ftp_session *s;
	ftp_work_fn *work;
	ftp_done_fn *done;
	void *ctx;
};

static void run_work(void *arg)
{
	struct deferred *d = arg;
	d->work(d->ctx);
}

static void run_done(struct fe_worker *w, void *arg)
{
	struct deferred *d = arg;
	struct ftp_session *s = d->s;
	(void)w;
	assert(s->jobs > 0);
	s->jobs--;
	if (s->state == ST_GONE) {          /* torn down while the job ran */
		if (!s->jobs)
			session_free_now(s);
	} else {
		d->done(s, d->ctx);
	}
	free(d->ctx);
	free(d);
	if (s->state != ST_GONE && !s->jobs)
		session_resume(s);             /* the commands that waited */
}

bool ftp_defer(struct ftp_session *s, ftp_work_fn *work, ftp_done_fn *done, void *ctx)
{
	struct deferred *d = malloc(sizeof(*d));
	int r = d ? 0 : -ENOMEM;
	if (d) {
		*d = (struct deferred){ .s = s, .work = work, .done = done, .ctx = ctx };
		r = fe_pool_submit(s->fw->w, run_work, run_done, d);
	}
	if (r) {
		flog(LOG_LVL_WARN, "ftp: session %llu: helper pool: %s",
		     (unsigned long long)s->id, r == -EAGAIN ? "queue full" : "no memory");
		session_reply(s, 450, "Server busy; try again.");
		free(d);
		free(ctx);
		return false;
	}
	s->jobs++;
	return true;
}
