/*
 * health.c - the HTTP server and the dependency probe thread; /healthz
 * reads the probe thread's last results under a mutex.
 */
#include "fmacros.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "health.h"
#include "http.h"
#include "metrics.h"
#include "xalloc.h"
#include "banned.h"

/* A dependency probe and its last result. */
struct cached {
	struct http_probe real;
	struct health *h;
	int probed, ok;
	long long at_ms; /* clock_mono_ms of the last result */
	char msg[sizeof(((struct err *)0)->msg)];
};

struct health {
	struct http_server *srv;
	struct http_probe *served; /* live ones, then the cached wrappers */
	struct cached *deps;
	size_t nlive, ndeps;

	pthread_mutex_t mu; /* guards deps' results and stop */
	pthread_cond_t wake;
	int stop;
	pthread_t thread;
	int started;
	struct metrics *m; /* safeurl_up{dependency} from each round */
};

static int cached_check(void *arg, struct err *e)
{
	struct cached *c = arg;
	int rc = 0;

	pthread_mutex_lock(&c->h->mu);
	if (!c->probed)
		rc = err_set(e, ERR_UNAVAILABLE, "not probed yet");
	else if (clock_mono_ms() - c->at_ms > HEALTH_STALE_MS)
		/* a probe stuck on a dependency that stopped answering */
		rc = err_set(e, ERR_UNAVAILABLE, "no answer to the probe for "
			     "%lld ms", clock_mono_ms() - c->at_ms);
	else if (!c->ok)
		rc = err_set(e, ERR_UNAVAILABLE, "%s", c->msg);
	pthread_mutex_unlock(&c->h->mu);
	return rc;
}

static long long cached_age(void *arg)
{
	struct cached *c = arg;
	long long age = -1;

	pthread_mutex_lock(&c->h->mu);
	if (c->probed)
		age = clock_mono_ms() - c->at_ms;
	pthread_mutex_unlock(&c->h->mu);
	return age;
}

static void probe_round(struct health *h)
{
	size_t i;

	for (i = 0; i < h->ndeps; i++) {
		struct cached *c = &h->deps[i];
		struct err e = ERR_INIT;
		int ok = c->real.check(c->real.ctx, &e) == 0;

		pthread_mutex_lock(&h->mu);
		c->probed = 1;
		c->ok = ok;
		c->at_ms = clock_mono_ms();
		snprintf(c->msg, sizeof(c->msg), "%s", ok ? "" : e.msg);
		pthread_mutex_unlock(&h->mu);
		if (metrics_dep_find(c->real.name) >= 0)
			metrics_set_up(h->m, (enum metrics_dep)
				       metrics_dep_find(c->real.name), ok);
	}
}

static void *probe_main(void *arg)
{
	struct health *h = arg;

	do
		probe_round(h);
	while (!clock_cond_pause(&h->wake, &h->mu, &h->stop, HEALTH_PROBE_MS));
	return NULL;
}

struct health *health_start(const char *addr, int port,
			    const struct http_probe *live, size_t nlive,
			    const struct http_probe *deps, size_t ndeps,
			    struct metrics *m, struct err *e)
{
	struct health *h = xcalloc(1, sizeof(*h));
	size_t i;

	h->m = m;
	h->nlive = nlive;
	h->ndeps = ndeps;
	h->served = xcalloc(nlive + ndeps + 1, sizeof(*h->served));
	h->deps = xcalloc(ndeps + 1, sizeof(*h->deps));
	for (i = 0; i < nlive; i++)
		h->served[i] = live[i];
	for (i = 0; i < ndeps; i++) {
		h->deps[i].real = deps[i];
		h->deps[i].h = h;
		h->served[nlive + i] = (struct http_probe){
			deps[i].name, cached_check, &h->deps[i], 0, cached_age
		};
	}
	pthread_mutex_init(&h->mu, NULL);
	clock_cond_init(&h->wake);
	h->srv = http_start(addr, port, h->served, nlive + ndeps, m, e);
	if (!h->srv) {
		health_stop(h);
		return NULL;
	}
	if (ndeps && pthread_create(&h->thread, NULL, probe_main, h)) {
		err_set(e, ERR_INTERNAL, "health: cannot start the probe thread");
		health_stop(h);
		return NULL;
	}
	h->started = ndeps > 0;
	return h;
}

int health_port(const struct health *h)
{
	return http_port(h->srv);
}

void health_stop(struct health *h)
{
	if (!h)
		return;
	http_stop(h->srv); /* first: no request reads the results after */
	if (h->started) {
		pthread_mutex_lock(&h->mu);
		h->stop = 1;
		pthread_cond_broadcast(&h->wake);
		pthread_mutex_unlock(&h->mu);
		pthread_join(h->thread, NULL);
	}
	pthread_mutex_destroy(&h->mu);
	pthread_cond_destroy(&h->wake);
	free(h->served);
	free(h->deps);
	free(h);
}
