/*
 * cli_ops.c - the operator's day-to-day commands: list and count scans,
 * explain one (its audit trail beside its queue job), retry failed scans,
 * cancel queued ones, pause and resume the queue.
 *
 * Every change goes through the state machine first (a guarded, audited
 * move with actor "cli") and then through the queue the way BullMQ's own
 * Job and Queue methods do it (queue_admin.h), so a worker racing the
 * operator either sees the new state or loses the version check. Every
 * command has --format json for scripts. Not here: SQL, Lua.
 */
#include "fmacros.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "buf.h"
#include "cli.h"
#include "cli_report.h"
#include "clock.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "queue.h"
#include "queue_admin.h"
#include "state.h"
#include "store.h"
#include "xalloc.h"
#include "banned.h"

#define LIST_DEFAULT 100
#define LIST_MAX 100000
#define RETRY_DEFAULT 1000

enum ops_format { OPS_TEXT, OPS_JSON, OPS_CSV };

static const struct {
	const char *name;
	enum ops_format format;
} ops_formats[] = {
	{ "table", OPS_TEXT },
	{ "text", OPS_TEXT },
	{ "json", OPS_JSON },
	{ "csv", OPS_CSV },
};

#define NOPS_FORMATS (sizeof(ops_formats) / sizeof(ops_formats[0]))

/* The exit code for e: a move the scan's state refuses is bad input. */
static int ops_report_code(const struct err *e)
{
	if (e->kind == ERR_NOT_ALLOWED || e->kind == ERR_CONFLICT)
		return EX_DATAERR;
	return cli_exit_code(e->kind);
}

/* Print e and map it to an exit code. */
static int ops_report(const struct err *e)
{
	fprintf(stderr, "safeurl: %s\n", e->msg);
	return ops_report_code(e);
}

static struct queue_admin *ops_queue(const struct config *cfg, int *rc)
{
	struct queue_params params;
	struct queue_admin *qa = NULL;
	struct err e = ERR_INIT;

	queue_params_from_config(&params, cfg);
	if (queue_admin_open(&qa, &params, &e)) {
		fprintf(stderr, "safeurl: %s\n", e.msg);
		*rc = e.kind == ERR_NOT_ALLOWED ? EX_CONFIG : EX_UNAVAILABLE;
		return NULL;
	}
	return qa;
}

static int usage_error(const char *usage, const char *what, const char *val,
		       const char *accepted)
{
	if (what)
		fprintf(stderr, "safeurl: %s '%s': expected %s\n", what, val,
			accepted);
	fprintf(stderr, "usage: safeurl %s\n", usage);
	return EX_USAGE;
}

static int parse_format(const char *val, enum ops_format *out, int csv_ok)
{
	size_t i;

	for (i = 0; i < NOPS_FORMATS; i++)
		if (!strcmp(val, ops_formats[i].name) &&
		    (csv_ok || ops_formats[i].format != OPS_CSV)) {
			*out = ops_formats[i].format;
			return 0;
		}
	return -1;
}

/* "QUEUED" or "queued"; STATE_NONE when not a state. */
static enum state parse_state(const char *val)
{
	char up[16];
	size_t i;

	for (i = 0; val[i] && i + 1 < sizeof(up); i++)
		up[i] = (char)toupper((unsigned char)val[i]);
	up[i] = '\0';
	return val[i] ? STATE_NONE : state_parse(up);
}

/* Units of --since durations. */
static const struct {
	char unit;
	long long ms;
} since_units[] = {
	{ 's', 1000 }, { 'm', 60000 }, { 'h', 3600000 }, { 'd', 86400000 },
};

/*
 * --since: a duration back from now ("30m", "2h", "7d", "45s") or a UTC
 * date or time ("2026-12-01", "2026-12-01T08:00:00Z"). Epoch ms in *out.
 */
