/*
 * log - one line per event on stderr, as JSON or text.
 *
 * Every line carries a UTC timestamp, the level, the worker id and, where
 * they apply, the job id and an event name (claim, transition, container,
 * complete, fail, retry...). Message text is escaped: a hostile URL cannot
 * forge a line or break the JSON. Safe to call from several threads: each
 * line is formatted privately and written with one write(2) under a lock.
 * Never pass secrets; nothing here can tell them apart.
 */
#ifndef SAFEURL_LOG_H
#define SAFEURL_LOG_H

#include <stddef.h>

struct buf;

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_LEVEL_COUNT };
enum log_format { LOG_FORMAT_JSON, LOG_FORMAT_TEXT, LOG_FORMAT_COUNT };

/* Static names: "debug"... */
const char *log_level_name(enum log_level level);

/* Set the threshold, format and worker id (copied). Call before threads. */
void log_init(enum log_level min, enum log_format format,
	      const char *worker_id);
/* Write lines to fd instead of stderr (tests). */
void log_set_fd(int fd);
/* Free what log_init copied. */
void log_shutdown(void);
/* Would a line at this level be written? */
int log_enabled(enum log_level level);

void log_event(enum log_level level, const char *job_id, const char *event,
	       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define log_debug(...) log_event(LOG_DEBUG, NULL, NULL, __VA_ARGS__)
#define log_info(...) log_event(LOG_INFO, NULL, NULL, __VA_ARGS__)
#define log_warn(...) log_event(LOG_WARN, NULL, NULL, __VA_ARGS__)
#define log_error(...) log_event(LOG_ERROR, NULL, NULL, __VA_ARGS__)

/* A named value of an event line; a NULL val leaves the field out.
 * Both strings borrowed for the call. */
struct log_field {
	const char *key;
	const char *val;
};

/*
 * log_event with fields between "event" and "msg" (JSON keys, or logfmt
 * pairs), so that collectors filter on them: scan, job, queue, url,
 * state, verdict, error_code, duration_ms. Never a secret; URLs go
 * through redact_urls (redact.h) first.
 */
void log_fields(enum log_level level, const char *job_id, const char *event,
		const struct log_field *fields, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* Like log_warn, with ": strerror(errno)" appended. */
void log_warn_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Pure formatter behind log_event: appends one complete line (with '\n')
 * to out. ts_ms is Unix epoch milliseconds; job_id and event may be NULL.
 */
void log_format_line(struct buf *out, enum log_format format, long long ts_ms,
		     enum log_level level, const char *worker_id,
		     const char *job_id, const char *event, const char *msg);
/* The same with fields (n of them, borrowed) before msg. */
void log_format_fields(struct buf *out, enum log_format format,
		       long long ts_ms, enum log_level level,
		       const char *worker_id, const char *job_id,
		       const char *event, const struct log_field *fields,
		       size_t nfields, const char *msg);

#endif
