/* scan_int.h - declarations shared by scan.c, scan_keeper.c and scan_task.c only. */
#ifndef SAFEURL_SCAN_INT_H
#define SAFEURL_SCAN_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "http.h"
#include "lifecycle.h"
#include "reconcile.h"
#include "state.h"
#include "strvec.h"

struct config;
struct metrics;
struct queue_producer;
struct runtime;
struct store;
struct worker_job;

/* One job in the pipeline. */
struct scan_task {
	struct scan_ctx *ctx;
	struct worker_job *job;
	char *id;               /* scan id once known; stable until freed */
	struct state_queue_ref qref; /* our queue and this job's BullMQ id */
	struct state_job row;   /* the scan row; only the task's thread */
	atomic_llong version;   /* row version the keeper may renew at */
	atomic_int phase;       /* enum task_phase: only scan_task_move() */
	atomic_int cancel;      /* the runtime's kill request: non-zero, kill
				   the container now (set on LOST too) */
	long long started_ms;   /* clock_mono_ms */
	struct scan_task *next;             /* pending list */
	struct scan_task *prev_on, *next_on; /* in-flight list */
};

struct scan_ctx {
	const struct config *cfg;
	long long lease_ms;     /* worker_lease_ms() */
	char *queue;            /* "prefix:name": recorded in rows we claim */
	struct reconcile_cursor reconcile_at; /* the keeper's, under aux_lock */
	struct strvec fetcher_args;
	struct runtime *rt;
	atomic_int engine_away; /* a run found the engine away; the keeper
				   clears it when the engine answers again */
	struct metrics *metrics; /* the worker's, borrowed */

	/* Held by the keeper through a renewal pass and by a thread freeing a
	 * task, so the keeper can renew without holding `lock` across I/O. */
	pthread_mutex_t renew_lock;
	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t wake;
	struct scan_task *pending_head, *pending_tail;
	struct scan_task *inflight;
	int stopping;

	pthread_t *threads;
	int nthreads;
	pthread_t keeper;
	int keeper_started;
	int keeper_stop;             /* under lock */
	pthread_cond_t keeper_wake;

	/* the keeper's own connections (the database probe uses aux_store) */
	pthread_mutex_t aux_lock;
	struct store *aux_store;
	struct queue_producer *aux_queue; /* NULL until needed, or after a failure */
};

/* The task's phase (lifecycle.h), from any thread. */
enum task_phase scan_task_phase(struct scan_task *t);
/*
 * Move the task from `from` to `to`, from any thread: 0 done, -1 when the
 * task was not in `from` (nothing changed). A move the table does not
 * list is a bug: logged, and fatal in debug builds.
 */
int scan_task_move(struct scan_task *t, enum task_phase from,
		   enum task_phase to);

/* While the engine is away: no new jobs, the keeper pings it this often. */
#define SCAN_ENGINE_RECHECK_MS 500

/* scan_keeper.c */
int scan_keeper_start(struct scan_ctx *ctx, struct err *e);
void scan_keeper_stop(struct scan_ctx *ctx);
/* The database and engine probes for the worker's /healthz (worker.h). */
size_t scan_probes(void *ctx, struct http_probe *out, size_t max);

/* Reconciliation acts on at most this many rows, and looks up at most
 * this many QUEUED rows, per pass. */
#define SCAN_RECONCILE_MAX_ACTIONS 64
#define SCAN_RECONCILE_MAX_CHECKS 256

#endif
