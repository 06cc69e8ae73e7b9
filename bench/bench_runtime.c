/*
 * bench_runtime - container lifecycles per second and spawn latency through
 * runtime_run(), against the floor of the same containers run by a bare
 * loop over the Engine API (create, start, wait, remove and nothing else:
 * one reused curl handle per thread, no output capture, no inspect, no
 * deadline) in the same run, at concurrency 1, 4 and 8.
 *
 *   bench_runtime [RUNS_PER_BATCH] (default 12; settings from the
 *   environment as the worker reads them, network none, 64 MiB; needs the
 *   safeurl-testbox image: tests/fixtures/testbox/build.sh)
 *
 * BENCH_IMAGE, BENCH_CMD (arguments split at spaces) and BENCH_NETWORK
 * replace the testbox, its command and network none: bench/bench_e2e.sh
 * uses them to measure the floor for real fetcher containers.
 *
 * Both sides create the identical container (same create body: limits,
 * labels, network none, the testbox printing a small JSON document). Spawn
 * latency is create sent -> start acknowledged. Bare and ours alternate,
 * ROUNDS batches each per level, so drift in the engine's speed hits both.
 * The engine's own time dominates and varies, so the client CPU time per
 * lifecycle (this process, user + system) is printed too: that part of our
 * overhead does not depend on the engine's mood.
 *
 * BENCH_SANDBOX=1 compares the two runtimes instead: runtime_run() on
 * Docker (the peer) against runtime_run() on the sandbox (FETCHER_ROOTFS
 * and FETCHER_ENTRYPOINT name its root: the testbox root by default, see
 * bench/bench_sandbox.sh), same spec, spawn p50/p95 and runs per second.
 * BENCH_SANDBOX_NETWORK sets the sandbox's network mode alone (bridge:
 * its egress network, the production default).
 */
#include "fmacros.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "runtime.h"
#include "runtime_int.h"
#include "strvec.h"
#include "xalloc.h"

extern char **environ;

#define IMAGE "safeurl-testbox:latest"
#define ROUNDS 4

static const char *const bench_cmd[] = {
	"json", "{\"ok\":true,\"verdict\":\"safe\",\"riskScore\":0}", NULL
};

struct batch {
	struct runtime *rt;
	const struct runtime_spec *spec;
	const char *body; /* create body, for the bare loop; NULL: runtime_run */
	int bare;
	int runs;
	pthread_mutex_t lock;
	int next;
	double *spawn;    /* ms per lifecycle */
	int failures;
};

static size_t sink(char *p, size_t size, size_t n, void *arg)
{
	buf_add(arg, p, size * n, NULL);
	return size * n;
}

/* Bare request on a reused handle: status, reply into out. */
static long bare_call(CURL *h, const struct runtime *rt, const char *method,
		      const char *path, const char *body, struct buf *out)
{
	struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	char url[512];
	long status = 0;

	buf_reset(out);
	snprintf(url, sizeof(url), "http://docker%s%s", rt->prefix, path);
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, rt->socket_path);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (body)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdrs);
	return status;
}

static int bare_lifecycle(CURL *h, struct batch *b, double *spawn)
{
	struct buf out = BUF_INIT;
	char id[72], path[160];
	double t0 = rt_now_ms();
	int ok;

	ok = bare_call(h, b->rt, "POST", "/containers/create", b->body, &out) == 201 &&
	     runtime_json_created(out.data, out.len, id, sizeof(id), NULL) == 0;
	if (ok) {
		snprintf(path, sizeof(path), "/containers/%s/start", id);
		ok = bare_call(h, b->rt, "POST", path, "", &out) == 204;
		*spawn = rt_now_ms() - t0;
		snprintf(path, sizeof(path), "/containers/%s/wait", id);
		ok = ok && bare_call(h, b->rt, "POST", path, "", &out) == 200;
		snprintf(path, sizeof(path), "/containers/%s?force=1", id);
		ok = bare_call(h, b->rt, "DELETE", path, NULL, &out) == 204 && ok;
	}
	buf_release(&out);
	return ok ? 0 : -1;
}

static int our_lifecycle(struct batch *b, double *spawn)
{
	struct runtime_result res;
	struct err e = ERR_INIT;
	int rc;

	runtime_result_init(&res);
	rc = runtime_run(b->rt, b->spec, &res, &e);
	*spawn = res.spawn_ms;
	if (rc < 0)
		fprintf(stderr, "bench: %s\n", e.msg);
	runtime_result_release(&res);
	return rc;
}

