/*
 * test_sandbox - the sandbox runtime's pure parts: a spec's key (user
 * parsing both sides of each rule, network), the network mode names, the
 * egress namespace's refused ranges against the fetcher's blocked ones,
 * the nftables ruleset built from those ranges, the seccomp filter
 * build, and the raw feed of pipe output into the capped stream (cap and cap+1).
 * The sandbox itself is run by tests/integration/t3NN under root.
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
#include "fetcher/netguard.h"
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
	assert_int_equal(key.net, SANDBOX_NET_NONE);
	assert_int_equal(key.memory_mb, 64);
	assert_int_equal(key.tmpfs_mb, 16);
	assert_int_equal(key_of("65534:65534", "host", &key), 0);
	assert_int_equal(key.net, SANDBOX_NET_HOST);
	assert_int_equal(key_of("65534:65534", "bridge", &key), 0);
	assert_int_equal(key.net, SANDBOX_NET_EGRESS);
}

static void test_net_refused_names(void **state)
{
	static const char *const bad[] = { "mynet", "", "Bridge", "none ", NULL };
	enum sandbox_net net;
	struct err e = ERR_INIT;
	size_t i;

	(void)state;
	for (i = 0; bad[i]; i++) {
		err_clear(&e);
		assert_int_equal(sandbox_net_of(bad[i], &net, &e), -1);
		assert_int_equal(e.kind, ERR_INVALID);
		assert_non_null(strstr(e.msg, "CONTAINER_NETWORK_MODE='"));
		assert_non_null(strstr(e.msg, "accepts bridge"));
	}
	assert_int_equal(sandbox_net_of(NULL, &net, &e), -1);
}

/* Is the IPv4 range a inside b (both netguard_addr-parsed CIDRs)? */
static int v4_inside(const unsigned char *a, int abits,
		     const unsigned char *b, int bbits)
{
	int i;

	if (bbits > abits)
		return 0;
	for (i = 0; i < bbits; i++)
		if (((a[i / 8] >> (7 - i % 8)) & 1) != ((b[i / 8] >> (7 - i % 8)) & 1))
			return 0;
	return 1;
}

static void parse_v4(const char *cidr, unsigned char out[4], int *bits)
{
	char addr[32];
	const char *slash = strchr(cidr, '/');
	struct netguard_addr a;

	assert_non_null(slash);
	snprintf(addr, sizeof(addr), "%.*s", (int)(slash - cidr), cidr);
	assert_int_equal(netguard_addr_parse(addr, &a), 0);
	assert_int_equal(a.family, 4);
	memcpy(out, a.a, 4);
	*bits = atoi(slash + 1);
}

/*
 * The egress namespace refuses, by route, every IPv4 range the fetcher
 * blocks, and nothing the fetcher lets through: the two tables stay in
 * step.
 */
static void test_egress_matches_fetcher(void **state)
{
	const struct netguard_range *g;
	const char *const *ref;
	unsigned char ra[4], ga[4];
	struct netguard_addr first;
	size_t ng, nr, i, j;
	int rbits, gbits, covered;

	(void)state;
	g = netguard_ranges(&ng);
	ref = sandbox_egress_refused(&nr);
	for (i = 0; i < ng; i++) {
		if (g[i].family != 4)
			continue;
		parse_v4(g[i].cidr, ga, &gbits);
		for (covered = 0, j = 0; j < nr && !covered; j++) {
			parse_v4(ref[j], ra, &rbits);
			covered = v4_inside(ga, gbits, ra, rbits);
		}
		if (!covered)
			fail_msg("fetcher range %s has no prohibit route", g[i].cidr);
	}
	for (j = 0; j < nr; j++) {
		parse_v4(ref[j], ra, &rbits);
		memset(&first, 0, sizeof(first));
		first.family = 4;
		memcpy(first.a, ra, 4);
		if (!netguard_classify(&first, NULL))
			fail_msg("egress refuses %s, which the fetcher allows", ref[j]);
	}
}

/* The filter's text: every refused range in its set, both chains closed
 * by default, the DNS forwarder open on port 53 only. */
static void test_nft_ruleset(void **state)
{
	struct buf rules = BUF_INIT;
	const char *const *ref;
	char line[64];
	size_t nr, j;

	(void)state;
	ref = sandbox_egress_refused(&nr);
	sandbox_nft_ruleset(ref, nr, "tap0", "10.0.2.3", &rules);
	for (j = 0; j < nr; j++) {
		snprintf(line, sizeof(line), "%s%s", j ? ", " : "{ ", ref[j]);
		if (!strstr(rules.data, line))
			fail_msg("range %s is not in the filter's set", ref[j]);
	}
	assert_non_null(strstr(rules.data, "hook output priority filter; policy drop;"));
	assert_non_null(strstr(rules.data, "hook input priority filter; policy drop;"));
	assert_non_null(strstr(rules.data, "ip daddr 10.0.2.3 meta l4proto { tcp, udp } th dport 53 accept"));
	assert_non_null(strstr(rules.data, "ip daddr @refused4 drop"));
	assert_non_null(strstr(rules.data, "meta l4proto tcp ip daddr @refused4 reject with tcp reset"));
	assert_non_null(strstr(rules.data, "oifname \"tap0\" meta l4proto { tcp, udp } accept"));
	buf_release(&rules);
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
		cmocka_unit_test(test_net_refused_names),
		cmocka_unit_test(test_egress_matches_fetcher),
		cmocka_unit_test(test_nft_ruleset),
		cmocka_unit_test(test_seccomp_build),
		cmocka_unit_test(test_raw_feed_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
