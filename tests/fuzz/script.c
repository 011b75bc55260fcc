/* script.c — the pieces of a script the harnesses over fake_tcp.c share
 * (script.h). */
#include <dirent.h>
#include <string.h>

#include "ferry/daemon.h"
#include "fuzz.h"
#include "script.h"

size_t fuzz_operand(const uint8_t *data, size_t size, size_t *off, const uint8_t **bytes)
{
	if (*off + 2 > size) {
		*off = size;
		return 0;
	}
	size_t len = (size_t)data[*off] << 8 | data[*off + 1];
	*off += 2;
	if (len > size - *off)
		len = size - *off;
	*bytes = data + *off;
	*off += len;
	return len;
}

struct fake_peer *fuzz_nth_peer(unsigned a)
{
	unsigned n = fake_tcp_npeers();
	return n ? fake_tcp_peer(a % n) : NULL;
}

bool fuzz_send_text(struct fake_peer *p, const uint8_t *d, size_t len)
{
	const char *tok = fake_tcp_token();
	size_t start = 0;
	bool put = false;
	for (size_t i = 0; i < len; i++) {
		if (d[i] != 0x01)
			continue;
		fake_tcp_write(p, d + start, i - start);
		fake_tcp_write(p, (const uint8_t *)tok, strlen(tok));
		put = true;
		start = i + 1;
	}
	if (len > start)
		fake_tcp_write(p, d + start, len - start);
	return put;
}

bool fuzz_common_op(unsigned op, unsigned a)
{
	struct fake_peer *p;
	if (op == 4)
		fake_advance((uint64_t)a * a * a * 20);
	else if (op == 5 && (p = fuzz_nth_peer(a)))
		p->shut = true;
	else if (op == 6 && (p = fuzz_nth_peer(a & 7)))
		p->reading = a & 8;
	return op >= 4 && op <= 6;
}

void fuzz_close_all(void)
{
	for (unsigned i = 0; i < fake_tcp_npeers(); i++)
		fake_tcp_peer(i)->reading = true;
	fake_tcp_run();
	for (unsigned i = 0; i < fake_tcp_npeers(); i++)
		fake_tcp_peer(i)->shut = true;
	fake_tcp_run();
}

unsigned fuzz_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	FUZZ_CHECK(d);
	unsigned n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

void fuzz_config(const char *json, struct ferry_config *cfg)
{
	struct config_error err;
	daemon_config_init(cfg);
	if (daemon_load_json(json, strlen(json), "fuzz.json", cfg, &err) ||
	    daemon_validate(cfg, &err)) {
		daemon_error_print(&err, stderr);
		FUZZ_CHECK(!"the harness's configuration loads");
	}
}
