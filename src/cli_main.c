/*
 * cli_main.c - safeurl, the operator's command line.
 *
 * One row per command in a table {name, fn, usage}; each command returns a
 * sysexits code, from the one table all three programs share
 * (docs/operations.md, "Exit codes"): 0 ok, 64 usage, 65 bad input (an
 * unknown scan id, a scan without a result, a scan in a state the command
 * does not apply to), 69 a service unavailable (database or Redis
 * unreachable, busy or locked past the retry bounds), 70 internal error,
 * 78 configuration: a bad variable, or what a variable points at cannot
 * be used (a missing or non-database file, a refused token or password,
 * a schema this program does not know). Error kinds map to these codes
 * through the table in cli_common.c, which every command file shares.
 */
#include "fmacros.h"

#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "cli_report.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "state.h"
#include "store.h"
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
static int cmd_migrate(const struct config *cfg, int argc, char **argv);
static int cmd_status(const struct config *cfg, int argc, char **argv);
static int cmd_result(const struct config *cfg, int argc, char **argv);

static const struct command commands[] = {
	{ "config", cmd_config, "config", "print the effective configuration, secrets masked, each value\n      with its source (environment, .env, default)" },
	{ "migrate", cmd_migrate, "migrate", "create or upgrade the database schema" },
	{ "status", cmd_status, "status ID [--format text|json]", "print a scan's state, version, attempts, owner, lease, times and\n      error (text), or the same as one JSON object (json)" },
	{ "result", cmd_result, "result ID [--format text|json]", "print a scan's report (text, the default on a terminal) or its\n      stored result JSON (json, the default otherwise)" },
	{ "submit", cli_submit, "submit [--wait [--timeout S] [--fail-on LEVEL] [--summary]] URL...", "create scans and enqueue them; prints one id per URL. --wait:\n      show each scan's state as it changes, then its report (--summary:\n      one table row per scan instead); --timeout: stop waiting after S\n      seconds; --fail-on suspicious|malicious: exit 4 for such a verdict" },
	{ "rules", cli_rules, "rules compile SOURCE.yar OUTPUT.yarc", "compile YARA rules for the fetcher's --yara-rules (as yarac does)" },
	{ "list", cli_list, "list [--state S] [--code C] [--since T] [--limit N] [--format table|json|csv]", "list scans, most recently changed first (default 100); --since\n      30m, 2h, 7d or a UTC date such as 2026-12-01T08:00:00Z" },
	{ "stats", cli_stats, "stats [--format text|json]", "count scans by state and error code, and the queue's jobs by state" },
	{ "history", cli_history, "history ID [--format text|json]", "a scan's audit trail (moves, actors, details) and its queue job's\n      state, attempts and failed reason" },
	{ "retry", cli_retry, "retry ID...|--state FAILED|TIMED_OUT [--code C] [--since T] [--limit N] [--dry-run] [--format text|json]", "start a new attempt of FAILED or TIMED_OUT scans: back to QUEUED\n      (audited, actor cli) and their queue job back to wait" },
	{ "cancel", cli_cancel, "cancel ID... [--format text|json]", "cancel QUEUED scans: FAILED with error CANCELLED (audited), their\n      waiting queue job removed" },
	{ "pause", cli_pause, "pause", "pause the queue (BullMQ's Queue.pause): workers finish what they\n      hold, take nothing new, and report not ready on /healthz" },
	{ "resume", cli_resume, "resume", "resume the queue (Queue.resume)" },
	{ "prune", cli_prune, "prune --older-than DURATION [--dry-run] [--batch N]", "delete terminal scans last changed more than DURATION ago (45s,\n      30m, 2h, 30d) with their results and audit rows, N scans per\n      transaction (default 500); --dry-run: count them" },
	{ "requeue", cli_requeue, "requeue --stale", "re-enqueue QUEUED scans whose queue job is gone (--older-than\n      SECONDS, default 60)" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
	size_t i;

	fprintf(out, "usage: safeurl [--help] [--version] COMMAND [ARGS]\n\n"
		     "commands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %s\n      %s\n", commands[i].usage,
			commands[i].summary);
	fprintf(out, "\nConfiguration comes from the environment and ./.env "
		     "(docs/configuration.md).\n"
		     "exit codes:\n"
		     "  0   ok (submit --wait: every scan COMPLETED, none at or "
		     "above --fail-on)\n"
		     "  2   submit --wait: a scan ended FAILED or TIMED_OUT\n"
		     "  3   submit --wait: --timeout passed before every scan "
		     "ended\n"
		     "  4   submit --wait: a verdict at or above --fail-on "
		     "(blocked counts\n      as malicious); 4 wins over 2, 2 over "
		     "3\n"
		     "  64  usage error\n"
		     "  65  bad input: unknown scan id, no result stored yet, or "
		     "a scan\n      in a state the command does not apply to\n"
		     "  69  service unavailable: the database or Redis busy, "
		     "locked or\n      unreachable past "
		     "DB_RETRY_ATTEMPTS/DB_RETRY_MAX_MS (retrying later\n"
		     "      can help)\n"
		     "  70  internal error\n"
		     "  78  configuration: a bad variable, or what it names "
		     "cannot be used:\n      a missing, corrupt or non-database "
		     "file, a schema missing or\n      newer than this program, "
		     "a refused TURSO_AUTH_TOKEN or\n      REDIS_PASSWORD "
		     "(retrying cannot help)\n"
		     "the same causes give the same codes in safeurl-worker "
		     "(docs/operations.md)\n");
}

static int want_args(int argc, int n, const char *usage_line)
{
	if (argc == n)
		return 0;
	fprintf(stderr, "usage: safeurl %s\n", usage_line);
	return EX_USAGE;
}

/* "2026-11-28T23:14:16.123Z (1764371656123)", or "-" for 0. */
static void print_time(const char *key, long long ms)
{
	struct tm tm;
	time_t secs = (time_t)(ms / 1000);
	char when[32];

	if (!ms || !gmtime_r(&secs, &tm) ||
	    !strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm)) {
		printf("%-11s -\n", key);
		return;
	}
	printf("%-11s %s.%03lldZ (%lld)\n", key, when, ms % 1000, ms);
}

