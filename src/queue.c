/*
 * queue.c - the BullMQ consumer over hiredis 0.14.
 *
 * The consumer holds two non-blocking connections: one for script calls,
 * one that only blocks in BZPOPMIN on the marker key (so a waiting worker
 * never delays a completion). hiredis is driven through a tiny adapter of
 * our own: its add/del read/write hooks only record which poll events a
 * connection wants; the caller's poll loop asks for them with
 * queue_pollfds() and hands the results back with queue_handle(). Each
 * connection reconnects by itself, with backoff, from queue_tick(); on
 * (re)connect the command connection loads the scripts (SCRIPT LOAD) and
 * is ready once every SHA is known. A NOSCRIPT reply (Redis restarted or
 * flushed its cache) re-sends that call once as EVAL with the source.
 *
 * What this file does not do: decide when to take, renew or check stalled
 * jobs (worker.c), interpret job payloads (the processors) or add jobs
 * (queue_producer.c).
 */
#include "fmacros.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "err.h"
#include "log.h"
#include "metrics.h"
#include "queue.h"
#include "queue_int.h"
#include "rconn.h"
#include "xalloc.h"
#include "banned.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define WAIT_MAX_MS 10000
#define WAIT_SLACK_MS 3000

enum conn_role { CONN_COMMAND, CONN_BLOCKING };

struct conn {
	struct queue *q;
	enum conn_role role;
	redisAsyncContext *ac;
	struct rconn_addr at; /* the node this connection talks to */
	short events;
	int ready;
	int was_up; /* reached ready since the last drop (for the log line) */
	int ever_up; /* reached ready once: a later ready is a reconnect */
	long long retry_at;
	long backoff_ms;
	int scripts_pending;
};

struct queue {
	struct queue_params p; /* strings point at the copies below */
	char *prefix, *name, *worker_name;
	struct queue_keys keys;
	struct conn cmd, blk;
	char sha[QS_COUNT][41];
	char *token_base;
	char *client_name; /* CLIENT SETNAME of the blocking connection */
	unsigned long long token_seq;
	unsigned generation;
	long long now_ms; /* monotonic: reconnection and wait timers */
	long long wait_deadline; /* 0: no BZPOPMIN outstanding */
	int closing;
	long long promoted_at;  /* last step that promoted delayed jobs */
	long long next_delayed; /* earliest delayed job seen, 0 none */
	long events_untrimmed;  /* events added since the last trim */
	struct err fatal;       /* set when the server cannot serve us */
};

/* Housekeeping a step does only now and then, to keep Redis's work per
 * job low: trimming the events stream once about TRIM_EVENTS events were
 * added (BullMQ trims on every finish; the stream is capped either way),
 * and promoting due delayed jobs at most every PROMOTE_MS unless one is
 * known to be due. */
#define TRIM_EVENTS 256
#define PROMOTE_MS 100

struct request {
	struct queue *q;
	enum queue_script_id id;
	struct queue_argv argv;
	int retried;
	void (*on_reply)(struct request *r, redisReply *reply, int ok);
	void *cb;
	void *arg;
	struct queue_outcome *outs;
	size_t nout;
	int take;
	long long now;
};

/* ---- the poll adapter ---- */

static void ev_add_read(void *d) { ((struct conn *)d)->events |= POLLIN; }
static void ev_del_read(void *d) { ((struct conn *)d)->events &= ~POLLIN; }
static void ev_add_write(void *d) { ((struct conn *)d)->events |= POLLOUT; }
static void ev_del_write(void *d) { ((struct conn *)d)->events &= ~POLLOUT; }

static const char *role_name(const struct conn *c)
{
	return c->role == CONN_COMMAND ? "command" : "blocking";
}

/* hiredis frees the context after this: forget it, plan a reconnect. */
static void ev_cleanup(void *d)
{
	struct conn *c = d;

	c->ac = NULL;
	c->events = 0;
	c->ready = 0;
	c->retry_at = c->q->now_ms + c->backoff_ms;
	if (c->was_up && !c->q->closing)
		log_event(LOG_WARN, NULL, "reconnect",
			  "redis %s connection lost, reconnecting in %ld ms",
			  role_name(c), c->backoff_ms);
	c->was_up = 0;
	c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
							   : c->backoff_ms * 2;
	if (c->role == CONN_BLOCKING)
		c->q->wait_deadline = 0;
}

