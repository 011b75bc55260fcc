/* bridge_reply.c — the server's replies on a bridge session: each whole
 * reply is forwarded to the client, kept for the bridge (its own SPSV),
 * held (a transfer's final reply, until the data is through) or dropped,
 * by what the oldest outstanding command was. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "bridge.h"

static int code_of(const char *line)
{
	if (!isdigit((unsigned char)line[0]) || !isdigit((unsigned char)line[1]) ||
	    !isdigit((unsigned char)line[2]))
		return -1;
	return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

static enum br_disp disposition(struct br_session *s, int code)
{
	if (s->pre == BR_P_GREET)
		return BR_D_GREET;       /* held until the set-up is done */
	if (s->pre != BR_P_DONE)
		return BR_D_KEEP;        /* FEAT and AUTH TLS: the bridge's own */
	if (!s->qn)
		return BR_D_FORWARD;     /* a greeting, or a 421 on its own */
	switch (s->q[0]) {
	case BR_Q_RELAY: return BR_D_FORWARD;
	case BR_Q_SPSV: return BR_D_KEEP;
	case BR_Q_DROP: return BR_D_DROP;
	case BR_Q_XFER: return code < 200 ? BR_D_FORWARD : BR_D_HOLD;
	case BR_Q_FEAT: return BR_D_FEAT;
	}
	return BR_D_DROP;
}

static void cat(char *buf, size_t *len, size_t cap, const char *p, size_t n)
{
	if (n > cap - 1 - *len)
		n = cap - 1 - *len;         /* a reply this long is cut, not fatal */
	memcpy(buf + *len, p, n);
	*len += n;
	buf[*len] = '\0';
}

static void deliver(struct br_session *s, const char *line, size_t n)
{
	switch (s->disp) {
	case BR_D_FORWARD:
		if (ftpc_br_to_client(s, line, n))
			ftpc_br_to_client(s, "\r\n", 2);
		break;
	case BR_D_KEEP:
		if (s->kept_len)
			cat(s->kept, &s->kept_len, sizeof(s->kept), "\n", 1);
		cat(s->kept, &s->kept_len, sizeof(s->kept), line, n);
		break;
	case BR_D_HOLD:
		cat(s->held, &s->held_len, sizeof(s->held) - 2, line, n);
		cat(s->held, &s->held_len, sizeof(s->held), "\r\n", 2);
		break;
	case BR_D_GREET:
		cat(s->greet, &s->greet_len, sizeof(s->greet) - 2, line, n);
		cat(s->greet, &s->greet_len, sizeof(s->greet), "\r\n", 2);
		break;
	case BR_D_FEAT:
		ftpc_br_feat_line(s, line, n);
		break;
	case BR_D_DROP:
		break;
	}
}

/* A whole reply has been read: preliminary ones (1xx) answer nothing yet. */
static void reply_done(struct br_session *s, int code)
{
	if (code >= 200 && s->pre != BR_P_DONE)
		return ftpc_br_pre_reply(s, code);
	if (code < 200 || !s->qn)
		return;
	enum br_expect what = s->q[0];
	memmove(s->q, s->q + 1, (size_t)(s->qn - 1) * sizeof(s->q[0]));
	s->qn--;
	if (what == BR_Q_RELAY && (code == 230 || code == 220))
		s->logged_in = code == 230;     /* 220: REIN, logged out again */
	if (what == BR_Q_SPSV)
		ftpc_br_spsv_reply(s, code);
	else if (what == BR_Q_XFER)
		ftpc_br_xfer_final(s, code);
}

void ftpc_br_server_lines(struct br_session *s)
{
	while (!s->dead && s->sin_len) {
		if (sizeof(s->cout) - s->cout_len < FTPC_LINE_MAX + 8)
			return;      /* the client is slow: stop here, reading stops too */
		char *nl = memchr(s->sin, '\n', s->sin_len);
		if (!nl && s->sin_len < sizeof(s->sin) && s->sc.fd >= 0)
			return;
		size_t take = nl ? (size_t)(nl - s->sin) + 1 : s->sin_len;
		char line[FTPC_LINE_MAX];
		size_t n = take - (nl ? 1 : 0);
		if (n && s->sin[n - 1] == '\r')
			n--;
		if (n > sizeof(line) - 1)
			n = sizeof(line) - 1;
		memcpy(line, s->sin, n);
		line[n] = '\0';
		memmove(s->sin, s->sin + take, s->sin_len - take);
		s->sin_len -= take;
		bool first = s->rr.multi == 0;
		int code = ftpc_reply_line(&s->rr, line);
		if (code < 0) {
			ftpc_br_fatal(s, "the server sent a line that is no FTP reply");
			return;
		}
		if (first) {
			int c = code_of(line);
			s->disp = disposition(s, c);
			if (s->disp == BR_D_KEEP)
				s->kept_len = 0;
			if (s->disp == BR_D_HOLD) {
				s->held_len = 0;
				s->held_code = c;
			}
		}
		deliver(s, line, n);
		if (code > 0)
			reply_done(s, code);
	}
}
