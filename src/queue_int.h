/*
 * queue_int.h - declarations shared by queue.c, queue_scripts.c and the
 * generated script table; not for other modules.
 */
#ifndef SAFEURL_QUEUE_INT_H
#define SAFEURL_QUEUE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

struct err;

/* The embedded scripts, in file-name order (the generated table's order). */
enum queue_script_id {
	QS_ADD, QS_PROGRESS, QS_RENEW, QS_STALLED, QS_STEP, QS_COUNT
};

struct queue_script {
	const char *name;
	int nkeys;
	const char *src;
	size_t len;
};

/* Generated from the .lua files in src/queue_lua (cmake/embed_lua.cmake). */
extern const struct queue_script queue_scripts[QS_COUNT];

/* The queue keys the scripts take, "<prefix>:<queue>:<suffix>". */
enum queue_key {
	QK_WAIT, QK_ACTIVE, QK_PRIORITIZED, QK_EVENTS, QK_STALLED, QK_DELAYED,
	QK_META, QK_PC, QK_MARKER, QK_COMPLETED, QK_FAILED, QK_STALLED_CHECK,
	QK_ID, QK_LIMITER, QK_COUNT
};

/* Key names and the "<prefix>:<queue>:" base, built once. */
struct queue_keys {
	char *base;
	char *key[QK_COUNT];
};

void queue_keys_init(struct queue_keys *k, const char *prefix,
		     const char *name);
void queue_keys_release(struct queue_keys *k);

/*
 * Argument vector for one script call: "EVALSHA", sha, nkeys, keys...,
 * args... Strings are copied into the vector.
 */
struct queue_argv {
	const char **argv; /* each entry owned (freed by queue_argv_release) */
	size_t *len;
	size_t n, alloc;
};

void queue_argv_init(struct queue_argv *a, enum queue_script_id id,
		     const char *sha, const struct queue_keys *keys,
		     const enum queue_key *which);
void queue_argv_add(struct queue_argv *a, const char *s, size_t len);
void queue_argv_addstr(struct queue_argv *a, const char *s);
void queue_argv_addll(struct queue_argv *a, long long v);
/* Switch an EVALSHA vector to EVAL with the script source (NOSCRIPT). */
void queue_argv_use_source(struct queue_argv *a, enum queue_script_id id);
void queue_argv_release(struct queue_argv *a);

/* Free a string the vector owns (its entries are stored const). */
static inline void queue_free_const(const char *s)
{
	free((void *)(uintptr_t)s);
}

/*
 * Pure: does the server whose INFO text is info (borrowed) run Redis 6.2
 * or newer (the scripts use RPOP with a count and GETDEL)? 0 yes or
 * unknown (no version line), -1 with e naming the version needed.
 */
int queue_check_server(const char *info, const char *host, int port,
		       struct err *e);

/* The key lists each script takes, in the order its KEYS line gives. */
extern const enum queue_key queue_script_keys[QS_COUNT][13];

#endif
