/* engine_testlib.h — what the engine's unit tests (test_engine.c,
 * test_engine_splice.c, test_pool.c) share: waiting on a counter with a
 * deadline, and a loopback address. */
#ifndef FERRY_TESTS_ENGINE_TESTLIB_H
#define FERRY_TESTS_ENGINE_TESTLIB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* True once *v reaches target; polls every millisecond for at most seconds. */
bool wait_until(atomic_int *v, int target, int seconds);

/* 127.0.0.1:port (port 0: any). */
struct sockaddr_storage loopback(uint16_t port);

#endif
