/*
 * test_html - the HTML tokenizer: facts from well-formed and hostile
 * markup, and every prefix of a page scanned without reading past it.
 */
#include "fmacros.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fetcher/html.h"

static void scan(const char *s, struct html_facts *f)
{
	html_scan(s, strlen(s), f);
}

static void test_title_and_forms(void **state)
{
	struct html_facts f;

	(void)state;
	scan("<!DOCTYPE html><HTML><head><TITLE>  Sign\n in  </title></head>"
	     "<form action='https://x.example/p' method=post>"
	     "<input type=text name=u><INPUT TYPE=\"Password\" name=p></form>"
	     "<form><input type=password></form><input type=password>", &f);
	assert_string_equal(f.title, "Sign in");
	assert_int_equal(f.forms, 2);
	assert_int_equal(f.nform, 2);
	assert_string_equal(f.form[0].action, "https://x.example/p");
	assert_int_equal(f.form[0].passwords, 1);
	assert_string_equal(f.form[1].action, "");
	assert_int_equal(f.form[1].passwords, 1);
	assert_int_equal(f.password_fields, 3);
	html_facts_release(&f);
}

/* Character references and tabs cannot hide a form's target or type. */
static void test_references(void **state)
{
	struct html_facts f;

	(void)state;
	scan("<form action=\"https&#58;//evil&period;example&#x2F;p\">"
	     "<input type=\"pass&#119;ord\"></form>"
	     "<form action='ht\ttp&colon;&sol;/x.example/&amp;&#;&#xZ;&unknown;&#128512;'>"
	     "</form><script src='&#x2f;&#x2F;cdn.example/a.js'></script>", &f);
	assert_string_equal(f.form[0].action, "https://evil.example/p");
	assert_int_equal(f.form[0].passwords, 1);
	assert_string_equal(f.form[1].action, "http://x.example/&&#;&#xZ;&unknown;?");
	assert_string_equal(f.script_src[0], "//cdn.example/a.js");
	html_facts_release(&f);
}

static const struct {
	const char *html;
	int hidden;
} iframes[] = {
	{ "<iframe src=x width=0 height=0></iframe>", 1 },
	{ "<iframe src=x width=\"1px\"></iframe>", 1 },
	{ "<iframe src=x style=\"DISPLAY : none\"></iframe>", 1 },
	{ "<iframe src=x style='visibility:hidden'></iframe>", 1 },
	{ "<iframe hidden src=x></iframe>", 1 },
	{ "<iframe src=x width=600 height=400></iframe>", 0 },
	{ "<iframe src=x width=10></iframe>", 0 },
	{ "<!-- <iframe hidden></iframe> -->", 0 },
	{ "<script>var s='<iframe hidden>';</script>", 0 },
};

static void test_hidden_iframes(void **state)
{
	struct html_facts f;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(iframes) / sizeof(iframes[0]); i++) {
		scan(iframes[i].html, &f);
		if (f.hidden_iframes != iframes[i].hidden)
			fail_msg("%s: hidden %d", iframes[i].html, f.hidden_iframes);
		html_facts_release(&f);
	}
}

static void test_scripts(void **state)
{
	struct html_facts f;

	(void)state;
	scan("<script src=\"//cdn.example/a.js\"></script>"
	     "<script>window.location = 'http://x';</script>"
	     "<SCRIPT>eval(unescape('%61'));String.fromCharCode(1)</SCRIPT>"
	     "<meta http-equiv=Refresh content='0;url=http://x'>", &f);
	assert_int_equal(f.scripts, 3);
	assert_int_equal(f.inline_scripts, 2);
	assert_int_equal(f.nscript_src, 1);
	assert_string_equal(f.script_src[0], "//cdn.example/a.js");
	assert_int_equal(f.js_redirects, 1);
	assert_true(__builtin_popcount((unsigned)f.obfuscation) >= 3);
	assert_int_equal(f.meta_refresh, 1);
	html_facts_release(&f);
}

static void test_markers(void **state)
{
	char big[400];
	int redirect = 0;

	(void)state;
	assert_int_equal(html_script_markers("var a = 1;", 10, &redirect), 0);
	assert_int_equal(redirect, 0);
	memset(big, 'A', sizeof(big));
	assert_int_not_equal(html_script_markers(big, sizeof(big), &redirect), 0);
	assert_int_not_equal(html_script_markers("EVAL(x)", 7, &redirect), 0);
	html_script_markers("location.replace('x')", 21, &redirect);
	assert_int_equal(redirect, 1);
}

static void test_hostile_markup(void **state)
{
	static const char *const pages[] = {
		"<", "<a", "<a href", "<a href=", "<a href='", "<!--", "<!-- x",
		"<script>", "<script>eval(", "</", "</form", "<title>x", "<<<>>>",
		"<form action=\"x", "<input type=password", "<iframe width=0",
		"<a b=1 c=2 d=3 e=4 f=5 g=6 h=7 i=8 j=9 k=10 l=11 m=12 n=13 o=14 "
		"p=15 q=16 r=17 s=18 t=19 u=20 v=21 w=22 x=23 y=24 z=25 aa=26>",
		"<averyveryveryveryverylongtagnamethatgoesonandon x=1>",
		"<=x>", "< form>", "<form =x>", "<?xml <form>", "<!doctype <form>",
	};
	struct html_facts f;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
		scan(pages[i], &f);
		html_facts_release(&f);
	}
	/* A NUL where an attribute name starts (found by fuzz_html). */
	html_scan("<title a=\"x\" \0", 15, &f);
	html_facts_release(&f);
	scan("<form =x><input type=password>", &f);
	assert_int_equal(f.forms, 1);
	assert_int_equal(f.password_fields, 1);
	html_facts_release(&f);
}

/* Every prefix, in a buffer exactly that long: ASan catches over-reads. */
static void test_every_prefix(void **state)
{
	static const char page[] =
		"<html><head><title>T</title><script src=a.js></script>"
		"<script>eval(atob('eA=='))</script></head><body>"
		"<!-- c --><form action=/x><input type=password></form>"
		"<iframe style=display:none></iframe><meta http-equiv=refresh>"
		"</body></html>";
	struct html_facts f;
	size_t n;
	char *copy;

	(void)state;
	for (n = 0; n <= sizeof(page) - 1; n++) {
		copy = malloc(n ? n : 1);
		memcpy(copy, page, n);
		html_scan(copy, n, &f);
		html_facts_release(&f);
		free(copy);
	}
	scan(page, &f);
	assert_int_equal(f.hidden_iframes, 1);
	assert_int_equal(f.forms, 1);
	assert_string_equal(f.title, "T");
	html_facts_release(&f);
}

static void test_many_forms_capped(void **state)
{
	char page[4096] = "";
	struct html_facts f;
	int i;

	(void)state;
	for (i = 0; i < 40; i++)
		strcat(page, "<form action=x><script src=y></script>");
	scan(page, &f);
	assert_int_equal(f.forms, 40);
	assert_int_equal(f.nform, HTML_MAX_LIST);
	assert_int_equal(f.nscript_src, HTML_MAX_LIST);
	html_facts_release(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_title_and_forms),
		cmocka_unit_test(test_references),
		cmocka_unit_test(test_hidden_iframes),
		cmocka_unit_test(test_scripts),
		cmocka_unit_test(test_markers),
		cmocka_unit_test(test_hostile_markup),
		cmocka_unit_test(test_every_prefix),
		cmocka_unit_test(test_many_forms_capped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
