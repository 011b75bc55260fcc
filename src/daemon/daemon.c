/* daemon.c — detaches ferryd from its terminal, holding the shell's command
 * open until start-up succeeds or fails; pidfile and process priority. */
#include "ferry/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* Status the waiting parent exits with when the child vanished without a
 * word and waitpid cannot tell us more. */
#define DETACH_LOST_CHILD 2

/* Write end of the readiness pipe in the detached child; -1 when running
 * in the foreground or once the result has been reported. */
static int g_ready_fd = -1;

/* Exit status to pass on for a child that ended before reporting. */
static int status_of_dead_child(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid)
		return DETACH_LOST_CHILD;
	if (WIFEXITED(st))
		return WEXITSTATUS(st) != 0 ? WEXITSTATUS(st) : DETACH_LOST_CHILD;
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return DETACH_LOST_CHILD;
}

/* The parent's whole life: wait for the child's one status byte, exit with
 * it. EOF means the child died (or exec'd) before reporting — the pipe end
 * is close-on-exec and closes when the child exits. */
static void __attribute__((noreturn)) parent_wait(int rfd, pid_t child)
{
	unsigned char status;
	ssize_t n;

	do
		n = read(rfd, &status, 1);
	while (n < 0 && errno == EINTR);
	if (n == 1)
		_exit(status);
	_exit(status_of_dead_child(child));
}

/* Child side of the detach: new session (no controlling terminal), cwd
 * "/" so no mount point stays busy, and a umask that at least removes
 * group/other write. Stdio is kept until daemon_ready() so start-up
 * errors still reach the user's terminal. */
static int child_setup(void)
{
	mode_t old = umask(022);

	umask(old | 022);
	if (setsid() < 0 || chdir("/") < 0)
		return -1;
	return 0;
}

/*
 * Callers must have made every relative path (log file, pidfile, key
 * files, FTP roots) absolute before calling: the child changes directory
 * to "/". Call it before creating threads — fork copies only the caller.
 */
int daemon_detach(void)
{
	int fds[2];

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(fds[0]);
		close(fds[1]);
		errno = e;
		return -1;
	}
	if (pid > 0) {
		close(fds[1]);
		parent_wait(fds[0], pid);
	}
	close(fds[0]);
	g_ready_fd = fds[1];
	if (child_setup() < 0) {
		int e = errno;
		daemon_ready(DETACH_LOST_CHILD);
		errno = e;
		return -1;
	}
	return 0;
}

/* Points stdin, stdout and stderr at /dev/null, so a later stray write
 * cannot hit a terminal that is gone or a descriptor reused for a socket. */
static void detach_stdio(void)
{
	int fd = open("/dev/null", O_RDWR);

	if (fd < 0)
		return;
	for (int i = STDIN_FILENO; i <= STDERR_FILENO; i++)
		if (fd != i)
			dup2(fd, i);
	if (fd > STDERR_FILENO)
		close(fd);
}

/* Only the first call reports; foreground runs never had a pipe. Stdio
 * goes to /dev/null only on success — on failure the process is about to
 * exit and its last words should still be visible. */
void daemon_ready(int exit_status)
{
	unsigned char status = (unsigned char)exit_status;
	ssize_t n;

	if (g_ready_fd < 0)
		return;
	do
		n = write(g_ready_fd, &status, 1);
	while (n < 0 && errno == EINTR);
	close(g_ready_fd);
	g_ready_fd = -1;
	if (exit_status == 0)
		detach_stdio();
}

int daemon_pidfile_write(const char *path)
{
	char buf[32];
	int len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);

	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, buf, (size_t)len);
	int e = n == len ? 0 : (n < 0 ? errno : EIO);
	if (close(fd) < 0 && e == 0)
		e = errno;
	return -e;
}

/* Removes the pidfile unless it now names another process (a second
 * instance took it over); unreadable or garbled files are removed. */
void daemon_pidfile_remove(const char *path)
{
	char buf[32] = { 0 };
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd >= 0) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		long pid = n > 0 ? strtol(buf, NULL, 10) : 0;
		if (pid > 0 && pid != (long)getpid())
			return;
	}
	unlink(path);
}

/* On Linux the nice value belongs to the calling thread; threads created
 * afterwards inherit it, so call this before starting the workers. */
int daemon_set_priority(int nice_value)
{
	if (setpriority(PRIO_PROCESS, 0, nice_value) < 0)
		return -errno;
	return 0;
}
