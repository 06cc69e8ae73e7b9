/*
 * test_outcome.c - SPEC §5's outcome table, row by row, against
 * outcome_decide(); every input combination has a decision; the error
 * kind map; the infrastructure backoff's bounds.
 */
#include "fmacros.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "outcome.h"

#define X (-1) /* the SPEC row holds for every value */
#define N(a) (sizeof(a) / sizeof((a)[0]))

/*
 * SPEC §5 "How each outcome ends", transcribed: the outcome (as run class
 * and document), the attempts and window it applies to, the scan state it
 * leaves and what the BullMQ job becomes.
 */
static const struct spec_row {
	const char *spec;
	enum outcome_run run;
	int out, left, window;
	enum outcome_move move;
	enum outcome_report report;
	const char *code;
} spec[] = {
	{ "fetcher output ok: true -> COMPLETED, completed", OUTCOME_RUN_OUTPUT,
	  OUTCOME_OUT_OK, X, X, OUTCOME_MOVE_COMPLETE, OUTCOME_REPORT_COMPLETED, NULL },
	{ "version conflict or terminal -> unchanged, skipped", OUTCOME_RUN_CONFLICT,
	  X, X, X, OUTCOME_MOVE_NONE, OUTCOME_REPORT_SKIPPED, NULL },
	{ "container crash -> FAILED, failed without retries", OUTCOME_RUN_CRASH,
	  X, X, X, OUTCOME_MOVE_FAIL, OUTCOME_REPORT_FAIL, NULL },
	{ "invalid or oversized output -> FAILED, no retries", OUTCOME_RUN_INVALID,
	  X, X, X, OUTCOME_MOVE_FAIL, OUTCOME_REPORT_FAIL, NULL },
	{ "ok: false not retryable -> FAILED, no retries", OUTCOME_RUN_OUTPUT,
	  OUTCOME_OUT_FAILED, X, X, OUTCOME_MOVE_FAIL, OUTCOME_REPORT_FAIL, NULL },
	{ "deadline passed -> TIMED_OUT, no retries", OUTCOME_RUN_TIMEOUT,
	  X, X, X, OUTCOME_MOVE_TIMEOUT, OUTCOME_REPORT_FAIL, "TIMEOUT" },
	{ "bad payload -> FAILED, no retries", OUTCOME_RUN_BAD_INPUT,
	  X, X, X, OUTCOME_MOVE_FAIL, OUTCOME_REPORT_FAIL, "VALIDATION_ERROR" },
	{ "infrastructure fault in the window -> QUEUED, delayed, no attempt",
	  OUTCOME_RUN_INFRA, X, X, 1, OUTCOME_MOVE_RELEASE, OUTCOME_REPORT_DEFER, NULL },
	{ "retryable error, attempts left -> QUEUED, failed and retried",
	  OUTCOME_RUN_OUTPUT, OUTCOME_OUT_RETRYABLE, 1, X, OUTCOME_MOVE_RELEASE,
	  OUTCOME_REPORT_RETRY, NULL },
	{ "infrastructure fault past the window, attempts left -> as retryable",
	  OUTCOME_RUN_INFRA, X, 1, 0, OUTCOME_MOVE_RELEASE, OUTCOME_REPORT_RETRY, NULL },
	{ "retryable error on the last attempt -> RETRIES_EXHAUSTED",
	  OUTCOME_RUN_OUTPUT, OUTCOME_OUT_RETRYABLE, 0, X, OUTCOME_MOVE_FAIL,
	  OUTCOME_REPORT_RETRY, "RETRIES_EXHAUSTED" },
	{ "infrastructure fault past the window, last attempt -> RETRIES_EXHAUSTED",
	  OUTCOME_RUN_INFRA, X, 0, 0, OUTCOME_MOVE_FAIL, OUTCOME_REPORT_RETRY,
	  "RETRIES_EXHAUSTED" },
	{ "shutdown past the grace -> QUEUED, back to wait, no attempt (§8)",
	  OUTCOME_RUN_CANCELLED, X, X, X, OUTCOME_MOVE_RELEASE,
	  OUTCOME_REPORT_RELEASE, "SHUTDOWN" },
};

static int covers(int want, int v)
{
	return want == X || want == v;
}

/* Every SPEC row, at every input it covers. */
static void test_spec_rows(void **state)
{
	size_t i;
	int out, left, window;

	(void)state;
	for (i = 0; i < N(spec); i++) {
		const struct spec_row *r = &spec[i];
		int checked = 0;

		for (out = 0; out < OUTCOME_OUT_COUNT; out++)
			for (left = 0; left <= 1; left++)
				for (window = 0; window <= 1; window++) {
					struct outcome_in in = { r->run, (enum outcome_output)out,
								 left, window };
					const struct outcome_decision *d;

					if (!covers(r->out, out) || !covers(r->left, left) ||
					    !covers(r->window, window))
						continue;
					d = outcome_decide(&in);
					print_message("%s [out %d left %d window %d] -> %s/%s\n",
						      r->spec, out, left, window,
						      outcome_move_name(d->move),
						      outcome_report_name(d->report));
					assert_int_equal(d->move, r->move);
					assert_int_equal(d->report, r->report);
					if (r->code)
						assert_string_equal(d->code, r->code);
					checked++;
				}
		assert_true(checked > 0);
	}
}

