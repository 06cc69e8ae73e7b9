/*
 * redact.c - credentials and query values masked in URLs found in text.
 * A URL starts at a scheme followed by "://" and ends at whitespace, a
 * quote, "<" or ">" (how URLs sit in our own messages); its authority
 * ends at "/", "\", "?" or "#", the last "@" in it ending the credentials.
 */
#include "fmacros.h"

#include <string.h>

#include "redact.h"
#include "buf.h"
#include "banned.h"

static const char url_end[] = " \t\r\n\"'<>";

static int scheme_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
}

/* Copy the query s[0..n) with each value masked. */
static void query(const char *s, size_t n, struct buf *out)
{
	const char *end = s + n, *amp, *eq;

	while (s < end) {
		amp = memchr(s, '&', (size_t)(end - s));
		if (!amp)
			amp = end;
		eq = memchr(s, '=', (size_t)(amp - s));
		if (eq) {
			buf_add(out, s, (size_t)(eq - s), NULL);
			buf_addstr(out, "=***", NULL);
		} else if (amp > s) {
			buf_addstr(out, "***", NULL);
		}
		if (amp < end)
			buf_addch(out, '&', NULL);
		s = amp + 1;
	}
}

/* The URL after "://" at s; returns where it ends. */
static const char *one_url(const char *s, struct buf *out)
{
	size_t n = strcspn(s, url_end), auth = strcspn(s, "/\\?#");
	const char *at, *q, *h;

	if (auth > n)
		auth = n;
	for (at = NULL, h = s; (h = memchr(h, '@', (size_t)(s + auth - h))); at = h++)
		;
	if (at) {
		buf_addstr(out, "***", NULL);
		buf_add(out, at, (size_t)(s + auth - at), NULL);
	} else {
		buf_add(out, s, auth, NULL);
	}
	q = memchr(s + auth, '?', n - auth);
	if (!q) {
		buf_add(out, s + auth, n - auth, NULL);
		return s + n;
	}
	buf_add(out, s + auth, (size_t)(q + 1 - (s + auth)), NULL);
	h = memchr(q, '#', (size_t)(s + n - q));
	query(q + 1, (size_t)((h ? h : s + n) - (q + 1)), out);
	if (h)
		buf_add(out, h, (size_t)(s + n - h), NULL);
	return s + n;
}

void redact_urls(const char *text, struct buf *out)
{
	const char *s = text, *m, *b;

	while ((m = strstr(s, "://"))) {
		for (b = m; b > s && scheme_char(b[-1]); b--)
			;
		buf_add(out, s, (size_t)(m + 3 - s), NULL);
		s = b == m ? m + 3 : one_url(m + 3, out);
	}
	buf_addstr(out, s, NULL);
}
