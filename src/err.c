/* err.c - error kinds and the caller-owned message buffer. */
#include "fmacros.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "banned.h"

static const char *const kind_names[ERR_KIND_COUNT] = {
	[ERR_NONE] = "none",
	[ERR_INVALID] = "invalid",
	[ERR_NOT_FOUND] = "not_found",
	[ERR_CONFLICT] = "conflict",
	[ERR_NOT_ALLOWED] = "not_allowed",
	[ERR_TIMEOUT] = "timeout",
	[ERR_CRASH] = "crash",
	[ERR_UNAVAILABLE] = "unavailable",
	[ERR_INTERNAL] = "internal",
};

static void vset(struct err *e, enum err_kind kind, const char *fmt, va_list ap)
{
	e->kind = kind;
	if (vsnprintf(e->msg, sizeof(e->msg), fmt, ap) < 0)
		e->msg[0] = '\0';
}

int err_set(struct err *e, enum err_kind kind, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return -1;
	va_start(ap, fmt);
	vset(e, kind, fmt, ap);
	va_end(ap);
	return -1;
}

int err_set_errno(struct err *e, enum err_kind kind, int errnum,
		  const char *fmt, ...)
{
	va_list ap;
	size_t len;
	char tmp[64];

	if (!e)
		return -1;
	va_start(ap, fmt);
	vset(e, kind, fmt, ap);
	va_end(ap);
	len = strlen(e->msg);
	snprintf(e->msg + len, sizeof(e->msg) - len, ": %s",
		 strerror_r(errnum, tmp, sizeof(tmp)));
	return -1;
}

int err_prefix(struct err *e, const char *prefix)
{
	size_t room, plen, add, keep;

	if (!e)
		return -1;
	room = sizeof(e->msg) - 1;
	plen = strlen(prefix);
	add = plen + 2 < room ? plen + 2 : room;
	keep = strlen(e->msg);
	if (keep > room - add)
		keep = room - add;
	memmove(e->msg + add, e->msg, keep);
	e->msg[add + keep] = '\0';
	memcpy(e->msg, prefix, add < plen ? add : plen);
	if (add == plen + 2)
		memcpy(e->msg + plen, ": ", 2);
	return -1;
}

void err_clear(struct err *e)
{
	e->kind = ERR_NONE;
	e->msg[0] = '\0';
}

const char *err_kind_name(enum err_kind kind)
{
	if ((unsigned)kind >= ERR_KIND_COUNT)
		return "unknown";
	return kind_names[kind];
}
