/*
 * runtime_common.c - what both backends (runtime_docker.c,
 * runtime_sandbox.c) call during a run: the cancel checks, the wording of
 * the outcomes (crash, timeout, cancel) so that a scan reads the same
 * whichever backend ran it, the container_start/container_exit events and
 * the frame of a run (stream set up, output moved into the result).
 *
 * It depends on nothing above it in the module: runtime.c picks a backend,
 * the backend calls these; nothing here calls back.
 */
#include "fmacros.h"

#include <signal.h>
#include <stdatomic.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "runtime.h"
#include "runtime_int.h"
#include "runtime_stream.h"
#include "banned.h"

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
