/* ftp.c — placeholder until the subcommand lands. */
#include <stdio.h>

#include "perf.h"

int perf_ftp(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "ferry-perf: ftp is not built yet\n");
	return PERF_USAGE;
}
