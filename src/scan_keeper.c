/*
 * scan_keeper.c - the pipeline's housekeeping: lease renewal for scans in
 * flight, reconciliation of our queue's rows with their queue jobs (the
 * sweep of abandoned rows, scans whose job was lost), the removal of
 * containers the engine could not remove while it was away, the periodic
 * sweep of dead workers' containers, the check that tells the worker to
 * take jobs again once the engine answers, retention; and the database
 * and engine probes the worker's health thread runs.
 *
 * Runs on its own thread with its own database handle and queue
 * connection (aux_store, aux_queue; the database probe shares aux_store
 * under aux_lock), so a scan thread blocked on its container never delays a
 * renewal. Not here: moving jobs on the queue, running containers.
 */
#include "fmacros.h"

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "clock.h"
#include "config.h"
#include "err.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "queue.h"
#include "reconcile.h"
#include "runtime.h"
#include "scan_int.h"
#include "state.h"
#include "store.h"
#include "xalloc.h"
#include "banned.h"

/* Retention (RETENTION_DAYS): rounds of at most RETENTION_BATCHES batches
 * of RETENTION_BATCH scans, hourly; a round that stopped at its cap goes
 * on at the next sweep. Between batches the aux lock is let go. */
#define RETENTION_BATCH 200
#define RETENTION_BATCHES 20
#define RETENTION_EVERY_MS 3600000LL
#define RETENTION_VACUUM_PAGES 2000

/* ---- lease renewal ---- */

static void renew_one(struct scan_ctx *ctx, struct scan_task *t,
		      long long now)
{
	struct state_actor who = { ctx->cfg->worker_id, now, ctx->lease_ms, NULL };
	long long version = atomic_load(&t->version);
	struct state_job j;
	struct err e = ERR_INIT;
	int rc;

	state_job_init(&j);
	j.id = xstrdup(t->id);
	j.version = version;
	j.state = STATE_FETCHING;
	j.worker_id = xstrdup(ctx->cfg->worker_id);
	pthread_mutex_lock(&ctx->aux_lock);
	rc = state_renew(ctx->aux_store, &who, &j, &e);
	pthread_mutex_unlock(&ctx->aux_lock);
	if (rc && (e.kind == ERR_CONFLICT || e.kind == ERR_NOT_ALLOWED) &&
	    atomic_load(&t->version) == version &&
	    !scan_task_move(t, TASK_OWNED, TASK_LOST)) {
		log_event(LOG_WARN, j.id, "lease",
			  "lease lost to another worker; stopping the scan");
		atomic_store(&t->cancel, 1);
	} else if (rc && e.kind != ERR_CONFLICT && e.kind != ERR_NOT_ALLOWED) {
		log_event(LOG_WARN, j.id, "lease", "lease renewal failed: %s",
			  e.msg);
	}
	state_job_release(&j);
}

/*
 * Renew every published lease. renew_lock keeps every task of the snapshot
 * alive (drop_task waits for it) while `lock` is held only to take the
 * snapshot, so a slow database never stalls the worker loop, which takes
 * `lock` to hand over jobs. t->id is set before a task is renewable.
 */
static void renew_all(struct scan_ctx *ctx)
{
	long long now = clock_wall_ms(); /* stored: the lease expiry */
	struct scan_task **snap = NULL, *t;
	size_t n = 0, cap = 0, i;

	pthread_mutex_lock(&ctx->renew_lock);
	pthread_mutex_lock(&ctx->lock);
	for (t = ctx->inflight; t; t = t->next_on) {
		if (scan_task_phase(t) != TASK_OWNED)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			snap = xrealloc(snap, cap * sizeof(*snap));
		}
		snap[n++] = t;
	}
	pthread_mutex_unlock(&ctx->lock);
	for (i = 0; i < n; i++)
		renew_one(ctx, snap[i], now);
	pthread_mutex_unlock(&ctx->renew_lock);
	free(snap);
}

/* ---- Redis, for reconciliation ---- */

/* The keeper's queue connection, opened on first use and after a failure. */
static int aux_queue_ready(struct scan_ctx *ctx, struct err *e)
{
	struct queue_params qp;

	if (ctx->aux_queue)
		return 0;
	queue_params_from_config(&qp, ctx->cfg);
	return queue_producer_open(&ctx->aux_queue, &qp, e);
}

