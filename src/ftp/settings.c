/* settings.c — snapshots of the FTP accounts and limits that a reload may
 * change, shared by reference: the server holds the newest, each session
 * the one it started with. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ferry/base.h"
#include "ftp_internal.h"

static int open_root(const char *path, int *fd)
{
	*fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (*fd >= 0)
		return 0;
	flog(LOG_LVL_ERR, "ftp: root directory %s: %s", path, strerror(errno));
	return FERRY_EXIT_PARAM;
}

/* Validated by the config: 1-4 octal digits. NULL: the usual 022. */
static mode_t parse_umask(const char *text)
{
	return text ? (mode_t)strtol(text, NULL, 8) & 0777 : 022;
}

static void settings_free(struct ftp_settings *set)
{
	for (size_t i = 0; i < set->naccounts; i++)
		close(set->accounts[i].root_fd);
	if (set->anon.root_fd >= 0)
		close(set->anon.root_fd);
	free(set->accounts);
	if (set->owned)
		set->release(set->owned);
	free(set);
}

int ftp_settings_new(const struct ftp_config *fc, struct ftp_settings **out)
{
	*out = NULL;
	struct ftp_settings *set = calloc(1, sizeof(*set));
	if (!set)
		return FERRY_EXIT_ALLOC;
	set->refs = 1;
	set->fc = fc;
	set->anon.root_fd = -1;
	set->accounts = calloc(fc->user_count + 1, sizeof(*set->accounts));
	int r = set->accounts ? 0 : FERRY_EXIT_ALLOC;
	for (size_t i = 0; r == 0 && i < fc->user_count; i++) {
		struct ftp_account *a = &set->accounts[i];
		a->name = fc->users[i].name;
		a->hash = fc->users[i].password_hash;
		a->write = fc->users[i].write;
		a->umask = parse_umask(fc->users[i].umask);
		r = open_root(fc->users[i].root, &a->root_fd);
		if (r == 0)
			set->naccounts++;
	}
	if (set->naccounts)
		set->dummy_hash = set->accounts[0].hash;
	if (r == 0 && fc->anonymous_root) {
		set->anon.write = fc->anonymous_write || fc->anonymous_upload_only;
		set->anon.upload_only = fc->anonymous_upload_only;
		set->anon.umask = parse_umask(fc->anonymous_umask);
		r = open_root(fc->anonymous_root, &set->anon.root_fd);
		set->has_anon = r == 0;
	}
	if (r) {
		settings_free(set);
		return r;
	}
	*out = set;
	return 0;
}

void ftp_settings_put(struct ftp_settings *set)
{
	if (set && __atomic_sub_fetch(&set->refs, 1, __ATOMIC_ACQ_REL) == 0)
		settings_free(set);
}

/* Under the server's lock, so a reload cannot drop the last reference
 * between reading the pointer and counting ours. Taken once per session. */
struct ftp_settings *ftp_settings_get(struct ftp_server *srv)
{
	pthread_mutex_lock(&srv->lock);
	struct ftp_settings *set = srv->set;
	__atomic_add_fetch(&set->refs, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&srv->lock);
	return set;
}
