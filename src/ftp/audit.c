/* audit.c — log lines an administrator reads: untrusted text (user names,
 * paths) escaped so a client cannot forge or hide lines, and one line per
 * login attempt with the client's address, one per change to the tree. */
#include <stdio.h>
#include <string.h>

#include "ferry/base.h"
#include "ftp_internal.h"

const char *ftp_log_esc(const char *in, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	if (!cap)
		return out;
	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		bool plain = *p >= 0x20 && *p < 0x7f && *p != '\\';
		size_t need = plain ? 1 : 4;
		if (o + need + 1 > cap)
			break;
		if (plain) {
			out[o++] = (char)*p;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	out[o] = '\0';
	return out;
}

void ftp_audit_login(const struct ftp_session *s, const char *user, const char *outcome)
{
	char host[64], name[4 * 64 + 1];
	flog(*outcome == 'o' ? LOG_LVL_INFO : LOG_LVL_WARN,
	     "ftp: session %llu: login %s for '%s' from %s", (unsigned long long)s->id,
	     outcome, ftp_log_esc(user, name, sizeof(name)),
	     fb_addr_text(&s->peer, host, sizeof(host)));
}

void ftp_audit_op(const struct ftp_session *s, const char *op, const char *vpath, int err)
{
	char host[64], path[4 * 256 + 1], name[4 * 64 + 1];
	flog(err ? LOG_LVL_WARN : LOG_LVL_INFO, "ftp: session %llu: %s %s by '%s' from %s%s%s",
	     (unsigned long long)s->id, op, ftp_log_esc(vpath, path, sizeof(path)),
	     ftp_log_esc(s->user, name, sizeof(name)), fb_addr_text(&s->peer, host, sizeof(host)),
	     err ? ": " : "", err ? strerror(-err) : "");
}
