/*
 * runtime_driver - runs the runtime module against the real engine for the
 * integration tests and prints each outcome as one JSON object.
 *
 *   runtime_driver [--worker ID] [--host H] [--pid N] open [--cpus X]
 *   runtime_driver ... image NAME
 *   runtime_driver ... sweep
 *   runtime_driver ... run [--image I] [--job J] [--timeout-ms N]
 *        [--memory-mb N] [--pids N] [--max-out N] [--network M]
 *        [--cancel-after-ms N] [--cancel-all-after-ms N] [--parallel N]
 *        [--fail-request N] -- CMD...
 *
 * --fail-request N makes the Nth engine request of the run fail as if the
 * engine were unreachable (a -DSAFEURL_TEST build).
 *
 * Settings not given come from the environment as the worker reads them
 * (DOCKER_SOCKET_PATH, CONTAINER_*, FETCHER_MAX_OUTPUT_BYTES...). Exit
 * status: 0 when the call succeeded, 1 when it failed (the JSON says how),
 * 2 on usage or configuration errors.
 */
#include "fmacros.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "err.h"
#include "runtime.h"
#include "runtime_int.h"
#include "strvec.h"
#include "xalloc.h"

extern char **environ;

struct opts {
	struct runtime_opts ro;
	struct runtime_spec spec;
	char worker[300];
	int cancel_after_ms, cancel_all_after_ms, parallel, fail_request;
	double cpus;
	int have_cpus;
};

/* Cancels after a delay unless every run ended first (then the driver
 * exits at once, not when the delay is up). */
