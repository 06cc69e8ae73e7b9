/*
 * store_schema.c - every piece of SQL the programs run, shared by all
 * backends: the versioned migrations that create the SPEC §4 schema, and
 * the statements behind enum store_sql.
 *
 * Migrations are a table {version, sql}. Each runs once, inside its own
 * BEGIN IMMEDIATE ... COMMIT together with the schema_migrations row that
 * records it, so a crash or a concurrent migrator never leaves half a
 * migration. Append new migrations; never edit an applied one.
 *
 * Not here: how statements are sent (store_sqlite.c), what the parameters
 * mean to the state machine (state.c, which builds the argument lists in
 * the order documented next to each statement).
 */
#include "fmacros.h"


#include "buf.h"
#include "clock.h"
#include "err.h"
#include "log.h"
#include "store_int.h"
#include "banned.h"

struct migration {
	int version;
	const char *sql;       /* embedded SQLite */
	const char *rowid_sql; /* backends with ops->rowid_only */
};

/*
 * Migration 1, with WITHOUT ROWID for the embedded backend and without it
 * for servers that do not index such tables (tursodb 0.7); the columns,
 * constraints and indexes are the same.
 */
#define MIGRATION_1(NO_ROWID) \
	"CREATE TABLE scan_jobs(\n" \
	"  id TEXT PRIMARY KEY,\n" \
	"  url TEXT NOT NULL,\n" \
	"  state TEXT NOT NULL CHECK (state IN ('QUEUED', 'FETCHING',\n" \
	"    'ANALYZING', 'COMPLETED', 'FAILED', 'TIMED_OUT')),\n" \
	"  version INTEGER NOT NULL,\n" \
	"  attempts INTEGER NOT NULL,\n" \
	"  worker_id TEXT,\n" \
	"  lease_expires_at INTEGER,\n" \
	"  error_code TEXT,\n" \
	"  error_message TEXT,\n" \
	"  created_at INTEGER NOT NULL,\n" \
	"  updated_at INTEGER NOT NULL)" NO_ROWID ";\n" \
	"CREATE INDEX scan_jobs_state_lease\n" \
	"  ON scan_jobs(state, lease_expires_at)\n" \
	"  WHERE state IN ('FETCHING', 'ANALYZING');\n" \
	"CREATE TABLE scan_results(\n" \
	"  job_id TEXT PRIMARY KEY REFERENCES scan_jobs(id),\n" \
	"  verdict TEXT NOT NULL,\n" \
	"  risk_score INTEGER NOT NULL,\n" \
	"  http_status INTEGER,\n" \
	"  final_url TEXT,\n" \
	"  content_type TEXT,\n" \
	"  content_sha256 TEXT,\n" \
	"  content_length INTEGER,\n" \
	"  result_json TEXT NOT NULL,\n" \
	"  created_at INTEGER NOT NULL)" NO_ROWID ";\n" \
	"CREATE TABLE audit_logs(\n" \
	"  id INTEGER PRIMARY KEY,\n" \
	"  job_id TEXT NOT NULL,\n" \
	"  from_state TEXT,\n" \
	"  to_state TEXT NOT NULL,\n" \
	"  version INTEGER NOT NULL,\n" \
	"  actor TEXT NOT NULL,\n" \
	"  detail TEXT,\n" \
	"  created_at INTEGER NOT NULL);\n" \
	"CREATE INDEX audit_logs_job ON audit_logs(job_id, version);\n"

/*
 * Migration 2: the queue that carries each scan ("prefix:name", written by
 * producers that know it and by every claim and takeover) and its BullMQ
 * job id, so that the sweep, takeovers and reconciliation act only on
 * their own queue's rows and find a row's job without parsing anything.
 * Rows written before it keep NULL in both: no worker's sweep or
 * reconciliation touches them until a claim records their queue.
 */
#define MIGRATION_2 \
	"ALTER TABLE scan_jobs ADD COLUMN queue TEXT;\n" \
	"ALTER TABLE scan_jobs ADD COLUMN queue_job_id TEXT;\n" \
	"CREATE INDEX scan_jobs_queue_state_lease\n" \
	"  ON scan_jobs(queue, state, lease_expires_at);\n"