static void print_job(const struct state_job *job)
{
	printf("%-11s %s\n", "id:", job->id);
	printf("%-11s %s\n", "url:", job->url);
	printf("%-11s %s\n", "state:", state_name(job->state));
	printf("%-11s %lld\n", "version:", job->version);
	printf("%-11s %d\n", "attempts:", job->attempts);
	printf("%-11s %s\n", "worker:", job->worker_id ? job->worker_id : "-");
	print_time("lease:", job->lease_expires_at);
	print_time("created:", job->created_at);
	print_time("updated:", job->updated_at);
	if (job->error_code)
		printf("%-11s %s: %s\n", "error:", job->error_code,
		       job->error_message ? job->error_message : "");
}

/*
 * Check the argument count, open the store (migrating it), run fn on it
 * and close it. fn returns an exit code.
 */
static int with_store(const struct config *cfg, int argc, char **argv,
		      int nargs, const char *usage_line,
		      int (*fn)(struct store *st, char **argv))
{
	struct err e = ERR_INIT;
	struct store *st;
	int rc = want_args(argc, nargs, usage_line);

	if (rc)
		return rc;
	log_init(cfg->log_level, cfg->log_format, "cli");
	if (!(st = store_open(cfg, &e)))
		return cli_fail(&e);
	rc = fn(st, argv);
	store_close(st);
	return rc;
}

static int show_migrate(struct store *st, char **argv)
{
	struct err e = ERR_INIT;
	int applied, version;

	(void)argv;
	if (store_migrate(st, &applied, &version, &e))
		return cli_fail(&e);
	printf("schema at version %d, %d migration%s applied\n", version,
	       applied, applied == 1 ? "" : "s");
	return 0;
}

/* Say whether an id without a result is unknown or not finished. */
static void result_missing(struct store *st, const char *id, struct err *e)
{
	struct state_job job;

	if (e->kind != ERR_NOT_FOUND)
		return;
	if (!state_get_job(st, id, &job, e))
		err_set(e, ERR_NOT_FOUND, "state: scan '%s' has no result "
			"(state %s)", id, state_name(job.state));
	state_job_release(&job);
}

/* Output formats of status and result. */
enum format { FORMAT_TEXT, FORMAT_JSON };

static const struct {
	const char *name;
	enum format format;
} formats[] = {
	{ "text", FORMAT_TEXT },
	{ "json", FORMAT_JSON },
};

