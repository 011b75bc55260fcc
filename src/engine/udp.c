/* udp.c — UDP sockets: one multishot recvmsg per socket into the worker's
 * provided buffers, sends copied into pooled slots and queued as SQEs that
 * leave with the turn's single submit. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ferry/base.h"
#include "internal.h"

enum { SLOT_INLINE = 2048, SLOTS_MAX = 16384, UDP_MAX = 65507,
       CMSG_BYTES = 64, RUN_MAX = 64, GSO_BYTES_MAX = 65000 };

struct fe_udp {
	struct list_node node;
	struct fe_worker *w;
	int fd;
	int family;
	bool gro;               /* UDP_GRO: a receive may hold several datagrams */
	fe_udp_cb *cb;
	void *arg;
	struct msghdr rx_msg;   /* template the kernel reads for every receive */
	unsigned refs;          /* operations in flight plus the owner's */
	bool closing;
	bool recv_armed;
	bool no_gso;            /* the path refused UDP_SEGMENT once */
	struct udp_run *open;   /* datagrams queued this turn, not yet submitted */
	struct fe_udp *open_next;  /* worker's list of sockets with a run */
	bool open_listed;
	struct port_claim *claim; /* shared with our other workers (claim.c) */
};

struct udp_slot {
	struct udp_slot *next;
	uint8_t *data;
	uint8_t inline_data[SLOT_INLINE];
};

/* Datagrams for one destination that leave in one sendmsg. */
struct udp_run {
	struct udp_run *next;   /* free list */
	struct fe_udp *sock;
	struct msghdr msg;
	struct sockaddr_storage dst;
	socklen_t dstlen;
	unsigned n;
	size_t bytes;
	uint16_t seg;           /* size of each but the last */
	bool ended;             /* nothing more may join */
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov[RUN_MAX];
	struct udp_slot *slot[RUN_MAX];
};

/* ---- socket options ------------------------------------------------------ */

struct sockopt {
	int level, name, value;
	const char *what;
	bool optional;          /* older kernels may lack it */
};

static int set_opts(int fd, const struct sockopt *o, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (setsockopt(fd, o[i].level, o[i].name, &o[i].value,
			       sizeof(o[i].value)) == 0 || o[i].optional)
			continue;
		int err = errno;
		flog(LOG_LVL_ERR, "%s: setsockopt %s: %s", __func__, o[i].what,
		     strerror(err));
		return -err;
	}
	return 0;
}

/* The kernel caps SO_RCVBUF/SO_SNDBUF at net.core.rmem_max/wmem_max; only
 * when asked (bufforce) does a privileged process go past that. What the
 * kernel granted is logged when it is less than asked for. */
static void set_bufsize(int fd, int size, bool force)
{
	if (!size)
		return;
	if (!force || setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (!force || setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	int got = 0;
	socklen_t len = sizeof(got);
	/* Linux reports twice the value it was given (bookkeeping overhead). */
	if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &len) == 0 && got / 2 < size)
		flog(LOG_LVL_VERB, "%s: receive buffer %d bytes, not %d: the kernel's "
		     "net.core.rmem_max limits it", __func__, got / 2, size);
}

static int set_mcast_if(int fd, const struct fe_udp_opts *o)
{
	if (o->bind.ss_family == AF_INET6) {
		int idx = (int)o->mcast_ifindex;
		if (idx && setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx,
				      sizeof(idx)) < 0)
			return -errno;
		return 0;
	}
	struct ip_mreqn m = { .imr_ifindex = (int)o->mcast_ifindex };
	if (o->mcast_ifaddr.ss_family == AF_INET)
		m.imr_address = ((const struct sockaddr_in *)&o->mcast_ifaddr)->sin_addr;
	if ((m.imr_ifindex || m.imr_address.s_addr) &&
	    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &m, sizeof(m)) < 0)
		return -errno;
	return 0;
}

