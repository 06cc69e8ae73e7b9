/*
 * queue_admin.c - the operator's commands on a BullMQ queue over one
 * blocking hiredis connection: counts, one job's standing, Job.remove,
 * Job.retry, Queue.pause and Queue.resume.
 *
 * The three scripts that change the queue are written for this project
 * with BullMQ 6's semantics (its pause, reprocessJob and removeJob
 * commands). They live here rather than in src/queue_lua because they are
 * run once per CLI command, never by the worker, so they are sent with
 * EVAL and never loaded or cached.
 *
 * One difference from Queue.pause(): the marker is left set (BullMQ
 * deletes it), so that idle workers wake, find the queue paused, take
 * nothing and report the pause on their readiness probe at once.
 */
#include "fmacros.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "buf.h"
#include "err.h"
#include "queue.h"
#include "queue_admin.h"
#include "rconn.h"
#include "xalloc.h"
#include "banned.h"

struct queue_admin {
	redisContext *c;
	char *base; /* "<prefix>:<queue>:" */
};

/* Keys, by suffix after the base; a job's key is the base and its id. */
static const char *const remove_keys[] = { "wait", "prioritized", "delayed",
					   "events" };
static const char remove_lua[] =
	"local id, jk = ARGV[1], KEYS[1]\n"
	"if redis.call('EXISTS', jk) == 0 then return 0 end\n"
	"if redis.call('EXISTS', jk .. ':lock') == 1 then return 0 end\n"
	"local prev\n"
	"if redis.call('LREM', KEYS[2], 0, id) > 0 then prev = 'waiting'\n"
	"elseif redis.call('ZREM', KEYS[3], id) > 0 then prev = 'prioritized'\n"
	"elseif redis.call('ZREM', KEYS[4], id) > 0 then prev = 'delayed'\n"
	"else return 0 end\n"
	"redis.call('DEL', jk, jk .. ':logs', jk .. ':dependencies',\n"
	"  jk .. ':processed', jk .. ':failed', jk .. ':unsuccessful')\n"
	"redis.call('XADD', KEYS[5], '*', 'event', 'removed', 'jobId', id,\n"
	"  'prev', prev)\n"
	"return 1\n";

static const char *const retry_keys[] = { "failed", "completed", "wait",
					  "meta", "active", "marker",
					  "prioritized", "pc", "events" };
static const char retry_lua[] =
	"local id, jk = ARGV[1], KEYS[1]\n"
	"if redis.call('EXISTS', jk) == 0 then return -1 end\n"
	"local prev, prop = 'failed', 'failedReason'\n"
	"if redis.call('ZREM', KEYS[2], id) == 0 then\n"
	"  if redis.call('ZREM', KEYS[3], id) == 0 then return 0 end\n"
	"  prev, prop = 'completed', 'returnvalue'\n"
	"end\n"
	"redis.call('HDEL', jk, 'finishedOn', 'processedOn', prop, 'atm',\n"
	"  'ats')\n"
	"local paused = redis.call('HEXISTS', KEYS[5], 'paused') == 1\n"
	"local conc = tonumber(redis.call('HGET', KEYS[5], 'concurrency'))\n"
	"if conc and redis.call('LLEN', KEYS[6]) >= conc then paused = true end\n"
	"local prio = tonumber(redis.call('HGET', jk, 'priority')) or 0\n"
	"if prio == 0 then\n"
	"  local ok, o = pcall(cjson.decode, redis.call('HGET', jk, 'opts')\n"
	"    or '{}')\n"
	"  local push = (ok and type(o) == 'table' and o['lifo']) and 'RPUSH'\n"
	"    or 'LPUSH'\n"
	"  redis.call(push, KEYS[4], id)\n"
	"else\n"
	"  local pc = redis.call('INCR', KEYS[9])\n"
	"  redis.call('ZADD', KEYS[8], prio * 0x100000000 + pc % 0x100000000,\n"
	"    id)\n"
	"end\n"
	"if not paused then redis.call('ZADD', KEYS[7], 0, '0') end\n"
	"local max = tonumber(redis.call('HGET', KEYS[5], 'opts.maxLenEvents'))\n"
	"  or 10000\n"
	"redis.call('XADD', KEYS[10], 'MAXLEN', '~', max, '*', 'event',\n"
	"  'waiting', 'jobId', id, 'prev', prev)\n"
	"return 1\n";

static const char *const pause_keys[] = { "paused", "wait", "meta",
					  "prioritized", "events", "delayed",
					  "marker" };
