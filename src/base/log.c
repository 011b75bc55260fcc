/* log.c — uftp-format log lines and append-only log files, written off the
 * workers: each thread formats into its own bounded buffer and one log
 * thread does every write(2), the rolling by size (-g/-n) and the SIGHUP
 * reopen. */
#include "ferry/base.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>


/* A line longer than this is cut short (and still ends in '\n'). */
#define LOG_LINE_MAX 4096

/* uftp counts -g in decimal megabytes. */
#define LOG_MB 1000000LL

enum {
	TBUF_SIZE = 256 << 10,  /* per thread; a full buffer drops (counted) */
	DRAIN_MS = 20,          /* the log thread writes at least this often */
	BATCH = 64 << 10,       /* bytes gathered into one write(2) */
};

struct fb_logfile {
	struct fb_logfile *next; /* the files fb_log_reopen reopens */
	int fd;
	char *path;             /* NULL: stderr, never rolled or reopened */
	long long size;         /* bytes in the current file */
	long long max_size;     /* 0: no rolling */
	int max_count;          /* archives kept: path.1 .. path.max_count */
};

/* One thread's lines on their way to the log thread: a single-producer,
 * single-consumer ring of records, each a header and the line's bytes. The
 * producer publishes a whole record by advancing head (release), so the
 * consumer only ever sees complete lines. */
struct rec {
	struct fb_logfile *dest;
	uint32_t len;           /* REC_WRAP: skip to the ring's start */
	uint32_t pad;
};
_Static_assert((sizeof(struct rec) & (sizeof(struct rec) - 1)) == 0,
	       "records are aligned to the header's size");
#define REC_WRAP UINT32_MAX

struct tbuf {
	struct tbuf *next;      /* registry, newest first */
	_Atomic size_t head;    /* bytes ever written (producer) */
	_Atomic size_t tail;    /* bytes ever consumed (log thread) */
	atomic_uint dropped;    /* lines that did not fit */
	atomic_bool orphan;     /* its thread has exited */
	uint8_t data[TBUF_SIZE];
};

/* A request from a control thread (flush, reopen, close) that the log
 * thread carries out after draining, so it sees every earlier line. */
enum req_kind { REQ_FLUSH, REQ_REOPEN, REQ_CLOSE };
struct req {
	struct req *next;
	enum req_kind kind;
	struct fb_logfile *file;
	int rc;
	bool done;
};

/*
 * The log is the one piece of process-wide mutable state ferry allows
 * besides the immutable config: every module and every worker thread logs,
 * and passing a logger through each call would buy nothing. Workers touch
 * only their own ring (and, when it is half full, an eventfd); the locks
 * below guard the registry of rings, the requests, and direct writes while
 * no log thread runs (before fb_log_open, after fb_log_close).
 */
static struct {
	struct fb_logfile main;
	atomic_int level;
	atomic_bool running;
	pthread_t thread;
	int wake;               /* eventfd: drain now */
	pthread_mutex_t reg_mu; /* registry */
	struct tbuf *bufs;
	pthread_mutex_t req_mu; /* requests, stop */
	pthread_cond_t req_cv;
	struct req *reqs;
	bool stop;
	pthread_mutex_t sync_mu; /* direct writes without a log thread */
	pthread_mutex_t files_mu; /* the fb_logfile list */
	struct fb_logfile *files;
	/* the log thread's write batch */
	struct fb_logfile *batch_dest;
	size_t batch_len;
	char batch[BATCH];
} g_log = {
	.main = { .fd = STDERR_FILENO },
	.level = LOG_LVL_INFO,
	.wake = -1,
	.reg_mu = PTHREAD_MUTEX_INITIALIZER,
	.req_mu = PTHREAD_MUTEX_INITIALIZER,
	.req_cv = PTHREAD_COND_INITIALIZER,
	.sync_mu = PTHREAD_MUTEX_INITIALIZER,
	.files_mu = PTHREAD_MUTEX_INITIALIZER,
};

static _Thread_local struct tbuf *t_mine;
static _Thread_local bool t_never_wait;   /* a worker: drop, never wait */
static pthread_key_t t_key;
static pthread_once_t t_once = PTHREAD_ONCE_INIT;

/* ---- formatting ------------------------------------------------------------ */

