/*
 * test_cli_report.c - the operator's text: a report rendered from fetcher
 * documents (a redirect chain, a blocked one, an error, a broken or
 * partial document), evidence split from messages, status JSON, progress
 * lines cut to a width, the summary table with and without a common
 * origin, verdict ranks.
 */
#include "fmacros.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "cli_report.h"
#include "err.h"
#include "state.h"

static const char chain_doc[] =
	"{\"ok\":true,\"url\":\"http://shop.test:8080/chain/1\","
	"\"finalUrl\":\"http://shop.test:8080/benign\","
	"\"redirects\":[{\"url\":\"http://shop.test:8080/chain/1\",\"status\":302},"
	"{\"url\":\"http://shop.test:8080/chain/0\",\"status\":301}],"
	"\"httpStatus\":200,\"contentType\":\"text/html; charset=utf-8\","
	"\"contentLength\":207,\"sha256\":\"" /* 64 hex */
	"72e65be12febf9f873839ab93fa6cf9486abd69597e843589cabc2c81a13b0ad\","
	"\"timings\":{\"dnsMs\":0.25,\"connectMs\":1,\"tlsMs\":0,"
	"\"firstByteMs\":2.5,\"totalMs\":15.34},"
	"\"verdict\":\"safe\",\"riskScore\":10,"
	"\"reasons\":[{\"code\":\"URL_UNUSUAL_PORT\",\"message\":"
	"\"the server uses a non-standard port (port 8080)\",\"weight\":5},"
	"{\"code\":\"HTTP_NO_TLS\",\"message\":\"the final page is not served "
	"over HTTPS\",\"weight\":5}],"
	"\"tls\":null,\"primaryIp\":\"127.0.0.1\",\"fetcherVersion\":\"0.1.0\","
	"\"facts\":{\"sniffedType\":\"html\"}}";

static const char tls_error_doc[] =
	"{\"ok\":false,\"url\":\"https://x.test/\",\"finalUrl\":\"https://x.test/\","
	"\"redirects\":[],\"httpStatus\":null,\"contentType\":null,"
	"\"contentLength\":null,\"sha256\":null,"
	"\"timings\":{\"dnsMs\":0,\"connectMs\":0,\"tlsMs\":0,\"firstByteMs\":0,"
	"\"totalMs\":0},\"verdict\":\"error\",\"riskScore\":0,\"reasons\":[],"
	"\"error\":{\"code\":\"TLS_ERROR\",\"message\":\"certificate expired\","
	"\"retryable\":false},"
	"\"tls\":{\"version\":\"TLSv1.3\",\"cipher\":\"TLS_AES_128_GCM_SHA256\","
	"\"subject\":\"CN=x.test\",\"issuer\":\"CN=ca\",\"notBefore\":\"Jan 1\","
	"\"notAfter\":\"Feb 1\"}}";

static struct state_job job_of(const char *id, const char *url, enum state s)
{
	struct state_job job;

	memset(&job, 0, sizeof(job));
	job.id = (char *)(uintptr_t)id;
	job.url = (char *)(uintptr_t)url;
	job.state = s;
	job.version = 3;
	job.attempts = 1;
	job.created_at = 1764371656123LL;
	job.updated_at = 1764371657000LL;
	return job;
}

static void assert_has(const char *text, const char *needle)
{
	if (!strstr(text, needle))
		fail_msg("'%s' not found in:\n%s", needle, text);
}

static void test_report_chain(void **state)
{
	struct state_job job = job_of("id-1", "http://shop.test:8080/chain/1",
				      STATE_COMPLETED);
	struct buf out = BUF_INIT;
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(cli_report_text(&job, chain_doc, &out, &e), 0);
	assert_has(out.data, "scan       id-1\n");
	assert_has(out.data, "state      COMPLETED (attempts 1)\n");
	assert_has(out.data, "updated    2025-11-28T23:14:17.000Z\n");
	assert_has(out.data, "verdict    safe, risk 10/100\n");
	assert_has(out.data, "final url  http://shop.test:8080/benign\n");
	assert_has(out.data, "http       200\n");
	assert_has(out.data, "content    text/html; charset=utf-8, 207 bytes "
			     "(looks like html)\n");
	assert_has(out.data, "address    127.0.0.1\n");
	assert_has(out.data, "tls        none\n");
	assert_has(out.data, "timings    dns 0.2 ms, connect 1.0 ms, tls 0.0 ms, "
			     "first byte 2.5 ms, total 15.3 ms\n");
	assert_has(out.data, "redirects (2)\n"
			     "  HOP  STATUS  URL\n"
			     "    1     302  http://shop.test:8080/chain/1\n"
			     "    2     301  http://shop.test:8080/chain/0\n"
			     "  end     200  http://shop.test:8080/benign\n");
	assert_has(out.data, "reasons (2)\n"
			     "  CODE             WEIGHT  MESSAGE                "
			     "                  EVIDENCE\n"
			     "  URL_UNUSUAL_PORT      5  the server uses a "
			     "non-standard port      port 8080\n"
			     "  HTTP_NO_TLS           5  the final page is not "
			     "served over HTTPS  -\n");
	assert_null(strstr(out.data, "error"));
	buf_release(&out);
}

