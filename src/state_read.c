/*
 * state_read.c - the state module's rows: init and release of jobs,
 * results and audit trails, parsing store rows into them, and the reads
 * (a job, its result, its audit trail, the abandoned-lease sweep).
 *
 * Not here: the move table and transitions (state.c, which calls these),
 * the states' names (state_names.c).
 */
#include "fmacros.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "state.h"
#include "state_int.h"
#include "store.h"
#include "xalloc.h"
#include "banned.h"

#define JOB_NCOLS 13
#define RESULT_NCOLS 10
#define AUDIT_NCOLS 8

void state_job_init(struct state_job *job)
{
	memset(job, 0, sizeof(*job));
	job->state = STATE_NONE;
}

void state_job_release(struct state_job *job)
{
	free(job->id);
	free(job->url);
	free(job->worker_id);
	free(job->error_code);
	free(job->error_message);
	free(job->queue);
	free(job->queue_job_id);
	state_job_init(job);
}

void state_result_init(struct state_result *res)
{
	memset(res, 0, sizeof(*res));
	res->content_length = -1;
}

void state_result_release(struct state_result *res)
{
	free(res->job_id);
	free(res->verdict);
	free(res->final_url);
	free(res->content_type);
	free(res->content_sha256);
	free(res->result_json);
	state_result_init(res);
}

static void audit_release(struct state_audit *a)
{
	free(a->job_id);
	free(a->actor);
	free(a->detail);
}

void state_audit_list_release(struct state_audit_list *list)
{
	size_t i;

	for (i = 0; i < list->nr; i++)
		audit_release(&list->items[i]);
	free(list->items);
	list->items = NULL;
	list->nr = 0;
}

void state_job_list_release(struct state_job_list *list)
{
	size_t i;

	for (i = 0; i < list->nr; i++)
		state_job_release(&list->items[i]);
	free(list->items);
	list->items = NULL;
	list->nr = 0;
}

static int check_cols(const struct store_row *row, size_t n, struct err *e)
{
	if (row->ncols != n)
		return err_set(e, ERR_INTERNAL,
			       "state: row of %zu columns, expected %zu",
			       row->ncols, n);
	return 0;
}

static int parse_job(const struct store_row *row, struct state_job *job,
		     struct err *e)
{
	if (check_cols(row, JOB_NCOLS, e))
		return -1;
	job->id = store_col_strdup(row, 0);
	job->url = store_col_strdup(row, 1);
	job->state = row->cols[2].type == STORE_TEXT ?
			     state_parse(row->cols[2].s) : STATE_NONE;
	job->version = store_col_int(row, 3, -1);
	job->attempts = (int)store_col_int(row, 4, 0);
	job->worker_id = store_col_strdup(row, 5);
	job->lease_expires_at = store_col_int(row, 6, 0);
	job->error_code = store_col_strdup(row, 7);
	job->error_message = store_col_strdup(row, 8);
	job->created_at = store_col_int(row, 9, 0);
	job->updated_at = store_col_int(row, 10, 0);
	job->queue = store_col_strdup(row, 11);
	job->queue_job_id = store_col_strdup(row, 12);
	return 0;
}

int state_job_row(void *arg, const struct store_row *row, struct err *e)
{
	struct state_job *job = arg;

	state_job_release(job);
	return parse_job(row, job, e);
}

/* Row callback: append to a state_job_list, starting over at seq 0. */
static int job_list_row(void *arg, const struct store_row *row,
			struct err *e)
{
	struct state_job_list *list = arg;

	if (row->seq == 0)
		state_job_list_release(list);
	list->items = xrealloc(list->items, (list->nr + 1) * sizeof(*list->items));
	state_job_init(&list->items[list->nr]);
	list->nr++;
	return parse_job(row, &list->items[list->nr - 1], e);
}

static int result_row(void *arg, const struct store_row *row, struct err *e)
{
	struct state_result *res = arg;

	state_result_release(res);
	if (check_cols(row, RESULT_NCOLS, e))
		return -1;
	res->job_id = store_col_strdup(row, 0);
	res->verdict = store_col_strdup(row, 1);
	res->risk_score = (int)store_col_int(row, 2, 0);
	res->http_status = (int)store_col_int(row, 3, 0);
	res->final_url = store_col_strdup(row, 4);
	res->content_type = store_col_strdup(row, 5);
	res->content_sha256 = store_col_strdup(row, 6);
	res->content_length = store_col_int(row, 7, -1);
	res->result_json = store_col_strdup(row, 8);
	res->created_at = store_col_int(row, 9, 0);
	return 0;
}

static enum state col_state(const struct store_row *row, size_t col)
{
	return row->cols[col].type == STORE_TEXT ?
		       state_parse(row->cols[col].s) : STATE_NONE;
}

