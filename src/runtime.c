/*
 * runtime.c - container lifecycle over the Engine API: open, run, sweep.
 *
 * A run, in order (each step one HTTP request on its own handle):
 *
 *   create -> attach + wait(next-exit) -> start -> [runs] -> inspect -> remove
 *                                                    (only on exit != 0)
 *
 * Output is captured by attaching before start, not by reading logs after
 * exit: the frames arrive while the container runs, so the stdout cap is
 * enforced the moment it is passed (the container is killed at once rather
 * than filling a disk until the deadline), nothing goes through the
 * engine's log driver (LogConfig none: no disk write per line, no extra
 * request after exit), and no output is lost because the attach is in
 * place before start (as `docker run` does). The wait with condition
 * next-exit is also registered before start, so the exit code cannot be
 * missed; attach, wait and start share one curl multi handle, driven until
 * the container exits, the deadline passes or the run is cancelled.
 * Removal (force: kills a live container) follows every outcome. Two
 * lines are logged per run: container_start and container_exit.
 */
#include "fmacros.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "runtime.h"
#include "runtime_int.h"
#include "runtime_stream.h"
#include "xalloc.h"
#include "banned.h"

#define RT_DEFAULT_TIMEOUT_MS 30000
#define RT_OOM_RECHECKS 5      /* looks for a late OOM event after SIGKILL */
#define RT_OOM_RECHECK_MS 50
#define RT_CLOCK_SKEW_S 60     /* events since: run start minus this */
#define RT_BUILD_HINT "build it with scripts/build-image.sh (the fetcher-image target)"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* GET path, expecting 200, reply appended to out. */
static int get_ok(const struct runtime *rt, const char *path, struct buf *out,
		  struct err *e)
{
	long status = 0;

	if (rt_call(rt, "GET", path, NULL, out, &status, e) < 0)
		return -1;
	if (status != 200)
		return rt_engine_error(status, out, path, e);
	return 0;
}

static int negotiate(struct runtime *rt, struct err *e)
{
	struct buf reply = BUF_INIT;
	int max, min, rc;

	rc = get_ok(rt, "/version", &reply, e);
	if (!rc)
		rc = runtime_json_version(reply.data, reply.len, &max, &min, e);
	buf_release(&reply);
	if (rc)
		return -1;
	rt->api = runtime_api_choose(max, min);
	if (rt->api < 0)
		return err_set(e, ERR_UNAVAILABLE,
			       "runtime: engine API %d.%d (oldest %d.%d) not usable: need %d.%d..%d.%d",
			       max / 1000, max % 1000, min / 1000, min % 1000,
			       RT_API_NEED / 1000, RT_API_NEED % 1000,
			       RT_API_WANT / 1000, RT_API_WANT % 1000);
	snprintf(rt->api_str, sizeof(rt->api_str), "%d.%d", rt->api / 1000,
		 rt->api % 1000);
	snprintf(rt->prefix, sizeof(rt->prefix), "/v%d.%d", rt->api / 1000,
		 rt->api % 1000);
	return 0;
}

static int read_info(struct runtime *rt, struct err *e)
{
	struct buf reply = BUF_INIT;
	int rc = get_ok(rt, "/info", &reply, e);

	if (!rc)
		rc = runtime_json_info(reply.data, reply.len, &rt->ncpu, e);
	buf_release(&reply);
	return rc;
}

static char *host_name(const char *given)
{
	char host[256];

	if (given)
		return xstrdup(given);
	if (gethostname(host, sizeof(host)) < 0)
		return xstrdup("localhost");
	host[sizeof(host) - 1] = '\0';
	return xstrdup(host);
}

int runtime_open(struct runtime **out, const struct runtime_opts *opts,
		 struct err *e)
{
	struct runtime *rt = xcalloc(1, sizeof(*rt));

	pthread_once(&curl_once, curl_init_once);
	rt->socket_path = xstrdup(opts->socket_path);
	rt->worker_id = xstrdup(opts->worker_id);
	rt->host = host_name(opts->host);
	rt->pid = opts->pid ? opts->pid : (int)getpid();
	rt->request_timeout_ms = opts->request_timeout_ms > 0 ?
		opts->request_timeout_ms : RT_DEFAULT_TIMEOUT_MS;
	atomic_init(&rt->cancel_all, 0);
	pthread_mutex_init(&rt->lock, NULL);
	strvec_init(&rt->unremoved);
	if (runtime_ping(rt, e) < 0 || negotiate(rt, e) < 0 ||
	    read_info(rt, e) < 0) {
		runtime_free(rt);
		return -1;
	}
	*out = rt;
	return 0;
}

