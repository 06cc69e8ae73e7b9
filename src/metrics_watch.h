/*
 * metrics_watch - the queue's depth gauges, read on a thread of their own
 * every METRICS_WATCH_MS (5 s) so that a scrape of /metrics never waits on
 * Redis: Queue.getJobCounts() through one connection of its own.
 *
 * Not here: rendering (metrics.c), serving (http.c), safeurl_up (set by
 * the health probe thread from each round's results, health.c).
 */
#ifndef SAFEURL_METRICS_WATCH_H
#define SAFEURL_METRICS_WATCH_H

#include <stddef.h>

struct config;
struct err;
struct metrics;

#define METRICS_WATCH_MS 5000

struct metrics_watch;

/*
 * Start watching: m and cfg are borrowed and must outlive
 * metrics_watch_stop(). Returns NULL with e filled when the thread cannot
 * start.
 */
struct metrics_watch *metrics_watch_start(struct metrics *m,
					  const struct config *cfg,
					  struct err *e);
/* Stop the thread and free; NULL is fine. */
void metrics_watch_stop(struct metrics_watch *w);

#endif