static const char pause_lua[] =
	"if ARGV[1] == 'paused' then\n"
	"  redis.call('HSET', KEYS[3], 'paused', 1)\n"
	"  redis.call('DEL', KEYS[7])\n"
	"  redis.call('ZADD', KEYS[7], 0, '0')\n"
	"else\n"
	"  redis.call('HDEL', KEYS[3], 'paused')\n"
	"  if redis.call('EXISTS', KEYS[1]) == 1 then\n"
	"    if redis.call('EXISTS', KEYS[2]) == 0 then\n"
	"      redis.call('RENAME', KEYS[1], KEYS[2])\n"
	"    else\n"
	"      local jobs = redis.call('LRANGE', KEYS[1], 0, 6999)\n"
	"      redis.call('RPUSH', KEYS[2], unpack(jobs))\n"
	"      redis.call('LTRIM', KEYS[1], #jobs, -1)\n"
	"    end\n"
	"  end\n"
	"  if redis.call('LLEN', KEYS[2]) + redis.call('ZCARD', KEYS[4]) > 0\n"
	"  then\n"
	"    redis.call('ZADD', KEYS[7], 0, '0')\n"
	"  else\n"
	"    local first = redis.call('ZRANGE', KEYS[6], 0, 0, 'WITHSCORES')\n"
	"    if first[2] then\n"
	"      redis.call('ZADD', KEYS[7], math.floor(tonumber(first[2]) /\n"
	"        0x1000), '1')\n"
	"    end\n"
	"  end\n"
	"end\n"
	"redis.call('XADD', KEYS[5], '*', 'event', ARGV[1])\n"
	"return 1\n";

#define NKEYS(a) (sizeof(a) / sizeof(a[0]))

/* Fill e from a failed reply (freed here); -1. */
static int admin_error(struct queue_admin *qa, redisReply *r, struct err *e,
		       const char *what)
{
	if (r && r->type == REDIS_REPLY_ERROR)
		err_set(e, ERR_UNAVAILABLE, "redis: %s: %s", what, r->str);
	else
		err_set(e, ERR_UNAVAILABLE, "redis: %s: %s", what,
			qa->c->errstr[0] ? qa->c->errstr : "unexpected reply");
	if (r)
		freeReplyObject(r);
	return -1;
}

int queue_admin_open(struct queue_admin **out,
		     const struct queue_params *params, struct err *e)
{
	struct queue_admin *qa = xcalloc(1, sizeof(*qa));
	struct buf b = BUF_INIT;

	if (rconn_connect(&qa->c, &params->redis, 5000, NULL, e)) {
		queue_admin_close(qa);
		return -1;
	}
	buf_addf(&b, NULL, "%s:%s:", params->prefix, params->name);
	qa->base = buf_detach(&b, NULL);
	*out = qa;
	return 0;
}

void queue_admin_close(struct queue_admin *qa)
{
	if (!qa)
		return;
	if (qa->c)
		redisFree(qa->c);
	free(qa->base);
	free(qa);
}

/* The integer replies of n pipelined commands into vals. */
static int pipeline_ints(struct queue_admin *qa, long long *vals, size_t n,
			 struct err *e)
{
	redisReply *r;
	size_t i;

	for (i = 0; i < n; i++) {
		if (redisGetReply(qa->c, (void **)&r) != REDIS_OK)
			return admin_error(qa, NULL, e, "reading counts failed");
		if (r->type != REDIS_REPLY_INTEGER)
			return admin_error(qa, r, e, "reading counts failed");
		vals[i] = r->integer;
		freeReplyObject(r);
	}
	return 0;
}

int queue_admin_counts(struct queue_admin *qa, struct queue_admin_counts *c,
		       struct err *e)
{
	long long v[8];
	const char *b = qa->base;

	redisAppendCommand(qa->c, "LLEN %swait", b);
	redisAppendCommand(qa->c, "LLEN %spaused", b);
	redisAppendCommand(qa->c, "ZCARD %sprioritized", b);
	redisAppendCommand(qa->c, "LLEN %sactive", b);
	redisAppendCommand(qa->c, "ZCARD %sdelayed", b);
	redisAppendCommand(qa->c, "ZCARD %sfailed", b);
	redisAppendCommand(qa->c, "ZCARD %scompleted", b);
	redisAppendCommand(qa->c, "HEXISTS %smeta paused", b);
	if (pipeline_ints(qa, v, 8, e))
		return -1;
	c->waiting = v[0] + v[1];
	c->prioritized = v[2];
	c->active = v[3];
	c->delayed = v[4];
	c->failed = v[5];
	c->completed = v[6];
	c->paused = v[7] != 0;
	return 0;
}

void queue_admin_job_release(struct queue_admin_job *j)
{
	free(j->failed_reason);
	memset(j, 0, sizeof(*j));
	j->state = "unknown";
}

