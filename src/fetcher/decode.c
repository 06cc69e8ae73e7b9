/*
 * decode.c - the decoders and the scan for encoded payloads.
 */
#include "../fmacros.h"

#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "html.h"
#include "../buf.h"
#include "../banned.h"

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}


/* Append as much of s[0..n) as out's cap leaves room for. */
static void put(struct buf *out, const char *s, size_t n)
{
	size_t room = !out->max ? n : out->max > out->len ? out->max - out->len : 0;

	buf_add(out, s, n < room ? n : room, NULL);
}

static int b64(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' || c == '-' ? 62 : c == '/' || c == '_' ? 63 : -1;
}

long decode_base64(const char *s, size_t n, struct buf *out)
{
	unsigned long acc = 0;
	int bits = 0, v;
	long written = 0;
	size_t i;
	char c;

	for (i = 0; i < n; i++) {
		if (s[i] == '=' || s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')
			continue;
		if ((v = b64(s[i])) < 0)
			return -1;
		acc = (acc << 6) | (unsigned long)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			c = (char)((acc >> bits) & 0xff);
			put(out, &c, 1);
			written++;
		}
	}
	return written;
}

static int hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

void decode_percent(const char *s, size_t n, struct buf *out)
{
	size_t i;
	char c;

	for (i = 0; i < n; i++) {
		c = s[i];
		if (c == '%' && i + 5 < n && lower(s[i + 1]) == 'u' && hex(s[i + 2]) >= 0 &&
		    hex(s[i + 3]) >= 0 && hex(s[i + 4]) >= 0 && hex(s[i + 5]) >= 0) {
			c = s[i + 2] == '0' && s[i + 3] == '0' && hex(s[i + 4]) < 8
				    ? (char)(hex(s[i + 4]) * 16 + hex(s[i + 5])) : '?';
			i += 5;
		} else if (c == '%' && i + 2 < n && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
			c = (char)(hex(s[i + 1]) * 16 + hex(s[i + 2]));
			i += 2;
		}
		put(out, &c, 1);
	}
}

/* Text decoded from one payload: as HTML when it has markup, else as script. */
/* Text (mostly printable) with a tag in it; random bytes are not markup. */
static int is_markup(const struct buf *t)
{
	size_t i, odd = 0, tag = 0;
	unsigned char c;

	for (i = 0; i < t->len; i++) {
		c = (unsigned char)t->data[i];
		odd += c < 0x20 && c != '\n' && c != '\r' && c != '\t';
		if (c == '<' && i + 1 < t->len &&
		    (((t->data[i + 1] | 0x20) >= 'a' && (t->data[i + 1] | 0x20) <= 'z') ||
		     t->data[i + 1] == '!' || t->data[i + 1] == '/'))
			tag++;
	}
	return tag && odd * 20 < t->len;
}

static int emit(struct buf *out, const struct buf *text)
{
	int markup = is_markup(text);

	put(out, markup ? "\n" : "\n<script>", markup ? 1 : 9);
	put(out, text->data, text->len);
	put(out, markup ? "\n" : "</script>\n", markup ? 1 : 10);
	return markup;
}

/* One data: URL at s[0..n) ("data:" first): its payload decoded. */
static int data_url(const char *s, size_t n, struct buf *out, int *markup)
{
	const char *comma = memchr(s, ',', n);
	struct buf text;
	int ok = 0;

	if (!comma)
		return 0;
	buf_init(&text, out->max);
	if (html_find_ci(s, (size_t)(comma - s), ";base64"))
		ok = decode_base64(comma + 1, n - (size_t)(comma + 1 - s), &text) >= DECODE_MIN_LEN;
	else {
		decode_percent(comma + 1, n - (size_t)(comma + 1 - s), &text);
		ok = text.len >= DECODE_MIN_LEN;
	}
	if (ok)
		*markup += emit(out, &text);
	buf_release(&text);
	return ok;
}

/* Length of a data: URL starting at s, up to a quote or the line end. */
static size_t data_url_len(const char *s, const char *end)
{
	const char *p = s;

	while (p < end && *p != '"' && *p != '\'' && *p != '`' && *p != '\n')
		p++;
	return (size_t)(p - s);
}

/* The string literal starting at p (after optional spaces): [*s, *s + *n). */
static int literal(const char *p, const char *end, const char **s, size_t *n)
{
	char q;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p >= end || (*p != '"' && *p != '\'' && *p != '`'))
		return 0;
	q = *p++;
	*s = p;
	while (p < end && *p != q)
		p += *p == '\\' && p + 1 < end ? 2 : 1;
	*n = (size_t)(p - *s);
	return p < end;
}

/* String.fromCharCode(72, 105, ...) arguments at p (after the '('). */
static int char_codes(const char *p, const char *end, struct buf *text)
{
	char c;
	long v;
	char *q;

	while (p < end && *p != ')') {
		while (p < end && (*p == ' ' || *p == ',' || *p == '\n' || *p == '\t'))
			p++;
		if (p >= end || *p < '0' || *p > '9')
			break;
		v = strtol(p, &q, 0);
		if (q > end)
			break;
		c = v > 0 && v < 0x80 ? (char)v : '?';
		put(text, &c, 1);
		p = q;
	}
	return text->len >= DECODE_MIN_LEN;
}

/* Script calls whose string argument is decoded, and how. */
enum how { PERCENT, BASE64, CODES };
static const struct {
	const char *call;
	enum how how;
} calls[] = {
	{ "unescape(", PERCENT },
	{ "decodeuricomponent(", PERCENT },
	{ "decodeuri(", PERCENT },
	{ "atob(", BASE64 },
	{ "fromcharcode(", CODES },
};

int decode_payloads(const char *embedded, size_t elen, const char *scripts,
		    size_t slen, struct buf *out, int *markup)
{
	const char *p, *end, *at, *lit;
	struct buf text;
	size_t i, n;
	int count = 0, ok;

	for (p = embedded, end = embedded + elen; p < end && count < DECODE_MAX_PAYLOADS;) {
		if (!(at = html_find_ci(p, (size_t)(end - p), "data:")))
			break;
		n = data_url_len(at, end);
		count += data_url(at, n, out, markup);
		p = at + n + 1;
	}
	end = scripts + slen;
	for (p = scripts; p < end && count < DECODE_MAX_PAYLOADS;) {
		if (!(at = html_find_ci(p, (size_t)(end - p), "data:text/html")))
			break;
		n = data_url_len(at, end);
		count += data_url(at, n, out, markup);
		p = at + n;
	}
	for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
		for (p = scripts; p < end && count < DECODE_MAX_PAYLOADS; p = at + 1) {
			if (!(at = html_find_ci(p, (size_t)(end - p), calls[i].call)))
				break;
			buf_init(&text, out->max);
			lit = at + strlen(calls[i].call);
			ok = 0;
			if (calls[i].how == CODES)
				ok = char_codes(lit, end, &text);
			else if (literal(lit, end, &lit, &n) && n >= DECODE_MIN_LEN) {
				if (calls[i].how == BASE64)
					ok = decode_base64(lit, n, &text) >= DECODE_MIN_LEN;
				else {
					decode_percent(lit, n, &text);
					ok = 1;
				}
			}
			if (ok) {
				*markup += emit(out, &text);
				count++;
			}
			buf_release(&text);
		}
	return count;
}
