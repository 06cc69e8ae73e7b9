/*
 * cli_main.c - safeurl, the operator's command line.
 *
 * One row per command in a table {name, fn, usage}; each command returns a
 * sysexits code. Exit codes: 0 ok, 64 usage, 65 bad input, 69 a service
 * unavailable, 70 internal error, 78 bad configuration.
 */
#include "fmacros.h"

#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "buf.h"
#include "config.h"
#include "strvec.h"
#include "banned.h"

extern char **environ;

struct command {
	const char *name;
	int (*fn)(const struct config *cfg, int argc, char **argv);
	const char *usage;
	const char *summary;
};

static int cmd_config(const struct config *cfg, int argc, char **argv);

static const struct command commands[] = {
	{ "config", cmd_config, "config", "print the effective configuration, secrets masked" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
	size_t i;

	fprintf(out, "usage: safeurl [--help] [--version] COMMAND [ARGS]\n\n"
		     "commands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %-22s %s\n", commands[i].usage,
			commands[i].summary);
	fprintf(out, "\nConfiguration comes from the environment and ./.env "
		     "(docs/configuration.md).\n"
		     "exit codes: 0 ok, 64 usage, 65 bad input, 69 service "
		     "unavailable, 70 internal error, 78 bad configuration\n");
}

static int cmd_config(const struct config *cfg, int argc, char **argv)
{
	struct buf dump = BUF_INIT;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: safeurl config\n");
		return EX_USAGE;
	}
	config_dump(cfg, &dump);
	fputs(dump.data, stdout);
	buf_release(&dump);
	return 0;
}

int main(int argc, char **argv)
{
	struct strvec errors = STRVEC_INIT;
	const struct command *cmd = NULL;
	struct config cfg;
	size_t i;
	int rc;

	if (argc < 2) {
		usage(stderr);
		return EX_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("safeurl %s\n", SAFEURL_VERSION);
		return 0;
	}
	for (i = 0; i < NCOMMANDS; i++)
		if (!strcmp(argv[1], commands[i].name))
			cmd = &commands[i];
	if (!cmd) {
		fprintf(stderr, "safeurl: unknown command '%s'\n", argv[1]);
		usage(stderr);
		return EX_USAGE;
	}
	rc = config_load(&cfg, environ, ".env", &errors);
	for (i = 0; i < errors.nr; i++)
		fprintf(stderr, "safeurl: %s\n", errors.items[i]);
	strvec_clear(&errors);
	if (!rc)
		rc = cmd->fn(&cfg, argc - 1, argv + 1);
	else
		rc = EX_CONFIG;
	config_release(&cfg);
	return rc;
}
