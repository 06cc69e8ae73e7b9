/*
 * scan - the scan pipeline, the worker's default processor ("scan").
 *
 * For each queue job: read the payload, find or create the scan row, claim
 * it (or take over an expired lease), run the fetcher container while the
 * lease is renewed, validate the output, store result and audit, and tell
 * the queue how the job ended (SPEC §3, §5). Runs WORKER_CONCURRENCY
 * threads, each with its own database handle; a housekeeping thread renews
 * leases and sweeps abandoned rows. Also owns the health/metrics server,
 * since it holds the three dependencies /healthz reports on.
 *
 * Not here: the queue protocol (queue.c, worker.c), SQL (store), engine
 * requests (runtime), the fetcher's own logic.
 */
#ifndef SAFEURL_SCAN_H
#define SAFEURL_SCAN_H

struct worker_processor;

/* Is url an absolute http(s) URL of at most 8 KiB, read by the URL Standard (as the fetcher reads it)? */
int scan_url_valid(const char *url);

/* The "scan" processor, the worker's default. */
extern const struct worker_processor scan_processor;

#endif
