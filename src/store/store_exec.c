/*
 * store_exec.c - how every store call runs: the backend's function,
 * retried with backoff on ERR_UNAVAILABLE within the configured attempts
 * and time, with faults injected in test builds; and reading values out of
 * a row.
 *
 * The bottom of the store module: store.c (open), store_schema.c
 * (migrations) and the backends (rows) call it, and it reaches a backend
 * only through st->ops. Not here: picking and opening a backend (store.c),
 * SQL text (store_schema.c).
 */
#include "fmacros.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "metrics.h"
#include "store_int.h"
#include "xalloc.h"
#include "banned.h"

#define BACKOFF_BASE_MS 25

/* One backend call, as retried by with_retry(). */
struct call {
	int (*run)(struct store *st, const struct call *c, struct err *e);
	const char *url;
	const struct store_stmt *stmts;
	size_t n;
	store_row_fn fn;
	void *arg;
	const char *sql;
};

static void sleep_ms(long long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* xorshift64*: jitter only, no need for more. */
static unsigned long long next_random(struct store *st)
{
	st->rng ^= st->rng >> 12;
	st->rng ^= st->rng << 25;
	st->rng ^= st->rng >> 27;
	return st->rng * 2685821657736338717ULL;
}

/* Full jitter: uniform in [0, min(base * 2^(attempt-1), left)]. */
static long long backoff_ms(struct store *st, int attempt, long long left)
{
	long long cap = BACKOFF_BASE_MS;
	int i;

	for (i = 1; i < attempt && cap < left; i++)
		cap *= 2;
	if (cap > left)
		cap = left;
	return (long long)(next_random(st) % (unsigned long long)(cap + 1));
}

#ifdef SAFEURL_TEST
static long long env_count(const char *name, long long dflt)
{
	const char *v = getenv(name);
	long long n;

	if (!v || !*v || config_parse_int(v, 1, 1000000000, &n))
		return dflt;
	return n;
}

static void hook_init(struct store *st)
{
	st->fail_at = env_count("SAFEURL_TEST_FAIL_STORE_CALL", 0);
	st->fail_count = env_count("SAFEURL_TEST_FAIL_STORE_COUNT", 1);
}

/* Fail calls fail_at .. fail_at+fail_count-1 with a transient error. */
static int hook_fail(struct store *st, struct err *e)
{
	if (!st->counting)
		return 0;
	st->calls++;
	if (st->fail_at > 0 && st->calls >= st->fail_at &&
	    st->calls < st->fail_at + st->fail_count)
		return err_set(e, ERR_UNAVAILABLE,
			       "store: injected failure of call %lld",
			       st->calls);
	return 0;
}
#else
#define hook_init(st) ((void)(st))
#define hook_fail(st, e) 0
#endif

static int call_once(struct store *st, const struct call *c, struct err *e)
{
	if (hook_fail(st, e))
		return -1;
	return c->run(st, c, e);
}

/*
 * Run c, retrying ERR_UNAVAILABLE with backoff while attempts and time are
 * left. Other failures and guard misses return at once.
 */
static int with_retry(struct store *st, const char *job_id,
		      const struct call *c, struct err *e)
{
	long long start = clock_mono_ms(), left, delay;
	struct err tmp = ERR_INIT;
	int attempt, rc;

	for (attempt = 1;; attempt++) {
		rc = call_once(st, c, &tmp);
		if (rc >= 0 || tmp.kind != ERR_UNAVAILABLE)
			break;
		left = st->retry_max_ms - (clock_mono_ms() - start);
		if (attempt >= st->retry_attempts || left <= 0) {
			log_event(LOG_WARN, job_id, "db_retry",
				  "giving up after %d attempts: %s", attempt,
				  tmp.msg);
			break;
		}
		delay = backoff_ms(st, attempt, left);
		metrics_count(metrics_default(), METRICS_DB_RETRY);
		log_event(LOG_WARN, job_id, "db_retry",
			  "attempt %d of %d failed: %s; retrying in %lld ms",
			  attempt, st->retry_attempts, tmp.msg, delay);
		sleep_ms(delay);
	}
	if (rc < 0 && e)
		*e = tmp;
	return rc;
}

static int run_open(struct store *st, const struct call *c, struct err *e)
{
	return st->ops->open(st, c->url, e);
}

static int run_batch(struct store *st, const struct call *c, struct err *e)
{
	return st->ops->batch(st, c->stmts, c->n, c->fn, c->arg, e);
}

static int run_query(struct store *st, const struct call *c, struct err *e)
{
	return st->ops->query(st, c->stmts, c->fn, c->arg, e);
}

static int run_script(struct store *st, const struct call *c, struct err *e)
{
	return st->ops->script(st, c->sql, e);
}

void store_exec_init(struct store *st)
{
	st->rng = ((unsigned long long)clock_mono_ms() << 20) ^
		  (unsigned long long)getpid() ^ (unsigned long long)(size_t)st;
	st->rng |= 1;
	hook_init(st);
}

int store_exec_open(struct store *st, const char *url, struct err *e)
{
	struct call c = { .run = run_open, .url = url };

	return with_retry(st, NULL, &c, e);
}

int store_batch(struct store *st, const char *job_id,
		const struct store_stmt *stmts, size_t n, store_row_fn fn,
		void *arg, struct err *e)
{
	struct call c = { .run = run_batch, .stmts = stmts, .n = n,
			  .fn = fn, .arg = arg };

	return with_retry(st, job_id, &c, e);
}

int store_query(struct store *st, const char *job_id,
		const struct store_stmt *q, store_row_fn fn, void *arg,
		struct err *e)
{
	struct call c = { .run = run_query, .stmts = q, .n = 1,
			  .fn = fn, .arg = arg };

	return with_retry(st, job_id, &c, e);
}

int store_script(struct store *st, const char *sql, struct err *e)
{
	struct call c = { .run = run_script, .sql = sql };

	return with_retry(st, NULL, &c, e);
}

long long store_col_int(const struct store_row *row, size_t col,
			long long dflt)
{
	const struct store_val *v = &row->cols[col];

	return v->type == STORE_INT ? v->i : dflt;
}

char *store_col_strdup(const struct store_row *row, size_t col)
{
	const struct store_val *v = &row->cols[col];

	return v->type == STORE_TEXT ? xstrdup(v->s) : NULL;
}
