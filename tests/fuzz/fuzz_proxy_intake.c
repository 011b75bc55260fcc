/* fuzz_proxy_intake.c — the proxy's datagram intake (sockets.c's receive
 * callback: decode, hand-off between workers, per-role handlers, groups,
 * timers, forwarding) for a client, a server and a response proxy, run
 * without a ring: the proxy's objects are linked with fake_engine.c, a test
 * double of the fe_* calls, and the input is cut into datagrams from
 * several sources with the clock moved between them.
 *
 * Input: one byte choosing the role (bits 0-1, mod 3: client, server,
 * response), the worker count (bit 2: two workers, else one) and how it
 * ends (bit 3: at once, else after the final clock step), then records:
 *   b0: bit 0 the worker that receives, bit 1 IPv6, bits 2-7 n: the clock
 *       moves n*n*10 ms first (up to 39.7 s: groups time out);
 *   b1: the source (address bits 0-2, port bits 3-4); bit 5: the mail
 *       (hand-offs between workers) waits, as when the receiving worker
 *       is busy: it runs at the next clock step, or after the workers
 *       stopped (the engine delivers all mail, also after worker_fini);
 *   b2 b3: the datagram's length, big-endian (cut to what is left);
 *   then the datagram.
 * At the end the clock moves on 2 minutes (every group times out) unless
 * bit 3 says stop at once (groups alive, mail queued), the helper pool's
 * done() calls run (the engine drains the pool before worker_fini), the
 * workers stop, the mail still queued runs (as after worker_fini), and every socket
 * must be closed and every timer gone.
 *
 * The state the workers share (UID, lists, keys: a server proxy generates
 * an RSA key, which would cost more than the rest of an input) is made
 * once per role and worker count, as ferryd makes it once at start-up.
 * What an input changes in it must be back to zero when its workers have
 * stopped (no group in the table, the group bounds' counters at zero), so
 * an input's outcome does not depend on the ones before; that is checked. */
#include <arpa/inet.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "fake_engine.h"
#include "ferry/daemon.h"
#include "ferry/base.h"
#include "ferry/proxy.h"
#include "fuzz.h"
#include "../../src/proxy/internal.h"   /* the shared state's bounds */

enum { ROLES = 3 };

/* uftpproxyd command lines, one per role, with addresses from the
 * 198.18.0.0/15 test range (nothing is sent anywhere: the engine is fake). */
static char *const role_args[ROLES][16] = {
	{ "uftpproxyd", "-c", "-U", "0x0C000001", "-p", "1044", "-q", "1045",
	  "-H", "198.18.0.1,198.18.1.1:1045", "-h", "20", "--group-idle-max", "60", NULL },
	{ "uftpproxyd", "-s", "198.18.1.2", "-p", "1044", "-U", "0x0A000001",
	  "--group-idle-max", "60", NULL },
	{ "uftpproxyd", "-r", "-U", "0x0D000001", "-p", "1044", "--group-idle-max", "60", NULL },
};

static const struct ferry_config *role_config(unsigned role)
{
	static struct ferry_config cfg[ROLES];
	static bool ready[ROLES];
	if (!ready[role]) {
		struct config_error err;
		enum cli_action action;
		int argc = 0;
		while (role_args[role][argc])
			argc++;
		daemon_config_init(&cfg[role]);
		FUZZ_CHECK(daemon_parse_args(argc, (char **)role_args[role], &cfg[role],
					     &action, &err) == FERRY_EXIT_OK);
		FUZZ_CHECK(daemon_validate(&cfg[role], &err) == FERRY_EXIT_OK);
		ready[role] = true;
	}
	return &cfg[role];
}

/* FUZZ_PROXY_LOG=5 shows what the proxy did with an input, and what it
 * asked of the engine; quiet otherwise (fast). */
static bool verbose(void)
{
	static int v = -1;
	if (v < 0) {
		const char *lvl = getenv("FUZZ_PROXY_LOG");
		v = lvl != NULL;
		fb_log_open(NULL, lvl ? atoi(lvl) : -1, 0, 0);
	}
	return v;
}

/* Source b1: one of 8 addresses (a server proxy's downstream 198.18.1.2
 * among them), one of 4 ports. */