/* "YYYY/MM/DD HH:MM:SS.uuuuuu: " in local time, as uftp prints it. */
static size_t format_stamp(char *buf, size_t cap)
{
	struct timeval tv;
	struct tm tm;

	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	int n = snprintf(buf, cap, "%04d/%02d/%02d %02d:%02d:%02d.%06ld: ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec, (long)tv.tv_usec);
	return n < 0 ? 0 : ((size_t)n < cap ? (size_t)n : cap - 1);
}

/* "[GGGGGGGG/II:FFFF]: " — uftp prints file 0 as a bare "0", and nothing
 * at all when there is no group. */
static size_t format_group(char *buf, size_t cap, uint32_t group,
			   uint8_t inst, uint16_t file)
{
	int n;

	if (group == 0)
		return 0;
	if (file != 0)
		n = snprintf(buf, cap, "[%08X/%02X:%04X]: ", group, inst, file);
	else
		n = snprintf(buf, cap, "[%08X/%02X:0]: ", group, inst);
	return n < 0 ? 0 : ((size_t)n < cap ? (size_t)n : cap - 1);
}

/* Builds one whole line in buf (always '\n'-terminated); returns its length. */
static size_t format_line(char *buf, size_t cap, uint32_t group, uint8_t inst,
			  uint16_t file, const char *fmt, va_list ap)
{
	size_t len = format_stamp(buf, cap);
	len += format_group(buf + len, cap - len, group, inst, file);

	/* Keep one byte for '\n'; vsnprintf reports the untruncated length. */
	int n = vsnprintf(buf + len, cap - len - 1, fmt, ap);
	if (n > 0)
		len += (size_t)n < cap - len - 1 ? (size_t)n : cap - len - 2;
	buf[len++] = '\n';
	return len;
}

/* ---- files (the log thread, or a direct writer holding sync_mu) ----------- */

/* Writes all of buf, retrying short writes and EINTR. O_APPEND makes each
 * write(2) land at the end even if another process appends too. */
static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* nowhere left to report a log write failure */
		buf += n;
		len -= (size_t)n;
	}
}

static void batch_flush(void)
{
	if (g_log.batch_len) {
		write_all(g_log.batch_dest->fd, g_log.batch, g_log.batch_len);
		g_log.batch_dest->size += (long long)g_log.batch_len;
	}
	g_log.batch_len = 0;
	g_log.batch_dest = NULL;
}

static void roll(struct fb_logfile *f);

/* Adds a line to the batch. Like uftp, the size is checked after each
 * line, and the file rolls once it is exceeded. */
static void emit(struct fb_logfile *f, const char *line, size_t len)
{
	if (g_log.batch_dest != f || g_log.batch_len + len > sizeof(g_log.batch))
		batch_flush();
	g_log.batch_dest = f;
	if (len > sizeof(g_log.batch)) {
		write_all(f->fd, line, len);
		f->size += (long long)len;
	} else {
		memcpy(g_log.batch + g_log.batch_len, line, len);
		g_log.batch_len += len;
	}
	if (f->max_size > 0 && f->size + (long long)g_log.batch_len > f->max_size) {
		batch_flush();
		roll(f);
	}
}

/* A line of the log's own, written by the writer itself. */
static void __attribute__((format(printf, 2, 3)))
note(int level, const char *fmt, ...)
{
	char buf[LOG_LINE_MAX];
	va_list ap;

	if (level > atomic_load_explicit(&g_log.level, memory_order_relaxed))
		return;
	va_start(ap, fmt);
	size_t len = format_line(buf, sizeof(buf), 0, 0, 0, fmt, ap);
	va_end(ap);
	emit(&g_log.main, buf, len);
}

static int open_log_file(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
}

/* Opens path for appending and learns its current size, so a restart
 * continues counting towards -g where the last run stopped. */
static int open_with_size(const char *path, long long *size)
{
	struct stat st;
	int fd = open_log_file(path);

	if (fd < 0)
		return -errno;
	*size = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? st.st_size : 0;
	return fd;
}

/* Archive i of the log: the log itself for 0, else "path.i". */
static bool archive_name(const struct fb_logfile *f, char *buf, size_t cap, int i)
{
	int n = i == 0 ? snprintf(buf, cap, "%s", f->path)
		       : snprintf(buf, cap, "%s.%d", f->path, i);
	return n > 0 && (size_t)n < cap;
}

