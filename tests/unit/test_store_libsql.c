/*
 * test_store_libsql.c - the pure side of the remote libSQL backend:
 * request encoding (typed arguments, step conditions, the stream's
 * baton), replies captured
 * from tursodb 0.7 (tests/fixtures/libsql/, see its README) decoded into
 * typed rows and step errors, every truncation of them refused, base64,
 * script splitting, endpoints, error codes.
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
#include "fixture.h"
#include "store_libsql_int.h"
#include "strvec.h"

/* fixtures/libsql/<name>, caller frees. */
static char *fixture_libsql(const char *name, size_t *len)
{
	char path[128];

	snprintf(path, sizeof(path), "libsql/%s", name);
	return fixture(path, len);
}

/* Decode fixture name as a reply to nsteps steps; 0 or -1. */
static int decode(const char *name, size_t nsteps, struct libsql_reply *r,
		  struct err *e)
{
	size_t len;
	char *body = fixture_libsql(name, &len);
	int rc = store_libsql_decode(r, body, len, nsteps, e);

	free(body);
	return rc;
}

static void test_encode(void **state)
{
	struct store_val args[3] = { STORE_VAL_INT(-9223372036854775807LL - 1),
				     STORE_VAL_TEXT("a\"b\nc"), STORE_VAL_NULL };
	struct libsql_step steps[3] = {
		{ "BEGIN", NULL, 0, LIBSQL_ALWAYS },
		{ "SELECT ?1, ?2, ?3", args, 3, LIBSQL_IF_OK },
		{ "ROLLBACK", NULL, 0, LIBSQL_IF_FAILED },
	};
	struct buf b = BUF_INIT;
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(store_libsql_encode(&b, NULL, steps, 3, &e), 0);
	assert_string_equal(b.data,
		"{\"requests\":[{\"type\":\"batch\",\"batch\":{\"steps\":["
		"{\"stmt\":{\"sql\":\"BEGIN\",\"args\":[]}},"
		"{\"stmt\":{\"sql\":\"SELECT ?1, ?2, ?3\",\"args\":["
		"{\"type\":\"integer\",\"value\":\"-9223372036854775808\"},"
		"{\"type\":\"text\",\"value\":\"a\\\"b\\u000ac\"},"
		"{\"type\":\"null\"}]},"
		"\"condition\":{\"type\":\"ok\",\"step\":0}},"
		"{\"stmt\":{\"sql\":\"ROLLBACK\",\"args\":[]},"
		"\"condition\":{\"type\":\"and\",\"conds\":["
		"{\"type\":\"ok\",\"step\":0},"
		"{\"type\":\"not\",\"cond\":{\"type\":\"ok\",\"step\":1}}]}}"
		"]}}]}");
	buf_release(&b);
}

/* A server that keeps the stream (sqld): its baton goes back with the
 * next request, and the close request names it. */
static void test_baton(void **state)
{
	static const char reply[] =
		"{\"baton\":\"b-42\",\"base_url\":null,\"results\":[{\"type\":"
		"\"ok\",\"response\":{\"type\":\"batch\",\"result\":{"
		"\"step_results\":[{\"cols\":[],\"rows\":[]}],"
		"\"step_errors\":[null]}}}]}";
	struct libsql_step step = { "SELECT 1", NULL, 0, LIBSQL_ALWAYS };
	struct libsql_reply r;
	struct buf b = BUF_INIT;
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(store_libsql_decode(&r, reply, sizeof(reply) - 1, 1, &e), 0);
	assert_string_equal(r.baton, "b-42");
	assert_int_equal(store_libsql_encode(&b, r.baton, &step, 1, &e), 0);
	assert_string_equal(b.data, "{\"baton\":\"b-42\",\"requests\":[{\"type\":"
			    "\"batch\",\"batch\":{\"steps\":[{\"stmt\":{\"sql\":"
			    "\"SELECT 1\",\"args\":[]}}]}}]}");
	buf_reset(&b);
	assert_int_equal(store_libsql_encode_close(&b, r.baton, &e), 0);
	assert_string_equal(b.data, "{\"baton\":\"b-42\",\"requests\":"
			    "[{\"type\":\"close\"}]}");
	store_libsql_reply_release(&r);
	buf_release(&b);
	/* tursodb keeps no stream */
	assert_int_equal(decode("query-job.json", 1, &r, &e), 0);
	assert_null(r.baton);
	store_libsql_reply_release(&r);
}

struct rows {
	int n;
	char first[64];
	long long version;
};

static int keep_row(void *arg, const struct store_row *row, struct err *e)
{
	struct rows *r = arg;

	(void)e;
	assert_int_equal(row->ncols, 11);
	assert_int_equal(row->seq, (size_t)r->n);
	assert_int_equal(row->cols[0].type, STORE_TEXT);
	snprintf(r->first, sizeof(r->first), "%s", row->cols[0].s);
	r->version = store_col_int(row, 3, -1);
	assert_int_equal(row->cols[5].type, STORE_NULL); /* worker_id */
	r->n++;
	return 0;
}