static void mark_up(struct conn *c)
{
	if (c->ever_up)
		metrics_count(metrics_default(), METRICS_REDIS_RECONNECT);
	c->ever_up = 1;
	c->ready = 1;
	c->was_up = 1;
	c->backoff_ms = BACKOFF_MIN_MS;
	log_event(LOG_INFO, NULL, "connect", "redis %s connection ready",
		  role_name(c));
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct conn *c = ac->ev.data;

	/* With Sentinel or Cluster the blocking connection is up once ROLE
	 * said master (on_role). */
	if (status == REDIS_OK && c->role == CONN_BLOCKING &&
	    c->q->p.redis.mode == RCONN_DIRECT)
		mark_up(c);
	else if (status != REDIS_OK)
		log_event(LOG_WARN, NULL, "reconnect",
			  "redis %s connection to %s:%d failed: %s",
			  role_name(c), c->at.host, c->at.port,
			  ac->errstr[0] ? ac->errstr : "error");
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	(void)ac;
	(void)status;
}

/* A refused password is configuration: the worker stops (exit 78). */
static void on_auth(redisAsyncContext *ac, void *r, void *priv)
{
	struct conn *c = ac->ev.data;
	redisReply *reply = r;

	(void)priv;
	if (reply && reply->type == REDIS_REPLY_ERROR) {
		if (rconn_auth_refused(reply->str))
			rconn_refusal(&c->q->p.redis, &c->at, reply->str,
				      &c->q->fatal);
		log_event(LOG_ERROR, NULL, "reconnect",
			  "redis rejected the password: %s", reply->str);
		redisAsyncDisconnect(ac);
	}
}

/* Sentinel and Cluster: a node that is not (or no longer) a master is
 * dropped; the next attempt asks where the master is now. */
static void on_role(redisAsyncContext *ac, void *r, void *priv)
{
	struct conn *c = ac->ev.data;
	redisReply *reply = r;

	(void)priv;
	if (!reply)
		return;
	if (reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 &&
	    reply->element[0]->type == REDIS_REPLY_STRING &&
	    rconn_role_is_master(reply->element[0]->str)) {
		if (c->role == CONN_BLOCKING)
			mark_up(c);
		return;
	}
	log_event(LOG_WARN, NULL, "reconnect",
		  "redis %s:%d is not a master (%s), locating the master again",
		  c->at.host, c->at.port,
		  reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 &&
		  reply->element[0]->type == REDIS_REPLY_STRING
			  ? reply->element[0]->str : "no role");
	redisAsyncDisconnect(ac);
}

static void on_script_loaded(redisAsyncContext *ac, void *r, void *priv)
{
	struct conn *c = ac->ev.data;
	redisReply *reply = r;
	size_t id = (size_t)(unsigned long)priv;

	if (!reply)
		return;
	if (reply->type != REDIS_REPLY_STRING || reply->len != 40) {
		log_event(LOG_ERROR, NULL, "reconnect",
			  "redis refused script '%s': %s",
			  queue_scripts[id].name,
			  reply->type == REDIS_REPLY_ERROR ? reply->str : "?");
		redisAsyncDisconnect(ac);
		return;
	}
	memcpy(c->q->sha[id], reply->str, 40);
	c->q->sha[id][40] = '\0';
	if (--c->scripts_pending == 0) {
		c->q->generation++;
		mark_up(c);
	}
}

static void on_info(redisAsyncContext *ac, void *r, void *priv)
{
	struct conn *c = ac->ev.data;
	redisReply *reply = r;

	(void)priv;
	if (!reply || reply->type != REDIS_REPLY_STRING)
		return; /* lost, or INFO refused (ACL): the scripts decide */
	if (!queue_check_server(reply->str, c->at.host, c->at.port,
				&c->q->fatal))
		return;
	log_event(LOG_ERROR, NULL, "connect", "%s", c->q->fatal.msg);
	redisAsyncDisconnect(ac);
}

