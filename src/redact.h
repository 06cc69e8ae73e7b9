/*
 * redact - URLs made fit for logs and stored error messages.
 *
 * Pure: text in, text out. Every "scheme://" URL found in a text loses its
 * credentials ("user:pass@" becomes "***@") and the values of its query
 * ("?a=1&token" becomes "?a=***&***"); everything else is copied. The
 * scan's stored result keeps the full URL; only what is logged or stored
 * as an error message goes through here.
 *
 * It does not parse URLs the way the fetcher does (it has to work on any
 * text, such as a library's error sentence); it errs on the side of
 * masking.
 */
#ifndef SAFEURL_REDACT_H
#define SAFEURL_REDACT_H

struct buf;

/* Append text (borrowed) to out with every URL in it redacted. */
void redact_urls(const char *text, struct buf *out);

#endif
