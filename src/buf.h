/*
 * buf - a growable byte buffer with a hard size cap.
 *
 * Invariants, from buf_init()/BUF_INIT on:
 *  - data is never NULL (an empty buffer points at a shared "" byte);
 *  - data[len] == '\0', so the contents are always a C string as well;
 *  - len <= max when max is not 0 (0 means "no cap");
 *  - only buf_detach() hands the memory out; buf_release() frees it.
 *
 * Data from outside the process (engine streams, HTTP bodies, job payloads)
 * goes into a capped buffer: an append past max fails with ERR_INVALID and
 * leaves the buffer as it was.
 */
#ifndef SAFEURL_BUF_H
#define SAFEURL_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct err;

extern char buf_empty[];

struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max; /* hard cap on len; 0 = none */
};

#define BUF_INIT { buf_empty, 0, 0, 0 }

/* Empty buffer capped at max bytes (0 = no cap). Does not allocate. */
void buf_init(struct buf *b, size_t max);
/* Free the contents; b is empty (same cap) and reusable afterwards. */
void buf_release(struct buf *b);
/* New NUL-terminated string owning the contents, caller frees; b is reset. */
char *buf_detach(struct buf *b, size_t *len);
/* Empty the buffer, keeping its memory. */
void buf_reset(struct buf *b);
/* Make room for extra more bytes (capped); -1 when over max. */
int buf_grow(struct buf *b, size_t extra, struct err *e);
/* Shorten to len (<= b->len). */
void buf_truncate(struct buf *b, size_t len);

/* Append bytes (copied). -1 with ERR_INVALID when the cap would be passed. */
int buf_add(struct buf *b, const void *data, size_t len, struct err *e);
int buf_addstr(struct buf *b, const char *s, struct err *e);
int buf_addch(struct buf *b, char c, struct err *e);
int buf_addf(struct buf *b, struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int buf_vaddf(struct buf *b, struct err *e, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/*
 * Append s as the inside of a JSON string (no quotes): ", \ and control
 * bytes escaped, bytes >= 0x80 that are not valid UTF-8 replaced by U+FFFD.
 */
int buf_add_json_str(struct buf *b, const char *s, size_t len, struct err *e);

#endif
