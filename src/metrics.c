/* metrics.c - counters, gauges and histograms; Prometheus text rendered into a buf. */
#include "fmacros.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "metrics.h"
#include "xalloc.h"
#include "banned.h"

#ifndef SAFEURL_VERSION
#define SAFEURL_VERSION "unknown"
#endif

/* Bucket bounds in seconds: scans take seconds, spawns tens of ms. */
static const double scan_bounds[] = { 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
				      30, 60, 120 };
static const double spawn_bounds[] = { 0.001, 0.0025, 0.005, 0.01, 0.025,
				       0.05, 0.1, 0.25, 0.5, 1, 2.5 };
#define NBUCKETS (sizeof(scan_bounds) / sizeof(scan_bounds[0]))

/* Distinct label values kept per labelled counter; more count as OTHER. */
#define MAX_LABELS 64

struct histogram {
	const char *name, *help;
	const double *bounds;
	unsigned long long buckets[NBUCKETS]; /* non-cumulative */
	unsigned long long count;
	double sum;
};

struct labelled {
	char *value[MAX_LABELS];
	unsigned long long count[MAX_LABELS];
	size_t n;
	unsigned long long other;
};

struct metrics {
	pthread_mutex_t lock;
	unsigned long long jobs[METRICS_OUTCOME_COUNT];
	unsigned long long events[METRICS_EVENT_COUNT];
	long in_flight;
	struct histogram scan, spawn;
	struct labelled failures, loop_failed;
	struct metrics_depth depth;
	int depth_known;
	int up[METRICS_DEP_COUNT]; /* -1 not probed yet, 0 down, 1 up */
	char *runtime, *queue;
};

static const char *const outcome_names[METRICS_OUTCOME_COUNT] = {
	[METRICS_COMPLETED] = "completed",
	[METRICS_FAILED] = "failed",
	[METRICS_TIMED_OUT] = "timed_out",
	[METRICS_SKIPPED] = "skipped",
	[METRICS_RETRIED] = "retried",
	[METRICS_RELEASED] = "released",
};

/* One counter per event: {name, help}. */
static const struct {
	const char *name, *help;
} event_metrics[METRICS_EVENT_COUNT] = {
	[METRICS_ABANDONED] = { "safeurl_abandoned_total",
		"Scans the sweep failed as ABANDONED: the owner's lease lapsed and the queue job is gone." },
	[METRICS_INFRA_RETRY] = { "safeurl_infra_retries_total",
		"Scans delayed by an infrastructure fault (engine, database, Redis) without spending an attempt." },
	[METRICS_ENGINE_STALL] = { "safeurl_engine_stalls_total",
		"Containers the engine did not create or start within ENGINE_TIMEOUT_MS." },
	[METRICS_DB_RETRY] = { "safeurl_db_retries_total",
		"Database calls retried after the database was unavailable." },
	[METRICS_REDIS_RECONNECT] = { "safeurl_redis_reconnects_total",
		"Redis connections of the worker re-established after a loss." },
	[METRICS_RECONCILED] = { "safeurl_reconciled_total",
		"Scans whose queue job was lost, enqueued again by reconciliation." },
};

static const char *const dep_names[METRICS_DEP_COUNT] = {
	[METRICS_DEP_REDIS] = "redis",
	[METRICS_DEP_DATABASE] = "database",
	[METRICS_DEP_ENGINE] = "engine",
};

/* Loop-failed reasons, by the failedReason's leading code. */
static const struct {
	const char *prefix, *reason;
} loop_reasons[] = {
	{ "UNSUPPORTED_OPTION:", "unsupported_option" },
	{ "VALIDATION_ERROR:", "invalid_payload" },
	{ "malformed job:", "malformed" },
};


struct metrics *metrics_new(void)
{
	struct metrics *m = xcalloc(1, sizeof(*m));
	int i;

	pthread_mutex_init(&m->lock, NULL);
	m->scan.name = "safeurl_scan_duration_seconds";
	m->scan.help = "Time from claim to the scan's final state, by runtime.";
	m->scan.bounds = scan_bounds;
	m->spawn.name = "safeurl_container_spawn_seconds";
	m->spawn.help = "Time to create and start a fetcher container, by runtime.";
	m->spawn.bounds = spawn_bounds;
	for (i = 0; i < METRICS_DEP_COUNT; i++)
		m->up[i] = -1;
	m->runtime = xstrdup("docker");
	m->queue = xstrdup("");
	return m;
}

