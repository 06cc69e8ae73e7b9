/*
 * reconcile - no scan lost when the queue loses jobs (SPEC §4, §5).
 *
 * The database knows every scan; the queue may lose jobs (a Redis failover
 * with asynchronous replication, FLUSHALL, a removed job). One pass looks
 * at the rows of one queue (column `queue`, "prefix:name") and at their
 * jobs on that queue, and acts on what has no job left:
 *
 *   FETCHING/ANALYZING whose lease lapsed more than one lease ago:
 *     job pending (waiting, prioritized, delayed, active) -> left alone: the
 *       queue redelivers it and the receiver takes the lease over;
 *     job finished (BullMQ failed it after too many stalls) or gone
 *       (removed, or lost by the queue) -> FAILED, error_code ABANDONED
 *       (SPEC §5: its fetch may have run; the scan ends, once);
 *   QUEUED, unchanged for grace_ms (a producer between its INSERT and its
 *   queue add is not raced), whose job is not pending -> requeued.
 *
 * Requeued: state_requeue (-> QUEUED, audited with the actor and why) and
 * then the job added through the queue's add script under the scan id, as
 * producers add it, or "<scan id>-requeue-v<version>" when a finished job
 * holds the scan id. A failed add leaves a QUEUED row that the next pass
 * finds again. Rows of other queues, and rows that record no queue
 * (written before migration 2, or by a producer that did not say), are
 * never touched.
 *
 * Not here: when passes run (the worker's keeper, `safeurl requeue
 * --stale`), the SQL (store_schema.c), the Lua (queue_lua/add.lua).
 */
#ifndef SAFEURL_RECONCILE_H
#define SAFEURL_RECONCILE_H

#include <stddef.h>

struct err;
struct queue_producer;
struct store;

/* What one pass looks at. Strings borrowed for the call. */
struct reconcile_opts {
	const char *queue;   /* "prefix:name" of the queue qp serves */
	const char *actor;   /* audit actor: the worker id, or "cli" */
	long long now;       /* Unix epoch ms */
	long long lease_ms;  /* a leased row is looked at once its lease
			      * lapsed more than this long ago */
	long long grace_ms;  /* a QUEUED row once unchanged this long */
	int leased;          /* look at FETCHING/ANALYZING rows */
	int queued;          /* look at QUEUED rows */
	size_t max_actions;  /* rows changed per pass, at most */
	size_t max_checks;   /* QUEUED rows looked up per pass, at most */
	/* Called with each scan id requeued (may be NULL). */
	void (*on_requeue)(void *arg, const char *scan_id);
	void *arg;
};

/* What a pass did; added to, so a caller may sum several passes. */
struct reconcile_stats {
	size_t checked;   /* rows whose job was looked up */
	size_t requeued;  /* rows given a new queue job */
	size_t abandoned; /* rows failed ABANDONED */
};

/*
 * Where the QUEUED half of the passes stands: ids after `after` come next
 * (NULL: from the start). init does not allocate; release frees.
 */
struct reconcile_cursor {
	char *after;
};

void reconcile_cursor_init(struct reconcile_cursor *c);
void reconcile_cursor_release(struct reconcile_cursor *c);

/*
 * One pass over o->queue's rows with store st and producer qp (both used
 * by this thread for the call). The QUEUED half goes on from *cur and
 * leaves it where it stopped, back at the start once it reached the last
 * row (*wrapped, may be NULL, is then 1). Returns 0, or -1 with e filled
 * when the database or Redis failed (what was done so far stays done and
 * counted).
 */
int reconcile_pass(struct store *st, struct queue_producer *qp,
		   const struct reconcile_opts *o, struct reconcile_cursor *cur,
		   struct reconcile_stats *stats, int *wrapped, struct err *e);

/*
 * Add the job of scan id for url (borrowed) to qp's queue as BullMQ job
 * bull_id, payload {"jobId","url"}, with the producers' attempts and
 * backoff; a no-op when the queue has that job id (*added 0; may be NULL).
 */
int reconcile_enqueue(struct queue_producer *qp, const char *bull_id,
		      const char *id, const char *url, int *added,
		      struct err *e);

#endif
