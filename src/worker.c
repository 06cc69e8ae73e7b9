/*
 * worker.c - the loop: one thread, poll(2), the Redis connections, slots.
 *
 * Each pass of the loop:
 *   1. picks up outcomes processors reported (from any thread, through a
 *      mutex-protected list and an eventfd that wakes poll);
 *   2. when no script call is in flight, sends one "step" that settles
 *      every reported outcome and takes as many jobs as there are free
 *      slots (none once stopping); while it is in flight new outcomes
 *      gather, so batches grow with the load;
 *   3. when the queue had fewer jobs than free slots, blocks on the marker
 *      (BZPOPMIN on the second connection) until a job is added or the
 *      earliest delayed job is due (at most 5 s, BullMQ's drainDelay);
 *   4. runs the timers: lock renewal for every job in flight, the stalled
 *      check, reconnection (queue_tick) and the shutdown deadline.
 *
 * Redis going away: the connections reconnect with backoff. Outcomes whose
 * reply was lost are sent again (settling is idempotent: a repeat finds no
 * lock and is dropped). Jobs a lost reply had taken are locked but unknown
 * to us; their lock expires and the stalled check (ours or any worker's)
 * moves them back to wait, so nothing is lost or stuck in active. Jobs in
 * flight keep running; if the outage outlives their lock, the stalled
 * check hands them to another worker and our late outcome is dropped.
 */
#include "fmacros.h"

#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "config.h"
#include "health.h"
#include "http.h"
#include "lifecycle.h"
#include "log.h"
#include "metrics.h"
#include "metrics_watch.h"
#include "queue.h"
#include "queue_admin.h"
#include "worker.h"
#include "xalloc.h"
#include "banned.h"

#define DRAIN_DELAY_MS 5000
#define CANCEL_WAIT_MS 5000
#define GIVE_UP_MS 10000
/* The queue lock and the scan lease (SPEC §5): one length for both. */
#define LEASE_MS 30000
#define STALLED_MS 30000
#define MAX_STALLED 1

struct worker_job {
	struct worker *w;
	struct queue_job q;
	atomic_int cancelled;
	/* enum job_phase, changed only by job_move(); RUNNING -> REPORTED
	 * (any thread) and RUNNING -> RELEASING only under the list lock */
	atomic_int phase;
	int failed;         /* report: failure */
	int deferred;       /* report: delay without an attempt (defer_ms) */
	long long defer_ms, infra_since;
	enum err_kind kind;
	enum worker_fail_mode mode;
	char *value;        /* report: return value JSON or failure message */
	struct worker_job *next;
};

/* A progress update or log line on its way to the loop thread. */
struct note {
	char *id, *progress, *log;
	long keep_logs;
	struct note *next;
};

struct worker {
	const struct config *cfg;
	const struct worker_processor *proc;
	void *ctx;
	struct queue *q;
	pthread_t loop_thread;
	int wake_fd;

	struct worker_job **slots; /* jobs held: running or awaiting settle */
	int nslots, cap;

	pthread_mutex_t mu;
	struct worker_job *reported; /* LIFO from processors */
	struct note *notes;          /* LIFO from processors */

	struct worker_job **pending; /* reported, to settle */
	size_t npending, pending_cap;

	struct queue_outcome *batch; /* in flight with a step */
	size_t nbatch;
	int step_busy, renew_busy, stalled_busy;
	int asked; /* jobs the step in flight asked for */

	int want_take;
	long long next_delayed; /* wall ms of the earliest delayed job, 0 none */
	long long limit_until;  /* mono ms: rate limited until then, 0 none */
	unsigned generation;
	long lock_ms, stalled_ms;
	long long renew_at, stalled_at;

	int stopping;
	long long deadline, cancel_deadline;
	int unreported; /* jobs in JOB_RELEASED_AWAITING (loop thread) */
};

static volatile sig_atomic_t stop_flag;
static int stop_fd = -1;

void worker_request_stop(void)
{
	uint64_t one = 1;
	int saved = errno;

	stop_flag = 1;
	if (stop_fd >= 0 && write(stop_fd, &one, sizeof(one)) < 0) {
		/* nothing to do: the flag is set */
	}
	errno = saved;
}

/* ---- the job lifecycle (lifecycle.h) ---- */

static enum job_phase job_phase(const struct worker_job *job)
{
	return (enum job_phase)atomic_load(&job->phase);
}

