/*
 * queue_job.c - BullMQ job hashes <-> struct queue_job, and what a failed
 * attempt becomes. Pure: bytes in, values out; no Redis, no clock.
 *
 * Field names are BullMQ 6.7's: name, data, opts, timestamp, priority,
 * atm (attemptsMade; older jobs: attemptsMade), ats (attemptsStarted),
 * stacktrace, defa (deferred failure), processedOn. Options are read from
 * the opts JSON: attempts, backoff (number or {type, delay, jitter}),
 * removeOnComplete/removeOnFail (bool, count or {count, age}),
 * stackTraceLimit. Other options are kept in opts untouched.
 */
#include "fmacros.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "queue.h"
#include "xalloc.h"
#include "banned.h"

void queue_job_init(struct queue_job *job)
{
	memset(job, 0, sizeof(*job));
	job->stack_limit = -1;
	job->keep_logs = -1;
	job->keep_completed.count = job->keep_failed.count = -1;
	job->keep_completed.age_s = job->keep_failed.age_s = -1;
}

void queue_job_release(struct queue_job *job)
{
	free(job->id);
	free(job->token);
	free(job->name);
	free(job->data);
	free(job->opts);
	free(job->stacktrace);
	free(job->deferred);
	free(job->dedup_id);
	free(job->parent_key);
	free(job->parent);
	free(job->scheduler);
	free(job->malformed);
	queue_job_init(job);
}

/* Record the first problem only; always returns -1. */
static int malformed(struct queue_job *job, const char *fmt, const char *what)
{
	struct buf b = BUF_INIT;

	if (job->malformed)
		return -1;
	buf_addstr(&b, "malformed job: ", NULL);
	buf_addf(&b, NULL, fmt, what);
	job->malformed = buf_detach(&b, NULL);
	return -1;
}

static int parse_ll(const char *s, long long *out)
{
	return config_parse_int(s, -9007199254740991LL, 9007199254740991LL, out);
}

enum field_kind { F_STR, F_LL, F_INT };

struct field_spec {
	const char *name;
	enum field_kind kind;
	size_t offset;
	int required;
};

#define J(m) offsetof(struct queue_job, m)
static const struct field_spec fields[] = {
	{ "name", F_STR, J(name), 1 },
	{ "data", F_STR, J(data), 1 },
	{ "opts", F_STR, J(opts), 1 },
	{ "timestamp", F_LL, J(timestamp), 1 },
	{ "priority", F_INT, J(priority), 0 },
	{ "attemptsMade", F_INT, J(attempts_made), 0 },
	{ "atm", F_INT, J(attempts_made), 0 },
	{ "ats", F_INT, J(attempts_started), 0 },
	{ "processedOn", F_LL, J(processed_on), 0 },
	{ "stacktrace", F_STR, J(stacktrace), 0 },
	{ "defa", F_STR, J(deferred), 0 },
	{ "deid", F_STR, J(dedup_id), 0 },
	{ "parentKey", F_STR, J(parent_key), 0 },
	{ "parent", F_STR, J(parent), 0 },
	{ "rjk", F_STR, J(scheduler), 0 },
	{ "infraSince", F_LL, J(infra_since), 0 },
};
#undef J

static int set_field(struct queue_job *job, const struct field_spec *f,
		     const char *value, size_t len)
{
	void *dst = (char *)job + f->offset;
	long long n;

	if (f->kind == F_STR) {
		if (memchr(value, '\0', len))
			return malformed(job, "field '%s' contains a NUL byte",
					 f->name);
		free(*(char **)dst);
		*(char **)dst = xstrndup(value, len);
		return 0;
	}
	if (strlen(value) != len || parse_ll(value, &n) ||
	    (f->kind == F_INT && (n < -2147483647LL || n > 2147483647LL)))
		return malformed(job, "field '%s' is not an integer", f->name);
	if (f->kind == F_INT)
		*(int *)dst = (int)n;
	else
		*(long long *)dst = n;
	return 0;
}

