/*
 * test_runtime_json - the engine reply parsers on replies captured from a
 * real engine (tests/fixtures/runtime, see capture.sh), malformed replies,
 * and the container create body with every SPEC section 6 setting.
 */
#include "fmacros.h"

#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "runtime.h"
#include "runtime_int.h"
#include "xalloc.h"

#include "fixture.h"

static void test_api_number(void **state)
{
	(void)state;
	assert_int_equal(runtime_json_api_number("1.41"), 1041);
	assert_int_equal(runtime_json_api_number("1.9"), 1009);
	assert_int_equal(runtime_json_api_number("1."), -1);
	assert_int_equal(runtime_json_api_number("v1.41"), -1);
	assert_int_equal(runtime_json_api_number("1.41x"), -1);
	assert_int_equal(runtime_json_api_number(NULL), -1);
}

static void test_api_choose(void **state)
{
	(void)state;
	assert_int_equal(runtime_api_choose(1041, 1012), 1041);
	assert_int_equal(runtime_api_choose(1045, 1024), 1041);
	assert_int_equal(runtime_api_choose(1040, 1012), 1040);
	assert_int_equal(runtime_api_choose(1030, 0), 1030);
	assert_int_equal(runtime_api_choose(1029, 1012), -1);
	assert_int_equal(runtime_api_choose(1047, 1044), -1);
}

static void test_version_and_info(void **state)
{
	struct err e = ERR_INIT;
	size_t len;
	char *v = fixture("runtime/version.json", &len);
	int max, min, ncpu;

	(void)state;
	assert_int_equal(runtime_json_version(v, len, &max, &min, &e), 0);
	assert_int_equal(max, 1041);
	assert_int_equal(min, 1012);
	free(v);
	v = fixture("runtime/info.json", &len);
	assert_int_equal(runtime_json_info(v, len, &ncpu, &e), 0);
	assert_true(ncpu >= 1);
	free(v);
	assert_int_equal(runtime_json_version("{}", 2, &max, &min, &e), -1);
	assert_int_equal(e.kind, ERR_UNAVAILABLE);
	assert_int_equal(runtime_json_info("[1]", 3, &ncpu, &e), -1);
	assert_int_equal(runtime_json_info("{\"NCPU\":0}", 10, &ncpu, &e), -1);
}

static void test_created(void **state)
{
	struct err e = ERR_INIT;
	char id[72];
	size_t len;
	char *v = fixture("runtime/create-mixed.json", &len);

	(void)state;
	assert_int_equal(runtime_json_created(v, len, id, sizeof(id), &e), 0);
	assert_int_equal(strlen(id), 64);
	free(v);
	assert_int_equal(runtime_json_created("{\"Id\":\"../x\"}", 13, id, sizeof(id), &e), -1);
	assert_int_equal(runtime_json_created("{\"Id\":\"\"}", 9, id, sizeof(id), &e), -1);
	assert_int_equal(runtime_json_created("not json", 8, id, sizeof(id), &e), -1);
}

static void check_wait_inspect(const char *name, int want_code, int want_oom)
{
	struct err e = ERR_INIT;
	char path[64];
	size_t len;
	char *v;
	int code = -1, oom = -1, exit_code = -1;

	snprintf(path, sizeof(path), "runtime/wait-%s.json", name);
	v = fixture(path, &len);
	assert_int_equal(runtime_json_wait(v, len, &code, &e), 0);
	assert_int_equal(code, want_code);
	free(v);
	snprintf(path, sizeof(path), "runtime/inspect-%s.json", name);
	v = fixture(path, &len);
	assert_int_equal(runtime_json_inspect(v, len, &oom, &exit_code, &e), 0);
	assert_int_equal(oom, want_oom);
	assert_int_equal(exit_code, want_code);
	free(v);
}

