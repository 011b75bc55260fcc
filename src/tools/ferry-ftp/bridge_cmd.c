/* bridge_cmd.c — the client's commands on a bridge session, dispatched by a
 * table: the data-connection verbs are answered by the bridge itself,
 * transfer verbs start an SPSV data connection, everything else goes to the
 * server as it is. */
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bridge.h"
#include "ferry/base.h"
#include "ferry_ftp.h"

/* Telnet commands in the control stream (IAC IP, IAC DM before ABOR) are
 * not part of any command; IAC IAC is a data byte 255. */
static size_t strip_telnet(char *p, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];
		if (ch == 255 && i + 1 < n) {
			if ((unsigned char)p[++i] == 255)
				p[o++] = (char)255;
			continue;
		}
		if (ch != '\r' && ch != '\n')
			p[o++] = (char)ch;
	}
	p[o] = '\0';
	return o;
}

static void relay(struct br_session *s, const char *line)
{
	size_t n = strlen(line);
	if (ftpc_br_to_server(s, line, n) && ftpc_br_to_server(s, "\r\n", 2))
		ftpc_br_expect(s, BR_Q_RELAY);
}

/* An address with v4-mapped addresses as IPv4, for the PASV reply. */
static void plain(const struct sockaddr_storage *a, struct sockaddr_storage *out)
{
	*out = *a;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)a;
	if (a->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)out;
		uint16_t port = s6->sin6_port;
		memset(out, 0, sizeof(*out));
		s4->sin_family = AF_INET;
		s4->sin_port = port;
		memcpy(&s4->sin_addr, &s6->sin6_addr.s6_addr[12], 4);
	}
}

bool ftpc_br_client_peer(struct br_session *s, struct sockaddr_storage *a)
{
	*a = s->cpeer;
	return s->cpeer.ss_family != AF_UNSPEC;
}

bool ftpc_br_client_me(struct br_session *s, struct sockaddr_storage *me)
{
	socklen_t l = sizeof(s->cme);
	if (s->cme.ss_family == AF_UNSPEC &&
	    getsockname(s->cc.fd, (struct sockaddr *)&s->cme, &l) < 0) {
		s->cme.ss_family = AF_UNSPEC;    /* still unknown */
		return false;
	}
	*me = s->cme;
	return true;
}

/* Server replies still owed to the client (the bridge's own SPSV is not). */
static bool replies_owed(const struct br_session *s)
{
	for (int i = 0; i < s->qn; i++)
		if (s->q[i] == BR_Q_RELAY || s->q[i] == BR_Q_XFER)
			return true;
	return false;
}

static void cmd_pasv(struct br_session *s, const char *arg)
{
	(void)arg;
	struct sockaddr_storage me, p;
	unsigned port;
	if (!ftpc_br_client_me(s, &me))
		return ftpc_br_reply(s, "425 Cannot open a passive port");
	plain(&me, &p);
	if (p.ss_family != AF_INET)
		return ftpc_br_reply(s, "425 PASV is for IPv4; use EPSV");
	if (ftpc_br_listen(s, &port) < 0)
		return ftpc_br_reply(s, "425 Cannot open a passive port");
	const unsigned char *ip = (const unsigned char *)&((struct sockaddr_in *)&p)->sin_addr;
	ftpc_br_reply(s, "227 Entering Passive Mode (%u,%u,%u,%u,%u,%u)", ip[0], ip[1], ip[2],
		      ip[3], port >> 8, port & 255);
	ftpc_br_preopen(s);
}

static void cmd_epsv(struct br_session *s, const char *arg)
{
	unsigned port;
	if (!strcasecmp(arg, "ALL"))
		return ftpc_br_reply(s, "200 EPSV ALL accepted");
	if (ftpc_br_listen(s, &port) < 0)
		return ftpc_br_reply(s, "425 Cannot open a passive port");
	ftpc_br_reply(s, "229 Entering Extended Passive Mode (|||%u|)", port);
	ftpc_br_preopen(s);
}

/* PORT and EPRT may name only the client's own address: the bridge is no
 * bounce relay (RFC 2577). */
static void set_port(struct br_session *s, struct sockaddr_storage *to, socklen_t len)
{
	struct sockaddr_storage peer;
	if (!ftpc_br_client_peer(s, &peer) || !fb_addr_same_host(&peer, to))
		return ftpc_br_reply(s, "504 The data address must be your own");
	ftpc_br_listener_close(s);
	ftpc_br_ep_close(&s->cd, false);
	s->port_to = *to;
	s->port_len = len;
	s->dmode = BR_DM_PORT;
	ftpc_br_reply(s, "200 PORT command successful");
	ftpc_br_preopen(s);
}

