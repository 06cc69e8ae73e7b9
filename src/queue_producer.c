/*
 * queue_producer.c - add jobs the way BullMQ's Queue.add stores them, over
 * one blocking hiredis connection (for `safeurl submit`).
 *
 * The "add" script is loaded once per connection and run by SHA; a
 * NOSCRIPT reply re-sends the call as EVAL. Consuming jobs is queue.c.
 */
#include "fmacros.h"

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <string.h>
#include <sys/time.h>

#include "clock.h"
#include "config.h"
#include "err.h"
#include "queue.h"
#include "queue_int.h"
#include "xalloc.h"
#include "banned.h"

struct queue_producer {
	redisContext *c;
	struct queue_keys keys;
	char sha[41];
};

static int producer_error(redisReply *reply, redisContext *c, struct err *e,
			  const char *what)
{
	if (reply && reply->type == REDIS_REPLY_ERROR)
		err_set(e, ERR_UNAVAILABLE, "redis: %s: %s", what, reply->str);
	else
		err_set(e, ERR_UNAVAILABLE, "redis: %s: %s", what,
			c->errstr[0] ? c->errstr : "unexpected reply");
	if (reply)
		freeReplyObject(reply);
	return -1;
}

static int producer_prepare(struct queue_producer *p, struct err *e)
{
	redisReply *r;

	r = redisCommand(p->c, "SCRIPT LOAD %b", queue_scripts[QS_ADD].src,
			 queue_scripts[QS_ADD].len);
	if (!r || r->type != REDIS_REPLY_STRING || r->len != 40)
		return producer_error(r, p->c, e, "SCRIPT LOAD failed");
	memcpy(p->sha, r->str, 41);
	freeReplyObject(r);
	return 0;
}

void queue_params_from_config(struct queue_params *qp,
			      const struct config *cfg)
{
	memset(qp, 0, sizeof(*qp));
	rconn_params_from_config(&qp->redis, cfg);
	/* Every queue key starts with the prefix: in a cluster its {hash
	 * tag} names the slot that serves the queue. */
	qp->redis.key = cfg->bullmq_prefix;
	qp->prefix = cfg->bullmq_prefix;
	qp->name = cfg->queue_name;
	qp->worker_name = cfg->worker_id;
	qp->limiter_max = cfg->worker_limiter_max;
	qp->limiter_ms = cfg->worker_limiter_duration_ms;
	qp->metrics_max_points = cfg->worker_metrics_max_points;
}

int queue_producer_open(struct queue_producer **out,
			const struct queue_params *params, struct err *e)
{
	struct queue_producer *p = xcalloc(1, sizeof(*p));

	if (rconn_connect(&p->c, &params->redis, 5000, NULL, e)) {
		/* a refused password is configuration: exit 78 */
		if (e->kind == ERR_NOT_ALLOWED)
			e->kind = ERR_INVALID;
		queue_producer_close(p);
		return -1;
	}
	queue_keys_init(&p->keys, params->prefix, params->name);
	if (producer_prepare(p, e)) {
		queue_producer_close(p);
		return -1;
	}
	*out = p;
	return 0;
}

void queue_producer_close(struct queue_producer *p)
{
	if (!p)
		return;
	if (p->c)
		redisFree(p->c);
	queue_keys_release(&p->keys);
	free(p);
}

static const char *const backoff_names[] = { NULL, "fixed", "exponential",
					     NULL };

