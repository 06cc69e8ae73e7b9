/* metrics_watch.c - queue depth and dependency gauges, off the HTTP thread. */
#include "fmacros.h"

#include <pthread.h>
#include <stdlib.h>

#include "clock.h"
#include "err.h"
#include "log.h"
#include "metrics.h"
#include "metrics_watch.h"
#include "queue.h"
#include "queue_admin.h"
#include "xalloc.h"
#include "banned.h"

struct metrics_watch {
	struct metrics *m;
	const struct config *cfg;
	struct queue_admin *qa;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int stop;
};

static void read_depth(struct metrics_watch *w)
{
	struct queue_params p;
	struct queue_admin_counts c;
	struct metrics_depth d;
	struct err e = ERR_INIT;

	if (!w->qa) {
		queue_params_from_config(&p, w->cfg);
		if (queue_admin_open(&w->qa, &p, &e)) {
			w->qa = NULL;
			log_event(LOG_DEBUG, NULL, "metrics",
				  "queue depth not read: %s", e.msg);
			return;
		}
	}
	if (queue_admin_counts(w->qa, &c, &e)) {
		log_event(LOG_DEBUG, NULL, "metrics",
			  "queue depth not read: %s", e.msg);
		queue_admin_close(w->qa);
		w->qa = NULL;
		return;
	}
	d.waiting = c.waiting;
	d.prioritized = c.prioritized;
	d.active = c.active;
	d.delayed = c.delayed;
	d.failed = c.failed;
	metrics_set_depth(w->m, &d);
}

static void *watch_main(void *arg)
{
	struct metrics_watch *w = arg;

	do {
		read_depth(w);
	} while (!clock_cond_pause(&w->wake, &w->lock, &w->stop, METRICS_WATCH_MS));
	return NULL;
}

struct metrics_watch *metrics_watch_start(struct metrics *m,
					  const struct config *cfg,
					  struct err *e)
{
	struct metrics_watch *w = xcalloc(1, sizeof(*w));

	w->m = m;
	w->cfg = cfg;
	pthread_mutex_init(&w->lock, NULL);
	clock_cond_init(&w->wake);
	if (pthread_create(&w->thread, NULL, watch_main, w)) {
		pthread_mutex_destroy(&w->lock);
		pthread_cond_destroy(&w->wake);
		free(w);
		err_set(e, ERR_INTERNAL, "metrics: cannot start the watch thread");
		return NULL;
	}
	return w;
}

void metrics_watch_stop(struct metrics_watch *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = 1;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	queue_admin_close(w->qa);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->wake);
	free(w);
}
