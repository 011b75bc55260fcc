/* engine_testlib.c — the helpers the engine's unit tests share (see
 * engine_testlib.h), linked into each of their executables. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include "engine_testlib.h"

bool wait_until(atomic_int *v, int target, int seconds)
{
	for (int i = 0; i < seconds * 1000 && atomic_load(v) < target; i++)
		usleep(1000);
	return atomic_load(v) >= target;
}

struct sockaddr_storage loopback(uint16_t port)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *a = (struct sockaddr_in *)&ss;
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a->sin_port = htons(port);
	return ss;
}