/* First problem only; always -1. reason is the whole failedReason. */
static int refuse(struct queue_job *job, const char *reason)
{
	if (!job->malformed)
		job->malformed = xstrdup(reason);
	return -1;
}

/* "VALIDATION_ERROR: opts.<name>=<value>: expected <accepted>". */
static int out_of_range(struct queue_job *job, const char *name, json_t *v,
			const char *accepted)
{
	char *text = NULL, num[40];
	struct buf b = BUF_INIT;

	if (json_is_real(v))
		snprintf(num, sizeof(num), "%.15g", json_real_value(v));
	else
		text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	buf_addf(&b, NULL, "VALIDATION_ERROR: opts.%s=%.64s: expected %s",
		 name, text ? text : json_is_real(v) ? num : "?", accepted);
	free(text);
	refuse(job, b.data);
	buf_release(&b);
	return -1;
}

/* "UNSUPPORTED_OPTION: <option>" (docs/bullmq-compat.md lists them). */
static int unsupported(struct queue_job *job, const char *option)
{
	struct buf b = BUF_INIT;

	buf_addf(&b, NULL, "UNSUPPORTED_OPTION: %s", option);
	refuse(job, b.data);
	buf_release(&b);
	return -1;
}

#define MAX_SAFE 9007199254740991.0 /* 2^53 - 1, JavaScript's safe integers */

/*
 * A JSON number that must be an integer in [min, max]: checked before any
 * cast, so a value such as 1e300 is refused rather than converted.
 */
static int read_int(struct queue_job *job, json_t *v, const char *name,
		    double min, double max, const char *accepted,
		    long long *out)
{
	double d;

	if (!json_is_number(v))
		return malformed(job, "opts.%s is not a number", name);
	d = json_number_value(v);
	if (!(d >= min && d <= max) || d != floor(d))
		return out_of_range(job, name, v, accepted);
	*out = (long long)d;
	return 0;
}

static int read_keep(struct queue_job *job, json_t *v, const char *name,
		     struct queue_keep *keep)
{
	json_t *count, *age;
	char what[64];
	long long n;

	if (!v || json_is_false(v) || json_is_null(v))
		return 0;
	if (json_is_true(v)) {
		keep->count = 0;
		return 0;
	}
	if (json_is_number(v)) {
		if (read_int(job, v, name, -2147483648.0, 2147483647.0,
			     "an integer count (negative keeps every job)", &n))
			return -1;
		keep->count = n < 0 ? -1 : (long)n;
		return 0;
	}
	if (!json_is_object(v))
		return malformed(job, "opts.%s is not a bool, number or object",
				 name);
	count = json_object_get(v, "count");
	age = json_object_get(v, "age");
	if ((count && !json_is_number(count)) || (age && !json_is_number(age)))
		return malformed(job, "opts.%s has a non-numeric count or age",
				 name);
	snprintf(what, sizeof(what), "%s.count", name);
	if (count && read_int(job, count, what, -2147483648.0, 2147483647.0,
			      "an integer count (negative keeps every job)", &n))
		return -1;
	if (count)
		keep->count = n < 0 ? -1 : (long)n;
	snprintf(what, sizeof(what), "%s.age", name);
	if (age && read_int(job, age, what, 0, MAX_SAFE / 1000,
			    "whole seconds 0..9007199254740", &n))
		return -1;
	if (age)
		keep->age_s = (long)n;
	return 0;
}

static const struct {
	const char *name;
	enum queue_backoff type;
} backoff_types[] = {
	{ "fixed", QUEUE_BACKOFF_FIXED },
	{ "exponential", QUEUE_BACKOFF_EXPONENTIAL },
};

