/* log.c - leveled, escaped, one-line-per-event logging to stderr. */
#include "fmacros.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "log.h"
#include "xalloc.h"
#include "banned.h"

#define LOG_MSG_MAX 2048

static const char *const level_names[LOG_LEVEL_COUNT] = {
	"debug", "info", "warn", "error"
};

static struct {
	enum log_level min;
	enum log_format format;
	char *worker_id;
	int fd;
	pthread_mutex_t lock;
} logger = { LOG_INFO, LOG_FORMAT_JSON, NULL, STDERR_FILENO,
	     PTHREAD_MUTEX_INITIALIZER };

const char *log_level_name(enum log_level level)
{
	return (unsigned)level < LOG_LEVEL_COUNT ? level_names[level] : "?";
}

void log_init(enum log_level min, enum log_format format,
	      const char *worker_id)
{
	free(logger.worker_id);
	logger.min = min;
	logger.format = format;
	logger.worker_id = xstrdup(worker_id);
}

void log_set_fd(int fd)
{
	logger.fd = fd;
}

void log_shutdown(void)
{
	free(logger.worker_id);
	logger.worker_id = NULL;
}

int log_enabled(enum log_level level)
{
	return level >= logger.min;
}

static void add_timestamp(struct buf *out, long long ts_ms)
{
	time_t secs = (time_t)(ts_ms / 1000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	buf_addf(out, NULL, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (int)(ts_ms % 1000));
}

/* Escapes inside a quoted logfmt value; other control bytes are \xNN. */
static const struct {
	char c;
	const char *esc;
} text_escapes[] = {
	{ '"', "\\\"" }, { '\\', "\\\\" }, { '\n', "\\n" },
	{ '\r', "\\r" }, { '\t', "\\t" },
};

/*
 * A logfmt value: bare when it is a plain word, else double-quoted with
 * the escapes above, so that a hostile URL cannot forge a field or a line.
 */
static void add_text_value(struct buf *out, const char *s)
{
	const char *p;
	size_t i;
	int quote = !*s;

	for (p = s; *p && !quote; p++)
		quote = (unsigned char)*p <= ' ' || *p == '=' || *p == '"' ||
			*p == '\\' || *p == 0x7F;
	if (!quote) {
		buf_addstr(out, s, NULL);
		return;
	}
	buf_addch(out, '"', NULL);
	for (p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;

		for (i = 0; i < sizeof(text_escapes) / sizeof(text_escapes[0]); i++)
			if (text_escapes[i].c == *p)
				break;
		if (i < sizeof(text_escapes) / sizeof(text_escapes[0]))
			buf_addstr(out, text_escapes[i].esc, NULL);
		else if (c < 0x20 || c == 0x7F)
			buf_addf(out, NULL, "\\x%02x", c);
		else
			buf_addch(out, (char)c, NULL);
	}
	buf_addch(out, '"', NULL);
}

static void add_json_field(struct buf *out, const char *key, const char *val)
{
	if (!val)
		return;
	buf_addf(out, NULL, ",\"%s\":\"", key);
	buf_add_json_str(out, val, strlen(val), NULL);
	buf_addch(out, '"', NULL);
}

static void add_text_field(struct buf *out, const char *key, const char *val)
{
	if (!val)
		return;
	buf_addf(out, NULL, " %s=", key);
	add_text_value(out, val);
}

void log_format_line(struct buf *out, enum log_format format, long long ts_ms,
		     enum log_level level, const char *worker_id,
		     const char *job_id, const char *event, const char *msg)
{
	log_format_fields(out, format, ts_ms, level, worker_id, job_id, event,
			  NULL, 0, msg);
}

void log_format_fields(struct buf *out, enum log_format format,
		       long long ts_ms, enum log_level level,
		       const char *worker_id, const char *job_id,
		       const char *event, const struct log_field *fields,
		       size_t nfields, const char *msg)
{
	size_t i;

	if (format == LOG_FORMAT_TEXT) {
		/* logfmt: key=value pairs, the same keys as JSON */
		buf_addstr(out, "ts=", NULL);
		add_timestamp(out, ts_ms);
		buf_addf(out, NULL, " level=%s", log_level_name(level));
		add_text_field(out, "worker", worker_id);
		add_text_field(out, "job", job_id);
		add_text_field(out, "event", event);
		for (i = 0; i < nfields; i++)
			add_text_field(out, fields[i].key, fields[i].val);
		add_text_field(out, "msg", msg);
	} else {
		buf_addstr(out, "{\"ts\":\"", NULL);
		add_timestamp(out, ts_ms);
		buf_addf(out, NULL, "\",\"level\":\"%s\"", log_level_name(level));
		add_json_field(out, "worker", worker_id);
		add_json_field(out, "job", job_id);
		add_json_field(out, "event", event);
		for (i = 0; i < nfields; i++)
			add_json_field(out, fields[i].key, fields[i].val);
		add_json_field(out, "msg", msg);
		buf_addch(out, '}', NULL);
	}
	buf_addch(out, '\n', NULL);
}

static void write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

static void emit_fields(enum log_level level, const char *job_id,
			const char *event, const struct log_field *fields,
			size_t n, const char *msg)
{
	struct buf line = BUF_INIT;

	log_format_fields(&line, logger.format, clock_wall_ms(), level,
			  logger.worker_id, job_id, event, fields, n, msg);
	pthread_mutex_lock(&logger.lock);
	write_all(logger.fd, line.data, line.len);
	pthread_mutex_unlock(&logger.lock);
	buf_release(&line);
}

static void emit(enum log_level level, const char *job_id, const char *event,
		 const char *msg)
{
	emit_fields(level, job_id, event, NULL, 0, msg);
}

void log_fields(enum log_level level, const char *job_id, const char *event,
		const struct log_field *fields, size_t n, const char *fmt, ...)
{
	char msg[LOG_MSG_MAX];
	va_list ap;
	int saved = errno;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	emit_fields(level, job_id, event, fields, n, msg);
	errno = saved;
}

void log_event(enum log_level level, const char *job_id, const char *event,
	       const char *fmt, ...)
{
	char msg[LOG_MSG_MAX];
	va_list ap;
	int saved = errno;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	emit(level, job_id, event, msg);
	errno = saved;
}

void log_warn_errno(const char *fmt, ...)
{
	char msg[LOG_MSG_MAX], tmp[64];
	int saved = errno;
	size_t len;
	va_list ap;

	if (!log_enabled(LOG_WARN))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	len = strlen(msg);
	snprintf(msg + len, sizeof(msg) - len, ": %s",
		 strerror_r(saved, tmp, sizeof(tmp)));
	emit(LOG_WARN, NULL, NULL, msg);
	errno = saved;
}