/*
 * The only way a job changes phase: the move is checked against the
 * table (a move it does not list is a bug: logged, and fatal in debug
 * builds) and logged at debug level.
 */
static void job_move(struct worker_job *job, enum job_phase to)
{
	enum job_phase from = job_phase(job);

	if (!lifecycle_job_allowed(from, to)) {
		log_event(LOG_ERROR, job->q.id, "bug",
			  "job lifecycle: illegal move %s -> %s",
			  lifecycle_job_name(from), lifecycle_job_name(to));
		assert(!"illegal job lifecycle move");
		return;
	}
	atomic_store(&job->phase, (int)to);
	if (to == JOB_RELEASED_AWAITING)
		job->w->unreported++;
	else if (from == JOB_RELEASED_AWAITING)
		job->w->unreported--;
	log_event(LOG_DEBUG, job->q.id, "job", "job %s -> %s",
		  lifecycle_job_name(from), lifecycle_job_name(to));
}

/* ---- the processor-facing side ---- */

const char *worker_job_id(const struct worker_job *job) { return job->q.id; }
const char *worker_job_data(const struct worker_job *job) { return job->q.data; }
long long worker_job_timestamp(const struct worker_job *job) { return job->q.timestamp; }
int worker_job_attempts_made(const struct worker_job *job) { return job->q.attempts_made; }
int worker_job_attempts(const struct worker_job *job) { return job->q.attempts; }
int worker_job_attempts_started(const struct worker_job *job) { return job->q.attempts_started; }

int worker_job_cancelled(const struct worker_job *job)
{
	return atomic_load(&job->cancelled);
}

static void report(struct worker_job *job)
{
	struct worker *w = job->w;
	uint64_t one = 1;

	pthread_mutex_lock(&w->mu);
	if (job_phase(job) == JOB_RUNNING)
		job_move(job, JOB_REPORTED);
	/* a released job's report only lets the worker free it */
	job->next = w->reported;
	w->reported = job;
	pthread_mutex_unlock(&w->mu);
	if (!pthread_equal(pthread_self(), w->loop_thread) &&
	    write(w->wake_fd, &one, sizeof(one)) < 0)
		log_warn_errno("worker: cannot wake the loop");
}

void worker_job_progress(struct worker_job *job, const char *progress_json,
			 const char *log_line)
{
	struct worker *w = job->w;
	struct note *n = xcalloc(1, sizeof(*n));
	uint64_t one = 1;

	n->id = xstrdup(job->q.id);
	n->progress = progress_json ? xstrdup(progress_json) : NULL;
	n->log = log_line ? xstrdup(log_line) : NULL;
	n->keep_logs = job->q.keep_logs;
	pthread_mutex_lock(&w->mu);
	n->next = w->notes;
	w->notes = n;
	pthread_mutex_unlock(&w->mu);
	if (!pthread_equal(pthread_self(), w->loop_thread) &&
	    write(w->wake_fd, &one, sizeof(one)) < 0)
		log_warn_errno("worker: cannot wake the loop");
}

/* Send the notes in the order they were made (before any outcome). */
static void send_notes(struct worker *w)
{
	struct note *n, *next, *prev = NULL;

	pthread_mutex_lock(&w->mu);
	n = w->notes;
	w->notes = NULL;
	pthread_mutex_unlock(&w->mu);
	for (; n; n = next) {
		next = n->next;
		n->next = prev;
		prev = n;
	}
	for (n = prev; n; n = next) {
		next = n->next;
		if (!w->q || queue_progress(w->q, n->id, n->progress, n->log,
					    n->keep_logs))
			log_event(LOG_DEBUG, n->id, "progress",
				  "progress not sent: redis not ready");
		free(n->id);
		free(n->progress);
		free(n->log);
		free(n);
	}
}

void worker_job_complete(struct worker_job *job, const char *return_json)
{
	job->value = xstrdup(return_json ? return_json : "null");
	report(job);
}

void worker_job_fail(struct worker_job *job, enum err_kind kind,
		     const char *msg, enum worker_fail_mode mode)
{
	job->failed = 1;
	job->kind = kind;
	job->mode = mode;
	job->value = xstrdup(msg ? msg : "error");
	report(job);
}

void worker_job_defer(struct worker_job *job, long long delay_ms,
		      long long first_fault_ms, const char *msg)
{
	job->deferred = 1;
	job->defer_ms = delay_ms;
	job->infra_since = first_fault_ms;
	job->value = xstrdup(msg ? msg : "infrastructure fault");
	report(job);
}

