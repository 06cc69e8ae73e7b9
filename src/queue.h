/*
 * queue - a BullMQ 6.x queue on Redis, spoken from C.
 *
 * The data layout and semantics are BullMQ's (SPEC §3): job hashes, the
 * wait/active/prioritized/delayed lists and sets, per-job locks with a
 * token, the marker key that wakes blocked workers, the events stream. The
 * Lua scripts that move jobs are our own (src/queue_lua), embedded at build
 * time, loaded once per connection and run by SHA.
 *
 * Three parts:
 *  - struct queue_job and its pure helpers (queue_job.c): a job hash as
 *    HGETALL returns it -> fields and parsed options; what a failure
 *    becomes (fail, retry now, retry after a backoff delay).
 *  - struct queue, the consumer (queue.c): two non-blocking hiredis
 *    connections (commands, and BZPOPMIN on the marker) driven by the
 *    caller's poll loop; every call is asynchronous and reports through a
 *    callback on the loop thread. It does not own threads, timers for lock
 *    renewal or the stalled check: worker.c schedules those.
 *  - struct queue_producer (queue.c): a blocking connection that adds jobs,
 *    for the CLI's `submit`.
 *
 * Nothing here knows about scans, the database or containers.
 */
#ifndef SAFEURL_QUEUE_H
#define SAFEURL_QUEUE_H

#include <stddef.h>

#include "rconn.h"

struct buf;
struct config;
struct err;
struct pollfd;

/* ---- jobs ---- */

enum queue_backoff {
	QUEUE_BACKOFF_NONE,
	QUEUE_BACKOFF_FIXED,
	QUEUE_BACKOFF_EXPONENTIAL,
	QUEUE_BACKOFF_UNKNOWN, /* a custom strategy we cannot compute */
};

/* removeOnComplete / removeOnFail: count -1 keeps all, 0 removes the job,
 * N keeps the newest N; age_s -1 = no age limit. */
struct queue_keep {
	long count;
	long age_s;
};

struct queue_job {
	char *id;          /* BullMQ job id */
	char *token;       /* lock token of this claim (NULL when parsed alone) */
	char *name;
	char *data;        /* the "data" field, JSON text as stored */
	char *opts;        /* the "opts" field, JSON text as stored */
	char *stacktrace;  /* previous "stacktrace" (JSON array text) or NULL */
	char *deferred;    /* "defa": fail at once with this reason, or NULL */
	char *dedup_id;    /* "deid": the deduplication id, or NULL */
	char *parent_key;  /* "parentKey": a flow child's parent, or NULL */
	char *parent;      /* "parent": {id, queueKey, fpof...} JSON, or NULL */
	char *scheduler;   /* "rjk": the job scheduler that made it, or NULL */
	/* Why the job cannot run (its failedReason: "malformed job: ...",
	 * "VALIDATION_ERROR: ..." or "UNSUPPORTED_OPTION: <option>"), or NULL. */
	char *malformed;
	long long timestamp;
	long long processed_on; /* as set by the take that returned this job */
	long long infra_since; /* "infraSince": first infrastructure fault, 0 = none */
	int priority;
	int attempts;         /* opts.attempts (0 when absent, as BullMQ) */
	int attempts_made;    /* "atm" before this attempt */
	int attempts_started; /* "ats", this attempt included */
	int stack_limit;      /* opts.stackTraceLimit, -1 = none */
	int lifo;             /* opts.lifo: a retry goes to the front */
	long keep_logs;       /* opts.keepLogs, -1 = keep every line */
	enum queue_backoff backoff;
	long long backoff_delay;
	double backoff_jitter;
	struct queue_keep keep_completed, keep_failed;
};

/* Does not allocate. */
void queue_job_init(struct queue_job *job);
/* Frees every string; job is re-initialised. */
void queue_job_release(struct queue_job *job);

/*
 * Fill job (initialised) from a job hash: nfields strings alternating
 * name, value (lengths in len, bytes may be anything), as HGETALL returns
 * them. Everything is copied. Pure. Returns 0 when the job can run, or -1
 * with job->malformed naming the first problem (hash empty, a required
 * field missing, data not JSON, opts not a JSON object, a bad option, a
 * number out of range, an option this worker does not honour);
 * fields that could be read are filled either way.
 */
int queue_job_parse(struct queue_job *job, const char *id,
		    const char *const *field, const size_t *len, size_t nfields);