/* A server that refuses CLIENT (some managed services) costs only the
 * listing in Queue.getWorkers(), as it does for BullMQ's own workers. */
static void on_setname(redisAsyncContext *ac, void *r, void *priv)
{
	redisReply *reply = r;

	(void)ac;
	(void)priv;
	if (reply && reply->type == REDIS_REPLY_ERROR)
		log_event(LOG_WARN, NULL, "connect",
			  "redis refused CLIENT SETNAME (Queue.getWorkers() "
			  "will not list this worker): %s", reply->str);
}

static void load_scripts(struct conn *c)
{
	size_t i;

	c->scripts_pending = QS_COUNT;
	for (i = 0; i < QS_COUNT; i++) {
		const char *argv[3] = { "SCRIPT", "LOAD", queue_scripts[i].src };
		size_t len[3] = { 6, 4, queue_scripts[i].len };

		redisAsyncCommandArgv(c->ac, on_script_loaded,
				      (void *)(unsigned long)i, 3, argv, len);
	}
}

static void conn_backoff(struct conn *c)
{
	c->retry_at = c->q->now_ms + c->backoff_ms;
	c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
							   : c->backoff_ms * 2;
}

static void conn_open(struct conn *c)
{
	redisAsyncContext *ac;
	struct err e = ERR_INIT;
	const char *argv[3];
	size_t len[3];
	int argc;

	/* Where the master is now (blocking, short timeouts per node asked:
	 * only while this connection is down). */
	if (rconn_locate(&c->q->p.redis, &c->at, &e)) {
		if (e.kind == ERR_INVALID) {
			c->q->fatal = e;
			return;
		}
		log_event(LOG_WARN, NULL, "reconnect",
			  "redis %s connection: %s; retrying in %ld ms",
			  role_name(c), e.msg, c->backoff_ms);
		conn_backoff(c);
		return;
	}
	if (c->q->p.redis.mode != RCONN_DIRECT)
		log_event(LOG_INFO, NULL, "connect",
			  "redis %s connection: the master is at %s:%d",
			  role_name(c), c->at.host, c->at.port);
	ac = rconn_async_connect(&c->q->p.redis, &c->at, &e);
	if (!ac && e.kind == ERR_INVALID) { /* TLS refused: configuration */
		c->q->fatal = e;
		log_event(LOG_ERROR, NULL, "connect", "%s", e.msg);
		return;
	}
	if (!ac && e.kind != ERR_NONE) {
		log_event(LOG_WARN, NULL, "reconnect",
			  "redis %s connection: %s; retrying in %ld ms",
			  role_name(c), e.msg, c->backoff_ms);
		conn_backoff(c);
		return;
	}
	if (!ac || ac->err) {
		log_event(LOG_WARN, NULL, "reconnect",
			  "redis %s connection to %s:%d failed: %s",
			  role_name(c), c->at.host, c->at.port,
			  ac ? ac->errstr : "out of memory");
		if (ac)
			redisAsyncFree(ac);
		conn_backoff(c);
		return;
	}
	c->ac = ac;
	c->events = POLLOUT;
	ac->ev.data = c;
	ac->ev.addRead = ev_add_read;
	ac->ev.delRead = ev_del_read;
	ac->ev.addWrite = ev_add_write;
	ac->ev.delWrite = ev_del_write;
	ac->ev.cleanup = ev_cleanup;
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	if ((argc = rconn_auth_argv(&c->q->p.redis, argv, len)) > 0)
		redisAsyncCommandArgv(ac, on_auth, NULL, argc, argv, len);
	if (c->q->p.redis.mode != RCONN_DIRECT)
		redisAsyncCommand(ac, on_role, NULL, "ROLE");
	if (c->role == CONN_BLOCKING)
		redisAsyncCommand(ac, on_setname, NULL, "CLIENT SETNAME %s",
				  c->q->client_name);
	if (c->role == CONN_COMMAND) {
		redisAsyncCommand(ac, on_info, NULL, "INFO server");
		load_scripts(c);
	}
}

/* ---- consumer lifecycle ---- */

