/*
 * metrics_watch - the gauges that need a dependency to answer, read on a
 * thread of their own every METRICS_WATCH_MS (5 s) so that a scrape of
 * /metrics never waits on Redis, the database or the engine: the queue's
 * depth (Queue.getJobCounts() through one connection of its own) and
 * safeurl_up{dependency} from the health probes named after a dependency.
 *
 * Not here: rendering (metrics.c) or serving (http.c).
 */
#ifndef SAFEURL_METRICS_WATCH_H
#define SAFEURL_METRICS_WATCH_H

#include <stddef.h>

struct config;
struct err;
struct http_probe;
struct metrics;

#define METRICS_WATCH_MS 5000

struct metrics_watch;

/*
 * Start watching: m, cfg and probes (n of them; those whose name is not a
 * dependency of metrics_dep_find are skipped) are borrowed and must
 * outlive metrics_watch_stop(). Returns NULL with e filled when the
 * thread cannot start.
 */
struct metrics_watch *metrics_watch_start(struct metrics *m,
					  const struct config *cfg,
					  const struct http_probe *probes,
					  size_t n, struct err *e);
/* Stop the thread and free; NULL is fine. */
void metrics_watch_stop(struct metrics_watch *w);

#endif
