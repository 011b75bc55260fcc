/* commands.c — the verb table (verb, what it needs, handler) and the verbs
 * that only touch session settings: NOOP SYST HELP FEAT OPTS TYPE MODE STRU
 * REST ALLO CLNT. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ferry/base.h"
#include "ftp_internal.h"

static void cmd_noop(struct ftp_session *s, char *arg)
{
	(void)arg;
	ftp_session_reply(s, 200, "NOOP ok.");
}

static void cmd_syst(struct ftp_session *s, char *arg)
{
	(void)arg;
	ftp_session_reply(s, 215, "UNIX Type: L8");
}

static void cmd_help(struct ftp_session *s, char *arg)
{
	(void)arg;
	struct fb_buf b = { 0 };
	fb_buf_printf(&b, "The following commands are recognized:\n");
	ftp_cmd_help_list(&b);
	fb_buf_printf(&b, "Help OK.");
	ftp_session_reply(s, 214, "%s", b.failed ? "Help OK." : b.p);
	fb_buf_free(&b);
}

/* Exactly what works: each line names a verb or option implemented here. */
static void cmd_feat(struct ftp_session *s, char *arg)
{
	(void)arg;
	struct fb_buf b = { 0 };
	fb_buf_printf(&b, "Features:\n%sAVBL\nEPRT\nEPSV\n",
		   s->srv->tls_on ? "AUTH TLS\nAUTH SSL\nPBSZ\nPROT\n" : "");
	ftp_hash_feat(s, &b);
	fb_buf_printf(&b, "MDTM\nMFMT\nMLST type*;size*;modify*;perm*;unix.mode*;\nPASV\n"
		   "REST STREAM\nSIZE\nSPSV\nTVFS\nUTF8\nEnd");
	ftp_session_reply(s, 211, "%s", b.failed ? "End" : b.p);
	fb_buf_free(&b);
}

static void cmd_clnt(struct ftp_session *s, char *arg)
{
	(void)arg;    /* the client's name: noted in the debug log only */
	ftp_session_reply(s, 200, "Noted.");
}

static void cmd_opts(struct ftp_session *s, char *arg)
{
	if (!strncasecmp(arg, "HASH", 4) && (!arg[4] || arg[4] == ' '))
		ftp_hash_opts(s, arg[4] ? arg + 5 : "");
	else if (!strncasecmp(arg, "UTF8", 4) && (!arg[4] || !strcasecmp(arg + 4, " ON")))
		ftp_session_reply(s, 200, "Always in UTF8 mode.");
	else if (!strncasecmp(arg, "MLST", 4))
		ftp_session_reply(s, 200, "MLST OPTS type;size;modify;perm;unix.mode;");
	else
		ftp_session_reply(s, 501, "Option not understood.");
}

static void cmd_type(struct ftp_session *s, char *arg)
{
	if (!strcasecmp(arg, "A") || !strcasecmp(arg, "A N")) {
		s->ascii = true;
		ftp_session_reply(s, 200, "Switching to ASCII mode.");
	} else if (!strcasecmp(arg, "I") || !strcasecmp(arg, "L 8")) {
		s->ascii = false;
		ftp_session_reply(s, 200, "Switching to Binary mode.");
	} else {
		ftp_session_reply(s, 504, "Type not supported.");
	}
}

static void cmd_mode(struct ftp_session *s, char *arg)
{
	if (!strcasecmp(arg, "S"))
		ftp_session_reply(s, 200, "Mode set to S.");
	else
		ftp_session_reply(s, 504, "Only stream mode is supported.");
}

static void cmd_stru(struct ftp_session *s, char *arg)
{
	if (!strcasecmp(arg, "F"))
		ftp_session_reply(s, 200, "Structure set to F.");
	else
		ftp_session_reply(s, 504, "Only file structure is supported.");
}

