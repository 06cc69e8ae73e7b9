/*
 * outcome.c - the outcome table: what happened -> database move + queue
 * report (SPEC §5, "How each outcome ends").
 *
 * Rows are matched in order; ANY matches every value. The table reads as
 * the SPEC's: one row per outcome, attempts and the infrastructure window
 * only where they change the answer.
 */
#include "fmacros.h"

#include <assert.h>
#include <stddef.h>

#include "outcome.h"
#include "banned.h"

#define ANY (-1)
#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct outcome_row {
	int run, out, attempts_left, infra_window;
	struct outcome_decision d;
} rows[] = {
	/* the fetcher's document */
	{ OUTCOME_RUN_OUTPUT, OUTCOME_OUT_OK, ANY, ANY,
	  { OUTCOME_MOVE_COMPLETE, OUTCOME_REPORT_COMPLETED, NULL, METRICS_COMPLETED } },
	{ OUTCOME_RUN_OUTPUT, OUTCOME_OUT_FAILED, ANY, ANY,
	  { OUTCOME_MOVE_FAIL, OUTCOME_REPORT_FAIL, NULL, METRICS_FAILED } },
	{ OUTCOME_RUN_OUTPUT, OUTCOME_OUT_RETRYABLE, 1, ANY,
	  { OUTCOME_MOVE_RELEASE, OUTCOME_REPORT_RETRY, NULL, METRICS_RETRIED } },
	{ OUTCOME_RUN_OUTPUT, OUTCOME_OUT_RETRYABLE, 0, ANY,
	  { OUTCOME_MOVE_FAIL, OUTCOME_REPORT_RETRY, "RETRIES_EXHAUSTED", METRICS_FAILED } },
	{ OUTCOME_RUN_OUTPUT, OUTCOME_OUT_NONE, ANY, ANY,
	  { OUTCOME_MOVE_FAIL, OUTCOME_REPORT_FAIL, "INVALID_OUTPUT", METRICS_FAILED } },
	/* the run ended without a document */
	{ OUTCOME_RUN_TIMEOUT, ANY, ANY, ANY,
	  { OUTCOME_MOVE_TIMEOUT, OUTCOME_REPORT_FAIL, "TIMEOUT", METRICS_TIMED_OUT } },
	{ OUTCOME_RUN_CRASH, ANY, ANY, ANY,
	  { OUTCOME_MOVE_FAIL, OUTCOME_REPORT_FAIL, NULL, METRICS_FAILED } },
	{ OUTCOME_RUN_INVALID, ANY, ANY, ANY,
	  { OUTCOME_MOVE_FAIL, OUTCOME_REPORT_FAIL, NULL, METRICS_FAILED } },
	{ OUTCOME_RUN_BAD_INPUT, ANY, ANY, ANY,
	  { OUTCOME_MOVE_FAIL, OUTCOME_REPORT_FAIL, "VALIDATION_ERROR", METRICS_FAILED } },
	/* infrastructure: no attempt while the window is open, then as a
	 * retryable error */
	{ OUTCOME_RUN_INFRA, ANY, ANY, 1,
	  { OUTCOME_MOVE_RELEASE, OUTCOME_REPORT_DEFER, NULL, METRICS_RETRIED } },
	{ OUTCOME_RUN_INFRA, ANY, 1, 0,
	  { OUTCOME_MOVE_RELEASE, OUTCOME_REPORT_RETRY, NULL, METRICS_RETRIED } },
	{ OUTCOME_RUN_INFRA, ANY, 0, 0,
	  { OUTCOME_MOVE_FAIL, OUTCOME_REPORT_RETRY, "RETRIES_EXHAUSTED", METRICS_FAILED } },
	{ OUTCOME_RUN_INTERNAL, ANY, 1, ANY,
	  { OUTCOME_MOVE_RELEASE, OUTCOME_REPORT_RETRY, NULL, METRICS_RETRIED } },
	{ OUTCOME_RUN_INTERNAL, ANY, 0, ANY,
	  { OUTCOME_MOVE_FAIL, OUTCOME_REPORT_RETRY, "RETRIES_EXHAUSTED", METRICS_FAILED } },
	/* someone else decides */
	{ OUTCOME_RUN_CONFLICT, ANY, ANY, ANY,
	  { OUTCOME_MOVE_NONE, OUTCOME_REPORT_SKIPPED, NULL, METRICS_SKIPPED } },
	{ OUTCOME_RUN_CANCELLED, ANY, ANY, ANY,
	  { OUTCOME_MOVE_RELEASE, OUTCOME_REPORT_RELEASE, "SHUTDOWN", METRICS_RELEASED } },
};

