/* bridge_ltls.c — a bridge session's TLS toward its local client (only with
 * --local-cert): AUTH TLS/SSL, PBSZ, PROT and CCC answered by the bridge
 * itself, the FEAT lines that announce them, what --local-tls-required
 * refuses, implicit FTPS, the client's control connection through TLS
 * records, and the bound on its handshake. The server's leg is independent
 * (bridge_tls.c). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "ferry/base.h"
#include "bridge.h"
#include "ferry/crypto.h"
#include "ferry_ftp.h"

enum { CHUNK = 16 * 1024 + 64 };

static const char no_tls[] = "502 The bridge does not serve TLS to its clients "
			     "(it was started without --local-cert)";

void ftpc_br_client_tls_free(struct br_session *s)
{
	crypto_tls_free(s->ctls);
	s->ctls = NULL;
}

/* Sends the ciphertext queued: false when the connection broke. */
static bool push(struct br_session *s)
{
	return ftpc_br_tls_push(s->ctls, s->cc.fd);
}

static bool start(struct br_session *s)
{
	s->ctls = crypto_tls_new(s->b->ltls_ctx);
	s->c_hs_since = ftpc_br_now();
	return s->ctls != NULL;
}

/* A handshake is bounded from its start, not by progress: a client that
 * trickles its ClientHello a byte at a time is cut off all the same. */
bool ftpc_br_client_hs_late(struct br_session *s, double now)
{
	if (!s->ctls || crypto_tls_ready(s->ctls) || now - s->c_hs_since < s->b->timeout)
		return false;
	struct sockaddr_storage a;
	char who[80] = "?";
	if (ftpc_br_client_peer(s, &a))
		fb_addr_format((const struct sockaddr *)&a, who, sizeof(who));
	fprintf(stderr, "%s bridge: client %s: TLS handshake on the control connection not "
		"done within %d s (-t): closed\n", FERRY_FTP_PROG, who, s->b->timeout);
	return true;
}

bool ftpc_br_client_implicit(struct br_session *s)
{
	return start(s);
}

/* RFC 4217 AUTH: 234 in clear, then everything inside TLS. Commands are
 * taken one at a time, so nothing but the 234 (and at most a spontaneous
 * server reply before it) waits in cout. */
void ftpc_br_cmd_auth(struct br_session *s, const char *arg)
{
	if (!s->b->ltls_ctx)
		return ftpc_br_reply(s, no_tls);
	if (s->ctls)
		return ftpc_br_reply(s, "503 Already in TLS.");
	if (strcasecmp(arg, "TLS") && strcasecmp(arg, "SSL") && strcasecmp(arg, "TLS-C"))
		return ftpc_br_reply(s, "504 AUTH TLS or AUTH SSL only.");
	if (!start(s))
		return ftpc_br_reply(s, "431 Out of memory for TLS.");
	ftpc_br_reply(s, "234 AUTH %s successful.", strcasecmp(arg, "SSL") ? "TLS" : "SSL");
	s->cout_clear = s->cout_len;
	s->lpbsz = s->lprot_p = false;
	/* what followed the AUTH line is the ClientHello already */
	if (s->cin_len && !crypto_tls_feed(s->ctls, s->cin, s->cin_len))
		ftpc_br_fatal(s, "too much input after AUTH TLS");
	s->cin_len = 0;
}

void ftpc_br_cmd_pbsz(struct br_session *s, const char *arg)
{
	if (!s->b->ltls_ctx)
		return ftpc_br_reply(s, no_tls);
	if (!s->ctls)
		return ftpc_br_reply(s, "503 PBSZ needs AUTH TLS first.");
	(void)arg;              /* any size: records are TLS's, 0 is the answer */
	s->lpbsz = true;
	ftpc_br_reply(s, "200 PBSZ=0");
}

