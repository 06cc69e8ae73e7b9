/*
 * decode - content a page hides in encoded form, decoded so that the
 * analyser can read it like the page itself: data: URLs (meta refresh,
 * frames, location assignments), and string arguments of unescape(),
 * decodeURIComponent(), atob() and String.fromCharCode() in inline
 * scripts. Decoded text with markup is kept as HTML; other decoded text
 * is kept as script (wrapped in <script>) so its markers are counted.
 *
 * Pure and bounded: at most DECODE_MAX_PAYLOADS payloads of at least
 * DECODE_MIN_LEN bytes per call, output capped by the caller's buffer;
 * the caller bounds the depth (decoded content decoded again).
 */
#ifndef SAFEURL_DECODE_H
#define SAFEURL_DECODE_H

#include <stddef.h>

struct buf;

#define DECODE_MAX_PAYLOADS 64
#define DECODE_MIN_LEN 16

/*
 * Decode the data: URLs listed in embedded[0..elen) (one a line) and the
 * encoded literals in scripts[0..slen) (both borrowed), appending the
 * results to out (within its cap). Returns the number of payloads decoded;
 * *markup (not reset) is increased by those that decoded to markup.
 */
int decode_payloads(const char *embedded, size_t elen, const char *scripts,
		    size_t slen, struct buf *out, int *markup);

/* Base64 (standard or URL alphabet, white space ignored) into out; bytes written or -1. */
long decode_base64(const char *s, size_t n, struct buf *out);
/* %XX and %uXXXX escapes (non-ASCII as '?') into out. */
void decode_percent(const char *s, size_t n, struct buf *out);

#endif
