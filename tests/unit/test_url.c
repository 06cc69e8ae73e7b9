/*
 * test_url.c - the URL Standard parser: the cases where browsers and
 * RFC 3986 part ways, each failure's name, the host parser's forms, and
 * what a base does. (The differential test against Node's URL covers the
 * generated corpus; these rows name the behaviours one by one.)
 */
#include "fmacros.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "err.h"
#include "fetcher/url.h"

static const struct {
	const char *in, *base;
	int rc;
	const char *out; /* href, or the failure's name */
	const char *host;
} cases[] = {
	{ "http://evil.test\\@benign.test/", NULL, 0, "http://evil.test/@benign.test/", "evil.test" },
	{ "http://evil.test:80\\@benign.test/", NULL, 0, "http://evil.test/@benign.test/", "evil.test" },
	{ "http://evil.test:\\@benign.test/", NULL, 0, "http://evil.test/@benign.test/", "evil.test" },
	{ "http://evil.test\\\\@benign.test/", NULL, 0, "http://evil.test//@benign.test/", "evil.test" },
	{ "/\\evil.test/", "http://benign.test/", 0, "http://evil.test/", "evil.test" },
	{ "/\\/evil.test/", "http://benign.test/", 0, "http://evil.test/", "evil.test" },
	{ "\\\\evil.test\\", "http://benign.test/", 0, "http://evil.test/", "evil.test" },
	{ "http:/evil.test/", "http://benign.test/", 0, "http://benign.test/evil.test/", "benign.test" },
	{ "https:/evil.test/", "http://benign.test/", 0, "https://evil.test/", "evil.test" },
	{ "http:evil.test/", NULL, 0, "http://evil.test/", "evil.test" },
	{ "http://ev\til.test/", NULL, 0, "http://evil.test/", "evil.test" },
	{ " \x01 http://evil.test/ \n", NULL, 0, "http://evil.test/", "evil.test" },
	{ "http://u:p@a@b.test/", NULL, 0, "http://u:p%40a@b.test/", "b.test" },
	{ "HTTP://EX%41mple.COM:80/a/./b/../%2e%2E/c?q r#f g", NULL, 0,
	  "http://example.com/c?q%20r#f%20g", "example.com" },
	{ "http://\xef\xbc\xa5\xef\xbc\xb8\xe3\x80\x82" "com/", NULL, 0, "http://ex.com/", "ex.com" },
	{ "http://b\xc3\xbc" "cher.de/", NULL, 0, "http://xn--bcher-kva.de/", "xn--bcher-kva.de" },
	{ "http://0x7f.1/", NULL, 0, "http://127.0.0.1/", "127.0.0.1" },
	{ "http://2130706433./", NULL, 0, "http://127.0.0.1/", "127.0.0.1" },
	{ "http://[::FFFF:127.0.0.1]:443/", NULL, 0, "http://[::ffff:7f00:1]:443/", "[::ffff:7f00:1]" },
	{ "https://h:443/", NULL, 0, "https://h/", "h" },
	{ "?x", "https://h/a/b?q#f", 0, "https://h/a/b?x", "h" },
	{ "#y", "https://h/a/b?q#f", 0, "https://h/a/b?q#y", "h" },
	{ "../c", "https://h/a/b", 0, "https://h/c", "h" },
	{ "", "https://h/a?q#f", 0, "https://h/a?q", "h" },
	{ "http://h/'\"<>`{}|^", NULL, 0, "http://h/'%22%3C%3E%60%7B%7D|^", "h" },
	{ "http://h/?'\"<>`", NULL, 0, "http://h/?%27%22%3C%3E`", "h" },
	{ "http://\xff/", NULL, -1, "domain-to-ASCII", NULL },
	{ "evil.test", NULL, -1, "missing-scheme-non-relative-URL", NULL },
	{ "http://", NULL, -1, "host-missing", NULL },
	{ "http://user@/", NULL, -1, "host-missing", NULL },
	{ "http://h:8o/", NULL, -1, "port-invalid", NULL },
	{ "http://h:65536/", NULL, -1, "port-out-of-range", NULL },
	{ "http://a b/", NULL, -1, "domain-invalid-code-point", NULL },
	{ "http://a%00b/", NULL, -1, "domain-invalid-code-point", NULL },
	{ "http://a%25b/", NULL, -1, "domain-invalid-code-point", NULL },
	{ "http://\xc2\xad/", NULL, -1, "domain-to-ASCII", NULL },
	{ "http://1.2.3.4.5/", NULL, -1, "IPv4-too-many-parts", NULL },
	{ "http://1.2.3.256/", NULL, -1, "IPv4-out-of-range-part", NULL },
	{ "http://0x7g.1/", NULL, -1, "IPv4-non-numeric-part", NULL },
	{ "http://[::1/", NULL, -1, "IPv6-unclosed", NULL },
	{ "http://[1::2::3]/", NULL, -1, "IPv6-multiple-compression", NULL },
	{ "http://[1:2]/", NULL, -1, "IPv6-too-few-pieces", NULL },
	{ "http://[fe80::1%25lo]/", NULL, -1, "IPv6-invalid-code-point", NULL },
	{ "http://[::1.2.3]/", NULL, -1, "IPv4-in-IPv6-too-few-parts", NULL },
	{ "ftp://h/", NULL, URL_UNSUPPORTED, "", NULL },
	{ "javascript:alert(1)", "http://h/", URL_UNSUPPORTED, "", NULL },
};

