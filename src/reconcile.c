/*
 * reconcile.c - find the scans of one queue whose queue job is gone and
 * give them a job again, or end them (see reconcile.h for the rules).
 *
 * Each row costs one pipelined Redis lookup per job id it may be carried
 * by (the one its last claim, create or requeue recorded, and the scan id)
 * and, when it is acted on, one guarded database move and one add.
 */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "queue.h"
#include "reconcile.h"
#include "state.h"
#include "xalloc.h"
#include "banned.h"

/* As `safeurl submit` adds its jobs. */
#define ADD_ATTEMPTS 3
#define ADD_BACKOFF_MS 2000

/* One pass reads leased rows in pages of this many. */
#define LEASED_PAGE 64

void reconcile_cursor_init(struct reconcile_cursor *c)
{
	c->after = NULL;
}

void reconcile_cursor_release(struct reconcile_cursor *c)
{
	free(c->after);
	c->after = NULL;
}

int reconcile_enqueue(struct queue_producer *qp, const char *bull_id,
		      const char *id, const char *url, int *added,
		      struct err *e)
{
	struct buf data = BUF_INIT;
	struct queue_add add;
	int rc;

	buf_addstr(&data, "{\"jobId\":\"", NULL);
	buf_add_json_str(&data, id, strlen(id), NULL);
	buf_addstr(&data, "\",\"url\":\"", NULL);
	buf_add_json_str(&data, url, strlen(url), NULL);
	buf_addstr(&data, "\"}", NULL);
	memset(&add, 0, sizeof(add));
	add.job_id = bull_id;
	add.name = "scan";
	add.data = data.data;
	add.attempts = ADD_ATTEMPTS;
	add.backoff = QUEUE_BACKOFF_EXPONENTIAL;
	add.backoff_delay = ADD_BACKOFF_MS;
	rc = queue_add_job(qp, &add, added, NULL, e);
	buf_release(&data);
	return rc;
}

/* Where a row's job stands, looked up under every id it may have. */
struct lookup {
	enum queue_job_place recorded; /* the id the row recorded (or scan id) */
	enum queue_job_place by_scan;  /* the scan id */
	int pending;                   /* either is pending */
};

static int look_up(struct queue_producer *qp, const struct state_job *row,
		   struct lookup *l, struct err *e)
{
	const char *rec = row->queue_job_id ? row->queue_job_id : row->id;

	if (queue_job_where(qp, rec, &l->recorded, e))
		return -1;
	l->by_scan = l->recorded;
	if (strcmp(rec, row->id) &&
	    queue_job_where(qp, row->id, &l->by_scan, e))
		return -1;
	l->pending = l->recorded == QUEUE_JOB_PENDING ||
		     l->by_scan == QUEUE_JOB_PENDING;
	return 0;
}

/*
 * The row's job is gone (or finished without moving a QUEUED row): move
 * it to QUEUED under a job id free on the queue, then add that job.
 * 1 requeued, 0 left (someone moved it first, or no free id), -1 error.
 */
static int requeue(struct store *st, struct queue_producer *qp,
		   const struct reconcile_opts *o, struct state_job *row,
		   const struct lookup *l, const char *why, struct err *e)
{
	struct buf alt = BUF_INIT, msg = BUF_INIT;
	struct state_queue_ref ref = { o->queue, row->id };
	struct state_actor who = { o->actor, o->now, o->lease_ms, &ref };
	enum queue_job_place where = l->by_scan;
	char *jid = NULL; /* the new job's id: the move replaces *row */
	int rc = 0;

	if (where != QUEUE_JOB_GONE) {
		buf_addf(&alt, NULL, "%s-requeue-v%lld", row->id, row->version);
		ref.job_id = alt.data;
		if (queue_job_where(qp, alt.data, &where, e)) {
			rc = -1;
			goto out;
		}
	}
	if (where != QUEUE_JOB_GONE) {
		log_event(LOG_WARN, row->id, "reconcile", "jobs '%s' and '%s' "
			  "both finished without moving the scan; left %s",
			  row->id, ref.job_id, state_name(row->state));
		goto out;
	}
	ref.job_id = jid = xstrdup(ref.job_id);
	buf_addf(&msg, NULL, "%s; re-enqueued as job '%s' on '%s'", why,
		 ref.job_id, o->queue);
	if (state_requeue(st, &who, row, "QUEUE_JOB_LOST", msg.data, e)) {
		rc = e->kind == ERR_CONFLICT || e->kind == ERR_NOT_ALLOWED ?
			     0 : -1;
		if (!rc)
			log_event(LOG_DEBUG, row->id, "reconcile",
				  "not requeued: %s", e->msg);
		goto out;
	}
	if (reconcile_enqueue(qp, ref.job_id, row->id, row->url, NULL, e)) {
		char why_not[sizeof(e->msg)];

		snprintf(why_not, sizeof(why_not), "%s", e->msg);
		err_set(e, e->kind, "reconcile: scan '%s' requeued in the "
			"database but its job was not added (the next pass "
			"adds it): %s", row->id, why_not);
		rc = -1;
		goto out;
	}
	log_event(LOG_WARN, row->id, "reconcile", "%s", msg.data);
	if (o->on_requeue)
		o->on_requeue(o->arg, row->id);
	rc = 1;
out:
	free(jid);
	buf_release(&alt);
	buf_release(&msg);
	return rc;
}