/* Drops the oldest archive and shifts path.i to path.i+1, ending with the
 * live file becoming path.1 — uftp's order. Missing archives are normal
 * while fewer than max_count rolls have happened, so ENOENT is silent. */
static bool shift_archives(const struct fb_logfile *f)
{
	char from[PATH_MAX], to[PATH_MAX];

	if (!archive_name(f, to, sizeof(to), f->max_count))
		return false;
	if (unlink(to) < 0 && errno != ENOENT)
		note(LOG_LVL_ERR, "log: cannot remove %s: %s", to, strerror(errno));
	for (int i = f->max_count - 1; i >= 0; i--) {
		if (!archive_name(f, from, sizeof(from), i) ||
		    !archive_name(f, to, sizeof(to), i + 1))
			return false;
		if (rename(from, to) < 0 && errno != ENOENT) {
			note(LOG_LVL_ERR, "log: cannot rename %s to %s: %s",
			     from, to, strerror(errno));
			if (i == 0)
				return false;
		}
	}
	return true;
}

/* Rolls the file: shift the archives, then start a fresh file at path.
 * A failure cannot stop the threads that are logging, so rolling is turned
 * off and lines keep going to the file already open. */
static void roll(struct fb_logfile *f)
{
	long long was = f->size;
	f->max_size = -f->max_size;   /* the notes below must not roll again */
	note(LOG_LVL_INFO, "Log file reached %lld bytes, rolling", was);
	batch_flush();
	if (!shift_archives(f)) {
		note(LOG_LVL_ERR, "log: rolling %s failed, rolling off", f->path);
		f->max_size = 0;
		return;
	}
	int fd = open_log_file(f->path);
	if (fd < 0) {
		note(LOG_LVL_ERR, "log: cannot open %s: %s, rolling off", f->path,
		     strerror(errno));
		f->max_size = 0;
		return;
	}
	close(f->fd);
	f->fd = fd;
	f->size = 0;
	f->max_size = -f->max_size;
	note(LOG_LVL_INFO, "Log file rolled, previous log is %s.1", f->path);
}

/* If the new file cannot be opened, writing stays on the old (moved) file
 * and the error is written to the log. */
static int reopen(struct fb_logfile *f)
{
	long long size = 0;
	if (!f->path)
		return 0;
	batch_flush();
	int fd = open_with_size(f->path, &size);
	if (fd < 0) {
		note(LOG_LVL_ERR, "log: cannot reopen %s: %s", f->path, strerror(-fd));
		return fd;
	}
	close(f->fd);
	f->fd = fd;
	f->size = size;
	return 0;
}

/* SIGHUP: the log and every fb_logfile; the first error is returned. */
static int reopen_all(void)
{
	int rc = reopen(&g_log.main);
	pthread_mutex_lock(&g_log.files_mu);
	for (struct fb_logfile *f = g_log.files; f; f = f->next) {
		int r = reopen(f);
		if (!rc)
			rc = r;
	}
	pthread_mutex_unlock(&g_log.files_mu);
	return rc;
}

static void file_close(struct fb_logfile *f)
{
	if (g_log.batch_dest == f)
		batch_flush();
	if (f->path)
		close(f->fd);
	free(f->path);
	f->path = NULL;
	f->fd = STDERR_FILENO;
	f->size = f->max_size = 0;
}

/* ---- the threads' rings ---------------------------------------------------- */

/* At thread exit (in that thread): the log thread frees the ring once it
 * has drained it; a line logged later still (another destructor) gets a
 * new ring. */
static void tbuf_orphan(void *p)
{
	struct tbuf *b = p;
	t_mine = NULL;
	atomic_store_explicit(&b->orphan, true, memory_order_release);
}

static void key_make(void) { pthread_key_create(&t_key, tbuf_orphan); }

static struct tbuf *tbuf_mine(void)
{
	if (t_mine)
		return t_mine;
	pthread_once(&t_once, key_make);
	struct tbuf *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	pthread_setspecific(t_key, b);
	pthread_mutex_lock(&g_log.reg_mu);
	b->next = g_log.bufs;
	g_log.bufs = b;
	pthread_mutex_unlock(&g_log.reg_mu);
	return t_mine = b;
}

/* Records are whole multiples of the header's size, so the space left before
 * the ring's end is either nothing or room for a header (REC_WRAP). */
