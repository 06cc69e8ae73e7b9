/*
 * netguard - decides whether the fetcher may connect to a destination.
 *
 * Pure: bytes in, decisions out; no sockets, no name resolution. It holds
 * the table of blocked IPv4/IPv6 ranges (loopback, private, link-local,
 * CGNAT, multicast, documentation, reserved, cloud metadata...), looks
 * inside IPv6 forms that embed an IPv4 address (mapped, compatible, 6to4,
 * NAT64, Teredo), applies the ports policy and the test allow-list, and
 * checks the destination of a URL read by url.c (the URL Standard, as
 * browsers read it), with our own second reading of names that end in a
 * number (decimal, octal, hex and short IPv4 forms).
 *
 * It does not resolve names or fetch anything: fetch.c resolves a name,
 * asks netguard about every address and connects only to the one checked.
 */
#ifndef SAFEURL_NETGUARD_H
#define SAFEURL_NETGUARD_H

#include <stddef.h>
#include <stdint.h>

struct err;

/* One IP address: family is 4 or 6; IPv4 uses a[0..3] (network order). */
struct netguard_addr {
	int family;
	unsigned char a[16];
};

/* A row of the blocked-ranges table. */
struct netguard_range {
	int family;
	unsigned char prefix[16];
	int bits;
	const char *code; /* reason code, e.g. "BLOCKED_LOOPBACK" */
	const char *what; /* human name of the range, e.g. "loopback" */
	const char *cidr; /* the range as text, e.g. "127.0.0.0/8" */
};

/* Why a destination was refused: code plus one human sentence. */
struct netguard_block {
	const char *code; /* static, e.g. "BLOCKED_PRIVATE" */
	char msg[256];
};

#define NETGUARD_MAX_ALLOW 16
#define NETGUARD_MAX_PORTS 16

/* What the caller allows beyond the defaults. Plain data; no allocation. */
struct netguard_policy {
	struct {
		struct netguard_addr net;
		int bits;
	} allow[NETGUARD_MAX_ALLOW]; /* test hook: ranges let through */
	size_t nallow;
	struct {
		uint16_t lo, hi;
	} ports[NETGUARD_MAX_PORTS];
	size_t nports;
};

/* A normalised, checked URL. Strings are new; netguard_url_release frees. */
struct netguard_url {
	char *url;    /* the serialization without userinfo and fragment */
	char *full;   /* the whole serialization (userinfo, fragment kept) */
	char *scheme; /* "http" or "https" */
	char *host;   /* lower-case ASCII host, IPv6 without brackets */
	int port;
	int host_is_ip;
	struct netguard_addr ip; /* when host_is_ip */
	int had_userinfo;        /* the input carried user[:password]@ */
	int numeric_trick;       /* the host was a non-canonical IP form */
};

/* The blocked-ranges table (static) and its length. */
const struct netguard_range *netguard_ranges(size_t *n);

/*
 * Parse a textual address (dotted quad or IPv6, no brackets, no zone).
 * 0 and *out filled, or -1 when text is not a canonical address literal.
 */
int netguard_addr_parse(const char *text, struct netguard_addr *out);
/* Format a into out (at least 46 bytes). */
void netguard_addr_format(const struct netguard_addr *a, char *out, size_t len);

/*
 * The table row covering a (looking inside IPv4-in-IPv6 forms), or NULL
 * when a is a public address. *embedded gets the inner IPv4 address when
 * the decision came from it (may be NULL).
 */
const struct netguard_range *netguard_classify(const struct netguard_addr *a,
					       struct netguard_addr *embedded);

/* Default policy: nothing allowed beyond the defaults, ports 80,443,8080,8443. */
void netguard_policy_init(struct netguard_policy *p);
/* Let a CIDR ("127.0.0.0/8", "::1/128", a bare address) through. */
int netguard_policy_allow(struct netguard_policy *p, const char *cidr,
			  struct err *e);
/* Replace the allowed ports with a list such as "80,443,1024-65535". */
int netguard_policy_ports(struct netguard_policy *p, const char *spec,
			  struct err *e);

/* 0 when the policy lets a through; -1 with *why filled when blocked. */
int netguard_check_addr(const struct netguard_policy *p,
			const struct netguard_addr *a, struct netguard_block *why);
/* 0 when port is allowed; -1 with *why filled. */
int netguard_check_port(const struct netguard_policy *p, int port,
			struct netguard_block *why);

/*
 * Read an IPv4 host in any form a resolver or browser accepts (WHATWG
 * rules: 1 to 4 parts, each decimal, 0-octal or 0x-hex, the last one
 * filling the remaining bytes). Returns 1 with *out (host order) for an
 * IPv4 host, 0 for a name, -1 for a host that ends in a number but is not
 * a valid address (refused: it means different things to different
 * parsers). *canonical is 1 when host was already a dotted quad.
 */
int netguard_parse_ipv4(const char *host, uint32_t *out, int *canonical);

/*
 * Read url (borrowed) as a browser does, against base (borrowed, an
 * absolute URL such as the page that sent a Location; NULL for none), and
 * check it. Returns 0 with *u filled (new, caller frees with
 * netguard_url_release); 1 when the URL is refused by policy (*why
 * filled, *u empty): a scheme other than http(s), a blocked address or
 * port, a local-only name, a host ending in a number that is no IPv4
 * address, an IPv6 zone id; -1 when the URL Standard fails it (*e filled,
 * kind ERR_INVALID, the standard's name for the failure). An IP-literal host is
 * checked here; a name is left to the caller to resolve and check with
 * netguard_check_addr.
 */
int netguard_url_parse(const char *url, const char *base,
		       const struct netguard_policy *p, struct netguard_url *u,
		       struct netguard_block *why, struct err *e);
void netguard_url_release(struct netguard_url *u);

#endif