static int parse_since(const char *val, long long now, long long *out)
{
	struct tm tm;
	char *end;
	const char *rest;
	long long n;
	size_t i;

	n = strtoll(val, &end, 10);
	if (end != val && n >= 0 && end[0] && !end[1])
		for (i = 0; i < sizeof(since_units) / sizeof(since_units[0]); i++)
			if (since_units[i].unit == end[0]) {
				*out = now - n * since_units[i].ms;
				return 0;
			}
	memset(&tm, 0, sizeof(tm));
	rest = strptime(val, "%Y-%m-%d", &tm);
	if (rest && *rest == 'T')
		rest = strptime(rest + 1, "%H:%M:%S", &tm);
	if (rest && *rest == 'Z')
		rest++;
	if (!rest || *rest)
		return -1;
	*out = (long long)timegm(&tm) * 1000;
	return 0;
}

static void iso_time(long long ms, char out[32])
{
	struct tm tm;
	time_t secs = (time_t)(ms / 1000);

	if (!ms || !gmtime_r(&secs, &tm) ||
	    !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, 32, "-");
}

/* A CSV field, quoted when it needs to be (RFC 4180). */
static void csv_field(struct buf *b, const char *s, int last)
{
	const char *p;

	if (!s)
		s = "";
	if (strpbrk(s, ",\"\r\n")) {
		buf_addch(b, '"', NULL);
		for (p = s; *p; p++) {
			if (*p == '"')
				buf_addch(b, '"', NULL);
			buf_addch(b, *p, NULL);
		}
		buf_addch(b, '"', NULL);
	} else {
		buf_addstr(b, s, NULL);
	}
	buf_addch(b, last ? '\n' : ',', NULL);
}

/* Jobs as a JSON array of `status --format json` objects, one a line. */
static void jobs_json(const struct state_job_list *list, struct buf *out)
{
	size_t i;

	buf_addch(out, '[', NULL);
	for (i = 0; i < list->nr; i++) {
		if (i)
			buf_addch(out, ',', NULL);
		buf_addch(out, '\n', NULL);
		cli_report_status_json(&list->items[i], out);
		out->data[--out->len] = '\0'; /* the object's newline */
	}
	buf_addstr(out, list->nr ? "\n]\n" : "]\n", NULL);
}

static void jobs_csv(const struct state_job_list *list, struct buf *out)
{
	char when[32], num[24];
	size_t i;

	buf_addstr(out, "id,state,error_code,attempts,updated_at,url\n", NULL);
	for (i = 0; i < list->nr; i++) {
		const struct state_job *j = &list->items[i];

		iso_time(j->updated_at, when);
		snprintf(num, sizeof(num), "%d", j->attempts);
		csv_field(out, j->id, 0);
		csv_field(out, state_name(j->state), 0);
		csv_field(out, j->error_code, 0);
		csv_field(out, num, 0);
		csv_field(out, when, 0);
		csv_field(out, j->url, 1);
	}
}

static void jobs_table(const struct state_job_list *list, struct buf *out)
{
	char when[32];
	size_t i;

	buf_addf(out, NULL, "%-36s  %-9s  %-20s  %-20s  %s\n", "ID", "STATE",
		 "ERROR", "UPDATED", "URL");
	for (i = 0; i < list->nr; i++) {
		const struct state_job *j = &list->items[i];

		iso_time(j->updated_at, when);
		buf_addf(out, NULL, "%-36s  %-9s  %-20s  %-20s  %s\n", j->id,
			 state_name(j->state),
			 j->error_code ? j->error_code : "-", when, j->url);
	}
}

/* Options shared by list and retry --state. */
struct select_opts {
	struct state_filter f;
	long limit;
	enum ops_format format;
	int dry_run;
};

/*
 * Parse "--state S --code C --since T --limit N --format F --dry-run"
 * (which ones are allowed: flags below) from argv[*i]; 1 when argv[*i]
 * was one of them, 0 when not, or an exit code (> 1) for a bad value.
 */
