/*
 * test_sandbox - the sandbox runtime's pure parts: a spec's key (user
 * parsing both sides of each rule, network), the seccomp filter build,
 * and the raw feed of pipe output into the capped stream (cap and cap+1).
 * The sandbox itself is run by tests/integration/t3NN under root.
 */
#include "fmacros.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "err.h"
#include "runtime.h"
#include "runtime_stream.h"
#include "sandbox.h"

static int key_of(const char *user, const char *net, struct sandbox_key *key)
{
	struct runtime_spec spec;
	struct err e = ERR_INIT;
	int rc;

	memset(&spec, 0, sizeof(spec));
	spec.user = user;
	spec.network_mode = net;
	spec.memory_mb = 64;
	spec.tmpfs_mb = 16;
	rc = sandbox_key_of(&spec, key, &e);
	if (rc < 0)
		assert_int_equal(e.kind, ERR_INVALID);
	return rc;
}

static void test_key_user(void **state)
{
	static const char *const bad[] = { "0:0", "0:65534", "65534:0", "65534",
					   "65534:", ":65534", "65534:65534x",
					   "x:1", "", NULL };
	struct sandbox_key key;
	size_t i;

	(void)state;
	assert_int_equal(key_of("65534:65534", "none", &key), 0);
	assert_int_equal(key.uid, 65534);
	assert_int_equal(key.gid, 65534);
	assert_int_equal(key_of("1:1", "none", &key), 0);
	for (i = 0; bad[i]; i++)
		assert_int_equal(key_of(bad[i], "none", &key), -1);
	assert_int_equal(key_of(NULL, "none", &key), -1);
}

static void test_key_network(void **state)
{
	struct sandbox_key key;

	(void)state;
	assert_int_equal(key_of("65534:65534", "none", &key), 0);
	assert_int_equal(key.new_net, 1);
	assert_int_equal(key.memory_mb, 64);
	assert_int_equal(key.tmpfs_mb, 16);
	assert_int_equal(key_of("65534:65534", "host", &key), 0);
	assert_int_equal(key.new_net, 0);
}

static void test_seccomp_build(void **state)
{
	struct sock_fprog prog;
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(sandbox_seccomp_build(&prog, &e), 0);
	assert_non_null(prog.filter);
	assert_true(prog.len > 10);
	sandbox_seccomp_release(&prog);
	assert_null(prog.filter);
}

static void test_raw_feed_cap(void **state)
{
	struct runtime_stream s;
	struct err e = ERR_INIT;
	size_t n;

	(void)state;
	runtime_stream_init(&s, 8, 4);
	assert_int_equal(runtime_stream_feed_raw(&s, 0, "12345", 5, &e), 0);
	assert_int_equal(runtime_stream_feed_raw(&s, 1, "error!", 6, &e), 0);
	assert_int_equal(runtime_stream_feed_raw(&s, 0, "678", 3, &e), 0);
	assert_memory_equal(runtime_stream_stdout(&s, &n), "12345678", 8);
	assert_int_equal(n, 8);
	assert_memory_equal(runtime_stream_stderr(&s, &n), "ror!", 4);
	assert_int_equal(runtime_stream_feed_raw(&s, 0, "9", 1, &e), -1);
	assert_int_equal(e.kind, ERR_INVALID);
	assert_int_equal(runtime_stream_feed_raw(&s, 1, "x", 1, &e), -1);
	runtime_stream_stdout(&s, &n);
	assert_int_equal(n, 8);
	runtime_stream_release(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_user),
		cmocka_unit_test(test_key_network),
		cmocka_unit_test(test_seccomp_build),
		cmocka_unit_test(test_raw_feed_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
