/*
 * test_netguard - the blocked-ranges table (both sides of every boundary),
 * IPv4-in-IPv6 unwrapping, the allow-list and ports policy, the IPv4 host
 * reader and URL normalisation.
 */
#include "fmacros.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "err.h"
#include "fetcher/netguard.h"

static const char *code_of(const char *text)
{
	struct netguard_addr a;
	const struct netguard_range *r;

	assert_int_equal(netguard_addr_parse(text, &a), 0);
	r = netguard_classify(&a, NULL);
	return r ? r->code : "PUBLIC";
}

/* Add delta (+1/-1) to an address, as a big-endian number. */
static void step(struct netguard_addr *a, int delta)
{
	int n = a->family == 4 ? 4 : 16, i;

	for (i = n - 1; i >= 0; i--) {
		a->a[i] = (unsigned char)(a->a[i] + delta);
		if ((delta > 0 && a->a[i] != 0) || (delta < 0 && a->a[i] != 0xff))
			break;
	}
}

static int contains(const struct netguard_range *r, const struct netguard_addr *a)
{
	int full = r->bits / 8, rest = r->bits % 8;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));

	return r->family == a->family && !memcmp(a->a, r->prefix, (size_t)full) &&
	       (!rest || (a->a[full] & mask) == (r->prefix[full] & mask));
}

/* First and last address of every row are blocked, by a row that covers
 * them or by the IPv4 address they embed; the neighbours just outside are
 * not decided by this row. */
static void test_every_boundary(void **state)
{
	size_t n, i;
	const struct netguard_range *t = netguard_ranges(&n), *got;
	struct netguard_addr lo, hi, out;
	int len, b;

	(void)state;
	assert_true(n >= 30);
	for (i = 0; i < n; i++) {
		len = t[i].family == 4 ? 4 : 16;
		memset(&lo, 0, sizeof(lo));
		lo.family = t[i].family;
		memcpy(lo.a, t[i].prefix, (size_t)len);
		hi = lo;
		for (b = t[i].bits; b < len * 8; b++)
			hi.a[b / 8] |= (unsigned char)(0x80 >> (b % 8));
		memset(&out, 0, sizeof(out));
		got = netguard_classify(&lo, &out);
		assert_non_null(got);
		if (got != &t[i] && !contains(got, &lo) && out.family != 4)
			fail_msg("%s: first address decided by %s", t[i].cidr, got->cidr);
		got = netguard_classify(&hi, NULL);
		assert_non_null(got);
		out = lo;
		step(&out, -1);
		if (t[i].bits && memcmp(out.a, lo.a, 16) && !contains(&t[i], &out))
			assert_ptr_not_equal(netguard_classify(&out, NULL), &t[i]);
		out = hi;
		step(&out, +1);
		if (t[i].bits && !contains(&t[i], &out))
			assert_ptr_not_equal(netguard_classify(&out, NULL), &t[i]);
	}
}

