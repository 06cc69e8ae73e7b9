/*
 * scan.c - the scan pipeline: one queue job from payload to stored result.
 *
 *   payload -> scan id + row -> claim / takeover -> container -> output
 *           -> ANALYZING -> COMPLETED + result      (one job, one thread)
 *
 * How a scan ends is decided by the outcome table (outcome.c) from what
 * the run came to, the fetcher's document, the attempts left and the
 * scan's infrastructure-fault history; this file gathers those inputs and
 * carries out the database move and the queue report it names. Threads take tasks from a pending list; the keeper
 * (scan_keeper.c) renews the leases of tasks in flight, from the version
 * each task publishes after every move.
 */
#include "fmacros.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "metrics.h"
#include "outcome.h"
#include "queue.h"
#include "runtime.h"
#include "scan.h"
#include "redact.h"
#include "useragent.h"
#include "fetcher/url.h"
#include "scan_int.h"
#include "scan_output.h"
#include "state.h"
#include "store.h"
#include "worker.h"
#include "xalloc.h"
#include "banned.h"

#define URL_MAX 8192
#define ACQUIRE_ROUNDS 8
#define STDERR_IN_MESSAGE 1024


static struct state_actor actor(const struct scan_task *t)
{
	struct state_actor who = { t->ctx->cfg->worker_id, clock_wall_ms(),
				   t->ctx->lease_ms, &t->qref };

	return who;
}

static const char *job_id(const struct scan_task *t)
{
	return t->id ? t->id : worker_job_id(t->job);
}

/*
 * A line about the task: "job" is the BullMQ job id, "scan" the scan id
 * (once known) and "queue" the queue, as fields collectors filter on.
 */