static int audit_row(void *arg, const struct store_row *row, struct err *e)
{
	struct state_audit_list *list = arg;
	struct state_audit *a;

	if (row->seq == 0)
		state_audit_list_release(list);
	if (check_cols(row, AUDIT_NCOLS, e))
		return -1;
	list->items = xrealloc(list->items, (list->nr + 1) * sizeof(*list->items));
	a = &list->items[list->nr++];
	a->id = store_col_int(row, 0, 0);
	a->job_id = store_col_strdup(row, 1);
	a->from = col_state(row, 2);
	a->to = col_state(row, 3);
	a->version = store_col_int(row, 4, -1);
	a->actor = store_col_strdup(row, 5);
	a->detail = store_col_strdup(row, 6);
	a->created_at = store_col_int(row, 7, 0);
	return 0;
}

int state_get_job(struct store *st, const char *id, struct state_job *job,
		  struct err *e)
{
	struct store_val a[1] = { STORE_VAL_TEXT(id) };
	struct store_stmt q = { STORE_SQL_JOB_GET, a, 1, 0 };

	state_job_init(job);
	if (store_query(st, id, &q, state_job_row, job, e))
		return -1;
	if (!job->id)
		return err_set(e, ERR_NOT_FOUND, "state: scan '%s' not found",
			       id);
	return 0;
}

int state_get_result(struct store *st, const char *id,
		     struct state_result *res, struct err *e)
{
	struct store_val a[1] = { STORE_VAL_TEXT(id) };
	struct store_stmt q = { STORE_SQL_RESULT_GET, a, 1, 0 };

	state_result_init(res);
	if (store_query(st, id, &q, result_row, res, e))
		return -1;
	if (!res->job_id)
		return err_set(e, ERR_NOT_FOUND,
			       "state: scan '%s' has no result", id);
	return 0;
}

int state_get_audit(struct store *st, const char *id,
		    struct state_audit_list *list, struct err *e)
{
	struct store_val a[1] = { STORE_VAL_TEXT(id) };
	struct store_stmt q = { STORE_SQL_AUDIT_GET, a, 1, 0 };

	list->items = NULL;
	list->nr = 0;
	return store_query(st, id, &q, audit_row, list, e);
}

static int job_list(struct store *st, const struct store_stmt *q,
		    struct state_job_list *list, struct err *e)
{
	list->items = NULL;
	list->nr = 0;
	return store_query(st, NULL, q, job_list_row, list, e);
}

int state_sweep(struct store *st, const char *queue, long long now,
		long long lease_ms, size_t limit, struct state_job_list *list,
		struct err *e)
{
	struct store_val a[3] = { STORE_VAL_TEXT(queue),
				  STORE_VAL_INT(now - lease_ms),
				  STORE_VAL_INT((long long)limit) };
	struct store_stmt q = { STORE_SQL_JOB_SWEEP, a, 3, 0 };

	return job_list(st, &q, list, e);
}

int state_list_queued(struct store *st, const char *queue, long long before,
		      const char *after, size_t limit,
		      struct state_job_list *list, struct err *e)
{
	struct store_val a[4] = { STORE_VAL_TEXT(queue), STORE_VAL_INT(before),
				  STORE_VAL_TEXT(after ? after : ""),
				  STORE_VAL_INT((long long)limit) };
	struct store_stmt q = { STORE_SQL_JOB_QUEUED, a, 4, 0 };

	return job_list(st, &q, list, e);
}

int state_list(struct store *st, const struct state_filter *f,
	       size_t limit, struct state_job_list *list, struct err *e)
{
	struct store_val a[4] = {
		f->state == STATE_NONE ? STORE_VAL_NULL :
					 STORE_VAL_TEXT(state_name(f->state)),
		STORE_VAL_TEXT(f->error_code),
		STORE_VAL_INT(f->since),
		STORE_VAL_INT((long long)limit),
	};
	struct store_stmt q = { STORE_SQL_JOB_LIST, a, 4, 0 };

	return job_list(st, &q, list, e);
}

void state_count_list_release(struct state_count_list *list)
{
	size_t i;

	for (i = 0; i < list->nr; i++)
		free(list->items[i].error_code);
	free(list->items);
	list->items = NULL;
	list->nr = 0;
}

static int count_row(void *arg, const struct store_row *row, struct err *e)
{
	struct state_count_list *list = arg;
	struct state_count *c;
	char *name;

	if (row->seq == 0)
		state_count_list_release(list);
	if (row->ncols != 3)
		return err_set(e, ERR_INTERNAL, "state: count row has %zu "
			       "columns, expected 3", row->ncols);
	list->items = xrealloc(list->items,
			       (list->nr + 1) * sizeof(*list->items));
	c = &list->items[list->nr++];
	name = store_col_strdup(row, 0);
	c->state = state_parse(name);
	free(name);
	c->error_code = store_col_strdup(row, 1);
	c->count = store_col_int(row, 2, 0);
	return 0;
}

int state_counts(struct store *st, struct state_count_list *list,
		 struct err *e)
{
	struct store_stmt q = { STORE_SQL_JOB_COUNTS, NULL, 0, 0 };

	list->items = NULL;
	list->nr = 0;
	if (store_query(st, NULL, &q, count_row, list, e)) {
		state_count_list_release(list);
		return -1;
	}
	return 0;
}