static int configure(int fd, const struct fe_udp_opts *o)
{
	int ttl = o->ttl ? o->ttl : 1;
	int tos = o->dscp << 2;
	/* No SO_REUSEADDR: on UDP it lets any other process bind the same
	 * port. Our own workers share it through SO_REUSEPORT alone. */
	const struct sockopt common[] = {
		{ SOL_SOCKET, SO_REUSEPORT, o->reuseport, "SO_REUSEPORT", false },
	};
	/* MULTICAST_ALL off: a socket hears only the groups it joined itself, so
	 * with one joiner per group every datagram is received exactly once. */
	const struct sockopt v4[] = {
		{ IPPROTO_IP, IP_PKTINFO, 1, "IP_PKTINFO", false },
		{ IPPROTO_IP, IP_MULTICAST_ALL, 0, "IP_MULTICAST_ALL", false },
		{ IPPROTO_IP, IP_MULTICAST_TTL, ttl, "IP_MULTICAST_TTL", false },
		{ IPPROTO_IP, IP_TOS, tos, "IP_TOS", false },
	};
	const struct sockopt v6[] = {
		{ IPPROTO_IPV6, IPV6_V6ONLY, 1, "IPV6_V6ONLY", false },
		{ IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, "IPV6_RECVPKTINFO", false },
		{ IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0, "IPV6_MULTICAST_ALL", true },
		{ IPPROTO_IPV6, IPV6_MULTICAST_HOPS, ttl, "IPV6_MULTICAST_HOPS", false },
		{ IPPROTO_IPV6, IPV6_TCLASS, tos, "IPV6_TCLASS", false },
	};
	int r = set_opts(fd, common, sizeof(common) / sizeof(common[0]));
	if (r == 0 && o->bind.ss_family == AF_INET6)
		r = set_opts(fd, v6, sizeof(v6) / sizeof(v6[0]));
	else if (r == 0)
		r = set_opts(fd, v4, sizeof(v4) / sizeof(v4[0]));
	if (r == 0)
		r = set_mcast_if(fd, o);
	set_bufsize(fd, o->bufsize, o->bufforce);
	return r;
}

/* ---- receive ------------------------------------------------------------- */

static void udp_arm(struct fe_udp *s)
{
	struct io_uring_sqe *sqe = fe_sqe(s->w);
	io_uring_prep_recvmsg_multishot(sqe, s->fd, &s->rx_msg, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID_UDP;
	io_uring_sqe_set_data64(sqe, ud_make(OP_UDP_RECV, s));
	s->recv_armed = true;
	s->refs++;
	s->w->inflight++;
}

static void udp_unref(struct fe_udp *s)
{
	if (--s->refs)
		return;
	close(s->fd);
	fe_claim_release(s->w->eng, s->claim);
	free(s);
}

/* One walk over the ancillary data: where the datagram was sent (PKTINFO)
 * and, for a GRO aggregate, the size of its segments (0: one datagram). */
static size_t read_cmsgs(struct fe_udp *s, struct io_uring_recvmsg_out *o,
			 struct fe_datagram *d)
{
	size_t seg = 0;
	for (struct cmsghdr *c = io_uring_recvmsg_cmsg_firsthdr(o, &s->rx_msg); c;
	     c = io_uring_recvmsg_cmsg_nexthdr(o, &s->rx_msg, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			struct sockaddr_in *sin = (struct sockaddr_in *)&d->dst;
			sin->sin_family = AF_INET;
			sin->sin_addr = pi.ipi_addr;
			d->ifindex = (unsigned)pi.ipi_ifindex;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&d->dst;
			sin6->sin6_family = AF_INET6;
			sin6->sin6_addr = pi.ipi6_addr;
			d->ifindex = pi.ipi6_ifindex;
		} else if (s->gro && c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
			int size;
			memcpy(&size, CMSG_DATA(c), sizeof(size));
			seg = size > 0 ? (size_t)size : 0;
		}
	}
	return seg;
}

static void deliver(struct fe_udp *s, uint8_t *buf, int len)
{
	struct fe_worker *w = s->w;
	struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(buf, len, &s->rx_msg);
	if (!o)
		return;
	if (o->flags & MSG_TRUNC) {
		w->st.udp_rx_trunc++;
		return;
	}
	struct fe_datagram d = {
		.data = io_uring_recvmsg_payload(o, &s->rx_msg),
		.len = io_uring_recvmsg_payload_length(o, len, &s->rx_msg),
		.src = io_uring_recvmsg_name(o),
		.srclen = o->namelen < s->rx_msg.msg_namelen ? o->namelen
							      : s->rx_msg.msg_namelen,
	};
	/* A GRO aggregate: datagrams of seg bytes, the last maybe shorter. */
	size_t seg = read_cmsgs(s, o, &d), total = d.len;
	const uint8_t *p = d.data;
	if (!seg || seg > total)
		seg = total;
	for (size_t off = 0; off < total && !s->closing; off += seg) {
		d.data = p + off;
		d.len = total - off < seg ? total - off : seg;
		w->st.udp_rx++;
		s->cb(s, &d, s->arg);
	}
}

void fe_udp_on_recv(struct fe_worker *w, const struct io_uring_cqe *cqe)
{
	struct fe_udp *s = ud_ptr(cqe->user_data);
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		if (cqe->res > 0 && !s->closing && !w->stopping)
			deliver(s, fe_bufring_at(&w->udp_bufs, bid), cqe->res);
		fe_bufring_put(&w->udp_bufs, bid);
	} else if (cqe->res == -ENOBUFS) {
		/* Back-pressure: every buffer was in use. Not an error. */
		w->st.udp_rx_nobufs++;
	} else if (cqe->res < 0 && cqe->res != -ECANCELED) {
		flog(LOG_LVL_ERR, "%s: worker %u: recvmsg: %s", __func__, w->index,
		     strerror(-cqe->res));
	}
	if (cqe->flags & IORING_CQE_F_MORE)
		return;
	s->recv_armed = false;
	w->inflight--;
	bool again = !s->closing && !w->stopping && cqe->res != -ECANCELED &&
		     cqe->res != -EBADF;
	if (again)
		udp_arm(s);
	udp_unref(s);
}