/* BEGIN, INSERT .. RETURNING, check, audit INSERT, COMMIT, ROLLBACK. */
static void test_create_ok(void **state)
{
	struct libsql_reply r;
	struct err e = ERR_INIT;
	struct rows rows = { 0, "", -1 };
	size_t seq = 0, i;

	(void)state;
	assert_int_equal(decode("create-ok.json", 6, &r, &e), 0);
	for (i = 0; i < 5; i++)
		assert_int_equal(store_libsql_step_failed(&r, i, "s", &e), 0);
	assert_int_equal(store_libsql_rows(&r, 1, keep_row, &rows, &seq, &e), 1);
	assert_string_equal(rows.first, "scan-1000000000");
	assert_int_equal(rows.version, 0);
	assert_int_equal(store_libsql_rows(&r, 3, keep_row, &rows, &seq, &e), 0);
	/* the conditional ROLLBACK did not run */
	assert_int_equal(store_libsql_step_failed(&r, 5, "rollback", &e), -1);
	assert_non_null(strstr(e.msg, "did not run"));
	store_libsql_reply_release(&r);
}

/* The row existed: no RETURNING row, the check step failed, no commit. */
static void test_create_guard_miss(void **state)
{
	struct libsql_reply r;
	struct err e = ERR_INIT;
	size_t seq = 0;

	(void)state;
	assert_int_equal(decode("create-guard-miss.json", 6, &r, &e), 0);
	assert_int_equal(store_libsql_step_failed(&r, 1, "s", &e), 0);
	assert_int_equal(store_libsql_rows(&r, 1, NULL, NULL, &seq, &e), 0);
	assert_int_equal(store_libsql_step_failed(&r, 2, "check", &e), -1);
	assert_non_null(strstr(e.msg, "malformed JSON"));
	assert_int_equal(store_libsql_step_failed(&r, 4, "commit", &e), -1);
	assert_non_null(strstr(e.msg, "did not run"));
	/* tursodb had ended the transaction: the ROLLBACK failed harmlessly */
	assert_int_equal(store_libsql_step_failed(&r, 5, "rollback", &e), -1);
	assert_non_null(strstr(e.msg, "no transaction is active"));
	store_libsql_reply_release(&r);
}

static void test_constraint_error(void **state)
{
	struct libsql_reply r;
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(decode("create-constraint-error.json", 6, &r, &e), 0);
	assert_int_equal(store_libsql_step_failed(&r, 0, "begin", &e), 0);
	assert_int_equal(store_libsql_step_failed(&r, 1, "statement", &e), -1);
	assert_int_equal(e.kind, ERR_INTERNAL);
	assert_string_equal(e.msg, "store: statement: Runtime error: NOT NULL "
			    "constraint failed: scan_jobs.url (19) "
			    "(BATCH_STEP_ERROR)");
	/* the rollback ran: the transaction was still open */
	assert_int_equal(store_libsql_step_failed(&r, 5, "rollback", &e), 0);
	store_libsql_reply_release(&r);
}

static int values_row(void *arg, const struct store_row *row, struct err *e)
{
	(void)e;
	(void)arg;
	assert_int_equal(row->ncols, 7);
	assert_int_equal(store_col_int(row, 0, 0), 9223372036854775807LL);
	assert_string_equal(row->cols[1].s, "a\"b\\\\c\nd");
	assert_int_equal(row->cols[2].type, STORE_NULL);
	assert_int_equal(store_col_int(row, 3, 0), 1); /* 1.5 truncated */
	assert_int_equal(row->cols[4].type, STORE_TEXT);
	assert_memory_equal(row->cols[4].s, "\0\xff" "A", 4);
	assert_int_equal(store_col_int(row, 5, 0), -9223372036854775807LL - 1);
	assert_string_equal(row->cols[6].s, "caf\xc3\xa9");
	return 0;
}

static void test_values(void **state)
{
	struct libsql_reply r;
	struct err e = ERR_INIT;
	size_t seq = 0;

	(void)state;
	assert_int_equal(decode("values.json", 1, &r, &e), 0);
	assert_int_equal(store_libsql_rows(&r, 0, values_row, NULL, &seq, &e), 1);
	store_libsql_reply_release(&r);
}

static void test_bad_values(void **state)
{
	static const char *const bad[] = {
		"{\"type\":\"integer\",\"value\":\"12x\"}",
		"{\"type\":\"integer\",\"value\":\"9223372036854775808\"}",
		"{\"type\":\"integer\",\"value\":12}",
		"{\"type\":\"integer\",\"value\":\"\"}",
		"{\"type\":\"text\",\"value\":null}",
		"{\"type\":\"blob\",\"base64\":\"A*==\"}",
		"{\"type\":\"vector\",\"value\":\"1\"}",
		"{\"type\":\"float\",\"value\":1e300}",
		"{\"type\":\"float\",\"value\":\"1.5\"}",
		"{\"value\":\"1\"}",
	};
	struct store_val v;
	struct buf blob = BUF_INIT;
	struct err e = ERR_INIT;
	json_t *j;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = json_loads(bad[i], 0, NULL);
		assert_non_null(j);
		assert_int_equal(store_libsql_value(j, &v, &blob, &e), -1);
		assert_int_equal(e.kind, ERR_UNAVAILABLE);
		json_decref(j);
	}
	buf_release(&blob);
}

