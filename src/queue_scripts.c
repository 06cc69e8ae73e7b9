/*
 * queue_scripts.c - the script table's companions: key names, the key list
 * each script takes, and argument vectors for EVALSHA/EVAL.
 *
 * The scripts themselves live in src/queue_lua and are embedded by the
 * build; this file does no I/O.
 */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "queue_int.h"
#include "xalloc.h"
#include "banned.h"

static const char *const key_suffix[QK_COUNT] = {
	"wait", "active", "prioritized", "events", "stalled", "delayed",
	"meta", "pc", "marker", "completed", "failed", "stalled-check", "id",
	"limiter",
};

#define END QK_COUNT
const enum queue_key queue_script_keys[QS_COUNT][13] = {
	[QS_ADD] = { QK_WAIT, QK_META, QK_ID, QK_DELAYED, QK_ACTIVE, QK_EVENTS,
		     QK_MARKER, QK_PRIORITIZED, QK_PC, END },
	[QS_PROGRESS] = { QK_EVENTS, QK_META, END },
	[QS_RENEW] = { QK_STALLED, END },
	[QS_STALLED] = { QK_STALLED, QK_WAIT, QK_ACTIVE, QK_STALLED_CHECK,
			 QK_META, QK_MARKER, QK_EVENTS, END },
	[QS_STEP] = { QK_WAIT, QK_ACTIVE, QK_PRIORITIZED, QK_EVENTS, QK_STALLED,
		      QK_DELAYED, QK_META, QK_PC, QK_MARKER, QK_COMPLETED,
		      QK_FAILED, QK_LIMITER, END },
};
#undef END

#define REDIS_MIN_MAJOR 6
#define REDIS_MIN_MINOR 2

int queue_check_server(const char *info, const char *host, int port,
		       struct err *e)
{
	const char *v = strstr(info, "redis_version:");
	int major = 0, minor = 0;

	if (!v || sscanf(v + 14, "%d.%d", &major, &minor) != 2)
		return 0;
	if (major > REDIS_MIN_MAJOR ||
	    (major == REDIS_MIN_MAJOR && minor >= REDIS_MIN_MINOR))
		return 0;
	return err_set(e, ERR_UNAVAILABLE,
		       "redis: %s:%d runs Redis %d.%d: safeurl-worker needs "
		       "Redis %d.%d or newer (RPOP with a count, GETDEL)", host,
		       port, major, minor, REDIS_MIN_MAJOR, REDIS_MIN_MINOR);
}

void queue_keys_init(struct queue_keys *k, const char *prefix,
		     const char *name)
{
	struct buf b = BUF_INIT;
	int i;

	buf_addf(&b, NULL, "%s:%s:", prefix, name);
	k->base = buf_detach(&b, NULL);
	for (i = 0; i < QK_COUNT; i++) {
		buf_addf(&b, NULL, "%s%s", k->base, key_suffix[i]);
		k->key[i] = buf_detach(&b, NULL);
	}
}

void queue_keys_release(struct queue_keys *k)
{
	int i;

	free(k->base);
	k->base = NULL;
	for (i = 0; i < QK_COUNT; i++) {
		free(k->key[i]);
		k->key[i] = NULL;
	}
}

void queue_argv_add(struct queue_argv *a, const char *s, size_t len)
{
	if (a->n == a->alloc) {
		a->alloc = a->alloc ? 2 * a->alloc : 32;
		a->argv = xrealloc(a->argv, a->alloc * sizeof(*a->argv));
		a->len = xrealloc(a->len, a->alloc * sizeof(*a->len));
	}
	a->argv[a->n] = xstrndup(s, len);
	a->len[a->n++] = len;
}

void queue_argv_addstr(struct queue_argv *a, const char *s)
{
	queue_argv_add(a, s, strlen(s));
}

void queue_argv_addll(struct queue_argv *a, long long v)
{
	char num[32];

	queue_argv_add(a, num, (size_t)snprintf(num, sizeof(num), "%lld", v));
}

void queue_argv_init(struct queue_argv *a, enum queue_script_id id,
		     const char *sha, const struct queue_keys *keys,
		     const enum queue_key *which)
{
	memset(a, 0, sizeof(*a));
	queue_argv_addstr(a, "EVALSHA");
	queue_argv_addstr(a, sha);
	queue_argv_addll(a, queue_scripts[id].nkeys);
	for (; *which != QK_COUNT; which++)
		queue_argv_addstr(a, keys->key[*which]);
}

void queue_argv_use_source(struct queue_argv *a, enum queue_script_id id)
{
	queue_free_const(a->argv[0]);
	queue_free_const(a->argv[1]);
	a->argv[0] = xstrdup("EVAL");
	a->len[0] = 4;
	a->argv[1] = xstrndup(queue_scripts[id].src, queue_scripts[id].len);
	a->len[1] = queue_scripts[id].len;
}

void queue_argv_release(struct queue_argv *a)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		queue_free_const(a->argv[i]);
	free(a->argv);
	free(a->len);
	memset(a, 0, sizeof(*a));
}