static void aux_queue_failed(struct scan_ctx *ctx)
{
	queue_producer_close(ctx->aux_queue);
	ctx->aux_queue = NULL;
}

/* ---- reconciliation: the sweep of abandoned rows, lost jobs (SPEC §5) ---- */

/*
 * One pass over our queue's rows (reconcile.h): leased rows every lease,
 * QUEUED rows when `queued`. Counted in safeurl_reconciled_total and
 * safeurl_abandoned_total.
 */
static void reconcile(struct scan_ctx *ctx, int queued)
{
	struct reconcile_opts o;
	struct reconcile_stats s = { 0, 0, 0 };
	struct err e = ERR_INIT;

	memset(&o, 0, sizeof(o));
	o.queue = ctx->queue;
	o.actor = ctx->cfg->worker_id;
	o.now = clock_wall_ms();
	o.lease_ms = ctx->lease_ms;
	o.grace_ms = ctx->lease_ms;
	o.leased = 1;
	o.queued = queued;
	o.max_actions = SCAN_RECONCILE_MAX_ACTIONS;
	o.max_checks = SCAN_RECONCILE_MAX_CHECKS;
	pthread_mutex_lock(&ctx->aux_lock);
	if (aux_queue_ready(ctx, &e) ||
	    reconcile_pass(ctx->aux_store, ctx->aux_queue, &o,
			   &ctx->reconcile_at, &s, NULL, &e)) {
		log_event(LOG_WARN, NULL, "reconcile",
			  "reconciliation pass failed: %s", e.msg);
		aux_queue_failed(ctx);
	}
	pthread_mutex_unlock(&ctx->aux_lock);
	metrics_add(ctx->metrics, METRICS_RECONCILED, s.requeued);
	metrics_add(ctx->metrics, METRICS_ABANDONED, s.abandoned);
}

/* Containers the engine could not remove while it was away. */
static void remove_unremoved(struct scan_ctx *ctx)
{
	struct err e = ERR_INIT;

	if (runtime_remove_unremoved(ctx->rt, NULL, &e) < 0)
		log_event(LOG_DEBUG, NULL, "container",
			  "left containers not removed yet: %s", e.msg);
}

/* ---- retention ---- */

/*
 * One round of pruning; returns when the next round is due (monotonic).
 * The cut-off is taken once per round, from the wall clock (updated_at is
 * epoch ms).
 */
static long long retain(struct scan_ctx *ctx)
{
	long long now = clock_mono_ms(), cutoff, n = 1, total = 0, t0, longest = 0;
	struct err e = ERR_INIT;
	int i, rc = 0;

	cutoff = clock_wall_ms() - (long long)ctx->cfg->retention_days * 86400000LL;
	for (i = 0; i < RETENTION_BATCHES && n > 0 && !rc; i++) {
		pthread_mutex_lock(&ctx->aux_lock);
		t0 = clock_mono_ms();
		rc = store_prune_batch(ctx->aux_store, cutoff, RETENTION_BATCH,
				       &n, &e);
		if (clock_mono_ms() - t0 > longest)
			longest = clock_mono_ms() - t0;
		if (!rc && n > 0)
			rc = store_vacuum(ctx->aux_store, RETENTION_VACUUM_PAGES,
					  &e);
		pthread_mutex_unlock(&ctx->aux_lock);
		total += rc ? 0 : n;
	}
	if (rc)
		log_event(LOG_WARN, NULL, "retention", "prune failed: %s",
			  e.msg);
	if (total)
		log_event(LOG_INFO, NULL, "retention", "pruned %lld scan(s) "
			  "older than %d day(s) in %d batch(es), longest %lld ms",
			  total, ctx->cfg->retention_days, i, longest);
	return (n > 0 && !rc) ? now + ctx->lease_ms : now + RETENTION_EVERY_MS;
}

/*
 * Containers of this host's dead workers, and our own the engine created
 * after a run had given up on it: periodically, not only at start.
 */
static void sweep_dead(struct scan_ctx *ctx)
{
	struct err e = ERR_INIT;
	int removed = 0;

	if (atomic_load(&ctx->engine_away))
		return;
	if (runtime_sweep_dead(ctx->rt, &removed, &e) < 0)
		log_event(LOG_DEBUG, NULL, "sweep",
			  "leftover containers not swept yet: %s", e.msg);
	else if (removed)
		log_event(LOG_INFO, NULL, "sweep",
			  "removed %d leftover container(s) of dead workers "
			  "or stalled creates", removed);
}

