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
 * when not 0): EX_OK with *d open, or the exit code (reported). */
static int begin(struct client *c, struct ftpc_stream *d, const char *verb, const char *arg,
		 uint64_t rest)
{
	int e = ftpc_open_data_stream(&c->conn, c->mode, c->form, d);
	if (e == FTPC_DE_LOST)
		return ftpc_cli_fail(EX_PROTO, "connection lost");
	if (e < 0)
		return ftpc_cli_fail(e == FTPC_DE_TLS ? EX_TLS : EX_DATA,
				     "no data connection (%s): %s: %s",
				     ftpc_data_mode_name(c->mode), ftpc_data_strerror(e), REPLY(c));
	int r = rest ? cmd(c, "REST %llu", (unsigned long long)rest) : 350;
	if (r != 350) {
		ftpc_stream_close(d);
		return r < 0 ? ftpc_cli_fail(EX_PROTO, "connection lost")
			     : ftpc_cli_fail(EX_REMOTE, "%s: cannot resume: %s", arg, REPLY(c));
	}
	r = cmd(c, "%s %s", verb, arg);
	if (r != 150 && r != 125) {
		ftpc_stream_close(d);
		return r < 0 ? ftpc_cli_fail(EX_PROTO, "connection lost")
			     : ftpc_cli_fail(r == 425 || r == 426 ? EX_DATA : EX_REMOTE, "%s: %s", arg,
					     REPLY(c));
	}
	if (ftpc_data_start(&c->conn, d) < 0) {
		char why[256];
		snprintf(why, sizeof(why), "%.200s", REPLY(c));
		ftpc_stream_close(d);
		(void)ftpc_reply(&c->conn);     /* the server's 425/426 for it */
		return ftpc_cli_fail(EX_TLS, "%s: data connection: %s", arg, why);
	}
	return EX_OK;
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
	struct ftpc_stream d;
	int code = begin(c, &d, "RETR", remote, from);
	if (code != EX_OK)
		return code;
	int out = open(local, O_WRONLY | O_CREAT | O_CLOEXEC | (from ? O_APPEND : O_TRUNC), 0644);
	if (out < 0) {
		ftpc_stream_close(&d);
		cmd(c, "ABOR");
		return ftpc_cli_fail(EX_LOCAL, "%s: %s", local, strerror(errno));
	}
	struct progress p = { .name = remote, .total = size, .start = ftpc_cli_now(),
			      .on = c->progress, .done = from, .from = from };
	char buf[1 << 16];
	long n;
	bool ok = true;
	while ((n = ftpc_stream_recv(&d, buf, sizeof(buf))) > 0) {
		if (write(out, buf, (size_t)n) != n) {
			close(out);
			ftpc_stream_close(&d);
			return ftpc_cli_fail(EX_LOCAL, "%s: %s", local, strerror(errno));
		}
		p.done += (uint64_t)n;
		ftpc_cli_progress_draw(&p, false);
	}
	if (n < 0)
		ok = false;
	ftpc_cli_progress_draw(&p, true);
	ftpc_stream_close(&d);
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
	struct ftpc_stream d;
	int code = begin(c, &d, from ? "APPE" : "STOR", remote, 0);
	if (code != EX_OK) {
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
		ok = ftpc_stream_write(&d, buf, (size_t)n) == 0;
		p.done += (uint64_t)n;
		ftpc_cli_progress_draw(&p, false);
	}
	ftpc_cli_progress_draw(&p, true);
	close(in);
	if (!ok)
		ftpc_cli_fail(0, "%s: sending the data failed: %s", local, strerror(errno));
	if (ok && ftpc_stream_finish(&d) < 0) {
		ok = false;
		ftpc_cli_fail(0, "%s: the data connection did not end cleanly: %s", local,
			      strerror(errno));
	}
	if (!ok)
		ftpc_stream_close(&d);
	c->bytes += p.done - from;
	int r = finish_transfer(c, ok);
	c->files += r == EX_OK;
	return r;
}

/* Reads a whole listing (MLSD or LIST) into a malloc'd string. */
int ftpc_cli_listing(struct client *c, const char *verb, const char *dir, char **out)
{
	struct ftpc_stream d;
	int code = begin(c, &d, verb, dir, 0);
	if (code != EX_OK)
		return code;
	size_t len = 0, cap = 4096;
	char *s = malloc(cap);
	long n;
	while (s && (n = ftpc_stream_recv(&d, s + len, cap - len - 1)) > 0) {
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
	ftpc_stream_close(&d);
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
