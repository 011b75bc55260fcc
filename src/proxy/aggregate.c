/* aggregate.c — client answers gathered into one message per kind: the
 * REGISTERs, the FILEINFO_ACKs of a file, the STATUS NAKs of a section
 * (merged bit by bit) and the COMPLETEs of a file and status. protocol.txt
 * 3.2: wait 1 * GRTT after the first, send early when the list is full,
 * list the longest-RTT client first and echo its timestamp. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ferry/log.h"
#include "internal.h"

struct pending {
	struct pending *next;
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
	uint8_t cc_ext[32];           /* STATUS: the slowest client's TFMCC info */
	size_t cc_extlen;
	uint16_t cc_rate;
};

static int64_t wall_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static bool matches(const struct pending *p, const struct pmsg *m)
{
	if (p->func != m->func)
		return false;
	switch (m->func) {
	case M_FILEINFO_ACK:
		return p->file_id == m->u.fack.file_id;
	case M_STATUS:
		return p->file_id == m->u.status.file_id &&
		       p->section == m->u.status.section;
	case M_COMPLETE:
		return p->file_id == m->u.complete.file_id &&
		       p->comp_status == m->u.complete.status;
	default:
		return true;              /* REGISTER matches itself */
	}
}

static size_t max_ids(const struct group *g)
{
	size_t n = g->blocksize / 4;
	return n ? n : 1;
}

static struct pending *pending_new(struct group *g, const struct pmsg *m)
{
	struct pending *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->func = m->func;
	p->partial = true;
	switch (m->func) {
	case M_FILEINFO_ACK:
		p->file_id = m->u.fack.file_id;
		break;
	case M_STATUS:
		p->file_id = m->u.status.file_id;
		p->section = m->u.status.section;
		p->naklen = g->blocksize;
		if (!(p->naks = calloc(1, p->naklen ? p->naklen : 1))) {
			free(p);
			return NULL;
		}
		break;
	case M_COMPLETE:
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

static void pending_free(struct group *g, struct pending *p)
{
	for (size_t i = 0; i < p->nids; i++) {
		struct client *c = uid_map_get(&g->by_uid, p->ids[i]);
		if (c && c->pending == p)
			c->pending = NULL;
	}
	free(p->ids);
	free(p->naks);
	free(p);
}

/* The client whose echoed timestamp is oldest relative to its arrival had
 * the longest round trip. */
static void note_rtt(struct pending *p, const struct tstamp *ts, size_t index)
{
	int64_t now = wall_us();
	int64_t sent = (int64_t)ts->sec * 1000000 + ts->usec;
	int64_t rtt = now - sent;
	if (p->have_rtt && rtt <= p->rtt_us)
		return;
	p->have_rtt = true;
	p->rtt_us = rtt;
	p->rtt_index = index;
	p->ts = *ts;
	p->ts_rx_us = now;
}

/* The echoed timestamp, advanced by the time it waited here. */
struct tstamp aggregate_timestamp(const struct pending *p)
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

static void merge_status(struct pending *p, const struct pmsg *m)
{
	size_t n = m->u.status.naklen < p->naklen ? m->u.status.naklen : p->naklen;
	for (size_t i = 0; i < n; i++)
		p->naks[i] |= m->u.status.naks[i];
	/* The limiting receiver's congestion info travels with the STATUS. */
	if (m->u.status.cc_ext && m->u.status.cc_extlen <= sizeof(p->cc_ext) &&
	    (!p->cc_extlen ||
	     cc_rate_value(m->u.status.cc_rate) < cc_rate_value(p->cc_rate))) {
		memcpy(p->cc_ext, m->u.status.cc_ext, m->u.status.cc_extlen);
		p->cc_extlen = m->u.status.cc_extlen;
		p->cc_rate = m->u.status.cc_rate;
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
	send_aggregate(g, p->func, p, p->ids, p->nids);
	pending_free(g, p);
}

static void on_flush(struct fe_worker *w, void *arg)
{
	struct group *g = arg;
	(void)w;
	g->flush_timer = NULL;
	aggregate_flush_all(g);
}

void aggregate_flush_all(struct group *g)
{
	while (g->pend)
		flush_one(g, g->pend);
}

void aggregate_add(struct group *g, struct client *c, const struct pmsg *m)
{
	struct pending *p = g->pend;
	while (p && !matches(p, m))
		p = p->next;
	if (!p && !(p = pending_new(g, m))) {
		g->in->dropped++;
		return;
	}
	if (m->func == M_COMPLETE && m->u.complete.file_id == 0)
		c->done = true;
	if (m->func == M_STATUS)
		merge_status(p, m);
	if (c->pending != p) {
		if (add_id(p, c->uid) < 0) {
			g->in->dropped++;
			return;
		}
		c->pending = p;
		if (m->func == M_REGISTER)
			note_rtt(p, &m->u.reg.ts, p->nids - 1);
		if (m->func == M_FILEINFO_ACK) {
			note_rtt(p, &m->u.fack.ts, p->nids - 1);
			p->partial = p->partial && (m->u.fack.flags & 0x01);
		}
	}
	/* STATUS carries no list, so only the timer sends it. */
	if (m->func != M_STATUS && p->nids >= max_ids(g)) {
		flush_one(g, p);
	} else if (!g->flush_timer) {
		uint64_t ms = (uint64_t)(g->grtt * 1000.0);
		g->flush_timer = fe_timer_add(g->in->pw->w, ms ? ms : 1, on_flush, g);
	}
}

/* On the group's end: nothing more is sent for it. */
void aggregate_free(struct group *g)
{
	fe_timer_cancel(g->in->pw->w, g->flush_timer);
	g->flush_timer = NULL;
	while (g->pend) {
		struct pending *p = g->pend;
		g->pend = p->next;
		pending_free(g, p);
	}
}

/* Accessors for upstream.c, which builds the messages. */
uint16_t pending_file(const struct pending *p) { return p->file_id; }
uint16_t pending_section(const struct pending *p) { return p->section; }
uint8_t pending_status(const struct pending *p) { return p->comp_status; }
bool pending_partial(const struct pending *p) { return p->partial; }
const uint8_t *pending_naks(const struct pending *p, size_t *len)
{
	*len = p->naklen;
	return p->naks;
}
const uint8_t *pending_cc_ext(const struct pending *p, size_t *len)
{
	*len = p->cc_extlen;
	return p->cc_extlen ? p->cc_ext : NULL;
}
