/*
 * test_store.c - the store on real SQLite files and, when
 * SAFEURL_TEST_TURSODB is set, on a real tursodb server: opening by URL,
 * migrations recorded and run once even by racing processes, guarded
 * batches, retries of injected failures, constraint errors not retried.
 * File only: relative paths, pragmas (WAL, foreign keys), lock failures,
 * unusable files. Remote only: server restarted mid-call, unreachable
 * server, HTTP errors.
 */
#include "fmacros.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "log.h"
#include "store_fixture.h"

static void test_open_absolute_and_migrate_once(void **state)
{
	struct fixture *f = *state;
	struct err e = ERR_INIT;
	int applied = -1, version = -1;

	fixture_open(f);
	assert_int_equal(store_migrate(f->st, &applied, &version, &e), 0);
	assert_int_equal(applied, store_schema_latest());
	assert_int_equal(version, store_schema_latest());
	store_close(f->st);
	fixture_open(f);
	assert_int_equal(store_migrate(f->st, &applied, &version, &e), 0);
	assert_int_equal(applied, 0);
	assert_int_equal(version, store_schema_latest());
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM schema_migrations"),
			 store_schema_latest());
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sqlite_schema"
				 " WHERE name IN ('scan_jobs', 'scan_results',"
				 " 'audit_logs', 'audit_logs_job',"
				 " 'scan_jobs_queue_lease', 'scan_jobs_queue_queued')"), 6);
	/* the indexes migration 3 replaced are gone */
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sqlite_schema"
				 " WHERE name IN ('scan_jobs_state_lease',"
				 " 'scan_jobs_queue_state_lease')"), 0);
}

static void test_pragmas(void **state)
{
	struct fixture *f = *state;
	struct store_val args[10] = { STORE_VAL_TEXT("no-such-job"),
				      STORE_VAL_TEXT("safe"), STORE_VAL_INT(0) };
	struct store_stmt orphan = { STORE_SQL_RESULT_ADD, args, 10, 0 };
	struct err e = ERR_INIT;
	size_t i;

	for (i = 3; i < 10; i++)
		args[i] = STORE_VAL_NULL;
	args[8] = STORE_VAL_TEXT("{}");
	args[9] = STORE_VAL_INT(1);
	fixture_open(f);
	assert_int_equal(raw_int(f->path, "SELECT journal_mode = 'wal' FROM"
				 " pragma_journal_mode"), 1);
	/* foreign keys are on: a result for a missing job is refused */
	assert_int_equal(store_batch(f->st, NULL, &orphan, 1, NULL, NULL, &e), -1);
	assert_int_equal(e.kind, ERR_INTERNAL);
	assert_non_null(strstr(e.msg, "FOREIGN KEY"));
}

static void test_open_relative(void **state)
{
	struct fixture *f = *state;
	char cwd[512], url[] = "file:./rel.db", path[192];
	struct err e = ERR_INIT;
	struct store *st;

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(f->dir), 0);
	fixture_config(f, url);
	st = store_open(&f->cfg, &e);
	assert_int_equal(chdir(cwd), 0);
	assert_non_null(st);
	store_close(st);
	snprintf(path, sizeof(path), "%s/rel.db", f->dir);
	assert_int_equal(raw_int(path, "SELECT count(*) FROM schema_migrations"),
			 store_schema_latest());
}

static void test_unknown_scheme(void **state)
{
	struct fixture *f = *state;
	char bad[] = "ftp://x";
	struct err e = ERR_INIT;

	fixture_config(f, bad);
	assert_null(store_open(&f->cfg, &e));
	assert_int_equal(e.kind, ERR_INVALID);
	assert_non_null(strstr(e.msg, "unknown scheme"));
}

static void write_file(const char *path, const void *data, size_t len,
		       off_t at)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0600);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, data, len, at), (ssize_t)len);
	close(fd);
}

static void test_not_a_database(void **state)
{
	struct fixture *f = *state;
	static const char text[] = "this is a text file, not a database\n";
	struct err e = ERR_INIT;

	write_file(f->path, text, sizeof(text) - 1, 0);
	assert_null(store_open(&f->cfg, &e));
	assert_int_equal(e.kind, ERR_INVALID);
	assert_non_null(strstr(e.msg, "not a database"));
	assert_non_null(strstr(e.msg, f->path));
}