void runtime_free(struct runtime *rt)
{
	if (!rt)
		return;
	free(rt->socket_path);
	free(rt->worker_id);
	free(rt->host);
	strvec_clear(&rt->unremoved);
	pthread_mutex_destroy(&rt->lock);
	free(rt);
}

const char *runtime_api_version(const struct runtime *rt)
{
	return rt->api_str;
}

int runtime_ncpu(const struct runtime *rt)
{
	return rt->ncpu;
}

int runtime_check_cpu(const struct runtime *rt, double cpus, struct err *e)
{
	if (cpus > rt->ncpu)
		return err_set(e, ERR_INVALID,
			       "config: CONTAINER_CPU_LIMIT='%g': expected no more than the engine's %d CPUs",
			       cpus, rt->ncpu);
	return 0;
}

int runtime_ping(struct runtime *rt, struct err *e)
{
	struct buf reply = BUF_INIT;
	int rc;

	/* Unversioned before negotiation, versioned after: both are valid. */
	rc = get_ok(rt, "/_ping", &reply, e);
	buf_release(&reply);
	return rc;
}

int runtime_check_image(struct runtime *rt, const char *image, struct err *e)
{
	struct buf reply = BUF_INIT, path = BUF_INIT;
	long status = 0;
	int rc;

	buf_addf(&path, NULL, "/images/%s/json", image);
	rc = rt_call(rt, "GET", path.data, NULL, &reply, &status, e);
	if (!rc && status == 404)
		rc = err_set(e, ERR_UNAVAILABLE,
			     "runtime: image '%s' not found on the engine: " RT_BUILD_HINT,
			     image);
	else if (!rc && status != 200)
		rc = rt_engine_error(status, &reply, path.data, e);
	buf_release(&reply);
	buf_release(&path);
	return rc;
}

void runtime_cancel_all(struct runtime *rt)
{
	atomic_store(&rt->cancel_all, 1);
}

/* ---- sweep ---- */

static int remove_container(const struct runtime *rt, const char *id,
			    struct err *e)
{
	struct buf reply = BUF_INIT, path = BUF_INIT;
	long status = 0;
	int rc;

	buf_addf(&path, NULL, "/containers/%s?force=1&v=1", id);
	rc = rt_call(rt, "DELETE", path.data, NULL, &reply, &status, e);
	if (!rc && status != 204 && status != 404)
		rc = rt_engine_error(status, &reply, "remove container", e);
	buf_release(&reply);
	buf_release(&path);
	return rc;
}

/* Append filter (JSON) to path, URL-encoded. */
static void add_escaped(struct buf *path, const struct buf *filter)
{
	char *q = curl_easy_escape(NULL, filter->data, (int)filter->len);

	if (!q) {
		log_error("runtime: out of memory escaping a filter");
		abort();
	}
	buf_addstr(path, q, NULL);
	curl_free(q);
}

/* Containers (all states) whose label name has the value value. */
static int list_labelled(const struct runtime *rt, const char *name,
			 const char *value, struct rt_listed **list, size_t *n,
			 struct err *e)
{
	struct buf filter = BUF_INIT, path = BUF_INIT, reply = BUF_INIT;
	int rc;

	buf_addstr(&filter, "{\"label\":[\"", NULL);
	buf_add_json_str(&filter, name, strlen(name), NULL);
	buf_addch(&filter, '=', NULL);
	buf_add_json_str(&filter, value, strlen(value), NULL);
	buf_addstr(&filter, "\"]}", NULL);
	buf_addstr(&path, "/containers/json?all=1&filters=", NULL);
	add_escaped(&path, &filter);
	rc = get_ok(rt, path.data, &reply, e);
	if (!rc)
		rc = runtime_json_containers(reply.data, reply.len, list, n, e);
	buf_release(&filter);
	buf_release(&path);
	buf_release(&reply);
	return rc;
}

