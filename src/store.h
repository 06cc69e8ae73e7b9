/*
 * store - the scan database: open by URL, migrate, atomic batches, queries.
 *
 * The unit of work is a batch: a list of parameterised statements, named by
 * id (the SQL text lives in store_schema.c, shared by every backend), run
 * atomically. A statement flagged STORE_GUARD (an `UPDATE ... WHERE id=?
 * AND version=? RETURNING ...` or an `INSERT ... ON CONFLICT DO NOTHING
 * RETURNING ...`) must return a row, or the whole batch is abandoned and
 * rolled back: that is how optimistic locking is detected, from RETURNING
 * rows and never from change counts. A remote backend sends a batch as one
 * request, so one state transition costs one round trip.
 *
 * Transient failures (busy, locked, I/O) are retried here with exponential
 * backoff and full jitter, bounded by DB_RETRY_ATTEMPTS and DB_RETRY_MAX_MS,
 * each retry logged as event "db_retry". Constraint and logic errors are
 * never retried.
 *
 * This module knows nothing of states or transitions (see state.h). A
 * struct store is used by one thread at a time.
 */
#ifndef SAFEURL_STORE_H
#define SAFEURL_STORE_H

#include <stddef.h>

struct config;
struct err;
struct store;

/* Every statement the programs run; the text is in store_schema.c. */
enum store_sql {
	STORE_SQL_JOB_CREATE,   /* guard: new QUEUED row, RETURNING job */
	STORE_SQL_JOB_MOVE,     /* guard: versioned transition, RETURNING job */
	STORE_SQL_JOB_RENEW,    /* guard: owner extends its lease, RETURNING job */
	STORE_SQL_AUDIT_ADD,    /* one audit_logs row */
	STORE_SQL_RESULT_ADD,   /* one scan_results row */
	STORE_SQL_JOB_GET,      /* the job row by id */
	STORE_SQL_RESULT_GET,   /* the result row by job id */
	STORE_SQL_AUDIT_GET,    /* a job's audit rows, oldest first */
	STORE_SQL_JOB_SWEEP,    /* leased rows whose lease lapsed long ago */
	STORE_SQL_JOB_QUEUED,   /* QUEUED rows untouched since a cut-off */
	STORE_SQL_SCHEMA_VERSION, /* highest applied migration */
	STORE_SQL_JOB_LIST,     /* rows by state, error code, age (safeurl list) */
	STORE_SQL_JOB_COUNTS,   /* row counts by state and error code */
	STORE_SQL_PRUNE_COUNT,  /* what a prune would delete (store_prune.c) */
	STORE_SQL_PRUNE_PICK,   /* one prune batch: the oldest prunable ids; */
	STORE_SQL_PRUNE_AUDIT,  /* then, of those, the audit rows, */
	STORE_SQL_PRUNE_RESULTS, /* their results, */
	STORE_SQL_PRUNE_JOBS,   /* the scans, RETURNING id */
	STORE_SQL_COUNT
};

enum store_type { STORE_NULL, STORE_INT, STORE_TEXT };

/* One bound parameter or result column. Text is borrowed. */
struct store_val {
	enum store_type type;
	long long i;
	const char *s;
};

#define STORE_VAL_NULL ((struct store_val){ STORE_NULL, 0, NULL })
#define STORE_VAL_INT(x) ((struct store_val){ STORE_INT, (x), NULL })
/* Text, or NULL when s is NULL. */
#define STORE_VAL_TEXT(x) \
	((struct store_val){ (x) ? STORE_TEXT : STORE_NULL, 0, (x) })

#define STORE_GUARD 1u /* no row returned -> abandon the batch */

/* One statement of a batch or a query; args borrowed for the call. */
struct store_stmt {
	enum store_sql sql;
	const struct store_val *args;
	size_t nargs;
	unsigned flags;
};

/*
 * A result row, borrowed: valid only during the callback. seq is 0 for the
 * first row of an attempt; a retried attempt delivers its rows again from
 * 0, so a callback that collects rows starts over when it sees seq 0.
 */
struct store_row {
	const struct store_val *cols;
	size_t ncols;
	size_t seq;
};

/*
 * Called for every row a statement returns. Returns 0 to go on, -1 (with e
 * filled) to stop: a batch is then rolled back.
 */