static char *random_hex(void)
{
	unsigned char raw[8] = { 0 };
	char hex[17];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC), i;
	unsigned long long mix = (unsigned long long)clock_wall_ms() ^
				 ((unsigned long long)getpid() << 32);

	if (fd < 0 || read(fd, raw, sizeof(raw)) != (ssize_t)sizeof(raw))
		memcpy(raw, &mix, sizeof(raw));
	if (fd >= 0)
		close(fd);
	for (i = 0; i < 8; i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	return xstrdup(hex);
}

static void add_base64(struct buf *b, const char *s)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "abcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i;

	for (i = 0; i + 2 < n; i += 3) {
		unsigned long v = (unsigned long)p[i] << 16 |
				  (unsigned long)p[i + 1] << 8 | p[i + 2];
		char out[4] = { abc[v >> 18 & 63], abc[v >> 12 & 63],
				abc[v >> 6 & 63], abc[v & 63] };

		buf_add(b, out, 4, NULL);
	}
	if (n - i == 1) {
		unsigned long v = (unsigned long)p[i] << 16;
		char out[4] = { abc[v >> 18 & 63], abc[v >> 12 & 63], '=', '=' };

		buf_add(b, out, 4, NULL);
	} else if (n - i == 2) {
		unsigned long v = (unsigned long)p[i] << 16 |
				  (unsigned long)p[i + 1] << 8;
		char out[4] = { abc[v >> 18 & 63], abc[v >> 12 & 63],
				abc[v >> 6 & 63], '=' };

		buf_add(b, out, 4, NULL);
	}
}

void queue_client_name(struct buf *out, const char *prefix, const char *queue,
		       const char *worker)
{
	buf_addf(out, NULL, "%s:", prefix);
	add_base64(out, queue);
	buf_addf(out, NULL, ":w:%s", worker);
}

struct queue *queue_new(const struct queue_params *params)
{
	struct queue *q = xcalloc(1, sizeof(*q));
	struct buf b = BUF_INIT;

	q->p = *params;
	rconn_params_copy(&q->p.redis, &params->redis);
	q->p.prefix = q->prefix = xstrdup(params->prefix);
	q->p.name = q->name = xstrdup(params->name);
	q->p.worker_name = q->worker_name = xstrdup(params->worker_name);
	queue_keys_init(&q->keys, params->prefix, params->name);
	q->token_base = random_hex();
	buf_addf(&b, NULL, "%s:%s", params->worker_name, q->token_base);
	free(q->token_base);
	q->token_base = buf_detach(&b, NULL);
	queue_client_name(&b, params->prefix, params->name,
			  params->worker_name);
	q->client_name = buf_detach(&b, NULL);
	q->cmd.q = q->blk.q = q;
	q->cmd.role = CONN_COMMAND;
	q->blk.role = CONN_BLOCKING;
	q->cmd.backoff_ms = q->blk.backoff_ms = BACKOFF_MIN_MS;
	return q;
}

void queue_free(struct queue *q)
{
	if (!q)
		return;
	q->closing = 1;
	if (q->cmd.ac)
		redisAsyncFree(q->cmd.ac);
	if (q->blk.ac)
		redisAsyncFree(q->blk.ac);
	queue_keys_release(&q->keys);
	rconn_params_release(&q->p.redis);
	free(q->prefix);
	free(q->name);
	free(q->worker_name);
	free(q->token_base);
	free(q->client_name);
	free(q);
}

int queue_pollfds(struct queue *q, struct pollfd *pfd, int max)
{
	struct conn *conns[2] = { &q->cmd, &q->blk };
	int i, n = 0;

	for (i = 0; i < 2 && n < max; i++) {
		if (!conns[i]->ac)
			continue;
		pfd[n].fd = conns[i]->ac->c.fd;
		pfd[n].events = conns[i]->events;
		pfd[n].revents = 0;
		n++;
	}
	return n;
}

static void conn_handle(struct conn *c, short revents)
{
	if (c->ac && (revents & (POLLIN | POLLHUP | POLLERR)))
		redisAsyncHandleRead(c->ac);
	if (c->ac && (revents & (POLLOUT | POLLERR)))
		redisAsyncHandleWrite(c->ac);
}

