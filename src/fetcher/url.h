/*
 * url - the URL Standard's basic URL parser and serializer, as browsers
 * apply it, for the two schemes the fetcher handles (http and https).
 *
 * Pure: bytes in, a parsed URL and its serialization out; no sockets, no
 * name resolution. It implements the standard's state machine for special
 * schemes: trimming of leading and trailing C0 controls and spaces,
 * removal of tabs and newlines, "\" read as "/", any number of slashes
 * before the authority, the last "@" ending the credentials, the host
 * parser (percent-decoding, domain to ASCII through libidn2's UTS #46
 * processing with the standard's flags, forbidden code points, the IPv4
 * number forms and IPv6 with an embedded IPv4), default ports dropped,
 * dot segments and the standard's percent-encode sets.
 *
 * It does not decide whether a destination may be contacted (netguard
 * does), nor handle schemes other than http and https: such a URL is
 * reported as unsupported, not parsed.
 */
#ifndef SAFEURL_URL_H
#define SAFEURL_URL_H

#include <stddef.h>

struct err;

/* Longest input accepted, in bytes, as given (before any trimming). */
#define URL_MAX_INPUT 16384

enum url_host_type { URL_HOST_DOMAIN, URL_HOST_IPV4, URL_HOST_IPV6 };

/*
 * A parsed URL. The struct is the caller's; its strings are new, made by
 * url_parse and freed by url_release. Components are in serialized form.
 */
struct url {
	char scheme[8];     /* "http" or "https" */
	char *username;     /* percent-encoded, "" when absent */
	char *password;     /* percent-encoded, "" when absent */
	char *host;         /* domain (ASCII), dotted quad, or "[v6]" */
	enum url_host_type host_type;
	unsigned char ip[16]; /* the address for IPv4 (ip[0..3]) and IPv6 */
	int port;           /* -1 when absent or the scheme's default */
	char *path;         /* starts with "/" */
	char *query;        /* without "?", NULL when absent */
	char *fragment;     /* without "#", NULL when absent */
	char *href;         /* the whole serialization */
	int host_disguised; /* an IP host not written in its serialized form */
	const char *failure; /* static: after a failure, the validation error */
};

#define URL_UNSUPPORTED 1

/*
 * Parse input (borrowed, NUL-terminated) against base (borrowed, may be
 * NULL: input must then be absolute). Returns 0 with *u filled (release
 * with url_release); URL_UNSUPPORTED when the scheme is not http or https
 * (e->msg names it, *u empty); -1 when the standard fails the URL (e kind
 * ERR_INVALID, msg "<validation error name>[ in '<part>']", e.g.
 * "port-out-of-range in '99999'"; *u empty but for u->failure, the name
 * alone, e.g. "IPv4-too-many-parts").
 */
int url_parse(struct url *u, const char *input, const struct url *base,
	      struct err *e);
/* Free the strings of u; u is zeroed. Safe on a zeroed struct. */
void url_release(struct url *u);

/* The port in effect: u->port, or 80/443 by scheme. */
int url_port(const struct url *u);

/*
 * The host parser alone (special scheme): raw[0..n) (borrowed) into a new
 * string (caller frees), *type and ip filled. NULL with e set on failure
 * and *failure (may be NULL) naming the validation error (static).
 */
char *url_host_parse(const char *raw, size_t n, enum url_host_type *type,
		     unsigned char ip[16], const char **failure, struct err *e);

#endif
