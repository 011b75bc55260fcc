/* script.h — what the script harnesses over fake_tcp.c (fuzz_ftp_session,
 * fuzz_gateway) share: reading an operand, sending text with the last
 * DATACONN token in it, the clock, close and read ops, counting
 * descriptors, and the clients' closing at the end. */
#ifndef FERRY_FUZZ_SCRIPT_H
#define FERRY_FUZZ_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fake_tcp.h"
#include "ferry/config.h"

/* A 2-byte big-endian length and that many bytes (fewer at the end of the
 * input) from data[*off]; *off moves past them. */
size_t fuzz_operand(const uint8_t *data, size_t size, size_t *off, const uint8_t **bytes);
/* The a-th connection of all, counting round; NULL when none. */
struct fake_peer *fuzz_nth_peer(unsigned a);
/* The bytes from p's client, each 0x01 replaced by the last DATACONN token
 * replied (fake_tcp_token): true when one was. */
bool fuzz_send_text(struct fake_peer *p, const uint8_t *d, size_t len);
/* The ops both scripts number alike: 4 CLOCK (on by a*a*a*20 ms), 5 CLOSE
 * the a-th connection's far end, 6 READ (the a&7-th reads if a bit 3); false
 * for any other op. */
bool fuzz_common_op(unsigned op, unsigned a);
/* Every far end reads what is queued, then closes its side. */
void fuzz_close_all(void);
/* The harness's JSON configuration, loaded and validated into cfg (a
 * configuration that does not load is the harness's bug: abort). */
void fuzz_config(const char *json, struct ferry_config *cfg);
/* How many descriptors the process has open: the same before and after an
 * input that leaks none. */
unsigned fuzz_open_fds(void);

#endif
