/* aggregate.c — client answers gathered into one message per kind: the
 * REGISTERs, the FILEINFO_ACKs of a file, the STATUS NAKs of a section
 * (merged bit by bit) and the COMPLETEs of a file and status. protocol.txt
 * 3.2: wait 1 * GRTT after the first, send early when the list is full,
 * list the longest-RTT client first and echo its timestamp. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ferry/base.h"
#include "internal.h"

struct tstamp {
	uint32_t sec, usec;
};

struct pending {
	struct pending *next;
	uint32_t serial;              /* what its clients' in[] hold */
	uint8_t func;
	uint16_t file_id, section;
	uint8_t comp_status;
	bool partial;                 /* FILEINFO_ACK: every client partial */
	uint32_t *ids;
	size_t nids, cap;
	/* the longest round trip so far: its echoed timestamp and arrival */
	bool have_rtt;
	int64_t rtt_us;
	size_t rtt_index;
	struct tstamp ts;
	int64_t ts_rx_us;
	uint8_t *naks;                /* STATUS: OR of every client's bitmap */
	size_t naklen;
	bool has_cc;                  /* STATUS: the slowest client's TFMCC info */
	struct uftp_tfmcc_ack cc;
};

static int64_t wall_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static bool matches(const struct pending *p, const struct uftp_msg *m)
{
	if (p->func != m->hdr.func)
		return false;
	switch (m->hdr.func) {
	case UFTP_FILEINFO_ACK:
		return p->file_id == m->u.fileinfo_ack.file_id;
	case UFTP_STATUS:
		return p->file_id == m->u.status.file_id &&
		       p->section == m->u.status.section;
	case UFTP_COMPLETE:
		return p->file_id == m->u.complete.file_id &&
		       p->comp_status == m->u.complete.status;
	default:
		return true;              /* REGISTER matches itself */
	}
}

static unsigned kind_of(uint8_t func)
{
	switch (func) {
	case UFTP_REGISTER: return AGG_REGISTER;
	case UFTP_FILEINFO_ACK: return AGG_FILEINFO_ACK;
	case UFTP_STATUS: return AGG_STATUS;
	default: return AGG_COMPLETE;
	}
}

static size_t max_ids(const struct group *g)
{
	size_t n = g->blocksize / 4;
	return n ? n : 1;
}

static struct pending *pending_new(struct group *g, const struct uftp_msg *m)
{
	struct pending *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->func = m->hdr.func;
	p->partial = true;
	if (++g->pend_serial == 0)     /* 0 means "in none" */
		++g->pend_serial;
	p->serial = g->pend_serial;
	switch (m->hdr.func) {
	case UFTP_FILEINFO_ACK:
		p->file_id = m->u.fileinfo_ack.file_id;
		break;
	case UFTP_STATUS:
		p->file_id = m->u.status.file_id;
		p->section = m->u.status.section;
		p->naklen = g->blocksize;
		if (!(p->naks = calloc(1, p->naklen ? p->naklen : 1))) {
			free(p);
			return NULL;
		}
		break;
	case UFTP_COMPLETE:
		p->file_id = m->u.complete.file_id;
		p->comp_status = m->u.complete.status;
		break;
	}
	p->next = g->pend;
	g->pend = p;
	return p;
}

static void pending_unlink(struct group *g, struct pending *p)
{
	for (struct pending **pp = &g->pend; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			return;
		}
}

static void pending_free(struct pending *p)
{
	free(p->ids);
	free(p->naks);
	free(p);
}

/* The client whose echoed timestamp is oldest relative to its arrival had
 * the longest round trip. */
static void note_rtt(struct pending *p, uint32_t sec, uint32_t usec, size_t index)
{
	int64_t now = wall_us();
	int64_t sent = (int64_t)sec * 1000000 + usec;
	int64_t rtt = now - sent;
	if (p->have_rtt && rtt <= p->rtt_us)
		return;
	p->have_rtt = true;
	p->rtt_us = rtt;
	p->rtt_index = index;
	p->ts = (struct tstamp){ sec, usec };
	p->ts_rx_us = now;
}

/* The echoed timestamp, advanced by the time it waited here. */
static struct tstamp aged_timestamp(const struct pending *p)
{
	int64_t waited = wall_us() - p->ts_rx_us;
	int64_t us = (int64_t)p->ts.sec * 1000000 + p->ts.usec + (waited > 0 ? waited : 0);
	return (struct tstamp){ (uint32_t)(us / 1000000), (uint32_t)(us % 1000000) };
}

static int add_id(struct pending *p, uint32_t uid)
{
	if (p->nids == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 8;
		uint32_t *v = realloc(p->ids, cap * sizeof(*v));
		if (!v)
			return -1;
		p->ids = v;
		p->cap = cap;
	}
	p->ids[p->nids++] = uid;
	return 0;
}

static void merge_status(struct pending *p, const struct uftp_status *st)
{
	size_t n = st->naks.len < p->naklen ? st->naks.len : p->naklen;
	for (size_t i = 0; i < n; i++)
		p->naks[i] |= st->naks.p[i];
	/* The limiting receiver's congestion info travels with the STATUS. */
	const struct uftp_tfmcc_ack *cc = &st->ext.tfmcc_ack;
	if (UFTP_HAS_EXT(&st->ext, UFTP_EXT_TFMCC_ACK_INFO) &&
	    (!p->has_cc ||
	     uftp_rate_unquantize(cc->cc_rate) < uftp_rate_unquantize(p->cc.cc_rate))) {
		p->cc = *cc;
		p->has_cc = true;
	}
}

