/*
 * store_sqlite.c - the embedded SQLite backend of struct store_ops.
 *
 * Opens a file: URL (relative or absolute, SQLite URI rules) with WAL,
 * synchronous=NORMAL, foreign keys and the configured busy timeout. Every
 * statement is prepared once, on first use, and kept for the life of the
 * connection; a batch is BEGIN IMMEDIATE ... COMMIT so that writers queue
 * on the busy handler instead of failing mid-transaction.
 *
 * Not here: retries (store_exec.c), SQL text (store_schema.c).
 */
#include "fmacros.h"

#include <sqlite3.h>
#include <stdlib.h>

#include "err.h"
#include "store_int.h"
#include "xalloc.h"
#include "banned.h"

enum { TX_BEGIN, TX_COMMIT, TX_ROLLBACK, TX_COUNT };

static const char *const tx_sql[TX_COUNT] = {
	"BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"
};

struct sqlite_store {
	sqlite3 *db;
	sqlite3_stmt *stmts[STORE_SQL_COUNT];
	sqlite3_stmt *tx[TX_COUNT];
};

/* Primary result code -> error kind; anything else is ERR_INTERNAL. */
static const struct {
	int code;
	enum err_kind kind;
} code_kinds[] = {
	{ SQLITE_BUSY, ERR_UNAVAILABLE },   { SQLITE_LOCKED, ERR_UNAVAILABLE },
	{ SQLITE_IOERR, ERR_UNAVAILABLE },  { SQLITE_PROTOCOL, ERR_UNAVAILABLE },
	{ SQLITE_FULL, ERR_UNAVAILABLE },   { SQLITE_NOTADB, ERR_INVALID },
	{ SQLITE_CORRUPT, ERR_INVALID },    { SQLITE_CANTOPEN, ERR_INVALID },
	{ SQLITE_PERM, ERR_INVALID },       { SQLITE_READONLY, ERR_INVALID },
	{ SQLITE_AUTH, ERR_INVALID },
};

static enum err_kind kind_of(int rc)
{
	size_t i;

	for (i = 0; i < sizeof(code_kinds) / sizeof(code_kinds[0]); i++)
		if (code_kinds[i].code == (rc & 0xff))
			return code_kinds[i].kind;
	return ERR_INTERNAL;
}

