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

static int read_keep(struct queue_job *job, json_t *v, const char *name,
		     struct queue_keep *keep)
{
	json_t *count, *age;

	if (!v || json_is_false(v) || json_is_null(v))
		return 0;
	if (json_is_true(v)) {
		keep->count = 0;
		return 0;
	}
	if (json_is_integer(v)) {
		keep->count = (long)json_integer_value(v);
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
	if (count)
		keep->count = (long)json_number_value(count);
	if (age)
		keep->age_s = (long)json_number_value(age);
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
	size_t i;

	if (!v || json_is_null(v))
		return 0;
	if (json_is_number(v)) {
		job->backoff = QUEUE_BACKOFF_FIXED;
		job->backoff_delay = (long long)json_number_value(v);
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
	if (delay && json_is_number(delay))
		job->backoff_delay = (long long)json_number_value(delay);
	if (jitter && json_is_number(jitter))
		job->backoff_jitter = json_number_value(jitter);
	return 0;
}

static int read_opts(struct queue_job *job)
{
	json_t *o, *v;
	int rc = 0;

	o = json_loadb(job->opts, strlen(job->opts), JSON_DECODE_ANY, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		return malformed(job, "%s is not a JSON object", "opts");
	}
	v = json_object_get(o, "attempts");
	if (v && !json_is_null(v)) {
		if (!json_is_number(v))
			rc = malformed(job, "opts.%s is not a number", "attempts");
		else
			job->attempts = (int)json_number_value(v);
	}
	v = json_object_get(o, "stackTraceLimit");
	if (v && json_is_number(v))
		job->stack_limit = (int)json_number_value(v);
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
		return (long long)floor(rand01 * base * jitter +
					base * (1 - jitter));
	return (long long)base;
}

enum queue_op queue_job_on_failure(const struct queue_job *job,
				   int unrecoverable, double rand01,
				   long long *delay_ms)
{
	*delay_ms = 0;
	if (unrecoverable || job->deferred || job->malformed ||
	    job->attempts_made + 1 >= job->attempts ||
	    job->backoff == QUEUE_BACKOFF_UNKNOWN)
		return QUEUE_FAIL;
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