#define NFORMATS (sizeof(formats) / sizeof(formats[0]))

/*
 * "ID [--format text|json]" in either order: *id borrowed from argv,
 * *fmt left as given when no --format. An exit code on bad arguments.
 */
static int id_and_format(int argc, char **argv, const char *usage_line,
			 const char **id, enum format *fmt)
{
	size_t k;
	int i;

	*id = NULL;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--format") && i + 1 < argc) {
			for (k = 0; k < NFORMATS; k++)
				if (!strcmp(argv[i + 1], formats[k].name))
					break;
			if (k == NFORMATS) {
				fprintf(stderr, "safeurl: %s: --format '%s': "
					"expected text or json\n", argv[0],
					argv[i + 1]);
				return EX_USAGE;
			}
			*fmt = formats[k].format;
			i++;
		} else if (!*id && argv[i][0] != '-') {
			*id = argv[i];
		} else {
			*id = NULL;
			break;
		}
	}
	if (*id)
		return 0;
	fprintf(stderr, "usage: safeurl %s\n", usage_line);
	return EX_USAGE;
}

static int show_status(struct store *st, const char *id, enum format fmt)
{
	struct state_job job;
	struct err e = ERR_INIT;
	struct buf out = BUF_INIT;
	int rc = 0;

	if (state_get_job(st, id, &job, &e)) {
		rc = cli_fail(&e);
	} else if (fmt == FORMAT_JSON) {
		cli_report_status_json(&job, &out);
		fputs(out.data, stdout);
	} else {
		print_job(&job);
	}
	state_job_release(&job);
	buf_release(&out);
	return rc;
}

/*
 * The result as stored (json), or the report (text: the row, then the
 * result when there is one). Exit 65 without a result, in both formats.
 */
static int show_result(struct store *st, const char *id, enum format fmt)
{
	struct state_result res;
	struct state_job job;
	struct err e = ERR_INIT, je = ERR_INIT;
	struct buf out = BUF_INIT;
	int rc = 0, have_job = 0, have_res;

	state_result_init(&res);
	state_job_init(&job);
	have_res = !state_get_result(st, id, &res, &e);
	if (!have_res)
		result_missing(st, id, &e);
	if (fmt == FORMAT_TEXT && (have_res || e.kind == ERR_NOT_FOUND)) {
		have_job = !state_get_job(st, id, &job, &je);
		if ((have_job || have_res) &&
		    cli_report_text(have_job ? &job : NULL,
				    have_res ? res.result_json : NULL, &out, &je))
			rc = cli_fail(&je);
		fputs(out.data, stdout);
	} else if (have_res) {
		printf("%s\n", res.result_json);
	}
	if (!have_res)
		rc = cli_fail(&e);
	state_job_release(&job);
	state_result_release(&res);
	buf_release(&out);
	return rc;
}

/* Open the store, show id in fmt with fn, close. */
static int with_id(const struct config *cfg, int argc, char **argv,
		   const char *usage_line, enum format fmt,
		   int (*fn)(struct store *st, const char *id, enum format fmt))
{
	struct store *st;
	const char *id;
	int rc = id_and_format(argc, argv, usage_line, &id, &fmt);

	if (rc || !(st = cli_open_store(cfg, &rc)))
		return rc;
	rc = fn(st, id, fmt);
	store_close(st);
	return rc;
}

static int cmd_migrate(const struct config *cfg, int argc, char **argv)
{
	return with_store(cfg, argc, argv, 1, "migrate", show_migrate);
}

static int cmd_status(const struct config *cfg, int argc, char **argv)
{
	return with_id(cfg, argc, argv, "status ID [--format text|json]",
		       FORMAT_TEXT, show_status);
}

/* Text on a terminal, the stored JSON otherwise, unless --format says. */
static int cmd_result(const struct config *cfg, int argc, char **argv)
{
	return with_id(cfg, argc, argv, "result ID [--format text|json]",
		       isatty(STDOUT_FILENO) ? FORMAT_TEXT : FORMAT_JSON,
		       show_result);
}

static int cmd_config(const struct config *cfg, int argc, char **argv)
{
	struct buf dump = BUF_INIT;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: safeurl config\n");
		return EX_USAGE;
	}
	config_dump_origins(cfg, &dump);
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
