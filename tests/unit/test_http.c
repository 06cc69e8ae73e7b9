/*
 * test_http.c - /livez, /healthz and /metrics over real HTTP on loopback;
 * health.c: a dependency probe that blocks never delays an answer.
 */
#include "fmacros.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include <jansson.h>
#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "clock.h"
#include "health.h"
#include "http.h"
#include "metrics.h"

static int probe_ok;

static int check_flag(void *ctx, struct err *e)
{
	if (*(int *)ctx)
		return 0;
	return err_set(e, ERR_UNAVAILABLE, "connect to \"db\" refused");
}

static int check_always(void *ctx, struct err *e)
{
	(void)ctx;
	(void)e;
	return 0;
}

static const struct http_probe probes[] = {
	{ "redis", check_always, NULL, 1, NULL },
	{ "database", check_flag, &probe_ok, 0, NULL },
};

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
	buf_add(ud, p, size * n, NULL);
	return size * n;
}

static long get(int port, const char *method, const char *path,
		struct buf *body)
{
	CURL *c = curl_easy_init();
	char url[128];
	long status = 0;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	return status;
}

static void test_healthz(void **state)
{
	struct metrics *m = metrics_new();
	struct err e = ERR_INIT;
	struct http_server *srv;
	struct buf body = BUF_INIT;
	json_t *j;
	int port;

	(void)state;
	srv = http_start("127.0.0.1", 0, probes, 2, m, &e);
	assert_non_null(srv);
	port = http_port(srv);
	assert_true(port > 0);

	probe_ok = 1;
	assert_int_equal(get(port, "GET", "/healthz", &body), 200);
	j = json_loads(body.data, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
	assert_string_equal(json_string_value(json_object_get(
		json_object_get(json_object_get(j, "checks"), "database"),
		"status")), "up");
	json_decref(j);

	probe_ok = 0;
	buf_reset(&body);
	assert_int_equal(get(port, "GET", "/healthz", &body), 503);
	j = json_loads(body.data, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "status")),
			    "unavailable");
	{
		json_t *db = json_object_get(json_object_get(j, "checks"),
					     "database");
		json_t *redis = json_object_get(json_object_get(j, "checks"),
						"redis");

		assert_string_equal(json_string_value(json_object_get(db, "status")), "down");
		assert_string_equal(json_string_value(json_object_get(db, "error")),
				    "connect to \"db\" refused");
		assert_string_equal(json_string_value(json_object_get(redis, "status")), "up");
	}
	json_decref(j);

	/* liveness runs only the live probes: a dependency down is not a
	 * reason to restart the process */
	buf_reset(&body);
	assert_int_equal(get(port, "GET", "/livez", &body), 200);
	j = json_loads(body.data, 0, NULL);
	assert_non_null(j);
	assert_null(json_object_get(json_object_get(j, "checks"), "database"));
	assert_non_null(json_object_get(json_object_get(j, "checks"), "redis"));
	json_decref(j);

	buf_reset(&body);
	assert_int_equal(get(port, "GET", "/nope", &body), 404);
	buf_reset(&body);
	assert_int_equal(get(port, "POST", "/metrics", &body), 405);
	buf_release(&body);
	http_stop(srv);
	metrics_free(m);
}

static void test_port_in_use(void **state)
{
	struct metrics *m = metrics_new();
	struct err e = ERR_INIT;
	struct http_server *a, *b;

	(void)state;
	a = http_start("127.0.0.1", 0, probes, 1, m, &e);
	assert_non_null(a);
	b = http_start("127.0.0.1", http_port(a), probes, 1, m, &e);
	assert_null(b);
	assert_int_equal(e.kind, ERR_UNAVAILABLE);
	assert_non_null(strstr(e.msg, "cannot listen on 127.0.0.1 port"));
	assert_null(http_start("localhost", 0, probes, 1, m, &e));
	assert_int_equal(e.kind, ERR_INVALID);
	http_stop(a);
	metrics_free(m);
}