static size_t rec_size(size_t len)
{
	return (sizeof(struct rec) + len + sizeof(struct rec) - 1) &
	       ~(sizeof(struct rec) - 1);
}

static void kick(void)
{
	uint64_t one = 1;
	if (write(g_log.wake, &one, sizeof(one)) < 0) {
		/* the round after DRAIN_MS picks it up */
	}
}

/* A full ring: a worker drops the line (counted); another thread waits for
 * the log thread to make room, so that nothing it logs is lost. */
static bool wait_for_room(struct tbuf *b, size_t head, size_t want, size_t *tail)
{
	if (t_never_wait || want > TBUF_SIZE / 4) {
		atomic_fetch_add_explicit(&b->dropped, 1, memory_order_relaxed);
		return false;
	}
	while (TBUF_SIZE - (head - *tail) < want) {
		if (!atomic_load_explicit(&g_log.running, memory_order_acquire))
			return false;
		kick();
		nanosleep(&(struct timespec){ .tv_nsec = 200000 }, NULL);
		*tail = atomic_load_explicit(&b->tail, memory_order_acquire);
	}
	return true;
}

/* A worker never blocks here: a line that does not fit is dropped. */
static void enqueue(struct fb_logfile *dest, const char *line, size_t len)
{
	struct tbuf *b = tbuf_mine();
	if (!b)
		return;
	size_t head = atomic_load_explicit(&b->head, memory_order_relaxed);
	size_t tail = atomic_load_explicit(&b->tail, memory_order_acquire);
	size_t off = head % TBUF_SIZE, need = rec_size(len);
	size_t skip = TBUF_SIZE - off < need ? TBUF_SIZE - off : 0;
	if (TBUF_SIZE - (head - tail) < skip + need &&
	    !wait_for_room(b, head, skip + need, &tail))
		return;
	if (skip) {
		struct rec wrap = { .len = REC_WRAP };
		memcpy(b->data + off, &wrap, sizeof(wrap));
		off = 0;
	}
	struct rec r = { .dest = dest, .len = (uint32_t)len };
	memcpy(b->data + off, &r, sizeof(r));
	memcpy(b->data + off + sizeof(r), line, len);
	size_t now = head + skip + need;
	atomic_store_explicit(&b->head, now, memory_order_release);
	/* Half full: wake the log thread now rather than at its next round. */
	if (now - tail >= TBUF_SIZE / 2 && head - tail < TBUF_SIZE / 2)
		kick();
}

/* The log thread: everything a ring holds goes to its files. */
static void drain_one(struct tbuf *b)
{
	size_t tail = atomic_load_explicit(&b->tail, memory_order_relaxed);
	size_t head = atomic_load_explicit(&b->head, memory_order_acquire);
	while (tail != head) {
		size_t off = tail % TBUF_SIZE;
		struct rec r;
		memcpy(&r, b->data + off, sizeof(r));
		if (r.len == REC_WRAP) {
			tail += TBUF_SIZE - off;
			continue;
		}
		emit(r.dest ? r.dest : &g_log.main,
		     (const char *)b->data + off + sizeof(r), r.len);
		tail += rec_size(r.len);
	}
	atomic_store_explicit(&b->tail, tail, memory_order_release);
	unsigned lost = atomic_exchange_explicit(&b->dropped, 0, memory_order_relaxed);
	if (lost)
		note(LOG_LVL_WARN, "log: %u lines dropped (a thread's log buffer "
		     "was full)", lost);
}

/* Drains every ring; frees those whose thread has gone. New rings are
 * added at the front, so the walk needs the lock only to start and to
 * unlink. */
static void drain_all(void)
{
	pthread_mutex_lock(&g_log.reg_mu);
	struct tbuf *b = g_log.bufs;
	pthread_mutex_unlock(&g_log.reg_mu);
	while (b) {
		struct tbuf *next = b->next;
		bool gone = atomic_load_explicit(&b->orphan, memory_order_acquire);
		drain_one(b);
		if (gone) {
			pthread_mutex_lock(&g_log.reg_mu);
			for (struct tbuf **p = &g_log.bufs; *p; p = &(*p)->next)
				if (*p == b) {
					*p = b->next;
					break;
				}
			pthread_mutex_unlock(&g_log.reg_mu);
			free(b);
		}
		b = next;
	}
	batch_flush();
}

