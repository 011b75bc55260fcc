/* path.c — the one place FTP paths become files: names are normalised
 * lexically, then opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)
 * beneath the account's root, so "..", absolute symlinks and symlinks that
 * point out of the root all fail instead of leaving it. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ftp_internal.h"

int ftp_path_join(const char *cwd, const char *arg, char *out, size_t cap)
{
	char tmp[PATH_MAX * 2];
	size_t cl = strlen(cwd), al = strlen(arg);
	if (cl + al + 2 > sizeof(tmp) || cap < 2)
		return -ENAMETOOLONG;
	size_t t = 0;
	if (arg[0] != '/') {
		memcpy(tmp, cwd, cl);
		t = cl;
		tmp[t++] = '/';
	}
	memcpy(tmp + t, arg, al);
	tmp[t + al] = '\0';

	/* Walk the components, keeping "out" as "/a/b" without a trailing '/'. */
	size_t o = 0;
	char *p = tmp;
	while (*p) {
		while (*p == '/')
			p++;
		char *e = p;
		while (*e && *e != '/')
			e++;
		size_t n = (size_t)(e - p);
		if (n == 0 || (n == 1 && p[0] == '.')) {
			/* nothing */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;       /* the '/' before the dropped name */
		} else {
			if (o + 1 + n + 1 > cap)
				return -ENAMETOOLONG;
			out[o++] = '/';
			memcpy(out + o, p, n);
			o += n;
		}
		p = e;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
	return 0;
}

static int beneath(int root_fd, const char *rel, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	int fd;
	do
		fd = (int)syscall(SYS_openat2, root_fd, rel, &how, sizeof(how));
	while (fd < 0 && errno == EAGAIN);
	return fd < 0 ? -errno : fd;
}

int ftp_path_open(int root_fd, const char *vpath, int flags, mode_t mode)
{
	if (vpath[0] != '/')
		return -EINVAL;
	const char *rel = vpath[1] ? vpath + 1 : ".";
	return beneath(root_fd, rel, flags, mode);
}

int ftp_path_parent(int root_fd, const char *vpath, const char **name)
{
	const char *slash = strrchr(vpath, '/');
	if (!slash || !slash[1])
		return -EINVAL;
	*name = slash + 1;
	char dir[PATH_MAX];
	size_t n = (size_t)(slash - vpath);
	if (n >= sizeof(dir))
		return -ENAMETOOLONG;
	if (n == 0)
		return beneath(root_fd, ".", O_PATH | O_DIRECTORY, 0);
	memcpy(dir, vpath + 1, n - 1);
	dir[n - 1] = '\0';
	return beneath(root_fd, dir, O_PATH | O_DIRECTORY, 0);
}

int ftp_path_stat(int root_fd, const char *vpath, struct stat *st)
{
	int fd = ftp_path_open(root_fd, vpath, O_PATH, 0);
	if (fd < 0)
		return fd;
	int r = fstat(fd, st) < 0 ? -errno : 0;
	close(fd);
	return r;
}
