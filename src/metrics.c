/* metrics.c - counters and histograms; Prometheus text rendered into a buf. */
#include "fmacros.h"

#include <pthread.h>
#include <stdlib.h>

#include "buf.h"
#include "metrics.h"
#include "xalloc.h"
#include "banned.h"

/* Bucket bounds in seconds: scans take seconds, spawns tens of ms. */
static const double scan_bounds[] = { 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
				      30, 60, 120 };
static const double spawn_bounds[] = { 0.001, 0.0025, 0.005, 0.01, 0.025,
				       0.05, 0.1, 0.25, 0.5, 1, 2.5 };
#define NBUCKETS (sizeof(scan_bounds) / sizeof(scan_bounds[0]))

struct histogram {
	const char *name, *help;
	const double *bounds;
	unsigned long long buckets[NBUCKETS]; /* non-cumulative */
	unsigned long long count;
	double sum;
};

struct metrics {
	pthread_mutex_t lock;
	unsigned long long jobs[METRICS_OUTCOME_COUNT];
	long in_flight;
	struct histogram scan, spawn;
	unsigned long long reconciled[METRICS_RECONCILE_COUNT];
};

static const char *const reconcile_names[METRICS_RECONCILE_COUNT] = {
	[METRICS_RECONCILE_REQUEUED] = "requeued",
	[METRICS_RECONCILE_ABANDONED] = "abandoned",
};

void metrics_reconciled(struct metrics *m, enum metrics_reconcile action,
			unsigned long long n)
{
	if ((unsigned)action >= METRICS_RECONCILE_COUNT)
		abort();
	pthread_mutex_lock(&m->lock);
	m->reconciled[action] += n;
	pthread_mutex_unlock(&m->lock);
}

static const char *const outcome_names[METRICS_OUTCOME_COUNT] = {
	[METRICS_COMPLETED] = "completed",
	[METRICS_FAILED] = "failed",
	[METRICS_TIMED_OUT] = "timed_out",
	[METRICS_SKIPPED] = "skipped",
	[METRICS_RETRIED] = "retried",
	[METRICS_RELEASED] = "released",
};

struct metrics *metrics_new(void)
{
	struct metrics *m = xcalloc(1, sizeof(*m));

	pthread_mutex_init(&m->lock, NULL);
	m->scan.name = "safeurl_scan_duration_seconds";
	m->scan.help = "Time from claim to the scan's final state.";
	m->scan.bounds = scan_bounds;
	m->spawn.name = "safeurl_container_spawn_seconds";
	m->spawn.help = "Time to create and start a fetcher container.";
	m->spawn.bounds = spawn_bounds;
	return m;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->lock);
	free(m);
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

static void render_histogram(const struct histogram *h, struct buf *out)
{
	unsigned long long cumulative = 0;
	size_t i;

	buf_addf(out, NULL, "# HELP %s %s\n# TYPE %s histogram\n", h->name,
		 h->help, h->name);
	for (i = 0; i < NBUCKETS; i++) {
		cumulative += h->buckets[i];
		buf_addf(out, NULL, "%s_bucket{le=\"%g\"} %llu\n", h->name,
			 h->bounds[i], cumulative);
	}
	buf_addf(out, NULL, "%s_bucket{le=\"+Inf\"} %llu\n", h->name, h->count);
	buf_addf(out, NULL, "%s_sum %.6f\n%s_count %llu\n", h->name, h->sum,
		 h->name, h->count);
}

void metrics_render(struct metrics *m, struct buf *out)
{
	struct metrics snap;
	size_t i;

	pthread_mutex_lock(&m->lock);
	snap = *m;
	pthread_mutex_unlock(&m->lock);
	buf_addstr(out, "# HELP safeurl_jobs_total Jobs finished, by outcome.\n"
			"# TYPE safeurl_jobs_total counter\n", NULL);
	for (i = 0; i < METRICS_OUTCOME_COUNT; i++)
		buf_addf(out, NULL, "safeurl_jobs_total{outcome=\"%s\"} %llu\n",
			 outcome_names[i], snap.jobs[i]);
	buf_addf(out, NULL,
		 "# HELP safeurl_jobs_in_flight Jobs being processed now.\n"
		 "# TYPE safeurl_jobs_in_flight gauge\n"
		 "safeurl_jobs_in_flight %ld\n", snap.in_flight);
	render_histogram(&snap.scan, out);
	render_histogram(&snap.spawn, out);
	buf_addstr(out, "# HELP safeurl_reconcile_total Scans whose queue job "
			"was gone or finished, by what reconciliation did.\n"
			"# TYPE safeurl_reconcile_total counter\n", NULL);
	for (i = 0; i < METRICS_RECONCILE_COUNT; i++)
		buf_addf(out, NULL, "safeurl_reconcile_total{action=\"%s\"} %llu\n",
			 reconcile_names[i], snap.reconciled[i]);
}
