/*
 * cli.h - commands of the safeurl program that live outside cli_main.c.
 * Each takes the loaded configuration and its own argv (argv[0] is the
 * command name) and returns a sysexits code.
 */
#ifndef SAFEURL_CLI_H
#define SAFEURL_CLI_H

#include "err.h"

struct config;

/* submit URL...: create QUEUED scans and enqueue them; prints the ids. */
int cli_submit(const struct config *cfg, int argc, char **argv);

/* The sysexits code for an error of this kind (cli_main.c's table). */
int cli_exit_code(enum err_kind kind);

#endif
