/* scan_int.h - declarations shared by scan.c and scan_keeper.c only. */
#ifndef SAFEURL_SCAN_INT_H
#define SAFEURL_SCAN_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "http.h"
#include "state.h"
#include "strvec.h"

struct config;
struct http_server;
struct metrics;
struct metrics_watch;
struct queue_producer;
struct runtime;
struct store;
struct worker_job;

/* One job in the pipeline. */
struct scan_task {
	struct scan_ctx *ctx;
	struct worker_job *job;
	char *id;               /* scan id once known; stable until freed */
	struct state_job row;   /* the scan row; only the task's thread */
	atomic_llong version;   /* row version the keeper may renew at */
	atomic_int renewable;   /* the row is ours and FETCHING/ANALYZING */
	atomic_int cancel;      /* non-zero: kill the container now */
	atomic_int lost;        /* the keeper found our lease taken */
	long long started_ms;
	struct scan_task *next;             /* pending list */
	struct scan_task *prev_on, *next_on; /* in-flight list */
};

struct scan_ctx {
	const struct config *cfg;
	long long lease_ms;
	struct strvec fetcher_args;
	struct runtime *rt;
	atomic_int engine_away; /* a run found the engine away; the keeper
				   clears it when the engine answers again */
	struct metrics *metrics;
	struct http_server *http;
	struct metrics_watch *watch; /* queue depth and up gauges */

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

	struct http_probe probes[5];

	/* the keeper's and the health probes' own connections */
	pthread_mutex_t aux_lock;
	struct store *aux_store;
	struct queue_producer *aux_queue; /* NULL until needed, or after a failure */
};

long long scan_now_ms(void);

/* While the engine is away: no new jobs, the keeper pings it this often. */
#define SCAN_ENGINE_RECHECK_MS 500

/* scan_keeper.c */
int scan_keeper_start(struct scan_ctx *ctx, struct err *e);
void scan_keeper_stop(struct scan_ctx *ctx);
int scan_health_start(struct scan_ctx *ctx, struct err *e);
/*
 * Is BullMQ job bull_id still waiting, delayed, prioritized, paused or
 * active? 1 yes, 0 no, -1 when Redis could not tell. Caller holds aux_lock.
 */
int scan_queue_pending(struct scan_ctx *ctx, const char *bull_id);

#endif