enum { SEL_FORMAT_CSV = 1, SEL_DRY_RUN = 2 };

static int select_opt(int argc, char **argv, int *i, struct select_opts *o,
		      unsigned flags, const char *usage)
{
	const char *opt = argv[*i], *val;
	char *end;

	if (!strcmp(opt, "--dry-run") && (flags & SEL_DRY_RUN)) {
		o->dry_run = 1;
		return 1;
	}
	if (strcmp(opt, "--state") && strcmp(opt, "--code") &&
	    strcmp(opt, "--since") && strcmp(opt, "--limit") &&
	    strcmp(opt, "--format"))
		return 0;
	if (*i + 1 >= argc)
		return usage_error(usage, NULL, NULL, NULL);
	val = argv[++*i];
	if (!strcmp(opt, "--state")) {
		if ((o->f.state = parse_state(val)) == STATE_NONE)
			return usage_error(usage, "--state", val,
					   "QUEUED, FETCHING, ANALYZING, "
					   "COMPLETED, FAILED or TIMED_OUT");
	} else if (!strcmp(opt, "--code")) {
		if (!*val)
			return usage_error(usage, "--code", val,
					   "an error code such as "
					   "CONNECT_FAILED");
		o->f.error_code = val;
	} else if (!strcmp(opt, "--since")) {
		if (parse_since(val, clock_wall_ms(), &o->f.since))
			return usage_error(usage, "--since", val,
					   "a duration (45s, 30m, 2h, 7d) or "
					   "a UTC date (2026-12-01 or "
					   "2026-12-01T08:00:00Z)");
	} else if (!strcmp(opt, "--limit")) {
		o->limit = strtol(val, &end, 10);
		if (*end || end == val || o->limit < 1 || o->limit > LIST_MAX)
			return usage_error(usage, "--limit", val,
					   "an integer 1..100000");
	} else if (parse_format(val, &o->format, flags & SEL_FORMAT_CSV)) {
		return usage_error(usage, "--format", val,
				   flags & SEL_FORMAT_CSV ?
				   "table, json or csv" : "text or json");
	}
	return 1;
}

/* ---- list ---- */

#define LIST_USAGE "list [--state S] [--code C] [--since T] [--limit N] " \
		   "[--format table|json|csv]"

int cli_list(const struct config *cfg, int argc, char **argv)
{
	struct select_opts o = { { STATE_NONE, NULL, 0 }, LIST_DEFAULT,
				 OPS_TEXT, 0 };
	struct state_job_list list = { NULL, 0 };
	struct buf out = BUF_INIT;
	struct err e = ERR_INIT;
	struct store *st;
	int i, rc = 0;

	for (i = 1; i < argc; i++) {
		rc = select_opt(argc, argv, &i, &o, SEL_FORMAT_CSV, LIST_USAGE);
		if (rc == 0)
			return usage_error(LIST_USAGE, "argument", argv[i],
					   "one of the options");
		if (rc > 1)
			return rc;
	}
	rc = 0;
	if (!(st = cli_open_store(cfg, &rc)))
		return rc;
	if (state_list(st, &o.f, (size_t)o.limit, &list, &e)) {
		rc = ops_report(&e);
	} else {
		if (o.format == OPS_JSON)
			jobs_json(&list, &out);
		else if (o.format == OPS_CSV)
			jobs_csv(&list, &out);
		else
			jobs_table(&list, &out);
		fputs(out.data, stdout);
	}
	state_job_list_release(&list);
	buf_release(&out);
	store_close(st);
	return rc;
}

/* ---- stats ---- */

static int stats_render(const struct state_count_list *counts,
			const struct queue_admin_counts *q, const char *queue,
			enum ops_format fmt)
{
	long long by_state[STATE_COUNT] = { 0 }, total = 0;
	json_t *o, *states, *codes, *jq;
	char *text;
	size_t i;
	int s;

