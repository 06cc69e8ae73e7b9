/*
 * store_fixture.h - a real database in a private temp directory for the
 * store and state unit tests, plus checks run on it outside the store's
 * batches.
 *
 * Two backends, one set of tests: by default a SQLite file; when
 * SAFEURL_TEST_TURSODB names a tursodb binary, each test gets its own
 * tursodb server (`--sync-server` on a free loopback port, database file
 * in the temp directory) and the store talks to it as a remote libSQL
 * database. f->path is then the server's URL, and raw_int()/raw_exec()
 * given such a URL run their SQL through a separate remote connection.
 *
 * Header-only (static inline) because every tests/unit/test_*.c is its own
 * program.
 */
#ifndef SAFEURL_STORE_FIXTURE_H
#define SAFEURL_STORE_FIXTURE_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "err.h"
#include "state.h"
#include "store.h"
#include "store_int.h"
#include "store_libsql_int.h"

struct fixture {
	char dir[64];
	char path[160];
	char url[200];
	struct config cfg;
	struct store *st;
	pid_t server; /* tursodb, remote mode only */
	int port;
};

/* The tursodb binary when the tests run against a remote server. */
static inline const char *fixture_tursodb(void)
{
	const char *bin = getenv("SAFEURL_TEST_TURSODB");

	return bin && *bin ? bin : NULL;
}

static inline int fixture_is_url(const char *path)
{
	return !strncmp(path, "http://", 7);
}

/* A loopback TCP port nobody listens on right now. */
static inline int fixture_free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &len))
		abort();
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static inline int fixture_port_open(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((unsigned short)port);
	ok = fd >= 0 && !connect(fd, (struct sockaddr *)&a, sizeof(a));
	if (fd >= 0)
		close(fd);
	return ok;
}

/*
 * Fork tursodb serving <dir>/test.db on f->port after delay_us, output to
 * <dir>/tursodb.log; f->server gets its pid.
 */
static inline void fixture_server_spawn(struct fixture *f, long delay_us)
{
	char db[128], addr[32], log[128];
	int fd;

	snprintf(db, sizeof(db), "%s/test.db", f->dir);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", f->port);
	snprintf(log, sizeof(log), "%s/tursodb.log", f->dir);
	if (access(fixture_tursodb(), X_OK)) {
		fprintf(stderr, "fixture: SAFEURL_TEST_TURSODB='%s' is not an "
			"executable (run scripts/deps.sh)\n", fixture_tursodb());
		abort();
	}
	f->server = fork();
	if (f->server < 0)
		abort();
	if (f->server == 0) {
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		usleep((useconds_t)delay_us);
		execl(fixture_tursodb(), "tursodb", db, "--sync-server", addr,
		      (char *)NULL);
		_exit(127);
	}
}

/* Start tursodb now and wait until it answers; abort if it never does. */
static inline void fixture_server_start(struct fixture *f)
{
	int i;

	fixture_server_spawn(f, 0);
	for (i = 0; i < 1000 && !fixture_port_open(f->port); i++)
		usleep(10000);
	if (i == 1000) {
		fprintf(stderr, "fixture: tursodb did not answer on port %d\n",
			f->port);
		abort();
	}
}

static inline void fixture_server_stop(struct fixture *f)
{
	if (f->server <= 0)
		return;
	kill(f->server, SIGTERM);
	waitpid(f->server, NULL, 0);
	f->server = 0;
}

/* Settings for tests: short busy timeout, a few quick retries. */
static inline void fixture_config(struct fixture *f, char *url)
{
	memset(&f->cfg, 0, sizeof(f->cfg));
	f->cfg.turso_url = url;
	f->cfg.db_busy_timeout_ms = 2000;
	f->cfg.db_retry_attempts = 5;
	f->cfg.db_retry_max_ms = 5000;
}

/*
 * Make the directory and configure (do not open) file:<dir>/test.db, or
 * start a tursodb server on <dir>/test.db and configure its URL.
 */
static inline void fixture_init(struct fixture *f)
{
	snprintf(f->dir, sizeof(f->dir), "/tmp/safeurl-unit.XXXXXX");
	if (!mkdtemp(f->dir))
		abort();
	snprintf(f->path, sizeof(f->path), "%s/test.db", f->dir);
	snprintf(f->url, sizeof(f->url), "file:%s", f->path);
	f->server = 0;
	if (fixture_tursodb()) {
		f->port = fixture_free_port();
		fixture_server_start(f);
		snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d",
			 f->port);
		snprintf(f->path, sizeof(f->path), "http://127.0.0.1:%d",
			 f->port);
	}
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
	fixture_server_stop(f);
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

/* A separate connection to the remote database at url, or NULL. */
static inline struct store *raw_remote(const char *url)
{
	struct config cfg = { 0 };
	struct err e = ERR_INIT;
	struct store *st;
	char copy[200];

	snprintf(copy, sizeof(copy), "%s", url);
	cfg.turso_url = copy;
	cfg.db_retry_attempts = 5;
	cfg.db_retry_max_ms = 5000;
	st = store_open(&cfg, &e);
	if (!st)
		fprintf(stderr, "fixture: %s\n", e.msg);
	return st;
}

static inline long long raw_remote_int(const char *url, const char *sql)
{
	struct store *st = raw_remote(url);
	long long v = -1;

#ifdef SAFEURL_TEST
	struct err e = ERR_INIT;

	if (st && store_libsql_test_sql(st, sql, &v, &e))
		fprintf(stderr, "fixture: %s\n", e.msg);
#else
	(void)sql;
	fprintf(stderr, "fixture: remote checks need a SAFEURL_TEST build\n");
#endif
	store_close(st);
	return v;
}

static inline int raw_remote_exec(const char *url, const char *sql)
{
	struct store *st = raw_remote(url);
	struct err e = ERR_INIT;
	int rc = st ? store_script(st, sql, &e) : -1;

	if (rc)
		fprintf(stderr, "fixture: %s\n", e.msg);
	store_close(st);
	return rc ? 1 : 0;
}

/*
 * One integer from sql on a raw connection to the file (or the remote
 * database when path is its URL); -1 on error.
 */
static inline long long raw_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *stmt = NULL;
	long long v = -1;

	if (fixture_is_url(path))
		return raw_remote_int(path, sql);
	if (sqlite3_open(path, &db) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK &&
	    sqlite3_step(stmt) == SQLITE_ROW)
		v = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return v;
}

/* sql on a raw connection; 0 or the SQLite error code (1 if remote). */
static inline int raw_exec(const char *path, const char *sql)
{
	sqlite3 *db;
	int rc;

	if (fixture_is_url(path))
		return raw_remote_exec(path, sql);
	rc = sqlite3_open(path, &db);

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