/* The table is total, and its metric agrees with its report (SPEC §8). */
static void test_total(void **state)
{
	int run, out, left, window;

	(void)state;
	for (run = 0; run < OUTCOME_RUN_COUNT; run++)
		for (out = 0; out < OUTCOME_OUT_COUNT; out++)
			for (left = 0; left <= 1; left++)
				for (window = 0; window <= 1; window++) {
					struct outcome_in in = { (enum outcome_run)run,
								 (enum outcome_output)out, left, window };
					const struct outcome_decision *d = outcome_decide(&in);

					assert_non_null(d);
					if (d->move == OUTCOME_MOVE_TIMEOUT)
						assert_int_equal(d->metric, METRICS_TIMED_OUT);
					else if (d->move == OUTCOME_MOVE_FAIL)
						assert_int_equal(d->metric, METRICS_FAILED);
					if (d->report == OUTCOME_REPORT_SKIPPED)
						assert_int_equal(d->move, OUTCOME_MOVE_NONE);
					/* no attempt is spent only for infra and shutdown */
					if (d->report == OUTCOME_REPORT_DEFER)
						assert_int_equal(run, OUTCOME_RUN_INFRA);
					/* a fault that never ran the fetcher is never TIMED_OUT */
					if (run == OUTCOME_RUN_INFRA)
						assert_int_not_equal(d->move, OUTCOME_MOVE_TIMEOUT);
				}
}

static void test_kind_map(void **state)
{
	static const struct {
		enum outcome_source src;
		enum err_kind kind;
		enum outcome_run run;
	} m[] = {
		{ OUTCOME_FROM_RUNTIME, ERR_TIMEOUT, OUTCOME_RUN_TIMEOUT },
		{ OUTCOME_FROM_RUNTIME, ERR_CRASH, OUTCOME_RUN_CRASH },
		{ OUTCOME_FROM_RUNTIME, ERR_INVALID, OUTCOME_RUN_INVALID },
		{ OUTCOME_FROM_RUNTIME, ERR_UNAVAILABLE, OUTCOME_RUN_INFRA },
		{ OUTCOME_FROM_RUNTIME, ERR_INTERNAL, OUTCOME_RUN_INTERNAL },
		{ OUTCOME_FROM_DATABASE, ERR_CONFLICT, OUTCOME_RUN_CONFLICT },
		{ OUTCOME_FROM_DATABASE, ERR_NOT_ALLOWED, OUTCOME_RUN_CONFLICT },
		{ OUTCOME_FROM_DATABASE, ERR_NOT_FOUND, OUTCOME_RUN_BAD_INPUT },
		{ OUTCOME_FROM_DATABASE, ERR_UNAVAILABLE, OUTCOME_RUN_INFRA },
		{ OUTCOME_FROM_DATABASE, ERR_TIMEOUT, OUTCOME_RUN_INFRA },
		{ OUTCOME_FROM_DATABASE, ERR_INTERNAL, OUTCOME_RUN_INTERNAL },
		{ OUTCOME_FROM_DATABASE, ERR_KIND_COUNT, OUTCOME_RUN_INTERNAL },
	};
	size_t i;

	(void)state;
	for (i = 0; i < N(m); i++)
		assert_int_equal(outcome_run_of(m[i].src, m[i].kind), m[i].run);
}

static void test_infra_delay(void **state)
{
	(void)state;
	/* base at the first fault, no jitter at 0, half off at most */
	assert_int_equal(outcome_infra_delay(0, 0), OUTCOME_INFRA_BASE_MS);
	assert_int_equal(outcome_infra_delay(0, 0.999999), OUTCOME_INFRA_BASE_MS / 2 + 1);
	/* grows with the time already lost */
	assert_int_equal(outcome_infra_delay(4000, 0), 4000);
	assert_int_equal(outcome_infra_delay(12000, 0.5), 9000);
	/* capped */
	assert_int_equal(outcome_infra_delay(OUTCOME_INFRA_CAP_MS, 0), OUTCOME_INFRA_CAP_MS);
	assert_int_equal(outcome_infra_delay(OUTCOME_INFRA_CAP_MS + 1, 0), OUTCOME_INFRA_CAP_MS);
	assert_int_equal(outcome_infra_delay(86400000LL, 0), OUTCOME_INFRA_CAP_MS);
	assert_true(outcome_infra_delay(86400000LL, 0.99) >= OUTCOME_INFRA_CAP_MS / 2);
	/* out-of-range draws are clamped */
	assert_int_equal(outcome_infra_delay(2000, -1), 2000);
	assert_true(outcome_infra_delay(2000, 5) >= 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_rows),
		cmocka_unit_test(test_total),
		cmocka_unit_test(test_kind_map),
		cmocka_unit_test(test_infra_delay),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