	for (i = 0; i < counts->nr; i++)
		if ((unsigned)counts->items[i].state < STATE_COUNT) {
			by_state[counts->items[i].state] += counts->items[i].count;
			total += counts->items[i].count;
		}
	if (fmt == OPS_TEXT) {
		printf("scans (%lld):\n", total);
		for (s = 0; s < STATE_COUNT; s++)
			printf("  %-10s %lld\n", state_name(s), by_state[s]);
		printf("error codes:\n");
		for (i = 0; i < counts->nr; i++)
			if (counts->items[i].error_code)
				printf("  %-10s %-24s %lld\n",
				       state_name(counts->items[i].state),
				       counts->items[i].error_code,
				       counts->items[i].count);
		printf("queue %s%s:\n", queue, q->paused ? " (paused)" : "");
		printf("  %-11s %lld\n  %-11s %lld\n  %-11s %lld\n  %-11s %lld\n"
		       "  %-11s %lld\n  %-11s %lld\n", "waiting", q->waiting,
		       "prioritized", q->prioritized, "active", q->active,
		       "delayed", q->delayed, "failed", q->failed, "completed",
		       q->completed);
		return 0;
	}
	o = json_object();
	states = json_object();
	codes = json_object();
	for (s = 0; s < STATE_COUNT; s++)
		json_object_set_new(states, state_name(s),
				    json_integer(by_state[s]));
	for (i = 0; i < counts->nr; i++) {
		const struct state_count *c = &counts->items[i];
		json_t *prev;

		if (!c->error_code)
			continue;
		prev = json_object_get(codes, c->error_code);
		json_object_set_new(codes, c->error_code,
			json_integer(c->count + (prev ? json_integer_value(prev) : 0)));
	}
	jq = json_pack("{s:s,s:b,s:I,s:I,s:I,s:I,s:I,s:I}", "name", queue,
		       "paused", q->paused, "waiting", (json_int_t)q->waiting,
		       "prioritized", (json_int_t)q->prioritized, "active",
		       (json_int_t)q->active, "delayed", (json_int_t)q->delayed,
		       "failed", (json_int_t)q->failed, "completed",
		       (json_int_t)q->completed);
	json_object_set_new(o, "total", json_integer(total));
	json_object_set_new(o, "states", states);
	json_object_set_new(o, "errorCodes", codes);
	json_object_set_new(o, "queue", jq);
	text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	printf("%s\n", text ? text : "{}");
	free(text);
	json_decref(o);
	return 0;
}

/* "[--format text|json]" as the only arguments. */
static int format_only(int argc, char **argv, const char *usage,
		       enum ops_format *fmt)
{
	if (argc == 1)
		return 0;
	if (argc == 3 && !strcmp(argv[1], "--format")) {
		if (parse_format(argv[2], fmt, 0))
			return usage_error(usage, "--format", argv[2],
					   "text or json");
		return 0;
	}
	return usage_error(usage, NULL, NULL, NULL);
}

static void queue_label(const struct config *cfg, struct buf *b)
{
	buf_addf(b, NULL, "%s:%s", cfg->bullmq_prefix, cfg->queue_name);
}

int cli_stats(const struct config *cfg, int argc, char **argv)
{
	struct state_count_list counts = { NULL, 0 };
	struct queue_admin_counts q;
	enum ops_format fmt = OPS_TEXT;
	struct queue_admin *qa = NULL;
	struct buf label = BUF_INIT;
	struct err e = ERR_INIT;
	struct store *st;
	int rc = format_only(argc, argv, "stats [--format text|json]", &fmt);

	if (rc || !(st = cli_open_store(cfg, &rc)))
		return rc;
	if (state_counts(st, &counts, &e))
		rc = ops_report(&e);
	else if ((qa = ops_queue(cfg, &rc)) && queue_admin_counts(qa, &q, &e))
		rc = ops_report(&e);
	if (!rc) {
		queue_label(cfg, &label);
		rc = stats_render(&counts, &q, label.data, fmt);
	}
	queue_admin_close(qa);
	state_count_list_release(&counts);
	buf_release(&label);
	store_close(st);
	return rc;
}

