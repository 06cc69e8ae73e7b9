/*
 * test_decode - base64 and percent decoders, and the payload scan: data:
 * URLs (base64 and percent), unescape, atob, fromCharCode, the minimum
 * length, the payload cap and the output cap.
 */
#include "fmacros.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "fetcher/decode.h"

static void test_decoders(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 0);
	assert_int_equal(decode_base64("PGI+aGk8L2I+", 12, &b), 9);
	assert_string_equal(b.data, "<b>hi</b>");
	buf_reset(&b);
	assert_int_equal(decode_base64("PGI+\naGk8L2I+==", 15, &b), 9);
	buf_reset(&b);
	assert_int_equal(decode_base64("PGI*", 4, &b), -1);
	buf_reset(&b);
	decode_percent("%3Cp%3Ex%u0041%u4e2d%", 21, &b);
	assert_string_equal(b.data, "<p>xA?%");
	buf_release(&b);
}

static int scan(const char *embedded, const char *scripts, struct buf *out, int *markup)
{
	*markup = 0;
	buf_reset(out);
	return decode_payloads(embedded, strlen(embedded), scripts, strlen(scripts), out, markup);
}

static void test_payloads(void **state)
{
	struct buf out;
	int markup;

	(void)state;
	buf_init(&out, 1 << 20);
	/* A base64 data: URL from a meta refresh: markup. */
	assert_int_equal(scan("0;url=data:text/html;base64,PGZvcm0+PGlucHV0IHR5cGU9cGFzc3dvcmQ+PC9mb3JtPg==\n",
			      "", &out, &markup), 1);
	assert_int_equal(markup, 1);
	assert_non_null(strstr(out.data, "<form><input type=password></form>"));

	/* document.write(unescape(...)) and a percent data: URL in script. */
	assert_int_equal(scan("", "document.write(unescape('%3Ctitle%3EHello there%3C/title%3E'));"
			      "location='data:text/html,%3Cp%3Ehidden page here%3C/p%3E';",
			      &out, &markup), 2);
	assert_int_equal(markup, 2);
	assert_non_null(strstr(out.data, "<title>Hello there</title>"));
	assert_non_null(strstr(out.data, "<p>hidden page here</p>"));

	/* fromCharCode of plain code: kept as script, not markup. */
	assert_int_equal(scan("", "eval(String.fromCharCode(108,111,99,97,116,105,111,110,46,104,"
			      "114,101,102,61,49,50))", &out, &markup), 1);
	assert_int_equal(markup, 0);
	assert_non_null(strstr(out.data, "<script>location.href=12</script>"));

	/* Short literals and random bytes: nothing, or not markup. */
	assert_int_equal(scan("", "atob('eA==');unescape('%41')", &out, &markup), 0);
	assert_int_equal(scan("", "atob('PAHx3P8A/wD/AP8A/wD/AP8A/wD/AP8A')", &out, &markup), 1);
	assert_int_equal(markup, 0);
	buf_release(&out);
}

static void test_caps(void **state)
{
	struct buf out, in;
	int markup, i;

	(void)state;
	buf_init(&in, 0);
	for (i = 0; i < 100; i++)
		buf_addstr(&in, "x=atob('PHA+YWJjZGVmZ2hpamtsbW5vcDwvcD4=');", NULL);
	buf_init(&out, 1 << 20);
	assert_int_equal(scan("", in.data, &out, &markup), DECODE_MAX_PAYLOADS);
	buf_release(&out);
	/* The output never passes its cap. */
	buf_init(&out, 100);
	scan("", in.data, &out, &markup);
	assert_true(out.len <= 100);
	buf_release(&out);
	buf_release(&in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decoders),
		cmocka_unit_test(test_payloads),
		cmocka_unit_test(test_caps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