static int pid_gone(long pid)
{
	return pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* Is l left by us (our worker id) or by a dead worker of this host? */
static int leftover(const struct runtime *rt, const struct rt_listed *l)
{
	if (l->worker && !strcmp(l->worker, rt->worker_id))
		return 1;
	return l->host && !strcmp(l->host, rt->host) && l->pid != rt->pid &&
	       pid_gone(l->pid);
}

static int sweep_label(const struct runtime *rt, const char *name,
		       const char *value, int *removed, struct err *e)
{
	struct rt_listed *list;
	size_t i, n;
	int rc = 0;

	if (list_labelled(rt, name, value, &list, &n, e) < 0)
		return -1;
	for (i = 0; i < n && !rc; i++) {
		if (!leftover(rt, &list[i]))
			continue;
		rc = remove_container(rt, list[i].id, e);
		if (!rc) {
			(*removed)++;
			log_info("runtime: removed leftover container '%.12s' of worker '%s' pid %ld",
				 list[i].id, list[i].worker ? list[i].worker : "",
				 list[i].pid);
		}
	}
	runtime_json_listed_free(list, n);
	return rc;
}

static void keep_unremoved(struct runtime *rt, const char *id)
{
	pthread_mutex_lock(&rt->lock);
	strvec_push(&rt->unremoved, id);
	pthread_mutex_unlock(&rt->lock);
}

int runtime_remove_unremoved(struct runtime *rt, int *removed, struct err *e)
{
	struct strvec todo;
	int count = 0, rc = 0;
	size_t i;

	pthread_mutex_lock(&rt->lock);
	todo = rt->unremoved;
	strvec_init(&rt->unremoved);
	pthread_mutex_unlock(&rt->lock);
	for (i = 0; i < todo.nr; i++) {
		if (remove_container(rt, todo.items[i], e) < 0) {
			keep_unremoved(rt, todo.items[i]);
			rc = -1;
			continue;
		}
		count++;
		log_event(LOG_INFO, NULL, "container",
			  "runtime: removed container '%.12s' left when the engine was away",
			  todo.items[i]);
	}
	strvec_clear(&todo);
	if (removed)
		*removed = count;
	return rc;
}

int runtime_sweep(struct runtime *rt, int *removed, struct err *e)
{
	int count = 0, rc;

	rc = sweep_label(rt, RUNTIME_LABEL_WORKER, rt->worker_id, &count, e);
	if (!rc)
		rc = sweep_label(rt, RUNTIME_LABEL_HOST, rt->host, &count, e);
	if (removed)
		*removed = count;
	return rc;
}

/* ---- specs and results ---- */

void runtime_spec_init(struct runtime_spec *spec, const struct config *cfg)
{
	memset(spec, 0, sizeof(*spec));
	spec->image = cfg->fetcher_image;
	spec->network_mode = cfg->container_network_mode;
	spec->user = RUNTIME_USER;
	spec->timeout_ms = cfg->container_timeout_ms;
	spec->memory_mb = cfg->container_memory_mb;
	spec->cpus = cfg->container_cpu_limit;
	spec->pids_limit = RUNTIME_PIDS_LIMIT;
	spec->tmpfs_mb = RUNTIME_TMPFS_MB;
	spec->max_stdout = (size_t)cfg->fetcher_max_output_bytes;
	spec->stderr_tail = RUNTIME_STDERR_TAIL;
}

void runtime_result_init(struct runtime_result *res)
{
	memset(res, 0, sizeof(*res));
	res->exit_code = -1;
	buf_init(&res->out, 0);
	buf_init(&res->err_tail, 0);
}

void runtime_result_release(struct runtime_result *res)
{
	buf_release(&res->out);
	buf_release(&res->err_tail);
}

/* ---- one run ---- */

struct rt_run {
	struct runtime *rt;
	const struct runtime_spec *spec;
	struct runtime_result *res;
	CURLM *multi;
	struct rt_req attach, wait, start;
	struct runtime_stream stream;
	double t0;
	time_t t0_wall;
};

static const char *job_of(const struct rt_run *run)
{
	return run->spec->job_id ? run->spec->job_id : "";
}

static int run_cancelled(const struct rt_run *run, struct err *e)
{
	run->res->cancelled = 1;
	return err_set(e, ERR_UNAVAILABLE, "runtime: job '%s': run cancelled",
		       job_of(run));
}

/* Create failed with status: a missing image gets the how-to-build line. */
static int create_failed(struct rt_run *run, long status,
			 const struct buf *reply, struct err *e)
{
	if (status == 404 && runtime_check_image(run->rt, run->spec->image, e) < 0)
		return -1;
	rt_engine_error(status, reply, "create container", e);
	if (status == 404) /* a missing network: infrastructure too */
		e->kind = ERR_UNAVAILABLE;
	return -1;
}

static int run_create(struct rt_run *run, struct err *e)
{
	struct buf body = BUF_INIT, reply = BUF_INIT;
	long status = 0;
	int rc;

	rc = runtime_json_create_body(run->rt, run->spec, &body, e);
	if (!rc)
		rc = rt_call(run->rt, "POST", "/containers/create", body.data,
			     &reply, &status, e);
	if (!rc && status != 201)
		rc = create_failed(run, status, &reply, e);
	else if (!rc)
		rc = runtime_json_created(reply.data, reply.len,
					  run->res->container_id,
					  sizeof(run->res->container_id), e);
	buf_release(&body);
	buf_release(&reply);
	return rc;
}

static void run_add(struct rt_run *run, struct rt_req *r, const char *method,
		    const char *what)
{
	char path[160];

	snprintf(path, sizeof(path), "/containers/%s/%s",
		 run->res->container_id, what);
	rt_req_init(r, run->rt, method, path, NULL);
	curl_multi_add_handle(run->multi, r->h);
}

static int answered(const struct rt_req *r)
{
	return r->headers_done || r->done;
}

static int begun(void *arg)
{
	struct rt_run *run = arg;

	return answered(&run->attach) && answered(&run->wait);
}

static int started(void *arg)
{
	return ((struct rt_run *)arg)->start.done;
}

static int broken(const struct rt_req *r)
{
	return r->done && r->rc != CURLE_OK;
}

static int finished(void *arg)
{
	struct rt_run *run = arg;

	return run->stream.failed || broken(&run->attach) ||
	       broken(&run->wait) || (run->attach.done && run->wait.done);
}

/* Drive an engine step (not the container's run) to met, within the
 * request timeout. */
static int run_step(struct rt_run *run, int (*met)(void *), const char *what,
		    struct err *e)
{
	int how = rt_drive(run->multi, met, run,
			   rt_now_ms() + run->rt->request_timeout_ms,
			   &run->rt->cancel_all, run->spec->cancel, e);

	if (how == RT_CANCELLED)
		return run_cancelled(run, e);
	if (how == RT_DEADLINE)
		return err_set(e, ERR_UNAVAILABLE,
			       "runtime: %s: engine did not answer within %d ms",
			       what, run->rt->request_timeout_ms);
	return how;
}

/* An answered request r of the engine that should have said ok. */
static int check_reply(struct rt_run *run, const struct rt_req *r, long ok,
		       long ok2, const char *what, struct err *e)
{
	if (broken(r))
		return rt_transport_error(run->rt, r, what, e);
	if (r->status != ok && r->status != ok2)
		return rt_engine_error(r->status, &r->reply, what, e);
	return 0;
}

static int run_begin(struct rt_run *run, struct err *e)
{
	run_add(run, &run->attach, "POST", "attach?stream=1&stdout=1&stderr=1");
	run->attach.stream = &run->stream;
	run_add(run, &run->wait, "POST", "wait?condition=next-exit");
	if (run_step(run, begun, "attach", e) < 0 ||
	    check_reply(run, &run->attach, 200, 200, "attach", e) < 0 ||
	    check_reply(run, &run->wait, 200, 200, "wait", e) < 0)
		return -1;
	run_add(run, &run->start, "POST", "start");
	if (run_step(run, started, "start", e) < 0 ||
	    check_reply(run, &run->start, 204, 304, "start", e) < 0)
		return -1;
	run->res->spawn_ms = rt_now_ms() - run->t0;
	log_event(LOG_INFO, run->spec->job_id, "container_start",
		  "container '%.12s' started in %.0f ms",
		  run->res->container_id, run->res->spawn_ms);
	return 0;
}

/* One line of printable text from the end of the stderr tail. */
static void tail_line(const struct runtime_stream *stream, char *out,
		      size_t size)
{
	size_t n, i, j = 0;
	const char *p = runtime_stream_stderr(stream, &n);

	while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == ' '))
		n--;
	i = n > size - 1 ? n - (size - 1) : 0;
	for (; i < n && j + 1 < size; i++, j++)
		out[j] = p[i] >= 0x20 && p[i] < 0x7f ? p[i] :
			 p[i] == '\n' ? '|' : '?';
	out[j] = '\0';
}