long long worker_job_infra_since(const struct worker_job *job)
{
	return job->q.infra_since;
}

/* ---- slots ---- */

static void job_free(struct worker_job *job)
{
	job_move(job, JOB_DONE);
	queue_job_release(&job->q);
	free(job->value);
	free(job);
}

static void slot_remove(struct worker *w, struct worker_job *job)
{
	int i;

	for (i = 0; i < w->nslots; i++) {
		if (w->slots[i] == job) {
			w->slots[i] = w->slots[--w->nslots];
			return;
		}
	}
}

static void pending_push(struct worker *w, struct worker_job *job)
{
	if (w->npending == w->pending_cap) {
		w->pending_cap = w->pending_cap ? 2 * w->pending_cap : 64;
		w->pending = xrealloc(w->pending,
				      w->pending_cap * sizeof(*w->pending));
	}
	w->pending[w->npending++] = job;
}

/*
 * A failure BullMQ's worker cannot settle (a custom backoff type with no
 * strategy): like it, log the error and leave the job active with its lock
 * no longer renewed; the stalled check puts it back in wait.
 */
static int abandoned(struct worker_job *job)
{
	long long delay;

	if (!job->failed ||
	    queue_job_on_failure(&job->q,
				 job->mode == WORKER_FAIL_UNRECOVERABLE, 0,
				 &delay) != QUEUE_ABANDON)
		return 0;
	log_event(LOG_ERROR, job->q.id, "abandon",
		  "attempt %d failed (%s) and backoff type is custom, which "
		  "needs a backoffStrategy this worker does not have: left to "
		  "stall", job->q.attempts_made + 1, job->value);
	return 1;
}

/* Move reported jobs to the pending list (released ones are freed). */
static void collect_reports(struct worker *w)
{
	struct worker_job *job, *next, *prev;

	pthread_mutex_lock(&w->mu);
	job = w->reported;
	w->reported = NULL;
	pthread_mutex_unlock(&w->mu);
	for (prev = NULL; job; job = next) { /* reverse: report order */
		next = job->next;
		job->next = prev;
		prev = job;
	}
	for (job = prev; job; job = next) {
		next = job->next;
		if (job_phase(job) == JOB_RELEASED_AWAITING) {
			job_free(job);
		} else if (job_phase(job) == JOB_RELEASING) {
			job_move(job, JOB_RELEASE_REPORTED);
		} else if (abandoned(job)) {
			slot_remove(w, job);
			job_free(job);
		} else {
			pending_push(w, job);
		}
	}
}

/* ---- settling ---- */

static void build_outcome(struct queue_outcome *o, struct worker_job *job)
{
	memset(o, 0, sizeof(*o));
	o->job = &job->q;
	if (job_phase(job) != JOB_REPORTED) { /* released */
		o->op = QUEUE_RELEASE;
		return;
	}
	if (job->deferred) {
		char since[24];

		snprintf(since, sizeof(since), "%lld", job->infra_since);
		o->op = QUEUE_DEFER;
		o->delay_ms = job->defer_ms;
		o->value = xstrdup(since);
		return;
	}
	if (!job->failed) {
		o->op = QUEUE_COMPLETE;
		o->value = xstrdup(job->value);
		return;
	}
	o->op = queue_job_on_failure(&job->q,
				     job->mode == WORKER_FAIL_UNRECOVERABLE,
				     drand48(), &o->delay_ms);
	o->value = xstrdup(job->value);
	o->stacktrace = queue_job_stacktrace(&job->q, job->value);
}

static const char *const op_event[] = { "complete", "fail", "retry", "retry",
					"release", "defer", "abandon" };

/*
 * The queue's side of an outcome: debug when the processor logged the
 * outcome itself (own_log), unless the processor never ran the job
 * (malformed or deferred).
 */
