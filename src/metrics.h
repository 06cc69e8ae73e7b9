/*
 * metrics - the worker's counters, gauges and histograms, rendered in the
 * Prometheus text format (docs/monitoring.md lists every metric).
 *
 * Thread-safe: any thread may count, set or observe; rendering takes a
 * consistent snapshot and never blocks on a dependency (the gauges that
 * need one are set by metrics_watch, on its own thread). Knows nothing
 * about HTTP (http.c serves it) or about where the numbers come from (the
 * modules that see the events feed them).
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

/* Events counted by one counter each (name and help in metrics.c). */
enum metrics_event {
	METRICS_ABANDONED,       /* a scan swept to FAILED ABANDONED */
	METRICS_INFRA_RETRY,     /* an infrastructure fault delayed a scan
				    without spending an attempt */
	METRICS_ENGINE_STALL,    /* the engine did not create or start a
				    container within ENGINE_TIMEOUT_MS */
	METRICS_DB_RETRY,        /* a database call retried after a failure */
	METRICS_REDIS_RECONNECT, /* a Redis connection up again after a loss */
	METRICS_RECONCILED,      /* a scan whose queue job was lost, enqueued again */
	METRICS_EVENT_COUNT
};

/* The dependencies of safeurl_up{dependency}. */
enum metrics_dep {
	METRICS_DEP_REDIS,
	METRICS_DEP_DATABASE,
	METRICS_DEP_ENGINE,
	METRICS_DEP_COUNT
};

/* The queue's job counts, as Queue.getJobCounts() reads them. */
struct metrics_depth {
	long long waiting, prioritized, active, delayed, failed;
};

struct metrics;

/* New, all zero; free with metrics_free(). */
struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/*
 * The process's registry, created on first use and kept until exit
 * (never pass it to metrics_free): every module counts into it, /metrics
 * renders it.
 */
struct metrics *metrics_default(void);

void metrics_job_done(struct metrics *m, enum metrics_outcome outcome);
/* Add delta (+1 on start, -1 on end) to safeurl_jobs_in_flight. */
void metrics_in_flight(struct metrics *m, int delta);
/* Scan and container spawn times, labelled with metrics_set_runtime's. */
void metrics_observe_scan(struct metrics *m, double seconds);
void metrics_observe_spawn(struct metrics *m, double seconds);

/* +1 (metrics_count) or +n (metrics_add) on the event's counter. */
void metrics_count(struct metrics *m, enum metrics_event ev);
void metrics_add(struct metrics *m, enum metrics_event ev,
		 unsigned long long n);
/*
 * A job failed for good (or for this attempt) with this error code:
 * safeurl_scan_failures_total{error_code}. code is copied; the first 64
 * distinct codes get their own series, later ones count as "OTHER".
 */
void metrics_failure(struct metrics *m, const char *code);
/*
 * The queue loop failed a job without running it:
 * safeurl_loop_failed_total{reason}. failed_reason (borrowed) is the
 * job's failedReason; deferred is 1 for BullMQ's deferred failure (a job
 * past maxStalledCount), 0 for one the worker refused (reason from its
 * code: malformed, invalid_payload, unsupported_option).
 */
void metrics_loop_failed(struct metrics *m, const char *failed_reason,
			 int deferred);

/* Gauges: the queue's depth, and whether a dependency answered. */
void metrics_set_depth(struct metrics *m, const struct metrics_depth *d);
void metrics_set_up(struct metrics *m, enum metrics_dep dep, int up);
/* The dependency named name ("redis", "database", "engine"), or -1. */
int metrics_dep_find(const char *name);

/*
 * Labels of safeurl_build_info and of the scan histograms: the runtime
 * ("docker", "sandbox") and the queue ("<prefix>:<name>"); copied.
 */
void metrics_set_labels(struct metrics *m, const char *runtime,
			const char *queue);

/* Append the Prometheus text exposition of every metric to out. */
void metrics_render(struct metrics *m, struct buf *out);

#endif