static int read_backoff(struct queue_job *job, json_t *v)
{
	json_t *type, *delay, *jitter;
	long long n;
	size_t i;

	if (!v || json_is_null(v))
		return 0;
	if (json_is_number(v)) {
		if (read_int(job, v, "backoff", 0, MAX_SAFE,
			     "an integer delay 0..9007199254740991 ms", &n))
			return -1;
		job->backoff = QUEUE_BACKOFF_FIXED;
		job->backoff_delay = n;
		return 0;
	}
	type = json_object_get(v, "type");
	if (!json_is_object(v) || !json_is_string(type))
		return malformed(job, "opts.%s is not a number or {type, delay}",
				 "backoff");
	job->backoff = QUEUE_BACKOFF_UNKNOWN;
	for (i = 0; i < sizeof(backoff_types) / sizeof(backoff_types[0]); i++)
		if (!strcmp(json_string_value(type), backoff_types[i].name))
			job->backoff = backoff_types[i].type;
	delay = json_object_get(v, "delay");
	jitter = json_object_get(v, "jitter");
	if (delay && json_is_number(delay)) {
		if (read_int(job, delay, "backoff.delay", 0, MAX_SAFE,
			     "an integer delay 0..9007199254740991 ms", &n))
			return -1;
		job->backoff_delay = n;
	}
	if (jitter && json_is_number(jitter)) {
		double j = json_number_value(jitter);

		if (!(j >= 0 && j <= 1))
			return out_of_range(job, "backoff.jitter", jitter,
					    "a fraction 0..1");
		job->backoff_jitter = j;
	}
	return 0;
}

/*
 * A job scheduler's run ("rjk" in the hash) is honoured when the scheduler
 * repeats "every" N ms: the step script schedules the next run. A cron
 * "pattern" needs a cron evaluator this worker does not have, and a legacy
 * repeat key ("name:id:endDate:tz:every") BullMQ's Repeat class: such runs
 * fail at once with "UNSUPPORTED_OPTION: <option>" rather than silently
 * never repeating. (opts.repeat without "rjk", from Queue.add, is a plain
 * job under BullMQ 6.7's worker too: it runs once.)
 */
static void check_scheduler(struct queue_job *job, json_t *opts)
{
	json_t *rep = json_object_get(opts, "repeat");

	if (!job->scheduler)
		return;
	if (strchr(job->scheduler, ':'))
		unsupported(job, "repeat (legacy repeatable job key)");
	else if (json_object_get(rep, "pattern"))
		unsupported(job, "repeat.pattern");
}

static int read_dedup(struct queue_job *job, json_t *de)
{
	if (!de || json_is_null(de))
		return 0;
	if (!json_is_object(de))
		return malformed(job, "opts.%s is not an object",
				 "deduplication");
	return 0;
}

static int read_opts(struct queue_job *job)
{
	json_t *o, *v;
	long long n;
	int rc = 0;

	o = json_loadb(job->opts, strlen(job->opts), JSON_DECODE_ANY, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		return malformed(job, "%s is not a JSON object", "opts");
	}
	v = json_object_get(o, "attempts");
	if (v && !json_is_null(v)) {
		if (!read_int(job, v, "attempts", -2147483648.0, 2147483647.0,
			      "an integer up to 2147483647", &n))
			job->attempts = (int)n;
		else
			rc = -1;
	}
	v = json_object_get(o, "stackTraceLimit");
	if (v && !json_is_null(v)) {
		if (!read_int(job, v, "stackTraceLimit", 0, 2147483647.0,
			      "an integer 0..2147483647", &n))
			job->stack_limit = (int)n;
		else
			rc = -1;
	}
	v = json_object_get(o, "kl");
	if (v && !json_is_null(v)) {
		if (!read_int(job, v, "keepLogs", 0, 2147483647.0,
			      "an integer 0..2147483647", &n))
			job->keep_logs = (long)n;
		else
			rc = -1;
	}
	v = json_object_get(o, "delay");
	if (v && !json_is_null(v) &&
	    read_int(job, v, "delay", 0, MAX_SAFE,
		     "an integer delay 0..9007199254740991 ms", &n))
		rc = -1;
	v = json_object_get(o, "priority");
	if (v && !json_is_null(v) &&
	    read_int(job, v, "priority", 0, 2097151.0,
		     "an integer 0..2097151", &n))
		rc = -1;
	job->lifo = json_is_true(json_object_get(o, "lifo"));
	rc |= read_dedup(job, json_object_get(o, "de"));
	check_scheduler(job, o);
	rc |= read_backoff(job, json_object_get(o, "backoff"));
	rc |= read_keep(job, json_object_get(o, "removeOnComplete"),
			"removeOnComplete", &job->keep_completed);
	rc |= read_keep(job, json_object_get(o, "removeOnFail"),
			"removeOnFail", &job->keep_failed);
	json_decref(o);
	return rc ? -1 : 0;
}