void queue_handle(struct queue *q, const struct pollfd *pfd, int n)
{
	int i;

	q->now_ms = clock_mono_ms();
	for (i = 0; i < n; i++) {
		if (!pfd[i].revents)
			continue;
		if (q->cmd.ac && pfd[i].fd == q->cmd.ac->c.fd)
			conn_handle(&q->cmd, pfd[i].revents);
		else if (q->blk.ac && pfd[i].fd == q->blk.ac->c.fd)
			conn_handle(&q->blk, pfd[i].revents);
	}
}

static long conn_tick(struct conn *c, long long now)
{
	if (c->ac)
		return WAIT_MAX_MS;
	if (now < c->retry_at)
		return (long)(c->retry_at - now);
	conn_open(c);
	return c->ac ? WAIT_MAX_MS : c->backoff_ms;
}

long queue_tick(struct queue *q, long long now_ms)
{
	long a, b;

	(void)now_ms;
	q->now_ms = clock_mono_ms();
	if (q->wait_deadline && q->now_ms > q->wait_deadline && q->blk.ac) {
		log_event(LOG_WARN, NULL, "reconnect",
			  "redis BZPOPMIN overran its timeout, reconnecting");
		q->wait_deadline = 0;
		redisAsyncDisconnect(q->blk.ac);
	}
	a = conn_tick(&q->cmd, q->now_ms);
	b = conn_tick(&q->blk, q->now_ms);
	return a < b ? a : b;
}

int queue_failed(const struct queue *q, struct err *e)
{
	if (q->fatal.kind == ERR_NONE)
		return 0;
	if (e)
		*e = q->fatal;
	return -1;
}

int queue_ready(const struct queue *q)
{
	return q->cmd.ac && q->cmd.ready;
}

unsigned queue_generation(const struct queue *q)
{
	return q->generation;
}

/* ---- script calls ---- */

static void on_script_reply(redisAsyncContext *ac, void *r, void *priv);

static int request_send(struct request *req)
{
	struct conn *c = &req->q->cmd;

	if (!c->ac || !c->ready)
		return -1;
	if (redisAsyncCommandArgv(c->ac, on_script_reply, req,
				  (int)req->argv.n,
				  req->argv.argv,
				  req->argv.len) != REDIS_OK)
		return -1;
	/* Write now rather than after another poll round (saves a wakeup
	 * per call; what does not fit stays buffered for POLLOUT). */
	if (c->ac->c.flags & REDIS_CONNECTED)
		redisAsyncHandleWrite(c->ac);
	return 0;
}

static void request_free(struct request *req)
{
	queue_argv_release(&req->argv);
	free(req);
}

static void on_script_reply(redisAsyncContext *ac, void *r, void *priv)
{
	struct request *req = priv;
	redisReply *reply = r;
	int ok = 1;

	(void)ac;
	if (reply && reply->type == REDIS_REPLY_ERROR &&
	    !strncmp(reply->str, "NOSCRIPT", 8) && !req->retried) {
		req->retried = 1;
		queue_argv_use_source(&req->argv, req->id);
		if (!request_send(req))
			return;
		reply = NULL;
	}
	if (reply && reply->type == REDIS_REPLY_ERROR &&
	    rconn_redirected(reply->str)) {
		/* A demoted master (READONLY), a moved slot: the call did
		 * not run; drop the connection and find the master again. */
		log_event(LOG_WARN, NULL, "reconnect",
			  "redis %s:%d no longer serves the queue (%s), "
			  "locating the master again", req->q->cmd.at.host,
			  req->q->cmd.at.port, reply->str);
		if (req->q->cmd.ac)
			redisAsyncDisconnect(req->q->cmd.ac);
		reply = NULL;
	}
	if (!reply) {
		req->q->cmd.ready = 0;
		ok = 0;
	} else if (reply->type == REDIS_REPLY_ERROR) {
		log_event(LOG_ERROR, NULL, "queue", "script '%s' failed: %s",
			  queue_scripts[req->id].name, reply->str);
		ok = -1;
	}
	req->q->now_ms = clock_mono_ms();
	req->on_reply(req, reply, ok);
	request_free(req);
}

