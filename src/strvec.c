/* strvec.c - NULL-terminated vector of owned strings. */
#include "fmacros.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>

#include "buf.h"
#include "strvec.h"
#include "xalloc.h"
#include "banned.h"

const char *strvec_empty[] = { NULL };

void strvec_init(struct strvec *v)
{
	v->items = strvec_empty;
	v->nr = v->alloc = 0;
}

void strvec_clear(struct strvec *v)
{
	size_t i;

	if (v->alloc) {
		for (i = 0; i < v->nr; i++)
			free((void *)(uintptr_t)v->items[i]);
		free(v->items);
	}
	strvec_init(v);
}

static const char *push_owned(struct strvec *v, char *s)
{
	if (v->nr + 2 > v->alloc) {
		size_t alloc = v->alloc ? v->alloc * 2 : 8;

		v->items = xrealloc(v->alloc ? v->items : NULL,
				    alloc * sizeof(*v->items));
		v->alloc = alloc;
	}
	v->items[v->nr++] = s;
	v->items[v->nr] = NULL;
	return s;
}

const char *strvec_push(struct strvec *v, const char *s)
{
	return push_owned(v, xstrdup(s));
}

const char *strvec_pushf(struct strvec *v, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&b, NULL, fmt, ap);
	va_end(ap);
	return push_owned(v, buf_detach(&b, NULL));
}
