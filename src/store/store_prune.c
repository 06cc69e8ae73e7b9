/*
 * store_prune.c - retention: delete old terminal scans with their results
 * and audit rows, in batches of one short transaction each, and give the
 * freed pages back (store.h says what is deleted and what never is).
 *
 * One batch is a query for the oldest prunable ids (a scan of scan_jobs,
 * outside any write transaction), then one store_batch of three DELETEs
 * per id, by key, each re-testing state and age: the scan's audit rows
 * and result before the scan they reference. Equality on keys only, so
 * both SQLite and tursodb use their indexes. A remote database gets two
 * requests per batch. Not here: when to prune (the worker's keeper, the CLI),
 * the SQL text (store_schema.c).
 */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>

#include "err.h"
#include "store_int.h"
#include "strvec.h"
#include "xalloc.h"
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

/* The picked ids, copied; a retried query starts over. */
static int id_row(void *arg, const struct store_row *row, struct err *e)
{
	struct strvec *ids = arg;

	if (!row->seq)
		strvec_clear(ids);
	if (row->ncols < 1 || row->cols[0].type != STORE_TEXT)
		return err_set(e, ERR_INTERNAL, "store: prune: an id is not text");
	strvec_push(ids, row->cols[0].s);
	return 0;
}

int store_prune_batch(struct store *st, long long cutoff, int limit,
		      long long *deleted, struct err *e)
{
	struct store_val pa[2] = { STORE_VAL_INT(cutoff), STORE_VAL_INT(limit) };
	struct store_stmt pick = { STORE_SQL_PRUNE_PICK, pa, 2, 0 };
	struct strvec ids = STRVEC_INIT;
	struct store_stmt *b = NULL;
	struct store_val *a = NULL;
	long long n = 0;
	size_t i;
	int rc = 0;

	*deleted = 0;
	if (limit < 1)
		return err_set(e, ERR_INVALID, "store: prune batch size %d: "
			       "expected at least 1", limit);
	if (store_query(st, NULL, &pick, id_row, &ids, e))
		rc = -1;
	else if (ids.nr) {
		/* per scan: audit rows and result before the row they name */
		a = xcalloc(2 * ids.nr, sizeof(*a));
		b = xcalloc(3 * ids.nr, sizeof(*b));
		for (i = 0; i < ids.nr; i++) {
			a[2 * i] = STORE_VAL_INT(cutoff);
			a[2 * i + 1] = STORE_VAL_TEXT(ids.items[i]);
			b[3 * i] = (struct store_stmt){ STORE_SQL_PRUNE_AUDIT,
							&a[2 * i], 2, 0 };
			b[3 * i + 1] = (struct store_stmt){ STORE_SQL_PRUNE_RESULTS,
							    &a[2 * i], 2, 0 };
			b[3 * i + 2] = (struct store_stmt){ STORE_SQL_PRUNE_JOBS,
							    &a[2 * i], 2, 0 };
		}
		if (store_batch(st, NULL, b, 3 * ids.nr, deleted_row, &n, e) < 0)
			rc = -1;
	}
	free(a);
	free(b);
	strvec_clear(&ids);
	*deleted = rc ? 0 : n;
	return rc;
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
