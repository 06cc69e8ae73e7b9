/*
 * test_brand - the brand table parser (rows, errors naming file and line),
 * whole-word look-alike matching, referrals, ownership by domain and the
 * claim score on small pages of our own.
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

#include "err.h"
#include "fetcher/brand.h"
#include "fetcher/html.h"

static void test_parse(void **state)
{
	struct brand_table t;
	struct err e = ERR_INIT;
	const char *ok = "# comment\n\nacme\tAcme Bank, ACME Online\tacme.example,acme-cdn.example\r\n";

	(void)state;
	brand_table_init(&t);
	assert_int_equal(brand_table_parse(&t, ok, strlen(ok), "x.tsv", &e), 0);
	assert_int_equal(t.n, 1);
	assert_string_equal(t.v[0].name, "acme");
	assert_int_equal(t.v[0].words.nr, 2);
	assert_string_equal(t.v[0].words.items[1], "acme online");
	assert_string_equal(t.v[0].domains.items[1], "acme-cdn.example");

	assert_int_equal(brand_table_parse(&t, "a\tb\n", 4, "x.tsv", &e), -1);
	assert_int_equal(e.kind, ERR_INVALID);
	assert_string_equal(e.msg, "brands: x.tsv:1: 'a\tb': expected 3 tab-separated fields "
				   "(name, words, domains)");
	assert_int_equal(brand_table_parse(&t, "\n z\t \tx.example", strlen("\n z\t \tx.example"),
					   "y.tsv", &e), -1);
	assert_non_null(strstr(e.msg, "y.tsv:2: brand ' z': name, words and domains must not be empty"));
	assert_int_equal(t.n, 1);
	brand_table_release(&t);

	assert_int_equal(brand_table_load(&t, "/nonexistent/brands.tsv", &e), -1);
	assert_non_null(strstr(e.msg, "cannot open brands file '/nonexistent/brands.tsv'"));
}

static void test_builtin_table(void **state)
{
	const struct brand_table *t = brand_default();
	size_t i;
	int paypal = 0;

	(void)state;
	assert_true(t->n >= 20);
	for (i = 0; i < t->n; i++)
		if (!strcmp(t->v[i].name, "paypal")) {
			paypal = 1;
			assert_true(brand_owns(&t->v[i], "www.paypal.com", "paypal.com"));
			assert_true(brand_owns(&t->v[i], "www.paypalobjects.com", "paypalobjects.com"));
			assert_false(brand_owns(&t->v[i], "paypal.com.evil.example", "evil.example"));
			assert_false(brand_owns(&t->v[i], "notpaypal.com", "notpaypal.com"));
		}
	assert_true(paypal);
}

static void test_mentions(void **state)
{
	const char *s = "Log in to PayPaI. Use Paypal-Pay; not paypally, Sign in with PayPal";

	(void)state;
	/* "PayPaI" (capital i) folds to paypal; "paypally" is another word. */
	assert_int_equal(brand_mentions(s, strlen(s), "paypal", 0), 3);
	/* "with PayPal" is a referral. */
	assert_int_equal(brand_mentions(s, strlen(s), "paypal", 1), 2);
	assert_int_equal(brand_mentions("G00GLE", 6, "google", 0), 1);
	assert_int_equal(brand_mentions("purchase", 8, "chase", 0), 0);
	assert_int_equal(brand_mentions("bank of  america", 16, "bank of america", 0), 0);
}

static int claim(const char *html, const char *host, const char *reg, struct brand_hit *hit)
{
	struct html_facts f;
	int rc;

	html_scan(html, strlen(html), &f);
	rc = brand_claim(brand_default(), &f, host, reg, hit);
	html_facts_release(&f);
	return rc;
}

static void test_claim(void **state)
{
	struct brand_hit hit;

	(void)state;
	/* The title names the brand: claimed off its domains, not on them. */
	assert_true(claim("<title>Sign in - Netflix</title><p>Welcome back</p>",
			  "login.example.org", "example.org", &hit));
	assert_string_equal(hit.brand->name, "netflix");
	assert_string_equal(hit.evidence, "title");
	assert_false(claim("<title>Sign in - Netflix</title>", "www.netflix.com", "netflix.com", &hit));

	/* Numeric references in the title are decoded first. */
	assert_true(claim("<title>&#68;&#114;&#111;&#112;&#98;&#111;&#120;</title>",
			  "x.example", "x.example", &hit));
	assert_string_equal(hit.brand->name, "dropbox");

	/* A logo element's label, a hot-linked brand image plus text. */
	assert_true(claim("<i class='nav-logo' aria-label='Spotify'></i>", "x.example",
			  "x.example", &hit));
	assert_string_equal(hit.brand->name, "spotify");
	assert_true(claim("<img src='https://i.ebayimg.com/a.png'><p>eBay seller, eBay buyer</p>",
			  "x.example", "x.example", &hit));
	assert_string_equal(hit.brand->name, "ebay");
	assert_true(hit.strength >= 4);

	/* Text and "sign in with" buttons alone claim nothing. */
	assert_false(claim("<title>Acme portal</title><form><button>Sign in with Google</button>"
			   "<p>Google Google Google</p></form>", "x.example", "x.example", &hit));
	/* Nor does a tiny favicon of a CDN-hosted library. */
	assert_false(claim("<title>Docs</title><link rel=icon href=/favicon.ico>", "x.example",
			   "x.example", &hit));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_builtin_table),
		cmocka_unit_test(test_mentions),
		cmocka_unit_test(test_claim),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