/* The opts JSON BullMQ's Queue.add would store for these options. */
static char *add_opts_json(const struct queue_add *job)
{
	json_t *o = json_object();
	char *s;

	json_object_set_new(o, "attempts", json_integer(job->attempts));
	if (job->delay > 0)
		json_object_set_new(o, "delay", json_integer(job->delay));
	if (job->priority > 0)
		json_object_set_new(o, "priority", json_integer(job->priority));
	if (backoff_names[job->backoff])
		json_object_set_new(o, "backoff",
			json_pack("{s:s,s:I}", "type",
				  backoff_names[job->backoff], "delay",
				  (json_int_t)job->backoff_delay));
	if (job->job_id)
		json_object_set_new(o, "jobId", json_string(job->job_id));
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static void add_argv(struct queue_argv *a, const struct queue_add *job,
		     const struct queue_producer *p)
{
	char *opts = add_opts_json(job);

	queue_argv_init(a, QS_ADD, p->sha, &p->keys, queue_script_keys[QS_ADD]);
	queue_argv_addstr(a, p->keys.base);
	queue_argv_addstr(a, job->job_id ? job->job_id : "");
	queue_argv_addstr(a, job->name);
	queue_argv_addll(a, clock_wall_ms());
	queue_argv_addstr(a, job->data);
	queue_argv_addstr(a, opts ? opts : "{}");
	queue_argv_addll(a, job->delay > 0 ? job->delay : 0);
	queue_argv_addll(a, job->priority > 0 ? job->priority : 0);
	free(opts);
}

static redisReply *producer_call(struct queue_producer *p,
				 struct queue_argv *a)
{
	redisReply *r = redisCommandArgv(p->c, (int)a->n,
					 a->argv, a->len);

	if (r && r->type == REDIS_REPLY_ERROR &&
	    !strncmp(r->str, "NOSCRIPT", 8)) {
		freeReplyObject(r);
		queue_argv_use_source(a, QS_ADD);
		r = redisCommandArgv(p->c, (int)a->n, a->argv,
				     a->len);
	}
	return r;
}

int queue_add_job(struct queue_producer *p, const struct queue_add *job,
		  int *added, char **id_out, struct err *e)
{
	struct queue_argv a;
	redisReply *r;

	if (job->job_id && (!*job->job_id || strchr(job->job_id, ':')))
		return err_set(e, ERR_INVALID,
			       "queue: job id '%s': expected a non-empty id "
			       "without ':'", job->job_id);
	add_argv(&a, job, p);
	r = producer_call(p, &a);
	queue_argv_release(&a);
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_INTEGER)
		return producer_error(r, p->c, e, "adding a job failed");
	if (added)
		*added = r->element[1]->integer == 1;
	if (id_out)
		*id_out = xstrdup(r->element[0]->str);
	freeReplyObject(r);
	return 0;
}

/* Where a job waits its turn: lists (LPOS) and sorted sets (ZSCORE). */
static const struct {
	enum queue_key key;
	const char *cmd;
} pending_places[] = {
	{ QK_WAIT, "LPOS" },
	{ QK_ACTIVE, "LPOS" },
	{ QK_PRIORITIZED, "ZSCORE" },
	{ QK_DELAYED, "ZSCORE" },
};

#define NPLACES (sizeof(pending_places) / sizeof(pending_places[0]))

int queue_job_where(struct queue_producer *p, const char *id,
		    enum queue_job_place *out, struct err *e)
{
	redisReply *r = NULL;
	int exists = 0, pending = 0;
	size_t i;

	redisAppendCommand(p->c, "EXISTS %s%s", p->keys.base, id);
	for (i = 0; i < NPLACES; i++)
		redisAppendCommand(p->c, "%s %s %s", pending_places[i].cmd,
				   p->keys.key[pending_places[i].key], id);
	for (i = 0; i <= NPLACES; i++) {
		if (redisGetReply(p->c, (void **)&r) != REDIS_OK ||
		    r->type == REDIS_REPLY_ERROR)
			return producer_error(r, p->c, e, "job lookup failed");
		if (i == 0)
			exists = r->type == REDIS_REPLY_INTEGER && r->integer;
		else if (r->type != REDIS_REPLY_NIL)
			pending = 1;
		freeReplyObject(r);
	}
	*out = pending ? QUEUE_JOB_PENDING :
	       exists  ? QUEUE_JOB_FINISHED : QUEUE_JOB_GONE;
	return 0;
}

int queue_producer_ping(struct queue_producer *p, struct err *e)
{
	redisReply *r = redisCommand(p->c, "PING");

	if (!r || r->type == REDIS_REPLY_ERROR)
		return producer_error(r, p->c, e, "PING failed");
	freeReplyObject(r);
	return 0;
}