static void labelled_release(struct labelled *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->value[i]);
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	labelled_release(&m->failures);
	labelled_release(&m->loop_failed);
	free(m->runtime);
	free(m->queue);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static struct metrics *the_default;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void default_init(void)
{
	the_default = metrics_new();
}

struct metrics *metrics_default(void)
{
	pthread_once(&default_once, default_init);
	return the_default;
}

void metrics_job_done(struct metrics *m, enum metrics_outcome outcome)
{
	if ((unsigned)outcome >= METRICS_OUTCOME_COUNT)
		abort();
	pthread_mutex_lock(&m->lock);
	m->jobs[outcome]++;
	pthread_mutex_unlock(&m->lock);
}

void metrics_in_flight(struct metrics *m, int delta)
{
	pthread_mutex_lock(&m->lock);
	m->in_flight += delta;
	pthread_mutex_unlock(&m->lock);
}

static void observe(struct metrics *m, struct histogram *h, double v)
{
	size_t i = 0;

	while (i < NBUCKETS && v > h->bounds[i])
		i++;
	pthread_mutex_lock(&m->lock);
	if (i < NBUCKETS)
		h->buckets[i]++;
	h->count++;
	h->sum += v;
	pthread_mutex_unlock(&m->lock);
}

void metrics_observe_scan(struct metrics *m, double seconds)
{
	observe(m, &m->scan, seconds);
}

void metrics_observe_spawn(struct metrics *m, double seconds)
{
	observe(m, &m->spawn, seconds);
}

void metrics_add(struct metrics *m, enum metrics_event ev,
		 unsigned long long n)
{
	if ((unsigned)ev >= METRICS_EVENT_COUNT)
		abort();
	pthread_mutex_lock(&m->lock);
	m->events[ev] += n;
	pthread_mutex_unlock(&m->lock);
}

void metrics_count(struct metrics *m, enum metrics_event ev)
{
	metrics_add(m, ev, 1);
}

/* Called with the lock held. */
static void labelled_add(struct labelled *l, const char *value)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (!strcmp(l->value[i], value)) {
			l->count[i]++;
			return;
		}
	if (l->n == MAX_LABELS) {
		l->other++;
		return;
	}
	l->value[l->n] = xstrdup(value);
	l->count[l->n++] = 1;
}

/* A label value as Prometheus accepts it unescaped: [A-Za-z0-9_]. */
static int plain_label(const char *s)
{
	if (!*s || strlen(s) > 64)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

void metrics_failure(struct metrics *m, const char *code)
{
	pthread_mutex_lock(&m->lock);
	if (code && plain_label(code))
		labelled_add(&m->failures, code);
	else
		m->failures.other++;
	pthread_mutex_unlock(&m->lock);
}

void metrics_loop_failed(struct metrics *m, const char *failed_reason,
			 int deferred)
{
	const char *reason = deferred ? "stall_limit" : "other";
	size_t i;

	for (i = 0; !deferred && failed_reason &&
		    i < sizeof(loop_reasons) / sizeof(loop_reasons[0]); i++)
		if (!strncmp(failed_reason, loop_reasons[i].prefix,
			     strlen(loop_reasons[i].prefix)))
			reason = loop_reasons[i].reason;
	pthread_mutex_lock(&m->lock);
	labelled_add(&m->loop_failed, reason);
	pthread_mutex_unlock(&m->lock);
}

void metrics_set_depth(struct metrics *m, const struct metrics_depth *d)
{
	pthread_mutex_lock(&m->lock);
	m->depth = *d;
	m->depth_known = 1;
	pthread_mutex_unlock(&m->lock);
}

void metrics_set_up(struct metrics *m, enum metrics_dep dep, int up)
{
	if ((unsigned)dep >= METRICS_DEP_COUNT)
		abort();
	pthread_mutex_lock(&m->lock);
	m->up[dep] = up ? 1 : 0;
	pthread_mutex_unlock(&m->lock);
}

int metrics_dep_find(const char *name)
{
	int i;

	for (i = 0; i < METRICS_DEP_COUNT; i++)
		if (!strcmp(name, dep_names[i]))
			return i;
	return -1;
}

void metrics_set_labels(struct metrics *m, const char *runtime,
			const char *queue)
{
	char *r = xstrdup(runtime), *q = xstrdup(queue);

	pthread_mutex_lock(&m->lock);
	free(m->runtime);
	free(m->queue);
	m->runtime = r;
	m->queue = q;
	pthread_mutex_unlock(&m->lock);
}

/* A label value with \, " and newline escaped, as the format asks. */
static void add_label_value(struct buf *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			buf_addf(out, NULL, "\\%c", *s);
		else if (*s == '\n')
			buf_addstr(out, "\\n", NULL);
		else
			buf_add(out, s, 1, NULL);
	}
}