static void log_settled(const struct queue_outcome *o,
			const struct worker_job *job)
{
	enum log_level level = !job->w->proc->own_log || job->q.malformed ||
				       job->q.deferred ? LOG_INFO : LOG_DEBUG;

	if (o->code < 0) {
		log_event(LOG_WARN, job->q.id, "lock-lost",
			  "outcome dropped: the job is no longer ours (code %d)",
			  o->code);
		return;
	}
	switch (o->op) {
	case QUEUE_COMPLETE:
	case QUEUE_RELEASE:
		log_event(level, job->q.id, op_event[o->op], "%s",
			  o->op == QUEUE_COMPLETE ? "completed"
						  : "released to wait");
		break;
	case QUEUE_FAIL:
		log_event(level, job->q.id, "fail", "failed: %s",
			  job->value);
		break;
	case QUEUE_DEFER:
		log_event(LOG_INFO, job->q.id, op_event[o->op],
			  "delayed %lld ms, attempt %d not counted: %s",
			  o->delay_ms, job->q.attempts_made + 1, job->value);
		break;
	default:
		log_event(level, job->q.id, "retry",
			  "attempt %d failed, retry in %lld ms: %s",
			  job->q.attempts_made + 1, o->delay_ms, job->value);
	}
}

static void outcome_release(struct queue_outcome *o)
{
	free(o->value);
	free(o->stacktrace);
}

/* A job that cannot run is failed without calling the processor. */
static void start_job(struct worker *w, struct worker_job *job)
{
	log_event(w->proc->own_log ? LOG_DEBUG : LOG_INFO, job->q.id, "active",
		  "claimed (attempt %d of %d)", job->q.attempts_made + 1,
		  job->q.attempts > 0 ? job->q.attempts : 1);
	if (job->q.malformed || job->q.deferred) {
		metrics_loop_failed(metrics_default(), job->q.malformed,
				    !job->q.malformed);
		worker_job_fail(job, ERR_INVALID,
				job->q.malformed ? job->q.malformed
						 : job->q.deferred,
				WORKER_FAIL_UNRECOVERABLE);
	} else
		w->proc->start(w->ctx, job);
}

static void adopt_jobs(struct worker *w, struct queue_job *jobs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct worker_job *job = xcalloc(1, sizeof(*job));

		job->w = w;
		job->q = jobs[i];
		w->slots[w->nslots++] = job;
		atomic_init(&job->phase, JOB_NEW);
		if (w->cancel_deadline) {
			/* taken by a step sent before the grace ran out: give
			 * it straight back, never started, so never reported */
			job_move(job, JOB_RELEASE_REPORTED);
			pending_push(w, job);
			continue;
		}
		job_move(job, JOB_RUNNING);
		start_job(w, job);
	}
	free(jobs);
}

/*
 * A parent whose completion the queue refused (-4: children pending, -9: a
 * child failed it) fails instead, with BullMQ's worker's reasons: the
 * first may be retried, the second is unrecoverable.
 */
static void refuse_completion(struct worker *w, struct worker_job *job,
			      int code)
{
	struct buf b = BUF_INIT;

	if (code == -4)
		buf_addf(&b, NULL, "Job %s has pending dependencies. "
			 "moveToFinished", job->q.id);
	else
		buf_addf(&b, NULL, "Cannot complete job %s because it has at "
			 "least one failed child. moveToFinished", job->q.id);
	free(job->value);
	job->value = buf_detach(&b, NULL);
	job->failed = 1;
	job->kind = ERR_CONFLICT;
	job->mode = code == -4 ? WORKER_FAIL_RETRY : WORKER_FAIL_UNRECOVERABLE;
	log_event(LOG_WARN, job->q.id, "fail", "%s", job->value);
	pending_push(w, job);
}

static void finish_batch(struct worker *w, int ok)
{
	size_t i;

	for (i = 0; i < w->nbatch; i++) {
		struct queue_outcome *o = &w->batch[i];
		struct worker_job *job = (struct worker_job *)
			((char *)o->job - offsetof(struct worker_job, q));

		if (ok == 0) {
			pending_push(w, job); /* lost: send again */
		} else if (ok == 1 && o->op == QUEUE_COMPLETE &&
			   (o->code == -4 || o->code == -9)) {
			refuse_completion(w, job, o->code);
		} else {
			if (ok == 1)
				log_settled(o, job);
			slot_remove(w, job);
			if (job_phase(job) == JOB_RELEASING) /* freed when */
				job_move(job, JOB_RELEASED_AWAITING); /* it reports */
			else
				job_free(job);
		}
		outcome_release(o);
	}
	w->nbatch = 0;
}

/*
 * What the health server reads from its own thread: when the loop last
 * turned (monotonic ms) and why the worker is draining (enum drain).
 */