/*
 * Migration 3: indexes over the live rows only, each shaped for its one
 * query: the sweep's (queue, lease) over leased rows, reconciliation's
 * (queue, id) over QUEUED ones. Migration 2's index held every row and
 * was rewritten at every move, and migration 1's lease index served a
 * sweep that no longer exists; together they made a scan's four moves
 * cost 17 % more instructions (bench_store under callgrind). Partial
 * index conditions keep to `=` or an IN list of at most two values,
 * which SQLite tests by comparisons; a longer list is built into an
 * ephemeral table each time a statement writes the row.
 */
#define MIGRATION_3 \
	"DROP INDEX scan_jobs_queue_state_lease;\n" \
	"DROP INDEX scan_jobs_state_lease;\n" \
	"CREATE INDEX scan_jobs_queue_lease ON scan_jobs(queue, lease_expires_at)\n" \
	"  WHERE state IN ('FETCHING', 'ANALYZING');\n" \
	"CREATE INDEX scan_jobs_queue_queued ON scan_jobs(queue, id)\n" \
	"  WHERE state = 'QUEUED';\n"

static const struct migration migrations[] = {
	{ 1, MIGRATION_1(" WITHOUT ROWID"), MIGRATION_1("") },
	{ 2, MIGRATION_2, MIGRATION_2 },
	{ 3, MIGRATION_3, MIGRATION_3 },
};

#define NMIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

static const char migrations_table[] =
	"CREATE TABLE IF NOT EXISTS schema_migrations(\n"
	"  version INTEGER PRIMARY KEY,\n"
	"  applied_at INTEGER NOT NULL)";

#define JOB_COLS                                                         \
	"id, url, state, version, attempts, worker_id, lease_expires_at, " \
	"error_code, error_message, created_at, updated_at, queue, " \
	"queue_job_id"

/* Terminal scans last changed before ?1: what retention may delete. */
#define PRUNABLE \
	"state IN ('COMPLETED', 'FAILED', 'TIMED_OUT') AND updated_at < ?1"
/* Scan ?2 is still prunable at cut-off ?1, looked up by key. */
#define STILL_PRUNABLE \
	"EXISTS (SELECT 1 FROM scan_jobs WHERE id = ?2 AND " PRUNABLE ")"

