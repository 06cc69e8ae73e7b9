/*
 * outcome - how a scan ends, decided by one table (SPEC §5's outcome table).
 *
 * Pure: from what happened (the run's result class, the fetcher's document,
 * whether attempts are left, whether infrastructure faults may still delay
 * the scan) to what to do (the database move and the queue report). No
 * I/O, no clock, no locks: scan.c gathers the inputs and carries the
 * decision out; tests/unit/test_outcome.c iterates SPEC §5 against it.
 *
 * Not here: performing the moves (state.c), reporting to the queue
 * (worker.c), the error messages themselves.
 */
#ifndef SAFEURL_OUTCOME_H
#define SAFEURL_OUTCOME_H

#include "err.h"
#include "metrics.h"

/* What the run (or the state operation that ended it) came to. */
enum outcome_run {
	OUTCOME_RUN_OUTPUT,   /* the fetcher exited 0: its document decides */
	OUTCOME_RUN_TIMEOUT,  /* the fetcher ran past CONTAINER_TIMEOUT_MS */
	OUTCOME_RUN_CRASH,    /* the container died abnormally (OOM included) */
	OUTCOME_RUN_INVALID,  /* unreadable or oversized output */
	OUTCOME_RUN_BAD_INPUT, /* bad payload, bad URL, no such scan */
	OUTCOME_RUN_INFRA,    /* engine, database or Redis unavailable */
	OUTCOME_RUN_INTERNAL, /* an unexpected failure in the worker */
	OUTCOME_RUN_CONFLICT, /* another writer moved first, or terminal */
	OUTCOME_RUN_CANCELLED, /* shutdown: the job goes back to wait */
	OUTCOME_RUN_COUNT
};

/* The fetcher's document, when the run is OUTCOME_RUN_OUTPUT. */
enum outcome_output {
	OUTCOME_OUT_NONE,      /* no document (every other run class) */
	OUTCOME_OUT_OK,        /* ok: true, any verdict */
	OUTCOME_OUT_RETRYABLE, /* ok: false, retryable: true */
	OUTCOME_OUT_FAILED,    /* ok: false, not retryable */
	OUTCOME_OUT_COUNT
};

struct outcome_in {
	enum outcome_run run;
	enum outcome_output out;
	int attempts_left; /* BullMQ would retry a failure of this attempt */
	int infra_window;  /* INFRA_RETRY_MAX_MS has not yet passed since the
			      scan's first infrastructure fault */
};

/* The database move. */
enum outcome_move {
	OUTCOME_MOVE_NONE,     /* row unchanged */
	OUTCOME_MOVE_COMPLETE, /* FETCHING -> ANALYZING -> COMPLETED + result */
	OUTCOME_MOVE_FAIL,     /* -> FAILED with the code */
	OUTCOME_MOVE_TIMEOUT,  /* -> TIMED_OUT */
	OUTCOME_MOVE_RELEASE,  /* FETCHING -> QUEUED */
};

/* What the queue job becomes. */
enum outcome_report {
	OUTCOME_REPORT_COMPLETED, /* completed with the scan's return value */
	OUTCOME_REPORT_SKIPPED,   /* completed with the skipped return value */
	OUTCOME_REPORT_FAIL,      /* failed without retries */
	OUTCOME_REPORT_RETRY,     /* failed; BullMQ's attempts/backoff decide */
	OUTCOME_REPORT_DEFER,     /* delayed, no attempt consumed */
	OUTCOME_REPORT_RELEASE,   /* back to wait, no attempt consumed */
};

struct outcome_decision {
	enum outcome_move move;
	enum outcome_report report;
	/* The error code stored and reported instead of the run's own, or
	 * NULL to keep it (static string). */
	const char *code;
	enum metrics_outcome metric;
};

/*
 * The decision for in, from the table (never NULL: the table covers every
 * input; a hole is a bug and asserts). Returned pointer is static.
 */
const struct outcome_decision *outcome_decide(const struct outcome_in *in);

/* Which error kinds come from which side: the map differs only for ERR_INTERNAL. */
enum outcome_source {
	OUTCOME_FROM_RUNTIME,  /* the runtime (engine or sandbox) */
	OUTCOME_FROM_DATABASE, /* a state operation */
};

/*
 * The run class of an error of kind from source: one map, never the
 * message text (SPEC §5 "Errors"). CONFLICT and NOT_ALLOWED -> conflict
 * (skip), NOT_FOUND and INVALID from the database -> bad input,
 * UNAVAILABLE -> infrastructure fault.
 */
enum outcome_run outcome_run_of(enum outcome_source source,
				enum err_kind kind);

/*
 * The delay before a deferred scan runs again, elapsed_ms after its first
 * infrastructure fault: capped exponential (the delay grows with the time
 * already lost, from OUTCOME_INFRA_BASE_MS to OUTCOME_INFRA_CAP_MS), with
 * jitter drawn from rand01 in [0,1) taking up to half of it off.
 */
#define OUTCOME_INFRA_BASE_MS 1000
#define OUTCOME_INFRA_CAP_MS 30000
long long outcome_infra_delay(long long elapsed_ms, double rand01);

/* Static names for logs and tests, e.g. "release", "defer". */
const char *outcome_move_name(enum outcome_move move);
const char *outcome_report_name(enum outcome_report report);
const char *outcome_run_name(enum outcome_run run);

#endif
