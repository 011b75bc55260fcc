/* clients.c — placeholder until the subcommand lands. */
#include <stdio.h>

#include "perf.h"

int perf_clients(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "ferry-perf: clients is not built yet\n");
	return PERF_USAGE;
}
