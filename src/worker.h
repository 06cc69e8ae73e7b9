/*
 * worker - the consuming loop: slots, processors, timers, shutdown.
 *
 * One thread runs the loop and owns the Redis connections (see queue.h).
 * It takes up to WORKER_CONCURRENCY jobs, hands each to the processor, and
 * settles the outcomes processors report, from any thread, in batched
 * script calls that also take the next jobs. Timers renew the locks of all
 * jobs in flight (every lockDuration / 2) and run the stalled check
 * (every stalledInterval). On a stop request it takes no more jobs, lets
 * the ones in flight finish within SHUTDOWN_GRACE_MS, then cancels the
 * rest and releases them to the queue without counting an attempt.
 *
 * What a processor does with a job (scan it, store results) is not here.
 */
#ifndef SAFEURL_WORKER_H
#define SAFEURL_WORKER_H

#include "err.h"

struct config;
struct http_probe;
struct metrics;

/* A job in flight, as a processor sees it. Owned by the worker. */
struct worker_job;

/* Accessors; strings are borrowed until the job is reported. */
const char *worker_job_id(const struct worker_job *job);
const char *worker_job_data(const struct worker_job *job); /* JSON text */
long long worker_job_timestamp(const struct worker_job *job);
int worker_job_attempts_made(const struct worker_job *job); /* before this */
int worker_job_attempts(const struct worker_job *job);      /* opts.attempts */
int worker_job_attempts_started(const struct worker_job *job); /* with this */
/* 1 once the worker asked the processor to stop (any thread). */
int worker_job_cancelled(const struct worker_job *job);

/*
 * Report the outcome, exactly once per job, from any thread; the job must
 * not be touched afterwards. return_json is copied (NULL = null).
 */
void worker_job_complete(struct worker_job *job, const char *return_json);

/*
 * BullMQ's job.updateProgress(progress_json) and job.log(log_line), either
 * NULL: from any thread, before the job's outcome is reported; strings
 * copied. Sent in order ahead of the outcome; keepLogs is honoured.
 */
void worker_job_progress(struct worker_job *job, const char *progress_json,
			 const char *log_line);

enum worker_fail_mode {
	WORKER_FAIL_RETRY,         /* retried per the job's attempts/backoff */
	WORKER_FAIL_UNRECOVERABLE, /* failed at once, no retry */
};

/* msg becomes BullMQ's failedReason (copied); kind is logged. */
void worker_job_fail(struct worker_job *job, enum err_kind kind,
		     const char *msg, enum worker_fail_mode mode);

/*
 * Infrastructure fault: move the job to delayed for delay_ms without
 * counting an attempt (BullMQ's job.moveToDelayed() + DelayedError),
 * remembering first_fault_ms (epoch ms) in the job hash for the next
 * attempt's worker_job_infra_since(). msg is logged (copied). Reports the
 * job, like worker_job_fail.
 */
void worker_job_defer(struct worker_job *job, long long delay_ms,
		      long long first_fault_ms, const char *msg);
/* Epoch ms of the job's first infrastructure fault, 0 when none. */
long long worker_job_infra_since(const struct worker_job *job);

struct worker_processor {
	const char *name;
	/*
	 * Optional: set up *ctx before the loop starts. m is the worker's
	 * metrics (served on /metrics), borrowed until close.
	 */
	int (*open)(void **ctx, const struct config *cfg, struct metrics *m,
		    struct err *e);
	/*
	 * Start one job. Called on the loop thread: must not block. The job
	 * is reported later (or before returning) with worker_job_complete
	 * or worker_job_fail from any thread.
	 */
	void (*start)(void *ctx, struct worker_job *job);
	/*
	 * Optional: the shutdown grace ran out; stop the job and report it
	 * soon (the outcome is discarded: the job is released to the queue).
	 */
	void (*cancel)(void *ctx, struct worker_job *job);
	/* Optional: tear down ctx after the loop ended. */
	void (*close)(void *ctx);
	/*
	 * Optional: 0 when the processor can take new jobs, else how many ms
	 * until the worker should ask again (a dependency every job needs is
	 * away; jobs taken now would only spend attempts). Called on the loop
	 * thread: must not block.
	 */
	long (*hold)(void *ctx);
	/*
	 * Optional: the processor's dependency probes for /healthz (the
	 * database, the engine), at most max of them written to out; returns
	 * how many. They run on the worker's probe thread (health.h) and may
	 * block for a bounded time; their ctx must live until close.
	 */
	size_t (*probes)(void *ctx, struct http_probe *out, size_t max);
	/*
	 * 1: the processor logs each job's transitions and outcome itself,
	 * so the worker's own per-job lines (claimed, settled) go to debug
	 * and every event is logged once.
	 */
	int own_log;
};

/*
 * Built-in processors by name: "noop" (completes each job at once with
 * {"ok":true,"jobId":...}); in -DSAFEURL_TEST builds also "test", driven
 * by the job data (see worker_processors.c). NULL when unknown.
 */
const struct worker_processor *worker_processor_find(const char *name);

/*
 * Run until a stop is requested, then shut down as described above.
 * With HEALTH_PORT set it serves /livez, /healthz and /metrics for any
 * processor (health.h): the loop, draining and Redis are the worker's
 * probes, the processor adds its own.
 * Returns 0 after a clean shutdown, -1 with e filled when the processor
 * could not be set up.
 */
int worker_run(const struct config *cfg, const struct worker_processor *proc,
	       struct err *e);

/*
 * The lease: how long a job's queue lock and its scan row's lease last
 * without renewal (both renewed every half lease). 30000 ms; in
 * -DSAFEURL_TEST builds SAFEURL_TEST_LOCK_MS (100..30000) overrides it.
 */
long worker_lease_ms(void);

/* Ask worker_run to stop. Async-signal-safe. */
void worker_request_stop(void);

#endif
