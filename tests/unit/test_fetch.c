/*
 * test_fetch - the pure parts of fetch: defaults and the --resolve
 * HOST:PORT:ADDR test hook (both sides of each field's rules), and
 * header lookup. Transfers are covered by the integration tests.
 */
#include "fmacros.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "err.h"
#include "strvec.h"
#include "fetcher/fetch.h"

static void test_defaults(void **state)
{
	struct fetch_opts o;
	struct netguard_block why;

	(void)state;
	fetch_opts_init(&o);
	assert_int_equal(o.max_redirects, 5);
	assert_int_equal(o.timeout_ms, 20000);
	assert_int_equal(o.policy.nallow, 0);
	assert_int_equal(netguard_check_port(&o.policy, 443, &why), 0);
	assert_int_equal(netguard_check_port(&o.policy, 6379, &why), -1);
	fetch_opts_release(&o);
}

static const struct {
	const char *spec;
	int ok;
} specs[] = {
	{ "a.test:80:127.0.0.1", 1 },   { "a.test:65535:10.0.0.1", 1 },
	{ "a.test:1:[::1]", 1 },        { "a.test:443:::1", 1 },
	{ "a.test:0:127.0.0.1", 0 },    { "a.test:65536:127.0.0.1", 0 },
	{ ":80:127.0.0.1", 0 },         { "a.test::127.0.0.1", 0 },
	{ "a.test:80:", 0 },            { "a.test:80:name.test", 0 },
	{ "a.test:80", 0 },             { "a.test", 0 },
	{ "a.test:80x:127.0.0.1", 0 },  { "a.test:80:127.1", 0 },
	{ "a.test:80:[::1", 0 },
};

static void test_resolve_specs(void **state)
{
	struct fetch_opts o;
	struct err e = ERR_INIT;
	size_t i, want = 0;
	int rc;

	(void)state;
	fetch_opts_init(&o);
	for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		rc = fetch_opts_add_resolve(&o, specs[i].spec, &e);
		if ((rc == 0) != specs[i].ok)
			fail_msg("%s: rc %d", specs[i].spec, rc);
		want += specs[i].ok;
		if (rc)
			assert_int_equal(e.kind, ERR_INVALID);
	}
	assert_int_equal(o.resolve.nr, want);
	fetch_opts_release(&o);
}

static void test_header_lookup(void **state)
{
	struct fetch_result r;

	(void)state;
	memset(&r, 0, sizeof(r));
	strvec_init(&r.headers);
	strvec_push(&r.headers, "content-type: text/html");
	strvec_push(&r.headers, "content-type-x: no");
	strvec_push(&r.headers, "location: /next");
	assert_string_equal(fetch_header(&r, "content-type"), "text/html");
	assert_string_equal(fetch_header(&r, "location"), "/next");
	assert_null(fetch_header(&r, "content"));
	assert_null(fetch_header(&r, "refresh"));
	fetch_result_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_resolve_specs),
		cmocka_unit_test(test_header_lookup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