static int crash_error(struct rt_run *run, struct err *e)
{
	struct runtime_result *res = run->res;
	char tail[160];

	tail_line(&run->stream, tail, sizeof(tail));
	if (res->oom_killed)
		return err_set(e, ERR_CRASH,
			       "runtime: job '%s': container killed: out of memory (limit %d MiB): %s",
			       job_of(run), run->spec->memory_mb, tail);
	if (res->exit_code == 128 + SIGKILL)
		return err_set(e, ERR_CRASH,
			       "runtime: job '%s': container killed by signal 9 (the %d MiB memory limit or an outside kill): %s",
			       job_of(run), run->spec->memory_mb, tail);
	if (res->exit_code > 128)
		return err_set(e, ERR_CRASH,
			       "runtime: job '%s': container killed by signal %d: %s",
			       job_of(run), res->exit_code - 128, tail);
	return err_set(e, ERR_CRASH,
		       "runtime: job '%s': container exited with code %d: %s",
		       job_of(run), res->exit_code, tail);
}

static int inspect_once(struct rt_run *run, struct err *e)
{
	struct buf reply = BUF_INIT, path = BUF_INIT;
	int code, rc;

	buf_addf(&path, NULL, "/containers/%s/json", run->res->container_id);
	rc = get_ok(run->rt, path.data, &reply, e);
	if (!rc)
		rc = runtime_json_inspect(reply.data, reply.len,
					  &run->res->oom_killed, &code, e);
	buf_release(&reply);
	buf_release(&path);
	return rc;
}

