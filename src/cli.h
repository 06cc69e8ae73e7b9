/*
 * cli.h - commands of the safeurl program that live outside cli_main.c,
 * and the helpers they share (cli_common.c). Each command takes the loaded
 * configuration and its own argv (argv[0] is the command name) and returns
 * a sysexits code.
 */
#ifndef SAFEURL_CLI_H
#define SAFEURL_CLI_H

#include "err.h"

struct config;

/*
 * submit [--wait [--timeout S] [--fail-on LEVEL] [--summary]] URL...:
 * create QUEUED scans and enqueue them; prints the ids, or with --wait
 * follows the scans to their end and reports them, exiting 2 (a scan
 * FAILED or TIMED_OUT), 3 (--timeout passed) or 4 (--fail-on hit).
 */
int cli_submit(const struct config *cfg, int argc, char **argv);

/*
 * requeue --stale [--older-than SECONDS]: re-enqueue QUEUED scans (untouched
 * for SECONDS, default 60) that have no waiting or active queue job; prints
 * their ids.
 */
int cli_requeue(const struct config *cfg, int argc, char **argv);

/*
 * prune --older-than DURATION [--dry-run] [--batch N]: delete terminal
 * scans last changed before now - DURATION with their results and audit
 * rows, in batches (cli_prune.c); --dry-run counts them.
 */
int cli_prune(const struct config *cfg, int argc, char **argv);

/*
 * rules compile SOURCE OUTPUT: compile YARA rule source for the fetcher's
 * --yara-rules; a rule error names the file and line (exit 65, EX_DATAERR).
 */
int cli_rules(const struct config *cfg, int argc, char **argv);

/*
 * Enqueue scan id for url (borrowed) as BullMQ job bull_id, with submit's
 * attempts and backoff; a no-op when the queue has that job id already
 * (*added 0).
 */
struct queue_producer;
int cli_enqueue(struct queue_producer *qp, const char *bull_id,
		const char *id, const char *url, int *added, struct err *e);


/*
 * The operator's commands (cli_ops.c): list, stats, history, retry,
 * cancel, pause, resume. Arguments and output in `safeurl --help` and
 * docs/operations.md.
 */
int cli_list(const struct config *cfg, int argc, char **argv);
int cli_stats(const struct config *cfg, int argc, char **argv);
int cli_history(const struct config *cfg, int argc, char **argv);
int cli_retry(const struct config *cfg, int argc, char **argv);
int cli_cancel(const struct config *cfg, int argc, char **argv);
int cli_pause(const struct config *cfg, int argc, char **argv);
int cli_resume(const struct config *cfg, int argc, char **argv);

/* ---- cli_common.c ---- */

/* The sysexits code for an error of this kind (cli_common.c's table). */
int cli_exit_code(enum err_kind kind);

/* Print e's message as safeurl's error line; its kind's exit code. */
int cli_fail(const struct err *e);

/*
 * Open the existing store (never created or migrated: `migrate` does that)
 * for a read or operator command, or print the error; NULL with *rc set to
 * the exit code. New, caller closes with store_close().
 */
struct store;
struct store *cli_open_store(const struct config *cfg, int *rc);

#endif
