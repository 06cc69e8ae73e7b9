/*
 * store_fixture.h - a real SQLite database in a private temp directory for
 * the store and state unit tests, plus checks run on the raw file.
 *
 * Header-only (static inline) because every tests/unit/test_*.c is its own
 * program.
 */
#ifndef SAFEURL_STORE_FIXTURE_H
#define SAFEURL_STORE_FIXTURE_H

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "err.h"
#include "state.h"
#include "store.h"

struct fixture {
	char dir[64];
	char path[128];
	char url[160];
	struct config cfg;
	struct store *st;
};

/* Settings for tests: short busy timeout, a few quick retries. */
static inline void fixture_config(struct fixture *f, char *url)
{
	memset(&f->cfg, 0, sizeof(f->cfg));
	f->cfg.turso_url = url;
	f->cfg.db_busy_timeout_ms = 2000;
	f->cfg.db_retry_attempts = 5;
	f->cfg.db_retry_max_ms = 5000;
}

/* Make the directory and configure (do not open) file:<dir>/test.db. */
static inline void fixture_init(struct fixture *f)
{
	snprintf(f->dir, sizeof(f->dir), "/tmp/safeurl-unit.XXXXXX");
	if (!mkdtemp(f->dir))
		abort();
	snprintf(f->path, sizeof(f->path), "%s/test.db", f->dir);
	snprintf(f->url, sizeof(f->url), "file:%s", f->path);
	fixture_config(f, f->url);
	f->st = NULL;
}

static inline struct store *fixture_open(struct fixture *f)
{
	struct err e = ERR_INIT;

	f->st = store_open(&f->cfg, &e);
	if (!f->st) {
		fprintf(stderr, "fixture: %s\n", e.msg);
		abort();
	}
	return f->st;
}

static inline void fixture_done(struct fixture *f)
{
	char cmd[128];

	store_close(f->st);
	f->st = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		abort();
}

/* cmocka setup: a fixture (not opened) in *state. */
static inline int fixture_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	fixture_init(f);
	*state = f;
	return 0;
}

/* cmocka teardown: close, remove the directory, free. */
static inline int fixture_teardown(void **state)
{
	fixture_done(*state);
	free(*state);
	return 0;
}

/* One integer from sql on a raw connection to the file; -1 on error. */
static inline long long raw_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *stmt = NULL;
	long long v = -1;

	if (sqlite3_open(path, &db) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK &&
	    sqlite3_step(stmt) == SQLITE_ROW)
		v = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return v;
}

/* sql on a raw connection; 0 or the SQLite error code. */
static inline int raw_exec(const char *path, const char *sql)
{
	sqlite3 *db;
	int rc = sqlite3_open(path, &db);

	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

/*
 * Rows breaking "every state change has its audit row and the reverse":
 * audit count != version + 1, newest audit row not matching the row,
 * COMPLETED without a result or a result without COMPLETED, audit rows of
 * no job. 0 when the database is consistent.
 */
static inline long long fixture_inconsistencies(const char *path)
{
	return raw_int(path,
		"SELECT (SELECT count(*) FROM scan_jobs j WHERE"
		" (SELECT count(*) FROM audit_logs a WHERE a.job_id = j.id)"
		"  != j.version + 1"
		" OR (SELECT max(version) FROM audit_logs a WHERE a.job_id = j.id)"
		"  != j.version"
		" OR (SELECT to_state FROM audit_logs a WHERE a.job_id = j.id"
		"  ORDER BY version DESC LIMIT 1) != j.state"
		" OR (j.state = 'COMPLETED') != EXISTS (SELECT 1 FROM scan_results r"
		"  WHERE r.job_id = j.id))"
		" + (SELECT count(*) FROM audit_logs a WHERE NOT EXISTS"
		"  (SELECT 1 FROM scan_jobs j WHERE j.id = a.job_id))");
}

/* A plausible fetcher result; strings borrowed from static storage. */
static inline struct state_result fixture_result(void)
{
	static char verdict[] = "safe", final_url[] = "https://example.com/",
		    type[] = "text/html",
		    json[] = "{\"ok\":true,\"verdict\":\"safe\"}";
	struct state_result r;

	state_result_init(&r);
	r.verdict = verdict;
	r.risk_score = 7;
	r.http_status = 200;
	r.final_url = final_url;
	r.content_type = type;
	r.content_length = 1234;
	r.result_json = json;
	return r;
}

#endif
