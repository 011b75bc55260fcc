/* listing.c — directory listings: LIST's "ls -l" lines, NLST's names and
 * MLSD/MLST facts (RFC 3659), read beneath the account's root in bounded
 * chunks (runs on the helper pool: getdents64 and fstatat may block). */
#include <dirent.h>
#include <fnmatch.h>
#include <stdio.h>
#include <sys/syscall.h>
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

void ftp_mlsx_facts(struct fb_buf *out, const struct stat *st, bool writable)
{
	struct tm tm;
	gmtime_r(&st->st_mtime, &tm);
	const char *type = S_ISDIR(st->st_mode) ? "dir" : S_ISREG(st->st_mode) ? "file"
										 : "OS.unix=special";
	const char *perm = S_ISDIR(st->st_mode) ? (writable ? "cdeflmp" : "el")
						: (writable ? "adfrw" : "r");
	fb_buf_printf(out, "type=%s;size=%llu;modify=%04d%02d%02d%02d%02d%02d;perm=%s;"
		   "unix.mode=0%o;", type, (unsigned long long)st->st_size,
		   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		   tm.tm_sec, perm, (unsigned)(st->st_mode & 07777));
}

void ftp_list_line(struct fb_buf *out, enum list_style style, const char *name,
	       const struct stat *st, bool writable, time_t now)
{
	if (style == LIST_NAMES) {
		fb_buf_printf(out, "%s\r\n", name);
		return;
	}
	if (style == LIST_MLSD) {
		ftp_mlsx_facts(out, st, writable);
		fb_buf_printf(out, " %s\r\n", name);
		return;
	}
	char mode[11], when[32];
	struct tm tm;
	mode_string(st->st_mode, mode);
	localtime_r(&st->st_mtime, &tm);
	/* ls: the year for anything older than six months or in the future */
	bool recent = st->st_mtime <= now && now - st->st_mtime < 182 * 86400;
	strftime(when, sizeof(when), recent ? "%b %e %H:%M" : "%b %e  %Y", &tm);
	fb_buf_printf(out, "%s %3lu %-8s %-8s %12llu %s %s\r\n", mode,
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
	if (ftp_path_join(vdir, name, vpath, sizeof(vpath)) == 0 &&
	    ftp_path_stat(root_fd, vpath, &target) == 0)
		*st = target;
	return true;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

bool ftp_list_is_glob(const char *name)
{
	return strpbrk(name, "*?[") != NULL;
}

static bool wanted(const struct list_opts *o, const char *name)
{
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	if (o->pattern)     /* a leading '.' only matches a '.' in the pattern */
		return fnmatch(o->pattern, name, FNM_PERIOD) == 0;
	return o->all || name[0] != '.' || o->style == LIST_MLSD;
}

/* A chunk's names: up to LIST_DIRENT_BYTES of getdents64 records, copied
 * out (the buffer is reused) as pointers into `pool`. */
struct dirent64_rec {
	uint64_t ino;
	int64_t off;
	unsigned short reclen;
	unsigned char type;
	char name[];
};

static int read_names(int dir_fd, struct list_cursor *cur, const struct list_opts *o,
		      char *pool, size_t pool_cap, char **names, size_t *n, bool *eof)
{
	char dents[LIST_DIRENT_BYTES];
	size_t used = 0;
	*n = 0;
	*eof = false;
	/* one getdents64 call fills dents; its names fit in the pool, which is
	 * as large as dents itself */
	long got = syscall(SYS_getdents64, dir_fd, dents, sizeof(dents));
	if (got < 0)
		return -errno;
	if (got == 0) {
		*eof = true;
		return 0;
	}
	for (long pos = 0; pos < got;) {
		const struct dirent64_rec *d = (const void *)(dents + pos);
		pos += d->reclen;
		if (!wanted(o, d->name))
			continue;
		if (o->pattern && cur->matched >= LIST_GLOB_MAX)
			continue;           /* bounded: the rest is left out */
		size_t len = strlen(d->name) + 1;
		if (used + len > pool_cap)
			break;              /* cannot happen: names < records */
		memcpy(pool + used, d->name, len);
		names[(*n)++] = pool + used;
		used += len;
		cur->matched++;
	}
	return 0;
}

int ftp_list_chunk(int dir_fd, struct list_cursor *cur, const struct list_opts *o,
	       struct fb_buf *out)
{
	enum { MAX_NAMES = LIST_DIRENT_BYTES / 20 };
	char *pool = malloc(LIST_DIRENT_BYTES);
	char **names = malloc(MAX_NAMES * sizeof(*names));
	int r = pool && names ? 0 : -ENOMEM;
	time_t now = time(NULL);
	while (r == 0 && out->len < LIST_CHUNK_BYTES) {
		size_t n;
		bool eof;
		r = read_names(dir_fd, cur, o, pool, LIST_DIRENT_BYTES, names, &n, &eof);
		if (r || eof) {
			cur->eof = r == 0;
			break;
		}
		/* Small directories (one read) come out sorted as before; a big
		 * one streams in the file system's order, since sorting it would
		 * need all of it in memory. */
		if (!cur->chunks++ && n > 1)
			qsort(names, n, sizeof(*names), by_name);
		for (size_t i = 0; i < n; i++) {
			struct stat st;
			char shown[PATH_MAX + NAME_MAX + 2];
			if (o->style != LIST_NAMES &&
			    !entry_stat(dir_fd, o->root_fd, o->vdir, names[i], &st))
				continue;
			snprintf(shown, sizeof(shown), "%s%s", o->prefix ? o->prefix : "",
				 names[i]);
			ftp_list_line(out, o->style, shown, &st, o->writable, now);
		}
	}
	free(pool);
	free(names);
	if (r == 0 && out->failed)
		r = -ENOMEM;
	return r < 0 ? r : cur->eof ? 1 : 0;
}