static int match(int want, int have)
{
	return want == ANY || want == have;
}

const struct outcome_decision *outcome_decide(const struct outcome_in *in)
{
	size_t i;

	for (i = 0; i < N(rows); i++)
		if (match(rows[i].run, (int)in->run) &&
		    match(rows[i].out, (int)in->out) &&
		    match(rows[i].attempts_left, !!in->attempts_left) &&
		    match(rows[i].infra_window, !!in->infra_window))
			return &rows[i].d;
	assert(!"outcome table has a hole");
	return &rows[N(rows) - 2].d; /* skip: touches nothing */
}

/* Error kind -> run class, one column per source. */
static const struct kind_rule {
	enum err_kind kind;
	enum outcome_run runtime, database;
} kind_rules[] = {
	{ ERR_NONE, OUTCOME_RUN_INTERNAL, OUTCOME_RUN_INTERNAL },
	{ ERR_INVALID, OUTCOME_RUN_INVALID, OUTCOME_RUN_INTERNAL },
	{ ERR_NOT_FOUND, OUTCOME_RUN_INTERNAL, OUTCOME_RUN_BAD_INPUT },
	{ ERR_CONFLICT, OUTCOME_RUN_CONFLICT, OUTCOME_RUN_CONFLICT },
	{ ERR_NOT_ALLOWED, OUTCOME_RUN_CONFLICT, OUTCOME_RUN_CONFLICT },
	{ ERR_TIMEOUT, OUTCOME_RUN_TIMEOUT, OUTCOME_RUN_INFRA },
	{ ERR_CRASH, OUTCOME_RUN_CRASH, OUTCOME_RUN_INTERNAL },
	{ ERR_UNAVAILABLE, OUTCOME_RUN_INFRA, OUTCOME_RUN_INFRA },
	{ ERR_INTERNAL, OUTCOME_RUN_INTERNAL, OUTCOME_RUN_INTERNAL },
};

enum outcome_run outcome_run_of(enum outcome_source source,
				enum err_kind kind)
{
	size_t i;

	for (i = 0; i < N(kind_rules); i++)
		if (kind_rules[i].kind == kind)
			return source == OUTCOME_FROM_RUNTIME
				       ? kind_rules[i].runtime
				       : kind_rules[i].database;
	return OUTCOME_RUN_INTERNAL;
}

long long outcome_infra_delay(long long elapsed_ms, double rand01)
{
	long long d = elapsed_ms < OUTCOME_INFRA_BASE_MS ? OUTCOME_INFRA_BASE_MS
							 : elapsed_ms;

	if (d > OUTCOME_INFRA_CAP_MS)
		d = OUTCOME_INFRA_CAP_MS;
	if (rand01 < 0)
		rand01 = 0;
	if (rand01 >= 1)
		rand01 = 0.999999;
	return d - (long long)((double)d / 2 * rand01);
}

static const char *const move_names[] = { "none", "complete", "fail",
					  "timeout", "release" };
static const char *const report_names[] = { "completed", "skipped", "fail",
					    "retry", "defer", "release" };
static const char *const run_names[] = {
	"output", "timeout", "crash", "invalid", "bad_input", "infra",
	"internal", "conflict", "cancelled",
};

const char *outcome_move_name(enum outcome_move move)
{
	return (size_t)move < N(move_names) ? move_names[move] : "?";
}

const char *outcome_report_name(enum outcome_report report)
{
	return (size_t)report < N(report_names) ? report_names[report] : "?";
}

const char *outcome_run_name(enum outcome_run run)
{
	return (size_t)run < N(run_names) ? run_names[run] : "?";
}
