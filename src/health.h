/*
 * health - the worker's process services, for every processor: the HTTP
 * server (/livez, /healthz, /metrics; http.h) and the thread that probes
 * the dependencies on a timer.
 *
 * Dependency probes (Redis, the database, the engine) may block: they run
 * on the probe thread, one round every HEALTH_PROBE_MS, never on the HTTP
 * thread. /healthz answers at once from their last results, each with the
 * age of its result ("age_ms"); a dependency not probed yet is down.
 * Live probes (the loop turns, draining) are cheap, never block and run
 * on each request. Not here: what a probe checks (its owner's).
 */
#ifndef SAFEURL_HEALTH_H
#define SAFEURL_HEALTH_H

#include <stddef.h>

#include "http.h"

struct err;
struct metrics;

/* How often the dependency probes run. */
#define HEALTH_PROBE_MS 1000
/* A result older than this is down: its probe is stuck on a dependency
 * that stopped answering (a frozen engine, a stalled database). */
#define HEALTH_STALE_MS 5000

struct health;

/*
 * Serve on addr:port with the probes live[] (called on the HTTP thread:
 * must not block) and deps[] (called on the probe thread), copied; their
 * ctx pointers and m are borrowed and must outlive health_stop(). NULL
 * with e filled when the port cannot be bound. Free with health_stop.
 */
struct health *health_start(const char *addr, int port,
			    const struct http_probe *live, size_t nlive,
			    const struct http_probe *deps, size_t ndeps,
			    struct metrics *m, struct err *e);
/* The port actually bound (useful when 0 asked for any free port). */
int health_port(const struct health *h);
/* Stop serving and probing (waits for a probe round in progress). */
void health_stop(struct health *h);

#endif