static void cmd_rest(struct ftp_session *s, char *arg)
{
	uint64_t v;
	if (!ftp_parse_u64(arg, &v) || v > (uint64_t)INT64_MAX) {
		ftp_session_reply(s, 501, "REST needs a byte offset.");
		return;
	}
	s->rest = v;
	ftp_session_reply(s, 350, "Restarting at %llu. Send STORE or RETRIEVE.",
		      (unsigned long long)v);
}

static void cmd_allo(struct ftp_session *s, char *arg)
{
	(void)arg;
	ftp_session_reply(s, 202, "ALLO command ignored.");
}

/* A PROXY protocol header as a command: this address is no configured
 * balancer, so it may not name another client (ftp.proxy_protocol). */
static void cmd_proxy(struct ftp_session *s, char *arg)
{
	(void)arg;
	char host[64];
	flog(LOG_LVL_WARN, "ftp: session %llu: PROXY header from %s refused: not a "
	     "configured balancer", (unsigned long long)s->id,
	     fb_addr_text(&s->peer, host, sizeof(host)));
	ftp_session_reply(s, 421, "PROXY protocol header not accepted from your address.");
	ftp_session_close(s);
}

/* L: needs a login; D: also allowed to an upload-only (drop box) account. */
#define L NEED_LOGIN
#define D DROPBOX_OK
static const struct ftp_cmd table[] = {
	{ .verb = "ABOR", .flags = L | D | DURING_XFER, .fn = ftp_cmd_abor, .help = "abort transfer" },
	{ .verb = "ACCT", .flags = NEED_ARG, .fn = ftp_cmd_acct },
	{ .verb = "ALLO", .flags = L | D, .fn = cmd_allo },
	{ .verb = "APPE", .flags = L | NEED_ARG | NEED_WRITE, .fn = ftp_cmd_appe },
	{ .verb = "AUTH", .flags = NEED_ARG, .fn = ftp_cmd_auth },
	{ .verb = "AVBL", .flags = L | D, .fn = ftp_cmd_avbl },
	{ .verb = "CCC", .flags = 0, .fn = ftp_cmd_ccc },
	{ .verb = "CDUP", .flags = L | D, .fn = ftp_cmd_cdup },
	{ .verb = "CLNT", .flags = 0, .fn = cmd_clnt },
	{ .verb = "CWD", .flags = L | D, .fn = ftp_cmd_cwd },
	{ .verb = "DELE", .flags = L | NEED_ARG | NEED_WRITE, .fn = ftp_cmd_dele },
	{ .verb = "EPRT", .flags = L | D | NEED_ARG, .fn = ftp_cmd_eprt },
	{ .verb = "EPSV", .flags = L | D, .fn = ftp_cmd_epsv },
	{ .verb = "FEAT", .flags = 0, .fn = cmd_feat },
	{ .verb = "HASH", .flags = L | NEED_ARG, .fn = ftp_cmd_hash },
	{ .verb = "HELP", .flags = 0, .fn = cmd_help },
	{ .verb = "LIST", .flags = L, .fn = ftp_cmd_list },
	{ .verb = "MDTM", .flags = L | NEED_ARG, .fn = ftp_cmd_mdtm_any },
	{ .verb = "MFMT", .flags = L | NEED_ARG, .fn = ftp_cmd_mfmt },
	{ .verb = "MKD", .flags = L | NEED_ARG | NEED_WRITE, .fn = ftp_cmd_mkd },
	{ .verb = "MLSD", .flags = L, .fn = ftp_cmd_mlsd },
	{ .verb = "MLST", .flags = L, .fn = ftp_cmd_mlst },
	{ .verb = "MODE", .flags = NEED_ARG, .fn = cmd_mode },
	{ .verb = "NLST", .flags = L, .fn = ftp_cmd_nlst },
	{ .verb = "NOOP", .flags = DURING_XFER, .fn = cmd_noop },
	{ .verb = "OPTS", .flags = NEED_ARG, .fn = cmd_opts },
	{ .verb = "PASS", .flags = 0, .fn = ftp_cmd_pass },
	{ .verb = "PASV", .flags = L | D | NO_ARG, .fn = ftp_cmd_pasv },
	{ .verb = "PBSZ", .flags = NEED_ARG, .fn = ftp_cmd_pbsz },
	{ .verb = "PORT", .flags = L | D | NEED_ARG, .fn = ftp_cmd_port },
	{ .verb = "PROT", .flags = NEED_ARG, .fn = ftp_cmd_prot },
	{ .verb = "PROXY", .flags = 0, .fn = cmd_proxy },
	{ .verb = "PWD", .flags = L | D, .fn = ftp_cmd_pwd },
	{ .verb = "QUIT", .flags = DURING_XFER, .fn = ftp_cmd_quit },
	{ .verb = "RANG", .flags = L | NEED_ARG, .fn = ftp_cmd_rang },
	{ .verb = "REIN", .flags = 0, .fn = ftp_cmd_rein },
	{ .verb = "REST", .flags = L | NEED_ARG, .fn = cmd_rest },
	{ .verb = "RETR", .flags = L | NEED_ARG, .fn = ftp_cmd_retr },
	{ .verb = "RMD", .flags = L | NEED_ARG | NEED_WRITE, .fn = ftp_cmd_rmd },
	{ .verb = "RNFR", .flags = L | NEED_ARG | NEED_WRITE, .fn = ftp_cmd_rnfr },
	{ .verb = "RNTO", .flags = L | NEED_ARG | NEED_WRITE, .fn = ftp_cmd_rnto },
	{ .verb = "SITE", .flags = L | D | NEED_ARG, .fn = ftp_cmd_site },
	{ .verb = "SIZE", .flags = L | NEED_ARG, .fn = ftp_cmd_size },
	{ .verb = "SPDT", .flags = NEED_ARG, .fn = ftp_cmd_spdt },
	{ .verb = "SPSV", .flags = L | D | NO_ARG, .fn = ftp_cmd_spsv },
	{ .verb = "STAT", .flags = DURING_XFER, .fn = ftp_cmd_stat },
	{ .verb = "STOR", .flags = L | D | NEED_ARG | NEED_WRITE, .fn = ftp_cmd_stor },
	{ .verb = "STOU", .flags = L | D | NEED_WRITE, .fn = ftp_cmd_stou },
	{ .verb = "STRU", .flags = NEED_ARG, .fn = cmd_stru },
	{ .verb = "SYST", .flags = 0, .fn = cmd_syst },
	{ .verb = "TYPE", .flags = NEED_ARG, .fn = cmd_type },
	{ .verb = "USER", .flags = NEED_ARG, .fn = ftp_cmd_user },
	{ .verb = "XCRC", .flags = L | NEED_ARG, .fn = ftp_cmd_xcrc },
	{ .verb = "XCUP", .flags = L | D, .fn = ftp_cmd_cdup },
	{ .verb = "XCWD", .flags = L | D, .fn = ftp_cmd_cwd },
	{ .verb = "XMD5", .flags = L | NEED_ARG, .fn = ftp_cmd_xmd5 },
	{ .verb = "XMKD", .flags = L | NEED_ARG | NEED_WRITE, .fn = ftp_cmd_mkd },
	{ .verb = "XPWD", .flags = L | D, .fn = ftp_cmd_pwd },
	{ .verb = "XRMD", .flags = L | NEED_ARG | NEED_WRITE, .fn = ftp_cmd_rmd },
	{ .verb = "XSHA1", .flags = L | NEED_ARG, .fn = ftp_cmd_xsha1 },
	{ .verb = "XSHA256", .flags = L | NEED_ARG, .fn = ftp_cmd_xsha256 },
	{ .verb = "XSHA512", .flags = L | NEED_ARG, .fn = ftp_cmd_xsha512 },
};
#undef L
#undef D