static const char *const sql_text[STORE_SQL_COUNT] = {
	/* ?1 id, ?2 url, ?3 now, ?4 queue, ?5 queue job id (may be NULL) */
	[STORE_SQL_JOB_CREATE] =
		"INSERT INTO scan_jobs(id, url, state, version, attempts,"
		" created_at, updated_at, queue, queue_job_id)"
		" VALUES (?1, ?2, 'QUEUED', 0, 0, ?3, ?3, ?4, ?5)"
		" ON CONFLICT(id) DO NOTHING RETURNING " JOB_COLS,
	/*
	 * ?1 new state, ?2 now, ?3 owner mode and ?5 lease mode (0 keep,
	 * 1 set to ?4 / ?6, 2 clear), ?4 actor, ?6 lease expiry, ?7 attempts
	 * increment, ?8 set error (0/1) to ?9 code and ?10 message; guarded
	 * by ?11 id, ?12 version read, ?13 state read, ?14 actor must own
	 * it (0/1, or 2: the owner, or anyone once the lease expired at
	 * ?2), ?15 lease must have expired at ?2 (0/1); ?16 record the queue
	 * (0/1) ?17 and job id ?18; ?19 the row must be of queue ?17 or of
	 * none (0/1).
	 */
	[STORE_SQL_JOB_MOVE] =
		"UPDATE scan_jobs SET state = ?1, version = version + 1,"
		" updated_at = max(?2, created_at)," /* wall clock stepped back */
		" worker_id = CASE ?3 WHEN 1 THEN ?4 WHEN 2 THEN NULL"
		"  ELSE worker_id END,"
		" lease_expires_at = CASE ?5 WHEN 1 THEN ?6 WHEN 2 THEN NULL"
		"  ELSE lease_expires_at END,"
		" attempts = attempts + ?7,"
		" error_code = CASE ?8 WHEN 1 THEN ?9 ELSE error_code END,"
		" error_message = CASE ?8 WHEN 1 THEN ?10"
		"  ELSE error_message END,"
		" queue = CASE ?16 WHEN 1 THEN ?17 ELSE queue END,"
		" queue_job_id = CASE ?16 WHEN 1 THEN ?18 ELSE queue_job_id END"
		" WHERE id = ?11 AND version = ?12 AND state = ?13"
		" AND (?14 = 0 OR worker_id = ?4 OR (?14 = 2 AND"
		"  (lease_expires_at IS NULL OR lease_expires_at <= ?2)))"
		" AND (?15 = 0 OR lease_expires_at IS NULL"
		"  OR lease_expires_at <= ?2)"
		" AND (?19 = 0 OR queue IS NULL OR queue = ?17)"
		" RETURNING " JOB_COLS,
	/* ?1 lease expiry, ?2 now, ?3 id, ?4 version read, ?5 owner */
	[STORE_SQL_JOB_RENEW] =
		"UPDATE scan_jobs SET lease_expires_at = ?1,"
		" updated_at = max(?2, created_at)"
		" WHERE id = ?3 AND version = ?4 AND worker_id = ?5"
		" AND state IN ('FETCHING', 'ANALYZING')"
		" RETURNING " JOB_COLS,
	/* ?1 job, ?2 from, ?3 to, ?4 version after, ?5 actor, ?6 detail,
	 * ?7 now */
	[STORE_SQL_AUDIT_ADD] =
		"INSERT INTO audit_logs(job_id, from_state, to_state, version,"
		" actor, detail, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	/* ?1 job .. ?10 now, in column order */
	[STORE_SQL_RESULT_ADD] =
		"INSERT INTO scan_results(job_id, verdict, risk_score,"
		" http_status, final_url, content_type, content_sha256,"
		" content_length, result_json, created_at)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	/* ?1 id */
	[STORE_SQL_JOB_GET] =
		"SELECT " JOB_COLS " FROM scan_jobs WHERE id = ?1",
	/* ?1 job id */
	[STORE_SQL_RESULT_GET] =
		"SELECT job_id, verdict, risk_score, http_status, final_url,"
		" content_type, content_sha256, content_length, result_json,"
		" created_at FROM scan_results WHERE job_id = ?1",
	/* ?1 job id */
	[STORE_SQL_AUDIT_GET] =
		"SELECT id, job_id, from_state, to_state, version, actor,"
		" detail, created_at FROM audit_logs WHERE job_id = ?1"
		" ORDER BY version, id",
	/* ?1 queue, ?2 lease expiry cut-off, ?3 row limit (a range of
	 * scan_jobs_queue_lease: the state term is that index's condition) */
	[STORE_SQL_JOB_SWEEP] =
		"SELECT " JOB_COLS " FROM scan_jobs"
		" WHERE queue = ?1 AND state IN ('FETCHING', 'ANALYZING')"
		" AND lease_expires_at < ?2 ORDER BY lease_expires_at LIMIT ?3",
	/* ?1 queue, ?2 updated_at cut-off, ?3 ids after this one, ?4 row
	 * limit (a range of scan_jobs_queue_queued, in id order) */
	[STORE_SQL_JOB_QUEUED] =
		"SELECT " JOB_COLS " FROM scan_jobs"
		" WHERE queue = ?1 AND state = 'QUEUED' AND updated_at < ?2"
		" AND id > ?3 ORDER BY id LIMIT ?4",
	[STORE_SQL_SCHEMA_VERSION] =
		"SELECT coalesce(max(version), 0) FROM schema_migrations",
	/*
	 * ?1 state or NULL for any, ?2 error code or NULL for any, ?3 rows
	 * changed at or after this time (epoch ms), ?4 row limit; newest
	 * change first
	 */
	[STORE_SQL_JOB_LIST] =
		"SELECT " JOB_COLS " FROM scan_jobs"
		" WHERE (?1 IS NULL OR state = ?1)"
		" AND (?2 IS NULL OR error_code = ?2)"
		" AND updated_at >= ?3"
		" ORDER BY updated_at DESC, id LIMIT ?4",
	[STORE_SQL_JOB_COUNTS] =
		"SELECT state, error_code, count(*) FROM scan_jobs"
		" GROUP BY state, error_code ORDER BY state, error_code",
	/* ?1 updated_at cut-off */
	[STORE_SQL_PRUNE_COUNT] =
		"SELECT count(*),"
		" (SELECT count(*) FROM scan_results WHERE job_id IN"
		"  (SELECT id FROM scan_jobs WHERE " PRUNABLE ")),"
		" (SELECT count(*) FROM audit_logs WHERE job_id IN"
		"  (SELECT id FROM scan_jobs WHERE " PRUNABLE "))"
		" FROM scan_jobs WHERE " PRUNABLE,
	/* ?1 updated_at cut-off, ?2 batch size: the oldest prunable ids,
	 * read before the deleting transaction (no write lock held) */
	[STORE_SQL_PRUNE_PICK] =
		"SELECT id FROM scan_jobs WHERE " PRUNABLE
		" ORDER BY updated_at, id LIMIT ?2",
	/* ?1 updated_at cut-off, ?2 one picked id: its rows if the scan is
	 * still prunable inside the transaction; equality on indexed keys
	 * only (tursodb 0.7 scans a table for `IN (subquery)`) */
	[STORE_SQL_PRUNE_AUDIT] =
		"DELETE FROM audit_logs WHERE job_id = ?2 AND " STILL_PRUNABLE,
	[STORE_SQL_PRUNE_RESULTS] =
		"DELETE FROM scan_results WHERE job_id = ?2 AND " STILL_PRUNABLE,
	[STORE_SQL_PRUNE_JOBS] =
		"DELETE FROM scan_jobs WHERE id = ?2 AND " PRUNABLE " RETURNING id",
};

