/* ktls.c — Linux kernel TLS (kTLS) on the engine's TCP connections: whether
 * this kernel has it (probed once at start-up), handing a connection's
 * sending or receiving side to it, alert records (close_notify) sent
 * through it and the peer's non-data records read from it. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

struct fe_ktls_alert {
	struct msghdr msg;
	struct iovec iov;
	union {
		char buf[CMSG_SPACE(1)];
		struct cmsghdr align;
	} cm;
};

/* ---- the start-up probe -------------------------------------------------- */

/* A connected loopback pair (TCP_ULP takes established sockets only):
 * 0 and *cli, *srv, or -errno. */
static int loop_pair(int lfd, const struct sockaddr_in *a, int *cli, int *srv)
{
	*cli = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*cli < 0)
		return -errno;
	if (connect(*cli, (const struct sockaddr *)a, sizeof(*a)) < 0 ||
	    (*srv = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
		int e = -errno;
		close(*cli);
		return e;
	}
	return 0;
}

/* The probe's crypto_info for one of the FE_KTLS_* bits (a zero key: it
 * only has to be accepted). */
union probe_info {
	struct tls12_crypto_info_aes_gcm_256 gcm;   /* 128's is its prefix */
	struct tls12_crypto_info_chacha20_poly1305 chacha;
};

static size_t probe_info(unsigned bit, union probe_info *i)
{
	memset(i, 0, sizeof(*i));
	bool v13 = bit & (FE_KTLS_TLS13_AES128 | FE_KTLS_TLS13_AES256 | FE_KTLS_TLS13_CHACHA);
	i->gcm.info.version = v13 ? TLS_1_3_VERSION : TLS_1_2_VERSION;
	if (bit & (FE_KTLS_TLS12_CHACHA | FE_KTLS_TLS13_CHACHA)) {
		i->chacha.info.cipher_type = TLS_CIPHER_CHACHA20_POLY1305;
		return sizeof(i->chacha);
	}
	bool k256 = bit & (FE_KTLS_TLS12_AES256 | FE_KTLS_TLS13_AES256);
	i->gcm.info.cipher_type = k256 ? TLS_CIPHER_AES_GCM_256 : TLS_CIPHER_AES_GCM_128;
	return k256 ? sizeof(struct tls12_crypto_info_aes_gcm_256)
		    : sizeof(struct tls12_crypto_info_aes_gcm_128);
}

/* One combination on a fresh pair: 0, or -errno (*ulp: the ULP failed);
 * *rx: the receiving side (TLS_RX) takes it too. */
static int probe_one(int lfd, const struct sockaddr_in *a, unsigned bit, bool *ulp, bool *rx)
{
	int cli = -1, srv = -1, r = loop_pair(lfd, a, &cli, &srv);
	*rx = false;
	if (r)
		return r;
	union probe_info info;
	size_t len = probe_info(bit, &info);
	*ulp = setsockopt(cli, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls")) < 0;
	if (*ulp || setsockopt(cli, SOL_TLS, TLS_TX, &info, (socklen_t)len) < 0)
		r = -errno;
	else
		*rx = setsockopt(cli, SOL_TLS, TLS_RX, &info, (socklen_t)len) == 0;
	close(cli);
	close(srv);
	return r;
}

unsigned fe_ktls_probe(char *why, size_t cap, unsigned *rx)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 4) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen) < 0) {
		snprintf(why, cap, "cannot probe (a loopback socket: %s)", strerror(errno));
		*rx = 0;
		if (lfd >= 0)
			close(lfd);
		return 0;
	}
	unsigned mask = 0, rx_mask = 0;
	why[0] = '\0';
	for (unsigned bit = 1; bit <= FE_KTLS_TLS13_CHACHA; bit <<= 1) {
		bool ulp = false, opens = false;
		int r = probe_one(lfd, &a, bit, &ulp, &opens);
		if (!r) {
			mask |= bit;
			rx_mask |= opens ? bit : 0;
			continue;
		}
		if (ulp && (r == -ENOENT || r == -ENOPROTOOPT))
			snprintf(why, cap, "kernel has no tls ULP");
		else if (!why[0])
			snprintf(why, cap, "%s: %s", ulp ? "TCP_ULP tls" : "TLS_TX", strerror(-r));
		if (ulp)
			break;        /* no ULP: no cipher will do */
	}
	close(lfd);
	*rx = rx_mask;
	return mask;
}