/* Where a job is: {command, key suffix, state name}, first match wins. */
static const struct {
	const char *cmd, *suffix, *state;
} places[] = {
	{ "ZSCORE", "completed", "completed" },
	{ "ZSCORE", "failed", "failed" },
	{ "ZSCORE", "delayed", "delayed" },
	{ "LPOS", "active", "active" },
	{ "LPOS", "wait", "waiting" },
	{ "LPOS", "paused", "waiting" },
	{ "ZSCORE", "prioritized", "prioritized" },
};

#define NPLACES (sizeof(places) / sizeof(places[0]))

int queue_admin_job(struct queue_admin *qa, const char *id,
		    struct queue_admin_job *j, struct err *e)
{
	redisReply *r;
	size_t i;
	int found = -1;

	memset(j, 0, sizeof(*j));
	j->state = "unknown";
	redisAppendCommand(qa->c, "HMGET %s%s atm ats failedReason", qa->base,
			   id);
	for (i = 0; i < NPLACES; i++)
		redisAppendCommand(qa->c, "%s %s%s %s", places[i].cmd, qa->base,
				   places[i].suffix, id);
	for (i = 0; i <= NPLACES; i++) {
		if (redisGetReply(qa->c, (void **)&r) != REDIS_OK)
			return admin_error(qa, NULL, e, "job lookup failed");
		if (r->type == REDIS_REPLY_ERROR)
			return admin_error(qa, r, e, "job lookup failed");
		if (i == 0 && r->type == REDIS_REPLY_ARRAY && r->elements == 3) {
			if (r->element[0]->type == REDIS_REPLY_STRING)
				j->attempts_made = strtoll(r->element[0]->str,
							   NULL, 10);
			if (r->element[1]->type == REDIS_REPLY_STRING)
				j->attempts_started = strtoll(
					r->element[1]->str, NULL, 10);
			if (r->element[2]->type == REDIS_REPLY_STRING)
				j->failed_reason = xstrdup(r->element[2]->str);
		} else if (i > 0 && found < 0 && r->type != REDIS_REPLY_NIL) {
			found = (int)i - 1;
		}
		freeReplyObject(r);
	}
	if (found >= 0)
		j->state = places[found].state;
	return 0;
}

/* EVAL src with the job's key and base+suffix keys, ARGV argv1 [argv2]. */
static int run_script(struct queue_admin *qa, const char *src,
		      const char *job_id, const char *const *suffixes,
		      size_t nsuffix, const char *arg, long long *out,
		      struct err *e)
{
	const char *argv[16];
	size_t len[16], n = 0, i;
	char nkeys[16];
	struct buf keys[12];
	redisReply *r;
	size_t nk = 0;

	argv[n++] = "EVAL";
	argv[n++] = src;
	snprintf(nkeys, sizeof(nkeys), "%zu", nsuffix + (job_id ? 1 : 0));
	argv[n++] = nkeys;
	if (job_id) {
		keys[nk] = (struct buf)BUF_INIT;
		buf_addf(&keys[nk], NULL, "%s%s", qa->base, job_id);
		argv[n++] = keys[nk++].data;
	}
	for (i = 0; i < nsuffix; i++) {
		keys[nk] = (struct buf)BUF_INIT;
		buf_addf(&keys[nk], NULL, "%s%s", qa->base, suffixes[i]);
		argv[n++] = keys[nk++].data;
	}
	argv[n++] = arg;
	for (i = 0; i < n; i++)
		len[i] = strlen(argv[i]);
	r = redisCommandArgv(qa->c, (int)n, argv, len);
	for (i = 0; i < nk; i++)
		buf_release(&keys[i]);
	if (!r || r->type != REDIS_REPLY_INTEGER)
		return admin_error(qa, r, e, "queue script failed");
	*out = r->integer;
	freeReplyObject(r);
	return 0;
}

int queue_admin_remove(struct queue_admin *qa, const char *id, int *removed,
		       struct err *e)
{
	long long v;

	if (run_script(qa, remove_lua, id, remove_keys, NKEYS(remove_keys),
		       id, &v, e))
		return -1;
	*removed = v == 1;
	return 0;
}

int queue_admin_retry(struct queue_admin *qa, const char *id, int *moved,
		      struct err *e)
{
	long long v;

	if (run_script(qa, retry_lua, id, retry_keys, NKEYS(retry_keys), id,
		       &v, e))
		return -1;
	*moved = (int)v;
	return 0;
}

int queue_admin_pause(struct queue_admin *qa, int pause, struct err *e)
{
	long long v;

	return run_script(qa, pause_lua, NULL, pause_keys, NKEYS(pause_keys),
			  pause ? "paused" : "resumed", &v, e);
}
