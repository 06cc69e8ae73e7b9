/*
 * runtime.c - the public runtime API: picks the backend named by
 * CONTAINER_RUNTIME (struct runtime_ops) and keeps what both share: the
 * options and labels, the cancel flag, the CPU check, specs and results,
 * and the wording of the outcomes (crash, timeout, cancel) so that a scan
 * reads the same whichever backend ran it. It runs nothing itself.
 */
#include "fmacros.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "runtime.h"
#include "runtime_int.h"
#include "runtime_stream.h"
#include "xalloc.h"
#include "banned.h"

void runtime_opts_init(struct runtime_opts *opts, const struct config *cfg)
{
	memset(opts, 0, sizeof(*opts));
	opts->kind = (enum runtime_kind)cfg->container_runtime;
	opts->socket_path = cfg->docker_socket;
	opts->rootfs = cfg->fetcher_rootfs;
	opts->entrypoint = cfg->fetcher_entrypoint;
	opts->network_mode = cfg->container_network_mode;
	opts->worker_id = cfg->worker_id;
	opts->request_timeout_ms = cfg->engine_timeout_ms;
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

/* "pid:[4026531836]": names our pid namespace for as long as it lives. */
static char *pid_namespace(const char *given)
{
	char link[64];
	ssize_t n;

	if (given)
		return xstrdup(given);
	n = readlink("/proc/self/ns/pid", link, sizeof(link) - 1);
	if (n <= 0)
		return xstrdup("");
	link[n] = '\0';
	return xstrdup(link);
}

int runtime_open(struct runtime **out, const struct runtime_opts *opts,
		 struct err *e)
{
	struct runtime *rt = xcalloc(1, sizeof(*rt));

	rt->ops = opts->kind == RUNTIME_SANDBOX ? &runtime_sandbox_ops :
						  &runtime_docker_ops;
	rt->worker_id = xstrdup(opts->worker_id);
	rt->host = host_name(opts->host);
	rt->pid = opts->pid ? opts->pid : (int)getpid();
	rt->pidns = pid_namespace(opts->pidns);
	atomic_init(&rt->cancel_all, 0);
	pthread_mutex_init(&rt->lock, NULL);
	strvec_init(&rt->unremoved);
	if (rt->ops->open(rt, opts, e) < 0) {
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
	rt->ops->release(rt);
	free(rt->worker_id);
	free(rt->host);
	free(rt->pidns);
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
	return rt->ops->ping(rt, e);
}

int runtime_check_image(struct runtime *rt, const char *image, struct err *e)
{
	return rt->ops->check_image(rt, image, e);
}

int runtime_sweep(struct runtime *rt, int *removed, struct err *e)
{
	int count = 0, rc = rt->ops->sweep(rt, &count, e);

	if (removed)
		*removed = count;
	return rc;
}

int runtime_sweep_dead(struct runtime *rt, int *removed, struct err *e)
{
	int count = 0, rc = rt->ops->sweep_dead ?
		rt->ops->sweep_dead(rt, &count, e) : 0;

	if (removed)
		*removed = count;
	return rc;
}

void runtime_cancel_all(struct runtime *rt)
{
	atomic_store(&rt->cancel_all, 1);
}

int runtime_run(struct runtime *rt, const struct runtime_spec *spec,
		struct runtime_result *res, struct err *e)
{
	return rt->ops->run(rt, spec, res, e);
}

/* ---- specs and results ---- */

void runtime_spec_init(struct runtime_spec *spec, const struct config *cfg)
{
	memset(spec, 0, sizeof(*spec));
	spec->image = cfg->fetcher_image;
	spec->network_mode = cfg->container_network_mode;
	spec->user = RUNTIME_USER;
	spec->timeout_ms = cfg->container_timeout_ms;
	spec->engine_timeout_ms = cfg->engine_timeout_ms;
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

/* ---- outcomes, worded once for both backends ---- */

const char *rt_job_of(const struct runtime_spec *spec)
{
	return spec->job_id ? spec->job_id : "";
}

int rt_cancel_set(const struct runtime *rt, const struct runtime_spec *spec)
{
	return atomic_load(&rt->cancel_all) ||
	       (spec->cancel && atomic_load(spec->cancel));
}

int rt_cancelled(const struct runtime_spec *spec, struct runtime_result *res,
		 struct err *e)
{
	res->cancelled = 1;
	return err_set(e, ERR_UNAVAILABLE, "runtime: job '%s': run cancelled",
		       rt_job_of(spec));
}

int rt_timed_out(const struct runtime_spec *spec, struct runtime_result *res,
		 struct err *e)
{
	res->timed_out = 1;
	return err_set(e, ERR_TIMEOUT,
		       "runtime: job '%s': container ran past %d ms: killed",
		       rt_job_of(spec), spec->timeout_ms);
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

int rt_crash_error(const struct runtime_spec *spec,
		   const struct runtime_result *res,
		   const struct runtime_stream *stream, struct err *e)
{
	const char *job = rt_job_of(spec);
	char tail[160];

	tail_line(stream, tail, sizeof(tail));
	if (res->oom_killed)
		return err_set(e, ERR_CRASH,
			       "runtime: job '%s': container killed: out of memory (limit %d MiB): %s",
			       job, spec->memory_mb, tail);
	if (res->exit_code == 128 + SIGKILL)
		return err_set(e, ERR_CRASH,
			       "runtime: job '%s': container killed by signal 9 (the %d MiB memory limit or an outside kill): %s",
			       job, spec->memory_mb, tail);
	if (res->exit_code > 128)
		return err_set(e, ERR_CRASH,
			       "runtime: job '%s': container killed by signal %d: %s",
			       job, res->exit_code - 128, tail);
	return err_set(e, ERR_CRASH,
		       "runtime: job '%s': container exited with code %d: %s",
		       job, res->exit_code, tail);
}

static const char *rt_outcome(const struct runtime_result *res, int rc,
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

void rt_log_start(const struct runtime_spec *spec,
		  const struct runtime_result *res)
{
	log_event(LOG_INFO, spec->job_id, "container_start",
		  "container '%.12s' started in %.0f ms", res->container_id,
		  res->spawn_ms);
}

void rt_log_exit(const struct runtime_spec *spec,
		 const struct runtime_result *res, int rc, const struct err *e,
		 double ms)
{
	log_event(LOG_INFO, spec->job_id, "container_exit",
		  "container '%.12s' ended: %s, exit code %d, %.0f ms",
		  res->container_id, rt_outcome(res, rc, e), res->exit_code, ms);
}

/* Move the output captured by stream into res (stream keeps nothing). */
static void rt_collect(struct runtime_result *res,
		       struct runtime_stream *stream)
{
	const char *p;
	size_t n;

	buf_release(&res->out);
	res->out = stream->out;
	buf_init(&stream->out, 0);
	p = runtime_stream_stderr(stream, &n);
	buf_reset(&res->err_tail);
	buf_add(&res->err_tail, p, n, NULL);
}

int rt_run_frame(const struct runtime *rt, const struct runtime_spec *spec,
		 struct runtime_result *res, struct runtime_stream *stream,
		 int (*body)(void *arg, struct err *e), void *arg,
		 struct err *e)
{
	double t0 = rt_now_ms();
	int rc;

	runtime_stream_init(stream, spec->max_stdout, spec->stderr_tail);
	if (rt_cancel_set(rt, spec))
		rc = rt_cancelled(spec, res, e);
	else
		rc = body(arg, e);
	rt_collect(res, stream);
	runtime_stream_release(stream);
	res->total_ms = rt_now_ms() - t0;
	return rc;
}