enum drain { DRAIN_NONE, DRAIN_PAUSED, DRAIN_STOPPING };
static _Atomic long long last_turn_ms;
static _Atomic int drain_state;

static const char *const drain_reasons[] = {
	[DRAIN_NONE] = NULL,
	[DRAIN_PAUSED] = "draining: the queue is paused (safeurl resume "
			 "or Queue.resume() ends it)",
	[DRAIN_STOPPING] = "draining: shutting down (SIGTERM or SIGINT "
			   "received)",
};

/* The loop has turned within this long (it wakes at least every 10 s). */
#define LOOP_STUCK_MS 60000

/* Live probe: the loop turns. */
static int probe_loop(void *arg, struct err *e)
{
	long long now = clock_mono_ms(), last = atomic_load(&last_turn_ms);

	(void)arg;
	if (last && now - last > LOOP_STUCK_MS)
		return err_set(e, ERR_UNAVAILABLE, "the worker loop has not "
			       "turned for %lld ms: restart the worker and "
			       "report its log", now - last);
	return 0;
}

/* Readiness: not draining (shutting down, or the queue paused). */
static int probe_draining(void *arg, struct err *e)
{
	const char *why = drain_reasons[atomic_load(&drain_state)];

	(void)arg;
	return why ? err_set(e, ERR_UNAVAILABLE, "%s", why) : 0;
}

/* Dependency probe (the probe thread only): Redis answers a PING. */
struct redis_probe {
	const struct config *cfg;
	struct queue_producer *qp; /* NULL until needed, or after a failure */
};

static int probe_redis(void *arg, struct err *e)
{
	struct redis_probe *rp = arg;
	struct queue_params qp;

	if (!rp->qp) {
		queue_params_from_config(&qp, rp->cfg);
		if (queue_producer_open(&rp->qp, &qp, e))
			return -1;
	}
	if (!queue_producer_ping(rp->qp, e))
		return 0;
	queue_producer_close(rp->qp);
	rp->qp = NULL;
	return -1;
}

#define MAX_PROBES 8

/* /livez, /healthz and /metrics, when HEALTH_PORT is set. */
static int services_start(struct worker *w, struct redis_probe *rp,
			  struct metrics *m, struct health **out,
			  struct err *e)
{
	const struct http_probe live[] = {
		{ "loop", probe_loop, NULL, 1, NULL },
		{ "accepting", probe_draining, NULL, 0, NULL },
	};
	struct http_probe deps[MAX_PROBES];
	size_t n = 1;

	*out = NULL;
	if (!w->cfg->health_port)
		return 0;
	deps[0] = (struct http_probe){ "redis", probe_redis, rp, 0, NULL };
	if (w->proc->probes)
		n += w->proc->probes(w->ctx, deps + 1, MAX_PROBES - 1);
	*out = health_start(w->cfg->health_addr, w->cfg->health_port, live,
			    sizeof(live) / sizeof(live[0]), deps, n, m, e);
	if (!*out)
		return -1;
	log_event(LOG_INFO, NULL, "http", "serving /livez, /healthz and "
		  "/metrics on %s port %d", w->cfg->health_addr,
		  w->cfg->health_port);
	return 0;
}

static void on_step(void *arg, struct queue_outcome *outs, size_t nout,
		    struct queue_job *jobs, size_t njobs, long long next,
		    int paused, long long limit, int ok)
{
	struct worker *w = arg;

	(void)outs;
	(void)nout;
	w->step_busy = 0;
	finish_batch(w, ok);
	if (ok != 1) {
		w->want_take = ok == 0;
		return;
	}
	w->next_delayed = next;
	if (!w->stopping)
		atomic_store(&drain_state, paused ? DRAIN_PAUSED : DRAIN_NONE);
	if (paused || (int)njobs < w->asked)
		w->want_take = 0; /* drained: wait for the marker */
	if (limit > 0) {
		/* rate limited: take nothing until the window ends */
		w->limit_until = clock_mono_ms() + limit;
		w->want_take = 0;
		log_event(LOG_DEBUG, NULL, "limited",
			  "rate limited for %lld ms", limit);
	}
	adopt_jobs(w, jobs, njobs);
}

/* ms until the processor takes jobs again (0: it takes them now). */
static long held(struct worker *w)
{
	return w->proc->hold ? w->proc->hold(w->ctx) : 0;
}