/*
 * A leased row with no live owner whose job is not pending: BullMQ failed
 * it after too many stalls (gone = 0), or it was removed or lost (gone =
 * 1). SPEC §5: FAILED ABANDONED either way.
 */
static int abandon(struct store *st, const struct reconcile_opts *o,
		   struct state_job *row, int gone, struct err *e)
{
	struct state_actor who = { o->actor, o->now, o->lease_ms, NULL };
	const char *what = gone ? "is gone" : "finished";
	struct buf msg = BUF_INIT;
	int rc = 1;

	buf_addf(&msg, NULL, "no live owner and the queue job %s", what);
	if (state_fail(st, &who, row, "ABANDONED", msg.data, e)) {
		rc = e->kind != ERR_CONFLICT && e->kind != ERR_NOT_ALLOWED ? -1 : 0;
		if (!rc)
			log_event(LOG_DEBUG, row->id, "sweep",
				  "not failed as abandoned: %s", e->msg);
	} else {
		log_event(LOG_ERROR, row->id, "sweep", "failed as ABANDONED: "
			  "owner's lease lapsed and the queue job %s %s",
			  row->queue_job_id ? row->queue_job_id : row->id, what);
	}
	buf_release(&msg);
	return rc;
}

static size_t acted(const struct reconcile_stats *s,
		    const struct reconcile_stats *at_start)
{
	return s->requeued + s->abandoned - at_start->requeued -
	       at_start->abandoned;
}

static int pass_leased(struct store *st, struct queue_producer *qp,
		       const struct reconcile_opts *o,
		       struct reconcile_stats *s, struct err *e)
{
	const struct reconcile_stats start = *s;
	struct state_job_list list = { NULL, 0 };
	struct lookup l;
	size_t i;
	int rc;

	if (state_sweep(st, o->queue, o->now, o->lease_ms, LEASED_PAGE, &list,
			e))
		return -1;
	for (i = 0, rc = 0; !rc && i < list.nr &&
			    acted(s, &start) < o->max_actions; i++) {
		struct state_job *row = &list.items[i];

		if ((rc = look_up(qp, row, &l, e)))
			break;
		s->checked++;
		if (l.pending)
			continue;
		rc = abandon(st, o, row, l.recorded != QUEUE_JOB_FINISHED, e);
		s->abandoned += rc > 0;
		rc = rc < 0 ? -1 : 0;
	}
	state_job_list_release(&list);
	return rc;
}

static int pass_queued(struct store *st, struct queue_producer *qp,
		       const struct reconcile_opts *o,
		       struct reconcile_cursor *cur,
		       struct reconcile_stats *s, int *wrapped, struct err *e)
{
	const struct reconcile_stats start = *s;
	struct state_job_list page = { NULL, 0 };
	size_t i = 0, limit = o->max_checks ? o->max_checks : 1;
	struct lookup l;
	int rc;

	if (state_list_queued(st, o->queue, o->now - o->grace_ms, cur->after,
			      limit, &page, e))
		return -1;
	for (rc = 0; !rc && i < page.nr && acted(s, &start) < o->max_actions;
	     i++) {
		struct state_job *row = &page.items[i];

		if ((rc = look_up(qp, row, &l, e)))
			break;
		s->checked++;
		if (l.pending)
			continue;
		rc = requeue(st, qp, o, row, &l, "the queue job is gone", e);
		s->requeued += rc > 0;
		rc = rc < 0 ? -1 : 0;
	}
	/* Go on after the last row looked at; from the start after the end;
	 * where we were when no row was looked at. */
	if (i || !page.nr) {
		free(cur->after);
		cur->after = i < page.nr || page.nr == limit ?
				     xstrdup(page.items[i - 1].id) : NULL;
	}
	if (wrapped)
		*wrapped = !cur->after;
	state_job_list_release(&page);
	return rc;
}

int reconcile_pass(struct store *st, struct queue_producer *qp,
		   const struct reconcile_opts *o, struct reconcile_cursor *cur,
		   struct reconcile_stats *stats, int *wrapped, struct err *e)
{
	if (wrapped)
		*wrapped = 1;
	if (o->leased && pass_leased(st, qp, o, stats, e))
		return -1;
	if (o->queued && pass_queued(st, qp, o, cur, stats, wrapped, e))
		return -1;
	return 0;
}