/* ---- the log thread -------------------------------------------------------- */

static void serve(struct req *r)
{
	switch (r->kind) {
	case REQ_FLUSH:
		break;
	case REQ_REOPEN:
		r->rc = r->file ? reopen(r->file) : reopen_all();
		break;
	case REQ_CLOSE:
		file_close(r->file);
		free(r->file);
		break;
	}
	batch_flush();
}

static void *log_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct pollfd p = { .fd = g_log.wake, .events = POLLIN };
		uint64_t n;
		if (poll(&p, 1, DRAIN_MS) > 0 && read(g_log.wake, &n, sizeof(n)) < 0) {
			/* another round reads it */
		}
		pthread_mutex_lock(&g_log.req_mu);
		struct req *reqs = g_log.reqs;
		bool stop = g_log.stop;
		g_log.reqs = NULL;
		pthread_mutex_unlock(&g_log.req_mu);
		drain_all();
		for (struct req *r = reqs; r; r = r->next)
			serve(r);
		if (reqs) {
			pthread_mutex_lock(&g_log.req_mu);
			for (struct req *r = reqs, *next; r; r = next) {
				next = r->next;
				r->done = true;
			}
			pthread_cond_broadcast(&g_log.req_cv);
			pthread_mutex_unlock(&g_log.req_mu);
		}
		if (stop)
			return NULL;
	}
}

/* Hands a request to the log thread and waits until it is done (control
 * threads only: main, SIGHUP handling, shutdown; never a worker). */
static int request(enum req_kind kind, struct fb_logfile *f)
{
	struct req r = { .kind = kind, .file = f };
	pthread_mutex_lock(&g_log.req_mu);
	r.next = g_log.reqs;
	g_log.reqs = &r;
	kick();
	while (!r.done)
		pthread_cond_wait(&g_log.req_cv, &g_log.req_mu);
	pthread_mutex_unlock(&g_log.req_mu);
	return r.rc;
}

static void thread_stop(void)
{
	if (!atomic_load(&g_log.running))
		return;
	pthread_mutex_lock(&g_log.req_mu);
	g_log.stop = true;
	pthread_mutex_unlock(&g_log.req_mu);
	kick();
	pthread_join(g_log.thread, NULL);
	atomic_store(&g_log.running, false);
	g_log.stop = false;
	/* Lines that raced with the stop, then rings of threads gone. */
	pthread_mutex_lock(&g_log.sync_mu);
	drain_all();
	pthread_mutex_unlock(&g_log.sync_mu);
	close(g_log.wake);
	g_log.wake = -1;
}