/* Garbage over the table pages: a clear error, never retried. */
static void test_corrupt_database(void **state)
{
	struct fixture *f = *state;
	struct state_actor a = { "cli", 1, 0, NULL };
	char junk[8192];
	struct state_job job;
	struct err e = ERR_INIT;
	struct store *st;
	int i;

	fixture_open(f);
	for (i = 0; i < 50; i++) {
		char id[16];

		snprintf(id, sizeof(id), "j%d", i);
		assert_int_equal(state_create(f->st, &a, id, "https://x/", NULL,
					      &e), 0);
	}
	store_close(f->st);
	f->st = NULL;
	assert_int_equal(raw_exec(f->path, "PRAGMA wal_checkpoint(TRUNCATE)"), 0);
	memset(junk, 0x5a, sizeof(junk));
	write_file(f->path, junk, sizeof(junk), 4096);
	st = store_open(&f->cfg, &e);
	if (st) {
		assert_int_equal(state_get_job(st, "j7", &job, &e), -1);
		state_job_release(&job);
		store_close(st);
	}
	assert_int_equal(e.kind, ERR_INVALID);
	assert_non_null(strstr(e.msg, "malformed"));
}

static int count_row(void *arg, const struct store_row *row, struct err *e)
{
	(void)row;
	(void)e;
	(*(int *)arg)++;
	return 0;
}

/* A guard that returns no row abandons the batch: later statements too. */
static void test_guard_abandons_batch(void **state)
{
	struct fixture *f = *state;
	struct store_val job[3] = { STORE_VAL_TEXT("g"), STORE_VAL_TEXT("u"),
				    STORE_VAL_INT(5) };
	struct store_val au[7] = {
		STORE_VAL_TEXT("g"), STORE_VAL_NULL, STORE_VAL_TEXT("QUEUED"),
		STORE_VAL_INT(0), STORE_VAL_TEXT("t"), STORE_VAL_NULL,
		STORE_VAL_INT(5),
	};
	struct store_stmt b[2] = { { STORE_SQL_JOB_CREATE, job, 3, STORE_GUARD },
				   { STORE_SQL_AUDIT_ADD, au, 7, 0 } };
	struct err e = ERR_INIT;
	int rows = 0;

	fixture_open(f);
	assert_int_equal(store_batch(f->st, "g", b, 2, count_row, &rows, &e), 1);
	assert_int_equal(rows, 1);
	rows = 0;
	assert_int_equal(store_batch(f->st, "g", b, 2, count_row, &rows, &e), 0);
	assert_int_equal(rows, 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM audit_logs"), 1);
}

/*
 * Retention: terminal scans older than the cut-off go in batches with
 * their results and audit rows, oldest first; live and newer ones stay.
 */
static void test_prune(void **state)
{
	static const char *const rows[] = {
		"('t1', 'u', 'COMPLETED', 3, 1, 1, 100)",
		"('t2', 'u', 'FAILED', 3, 1, 1, 101)",
		"('t3', 'u', 'TIMED_OUT', 3, 1, 1, 102)",
		"('q', 'u', 'QUEUED', 0, 0, 1, 100)",
		"('f', 'u', 'FETCHING', 1, 1, 1, 100)",
		"('a', 'u', 'ANALYZING', 2, 1, 1, 100)",
		"('new', 'u', 'COMPLETED', 3, 1, 1, 5000)",
	};
	struct fixture *f = *state;
	struct store_prune_count c;
	struct err e = ERR_INIT;
	char sql[256];
	long long n;
	size_t i;

	fixture_open(f);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		snprintf(sql, sizeof(sql), "INSERT INTO scan_jobs(id, url, state,"
			 " version, attempts, created_at, updated_at) VALUES %s",
			 rows[i]);
		assert_int_equal(raw_exec(f->path, sql), 0);
	}
	assert_int_equal(raw_exec(f->path, "INSERT INTO audit_logs(job_id,"
				  " to_state, version, actor, created_at) SELECT id,"
				  " state, version, 't', 1 FROM scan_jobs"), 0);
	assert_int_equal(raw_exec(f->path, "INSERT INTO scan_results(job_id,"
				  " verdict, risk_score, result_json, created_at)"
				  " VALUES ('t1', 'safe', 0, '{}', 1),"
				  " ('new', 'safe', 0, '{}', 1)"), 0);

	assert_int_equal(store_prune_count(f->st, 1000, &c, &e), 0);
	assert_int_equal(c.scans, 3);
	assert_int_equal(c.results, 1);
	assert_int_equal(c.audits, 3);
	assert_int_equal(store_prune_batch(f->st, 1000, 2, &n, &e), 0);
	assert_int_equal(n, 2);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM scan_jobs"
				 " WHERE id IN ('t1', 't2')"), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM scan_jobs"
				 " WHERE id = 't3'"), 1);
	assert_int_equal(store_prune_batch(f->st, 1000, 2, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_prune_batch(f->st, 1000, 2, &n, &e), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_vacuum(f->st, 100, &e), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM scan_jobs"), 4);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM audit_logs"), 4);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM audit_logs"
				 " WHERE job_id LIKE 't%'"), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM scan_results"), 1);
	assert_int_equal(store_prune_batch(f->st, 1000, 0, &n, &e), -1);
	assert_int_equal(e.kind, ERR_INVALID);
}