static void task_log(enum log_level level, struct scan_task *t,
		     const char *event, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void task_log(enum log_level level, struct scan_task *t,
		     const char *event, const char *fmt, ...)
{
	struct buf queue = BUF_INIT, msg = BUF_INIT;
	struct log_field f[2];
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	buf_vaddf(&msg, NULL, fmt, ap);
	va_end(ap);
	buf_addf(&queue, NULL, "%s:%s", t->ctx->cfg->bullmq_prefix,
		 t->ctx->cfg->queue_name);
	f[0] = (struct log_field){ "scan", t->id };
	f[1] = (struct log_field){ "queue", queue.data };
	log_fields(level, worker_job_id(t->job), event, f, 2, "%s", msg.data);
	buf_release(&queue);
	buf_release(&msg);
}

/* ---- reporting to the queue ---- */

static void finish(struct scan_task *t, enum metrics_outcome outcome)
{
	struct metrics *m = t->ctx->metrics;

	metrics_job_done(m, outcome);
	metrics_observe_scan(m, (double)(clock_mono_ms() - t->started_ms) / 1000);
}

static void report_json(struct scan_task *t, json_t *ret,
			enum metrics_outcome outcome)
{
	char *text = json_dumps(ret, JSON_COMPACT);

	json_decref(ret);
	finish(t, outcome);
	worker_job_complete(t->job, text);
	free(text);
}

static void report_skip(struct scan_task *t, const char *reason)
{
	task_log(LOG_INFO, t, "skip", "scan skipped: %s", reason);
	report_json(t, json_pack("{s:s, s:b, s:s}", "jobId", job_id(t),
				 "skipped", 1, "reason", reason),
		    METRICS_SKIPPED);
}

/*
 * Codes that describe the target site, not this service: logged at info,
 * because nobody running the worker can act on a dead URL. Every other
 * code (the container, the engine, the database, invalid output, an
 * internal error) is an infrastructure fault: warn.
 */
static const char *const target_codes[] = {
	"INVALID_URL", "BAD_REDIRECT", "DNS_NXDOMAIN", "DNS_FAILURE",
	"CONNECT_FAILED", "TLS_ERROR", "TIMEOUT", "CONNECTION_LOST",
	"PROTOCOL_ERROR", "TOO_MANY_REDIRECTS", "BODY_TOO_LARGE",
	"HEADERS_TOO_LARGE", "FETCH_FAILED",
};

static enum log_level fail_level(const char *code)
{
	size_t i;

	for (i = 0; i < sizeof(target_codes) / sizeof(target_codes[0]); i++)
		if (!strcmp(code, target_codes[i]))
			return LOG_INFO;
	return LOG_WARN;
}

/*
 * An outcome line with the fields collectors filter on: the scan, the
 * queue, the URL (redacted), the state, the verdict or error code, and
 * how long the scan has run. NULL values are left out.
 */
static void log_outcome(enum log_level level, struct scan_task *t,
			const char *event, const char *state,
			const char *verdict, const char *code,
			const char *msg)
{
	struct buf url = BUF_INIT, queue = BUF_INIT;
	char dur[24];
	struct log_field f[7];

	if (!log_enabled(level))
		return;
	if (t->row.url)
		redact_urls(t->row.url, &url);
	buf_addf(&queue, NULL, "%s:%s", t->ctx->cfg->bullmq_prefix,
		 t->ctx->cfg->queue_name);
	snprintf(dur, sizeof(dur), "%lld", clock_mono_ms() - t->started_ms);
	f[0] = (struct log_field){ "scan", t->id };
	f[1] = (struct log_field){ "queue", queue.data };
	f[2] = (struct log_field){ "url", t->row.url ? url.data : NULL };
	f[3] = (struct log_field){ "state", state };
	f[4] = (struct log_field){ "verdict", verdict };
	f[5] = (struct log_field){ "error_code", code };
	f[6] = (struct log_field){ "duration_ms", dur };
	log_fields(level, worker_job_id(t->job), event, f, 7, "%s", msg);
	buf_release(&url);
	buf_release(&queue);
}

static void report_fail(struct scan_task *t, const char *code,
			const char *msg, const char *state,
			enum worker_fail_mode mode, enum metrics_outcome outcome)
{
	struct buf reason = BUF_INIT, line = BUF_INIT;

	buf_addf(&reason, NULL, "%s: ", code);
	redact_urls(msg, &reason); /* no credentials or query values in logs or failedReason */
	buf_addf(&line, NULL, "%s%s", reason.data,
		 mode == WORKER_FAIL_RETRY ? " (retryable)" : "");
	log_outcome(fail_level(code), t, "fail", state, NULL, code, line.data);
	buf_release(&line);
	metrics_failure(t->ctx->metrics, code);
	finish(t, outcome);
	worker_job_fail(t->job, mode == WORKER_FAIL_RETRY ? ERR_UNAVAILABLE :
							    ERR_INVALID,
			reason.data, mode);
	buf_release(&reason);
}

/* Shutdown: the outcome is discarded and the queue requeues the job. */
static void report_released(struct scan_task *t)
{
	task_log(LOG_INFO, t, "release", "released for another worker");
	finish(t, METRICS_RELEASED);
	worker_job_complete(t->job, NULL);
}

static void add_result_fields(json_t *ret, const struct state_result *res)
{
	json_object_set_new(ret, "verdict", json_string(res->verdict));
	json_object_set_new(ret, "riskScore", json_integer(res->risk_score));
	json_object_set_new(ret, "httpStatus", res->http_status ?
				     json_integer(res->http_status) : json_null());
	json_object_set_new(ret, "finalUrl", res->final_url ?
				     json_string(res->final_url) : json_null());
}

static void report_completed(struct scan_task *t,
			     const struct state_result *res)
{
	json_t *ret = json_pack("{s:s, s:s}", "jobId", job_id(t), "state",
				"COMPLETED");

	add_result_fields(ret, res);
	{
		char m[64];

		snprintf(m, sizeof(m), "scan completed: %s (%d)", res->verdict,
			 res->risk_score);
		log_outcome(LOG_INFO, t, "complete", "COMPLETED", res->verdict,
			    NULL, m);
	}
	report_json(t, ret, METRICS_COMPLETED);
}

/* The scan is terminal already: report its stored outcome again. */
static void report_terminal(struct scan_task *t, struct store *st)
{
	struct state_result res;
	struct err e = ERR_INIT;
	json_t *ret = json_pack("{s:s, s:b, s:s, s:s}", "jobId", job_id(t),
				"skipped", 1, "reason", "already_terminal",
				"state", state_name(t->row.state));

	state_result_init(&res);
	if (!state_get_result(st, t->row.id, &res, &e))
		add_result_fields(ret, &res);
	if (t->row.error_code) {
		json_object_set_new(ret, "errorCode", json_string(t->row.error_code));
		json_object_set_new(ret, "errorMessage", json_string(
			t->row.error_message ? t->row.error_message : ""));
	}
	state_result_release(&res);
	task_log(LOG_INFO, t, "skip", "scan already %s",
		  state_name(t->row.state));
	report_json(t, ret, METRICS_SKIPPED);
}

/* ---- the payload ---- */

int scan_url_valid(const char *url)
{
	struct url u;
	struct err e = ERR_INIT;
	int ok;

	/* Read as the fetcher (and a browser) reads it: the URL Standard. */
	ok = strlen(url) <= URL_MAX && url_parse(&u, url, NULL, &e) == 0;
	if (ok)
		url_release(&u);
	return ok;
}

static int all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/*
 * The scan id and, for a payload without jobId, the URL to create it
 * with (new strings, caller frees). -1 with the reason in e.
 */
static int read_payload(struct scan_task *t, char **id, char **url,
			struct err *e)
{
	const char *data = worker_job_data(t->job);
	json_t *doc = json_loads(data ? data : "", JSON_DECODE_ANY, NULL);
	json_t *jid = json_object_get(doc, "jobId");
	json_t *jurl = json_object_get(doc, "url");
	struct buf b = BUF_INIT;
	int rc = 0;

	*id = *url = NULL;
	if (!json_is_object(doc))
		rc = err_set(e, ERR_INVALID, "payload is not a JSON object");
	else if (jid && !(json_is_string(jid) && json_string_length(jid) &&
			  json_string_length(jid) <= 256))
		rc = err_set(e, ERR_INVALID, "'jobId' is not a non-empty string");
	else if (jid)
		*id = xstrdup(json_string_value(jid));
	else if (!json_is_string(jurl))
		rc = err_set(e, ERR_INVALID, "payload has neither 'jobId' nor 'url'");
	else if (!scan_url_valid(json_string_value(jurl)))
		rc = err_set(e, ERR_INVALID, "'url' is not an absolute http(s) URL");
	else {
		*url = xstrdup(json_string_value(jurl));
		if (all_digits(worker_job_id(t->job)))
			buf_addf(&b, NULL, "%s-%s-%lld", t->ctx->cfg->queue_name,
				 worker_job_id(t->job),
				 worker_job_timestamp(t->job));
		else
			buf_addstr(&b, worker_job_id(t->job), NULL);
		*id = buf_detach(&b, NULL);
	}
	json_decref(doc);
	return rc;
}

/* ---- owning the row ---- */

static void end_by_state_error(struct scan_task *t, struct store *st,
			       const struct err *e);
static void end_invalid(struct scan_task *t, struct store *st,
			const char *msg, int owned);

/*
 * Sleep ms on the monotonic clock, so that a wall clock stepped back
 * while we wait cannot stretch the wait; wake early on cancel. 0 slept,
 * -1 cancelled.
 */
static int sleep_for(struct scan_task *t, long long ms)
{
	long long until = clock_mono_ms() + ms;

	while (clock_mono_ms() < until) {
		if (atomic_load(&t->cancel))
			return -1;
		usleep(50 * 1000);
	}
	return 0;
}

/*
 * Tell the keeper which version of the row it may renew the lease of
 * (live: the row is ours and FETCHING or ANALYZING), or that it may not.
 */
static void publish(struct scan_task *t, int live)
{
	atomic_store(&t->version, t->row.version);
	/* already OWNED (a new version) or WORKING, or LOST: no move */
	if (live)
		scan_task_move(t, TASK_WORKING, TASK_OWNED);
	else
		scan_task_move(t, TASK_OWNED, TASK_WORKING);
}

/*
 * The job's BullMQ progress after a transition: {"state", "attempt",
 * "version"} and a log line naming the state (SPEC §3).
 */
static void progress(struct scan_task *t)
{
	struct buf line = BUF_INIT;
	json_t *p = json_pack("{s:s, s:i, s:I}", "state",
			      state_name(t->row.state), "attempt",
			      t->row.attempts, "version",
			      (json_int_t)t->row.version);
	char *text = p ? json_dumps(p, JSON_COMPACT) : NULL;

	buf_addf(&line, NULL, "state %s (scan %s, attempt %d)",
		 state_name(t->row.state), t->row.id, t->row.attempts);
	worker_job_progress(t->job, text, line.data);
	buf_release(&line);
	free(text);
	json_decref(p);
}

static int reload(struct scan_task *t, struct store *st, const char *id,
		  struct err *e)
{
	struct state_job fresh;
	int rc;

	state_job_init(&fresh);
	rc = state_get_job(st, id, &fresh, e);
	publish(t, 0);
	state_job_release(&t->row);
	t->row = fresh;
	return rc;
}

/*
 * Claim the row, take over an expired lease, or wait (at most one lease)
 * for another owner's lease to lapse. 0 when owned; -1 when the job was
 * already reported.
 */
static int acquire(struct scan_task *t, struct store *st, const char *id)
{
	long long waited_for = 0;
	struct err e = ERR_INIT;
	int round;

	for (round = 0; round < ACQUIRE_ROUNDS; round++) {
		struct state_actor who = actor(t);
		int rc;

		if (reload(t, st, id, &e)) {
			if (e.kind == ERR_NOT_FOUND)
				err_set(&e, ERR_NOT_FOUND, "scan '%s' not found", id);
			end_by_state_error(t, st, &e);
			return -1;
		}
		if (state_is_terminal(t->row.state)) {
			report_terminal(t, st);
			return -1;
		}
		if (t->row.state == STATE_QUEUED) {
			rc = state_claim(st, &who, &t->row, &e);
		} else if (t->row.lease_expires_at <= who.now) {
			rc = state_takeover(st, &who, &t->row, &e);
			if (!rc)
				task_log(LOG_WARN, t, "takeover",
					  "took over from a lapsed lease");
		} else if (waited_for && t->row.lease_expires_at != waited_for) {
			/* renewed while we waited (later, or earlier after a
			 * wall-clock step): the owner is alive */
			report_skip(t, "version_conflict");
			return -1;
		} else {
			long long wait = t->row.lease_expires_at - who.now;

			/* never longer than one lease: a lease written before
			 * the wall clock stepped back reads as far off */
			if (wait > t->ctx->lease_ms)
				wait = t->ctx->lease_ms;
			waited_for = t->row.lease_expires_at;
			task_log(LOG_INFO, t, "wait",
				  "owner %s holds a live lease; waiting %lld ms",
				  t->row.worker_id ? t->row.worker_id : "?", wait);
			if (sleep_for(t, wait + 100)) {
				report_released(t);
				return -1;
			}
			continue;
		}
		if (!rc) {
			publish(t, 1);
			progress(t);
			task_log(LOG_INFO, t, "claim", "claimed, attempt %d",
				  t->row.attempts);
			return 0;
		}
		if (outcome_run_of(OUTCOME_FROM_DATABASE, e.kind) !=
		    OUTCOME_RUN_CONFLICT) {
			end_by_state_error(t, st, &e);
			return -1;
		}
	}
	report_skip(t, "version_conflict");
	return -1;
}

/* ---- ending the scan: the outcome table decides (outcome.c) ---- */

/* What the scan came to. Strings borrowed for the call. */
struct ending {
	enum outcome_run run;
	enum outcome_output out;
	const char *code;              /* the run's error code, NULL when ok */
	const char *msg;               /* its message (redacted on use) */
	const struct scan_output *doc; /* the fetcher's document when ok */
	int owned;                     /* the row is ours to move */
};

static int attempts_left(const struct scan_task *t)
{
	return worker_job_attempts_made(t->job) + 1 < worker_job_attempts(t->job);
}

/* May an infrastructure fault still delay the scan without an attempt? */
static int infra_window(const struct scan_task *t, long long now)
{
	long long max = t->ctx->cfg->infra_retry_max_ms;
	long long since = worker_job_infra_since(t->job);

	return max > 0 && (!since || now - since < max);
}

/* Infrastructure fault: delayed with backoff, no attempt counted. */
static void report_defer(struct scan_task *t, const char *code,
			 const char *msg, long long now)
{
	long long since = worker_job_infra_since(t->job);
	long long first = since ? since : now;
	unsigned short seed[3] = { (unsigned short)now,
				   (unsigned short)(uintptr_t)t,
				   (unsigned short)getpid() };
	long long delay = outcome_infra_delay(now - first, erand48(seed));
	struct buf reason = BUF_INIT, line = BUF_INIT;

	buf_addf(&reason, NULL, "%s: %s", code, msg);
	buf_addf(&line, NULL, "%s (infrastructure fault; again in %lld ms, "
		 "no attempt counted; first fault %lld ms ago)", reason.data,
		 delay, now - first);
	log_outcome(LOG_WARN, t, "defer", "QUEUED", NULL, code, line.data);
	metrics_count(t->ctx->metrics, METRICS_INFRA_RETRY);
	finish(t, METRICS_RETRIED);
	worker_job_defer(t->job, delay, first, reason.data);
	buf_release(&reason);
	buf_release(&line);
}

/* The scan state each move leaves, for the outcome log line. */
static const char *const move_state[] = {
	[OUTCOME_MOVE_NONE] = NULL,
	[OUTCOME_MOVE_COMPLETE] = "COMPLETED",
	[OUTCOME_MOVE_FAIL] = "FAILED",
	[OUTCOME_MOVE_TIMEOUT] = "TIMED_OUT",
	[OUTCOME_MOVE_RELEASE] = "QUEUED",
};

static void result_from_output(struct state_result *res,
			       const struct scan_output *out)
{
	state_result_init(res);
	res->verdict = out->verdict;
	res->risk_score = out->risk_score;
	res->http_status = out->http_status;
	res->final_url = out->final_url;
	res->content_type = out->content_type;
	res->content_sha256 = out->sha256;
	res->content_length = out->content_length;
	res->result_json = out->json;
}

/* One database move; the arguments each move reads. */
struct move {
	const char *code, *msg;
	struct state_result *res;
};

static int move_complete(struct scan_task *t, struct store *st,
			 const struct move *m, struct err *e)
{
	struct state_actor who = actor(t);

	if (state_advance(st, &who, &t->row, e))
		return -1;
	publish(t, 1);
	progress(t);
	task_log(LOG_INFO, t, "transition", "FETCHING -> ANALYZING");
	who.now = clock_wall_ms();
	return state_complete(st, &who, &t->row, m->res, e);
}

static int move_fail(struct scan_task *t, struct store *st,
		     const struct move *m, struct err *e)
{
	struct state_actor who = actor(t);

	return state_fail(st, &who, &t->row, m->code, m->msg, e);
}

static int move_timeout(struct scan_task *t, struct store *st,
			const struct move *m, struct err *e)
{
	struct state_actor who = actor(t);

	return state_timeout(st, &who, &t->row, m->msg, e);
}

static int move_release(struct scan_task *t, struct store *st,
			const struct move *m, struct err *e)
{
	struct state_actor who = actor(t);

	return state_release(st, &who, &t->row, m->code, m->msg, e);
}

static int (*const moves[])(struct scan_task *, struct store *,
			    const struct move *, struct err *) = {
	[OUTCOME_MOVE_NONE] = NULL,
	[OUTCOME_MOVE_COMPLETE] = move_complete,
	[OUTCOME_MOVE_FAIL] = move_fail,
	[OUTCOME_MOVE_TIMEOUT] = move_timeout,
	[OUTCOME_MOVE_RELEASE] = move_release,
};

static void end_scan(struct scan_task *t, struct store *st,
		     const struct ending *en);

/*
 * The move itself failed: the database error is the outcome now (a
 * conflict skips, an unavailable database defers), with no second move.
 */
static void end_by_state_error(struct scan_task *t, struct store *st,
			       const struct err *e)
{
	struct ending again = { outcome_run_of(OUTCOME_FROM_DATABASE, e->kind),
				OUTCOME_OUT_NONE, NULL, e->msg, NULL, 0 };

	again.code = again.run == OUTCOME_RUN_BAD_INPUT ? "VALIDATION_ERROR"
							: "DATABASE_UNAVAILABLE";
	end_scan(t, st, &again);
}

static void end_scan(struct scan_task *t, struct store *st,
		     const struct ending *en)
{
	long long now = clock_wall_ms(); /* infraSince is wall time */
	struct outcome_in in = { en->run, en->out, attempts_left(t),
				 infra_window(t, now) };
	const struct outcome_decision *d = outcome_decide(&in);
	const char *code = d->code ? d->code : en->code;
	struct buf msg = BUF_INIT;
	struct state_result res;
	struct move m;
	struct err e = ERR_INIT;

	/* The stored message: no credentials, no query values; a code the
	 * table put in place of the run's own keeps the latter in front. */
	if (d->code && en->code && strcmp(d->code, en->code))
		buf_addf(&msg, NULL, "%s: ", en->code);
	redact_urls(en->msg ? en->msg : "", &msg);
	if (d->move == OUTCOME_MOVE_RELEASE && en->run != OUTCOME_RUN_CANCELLED)
		code = en->code; /* the release is audited with the cause */
	if (en->doc)
		result_from_output(&res, en->doc);
	m = (struct move){ code, msg.data, &res };
	if (en->owned && moves[d->move] && moves[d->move](t, st, &m, &e)) {
		publish(t, 0);
		if (d->report != OUTCOME_REPORT_RELEASE) {
			end_by_state_error(t, st, &e);
			buf_release(&msg);
			return;
		}
		task_log(LOG_WARN, t, "release",
			 "could not release the scan: %s", e.msg);
	} else if (en->owned && moves[d->move]) {
		publish(t, 0);
		progress(t);
	}
	code = d->code ? d->code : en->code;
	switch (d->report) { /* each report is one call; the table chose it */
	case OUTCOME_REPORT_COMPLETED:
		report_completed(t, &res);
		break;
	case OUTCOME_REPORT_SKIPPED:
		report_skip(t, "version_conflict");
		break;
	case OUTCOME_REPORT_FAIL:
	case OUTCOME_REPORT_RETRY:
		report_fail(t, code, msg.data, move_state[d->move],
			    d->report == OUTCOME_REPORT_RETRY
				    ? WORKER_FAIL_RETRY
				    : WORKER_FAIL_UNRECOVERABLE,
			    d->metric);
		break;
	case OUTCOME_REPORT_DEFER:
		report_defer(t, code, msg.data, now);
		break;
	case OUTCOME_REPORT_RELEASE:
		report_released(t);
		break;
	}
	buf_release(&msg);
}

/* The scan cannot run: a bad payload, URL or scan id (FAILED if owned). */
static void end_invalid(struct scan_task *t, struct store *st,
			const char *msg, int owned)
{
	struct ending en = { OUTCOME_RUN_BAD_INPUT, OUTCOME_OUT_NONE,
			     "VALIDATION_ERROR", msg, NULL, owned };

	end_scan(t, st, &en);
}

/* The fetcher ran and exited 0: judge its document. */
static void judge_output(struct scan_task *t, struct store *st,
			 const struct buf *stdout_buf)
{
	struct scan_output out;
	struct err e = ERR_INIT;
	struct ending en = { OUTCOME_RUN_OUTPUT, OUTCOME_OUT_NONE, NULL, NULL,
			     NULL, 1 };

	if (scan_output_parse(stdout_buf->data, stdout_buf->len, &out, &e)) {
		en.run = OUTCOME_RUN_INVALID;
		en.code = "INVALID_OUTPUT";
		en.msg = e.msg;
	} else if (out.ok) {
		en.out = OUTCOME_OUT_OK;
		en.doc = &out;
	} else {
		en.out = out.retryable ? OUTCOME_OUT_RETRYABLE : OUTCOME_OUT_FAILED;
		en.code = out.error_code;
		en.msg = out.error_message;
	}
	end_scan(t, st, &en);
	scan_output_release(&out);
}

/* The error message of a failed run, with the end of its stderr. */
static void run_message(const struct runtime_result *res,
			const struct err *e, struct buf *msg)
{
	const char *tail = res->err_tail.data;
	size_t len = res->err_tail.len;

	if (len > STDERR_IN_MESSAGE) {
		tail += len - STDERR_IN_MESSAGE;
		len = STDERR_IN_MESSAGE;
	}
	buf_addstr(msg, e->msg, NULL);
	if (len) {
		buf_addstr(msg, "; stderr: ", NULL);
		buf_add(msg, tail, len, NULL);
	}
}

/* The error code of a failed run, by run class (OOM told apart). */
static const char *const run_codes[OUTCOME_RUN_COUNT] = {
	[OUTCOME_RUN_TIMEOUT] = "TIMEOUT",
	[OUTCOME_RUN_CRASH] = "CONTAINER_CRASH",
	[OUTCOME_RUN_INVALID] = "INVALID_OUTPUT",
	[OUTCOME_RUN_INFRA] = "ENGINE_UNAVAILABLE",
	[OUTCOME_RUN_INTERNAL] = "INTERNAL_ERROR",
	[OUTCOME_RUN_CONFLICT] = "INTERNAL_ERROR",
	[OUTCOME_RUN_CANCELLED] = "SHUTDOWN",
};

static const char *run_code(enum outcome_run run,
			    const struct runtime_result *res)
{
	if (run == OUTCOME_RUN_CRASH && res->oom_killed)
		return "CONTAINER_OOM";
	if (run == OUTCOME_RUN_INVALID && res->output_too_large)
		return "OUTPUT_TOO_LARGE";
	return run < OUTCOME_RUN_COUNT && run_codes[run] ? run_codes[run]
							 : "INTERNAL_ERROR";
}

/* The container did not give us a document: the error kind decides. */
static void judge_runtime_error(struct scan_task *t, struct store *st,
				const struct runtime_result *res,
				const struct err *e)
{
	struct buf msg = BUF_INIT;
	struct ending en = { outcome_run_of(OUTCOME_FROM_RUNTIME, e->kind),
			     OUTCOME_OUT_NONE, NULL, NULL, NULL, 1 };

	if (scan_task_phase(t) == TASK_LOST) {
		report_skip(t, "version_conflict");
		buf_release(&msg);
		return;
	}
	if (res->cancelled || atomic_load(&t->cancel))
		en.run = OUTCOME_RUN_CANCELLED;
	if (en.run == OUTCOME_RUN_INFRA &&
	    !atomic_exchange(&t->ctx->engine_away, 1))
		task_log(LOG_WARN, t, "engine",
			  "engine unavailable: taking no jobs until it answers");
	run_message(res, e, &msg);
	en.code = run_code(en.run, res);
	en.msg = en.run == OUTCOME_RUN_CANCELLED ? "worker shutting down"
						 : msg.data;
	end_scan(t, st, &en);
	buf_release(&msg);
}

static void run_container(struct scan_task *t, struct store *st)
{
	struct scan_ctx *ctx = t->ctx;
	struct runtime_spec spec;
	struct runtime_result res;
	struct strvec cmd = STRVEC_INIT;
	struct err e = ERR_INIT;
	struct buf shown = BUF_INIT;
	size_t i;
	int rc;

	/* The fetcher's own default is the same browser string: only a
	 * configured one needs saying (and the command line stays as it was). */
	if (strcmp(ctx->cfg->fetcher_user_agent, SAFEURL_BROWSER_UA)) {
		strvec_push(&cmd, "--user-agent");
		strvec_push(&cmd, ctx->cfg->fetcher_user_agent);
	}
	if (*ctx->cfg->fetcher_yara_rules) {
		strvec_push(&cmd, "--yara-rules");
		strvec_push(&cmd, ctx->cfg->fetcher_yara_rules);
	}
	for (i = 0; i < ctx->fetcher_args.nr; i++)
		strvec_push(&cmd, ctx->fetcher_args.items[i]);
	strvec_push(&cmd, t->row.url);
	runtime_spec_init(&spec, ctx->cfg);
	spec.cmd = cmd.items;
	spec.job_id = t->row.id;
	spec.cancel = &t->cancel;
	runtime_result_init(&res);
	buf_reset(&shown);
	redact_urls(t->row.url, &shown);
	task_log(LOG_DEBUG, t, "container", "starting fetcher for %s",
		  shown.data);
	buf_release(&shown);
	rc = runtime_run(ctx->rt, &spec, &res, &e);
	if (res.spawn_ms > 0)
		metrics_observe_spawn(ctx->metrics, res.spawn_ms / 1000);
	{
		struct buf line = BUF_INIT;

		buf_addf(&line, NULL, "container exited (code %d) after %.0f "
			 "ms%s%s", res.exit_code, res.total_ms,
			 rc ? ": " : "", rc ? e.msg : "");
		worker_job_progress(t->job, NULL, line.data);
		buf_release(&line);
	}
	if (scan_task_phase(t) == TASK_LOST)
		report_skip(t, "version_conflict");
	else if (rc)
		judge_runtime_error(t, st, &res, &e);
	else
		judge_output(t, st, &res.out);
	runtime_result_release(&res);
	strvec_clear(&cmd);
}

/* ---- one task, start to end ---- */

static void run_task(struct scan_task *t, struct store *st)
{
	struct state_actor who = actor(t);
	struct err e = ERR_INIT;
	char *id, *url;

	if (atomic_load(&t->cancel)) {
		report_released(t);
		return;
	}
	if (read_payload(t, &id, &url, &e)) {
		end_invalid(t, st, e.msg, 0);
		return;
	}
	t->id = id;
	if (url && state_create(st, &who, id, url, NULL, &e)) {
		end_by_state_error(t, st, &e);
	} else if (!acquire(t, st, id)) {
		if (!scan_url_valid(t->row.url))
			end_invalid(t, st, "the scan's url is not an "
				    "absolute http(s) URL", 1);
		else
			run_container(t, st);
	}
	free(url);
}

/* ---- threads and the pending list ---- */

static struct scan_task *take_task(struct scan_ctx *ctx)
{
	struct scan_task *t;

	pthread_mutex_lock(&ctx->lock);
	while (!ctx->pending_head && !ctx->stopping)
		pthread_cond_wait(&ctx->wake, &ctx->lock);
	t = ctx->pending_head;
	if (t) {
		ctx->pending_head = t->next;
		if (!ctx->pending_head)
			ctx->pending_tail = NULL;
		scan_task_move(t, TASK_QUEUED, TASK_WORKING);
		t->next_on = ctx->inflight;
		if (ctx->inflight)
			ctx->inflight->prev_on = t;
		ctx->inflight = t;
	}
	pthread_mutex_unlock(&ctx->lock);
	return t;
}

static void drop_task(struct scan_ctx *ctx, struct scan_task *t)
{
	pthread_mutex_lock(&ctx->renew_lock);
	pthread_mutex_lock(&ctx->lock);
	if (t->prev_on)
		t->prev_on->next_on = t->next_on;
	else
		ctx->inflight = t->next_on;
	if (t->next_on)
		t->next_on->prev_on = t->prev_on;
	pthread_mutex_unlock(&ctx->lock);
	pthread_mutex_unlock(&ctx->renew_lock);
	/* out of the keeper's reach now: whatever the phase, done */
	if (scan_task_move(t, TASK_WORKING, TASK_DONE) &&
	    scan_task_move(t, TASK_OWNED, TASK_DONE))
		scan_task_move(t, TASK_LOST, TASK_DONE);
	metrics_in_flight(ctx->metrics, -1);
	state_job_release(&t->row);
	free(t->id);
	free(t);
}

static void *scan_thread(void *arg)
{
	struct scan_ctx *ctx = arg;
	struct store *st = NULL;
	struct scan_task *t;

	while ((t = take_task(ctx))) {
		struct err e = ERR_INIT;

		if (!st && !(st = store_open(ctx->cfg, &e)))
			end_by_state_error(t, NULL, &e);
		else
			run_task(t, st);
		drop_task(ctx, t);
	}
	store_close(st);
	return NULL;
}

/* ---- the processor ---- */

static void split_args(const char *s, struct strvec *out)
{
	const char *p = s;

	while (*p) {
		size_t n;

		while (*p == ' ' || *p == '\t')
			p++;
		n = strcspn(p, " \t");
		if (n) {
			char *word = xstrndup(p, n);

			strvec_push(out, word);
			free(word);
		}
		p += n;
	}
}

static int open_runtime(struct scan_ctx *ctx, struct err *e)
{
	struct runtime_opts opts;
	int removed = 0;

	runtime_opts_init(&opts, ctx->cfg);
	if (runtime_open(&ctx->rt, &opts, e) ||
	    runtime_check_cpu(ctx->rt, ctx->cfg->container_cpu_limit, e) ||
	    runtime_check_image(ctx->rt, ctx->cfg->fetcher_image, e))
		return -1;
	if (runtime_sweep(ctx->rt, &removed, e))
		return -1;
	if (removed)
		log_event(LOG_INFO, NULL, "sweep",
			  "removed %d container(s) left by earlier runs", removed);
	return 0;
}

static void scan_close(void *arg);

static int scan_open(void **arg, const struct config *cfg, struct metrics *m,
		     struct err *e)
{
	struct scan_ctx *ctx = xcalloc(1, sizeof(*ctx));
	int i;

	*arg = ctx;
	ctx->cfg = cfg;
	ctx->lease_ms = worker_lease_ms();
	{
		struct buf q = BUF_INIT;

		buf_addf(&q, NULL, "%s:%s", cfg->bullmq_prefix, cfg->queue_name);
		ctx->queue = buf_detach(&q, NULL);
	}
	reconcile_cursor_init(&ctx->reconcile_at);
	strvec_init(&ctx->fetcher_args);
	split_args(cfg->fetcher_args, &ctx->fetcher_args);
	ctx->metrics = m;
	metrics_set_labels(m, cfg->container_runtime == RUNTIME_SANDBOX ?
			   "sandbox" : "docker", ctx->queue);
	pthread_mutex_init(&ctx->renew_lock, NULL);
	pthread_mutex_init(&ctx->lock, NULL);
	pthread_mutex_init(&ctx->aux_lock, NULL);
	pthread_cond_init(&ctx->wake, NULL);
	/* The database first: a refused token or a wrong URL is configuration
	 * (exit 78) and is reported before the engine's state. */
	if (!(ctx->aux_store = store_open(cfg, e)) || open_runtime(ctx, e) ||
	    scan_keeper_start(ctx, e)) {
		scan_close(ctx);
		*arg = NULL;
		return -1;
	}
	ctx->threads = xcalloc((size_t)cfg->worker_concurrency,
			       sizeof(*ctx->threads));
	for (i = 0; i < cfg->worker_concurrency; i++) {
		if (pthread_create(&ctx->threads[i], NULL, scan_thread, ctx))
			break;
		ctx->nthreads++;
	}
	if (!ctx->nthreads) {
		scan_close(ctx);
		*arg = NULL;
		return err_set(e, ERR_INTERNAL, "scan: cannot start threads");
	}
	return 0;
}

static void scan_start(void *arg, struct worker_job *job)
{
	struct scan_ctx *ctx = arg;
	struct scan_task *t = xcalloc(1, sizeof(*t));

	t->ctx = ctx;
	t->job = job;
	t->qref.queue = ctx->queue;
	t->qref.job_id = worker_job_id(job);
	t->started_ms = clock_mono_ms();
	atomic_init(&t->phase, TASK_QUEUED);
	state_job_init(&t->row);
	metrics_in_flight(ctx->metrics, 1);
	pthread_mutex_lock(&ctx->lock);
	if (ctx->pending_tail)
		ctx->pending_tail->next = t;
	else
		ctx->pending_head = t;
	ctx->pending_tail = t;
	pthread_cond_signal(&ctx->wake);
	pthread_mutex_unlock(&ctx->lock);
}

static void scan_cancel(void *arg, struct worker_job *job)
{
	struct scan_ctx *ctx = arg;
	struct scan_task *t;

	pthread_mutex_lock(&ctx->lock);
	for (t = ctx->pending_head; t; t = t->next)
		if (t->job == job)
			atomic_store(&t->cancel, 1);
	for (t = ctx->inflight; t; t = t->next_on)
		if (t->job == job)
			atomic_store(&t->cancel, 1);
	pthread_mutex_unlock(&ctx->lock);
}

static void scan_close(void *arg)
{
	struct scan_ctx *ctx = arg;
	int i;

	if (!ctx)
		return;
	pthread_mutex_lock(&ctx->lock);
	ctx->stopping = 1;
	pthread_cond_broadcast(&ctx->wake);
	pthread_mutex_unlock(&ctx->lock);
	for (i = 0; i < ctx->nthreads; i++)
		pthread_join(ctx->threads[i], NULL);
	free(ctx->threads);
	scan_keeper_stop(ctx);
	runtime_free(ctx->rt);
	store_close(ctx->aux_store);
	queue_producer_close(ctx->aux_queue);
	reconcile_cursor_release(&ctx->reconcile_at);
	free(ctx->queue);
	strvec_clear(&ctx->fetcher_args);
	pthread_mutex_destroy(&ctx->renew_lock);
	pthread_mutex_destroy(&ctx->lock);
	pthread_mutex_destroy(&ctx->aux_lock);
	pthread_cond_destroy(&ctx->wake);
	free(ctx);
}

/* No new jobs while the engine is away: they would only spend attempts. */
static long scan_hold(void *arg)
{
	struct scan_ctx *ctx = arg;

	return atomic_load(&ctx->engine_away) ? SCAN_ENGINE_RECHECK_MS : 0;
}

const struct worker_processor scan_processor = {
	"scan", scan_open, scan_start, scan_cancel, scan_close, scan_hold,
	scan_probes, 1,
};