static void send_step(struct worker *w)
{
	/* Slots whose outcome goes with this step are free once it returns:
	 * the reply settles them before it hands over the new jobs. */
	int take = w->stopping || held(w) ? 0 :
		   w->cap - w->nslots + (int)w->npending;
	size_t i;

	if (w->limit_until && clock_mono_ms() < w->limit_until)
		take = 0; /* rate limited: settle only */

	if (w->step_busy || !queue_ready(w->q))
		return;
	if (!w->npending && (!w->want_take || take <= 0))
		return;
	w->batch = xrealloc(w->batch, (w->npending + 1) * sizeof(*w->batch));
	for (i = 0; i < w->npending; i++)
		build_outcome(&w->batch[i], w->pending[i]);
	w->nbatch = w->npending;
	w->npending = 0;
	if (!w->want_take)
		take = 0;
	w->asked = take;
	/* Busy before the call: a connection that dies while writing runs
	 * on_step (ok = 0) before queue_step returns. */
	w->step_busy = 1;
	if (queue_step(w->q, w->batch, w->nbatch, take, on_step, w)) {
		w->step_busy = 0;
		finish_batch(w, 0);
	}
}

/* ---- waiting, timers ---- */

static void on_marker(void *arg, int woke)
{
	struct worker *w = arg;

	(void)woke;
	w->want_take = 1; /* on timeout too: delayed jobs may be due */
}

static void maybe_wait(struct worker *w)
{
	long long timeout = DRAIN_DELAY_MS;

	if (w->limit_until && clock_mono_ms() >= w->limit_until) {
		/* the rate limit's window ended: take now, whatever else
		 * waits (a BZPOPMIN may be outstanding for seconds) */
		w->limit_until = 0;
		w->want_take = 1;
		send_step(w);
		return;
	}
	if (w->stopping || w->want_take || w->nslots >= w->cap ||
	    queue_waiting(w->q) || w->limit_until)
		return; /* limited: next_wakeup() returns when it ends */
	if (w->next_delayed) {
		timeout = w->next_delayed - clock_wall_ms();
		if (timeout <= 0) {
			w->want_take = 1;
			return;
		}
		if (timeout > DRAIN_DELAY_MS)
			timeout = DRAIN_DELAY_MS;
	}
	queue_wait(w->q, (long)timeout, on_marker, w);
}

static void on_renewed(void *arg, char **ids, size_t n, int ok)
{
	struct worker *w = arg;
	size_t i;

	w->renew_busy = 0;
	for (i = 0; ok && i < n; i++)
		log_event(LOG_WARN, ids[i], "lock-lost",
			  "lock could not be renewed; another worker may "
			  "take the job");
	queue_ids_free(ids, n);
}

static void on_stalled(void *arg, char **ids, size_t n, int ok)
{
	struct worker *w = arg;
	size_t i;

	w->stalled_busy = 0;
	for (i = 0; ok && i < n; i++)
		log_event(LOG_WARN, ids[i], "stalled",
			  "stalled job moved back to wait");
	if (ok && n)
		w->want_take = 1;
	queue_ids_free(ids, n);
}

static void run_timers(struct worker *w, long long now)
{
	if (!queue_ready(w->q))
		return;
	if (now >= w->renew_at && !w->renew_busy) {
		struct queue_job **jobs = xcalloc(w->nslots + 1, sizeof(*jobs));
		int i;

		w->renew_at = now + w->lock_ms / 2;
		for (i = 0; i < w->nslots; i++)
			jobs[i] = &w->slots[i]->q;
		w->renew_busy = w->nslots > 0; /* before: see send_step */
		if (w->nslots > 0 &&
		    queue_renew(w->q, jobs, (size_t)w->nslots, on_renewed, w))
			w->renew_busy = 0;
		free(jobs);
	}
	if (now >= w->stalled_at && !w->stalled_busy) {
		w->stalled_at = now + w->stalled_ms;
		w->stalled_busy = 1;
		if (queue_check_stalled(w->q, on_stalled, w))
			w->stalled_busy = 0;
	}
}

/* ---- shutdown ---- */

static void begin_stop(struct worker *w, long long now)
{
	w->stopping = 1;
	atomic_store(&drain_state, DRAIN_STOPPING);
	w->deadline = now + w->cfg->shutdown_grace_ms;
	log_event(LOG_INFO, NULL, "stop",
		  "stopping: no new jobs; %d in flight get %d ms to finish",
		  w->nslots, w->cfg->shutdown_grace_ms);
}

