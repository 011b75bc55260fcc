/* fake_engine.h — a test double of the engine API (include/ferry/engine.h)
 * for harnesses that drive protocol code without a ring: the fe_* calls a
 * protocol module makes land here, and the harness plays the loop. */
#ifndef FERRY_FUZZ_FAKE_ENGINE_H
#define FERRY_FUZZ_FAKE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ferry/engine.h"

enum { FAKE_MAX_WORKERS = 4 };

/* What the code under test did, for the harness's invariants. */
struct fake_stats {
	uint64_t sends, send_bytes, joins, leaves, timers, mails;
	unsigned open_sockets, pending_timers, pending_mail;
};

/* A fresh engine of n workers at time now_ms (the previous run's state
 * must be gone: fake_end checks it). */
void fake_begin(unsigned nworkers, uint64_t now_ms);
struct fe_worker *fake_worker(unsigned index);
/* Delivers a datagram to the first socket of the family that worker
 * opened (what a multishot recvmsg would do); the mail it causes waits
 * for fake_run_mail. 0 when no such socket is open. */
int fake_deliver(unsigned worker, int family, const uint8_t *data, size_t len,
		 const struct sockaddr *src, socklen_t srclen);
/* Moves the clock on by ms, firing due timers in order, running mail. */
void fake_advance(uint64_t ms);
/* Runs queued mail until none is left (mail may post mail). */
void fake_run_mail(void);
/* Runs the helper pool's done() calls still queued, and only those: what
 * the engine does as workers stop, before worker_fini. */
void fake_pool_drain(void);
/* hold: pool jobs take their time, their done() waits (fake_run_mail
 * leaves it queued) until released or drained: what a busy helper pool
 * does while the connection moves on. */
void fake_pool_hold(bool hold);
/* Whether fake_run_mail has anything to run. */
bool fake_mail_waiting(void);
/* After the code under test stopped: runs the mail still queued (as the
 * engine does after worker_fini), then checks that every socket was
 * closed and every timer cancelled or fired. */
void fake_end(void);
const struct fake_stats *fake_stats(void);

#endif