/* ---- history ---- */

/* The BullMQ job id that last carried the scan (the claim's audit detail
 * "queue_job"), or the scan id, which submit uses. Borrowed from list. */
static const char *queue_job_id(const struct state_audit_list *list,
				const char *id, json_t **keep)
{
	const char *found = id;
	json_t *d;
	size_t i;

	*keep = json_array();
	for (i = 0; i < list->nr; i++) {
		d = list->items[i].detail ?
			json_loads(list->items[i].detail, 0, NULL) : NULL;
		if (d && json_is_string(json_object_get(d, "queue_job")))
			found = json_string_value(json_object_get(d, "queue_job"));
		if (d)
			json_array_append_new(*keep, d);
	}
	return found;
}

static void history_text(const struct state_job *job,
			 const struct state_audit_list *list,
			 const char *bull_id, const struct queue_admin_job *qj)
{
	char when[32];
	size_t i;

	printf("scan %s  %s  %s\n", job->id, state_name(job->state), job->url);
	if (job->error_code)
		printf("error: %s: %s\n", job->error_code,
		       job->error_message ? job->error_message : "");
	printf("\n%-20s  %-9s  %-9s  %3s  %-24s  %s\n", "WHEN", "FROM", "TO",
	       "VER", "ACTOR", "DETAIL");
	for (i = 0; i < list->nr; i++) {
		const struct state_audit *a = &list->items[i];

		iso_time(a->created_at, when);
		printf("%-20s  %-9s  %-9s  %3lld  %-24s  %s\n", when,
		       a->from == STATE_NONE ? "-" : state_name(a->from),
		       state_name(a->to), a->version, a->actor,
		       a->detail ? a->detail : "");
	}
	printf("\nqueue job %s: %s, attempts made %lld, started %lld",
	       bull_id, qj->state, qj->attempts_made, qj->attempts_started);
	if (qj->failed_reason)
		printf(", failed reason: %s", qj->failed_reason);
	printf("\n");
}

static void history_json(const struct state_job *job,
			 const struct state_audit_list *list, json_t *details,
			 const char *bull_id, const struct queue_admin_job *qj)
{
	struct buf jb = BUF_INIT;
	json_t *o, *trail, *a;
	char *text;
	size_t i, k = 0;

	cli_report_status_json(job, &jb);
	o = json_loads(jb.data, 0, NULL);
	buf_release(&jb);
	if (!o)
		o = json_object();
	trail = json_array();
	for (i = 0; i < list->nr; i++) {
		const struct state_audit *au = &list->items[i];
		json_t *d = NULL;

		if (au->detail && k < json_array_size(details))
			d = json_incref(json_array_get(details, k++));
		a = json_pack("{s:o,s:s,s:I,s:s,s:o,s:I}", "from",
			      au->from == STATE_NONE ? json_null() :
				json_string(state_name(au->from)),
			      "to", state_name(au->to), "version",
			      (json_int_t)au->version, "actor", au->actor,
			      "detail", d ? d : json_null(), "at",
			      (json_int_t)au->created_at);
		json_array_append_new(trail, a);
	}
	json_object_set_new(o, "audit", trail);
	json_object_set_new(o, "queueJob",
		json_pack("{s:s,s:s,s:I,s:I,s:o}", "id", bull_id, "state",
			  qj->state, "attemptsMade",
			  (json_int_t)qj->attempts_made, "attemptsStarted",
			  (json_int_t)qj->attempts_started, "failedReason",
			  qj->failed_reason ? json_string(qj->failed_reason) :
					      json_null()));
	text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	printf("%s\n", text ? text : "{}");
	free(text);
	json_decref(o);
}

#define HISTORY_USAGE "history ID [--format text|json]"

