/* relay.c — placeholder until the subcommand lands. */
#include <stdio.h>

#include "perf.h"

int perf_relay(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "ferry-perf: relay is not built yet\n");
	return PERF_USAGE;
}
