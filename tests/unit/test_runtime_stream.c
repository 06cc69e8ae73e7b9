/*
 * test_runtime_stream - the engine stream demuxer, fed synthetic frames and
 * byte-exact streams captured from a real engine (tests/fixtures/runtime,
 * see capture.sh there), whole, byte by byte and in odd-sized chunks.
 */
#include "fmacros.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "runtime_stream.h"
#include "xalloc.h"

#include "fixture.h"

#define TAIL 4096

static void add_frame(struct buf *b, int type, const char *p, size_t n)
{
	unsigned char h[8] = { (unsigned char)type, 0, 0, 0,
			       (unsigned char)(n >> 24), (unsigned char)(n >> 16),
			       (unsigned char)(n >> 8), (unsigned char)n };

	buf_add(b, h, sizeof(h), NULL);
	buf_add(b, p, n, NULL);
}

/* Feed data in chunks of chunk bytes (0 = all at once). */
static int feed(struct runtime_stream *s, const char *data, size_t len,
		size_t chunk, struct err *e)
{
	size_t off = 0, n;

	if (!chunk)
		return runtime_stream_feed(s, data, len, e);
	for (; off < len; off += n) {
		n = len - off < chunk ? len - off : chunk;
		if (runtime_stream_feed(s, data + off, n, e) < 0)
			return -1;
	}
	return 0;
}

/* What get (runtime_stream_stdout or _stderr) returns is exactly want. */
static void expect_stream(const char *(*get)(const struct runtime_stream *,
					   size_t *),
			  const struct runtime_stream *s, const char *want,
			  size_t want_len)
{
	size_t len;
	const char *got = get(s, &len);

	assert_int_equal(len, want_len);
	assert_memory_equal(got, want, want_len);
}

#define expect_out(s, want, len) expect_stream(runtime_stream_stdout, s, want, len)
#define expect_err(s, want, len) expect_stream(runtime_stream_stderr, s, want, len)

static void test_synthetic_frames_any_split(void **state)
{
	static const size_t chunks[] = { 0, 1, 2, 3, 7, 8, 9, 13 };
	struct buf in = BUF_INIT;
	size_t i;

	(void)state;
	add_frame(&in, 1, "hello ", 6);
	add_frame(&in, 2, "warn\n", 5);
	add_frame(&in, 1, "", 0);
	add_frame(&in, 0, "world", 5);
	add_frame(&in, 3, "engine", 6);
	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		struct runtime_stream s;
		struct err e = ERR_INIT;

		runtime_stream_init(&s, 64, TAIL);
		assert_int_equal(feed(&s, in.data, in.len, chunks[i], &e), 0);
		assert_int_equal(runtime_stream_finish(&s, &e), 0);
		expect_out(&s, "hello world", 11);
		expect_err(&s, "warn\nengine", 11);
		assert_int_equal(s.out_total, 11);
		runtime_stream_release(&s);
	}
	buf_release(&in);
}

static void check_mixed(size_t chunk)
{
	struct buf out = BUF_INIT, errs = BUF_INIT;
	struct runtime_stream s;
	struct err e = ERR_INIT;
	size_t len;
	char *data = fixture("runtime/mixed.stream", &len);
	int i;

	for (i = 0; i < 200; i++) {
		buf_addf(&out, NULL, "out %d\n", i);
		buf_addf(&errs, NULL, "err %d\n", i);
	}
	runtime_stream_init(&s, 1 << 20, 100);
	assert_int_equal(feed(&s, data, len, chunk, &e), 0);
	assert_int_equal(runtime_stream_finish(&s, &e), 0);
	expect_out(&s, out.data, out.len);
	expect_err(&s, errs.data + errs.len - 100, 100);
	assert_int_equal(s.err_total, errs.len);
	runtime_stream_release(&s);
	buf_release(&out);
	buf_release(&errs);
	free(data);
}

static void test_fixture_mixed(void **state)
{
	(void)state;
	check_mixed(0);
	check_mixed(1);
	check_mixed(5);
	check_mixed(4093);
}

