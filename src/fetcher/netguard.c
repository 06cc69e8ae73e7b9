/*
 * netguard.c - the blocked-ranges table, the IPv4-in-IPv6 unwrapping, the
 * ports policy and the test allow-list. URL normalisation lives in
 * netguard_url.c. Nothing here touches the network.
 */
#include "../fmacros.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netguard.h"
#include "../err.h"
#include "../banned.h"

#define R(cidr, code, what) { cidr, "BLOCKED_" #code, what }

/*
 * Blocked ranges, first match wins (so a metadata host sits before the
 * range around it). Sources: IANA IPv4/IPv6 special-purpose registries,
 * cloud providers' metadata endpoints.
 */
static const struct {
	const char *cidr, *code, *what;
} ranges[] = {
	R("0.0.0.0/8", UNSPECIFIED, "this network (unspecified)"),
	R("10.0.0.0/8", PRIVATE, "private network"),
	R("100.100.100.200/32", METADATA, "Alibaba Cloud metadata service"),
	R("100.64.0.0/10", CGNAT, "carrier-grade NAT shared space"),
	R("127.0.0.0/8", LOOPBACK, "loopback"),
	R("169.254.169.254/32", METADATA, "cloud instance metadata service"),
	R("169.254.170.2/32", METADATA, "container task metadata service"),
	R("169.254.0.0/16", LINK_LOCAL, "link-local"),
	R("168.63.129.16/32", METADATA, "Azure platform endpoint"),
	R("172.16.0.0/12", PRIVATE, "private network"),
	R("192.0.0.0/24", RESERVED, "IETF protocol assignments"),
	R("192.0.2.0/24", DOCUMENTATION, "documentation (TEST-NET-1)"),
	R("192.88.99.0/24", RESERVED, "6to4 relay anycast (deprecated)"),
	R("192.168.0.0/16", PRIVATE, "private network"),
	R("198.18.0.0/15", BENCHMARKING, "benchmarking"),
	R("198.51.100.0/24", DOCUMENTATION, "documentation (TEST-NET-2)"),
	R("203.0.113.0/24", DOCUMENTATION, "documentation (TEST-NET-3)"),
	R("224.0.0.0/4", MULTICAST, "multicast"),
	R("255.255.255.255/32", BROADCAST, "limited broadcast"),
	R("240.0.0.0/4", RESERVED, "reserved (class E)"),
	R("::/128", UNSPECIFIED, "unspecified"),
	R("::1/128", LOOPBACK, "loopback"),
	R("fd00:ec2::254/128", METADATA, "AWS instance metadata service"),
	R("::/96", RESERVED, "IPv4-compatible (deprecated)"),
	R("64:ff9b:1::/48", PRIVATE, "local-use NAT64"),
	R("100::/64", RESERVED, "discard-only"),
	R("2001:2::/48", BENCHMARKING, "benchmarking"),
	R("2001::/23", RESERVED, "IETF protocol assignments"),
	R("2001:db8::/32", DOCUMENTATION, "documentation"),
	R("3fff::/20", DOCUMENTATION, "documentation"),
	R("5f00::/16", RESERVED, "segment routing SIDs"),
	R("fc00::/7", PRIVATE, "unique local"),
	R("fe80::/10", LINK_LOCAL, "link-local"),
	R("fec0::/10", RESERVED, "site-local (deprecated)"),
	R("ff00::/8", MULTICAST, "multicast"),
};

#define NRANGES (sizeof(ranges) / sizeof(ranges[0]))

/*
 * IPv6 forms that carry an IPv4 address: where it sits and whether it is
 * inverted (Teredo's client address). The inner address is classified
 * like any other; a public one is reachable through these forms.
 */
static const struct {
	const char *cidr;
	int offset;
	unsigned char xor;
	const char *what;
} embeds[] = {
	{ "::ffff:0:0/96", 12, 0, "IPv4-mapped" },
	{ "::ffff:0:0:0/96", 12, 0, "IPv4-translated" },
	{ "::/96", 12, 0, "IPv4-compatible" },
	{ "64:ff9b::/96", 12, 0, "NAT64" },
	{ "64:ff9b:1::/48", 12, 0, "local-use NAT64" },
	{ "2002::/16", 2, 0, "6to4" },
	{ "2001::/32", 12, 0xff, "Teredo client" },
	{ "2001::/32", 4, 0, "Teredo server" },
};

