/* reply.c — FTP replies in RFC 959's single- and multi-line forms. */
#include <string.h>

#include "ftp_internal.h"

/* A multi-line reply: "code-" on the first line, "code " on the last, and
 * the lines between indented by a space so none can look like an end. */
void reply_format(struct buf *out, int code, const char *text)
{
	const char *nl = strchr(text, '\n');
	if (!nl) {
		buf_printf(out, "%03d %s\r\n", code, text);
		return;
	}
	buf_printf(out, "%03d-%.*s\r\n", code, (int)(nl - text), text);
	for (const char *p = nl + 1;;) {
		const char *e = strchr(p, '\n');
		if (!e) {
			buf_printf(out, "%03d %s\r\n", code, p);
			return;
		}
		buf_printf(out, " %.*s\r\n", (int)(e - p), p);
		p = e + 1;
	}
}