void ftpc_br_cmd_prot(struct br_session *s, const char *arg)
{
	if (!s->b->ltls_ctx)
		return ftpc_br_reply(s, no_tls);
	/* PROT C asks for the default: taken without PBSZ (ftplib's prot_c
	 * sends none); PROT P is not. */
	bool clear = !strcasecmp(arg, "C");
	if (!s->ctls || (!s->lpbsz && !clear))
		return ftpc_br_reply(s, "503 PROT needs AUTH TLS and PBSZ first.");
	if (clear && s->b->lpolicy == BR_LP_DATA)
		return ftpc_br_reply(s, "534 PROT C refused: data connections must be protected.");
	if (clear) {
		s->lprot_p = false;
		return ftpc_br_reply(s, "200 Protection level set to Clear.");
	}
	if (!strcasecmp(arg, "P")) {
		s->lprot_p = true;
		return ftpc_br_reply(s, "200 Protection level set to Private.");
	}
	if (!strcasecmp(arg, "S") || !strcasecmp(arg, "E"))
		return ftpc_br_reply(s, "536 Protection level not supported.");
	ftpc_br_reply(s, "504 PROT C or P.");
}

void ftpc_br_cmd_ccc(struct br_session *s, const char *arg)
{
	(void)arg;
	if (!s->b->ltls_ctx)
		return ftpc_br_reply(s, no_tls);
	if (!s->ctls)
		return ftpc_br_reply(s, "533 Not in TLS.");
	ftpc_br_reply(s, "534 CCC refused: the control connection stays in TLS.");
}

/* Before AUTH TLS under --local-tls-required, only what leads into TLS or
 * out of the session, and what tells about the server (as before a login at
 * ferryd): no USER, no PASS, no data connection. PBSZ, PROT and CCC go on
 * to their own 503/533. */
static bool allowed_in_clear(const char *line)
{
	static const char *const verbs[] = { "AUTH", "PBSZ", "PROT", "CCC", "FEAT", "HELP",
					     "NOOP", "OPTS", "QUIT", "SYST" };
	size_t n = strcspn(line, " ");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strlen(verbs[i]) == n && !strncasecmp(line, verbs[i], n))
			return true;
	return false;
}

bool ftpc_br_ltls_cmd_allowed(struct br_session *s, const char *line)
{
	if (s->b->lpolicy == BR_LP_OPTIONAL || s->ctls || allowed_in_clear(line))
		return true;
	/* These never reach the server, nor its limit of commands before a
	 * login (ferryd's max_login_commands): the bridge keeps its own. */
	if (++s->refused > BR_MAX_REFUSED)
		ftpc_br_fatal(s, "too many commands before AUTH TLS");
	else
		ftpc_br_reply(s, "530 TLS required: send AUTH TLS first.");
	return false;
}

/* ferryd's policy "data" (RFC 4217's 521): a transfer's data in clear is
 * refused before any data connection is used. */
bool ftpc_br_ltls_xfer_allowed(struct br_session *s)
{
	if (s->b->lpolicy < BR_LP_DATA || s->lprot_p)
		return true;
	ftpc_br_reply(s, "521 Data connections must be protected: send PROT P.");
	return false;
}

/* " AUTH TLS", " PBSZ", " PROT", " CCC": the feature's name, then a space or
 * the end. */
static bool tls_feature(const char *line, size_t n)
{
	static const char *const names[] = { "AUTH", "PBSZ", "PROT", "CCC" };
	size_t i = 0;
	while (i < n && line[i] == ' ')
		i++;
	if (!i)
		return false;
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		size_t l = strlen(names[k]);
		if (n - i >= l && !strncasecmp(line + i, names[k], l) &&
		    (n - i == l || line[i + l] == ' '))
			return true;
	}
	return false;
}

static void out(struct br_session *s, const char *p, size_t n)
{
	if (ftpc_br_to_client(s, p, n))
		ftpc_br_to_client(s, "\r\n", 2);
}

void ftpc_br_feat_line(struct br_session *s, const char *line, size_t n)
{
	bool coded = n >= 4 && isdigit((unsigned char)line[0]) &&
		     isdigit((unsigned char)line[1]) && isdigit((unsigned char)line[2]);
	if (coded && line[3] == '-' && !s->feat_open) {
		s->feat_open = true;
		return out(s, line, n);
	}
	if (!(coded && line[3] == ' ')) {        /* a feature line */
		if (!tls_feature(line, n))
			out(s, line, n);
		return;
	}
	/* the last line: the bridge's TLS features go before it */
	if (s->b->ltls_ctx && !strncmp(line, "211", 3)) {
		static const char feats[] = " AUTH TLS\r\n PBSZ\r\n PROT\r\n";
		if (!s->feat_open)
			out(s, "211-Features:", 13);
		ftpc_br_to_client(s, feats, sizeof(feats) - 1);
	}
	s->feat_open = false;
	out(s, line, n);
}

