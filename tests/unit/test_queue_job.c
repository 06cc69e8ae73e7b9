/*
 * test_queue_job - BullMQ job hashes -> struct queue_job, failure plans,
 * stacktraces, and the embedded script table.
 */
#include "fmacros.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "queue.h"
#include "queue_int.h"

#define MAXF 32

/* A job hash as HGETALL returns it: name, value, name, value... */
struct hash {
	const char *f[MAXF];
	size_t len[MAXF];
	size_t n;
};

static void put(struct hash *h, const char *name, const char *value)
{
	h->f[h->n] = name;
	h->len[h->n++] = strlen(name);
	h->f[h->n] = value;
	h->len[h->n++] = strlen(value);
}

static void base_hash(struct hash *h, const char *opts)
{
	memset(h, 0, sizeof(*h));
	put(h, "name", "scan");
	put(h, "data", "{\"url\":\"http://127.0.0.1/\"}");
	put(h, "opts", opts);
	put(h, "timestamp", "1700000000000");
	put(h, "delay", "0");
	put(h, "priority", "0");
}

static int parse(struct queue_job *job, const struct hash *h)
{
	queue_job_init(job);
	return queue_job_parse(job, "42", h->f, h->len, h->n);
}

/* Parse a well-formed job with these opts; it must be accepted. */
static void parse_opts(struct queue_job *job, const char *opts)
{
	struct hash h;

	base_hash(&h, opts);
	assert_int_equal(parse(job, &h), 0);
}

static void test_parse_fields(void **state)
{
	struct queue_job job;
	struct hash h;

	(void)state;
	base_hash(&h, "{\"attempts\":3,\"jobId\":\"42\"}");
	put(&h, "atm", "1");
	put(&h, "ats", "2");
	put(&h, "priority", "7");
	put(&h, "stacktrace", "[\"first\"]");
	assert_int_equal(parse(&job, &h), 0);
	assert_null(job.malformed);
	assert_string_equal(job.id, "42");
	assert_string_equal(job.name, "scan");
	assert_string_equal(job.data, "{\"url\":\"http://127.0.0.1/\"}");
	assert_int_equal(job.timestamp, 1700000000000LL);
	assert_int_equal(job.attempts, 3);
	assert_int_equal(job.attempts_made, 1);
	assert_int_equal(job.attempts_started, 2);
	assert_int_equal(job.priority, 7);
	assert_string_equal(job.stacktrace, "[\"first\"]");
	assert_null(job.deferred);
	assert_int_equal(job.keep_completed.count, -1);
	assert_int_equal(job.keep_failed.age_s, -1);
	queue_job_release(&job);

	base_hash(&h, "{}");
	put(&h, "attemptsMade", "4"); /* older BullMQ field name */
	put(&h, "defa", "job stalled more than allowable limit");
	assert_int_equal(parse(&job, &h), 0);
	assert_int_equal(job.attempts_made, 4);
	assert_int_equal(job.attempts, 0);
	assert_string_equal(job.deferred, "job stalled more than allowable limit");
	queue_job_release(&job);
}

