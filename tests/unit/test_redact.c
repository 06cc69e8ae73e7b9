/* test_redact.c - credentials and query values masked in URLs in text. */
#include "fmacros.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "redact.h"

static const struct {
	const char *in, *out;
} cases[] = {
	{ "http://host/p", "http://host/p" },
	{ "http://user:pw@host/p?a=1&b=2#f", "http://***@host/p?a=***&b=***#f" },
	{ "https://a@b@host:8080/x?token", "https://***@host:8080/x?***" },
	{ "starting fetcher for http://u:p@h/?q=s3cret now", "starting fetcher for http://***@h/?q=*** now" },
	{ "cannot fetch 'http://h/?k=v': refused", "cannot fetch 'http://h/?k=***': refused" },
	{ "two: http://a:b@x/ and https://y/?z=1", "two: http://***@x/ and https://y/?z=***" },
	{ "http://evil.test\\@benign.test/?a=1", "http://evil.test\\@benign.test/?a=***" },
	{ "no url here: a=b?c", "no url here: a=b?c" },
	{ "://x@y", "://x@y" },
	{ "http://h/?a=&&b", "http://h/?a=***&&***" },
	{ "", "" },
};

static void test_cases(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b = BUF_INIT;

		redact_urls(cases[i].in, &b);
		if (strcmp(b.data, cases[i].out))
			fail_msg("'%s': expected '%s', got '%s'", cases[i].in, cases[i].out, b.data);
		buf_release(&b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
