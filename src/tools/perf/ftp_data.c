/* ftp_data.c — a ferry-perf ftp client's data connection: the SPSV login on
 * it, then the file's bytes counted in (RETR) or sent (STOR). */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>

#include "ftp_client.h"

/* SPSV: the data connection's own login (either form of the draft). */
void perf_ftp_on_data_reply(struct ftp_client *c, int code, const char *line)
{
	char cmd[FTPC_IDENT_MAX + 16];
	int n = ftpc_dlogin_step(&c->dl, code, line, cmd, sizeof(cmd));
	if (n < 0) {
		perf_ftp_fail(c, ERR_DATA, "SPSV data login: '%s'", line);
		return;
	}
	if (n > 0 && send(c->dat, cmd, (size_t)n, MSG_NOSIGNAL) != n) {
		perf_ftp_fail(c, ERR_DATA, "SPSV data login: send failed");
		return;
	}
	if (c->dl.st == FTPC_DL_OPEN) {
		c->dst = D_OPEN;
		perf_ftp_send_transfer_cmd(c);
	}
}

static void data_login_input(struct ftp_client *c)
{
	while (c->dst != D_OPEN) {
		ssize_t n = recv(c->dat, c->din + c->dinlen, sizeof(c->din) - 1 - c->dinlen, 0);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			perf_ftp_fail(c, ERR_DATA, "SPSV data connection closed during its login");
			return;
		}
		c->dinlen += (size_t)n;
		if (!perf_ftp_take_lines(c, true))
			return;
		if (c->dst != D_OPEN && c->dinlen == sizeof(c->din) - 1) {
			perf_ftp_fail(c, ERR_DATA, "SPSV data login: reply too long");
			return;
		}
	}
	/* Bytes after "200 DATA" already belong to the file. */
	c->moved += c->dinlen;
	add(&c->t->bytes, c->dinlen);
	c->dinlen = 0;
}

static void retr_input(struct ftp_client *c)
{
	static char sink[IO_CHUNK];
	for (;;) {
		/* MSG_TRUNC: TCP discards the bytes instead of copying them; the
		 * client counts them. The server's costs are what is measured. */
		ssize_t n = recv(c->dat, sink, sizeof(sink), MSG_TRUNC);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			perf_ftp_fail(c, ERR_DATA, "RETR data: %s", strerror(errno));
			return;
		}
		if (n == 0) {
			perf_ftp_close_fd(c, true);
			c->data_done = true;
			perf_ftp_transfer_check(c);
			return;
		}
		c->moved += (uint64_t)n;
		add(&c->t->bytes, (uint64_t)n);
	}
}

void perf_ftp_stor_output(struct ftp_client *c)
{
	static char pattern[IO_CHUNK];
	uint64_t size = opts(c)->size;
	while (c->moved < size) {
		size_t want = size - c->moved < sizeof(pattern) ? (size_t)(size - c->moved)
								 : sizeof(pattern);
		ssize_t n = send(c->dat, pattern, want, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			perf_ftp_fail(c, ERR_DATA, "STOR data: %s", strerror(errno));
			return;
		}
		c->moved += (uint64_t)n;
		add(&c->t->bytes, (uint64_t)n);
	}
	if (c->moved == size) {
		perf_ftp_close_fd(c, true);   /* end of file for the server */
		c->data_done = true;
		perf_ftp_transfer_check(c);
	}
}

void perf_ftp_on_data_event(struct ftp_client *c, uint32_t ev)
{
	if (c->dst == D_CONNECTING) {
		if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		int err = perf_ftp_sock_error(c->dat);
		if (err) {
			perf_ftp_fail(c, ERR_DATA, "data connect: %s", strerror(err));
			return;
		}
		c->dst = opts(c)->data == DATA_SPSV ? D_LOGIN : D_OPEN;
		if (c->dst == D_LOGIN)
			ftpc_dlogin_start(&c->dl, opts(c)->spsv_form, &c->cred);
	}
	if (c->dst != D_OPEN) {
		data_login_input(c);
		if (c->dst != D_OPEN || c->st == C_DONE || c->st == C_BACKOFF)
			return;
	}
	/* A transfer that moves is not stuck, however long it takes. */
	perf_ftp_set_deadline(c, (uint64_t)(opts(c)->timeout * 1000));
	if (opts(c)->mode == MODE_RETR)
		retr_input(c);
	else if (c->got_150)      /* STOR: write once the server said go */
		perf_ftp_stor_output(c);
	else if (ev & (EPOLLERR | EPOLLHUP | EPOLLRDHUP))
		perf_ftp_fail(c, ERR_DATA, "STOR data connection closed by the server");
}

