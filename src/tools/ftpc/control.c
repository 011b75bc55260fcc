/* control.c — a blocking FTP control connection: connecting, sending
 * commands, reading whole replies (on it or on an SPSV data connection
 * still logging in) and logging in. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "ferry/base.h"
#include "ftpc.h"

void ftpc_set_timeouts(int fd, int seconds)
{
	struct timeval tv = { .tv_sec = seconds };
	/* Failing leaves the default (wait for ever): worse, not wrong. */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

enum { DIAL_MAX = 16 };   /* addresses of one name tried in turn */

static int dial(const char *host, const char *port, struct sockaddr_storage *peer,
		socklen_t *peerlen, int timeout)
{
	struct sockaddr_storage a[DIAL_MAX];
	uint16_t p;
	int n = fb_port_parse(port, false, &p) < 0 ? -1
		: fb_addr_resolve_all(host, p, AF_UNSPEC, a, DIAL_MAX);
	for (int i = 0; i < n; i++) {
		socklen_t len = fb_addr_len((const struct sockaddr *)&a[i]);
		int fd = socket(a[i].ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		ftpc_set_timeouts(fd, timeout);
		if (connect(fd, (const struct sockaddr *)&a[i], len) == 0) {
			*peer = a[i];
			*peerlen = len;
			return fd;
		}
		close(fd);
	}
	return -1;
}

/* One line without CR LF (cut at FTPC_LINE_MAX); false at EOF or error. */
static bool read_line(struct ftpc_stream *s, char *out)
{
	size_t o = 0;
	for (;;) {
		if (s->off == s->have) {
			long n = ftpc_stream_recv(s, s->buf, sizeof(s->buf));
			if (n <= 0)
				return false;
			s->have = (size_t)n;
			s->off = 0;
		}
		char ch = s->buf[s->off++];
		if (ch == '\n')
			break;
		if (ch != '\r' && o + 1 < FTPC_LINE_MAX)
			out[o++] = ch;
	}
	out[o] = '\0';
	return true;
}

/* -v prints replies; an SPSV reply's one-time DATACONN password is a
 * credential and is shown masked, like PASS. */
static void print_reply(const char *reply)
{
	char shown[FTPC_REPLY_MAX];
	snprintf(shown, sizeof(shown), "%s", reply);
	char *p = strstr(shown, "DATACONN:");
	for (p = p ? p + sizeof("DATACONN:") - 1 : NULL; p && *p && *p != ')'; p++)
		*p = '*';
	fprintf(stderr, "< %s\n", shown);
}

int ftpc_stream_reply(struct ftpc_conn *c, struct ftpc_stream *s)
{
	struct ftpc_reply_reader r = { 0 };
	char line[FTPC_LINE_MAX];
	size_t len = 0;
	int code;
	c->reply[0] = '\0';
	do {
		if (!read_line(s, line))
			return -1;
		code = ftpc_reply_line(&r, line);
		if (code < 0)
			return -1;       /* not FTP: treat as a lost connection */
		int n = snprintf(c->reply + len, sizeof(c->reply) - len, "%s%s",
				 len ? "\n" : "", line);
		if (n > 0)
			len = len + (size_t)n < sizeof(c->reply) ? len + (size_t)n
								 : sizeof(c->reply) - 1;
	} while (!code);
	if (c->verbose)
		print_reply(c->reply);
	return code;
}

int ftpc_reply(struct ftpc_conn *c)
{
	return ftpc_stream_reply(c, &c->ctl);
}

int ftpc_stream_send(struct ftpc_conn *c, struct ftpc_stream *s, const char *line,
		     size_t len)
{
	if (c->verbose) {
		bool secret = len >= 5 && !strncmp(line, "PASS ", 5);
		fprintf(stderr, "> %.*s\n", secret ? 9 : (int)(len - 2),
			secret ? "PASS ****" : line);
	}
	return ftpc_stream_write(s, line, len);
}

static int vsend(struct ftpc_conn *c, const char *fmt, va_list ap)
{
	char line[4096];
	int n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2 || memchr(line, '\n', (size_t)n) ||
	    memchr(line, '\r', (size_t)n))
		return -1;   /* too long, or it would smuggle a second command */
	memcpy(line + n, "\r\n", 2);
	return ftpc_stream_send(c, &c->ctl, line, (size_t)n + 2);
}

int ftpc_send(struct ftpc_conn *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vsend(c, fmt, ap);
	va_end(ap);
	return r;
}

int ftpc_cmd(struct ftpc_conn *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vsend(c, fmt, ap);
	va_end(ap);
	return r < 0 ? -1 : ftpc_reply(c);
}

int ftpc_dial(struct ftpc_conn *c, const char *host, const char *port, int timeout,
	      bool verbose)
{
	memset(c, 0, sizeof(*c));
	c->timeout = timeout;
	c->verbose = verbose;
	c->peerlen = sizeof(c->peer);
	c->ctl.fd = dial(host, port, &c->peer, &c->peerlen, timeout);
	return c->ctl.fd < 0 ? -1 : 0;
}

int ftpc_connect(struct ftpc_conn *c, const char *host, const char *port, int timeout,
		 bool verbose)
{
	if (ftpc_dial(c, host, port, timeout, verbose) < 0)
		return -1;
	int r;
	while ((r = ftpc_reply(c)) == 120)
		;                /* "service ready in nnn minutes" */
	return r;
}

void ftpc_close(struct ftpc_conn *c)
{
	ftpc_stream_close(&c->ctl);
}

int ftpc_login(struct ftpc_conn *c, const char *user, const char *pass)
{
	int r = ftpc_cmd(c, "USER %s", user);
	if (r == 331)
		r = ftpc_cmd(c, "PASS %s", pass);
	return r;
}
