/*
 * strvec - a NULL-terminated vector of owned strings (argv, env, Docker
 * Cmd/Env lists). items is never NULL after init and items[nr] == NULL.
 */
#ifndef SAFEURL_STRVEC_H
#define SAFEURL_STRVEC_H

#include <stddef.h>

extern const char *strvec_empty[];

struct strvec {
	const char **items;
	size_t nr;
	size_t alloc;
};

#define STRVEC_INIT { strvec_empty, 0, 0 }

void strvec_init(struct strvec *v);
/* Free every string and the array; v is empty and reusable. */
void strvec_clear(struct strvec *v);
/* Append a copy of s. Returns the stored copy (owned by v). */
const char *strvec_push(struct strvec *v, const char *s);
/* Append a new formatted string. */
const char *strvec_pushf(struct strvec *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