const struct ftp_cmd *ftp_cmd_lookup(const char *verb)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (!strcmp(table[i].verb, verb))
			return &table[i];
	return NULL;
}

void ftp_cmd_help_list(struct fb_buf *out)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		fb_buf_printf(out, "%s%s", table[i].verb, i % 8 == 7 ? "\n" : " ");
	fb_buf_printf(out, "\n");
}

/* Before a login only a few commands are worth answering: a client that
 * sends more is a slowloris or a scanner. */
static bool prelogin_limit(struct ftp_session *s)
{
	if (s->state == ST_READY || ++s->prelogin_cmds <= s->set->fc->max_login_commands)
		return false;
	char host[64];
	flog(LOG_LVL_WARN, "ftp: session %llu: too many commands before login from %s; closed",
	     (unsigned long long)s->id, fb_addr_text(&s->peer, host, sizeof(host)));
	ftp_session_reply(s, 421, "Too many commands before login; closing.");
	ftp_session_close(s);
	return true;
}

/* An upload-only account (a drop box) may store new files and move about,
 * nothing that reads, lists, changes or removes what is there. */
static bool dropbox_refused(const struct ftp_session *s, const struct ftp_cmd *c,
			    const char *arg)
{
	if (s->state != ST_READY || !s->acct->upload_only)
		return false;
	if (!strcmp(c->verb, "STAT"))
		return *arg != '\0';       /* STAT with a path lists it */
	return (c->flags & NEED_LOGIN) && !(c->flags & DROPBOX_OK);
}