static void test_report_error_and_tls(void **state)
{
	struct buf out = BUF_INIT;
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(cli_report_text(NULL, tls_error_doc, &out, &e), 0);
	assert_null(strstr(out.data, "scan "));
	assert_has(out.data, "verdict    error, risk 0/100\n");
	assert_has(out.data, "error      TLS_ERROR: certificate expired\n");
	assert_has(out.data, "http       -\n");
	assert_has(out.data, "content    -\n");
	assert_has(out.data, "tls        TLSv1.3 TLS_AES_128_GCM_SHA256\n"
			     "           subject CN=x.test, issuer CN=ca\n"
			     "           valid from Jan 1 to Feb 1\n");
	assert_has(out.data, "redirects (0)\n  none\n");
	assert_has(out.data, "reasons (0)\n  none\n");
	buf_release(&out);
}

static void test_report_without_result(void **state)
{
	struct state_job job = job_of("id-2", "http://shop.test/slow",
				      STATE_TIMED_OUT);
	struct buf out = BUF_INIT;
	struct err e = ERR_INIT;

	(void)state;
	job.error_code = (char *)(uintptr_t)"TIMEOUT";
	job.error_message = (char *)(uintptr_t)"the fetcher ran past 5000 ms";
	assert_int_equal(cli_report_text(&job, NULL, &out, &e), 0);
	assert_has(out.data, "state      TIMED_OUT (attempts 1)\n");
	assert_has(out.data, "error      TIMEOUT: the fetcher ran past 5000 ms\n");
	assert_has(out.data, "result     none stored\n");
	assert_null(strstr(out.data, "verdict"));
	buf_release(&out);
}

/* Missing or mistyped fields show as "-"; a non-object is refused. */
static void test_report_partial_and_broken(void **state)
{
	struct buf out = BUF_INIT;
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(cli_report_text(NULL, "{\"verdict\":7,\"redirects\":"
					 "[{\"url\":1}],\"reasons\":[{}]}",
					 &out, &e), 0);
	assert_has(out.data, "verdict    -\n");
	assert_has(out.data, "final url  -\n");
	assert_has(out.data, "timings    -\n");
	assert_has(out.data, "    1       -  -\n");
	assert_has(out.data, "  end       -  -\n");
	assert_has(out.data, "  -         -  -        -\n");
	buf_reset(&out);
	assert_int_equal(cli_report_text(NULL, "[1,2]", &out, &e), -1);
	assert_int_equal(e.kind, ERR_INVALID);
	assert_has(e.msg, "is not a JSON object");
	assert_int_equal(cli_report_text(NULL, "{\"ok\":tru", &out, &e), -1);
	buf_release(&out);
}

/* An "evidence" member wins over the message's parenthesis. */
static void test_report_evidence_member(void **state)
{
	struct buf out = BUF_INIT;
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(cli_report_text(NULL, "{\"reasons\":[{\"code\":\"X\","
					 "\"weight\":1,\"message\":\"m (p)\","
					 "\"evidence\":\"ev\"}]}", &out, &e), 0);
	assert_has(out.data, "  X         1  m (p)    ev\n");
	buf_release(&out);
}

static void test_evidence_split(void **state)
{
	static const struct {
		const char *msg, *sentence, *evidence;
	} cases[] = {
		{ "the page asks for a password", "the page asks for a password", NULL },
		{ "non-standard port (port 8080)", "non-standard port", "port 8080" },
		{ "listed (http://a.test/x(1)y)", "listed", "http://a.test/x(1)y" },
		{ "unbalanced x)", "unbalanced x)", NULL },
		{ "(no sentence)", "(no sentence)", NULL },
		{ "glued(x)", "glued(x)", NULL },
		{ "a ()", "a", "" },
		{ "", "", NULL },
	};
	const char *ev;
	size_t i, len, evlen;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		len = cli_report_evidence(cases[i].msg, &ev, &evlen);
		assert_int_equal(len, strlen(cases[i].sentence));
		assert_memory_equal(cases[i].msg, cases[i].sentence, len);
		if (!cases[i].evidence) {
			assert_null(ev);
			assert_int_equal(evlen, 0);
		} else {
			assert_non_null(ev);
			assert_int_equal(evlen, strlen(cases[i].evidence));
			assert_memory_equal(ev, cases[i].evidence, evlen);
		}
	}
}

