/* hash.c — file digests for transfer checks: HASH with OPTS HASH and RANG
 * (draft-bryan-ftpext-hash-02, draft-bryan-ftp-range), and the older XCRC,
 * XMD5, XSHA1, XSHA256, XSHA512. Computed on the helper pool, one job per
 * session (the session waits for it) and at most max_hash_jobs at once. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ferry/crypto.h"
#include "ftp_internal.h"

enum { CHUNK = 256 * 1024 };

/* HASH algorithms in the draft's names; the first is the default. */
static const struct {
	const char *name;
	enum crypto_digest_alg alg;
} algs[] = {
	{ "SHA-256", CRYPTO_SHA256 },
	{ "SHA-1", CRYPTO_SHA1 },
	{ "SHA-512", CRYPTO_SHA512 },
	{ "MD5", CRYPTO_MD5 },
};
enum { NALGS = sizeof(algs) / sizeof(algs[0]) };

struct hash_job {
	struct ftp_server *srv;
	int root;
	enum crypto_digest_alg alg;
	uint64_t start, end;          /* end exclusive; UINT64_MAX: to EOF */
	int err;
	int dlen;
	uint64_t done_end;            /* where hashing stopped (exclusive) */
	bool draft;                   /* HASH (213, lower case) or X* (250) */
	const char *alg_name;
	uint8_t digest[CRYPTO_DIGEST_MAX];
	char v[PATH_MAX];
	char shown[PATH_MAX];         /* the path as the client gave it */
};

static int digest_fd(struct hash_job *j, int fd, struct crypto_digest *d)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EISDIR;
	uint64_t size = (uint64_t)st.st_size;
	uint64_t end = j->end < size ? j->end : size;
	if (j->start > end)
		return -ERANGE;
	uint8_t *buf = malloc(CHUNK);
	if (!buf)
		return -ENOMEM;
	uint64_t off = j->start;
	int r = 0;
	while (r == 0 && off < end) {
		size_t want = end - off < CHUNK ? (size_t)(end - off) : CHUNK;
		ssize_t n = pread(fd, buf, want, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {     /* 0: the file shrank; hash what is there */
			r = n < 0 ? -errno : 0;
			break;
		}
		r = crypto_digest_update(d, buf, (size_t)n) ? -EIO : 0;
		off += (uint64_t)n;
	}
	free(buf);
	j->done_end = off;
	return r;
}

static void hash_work(void *arg)
{
	struct hash_job *j = arg;
	struct crypto_digest *d = crypto_digest_new(j->alg);
	int fd = d ? ftp_path_open(j->root, j->v, O_RDONLY | O_NOCTTY | O_NONBLOCK, 0) : -ENOMEM;
	j->err = fd < 0 ? fd : digest_fd(j, fd, d);
	if (j->err == 0 && (j->dlen = crypto_digest_final(d, j->digest)) < 0)
		j->err = -EIO;
	if (fd >= 0)
		close(fd);
	crypto_digest_free(d);
	__atomic_sub_fetch(&j->srv->hash_jobs, 1, __ATOMIC_RELAXED);
}

