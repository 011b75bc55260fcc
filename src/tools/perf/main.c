/* main.c — ferry-perf: one load harness, a table of subcommands. */
#include <stdio.h>
#include <string.h>

#include "perf.h"

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *what;
};

static const struct subcommand commands[] = {
	{ "blast", perf_blast, "act as a UFTP server: ANNOUNCE, then a FILESEG flood" },
	{ "sink", perf_sink, "count FILESEGs per session: rate, loss, dups, order, latency" },
	{ "relay", perf_relay, "reference: bare recvmmsg/sendmmsg UDP relay" },
	{ "clients", perf_clients, "simulate N UFTP clients answering through a proxy" },
	{ "ftp", perf_ftp, "N concurrent FTP clients: logins, RETR, STOR" },
	{ "ftps", perf_ftps, "N concurrent explicit-FTPS logins (AUTH TLS, USER, PASS, QUIT)" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: ferry-perf COMMAND [options]   (COMMAND --help for its options)\n\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].what);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return PERF_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return PERF_OK;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		printf("ferry-perf %s\n", FERRY_VERSION);
		return PERF_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "ferry-perf: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return PERF_USAGE;
}
