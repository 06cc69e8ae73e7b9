/*
 * fetcher_main.c - safeurl-fetcher: one URL in, one JSON document out.
 *
 * Runs inside the scan container. Exit codes: 0 a verdict was formed (the
 * document says ok or not), 64 usage, 70 internal failure.
 */
#include "../fmacros.h"

#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "../banned.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: safeurl-fetcher [options] URL\n"
		"\n"
		"Fetches URL without ever reaching an internal address, analyses\n"
		"it and prints one JSON document on stdout.\n"
		"\n"
		"  --help     show this help\n"
		"  --version  show the version\n"
		"\n"
		"exit codes: 0 verdict formed, 64 usage, 70 internal failure\n");
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "--version")) {
		printf("safeurl-fetcher %s\n", SAFEURL_VERSION);
		return 0;
	}
	usage(stderr);
	return EX_USAGE;
}
