/* test_buf.c - buffer invariants, the hard cap (max and max+1), strvec. */
#include "fmacros.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "strvec.h"

static void test_init_invariants(void **state)
{
	struct buf b = BUF_INIT;
	char *p;
	size_t len = 99;

	(void)state;
	assert_non_null(b.data);
	assert_string_equal(b.data, "");
	p = buf_detach(&b, &len);
	assert_string_equal(p, "");
	assert_int_equal(len, 0);
	free(p);
	buf_release(&b);
	assert_string_equal(b.data, "");
}

static void test_add_and_detach(void **state)
{
	struct buf b = BUF_INIT;
	size_t len, i;
	char *p;

	(void)state;
	for (i = 0; i < 1000; i++)
		assert_int_equal(buf_addf(&b, NULL, "%zu,", i % 10), 0);
	assert_int_equal(b.len, 2000);
	assert_int_equal(b.data[b.len], '\0');
	assert_int_equal(strlen(b.data), 2000);
	buf_truncate(&b, 3);
	assert_string_equal(b.data, "0,1");
	p = buf_detach(&b, &len);
	assert_int_equal(len, 3);
	assert_string_equal(p, "0,1");
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	free(p);
}

static void test_cap_exact_and_over(void **state)
{
	struct buf b;
	struct err e = ERR_INIT;
	char chunk[10];

	(void)state;
	memset(chunk, 'a', sizeof(chunk));
	buf_init(&b, 20);
	assert_int_equal(buf_add(&b, chunk, 10, &e), 0);
	assert_int_equal(buf_add(&b, chunk, 10, &e), 0); /* exactly max */
	assert_int_equal(b.len, 20);
	assert_int_equal(buf_addch(&b, 'x', &e), -1); /* max + 1 */
	assert_int_equal(e.kind, ERR_INVALID);
	assert_non_null(strstr(e.msg, "20 byte limit"));
	assert_int_equal(b.len, 20); /* unchanged */
	assert_int_equal(b.data[20], '\0');
	buf_reset(&b);
	assert_int_equal(buf_addf(&b, &e, "%s", "0123456789012345678"), 0);
	assert_int_equal(buf_addf(&b, &e, "%s", "ab"), -1);
	assert_int_equal(b.len, 19);
	assert_string_equal(b.data, "0123456789012345678");
	buf_release(&b);
}

static void test_json_str(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	buf_add_json_str(&b, "a\"b\\c\n\x01\xc3\xa9\xff", 10, NULL);
	assert_string_equal(b.data, "a\\\"b\\\\c\\u000a\\u0001\xc3\xa9\xef\xbf\xbd");
	buf_reset(&b);
	/* an embedded NUL is escaped, not a terminator */
	buf_add_json_str(&b, "x\0y", 3, NULL);
	assert_string_equal(b.data, "x\\u0000y");
	buf_release(&b);
}

static void test_err_prefix_and_names(void **state)
{
	struct err e = ERR_INIT;
	char longp[400];

	(void)state;
	assert_int_equal(err_set(&e, ERR_UNAVAILABLE, "connect to '%s' failed",
				 "redis"), -1);
	err_prefix(&e, "queue");
	assert_string_equal(e.msg, "queue: connect to 'redis' failed");
	assert_int_equal(e.kind, ERR_UNAVAILABLE);
	assert_string_equal(err_kind_name(e.kind), "unavailable");
	assert_string_equal(err_kind_name(ERR_CONFLICT), "conflict");
	assert_string_equal(err_kind_name((enum err_kind)999), "unknown");
	memset(longp, 'p', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	err_prefix(&e, longp);
	assert_int_equal(strlen(e.msg), sizeof(e.msg) - 1);
	err_set_errno(&e, ERR_INTERNAL, 2, "open '%s'", "x");
	assert_string_equal(e.msg, "open 'x': No such file or directory");
	err_clear(&e);
	assert_int_equal(e.kind, ERR_NONE);
}

static void test_strvec(void **state)
{
	struct strvec v = STRVEC_INIT;
	int i;

	(void)state;
	assert_null(v.items[0]);
	for (i = 0; i < 100; i++)
		strvec_pushf(&v, "item-%d", i);
	strvec_push(&v, "last");
	assert_int_equal(v.nr, 101);
	assert_string_equal(v.items[42], "item-42");
	assert_string_equal(v.items[100], "last");
	assert_null(v.items[101]);
	strvec_clear(&v);
	assert_int_equal(v.nr, 0);
	assert_null(v.items[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_invariants),
		cmocka_unit_test(test_add_and_detach),
		cmocka_unit_test(test_cap_exact_and_over),
		cmocka_unit_test(test_json_str),
		cmocka_unit_test(test_err_prefix_and_names),
		cmocka_unit_test(test_strvec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
