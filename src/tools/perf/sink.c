/* sink.c — placeholder until the subcommand lands. */
#include <stdio.h>

#include "perf.h"

int perf_sink(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "ferry-perf: sink is not built yet\n");
	return PERF_USAGE;
}
