/*
 * test_yrules - user YARA rules: compiled here with libyara's compiler
 * (as yarac does), saved, loaded by the fetcher's loader; matches on the
 * body and on decoded content become YARA_MATCH reasons with the rule's
 * weight (default when absent, clamped to 0..100); bad files are refused
 * with a message naming them.
 */
#include "fmacros.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yara.h>
#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "strvec.h"
#include "fetcher/analyze.h"
#include "fetcher/fetch.h"
#include "fetcher/yrules.h"

static const char source[] =
	"rule weighted { meta: weight = 40 strings: $a = \"kit-marker-one\" condition: $a }\n"
	"rule unweighted { strings: $a = \"kit-marker-two\" condition: $a }\n"
	"rule heavy { meta: weight = 500 strings: $a = \"kit-marker-three\" condition: $a }\n"
	"rule decoded_only { meta: weight = 30 strings: $a = \"<form id=hidden-login>\" condition: $a }\n";

static char compiled[] = "/tmp/test_yrules_XXXXXX";

static int setup(void **state)
{
	YR_COMPILER *c = NULL;
	YR_RULES *r = NULL;
	int fd = mkstemp(compiled);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(yr_initialize(), ERROR_SUCCESS);
	assert_int_equal(yr_compiler_create(&c), ERROR_SUCCESS);
	assert_int_equal(yr_compiler_add_string(c, source, NULL), 0);
	assert_int_equal(yr_compiler_get_rules(c, &r), ERROR_SUCCESS);
	assert_int_equal(yr_rules_save(r, compiled), ERROR_SUCCESS);
	yr_rules_destroy(r);
	yr_compiler_destroy(c);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(compiled);
	return 0;
}

static void test_scan(void **state)
{
	struct yrules *y;
	struct err e;
	struct yrules_match m[4];
	size_t nm = 0;
	const char *body = "kit-marker-three kit-marker-one kit-marker-two kit-marker-one";

	(void)state;
	assert_int_equal(yrules_load(&y, compiled, &e), 0);
	assert_int_equal(yrules_scan(y, body, strlen(body), m, &nm, 4), 0);
	assert_int_equal(nm, 3);
	assert_string_equal(m[0].rule, "weighted");
	assert_int_equal(m[0].weight, 40);
	assert_string_equal(m[1].rule, "unweighted");
	assert_int_equal(m[1].weight, YRULES_DEFAULT_WEIGHT);
	assert_string_equal(m[2].rule, "heavy");
	assert_int_equal(m[2].weight, 100);
	/* A second scan adds no rule twice; the cap holds. */
	assert_int_equal(yrules_scan(y, body, strlen(body), m, &nm, 4), 0);
	assert_int_equal(nm, 3);
	nm = 0;
	yrules_scan(y, body, strlen(body), m, &nm, 1);
	assert_int_equal(nm, 1);
	yrules_free(y);
}

static void test_bad_files(void **state)
{
	struct yrules *y;
	struct err e;
	char src[] = "/tmp/test_yrules_src_XXXXXX";
	int fd = mkstemp(src);

	(void)state;
	assert_int_equal(yrules_load(&y, "/nonexistent/rules.yarc", &e), -1);
	assert_string_equal(e.msg, "yara rules '/nonexistent/rules.yarc': cannot open the file");
	/* Source, not compiled rules. */
	assert_true(fd >= 0);
	assert_int_equal(write(fd, source, strlen(source)), (ssize_t)strlen(source));
	close(fd);
	assert_int_equal(yrules_load(&y, src, &e), -1);
	assert_int_equal(e.kind, ERR_INVALID);
	assert_non_null(strstr(e.msg, "not compiled rules of this libyara (compile them with yarac"));
	unlink(src);
}

static void test_reasons(void **state)
{
	struct analyze_lists l;
	struct fetch_result r;
	struct analysis a;
	struct err e;
	/* <form id=hidden-login></form>, behind a data: URL refresh. */
	const char *body = "<p>kit-marker-one</p><meta http-equiv=refresh content='0;url=data:text/html;"
			   "base64,PGZvcm0gaWQ9aGlkZGVuLWxvZ2luPjwvZm9ybT4='>";
	size_t i;
	int seen = 0;

	(void)state;
	analyze_lists_init(&l);
	assert_int_equal(analyze_lists_load_yara(&l, compiled, &e), 0);
	memset(&r, 0, sizeof(r));
	strvec_init(&r.headers);
	strvec_push(&r.headers, "content-type: text/html");
	buf_init(&r.body, 0);
	buf_addstr(&r.body, body, NULL);
	r.final_url = strdup("https://www.example.com/");
	r.http_status = 200;
	analyze_run(&r, r.final_url, &l, &a);
	for (i = 0; i < a.nreasons; i++)
		if (!strcmp(a.reasons[i].rule->code, "YARA_MATCH")) {
			seen++;
			if (!strcmp(a.reasons[i].detail, "weighted"))
				assert_int_equal(a.reasons[i].rule->weight, 40);
			else
				assert_string_equal(a.reasons[i].detail, "decoded_only");
		}
	assert_int_equal(seen, 2);
	/* 40 + 30 + meta refresh 10 + encoded document 25 */
	assert_int_equal(a.score, 100);
	assert_string_equal(a.verdict, "malicious");
	analyze_release(&a);
	fetch_result_release(&r);
	analyze_lists_release(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scan),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_reasons),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