static void test_cases(void **state)
{
	struct url u;
	struct url b;
	struct err e = ERR_INIT;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].base)
			assert_int_equal(url_parse(&b, cases[i].base, NULL, &e), 0);
		rc = url_parse(&u, cases[i].in, cases[i].base ? &b : NULL, &e);
		if (rc != cases[i].rc)
			fail_msg("'%s': expected %d, got %d (%s)", cases[i].in, cases[i].rc, rc, e.msg);
		if (rc == 0) {
			if (strcmp(u.href, cases[i].out) || strcmp(u.host, cases[i].host))
				fail_msg("'%s': got '%s' host '%s'", cases[i].in, u.href, u.host);
			url_release(&u);
		} else if (rc < 0) {
			if (strcmp(u.failure, cases[i].out))
				fail_msg("'%s': failure '%s', expected '%s'", cases[i].in, u.failure, cases[i].out);
			assert_int_equal(e.kind, ERR_INVALID);
			assert_non_null(strstr(e.msg, cases[i].out));
		}
		if (cases[i].base)
			url_release(&b);
	}
}

static void test_ports_and_disguise(void **state)
{
	struct url u;
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(url_parse(&u, "https://h:8443/", NULL, &e), 0);
	assert_int_equal(u.port, 8443);
	assert_int_equal(url_port(&u), 8443);
	url_release(&u);
	assert_int_equal(url_parse(&u, "http://h/", NULL, &e), 0);
	assert_int_equal(u.port, -1);
	assert_int_equal(url_port(&u), 80);
	assert_int_equal(u.host_disguised, 0);
	url_release(&u);
	assert_int_equal(url_parse(&u, "http://127.1/", NULL, &e), 0);
	assert_int_equal(u.host_type, URL_HOST_IPV4);
	assert_int_equal(u.host_disguised, 1);
	assert_memory_equal(u.ip, "\x7f\0\0\x01", 4);
	url_release(&u);
	assert_int_equal(url_parse(&u, "http://127.0.0.1/", NULL, &e), 0);
	assert_int_equal(u.host_disguised, 0);
	url_release(&u);
}

static void test_too_long(void **state)
{
	char *s = malloc(URL_MAX_INPUT + 2);
	struct url u;
	struct err e = ERR_INIT;

	(void)state;
	memcpy(s, "http://h/", 9);
	memset(s + 9, 'a', URL_MAX_INPUT - 9);
	s[URL_MAX_INPUT] = '\0';
	assert_int_equal(url_parse(&u, s, NULL, &e), 0); /* max */
	url_release(&u);
	s[URL_MAX_INPUT] = 'a';
	s[URL_MAX_INPUT + 1] = '\0';
	assert_int_equal(url_parse(&u, s, NULL, &e), -1); /* max + 1 */
	assert_non_null(strstr(e.msg, "url-too-long"));
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_ports_and_disguise),
		cmocka_unit_test(test_too_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