static void test_fixture_exit_stderr(void **state)
{
	struct runtime_stream s;
	struct err e = ERR_INIT;
	size_t len;
	char *data = fixture("runtime/exit3.stream", &len);

	(void)state;
	runtime_stream_init(&s, 4096, TAIL);
	assert_int_equal(feed(&s, data, len, 1, &e), 0);
	assert_int_equal(runtime_stream_finish(&s, &e), 0);
	expect_out(&s, "", 0);
	expect_err(&s, "fatal: could not resolve\n", 25);
	runtime_stream_release(&s);
	free(data);
}

/* The flood fixture carries 300000 bytes: a cap of exactly that passes. */
static void check_flood(size_t max, size_t chunk, int want_rc)
{
	struct runtime_stream s;
	struct err e = ERR_INIT;
	size_t len, got;
	char *data = fixture("runtime/flood.stream", &len);

	runtime_stream_init(&s, max, TAIL);
	assert_int_equal(feed(&s, data, len, chunk, &e), want_rc);
	runtime_stream_stdout(&s, &got);
	if (want_rc == 0) {
		assert_int_equal(got, 300000);
	} else {
		assert_int_equal(e.kind, ERR_INVALID);
		assert_non_null(strstr(e.msg, "output too large"));
		assert_int_equal(got, max);
		assert_int_equal(runtime_stream_feed(&s, "x", 1, &e), -1);
	}
	runtime_stream_release(&s);
	free(data);
}

static void test_fixture_flood_cap(void **state)
{
	(void)state;
	check_flood(300000, 0, 0);
	check_flood(300000, 1, 0);
	check_flood(299999, 0, -1);
	check_flood(299999, 1, -1);
	check_flood(4096, 777, -1);
}

static void test_bad_headers(void **state)
{
	static const unsigned char bad[][8] = {
		{ 4, 0, 0, 0, 0, 0, 0, 1 },
		{ 1, 1, 0, 0, 0, 0, 0, 1 },
		{ 1, 0, 0, 9, 0, 0, 0, 1 },
		{ 'H', 'T', 'T', 'P', '/', '1', '.', '1' },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct runtime_stream s;
		struct err e = ERR_INIT;

		runtime_stream_init(&s, 64, TAIL);
		assert_int_equal(feed(&s, (const char *)bad[i], 8, 1, &e), -1);
		assert_int_equal(e.kind, ERR_INVALID);
		assert_int_equal(runtime_stream_feed(&s, "", 0, &e), -1);
		runtime_stream_release(&s);
	}
}

static void test_truncated(void **state)
{
	struct buf in = BUF_INIT;
	struct err e = ERR_INIT;
	size_t cut;

	(void)state;
	add_frame(&in, 1, "abcdef", 6);
	for (cut = 0; cut <= in.len; cut++) {
		struct runtime_stream s;

		runtime_stream_init(&s, 64, TAIL);
		assert_int_equal(feed(&s, in.data, cut, 1, &e), 0);
		assert_int_equal(runtime_stream_finish(&s, &e),
				 cut == 0 || cut == in.len ? 0 : -1);
		runtime_stream_release(&s);
	}
	buf_release(&in);
}

/* The tail is exactly the last tail_max bytes, whatever the frame sizes. */
static void test_stderr_tail(void **state)
{
	static const size_t sizes[] = { 1, 3, 10, 99, 100, 101, 250 };
	struct buf all = BUF_INIT, in = BUF_INIT;
	struct runtime_stream s;
	struct err e = ERR_INIT;
	size_t i, j, k = 0;
	char frame[256];

	(void)state;
	for (i = 0; i < 40; i++) {
		size_t n = sizes[i % (sizeof(sizes) / sizeof(sizes[0]))];
		for (j = 0; j < n; j++)
			frame[j] = (char)('a' + k++ % 26);
		buf_add(&all, frame, n, NULL);
		add_frame(&in, 2, frame, n);
	}
	runtime_stream_init(&s, 16, 100);
	assert_int_equal(feed(&s, in.data, in.len, 3, &e), 0);
	expect_err(&s, all.data + all.len - 100, 100);
	assert_true(s.tail.len <= 200);
	runtime_stream_release(&s);
	buf_release(&all);
	buf_release(&in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_synthetic_frames_any_split),
		cmocka_unit_test(test_fixture_mixed),
		cmocka_unit_test(test_fixture_exit_stderr),
		cmocka_unit_test(test_fixture_flood_cap),
		cmocka_unit_test(test_bad_headers),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_stderr_tail),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