static int thread_start(void)
{
	g_log.wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (g_log.wake < 0)
		return -errno;
	atomic_store(&g_log.running, true);
	/* The thread starts with every signal blocked: it may exist before
	 * the daemon blocks the signals its main thread waits for, and a
	 * SIGHUP or SIGTERM delivered to it would end the process. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = pthread_create(&g_log.thread, NULL, log_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		atomic_store(&g_log.running, false);
		close(g_log.wake);
		g_log.wake = -1;
		return -r;
	}
	return 0;
}

/* A line to dest: to the calling thread's ring while the log thread runs,
 * else written at once. */
static void put(struct fb_logfile *dest, const char *line, size_t len)
{
	if (atomic_load_explicit(&g_log.running, memory_order_acquire)) {
		enqueue(dest, line, len);
		return;
	}
	pthread_mutex_lock(&g_log.sync_mu);
	emit(dest ? dest : &g_log.main, line, len);
	batch_flush();
	pthread_mutex_unlock(&g_log.sync_mu);
}

/* ---- the interface --------------------------------------------------------- */

int fb_log_open(const char *path, int level, int max_size_mb, int max_count)
{
	long long size = 0;
	int fd = STDERR_FILENO;
	char *copy = NULL;

	if (path != NULL) {
		fd = open_with_size(path, &size);
		if (fd < 0) {
			fprintf(stderr, "ferryd: cannot open log file %s: %s\n",
				path, strerror(-fd));
			return FERRY_EXIT_LOG;
		}
		copy = strdup(path);
		if (copy == NULL) {
			close(fd);
			fprintf(stderr, "ferryd: log_open: out of memory\n");
			return FERRY_EXIT_ALLOC;
		}
	}
	fb_log_close();
	struct fb_logfile *m = &g_log.main;
	m->fd = fd;
	m->path = copy;
	m->size = size;
	/* uftp never rolls stderr. */
	m->max_size = copy != NULL && max_size_mb > 0 ? max_size_mb * LOG_MB : 0;
	m->max_count = max_count < 0 ? 0 : max_count;
	atomic_store(&g_log.level, level);
	if (thread_start() < 0)
		fprintf(stderr, "ferryd: log_open: no log thread, writing directly\n");
	return FERRY_EXIT_OK;
}

/* SIGHUP: from the main thread, not from the signal handler. Reopens the
 * log and every fb_logfile. */
int fb_log_reopen(void)
{
	int r;
	if (atomic_load(&g_log.running)) {
		r = request(REQ_REOPEN, NULL);
	} else {
		pthread_mutex_lock(&g_log.sync_mu);
		r = reopen_all();
		pthread_mutex_unlock(&g_log.sync_mu);
	}
	return r < 0 ? FERRY_EXIT_LOG : FERRY_EXIT_OK;
}

void fb_log_never_wait(void) { t_never_wait = true; }

void fb_log_flush(void)
{
	if (atomic_load(&g_log.running))
		request(REQ_FLUSH, NULL);
}

void fb_log_close(void)
{
	thread_stop();
	pthread_mutex_lock(&g_log.sync_mu);
	file_close(&g_log.main);
	pthread_mutex_unlock(&g_log.sync_mu);
}

void fb_log_set_level(int level)
{
	atomic_store_explicit(&g_log.level, level, memory_order_relaxed);
}

int fb_log_get_level(void)
{
	return atomic_load_explicit(&g_log.level, memory_order_relaxed);
}

void fb_log_line(int level, uint32_t group, uint8_t inst, uint16_t file,
	      const char *fmt, ...)
{
	char buf[LOG_LINE_MAX];
	va_list ap;

	if (level > atomic_load_explicit(&g_log.level, memory_order_relaxed))
		return;
	int saved_errno = errno; /* callers log, then still look at errno */
	va_start(ap, fmt);
	size_t len = format_line(buf, sizeof(buf), group, inst, file, fmt, ap);
	va_end(ap);
	put(NULL, buf, len);
	errno = saved_errno;
}

/* ---- append-only files written by the log thread --------------------------- */

struct fb_logfile *fb_logfile_open(const char *path, int *err)
{
	long long size = 0;
	struct fb_logfile *f = calloc(1, sizeof(*f));
	char *copy = path ? strdup(path) : NULL;
	int fd = f && copy ? open_with_size(path, &size) : -ENOMEM;
	if (!path)
		fd = -EINVAL;
	if (fd < 0) {
		free(copy);
		free(f);
		*err = fd;
		return NULL;
	}
	f->fd = fd;
	f->path = copy;
	f->size = size;
	pthread_mutex_lock(&g_log.files_mu);
	f->next = g_log.files;
	g_log.files = f;
	pthread_mutex_unlock(&g_log.files_mu);
	*err = 0;
	return f;
}

static void files_unlink(struct fb_logfile *f)
{
	pthread_mutex_lock(&g_log.files_mu);
	for (struct fb_logfile **p = &g_log.files; *p; p = &(*p)->next)
		if (*p == f) {
			*p = f->next;
			break;
		}
	pthread_mutex_unlock(&g_log.files_mu);
}

void fb_logfile_write(struct fb_logfile *f, const char *line, size_t len)
{
	int saved_errno = errno;
	if (f && len)
		put(f, line, len);
	errno = saved_errno;
}

int fb_logfile_reopen(struct fb_logfile *f)
{
	if (atomic_load(&g_log.running))
		return request(REQ_REOPEN, f);
	pthread_mutex_lock(&g_log.sync_mu);
	int r = reopen(f);
	pthread_mutex_unlock(&g_log.sync_mu);
	return r;
}

void fb_logfile_close(struct fb_logfile *f)
{
	if (!f)
		return;
	files_unlink(f);
	if (atomic_load(&g_log.running)) {
		request(REQ_CLOSE, f);
		return;
	}
	pthread_mutex_lock(&g_log.sync_mu);
	file_close(f);
	pthread_mutex_unlock(&g_log.sync_mu);
	free(f);
}