static void test_wait_and_inspect(void **state)
{
	static const char werr[] = "{\"Error\":{\"Message\":\"boom\"},\"StatusCode\":0}";
	struct err e = ERR_INIT;
	int code, oom, ec;

	(void)state;
	check_wait_inspect("mixed", 0, 0);
	check_wait_inspect("exit3", 3, 0);
	check_wait_inspect("oom", 137, 1);
	assert_int_equal(runtime_json_wait(werr, sizeof(werr) - 1, &code, &e), -1);
	assert_non_null(strstr(e.msg, "boom"));
	assert_int_equal(runtime_json_wait("{}", 2, &code, &e), -1);
	assert_int_equal(runtime_json_inspect("{\"State\":{}}", 12, &oom, &ec, &e), -1);
}

static void test_events(void **state)
{
	static const char junk[] = "not json\n{\"Action\":\"die\"}\n{\"Action\":\"oom\"}";
	size_t len;
	char *v = fixture("runtime/events-oom.ndjson", &len);

	(void)state;
	assert_true(runtime_json_has_event(v, len, "oom"));
	assert_true(runtime_json_has_event(v, len, "die"));
	free(v);
	v = fixture("runtime/events-exit3.ndjson", &len);
	assert_false(runtime_json_has_event(v, len, "oom"));
	assert_true(runtime_json_has_event(v, len, "start"));
	free(v);
	assert_true(runtime_json_has_event(junk, sizeof(junk) - 1, "oom"));
	assert_false(runtime_json_has_event(junk, sizeof(junk) - 2, "oom"));
	assert_false(runtime_json_has_event("", 0, "oom"));
}