/* RANG here only narrows the next HASH: a transfer right after it would
 * silently move the whole file, so it is refused instead. */
static bool rang_refused(struct ftp_session *s, const struct ftp_cmd *c)
{
	if (!s->rang_set || !strcmp(c->verb, "HASH") || !strcmp(c->verb, "RANG"))
		return false;
	s->rang_set = false;
	static const char *const moves[] = { "RETR", "STOR", "APPE", "STOU" };
	for (size_t i = 0; i < sizeof(moves) / sizeof(moves[0]); i++)
		if (!strcmp(c->verb, moves[i]))
			return true;
	return false;
}

/* A pending RNFR survives NOOP (a client's keep-alive), as in vsftpd. */
static bool keeps_rnfr(const struct ftp_cmd *c)
{
	return !strcmp(c->verb, "RNTO") || !strcmp(c->verb, "RNFR") ||
	       !strcmp(c->verb, "NOOP");
}

void ftp_cmd_reject(struct ftp_session *s, int code, const char *text)
{
	if (!prelogin_limit(s))
		ftp_session_reply(s, code, "%s", text);
}

void ftp_cmd_dispatch(struct ftp_session *s, const struct ftp_cmd *c, char *arg)
{
	if (prelogin_limit(s))
		return;
	if (!keeps_rnfr(c)) {
		free(s->rnfr);
		s->rnfr = NULL;
	}
	if ((c->flags & NEED_LOGIN) && s->state != ST_READY)
		ftp_session_reply(s, 530, "Please login with USER and PASS.");
	else if ((c->flags & NEED_ARG) && !*arg)
		ftp_session_reply(s, 501, "Syntax error in parameters or arguments.");
	else if ((c->flags & NO_ARG) && *arg)
		ftp_session_reply(s, 501, "%s takes no argument.", c->verb);
	else if ((c->flags & NEED_WRITE) && !ftp_session_writable(s))
		ftp_session_reply(s, 550, "Permission denied.");
	else if (dropbox_refused(s, c, arg))
		ftp_session_reply(s, 550, "Permission denied: this is an upload-only area.");
	else if (rang_refused(s, c))
		ftp_session_reply(s, 503, "RANG applies only to HASH here; the range is now reset.");
	else
		c->fn(s, arg);
}