static void header(struct buf *out, const char *name, const char *type,
		   const char *help)
{
	buf_addf(out, NULL, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
		 type);
}

static void render_histogram(const struct metrics *m,
			     const struct histogram *h, struct buf *out)
{
	unsigned long long cumulative = 0;
	size_t i;

	header(out, h->name, "histogram", h->help);
	for (i = 0; i < NBUCKETS; i++) {
		cumulative += h->buckets[i];
		buf_addf(out, NULL, "%s_bucket{runtime=\"%s\",le=\"%g\"} %llu\n",
			 h->name, m->runtime, h->bounds[i], cumulative);
	}
	buf_addf(out, NULL, "%s_bucket{runtime=\"%s\",le=\"+Inf\"} %llu\n",
		 h->name, m->runtime, h->count);
	buf_addf(out, NULL, "%s_sum{runtime=\"%s\"} %.6f\n"
			    "%s_count{runtime=\"%s\"} %llu\n",
		 h->name, m->runtime, h->sum, h->name, m->runtime, h->count);
}

static void render_labelled(const struct labelled *l, const char *name,
			    const char *label, const char *help,
			    struct buf *out)
{
	size_t i;

	header(out, name, "counter", help);
	for (i = 0; i < l->n; i++)
		buf_addf(out, NULL, "%s{%s=\"%s\"} %llu\n", name, label,
			 l->value[i], l->count[i]);
	if (l->other)
		buf_addf(out, NULL, "%s{%s=\"OTHER\"} %llu\n", name, label,
			 l->other);
}

void metrics_render(struct metrics *m, struct buf *out)
{
	static const char *const depth_names[] = { "waiting", "prioritized",
						   "active", "delayed",
						   "failed" };
	long long depth[5];
	size_t i;

	pthread_mutex_lock(&m->lock);
	header(out, "safeurl_build_info", "gauge",
	       "Always 1: the worker's version, runtime and queue as labels.");
	buf_addf(out, NULL, "safeurl_build_info{version=\"%s\",runtime=\"%s\",queue=\"",
		 SAFEURL_VERSION, m->runtime);
	add_label_value(out, m->queue);
	buf_addstr(out, "\"} 1\n", NULL);
	header(out, "safeurl_jobs_total", "counter",
	       "Jobs finished, by outcome (a job failed on its last attempt counts as failed).");
	for (i = 0; i < METRICS_OUTCOME_COUNT; i++)
		buf_addf(out, NULL, "safeurl_jobs_total{outcome=\"%s\"} %llu\n",
			 outcome_names[i], m->jobs[i]);
	header(out, "safeurl_jobs_in_flight", "gauge",
	       "Jobs being processed now.");
	buf_addf(out, NULL, "safeurl_jobs_in_flight %ld\n", m->in_flight);
	render_labelled(&m->failures, "safeurl_scan_failures_total",
			"error_code",
			"Scan attempts that failed, by error code (retried ones included).",
			out);
	render_labelled(&m->loop_failed, "safeurl_loop_failed_total", "reason",
			"Jobs the queue loop failed without running them, by reason.",
			out);
	for (i = 0; i < METRICS_EVENT_COUNT; i++) {
		header(out, event_metrics[i].name, "counter",
		       event_metrics[i].help);
		buf_addf(out, NULL, "%s %llu\n", event_metrics[i].name,
			 m->events[i]);
	}
	header(out, "safeurl_up", "gauge",
	       "1 when the dependency answered the last probe (every few seconds), 0 when not.");
	for (i = 0; i < METRICS_DEP_COUNT; i++)
		if (m->up[i] >= 0)
			buf_addf(out, NULL, "safeurl_up{dependency=\"%s\"} %d\n",
				 dep_names[i], m->up[i]);
	if (m->depth_known) {
		depth[0] = m->depth.waiting;
		depth[1] = m->depth.prioritized;
		depth[2] = m->depth.active;
		depth[3] = m->depth.delayed;
		depth[4] = m->depth.failed;
		header(out, "safeurl_queue_jobs", "gauge",
		       "Jobs in the queue by state, as Queue.getJobCounts() reads them (every few seconds).");
		for (i = 0; i < 5; i++)
			buf_addf(out, NULL, "safeurl_queue_jobs{state=\"%s\"} %lld\n",
				 depth_names[i], depth[i]);
	}
	render_histogram(m, &m->scan, out);
	render_histogram(m, &m->spawn, out);
	pthread_mutex_unlock(&m->lock);
}
