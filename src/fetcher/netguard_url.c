/*
 * netguard_url.c - URL normalisation before any check: libcurl's URL API
 * parses, libidn2 maps international and full-width hosts to ASCII, and
 * our own reader decides whether a host is an IPv4 address in disguise.
 * The URL handed on is rebuilt from the normalised parts, so the host that
 * libcurl connects to is the host that was checked.
 */
#include "../fmacros.h"

#include <curl/curl.h>
#include <idn2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netguard.h"
#include "../err.h"
#include "../xalloc.h"
#include "../banned.h"

#define URL_MAX 8192
#define HOST_MAX 253

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

/* ASCII, lower-case, no trailing dots; new string or NULL when invalid. */
static char *host_ascii(const char *raw)
{
	const unsigned char *s;
	char *out = NULL, *p;
	size_t n;

	for (s = (const unsigned char *)raw; *s && *s < 0x80; s++)
		;
	if (!*s)
		out = xstrdup(raw);
	else if (idn2_lookup_u8((const uint8_t *)raw, (uint8_t **)&p,
				IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL) == IDN2_OK) {
		out = xstrdup(p);
		idn2_free(p);
	}
	if (!out)
		return NULL;
	for (p = out; *p; p++) {
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
		else if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
			   *p == '-' || *p == '.' || *p == '_'))
			break;
	}
	n = strlen(out);
	while (n && out[n - 1] == '.')
		out[--n] = '\0';
	if (*p || !n || n > HOST_MAX || strstr(out, "..") || out[0] == '.') {
		free(out);
		return NULL;
	}
	return out;
}

/* u->ip becomes the host; u->host its canonical text. */
static void host_is_ip(struct netguard_url *u)
{
	u->host_is_ip = 1;
	free(u->host);
	u->host = xcalloc(1, 64);
	netguard_addr_format(&u->ip, u->host, 64);
}

/* "[v6]" from curl. 0 or -1 (invalid). */
static int host_ipv6(const char *raw, struct netguard_url *u, struct err *e)
{
	char text[64];
	size_t n = strlen(raw);

	if (n < 3 || n - 2 >= sizeof(text) || raw[n - 1] != ']')
		return err_set(e, ERR_INVALID, "host '%s' is not an IPv6 literal", raw);
	memcpy(text, raw + 1, n - 2);
	text[n - 2] = '\0';
	if (netguard_addr_parse(text, &u->ip) || u->ip.family != 6)
		return err_set(e, ERR_INVALID, "host '%s' is not an IPv6 literal", raw);
	host_is_ip(u);
	return 0;
}

/* Set u->host and friends from curl's host. 0, 1 blocked, -1 invalid. */
static int host_normalise(const char *raw, struct netguard_url *u,
			  struct netguard_block *why, struct err *e)
{
	uint32_t v4;
	int canon = 1, rc;

	if (raw[0] == '[')
		return host_ipv6(raw, u, e);
	u->host = host_ascii(raw);
	if (!u->host)
		return err_set(e, ERR_INVALID, "host '%s' is not a valid host name", raw);
	rc = netguard_parse_ipv4(u->host, &v4, &canon);
	if (rc < 0) {
		block(why, "BLOCKED_AMBIGUOUS_HOST",
		      "host '%s' ends in a number but is not a valid IPv4 address", u->host);
		return 1;
	}
	if (rc == 0) {
		if (!internal_name(u->host))
			return 0;
		block(why, "BLOCKED_INTERNAL_NAME", "host '%s' is a local-only name", u->host);
		return 1;
	}
	u->ip.family = 4;
	u->ip.a[0] = (unsigned char)(v4 >> 24);
	u->ip.a[1] = (unsigned char)(v4 >> 16);
	u->ip.a[2] = (unsigned char)(v4 >> 8);
	u->ip.a[3] = (unsigned char)v4;
	u->numeric_trick |= !canon;
	host_is_ip(u);
	return 0;
}

/* Host as written in the input (between "//", userinfo and port). */
static int written_host_differs(const char *url, const char *host)
{
	const char *a = strstr(url, "//"), *end, *at, *colon;
	size_t n;

	if (!a)
		return 0;
	a += 2;
	end = a + strcspn(a, "/?#\\");
	for (at = a; (at = memchr(at, '@', (size_t)(end - at))); a = ++at)
		;
	colon = a < end && *a != '[' ? memchr(a, ':', (size_t)(end - a)) : NULL;
	n = (size_t)((colon ? colon : end) - a);
	return n != strlen(host) || strncasecmp(a, host, n);
}