static socklen_t source(uint8_t b1, bool v6, struct sockaddr_storage *ss)
{
	static const char *const v4[8] = { "198.18.0.1", "198.18.0.2", "198.18.1.2",
		"198.18.1.1", "127.0.0.1", "198.19.255.254", "0.0.0.0", "255.255.255.255" };
	static const char *const v6s[8] = { "fd00::1", "fd00::2", "::ffff:198.18.1.2",
		"fe80::1", "::1", "fd00::ffff", "::", "ff02::1" };
	uint16_t port = (uint16_t)(1044 + ((b1 >> 3) & 3));
	memset(ss, 0, sizeof(*ss));
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		inet_pton(AF_INET6, v6s[b1 & 7], &a->sin6_addr);
		return sizeof(*a);
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;
	a->sin_family = AF_INET;
	a->sin_port = htons(port);
	inet_pton(AF_INET, v4[b1 & 7], &a->sin_addr);
	return sizeof(*a);
}

static struct proxy_shared *shared_state(unsigned role, unsigned nworkers)
{
	static struct proxy_shared *sh[ROLES][2];
	if (!sh[role][nworkers - 1])
		FUZZ_CHECK(proxy_shared_new(role_config(role), nworkers,
					    &sh[role][nworkers - 1]) == 0);
	return sh[role][nworkers - 1];
}

static void check_back_to_start(struct proxy_shared *sh)
{
	for (unsigned i = 0; i < sh->nworkers; i++)
		FUZZ_CHECK(sh->workers[i] == NULL);
	for (size_t i = 0; i < sh->count; i++) {
		struct inst_shared *in = &sh->inst[i];
		FUZZ_CHECK(proxy_table_count(in->groups) == 0);
		FUZZ_CHECK(atomic_load(&in->groups_alive) == 0);
		for (size_t b = 0; b < SOURCE_BUCKETS; b++)
			FUZZ_CHECK(atomic_load(&in->per_source[b]) == 0);
		atomic_store(&in->groups_refused, 0);   /* a counter for the log */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	bool loud = verbose();
	unsigned role = (data[0] & 3) % ROLES, nworkers = data[0] & 4 ? 2 : 1;
	struct proxy_shared *sh = shared_state(role, nworkers);
	struct proxy_worker *pw[FAKE_MAX_WORKERS] = { 0 };
	fake_begin(nworkers, 1000000);
	for (unsigned i = 0; i < nworkers; i++) {
		FUZZ_CHECK(proxy_worker_init(fake_worker(i), sh, &pw[i]) == 0);
		fe_worker_set_data(fake_worker(i), pw[i]);
	}
	size_t off = 1;
	while (off + 4 <= size) {
		uint8_t b0 = data[off], b1 = data[off + 1];
		size_t len = (size_t)data[off + 2] << 8 | data[off + 3];
		off += 4;
		if (len > size - off)
			len = size - off;
		unsigned n = b0 >> 2;
		fake_advance((uint64_t)n * n * 10);
		struct sockaddr_storage src;
		bool v6 = b0 & 2;
		socklen_t slen = source(b1, v6, &src);
		/* the bytes alone in a buffer of their own, as a received datagram */
		uint8_t *dgram = malloc(len ? len : 1);
		if (!dgram)
			break;
		memcpy(dgram, data + off, len);
		if (!fake_deliver((b0 & 1) % nworkers, v6 ? AF_INET6 : AF_INET, dgram, len,
				  (struct sockaddr *)&src, slen))
			(void)fake_deliver((b0 & 1) % nworkers, AF_INET, dgram, len,
					   (struct sockaddr *)&src, slen);
		free(dgram);
		if (!(b1 & 0x20))
			fake_run_mail();
		off += len;
	}
	if (!(data[0] & 8))
		fake_advance(120 * 1000);   /* past --group-idle-max */
	fake_pool_drain();   /* the engine runs every done() before worker_fini */
	for (unsigned i = 0; i < nworkers; i++) {
		proxy_worker_fini(pw[i]);
		fe_worker_set_data(fake_worker(i), NULL);
	}
	fake_end();
	check_back_to_start(sh);
	if (loud) {
		const struct fake_stats *st = fake_stats();
		fb_log_flush();
		fprintf(stderr, "engine: %llu sends (%llu bytes), %llu joins, %llu leaves, "
			"%llu timers, %llu mails\n", (unsigned long long)st->sends,
			(unsigned long long)st->send_bytes, (unsigned long long)st->joins,
			(unsigned long long)st->leaves, (unsigned long long)st->timers,
			(unsigned long long)st->mails);
	}
	return 0;
}
