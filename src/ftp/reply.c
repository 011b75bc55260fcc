/* reply.c — FTP replies in RFC 959's single- and multi-line forms, with the
 * text escaped for the wire (Telnet IAC doubled, CR in names as CR NUL). */
#include <stdio.h>
#include <string.h>

#include "ftp_internal.h"

void ftp_reply_text(struct fb_buf *out, const char *p, size_t n)
{
	static const char iac_iac[2] = { '\xff', '\xff' }, cr_nul[2] = { '\r', '\0' };
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '\xff' && p[i] != '\r')
			continue;
		fb_buf_append(out, p + run, i - run);
		fb_buf_append(out, p[i] == '\r' ? cr_nul : iac_iac, 2);
		run = i + 1;
	}
	fb_buf_append(out, p + run, n - run);
}

static void line(struct fb_buf *out, const char *prefix, const char *p, size_t n)
{
	fb_buf_printf(out, "%s", prefix);
	ftp_reply_text(out, p, n);
	fb_buf_append(out, "\r\n", 2);
}

/* A multi-line reply: "code-" on the first line, "code " on the last, and
 * the lines between indented by one space so none can look like an end (a
 * line that already starts with a space, as an MLST entry does, keeps its
 * one). */
void ftp_reply_format(struct fb_buf *out, int code, const char *text)
{
	char head[8];
	const char *nl = strchr(text, '\n');
	snprintf(head, sizeof(head), "%03d%c", code, nl ? '-' : ' ');
	if (!nl) {
		line(out, head, text, strlen(text));
		return;
	}
	line(out, head, text, (size_t)(nl - text));
	for (const char *p = nl + 1;;) {
		const char *e = strchr(p, '\n');
		if (!e) {
			snprintf(head, sizeof(head), "%03d ", code);
			line(out, head, p, strlen(p));
			return;
		}
		line(out, *p == ' ' ? "" : " ", p, (size_t)(e - p));
		p = e + 1;
	}
}
