/* summary.c — ferry-ftp --json: what the run did, as one JSON object on
 * standard output for scripts (the messages stay on standard error). */
#include <stdio.h>

#include "ferry_ftp.h"

static const char *status_name(int code)
{
	static const char *const names[] = {
		[EX_OK] = "ok", [EX_USAGE] = "usage", [EX_CONNECT] = "connect",
		[EX_LOGIN] = "login", [EX_REMOTE] = "remote", [EX_LOCAL] = "local",
		[EX_DATA] = "data", [EX_PROTO] = "protocol", [EX_PARTIAL] = "partial",
		[EX_TLS] = "tls",
	};
	return code >= 0 && code <= EX_TLS ? names[code] : "error";
}

/* A JSON string: quotes, backslashes and control bytes escaped; other
 * bytes as they are (file names are bytes; JSON readers want UTF-8). */
static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", f);
		else if (ch == '\r')
			fputs("\\r", f);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

void ftpc_cli_json(const struct client *c, const char *command, int code, double seconds,
		   const char *listing)
{
	fputs("{\"command\":", stdout);
	json_string(stdout, command);
	fprintf(stdout, ",\"exit\":%d,\"status\":\"%s\",\"files\":%u,\"skipped\":%u,"
		"\"bytes\":%llu,\"seconds\":%.3f,\"bytes_per_second\":%.0f", code,
		status_name(code), c->files, c->skipped, (unsigned long long)c->bytes, seconds,
		seconds > 0 ? (double)c->bytes / seconds : 0.0);
	if (listing) {
		fputs(",\"listing\":", stdout);
		json_string(stdout, listing);
	}
	fputs("}\n", stdout);
	fflush(stdout);
}