static int bad_bytes(const char *url)
{
	const unsigned char *s;

	for (s = (const unsigned char *)url; *s; s++)
		if (*s <= 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

static char *part(CURLU *h, CURLUPart what, unsigned flags)
{
	char *p = NULL, *copy;

	if (curl_url_get(h, what, &p, flags) != CURLUE_OK)
		return NULL;
	copy = xstrdup(p);
	curl_free(p);
	return copy;
}

/* Scheme, userinfo and zone checks; the port. 0, 1 blocked, -1 invalid. */
static int url_parts(CURLU *h, struct netguard_url *u, struct netguard_block *why,
		     struct err *e)
{
	char *s, *end;
	long port;

	u->scheme = part(h, CURLUPART_SCHEME, 0);
	if (!u->scheme || (strcmp(u->scheme, "http") && strcmp(u->scheme, "https"))) {
		block(why, "BLOCKED_SCHEME", "scheme '%s' is not http or https",
		      u->scheme ? u->scheme : "");
		return 1;
	}
	s = part(h, CURLUPART_ZONEID, 0);
	free(s);
	if (s) {
		block(why, "BLOCKED_LINK_LOCAL", "%s", "an IPv6 zone id names a local interface");
		return 1;
	}
	s = part(h, CURLUPART_USER, 0);
	free(s);
	u->had_userinfo = s != NULL;
	if (curl_url_set(h, CURLUPART_USER, NULL, 0) ||
	    curl_url_set(h, CURLUPART_PASSWORD, NULL, 0) ||
	    curl_url_set(h, CURLUPART_OPTIONS, NULL, 0) ||
	    curl_url_set(h, CURLUPART_FRAGMENT, NULL, 0))
		return err_set(e, ERR_INTERNAL, "cannot edit url");
	s = part(h, CURLUPART_PORT, CURLU_DEFAULT_PORT);
	port = s ? strtol(s, &end, 10) : 0;
	free(s);
	if (port < 1 || port > 65535)
		return err_set(e, ERR_INVALID, "url has no valid port");
	u->port = (int)port;
	return 0;
}

/* Host normalisation and address check, then the rebuilt URL. */
static int url_host(CURLU *h, const char *url, const struct netguard_policy *p,
		    struct netguard_url *u, struct netguard_block *why,
		    struct err *e)
{
	char *raw = part(h, CURLUPART_HOST, CURLU_URLDECODE), *host;
	int rc;

	if (!raw)
		return err_set(e, ERR_INVALID, "url has no host");
	rc = host_normalise(raw, u, why, e);
	free(raw);
	if (rc)
		return rc;
	if (u->host_is_ip && netguard_check_addr(p, &u->ip, why))
		return 1;
	u->numeric_trick |= u->ip.family == 4 && written_host_differs(url, u->host);
	host = xmalloc(strlen(u->host) + 3);
	snprintf(host, strlen(u->host) + 3, u->ip.family == 6 ? "[%s]" : "%s", u->host);
	rc = curl_url_set(h, CURLUPART_HOST, host, 0);
	free(host);
	if (rc)
		return err_set(e, ERR_INVALID, "host '%s' is not accepted", u->host);
	u->url = part(h, CURLUPART_URL, 0);
	return u->url ? 0 : err_set(e, ERR_INVALID, "url cannot be rebuilt");
}

int netguard_url_parse(const char *url, const struct netguard_policy *p,
		       struct netguard_url *u, struct netguard_block *why,
		       struct err *e)
{
	CURLU *h;
	CURLUcode uc;
	int rc;

	memset(u, 0, sizeof(*u));
	if (strlen(url) > URL_MAX || bad_bytes(url))
		return err_set(e, ERR_INVALID,
			       "url is longer than %d bytes or has spaces or control bytes",
			       URL_MAX);
	h = curl_url();
	if (!h)
		return err_set(e, ERR_INTERNAL, "out of memory");
	uc = curl_url_set(h, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
	if (uc)
		rc = err_set(e, ERR_INVALID, "url cannot be parsed: %s",
			     curl_url_strerror(uc));
	else
		rc = url_parts(h, u, why, e);
	if (!rc)
		rc = url_host(h, url, p, u, why, e);
	if (!rc && netguard_check_port(p, u->port, why))
		rc = 1;
	curl_url_cleanup(h);
	if (rc)
		netguard_url_release(u);
	return rc;
}

void netguard_url_release(struct netguard_url *u)
{
	free(u->url);
	free(u->scheme);
	free(u->host);
	memset(u, 0, sizeof(*u));
}