int cli_history(const struct config *cfg, int argc, char **argv)
{
	struct state_audit_list list = { NULL, 0 };
	struct queue_admin_job qj;
	struct state_job job;
	enum ops_format fmt = OPS_TEXT;
	struct queue_admin *qa = NULL;
	struct err e = ERR_INIT;
	const char *id = NULL, *bull_id;
	json_t *details = NULL;
	struct store *st;
	int i, rc = 0;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--format") && i + 1 < argc) {
			if (parse_format(argv[++i], &fmt, 0))
				return usage_error(HISTORY_USAGE, "--format",
						   argv[i], "text or json");
		} else if (!id && argv[i][0] != '-') {
			id = argv[i];
		} else {
			return usage_error(HISTORY_USAGE, NULL, NULL, NULL);
		}
	}
	if (!id)
		return usage_error(HISTORY_USAGE, NULL, NULL, NULL);
	if (!(st = cli_open_store(cfg, &rc)))
		return rc;
	state_job_init(&job);
	memset(&qj, 0, sizeof(qj));
	if (state_get_job(st, id, &job, &e) ||
	    state_get_audit(st, id, &list, &e)) {
		rc = ops_report(&e);
		goto out;
	}
	bull_id = queue_job_id(&list, id, &details);
	if (!(qa = ops_queue(cfg, &rc)))
		goto out;
	if (queue_admin_job(qa, bull_id, &qj, &e)) {
		rc = ops_report(&e);
		goto out;
	}
	if (fmt == OPS_JSON)
		history_json(&job, &list, details, bull_id, &qj);
	else
		history_text(&job, &list, bull_id, &qj);
out:
	json_decref(details);
	queue_admin_job_release(&qj);
	queue_admin_close(qa);
	state_audit_list_release(&list);
	state_job_release(&job);
	store_close(st);
	return rc;
}

/* ---- retry and cancel ---- */

/* The outcome of one scan for retry or cancel, printed as text or JSON. */
static void outcome(json_t *arr, enum ops_format fmt, const char *id,
		    const char *action, const char *queue, const char *error)
{
	if (fmt == OPS_JSON) {
		json_array_append_new(arr, json_pack("{s:s,s:s,s:o,s:o}", "id",
			id, "outcome", action, "queue",
			queue ? json_string(queue) : json_null(), "error",
			error ? json_string(error) : json_null()));
		return;
	}
	if (error)
		fprintf(stderr, "safeurl: %s\n", error);
	else
		printf("%s %s%s%s%s\n", action, id, queue ? " (queue: " : "",
		       queue ? queue : "", queue ? ")" : "");
}

static void outcomes_print(json_t *arr, enum ops_format fmt)
{
	char *text;

	if (fmt != OPS_JSON)
		return;
	text = json_dumps(arr, JSON_COMPACT);
	printf("%s\n", text ? text : "[]");
	free(text);
}

/* Exit code for one failed scan: the worst one wins (69 over 65). */
static void worse(int *rc, int code)
{
	if (code == EX_UNAVAILABLE || !*rc)
		*rc = code;
}

/*
 * Retry one scan: FAILED/TIMED_OUT -> QUEUED in the database, then its
 * BullMQ job back to wait (Job.retry) or, when the queue has no such job
 * any more, a new one added with the scan id.
 */
