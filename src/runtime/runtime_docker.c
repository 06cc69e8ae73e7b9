/*
 * runtime_docker.c - the Docker backend: container lifecycle over the
 * Engine API: open, run, sweep.
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
 * lines are logged per run: container_start and container_exit. In
 * bridge mode the container joins the worker's egress network
 * (runtime_egress.c) instead of the engine's bridge.
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
#include "metrics.h"
#include "runtime.h"
#include "runtime_int.h"
#include "runtime_stream.h"
#include "xalloc.h"
#include "banned.h"

#define RT_DEFAULT_TIMEOUT_MS 30000
#define RT_OOM_RECHECKS 5      /* looks for a late OOM event after SIGKILL */
#define RT_OOM_RECHECK_MS 50
#define RT_CLOCK_SKEW_S 60     /* events since: run start minus this */
#define RT_STALE_MARGIN_S 10   /* a created container older than the
				  engine timeout plus this is abandoned */
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

static int docker_ping(struct runtime *rt, struct err *e)
{
	struct buf reply = BUF_INIT;
	int rc;

	/* Unversioned before negotiation, versioned after: both are valid. */
	rc = get_ok(rt, "/_ping", &reply, e);
	buf_release(&reply);
	return rc;
}

/*
 * Bridge mode: bring the worker's egress network up now (its holder runs
 * image), so that what it needs (root, the engine's pid namespace,
 * slirp4netns, an image with --hold) is reported at start, as the
 * sandbox runtime does, rather than by the first scan.
 */
static int egress_check(struct runtime *rt, const char *image, struct err *e)
{
	struct runtime_spec spec;
	char mode[96];

	if (!rt->network_mode || strcmp(rt->network_mode, "bridge"))
		return 0;
	memset(&spec, 0, sizeof(spec));
	spec.image = image;
	spec.network_mode = rt->network_mode;
	spec.user = RUNTIME_USER;
	spec.cpus = 0.1;
	spec.tmpfs_mb = RUNTIME_TMPFS_MB;
	return rt_egress_network(rt, &spec, mode, sizeof(mode), e);
}

static int docker_check_image(struct runtime *rt, const char *image,
			      struct err *e)
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
	return rc ? rc : egress_check(rt, image, e);
}

static int docker_open(struct runtime *rt, const struct runtime_opts *opts,
		       struct err *e)
{
	pthread_once(&curl_once, curl_init_once);
	rt->socket_path = xstrdup(opts->socket_path);
	rt->network_mode = opts->network_mode ? xstrdup(opts->network_mode) : NULL;
	rt->request_timeout_ms = opts->request_timeout_ms > 0 ?
		opts->request_timeout_ms : RT_DEFAULT_TIMEOUT_MS;
	if (docker_ping(rt, e) < 0 || negotiate(rt, e) < 0 ||
	    read_info(rt, e) < 0)
		return -1;
	return 0;
}

