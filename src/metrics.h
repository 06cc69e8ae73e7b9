/*
 * metrics - the worker's counters, gauge and histograms, rendered in the
 * Prometheus text format.
 *
 * Thread-safe: any thread may count or observe; rendering takes a
 * consistent snapshot. Knows nothing about HTTP (http.c serves it) or about
 * where the numbers come from (the worker feeds them).
 */
#ifndef SAFEURL_METRICS_H
#define SAFEURL_METRICS_H

struct buf;

/* How a job ended, as the `outcome` label of safeurl_jobs_total. */
enum metrics_outcome {
	METRICS_COMPLETED,
	METRICS_FAILED,
	METRICS_TIMED_OUT,
	METRICS_SKIPPED,
	METRICS_RETRIED,
	METRICS_RELEASED,
	METRICS_OUTCOME_COUNT
};

struct metrics;

/* New, all zero; free with metrics_free(). */
struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

void metrics_job_done(struct metrics *m, enum metrics_outcome outcome);
/* Add delta (+1 on start, -1 on end) to safeurl_jobs_in_flight. */
void metrics_in_flight(struct metrics *m, int delta);
void metrics_observe_scan(struct metrics *m, double seconds);
void metrics_observe_spawn(struct metrics *m, double seconds);

/* What reconciliation did to a scan whose queue job was gone or finished,
 * as the `action` label of safeurl_reconcile_total. */
enum metrics_reconcile {
	METRICS_RECONCILE_REQUEUED,  /* given a new queue job */
	METRICS_RECONCILE_ABANDONED, /* failed ABANDONED */
	METRICS_RECONCILE_COUNT
};

/* Add n to safeurl_reconcile_total{action}. */
void metrics_reconciled(struct metrics *m, enum metrics_reconcile action,
			unsigned long long n);

/* Append the Prometheus text exposition of every metric to out. */
void metrics_render(struct metrics *m, struct buf *out);

#endif