static struct request *request_new(struct queue *q, enum queue_script_id id)
{
	struct request *req = xcalloc(1, sizeof(*req));

	req->q = q;
	req->id = id;
	req->now = clock_wall_ms();
	queue_argv_init(&req->argv, id, q->sha[id], &q->keys,
			queue_script_keys[id]);
	return req;
}

static int request_start(struct request *req)
{
	if (request_send(req)) {
		request_free(req);
		return -1;
	}
	return 0;
}

/* ---- step: settle outcomes, take jobs ---- */

static const char op_code[] = { 'c', 'f', 'd', 'w', 'r', 'y' };

static void add_outcome(struct queue_argv *a, const struct queue_outcome *o)
{
	const struct queue_job *job = o->job;
	const struct queue_keep *keep = o->op == QUEUE_COMPLETE
						? &job->keep_completed
						: &job->keep_failed;

	queue_argv_addstr(a, job->id);
	queue_argv_addstr(a, job->token ? job->token : "");
	queue_argv_add(a, &op_code[o->op], 1);
	queue_argv_addstr(a, o->value ? o->value : "");
	queue_argv_addstr(a, o->stacktrace ? o->stacktrace : "[]");
	queue_argv_addll(a, keep->count);
	if (keep->age_s >= 0)
		queue_argv_addll(a, keep->age_s);
	else
		queue_argv_addstr(a, "");
	queue_argv_addll(a, job->attempts);
	queue_argv_addll(a, o->delay_ms);
	queue_argv_addll(a, job->attempts_made +
			 (o->op != QUEUE_RELEASE && o->op != QUEUE_DEFER));
	queue_argv_addstr(a, job->lifo ? "1" : "");
	queue_argv_addstr(a, job->dedup_id ? job->dedup_id : "");
	queue_argv_addstr(a, job->parent_key ? job->parent_key : "");
	queue_argv_addstr(a, job->parent ? job->parent : "");
}

static void add_step_flags(struct queue *q, struct queue_argv *a,
			   size_t nout, int take, long long now)
{
	char flags[3];
	int n = 0;

	q->events_untrimmed += 2 * (long)nout + take;
	if (q->events_untrimmed >= TRIM_EVENTS || !q->promoted_at) {
		flags[n++] = 't';
		q->events_untrimmed = 0;
	}
	if (now - q->promoted_at >= PROMOTE_MS ||
	    (q->next_delayed && q->next_delayed <= now)) {
		flags[n++] = 'p';
		q->promoted_at = now;
	}
	queue_argv_add(a, flags, (size_t)n);
}

static int reply_int(const redisReply *r, long long *out)
{
	if (!r || r->type != REDIS_REPLY_INTEGER)
		return -1;
	*out = r->integer;
	return 0;
}

static void job_from_reply(struct queue *q, struct queue_job *job,
			   const redisReply *id, const redisReply *fields,
			   long long now)
{
	const char **f = xcalloc(fields->elements + 1, sizeof(*f));
	size_t *len = xcalloc(fields->elements + 1, sizeof(*len));
	struct buf tok = BUF_INIT;
	size_t i;

	for (i = 0; i < fields->elements; i++) {
		const redisReply *e = fields->element[i];

		f[i] = e->type == REDIS_REPLY_STRING ? e->str : "";
		len[i] = e->type == REDIS_REPLY_STRING ? e->len : 0;
	}
	queue_job_init(job);
	queue_job_parse(job, id->str, f, len, fields->elements);
	job->attempts_started++;
	job->processed_on = now;
	buf_addf(&tok, NULL, "%s:%llu", q->token_base, q->token_seq++);
	job->token = buf_detach(&tok, NULL);
	free(f);
	free(len);
}