/*
 * Did the engine log an "oom" event for the container? It logs one even
 * when the OOM notice reaches it after the exit, too late to set
 * State.OOMKilled (a known containerd race), so this is the second source.
 */
static int oom_event(struct rt_run *run, struct err *e)
{
	struct buf filter = BUF_INIT, path = BUF_INIT, reply = BUF_INIT;
	struct timespec now;
	int rc;

	clock_gettime(CLOCK_REALTIME, &now);
	buf_addf(&filter, NULL, "{\"container\":[\"%s\"],\"event\":[\"oom\"]}",
		 run->res->container_id);
	buf_addf(&path, NULL, "/events?since=%lld&until=%lld.%09ld&filters=",
		 (long long)run->t0_wall - RT_CLOCK_SKEW_S,
		 (long long)now.tv_sec, now.tv_nsec);
	add_escaped(&path, &filter);
	rc = get_ok(run->rt, path.data, &reply, e);
	if (!rc)
		run->res->oom_killed =
			runtime_json_has_event(reply.data, reply.len, "oom");
	buf_release(&filter);
	buf_release(&path);
	buf_release(&reply);
	return rc;
}

/*
 * Read State.OOMKilled; for a container that died of SIGKILL (the OOM
 * killer's signal) without it, look for the engine's late "oom" event a
 * few times before calling it a plain crash.
 */
static int run_inspect(struct rt_run *run, struct err *e)
{
	const struct timespec pause = { 0, RT_OOM_RECHECK_MS * 1000000L };
	int tries = 0, rc = inspect_once(run, e);

	while (!rc && !run->res->oom_killed &&
	       run->res->exit_code == 128 + SIGKILL && tries++ < RT_OOM_RECHECKS) {
		rc = oom_event(run, e);
		if (!rc && !run->res->oom_killed)
			nanosleep(&pause, NULL);
	}
	return rc;
}

/* The container exited: exit code, stream integrity, OOM. */
static int run_exited(struct rt_run *run, struct err *e)
{
	struct runtime_result *res = run->res;

	if (check_reply(run, &run->wait, 200, 200, "wait", e) < 0 ||
	    check_reply(run, &run->attach, 200, 200, "attach", e) < 0 ||
	    runtime_json_wait(run->wait.reply.data, run->wait.reply.len,
			      &res->exit_code, e) < 0)
		return -1;
	if (runtime_stream_finish(&run->stream, e) < 0) {
		e->kind = ERR_UNAVAILABLE; /* the engine cut the stream */
		return -1;
	}
	if (res->exit_code == 0)
		return 0;
	if (run_inspect(run, e) < 0)
		return -1;
	return crash_error(run, e);
}

