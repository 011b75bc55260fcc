/* fuzz_ftpc_reply.c — the tools' FTP client library on what a hostile server
 * may send: the input's lines through the reply reader, every whole reply
 * through the PASV, EPSV and SPSV (both forms) parsers and the SPSV data
 * connection's login steps. */
#include <stdlib.h>
#include <string.h>

#include "ftpc.h"
#include "fuzz.h"

static void on_reply(int code, const char *line, struct ftpc_dlogin *d)
{
	unsigned port = 0;
	if (ftpc_parse_pasv(line, &port) == 0)
		FUZZ_CHECK(port > 0 && port <= 65535);
	if (ftpc_parse_epsv(line, &port) == 0)
		FUZZ_CHECK(port > 0 && port <= 65535);
	struct ftpc_spsv s;
	if (ftpc_parse_spsv(line, FTPC_SPSV_DATACONN, &s) == FTPC_SPSV_OK)
		FUZZ_CHECK(s.user[0] && s.pass[0] && !strpbrk(s.user, " :()") &&
			   !strpbrk(s.pass, " :()"));
	if (ftpc_parse_spsv(line, FTPC_SPSV_SPDT, &s) == FTPC_SPSV_OK)
		FUZZ_CHECK(s.ident[0] && !strpbrk(s.ident, " \r\n"));
	char out[FTPC_IDENT_MAX + 16];
	int n = ftpc_dlogin_step(d, code, line, out, sizeof(out));
	FUZZ_CHECK(n < (int)sizeof(out));
	if (n > 0)   /* one command line, ending in CR LF and nowhere else */
		FUZZ_CHECK(out[n - 2] == '\r' && out[n - 1] == '\n' &&
			   !memchr(out, '\n', (size_t)n - 1));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 16)
		return 0;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	struct ftpc_reply_reader r = { 0 };
	struct ftpc_spsv cred = { .user = "DATACONN", .pass = "x", .ident = "id" };
	struct ftpc_dlogin d;
	ftpc_dlogin_start(&d, size && (data[0] & 1) ? FTPC_SPSV_SPDT : FTPC_SPSV_DATACONN, &cred);
	for (char *save, *line = strtok_r(text, "\r\n", &save); line;
	     line = strtok_r(NULL, "\r\n", &save)) {
		int code = ftpc_reply_line(&r, line);
		if (code < 0)
			break;
		if (code > 0) {
			FUZZ_CHECK(code >= 100 && code <= 599);
			on_reply(code, line, &d);
		}
	}
	free(text);
	return 0;
}