static void *worker(void *arg)
{
	struct batch *b = arg;
	CURL *h = curl_easy_init();
	int i, rc;

	for (;;) {
		pthread_mutex_lock(&b->lock);
		i = b->next < b->runs ? b->next++ : -1;
		pthread_mutex_unlock(&b->lock);
		if (i < 0)
			break;
		rc = b->bare && b->body ? bare_lifecycle(h, b, &b->spawn[i]) :
			       our_lifecycle(b, &b->spawn[i]);
		if (rc < 0) {
			pthread_mutex_lock(&b->lock);
			b->failures++;
			pthread_mutex_unlock(&b->lock);
		}
	}
	curl_easy_cleanup(h);
	return NULL;
}

static double cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* Run b->runs lifecycles on conc threads; wall and CPU time added, ms. */
static void run_batch(struct batch *b, int conc, double *wall, double *cpu)
{
	pthread_t th[16];
	double t0 = rt_now_ms(), c0 = cpu_ms();
	int i;

	b->next = 0;
	for (i = 0; i < conc; i++)
		pthread_create(&th[i], NULL, worker, b);
	for (i = 0; i < conc; i++)
		pthread_join(th[i], NULL);
	*wall += rt_now_ms() - t0;
	*cpu += cpu_ms() - c0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p)
{
	int i = (int)(p * (n - 1) + 0.5);

	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[i];
}

struct figures {
	double per_s, p50, p95, p99, cpu;
};

static void figures(struct figures *f, double *spawn, int n, double wall,
		    double cpu)
{
	f->per_s = n / (wall / 1e3);
	f->p50 = pct(spawn, n, 0.5);
	f->p95 = pct(spawn, n, 0.95);
	f->p99 = pct(spawn, n, 0.99);
	f->cpu = cpu / n;
}

/* ROUNDS alternating batches per side; figures over all of them. */
static void measure(struct batch *bare, struct batch *ours, int conc,
		    struct figures *fb, struct figures *fo)
{
	int runs = bare->runs, n = ROUNDS * runs, round;
	double wb = 0, wo = 0, cb = 0, co = 0;
	double *sb = xcalloc((size_t)n, sizeof(double));
	double *so = xcalloc((size_t)n, sizeof(double));

	for (round = 0; round < ROUNDS; round++) {
		bare->spawn = sb + round * runs;
		ours->spawn = so + round * runs;
		run_batch(bare, conc, &wb, &cb);
		run_batch(ours, conc, &wo, &co);
	}
	figures(fb, sb, n, wb, cb);
	figures(fo, so, n, wo, co);
	free(sb);
	free(so);
}

static void report(int conc, const struct figures *fb, const struct figures *fo)
{
	/* Overhead per scan: extra engine-time per lifecycle, per slot. */
	double over = conc * (1e3 / fo->per_s - 1e3 / fb->per_s);

	printf("%4d | %7.1f | %7.1f | %5.2f | %6.1f / %6.1f | %6.1f / %6.1f | %+7.1f | %5.2f / %5.2f\n",
	       conc, fb->per_s, fo->per_s, fo->per_s / fb->per_s, fb->p50,
	       fb->p99, fo->p50, fo->p99, over, fb->cpu, fo->cpu);
}

/* BENCH_SANDBOX: docker's runtime_run is the peer ("bare" side). */
static void report_sandbox(int conc, const struct figures *fd,
			   const struct figures *fs)
{
	printf("%4d | %9.1f | %10.1f | %6.1f | %6.1f / %6.1f | %6.2f / %6.2f | %5.2f / %5.2f\n",
	       conc, fd->per_s, fs->per_s, fs->per_s / fd->per_s, fd->p50,
	       fd->p95, fs->p50, fs->p95, fd->cpu, fs->cpu);
}

/* The sandbox runtime with the settings of cfg; NULL when it fails. */
static struct runtime *open_sandbox(const struct config *cfg)
{
	struct runtime_opts ro;
	struct runtime *rt;
	struct err e = ERR_INIT;

