/* data.c — opening passive data connections on a blocking control
 * connection: PASV and EPSV to the port the server names, SPSV to the
 * control port itself, logged in by either form of the draft, inside TLS
 * under PROT P. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "ftpc.h"

/* A second connection to the control connection's own peer, on port (0:
 * the control port). */
static int dial_peer(struct ftpc_conn *c, unsigned port)
{
	struct sockaddr_storage a = c->peer;
	if (port && a.ss_family == AF_INET)
		((struct sockaddr_in *)&a)->sin_port = htons((uint16_t)port);
	else if (port)
		((struct sockaddr_in6 *)&a)->sin6_port = htons((uint16_t)port);
	int fd = socket(a.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	ftpc_set_timeouts(fd, c->timeout);
	if (connect(fd, (struct sockaddr *)&a, c->peerlen) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int passive(struct ftpc_conn *c, bool epsv, struct ftpc_stream *d)
{
	int r = ftpc_cmd(c, epsv ? "EPSV" : "PASV");
	if (r < 0)
		return FTPC_DE_LOST;
	if (r != (epsv ? 229 : 227))
		return FTPC_DE_REFUSED;
	unsigned port;
	if ((epsv ? ftpc_parse_epsv(c->reply, &port) : ftpc_parse_pasv(c->reply, &port)) < 0)
		return FTPC_DE_SYNTAX;
	d->fd = dial_peer(c, port);
	return d->fd < 0 ? FTPC_DE_CONNECT : 0;
}

/* Under PROT P on an explicit-FTPS server, the new connection's TLS comes
 * between its greeting and its login: 220, AUTH TLS, 234, handshake (the
 * CONTRACT of ferryd.json.5). true when the login may start. */
static bool data_auth(struct ftpc_conn *c, struct ftpc_stream *s)
{
	int code;
	while ((code = ftpc_stream_reply(c, s)) == 120)
		;
	if (code != 220 || ftpc_stream_send(c, s, "AUTH TLS\r\n", 10) < 0 ||
	    ftpc_stream_reply(c, s) != 234)
		return false;
	return ftpc_stream_tls(c, s) == 0;
}

/* The new connection's own dialogue; c->reply ends up holding its last
 * reply, which says why when it fails. */
static int data_login(struct ftpc_conn *c, struct ftpc_stream *s, enum ftpc_spsv_form form,
		      const struct ftpc_spsv *cred)
{
	struct ftpc_dlogin d;
	ftpc_dlogin_start(&d, form, cred);
	char cmd[FTPC_IDENT_MAX + 16];
	int n;
	if (c->prot_p && c->implicit && ftpc_stream_tls(c, s) < 0)
		return FTPC_DE_TLS;
	if (c->prot_p && !c->implicit) {
		if (!data_auth(c, s))
			return s->tls ? FTPC_DE_TLS : FTPC_DE_LOGIN;
		/* the greeting was read before AUTH TLS: the login starts now */
		n = ftpc_dlogin_step(&d, 220, "220", cmd, sizeof(cmd));
		if (n <= 0 || ftpc_stream_send(c, s, cmd, (size_t)n) < 0)
			return FTPC_DE_LOGIN;
	}
	while (d.st != FTPC_DL_OPEN) {
		int code = ftpc_stream_reply(c, s);
		if (code < 0)
			return FTPC_DE_LOGIN;
		const char *last = strrchr(c->reply, '\n');
		n = ftpc_dlogin_step(&d, code, last ? last + 1 : c->reply, cmd, sizeof(cmd));
		if (n < 0 || (n > 0 && ftpc_stream_send(c, s, cmd, (size_t)n) < 0))
			return FTPC_DE_LOGIN;
	}
	/* Nothing may follow the 200 before the transfer command is sent. */
	return s->have == s->off ? 0 : FTPC_DE_LOGIN;
}

static int single_port(struct ftpc_conn *c, enum ftpc_spsv_form form, struct ftpc_stream *d)
{
	int r = ftpc_cmd(c, "SPSV");
	if (r < 0)
		return FTPC_DE_LOST;
	if (r != 227)
		return FTPC_DE_REFUSED;
	struct ftpc_spsv cred;
	switch (ftpc_parse_spsv(c->reply, form, &cred)) {
	case FTPC_SPSV_OK:
		break;
	case FTPC_SPSV_OLD_PUREFTPD:
		return FTPC_DE_OLD_SPSV;
	case FTPC_SPSV_BAD:
		return FTPC_DE_SYNTAX;
	}
	d->fd = dial_peer(c, 0);
	if (d->fd < 0)
		return FTPC_DE_CONNECT;
	if ((r = data_login(c, d, form, &cred)) < 0) {
		ftpc_stream_close(d);
		return r;
	}
	return 0;
}

int ftpc_open_data_stream(struct ftpc_conn *c, enum ftpc_data_mode mode,
			  enum ftpc_spsv_form form, struct ftpc_stream *d)
{
	d->fd = -1;
	d->tls = NULL;
	d->have = d->off = 0;
	return mode == FTPC_DATA_SPSV ? single_port(c, form, d)
				      : passive(c, mode == FTPC_DATA_EPSV, d);
}

int ftpc_data_start(struct ftpc_conn *c, struct ftpc_stream *d)
{
	if (!c->prot_p || d->tls)
		return 0;
	return ftpc_stream_tls(c, d) < 0 ? FTPC_DE_TLS : 0;
}

const char *ftpc_data_strerror(int err)
{
	switch (err) {
	case FTPC_DE_LOST: return "control connection lost";
	case FTPC_DE_REFUSED: return "refused by the server";
	case FTPC_DE_SYNTAX: return "the answer holds no port or credentials";
	case FTPC_DE_OLD_SPSV:
		return "the server's SPSV is pure-ftpd's old form (227 <port>), not the "
		       "single-port draft's; use --pasv or --epsv";
	case FTPC_DE_CONNECT: return "cannot connect";
	case FTPC_DE_LOGIN: return "the data connection's login failed";
	case FTPC_DE_TLS: return "the data connection's TLS failed";
	default: return "no data connection";
	}
}

const char *ftpc_data_mode_name(enum ftpc_data_mode mode)
{
	static const char *const names[] = {
		[FTPC_DATA_SPSV] = "SPSV", [FTPC_DATA_PASV] = "PASV", [FTPC_DATA_EPSV] = "EPSV",
	};
	return names[mode];
}