/* ---- send ----------------------------------------------------------------
 * Datagrams queued in one turn for the same destination, all of one size
 * but the last, form a run that leaves as one sendmsg with UDP_SEGMENT: the
 * kernel walks the UDP/IP stack once for the lot (GSO) instead of once per
 * datagram. Each datagram still goes out on its own, unchanged. */

static size_t gso_seg_max(int family)
{
	return family == AF_INET6 ? 1452 : 1472;   /* 1500-byte MTU, no options */
}

static struct udp_slot *slot_get(struct fe_worker *w, size_t len)
{
	struct udp_slot *sl = w->free_slots;
	if (sl) {
		w->free_slots = sl->next;
	} else {
		if (w->slots >= SLOTS_MAX || !(sl = malloc(sizeof(*sl))))
			return NULL;
		w->slots++;
	}
	sl->data = len <= SLOT_INLINE ? sl->inline_data : malloc(len);
	if (!sl->data) {
		sl->next = w->free_slots;
		w->free_slots = sl;
		return NULL;
	}
	return sl;
}

static void slot_put(struct fe_worker *w, struct udp_slot *sl)
{
	if (sl->data != sl->inline_data)
		free(sl->data);
	sl->next = w->free_slots;
	w->free_slots = sl;
}

static struct udp_run *run_get(struct fe_worker *w)
{
	struct udp_run *run = w->free_runs;
	if (run)
		w->free_runs = run->next;
	else if (!(run = malloc(sizeof(*run))))
		return NULL;
	run->n = 0;
	run->bytes = 0;
	run->seg = 0;
	run->ended = false;
	return run;
}

static void run_put(struct fe_worker *w, struct udp_run *run)
{
	for (unsigned i = 0; i < run->n; i++)
		slot_put(w, run->slot[i]);
	run->next = w->free_runs;
	w->free_runs = run;
}

void fe_udp_slots_free(struct fe_worker *w)
{
	while (w->free_slots) {
		struct udp_slot *sl = w->free_slots;
		w->free_slots = sl->next;
		free(sl);
	}
	while (w->free_runs) {
		struct udp_run *run = w->free_runs;
		w->free_runs = run->next;
		free(run);
	}
}