enum queue_op {
	QUEUE_COMPLETE,    /* completed with a return value */
	QUEUE_FAIL,        /* failed for good */
	QUEUE_RETRY_LATER, /* failed; back to delayed after a backoff delay */
	QUEUE_RETRY_NOW,   /* failed; straight back to wait */
	QUEUE_RELEASE,     /* back to wait without counting an attempt */
	QUEUE_DEFER,       /* to delayed for delay_ms without counting an
			    * attempt (BullMQ's job.moveToDelayed() then
			    * DelayedError); value: the first infrastructure
			    * fault's time, kept in the job hash */
	QUEUE_ABANDON,     /* left active, lock not renewed: the stalled
			    * check takes it back (BullMQ's worker when a
			    * custom backoff has no strategy); never sent */
};

/*
 * What a failed attempt of job becomes, as BullMQ decides: retried while
 * attempts are left and the failure is not unrecoverable, after the
 * backoff delay (*delay_ms; jitter drawn from rand01 in [0,1)). A custom
 * backoff type with attempts left gives QUEUE_ABANDON: BullMQ's worker,
 * having no strategy to compute it, reports an error and leaves the job
 * to stall.
 */
enum queue_op queue_job_on_failure(const struct queue_job *job,
				   int unrecoverable, double rand01,
				   long long *delay_ms);

/*
 * The job's stacktrace after this failure: the stored entries plus entry,
 * keeping the last stackTraceLimit. New JSON array text, caller frees.
 */
char *queue_job_stacktrace(const struct queue_job *job, const char *entry);

/* ---- the consumer ---- */

struct queue_params {
	struct rconn_params redis; /* where the master is, credentials */
	const char *prefix;       /* BULLMQ_PREFIX */
	const char *name;         /* QUEUE_NAME */
	const char *worker_name;  /* stored as the job's "pb" (processedBy) */
	long lock_ms;             /* lockDuration */
	long stalled_ms;          /* stalledInterval */
	int max_stalled;          /* maxStalledCount */
	long limiter_max;         /* the worker's limiter.max, 0 = none */
	long limiter_ms;          /* its limiter.duration */
	long metrics_max_points;  /* metrics.maxDataPoints, 0 = no metrics */
};

/*
 * Connection and naming from the configuration (strings borrowed from cfg),
 * lock and stalled settings zero: the producer ignores them, the worker
 * sets them.
 */
/*
 * Append the name BullMQ gives a worker's connection, as CLIENT SETNAME
 * sets it and Queue.getWorkers() finds it in CLIENT LIST:
 * "<prefix>:<base64(queue)>:w:<worker>". Strings borrowed.
 */
void queue_client_name(struct buf *out, const char *prefix, const char *queue,
		       const char *worker);

void queue_params_from_config(struct queue_params *qp,
			      const struct config *cfg);

/* One settled job, handed to queue_step. */
struct queue_outcome {
	struct queue_job *job; /* borrowed until the step callback returns */
	enum queue_op op;
	char *value;      /* owned: return value JSON or the failed reason */
	char *stacktrace; /* owned: failures only, else NULL */
	long long delay_ms;
	int code;         /* set before the callback: 0 or BullMQ's code */
};

struct queue;

/* New consumer; params are copied. Connects on the first queue_tick(). */
struct queue *queue_new(const struct queue_params *params);
/* Close the connections (pending callbacks run with ok = 0) and free. */
void queue_free(struct queue *q);

/* Fill up to 2 pollfds for the connections; returns how many. */
int queue_pollfds(struct queue *q, struct pollfd *pfd, int max);
/* Hand the poll results for the entries queue_pollfds filled. */
void queue_handle(struct queue *q, const struct pollfd *pfd, int n);
/*
 * Time-driven work: connecting and reconnecting with backoff, and the
 * watchdog that drops a blocking connection whose BZPOPMIN overran.
 * Returns the ms until it wants to be called again.
 */
long queue_tick(struct queue *q, long long now_ms);
/*
 * -1 with e filled when the server can never serve this consumer (Redis
 * older than 6.2: e names the version needed; kind ERR_UNAVAILABLE); the
 * caller stops. 0 otherwise.
 */
int queue_failed(const struct queue *q, struct err *e);
/* 1 when the command connection is connected and its scripts loaded. */
int queue_ready(const struct queue *q);
/* Number of times the command connection has come up (reconnect count). */
unsigned queue_generation(const struct queue *q);

