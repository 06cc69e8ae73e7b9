/*
 * cli_common.c - what the safeurl program's command files share: the
 * error kind -> exit code table, the error line, and opening the store for
 * a command.
 *
 * The bottom of the CLI: cli_main.c and the command files (cli_ops.c,
 * cli_prune.c, cli_rules.c, cli_submit.c) call it, and it calls none of
 * them. Not here: the command table and main() (cli_main.c).
 */
#include "fmacros.h"

#include <stdio.h>
#include <sysexits.h>

#include "cli.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "store.h"
#include "banned.h"

/* Error kind -> exit code; kinds not listed exit 70. */
static const struct {
	enum err_kind kind;
	int code;
} exit_codes[] = {
	{ ERR_NOT_FOUND, EX_DATAERR },
	{ ERR_UNAVAILABLE, EX_UNAVAILABLE },
	{ ERR_INVALID, EX_CONFIG },
};

int cli_exit_code(enum err_kind kind)
{
	size_t i;

	for (i = 0; i < sizeof(exit_codes) / sizeof(exit_codes[0]); i++)
		if (exit_codes[i].kind == kind)
			return exit_codes[i].code;
	return EX_SOFTWARE;
}

int cli_fail(const struct err *e)
{
	fprintf(stderr, "safeurl: %s\n", e->msg);
	return cli_exit_code(e->kind);
}

struct store *cli_open_store(const struct config *cfg, int *rc)
{
	struct err e = ERR_INIT;
	struct store *st;

	log_init(cfg->log_level, cfg->log_format, "cli");
	st = store_open_existing(cfg, &e);
	if (!st)
		*rc = cli_fail(&e);
	return st;
}
