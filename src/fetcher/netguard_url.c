/*
 * netguard_url.c - a URL's destination checked before any connection. The
 * URL is read by url.c exactly as a browser reads it (the URL Standard);
 * the host it produced is the one checked here, resolved by fetch.c and
 * handed to libcurl in the serialization, so the scanner contacts the
 * host a victim's browser would. On top of the standard: names that end
 * in a number are read once more as resolvers do, local-only names are
 * refused, and IP literals are checked against the blocked ranges.
 */
#include "../fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netguard.h"
#include "url.h"
#include "../buf.h"
#include "../err.h"
#include "../xalloc.h"
#include "../banned.h"


/* Names that only ever mean this machine or the local network. */
static const char *const internal_names[] = {
	"localhost", "localdomain", "local", "internal", "home.arpa", "lan",
	"ip6-localhost", "ip6-loopback",
};

/* Value of one part: decimal, 0-octal or 0x-hex. 0 ok, -1 not a number. */
static int v4_part(const char *s, size_t n, uint64_t *out)
{
	unsigned base = 10;
	uint64_t v = 0;
	unsigned d;

	if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		n -= 2;
	} else if (n >= 2 && s[0] == '0') {
		base = 8;
		s++;
		n--;
	} else if (!n) {
		return -1;
	}
	for (; n; s++, n--) {
		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (*s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (*s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			return -1;
		if (d >= base)
			return -1;
		v = v * base + d;
		if (v > 0xffffffffULL)
			v = 0x100000000ULL; /* too big; stays too big */
	}
	*out = v;
	return 0;
}

/* WHATWG "ends in a number": the last label is all digits or 0x-hex. */
static int ends_in_number(const char *host)
{
	const char *last = strrchr(host, '.');

	last = last ? last + 1 : host;
	if ((last[0] == '0' && (last[1] == 'x' || last[1] == 'X')))
		return last[2 + strspn(last + 2, "0123456789abcdefABCDEF")] == '\0';
	return *last && last[strspn(last, "0123456789")] == '\0';
}

static int is_canonical_part(const char *s, size_t n)
{
	return n >= 1 && n <= 3 && (n == 1 || s[0] != '0');
}

int netguard_parse_ipv4(const char *host, uint32_t *out, int *canonical)
{
	uint64_t parts[4];
	size_t np = 0, n;
	const char *s = host, *dot;
	uint64_t v;
	int canon = 1, i;

	if (!ends_in_number(host))
		return 0;
	do {
		dot = strchr(s, '.');
		n = dot ? (size_t)(dot - s) : strlen(s);
		if (np == 4 || v4_part(s, n, &parts[np]))
			return -1;
		canon &= is_canonical_part(s, n);
		np++;
		s = dot ? dot + 1 : s + n;
	} while (dot);
	for (i = 0; i < (int)np - 1; i++)
		if (parts[i] > 255)
			return -1;
	if (parts[np - 1] >= (1ULL << (8 * (5 - np))))
		return -1;
	v = parts[np - 1];
	for (i = 0; i < (int)np - 1; i++)
		v |= parts[i] << (8 * (3 - i));
	*out = (uint32_t)v;
	if (canonical)
		*canonical = canon && np == 4;
	return 1;
}

static void block(struct netguard_block *why, const char *code,
		  const char *fmt, const char *arg)
{
	why->code = code;
	snprintf(why->msg, sizeof(why->msg), fmt, arg);
}

static int internal_name(const char *host)
{
	size_t i, hl = strlen(host), nl;

	for (i = 0; i < sizeof(internal_names) / sizeof(internal_names[0]); i++) {
		nl = strlen(internal_names[i]);
		if (!strcmp(host, internal_names[i]) ||
		    (hl > nl && host[hl - nl - 1] == '.' &&
		     !strcmp(host + hl - nl, internal_names[i])))
			return 1;
	}
	return 0;
}

/* u->ip becomes the host; u->host its canonical text. */
static void host_is_ip(struct netguard_url *u)
{
	u->host_is_ip = 1;
	free(u->host);
	u->host = xcalloc(1, 64);
	netguard_addr_format(&u->ip, u->host, 64);
}

/*
 * A URL the standard fails, as a refusal where the failure is a known
 * trick: a host ending in a number that is no IPv4 address (resolvers
 * and older parsers read these differently), an IPv6 zone id (it names a
 * local interface). 1 blocked, -1 invalid (e already set).
 */
static int refused_by_standard(const char *url, const char *failure,
			       struct netguard_block *why)
{
	if (!strncmp(failure, "IPv4-", 5) && strncmp(failure, "IPv4-in-IPv6", 12)) {
		block(why, "BLOCKED_AMBIGUOUS_HOST",
		      "host ends in a number but is not a valid IPv4 address (%s)", failure);
		return 1;
	}
	if (!strcmp(failure, "IPv6-invalid-code-point") && strstr(url, "%25")) {
		block(why, "BLOCKED_LINK_LOCAL", "%s", "an IPv6 zone id names a local interface");
		return 1;
	}
	return -1;
}

/* The URL without credentials and fragment, host as u->host says. */
static void rebuild(const struct url *w, struct netguard_url *u)
{
	struct buf b = BUF_INIT;

	buf_addf(&b, NULL, "%s://", w->scheme);
	buf_addstr(&b, u->ip.family == 6 ? w->host : u->host, NULL);
	if (w->port >= 0)
		buf_addf(&b, NULL, ":%d", w->port);
	buf_addstr(&b, w->path, NULL);
	if (w->query)
		buf_addf(&b, NULL, "?%s", w->query);
	u->url = buf_detach(&b, NULL);
}

/* A domain host: numeric names, local-only names. 0, 1 blocked. */
static int domain_host(struct netguard_url *u, struct netguard_block *why)
{
	char name[256];
	size_t n = strlen(u->host);
	uint32_t v4;
	int canon, rc;

	while (n && u->host[n - 1] == '.')
		n--;
	snprintf(name, sizeof(name), "%.*s", (int)n, u->host);
	rc = netguard_parse_ipv4(name, &v4, &canon);
	if (rc < 0) {
		block(why, "BLOCKED_AMBIGUOUS_HOST",
		      "host '%s' ends in a number but is not a valid IPv4 address", u->host);
		return 1;
	}
	if (rc > 0) {
		u->ip.family = 4;
		u->ip.a[0] = (unsigned char)(v4 >> 24);
		u->ip.a[1] = (unsigned char)(v4 >> 16);
		u->ip.a[2] = (unsigned char)(v4 >> 8);
		u->ip.a[3] = (unsigned char)v4;
		u->numeric_trick = 1;
		host_is_ip(u);
		return 0;
	}
	if (!internal_name(name))
		return 0;
	block(why, "BLOCKED_INTERNAL_NAME", "host '%s' is a local-only name", u->host);
	return 1;
}

/* *u from the parsed w, checked. 0, 1 blocked. */
static int from_url(const struct url *w, const struct netguard_policy *p,
		    struct netguard_url *u, struct netguard_block *why)
{
	int rc = 0;

	u->scheme = xstrdup(w->scheme);
	u->full = xstrdup(w->href);
	u->port = url_port(w);
	u->had_userinfo = w->username[0] || w->password[0];
	u->host = xstrdup(w->host);
	if (w->host_type == URL_HOST_DOMAIN) {
		rc = domain_host(u, why);
	} else {
		u->ip.family = w->host_type == URL_HOST_IPV4 ? 4 : 6;
		memcpy(u->ip.a, w->ip, u->ip.family == 4 ? 4 : 16);
		u->numeric_trick = u->ip.family == 4 && w->host_disguised;
		host_is_ip(u);
	}
	if (rc)
		return rc;
	if (u->host_is_ip && netguard_check_addr(p, &u->ip, why))
		return 1;
	rebuild(w, u);
	return netguard_check_port(p, u->port, why) ? 1 : 0;
}

int netguard_url_parse(const char *url, const char *base,
		       const struct netguard_policy *p, struct netguard_url *u,
		       struct netguard_block *why, struct err *e)
{
	struct url b, w;
	int rc;

	memset(u, 0, sizeof(*u));
	if (base && url_parse(&b, base, NULL, e))
		return err_set(e, ERR_INVALID, "base url cannot be parsed");
	rc = url_parse(&w, url, base ? &b : NULL, e);
	if (base)
		url_release(&b);
	if (rc == URL_UNSUPPORTED) {
		why->code = "BLOCKED_SCHEME";
		snprintf(why->msg, sizeof(why->msg), "%s", e->msg);
		err_clear(e);
		return 1;
	}
	if (rc)
		return refused_by_standard(url, w.failure, why);
	rc = from_url(&w, p, u, why);
	url_release(&w);
	if (rc)
		netguard_url_release(u);
	return rc;
}

void netguard_url_release(struct netguard_url *u)
{
	free(u->url);
	free(u->full);
	free(u->scheme);
	free(u->host);
	memset(u, 0, sizeof(*u));
}