static int parse_step(struct request *req, const redisReply *r,
		      struct queue_job **jobs, size_t *njobs,
		      long long *next, int *paused, long long *limit)
{
	const redisReply *codes;
	long long p = 0;
	size_t i;

	if (r->type != REDIS_REPLY_ARRAY || r->elements < 4 ||
	    r->element[0]->type != REDIS_REPLY_ARRAY ||
	    r->element[0]->elements != req->nout ||
	    reply_int(r->element[1], next) || reply_int(r->element[2], &p) ||
	    reply_int(r->element[3], limit))
		return -1;
	*paused = (int)p;
	codes = r->element[0];
	for (i = 0; i < req->nout; i++)
		if (reply_int(codes->element[i], &p) == 0)
			req->outs[i].code = (int)p;
	*njobs = (r->elements - 4) / 2;
	*jobs = xcalloc(*njobs + 1, sizeof(**jobs));
	for (i = 0; i < *njobs; i++) {
		const redisReply *id = r->element[4 + 2 * i];
		const redisReply *fields = r->element[5 + 2 * i];

		if (id->type != REDIS_REPLY_STRING ||
		    fields->type != REDIS_REPLY_ARRAY) {
			*njobs = i;
			return -1;
		}
		job_from_reply(req->q, &(*jobs)[i], id, fields, req->now);
	}
	return 0;
}

static void step_reply(struct request *req, redisReply *reply, int ok)
{
	queue_step_cb *cb = (queue_step_cb *)req->cb;
	struct queue_job *jobs = NULL;
	size_t njobs = 0;
	long long next = 0, limit = 0;
	int paused = 0;

	if (ok == 1 &&
	    parse_step(req, reply, &jobs, &njobs, &next, &paused, &limit)) {
		log_event(LOG_ERROR, NULL, "queue", "unexpected reply to step");
		ok = -1;
	}
	if (ok == 1)
		req->q->next_delayed = next;
	cb(req->arg, req->outs, req->nout, jobs, njobs, next, paused, limit,
	   ok);
}

int queue_step(struct queue *q, struct queue_outcome *outs, size_t nout,
	       int take, queue_step_cb *cb, void *arg)
{
	struct request *req;
	size_t i;

	if (!queue_ready(q))
		return -1;
	req = request_new(q, QS_STEP);
	req->on_reply = step_reply;
	req->cb = (void *)cb;
	req->arg = arg;
	req->outs = outs;
	req->nout = nout;
	queue_argv_addstr(&req->argv, q->keys.base);
	queue_argv_addll(&req->argv, req->now);
	queue_argv_addstr(&req->argv, q->p.worker_name);
	queue_argv_addll(&req->argv, q->p.lock_ms);
	queue_argv_addstr(&req->argv, q->token_base);
	queue_argv_addll(&req->argv, (long long)q->token_seq);
	queue_argv_addll(&req->argv, take);
	queue_argv_addll(&req->argv, (long long)nout);
	add_step_flags(q, &req->argv, nout, take, req->now);
	if (q->p.limiter_max > 0) {
		queue_argv_addll(&req->argv, q->p.limiter_max);
		queue_argv_addll(&req->argv, q->p.limiter_ms);
	} else {
		queue_argv_addstr(&req->argv, "");
		queue_argv_addstr(&req->argv, "");
	}
	if (q->p.metrics_max_points > 0)
		queue_argv_addll(&req->argv, q->p.metrics_max_points);
	else
		queue_argv_addstr(&req->argv, "");
	for (i = 0; i < nout; i++) {
		outs[i].code = 0;
		add_outcome(&req->argv, &outs[i]);
	}
	return request_start(req);
}

/* ---- renew and stalled: both answer with a list of ids ---- */