static int retry_one(struct store *st, struct queue_admin *qa,
		     struct queue_producer *qp, struct state_job *job,
		     int dry_run, json_t *arr, enum ops_format fmt)
{
	struct state_actor cli = { "cli", clock_wall_ms(), 0, NULL };
	struct err e = ERR_INIT, why;
	int moved, added;

	if (job->state != STATE_FAILED && job->state != STATE_TIMED_OUT) {
		err_set(&e, ERR_NOT_ALLOWED, "retry: scan '%s' is %s: only "
			"FAILED or TIMED_OUT scans can be retried", job->id,
			state_name(job->state));
		outcome(arr, fmt, job->id, "refused", NULL, e.msg);
		return EX_DATAERR;
	}
	if (dry_run) {
		outcome(arr, fmt, job->id, "would retry", NULL, NULL);
		return 0;
	}
	if (state_retry(st, &cli, job, &e)) {
		outcome(arr, fmt, job->id, "refused", NULL, e.msg);
		return ops_report_code(&e);
	}
	if (queue_admin_retry(qa, job->id, &moved, &e))
		goto lost;
	if (moved == -1) {
		if (cli_enqueue(qp, job->id, job->id, job->url, &added, &e))
			goto lost;
		outcome(arr, fmt, job->id, "retried", "new job added", NULL);
	} else {
		outcome(arr, fmt, job->id, "retried", moved == 1 ?
			"job moved back to wait" : "job already pending", NULL);
	}
	return 0;
lost:
	why = e;
	err_set(&e, ERR_UNAVAILABLE, "retry: scan '%s' is QUEUED but its queue "
		"job could not be re-added (%s); run `safeurl requeue "
		"--stale` once Redis answers", job->id, why.msg);
	outcome(arr, fmt, job->id, "queued", NULL, e.msg);
	return EX_UNAVAILABLE;
}

/* Cancel one scan: QUEUED -> FAILED (CANCELLED), then its job removed. */
static int cancel_one(struct store *st, struct queue_admin *qa,
		      struct state_job *job, json_t *arr, enum ops_format fmt)
{
	struct state_actor cli = { "cli", clock_wall_ms(), 0, NULL };
	struct err e = ERR_INIT;
	int removed;

	if (job->state != STATE_QUEUED) {
		err_set(&e, ERR_NOT_ALLOWED, "cancel: scan '%s' is %s: only "
			"QUEUED scans can be cancelled", job->id,
			state_name(job->state));
		outcome(arr, fmt, job->id, "refused", NULL, e.msg);
		return EX_DATAERR;
	}
	if (state_fail(st, &cli, job, "CANCELLED", "cancelled by the operator",
		       &e)) {
		outcome(arr, fmt, job->id, "refused", NULL, e.msg);
		return ops_report_code(&e);
	}
	if (queue_admin_remove(qa, job->id, &removed, &e)) {
		outcome(arr, fmt, job->id, "cancelled", NULL, e.msg);
		return EX_UNAVAILABLE;
	}
	outcome(arr, fmt, job->id, "cancelled", removed ? "job removed" :
		"no waiting job (a worker that takes it skips it)", NULL);
	return 0;
}

#define RETRY_USAGE "retry ID...|--state FAILED|TIMED_OUT [--code C] " \
		    "[--since T] [--limit N] [--dry-run] [--format text|json]"
#define CANCEL_USAGE "cancel ID... [--format text|json]"

/* The scans named on the command line, or those --state selects. */
static int collect(struct store *st, char **ids, size_t nids,
		   const struct select_opts *o, struct state_job_list *list,
		   json_t *arr, enum ops_format fmt, int *rc)
{
	struct err e = ERR_INIT;
	size_t i;

	if (!nids)
		return state_list(st, &o->f, (size_t)o->limit, list, &e) ?
			       (*rc = ops_report(&e), -1) : 0;
	list->items = xcalloc(nids, sizeof(*list->items));
	list->nr = 0;
	for (i = 0; i < nids; i++) {
		if (state_get_job(st, ids[i], &list->items[list->nr], &e)) {
			state_job_release(&list->items[list->nr]);
			outcome(arr, fmt, ids[i], "refused", NULL, e.msg);
			worse(rc, ops_report_code(&e));
			continue;
		}
		list->nr++;
	}
	return 0;
}