static void test_metrics_exposition(void **state)
{
	struct metrics *m = metrics_new();
	struct err e = ERR_INIT;
	struct http_server *srv;
	struct buf body = BUF_INIT;

	(void)state;
	metrics_job_done(m, METRICS_COMPLETED);
	metrics_job_done(m, METRICS_COMPLETED);
	metrics_job_done(m, METRICS_TIMED_OUT);
	metrics_in_flight(m, 3);
	metrics_in_flight(m, -1);
	metrics_observe_scan(m, 0.3);
	metrics_observe_scan(m, 7);
	metrics_observe_scan(m, 500);
	metrics_observe_spawn(m, 0.004);
	metrics_set_labels(m, "sandbox", "bull:scan\"jobs");
	metrics_count(m, METRICS_ABANDONED);
	metrics_count(m, METRICS_REDIS_RECONNECT);
	metrics_count(m, METRICS_REDIS_RECONNECT);
	metrics_failure(m, "CONNECT_FAILED");
	metrics_failure(m, "CONNECT_FAILED");
	metrics_failure(m, "TIMEOUT");
	metrics_failure(m, "bad code {");
	metrics_loop_failed(m, "UNSUPPORTED_OPTION: repeat", 0);
	metrics_loop_failed(m, "malformed job: no data", 0);
	metrics_loop_failed(m, "job stalled more than allowable limit", 1);
	metrics_set_up(m, METRICS_DEP_REDIS, 1);
	metrics_set_up(m, METRICS_DEP_ENGINE, 0);
	{
		struct metrics_depth d = { 7, 1, 2, 3, 4 };

		metrics_set_depth(m, &d);
	}
	srv = http_start("::1", 0, probes, 1, m, &e);
	assert_non_null(srv);
	{
		CURL *c = curl_easy_init();
		char url[64];

		snprintf(url, sizeof(url), "http://[::1]:%d/metrics", http_port(srv));
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
		assert_int_equal(curl_easy_perform(c), CURLE_OK);
		curl_easy_cleanup(c);
	}
	assert_non_null(strstr(body.data, "# TYPE safeurl_jobs_total counter\n"));
	assert_non_null(strstr(body.data, "safeurl_jobs_total{outcome=\"completed\"} 2\n"));
	assert_non_null(strstr(body.data, "safeurl_jobs_total{outcome=\"timed_out\"} 1\n"));
	assert_non_null(strstr(body.data, "safeurl_jobs_total{outcome=\"failed\"} 0\n"));
	assert_non_null(strstr(body.data, "safeurl_jobs_in_flight 2\n"));
	assert_non_null(strstr(body.data, "# TYPE safeurl_scan_duration_seconds histogram\n"));
	assert_non_null(strstr(body.data, "safeurl_scan_duration_seconds_bucket{runtime=\"sandbox\",le=\"0.25\"} 0\n"));
	assert_non_null(strstr(body.data, "safeurl_scan_duration_seconds_bucket{runtime=\"sandbox\",le=\"0.5\"} 1\n"));
	assert_non_null(strstr(body.data, "safeurl_scan_duration_seconds_bucket{runtime=\"sandbox\",le=\"10\"} 2\n"));
	assert_non_null(strstr(body.data, "safeurl_scan_duration_seconds_bucket{runtime=\"sandbox\",le=\"120\"} 2\n"));
	assert_non_null(strstr(body.data, "safeurl_scan_duration_seconds_bucket{runtime=\"sandbox\",le=\"+Inf\"} 3\n"));
	assert_non_null(strstr(body.data, "safeurl_scan_duration_seconds_count{runtime=\"sandbox\"} 3\n"));
	assert_non_null(strstr(body.data, "safeurl_scan_duration_seconds_sum{runtime=\"sandbox\"} 507.300000\n"));
	assert_non_null(strstr(body.data, "safeurl_container_spawn_seconds_bucket{runtime=\"sandbox\",le=\"0.005\"} 1\n"));
	assert_non_null(strstr(body.data, "safeurl_container_spawn_seconds_bucket{runtime=\"sandbox\",le=\"0.0025\"} 0\n"));
	assert_non_null(strstr(body.data, "safeurl_build_info{version=\"" SAFEURL_VERSION "\",runtime=\"sandbox\",queue=\"bull:scan\\\"jobs\"} 1\n"));
	assert_non_null(strstr(body.data, "safeurl_abandoned_total 1\n"));
	assert_non_null(strstr(body.data, "safeurl_redis_reconnects_total 2\n"));
	assert_non_null(strstr(body.data, "safeurl_engine_stalls_total 0\n"));
	assert_non_null(strstr(body.data, "safeurl_scan_failures_total{error_code=\"CONNECT_FAILED\"} 2\n"));
	assert_non_null(strstr(body.data, "safeurl_scan_failures_total{error_code=\"TIMEOUT\"} 1\n"));
	assert_non_null(strstr(body.data, "safeurl_scan_failures_total{error_code=\"OTHER\"} 1\n"));
	assert_non_null(strstr(body.data, "safeurl_loop_failed_total{reason=\"unsupported_option\"} 1\n"));
	assert_non_null(strstr(body.data, "safeurl_loop_failed_total{reason=\"malformed\"} 1\n"));
	assert_non_null(strstr(body.data, "safeurl_loop_failed_total{reason=\"stall_limit\"} 1\n"));
	assert_non_null(strstr(body.data, "safeurl_up{dependency=\"redis\"} 1\n"));
	assert_non_null(strstr(body.data, "safeurl_up{dependency=\"engine\"} 0\n"));
	assert_null(strstr(body.data, "safeurl_up{dependency=\"database\"}"));
	assert_non_null(strstr(body.data, "safeurl_queue_jobs{state=\"waiting\"} 7\n"));
	assert_non_null(strstr(body.data, "safeurl_queue_jobs{state=\"failed\"} 4\n"));
	assert_non_null(strstr(body.data, "# HELP safeurl_abandoned_total "));
	buf_release(&body);
	http_stop(srv);
	metrics_free(m);
}