static struct netguard_range table[NRANGES];
static int table_ready;

/* Parse "addr/bits" or a bare address. 0 or -1. */
static int cidr_parse(const char *cidr, struct netguard_addr *net, int *bits)
{
	char text[64];
	const char *slash = strchr(cidr, '/');
	size_t n = slash ? (size_t)(slash - cidr) : strlen(cidr);
	char *end;
	long b;

	if (n >= sizeof(text))
		return -1;
	memcpy(text, cidr, n);
	text[n] = '\0';
	if (netguard_addr_parse(text, net))
		return -1;
	*bits = net->family == 4 ? 32 : 128;
	if (!slash)
		return 0;
	errno = 0;
	b = strtol(slash + 1, &end, 10);
	if (errno || *end || end == slash + 1 || b < 0 || b > *bits)
		return -1;
	*bits = (int)b;
	return 0;
}

static void table_init(void)
{
	size_t i;
	struct netguard_addr a;

	if (table_ready)
		return;
	for (i = 0; i < NRANGES; i++) {
		if (cidr_parse(ranges[i].cidr, &a, &table[i].bits))
			abort(); /* the table above is wrong */
		table[i].family = a.family;
		memcpy(table[i].prefix, a.a, sizeof(a.a));
		table[i].code = ranges[i].code;
		table[i].what = ranges[i].what;
		table[i].cidr = ranges[i].cidr;
	}
	table_ready = 1;
}

const struct netguard_range *netguard_ranges(size_t *n)
{
	table_init();
	*n = NRANGES;
	return table;
}

int netguard_addr_parse(const char *text, struct netguard_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, text, out->a) == 1) {
		out->family = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, text, out->a) == 1) {
		out->family = 6;
		return 0;
	}
	return -1;
}

void netguard_addr_format(const struct netguard_addr *a, char *out, size_t len)
{
	if (!inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->a, out,
		       (socklen_t)len))
		snprintf(out, len, "?");
}

static int prefix_match(const unsigned char *a, const unsigned char *p, int bits)
{
	int full = bits / 8, rest = bits % 8;
	unsigned char mask;

	if (memcmp(a, p, (size_t)full))
		return 0;
	if (!rest)
		return 1;
	mask = (unsigned char)(0xff << (8 - rest));
	return (a[full] & mask) == (p[full] & mask);
}

static int in_net(const struct netguard_addr *a, const struct netguard_addr *net,
		  int bits)
{
	return a->family == net->family && prefix_match(a->a, net->a, bits);
}

static const struct netguard_range *table_match(const struct netguard_addr *a)
{
	size_t i;

	table_init();
	for (i = 0; i < NRANGES; i++)
		if (table[i].family == a->family &&
		    prefix_match(a->a, table[i].prefix, table[i].bits))
			return &table[i];
	return NULL;
}

/* The first blocked IPv4 address embedded in a, or NULL. */
static const struct netguard_range *embedded_match(const struct netguard_addr *a,
						   struct netguard_addr *inner)
{
	size_t i;
	int j, bits;
	struct netguard_addr net, v4 = { 4, { 0 } };
	const struct netguard_range *r;

	for (i = 0; i < sizeof(embeds) / sizeof(embeds[0]); i++) {
		if (cidr_parse(embeds[i].cidr, &net, &bits) || !in_net(a, &net, bits))
			continue;
		for (j = 0; j < 4; j++)
			v4.a[j] = a->a[embeds[i].offset + j] ^ embeds[i].xor;
		r = table_match(&v4);
		if (r) {
			*inner = v4;
			return r;
		}
	}
	return NULL;
}

/* IPv6 outside 2000::/3 and outside the embedding forms is not global. */
static const struct netguard_range not_global = {
	6, { 0 }, 0, "BLOCKED_RESERVED", "outside global unicast 2000::/3", "::/0"
};

static int is_embedding(const struct netguard_addr *a)
{
	static const unsigned char mapped[12] = { [10] = 0xff, [11] = 0xff };
	static const unsigned char nat64[12] = { 0, 0x64, 0xff, 0x9b };

	return !memcmp(a->a, mapped, 12) || !memcmp(a->a, nat64, 12);
}