static int fail(sqlite3 *db, int rc, const char *what, struct err *e)
{
	return err_set(e, kind_of(rc), "store: %s: %s", what,
		       db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

static struct sqlite_store *impl(struct store *st)
{
	return st->impl;
}

static int prepare(sqlite3 *db, sqlite3_stmt **slot, const char *sql,
		   struct err *e)
{
	int rc;

	if (*slot)
		return 0;
	rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot,
				NULL);
	if (rc != SQLITE_OK)
		return fail(db, rc, "prepare", e);
	return 0;
}

static int bind_args(sqlite3 *db, sqlite3_stmt *stmt,
		     const struct store_stmt *q, struct err *e)
{
	const struct store_val *v;
	size_t i;
	int rc = SQLITE_OK;

	for (i = 0; i < q->nargs && rc == SQLITE_OK; i++) {
		v = &q->args[i];
		if (v->type == STORE_INT)
			rc = sqlite3_bind_int64(stmt, (int)i + 1, v->i);
		else if (v->type == STORE_TEXT)
			rc = sqlite3_bind_text(stmt, (int)i + 1, v->s, -1,
					       SQLITE_STATIC);
		else
			rc = sqlite3_bind_null(stmt, (int)i + 1);
	}
	return rc == SQLITE_OK ? 0 : fail(db, rc, "bind", e);
}

static int deliver(sqlite3_stmt *stmt, size_t seq, store_row_fn fn,
		   void *arg, struct err *e)
{
	struct store_val cols[STORE_MAX_COLS];
	struct store_row row = { cols, (size_t)sqlite3_column_count(stmt), seq };
	size_t i;

	if (row.ncols > STORE_MAX_COLS)
		return err_set(e, ERR_INTERNAL, "store: row of %zu columns",
			       row.ncols);
	for (i = 0; i < row.ncols; i++) {
		switch (sqlite3_column_type(stmt, (int)i)) {
		case SQLITE_NULL:
			cols[i] = STORE_VAL_NULL;
			break;
		case SQLITE_INTEGER:
		case SQLITE_FLOAT:
			cols[i] = STORE_VAL_INT(sqlite3_column_int64(stmt, (int)i));
			break;
		default:
			cols[i] = STORE_VAL_TEXT(
				(const char *)sqlite3_column_text(stmt, (int)i));
		}
	}
	return fn(arg, &row, e);
}

/* Step one statement to the end; rows to fn; *seq counts rows. */
static int run(sqlite3 *db, sqlite3_stmt *stmt, const struct store_stmt *q,
	       store_row_fn fn, void *arg, size_t *seq, struct err *e)
{
	int rc = SQLITE_DONE, ret = 0;

	if (q && bind_args(db, stmt, q, e))
		ret = -1;
	while (!ret && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (fn && deliver(stmt, *seq, fn, arg, e))
			ret = -1;
		(*seq)++;
	}
	if (!ret && rc != SQLITE_DONE)
		ret = fail(db, rc, "step", e);
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	return ret;
}

static int run_stmt(struct sqlite_store *s, const struct store_stmt *q,
		    store_row_fn fn, void *arg, size_t *seq, struct err *e)
{
	if ((unsigned)q->sql >= STORE_SQL_COUNT)
		return err_set(e, ERR_INTERNAL, "store: bad statement %d",
			       (int)q->sql);
	if (prepare(s->db, &s->stmts[q->sql], store_sql_text(q->sql), e))
		return -1;
	return run(s->db, s->stmts[q->sql], q, fn, arg, seq, e);
}

static int tx(struct sqlite_store *s, int which, struct err *e)
{
	size_t seq = 0;

	if (prepare(s->db, &s->tx[which], tx_sql[which], e))
		return -1;
	return run(s->db, s->tx[which], NULL, NULL, NULL, &seq, e);
}

static void rollback(struct sqlite_store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		tx(s, TX_ROLLBACK, NULL);
}

static int sq_batch(struct store *st, const struct store_stmt *stmts,
		    size_t n, store_row_fn fn, void *arg, struct err *e)
{
	struct sqlite_store *s = impl(st);
	size_t i, seq = 0, before;

	if (tx(s, TX_BEGIN, e))
		return -1;
	for (i = 0; i < n; i++) {
		before = seq;
		if (run_stmt(s, &stmts[i], fn, arg, &seq, e))
			goto fail;
		if ((stmts[i].flags & STORE_GUARD) && seq == before) {
			rollback(s);
			return 0;
		}
	}
	if (tx(s, TX_COMMIT, e))
		goto fail;
	return 1;
fail:
	rollback(s);
	return -1;
}

static int sq_query(struct store *st, const struct store_stmt *q,
		    store_row_fn fn, void *arg, struct err *e)
{
	size_t seq = 0;

	return run_stmt(impl(st), q, fn, arg, &seq, e);
}

static int sq_script(struct store *st, const char *sql, struct err *e)
{
	struct sqlite_store *s = impl(st);
	char *msg = NULL;
	int rc;

	rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		err_set(e, kind_of(rc), "store: script: %s",
			msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		rollback(s);
		return -1;
	}
	return 0;
}

static void sq_close(struct store *st)
{
	struct sqlite_store *s = impl(st);
	size_t i;

	if (!s)
		return;
	for (i = 0; i < STORE_SQL_COUNT; i++)
		sqlite3_finalize(s->stmts[i]);
	for (i = 0; i < TX_COUNT; i++)
		sqlite3_finalize(s->tx[i]);
	sqlite3_close(s->db);
	free(s);
	st->impl = NULL;
}

/*
 * Settings, then a read of the header: a non-database fails here.
 * auto_vacuum takes effect only in a file that has no table yet (a new
 * one): retention can then give pages back (store_vacuum); an older file
 * keeps NONE until an operator runs VACUUM once (docs/operations.md).
 */
static const char setup_sql[] =
	"PRAGMA auto_vacuum=INCREMENTAL;"
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=NORMAL;"
	"PRAGMA foreign_keys=ON;"
	"SELECT count(*) FROM sqlite_schema;";

static int sq_open(struct store *st, const char *url, struct err *e)
{
	struct sqlite_store *s = xcalloc(1, sizeof(*s));
	int rc;

	st->impl = s;
	rc = sqlite3_open_v2(url, &s->db, SQLITE_OPEN_READWRITE |
			     SQLITE_OPEN_CREATE | SQLITE_OPEN_URI |
			     SQLITE_OPEN_NOMUTEX, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_busy_timeout(s->db, st->busy_timeout_ms);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(s->db, setup_sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		err_set(e, kind_of(rc), "store: cannot open '%s': %s", url,
			s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		sq_close(st);
		return -1;
	}
	return 0;
}

const struct store_ops store_sqlite_ops = {
	.name = "sqlite",
	.open = sq_open,
	.batch = sq_batch,
	.query = sq_query,
	.script = sq_script,
	.close = sq_close,
};
