/*
 * store_int.h - private to store_*.c: the backend vtable and struct store.
 *
 * Two backends implement struct store_ops: embedded SQLite
 * (store_sqlite.c) and remote libSQL over HTTP (store_libsql.c). The
 * operations are whole units of work, not begin/exec/commit steps, so that
 * the remote backend sends each as one request:
 *
 *  - batch: run the statements in order inside one transaction; stop and
 *    roll back when a STORE_GUARD statement returns no row (return 0) or
 *    anything fails (return -1); commit and return 1 otherwise. Version
 *    conflicts are read from RETURNING rows, never from affected-row
 *    counts. The remote backend sends one conditional batch: BEGIN, the
 *    guard, a check step that fails when the guard changed nothing
 *    (`SELECT CASE WHEN changes() = 0 THEN json('')`, "malformed JSON" on
 *    SQLite 3.40 and tursodb 0.7), the other statements, COMMIT if all
 *    went well, ROLLBACK otherwise (see store_libsql.c). Its rows reach the
 *    callback after the server has committed.
 *  - query: one read-only statement, rows to the callback.
 *  - script: a multi-statement SQL text run as is (migrations, which carry
 *    their own BEGIN/COMMIT); a failure leaves no transaction open.
 *
 * Backends classify failures: ERR_UNAVAILABLE for transient ones (busy,
 * locked, I/O, unreachable), which store_exec.c retries; ERR_INVALID for a
 * database that cannot be used (not a database, corrupt, cannot open);
 * ERR_INTERNAL for constraint and logic errors.
 */
#ifndef SAFEURL_STORE_INT_H
#define SAFEURL_STORE_INT_H

#include "store.h"

#define STORE_MAX_COLS 16 /* widest row any statement returns */

struct store_ops {
	const char *name;
	int rowid_only; /* no WITHOUT ROWID tables: migrations say so */
	/* Connect to url (borrowed) and set st->impl; -1 leaves nothing open. */
	int (*open)(struct store *st, const char *url, struct err *e);
	int (*batch)(struct store *st, const struct store_stmt *stmts,
		     size_t n, store_row_fn fn, void *arg, struct err *e);
	int (*query)(struct store *st, const struct store_stmt *q,
		     store_row_fn fn, void *arg, struct err *e);
	int (*script)(struct store *st, const char *sql, struct err *e);
	/* Free st->impl (NULL is fine). */
	void (*close)(struct store *st);
};

struct store {
	const struct store_ops *ops;
	void *impl;
	int busy_timeout_ms;
	int retry_attempts;
	int retry_max_ms;
	unsigned long long rng; /* jitter state */
	int applied;            /* migrations applied through this handle */
	const char *auth_token; /* borrowed, set only while store_open runs */
#ifdef SAFEURL_TEST
	long long calls;      /* backend calls since store_open returned */
	int counting;         /* 0 while store_open runs */
	long long fail_at;    /* SAFEURL_TEST_FAIL_STORE_CALL */
	long long fail_count; /* SAFEURL_TEST_FAIL_STORE_COUNT */
#endif
};

extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_libsql_ops;

/* ---- store_exec.c: how every call runs ---- */

/* Seed st's jitter and read the test hooks; before the first call. */
void store_exec_init(struct store *st);
/* The backend's open of url (borrowed), retried like every other call. */
int store_exec_open(struct store *st, const char *url, struct err *e);
/* A multi-statement script, retried like every other call. */
int store_script(struct store *st, const char *sql, struct err *e);

#endif