/* Options as Queue.add stores them -> removeOnComplete/Fail and backoff. */
static const struct {
	const char *opts;
	long c_count, c_age, f_count, f_age;
	enum queue_backoff type;
	long long delay;
	double jitter;
} opts_cases[] = {
	{ "{}", -1, -1, -1, -1, QUEUE_BACKOFF_NONE, 0, 0 },
	{ "{\"removeOnComplete\":true}", 0, -1, -1, -1, QUEUE_BACKOFF_NONE, 0, 0 },
	{ "{\"removeOnComplete\":false,\"removeOnFail\":true}", -1, -1, 0, -1, QUEUE_BACKOFF_NONE, 0, 0 },
	{ "{\"removeOnComplete\":5,\"removeOnFail\":0}", 5, -1, 0, -1, QUEUE_BACKOFF_NONE, 0, 0 },
	{ "{\"removeOnComplete\":{\"age\":3600}}", -1, 3600, -1, -1, QUEUE_BACKOFF_NONE, 0, 0 },
	{ "{\"removeOnFail\":{\"age\":60,\"count\":10}}", -1, -1, 10, 60, QUEUE_BACKOFF_NONE, 0, 0 },
	{ "{\"backoff\":250}", -1, -1, -1, -1, QUEUE_BACKOFF_FIXED, 250, 0 },
	{ "{\"backoff\":{\"type\":\"fixed\",\"delay\":100}}", -1, -1, -1, -1, QUEUE_BACKOFF_FIXED, 100, 0 },
	{ "{\"backoff\":{\"type\":\"exponential\",\"delay\":50,\"jitter\":0.5}}",
	  -1, -1, -1, -1, QUEUE_BACKOFF_EXPONENTIAL, 50, 0.5 },
	{ "{\"backoff\":{\"type\":\"mine\",\"delay\":5}}", -1, -1, -1, -1, QUEUE_BACKOFF_UNKNOWN, 5, 0 },
};

static void test_parse_opts(void **state)
{
	struct queue_job job;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(opts_cases) / sizeof(opts_cases[0]); i++) {
		parse_opts(&job, opts_cases[i].opts);
		assert_int_equal(job.keep_completed.count, opts_cases[i].c_count);
		assert_int_equal(job.keep_completed.age_s, opts_cases[i].c_age);
		assert_int_equal(job.keep_failed.count, opts_cases[i].f_count);
		assert_int_equal(job.keep_failed.age_s, opts_cases[i].f_age);
		assert_int_equal(job.backoff, opts_cases[i].type);
		assert_int_equal(job.backoff_delay, opts_cases[i].delay);
		assert_true(job.backoff_jitter == opts_cases[i].jitter);
		queue_job_release(&job);
	}
}

static const struct {
	const char *drop;     /* field to leave out, or NULL */
	const char *field;    /* field to override, or NULL */
	const char *value;
	const char *reason;
} bad_cases[] = {
	{ "data", NULL, NULL, "malformed job: field 'data' is missing" },
	{ "name", NULL, NULL, "malformed job: field 'name' is missing" },
	{ "opts", NULL, NULL, "malformed job: field 'opts' is missing" },
	{ "timestamp", NULL, NULL, "malformed job: field 'timestamp' is missing" },
	{ NULL, "data", "{\"url\":", "malformed job: data is not JSON" },
	{ NULL, "opts", "[1,2]", "malformed job: opts is not a JSON object" },
	{ NULL, "opts", "attempts=3", "malformed job: opts is not a JSON object" },
	{ NULL, "opts", "{\"attempts\":\"3\"}", "malformed job: opts.attempts is not a number" },
	{ NULL, "opts", "{\"backoff\":\"x\"}", "malformed job: opts.backoff is not a number or {type, delay}" },
	{ NULL, "opts", "{\"removeOnFail\":\"x\"}", "malformed job: opts.removeOnFail is not a bool, number or object" },
	{ NULL, "timestamp", "soon", "malformed job: field 'timestamp' is not an integer" },
	{ NULL, "atm", "1x", "malformed job: field 'atm' is not an integer" },
	/* every number range-checked before it is converted */
	{ NULL, "opts", "{\"attempts\":1e300}", "VALIDATION_ERROR: opts.attempts=1e+300: expected an integer up to 2147483647" },
	{ NULL, "opts", "{\"attempts\":2147483648}", "VALIDATION_ERROR: opts.attempts=2147483648: expected an integer up to 2147483647" },
	{ NULL, "opts", "{\"attempts\":2.5}", "VALIDATION_ERROR: opts.attempts=2.5: expected an integer up to 2147483647" },
	{ NULL, "opts", "{\"backoff\":-1}", "VALIDATION_ERROR: opts.backoff=-1: expected an integer delay 0..9007199254740991 ms" },
	{ NULL, "opts", "{\"backoff\":{\"type\":\"fixed\",\"delay\":1e300}}", "VALIDATION_ERROR: opts.backoff.delay=1e+300: expected an integer delay 0..9007199254740991 ms" },
	{ NULL, "opts", "{\"backoff\":{\"type\":\"fixed\",\"delay\":5,\"jitter\":2}}", "VALIDATION_ERROR: opts.backoff.jitter=2: expected a fraction 0..1" },
	{ NULL, "opts", "{\"stackTraceLimit\":-1}", "VALIDATION_ERROR: opts.stackTraceLimit=-1: expected an integer 0..2147483647" },
	{ NULL, "opts", "{\"removeOnComplete\":1e300}", "VALIDATION_ERROR: opts.removeOnComplete=1e+300: expected an integer count (negative keeps every job)" },
	{ NULL, "opts", "{\"removeOnFail\":{\"age\":-5}}", "VALIDATION_ERROR: opts.removeOnFail.age=-5: expected whole seconds 0..9007199254740" },
	{ NULL, "opts", "{\"removeOnFail\":{\"count\":1e19}}", "VALIDATION_ERROR: opts.removeOnFail.count=1e+19: expected an integer count (negative keeps every job)" },
	{ NULL, "opts", "{\"priority\":2097152}", "VALIDATION_ERROR: opts.priority=2097152: expected an integer 0..2097151" },
	{ NULL, "opts", "{\"delay\":-3}", "VALIDATION_ERROR: opts.delay=-3: expected an integer delay 0..9007199254740991 ms" },
	{ NULL, "opts", "{\"kl\":1e300}", "VALIDATION_ERROR: opts.keepLogs=1e+300: expected an integer 0..2147483647" },
	/* options not honoured fail loudly */
	{ NULL, "rjk", "scan:sched-1::tz:400", "UNSUPPORTED_OPTION: repeat (legacy repeatable job key)" },
};

