/* buf.c - growable NUL-terminated buffer with a hard cap. */
#include "fmacros.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "xalloc.h"
#include "banned.h"

char buf_empty[1];

void buf_init(struct buf *b, size_t max)
{
	b->data = buf_empty;
	b->len = b->cap = 0;
	b->max = max;
}

void buf_release(struct buf *b)
{
	if (b->cap)
		free(b->data);
	buf_init(b, b->max);
}

char *buf_detach(struct buf *b, size_t *len)
{
	char *p;

	if (len)
		*len = b->len;
	p = b->cap ? b->data : xstrdup("");
	buf_init(b, b->max);
	return p;
}

void buf_reset(struct buf *b)
{
	buf_truncate(b, 0);
}

void buf_truncate(struct buf *b, size_t len)
{
	if (len > b->len)
		abort();
	b->len = len;
	if (b->cap)
		b->data[len] = '\0';
}

int buf_grow(struct buf *b, size_t extra, struct err *e)
{
	size_t need, cap;

	if (extra > SIZE_MAX - b->len - 1 || (b->max && b->len + extra > b->max))
		return err_set(e, ERR_INVALID,
			       "data too large: over the %zu byte limit", b->max);
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap < SIZE_MAX / 2 ? cap * 2 : need;
	if (b->cap) {
		b->data = xrealloc(b->data, cap);
	} else {
		b->data = xmalloc(cap);
		b->data[0] = '\0';
	}
	b->cap = cap;
	return 0;
}

int buf_add(struct buf *b, const void *data, size_t len, struct err *e)
{
	if (buf_grow(b, len, e))
		return -1;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int buf_addstr(struct buf *b, const char *s, struct err *e)
{
	return buf_add(b, s, strlen(s), e);
}

int buf_addch(struct buf *b, char c, struct err *e)
{
	return buf_add(b, &c, 1, e);
}

int buf_vaddf(struct buf *b, struct err *e, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(b->data + b->len, b->cap ? b->cap - b->len : 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return err_set(e, ERR_INTERNAL, "format failed");
	if (b->cap && (size_t)n < b->cap - b->len) {
		if (b->max && b->len + (size_t)n > b->max) {
			b->data[b->len] = '\0';
			return err_set(e, ERR_INVALID,
				       "data too large: over the %zu byte limit",
				       b->max);
		}
		b->len += (size_t)n;
		return 0;
	}
	if (buf_grow(b, (size_t)n, e))
		return -1;
	vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int buf_addf(struct buf *b, struct err *e, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = buf_vaddf(b, e, fmt, ap);
	va_end(ap);
	return rc;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	unsigned cp;

	if (s[0] < 0xC2 || s[0] > 0xF4)
		return 0;
	len = s[0] < 0xE0 ? 2 : s[0] < 0xF0 ? 3 : 4;
	if (n < len)
		return 0;
	cp = s[0] & (0x7F >> len);
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

int buf_add_json_str(struct buf *b, const char *s, size_t len, struct err *e)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run;

	while (i < len) {
		unsigned char c = p[i];
		char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

		if (c >= 0x80) {
			run = utf8_seq_len(p + i, len - i);
			if (run ? buf_add(b, p + i, run, e) :
				  buf_addstr(b, "\xEF\xBF\xBD", e))
				return -1;
			i += run ? run : 1;
			continue;
		}
		if (c == '"' || c == '\\') {
			esc[1] = (char)c;
			if (buf_add(b, esc, 2, e))
				return -1;
		} else if (c < 0x20 || c == 0x7F) {
			if (buf_add(b, esc, 6, e))
				return -1;
		} else if (buf_addch(b, (char)c, e)) {
			return -1;
		}
		i++;
	}
	return 0;
}
