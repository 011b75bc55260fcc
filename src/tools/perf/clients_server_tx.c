/* clients_server_tx.c — what the simulated server sends: ANNOUNCE, FILEINFO,
 * DONE, repairs and confirmations, with the UID lists they carry. */
#include <string.h>

#include "clients.h"

void perf_cl_trig_clear(struct ctx *c)
{
	for (size_t i = 0; i < c->ntrig; i++)
		free(c->trig[i].p);
	c->ntrig = 0;
}

static void trig_keep(struct ctx *c, const uint8_t *buf, size_t len)
{
	if (c->ntrig == c->captrig) {
		size_t cap = c->captrig ? c->captrig * 2 : 8;
		struct dgram *v = realloc(c->trig, cap * sizeof(*v));
		if (!v)
			return;
		c->trig = v;
		c->captrig = cap;
	}
	uint8_t *p = malloc(len);
	if (!p)
		return;
	memcpy(p, buf, len);
	c->trig[c->ntrig++] = (struct dgram){ len, p };
}

void perf_cl_server_send_raw(struct ctx *c, const uint8_t *buf, size_t len)
{
	if (sendto(c->server_fd, buf, len, 0, (const struct sockaddr *)&c->o.proxy,
		   perf_addr_len(&c->o.proxy)) == (ssize_t)len)
		c->server_sent++;
}

void perf_cl_server_send(struct ctx *c, struct uftp_msg *m, bool keep, bool deliver)
{
	uint8_t buf[MAXDGRAM];
	m->hdr = (struct uftp_hdr){ .version = UFTP_VERSION, .func = m->hdr.func,
				    .seq = c->seq++, .src_id = c->o.server_uid,
				    .group_id = c->o.group_id,
				    .grtt = uftp_grtt_quantize(c->o.grtt),
				    .gsize = uftp_gsize_quantize((unsigned)c->o.clients) };
	long len = uftp_encode(buf, sizeof(buf), m);
	if (len < 0) {
		fprintf(stderr, "ferry-perf: cannot encode %s: %s\n",
			uftp_func_name(m->hdr.func), uftp_strerror((enum uftp_err)-len));
		return;
	}
	if (c->kx && m->hdr.func == UFTP_ANNOUNCE)
		perf_cl_kx_sign_announce(c, buf, (size_t)len);
	perf_cl_server_send_raw(c, buf, (size_t)len);
	if (keep)
		trig_keep(c, buf, (size_t)len);
	if (deliver && !c->o.client_mode)
		perf_cl_clients_deliver(c, buf, (size_t)len, perf_now_ns());
}

/* Sends m (header filled in here) to the proxy; in response mode the
 * clients hear it at the same moment. keep: resend it as keepalive. */
static void server_send(struct ctx *c, struct uftp_msg *m, bool keep)
{
	perf_cl_server_send(c, m, keep, true);
}

/* The UIDs a request lists: clients i with want(i), blocksize/4 a message. */

bool perf_cl_want_all(const struct ctx *c, size_t i)
{
	(void)c;
	(void)i;
	return true;
}

bool perf_cl_want_naks(const struct ctx *c, size_t i)
{
	return c->flags[i] & CL_NAKS;
}

static void send_listed(struct ctx *c, struct uftp_msg *m, struct uftp_uids *list,
			want_fn *want, bool keep)
{
	size_t max = list_max(c), n = 0;
	uint32_t *ids = malloc(max * sizeof(*ids));
	if (!ids)
		return;
	*list = (struct uftp_uids){ .host = ids };
	for (size_t i = 0; i < c->o.clients; i++) {
		if (!want(c, i))
			continue;
		ids[n++] = uid_of(c, i);
		if (n == max) {
			list->count = n;
			server_send(c, m, keep);
			n = 0;
		}
	}
	if (n) {
		list->count = n;
		server_send(c, m, keep);
	}
	free(ids);
}