static void docker_release(struct runtime *rt)
{
	rt_egress_free(rt);
	free(rt->socket_path);
	free(rt->network_mode);
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

/*
 * One of our own containers that the engine created but never started,
 * longer ago than a run waits for its start (the request timeout, which
 * is ENGINE_TIMEOUT_MS, plus a margin): a create the engine carried out
 * after the run had given up on it (the engine was stalled), which no run
 * knows the id of.
 */
static int stale_created(const struct runtime *rt, const struct rt_listed *l)
{
	return l->state && !strcmp(l->state, "created") && l->created > 0 &&
	       (long long)time(NULL) - l->created >
		       rt->request_timeout_ms / 1000 + RT_STALE_MARGIN_S;
}

/*
 * Is l left by us (our worker id) or by a dead worker of this host? In
 * the periodic sweep (periodic 1) our own are left only when stale_created. Its
 * pid is judged only in the pid namespace it was taken in: a worker in a
 * container shares the host's name (host network) but not its pids.
 */
static int leftover(const struct runtime *rt, const struct rt_listed *l,
		    int periodic)
{
	if (l->worker && !strcmp(l->worker, rt->worker_id))
		return !periodic || stale_created(rt, l);
	if (l->pidns && strcmp(l->pidns, rt->pidns))
		return 0;
	return l->host && !strcmp(l->host, rt->host) && l->pid != rt->pid &&
	       pid_gone(l->pid);
}

static int sweep_label(struct runtime *rt, const char *name,
		       const char *value, int periodic, int *removed,
		       struct err *e)
{
	struct rt_listed *list;
	size_t i, n;
	int rc = 0;

	if (list_labelled(rt, name, value, &list, &n, e) < 0)
		return -1;
	for (i = 0; i < n && !rc; i++) {
		if (!leftover(rt, &list[i], periodic) ||
		    rt_egress_holds(rt, list[i].id))
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

static int docker_sweep(struct runtime *rt, int *removed, struct err *e)
{
	int rc = sweep_label(rt, RUNTIME_LABEL_WORKER, rt->worker_id, 0,
			     removed, e);

	if (!rc)
		rc = sweep_label(rt, RUNTIME_LABEL_HOST, rt->host, 0, removed, e);
	return rc;
}

static int docker_sweep_dead(struct runtime *rt, int *removed, struct err *e)
{
	return sweep_label(rt, RUNTIME_LABEL_HOST, rt->host, 1, removed, e);
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
	struct runtime_spec joined; /* spec on the network it runs in */
	char network[96];
};

/* Create failed with status: a missing image gets the how-to-build line. */
static int create_failed(struct rt_run *run, long status,
			 const struct buf *reply, struct err *e)
{
	if (status == 404 && docker_check_image(run->rt, run->spec->image, e) < 0)
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
	double deadline = rt_now_ms() + run->rt->request_timeout_ms;
	int how;

	if (run->spec->engine_timeout_ms > 0 &&
	    run->t0 + run->spec->engine_timeout_ms < deadline)
		deadline = run->t0 + run->spec->engine_timeout_ms;
	how = rt_drive(run->multi, met, run, deadline, &run->rt->cancel_all,
		       run->spec->cancel, e);
	if (how == RT_CANCELLED)
		return rt_cancelled(run->spec, run->res, e);
	if (how == RT_DEADLINE) {
		metrics_count(metrics_default(), METRICS_ENGINE_STALL);
		return err_set(e, ERR_UNAVAILABLE,
			       "runtime: %s: the engine did not create and "
			       "start the container within ENGINE_TIMEOUT_MS "
			       "(%d ms)", what, run->spec->engine_timeout_ms > 0
				       ? run->spec->engine_timeout_ms
				       : run->rt->request_timeout_ms);
	}
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
	rt_log_start(run->spec, run->res);
	return 0;
}

/* The engine's inspect document of the run's container, into reply. */
static int inspect_json(struct rt_run *run, struct buf *reply, struct err *e)
{
	struct buf path = BUF_INIT;
	int rc;

	buf_addf(&path, NULL, "/containers/%s/json", run->res->container_id);
	rc = get_ok(run->rt, path.data, reply, e);
	buf_release(&path);
	return rc;
}

static int inspect_once(struct rt_run *run, struct err *e)
{
	struct buf reply = BUF_INIT;
	int code, rc;

	rc = inspect_json(run, &reply, e);
	if (!rc)
		rc = runtime_json_inspect(reply.data, reply.len,
					  &run->res->oom_killed, &code, e);
	buf_release(&reply);
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
	return rt_crash_error(run->spec, run->res, &run->stream, e);
}

/*
 * The run's deadline passed and the engine reported no exit. Only a
 * container the engine says is still running ran past its deadline: an
 * engine that does not answer (within ENGINE_TIMEOUT_MS), or one that
 * says the container exited but never told us, has stalled, and that is
 * an infrastructure fault, not the scan's timeout.
 */
static int run_deadline(struct rt_run *run, struct err *e)
{
	struct buf reply = BUF_INIT;
	int running = 0, code = 0, rc;
	long pid = 0;

	rc = inspect_json(run, &reply, e);
	if (!rc)
		rc = runtime_json_state(reply.data, reply.len, &running, &pid,
					&code, e);
	buf_release(&reply);
	if (!rc && running)
		return rt_timed_out(run->spec, run->res, e);
	metrics_count(metrics_default(), METRICS_ENGINE_STALL);
	if (rc) {
		char why[sizeof(e->msg)];

		snprintf(why, sizeof(why), "%s", e->msg);
		return err_set(e, ERR_UNAVAILABLE, "runtime: job '%s': no exit "
			       "reported within %d ms and the engine does not "
			       "answer: %s", rt_job_of(run->spec),
			       run->spec->timeout_ms, why);
	}
	return err_set(e, ERR_UNAVAILABLE, "runtime: job '%s': the container "
		       "exited (%d) but the engine did not report it within "
		       "%d ms", rt_job_of(run->spec), code,
		       run->spec->timeout_ms);
}

static int run_follow(struct rt_run *run, struct err *e)
{
	int how = rt_drive(run->multi, finished, run,
			   rt_now_ms() + run->spec->timeout_ms,
			   &run->rt->cancel_all, run->spec->cancel, e);

	if (how < 0)
		return -1;
	if (how == RT_CANCELLED)
		return rt_cancelled(run->spec, run->res, e);
	if (how == RT_DEADLINE)
		return run_deadline(run, e);
	if (run->stream.failed) {
		run->res->output_too_large =
			run->stream.out_total > run->spec->max_stdout;
		*e = run->attach.werr;
		return -1;
	}
	return run_exited(run, e);
}

static void run_drop(struct rt_run *run, struct rt_req *r)
{
	if (r->h)
		curl_multi_remove_handle(run->multi, r->h);
	rt_req_release(r);
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
	rt_log_exit(run->spec, res, rc, e, rt_now_ms() - run->t0);
	return rc;
}

static int docker_body(void *arg, struct err *e)
{
	struct rt_run *run = arg;
	int rc;

	/* bridge: the worker's egress network (runtime_egress.c) */
	if (rt_egress_network(run->rt, run->spec, run->network,
			      sizeof(run->network), e) < 0)
		return -1;
	run->joined = *run->spec;
	run->joined.network_mode = run->network;
	run->spec = &run->joined;
	rc = run_create(run, e);
	return rc ? rc : run_container(run, e);
}

static int docker_run(struct runtime *rt, const struct runtime_spec *spec,
		      struct runtime_result *res, struct err *e)
{
	struct rt_run run;

	memset(&run, 0, sizeof(run));
	run.rt = rt;
	run.spec = spec;
	run.res = res;
	run.t0 = rt_now_ms();
	run.t0_wall = time(NULL);
	return rt_run_frame(rt, spec, res, &run.stream, docker_body, &run, e);
}

const struct runtime_ops runtime_docker_ops = {
	"docker", docker_open, docker_release, docker_ping, docker_check_image,
	docker_sweep, docker_run, docker_sweep_dead,
};
