/* transfer.c — ferry-ftp's transfers: get, put and listings, each over a
 * fresh data connection, with the reply that ends it checked. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ferry_ftp.h"

static int finish_transfer(struct client *c, int data_ok)
{
	int r = ftpc_reply(&c->conn);
	if (r < 0)
		return ftpc_cli_fail(EX_PROTO, "connection lost");
	if (r == 425 || r == 426 || !data_ok)
		return ftpc_cli_fail(EX_DATA, "data connection failed: %s", REPLY(c));
	if (r / 100 != 2)
		return ftpc_cli_fail(EX_REMOTE, "%s", REPLY(c));
	return EX_OK;
}

/* Starts a transfer command on a fresh data connection (after REST rest,
 * when not 0); returns the fd. */
static int begin(struct client *c, int *code, const char *verb, const char *arg, uint64_t rest)
{
	int dfd = ftpc_open_data(&c->conn, c->mode, c->form);
	if (dfd == FTPC_DE_LOST) {
		*code = ftpc_cli_fail(EX_PROTO, "connection lost");
		return -1;
	}
	if (dfd < 0) {
		*code = ftpc_cli_fail(EX_DATA, "no data connection (%s): %s: %s",
			     ftpc_data_mode_name(c->mode), ftpc_data_strerror(dfd), REPLY(c));
		return -1;
	}
	int r = rest ? cmd(c, "REST %llu", (unsigned long long)rest) : 350;
	if (r != 350) {
		close(dfd);
		*code = r < 0 ? ftpc_cli_fail(EX_PROTO, "connection lost")
			      : ftpc_cli_fail(EX_REMOTE, "%s: cannot resume: %s", arg, REPLY(c));
		return -1;
	}
	r = cmd(c, "%s %s", verb, arg);
	if (r != 150 && r != 125) {
		close(dfd);
		*code = r < 0 ? ftpc_cli_fail(EX_PROTO, "connection lost")
			      : ftpc_cli_fail(r == 425 || r == 426 ? EX_DATA : EX_REMOTE, "%s: %s", arg,
				     REPLY(c));
		return -1;
	}
	return dfd;
}

/* -c: how much of the file is there already (a local file, or the remote
 * one by SIZE); 0 when nothing or when it cannot be told. */
static uint64_t local_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
}

static uint64_t remote_size(struct client *c, const char *path)
{
	return cmd(c, "SIZE %s", path) == 213 ? strtoull(REPLY(c) + 4, NULL, 10) : 0;
}

int ftpc_cli_get(struct client *c, const char *remote, const char *local)
{
	uint64_t size = remote_size(c, remote), from = c->resume ? local_size(local) : 0;
	if (from && from == size) {
		c->files++;      /* complete already: nothing to fetch */
		return EX_OK;
	}
	if (from > size && size)
		from = 0;        /* not a part of this file: fetch it whole */
	int code;
	int dfd = begin(c, &code, "RETR", remote, from);
	if (dfd < 0)
		return code;
	int out = open(local, O_WRONLY | O_CREAT | O_CLOEXEC | (from ? O_APPEND : O_TRUNC), 0644);
	if (out < 0) {
		close(dfd);
		cmd(c, "ABOR");
		return ftpc_cli_fail(EX_LOCAL, "%s: %s", local, strerror(errno));
	}
	struct progress p = { .name = remote, .total = size, .start = ftpc_cli_now(),
			      .on = c->progress, .done = from, .from = from };
	char buf[1 << 16];
	ssize_t n;
	bool ok = true;
	while ((n = recv(dfd, buf, sizeof(buf), 0)) > 0) {
		if (write(out, buf, (size_t)n) != n) {
			close(out);
			close(dfd);
			return ftpc_cli_fail(EX_LOCAL, "%s: %s", local, strerror(errno));
		}
		p.done += (uint64_t)n;
		ftpc_cli_progress_draw(&p, false);
	}
	if (n < 0)
		ok = false;
	ftpc_cli_progress_draw(&p, true);
	close(dfd);
	c->bytes += p.done - from;
	if (close(out) < 0)
		return ftpc_cli_fail(EX_LOCAL, "%s: %s", local, strerror(errno));
	int r = finish_transfer(c, ok);
	c->files += r == EX_OK;
	return r;
}

int ftpc_cli_put(struct client *c, const char *local, const char *remote)
{
	int in = open(local, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (in < 0 || fstat(in, &st) < 0)
		return ftpc_cli_fail(EX_LOCAL, "%s: %s", local, strerror(errno));
	uint64_t from = c->resume ? remote_size(c, remote) : 0;
	if (from && from == (uint64_t)st.st_size) {
		close(in);
		c->files++;      /* there already */
		return EX_OK;
	}
	if (from > (uint64_t)st.st_size || (from && lseek(in, (off_t)from, SEEK_SET) < 0))
		from = 0;        /* not a part of this file: send it whole */
	int code;
	int dfd = begin(c, &code, from ? "APPE" : "STOR", remote, 0);
	if (dfd < 0) {
		close(in);
		return code;
	}
	struct progress p = { .name = local, .total = (uint64_t)st.st_size,
			      .start = ftpc_cli_now(), .on = c->progress, .done = from,
			      .from = from };
	char buf[1 << 16];
	ssize_t n;
	bool ok = true;
	while (ok && (n = read(in, buf, sizeof(buf))) > 0) {
		for (ssize_t o = 0; o < n;) {
			ssize_t w = send(dfd, buf + o, (size_t)(n - o), MSG_NOSIGNAL);
			if (w <= 0) {
				ok = false;
				break;
			}
			o += w;
		}
		p.done += (uint64_t)n;
		ftpc_cli_progress_draw(&p, false);
	}
	ftpc_cli_progress_draw(&p, true);
	close(in);
	close(dfd);
	c->bytes += p.done - from;
	int r = finish_transfer(c, ok);
	c->files += r == EX_OK;
	return r;
}

/* Reads a whole listing (MLSD or LIST) into a malloc'd string. */
int ftpc_cli_listing(struct client *c, const char *verb, const char *dir, char **out)
{
	int code;
	int dfd = begin(c, &code, verb, dir, 0);
	if (dfd < 0)
		return code;
	size_t len = 0, cap = 4096;
	char *s = malloc(cap);
	ssize_t n;
	while (s && (n = recv(dfd, s + len, cap - len - 1, 0)) > 0) {
		len += (size_t)n;
		if (cap - len < 1024) {
			char *t = realloc(s, cap *= 2);
			if (!t) {
				free(s);
				s = NULL;
			}
			s = t;
		}
	}
	close(dfd);
	if (!s)
		return ftpc_cli_fail(EX_LOCAL, "out of memory");
	s[len] = '\0';
	code = finish_transfer(c, 1);
	if (code)
		free(s);
	else
		*out = s;
	return code;
}

int ftpc_cli_ls(struct client *c, const char *dir)
{
	char *s;
	int r = ftpc_cli_listing(c, "LIST", dir, &s);
	if (r == 0) {
		fputs(s, stdout);
		free(s);
	}
	return r;
}
