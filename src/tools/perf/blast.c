/* blast.c — placeholder until the subcommand lands. */
#include <stdio.h>

#include "perf.h"

int perf_blast(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "ferry-perf: blast is not built yet\n");
	return PERF_USAGE;
}