/* Hands the socket's open run to the kernel. */
static void run_submit(struct fe_udp *s)
{
	struct udp_run *run = s->open;
	s->open = NULL;
	run->msg = (struct msghdr){ .msg_name = &run->dst, .msg_namelen = run->dstlen,
				    .msg_iov = run->iov, .msg_iovlen = run->n };
	if (run->n > 1) {
		run->msg.msg_control = run->ctl.buf;
		run->msg.msg_controllen = sizeof(run->ctl.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&run->msg);
		c->cmsg_level = SOL_UDP;
		c->cmsg_type = UDP_SEGMENT;
		c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
		memcpy(CMSG_DATA(c), &run->seg, sizeof(uint16_t));
		s->w->st.udp_tx_gso++;
	}
	struct io_uring_sqe *sqe = fe_sqe(s->w);
	io_uring_prep_sendmsg(sqe, s->fd, &run->msg, 0);
	io_uring_sqe_set_data64(sqe, ud_make(OP_UDP_SEND, run));
	s->refs++;
	s->w->inflight++;
}

/* The end-of-turn hook: every run still open leaves with the turn's submit. */
void fe_udp_flush(struct fe_worker *w, void *arg)
{
	(void)arg;
	while (w->open_udps) {
		struct fe_udp *s = w->open_udps;
		w->open_udps = s->open_next;
		s->open_listed = false;
		if (s->open)
			run_submit(s);
	}
}

static bool run_takes(const struct fe_udp *s, const struct udp_run *run,
		      const struct sockaddr *dst, socklen_t dstlen, size_t len)
{
	return !run->ended && run->n < RUN_MAX && len <= run->seg &&
	       run->bytes + len <= GSO_BYTES_MAX && dstlen == run->dstlen &&
	       !memcmp(dst, &run->dst, dstlen) && !s->no_gso;
}

static struct udp_run *run_open(struct fe_udp *s, const struct sockaddr *dst,
				socklen_t dstlen, size_t len)
{
	struct udp_run *run = run_get(s->w);
	if (!run)
		return NULL;
	run->sock = s;
	memcpy(&run->dst, dst, dstlen);
	run->dstlen = dstlen;
	run->seg = (uint16_t)len;
	/* Too big to segment: it goes alone. */
	run->ended = len > gso_seg_max(s->family);
	s->open = run;
	if (!s->open_listed) {
		s->open_next = s->w->open_udps;
		s->w->open_udps = s;
		s->open_listed = true;
	}
	return run;
}

static int queue(struct fe_udp *s, const struct sockaddr *dst, socklen_t dstlen,
		 const void *data, size_t len)
{
	struct fe_worker *w = s->w;
	if (s->open && !run_takes(s, s->open, dst, dstlen, len))
		run_submit(s);
	struct udp_run *run = s->open;
	struct udp_slot *sl = slot_get(w, len);
	if (!run && sl)
		run = run_open(s, dst, dstlen, len);
	if (!sl || !run) {
		if (sl)
			slot_put(w, sl);
		w->st.udp_tx_drop++;
		return -ENOBUFS;
	}
	memcpy(sl->data, data, len);
	run->slot[run->n] = sl;
	run->iov[run->n++] = (struct iovec){ .iov_base = sl->data, .iov_len = len };
	run->bytes += len;
	if (len < run->seg)
		run->ended = true;          /* only the last may be shorter */
	if (run->ended || run->n == RUN_MAX)
		run_submit(s);
	return 0;
}

int fe_udp_send(struct fe_udp *s, const struct sockaddr *dst, socklen_t dstlen,
		const void *data, size_t len)
{
	if (len > UDP_MAX || dstlen > sizeof(struct sockaddr_storage))
		return -EMSGSIZE;
	if (s->closing)
		return -EBADF;
	return queue(s, dst, dstlen, data, len);
}

/* A path that refuses segmentation (a smaller MTU, no checksum offload):
 * the socket stops using GSO and this run goes again one by one. */
static bool resend_singly(struct fe_udp *s, struct udp_run *run, int err)
{
	if (run->n < 2 || s->closing ||
	    (err != -EINVAL && err != -EIO && err != -EMSGSIZE))
		return false;
	if (!s->no_gso)
		flog(LOG_LVL_INFO, "%s: worker %u: UDP segmentation refused (%s); "
		     "sending datagrams one by one", __func__, s->w->index, strerror(-err));
	s->no_gso = true;
	for (unsigned i = 0; i < run->n; i++)
		queue(s, (const struct sockaddr *)&run->dst, run->dstlen,
		      run->iov[i].iov_base, run->iov[i].iov_len);
	return true;
}