static void test_parse_malformed(void **state)
{
	struct queue_job job;
	struct hash h, src;
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		base_hash(&src, "{}");
		memset(&h, 0, sizeof(h));
		for (j = 0; j < src.n; j += 2) {
			if (bad_cases[i].drop && !strcmp(src.f[j], bad_cases[i].drop))
				continue;
			put(&h, src.f[j], src.f[j + 1]);
		}
		if (bad_cases[i].field)
			put(&h, bad_cases[i].field, bad_cases[i].value);
		assert_int_equal(parse(&job, &h), -1);
		assert_string_equal(job.malformed, bad_cases[i].reason);
		queue_job_release(&job);
	}
	memset(&h, 0, sizeof(h));
	assert_int_equal(parse(&job, &h), -1);
	assert_string_equal(job.malformed, "malformed job: job hash is missing or empty");
	queue_job_release(&job);
}

static void test_parse_nul_byte(void **state)
{
	static const char data[] = "{}\0{\"x\":1}";
	struct queue_job job;
	struct hash h;

	(void)state;
	base_hash(&h, "{}");
	h.f[3] = data;
	h.len[3] = sizeof(data) - 1;
	assert_int_equal(parse(&job, &h), -1);
	assert_string_equal(job.malformed, "malformed job: field 'data' contains a NUL byte");
	queue_job_release(&job);
}

/* Every proper prefix of opts and of data is rejected; the whole passes. */
static void test_parse_byte_by_byte(void **state)
{
	static const char opts[] = "{\"attempts\":3,\"backoff\":{\"type\":\"exponential\",\"delay\":10},\"removeOnComplete\":{\"age\":5}}";
	static const char data[] = "{\"jobId\":\"7f9c\",\"url\":\"https://example.com/p?q=1\"}";
	struct queue_job job;
	struct hash h;
	size_t n;

	(void)state;
	for (n = 0; n <= sizeof(opts) - 1; n++) {
		base_hash(&h, opts);
		h.len[5] = n;
		assert_int_equal(parse(&job, &h), n == sizeof(opts) - 1 ? 0 : -1);
		queue_job_release(&job);
	}
	for (n = 0; n <= sizeof(data) - 1; n++) {
		base_hash(&h, "{}");
		h.f[3] = data;
		h.len[3] = n;
		assert_int_equal(parse(&job, &h), n == sizeof(data) - 1 ? 0 : -1);
		queue_job_release(&job);
	}
}

