/* clients_server_rx.c — what the simulated server receives: the proxy's
 * aggregated answers counted per client and phase, ABORTs and strays. */

#include "clients.h"

static void tally_uid(struct ctx *c, struct tally *t, uint32_t uid, uint64_t now)
{
	size_t i;
	if (!client_of(c, uid, &i)) {
		t->unknown++;
		return;
	}
	if (t->count[i]++ == 0) {
		t->recv_ns[i] = now;
		t->distinct++;
		t->last_new_ns = now;
		if (t->distinct == t->expected)
			t->complete_ns = now;
	} else {
		t->dups++;
	}
}

static bool union_complete(const struct ctx *c)
{
	for (size_t i = 0; i < c->o.blocksize; i++)
		if ((c->nak_got[i] & c->nak_expected[i]) != c->nak_expected[i])
			return false;
	return true;
}

static void server_status(struct ctx *c, const struct uftp_status *st, uint64_t now)
{
	struct tally *t = &c->t[PH_STATUS];
	t->msgs++;
	if (st->file_id != FILE_ID || st->section != 0) {
		t->unknown++;
		return;
	}
	size_t n = st->naks.len < c->o.blocksize ? st->naks.len : c->o.blocksize;
	for (size_t i = 0; i < n; i++)
		c->nak_got[i] |= st->naks.p[i];
	t->last_new_ns = now;
	if (!t->complete_ns && union_complete(c))
		t->complete_ns = now;
}

static void server_abort(struct ctx *c, const struct uftp_abort *a)
{
	if (!c->aborts_up++)
		snprintf(c->abort_text, sizeof(c->abort_text), "%.*s",
			 (int)a->text.len, (const char *)a->text.p);
}

static void server_receive(struct ctx *c, const uint8_t *buf, size_t len, uint64_t now)
{
	struct fb_rcur rc;
	struct uftp_msg m;
	fb_rcur_init(&rc, buf, len);
	if (uftp_decode(&rc, &m) != UFTP_OK) {
		c->bad++;
		return;
	}
	if (m.hdr.group_id != c->o.group_id) {
		c->strays++;
		return;
	}
	if (c->probe && m.hdr.func == UFTP_CC_ACK) {
		perf_cl_probe_rx(c, &m, now);
		return;
	}
	if (c->kx && perf_cl_kx_server_rx(c, &m, buf, len))
		return;
	if (m.hdr.func == UFTP_STATUS) {
		server_status(c, &m.u.status, now);
		return;
	}
	if (m.hdr.func == UFTP_ABORT) {
		server_abort(c, &m.u.abort);
		return;
	}
	int p = phase_of_answer(m.hdr.func);
	if (p < 0) {
		c->strays++;
		return;
	}
	struct tally *t = &c->t[p];
	t->msgs++;
	const struct uftp_uids *u = uftp_msg_uids(&m);
	size_t i;
	if (!u->count && client_of(c, m.hdr.src_id, &i)) {
		t->direct++;               /* passed on unaggregated */
		tally_uid(c, t, m.hdr.src_id, now);
		return;
	}
	uint32_t uid;
	for (size_t k = 0; uftp_uid_next(u, &k, &uid);)
		tally_uid(c, t, uid, now);
}

void perf_cl_read_batch(struct ctx *c, int fd, bool server)
{
	static uint8_t bufs[RECV_BATCH][MAXDGRAM];
	struct mmsghdr mm[RECV_BATCH];
	struct iovec iov[RECV_BATCH];
	for (;;) {
		for (int i = 0; i < RECV_BATCH; i++) {
			iov[i] = (struct iovec){ bufs[i], MAXDGRAM };
			mm[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i],
							       .msg_iovlen = 1 } };
		}
		int n = recvmmsg(fd, mm, RECV_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		uint64_t now = perf_now_ns();
		for (int i = 0; i < n; i++) {
			if (server)
				server_receive(c, bufs[i], mm[i].msg_len, now);
			else
				perf_cl_clients_deliver(c, bufs[i], mm[i].msg_len, now);
		}
		if (n < RECV_BATCH)
			return;
	}
}