/* Logs go to a file the test reads back. */
static int log_to_file(const char *dir, char *path, size_t len)
{
	int fd;

	snprintf(path, len, "%s/log", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	log_set_fd(fd);
	return fd;
}

static int count_in_file(const char *path, const char *needle)
{
	char buf[16384];
	int fd = open(path, O_RDONLY), n = 0;
	ssize_t len = read(fd, buf, sizeof(buf) - 1);
	const char *p = buf;

	close(fd);
	buf[len > 0 ? len : 0] = '\0';
	while ((p = strstr(p, needle))) {
		n++;
		p++;
	}
	return n;
}

/* SAFEURL_TEST_FAIL_STORE_CALL: injected transient failures are retried. */
static void test_injected_failures_retried(void **state)
{
	struct fixture *f = *state;
	struct state_actor a = { "w", 1, 0, NULL };
	char logpath[128];
	struct err e = ERR_INIT;
	int fd = log_to_file(f->dir, logpath, sizeof(logpath));

	setenv("SAFEURL_TEST_FAIL_STORE_CALL", "1", 1);
	setenv("SAFEURL_TEST_FAIL_STORE_COUNT", "2", 1);
	fixture_open(f);
	assert_int_equal(state_create(f->st, &a, "i", "https://i/", NULL, &e), 0);
	assert_int_equal(count_in_file(logpath, "db_retry"), 2);
	assert_int_equal(count_in_file(logpath, "injected failure of call 2"), 1);
	store_close(f->st);
	/* more failures than attempts: gives up, nothing written */
	setenv("SAFEURL_TEST_FAIL_STORE_COUNT", "100", 1);
	fixture_open(f);
	assert_int_equal(state_create(f->st, &a, "j", "https://j/", NULL, &e), -1);
	assert_int_equal(e.kind, ERR_UNAVAILABLE);
	assert_int_equal(count_in_file(logpath, "giving up after 5 attempts"), 1);
	unsetenv("SAFEURL_TEST_FAIL_STORE_CALL");
	unsetenv("SAFEURL_TEST_FAIL_STORE_COUNT");
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM scan_jobs"), 1);
	log_set_fd(2);
	close(fd);
}

/* Constraint errors are never retried. */
static void test_constraint_not_retried(void **state)
{
	struct fixture *f = *state;
	struct state_actor a = { "w", 1, 0, NULL };
	char logpath[128];
	struct state_job job;
	struct err e = ERR_INIT;
	int fd = log_to_file(f->dir, logpath, sizeof(logpath));

	fixture_open(f);
	assert_int_equal(state_create(f->st, &a, "k", "https://k/", NULL, &e), 0);
	assert_int_equal(state_get_job(f->st, "k", &job, &e), 0);
	assert_int_equal(raw_exec(f->path, "INSERT INTO scan_results VALUES"
				  "('k','x',0,NULL,NULL,NULL,NULL,NULL,'{}',0)"), 0);
	assert_int_equal(state_claim(f->st, &a, &job, &e), 0);
	assert_int_equal(state_advance(f->st, &a, &job, &e), 0);
	{
		struct state_result r = fixture_result();

		assert_int_equal(state_complete(f->st, &a, &job, &r, &e), -1);
	}
	assert_int_equal(e.kind, ERR_INTERNAL);
	assert_int_equal(count_in_file(logpath, "db_retry"), 0);
	state_job_release(&job);
	log_set_fd(2);
	close(fd);
}

/*
 * Another process holds an exclusive lock for longer than the busy
 * timeout: the write is retried with backoff and lands once released.
 */
static void test_locked_database_retried(void **state)
{
	struct fixture *f = *state;
	struct state_actor a = { "w", 1, 0, NULL };
	int ready[2], fd, status;
	char logpath[128], c;
	struct err e = ERR_INIT;
	pid_t pid;

	fd = log_to_file(f->dir, logpath, sizeof(logpath));
	f->cfg.db_busy_timeout_ms = 100;
	f->cfg.db_retry_attempts = 100;
	f->cfg.db_retry_max_ms = 20000;
	fixture_open(f);
	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		sqlite3 *db;

		if (sqlite3_open(f->path, &db) ||
		    sqlite3_exec(db, "BEGIN EXCLUSIVE; CREATE TABLE hold(x)",
				 NULL, NULL, NULL) ||
		    write(ready[1], "l", 1) != 1)
			_exit(1);
		usleep(1500 * 1000);
		_exit(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) ? 2 : 0);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	assert_int_equal(state_create(f->st, &a, "l", "https://l/", NULL, &e), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(count_in_file(logpath, "db_retry") >= 1);
	assert_true(count_in_file(logpath, "locked") >= 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM audit_logs"
				 " WHERE job_id = 'l'"), 1);
	log_set_fd(2);
	close(fd);
}

