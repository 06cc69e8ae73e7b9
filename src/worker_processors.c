/*
 * worker_processors.c - the built-in processors.
 *
 * "noop" completes every job at once with {"ok":true,"jobId":"<id>"}; it
 * touches neither the database nor the engine and serves the queue tests
 * and benchmarks. Builds with -DSAFEURL_TEST also have "test", for the
 * integration tests only: it reads the job data
 *   {"sleepMs": N, "sleepFirstMs": M, "fail": "reason",
 *    "failUntilAttempt": K, "unrecoverable": true, "progress": P,
 *    "log": "line", "ledger": "/path"}
 * reports P with updateProgress and the line with log (BullMQ's), sleeps N ms (M ms instead on the job's first start) on its own thread,
 * stopping early when cancelled, then
 * fails with "reason" (while the attempt number is below K, when K is
 * given) or completes like noop. With a ledger it appends "start ID PID"
 * before it runs the job and "end ID PID" before it reports the outcome,
 * one write each, so that a test can see one job run twice at once.
 */
#include "fmacros.h"

#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "scan.h"
#include "worker.h"
#include "xalloc.h"
#include "banned.h"

static void noop_result(struct worker_job *job)
{
	struct buf b = BUF_INIT;

	buf_addstr(&b, "{\"ok\":true,\"jobId\":\"", NULL);
	buf_add_json_str(&b, worker_job_id(job), strlen(worker_job_id(job)),
			 NULL);
	buf_addstr(&b, "\"}", NULL);
	worker_job_complete(job, b.data);
	buf_release(&b);
}

static void noop_start(void *ctx, struct worker_job *job)
{
	(void)ctx;
	noop_result(job);
}

static const struct worker_processor noop_processor = {
	"noop", NULL, noop_start, NULL, NULL, NULL, NULL, 0,
};

#ifdef SAFEURL_TEST
struct test_plan {
	struct worker_job *job;
	char *progress; /* "progress": reported first (JSON text) */
	char *log;      /* "log": a log line, reported first */
	long sleep_ms;
	char *fail;
	char *ledger;   /* "ledger": a file to append start and end lines to */
	int unrecoverable;
};

static void test_ledger(const struct test_plan *t, const char *what)
{
	char line[512];
	int n, fd;

	if (!t->ledger)
		return;
	n = snprintf(line, sizeof(line), "%s %s %ld\n", what,
		     worker_job_id(t->job), (long)getpid());
	fd = open(t->ledger, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || n <= 0 || (size_t)n >= sizeof(line) ||
	    write(fd, line, (size_t)n) != n)
		fprintf(stderr, "test processor: cannot append to ledger "
			"'%s'\n", t->ledger);
	if (fd >= 0)
		close(fd);
}

static void *test_run(void *arg)
{
	struct test_plan *t = arg;
	struct timespec tick = { 0, 10 * 1000000L };
	long slept;

	if (t->progress || t->log)
		worker_job_progress(t->job, t->progress, t->log);
	for (slept = 0; slept < t->sleep_ms; slept += 10) {
		if (worker_job_cancelled(t->job))
			break;
		nanosleep(&tick, NULL);
	}
	test_ledger(t, "end");
	if (t->fail)
		worker_job_fail(t->job, ERR_UNAVAILABLE, t->fail,
				t->unrecoverable ? WORKER_FAIL_UNRECOVERABLE
						 : WORKER_FAIL_RETRY);
	else
		noop_result(t->job);
	free(t->fail);
	free(t->ledger);
	free(t->progress);
	free(t->log);
	free(t);
	return NULL;
}

static void test_plan_read(struct test_plan *t, json_t *d)
{
	json_t *fail = json_object_get(d, "fail");
	json_t *until = json_object_get(d, "failUntilAttempt");

	json_t *first = json_object_get(d, "sleepFirstMs");
	json_t *progress = json_object_get(d, "progress");
	json_t *log = json_object_get(d, "log");

	if (progress)
		t->progress = json_dumps(progress, JSON_ENCODE_ANY |
					 JSON_COMPACT);
	if (json_is_string(log))
		t->log = xstrdup(json_string_value(log));
	if (json_is_string(json_object_get(d, "ledger")))
		t->ledger = xstrdup(json_string_value(
			json_object_get(d, "ledger")));

	t->sleep_ms = (long)json_integer_value(json_object_get(d, "sleepMs"));
	if (first && worker_job_attempts_started(t->job) == 1)
		t->sleep_ms = (long)json_integer_value(first);
	t->unrecoverable = json_is_true(json_object_get(d, "unrecoverable"));
	if (json_is_string(fail) &&
	    (!until || worker_job_attempts_made(t->job) + 1 <
			       json_integer_value(until)))
		t->fail = xstrdup(json_string_value(fail));
}

static void test_start(void *ctx, struct worker_job *job)
{
	struct test_plan *t = xcalloc(1, sizeof(*t));
	json_t *d = json_loads(worker_job_data(job), JSON_DECODE_ANY, NULL);
	pthread_attr_t attr;
	pthread_t th;

	(void)ctx;
	t->job = job;
	if (json_is_object(d))
		test_plan_read(t, d);
	json_decref(d);
	test_ledger(t, "start");
	if (!t->sleep_ms) {
		test_run(t);
		return;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &attr, test_run, t))
		test_run(t);
	pthread_attr_destroy(&attr);
}

static const struct worker_processor test_processor = {
	"test", NULL, test_start, NULL, NULL, NULL, NULL, 0,
};
#endif

static const struct worker_processor *const processors[] = {
	&scan_processor,
	&noop_processor,
#ifdef SAFEURL_TEST
	&test_processor,
#endif
};

const struct worker_processor *worker_processor_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(processors) / sizeof(processors[0]); i++)
		if (!strcmp(processors[i]->name, name))
			return processors[i];
	return NULL;
}