typedef int (*store_row_fn)(void *arg, const struct store_row *row,
			    struct err *e);

/*
 * Open the database named by cfg->turso_url (file: = embedded SQLite;
 * libsql:// (https), https://, http:// = remote libSQL, authenticated
 * with cfg->turso_auth_token when set), apply cfg's busy timeout and
 * retry bounds, and bring the schema up to date. Returns a new store,
 * caller frees with store_close(), or NULL with e filled: ERR_INVALID for
 * a file that is not a usable database or cannot be opened, a refused
 * token or another 4xx answer; ERR_UNAVAILABLE when it stayed busy or
 * unreachable (no answer, 5xx) past the retry bounds. cfg is copied from.
 */
struct store *store_open(const struct config *cfg, struct err *e);
/*
 * The same for programs that only read or change existing scans: never
 * creates a file (a missing one is ERR_INVALID naming the path) and never
 * migrates (a database without the schema, or with an older or newer one,
 * is ERR_INVALID saying what to run).
 */
struct store *store_open_existing(const struct config *cfg, struct err *e);
void store_close(struct store *st);

/*
 * The schema is the one this build knows: ERR_INVALID when it is missing
 * or older (run `safeurl migrate`) or newer (a newer program migrated it:
 * upgrade this one, or restore the backup taken before the upgrade).
 * url (borrowed) names the database in the message.
 */
int store_schema_check(struct store *st, const char *url, struct err *e);

/*
 * Apply pending migrations, each once and atomically, safe against other
 * processes migrating at the same time. *applied (may be NULL) gets the
 * number applied through this handle so far, store_open's included;
 * *version (may be NULL) the schema version now.
 */
int store_migrate(struct store *st, int *applied, int *version,
		  struct err *e);
/* The highest migration this build knows. */
int store_schema_latest(void);

/*
 * Run n statements atomically, calling fn (may be NULL) for every row they
 * return. job_id (borrowed, may be NULL) names the scan in retry logs.
 * Returns 1 when committed, 0 when a guard returned no row (rolled back,
 * nothing changed), -1 on error (rolled back).
 */
int store_batch(struct store *st, const char *job_id,
		const struct store_stmt *stmts, size_t n, store_row_fn fn,
		void *arg, struct err *e);

/* Run one read-only statement, calling fn for every row. 0 or -1. */
int store_query(struct store *st, const char *job_id,
		const struct store_stmt *q, store_row_fn fn, void *arg,
		struct err *e);

/*
 * Column col of row (col < row->ncols): as an integer (NULL gives dflt), or
 * as a new string (NULL gives NULL), caller frees.
 */
long long store_col_int(const struct store_row *row, size_t col,
			long long dflt);
char *store_col_strdup(const struct store_row *row, size_t col);

/*
 * Retention (store_prune.c). A prune deletes terminal scans (COMPLETED,
 * FAILED, TIMED_OUT) whose updated_at is before a cut-off (epoch ms), with
 * their scan_results and audit_logs rows, oldest first, in batches: each
 * batch is a read of the oldest ids (no lock), then one short transaction
 * that deletes those rows by key (one request to a remote database), so
 * the write lock is held for one batch at a time, and briefly. A live scan
 * is never touched: the state and age are tested again inside the
 * deleting transaction (a scan retried in between stays).
 */
struct store_prune_count {
	long long scans, results, audits;
};

/* What a prune with this cut-off would delete now (a dry run). */
int store_prune_count(struct store *st, long long cutoff,
		      struct store_prune_count *out, struct err *e);
/*
 * Delete at most limit (1 ..) of the oldest such scans and their rows in
 * one transaction; *deleted gets the number of scans deleted (0: none
 * left). 0 or -1 (nothing deleted).
 */
int store_prune_batch(struct store *st, long long cutoff, int limit,
		      long long *deleted, struct err *e);
/*
 * Give up to pages free pages (of deleted rows) back to the file system
 * where the database allows it: SQLite files with auto_vacuum=INCREMENTAL
 * (new files get it; an older file keeps its free pages for reuse until a
 * VACUUM, docs/operations.md). A server that refuses the pragma is not an
 * error; nothing happens there.
 */
int store_vacuum(struct store *st, int pages, struct err *e);

/* Static SQL text of a statement (tests, diagnostics). */
const char *store_sql_text(enum store_sql sql);

#endif
