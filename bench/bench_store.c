/*
 * bench_store - full scan lifecycles per second on a file database, one
 * core, against a naive peer measured in the same run.
 *
 * A lifecycle is what a worker does to one scan: create (NULL -> QUEUED),
 * read the row, claim (QUEUED -> FETCHING), advance (-> ANALYZING) and
 * complete (-> COMPLETED with its scan_results row): four transactions,
 * four audit rows. The peer writes the same rows with the same pragmas the
 * naive way: every statement parsed afresh by sqlite3_exec and committed
 * on its own (autocommit).
 *
 * With REMOTE_URL (a libSQL server, e.g. bench/bench_libsql.sh starting
 * tursodb), the same lifecycles also run against it through the remote
 * backend, and the run prints the remote figure and its ratio to the file
 * store's. TURSO_AUTH_TOKEN, when set, is sent to it.
 *
 * usage: bench_store [LIFECYCLES [DIR [REMOTE_URL [REMOTE_LIFECYCLES]]]]
 *        (default 20000 in /tmp; remote default LIFECYCLES / 10)
 */
#include "fmacros.h"

#include <sched.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "err.h"
#include "state.h"
#include "store.h"
#include "banned.h"

/* Wall and CPU (this process, user + system) seconds. */
struct stopwatch {
	double wall, cpu;
};

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sw_start(struct stopwatch *sw)
{
	sw->wall = clock_s(CLOCK_MONOTONIC);
	sw->cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

static void sw_stop(struct stopwatch *sw)
{
	sw->wall = clock_s(CLOCK_MONOTONIC) - sw->wall;
	sw->cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - sw->cpu;
}

static void die(const char *what, const char *msg)
{
	fprintf(stderr, "bench_store: %s: %s\n", what, msg);
	exit(1);
}

static struct store *open_store(struct config *cfg, char *url)
{
	struct err e = ERR_INIT;
	struct store *st;

	cfg->turso_url = url;
	cfg->turso_auth_token = getenv("TURSO_AUTH_TOKEN");
	cfg->db_busy_timeout_ms = 5000;
	cfg->db_retry_attempts = 8;
	cfg->db_retry_max_ms = 30000;
	if (!(st = store_open(cfg, &e)))
		die("open", e.msg);
	return st;
}

static void lifecycle(struct store *st, long i, struct state_result *res)
{
	struct state_actor who = { "bench:1", 1764371656000LL + i, 30000, NULL };
	struct state_job job;
	struct err e = ERR_INIT;
	char id[32];

	snprintf(id, sizeof(id), "scan-%ld", i);
	if (state_create(st, &who, id, "https://example.com/page", NULL, &e) ||
	    state_get_job(st, id, &job, &e) ||
	    state_claim(st, &who, &job, &e) ||
	    state_advance(st, &who, &job, &e) ||
	    state_complete(st, &who, &job, res, &e))
		die(id, e.msg);
	state_job_release(&job);
}

static struct stopwatch bench_store(char *url, long n, long first)
{
	static char verdict[] = "safe", json[] =
		"{\"ok\":true,\"verdict\":\"safe\",\"riskScore\":3}";
	struct state_result res;
	struct config cfg = { 0 };
	struct store *st = open_store(&cfg, url);
	struct stopwatch sw;
	long i;

	state_result_init(&res);
	res.verdict = verdict;
	res.risk_score = 3;
	res.http_status = 200;
	res.result_json = json;
	sw_start(&sw);
	for (i = first; i < first + n; i++)
		lifecycle(st, i, &res);
	sw_stop(&sw);
	store_close(st);
	return sw;
}

static void exec_f(sqlite3 *db, const char *fmt, ...)
{
	char *sql, *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	sql = sqlite3_vmprintf(fmt, ap);
	va_end(ap);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		die("peer", msg ? msg : "?");
	sqlite3_free(sql);
}

static void naive_lifecycle(sqlite3 *db, long i)
{
	long long t = 1764371656000LL + i;
	static const char audit[] =
		"INSERT INTO audit_logs(job_id, from_state, to_state, version,"
		" actor, detail, created_at) VALUES"
		" ('scan-%ld', %Q, %Q, %d, 'bench:1', '{}', %lld)";

	exec_f(db, "INSERT INTO scan_jobs(id, url, state, version, attempts,"
		   " worker_id, lease_expires_at, error_code, error_message,"
		   " created_at, updated_at) VALUES ('scan-%ld',"
		   " 'https://example.com/page', 'QUEUED', 0, 0, NULL, NULL,"
		   " NULL, NULL, %lld, %lld)", i, t, t);
	exec_f(db, audit, i, NULL, "QUEUED", 0, t);
	exec_f(db, "SELECT * FROM scan_jobs WHERE id = 'scan-%ld'", i);
	exec_f(db, "UPDATE scan_jobs SET state = 'FETCHING', version = 1,"
		   " attempts = 1, worker_id = 'bench:1', lease_expires_at = %lld"
		   " WHERE id = 'scan-%ld' AND version = 0", t + 30000, i);
	exec_f(db, audit, i, "QUEUED", "FETCHING", 1, t);
	exec_f(db, "UPDATE scan_jobs SET state = 'ANALYZING', version = 2"
		   " WHERE id = 'scan-%ld' AND version = 1", i);
	exec_f(db, audit, i, "FETCHING", "ANALYZING", 2, t);
	exec_f(db, "UPDATE scan_jobs SET state = 'COMPLETED', version = 3,"
		   " lease_expires_at = NULL WHERE id = 'scan-%ld'"
		   " AND version = 2", i);
	exec_f(db, "INSERT INTO scan_results VALUES ('scan-%ld', 'safe', 3,"
		   " 200, NULL, NULL, NULL, NULL,"
		   " '{\"ok\":true,\"verdict\":\"safe\",\"riskScore\":3}', %lld)",
	       i, t);
	exec_f(db, audit, i, "ANALYZING", "COMPLETED", 3, t);
}

static struct stopwatch bench_peer(char *url, const char *path, long n)
{
	struct config cfg = { 0 };
	struct stopwatch sw;
	sqlite3 *db;
	long i;

	store_close(open_store(&cfg, url)); /* same schema */
	if (sqlite3_open(path, &db) != SQLITE_OK)
		die("peer open", sqlite3_errmsg(db));
	exec_f(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
		   " PRAGMA foreign_keys=ON");
	sw_start(&sw);
	for (i = 0; i < n; i++)
		naive_lifecycle(db, i);
	sw_stop(&sw);
	sqlite3_close(db);
	return sw;
}

static void report(const char *name, long n, const struct stopwatch *sw)
{
	printf("%-6s %ld lifecycles in %.3f s = %.0f lifecycles/s "
	       "(cpu %.3f s = %.0f lifecycles per cpu-second)\n", name, n,
	       sw->wall, n / sw->wall, sw->cpu, n / sw->cpu);
}

/* The same lifecycles on a remote server; the ratio to the file store. */
static void bench_remote(char *url, long n, const struct stopwatch *file,
			 long nfile)
{
	struct stopwatch tr;

	if (n <= 0)
		die("setup", "REMOTE_LIFECYCLES must be > 0");
	tr = bench_store(url, n, 1000000000L);
	report("remote", n, &tr);
	printf("remote: the store's libSQL backend, one HTTP request per "
	       "transaction, to %s\n", url);
	printf("ratio remote/file: %.3fx wall (%.0f vs %.0f lifecycles/s)\n",
	       (n / tr.wall) / (nfile / file->wall), n / tr.wall,
	       nfile / file->wall);
}

static void pin_one_core(void)
{
	cpu_set_t set;
	int cpu = sched_getcpu();

	CPU_ZERO(&set);
	CPU_SET(cpu < 0 ? 0 : cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		perror("bench_store: sched_setaffinity");
}

int main(int argc, char **argv)
{
	char dir[96], url[128], purl[160], ppath[128], cmd[160];
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 20000;
	struct stopwatch ts, tp;

	snprintf(dir, sizeof(dir), "%s/safeurl-bench.XXXXXX",
		 argc > 2 ? argv[2] : "/tmp");
	if (n <= 0 || !mkdtemp(dir))
		die("setup", "usage: bench_store [LIFECYCLES > 0 [DIR]]");
	pin_one_core();
	snprintf(url, sizeof(url), "file:%s/store.db", dir);
	snprintf(ppath, sizeof(ppath), "%s/peer.db", dir);
	snprintf(purl, sizeof(purl), "file:%s", ppath);
	ts = bench_store(url, n, 0);
	tp = bench_peer(purl, ppath, n);
	printf("lifecycle: create, read, claim, advance, complete + result "
	       "(4 transactions, 4 audit rows)\n");
	report("store", n, &ts);
	report("peer", n, &tp);
	printf("peer: the same rows, every statement parsed by sqlite3_exec "
	       "and committed on its own\n");
	printf("ratio store/peer: %.2fx wall, %.2fx cpu\n", tp.wall / ts.wall,
	       tp.cpu / ts.cpu);
	if (argc > 3)
		bench_remote(argv[3], argc > 4 ? strtol(argv[4], NULL, 10) :
			     n / 10, &ts, n);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : 1;
}
