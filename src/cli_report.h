/*
 * cli_report.h - what the safeurl command line shows an operator: a scan's
 * report as text, its row as JSON, the progress line of a scan being
 * waited for, and the summary table of several scans.
 *
 * Pure: values and JSON text in, text appended to a caller-owned buf out;
 * no store, no queue, no terminal. Not here: reading the store (cli_main.c,
 * cli_submit.c), deciding exit codes.
 */
#ifndef SAFEURL_CLI_REPORT_H
#define SAFEURL_CLI_REPORT_H

#include <stddef.h>

#include "state.h"

struct buf;
struct err;

/*
 * One scan as the progress line and the summary table show it. Every
 * pointer is borrowed from the caller; verdict NULL and risk -1 while no
 * result is known, error_code NULL unless the scan FAILED or TIMED_OUT.
 */
struct cli_scan {
	const char *id;
	const char *url;
	enum state state;
	const char *verdict;
	int risk;
	const char *error_code;
	long long started_ms; /* when it was submitted */
	long long ended_ms;   /* when it was seen terminal; 0 before */
};

/*
 * Append the text report of one scan: the row's id, URL, state and error
 * (job may be NULL), then from the fetcher's document (result_json may be
 * NULL: no result stored) the verdict and score, the final URL, HTTP
 * status, content type and size, address, TLS, timings, the redirect
 * chain and the reasons table. job and result_json are borrowed. Returns
 * 0, or -1 with ERR_INVALID in e when result_json is not a JSON object
 * (the report so far stays in out).
 */
int cli_report_text(const struct state_job *job, const char *result_json,
		    struct buf *out, struct err *e);

/*
 * Append the row as one JSON object and a newline: id, url, state,
 * version, attempts, workerId, leaseExpiresAt, createdAt, updatedAt,
 * errorCode, errorMessage (null when absent). job is borrowed.
 */
void cli_report_status_json(const struct state_job *job, struct buf *out);

/*
 * Append the progress line of s (no newline), cut to width bytes when
 * width is not 0: id, state, then the verdict and score (COMPLETED), the
 * error code (FAILED, TIMED_OUT) or the seconds since it was submitted
 * counted to now_ms, then the URL.
 */
void cli_report_progress(const struct cli_scan *s, long long now_ms,
			 size_t width, struct buf *out);

/*
 * Append the summary table of n scans: PAGE STATE VERDICT RISK ERROR, one
 * row each. When every URL has the same origin, a first line "scans of
 * ORIGIN" names it and the PAGE column holds the rest of each URL;
 * otherwise the whole URL. PAGE is at most 44 columns wide (longer values
 * are cut).
 */
void cli_report_summary(const struct cli_scan *scans, size_t n,
			struct buf *out);

/*
 * Rank of a verdict for --fail-on: 0 safe, 1 suspicious, 2 malicious or
 * blocked (the URL led where no scan may go), -1 for anything else.
 */
int cli_report_verdict_rank(const char *verdict);

/*
 * Split a reason's message "sentence (evidence)" as the fetcher writes
 * it: returns the length of the sentence and points *evidence into
 * message at the evidence, *evlen bytes long (NULL and 0 when the message
 * ends with no balanced parenthesis group).
 */
size_t cli_report_evidence(const char *message, const char **evidence,
			   size_t *evlen);

#endif