/* ---- the thread ---- */

static int wait_ms(struct scan_ctx *ctx, long long ms)
{
	return clock_cond_pause(&ctx->keeper_wake, &ctx->lock, &ctx->keeper_stop, ms);
}

/* The engine was away: does it answer again? Then jobs may flow. */
static void check_engine(struct scan_ctx *ctx)
{
	struct err e = ERR_INIT;

	if (!atomic_load(&ctx->engine_away) || runtime_ping(ctx->rt, &e) < 0)
		return;
	atomic_store(&ctx->engine_away, 0);
	log_event(LOG_INFO, NULL, "engine", "engine answers again: taking jobs");
}

static void *keeper_main(void *arg)
{
	struct scan_ctx *ctx = arg;
	long long tick = ctx->lease_ms / 2, next_sweep = 0, next_renew = 0;
	long long every = ctx->cfg->reconcile_interval_ms, next_queued = 0;
	long long next_retain = 0;

	while (!wait_ms(ctx, atomic_load(&ctx->engine_away) ?
				     SCAN_ENGINE_RECHECK_MS : tick)) {
		check_engine(ctx);
		if (clock_mono_ms() >= next_renew) {
			renew_all(ctx);
			next_renew = clock_mono_ms() + tick;
		}
		if (clock_mono_ms() >= next_sweep ||
		    (every && clock_mono_ms() >= next_queued)) {
			int queued = every && clock_mono_ms() >= next_queued;

			reconcile(ctx, queued);
			if (queued)
				next_queued = clock_mono_ms() + every;
			remove_unremoved(ctx);
			sweep_dead(ctx);
			next_sweep = clock_mono_ms() + ctx->lease_ms;
		}
		if (ctx->cfg->retention_days && clock_mono_ms() >= next_retain)
			next_retain = retain(ctx);
	}
	return NULL;
}

int scan_keeper_start(struct scan_ctx *ctx, struct err *e)
{
	/* a wall-clock step must not stretch or cut the renewal interval */
	clock_cond_init(&ctx->keeper_wake);
	if (pthread_create(&ctx->keeper, NULL, keeper_main, ctx))
		return err_set(e, ERR_INTERNAL, "scan: cannot start the keeper");
	ctx->keeper_started = 1;
	return 0;
}

void scan_keeper_stop(struct scan_ctx *ctx)
{
	if (!ctx->keeper_started)
		return;
	pthread_mutex_lock(&ctx->lock);
	ctx->keeper_stop = 1;
	pthread_cond_broadcast(&ctx->keeper_wake);
	pthread_mutex_unlock(&ctx->lock);
	pthread_join(ctx->keeper, NULL);
	pthread_cond_destroy(&ctx->keeper_wake);
	ctx->keeper_started = 0;
}

/* ---- dependency probes (the worker's probe thread, health.h) ---- */

static int probe_database(void *arg, struct err *e)
{
	struct scan_ctx *ctx = arg;
	struct state_job j;
	int rc;

	state_job_init(&j);
	pthread_mutex_lock(&ctx->aux_lock);
	rc = state_get_job(ctx->aux_store, "", &j, e);
	pthread_mutex_unlock(&ctx->aux_lock);
	state_job_release(&j);
	return rc && e->kind != ERR_NOT_FOUND ? -1 : 0;
}

/* A run found the engine away: 503 at once, until the keeper's ping
 * finds it back (a stalled engine would hold a ping for its timeout). */
static int probe_engine(void *arg, struct err *e)
{
	struct scan_ctx *ctx = arg;

	if (atomic_load(&ctx->engine_away))
		return err_set(e, ERR_UNAVAILABLE, "engine: not answering "
			       "(a scan found it away; checked every %d ms)",
			       SCAN_ENGINE_RECHECK_MS);
	return runtime_ping(ctx->rt, e);
}

size_t scan_probes(void *arg, struct http_probe *out, size_t max)
{
	const struct http_probe mine[] = {
		{ "database", probe_database, arg, 0, NULL },
		{ "engine", probe_engine, arg, 0, NULL },
	};
	size_t i, n = sizeof(mine) / sizeof(mine[0]);

	for (i = 0; i < n && i < max; i++)
		out[i] = mine[i];
	return i;
}