static void cmd_port(struct br_session *s, const char *arg)
{
	unsigned v[6];
	char end;
	if (sscanf(arg, "%u,%u,%u,%u,%u,%u%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &end) !=
	    6)
		return ftpc_br_reply(s, "501 Syntax: PORT h1,h2,h3,h4,p1,p2");
	for (int i = 0; i < 6; i++)
		if (v[i] > 255)
			return ftpc_br_reply(s, "501 Syntax: PORT h1,h2,h3,h4,p1,p2");
	struct sockaddr_storage to = { 0 };
	struct sockaddr_in *a = (struct sockaddr_in *)&to;
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)(v[4] << 8 | v[5]));
	unsigned char *ip = (unsigned char *)&a->sin_addr;
	for (int i = 0; i < 4; i++)
		ip[i] = (unsigned char)v[i];
	set_port(s, &to, sizeof(*a));
}

static void cmd_eprt(struct br_session *s, const char *arg)
{
	char d = arg[0], buf[128];
	if (!d || strlen(arg) >= sizeof(buf))
		return ftpc_br_reply(s, "501 Syntax: EPRT |af|address|port|");
	snprintf(buf, sizeof(buf), "%s", arg + 1);
	char *af = buf, *addr = strchr(af, d), *port = addr ? strchr(addr + 1, d) : NULL;
	char *end = port ? strchr(port + 1, d) : NULL;
	if (!end)
		return ftpc_br_reply(s, "501 Syntax: EPRT |af|address|port|");
	*addr++ = *port++ = *end = '\0';
	int family = !strcmp(af, "1") ? AF_INET : !strcmp(af, "2") ? AF_INET6 : AF_UNSPEC;
	if (family == AF_UNSPEC)
		return ftpc_br_reply(s, "522 Network protocol not supported, use (1,2)");
	uint16_t pn;
	if (fb_port_parse(port, false, &pn) < 0)
		return ftpc_br_reply(s, "501 Bad port in EPRT");
	struct sockaddr_storage to;
	if (fb_addr_parse(addr, pn, &to) < 0 || to.ss_family != family)
		return ftpc_br_reply(s, "501 Bad address in EPRT");
	set_port(s, &to, fb_addr_len((struct sockaddr *)&to));
}

static void transfer(struct br_session *s, bool up, const char *line)
{
	if (!ftpc_br_ltls_xfer_allowed(s))     /* 521 first, as ferryd */
		return;
	if (s->dmode == BR_DM_NONE)
		return ftpc_br_reply(s, "425 Use PASV, EPSV, PORT or EPRT first");
	ftpc_br_xfer_start(s, up, line);
}

static void cmd_down(struct br_session *s, const char *line) { transfer(s, false, line); }
static void cmd_up(struct br_session *s, const char *line) { transfer(s, true, line); }

static void cmd_refuse(struct br_session *s, const char *arg)
{
	(void)arg;
	ftpc_br_reply(s, "502 Not carried by the bridge; use PASV, EPSV, PORT or EPRT");
}

/* FEAT's reply lists the TLS features the bridge serves, not the server's
 * (AUTH, PBSZ, PROT and CCC never reach the server: bridge_ltls.c). */
static void cmd_feat(struct br_session *s, const char *line)
{
	size_t n = strlen(line);
	if (ftpc_br_to_server(s, line, n) && ftpc_br_to_server(s, "\r\n", 2))
		ftpc_br_expect(s, BR_Q_FEAT);
}

static void cmd_relay(struct br_session *s, const char *line) { relay(s, line); }

/* SIZE and REST come right before a transfer (a client's progress bar, a
 * resume): the data connection is pre-opened behind them already. */
static void cmd_before_xfer(struct br_session *s, const char *line)
{
	relay(s, line);
	ftpc_br_preopen(s);
}

static void cmd_abor(struct br_session *s, const char *line)
{
	if (ftpc_br_xfer_busy(s))
		ftpc_br_abort(s);
	else
		relay(s, line);
}