static void test_containers(void **state)
{
	static const char list[] =
		"[{\"Id\":\"aa\",\"Labels\":{\"safeurl.worker\":\"w1\",\"safeurl.host\":\"h\",\"safeurl.pid\":\"42\",\"safeurl.pidns\":\"pid:[7]\"}},"
		"{\"Id\":\"bb\",\"Labels\":{\"safeurl.pid\":\"42x\"}},{\"Names\":[]},"
		"{\"Id\":\"cc\"}]";
	struct rt_listed *l;
	struct err e = ERR_INIT;
	size_t n, len;
	char *v = fixture("runtime/containers.json", &len);

	(void)state;
	assert_int_equal(runtime_json_containers(v, len, &l, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_string_equal(l[0].worker, "fixture");
	assert_null(l[0].host);
	assert_int_equal(l[0].pid, 0);
	runtime_json_listed_free(l, n);
	free(v);
	assert_int_equal(runtime_json_containers(list, sizeof(list) - 1, &l, &n, &e), 0);
	assert_int_equal(n, 3);
	assert_string_equal(l[0].id, "aa");
	assert_string_equal(l[0].host, "h");
	assert_int_equal(l[0].pid, 42);
	assert_string_equal(l[0].pidns, "pid:[7]");
	assert_null(l[1].pidns);
	assert_int_equal(l[1].pid, 0);
	assert_null(l[2].worker);
	runtime_json_listed_free(l, n);
	assert_int_equal(runtime_json_containers("{}", 2, &l, &n, &e), -1);
}

static void test_message(void **state)
{
	char msg[64];
	size_t len;
	char *v = fixture("runtime/error-no-image.json", &len);

	(void)state;
	runtime_json_message(v, len, msg, sizeof(msg));
	assert_non_null(strstr(msg, "no such image"));
	free(v);
	runtime_json_message("garbage", 7, msg, sizeof(msg));
	assert_string_equal(msg, "");
}

/* Engine error replies become kinds by status, with the engine's words. */
static void test_engine_error(void **state)
{
	static const struct {
		long status;
		enum err_kind kind;
	} cases[] = {
		{ 400, ERR_INTERNAL }, { 404, ERR_NOT_FOUND }, { 409, ERR_CONFLICT },
		{ 500, ERR_UNAVAILABLE }, { 503, ERR_UNAVAILABLE },
		{ 418, ERR_UNAVAILABLE },
	};
	struct buf reply = BUF_INIT;
	struct err e = ERR_INIT;
	size_t i;

	(void)state;
	buf_addstr(&reply, "{\"message\":\"engine says no\"}", NULL);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(rt_engine_error(cases[i].status, &reply, "start", &e), -1);
		assert_int_equal(e.kind, cases[i].kind);
		assert_non_null(strstr(e.msg, "start: engine answered"));
		assert_non_null(strstr(e.msg, "engine says no"));
	}
	buf_release(&reply);
}

static struct runtime test_rt(void)
{
	static char worker[] = "w-1", host[] = "host-a", pidns[] = "pid:[4026531836]";
	struct runtime rt;

	memset(&rt, 0, sizeof(rt));
	rt.worker_id = worker;
	rt.host = host;
	rt.pid = 4242;
	rt.pidns = pidns;
	return rt;
}

static void test_create_body(void **state)
{
	static const char *const cmd[] = { "--max-redirects", "5", "https://example.com/", NULL };
	static const char *const env[] = { "A=1", NULL };
	struct runtime rt = test_rt();
	struct runtime_spec spec;
	struct buf body = BUF_INIT;
	struct err e = ERR_INIT;
	json_t *doc, *hc;

	(void)state;
	memset(&spec, 0, sizeof(spec));
	spec.image = "safeurl-fetcher:latest";
	spec.cmd = cmd;
	spec.env = env;
	spec.job_id = "job-7";
	spec.network_mode = "none";
	spec.user = RUNTIME_USER;
	spec.memory_mb = 512;
	spec.cpus = 0.5;
	spec.pids_limit = 64;
	spec.tmpfs_mb = 16;
	assert_int_equal(runtime_json_create_body(&rt, &spec, &body, &e), 0);
	doc = json_loadb(body.data, body.len, 0, NULL);
	assert_non_null(doc);
	assert_string_equal(json_string_value(json_object_get(doc, "Image")), "safeurl-fetcher:latest");
	assert_string_equal(json_string_value(json_array_get(json_object_get(doc, "Cmd"), 2)), "https://example.com/");
	assert_string_equal(json_string_value(json_array_get(json_object_get(doc, "Env"), 0)), "A=1");
	assert_string_equal(json_string_value(json_object_get(doc, "User")), "65534:65534");
	assert_true(json_is_false(json_object_get(doc, "Tty")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "Labels"), "safeurl.job")), "job-7");
	assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "Labels"), "safeurl.worker")), "w-1");
	assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "Labels"), "safeurl.host")), "host-a");
	assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "Labels"), "safeurl.pid")), "4242");
	assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "Labels"), "safeurl.pidns")), "pid:[4026531836]");
	hc = json_object_get(doc, "HostConfig");
	assert_int_equal(json_integer_value(json_object_get(hc, "Memory")), 512LL << 20);
	assert_int_equal(json_integer_value(json_object_get(hc, "MemorySwap")), 512LL << 20);
	assert_int_equal(json_integer_value(json_object_get(hc, "NanoCpus")), 500000000);
	assert_int_equal(json_integer_value(json_object_get(hc, "PidsLimit")), 64);
	assert_true(json_is_true(json_object_get(hc, "ReadonlyRootfs")));
	assert_true(json_is_false(json_object_get(hc, "AutoRemove")));
	assert_true(json_is_false(json_object_get(hc, "Privileged")));
	assert_string_equal(json_string_value(json_array_get(json_object_get(hc, "CapDrop"), 0)), "ALL");
	assert_string_equal(json_string_value(json_array_get(json_object_get(hc, "SecurityOpt"), 0)), "no-new-privileges");
	{
		/* The sandbox's allow-list as the engine's seccomp profile. */
		const char *opt = json_string_value(json_array_get(json_object_get(hc, "SecurityOpt"), 1));
		json_t *prof, *rules, *r;
		size_t i;
		int sockets = 0;

		assert_non_null(opt);
		assert_int_equal(strncmp(opt, "seccomp=", 8), 0);
		prof = json_loads(opt + 8, 0, NULL);
		assert_non_null(prof);
		assert_string_equal(json_string_value(json_object_get(prof, "defaultAction")), "SCMP_ACT_ERRNO");
		rules = json_object_get(prof, "syscalls");
		json_array_foreach(rules, i, r) {
			const char *name = json_string_value(json_array_get(json_object_get(r, "names"), 0));
			json_t *a0 = json_array_get(json_object_get(r, "args"), 0);

			if (strcmp(name, "socket"))
				continue;
			sockets++;
			assert_string_equal(json_string_value(json_object_get(a0, "op")), "SCMP_CMP_MASKED_EQ");
			assert_int_equal(json_integer_value(json_object_get(a0, "value")), 0xffffffffLL);
		}
		assert_int_equal(sockets, 9);
		json_decref(prof);
	}
	assert_string_equal(json_string_value(json_object_get(json_object_get(hc, "Tmpfs"), "/tmp")),
			    "rw,noexec,nosuid,nodev,size=16m");
	assert_string_equal(json_string_value(json_object_get(hc, "NetworkMode")), "none");
	assert_string_equal(json_string_value(json_object_get(json_object_get(hc, "LogConfig"), "Type")), "none");
	assert_null(json_object_get(json_object_get(doc, "Labels"), "safeurl.role"));
	assert_null(json_object_get(hc, "Dns"));
	json_decref(doc);
	buf_release(&body);
	spec.network_mode = NULL;
	assert_int_equal(runtime_json_create_body(&rt, &spec, &body, &e), -1);
	buf_release(&body);
}