/* Grace is over: cancel what still runs and release it to the queue. */
static void release_running(struct worker *w, long long now)
{
	int i;

	w->cancel_deadline = now + CANCEL_WAIT_MS;
	for (i = 0; i < w->nslots; i++) {
		struct worker_job *job = w->slots[i];
		int release;

		pthread_mutex_lock(&w->mu);
		release = job_phase(job) == JOB_RUNNING;
		if (release)
			job_move(job, JOB_RELEASING);
		pthread_mutex_unlock(&w->mu);
		if (!release)
			continue;
		atomic_store(&job->cancelled, 1);
		if (w->proc->cancel)
			w->proc->cancel(w->ctx, job);
		pending_push(w, job);
	}
}

/*
 * Done when nothing is held or unsent, or, whatever is left, GIVE_UP_MS
 * after the grace period (Redis unreachable or a processor ignoring its
 * cancel): the stalled check then recovers what we could not write.
 */
static int finished(const struct worker *w, long long now)
{
	if (!w->stopping)
		return 0;
	if (now >= w->deadline + GIVE_UP_MS)
		return 1;
	if (w->nslots || w->npending || w->step_busy)
		return 0;
	return w->unreported == 0 || now >= w->cancel_deadline;
}

/* After the loop: free what processors are done with; say what is lost. */
static void drop_leftovers(struct worker *w)
{
	size_t i, kept = 0;

	queue_free(w->q); /* a step in flight comes back as lost: pending */
	w->q = NULL;
	send_notes(w);
	collect_reports(w);
	if (w->npending)
		log_event(LOG_WARN, NULL, "stop",
			  "%zu outcome(s) not written to Redis; their jobs "
			  "go back to wait through the stalled check",
			  w->npending);
	for (i = 0; i < w->npending; i++) {
		struct worker_job *job = w->pending[i];

		if (job_phase(job) == JOB_RELEASING) {
			kept++; /* its processor may still touch it */
			continue;
		}
		slot_remove(w, job);
		job_free(job);
	}
	w->npending = 0;
	if (kept || w->unreported)
		log_event(LOG_WARN, NULL, "stop",
			  "%zu processor(s) did not stop when cancelled",
			  kept + (size_t)w->unreported);
}

/* ---- the loop ---- */

static long long next_wakeup(struct worker *w, long long now, long tick)
{
	long long t = tick;

	if (w->renew_at - now < t)
		t = w->renew_at - now;
	if (w->stalled_at - now < t)
		t = w->stalled_at - now;
	if (w->stopping && w->deadline > now && w->deadline - now < t)
		t = w->deadline - now;
	if (held(w) > 0 && held(w) < t)
		t = held(w);
	if (w->limit_until && w->limit_until - now < t)
		t = w->limit_until - now;
	return t < 0 ? 0 : t;
}

static void loop_once(struct worker *w)
{
	struct pollfd pfd[3];
	long long now = clock_mono_ms();
	long tick = queue_tick(w->q, now);
	int n;

	atomic_store(&last_turn_ms, now);
	if (queue_generation(w->q) != w->generation) {
		w->generation = queue_generation(w->q);
		w->want_take = 1;
	}
	if (stop_flag && !w->stopping)
		begin_stop(w, now);
	if (w->stopping && now >= w->deadline && !w->cancel_deadline)
		release_running(w, now);
	send_notes(w);
	collect_reports(w);
	send_step(w);
	maybe_wait(w);
	run_timers(w, now);
	if (finished(w, now))
		return;
	pfd[0].fd = w->wake_fd;
	pfd[0].events = POLLIN;
	n = 1 + queue_pollfds(w->q, pfd + 1, 2);
	if (poll(pfd, (nfds_t)n, (int)next_wakeup(w, now, tick)) < 0 &&
	    errno != EINTR)
		log_warn_errno("worker: poll");
	if (pfd[0].revents & POLLIN) {
		uint64_t count;

		if (read(w->wake_fd, &count, sizeof(count)) < 0 &&
		    errno != EAGAIN)
			log_warn_errno("worker: reading the wake-up counter");
	}
	queue_handle(w->q, pfd + 1, n - 1);
}

long worker_lease_ms(void)
{
	long long v = LEASE_MS;
#ifdef SAFEURL_TEST
	/* Test-only: a shorter lease keeps tests fast. */
	const char *s = getenv("SAFEURL_TEST_LOCK_MS");

	if (s && config_parse_int(s, 100, LEASE_MS, &v))
		v = LEASE_MS;
#endif
	return (long)v;
}