struct canceller {
	struct runtime *rt;
	atomic_int *flag;
	int after_ms;
	int runs_over;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

static void canceller_init(struct canceller *c)
{
	clock_cond_init(&c->cv);
	pthread_mutex_init(&c->mu, NULL);
}

static void canceller_stop(struct canceller *c)
{
	pthread_mutex_lock(&c->mu);
	c->runs_over = 1;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

static void *cancel_later(void *arg)
{
	struct canceller *c = arg;
	struct timespec at;
	int over;

	clock_mono_deadline(&at, c->after_ms);
	pthread_mutex_lock(&c->mu);
	while (!c->runs_over && pthread_cond_timedwait(&c->cv, &c->mu, &at) == 0)
		;
	over = c->runs_over;
	pthread_mutex_unlock(&c->mu);
	if (over)
		return NULL;
	if (c->flag)
		atomic_store(c->flag, 1);
	else
		runtime_cancel_all(c->rt);
	return NULL;
}

static int print(json_t *o, int ok)
{
	json_object_set_new(o, "ok", json_boolean(ok));
	json_dumpf(o, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(o);
	return ok ? 0 : 1;
}

static int fail(json_t *o, const struct err *e)
{
	if (!o)
		o = json_object();
	json_object_set_new(o, "kind", json_string(err_kind_name(e->kind)));
	json_object_set_new(o, "error", json_string(e->msg));
	return print(o, 0);
}

static json_t *result_json(const struct runtime_result *res)
{
	return json_pack("{s:s, s:i, s:b, s:b, s:b, s:b, s:s#, s:s#, s:I, s:f, s:f}",
			 "container", res->container_id,
			 "exit_code", res->exit_code,
			 "timed_out", res->timed_out, "oom_killed", res->oom_killed,
			 "cancelled", res->cancelled,
			 "output_too_large", res->output_too_large,
			 "stdout", res->out.data, (int)res->out.len > 4096 ? 4096 : (int)res->out.len,
			 "stderr_tail", res->err_tail.data, (int)res->err_tail.len,
			 "stdout_len", (json_int_t)res->out.len,
			 "spawn_ms", res->spawn_ms, "total_ms", res->total_ms);
}

struct job {
	struct runtime *rt;
	struct runtime_spec spec;
	struct runtime_result res;
	struct err e;
	int rc;
	pthread_t th;
};

static void *run_job(void *arg)
{
	struct job *j = arg;

	j->rc = runtime_run(j->rt, &j->spec, &j->res, &j->e);
	return NULL;
}

/* Run --parallel copies of the spec at once, each on its own thread. */
static int cmd_run(struct runtime *rt, struct opts *o, char **cmd)
{
	int i, n = o->parallel > 0 ? o->parallel : 1, rc = 0, threaded = 0;
	struct canceller c = { .rt = rt };
	struct job *jobs;
	atomic_int flag;
	pthread_t th;

	if (o->fail_request) {
#ifdef SAFEURL_TEST
		runtime_test_fail_request(o->fail_request);
#else
		fprintf(stderr, "runtime_driver: --fail-request needs a -DSAFEURL_TEST build\n");
		return 2;
#endif
	}
	jobs = xcalloc((size_t)n, sizeof(*jobs));
	atomic_init(&flag, 0);
	o->spec.cmd = (const char *const *)cmd;
	o->spec.cancel = &flag;
	if (o->cancel_after_ms || o->cancel_all_after_ms) {
		c.flag = o->cancel_after_ms ? &flag : NULL;
		c.after_ms = o->cancel_after_ms ? o->cancel_after_ms : o->cancel_all_after_ms;
		canceller_init(&c);
		threaded = !pthread_create(&th, NULL, cancel_later, &c);
	}
	for (i = 0; i < n; i++) {
		jobs[i].rt = rt;
		jobs[i].spec = o->spec;
		runtime_result_init(&jobs[i].res);
		pthread_create(&jobs[i].th, NULL, run_job, &jobs[i]);
	}
	for (i = 0; i < n; i++) {
		pthread_join(jobs[i].th, NULL);
		rc |= jobs[i].rc ? fail(result_json(&jobs[i].res), &jobs[i].e) :
			print(result_json(&jobs[i].res), 1);
		runtime_result_release(&jobs[i].res);
	}
	if (threaded) {
		canceller_stop(&c);
		pthread_join(th, NULL);
		pthread_cond_destroy(&c.cv);
		pthread_mutex_destroy(&c.mu);
	}
	free(jobs);
	return rc;
}

static int run_command(struct runtime *rt, struct opts *o, const char *name,
		       int argc, char **argv)
{
	struct err e = ERR_INIT;
	int removed = 0;

	if (!strcmp(name, "open")) {
		if (o->have_cpus && runtime_check_cpu(rt, o->cpus, &e) < 0)
			return fail(NULL, &e);
		return print(json_pack("{s:s, s:i}", "api", runtime_api_version(rt),
				       "ncpu", runtime_ncpu(rt)), 1);
	}
	if (!strcmp(name, "image") && argc > 0)
		return runtime_check_image(rt, argv[0], &e) ? fail(NULL, &e) :
			print(json_object(), 1);
	if (!strcmp(name, "sweep"))
		return runtime_sweep(rt, &removed, &e) ? fail(NULL, &e) :
			print(json_pack("{s:i}", "removed", removed), 1);
	if (!strcmp(name, "run") && argc > 0)
		return cmd_run(rt, o, argv);
	fprintf(stderr, "runtime_driver: bad command '%s'\n", name);
	return 2;
}

/* Parse one "--name value" option; returns 1 when taken. */
static int take(struct opts *o, const char *name, const char *v)
{
	static const char *const ints[] = { "--timeout-ms", "--memory-mb", "--pids",
					    "--pid", "--cancel-after-ms",
					    "--cancel-all-after-ms", "--parallel",
					    "--fail-request", "--max-out" };
	int *const slots[] = { &o->spec.timeout_ms, &o->spec.memory_mb,
			       &o->spec.pids_limit, &o->ro.pid, &o->cancel_after_ms,
			       &o->cancel_all_after_ms, &o->parallel,
			       &o->fail_request, NULL };
	size_t i;

	for (i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		if (strcmp(name, ints[i]))
			continue;
		if (slots[i])
			*slots[i] = (int)strtol(v, NULL, 10);
		else
			o->spec.max_stdout = (size_t)strtoull(v, NULL, 10);
		return 1;
	}
	if (!strcmp(name, "--cpus")) {
		o->cpus = strtod(v, NULL);
		o->have_cpus = 1;
	} else if (!strcmp(name, "--image")) {
		o->spec.image = v;
	} else if (!strcmp(name, "--job")) {
		o->spec.job_id = v;
	} else if (!strcmp(name, "--network")) {
		o->spec.network_mode = v;
	} else if (!strcmp(name, "--worker")) {
		o->ro.worker_id = v;
	} else if (!strcmp(name, "--host")) {
		o->ro.host = v;
	} else {
		return 0;
	}
	return 1;
}

static int parse_opts(struct opts *o, int argc, char **argv, int i)
{
	while (i + 1 < argc && !strncmp(argv[i], "--", 2) && argv[i][2] &&
	       take(o, argv[i], argv[i + 1]))
		i += 2;
	return i;
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct strvec errs = STRVEC_INIT;
	struct opts o;
	struct runtime *rt = NULL;
	struct err e = ERR_INIT;
	const char *name;
	int i, rc = 2;

	memset(&o, 0, sizeof(o));
	if (config_load(&cfg, environ, NULL, &errs) < 0) {
		for (i = 0; i < (int)errs.nr; i++)
			fprintf(stderr, "%s\n", errs.items[i]);
		goto out;
	}
	log_init(cfg.log_level, cfg.log_format, "runtime_driver");
	runtime_spec_init(&o.spec, &cfg);
	o.spec.job_id = "driver";
	if (cfg.worker_id[0])
		snprintf(o.worker, sizeof(o.worker), "%s", cfg.worker_id);
	else
		snprintf(o.worker, sizeof(o.worker), "driver:%d", (int)getpid());
	runtime_opts_init(&o.ro, &cfg);
	o.ro.worker_id = o.worker;
	i = parse_opts(&o, argc, argv, 1);
	if (i >= argc) {
		fprintf(stderr, "usage: runtime_driver [options] open|image|sweep|run [options] [--] ...\n");
		goto out;
	}
	name = argv[i];
	i = parse_opts(&o, argc, argv, i + 1);
	if (i < argc && !strcmp(argv[i], "--"))
		i++;
	if (runtime_open(&rt, &o.ro, &e) < 0)
		rc = fail(NULL, &e);
	else
		rc = run_command(rt, &o, name, argc - i, argv + i);
	runtime_free(rt);
out:
	config_release(&cfg);
	strvec_clear(&errs);
	log_shutdown();
	return rc;
}
