/* fake_tcp.h — TCP for the engine's test double (fake_engine.h): listeners,
 * connections, connects, hand-offs (detach/adopt), zero-copy transfers and
 * io_uring file operations, played on the calling thread. The harness is
 * the client: each connection has a peer end it writes to and reads from,
 * and every reply stream of a control connection is checked as it is read. */
#ifndef FERRY_FUZZ_FAKE_TCP_H
#define FERRY_FUZZ_FAKE_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ferry/base.h"
#include "ferry/crypto.h"
#include "fake_engine.h"

enum { FAKE_PEERS_MAX = 16, FAKE_TOKEN_MAX = 64, FAKE_TOKENS = 8 };

/* The client's end of one TCP connection (an adopted SPSV connection keeps
 * the peer of the control connection it came in on). */
struct fake_peer {
	struct fe_conn *c;        /* the server's end; NULL once gone */
	bool ctl;                 /* a control connection: replies checked */
	bool reading;             /* the client reads what the server sends */
	bool shut;                /* the client closed its side */
	bool tls;                 /* after 234: TLS records, not checked */
	/* Lines split and tokens taken, not judged: a gateway's client, whose
	 * replies are what a (fuzzed) backend said. */
	bool lax;
	/* Made by a connect of the code under test (to: where it went). */
	bool dialled;
	struct sockaddr_storage to;
	/* The DATACONN passwords seen in its replies, the newest last. */
	char tokens[FAKE_TOKENS][FAKE_TOKEN_MAX];
	unsigned ntokens;
	struct fb_buf in;         /* sent by the client, not yet delivered */
	/* A real TLS client (fake_tcp_tls_client): what the harness writes is
	 * held in plain until the handshake ends, then encrypted; what the
	 * server sends is decrypted, and a control connection's replies are
	 * checked again in the clear. */
	struct crypto_tls *tlsc;
	struct fb_buf plain;
	uint64_t received;        /* bytes the server sent it */
	/* the reply checker: the line being read */
	char line[512];
	size_t linelen;
	bool cr, multi;
	int code;
	unsigned replies;
};

/* A fresh TCP state (after fake_begin). */
void fake_tcp_begin(bool refuse_connects);
/* Connects from now on refused (or not). */
void fake_tcp_refuse(bool refuse_connects);
/* Called at every fe_tcp_connect, before it is queued (NULL: none). */
typedef void fake_connect_hook(struct fe_worker *w, const struct sockaddr_storage *to,
			       const struct sockaddr_storage *from);
void fake_tcp_connect_hook(fake_connect_hook *hook);
/* Called for a reply line "ddd text" a lax peer receives inside a
 * multi-line reply of another code (NULL: none). */
typedef void fake_inner_hook(struct fake_peer *p, const char *line);
void fake_tcp_inner_hook(fake_inner_hook *hook);
/* The peer whose server end is c, or NULL. */
struct fake_peer *fake_tcp_peer_of(const struct fe_conn *c);
/* A control connection from addr (text, port chosen) to the listener of
 * its family on worker w that was opened first. NULL when none. */
struct fake_peer *fake_tcp_connect_ctl(unsigned w, const char *addr);
/* The same to the nth such listener (the service opens ftp.listen's, then
 * ftp.tls.implicit_listen's); tls: the server speaks TLS first (implicit
 * FTPS), so its bytes are records, not replies. */
struct fake_peer *fake_tcp_connect_nth(unsigned w, const char *addr, unsigned nth, bool tls);
/* Makes p's client a real TLS client (wolfSSL's, through src/crypto) from
 * now on: its handshake starts at once, offering the session of the
 * newest other control connection's client (resumption). false
 * when p has one already or TLS cannot start. */
bool fake_tcp_tls_client(struct fake_peer *p);
/* A data connection from addr to the passive listener opened last. */
struct fake_peer *fake_tcp_connect_data(const char *addr);
unsigned fake_tcp_npeers(void);
struct fake_peer *fake_tcp_peer(unsigned i);
/* Bytes from the client (delivered on the next turn). */
void fake_tcp_write(struct fake_peer *p, const uint8_t *data, size_t len);
/* One loop: mail, output read, input delivered, closes, until nothing moves;
 * a loop that never settles is a finding (a livelock). */
void fake_tcp_run(void);
/* The last SPSV DATACONN password seen in any reply, "" if none. */
const char *fake_tcp_token(void);
/* Open listeners and connections (the service's own listeners stay). */
unsigned fake_tcp_listeners(void);
unsigned fake_tcp_conns(void);
/* What the engine does with connections after worker_fini: frees them,
 * no callbacks. */
void fake_tcp_drop_conns(void);
/* After the service stopped: no connection, listener, hand-off left; every
 * reply stream ended on a complete reply. */
void fake_tcp_end(void);
/* Highest send queue seen on any connection, bytes. */
size_t fake_tcp_peak_queue(void);

#endif