void fe_udp_on_sent(struct fe_worker *w, const struct io_uring_cqe *cqe)
{
	struct udp_run *run = ud_ptr(cqe->user_data);
	struct fe_udp *s = run->sock;
	w->inflight--;
	if (cqe->res >= 0) {
		w->st.udp_tx += run->n;
	} else if (!resend_singly(s, run, cqe->res)) {
		w->st.udp_tx_err += run->n;
		flog(LOG_LVL_DEBUG, "%s: worker %u: sendmsg: %s", __func__, w->index,
		     strerror(-cqe->res));
	}
	run_put(w, run);
	udp_unref(s);
}

/* ---- open, join, close ----------------------------------------------------- */

struct fe_udp *fe_udp_open(struct fe_worker *w, const struct fe_udp_opts *o,
			   fe_udp_cb *cb, void *arg, int *err)
{
	int family = o->bind.ss_family;
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct fe_udp *s = calloc(1, sizeof(*s));
	int r = (fd < 0) ? -errno : (!s ? -ENOMEM : 0);
	if (r == 0)
		r = configure(fd, o);
	if (r == 0 && o->reuseport)
		r = fe_claim_bind(w, fd, SOCK_DGRAM, &o->bind, &s->claim);
	else if (r == 0 && bind(fd, (const struct sockaddr *)&o->bind, fb_family_len(family)) < 0)
		r = -errno;
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		free(s);
		*err = r;
		return NULL;
	}
	s->w = w;
	s->fd = fd;
	s->family = family;
	s->cb = cb;
	s->arg = arg;
	s->refs = 1;
	/* The control data follows the name in each buffer: a name length that
	 * is a multiple of 8 keeps the cmsghdrs aligned (sockaddr_in6 is 28). */
	s->rx_msg.msg_namelen = (fb_family_len(family) + 7) & ~(socklen_t)7;
	/* Only when every provided buffer holds a whole aggregate. */
	int one = 1;
	s->gro = w->eng->opts.udp_buffer_size >= FE_UDP_GRO_MAX &&
		 setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0;
	s->rx_msg.msg_controllen = CMSG_BYTES;
	list_add(&w->udps, &s->node);
	udp_arm(s);
	*err = 0;
	return s;
}

/* One membership change: any-source or source-specific, join or leave. */
static int mcast_change(struct fe_udp *s, const struct sockaddr *group,
			unsigned ifindex, const struct sockaddr *source, bool join)
{
	int level = group->sa_family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP;
	socklen_t len = fb_family_len(group->sa_family);
	int r;
	if (source) {
		struct group_source_req g = { .gsr_interface = ifindex };
		memcpy(&g.gsr_group, group, len);
		memcpy(&g.gsr_source, source, len);
		r = setsockopt(s->fd, level, join ? MCAST_JOIN_SOURCE_GROUP
						  : MCAST_LEAVE_SOURCE_GROUP, &g, sizeof(g));
	} else {
		struct group_req g = { .gr_interface = ifindex };
		memcpy(&g.gr_group, group, len);
		r = setsockopt(s->fd, level, join ? MCAST_JOIN_GROUP : MCAST_LEAVE_GROUP,
			       &g, sizeof(g));
	}
	return r < 0 ? -errno : 0;
}

int fe_udp_join(struct fe_udp *s, const struct sockaddr *group,
		unsigned ifindex, const struct sockaddr *source)
{
	return mcast_change(s, group, ifindex, source, true);
}

int fe_udp_leave(struct fe_udp *s, const struct sockaddr *group, unsigned ifindex,
		 const struct sockaddr *source)
{
	return mcast_change(s, group, ifindex, source, false);
}

int fe_udp_local(const struct fe_udp *s, struct sockaddr_storage *out)
{
	return fe_fd_local(s->fd, out);
}

void fe_udp_close(struct fe_udp *s)
{
	if (!s || s->closing)
		return;
	if (s->open)
		run_submit(s);          /* what was queued still leaves */
	s->closing = true;
	list_del(&s->node);
	if (s->recv_armed)
		fe_cancel(s->w, OP_UDP_RECV, s);
	udp_unref(s);
}

void fe_udp_close_all(struct fe_worker *w)
{
	while (w->udps.next != &w->udps)
		fe_udp_close(container_of(w->udps.next, struct fe_udp, node));
}