void queue_ids_free(char **ids, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

static void ids_reply(struct request *req, redisReply *reply, int ok)
{
	queue_ids_cb *cb = (queue_ids_cb *)req->cb;
	char **ids = NULL;
	size_t i, n = 0;

	if (ok == 1 && reply->type == REDIS_REPLY_ARRAY) {
		ids = xcalloc(reply->elements + 1, sizeof(*ids));
		for (i = 0; i < reply->elements; i++)
			if (reply->element[i]->type == REDIS_REPLY_STRING)
				ids[n++] = xstrdup(reply->element[i]->str);
	} else if (ok == 1) {
		ok = -1;
	}
	cb(req->arg, ids, n, ok == 1);
}

static struct request *ids_request(struct queue *q, enum queue_script_id id,
				   queue_ids_cb *cb, void *arg)
{
	struct request *req = request_new(q, id);

	req->on_reply = ids_reply;
	req->cb = (void *)cb;
	req->arg = arg;
	return req;
}

int queue_renew(struct queue *q, struct queue_job *const *jobs, size_t n,
		queue_ids_cb *cb, void *arg)
{
	struct request *req;
	size_t i;

	if (!queue_ready(q))
		return -1;
	req = ids_request(q, QS_RENEW, cb, arg);
	queue_argv_addstr(&req->argv, q->keys.base);
	queue_argv_addll(&req->argv, q->p.lock_ms);
	for (i = 0; i < n; i++) {
		queue_argv_addstr(&req->argv, jobs[i]->id);
		queue_argv_addstr(&req->argv, jobs[i]->token);
	}
	return request_start(req);
}

static void progress_reply(struct request *req, redisReply *reply, int ok)
{
	(void)req;
	(void)reply;
	(void)ok; /* a lost update is not an outcome; errors are logged */
}

int queue_progress(struct queue *q, const char *id, const char *progress,
		   const char *log, long keep_logs)
{
	struct request *req;

	if (!queue_ready(q))
		return -1;
	req = request_new(q, QS_PROGRESS);
	req->on_reply = progress_reply;
	queue_argv_addstr(&req->argv, q->keys.base);
	queue_argv_addstr(&req->argv, id);
	queue_argv_addstr(&req->argv, progress ? progress : "");
	queue_argv_addstr(&req->argv, log ? log : "");
	if (keep_logs >= 0)
		queue_argv_addll(&req->argv, keep_logs);
	else
		queue_argv_addstr(&req->argv, "");
	return request_start(req);
}

int queue_check_stalled(struct queue *q, queue_ids_cb *cb, void *arg)
{
	struct request *req;

	if (!queue_ready(q))
		return -1;
	req = ids_request(q, QS_STALLED, cb, arg);
	queue_argv_addll(&req->argv, q->p.max_stalled);
	queue_argv_addstr(&req->argv, q->keys.base);
	queue_argv_addll(&req->argv, req->now);
	queue_argv_addll(&req->argv, q->p.stalled_ms);
	return request_start(req);
}

/* ---- waiting on the marker ---- */

struct waiter {
	struct queue *q;
	queue_wait_cb *cb;
	void *arg;
};

static void on_bzpopmin(redisAsyncContext *ac, void *r, void *priv)
{
	struct waiter *w = priv;
	redisReply *reply = r;

	if (reply && reply->type == REDIS_REPLY_ERROR &&
	    rconn_redirected(reply->str)) {
		log_event(LOG_WARN, NULL, "reconnect",
			  "redis %s:%d no longer serves the queue (%s), "
			  "locating the master again", w->q->blk.at.host,
			  w->q->blk.at.port, reply->str);
		redisAsyncDisconnect(ac);
	}
	w->q->wait_deadline = 0;
	w->q->now_ms = clock_mono_ms();
	w->cb(w->arg, reply && reply->type == REDIS_REPLY_ARRAY);
	free(w);
}

int queue_wait(struct queue *q, long timeout_ms, queue_wait_cb *cb, void *arg)
{
	struct waiter *w;
	char secs[32];

	if (!q->blk.ac || !q->blk.ready || q->wait_deadline)
		return -1;
	if (timeout_ms > WAIT_MAX_MS)
		timeout_ms = WAIT_MAX_MS;
	if (timeout_ms < 10)
		timeout_ms = 10;
	snprintf(secs, sizeof(secs), "%.2f", (double)timeout_ms / 1000.0);
	w = xcalloc(1, sizeof(*w));
	w->q = q;
	w->cb = cb;
	w->arg = arg;
	if (redisAsyncCommand(q->blk.ac, on_bzpopmin, w, "BZPOPMIN %s %s",
			      q->keys.key[QK_MARKER], secs) != REDIS_OK) {
		free(w);
		return -1;
	}
	q->wait_deadline = clock_mono_ms() + timeout_ms + WAIT_SLACK_MS;
	return 0;
}

int queue_waiting(const struct queue *q)
{
	return q->wait_deadline != 0;
}
