/* relay.c — the reference a proxy is measured against: a bare UDP relay
 * that reads batches with recvmmsg and writes them to one address with
 * sendmmsg, looking at nothing. What it costs per datagram is roughly the
 * kernel's own UDP path with the syscalls amortised. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "perf.h"

enum { BATCH_MAX = 256, BUF_SIZE = 9216 };

struct relay_opts {
	struct sockaddr_storage bind, to;
	unsigned batch;
	int cpu;
	bool json;
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: ferry-perf relay -B ADDR[:PORT] -T ADDR[:PORT] [options]\n"
"  -B, --bind ADDR[:PORT]    where to listen (port 1044)\n"
"  -T, --to ADDR[:PORT]      where every datagram goes (port 1044)\n"
"      --batch N             datagrams per recvmmsg/sendmmsg (64, at most %d)\n"
"  -A, --cpu N               pin to CPU N\n"
"  -J, --json                counts as JSON when stopped (SIGINT/SIGTERM)\n",
		BATCH_MAX);
}

static int parse_opts(int argc, char **argv, struct relay_opts *o)
{
	static const struct option longopts[] = {
		{ "bind", 1, 0, 'B' }, { "to", 1, 0, 'T' }, { "batch", 1, 0, 'b' },
		{ "cpu", 1, 0, 'A' }, { "json", 0, 0, 'J' }, { "help", 0, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	*o = (struct relay_opts){ .batch = 64, .cpu = -1 };
	bool have_bind = false, have_to = false;
	int c, r = 0;
	double v;
	optind = 1;
	while (r == 0 && (c = getopt_long(argc, argv, "B:T:A:Jh", longopts, NULL)) != -1) {
		switch (c) {
		case 'B': r = perf_parse_addr(optarg, 1044, &o->bind, "bind");
			  have_bind = true; break;
		case 'T': r = perf_parse_addr(optarg, 1044, &o->to, "to");
			  have_to = true; break;
		case 'b': case 'A':
			v = perf_parse_si(optarg);
			if (v < (c == 'b') || v != (unsigned)v || (c == 'b' && v > BATCH_MAX)) {
				fprintf(stderr, "ferry-perf relay: bad value '%s'\n", optarg);
				r = -1;
			} else if (c == 'b') {
				o->batch = (unsigned)v;
			} else {
				o->cpu = (int)v;
			}
			break;
		case 'J': o->json = true; break;
		case 'h': usage(stdout); exit(PERF_OK);
		default: r = -1;
		}
	}
	if (r == 0 && (!have_bind || !have_to || optind < argc)) {
		fprintf(stderr, "ferry-perf relay: --bind and --to are required\n");
		r = -1;
	}
	if (r < 0)
		usage(stderr);
	return r;
}

static int open_socket(const struct relay_opts *o)
{
	int fd = socket(o->bind.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("ferry-perf relay: socket");
		return -1;
	}
	/* The same buffers uftpproxyd asks for by default (-B 262144) would be
	 * unfair to nobody; a large one keeps the reference loss-free. */
	int size = 8 << 20;
	struct timeval tv = { .tv_usec = 200000 };
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (bind(fd, (const struct sockaddr *)&o->bind, perf_addr_len(&o->bind)) < 0) {
		perror("ferry-perf relay: bind");
		close(fd);
		return -1;
	}
	return fd;
}

int perf_relay(int argc, char **argv)
{
	struct relay_opts o;
	if (parse_opts(argc, argv, &o) < 0)
		return PERF_USAGE;
	if (perf_pin(o.cpu) < 0)
		return PERF_SYS;
	perf_trap_signals();
	int fd = open_socket(&o);
	static uint8_t bufs[BATCH_MAX][BUF_SIZE];
	struct mmsghdr in[BATCH_MAX], out[BATCH_MAX];
	struct iovec iov[BATCH_MAX];
	if (fd < 0)
		return PERF_SYS;
	for (unsigned i = 0; i < o.batch; i++) {
		iov[i] = (struct iovec){ bufs[i], BUF_SIZE };
		in[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[i], .msg_iovlen = 1 };
	}
	uint64_t rx = 0, tx = 0, errors = 0, calls = 0;
	int rc = PERF_OK;
	while (!perf_stopping()) {
		int n = recvmmsg(fd, in, o.batch, MSG_WAITFORONE, NULL);
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				perror("ferry-perf relay: recvmmsg");
				rc = PERF_SYS;
				break;
			}
			continue;
		}
		calls++;
		rx += (unsigned)n;
		for (int i = 0; i < n; i++) {
			out[i].msg_hdr = (struct msghdr){
				.msg_name = &o.to, .msg_namelen = perf_addr_len(&o.to),
				.msg_iov = &in[i].msg_hdr.msg_iov[0], .msg_iovlen = 1 };
			iov[i].iov_len = in[i].msg_len;
		}
		for (int done = 0; done < n;) {
			int r = sendmmsg(fd, out + done, (unsigned)(n - done), 0);
			if (r < 0) {
				errors++;
				break;                  /* a relay drops, it doesn't wait */
			}
			done += r;
			tx += (unsigned)r;
		}
		for (int i = 0; i < n; i++)
			iov[i].iov_len = BUF_SIZE;
	}
	close(fd);
	if (o.json)
		printf("{\"received\": %llu, \"sent\": %llu, \"send_errors\": %llu, "
		       "\"recvmmsg_calls\": %llu}\n", (unsigned long long)rx,
		       (unsigned long long)tx, (unsigned long long)errors,
		       (unsigned long long)calls);
	else
		printf("ferry-perf relay: received %llu, sent %llu, send errors %llu, "
		       "%.1f datagrams per recvmmsg\n", (unsigned long long)rx,
		       (unsigned long long)tx, (unsigned long long)errors,
		       calls ? (double)rx / (double)calls : 0.0);
	return rc;
}