static int retry_or_cancel(const struct config *cfg, int argc, char **argv,
			   int retry)
{
	const char *usage = retry ? RETRY_USAGE : CANCEL_USAGE;
	struct select_opts o = { { STATE_NONE, NULL, 0 }, RETRY_DEFAULT,
				 OPS_TEXT, 0 };
	struct state_job_list list = { NULL, 0 };
	struct queue_producer *qp = NULL;
	struct queue_admin *qa = NULL;
	struct queue_params params;
	struct err e = ERR_INIT;
	struct store *st = NULL;
	char **ids = xcalloc((size_t)argc, sizeof(*ids));
	size_t nids = 0, i;
	json_t *arr = json_array();
	int k, r, rc = 0;

	for (k = 1; k < argc; k++) {
		r = select_opt(argc, argv, &k, &o, retry ? SEL_DRY_RUN : 0,
			       usage);
		if (r > 1) {
			rc = r;
			goto out;
		}
		if (r == 1 && (retry || !strcmp(argv[k - 1], "--format")))
			continue;
		if (r == 1 || argv[k][0] == '-') {
			rc = usage_error(usage, NULL, NULL, NULL);
			goto out;
		}
		ids[nids++] = argv[k];
	}
	if ((!nids) == (o.f.state == STATE_NONE) ||
	    (nids && (o.f.error_code || o.f.since || o.dry_run)) ||
	    (o.f.state != STATE_NONE && o.f.state != STATE_FAILED &&
	     o.f.state != STATE_TIMED_OUT)) {
		fprintf(stderr, "safeurl: %s: name scans by id, or select "
			"them with --state FAILED or TIMED_OUT (and --code, "
			"--since, --dry-run), not both\n", argv[0]);
		rc = usage_error(usage, NULL, NULL, NULL);
		goto out;
	}
	if (!(st = cli_open_store(cfg, &rc)) ||
	    (!o.dry_run && !(qa = ops_queue(cfg, &rc))))
		goto out;
	if (retry && !o.dry_run) {
		queue_params_from_config(&params, cfg);
		params.worker_name = "cli";
		if (queue_producer_open(&qp, &params, &e)) {
			rc = ops_report(&e);
			goto out;
		}
	}
	if (collect(st, ids, nids, &o, &list, arr, o.format, &rc))
		goto out;
	for (i = 0; i < list.nr; i++)
		worse(&rc, retry ? retry_one(st, qa, qp, &list.items[i],
					     o.dry_run, arr, o.format) :
				   cancel_one(st, qa, &list.items[i], arr,
					      o.format));
	outcomes_print(arr, o.format);
out:
	json_decref(arr);
	free(ids);
	state_job_list_release(&list);
	queue_producer_close(qp);
	queue_admin_close(qa);
	if (st)
		store_close(st);
	return rc;
}

int cli_retry(const struct config *cfg, int argc, char **argv)
{
	return retry_or_cancel(cfg, argc, argv, 1);
}

int cli_cancel(const struct config *cfg, int argc, char **argv)
{
	return retry_or_cancel(cfg, argc, argv, 0);
}

/* ---- pause and resume ---- */

static int pause_resume(const struct config *cfg, int argc, char **argv,
			int pause)
{
	struct queue_admin *qa;
	struct buf label = BUF_INIT;
	struct err e = ERR_INIT;
	int rc = 0;

	(void)argv;
	if (argc != 1)
		return usage_error(pause ? "pause" : "resume", NULL, NULL, NULL);
	log_init(cfg->log_level, cfg->log_format, "cli");
	if (!(qa = ops_queue(cfg, &rc)))
		return rc;
	queue_label(cfg, &label);
	if (queue_admin_pause(qa, pause, &e))
		rc = ops_report(&e);
	else
		printf("queue %s %s\n", label.data,
		       pause ? "paused: workers finish what they hold and "
			       "take nothing new" : "resumed");
	buf_release(&label);
	queue_admin_close(qa);
	return rc;
}

int cli_pause(const struct config *cfg, int argc, char **argv)
{
	return pause_resume(cfg, argc, argv, 1);
}

int cli_resume(const struct config *cfg, int argc, char **argv)
{
	return pause_resume(cfg, argc, argv, 0);
}
