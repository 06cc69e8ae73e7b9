/*
 * test_rconn - the pure parts of the Redis connection layer: cluster key
 * slots (values Redis's CLUSTER KEYSLOT gives), node lists, the AUTH
 * command, and which error replies mean "locate the master again".
 */
#include "fmacros.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "rconn.h"

static unsigned slot(const char *k)
{
	return rconn_key_slot(k, strlen(k));
}

static void test_key_slot(void **state)
{
	(void)state;
	/* redis-cli CLUSTER KEYSLOT values */
	assert_int_equal(slot("foo"), 12182);
	assert_int_equal(slot("bar"), 5061);
	assert_int_equal(slot("123456789"), 12739);
	/* a hash tag: only the tag counts */
	assert_int_equal(slot("{foo}:scan-jobs:wait"), 12182);
	assert_int_equal(slot("{bull}"), slot("{bull}:scan-jobs:42:lock"));
	/* an empty tag hashes the whole key */
	assert_int_equal(slot("{}foo"), rconn_key_slot("{}foo", 5));
	assert_int_not_equal(slot("{}foo"), slot("foo"));
}

static void test_parse_nodes(void **state)
{
	struct rconn_addr a[4];
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(rconn_parse_nodes("127.0.0.1:26379,h2:1", "X", a, 4,
					   &e), 2);
	assert_string_equal(a[0].host, "127.0.0.1");
	assert_int_equal(a[0].port, 26379);
	assert_string_equal(a[1].host, "h2");
	assert_int_equal(a[1].port, 1);
	assert_int_equal(rconn_parse_nodes("[::1]:7000", "X", a, 4, &e), 1);
	assert_string_equal(a[0].host, "[::1]");
	assert_int_equal(rconn_parse_nodes("host", "REDIS_SENTINELS", a, 4,
					   &e), -1);
	assert_non_null(strstr(e.msg, "REDIS_SENTINELS='host'"));
	assert_int_equal(rconn_parse_nodes("h:0", "X", a, 4, &e), -1);
	assert_int_equal(rconn_parse_nodes("h:65536", "X", a, 4, &e), -1);
	assert_int_equal(rconn_parse_nodes("h:1,h:2,h:3", "X", a, 2, &e), -1);
	assert_int_equal(rconn_parse_nodes("", "X", a, 2, &e), -1);
}

static void test_auth_argv(void **state)
{
	struct rconn_params p;
	const char *argv[3];
	size_t len[3];

	(void)state;
	memset(&p, 0, sizeof(p));
	p.username = "";
	p.password = "";
	assert_int_equal(rconn_auth_argv(&p, argv, len), 0);
	p.password = "pw";
	assert_int_equal(rconn_auth_argv(&p, argv, len), 2);
	assert_string_equal(argv[1], "pw");
	p.username = "scanner";
	assert_int_equal(rconn_auth_argv(&p, argv, len), 3);
	assert_string_equal(argv[0], "AUTH");
	assert_string_equal(argv[1], "scanner");
	assert_int_equal(len[1], 7);
	assert_string_equal(argv[2], "pw");
}

static void test_replies(void **state)
{
	(void)state;
	assert_true(rconn_redirected("READONLY You can't write against a "
				     "read only replica."));
	assert_true(rconn_redirected("MOVED 3999 127.0.0.1:6381"));
	assert_true(rconn_redirected("ASK 3999 127.0.0.1:6381"));
	assert_true(rconn_redirected("UNBLOCKED force unblock"));
	assert_false(rconn_redirected("ERR wrong number of arguments"));
	assert_false(rconn_redirected("NOSCRIPT No matching script"));
	assert_true(rconn_auth_refused("WRONGPASS invalid username-password "
				       "pair or user is disabled."));
	assert_true(rconn_auth_refused("NOAUTH Authentication required."));
	assert_false(rconn_auth_refused("ERR unknown command"));
	assert_true(rconn_role_is_master("master"));
	assert_false(rconn_role_is_master("slave"));
	assert_false(rconn_role_is_master(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_slot),
		cmocka_unit_test(test_parse_nodes),
		cmocka_unit_test(test_auth_argv),
		cmocka_unit_test(test_replies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