static const struct {
	const char *opts;
	int made, unrecoverable;
	double rand01;
	enum queue_op op;
	long long delay;
} plan_cases[] = {
	{ "{}", 0, 0, 0, QUEUE_FAIL, 0 },
	{ "{\"attempts\":1}", 0, 0, 0, QUEUE_FAIL, 0 },
	{ "{\"attempts\":3}", 0, 0, 0, QUEUE_RETRY_NOW, 0 },
	{ "{\"attempts\":3}", 2, 0, 0, QUEUE_FAIL, 0 },
	{ "{\"attempts\":3,\"backoff\":100}", 1, 0, 0, QUEUE_RETRY_LATER, 100 },
	{ "{\"attempts\":3,\"backoff\":100}", 0, 1, 0, QUEUE_FAIL, 0 },
	{ "{\"attempts\":5,\"backoff\":{\"type\":\"exponential\",\"delay\":50}}", 0, 0, 0, QUEUE_RETRY_LATER, 50 },
	{ "{\"attempts\":5,\"backoff\":{\"type\":\"exponential\",\"delay\":50}}", 1, 0, 0, QUEUE_RETRY_LATER, 100 },
	{ "{\"attempts\":5,\"backoff\":{\"type\":\"exponential\",\"delay\":50}}", 3, 0, 0, QUEUE_RETRY_LATER, 400 },
	{ "{\"attempts\":5,\"backoff\":{\"type\":\"fixed\",\"delay\":100,\"jitter\":0.5}}", 0, 0, 0, QUEUE_RETRY_LATER, 50 },
	{ "{\"attempts\":5,\"backoff\":{\"type\":\"fixed\",\"delay\":100,\"jitter\":0.5}}", 0, 0, 0.999, QUEUE_RETRY_LATER, 99 },
	{ "{\"attempts\":5,\"backoff\":{\"type\":\"fixed\",\"delay\":0}}", 0, 0, 0, QUEUE_RETRY_NOW, 0 },
	/* custom type, attempts left: BullMQ's worker leaves it to stall */
	{ "{\"attempts\":5,\"backoff\":{\"type\":\"mine\",\"delay\":10}}", 0, 0, 0, QUEUE_ABANDON, 0 },
	/* ... and on the last attempt it fails as usual */
	{ "{\"attempts\":5,\"backoff\":{\"type\":\"mine\",\"delay\":10}}", 4, 0, 0, QUEUE_FAIL, 0 },
	/* 2^40 * 2^20: clamped, not cast out of range */
	{ "{\"attempts\":50,\"backoff\":{\"type\":\"exponential\",\"delay\":1048576}}", 40, 0, 0, QUEUE_RETRY_LATER, 9007199254740991LL },
};

static void test_on_failure(void **state)
{
	struct queue_job job;
	struct hash h;
	long long delay;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(plan_cases) / sizeof(plan_cases[0]); i++) {
		parse_opts(&job, plan_cases[i].opts);
		job.attempts_made = plan_cases[i].made;
		assert_int_equal(queue_job_on_failure(&job, plan_cases[i].unrecoverable,
						      plan_cases[i].rand01, &delay),
				 plan_cases[i].op);
		assert_int_equal(delay, plan_cases[i].delay);
		queue_job_release(&job);
	}
	base_hash(&h, "{\"attempts\":3}");
	put(&h, "defa", "job stalled more than allowable limit");
	assert_int_equal(parse(&job, &h), 0);
	assert_int_equal(queue_job_on_failure(&job, 0, 0, &delay), QUEUE_FAIL);
	queue_job_release(&job);
}