/* The body of the message an aggregate becomes. */
void proxy_aggregate_message(const struct pending *p, struct uftp_msg *m,
		       const uint32_t **ids, size_t *nids)
{
	struct tstamp ts = aged_timestamp(p);
	memset(m, 0, sizeof(*m));
	m->hdr.func = p->func;
	*ids = p->ids;
	*nids = p->nids;
	switch (p->func) {
	case UFTP_REGISTER:
		m->u.reg.ts_sec = ts.sec;     /* no key info in the clear */
		m->u.reg.ts_usec = ts.usec;
		break;
	case UFTP_FILEINFO_ACK:
		m->u.fileinfo_ack = (struct uftp_fileinfo_ack){
			.file_id = p->file_id, .ts_sec = ts.sec, .ts_usec = ts.usec,
			.flags = p->partial ? UFTP_F_PARTIAL : 0 };
		break;
	case UFTP_STATUS:
		m->u.status.file_id = p->file_id;
		m->u.status.section = p->section;
		m->u.status.naks = (struct fb_bview){ p->naks, p->naklen };
		if (p->has_cc) {
			m->u.status.ext.present = 1u << UFTP_EXT_TFMCC_ACK_INFO;
			m->u.status.ext.tfmcc_ack = p->cc;
		}
		*nids = 0;
		break;
	case UFTP_COMPLETE:
		m->u.complete.file_id = p->file_id;
		m->u.complete.status = p->comp_status;
		break;
	}
}

static void flush_one(struct group *g, struct pending *p)
{
	pending_unlink(g, p);
	if (p->have_rtt && p->rtt_index && p->rtt_index < p->nids) {
		uint32_t first = p->ids[0];        /* longest RTT goes first */
		p->ids[0] = p->ids[p->rtt_index];
		p->ids[p->rtt_index] = first;
	}
	struct uftp_msg m;
	const uint32_t *ids;
	size_t n;
	proxy_aggregate_message(p, &m, &ids, &n);
	proxy_send_up(g, &m, ids, n);
	g->in->aggregates++;
	pending_free(p);
}

static void on_flush(struct fe_worker *w, void *arg)
{
	struct group *g = arg;
	(void)w;
	g->flush_timer = NULL;
	proxy_aggregate_flush_all(g);
}

void proxy_aggregate_flush_all(struct group *g)
{
	while (g->pend)
		flush_one(g, g->pend);
}

/* p sent before its timer: with nothing left waiting, the next aggregate
 * gets its own GRTT (as uftp restarts its timer on the first pending
 * client), not what is left of this one's. */
static void flush_early(struct group *g, struct pending *p)
{
	flush_one(g, p);
	if (!g->pend) {
		fe_timer_cancel(g->in->pw->w, g->flush_timer);
		g->flush_timer = NULL;
	}
}

static struct pending *pending_of(const struct group *g, uint8_t func)
{
	struct pending *p = g->pend;
	while (p && p->func != func)
		p = p->next;
	return p;
}

void proxy_aggregate_flush_func(struct group *g, uint8_t func)
{
	struct pending *p = pending_of(g, func);
	if (p)
		flush_early(g, p);
}

bool proxy_aggregate_holds(const struct group *g, const struct client *c, uint8_t func)
{
	const struct pending *p = pending_of(g, func);
	return p && c->in[kind_of(func)] == p->serial;
}

void proxy_aggregate_add(struct group *g, struct client *c, const struct uftp_msg *m)
{
	struct pending *p = g->pend;
	while (p && !matches(p, m))
		p = p->next;
	if (!p && !(p = pending_new(g, m))) {
		proxy_drop(g->in, PROXY_DROP_RESOURCES);
		return;
	}
	uint8_t func = m->hdr.func;
	if (func == UFTP_STATUS)
		merge_status(p, &m->u.status);
	unsigned kind = kind_of(func);
	if (c->in[kind] != p->serial) {
		if (add_id(p, c->uid) < 0) {
			proxy_drop(g->in, PROXY_DROP_RESOURCES);
			return;
		}
		c->in[kind] = p->serial;
		if (func == UFTP_REGISTER)
			note_rtt(p, m->u.reg.ts_sec, m->u.reg.ts_usec, p->nids - 1);
		if (func == UFTP_FILEINFO_ACK) {
			const struct uftp_fileinfo_ack *a = &m->u.fileinfo_ack;
			note_rtt(p, a->ts_sec, a->ts_usec, p->nids - 1);
			p->partial = p->partial && (a->flags & UFTP_F_PARTIAL);
		}
	}
	/* STATUS carries no list, so only the timer sends it. */
	if (func != UFTP_STATUS && p->nids >= max_ids(g))
		flush_early(g, p);
	else if (!g->flush_timer) {
		uint64_t ms = (uint64_t)(g->grtt * 1000.0);
		g->flush_timer = fe_timer_add(g->in->pw->w, ms ? ms : 1, on_flush, g);
	}
}

/* On the group's end: nothing more is sent for it. */
void proxy_aggregate_free(struct group *g)
{
	fe_timer_cancel(g->in->pw->w, g->flush_timer);
	g->flush_timer = NULL;
	while (g->pend) {
		struct pending *p = g->pend;
		g->pend = p->next;
		pending_free(p);
	}
}
