/* clients_answer.c — the simulated clients of ferry-perf clients: what each
 * hears from the server, and their answers queued and sent at the
 * configured rate, once per phase. */
#include <errno.h>
#include <string.h>

#include "clients.h"

static int queue_push(struct ctx *c, const struct answer *a)
{
	if (c->qtail == c->qcap) {
		if (c->qhead) {                 /* slide down before growing */
			memmove(c->q, c->q + c->qhead,
				(c->qtail - c->qhead) * sizeof(*c->q));
			c->qtail -= c->qhead;
			c->qhead = 0;
		}
		if (c->qtail == c->qcap) {
			size_t cap = c->qcap ? c->qcap * 2 : 1024;
			struct answer *q = realloc(c->q, cap * sizeof(*q));
			if (!q)
				return -1;
			c->q = q;
			c->qcap = cap;
		}
	}
	c->q[c->qtail++] = *a;
	return 0;
}

/* Client i heard req (at rx_ns): queue its answer, once per phase. */
static void client_hear(struct ctx *c, size_t i, const struct uftp_msg *req,
			uint64_t rx_ns)
{
	struct answer a = { .rx_ns = rx_ns, .client = (uint32_t)i };
	uint8_t *f = &c->flags[i];
	switch (req->hdr.func) {
	case UFTP_ANNOUNCE:
		a.func = UFTP_REGISTER;
		a.ts_sec = req->u.announce.ts_sec;
		a.ts_usec = req->u.announce.ts_usec;
		break;
	case UFTP_FILEINFO:
		a.func = UFTP_FILEINFO_ACK;
		a.file_id = req->u.fileinfo.file_id;
		a.ts_sec = req->u.fileinfo.ts_sec;
		a.ts_usec = req->u.fileinfo.ts_usec;
		break;
	case UFTP_DONE:
		/* As uftpd: NAKs outstanding, a STATUS; otherwise COMPLETE. */
		a.file_id = req->u.done.file_id;
		a.section = req->u.done.section;
		a.func = (*f & CL_NAKS) && !(*f & CL_REPAIRED) ? UFTP_STATUS : UFTP_COMPLETE;
		break;
	default:
		return;
	}
	int p = phase_of_answer(a.func);
	if (*f & CL_ANSWERED(p))
		return;
	*f |= CL_ANSWERED(p);
	if (queue_push(c, &a) == 0)
		c->t[p].queued++;
}

/* A server message as the clients hear it. */
void perf_cl_clients_deliver(struct ctx *c, const uint8_t *buf, size_t len,
			    uint64_t rx_ns)
{
	struct fb_rcur rc;
	struct uftp_msg m;
	fb_rcur_init(&rc, buf, len);
	if (uftp_decode(&rc, &m) != UFTP_OK || m.hdr.group_id != c->o.group_id)
		return;
	if (c->kx && perf_cl_kx_client_rx(c, &m, rx_ns))
		return;
	switch (m.hdr.func) {
	case UFTP_REG_CONF:
		c->reg_confs++;
		return;
	case UFTP_DONE_CONF:
		c->done_confs++;
		return;
	case UFTP_ABORT:
		c->aborts_down++;
		return;
	case UFTP_FILESEG:
		/* The resent blocks: a client takes any as its repair. */
		for (size_t i = 0; i < c->o.clients; i++)
			c->flags[i] |= CL_REPAIRED;
		return;
	}
	const struct uftp_uids *u = uftp_msg_uids(&m);
	if (!u)
		return;
	if (!u->count) {            /* open group, or everyone */
		for (size_t i = 0; i < c->o.clients; i++)
			client_hear(c, i, &m, rx_ns);
		return;
	}
	uint32_t uid;
	size_t i;
	for (size_t k = 0; uftp_uid_next(u, &k, &uid);)
		if (client_of(c, uid, &i))
			client_hear(c, i, &m, rx_ns);
}

