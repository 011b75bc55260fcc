/* listing.c — directory listings: LIST's "ls -l" lines, NLST's names and
 * MLSD/MLST facts (RFC 3659), read beneath the account's root. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ftp_internal.h"

static void mode_string(mode_t m, char out[11])
{
	out[0] = S_ISDIR(m) ? 'd' : S_ISLNK(m) ? 'l' : S_ISFIFO(m) ? 'p' :
		 S_ISSOCK(m) ? 's' : S_ISCHR(m) ? 'c' : S_ISBLK(m) ? 'b' : '-';
	static const char rwx[] = "rwxrwxrwx";
	for (int i = 0; i < 9; i++)
		out[1 + i] = (m & (0400u >> i)) ? rwx[i] : '-';
	out[10] = '\0';
}

void mlsx_facts(struct buf *out, const struct stat *st, bool writable)
{
	struct tm tm;
	gmtime_r(&st->st_mtime, &tm);
	const char *type = S_ISDIR(st->st_mode) ? "dir" : S_ISREG(st->st_mode) ? "file"
										 : "OS.unix=special";
	const char *perm = S_ISDIR(st->st_mode) ? (writable ? "cdeflmp" : "el")
						: (writable ? "adfrw" : "r");
	buf_printf(out, "type=%s;size=%llu;modify=%04d%02d%02d%02d%02d%02d;perm=%s;"
		   "unix.mode=0%o;", type, (unsigned long long)st->st_size,
		   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		   tm.tm_sec, perm, (unsigned)(st->st_mode & 07777));
}

void list_line(struct buf *out, enum list_style style, const char *name,
	       const struct stat *st, bool writable, time_t now)
{
	if (style == LIST_NAMES) {
		buf_printf(out, "%s\r\n", name);
		return;
	}
	if (style == LIST_MLSD) {
		mlsx_facts(out, st, writable);
		buf_printf(out, " %s\r\n", name);
		return;
	}
	char mode[11], when[16];
	struct tm tm;
	mode_string(st->st_mode, mode);
	localtime_r(&st->st_mtime, &tm);
	/* ls: the year for anything older than six months or in the future */
	bool recent = st->st_mtime <= now && now - st->st_mtime < 182 * 86400;
	strftime(when, sizeof(when), recent ? "%b %e %H:%M" : "%b %e  %Y", &tm);
	buf_printf(out, "%s %3lu %-8s %-8s %12llu %s %s\r\n", mode,
		   (unsigned long)st->st_nlink, "ftp", "ftp",
		   (unsigned long long)st->st_size, when, name);
}

/* A symlink is listed as what it points to when that is beneath the root;
 * otherwise as the link itself, so nothing about the outside shows. */
static bool entry_stat(int dir_fd, int root_fd, const char *vdir, const char *name,
		       struct stat *st)
{
	if (fstatat(dir_fd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
		return false;
	if (!S_ISLNK(st->st_mode))
		return true;
	char vpath[PATH_MAX];
	struct stat target;
	if (path_join(vdir, name, vpath, sizeof(vpath)) == 0 &&
	    path_stat(root_fd, vpath, &target) == 0)
		*st = target;
	return true;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int list_dir(int dir_fd, int root_fd, const char *vpath, enum list_style style,
	     bool writable, bool all, struct buf *out)
{
	DIR *d = fdopendir(dir_fd);
	if (!d) {
		int r = -errno;
		close(dir_fd);
		return r;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	int r = 0;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (!all && e->d_name[0] == '.' && style != LIST_MLSD)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			char **v = realloc(names, cap * sizeof(*v));
			if (!v) {
				r = -ENOMEM;
				break;
			}
			names = v;
		}
		if (!(names[n] = strdup(e->d_name))) {
			r = -ENOMEM;
			break;
		}
		n++;
	}
	if (n)
		qsort(names, n, sizeof(*names), by_name);
	time_t now = time(NULL);
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		if (r == 0 && entry_stat(dirfd(d), root_fd, vpath, names[i], &st))
			list_line(out, style, names[i], &st, writable, now);
		free(names[i]);
	}
	free(names);
	closedir(d);
	return r ? r : out->failed ? -ENOMEM : 0;
}
