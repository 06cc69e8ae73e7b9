/*
 * fuzz_url - libFuzzer target for the URL normaliser and the IPv4 reader.
 *
 * Properties checked (abort on violation): normalising an accepted URL
 * again gives the same URL and the same host; under the default policy an
 * accepted IP-literal host is public and on an allowed port; the IPv4
 * reader agrees with itself on the normalised host.
 */
#include "fmacros.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fetcher/netguard.h"
#include "err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct netguard_policy p;
	struct netguard_url u;
	struct netguard_block why;
	struct err e = ERR_INIT;
	char *s = malloc(size + 1);
	uint32_t v4;
	int canon;

	memcpy(s, data, size);
	s[size] = '\0';
	netguard_parse_ipv4(s, &v4, &canon);
	netguard_policy_init(&p);
	if (netguard_url_parse(s, NULL, &p, &u, &why, &e) == 0) {
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