static int run_follow(struct rt_run *run, struct err *e)
{
	int how = rt_drive(run->multi, finished, run,
			   rt_now_ms() + run->spec->timeout_ms,
			   &run->rt->cancel_all, run->spec->cancel, e);

	if (how < 0)
		return -1;
	if (how == RT_CANCELLED)
		return run_cancelled(run, e);
	if (how == RT_DEADLINE) {
		run->res->timed_out = 1;
		return err_set(e, ERR_TIMEOUT,
			       "runtime: job '%s': container ran past %d ms: killed",
			       job_of(run), run->spec->timeout_ms);
	}
	if (run->stream.failed) {
		run->res->output_too_large =
			run->stream.out_total > run->spec->max_stdout;
		*e = run->attach.werr;
		return -1;
	}
	return run_exited(run, e);
}

/* Hand the captured output to the result. */
static void run_collect(struct rt_run *run)
{
	struct runtime_result *res = run->res;
	const char *p;
	size_t n;

	buf_release(&res->out);
	res->out = run->stream.out;
	buf_init(&run->stream.out, 0);
	p = runtime_stream_stderr(&run->stream, &n);
	buf_reset(&res->err_tail);
	buf_add(&res->err_tail, p, n, NULL);
}

static void run_drop(struct rt_run *run, struct rt_req *r)
{
	if (r->h)
		curl_multi_remove_handle(run->multi, r->h);
	rt_req_release(r);
}

static void run_remove(struct rt_run *run)
{
	struct err e = ERR_INIT;

	if (remove_container(run->rt, run->res->container_id, &e) < 0) {
		keep_unremoved(run->rt, run->res->container_id);
		log_event(LOG_WARN, run->spec->job_id, "container",
			  "runtime: container '%.12s' not removed (tried again once the engine answers): %s",
			  run->res->container_id, e.msg);
	}
}

static const char *outcome(const struct runtime_result *res, int rc,
			   const struct err *e)
{
	if (!rc)
		return "exited";
	if (res->cancelled)
		return "cancelled";
	if (res->timed_out)
		return "timed out";
	if (res->output_too_large)
		return "output too large";
	if (res->oom_killed)
		return "out of memory";
	return err_kind_name(e->kind);
}

/* The created container: attach, start, follow, then let go of it. */
static int run_container(struct rt_run *run, struct err *e)
{
	struct runtime_result *res = run->res;
	int rc;

	run->multi = curl_multi_init();
	if (!run->multi) {
		log_error("runtime: out of memory creating a curl multi handle");
		abort();
	}
	rc = run_begin(run, e);
	if (!rc)
		rc = run_follow(run, e);
	run_drop(run, &run->attach);
	run_drop(run, &run->wait);
	run_drop(run, &run->start);
	curl_multi_cleanup(run->multi);
	run_remove(run);
	log_event(LOG_INFO, run->spec->job_id, "container_exit",
		  "container '%.12s' ended: %s, exit code %d, %.0f ms",
		  res->container_id, outcome(res, rc, e), res->exit_code,
		  rt_now_ms() - run->t0);
	return rc;
}

int runtime_run(struct runtime *rt, const struct runtime_spec *spec,
		struct runtime_result *res, struct err *e)
{
	struct rt_run run;
	int rc;

	memset(&run, 0, sizeof(run));
	run.rt = rt;
	run.spec = spec;
	run.res = res;
	run.t0 = rt_now_ms();
	run.t0_wall = time(NULL);
	runtime_stream_init(&run.stream, spec->max_stdout, spec->stderr_tail);
	if (atomic_load(&rt->cancel_all) ||
	    (spec->cancel && atomic_load(spec->cancel)))
		rc = run_cancelled(&run, e);
	else
		rc = run_create(&run, e);
	if (!rc)
		rc = run_container(&run, e);
	run_collect(&run);
	runtime_stream_release(&run.stream);
	res->total_ms = rt_now_ms() - run.t0;
	return rc;
}
