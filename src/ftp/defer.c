/* defer.c — FTP work that may block (crypt, directory reads, file metadata)
 * runs on the engine's helper pool, or as one io_uring file operation,
 * while its session waits: no further command is read until the job's
 * done() has run on the session's worker, and a session that went away
 * meanwhile is freed only when its jobs are. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ferry/base.h"
#include "ftp_internal.h"

struct deferred {
	struct ftp_session *s;
	ftp_work_fn *work;
	ftp_done_fn *done;
	ftp_drop_fn *drop;
	void *ctx;
};

static void run_work(void *arg)
{
	struct deferred *d = arg;
	d->work(d->ctx);
}

/* A job is back: false when its session went away (then freed if it was
 * the last job); true when the caller may go on with the live session. */
static bool job_back(struct ftp_session *s)
{
	assert(s->jobs > 0);
	s->jobs--;
	if (s->state != ST_GONE)
		return true;
	if (!s->jobs)
		ftp_session_free_now(s);
	return false;
}

static void run_done(struct fe_worker *w, void *arg)
{
	struct deferred *d = arg;
	struct ftp_session *s = d->s;
	(void)w;
	bool alive = job_back(s);           /* else torn down while it ran */
	if (alive)
		d->done(s, d->ctx);
	else if (d->drop)
		d->drop(d->ctx);
	free(d->ctx);
	free(d);
	if (alive && s->state != ST_GONE && !s->jobs)
		ftp_session_resume(s);             /* the commands that waited */
}

void *ftp_defer_job_new(struct ftp_session *s, size_t size)
{
	void *j = calloc(1, size);
	if (!j)
		ftp_session_reply(s, 451, "Out of memory.");
	return j;
}

bool ftp_defer(struct ftp_session *s, ftp_work_fn *work, ftp_done_fn *done, void *ctx)
{
	return ftp_defer_ex(s, work, done, NULL, ctx);
}

static bool submit(struct ftp_session *s, ftp_work_fn *work, ftp_done_fn *done,
		   ftp_drop_fn *drop, void *ctx, bool reply)
{
	struct deferred *d = malloc(sizeof(*d));
	int r = d ? 0 : -ENOMEM;
	if (d) {
		*d = (struct deferred){ .s = s, .work = work, .done = done, .drop = drop,
					.ctx = ctx };
		r = fe_pool_submit(s->fw->w, run_work, run_done, d);
	}
	if (r) {
		flog(LOG_LVL_WARN, "ftp: session %llu: helper pool: %s",
		     (unsigned long long)s->id, r == -EAGAIN ? "queue full" : "no memory");
		if (reply)
			ftp_session_reply(s, 450, "Server busy; try again.");
		free(d);
		if (drop)
			drop(ctx);
		free(ctx);
		return false;
	}
	s->jobs++;
	return true;
}

bool ftp_defer_ex(struct ftp_session *s, ftp_work_fn *work, ftp_done_fn *done,
		  ftp_drop_fn *drop, void *ctx)
{
	return submit(s, work, done, drop, ctx, true);
}

bool ftp_defer_quiet(struct ftp_session *s, ftp_work_fn *work, ftp_done_fn *done,
		     ftp_drop_fn *drop, void *ctx)
{
	return submit(s, work, done, drop, ctx, false);
}

/* ---- one io_uring operation: opening a path beneath the root --------------- */

struct opening {
	struct ftp_session *s;
	ftp_open_fn *done;
	void *ctx;
};

static void opened(struct fe_worker *w, int res, void *arg)
{
	struct opening *o = arg;
	struct ftp_session *s = o->s;
	(void)w;
	bool alive = job_back(s);
	if (alive)
		o->done(s, res, o->ctx);
	else if (res >= 0)
		close(res);
	free(o->ctx);
	free(o);
	if (alive && s->state != ST_GONE && !s->jobs)
		ftp_session_resume(s);
}

bool ftp_open_beneath(struct ftp_session *s, const char *vpath, int flags,
		      ftp_open_fn *done, void *ctx)
{
	struct open_how how = {
		.flags = (uint64_t)flags,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	const char *rel = vpath[1] ? vpath + 1 : ".";
	struct opening *o = malloc(sizeof(*o));
	int r = o ? 0 : -ENOMEM;
	assert(vpath[0] == '/' && !(flags & O_CREAT));
	if (o) {
		*o = (struct opening){ .s = s, .done = done, .ctx = ctx };
		r = fe_fs_openat2(s->fw->w, ftp_session_root(s), rel, &how, opened, o);
	}
	if (r) {
		ftp_session_reply(s, 451, "Out of memory.");
		free(o);
		free(ctx);
		return false;
	}
	s->jobs++;
	return true;
}
