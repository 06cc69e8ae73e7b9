/*
 * scan_keeper.c - the pipeline's housekeeping: lease renewal for scans in
 * flight, the sweep of abandoned rows, the removal of containers the
 * engine could not remove while it was away, the periodic sweep of dead
 * workers' containers, the check that tells the
 * worker to take jobs again once the engine answers, and the health probes.
 *
 * Runs on its own thread with its own database handle and queue
 * connection (aux_store, aux_queue, shared with the health probes under
 * aux_lock), so a scan thread blocked on its container never delays a
 * renewal. Not here: moving jobs on the queue, running containers.
 */
#include "fmacros.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "config.h"
#include "err.h"
#include "http.h"
#include "log.h"
#include "queue.h"
#include "runtime.h"
#include "scan_int.h"
#include "state.h"
#include "store.h"
#include "worker.h"
#include "xalloc.h"
#include "banned.h"

#define SWEEP_LIMIT 64

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
	    atomic_load(&t->renewable) && atomic_load(&t->version) == version) {
		log_event(LOG_WARN, j.id, "lease",
			  "lease lost to another worker; stopping the scan");
		atomic_store(&t->lost, 1);
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
	long long now = scan_now_ms();
	struct scan_task **snap = NULL, *t;
	size_t n = 0, cap = 0, i;

	pthread_mutex_lock(&ctx->renew_lock);
	pthread_mutex_lock(&ctx->lock);
	for (t = ctx->inflight; t; t = t->next_on) {
		if (!atomic_load(&t->renewable))
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

/* ---- Redis, for the sweep and the health probe ---- */

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

int scan_queue_pending(struct scan_ctx *ctx, const char *bull_id)
{
	enum queue_job_place where;
	struct err e = ERR_INIT;

	if (aux_queue_ready(ctx, &e) ||
	    queue_job_where(ctx->aux_queue, bull_id, &where, &e)) {
		log_event(LOG_WARN, bull_id, "sweep", "cannot look the job up: %s",
			  e.msg);
		aux_queue_failed(ctx);
		return -1;
	}
	return where == QUEUE_JOB_PENDING;
}

/* ---- the sweep of abandoned rows (SPEC §5) ---- */

/* The BullMQ job id of a scan: "<queue>-<id>-<ts>" for automatic ids. */
static char *bull_id(const struct scan_ctx *ctx, const char *scan_id)
{
	size_t qlen = strlen(ctx->cfg->queue_name);
	const char *p = scan_id + qlen + 1, *dash;

	if (strncmp(scan_id, ctx->cfg->queue_name, qlen) || scan_id[qlen] != '-')
		return xstrdup(scan_id);
	dash = strchr(p, '-');
	if (!dash || dash == p || strspn(p, "0123456789") != (size_t)(dash - p) ||
	    !dash[1] || strspn(dash + 1, "0123456789") != strlen(dash + 1))
		return xstrdup(scan_id);
	return xstrndup(p, (size_t)(dash - p));
}

/*
 * The BullMQ job that last carried the scan, as its last claim or takeover
 * recorded it; else the id derived from the scan id. New string.
 */
static char *queue_job_of(struct scan_ctx *ctx, const struct state_job *row)
{
	struct state_audit_list trail = { NULL, 0 };
	struct err e = ERR_INIT;
	char *id = NULL;
	size_t i;

	if (!state_get_audit(ctx->aux_store, row->id, &trail, &e)) {
		for (i = trail.nr; i-- > 0 && !id;) {
			json_t *d = trail.items[i].to == STATE_FETCHING ?
				json_loads(trail.items[i].detail ?
					   trail.items[i].detail : "", 0, NULL) :
				NULL;
			const char *q = json_string_value(json_object_get(d, "queue_job"));

			if (q)
				id = xstrdup(q);
			json_decref(d);
		}
	}
	state_audit_list_release(&trail);
	return id ? id : bull_id(ctx, row->id);
}

static void sweep_one(struct scan_ctx *ctx, struct state_job *row)
{
	struct state_actor who = { ctx->cfg->worker_id, scan_now_ms(),
				   ctx->lease_ms, NULL };
	char *bid = queue_job_of(ctx, row);
	struct err e = ERR_INIT;
	int pending = scan_queue_pending(ctx, bid);

	if (pending == 0) {
		if (state_fail(ctx->aux_store, &who, row, "ABANDONED",
			       "no live owner and no queue job left", &e))
			log_event(LOG_DEBUG, row->id, "sweep",
				  "not failed as abandoned: %s", e.msg);
		else
			log_event(LOG_WARN, row->id, "sweep",
				  "failed as ABANDONED: owner's lease lapsed "
				  "and the queue job %s is gone", bid);
	}
	free(bid);
}

static void sweep(struct scan_ctx *ctx)
{
	struct state_job_list list = { NULL, 0 };
	struct err e = ERR_INIT;
	size_t i;

	pthread_mutex_lock(&ctx->aux_lock);
	if (state_sweep(ctx->aux_store, scan_now_ms(), ctx->lease_ms,
			SWEEP_LIMIT, &list, &e))
		log_event(LOG_WARN, NULL, "sweep", "sweep failed: %s", e.msg);
	for (i = 0; i < list.nr; i++)
		sweep_one(ctx, &list.items[i]);
	pthread_mutex_unlock(&ctx->aux_lock);
	state_job_list_release(&list);
}

/* Containers the engine could not remove while it was away. */
static void remove_unremoved(struct scan_ctx *ctx)
{
	struct err e = ERR_INIT;

	if (runtime_remove_unremoved(ctx->rt, NULL, &e) < 0)
		log_event(LOG_DEBUG, NULL, "container",
			  "left containers not removed yet: %s", e.msg);
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
	struct timespec until;
	int stop;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&ctx->lock);
	while (!ctx->keeper_stop &&
	       pthread_cond_timedwait(&ctx->keeper_wake, &ctx->lock, &until) !=
		       ETIMEDOUT)
		;
	stop = ctx->keeper_stop;
	pthread_mutex_unlock(&ctx->lock);
	return stop;
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

	while (!wait_ms(ctx, atomic_load(&ctx->engine_away) ?
				     SCAN_ENGINE_RECHECK_MS : tick)) {
		check_engine(ctx);
		if (scan_now_ms() >= next_renew) {
			renew_all(ctx);
			next_renew = scan_now_ms() + tick;
		}
		if (scan_now_ms() >= next_sweep) {
			sweep(ctx);
			remove_unremoved(ctx);
			sweep_dead(ctx);
			next_sweep = scan_now_ms() + ctx->lease_ms;
		}
	}
	return NULL;
}

int scan_keeper_start(struct scan_ctx *ctx, struct err *e)
{
	pthread_cond_init(&ctx->keeper_wake, NULL);
	if (pthread_create(&ctx->keeper, NULL, keeper_main, ctx))
		return err_set(e, ERR_INTERNAL, "scan: cannot start the keeper");
	ctx->keeper_started = 1;
	return 0;
}

void scan_keeper_stop(struct scan_ctx *ctx)
{
	http_stop(ctx->http);
	ctx->http = NULL;
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

/* ---- health probes ---- */

static int probe_redis(void *arg, struct err *e)
{
	struct scan_ctx *ctx = arg;
	int rc;

	pthread_mutex_lock(&ctx->aux_lock);
	rc = aux_queue_ready(ctx, e) || queue_producer_ping(ctx->aux_queue, e);
	if (rc)
		aux_queue_failed(ctx);
	pthread_mutex_unlock(&ctx->aux_lock);
	return rc ? -1 : 0;
}

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

/* The loop has turned within this long (it wakes at least every 10 s). */
#define LOOP_STUCK_MS 60000

static int probe_loop(void *arg, struct err *e)
{
	struct timespec ts;
	long long now, last = worker_last_turn_ms();

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (last && now - last > LOOP_STUCK_MS)
		return err_set(e, ERR_UNAVAILABLE, "the worker loop has not "
			       "turned for %lld ms: restart the worker and "
			       "report its log", now - last);
	return 0;
}

static int probe_draining(void *arg, struct err *e)
{
	const char *why = worker_draining();

	(void)arg;
	return why ? err_set(e, ERR_UNAVAILABLE, "%s", why) : 0;
}

static const struct http_probe probes[] = {
	{ "loop", probe_loop, NULL, 1 },
	{ "accepting", probe_draining, NULL, 0 },
	{ "redis", probe_redis, NULL, 0 },
	{ "database", probe_database, NULL, 0 },
	{ "engine", probe_engine, NULL, 0 },
};

#define NPROBES (sizeof(probes) / sizeof(probes[0]))

int scan_health_start(struct scan_ctx *ctx, struct err *e)
{
	size_t i;

	if (!ctx->cfg->health_port)
		return 0;
	for (i = 0; i < NPROBES; i++) {
		ctx->probes[i] = probes[i];
		ctx->probes[i].ctx = ctx;
	}
	ctx->http = http_start(ctx->cfg->health_addr, ctx->cfg->health_port,
			       ctx->probes, NPROBES, ctx->metrics, e);
	if (!ctx->http)
		return -1;
	log_event(LOG_INFO, NULL, "http", "serving /livez, /healthz and /metrics on %s port %d",
		  ctx->cfg->health_addr, ctx->cfg->health_port);
	return 0;
}