static long encode_answer(struct ctx *c, const struct answer *a, uint64_t now,
			  uint8_t *buf, size_t cap)
{
	static const uint8_t zeros[UFTP_RAND_LEN];
	uint8_t naks[1024];
	struct uftp_msg m;
	memset(&m, 0, sizeof(m));
	m.hdr = (struct uftp_hdr){ .version = UFTP_VERSION, .func = a->func,
				   .src_id = uid_of(c, a->client),
				   .group_id = c->o.group_id };
	/* The echoed timestamp grows by the time the client held it. */
	uint64_t held_us = (now - a->rx_ns) / 1000;
	uint64_t us = (uint64_t)a->ts_sec * 1000000 + a->ts_usec + held_us;
	uint32_t sec = (uint32_t)(us / 1000000), usec = (uint32_t)(us % 1000000);
	switch (a->func) {
	case UFTP_REGISTER:
		m.u.reg.ts_sec = sec;
		m.u.reg.ts_usec = usec;
		m.u.reg.rand2 = (struct fb_bview){ zeros, 0 };
		if (c->kx)
			perf_cl_kx_register_fields(c, a->client, &m.u.reg);
		break;
	case UFTP_FILEINFO_ACK:
		m.u.fileinfo_ack = (struct uftp_fileinfo_ack){
			.file_id = a->file_id, .ts_sec = sec, .ts_usec = usec };
		break;
	case UFTP_STATUS:
		memset(naks, 0, c->naklen);
		for (unsigned k = 0; k < c->o.nak_blocks; k++)
			set_bit(naks, nak_block(c, a->client, k));
		m.u.status = (struct uftp_status){ .file_id = a->file_id,
			.section = a->section, .naks = { naks, c->naklen } };
		break;
	case UFTP_COMPLETE:
		m.u.complete = (struct uftp_complete){ .file_id = a->file_id,
						       .status = UFTP_COMP_NORMAL };
		break;
	}
	return uftp_encode(buf, cap, &m);
}

/* Client i sends its REGISTER again (encrypted clients without KEYINFO). */
void perf_cl_clients_resend_register(struct ctx *c, size_t i, uint64_t now)
{
	struct answer a = { .rx_ns = now, .client = (uint32_t)i, .func = UFTP_REGISTER,
			    .ts_sec = c->ts_sec, .ts_usec = c->ts_usec };
	if (queue_push(c, &a) == 0)
		c->t[PH_REGISTER].queued++;
}

/* Sends the answers that are due, within the rate. */
void perf_cl_clients_pump(struct ctx *c, uint64_t now)
{
	uint8_t buf[2048];
	if (c->o.rate > 0) {
		c->tokens += (double)(now - c->last_pump_ns) * 1e-9 * c->o.rate;
		double burst = c->o.rate * 0.005 > 32 ? c->o.rate * 0.005 : 32;
		if (c->tokens > burst)
			c->tokens = burst;
	}
	c->last_pump_ns = now;
	for (size_t n = 0; n < SEND_BURST && c->qhead < c->qtail; n++) {
		const struct answer *a = &c->q[c->qhead];
		if (now < a->rx_ns + c->delay_ns || (c->o.rate > 0 && c->tokens < 1))
			break;
		int p = phase_of_answer(a->func);
		struct tally *t = &c->t[p];
		uint64_t ts = perf_now_ns();
		long len = encode_answer(c, a, ts, buf, sizeof(buf));
		int fd = c->fds[a->client % c->nfds];
		if (len > 0 && sendto(fd, buf, (size_t)len, 0,
				      (const struct sockaddr *)&c->o.proxy,
				      perf_addr_len(&c->o.proxy)) < 0) {
			if (errno == EAGAIN || errno == ENOBUFS)
				break;             /* try again on the next turn */
			t->send_errors++;
		} else if (len <= 0) {
			t->send_errors++;
		} else {
			t->sent++;
			if (!t->sent_ns[a->client])    /* a resend keeps the first */
				t->sent_ns[a->client] = ts;
			if (c->kx && a->func == UFTP_REGISTER)
				perf_cl_kx_after_register(c, fd, a->client);
			if (!t->first_sent_ns)
				t->first_sent_ns = ts;
		}
		c->qhead++;
		if (c->o.rate > 0)
			c->tokens -= 1;
	}
	if (c->qhead == c->qtail)
		c->qhead = c->qtail = 0;
}

/* When the next queued answer may go, in ns (0: now, UINT64_MAX: none). */
uint64_t perf_cl_clients_next(const struct ctx *c, uint64_t now)
{
	if (c->qhead == c->qtail)
		return UINT64_MAX;
	uint64_t due = c->q[c->qhead].rx_ns + c->delay_ns;
	if (c->o.rate > 0 && c->tokens < 1) {
		uint64_t wait = (uint64_t)((1 - c->tokens) / c->o.rate * 1e9);
		if (now + wait > due)
			due = now + wait;
	}
	return due;
}

/* Messages to a client socket: a proxy's ABORT, most likely. */
void perf_cl_client_socket_read(struct ctx *c, int fd)
{
	uint8_t buf[MAXDGRAM];
	ssize_t n;
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		struct uftp_hdr h;
		if (uftp_peek(buf, (size_t)n, &h) == UFTP_OK && h.func == UFTP_ABORT)
			c->aborts_down++;
		else
			c->strays++;
	}
}
