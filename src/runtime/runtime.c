/*
 * runtime.c - the public runtime API: picks the backend named by
 * CONTAINER_RUNTIME (struct runtime_ops) and keeps what both share: the
 * options and labels, the cancel flag, the CPU check, specs and results.
 * It runs nothing itself.
 *
 * Not here: the wording of the outcomes and the frame of a run, which the
 * backends call (runtime_common.c), so that calls flow one way: runtime.c
 * -> the backends -> runtime_common.c.
 */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "runtime.h"
#include "runtime_int.h"
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
