/* notify.c — tells a service manager how start-up, reload and shutdown are
 * going, by systemd's documented datagram protocol on $NOTIFY_SOCKET (no
 * libsystemd: one sendmsg on an AF_UNIX socket is the whole protocol). */
#include "ferry/daemon.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Fills un from $NOTIFY_SOCKET: a path, or '@' for the abstract namespace.
 * Returns the address length, or 0 when there is no (usable) socket. */
static socklen_t notify_address(struct sockaddr_un *un)
{
	const char *path = getenv("NOTIFY_SOCKET");
	size_t n = path ? strlen(path) : 0;
	if (n < 2 || n >= sizeof(un->sun_path) || (path[0] != '/' && path[0] != '@'))
		return 0;
	memset(un, 0, sizeof(*un));
	un->sun_family = AF_UNIX;
	memcpy(un->sun_path, path, n);
	if (path[0] == '@')
		un->sun_path[0] = '\0';
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
}

int daemon_notify(const char *state)
{
	struct sockaddr_un un;
	socklen_t len = notify_address(&un);
	if (len == 0)
		return 0;                 /* not started by a service manager */
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ssize_t n = sendto(fd, state, strlen(state), MSG_NOSIGNAL,
			   (const struct sockaddr *)&un, len);
	int r = n < 0 ? -errno : 0;
	close(fd);
	return r;
}

int daemon_notify_reloading(void)
{
	/* systemd 253+ wants the monotonic time with RELOADING=1; older
	 * managers ignore the extra field. */
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	char msg[96];
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ull +
			 (unsigned long long)ts.tv_nsec / 1000u);
	return daemon_notify(msg);
}
