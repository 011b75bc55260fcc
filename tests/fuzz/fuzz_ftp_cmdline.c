/* fuzz_ftp_cmdline.c — the FTP server's command-line pieces in the order a
 * session uses them: Telnet filtering of the raw bytes, splitting into verb
 * and argument, the PORT and EPRT address parsers and ftp_path_join on the
 * argument (from "/" and from a deep working directory). */
#include <string.h>

#include "ftp_internal.h"
#include "fuzz.h"

enum { PATH_CAP = 4096 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t line[1 << 16];
	if (size >= sizeof(line))
		return 0;
	struct telnet_state ts = { 0 };
	/* in two parts, as TCP may split it: the state carries over */
	size_t half = size / 2;
	size_t n = ftp_telnet_filter(&ts, data, half, line);
	FUZZ_CHECK(n <= half);
	size_t m = ftp_telnet_filter(&ts, data + half, size - half, line + n);
	FUZZ_CHECK(m <= size - half);
	n += m;
	char *verb, *arg;
	if (!ftp_cmd_split((char *)line, n, &verb, &arg))
		return 0;
	FUZZ_CHECK(verb && arg);
	struct sockaddr_storage a;
	(void)ftp_parse_port_arg(arg, &a);
	(void)ftp_parse_eprt_arg(arg, &a);
	char out[PATH_CAP];
	if (ftp_path_join("/", arg, out, sizeof(out)) == 0)
		FUZZ_CHECK(out[0] == '/' && !strstr(out, "/../") && !strstr(out, "//"));
	if (ftp_path_join("/a/b/c/d", arg, out, sizeof(out)) == 0)
		FUZZ_CHECK(out[0] == '/');
	if (ftp_path_join(arg, "x/../y", out, 64) == 0)
		FUZZ_CHECK(strlen(out) < 64);
	return 0;
}