void perf_cl_send_announce(struct ctx *c)
{
	struct uftp_msg m;
	memset(&m, 0, sizeof(m));
	m.hdr.func = UFTP_ANNOUNCE;
	struct uftp_announce *a = &m.u.announce;
	a->robust = (uint8_t)c->o.robust;
	a->cc_type = UFTP_CC_NONE;
	a->blocksize = (uint16_t)c->o.blocksize;
	a->ts_sec = c->ts_sec;
	a->ts_usec = c->ts_usec;
	a->pub_addr = (struct fb_bview){ (const uint8_t *)&c->o.pub, 4 };
	a->priv_addr = (struct fb_bview){ (const uint8_t *)&c->o.priv, 4 };
	if (c->kx)
		perf_cl_kx_enc_info(c, a);
	if (c->o.closed)
		send_listed(c, &m, &a->uids, perf_cl_want_all, true);
	else
		server_send(c, &m, true);
}

void perf_cl_send_fileinfo(struct ctx *c)
{
	static const char name[] = "ferry-perf.bin";
	struct uftp_msg m;
	memset(&m, 0, sizeof(m));
	m.hdr.func = UFTP_FILEINFO;
	struct uftp_fileinfo *f = &m.u.fileinfo;
	f->file_id = FILE_ID;
	f->ftype = UFTP_FTYPE_REG;
	f->size = (uint64_t)c->o.blocks * c->o.blocksize;
	f->ftstamp = c->ts_sec;
	f->ts_sec = c->ts_sec;
	f->ts_usec = c->ts_usec;
	f->name = (struct fb_bview){ (const uint8_t *)name, sizeof(name) - 1 };
	send_listed(c, &m, &f->uids, perf_cl_want_all, true);
}

void perf_cl_send_done(struct ctx *c, want_fn *want)
{
	struct uftp_msg m;
	memset(&m, 0, sizeof(m));
	m.hdr.func = UFTP_DONE;
	m.u.done.file_id = FILE_ID;
	m.u.done.section = 0;
	send_listed(c, &m, &m.u.done.uids, want, true);
}

/* Some of the blocks the NAKs asked for, before the final DONE: clients
 * take any FILESEG as their repair, and resending them all (up to 8192
 * blocks of up to 8800 bytes) would flood the path this tool measures. */
void perf_cl_send_repairs(struct ctx *c)
{
	uint8_t *data = calloc(1, c->o.blocksize);
	if (!data)
		return;
	unsigned sent = 0;
	for (unsigned b = 0; b < c->o.blocks && sent < REPAIRS; b++) {
		if (!(c->nak_expected[b / 8] & (0x80u >> (b % 8))))
			continue;
		struct uftp_msg m;
		memset(&m, 0, sizeof(m));
		m.hdr.func = UFTP_FILESEG;
		m.u.fileseg = (struct uftp_fileseg){ .file_id = FILE_ID, .sec_block = (uint16_t)b,
			.data = { data, c->o.blocksize } };
		server_send(c, &m, false);
		sent++;
	}
	free(data);
}

void perf_cl_send_confirm(struct ctx *c, uint8_t func)
{
	struct uftp_msg m;
	memset(&m, 0, sizeof(m));
	m.hdr.func = func;
	send_listed(c, &m, func == UFTP_REG_CONF ? &m.u.reg_conf.uids
						 : &m.u.done_conf.uids,
		    perf_cl_want_all, false);
}

/* A REG_CONF (or DONE_CONF) naming exactly these UIDs, blocksize/4 a
 * message; the clients do not hear it (an encrypted session's REG_CONF is
 * for the proxy). */
void perf_cl_send_uids(struct ctx *c, uint8_t func, const uint32_t *uids, size_t n)
{
	size_t max = list_max(c);
	for (size_t off = 0; off < n; off += max) {
		struct uftp_msg m;
		memset(&m, 0, sizeof(m));
		m.hdr.func = func;
		struct uftp_uids *l = func == UFTP_REG_CONF ? &m.u.reg_conf.uids
							  : &m.u.done_conf.uids;
		*l = (struct uftp_uids){ .host = uids + off,
					 .count = n - off < max ? n - off : max };
		perf_cl_server_send(c, &m, false, false);
	}
}
