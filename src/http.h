/*
 * http - the worker's small HTTP server (libmicrohttpd, its own thread):
 * GET /livez, /healthz and /metrics, from a route table.
 *
 * /healthz (readiness) asks every probe and answers 200 when all pass,
 * else 503, with a JSON body naming each check's state (and the age of
 * its result, for a probe that reports one). /livez (liveness)
 * does the same with only the probes marked live: the process and its
 * loop, never a dependency, so that an orchestrator restarts a stuck
 * worker but not every worker when Redis is away. Probes are the caller's: they
 * run on the server's thread, so they must be thread-safe and must not
 * block (health.h runs blocking ones elsewhere and caches their results). Knows nothing of Redis, the
 * database or the engine itself.
 */
#ifndef SAFEURL_HTTP_H
#define SAFEURL_HTTP_H

#include <stddef.h>

struct err;
struct metrics;

struct http_probe {
	const char *name; /* e.g. "redis", "database", "engine" */
	/* 0 when the dependency answers; -1 with the reason in e. */
	int (*check)(void *ctx, struct err *e);
	void *ctx;
	int live; /* 1: also answers /livez */
	/* Optional: ms since the result check() gives was probed (-1: not
	 * yet), reported as "age_ms". */
	long long (*age_ms)(void *ctx);
};

struct http_server;

/*
 * Listen on addr:port (an IP literal) and serve until http_stop(). probes
 * (n of them) and m are borrowed and must outlive the server. Returns NULL
 * with e filled (ERR_UNAVAILABLE) when the port cannot be bound.
 */
struct http_server *http_start(const char *addr, int port,
			       const struct http_probe *probes, size_t n,
			       struct metrics *m, struct err *e);
/* The port actually bound (useful when 0 asked for any free port). */
int http_port(const struct http_server *srv);
/* Stop serving and free the server; NULL is fine. */
void http_stop(struct http_server *srv);

#endif