/* A dependency that takes 3 s to answer each probe. */
static atomic_int slow_ok, slow_rounds;

static int check_slow(void *ctx, struct err *e)
{
	(void)ctx;
	sleep(3);
	atomic_fetch_add(&slow_rounds, 1);
	if (atomic_load(&slow_ok))
		return 0;
	return err_set(e, ERR_UNAVAILABLE, "database is locked");
}

/* GET path, asserting the answer took less than a second. */
static long quick_get(int port, const char *path, json_t **doc)
{
	struct buf body = BUF_INIT;
	long long t0 = clock_mono_ms();
	long status = get(port, "GET", path, &body);

	if (clock_mono_ms() - t0 >= 1000)
		fail_msg("%s took %lld ms", path, clock_mono_ms() - t0);
	*doc = json_loads(body.data, 0, NULL);
	assert_non_null(*doc);
	buf_release(&body);
	return status;
}

static json_t *check_of(json_t *doc, const char *name)
{
	return json_object_get(json_object_get(doc, "checks"), name);
}

static void test_health_slow_probe(void **state)
{
	const struct http_probe live[] = {
		{ "loop", check_always, NULL, 1, NULL },
	};
	const struct http_probe deps[] = {
		{ "database", check_slow, NULL, 0, NULL },
	};
	struct metrics *m = metrics_new();
	struct err e = ERR_INIT;
	struct health *h;
	json_t *j;
	int port, i;

	(void)state;
	atomic_store(&slow_ok, 1);
	h = health_start("127.0.0.1", 0, live, 1, deps, 1, m, &e);
	assert_non_null(h);
	port = health_port(h);
	assert_true(port > 0);

	/* the first probe is still running: down, not probed yet, at once */
	assert_int_equal(quick_get(port, "/healthz", &j), 503);
	assert_string_equal(json_string_value(json_object_get(
		check_of(j, "database"), "error")), "not probed yet");
	assert_true(json_is_null(json_object_get(check_of(j, "database"),
						 "age_ms")));
	json_decref(j);
	assert_int_equal(quick_get(port, "/livez", &j), 200);
	json_decref(j);

	/* once probed: up, with the age of the result; answers stay quick
	 * while the next probe blocks */
	for (i = 0; i < 100 && atomic_load(&slow_rounds) < 1; i++)
		usleep(100 * 1000);
	assert_int_equal(quick_get(port, "/healthz", &j), 200);
	assert_true(json_is_integer(json_object_get(check_of(j, "database"),
						    "age_ms")));
	assert_true(json_integer_value(json_object_get(check_of(j, "database"),
						       "age_ms")) < 3000);
	json_decref(j);

	/* the dependency fails: the next result says so */
	atomic_store(&slow_ok, 0);
	for (i = 0; i < 100 && atomic_load(&slow_rounds) < 3; i++)
		usleep(100 * 1000);
	assert_int_equal(quick_get(port, "/healthz", &j), 503);
	assert_string_equal(json_string_value(json_object_get(
		check_of(j, "database"), "error")), "database is locked");
	json_decref(j);
	assert_int_equal(quick_get(port, "/livez", &j), 200);
	json_decref(j);

	health_stop(h);
	metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_healthz),
		cmocka_unit_test(test_port_in_use),
		cmocka_unit_test(test_metrics_exposition),
		cmocka_unit_test(test_health_slow_probe),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
