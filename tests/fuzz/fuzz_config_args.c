/* fuzz_config_args.c — ferryd's command line (daemon_parse_args: the
 * uftpproxyd flags and ferryd's own) on an argv cut from the input at NUL
 * bytes, argv[0] chosen by the first byte (ferryd or uftpproxyd). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/daemon.h"
#include "fuzz.h"

enum { MAX_ARGS = 64 };

/* -f FILE reads a file: a fuzzer must not open whatever path it invents
 * (/dev/stdin would block). Any cluster naming f is left out. */
static bool reads_file(const char *arg)
{
	if (arg[0] != '-')
		return false;
	if (arg[1] == '-')
		return arg[2] == 'f' && arg[3] != 't';   /* --f..., not --ftp-... */
	return strchr(arg + 1, 'f') != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 4096)
		return 0;
	char *text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	char *argv[MAX_ARGS + 2];
	int argc = 0;
	argv[argc++] = data[0] & 1 ? "uftpproxyd" : "ferryd";
	for (char *p = text; p < text + size - 1 && argc < MAX_ARGS; p += strlen(p) + 1) {
		if (reads_file(p))
			goto out;
		argv[argc++] = p;
	}
	argv[argc] = NULL;
	struct ferry_config cfg;
	struct config_error err;
	enum cli_action action;
	daemon_config_init(&cfg);
	(void)daemon_parse_args(argc, argv, &cfg, &action, &err);
	daemon_config_free(&cfg);
out:
	free(text);
	return 0;
}