static const struct {
	const char *addr, *code;
} known[] = {
	{ "8.8.8.8", "PUBLIC" }, { "1.1.1.1", "PUBLIC" },
	{ "0.255.255.255", "BLOCKED_UNSPECIFIED" }, { "1.0.0.0", "PUBLIC" },
	{ "9.255.255.255", "PUBLIC" }, { "10.0.0.0", "BLOCKED_PRIVATE" },
	{ "10.255.255.255", "BLOCKED_PRIVATE" }, { "11.0.0.0", "PUBLIC" },
	{ "100.63.255.255", "PUBLIC" }, { "100.64.0.0", "BLOCKED_CGNAT" },
	{ "100.127.255.255", "BLOCKED_CGNAT" }, { "100.128.0.0", "PUBLIC" },
	{ "100.100.100.199", "BLOCKED_CGNAT" }, { "100.100.100.200", "BLOCKED_METADATA" },
	{ "126.255.255.255", "PUBLIC" }, { "127.0.0.0", "BLOCKED_LOOPBACK" },
	{ "127.255.255.255", "BLOCKED_LOOPBACK" }, { "128.0.0.0", "PUBLIC" },
	{ "169.253.255.255", "PUBLIC" }, { "169.254.0.0", "BLOCKED_LINK_LOCAL" },
	{ "169.254.169.253", "BLOCKED_LINK_LOCAL" }, { "169.254.169.254", "BLOCKED_METADATA" },
	{ "169.254.169.255", "BLOCKED_LINK_LOCAL" }, { "169.255.0.0", "PUBLIC" },
	{ "168.63.129.16", "BLOCKED_METADATA" }, { "168.63.129.17", "PUBLIC" },
	{ "172.15.255.255", "PUBLIC" }, { "172.16.0.0", "BLOCKED_PRIVATE" },
	{ "172.31.255.255", "BLOCKED_PRIVATE" }, { "172.32.0.0", "PUBLIC" },
	{ "192.0.0.255", "BLOCKED_RESERVED" }, { "192.0.1.0", "PUBLIC" },
	{ "192.0.2.0", "BLOCKED_DOCUMENTATION" }, { "192.0.3.0", "PUBLIC" },
	{ "192.167.255.255", "PUBLIC" }, { "192.168.0.0", "BLOCKED_PRIVATE" },
	{ "192.169.0.0", "PUBLIC" }, { "198.17.255.255", "PUBLIC" },
	{ "198.18.0.0", "BLOCKED_BENCHMARKING" }, { "198.19.255.255", "BLOCKED_BENCHMARKING" },
	{ "198.20.0.0", "PUBLIC" }, { "223.255.255.255", "PUBLIC" },
	{ "224.0.0.0", "BLOCKED_MULTICAST" }, { "239.255.255.255", "BLOCKED_MULTICAST" },
	{ "240.0.0.0", "BLOCKED_RESERVED" }, { "255.255.255.254", "BLOCKED_RESERVED" },
	{ "255.255.255.255", "BLOCKED_BROADCAST" },
	{ "::", "BLOCKED_UNSPECIFIED" }, { "::1", "BLOCKED_LOOPBACK" },
	{ "::2", "BLOCKED_UNSPECIFIED" }, /* embeds 0.0.0.2 */ { "::8.8.8.8", "BLOCKED_RESERVED" },
	{ "::127.0.0.1", "BLOCKED_LOOPBACK" }, { "2606:4700::1111", "PUBLIC" },
	{ "1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "BLOCKED_RESERVED" },
	{ "2000::", "PUBLIC" }, { "3fff:fff::", "BLOCKED_DOCUMENTATION" },
	{ "3fff:1000::", "PUBLIC" },
	{ "3ffe:ffff::", "PUBLIC" }, { "4000::", "BLOCKED_RESERVED" },
	{ "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", "PUBLIC" },
	{ "2001:db8::", "BLOCKED_DOCUMENTATION" }, { "2001:db9::", "PUBLIC" },
	{ "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", "BLOCKED_RESERVED" },
	{ "2001:200::", "PUBLIC" }, { "2001:2::1", "BLOCKED_BENCHMARKING" },
	{ "fbff:ffff::", "BLOCKED_RESERVED" }, { "fc00::", "BLOCKED_PRIVATE" },
	{ "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "BLOCKED_PRIVATE" },
	{ "fd00:ec2::254", "BLOCKED_METADATA" }, { "fd00:ec2::253", "BLOCKED_PRIVATE" },
	{ "fe7f:ffff::", "BLOCKED_RESERVED" }, { "fe80::", "BLOCKED_LINK_LOCAL" },
	{ "febf:ffff::", "BLOCKED_LINK_LOCAL" }, { "fec0::", "BLOCKED_RESERVED" },
	{ "ff00::", "BLOCKED_MULTICAST" }, { "ff02::1", "BLOCKED_MULTICAST" },
	{ "::ffff:8.8.8.8", "PUBLIC" }, { "::ffff:127.0.0.1", "BLOCKED_LOOPBACK" },
	{ "::ffff:169.254.169.254", "BLOCKED_METADATA" },
	{ "::ffff:0:10.0.0.1", "BLOCKED_PRIVATE" },
	{ "64:ff9b::8.8.8.8", "PUBLIC" }, { "64:ff9b::10.0.0.1", "BLOCKED_PRIVATE" },
	{ "64:ff9b:1::8.8.8.8", "BLOCKED_PRIVATE" },
	{ "2002:808:808::", "PUBLIC" }, { "2002:a00:1::", "BLOCKED_PRIVATE" },
	{ "2002:a9fe:a9fe::1", "BLOCKED_METADATA" },
	{ "2001:0:4136:e378:8000:63bf:3fff:fdd2", "BLOCKED_DOCUMENTATION" },
	{ "2001:0:4136:e378:8000:63bf:f7f7:f7f7", "BLOCKED_RESERVED" },
	{ "2001:0:4136:e378:8000:63bf:80ff:fffe", "BLOCKED_LOOPBACK" },
	{ "2001:0:a00:1::f7f7:f7f7", "BLOCKED_PRIVATE" }, /* Teredo server */
};

static void test_known_addresses(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(code_of(known[i].addr), known[i].code))
			fail_msg("%s: expected %s, got %s", known[i].addr, known[i].code,
				 code_of(known[i].addr));
}

static void test_embedded_address_reported(void **state)
{
	struct netguard_addr a, inner;
	struct netguard_policy p;
	struct netguard_block why;

	(void)state;
	netguard_policy_init(&p);
	assert_int_equal(netguard_addr_parse("::ffff:10.1.2.3", &a), 0);
	memset(&inner, 0, sizeof(inner));
	assert_non_null(netguard_classify(&a, &inner));
	assert_int_equal(inner.family, 4);
	assert_int_equal(netguard_check_addr(&p, &a, &why), -1);
	assert_string_equal(why.code, "BLOCKED_PRIVATE");
	assert_non_null(strstr(why.msg, "embeds 10.1.2.3"));
}

static void test_allow_list(void **state)
{
	struct netguard_policy p;
	struct netguard_addr a;
	struct netguard_block why;
	struct err e = ERR_INIT;

	(void)state;
	netguard_policy_init(&p);
	assert_int_equal(netguard_addr_parse("127.0.0.1", &a), 0);
	assert_int_equal(netguard_check_addr(&p, &a, &why), -1);
	assert_string_equal(why.code, "BLOCKED_LOOPBACK");
	assert_int_equal(netguard_policy_allow(&p, "127.0.0.1/32", &e), 0);
	assert_int_equal(netguard_check_addr(&p, &a, &why), 0);
	assert_int_equal(netguard_addr_parse("127.0.0.2", &a), 0);
	assert_int_equal(netguard_check_addr(&p, &a, &why), -1);
	assert_int_equal(netguard_addr_parse("::ffff:127.0.0.1", &a), 0);
	assert_int_equal(netguard_check_addr(&p, &a, &why), 0);
	assert_int_equal(netguard_policy_allow(&p, "10.0.0.0/33", &e), -1);
	assert_int_equal(netguard_policy_allow(&p, "nonsense", &e), -1);
	assert_int_equal(e.kind, ERR_INVALID);
}

static void test_ports(void **state)
{
	struct netguard_policy p;
	struct netguard_block why;
	struct err e = ERR_INIT;

	(void)state;
	netguard_policy_init(&p);
	assert_int_equal(netguard_check_port(&p, 80, &why), 0);
	assert_int_equal(netguard_check_port(&p, 443, &why), 0);
	assert_int_equal(netguard_check_port(&p, 8443, &why), 0);
	assert_int_equal(netguard_check_port(&p, 22, &why), -1);
	assert_string_equal(why.code, "BLOCKED_PORT");
	assert_int_equal(netguard_policy_ports(&p, "80,1024-2048", &e), 0);
	assert_int_equal(netguard_check_port(&p, 1023, &why), -1);
	assert_int_equal(netguard_check_port(&p, 1024, &why), 0);
	assert_int_equal(netguard_check_port(&p, 2048, &why), 0);
	assert_int_equal(netguard_check_port(&p, 2049, &why), -1);
	assert_int_equal(netguard_check_port(&p, 443, &why), -1);
	assert_int_equal(netguard_policy_ports(&p, "0", &e), -1);
	assert_int_equal(netguard_policy_ports(&p, "65536", &e), -1);
	assert_int_equal(netguard_policy_ports(&p, "90-80", &e), -1);
	assert_int_equal(netguard_policy_ports(&p, "80,", &e), -1);
	assert_int_equal(netguard_policy_ports(&p, "1-65535", &e), 0);
}

static const struct {
	const char *host;
	int rc;
	uint32_t v;
	int canonical;
} v4[] = {
	{ "1.2.3.4", 1, 0x01020304, 1 },   { "127.1", 1, 0x7f000001, 0 },
	{ "127.0.1", 1, 0x7f000001, 0 },   { "2130706433", 1, 0x7f000001, 0 },
	{ "0x7f000001", 1, 0x7f000001, 0 }, { "0177.0.0.1", 1, 0x7f000001, 0 },
	{ "0x7f.1", 1, 0x7f000001, 0 },    { "0", 1, 0, 0 },
	{ "0x", 1, 0, 0 },                 { "4294967295", 1, 0xffffffff, 0 },
	{ "4294967296", -1, 0, 0 },        { "1.16777215", 1, 0x01ffffff, 0 },
	{ "1.16777216", -1, 0, 0 },        { "1.2.65535", 1, 0x0102ffff, 0 },
	{ "1.2.65536", -1, 0, 0 },         { "256.1.1.1", -1, 0, 0 },
	{ "1.2.3.255", 1, 0x010203ff, 1 }, { "1.2.3.256", -1, 0, 0 },
	{ "1.2.3.4.5", -1, 0, 0 },         { "08", -1, 0, 0 },
	{ "09.1", -1, 0, 0 },              { "0x7g.1", -1, 0, 0 },
	{ "example.com", 0, 0, 0 },        { "1.2.3.x", 0, 0, 0 },
	{ "foo.0x10", -1, 0, 0 },          { "a1", 0, 0, 0 },
	{ "1.2.3.04", 1, 0x01020304, 0 },  { "1..2", -1, 0, 0 },
};

static void test_parse_ipv4(void **state)
{
	size_t i;
	uint32_t v;
	int canon, rc;

	(void)state;
	for (i = 0; i < sizeof(v4) / sizeof(v4[0]); i++) {
		v = 0;
		canon = -1;
		rc = netguard_parse_ipv4(v4[i].host, &v, &canon);
		if (rc != v4[i].rc)
			fail_msg("%s: expected %d, got %d", v4[i].host, v4[i].rc, rc);
		if (rc == 1 && (v != v4[i].v || canon != v4[i].canonical))
			fail_msg("%s: got %08x canonical %d", v4[i].host, v, canon);
	}
}

/* Normalisation under a policy that lets every address and port through. */
static const struct {
	const char *in;
	int rc;
	const char *out; /* normalised URL, or the block code */
	int userinfo, trick;
} urls[] = {
	{ "http://example.com/", 0, "http://example.com/", 0, 0 },
	{ "HTTP://EXAMPLE.COM./a?b#frag", 0, "http://example.com./a?b", 0, 0 },
	{ "http://user:pw@Example.com:8080/x", 0, "http://example.com:8080/x", 1, 0 },
	{ "http://127.1/", 0, "http://127.0.0.1/", 0, 1 },
	{ "http://0x7f.0.0.1/", 0, "http://127.0.0.1/", 0, 1 },
	{ "http://%31%32%37.0.0.1/", 0, "http://127.0.0.1/", 0, 1 },
	{ "http://127.0.0.1../", 0, "http://127.0.0.1/", 0, 1 },
	{ "http://127.0.0.1/", 0, "http://127.0.0.1/", 0, 0 },
	{ "http://\xef\xbc\x91\xef\xbc\x92\xef\xbc\x97.0.0.1/", 0, "http://127.0.0.1/", 0, 1 },
	{ "http://b\xc3\xbc" "cher.de/", 0, "http://xn--bcher-kva.de/", 0, 0 },
	{ "https://[::FFFF:127.0.0.1]:8443/", 0, "https://[::ffff:7f00:1]:8443/", 0, 0 },
	{ "http://evil@127.0.0.1/", 0, "http://127.0.0.1/", 1, 0 },
	{ "ftp://example.com/", 1, "BLOCKED_SCHEME", 0, 0 },
	{ "javascript:alert(1)", 1, "BLOCKED_SCHEME", 0, 0 },
	{ "http://localhost/", 1, "BLOCKED_INTERNAL_NAME", 0, 0 },
	{ "http://a.b.internal/", 1, "BLOCKED_INTERNAL_NAME", 0, 0 },
	{ "http://internal.example/", 0, "http://internal.example/", 0, 0 },
	{ "http://1.2.3.4.5/", 1, "BLOCKED_AMBIGUOUS_HOST", 0, 0 },
	{ "http://[fe80::1%25eth0]/", 1, "BLOCKED_LINK_LOCAL", 0, 0 },
	{ "http://exa mple.com/", -1, NULL, 0, 0 },
	/* Browsers trim C0 controls and spaces around a URL, drop tabs and
	 * newlines in it, read "\\" as "/" and accept any number of slashes. */
	{ "http://example.com/\x01", 0, "http://example.com/", 0, 0 },
	{ "  http://ev\til.test/\n", 0, "http://evil.test/", 0, 0 },
	{ "http:evil.test/", 0, "http://evil.test/", 0, 0 },
	{ "http://evil.test\\@benign.test/", 0, "http://evil.test/@benign.test/", 0, 0 },
	{ "http://evil.test:80\\@benign.test/", 0, "http://evil.test/@benign.test/", 0, 0 },
	{ "http://u:p@evil.test@benign.test/", 0, "http://benign.test/", 1, 0 },
	{ "http:\\\\evil.test\\a\\..\\b", 0, "http://evil.test/b", 0, 0 },
	{ "http://exa\tmple.com/", 0, "http://example.com/", 0, 0 },
	{ "http://a%2ecom/", 0, "http://a.com/", 0, 0 },
	{ "http://[::1/", -1, NULL, 0, 0 },
	{ "http://evil.test:99999/", -1, NULL, 0, 0 },
	{ "not a url", -1, NULL, 0, 0 },
	{ "http://a..b/", 0, "http://a..b/", 0, 0 }, /* a name; DNS says no */
	{ "http://exa%00mple.com/", -1, NULL, 0, 0 },
};

static void test_url_normalise(void **state)
{
	struct netguard_policy p;
	struct netguard_url u;
	struct netguard_block why;
	struct err e = ERR_INIT;
	size_t i;
	int rc;

	(void)state;
	netguard_policy_init(&p);
	assert_int_equal(netguard_policy_allow(&p, "0.0.0.0/0", &e), 0);
	assert_int_equal(netguard_policy_allow(&p, "::/0", &e), 0);
	assert_int_equal(netguard_policy_ports(&p, "1-65535", &e), 0);
	for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		why.code = "";
		rc = netguard_url_parse(urls[i].in, NULL, &p, &u, &why, &e);
		if (rc != urls[i].rc)
			fail_msg("%s: expected %d, got %d (%s)", urls[i].in, urls[i].rc, rc, e.msg);
		if (rc == 0) {
			assert_string_equal(u.url, urls[i].out);
			assert_int_equal(u.had_userinfo, urls[i].userinfo);
			if (u.numeric_trick != urls[i].trick)
				fail_msg("%s: numeric_trick %d", urls[i].in, u.numeric_trick);
		} else if (rc == 1) {
			assert_string_equal(why.code, urls[i].out);
		} else {
			assert_int_equal(e.kind, ERR_INVALID);
		}
		netguard_url_release(&u);
	}
}

static void test_default_policy_blocks_literals(void **state)
{
	struct netguard_policy p;
	struct netguard_url u;
	struct netguard_block why;
	struct err e = ERR_INIT;

	(void)state;
	netguard_policy_init(&p);
	assert_int_equal(netguard_url_parse("http://0251.0376.0251.0376/", NULL, &p, &u, &why, &e), 1);
	assert_string_equal(why.code, "BLOCKED_METADATA");
	assert_null(u.url);
	assert_int_equal(netguard_url_parse("http://8.8.8.8:22/", NULL, &p, &u, &why, &e), 1);
	assert_string_equal(why.code, "BLOCKED_PORT");
	assert_int_equal(netguard_url_parse("http://8.8.8.8/", NULL, &p, &u, &why, &e), 0);
	assert_int_equal(u.host_is_ip, 1);
	assert_int_equal(u.port, 80);
	netguard_url_release(&u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_boundary),
		cmocka_unit_test(test_known_addresses),
		cmocka_unit_test(test_embedded_address_reported),
		cmocka_unit_test(test_allow_list),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_parse_ipv4),
		cmocka_unit_test(test_url_normalise),
		cmocka_unit_test(test_default_policy_blocks_literals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