/* Processes opening a fresh file at once: the migration runs once. */
static void test_concurrent_migrate(void **state)
{
	struct fixture *f = *state;
	pid_t pids[4];
	int i, status;

	for (i = 0; i < 4; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			struct err e = ERR_INIT;
			struct store *st = store_open(&f->cfg, &e);

			if (!st)
				fprintf(stderr, "child: %s\n", e.msg);
			_exit(st ? 0 : 1);
		}
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM schema_migrations"),
			 store_schema_latest());
}

/* ---- remote only ---- */

/* The server goes away and comes back: the call is retried and lands. */
static void test_remote_restart_retried(void **state)
{
	struct fixture *f = *state;
	struct state_actor a = { "w", 1, 0, NULL };
	char logpath[128];
	struct err e = ERR_INIT;
	int fd = log_to_file(f->dir, logpath, sizeof(logpath));

	f->cfg.db_retry_attempts = 100;
	f->cfg.db_retry_max_ms = 20000;
	fixture_open(f);
	fixture_server_stop(f);
	fixture_server_spawn(f, 700 * 1000);
	assert_int_equal(state_create(f->st, &a, "r", "https://r/", NULL, &e), 0);
	assert_true(count_in_file(logpath, "db_retry") >= 1);
	assert_true(count_in_file(logpath, "cannot reach") >= 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM audit_logs"
				 " WHERE job_id = 'r'"), 1);
	log_set_fd(2);
	close(fd);
}

/* Nobody listening: retried within the bounds, then ERR_UNAVAILABLE. */
static void test_remote_unreachable(void **state)
{
	struct fixture *f = *state;
	char url[64];
	struct err e = ERR_INIT;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d", fixture_free_port());
	fixture_config(f, url);
	f->cfg.db_retry_attempts = 3;
	f->cfg.db_retry_max_ms = 1000;
	assert_null(store_open(&f->cfg, &e));
	assert_int_equal(e.kind, ERR_UNAVAILABLE);
	assert_non_null(strstr(e.msg, "cannot reach"));
	assert_non_null(strstr(e.msg, url));
}

/* A 4xx answer is not retried and carries the status and the text. */
static void test_remote_http_error(void **state)
{
	struct fixture *f = *state;
	char url[256], logpath[128];
	struct err e = ERR_INIT;
	int fd = log_to_file(f->dir, logpath, sizeof(logpath));

	snprintf(url, sizeof(url), "%s/no/such/path/", f->url);
	fixture_config(f, url);
	assert_null(store_open(&f->cfg, &e));
	assert_int_equal(e.kind, ERR_INVALID);
	assert_non_null(strstr(e.msg, "HTTP 404"));
	assert_non_null(strstr(e.msg, "/no/such/path/v2/pipeline"));
	assert_int_equal(count_in_file(logpath, "db_retry"), 0);
	log_set_fd(2);
	close(fd);
}

#define TEST(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)

int main(void)
{
	const struct CMUnitTest both[] = {
		TEST(test_open_absolute_and_migrate_once),
		TEST(test_unknown_scheme),
		TEST(test_guard_abandons_batch),
		TEST(test_injected_failures_retried),
		TEST(test_constraint_not_retried),
		TEST(test_concurrent_migrate),
		TEST(test_prune),
	};
	const struct CMUnitTest file_only[] = {
		TEST(test_pragmas),
		TEST(test_open_relative),
		TEST(test_not_a_database),
		TEST(test_corrupt_database),
		TEST(test_locked_database_retried),
	};
	const struct CMUnitTest remote_only[] = {
		TEST(test_remote_restart_retried),
		TEST(test_remote_unreachable),
		TEST(test_remote_http_error),
	};
	int failed = cmocka_run_group_tests(both, NULL, NULL);

	if (fixture_tursodb())
		return failed + cmocka_run_group_tests(remote_only, NULL, NULL);
	return failed + cmocka_run_group_tests(file_only, NULL, NULL);
}