static void hex(const uint8_t *p, int n, bool upper, char *out)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	for (int i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static void hash_done(struct ftp_session *s, void *arg)
{
	struct hash_job *j = arg;
	char h[2 * CRYPTO_DIGEST_MAX + 1];
	if (j->err == -ERANGE) {
		ftp_session_reply(s, 501, "The range starts past the end of the file.");
		return;
	}
	if (j->err) {
		ftp_fsverb_fail(s, j->err);
		return;
	}
	hex(j->digest, j->dlen, !j->draft, h);
	if (!j->draft) {
		ftp_session_reply(s, 250, "%s", h);
		return;
	}
	/* The draft's range is inclusive: "0-49" for a 50-byte file. */
	uint64_t last = j->done_end > j->start ? j->done_end - 1 : j->start;
	ftp_session_reply(s, 213, "%s %llu-%llu %s %s", j->alg_name,
		      (unsigned long long)j->start, (unsigned long long)last, h, j->shown);
}

/* Checks the limits and queues the job; j is consumed. */
static void hash_submit(struct ftp_session *s, struct hash_job *j, const char *path)
{
	if (s->acct->upload_only) {
		ftp_session_reply(s, 550, "Permission denied.");
		free(j);
		return;
	}
	if (!ftp_fsverb_path(s, path, j->v)) {
		free(j);
		return;
	}
	struct ftp_server *srv = s->srv;
	if (__atomic_add_fetch(&srv->hash_jobs, 1, __ATOMIC_RELAXED) > srv->fc->max_hash_jobs) {
		__atomic_sub_fetch(&srv->hash_jobs, 1, __ATOMIC_RELAXED);
		ftp_session_reply(s, 450, "Too many digests being computed; try again later.");
		free(j);
		return;
	}
	j->srv = srv;
	j->root = ftp_session_root(s);
	snprintf(j->shown, sizeof(j->shown), "%s", path);
	if (!ftp_defer(s, hash_work, hash_done, j))
		__atomic_sub_fetch(&srv->hash_jobs, 1, __ATOMIC_RELAXED);
}

void ftp_cmd_hash(struct ftp_session *s, char *arg)
{
	struct hash_job *j = ftp_defer_job_new(s, sizeof(*j));
	if (!j)
		return;
	unsigned a = s->hash_alg < NALGS ? s->hash_alg : 0;
	j->alg = algs[a].alg;
	j->alg_name = algs[a].name;
	j->draft = true;
	j->start = 0;
	j->end = UINT64_MAX;
	if (s->rang_set) {          /* RANG's end is inclusive */
		j->start = s->rang_start;
		j->end = s->rang_end == UINT64_MAX ? UINT64_MAX : s->rang_end + 1;
		s->rang_set = false;
	}
	hash_submit(s, j, arg);
}

/* RANG start end (inclusive); "RANG 1 0" resets, as draft-bryan-ftp-range
 * says. Here a range applies only to the next HASH. */
void ftp_cmd_rang(struct ftp_session *s, char *arg)
{
	char *sp = strchr(arg, ' ');
	uint64_t a, b;
	if (sp)
		*sp = '\0';
	if (!sp || !ftp_parse_u64(arg, &a) || !ftp_parse_u64(sp + 1, &b)) {
		ftp_session_reply(s, 501, "Usage: RANG <start> <end>.");
		return;
	}
	if (a == 1 && b == 0) {
		s->rang_set = false;
		ftp_session_reply(s, 350, "Range reset.");
		return;
	}
	if (a > b) {
		ftp_session_reply(s, 501, "The range's start is after its end.");
		return;
	}
	s->rang_set = true;
	s->rang_start = a;
	s->rang_end = b;
	ftp_session_reply(s, 350, "Restarting at %llu. Ending at %llu.", (unsigned long long)a,
		      (unsigned long long)b);
}

/* X* arguments: a path, or "quoted path" [start [end]] with end exclusive
 * (a plain path may hold spaces and digits, so ranges need the quotes). */
static bool x_args(char *arg, char **path, uint64_t *start, uint64_t *end)
{
	*start = 0;
	*end = UINT64_MAX;
	if (arg[0] != '"') {
		*path = arg;
		return true;
	}
	char *q = strchr(arg + 1, '"');
	if (!q)
		return false;
	*q = '\0';
	*path = arg + 1;
	char *rest = q + 1;
	if (!*rest)
		return true;
	if (*rest++ != ' ')
		return false;
	char *sp = strchr(rest, ' ');
	if (sp)
		*sp = '\0';
	if (!ftp_parse_u64(rest, start) || (sp && !ftp_parse_u64(sp + 1, end)))
		return false;
	return *start <= *end;
}

static void x_digest(struct ftp_session *s, char *arg, enum crypto_digest_alg alg)
{
	char *path;
	uint64_t start, end;
	if (!x_args(arg, &path, &start, &end) || !*path) {
		ftp_session_reply(s, 501, "Usage: X... <path> or X... \"<path>\" [<start> [<end>]].");
		return;
	}
	struct hash_job *j = ftp_defer_job_new(s, sizeof(*j));
	if (!j)
		return;
	j->alg = alg;
	j->start = start;
	j->end = end;
	hash_submit(s, j, path);
}

void ftp_cmd_xcrc(struct ftp_session *s, char *arg) { x_digest(s, arg, CRYPTO_CRC32); }
void ftp_cmd_xmd5(struct ftp_session *s, char *arg) { x_digest(s, arg, CRYPTO_MD5); }
void ftp_cmd_xsha1(struct ftp_session *s, char *arg) { x_digest(s, arg, CRYPTO_SHA1); }
void ftp_cmd_xsha256(struct ftp_session *s, char *arg) { x_digest(s, arg, CRYPTO_SHA256); }
void ftp_cmd_xsha512(struct ftp_session *s, char *arg) { x_digest(s, arg, CRYPTO_SHA512); }

void ftp_hash_opts(struct ftp_session *s, const char *arg)
{
	unsigned a = s->hash_alg < NALGS ? s->hash_alg : 0;
	if (!*arg) {
		ftp_session_reply(s, 200, "%s", algs[a].name);
		return;
	}
	for (unsigned i = 0; i < NALGS; i++) {
		if (!strcasecmp(arg, algs[i].name)) {
			s->hash_alg = (uint8_t)i;
			ftp_session_reply(s, 200, "%s", algs[i].name);
			return;
		}
	}
	ftp_session_reply(s, 501, "Unknown algorithm, current selection not changed.");
}

void ftp_hash_feat(const struct ftp_session *s, struct fb_buf *out)
{
	unsigned a = s->hash_alg < NALGS ? s->hash_alg : 0;
	fb_buf_printf(out, "HASH ");
	for (unsigned i = 0; i < NALGS; i++)
		fb_buf_printf(out, "%s%s%s", i ? ";" : "", algs[i].name, i == a ? "*" : "");
	fb_buf_printf(out, "\n");
}
