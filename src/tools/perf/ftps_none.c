/* ftps_none.c — ferry-perf ftps when the build had no libssl-dev: says so. */
#include <stdio.h>

#include "perf.h"

int perf_ftps(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "ferry-perf ftps: not built (its client TLS needs OpenSSL's "
		"libssl-dev at build time)\n");
	return PERF_USAGE;
}