	runtime_opts_init(&ro, cfg);
	ro.kind = RUNTIME_SANDBOX;
	ro.worker_id = "bench-sandbox";
	ro.network_mode = getenv("BENCH_SANDBOX_NETWORK") ? getenv("BENCH_SANDBOX_NETWORK") : "none";
	if (runtime_open(&rt, &ro, &e) < 0 ||
	    runtime_check_image(rt, NULL, &e) < 0) {
		fprintf(stderr, "bench_runtime: %s\n", e.msg);
		return NULL;
	}
	return rt;
}

static void split_words(const char *s, struct strvec *out)
{
	while (*s) {
		size_t n;

		s += strspn(s, " ");
		n = strcspn(s, " ");
		if (n)
			strvec_pushf(out, "%.*s", (int)n, s);
		s += n;
	}
}

int main(int argc, char **argv)
{
	static const int levels[] = { 1, 4, 8 };
	struct runtime_opts ro;
	struct config cfg;
	struct strvec errs = STRVEC_INIT;
	struct runtime_spec spec, sb_spec;
	struct runtime *rt;
	struct buf body = BUF_INIT;
	struct err e = ERR_INIT;
	struct batch bare, ours;
	struct figures fb, fo;
	size_t i;
	int runs = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 12;
	const char *image = getenv("BENCH_IMAGE") ? getenv("BENCH_IMAGE") : IMAGE;
	struct strvec cmd = STRVEC_INIT;
	struct runtime *sandbox = NULL;
	int vs_sandbox = getenv("BENCH_SANDBOX") != NULL;

	if (config_load(&cfg, environ, NULL, &errs) < 0) {
		fprintf(stderr, "bench_runtime: %s\n", errs.items[0]);
		return 1;
	}
	runtime_opts_init(&ro, &cfg);
	ro.kind = RUNTIME_DOCKER;
	ro.worker_id = "bench";
	log_init(LOG_WARN, LOG_FORMAT_TEXT, "bench");
	if (runs < 2 || runtime_open(&rt, &ro, &e) < 0 ||
	    runtime_check_image(rt, image, &e) < 0) {
		fprintf(stderr, "bench_runtime: %s\n", runs < 2 ? "usage: bench_runtime [RUNS>=2]" : e.msg);
		return 1;
	}
	runtime_spec_init(&spec, &cfg);
	spec.image = image;
	spec.cmd = bench_cmd;
	if (getenv("BENCH_CMD")) {
		split_words(getenv("BENCH_CMD"), &cmd);
		spec.cmd = cmd.items;
	}
	spec.job_id = "bench";
	spec.network_mode = getenv("BENCH_NETWORK") ? getenv("BENCH_NETWORK") : "none";
	spec.memory_mb = 64;
	runtime_json_create_body(rt, &spec, &body, &e);
	memset(&bare, 0, sizeof(bare));
	bare.rt = rt;
	bare.spec = &spec;
	bare.body = body.data;
	bare.runs = runs;
	pthread_mutex_init(&bare.lock, NULL);
	ours = bare;
	pthread_mutex_init(&ours.lock, NULL);
	bare.bare = 1;
	if (vs_sandbox && !(sandbox = open_sandbox(&cfg)))
		return 1;
	if (sandbox) {
		bare.body = NULL; /* docker through runtime_run, the peer */
		ours.rt = sandbox;
		sb_spec = spec;
		if (getenv("BENCH_SANDBOX_NETWORK"))
			sb_spec.network_mode = getenv("BENCH_SANDBOX_NETWORK");
		ours.spec = &sb_spec;
	}
	printf("engine API %s, %d CPUs, %d lifecycles per side per level\n",
	       runtime_api_version(rt), runtime_ncpu(rt), ROUNDS * runs);
	printf(sandbox ?
	       "conc | docker /s | sandbox /s |  ratio | docker spawn p50/p95 ms | sandbox spawn p50/p95 ms | client CPU ms/run docker / sandbox\n" :
	       "conc | bare /s | ours /s | ratio | bare spawn p50/p99 ms | ours spawn p50/p99 ms | overhead ms/scan | client CPU ms/scan bare / ours\n");
	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		measure(&bare, &ours, levels[i], &fb, &fo);
		(sandbox ? report_sandbox : report)(levels[i], &fb, &fo);
	}
	runtime_free(sandbox);
	if (bare.failures || ours.failures)
		printf("failures: bare %d, ours %d\n", bare.failures, ours.failures);
	buf_release(&body);
	strvec_clear(&cmd);
	runtime_free(rt);
	config_release(&cfg);
	strvec_clear(&errs);
	log_shutdown();
	return bare.failures || ours.failures;
}