int ftpc_br_client_pull(struct br_session *s)
{
	if (!s->ctls)
		return 0;
	if (!crypto_tls_ready(s->ctls)) {
		int h = crypto_tls_handshake(s->ctls);
		if (!push(s) || h == CRYPTO_TLS_ERROR) {
			if (s->b->verbose)
				fprintf(stderr, "%s bridge: TLS toward the client: %s\n",
					FERRY_FTP_PROG, crypto_tls_why(s->ctls));
			return -1;
		}
		if (h != 1)
			return 0;
		if (s->b->verbose) {
			char d[96];
			fprintf(stderr, "%s bridge: TLS toward the client: %s\n", FERRY_FTP_PROG,
				crypto_tls_desc(s->ctls, d, sizeof(d)));
		}
	}
	while (s->cin_len < sizeof(s->cin)) {
		long r = crypto_tls_read(s->ctls, s->cin + s->cin_len, sizeof(s->cin) - s->cin_len);
		if (!push(s))
			return -1;
		if (r > 0) {
			s->cin_len += (size_t)r;
			continue;
		}
		return r == CRYPTO_TLS_AGAIN ? 0 : -1;   /* close_notify or an error: the end */
	}
	return 0;
}

/* The client's data connections send no session ticket (bridge_ldata.c),
 * but the one it resumed there may be spent (OpenSSL's client cache, so
 * curl's, uses a TLS 1.3 ticket once): the control connection, which the
 * client reads for the transfer's reply anyway, gives it the next one. It
 * goes behind the records already made and before the replies still in
 * cout (ftpc_br_client_tls_flush encrypts those only once it is out); the
 * session's loop sends it after the data connection's event. */
void ftpc_br_client_next_ticket(struct br_session *s)
{
	if (s->ctls && !s->c_bye && crypto_tls_ready(s->ctls))
		(void)crypto_tls_send_ticket(s->ctls);
}

ssize_t ftpc_br_client_tls_read(struct br_session *s)
{
	uint8_t buf[CHUNK];
	ssize_t n = recv(s->cc.fd, buf, sizeof(buf), 0);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? -2 : -1;
	if (n == 0)
		return 0;
	if (!crypto_tls_feed(s->ctls, buf, (size_t)n))
		return -1;
	return ftpc_br_client_pull(s) < 0 ? -1 : n;
}

/* The 234 goes in clear; replies after it wait for the handshake, and are
 * encrypted only when the last ones have left (the client's reading paces
 * the bridge, as in clear). */
bool ftpc_br_client_tls_flush(struct br_session *s)
{
	if (s->cout_clear) {
		ssize_t n = send(s->cc.fd, s->cout, s->cout_clear, MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR;
		memmove(s->cout, s->cout + n, s->cout_len - (size_t)n);
		s->cout_len -= (size_t)n;
		s->cout_clear -= (size_t)n;
		if (s->cout_clear)
			return true;
	}
	if (!push(s))
		return false;
	const uint8_t *p;
	if (!s->cout_len || !crypto_tls_ready(s->ctls) || crypto_tls_out(s->ctls, &p))
		return true;
	if (crypto_tls_write(s->ctls, s->cout, s->cout_len) < 0)
		return false;
	s->cout_len = 0;
	return push(s);
}

bool ftpc_br_client_has_out(const struct br_session *s)
{
	if (!s->ctls)
		return s->cout_len;
	const uint8_t *p;
	return s->cout_clear || crypto_tls_out(s->ctls, &p) ||
	       (s->cout_len && crypto_tls_ready(s->ctls));
}

bool ftpc_br_client_tls_bye(struct br_session *s)
{
	if (!s->ctls || !crypto_tls_ready(s->ctls))
		return true;
	if (!s->c_bye) {
		crypto_tls_shutdown(s->ctls);
		s->c_bye = true;
	}
	const uint8_t *p;
	return !push(s) || !crypto_tls_out(s->ctls, &p);
}