const struct netguard_range *netguard_classify(const struct netguard_addr *a,
					       struct netguard_addr *embedded)
{
	const struct netguard_range *r = table_match(a), *inner;
	struct netguard_addr v4;

	if (a->family == 4 || (r && r->bits == 128))
		return r;
	inner = embedded_match(a, &v4);
	if (inner) {
		if (embedded)
			*embedded = v4;
		return inner;
	}
	if (r)
		return r;
	if ((a->a[0] & 0xe0) != 0x20 && !is_embedding(a))
		return &not_global;
	return NULL;
}

void netguard_policy_init(struct netguard_policy *p)
{
	static const uint16_t defaults[] = { 80, 443, 8080, 8443 };
	size_t i;

	memset(p, 0, sizeof(*p));
	for (i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		p->ports[i].lo = p->ports[i].hi = defaults[i];
		p->nports++;
	}
}

int netguard_policy_allow(struct netguard_policy *p, const char *cidr,
			  struct err *e)
{
	if (p->nallow >= NETGUARD_MAX_ALLOW)
		return err_set(e, ERR_INVALID, "too many allowed ranges (at most %d)",
			       NETGUARD_MAX_ALLOW);
	if (cidr_parse(cidr, &p->allow[p->nallow].net, &p->allow[p->nallow].bits))
		return err_set(e, ERR_INVALID,
			       "allowed range '%s': expected ADDR or ADDR/BITS", cidr);
	p->nallow++;
	return 0;
}

/* Parse one port number 1..65535 from s up to end. */
static int port_parse(const char *s, const char *end, uint16_t *out)
{
	long v = 0;

	if (s == end || end - s > 5)
		return -1;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

static int port_item(struct netguard_policy *p, const char *s, const char *end)
{
	const char *dash = memchr(s, '-', (size_t)(end - s));
	uint16_t lo, hi;

	if (p->nports >= NETGUARD_MAX_PORTS)
		return -1;
	if (port_parse(s, dash ? dash : end, &lo))
		return -1;
	hi = lo;
	if (dash && (port_parse(dash + 1, end, &hi) || hi < lo))
		return -1;
	p->ports[p->nports].lo = lo;
	p->ports[p->nports].hi = hi;
	p->nports++;
	return 0;
}

int netguard_policy_ports(struct netguard_policy *p, const char *spec,
			  struct err *e)
{
	const char *s = spec, *comma;

	p->nports = 0;
	do {
		comma = strchr(s, ',');
		if (port_item(p, s, comma ? comma : s + strlen(s)))
			return err_set(e, ERR_INVALID,
				       "ports '%s': expected a list like 80,443,8000-8999 (at most %d items)",
				       spec, NETGUARD_MAX_PORTS);
		s = comma ? comma + 1 : s;
	} while (comma);
	return 0;
}

static int allowed(const struct netguard_policy *p, const struct netguard_addr *a)
{
	size_t i;

	for (i = 0; i < p->nallow; i++)
		if (in_net(a, &p->allow[i].net, p->allow[i].bits))
			return 1;
	return 0;
}

int netguard_check_addr(const struct netguard_policy *p,
			const struct netguard_addr *a, struct netguard_block *why)
{
	struct netguard_addr inner = { 0, { 0 } };
	const struct netguard_range *r = netguard_classify(a, &inner);
	char text[64], itext[64];

	if (!r || allowed(p, a) || (inner.family && allowed(p, &inner)))
		return 0;
	netguard_addr_format(a, text, sizeof(text));
	why->code = r->code;
	if (inner.family) {
		netguard_addr_format(&inner, itext, sizeof(itext));
		snprintf(why->msg, sizeof(why->msg),
			 "%s embeds %s, which is in %s (%s)", text, itext,
			 r->cidr, r->what);
	} else {
		snprintf(why->msg, sizeof(why->msg), "%s is in %s (%s)",
			 text, r->cidr, r->what);
	}
	return -1;
}

int netguard_check_port(const struct netguard_policy *p, int port,
			struct netguard_block *why)
{
	size_t i;

	for (i = 0; i < p->nports; i++)
		if (port >= p->ports[i].lo && port <= p->ports[i].hi)
			return 0;
	why->code = "BLOCKED_PORT";
	snprintf(why->msg, sizeof(why->msg),
		 "port %d is not in the allowed ports policy", port);
	return -1;
}
