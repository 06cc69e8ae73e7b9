/*
 * cli_rules.c - `safeurl rules compile`: YARA rule source to the compiled
 * file the fetcher loads (docs/fetcher.md, "User rules").
 */
#include "fmacros.h"

#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "cli.h"
#include "err.h"
#include "fetcher/yrules.h"
#include "banned.h"

int cli_rules(const struct config *cfg, int argc, char **argv)
{
	struct err e = ERR_INIT;

	(void)cfg;
	if (argc != 4 || strcmp(argv[1], "compile")) {
		fprintf(stderr, "usage: safeurl rules compile SOURCE.yar OUTPUT.yarc\n");
		return EX_USAGE;
	}
	if (yrules_compile(argv[2], argv[3], &e)) {
		fprintf(stderr, "safeurl: %s\n", e.msg);
		return e.kind == ERR_INVALID ? EX_DATAERR : cli_exit_code(e.kind);
	}
	printf("%s\n", argv[3]);
	return 0;
}
