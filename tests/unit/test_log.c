/* test_log.c - line format, escaping of hostile strings, levels, threads. */
#include "fmacros.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include <cmocka.h>

#include "buf.h"
#include "log.h"

#define TS 1764371234567LL /* 2025-11-28T23:07:14.567Z */

static json_t *parse_line(const struct buf *line)
{
	json_error_t jerr;
	json_t *j;

	assert_true(line->len > 0);
	assert_int_equal(line->data[line->len - 1], '\n');
	assert_null(memchr(line->data, '\n', line->len - 1));
	j = json_loadb(line->data, line->len, 0, &jerr);
	if (!j)
		fail_msg("not JSON (%s): %s", jerr.text, line->data);
	return j;
}

static void test_json_fields(void **state)
{
	struct buf line = BUF_INIT;
	json_t *j;

	(void)state;
	log_format_line(&line, LOG_FORMAT_JSON, TS, LOG_WARN, "host:42", "job-1",
			"claim", "claimed attempt 1");
	j = parse_line(&line);
	assert_string_equal(json_string_value(json_object_get(j, "ts")),
			    "2025-11-28T23:07:14.567Z");
	assert_string_equal(json_string_value(json_object_get(j, "level")), "warn");
	assert_string_equal(json_string_value(json_object_get(j, "worker")), "host:42");
	assert_string_equal(json_string_value(json_object_get(j, "job")), "job-1");
	assert_string_equal(json_string_value(json_object_get(j, "event")), "claim");
	assert_string_equal(json_string_value(json_object_get(j, "msg")),
			    "claimed attempt 1");
	json_decref(j);
	buf_release(&line);
}

static void test_json_optional_fields_absent(void **state)
{
	struct buf line = BUF_INIT;
	json_t *j;

	(void)state;
	log_format_line(&line, LOG_FORMAT_JSON, TS, LOG_INFO, NULL, NULL, NULL,
			"plain");
	j = parse_line(&line);
	assert_null(json_object_get(j, "worker"));
	assert_null(json_object_get(j, "job"));
	assert_null(json_object_get(j, "event"));
	assert_int_equal(json_object_size(j), 3);
	json_decref(j);
	buf_release(&line);
}

static void test_json_escapes_hostile_strings(void **state)
{
	static const char *const hostile[] = {
		"quote\" and backslash\\",
		"newline\n{\"level\":\"error\",\"msg\":\"forged\"}",
		"ctl\x01\x1f\x7f\r\t",
		"bad utf8 \xff\xfe\xc0\x80 \xed\xa0\x80",
		"good utf8 \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
		"</script><script>alert(1)</script>",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		struct buf line = BUF_INIT;
		const char *msg;
		json_t *j;

		log_format_line(&line, LOG_FORMAT_JSON, TS, LOG_ERROR, "w",
				hostile[i], "e", hostile[i]);
		j = parse_line(&line);
		msg = json_string_value(json_object_get(j, "msg"));
		assert_non_null(msg);
		if (i != 3)
			assert_string_equal(msg, hostile[i]);
		else
			assert_non_null(strstr(msg, "\xef\xbf\xbd"));
		assert_string_equal(json_string_value(json_object_get(j, "level")),
				    "error");
		json_decref(j);
		buf_release(&line);
	}
}

static void test_text_format(void **state)
{
	struct buf line = BUF_INIT;

	(void)state;
	log_format_line(&line, LOG_FORMAT_TEXT, TS, LOG_INFO, "h:1", "j 1",
			"complete", "done\nfake line \"q\" \\");
	assert_string_equal(line.data,
			    "ts=2025-11-28T23:07:14.567Z level=info worker=h:1 "
			    "job=\"j 1\" event=complete msg=\"done\\nfake line "
			    "\\\"q\\\" \\\\\"\n");
	buf_release(&line);
}

