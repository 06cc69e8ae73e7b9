/*
 * err - classified errors with a caller-owned message buffer.
 *
 * Functions that can fail return 0 on success and -1 on failure, filling a
 * struct err the caller owns. The kind decides what the caller does (skip,
 * fail, retry); the message is for people and is never matched on. Filling
 * an error never allocates.
 */
#ifndef SAFEURL_ERR_H
#define SAFEURL_ERR_H

enum err_kind {
	ERR_NONE = 0,
	ERR_INVALID,     /* bad input: payload, output, value; never retried */
	ERR_NOT_FOUND,   /* the named thing does not exist */
	ERR_CONFLICT,    /* optimistic lock lost: someone else moved first */
	ERR_NOT_ALLOWED, /* forbidden by the rules, e.g. leaving a terminal state */
	ERR_TIMEOUT,     /* a deadline passed */
	ERR_CRASH,       /* a child (container, process) died abnormally */
	ERR_UNAVAILABLE, /* a dependency is unreachable or busy: retry later */
	ERR_INTERNAL,    /* a bug or an unexpected library failure */
	ERR_KIND_COUNT
};

struct err {
	enum err_kind kind;
	char msg[256];
};

#define ERR_INIT { ERR_NONE, "" }

/*
 * Fill e (if not NULL) with kind and a printf-formatted message, truncated
 * to fit. Returns -1 so that callers can write `return err_set(...)`.
 */
int err_set(struct err *e, enum err_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Like err_set, with ": strerror(errnum)" appended. */
int err_set_errno(struct err *e, enum err_kind kind, int errnum,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Prefix e's message with "prefix: ", keeping its kind. Returns -1. */
int err_prefix(struct err *e, const char *prefix);

void err_clear(struct err *e);

/* Static lower-case name of a kind, e.g. "unavailable". */
const char *err_kind_name(enum err_kind kind);

#endif