static void test_stacktrace(void **state)
{
	struct queue_job job;
	struct hash h;
	char *s;

	(void)state;
	base_hash(&h, "{}");
	assert_int_equal(parse(&job, &h), 0);
	s = queue_job_stacktrace(&job, "E1: \"quoted\"");
	assert_string_equal(s, "[\"E1: \\\"quoted\\\"\"]");
	free(s);
	job.stacktrace = strdup("[\"a\",\"b\"]");
	job.stack_limit = 2;
	s = queue_job_stacktrace(&job, "c");
	assert_string_equal(s, "[\"b\",\"c\"]");
	free(s);
	job.stack_limit = 0;
	s = queue_job_stacktrace(&job, "c");
	assert_string_equal(s, "[]");
	free(s);
	free(job.stacktrace);
	job.stacktrace = strdup("not json");
	job.stack_limit = -1;
	s = queue_job_stacktrace(&job, "x");
	assert_string_equal(s, "[\"x\"]");
	free(s);
	queue_job_release(&job);
}

/* A scheduler's run: "every" runs, a cron pattern is refused. */
static void test_scheduler_runs(void **state)
{
	struct queue_job job;
	struct hash h;

	(void)state;
	base_hash(&h, "{\"repeat\":{\"every\":400,\"count\":1},\"repeatJobKey\":\"s\"}");
	put(&h, "rjk", "s");
	assert_int_equal(parse(&job, &h), 0);
	assert_string_equal(job.scheduler, "s");
	queue_job_release(&job);
	base_hash(&h, "{\"repeat\":{\"pattern\":\"*/5 * * * * *\"}}");
	put(&h, "rjk", "p");
	assert_int_equal(parse(&job, &h), -1);
	assert_string_equal(job.malformed, "UNSUPPORTED_OPTION: repeat.pattern");
	queue_job_release(&job);
	/* Queue.add with repeat and no scheduler: a plain job, as in BullMQ */
	parse_opts(&job, "{\"repeat\":{\"every\":400}}");
	assert_null(job.scheduler);
	queue_job_release(&job);
}

/* Redis older than 6.2 is refused, naming the version needed. */
static void test_server_version(void **state)
{
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(queue_check_server("# Server\r\nredis_version:7.0.15\r\n", "h", 1, &e), 0);
	assert_int_equal(queue_check_server("redis_version:6.2.0\r\n", "h", 1, &e), 0);
	assert_int_equal(queue_check_server("no version here", "h", 1, &e), 0);
	assert_int_equal(queue_check_server("redis_version:6.0.16\r\n", "127.0.0.1", 6379, &e), -1);
	assert_int_equal(e.kind, ERR_UNAVAILABLE);
	assert_string_equal(e.msg, "redis: 127.0.0.1:6379 runs Redis 6.0: safeurl-worker needs Redis 6.2 or newer (RPOP with a count, GETDEL)");
	assert_int_equal(queue_check_server("redis_version:5.9.9\r\n", "h", 1, &e), -1);
}

static void test_script_table(void **state)
{
	static const char *const names[QS_COUNT] = { "add", "progress", "renew", "stalled", "step" };
	int i, n;

	(void)state;
	for (i = 0; i < QS_COUNT; i++) {
		assert_string_equal(queue_scripts[i].name, names[i]);
		assert_int_equal(strlen(queue_scripts[i].src), queue_scripts[i].len);
		for (n = 0; queue_script_keys[i][n] != QK_COUNT; n++)
			;
		assert_int_equal(n, queue_scripts[i].nkeys);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_fields),
		cmocka_unit_test(test_parse_opts),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_server_version),
		cmocka_unit_test(test_scheduler_runs),
		cmocka_unit_test(test_parse_nul_byte),
		cmocka_unit_test(test_parse_byte_by_byte),
		cmocka_unit_test(test_on_failure),
		cmocka_unit_test(test_stacktrace),
		cmocka_unit_test(test_script_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