static void settings(struct worker *w)
{
	w->lock_ms = worker_lease_ms();
	w->stalled_ms = STALLED_MS;
#ifdef SAFEURL_TEST
	/* Test-only: a shorter stalled interval to keep tests fast. */
	{
		const char *s = getenv("SAFEURL_TEST_STALLED_MS");
		long long v;

		if (s && !config_parse_int(s, 100, STALLED_MS, &v))
			w->stalled_ms = (long)v;
	}
#endif
}

static void worker_init(struct worker *w, const struct config *cfg,
			const struct worker_processor *proc)
{
	struct queue_params p;

	memset(w, 0, sizeof(*w));
	w->cfg = cfg;
	w->proc = proc;
	w->cap = cfg->worker_concurrency;
	w->slots = xcalloc((size_t)w->cap + 1, sizeof(*w->slots));
	w->loop_thread = pthread_self();
	w->want_take = 1;
	pthread_mutex_init(&w->mu, NULL);
	settings(w);
	queue_params_from_config(&p, cfg);
	p.lock_ms = w->lock_ms;
	p.stalled_ms = w->stalled_ms;
	p.max_stalled = MAX_STALLED;
	w->q = queue_new(&p);
	srand48((long)clock_wall_ms() ^ (long)getpid());
}

static void worker_release(struct worker *w)
{
	drop_leftovers(w);
	free(w->slots);
	free(w->pending);
	free(w->batch);
	pthread_mutex_destroy(&w->mu);
}

/*
 * A refused Redis password (WRONGPASS, NOAUTH) is configuration, not an
 * outage (SPEC §8): one blocking probe at start says which, and stops the
 * worker with ERR_INVALID (exit 78). Redis not answering is left to the
 * queue's reconnecting loop.
 */
static int refused_password(const struct config *cfg, struct err *e)
{
	struct queue_params p;
	struct queue_admin *qa = NULL;
	struct err probe = ERR_INIT;

	queue_params_from_config(&p, cfg);
	if (!queue_admin_open(&qa, &p, &probe)) {
		queue_admin_close(qa);
		return 0;
	}
	if (probe.kind != ERR_NOT_ALLOWED)
		return 0;
	return err_set(e, ERR_INVALID, "%s", probe.msg);
}

int worker_run(const struct config *cfg, const struct worker_processor *proc,
	       struct err *e)
{
	struct worker w;
	struct metrics *m = metrics_default();
	struct redis_probe rp = { cfg, NULL };
	struct health *services = NULL;
	struct metrics_watch *depth = NULL;
	int announced = 0, opened = 0, rc = -1;

	worker_init(&w, cfg, proc);
	w.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w.wake_fd < 0) {
		err_set_errno(e, ERR_INTERNAL, errno, "worker: eventfd");
		goto out;
	}
	if (proc->open && proc->open(&w.ctx, cfg, m, e))
		goto out;
	opened = 1;
	if (refused_password(cfg, e) || services_start(&w, &rp, m, &services, e) ||
	    (services && !(depth = metrics_watch_start(m, cfg, e))))
		goto out;
	stop_fd = w.wake_fd;
	log_event(LOG_INFO, NULL, "starting", "connecting to redis '%s:%d'",
		  cfg->redis_host, cfg->redis_port);
	while (!finished(&w, clock_mono_ms()) && !queue_failed(w.q, e)) {
		loop_once(&w);
		/* "consuming" only once the queue really answers */
		if (!announced && queue_ready(w.q)) {
			announced = 1;
			log_event(LOG_INFO, NULL, "start",
				  "consuming queue '%s' (prefix '%s') with "
				  "processor '%s', concurrency %d",
				  cfg->queue_name, cfg->bullmq_prefix,
				  proc->name, w.cap);
		}
	}
	rc = queue_failed(w.q, e) ? -1 : 0;
out:
	stop_fd = -1;
	metrics_watch_stop(depth);
	health_stop(services); /* before close: probes use the processor */
	queue_producer_close(rp.qp);
	if (opened && proc->close)
		proc->close(w.ctx);
	worker_release(&w);
	if (w.wake_fd >= 0)
		close(w.wake_fd);
	if (!rc)
		log_event(LOG_INFO, NULL, "stop", "worker stopped");
	return rc;
}
