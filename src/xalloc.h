/*
 * xalloc - allocation that never returns NULL.
 *
 * Out of memory logs one line and aborts: a worker that dies mid-job loses
 * nothing, because its lease expires and another worker takes the scan over.
 * Sizes that come from outside must be capped before they reach these.
 */
#ifndef SAFEURL_XALLOC_H
#define SAFEURL_XALLOC_H

#include <stddef.h>

/* New, caller frees with free(). */
void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
/* Like realloc(3); the old pointer is consumed. */
void *xrealloc(void *ptr, size_t size);
/* New copy of s (NULL gives NULL), caller frees with free(). */
char *xstrdup(const char *s);
/* New copy of the first n bytes of s, NUL-terminated; caller frees. */
char *xstrndup(const char *s, size_t n);

#endif
