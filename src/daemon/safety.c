/* safety.c — refuses set-ups that hand the machine to whoever connects
 * (an FTP root of "/", anonymous writes into another account, world-writable
 * roots or log directories) unless the operator says --allow-unsafe. */
#include "ferry/daemon.h"
#include "config_priv.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define UNSAFE_HINT " (--allow-unsafe / \"allow_unsafe\": true to start anyway)"

struct sctx {
	const struct ferry_config *cfg;
	const struct daemon_identity *id;
	struct config_error *err;
};

__attribute__((format(printf, 3, 4)))
static int fail(struct sctx *c, const char *key, const char *fmt, ...)
{
	va_list ap;
	const char *src = c->cfg->source ? c->cfg->source : CLI_SOURCE;
	daemon_set_error(c->err, src, 0, 0, key, "%s", "");
	va_start(ap, fmt);
	vsnprintf(c->err->msg, sizeof(c->err->msg), fmt, ap);
	va_end(ap);
	return FERRY_EXIT_PARAM;
}

/* The canonical path when it exists, else the path as written with "//",
 * "/./" and a trailing "/" folded, so "/." and "//" are still "/". */
static void canonical(const char *path, char *out)
{
	if (realpath(path, out))
		return;
	size_t n = 0;
	for (const char *p = path; *p && n < PATH_MAX - 1;) {
		if (p[0] == '/' && (p[1] == '/' || (p[1] == '.' && (p[2] == '/' || !p[2])))) {
			p += p[1] == '/' ? 1 : 2;
			continue;
		}
		out[n++] = *p++;
	}
	while (n > 1 && out[n - 1] == '/')
		n--;
	out[n ? n : (out[0] = '/', 1)] = '\0';
}

/* a is b, or a directory above b. */
static bool contains(const char *a, const char *b)
{
	size_t n = strlen(a);
	if (!strcmp(a, "/"))
		return true;
	return !strncmp(a, b, n) && (b[n] == '\0' || b[n] == '/');
}

static bool world_writable(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && (st.st_mode & S_IWOTH);
}

/* Mode bits as the kernel applies them to uid/gid (no ACLs). */
static bool may(const struct stat *st, uid_t uid, gid_t gid, mode_t bits)
{
	if (st->st_uid == uid)
		return (st->st_mode & (bits << 6)) == (bits << 6);
	if (st->st_gid == gid)
		return (st->st_mode & (bits << 3)) == (bits << 3);
	return (st->st_mode & bits) == bits;
}

static int check_root(struct sctx *c, const char *key, const char *root, bool anon_write)
{
	char canon[PATH_MAX];
	canonical(root, canon);
	if (!strcmp(canon, "/"))
		return fail(c, key, "an FTP root of \"/\" serves the whole file system%s%s",
			    anon_write ? ", and anonymous users could write to it" : "",
			    UNSAFE_HINT);
	if (world_writable(canon))
		return fail(c, key, "%s is world-writable: any local user can plant files "
			    "(or symlinks) there%s", canon, UNSAFE_HINT);
	return 0;
}

/* Anonymous writes into a directory that is (or holds) an account's root
 * let anyone change that account's files. */
static int check_anon_overlap(struct sctx *c)
{
	const struct ftp_config *f = &c->cfg->ftp;
	char anon[PATH_MAX], other[PATH_MAX];
	if (!f->anonymous_root || !f->anonymous_write)
		return 0;
	canonical(f->anonymous_root, anon);
	for (size_t i = 0; i < f->user_count; i++) {
		canonical(f->users[i].root, other);
		if (contains(anon, other))
			return fail(c, "ftp.anonymous.write", "anonymous users may write to %s, "
				    "which holds the root of user '%s'%s", anon,
				    f->users[i].name, UNSAFE_HINT);
	}
	return 0;
}

static int check_roots(struct sctx *c)
{
	const struct ftp_config *f = &c->cfg->ftp;
	char key[64];
	if (!f->enabled)
		return 0;
	for (size_t i = 0; i < f->user_count; i++) {
		snprintf(key, sizeof(key), "ftp.users[%zu].root", i);
		if (check_root(c, key, f->users[i].root, false))
			return FERRY_EXIT_PARAM;
	}
	if (f->anonymous_root &&
	    check_root(c, "ftp.anonymous.root", f->anonymous_root, f->anonymous_write))
		return FERRY_EXIT_PARAM;
	return check_anon_overlap(c);
}

/* A log, pidfile or transfer log in a directory anyone can write to (/tmp)
 * can be replaced by another user's file or symlink before we open it. */
static int check_file_dir(struct sctx *c, const char *key, const char *path)
{
	char copy[PATH_MAX], canon[PATH_MAX];
	if (!path)
		return 0;
	snprintf(copy, sizeof(copy), "%s", path);
	canonical(dirname(copy), canon);
	if (world_writable(canon))
		return fail(c, key, "%s is in %s, a world-writable directory: put it "
			    "in a directory only root or the service user can write%s",
			    path, canon, UNSAFE_HINT);
	return 0;
}

static int check_files(struct sctx *c)
{
	const struct ferry_config *cfg = c->cfg;
	int r = 0;
	if (!cfg->foreground)
		r = check_file_dir(c, "log.file", cfg->log_file);
	r = r ? r : check_file_dir(c, "pidfile", cfg->pidfile);
	if (cfg->ftp.enabled)
		r = r ? r : check_file_dir(c, "ftp.xferlog", cfg->ftp.xferlog);
	return r;
}

/* Not a matter of taste, so --allow-unsafe does not change these: after the
 * drop the service user must still reach the roots, and rolling the log
 * creates and renames files in its directory. */
static int check_reachable(struct sctx *c)
{
	const struct ferry_config *cfg = c->cfg;
	const struct daemon_identity *id = c->id;
	struct stat st;
	char copy[PATH_MAX];
	if (id->mode != PRIV_DROP)
		return 0;
	for (size_t i = 0; cfg->ftp.enabled && i <= cfg->ftp.user_count; i++) {
		const char *root = i < cfg->ftp.user_count ? cfg->ftp.users[i].root
							   : cfg->ftp.anonymous_root;
		if (root && stat(root, &st) == 0 && !may(&st, id->uid, id->gid, 05))
			return fail(c, i < cfg->ftp.user_count ? "ftp.users.root" : "ftp.anonymous.root",
				    "%s (mode %04o, owner %u) cannot be read by the service "
				    "user %s: give it read and search permission", root,
				    (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, id->name);
	}
	if (cfg->foreground || !cfg->max_log_size || !cfg->log_file)
		return 0;
	snprintf(copy, sizeof(copy), "%s", cfg->log_file);
	if (stat(dirname(copy), &st) == 0 && !may(&st, id->uid, id->gid, 03))
		return fail(c, "log.max_size_mb", "rolling the log (-g) renames files in %s, "
			    "which the service user %s cannot write: make it the owner "
			    "(e.g. log to /var/log/ferry/), or rotate with logrotate and "
			    "SIGHUP instead of -g", copy, id->name);
	return 0;
}

int daemon_check_safety(const struct ferry_config *cfg, const struct daemon_identity *id,
			struct config_error *err)
{
	struct sctx c = { cfg, id, err };
	int r = check_reachable(&c);
	if (r || cfg->allow_unsafe)
		return r;
	r = check_roots(&c);
	return r ? r : check_files(&c);
}
