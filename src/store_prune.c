/*
 * store_prune.c - retention: delete old terminal scans with their results
 * and audit rows, in batches of one short transaction each, and give the
 * freed pages back (store.h says what is deleted and what never is).
 *
 * One batch is one store_batch: three DELETEs that pick the same scans
 * (the oldest by updated_at, then id, inside the transaction), audit rows
 * and results before the scans they reference. A remote database gets it
 * as one request. Not here: when to prune (the worker's keeper, the CLI),
 * the SQL text (store_schema.c).
 */
#include "fmacros.h"

#include <stdio.h>

#include "err.h"
#include "store_int.h"
#include "banned.h"

static int count_row(void *arg, const struct store_row *row, struct err *e)
{
	struct store_prune_count *c = arg;

	(void)e;
	c->scans = store_col_int(row, 0, 0);
	c->results = store_col_int(row, 1, 0);
	c->audits = store_col_int(row, 2, 0);
	return 0;
}

int store_prune_count(struct store *st, long long cutoff,
		      struct store_prune_count *out, struct err *e)
{
	struct store_val a[1] = { STORE_VAL_INT(cutoff) };
	struct store_stmt q = { STORE_SQL_PRUNE_COUNT, a, 1, 0 };

	out->scans = out->results = out->audits = 0;
	return store_query(st, NULL, &q, count_row, out, e);
}

/* Rows of the scans' DELETE ... RETURNING: a retried attempt starts at 0. */
static int deleted_row(void *arg, const struct store_row *row,
		       struct err *e)
{
	(void)e;
	*(long long *)arg = (long long)row->seq + 1;
	return 0;
}

int store_prune_batch(struct store *st, long long cutoff, int limit,
		      long long *deleted, struct err *e)
{
	struct store_val a[2] = { STORE_VAL_INT(cutoff), STORE_VAL_INT(limit) };
	struct store_stmt b[3] = {
		{ STORE_SQL_PRUNE_AUDIT, a, 2, 0 },
		{ STORE_SQL_PRUNE_RESULTS, a, 2, 0 },
		{ STORE_SQL_PRUNE_JOBS, a, 2, 0 },
	};
	long long n = 0;

	*deleted = 0;
	if (limit < 1)
		return err_set(e, ERR_INVALID, "store: prune batch size %d: "
			       "expected at least 1", limit);
	if (store_batch(st, NULL, b, 3, deleted_row, &n, e) < 0)
		return -1;
	*deleted = n;
	return 0;
}

int store_vacuum(struct store *st, int pages, struct err *e)
{
	struct err tmp = ERR_INIT;
	char sql[64];

	snprintf(sql, sizeof(sql), "PRAGMA incremental_vacuum(%d)",
		 pages > 0 ? pages : 1);
	if (!store_script(st, sql, &tmp))
		return 0;
	/* a statement error: the database does not vacuum this way */
	if (tmp.kind == ERR_INTERNAL)
		return 0;
	if (e)
		*e = tmp;
	return -1;
}