/* The network holder's create body: role label and resolvers. */
static void test_holder_body(void **state)
{
	static const char *const cmd[] = { "--hold", NULL };
	static const char *const dns[] = { "10.0.2.3", NULL };
	struct runtime rt = test_rt();
	struct runtime_spec spec;
	struct buf body = BUF_INIT;
	struct err e = ERR_INIT;
	json_t *doc, *hc;

	(void)state;
	memset(&spec, 0, sizeof(spec));
	spec.image = "safeurl-fetcher:latest";
	spec.cmd = cmd;
	spec.job_id = "";
	spec.network_mode = "none";
	spec.user = RUNTIME_USER;
	spec.memory_mb = 32;
	spec.cpus = 0.1;
	spec.pids_limit = 4;
	spec.tmpfs_mb = 16;
	spec.role = RUNTIME_ROLE_EGRESS;
	spec.dns = dns;
	assert_int_equal(runtime_json_create_body(&rt, &spec, &body, &e), 0);
	doc = json_loadb(body.data, body.len, 0, NULL);
	assert_non_null(doc);
	assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "Labels"), "safeurl.role")), "egress-holder");
	assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "Labels"), "safeurl.worker")), "w-1");
	hc = json_object_get(doc, "HostConfig");
	assert_string_equal(json_string_value(json_array_get(json_object_get(hc, "Dns"), 0)), "10.0.2.3");
	assert_int_equal(json_array_size(json_object_get(hc, "Dns")), 1);
	assert_string_equal(json_string_value(json_object_get(hc, "NetworkMode")), "none");
	json_decref(doc);
	buf_release(&body);
}

static void test_state(void **state)
{
	static const char running[] = "{\"State\":{\"Running\":true,\"Pid\":4321,\"ExitCode\":0}}";
	static const char exited[] = "{\"State\":{\"Running\":false,\"Pid\":0,\"ExitCode\":64}}";
	struct err e = ERR_INIT;
	int run = -1, code = -1;
	long pid = -1;

	(void)state;
	assert_int_equal(runtime_json_state(running, strlen(running), &run, &pid, &code, &e), 0);
	assert_int_equal(run, 1);
	assert_int_equal(pid, 4321);
	assert_int_equal(code, 0);
	assert_int_equal(runtime_json_state(exited, strlen(exited), &run, &pid, &code, &e), 0);
	assert_int_equal(run, 0);
	assert_int_equal(pid, 0);
	assert_int_equal(code, 64);
	assert_int_equal(runtime_json_state("{\"State\":{\"Running\":true}}", 26, &run, &pid, &code, &e), -1);
	assert_non_null(strstr(e.msg, "State.Running"));
	assert_int_equal(runtime_json_state("[]", 2, &run, &pid, &code, &e), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_api_number),
		cmocka_unit_test(test_api_choose),
		cmocka_unit_test(test_version_and_info),
		cmocka_unit_test(test_created),
		cmocka_unit_test(test_wait_and_inspect),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_containers),
		cmocka_unit_test(test_message),
		cmocka_unit_test(test_engine_error),
		cmocka_unit_test(test_create_body),
		cmocka_unit_test(test_holder_body),
		cmocka_unit_test(test_state),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