/* Handlers take the argument, or (whole) the line as the client sent it. */
static const struct verb {
	const char *verb;
	void (*fn)(struct br_session *s, const char *arg_or_line);
	bool whole;
	/* Ends the server's login, and with it the SPSV credentials: waits
	 * while a pre-opened data connection logs in, else its login would
	 * meet a revoked token and count as a failed login at the server. */
	bool ends_login;
} verbs[] = {
	{ .verb = "PASV", .fn = cmd_pasv },
	{ .verb = "EPSV", .fn = cmd_epsv },
	{ .verb = "PORT", .fn = cmd_port },
	{ .verb = "EPRT", .fn = cmd_eprt },
	{ .verb = "LPSV", .fn = cmd_refuse },
	{ .verb = "LPRT", .fn = cmd_refuse },
	{ .verb = "SPSV", .fn = cmd_refuse },
	{ .verb = "AUTH", .fn = ftpc_br_cmd_auth },
	{ .verb = "PBSZ", .fn = ftpc_br_cmd_pbsz },
	{ .verb = "PROT", .fn = ftpc_br_cmd_prot },
	{ .verb = "CCC", .fn = ftpc_br_cmd_ccc },
	{ .verb = "FEAT", .fn = cmd_feat, .whole = true },
	{ .verb = "RETR", .fn = cmd_down, .whole = true },
	{ .verb = "LIST", .fn = cmd_down, .whole = true },
	{ .verb = "NLST", .fn = cmd_down, .whole = true },
	{ .verb = "MLSD", .fn = cmd_down, .whole = true },
	{ .verb = "STOR", .fn = cmd_up, .whole = true },
	{ .verb = "STOU", .fn = cmd_up, .whole = true },
	{ .verb = "APPE", .fn = cmd_up, .whole = true },
	{ .verb = "ABOR", .fn = cmd_abor, .whole = true },
	{ .verb = "SIZE", .fn = cmd_before_xfer, .whole = true },
	{ .verb = "REST", .fn = cmd_before_xfer, .whole = true },
	{ .verb = "QUIT", .fn = cmd_relay, .whole = true, .ends_login = true },
	{ .verb = "REIN", .fn = cmd_relay, .whole = true, .ends_login = true },
	{ .verb = "USER", .fn = cmd_relay, .whole = true, .ends_login = true },
};

static const struct verb *find(const char *line, const char **arg)
{
	size_t n = strcspn(line, " ");
	*arg = line[n] ? line + n + 1 : line + n;
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strlen(verbs[i].verb) == n && !strncasecmp(line, verbs[i].verb, n))
			return &verbs[i];
	return NULL;
}

static void dispatch(struct br_session *s, const char *line)
{
	const char *arg;
	const struct verb *v = find(line, &arg);
	if (s->b->verbose)
		fprintf(stderr, "%s bridge: > %s\n", FERRY_FTP_PROG,
			strncasecmp(line, "PASS ", 5) ? line : "PASS ****");
	if (!line[0] || !ftpc_br_ltls_cmd_allowed(s, line))
		return;
	if (v)
		v->fn(s, v->whole ? line : arg);
	else
		relay(s, line);
}

void ftpc_br_client_lines(struct br_session *s)
{
	while (!s->dead && !s->closing && s->sc.fd >= 0 && !s->sc.connecting &&
	       s->pre == BR_P_DONE) {
		/* Room for what a command may answer or send, before taking it. */
		if (sizeof(s->cout) - s->cout_len < 2048 || sizeof(s->sout) - s->sout_len < 2048)
			return;
		char *nl = memchr(s->cin, '\n', s->cin_len);
		size_t n = nl ? (size_t)(nl - s->cin) + 1 : s->cin_len;
		if (!nl && s->cin_len < sizeof(s->cin))
			return;
		char line[BR_CTL_IN + 1];
		memcpy(line, s->cin, n);
		strip_telnet(line, n);
		bool idle = !ftpc_br_xfer_busy(s) && !replies_owed(s);
		const char *arg;
		const struct verb *v = find(line, &arg);
		bool abor = v && v->fn == cmd_abor && ftpc_br_xfer_busy(s) && !s->aborted;
		if (!idle && !abor)
			return;      /* one command at a time; ABOR may interrupt */
		if (v && v->ends_login && (s->xs == BR_X_SPSV || s->xs == BR_X_DLOGIN))
			return;      /* after the pre-open's login (or its failure) */
		memmove(s->cin, s->cin + n, s->cin_len - n);
		s->cin_len -= n;
		if (!nl) {
			ftpc_br_reply(s, "500 Command line too long");
			continue;
		}
		dispatch(s, line);
	}
}