/* ---- connections ---------------------------------------------------------- */

/* The tls ULP (once per socket) and one direction's keys: 0 or -errno. */
static int set_keys(int fd, int dir, const void *info, size_t len)
{
	if (setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls")) < 0 && errno != EEXIST)
		return -errno;
	if (setsockopt(fd, SOL_TLS, dir, info, (socklen_t)len) < 0)
		return -errno;
	return 0;
}

int fe_conn_ktls_tx(struct fe_conn *c, const void *info, size_t len)
{
	/* nothing of ours may still be on its way unsealed, or be sealed twice */
	if (c->closing || c->xfer || c->send_busy || c->next.len || c->ktls_tx)
		return -EBUSY;
	int r = set_keys(c->fd, TLS_TX, info, len);
	c->ktls_tx = r == 0;
	return r;
}

int fe_conn_ktls_rx(struct fe_conn *c, const void *info, size_t len)
{
	/* the socket's next byte must be a record's first: nothing received
	 * may wait here or be on its way (paused with nothing held) */
	if (c->closing || c->xfer || c->recv_armed || c->held.len || !c->paused || c->ktls_rx)
		return -EBUSY;
	int r = set_keys(c->fd, TLS_RX, info, len);
	c->ktls_rx = r == 0;
	return r;
}

long fe_conn_ktls_record(struct fe_conn *c, uint8_t *type, void *buf, size_t cap)
{
	if (!c->ktls_rx || c->xfer || c->recv_armed)
		return -EINVAL;
	if (!c->rx_sock_end)
		return -ENOMSG;         /* the file failed: the socket's record is data */
	union {
		char buf[CMSG_SPACE(1)];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { buf, cap };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
			      .msg_controllen = sizeof(cm.buf) };
	ssize_t n;
	do
		n = recvmsg(c->fd, &msg, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	*type = 0;
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&msg); h; h = CMSG_NXTHDR(&msg, h))
		if (h->cmsg_level == SOL_TLS && h->cmsg_type == TLS_GET_RECORD_TYPE)
			*type = *CMSG_DATA(h);
	return n;
}

bool fe_conn_ktls(const struct fe_conn *c)
{
	return c->ktls_tx;
}

int fe_conn_ktls_alert(struct fe_conn *c, uint8_t level, uint8_t desc)
{
	if (!c->ktls_tx)
		return -EINVAL;
	if (c->closing || c->xfer || c->send_busy || c->next.len || c->alert)
		return -EBUSY;
	if (!(c->alert = calloc(1, sizeof(*c->alert))))
		return -ENOMEM;
	const uint8_t body[2] = { level, desc };
	int r = fe_conn_send(c, body, sizeof(body));    /* sent by fe_ktls_prep_alert */
	if (r)
		fe_ktls_alert_free(c);
	return r;
}

/* The busy bytes as one record of type alert: sendmsg with the
 * TLS_SET_RECORD_TYPE control message (the kernel's own doc, tls.rst). */
void fe_ktls_prep_alert(struct io_uring_sqe *sqe, struct fe_conn *c)
{
	struct fe_ktls_alert *a = c->alert;
	a->iov = (struct iovec){ c->busy.p + c->busy.off, c->busy.len - c->busy.off };
	a->msg = (struct msghdr){ .msg_iov = &a->iov, .msg_iovlen = 1,
				  .msg_control = a->cm.buf, .msg_controllen = sizeof(a->cm.buf) };
	struct cmsghdr *h = CMSG_FIRSTHDR(&a->msg);
	h->cmsg_level = SOL_TLS;
	h->cmsg_type = TLS_SET_RECORD_TYPE;
	h->cmsg_len = CMSG_LEN(1);
	*CMSG_DATA(h) = FE_TLS_REC_ALERT;
	io_uring_prep_sendmsg(sqe, c->fd, &a->msg, MSG_NOSIGNAL);
}

void fe_ktls_alert_free(struct fe_conn *c)
{
	free(c->alert);
	c->alert = NULL;
}