/* Every proper prefix of every captured reply is refused, no crash. */
static void test_truncated(void **state)
{
	static const char *const names[] = {
		"create-ok.json", "create-guard-miss.json", "claim-ok.json",
		"query-job.json", "migration-ok.json", "values.json",
		"create-constraint-error.json",
	};
	struct libsql_reply r;
	struct err e = ERR_INIT;
	size_t i, cut, len;
	char *body;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		body = fixture_libsql(names[i], &len);
		for (cut = 0; cut < len - 1; cut++) {
			assert_int_equal(store_libsql_decode(&r, body, cut, 6, &e), -1);
			store_libsql_reply_release(&r);
		}
		free(body);
	}
}

static void test_wrong_step_count(void **state)
{
	struct libsql_reply r;
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(decode("query-job.json", 2, &r, &e), -1);
	assert_non_null(strstr(e.msg, "wrong number of steps"));
	store_libsql_reply_release(&r);
}

/* The whole request refused (Hrana's error result, hand-written). */
static void test_request_error(void **state)
{
	static const char body[] =
		"{\"baton\":null,\"base_url\":null,\"results\":[{\"type\":"
		"\"error\",\"error\":{\"message\":\"database is locked\","
		"\"code\":\"SQLITE_BUSY\"}}]}";
	struct libsql_reply r;
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(store_libsql_decode(&r, body, sizeof(body) - 1, 1, &e), -1);
	assert_int_equal(e.kind, ERR_UNAVAILABLE);
	assert_string_equal(e.msg, "store: request: database is locked "
			    "(SQLITE_BUSY)");
	store_libsql_reply_release(&r);
}

static void test_base64(void **state)
{
	struct buf b = BUF_INIT;
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(store_libsql_base64(&b, "AP9B", &e), 0);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "\0\xff" "A", 3);
	buf_reset(&b);
	assert_int_equal(store_libsql_base64(&b, "AP8=", &e), 0);
	assert_int_equal(b.len, 2);
	buf_reset(&b);
	assert_int_equal(store_libsql_base64(&b, "aGVsbG8", &e), 0);
	assert_string_equal(b.data, "hello");
	buf_reset(&b);
	assert_int_equal(store_libsql_base64(&b, "", &e), 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(store_libsql_base64(&b, "a-b", &e), -1);
	buf_release(&b);
}

static void test_split(void **state)
{
	struct strvec v = STRVEC_INIT;

	(void)state;
	store_libsql_split("BEGIN IMMEDIATE;\nCREATE TABLE t(x CHECK (x IN "
			   "('a;b', \"c;\")));\n\n INSERT INTO t VALUES "
			   "('it''s;');\nCOMMIT;\n", &v);
	assert_int_equal(v.nr, 4);
	assert_string_equal(v.items[0], "BEGIN IMMEDIATE");
	assert_string_equal(v.items[1],
			    "CREATE TABLE t(x CHECK (x IN ('a;b', \"c;\")))");
	assert_string_equal(v.items[2], "INSERT INTO t VALUES ('it''s;')");
	assert_string_equal(v.items[3], "COMMIT");
	strvec_clear(&v);
	store_libsql_split("SELECT 1", &v);
	assert_int_equal(v.nr, 1);
	strvec_clear(&v);
	store_libsql_split(" ;\n; ", &v);
	assert_int_equal(v.nr, 0);
	strvec_clear(&v);
}

static void test_endpoint(void **state)
{
	static const char *const cases[][2] = {
		{ "libsql://db-org.turso.io", "https://db-org.turso.io/v2/pipeline" },
		{ "https://db.example/", "https://db.example/v2/pipeline" },
		{ "http://127.0.0.1:8080", "http://127.0.0.1:8080/v2/pipeline" },
		{ "http://h:1/base//?authToken=x", "http://h:1/base/v2/pipeline" },
	};
	size_t i;
	char *s;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = store_libsql_endpoint(cases[i][0]);
		assert_string_equal(s, cases[i][1]);
		free(s);
	}
}

static void test_code_kind(void **state)
{
	(void)state;
	assert_int_equal(store_libsql_code_kind("SQLITE_BUSY"), ERR_UNAVAILABLE);
	assert_int_equal(store_libsql_code_kind("SQLITE_LOCKED_SHAREDCACHE"),
			 ERR_UNAVAILABLE);
	assert_int_equal(store_libsql_code_kind("SQLITE_CONSTRAINT_PRIMARYKEY"),
			 ERR_INTERNAL);
	assert_int_equal(store_libsql_code_kind("BATCH_STEP_ERROR"), ERR_INTERNAL);
	assert_int_equal(store_libsql_code_kind(NULL), ERR_INTERNAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_baton),
		cmocka_unit_test(test_create_ok),
		cmocka_unit_test(test_create_guard_miss),
		cmocka_unit_test(test_constraint_error),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_wrong_step_count),
		cmocka_unit_test(test_request_error),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_endpoint),
		cmocka_unit_test(test_code_kind),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