/* Fields sit between event and msg, in both formats; NULL ones vanish. */
static void test_fields(void **state)
{
	const struct log_field f[] = {
		{ "scan", "s1" }, { "verdict", NULL }, { "url", "http://a/ b" },
		{ "duration_ms", "12" },
	};
	struct buf line = BUF_INIT;

	(void)state;
	log_format_fields(&line, LOG_FORMAT_JSON, TS, LOG_INFO, "h:1", "s1",
			  "complete", f, 4, "done");
	assert_string_equal(line.data,
			    "{\"ts\":\"2025-11-28T23:07:14.567Z\",\"level\":"
			    "\"info\",\"worker\":\"h:1\",\"job\":\"s1\","
			    "\"event\":\"complete\",\"scan\":\"s1\",\"url\":"
			    "\"http://a/ b\",\"duration_ms\":\"12\",\"msg\":"
			    "\"done\"}\n");
	buf_reset(&line);
	log_format_fields(&line, LOG_FORMAT_TEXT, TS, LOG_INFO, "h:1", "s1",
			  "complete", f, 4, "done");
	assert_string_equal(line.data,
			    "ts=2025-11-28T23:07:14.567Z level=info worker=h:1 "
			    "job=s1 event=complete scan=s1 url=\"http://a/ b\" "
			    "duration_ms=12 msg=done\n");
	buf_release(&line);
}

/* Credentials and query values never reach a log line. */
/* Capture what log_event writes, through an unlinked temporary file. */
static char *capture(void (*fn)(void))
{
	static char out[262144];
	FILE *f = tmpfile();
	size_t len;

	assert_non_null(f);
	log_set_fd(fileno(f));
	fn();
	log_set_fd(STDERR_FILENO);
	rewind(f);
	len = fread(out, 1, sizeof(out) - 1, f);
	fclose(f);
	out[len] = '\0';
	return out;
}

static void emit_levels(void)
{
	log_init(LOG_WARN, LOG_FORMAT_TEXT, "w-levels");
	log_debug("d-line");
	log_info("i-line");
	log_warn("w-line %d", 1);
	log_error("e-line");
	log_event(LOG_ERROR, "job-9", "fail", "with job");
}

static void test_levels_filter(void **state)
{
	char *out;

	(void)state;
	out = capture(emit_levels);
	assert_null(strstr(out, "d-line"));
	assert_null(strstr(out, "i-line"));
	assert_non_null(strstr(out, " level=warn worker=w-levels msg=\"w-line 1\"\n"));
	assert_non_null(strstr(out, " level=error worker=w-levels msg=e-line\n"));
	assert_non_null(strstr(out, "job=job-9 event=fail msg=\"with job\"\n"));
	assert_false(log_enabled(LOG_INFO));
	assert_true(log_enabled(LOG_ERROR));
	log_shutdown();
}

static void emit_long(void)
{
	char big[10000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_init(LOG_DEBUG, LOG_FORMAT_JSON, "w");
	log_info("%s", big);
}

static void test_long_message_truncated_but_valid(void **state)
{
	struct buf line = BUF_INIT;
	char *out;
	json_t *j;

	(void)state;
	out = capture(emit_long);
	buf_addstr(&line, out, NULL);
	j = parse_line(&line);
	assert_true(strlen(json_string_value(json_object_get(j, "msg"))) < 4096);
	json_decref(j);
	buf_release(&line);
	log_shutdown();
}

static void *log_many(void *arg)
{
	int i;

	for (i = 0; i < 200; i++)
		log_event(LOG_INFO, arg, "t", "thread line %d with some text", i);
	return NULL;
}

static void emit_threads(void)
{
	static const char *ids[] = { "a", "b", "c", "d" };
	pthread_t th[4];
	int i;

	log_init(LOG_INFO, LOG_FORMAT_JSON, "w");
	for (i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, log_many, (void *)(uintptr_t)ids[i]);
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
}

static void test_threads_whole_lines(void **state)
{
	char *out, *line, *next;
	int count = 0;

	(void)state;
	out = capture(emit_threads);
	for (line = out; *line; line = next) {
		struct buf b = BUF_INIT;
		json_t *j;

		next = strchr(line, '\n');
		assert_non_null(next);
		next++;
		buf_add(&b, line, (size_t)(next - line), NULL);
		j = parse_line(&b);
		json_decref(j);
		buf_release(&b);
		count++;
	}
	assert_int_equal(count, 800);
	log_shutdown();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_fields),
		cmocka_unit_test(test_json_optional_fields_absent),
		cmocka_unit_test(test_json_escapes_hostile_strings),
		cmocka_unit_test(test_text_format),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_levels_filter),
		cmocka_unit_test(test_long_message_truncated_but_valid),
		cmocka_unit_test(test_threads_whole_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
