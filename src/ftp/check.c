/* check.c — what ftp_server_create would refuse, found without creating
 * anything, for --check-config: each root a directory it can open, the
 * transfer log's directory there, TLS files readable, kernel TLS when
 * ftp.tls.ktls requires it. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ferry/base.h"
#include "ftp_internal.h"

static int check_root(const char *what, const char *path)
{
	int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	flog(LOG_LVL_ERR, "ftp: %s root directory %s: %s", what, path, strerror(errno));
	return FERRY_EXIT_PARAM;
}

/* The log is created at start-up if missing: its directory must exist and
 * be writable; an existing log must be a writable regular file. */
static int check_xferlog(const char *path)
{
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISREG(st.st_mode) || access(path, W_OK)) {
			flog(LOG_LVL_ERR, "ftp: transfer log %s: %s", path,
			     S_ISREG(st.st_mode) ? strerror(errno) : "not a regular file");
			return FERRY_EXIT_LOG;
		}
		return 0;
	}
	char *copy = strdup(path);
	if (!copy)
		return FERRY_EXIT_ALLOC;
	const char *dir = dirname(copy);
	int r = stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && access(dir, W_OK | X_OK) == 0;
	if (!r)
		flog(LOG_LVL_ERR, "ftp: transfer log %s: directory %s: %s", path, dir,
		     errno ? strerror(errno) : "not a directory");
	free(copy);
	return r ? 0 : FERRY_EXIT_LOG;
}

int ftp_check_config(const struct ferry_config *cfg)
{
	const struct ftp_config *fc = &cfg->ftp;
	int r = 0;
	if (!fc->enabled)
		return 0;
	for (size_t i = 0; r == 0 && i < fc->user_count; i++)
		r = check_root(fc->users[i].name, fc->users[i].root);
	if (r == 0 && fc->anonymous_root)
		r = check_root("anonymous", fc->anonymous_root);
	if (r == 0 && fc->xferlog)
		r = check_xferlog(fc->xferlog);
	if (r == 0) {
		struct crypto_tls_ctx *t = NULL;
		r = ftp_tls_build(fc, NULL, &t);
		crypto_tls_ctx_free(t);
	}
	if (r == 0)
		r = ftp_ktls_check(fc);      /* ftp.tls.ktls: says what it found */
	return r;
}