const char *store_sql_text(enum store_sql sql)
{
	return (unsigned)sql < STORE_SQL_COUNT ? sql_text[sql] : NULL;
}

int store_schema_latest(void)
{
	return migrations[NMIGRATIONS - 1].version;
}

static int version_row(void *arg, const struct store_row *row, struct err *e)
{
	(void)e;
	*(long long *)arg = store_col_int(row, 0, 0);
	return 0;
}

static int read_version(struct store *st, int *version, struct err *e)
{
	struct store_stmt q = { STORE_SQL_SCHEMA_VERSION, NULL, 0, 0 };
	long long v = 0;

	if (store_query(st, NULL, &q, version_row, &v, e))
		return -1;
	*version = (int)v;
	return 0;
}

static int apply(struct store *st, const struct migration *m, struct err *e)
{
	struct buf script = BUF_INIT;
	int rc;

	buf_addf(&script, NULL,
		 "BEGIN IMMEDIATE;\n%s\n"
		 "INSERT INTO schema_migrations(version, applied_at)"
		 " VALUES (%d, %lld);\nCOMMIT;\n",
		 st->ops->rowid_only ? m->rowid_sql : m->sql, m->version,
		 clock_wall_ms());
	rc = store_script(st, script.data, e);
	buf_release(&script);
	return rc;
}

/*
 * Apply m unless another process got there first: a failed script is
 * forgiven when the recorded version has reached m meanwhile.
 */
static int apply_once(struct store *st, const struct migration *m, int *cur,
		      struct err *e)
{
	if (!apply(st, m, e)) {
		*cur = m->version;
		return 1;
	}
	if (read_version(st, cur, NULL) || *cur < m->version)
		return err_prefix(e, "store: migration failed");
	return 0;
}

/* A newer schema than this build knows is refused, never written to. */
static int refuse_newer(int cur, struct err *e)
{
	return err_set(e, ERR_INVALID, "store: schema version %d is newer than "
		       "this program's %d: a newer safeurl migrated it; run "
		       "that version, or restore the backup taken before the "
		       "upgrade", cur, store_schema_latest());
}

int store_schema_check(struct store *st, const char *url, struct err *e)
{
	int cur;

	if (read_version(st, &cur, e))
		/* unreachable or unusable (corrupt, refused): as reported;
		 * a statement error: the table is missing */
		return e->kind != ERR_INTERNAL ? -1 :
		       err_set(e, ERR_INVALID, "store: '%s' has no safeurl "
			       "schema: create it with `safeurl migrate`", url);
	if (cur > store_schema_latest())
		return refuse_newer(cur, e);
	if (cur < store_schema_latest())
		return err_set(e, ERR_INVALID, "store: '%s' is at schema version "
			       "%d, this program needs %d: run `safeurl "
			       "migrate`", url, cur, store_schema_latest());
	return 0;
}

int store_migrate(struct store *st, int *applied, int *version,
		  struct err *e)
{
	int cur, rc;
	size_t i;

	if (store_script(st, migrations_table, e) ||
	    read_version(st, &cur, e))
		return -1;
	if (cur > store_schema_latest())
		return refuse_newer(cur, e);
	for (i = 0; i < NMIGRATIONS; i++) {
		if (migrations[i].version <= cur)
			continue;
		rc = apply_once(st, &migrations[i], &cur, e);
		if (rc < 0)
			return -1;
		st->applied += rc;
	}
	if (applied)
		*applied = st->applied;
	if (version)
		*version = cur;
	return 0;
}