/*
 * queue_step callback: outs as passed, with codes set when ok; jobs are new
 * (the callee owns them: queue_job_release() each, then free the array);
 * next_delayed_ms is the due time of the earliest delayed job when fewer
 * jobs than asked were available (0 = none); paused is 1 when the queue
 * is paused; limit_ms > 0 when the rate limit (the queue's or the
 * worker's limiter) stopped the take: take nothing for that long. ok = 0:
 * the reply was lost (connection gone), nothing is known about the
 * outcomes and no job was taken.
 */
typedef void queue_step_cb(void *arg, struct queue_outcome *outs, size_t nout,
			   struct queue_job *jobs, size_t njobs,
			   long long next_delayed_ms, int paused,
			   long long limit_ms, int ok);

/*
 * Settle nout outcomes and take up to take new jobs (locked, "active"
 * emitted), in one script call. outs stays borrowed until cb. Returns -1
 * without calling cb when the command connection is not ready.
 */
int queue_step(struct queue *q, struct queue_outcome *outs, size_t nout,
	       int take, queue_step_cb *cb, void *arg);

/* woke = 1: the marker said jobs may be there; 0: timeout or lost. */
typedef void queue_wait_cb(void *arg, int woke);
/* BZPOPMIN on the marker for at most timeout_ms (rounded up to 10 ms
 * steps, at most 10 s). -1 when the blocking connection is not ready. */
int queue_wait(struct queue *q, long timeout_ms, queue_wait_cb *cb, void *arg);
/* 1 while a queue_wait is outstanding. */
int queue_waiting(const struct queue *q);

/* ids (new array of new strings, callee frees with queue_ids_free). */
typedef void queue_ids_cb(void *arg, char **ids, size_t n, int ok);
void queue_ids_free(char **ids, size_t n);

/* Renew the locks of jobs (ids and tokens copied); cb gets the lost ids. */
int queue_renew(struct queue *q, struct queue_job *const *jobs, size_t n,
		queue_ids_cb *cb, void *arg);
/*
 * BullMQ's Job.updateProgress and Job.log for job id (strings copied):
 * progress (JSON text, NULL none) becomes the "progress" field and a
 * "progress" event; log (NULL none) is appended to "<job>:logs", keeping
 * the last keep_logs lines (-1 all). Fire and forget: sent in order with
 * the other calls on the command connection, so before the job's outcome
 * when called before it. -1 when the connection is not ready.
 */
int queue_progress(struct queue *q, const char *id, const char *progress,
		   const char *log, long keep_logs);

/* Run the stalled check; cb gets the ids moved back to wait. */
int queue_check_stalled(struct queue *q, queue_ids_cb *cb, void *arg);

/* ---- the producer ---- */

struct queue_add {
	const char *job_id;   /* custom id, or NULL for the next counter value */
	const char *name;     /* job name */
	const char *data;     /* JSON text */
	int attempts;         /* 0 = BullMQ's default (one attempt) */
	enum queue_backoff backoff;
	long long backoff_delay;
	long long delay;      /* ms before the job may run */
	int priority;         /* 0 = none; 1 is the highest */
};

struct queue_producer;

/* Connect (blocking, with a timeout). New producer in *out, caller closes
 * it with queue_producer_close(). */
int queue_producer_open(struct queue_producer **out,
			const struct queue_params *params, struct err *e);
void queue_producer_close(struct queue_producer *p);
/*
 * Add one job; with a job_id that already exists nothing changes and
 * *added is 0. The new or existing id is copied into id_out (NULL: not
 * wanted; new string, caller frees).
 */
int queue_add_job(struct queue_producer *p, const struct queue_add *job,
		  int *added, char **id_out, struct err *e);

/* Where a job stands, as far as waiting for a worker goes. */
enum queue_job_place {
	QUEUE_JOB_PENDING,  /* waiting, prioritized, delayed or active */
	QUEUE_JOB_FINISHED, /* its hash is there, in none of those: done */
	QUEUE_JOB_GONE,     /* no such job (never added, or removed) */
};

/* Where job id (borrowed) stands now. -1 when Redis did not answer. */
int queue_job_where(struct queue_producer *p, const char *id,
		    enum queue_job_place *out, struct err *e);
/* Does Redis answer on this connection? A failed producer must be
 * closed and opened again. */
int queue_producer_ping(struct queue_producer *p, struct err *e);

#endif