static void test_status_json(void **state)
{
	struct state_job job = job_of("id-3", "http://a.test/\"q\"", STATE_FAILED);
	struct buf out = BUF_INIT;
	json_error_t jerr;
	json_t *o;

	(void)state;
	job.error_code = (char *)(uintptr_t)"CRASH";
	job.error_message = (char *)(uintptr_t)"exit 139";
	cli_report_status_json(&job, &out);
	assert_string_equal(out.data,
		"{\"id\":\"id-3\",\"url\":\"http://a.test/\\\"q\\\"\","
		"\"state\":\"FAILED\",\"version\":3,\"attempts\":1,"
		"\"workerId\":null,\"leaseExpiresAt\":null,"
		"\"createdAt\":1764371656123,\"updatedAt\":1764371657000,"
		"\"errorCode\":\"CRASH\",\"errorMessage\":\"exit 139\"}\n");
	o = json_loads(out.data, 0, &jerr);
	assert_non_null(o);
	json_decref(o);
	buf_release(&out);
}

static void test_progress(void **state)
{
	struct cli_scan s = { "id-4", "http://a.test/page", STATE_FETCHING,
			      NULL, -1, NULL, 1000, 0 };
	struct buf out = BUF_INIT;

	(void)state;
	cli_report_progress(&s, 3450, 0, &out);
	assert_string_equal(out.data, "id-4  FETCHING   2.4s            "
				      "http://a.test/page");
	buf_reset(&out);
	cli_report_progress(&s, 3450, 12, &out);
	assert_string_equal(out.data, "id-4  FETCHI");
	buf_reset(&out);
	s.state = STATE_COMPLETED;
	s.verdict = "malicious";
	s.risk = 85;
	s.ended_ms = 2000;
	cli_report_progress(&s, 9999, 0, &out);
	assert_string_equal(out.data, "id-4  COMPLETED  malicious 85    "
				      "http://a.test/page");
	buf_reset(&out);
	s.state = STATE_TIMED_OUT;
	s.verdict = NULL;
	s.error_code = "TIMEOUT";
	cli_report_progress(&s, 9999, 0, &out);
	assert_string_equal(out.data, "id-4  TIMED_OUT  TIMEOUT         "
				      "http://a.test/page");
	buf_release(&out);
}

static void test_summary_same_origin(void **state)
{
	const struct cli_scan scans[] = {
		{ "a", "http://shop.demo:38579/benign", STATE_COMPLETED, "safe",
		  10, NULL, 0, 0 },
		{ "b", "http://shop.demo:38579/to/http%3A%2F%2F169.254.169.254"
		       "%2Flatest%2Fmeta-data%2F", STATE_COMPLETED, "blocked",
		  100, NULL, 0, 0 },
		{ "c", "http://shop.demo:38579/slow", STATE_TIMED_OUT, NULL, -1,
		  "TIMEOUT", 0, 0 },
		{ "d", "http://shop.demo:38579", STATE_QUEUED, NULL, -1, NULL,
		  0, 0 },
	};
	struct buf out = BUF_INIT;

	(void)state;
	cli_report_summary(scans, 4, &out);
	assert_string_equal(out.data,
		"scans of http://shop.demo:38579\n"
		"PAGE                                         STATE      VERDICT      RISK  ERROR\n"
		"/benign                                      COMPLETED  safe           10\n"
		"/to/http%3A%2F%2F169.254.169.254%2Flatest%2F COMPLETED  blocked       100\n"
		"/slow                                        TIMED_OUT  -               -  TIMEOUT\n"
		"/                                            QUEUED     -               -\n");
	buf_release(&out);
}

static void test_summary_mixed_origins(void **state)
{
	const struct cli_scan scans[] = {
		{ "a", "http://a.test/x", STATE_COMPLETED, "safe", 0, NULL, 0, 0 },
		{ "b", "http://a.test:81/x", STATE_FAILED, NULL, -1, "CRASH", 0, 0 },
	};
	struct buf out = BUF_INIT;

	(void)state;
	cli_report_summary(scans, 2, &out);
	assert_string_equal(out.data,
		"PAGE               STATE      VERDICT      RISK  ERROR\n"
		"http://a.test/x    COMPLETED  safe            0\n"
		"http://a.test:81/x FAILED     -               -  CRASH\n");
	buf_release(&out);
}

static void test_verdict_rank(void **state)
{
	(void)state;
	assert_int_equal(cli_report_verdict_rank("safe"), 0);
	assert_int_equal(cli_report_verdict_rank("suspicious"), 1);
	assert_int_equal(cli_report_verdict_rank("malicious"), 2);
	assert_int_equal(cli_report_verdict_rank("blocked"), 2);
	assert_int_equal(cli_report_verdict_rank("error"), -1);
	assert_int_equal(cli_report_verdict_rank("Safe"), -1);
	assert_int_equal(cli_report_verdict_rank(NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_report_chain),
		cmocka_unit_test(test_report_error_and_tls),
		cmocka_unit_test(test_report_without_result),
		cmocka_unit_test(test_report_partial_and_broken),
		cmocka_unit_test(test_report_evidence_member),
		cmocka_unit_test(test_evidence_split),
		cmocka_unit_test(test_status_json),
		cmocka_unit_test(test_progress),
		cmocka_unit_test(test_summary_same_origin),
		cmocka_unit_test(test_summary_mixed_origins),
		cmocka_unit_test(test_verdict_rank),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