static int check_data(struct queue_job *job)
{
	json_t *d = json_loadb(job->data, strlen(job->data), JSON_DECODE_ANY,
			       NULL);

	if (!d)
		return malformed(job, "%s is not JSON", "data");
	json_decref(d);
	return 0;
}

int queue_job_parse(struct queue_job *job, const char *id,
		    const char *const *field, const size_t *len, size_t nfields)
{
	int seen[sizeof(fields) / sizeof(fields[0])] = { 0 };
	size_t i, j;

	free(job->id);
	job->id = xstrdup(id);
	if (nfields < 2)
		return malformed(job, "%s", "job hash is missing or empty");
	for (i = 0; i + 1 < nfields; i += 2) {
		for (j = 0; j < sizeof(fields) / sizeof(fields[0]); j++) {
			if (strlen(fields[j].name) != len[i] ||
			    memcmp(fields[j].name, field[i], len[i]))
				continue;
			seen[j] = 1;
			set_field(job, &fields[j], field[i + 1], len[i + 1]);
		}
	}
	for (j = 0; j < sizeof(fields) / sizeof(fields[0]); j++)
		if (fields[j].required && !seen[j])
			malformed(job, "field '%s' is missing", fields[j].name);
	if (job->malformed)
		return -1;
	read_opts(job);
	check_data(job);
	return job->malformed ? -1 : 0;
}

static long long backoff_delay(const struct queue_job *job, double rand01)
{
	double base = (double)job->backoff_delay, jitter = job->backoff_jitter;

	if (job->backoff == QUEUE_BACKOFF_EXPONENTIAL)
		base = round(pow(2, job->attempts_made) * base);
	if (jitter > 0 && jitter <= 1)
		base = floor(rand01 * base * jitter + base * (1 - jitter));
	/* Checked before the cast: 2^attempts * delay may be any size. */
	return base >= MAX_SAFE ? (long long)MAX_SAFE : (long long)base;
}

enum queue_op queue_job_on_failure(const struct queue_job *job,
				   int unrecoverable, double rand01,
				   long long *delay_ms)
{
	*delay_ms = 0;
	if (unrecoverable || job->deferred || job->malformed ||
	    job->attempts_made + 1 >= job->attempts)
		return QUEUE_FAIL;
	if (job->backoff == QUEUE_BACKOFF_UNKNOWN)
		return QUEUE_ABANDON;
	if (job->backoff == QUEUE_BACKOFF_NONE)
		return QUEUE_RETRY_NOW;
	*delay_ms = backoff_delay(job, rand01);
	return *delay_ms > 0 ? QUEUE_RETRY_LATER : QUEUE_RETRY_NOW;
}

char *queue_job_stacktrace(const struct queue_job *job, const char *entry)
{
	json_t *arr = NULL;
	char *out;

	if (job->stacktrace)
		arr = json_loads(job->stacktrace, 0, NULL);
	if (!json_is_array(arr)) {
		json_decref(arr);
		arr = json_array();
	}
	json_array_append_new(arr, json_string(entry));
	if (job->stack_limit == 0)
		json_array_clear(arr);
	while (job->stack_limit > 0 &&
	       json_array_size(arr) > (size_t)job->stack_limit)
		json_array_remove(arr, 0);
	out = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	return out ? out : xstrdup("[]");
}
