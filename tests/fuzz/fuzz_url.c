/*
 * fuzz_url - libFuzzer target for the URL parser (url.c) and the guard
 * built on it (netguard_url.c).
 *
 * Properties checked (abort on violation):
 *  - the parser never crashes or leaks, absolute or against a base;
 *  - an accepted URL's serialization parses again to itself (the URL
 *    Standard's serializer is idempotent), with the same host;
 *  - the serialization holds no byte a browser would strip or remove
 *    (controls, spaces, tabs, newlines, backslashes outside the query
 *    and fragment, non-ASCII);
 *  - normalising an accepted URL through the guard again gives the same
 *    URL and host; under the default policy an accepted IP-literal host
 *    is public and on an allowed port;
 *  - the IPv4 reader agrees with itself.
 * The first byte picks a base (none or one of a few); the rest is input.
 */
#include "fmacros.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fetcher/netguard.h"
#include "fetcher/url.h"
#include "err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const bases[] = {
	NULL, "http://benign.test/a/b?q#f", "https://[::1]:8443/x", "http://u:p@127.0.0.1/",
};

static void again(const struct netguard_url *u, const struct netguard_policy *p)
{
	struct netguard_url v;
	struct netguard_block why;
	struct err e = ERR_INIT;

	if (netguard_url_parse(u->url, NULL, p, &v, &why, &e) != 0)
		abort();
	if (strcmp(u->url, v.url) || strcmp(u->host, v.host) || u->port != v.port)
		abort();
	netguard_url_release(&v);
}

static void check_serialization(const struct url *u)
{
	const unsigned char *s = (const unsigned char *)u->href;
	const char *q = strpbrk(u->href, "?#");
	struct url v;
	struct err e = ERR_INIT;

	for (; *s; s++)
		if (*s <= 0x20 || *s >= 0x7f ||
		    (*s == '\\' && (!q || (const char *)s < q)))
			abort();
	if (url_parse(&v, u->href, NULL, &e) != 0)
		abort();
	if (strcmp(v.href, u->href) || strcmp(v.host, u->host))
		abort();
	url_release(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct netguard_policy p;
	struct netguard_url u;
	struct netguard_block why;
	struct err e = ERR_INIT;
	struct url w, b;
	const char *base;
	char *s;
	uint32_t v4;
	int canon;

	if (!size)
		return 0;
	base = bases[data[0] % (sizeof(bases) / sizeof(bases[0]))];
	s = malloc(size);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	netguard_parse_ipv4(s, &v4, &canon);
	if (base && url_parse(&b, base, NULL, &e))
		abort();
	if (url_parse(&w, s, base ? &b : NULL, &e) == 0) {
		check_serialization(&w);
		url_release(&w);
	}
	if (base)
		url_release(&b);
	netguard_policy_init(&p);
	if (netguard_url_parse(s, base, &p, &u, &why, &e) == 0) {
		if (u.host_is_ip && netguard_classify(&u.ip, NULL))
			abort();
		if (netguard_check_port(&p, u.port, &why))
			abort();
		again(&u, &p);
		netguard_url_release(&u);
	}
	free(s);
	return 0;
}
