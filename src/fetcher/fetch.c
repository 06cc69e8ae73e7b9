/*
 * fetch.c - redirects by hand, each hop checked by netguard, resolved once
 * by us and pinned, transferred by libcurl under hard limits.
 */
#include "../fmacros.h"

#include <curl/curl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "fetch.h"
#include "../useragent.h"
#include "../err.h"
#include "../xalloc.h"
#include "../banned.h"

/* Headers kept from the final response (the analyser reads them). */
static const char *const kept_headers[] = {
	"content-type", "content-length", "content-disposition",
	"content-encoding", "location", "refresh", "server",
	"strict-transport-security", "content-security-policy",
	"x-frame-options", "x-content-type-options", "set-cookie",
};

/* libcurl result -> our error code, and whether a retry may help. */
static const struct {
	CURLcode cc;
	const char *code;
	int retryable;
} curl_errors[] = {
	{ CURLE_COULDNT_CONNECT, "CONNECT_FAILED", 0 },
	{ CURLE_OPERATION_TIMEDOUT, "TIMEOUT", 1 },
	{ CURLE_SSL_CONNECT_ERROR, "TLS_ERROR", 0 },
	{ CURLE_PEER_FAILED_VERIFICATION, "TLS_ERROR", 0 },
	{ CURLE_SSL_CERTPROBLEM, "TLS_ERROR", 0 },
	{ CURLE_SSL_CIPHER, "TLS_ERROR", 0 },
	{ CURLE_SSL_CACERT_BADFILE, "TLS_ERROR", 0 },
	{ CURLE_USE_SSL_FAILED, "TLS_ERROR", 0 },
	{ CURLE_FILESIZE_EXCEEDED, "BODY_TOO_LARGE", 0 },
	{ CURLE_GOT_NOTHING, "CONNECTION_LOST", 1 },
	{ CURLE_RECV_ERROR, "CONNECTION_LOST", 1 },
	{ CURLE_SEND_ERROR, "CONNECTION_LOST", 1 },
	{ CURLE_PARTIAL_FILE, "CONNECTION_LOST", 1 },
	{ CURLE_BAD_CONTENT_ENCODING, "PROTOCOL_ERROR", 0 },
	{ CURLE_WEIRD_SERVER_REPLY, "PROTOCOL_ERROR", 0 },
	{ CURLE_HTTP2, "PROTOCOL_ERROR", 0 },
	{ CURLE_HTTP2_STREAM, "PROTOCOL_ERROR", 0 },
};

/* One hop's transfer state, seen by the libcurl callbacks. */
struct hop {
	const struct fetch_opts *o;
	struct fetch_result *r;
	CURL *curl;
	struct netguard_addr pinned;
	size_t header_bytes;
	const char *abort_code; /* set by a callback that stopped the transfer */
	char abort_msg[128];
	int https;
};

void fetch_opts_init(struct fetch_opts *o)
{
	memset(o, 0, sizeof(*o));
	netguard_policy_init(&o->policy);
	strvec_init(&o->resolve);
	o->max_redirects = 5;
	o->connect_timeout_ms = 5000;
	o->timeout_ms = 20000;
	o->max_header_bytes = 64 * 1024;
	o->max_body_bytes = 5 * 1024 * 1024;
	o->max_download_bytes = 5 * 1024 * 1024;
	o->user_agent = SAFEURL_BROWSER_UA;
}

void fetch_opts_release(struct fetch_opts *o)
{
	strvec_clear(&o->resolve);
}

/* Split "HOST:PORT:ADDR"; host and addr are copied into the buffers. */
static int resolve_split(const char *spec, char *host, size_t hlen, long *port,
			 struct netguard_addr *addr)
{
	const char *c1 = strchr(spec, ':'), *c2;
	char text[64], *end;
	size_t n;

	if (!c1 || (size_t)(c1 - spec) >= hlen || c1 == spec)
		return -1;
	memcpy(host, spec, (size_t)(c1 - spec));
	host[c1 - spec] = '\0';
	*port = strtol(c1 + 1, &end, 10);
	c2 = end;
	if (*c2 != ':' || end == c1 + 1 || *port < 1 || *port > 65535)
		return -1;
	c2++;
	n = strlen(c2);
	if (n >= 2 && c2[0] == '[' && c2[n - 1] == ']') {
		c2++;
		n -= 2;
	}
	if (n >= sizeof(text))
		return -1;
	memcpy(text, c2, n);
	text[n] = '\0';
	return netguard_addr_parse(text, addr);
}

int fetch_opts_add_resolve(struct fetch_opts *o, const char *spec,
			   struct err *e)
{
	char host[256];
	long port;
	struct netguard_addr a;

	if (resolve_split(spec, host, sizeof(host), &port, &a))
		return err_set(e, ERR_INVALID,
			       "resolve '%s': expected HOST:PORT:ADDR", spec);
	strvec_push(&o->resolve, spec);
	return 0;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void fail(struct fetch_result *r, enum fetch_outcome outcome,
		 const char *code, int retryable, const char *msg)
{
	size_t n;

	r->outcome = outcome;
	r->code = code;
	r->retryable = retryable;
	n = strnlen(msg, sizeof(r->msg) - 1); /* truncation is intended */
	memcpy(r->msg, msg, n);
	r->msg[n] = '\0';
}

/* An injected resolution for host:port, if the caller gave one. */
static int resolve_injected(const struct fetch_opts *o, const char *host,
			    int port, struct netguard_addr *out)
{
	char h[256];
	long p;
	size_t i;

	size_t n = strlen(host);

	while (n && host[n - 1] == '.')
		n--; /* "evil.test." is the name "evil.test" */
	for (i = 0; i < o->resolve.nr; i++)
		if (!resolve_split(o->resolve.items[i], h, sizeof(h), &p, out) &&
		    p == port && strlen(h) == n && !strncasecmp(h, host, n))
			return 1;
	return 0;
}

static void addr_from_sockaddr(const struct sockaddr *sa, struct netguard_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (sa->sa_family == AF_INET) {
		a->family = 4;
		memcpy(a->a, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		a->family = 6;
		memcpy(a->a, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
	}
}

/* Check every address of res; the first one is pinned. 0 or -1 (r set). */
static int check_all(const struct addrinfo *res, const char *host,
		     const struct fetch_opts *o, struct netguard_addr *out,
		     struct fetch_result *r)
{
	const struct addrinfo *ai;
	struct netguard_addr a;
	struct netguard_block why;
	char msg[sizeof(why.msg) + 64];
	int have = 0;

	for (ai = res; ai; ai = ai->ai_next) {
		addr_from_sockaddr(ai->ai_addr, &a);
		if (!a.family)
			continue;
		if (netguard_check_addr(&o->policy, &a, &why)) {
			snprintf(msg, sizeof(msg), "host '%s' resolves to a blocked address: %s", host, why.msg);
			fail(r, FETCH_BLOCKED, why.code, 0, msg);
			return -1;
		}
		if (!have++)
			*out = a;
	}
	if (!have)
		fail(r, FETCH_FAILED, "DNS_NXDOMAIN", 0, "the name has no address");
	return have ? 0 : -1;
}

/*
 * getaddrinfo bounded by timeout_ms. 0 with *res (caller frees with
 * freeaddrinfo), an EAI_* code, or EAI_AGAIN with *timed_out set. A
 * lookup that cannot be cancelled keeps its request: the resolver thread
 * still writes into it, and the process ends soon after anyway.
 */
static int lookup(const char *host, long timeout_ms, struct addrinfo **res,
		  int *timed_out)
{
	struct gaicb *req = xcalloc(1, sizeof(*req));
	struct addrinfo *hints = xcalloc(1, sizeof(*hints));
	struct gaicb *list[1] = { req };
	struct timespec ts = { timeout_ms / 1000, (timeout_ms % 1000) * 1000000L };
	char *name = xstrdup(host);
	int rc;

	hints->ai_family = AF_UNSPEC;
	hints->ai_socktype = SOCK_STREAM;
	req->ar_name = name;
	req->ar_request = hints;
	rc = getaddrinfo_a(GAI_NOWAIT, list, 1, NULL);
	if (!rc) {
		/* Whatever gai_suspend says (glibc 2.36 reports a timeout as
		 * EAI_SYSTEM), the request's own state tells done or not. */
		while (gai_suspend((const struct gaicb *const *)list, 1, &ts) == EAI_INTR)
			;
		rc = gai_error(req);
	}
	if (rc == EAI_INPROGRESS) {
		*timed_out = 1;
		if (gai_cancel(req) != EAI_CANCELED)
			return EAI_AGAIN;
		rc = EAI_AGAIN;
	} else if (!rc) {
		*res = req->ar_result;
	}
	free(name);
	free(hints);
	free(req);
	return rc;
}

static int resolve_failed(struct fetch_result *r, const char *host, int rc,
			  int timed_out, long timeout_ms)
{
	char msg[300];

	if (timed_out) {
		snprintf(msg, sizeof(msg), "looking up '%s' took more than %ld ms", host,
			 timeout_ms);
		fail(r, FETCH_FAILED, "TIMEOUT", 1, msg);
		return -1;
	}
	snprintf(msg, sizeof(msg), "cannot resolve '%s': %s", host, gai_strerror(rc));
	if (rc == EAI_NONAME || rc == EAI_NODATA)
		fail(r, FETCH_FAILED, "DNS_NXDOMAIN", 0, msg);
	else
		fail(r, FETCH_FAILED, "DNS_FAILURE", 1, msg);
	return -1;
}

/* Resolve host once, within timeout_ms; every address must pass. 0 or -1 (r set). */
static int resolve(const struct fetch_opts *o, const char *host, int port,
		   long timeout_ms, struct netguard_addr *out, struct fetch_result *r)
{
	struct addrinfo *res = NULL;
	int rc, timed_out = 0;

	if (resolve_injected(o, host, port, out)) {
		struct addrinfo one = { 0 };
		struct sockaddr_in6 sa = { 0 };

		one.ai_addr = (struct sockaddr *)&sa;
		sa.sin6_family = out->family == 4 ? AF_INET : AF_INET6;
		if (out->family == 4)
			memcpy(&((struct sockaddr_in *)(void *)&sa)->sin_addr, out->a, 4);
		else
			memcpy(&sa.sin6_addr, out->a, 16);
		return check_all(&one, host, o, out, r);
	}
	rc = lookup(host, timeout_ms, &res, &timed_out);
	if (rc)
		return resolve_failed(r, host, rc, timed_out, timeout_ms);
	rc = check_all(res, host, o, out, r);
	freeaddrinfo(res);
	return rc;
}

static curl_socket_t open_socket(void *arg, curlsocktype purpose,
				 struct curl_sockaddr *sa)
{
	struct hop *h = arg;
	struct netguard_addr a;
	struct netguard_block why;

	addr_from_sockaddr(&sa->addr, &a);
	if (purpose != CURLSOCKTYPE_IPCXN || a.family != h->pinned.family ||
	    memcmp(a.a, h->pinned.a, 16) ||
	    netguard_check_addr(&h->o->policy, &a, &why)) {
		h->abort_code = "BLOCKED_UNCHECKED_ADDRESS";
		snprintf(h->abort_msg, sizeof(h->abort_msg),
			 "a connection to an address that was not checked was refused");
		return CURL_SOCKET_BAD;
	}
	return socket(sa->family, sa->socktype, sa->protocol);
}

static void tls_facts(struct hop *h)
{
	const struct curl_tlssessioninfo *ti = NULL;
	const SSL *ssl;
	const SSL_CIPHER *c;

	if (!h->https || h->r->tls.version[0] ||
	    curl_easy_getinfo(h->curl, CURLINFO_TLS_SSL_PTR, &ti) || !ti ||
	    ti->backend != CURLSSLBACKEND_OPENSSL || !ti->internals)
		return;
	ssl = ti->internals;
	snprintf(h->r->tls.version, sizeof(h->r->tls.version), "%s",
		 SSL_get_version(ssl));
	c = SSL_get_current_cipher(ssl);
	snprintf(h->r->tls.cipher, sizeof(h->r->tls.cipher), "%s",
		 c ? SSL_CIPHER_get_name(c) : "");
}

/* Keep "name: value" when name is one of kept_headers. */
static void keep_header(struct fetch_result *r, const char *line, size_t n)
{
	const char *colon = memchr(line, ':', n);
	size_t i, k, v, nl;
	char *copy;

	if (!colon)
		return;
	nl = (size_t)(colon - line);
	for (i = 0; i < sizeof(kept_headers) / sizeof(kept_headers[0]); i++) {
		if (strlen(kept_headers[i]) != nl || strncasecmp(line, kept_headers[i], nl))
			continue;
		for (v = nl + 1; v < n && (line[v] == ' ' || line[v] == '\t'); v++)
			;
		while (n > v && (line[n - 1] == '\r' || line[n - 1] == '\n' ||
				 line[n - 1] == ' '))
			n--;
		copy = xstrndup(line, n);
		for (k = 0; k < nl; k++)
			if (copy[k] >= 'A' && copy[k] <= 'Z')
				copy[k] = (char)(copy[k] - 'A' + 'a');
		strvec_pushf(&r->headers, "%.*s: %s", (int)nl, copy, copy + v);
		free(copy);
		return;
	}
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	struct hop *h = arg;

	h->header_bytes += n;
	if (h->header_bytes > h->o->max_header_bytes) {
		h->abort_code = "HEADERS_TOO_LARGE";
		snprintf(h->abort_msg, sizeof(h->abort_msg),
			 "response headers passed %zu bytes", h->o->max_header_bytes);
		return 0;
	}
	tls_facts(h);
	if (n >= 5 && !memcmp(data, "HTTP/", 5))
		strvec_clear(&h->r->headers); /* a new (final or 1xx) response */
	else
		keep_header(h->r, data, n);
	return size * n;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct hop *h = arg;

	size_t room = h->o->max_body_bytes - h->r->body.len;

	if (n > room) { /* keep the first bytes, stop the transfer: analysed as truncated */
		buf_add(&h->r->body, data, room, NULL);
		h->r->truncated = 1;
		h->abort_code = "BODY_TRUNCATED";
		snprintf(h->abort_msg, sizeof(h->abort_msg),
			 "decompressed body passed %zu bytes", h->o->max_body_bytes);
		return 0;
	}
	if (buf_add(&h->r->body, data, n, NULL))
		return 0;
	return size * n;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	struct hop *h = arg;

	(void)dltotal, (void)ultotal, (void)ulnow;
	h->r->wire_bytes = (size_t)dlnow;
	if ((size_t)dlnow <= h->o->max_download_bytes)
		return 0;
	h->r->truncated = 1;
	h->abort_code = "BODY_TRUNCATED";
	snprintf(h->abort_msg, sizeof(h->abort_msg),
		 "body passed %zu bytes on the wire", h->o->max_download_bytes);
	return 1;
}

/* Policy and limits: what libcurl may do at all. Non-zero on failure. */
static int setup_limits(struct hop *h, long timeout_ms)
{
	CURL *c = h->curl;
	int rc = 0;

	rc |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	rc |= curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	rc |= curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	rc |= curl_easy_setopt(c, CURLOPT_PROXY, "");
	rc |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	rc |= curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->o->connect_timeout_ms);
	rc |= curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	rc |= curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	rc |= curl_easy_setopt(c, CURLOPT_CERTINFO, 1L);
	rc |= curl_easy_setopt(c, CURLOPT_USERAGENT, h->o->user_agent);
	if (h->o->ca_file)
		rc |= curl_easy_setopt(c, CURLOPT_CAINFO, h->o->ca_file);
	return rc;
}

/* The URL, the pinned address and the callbacks. -1 on failure. */
static int setup(struct hop *h, const struct netguard_url *u,
		 struct curl_slist **pins, long timeout_ms)
{
	char pin[400], ip[64];
	CURL *c = h->curl;
	int rc = setup_limits(h, timeout_ms), n = (int)strlen(u->host);

	netguard_addr_format(&h->pinned, ip, sizeof(ip));
	*pins = NULL;
	if (u->host_is_ip)
		n = 0;
	/* The name as written and, for "name.", as libcurl looks it up. */
	while (n > 0) {
		snprintf(pin, sizeof(pin), h->pinned.family == 6 ? "%.*s:%d:[%s]" : "%.*s:%d:%s",
			 n, u->host, u->port, ip);
		*pins = curl_slist_append(*pins, pin);
		if (u->host[n - 1] != '.')
			break;
		while (n > 0 && u->host[n - 1] == '.')
			n--;
	}
	rc |= curl_easy_setopt(c, CURLOPT_URL, u->url);
	rc |= curl_easy_setopt(c, CURLOPT_RESOLVE, *pins);
	rc |= curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	rc |= curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, h);
	rc |= curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	rc |= curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
	rc |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	rc |= curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
	rc |= curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	rc |= curl_easy_setopt(c, CURLOPT_XFERINFODATA, h);
	rc |= curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	return rc ? -1 : 0;
}

/* Leaf certificate fields from CURLINFO_CERTINFO. */
static void cert_facts(CURL *c, struct fetch_tls *tls)
{
	static const struct {
		const char *key;
		size_t off;
	} fields[] = {
		{ "Subject:", offsetof(struct fetch_tls, subject) },
		{ "Issuer:", offsetof(struct fetch_tls, issuer) },
		{ "Start date:", offsetof(struct fetch_tls, not_before) },
		{ "Expire date:", offsetof(struct fetch_tls, not_after) },
	};
	struct curl_certinfo *ci = NULL;
	const struct curl_slist *s;
	char **slot;
	size_t i;

	if (curl_easy_getinfo(c, CURLINFO_CERTINFO, &ci) || !ci || ci->num_of_certs < 1)
		return;
	for (s = ci->certinfo[0]; s; s = s->next)
		for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
			slot = (char **)(void *)((char *)tls + fields[i].off);
			if (!*slot && !strncmp(s->data, fields[i].key, strlen(fields[i].key)))
				*slot = xstrdup(s->data + strlen(fields[i].key));
		}
}

static void timings(CURL *c, struct fetch_timings *t)
{
	curl_off_t conn = 0, app = 0, first = 0;

	curl_easy_getinfo(c, CURLINFO_CONNECT_TIME_T, &conn);
	curl_easy_getinfo(c, CURLINFO_APPCONNECT_TIME_T, &app);
	curl_easy_getinfo(c, CURLINFO_STARTTRANSFER_TIME_T, &first);
	t->connect_ms = (double)conn / 1e3;
	t->tls_ms = app > conn ? (double)(app - conn) / 1e3 : 0;
	t->first_byte_ms = (double)first / 1e3;
}

static void transfer_error(struct hop *h, CURLcode cc, const char *errbuf)
{
	size_t i;
	char msg[400];

	if (h->abort_code) {
		fail(h->r, strncmp(h->abort_code, "BLOCKED_", 8) ? FETCH_FAILED
								 : FETCH_BLOCKED,
		     h->abort_code, 0, h->abort_msg);
		return;
	}
	snprintf(msg, sizeof(msg), "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
	for (i = 0; i < sizeof(curl_errors) / sizeof(curl_errors[0]); i++)
		if (curl_errors[i].cc == cc) {
			fail(h->r, FETCH_FAILED, curl_errors[i].code,
			     curl_errors[i].retryable, msg);
			return;
		}
	fail(h->r, FETCH_FAILED, "FETCH_FAILED", 0, msg);
}

/*
 * Does libcurl read u->url with the host that was checked? A guard: the
 * serialization leaves libcurl nothing to read differently, and the
 * pinned address holds anyway, but the Host header and SNI come from it.
 */
static int curl_reads_host(const struct netguard_url *u)
{
	CURLU *h = curl_url();
	char *host = NULL, text[64];
	struct netguard_addr a;
	size_t n;
	int same = 0;

	if (h && !curl_url_set(h, CURLUPART_URL, u->url, CURLU_PATH_AS_IS) &&
	    !curl_url_get(h, CURLUPART_HOST, &host, 0)) {
		n = strlen(host);
		if (u->ip.family == 6 && n >= 2 && n - 2 < sizeof(text) && host[0] == '[') {
			memcpy(text, host + 1, n - 2);
			text[n - 2] = '\0';
			same = !netguard_addr_parse(text, &a) && a.family == 6 &&
			       !memcmp(a.a, u->ip.a, 16);
		} else {
			same = !strcasecmp(host, u->host);
		}
	}
	curl_free(host);
	curl_url_cleanup(h);
	return same;
}

/* One request to the pinned address. 0 done, -1 failed (r set). */
static int transfer(struct hop *h, const struct netguard_url *u, long timeout_ms)
{
	struct curl_slist *pins = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode cc;
	char *ip = NULL;

	buf_release(&h->r->body);
	h->r->truncated = 0;
	strvec_clear(&h->r->headers);
	h->https = !strcmp(u->scheme, "https");
	if (!curl_reads_host(u)) {
		snprintf(errbuf, sizeof(errbuf), "libcurl cannot take host '%s' as it was checked", u->host);
		fail(h->r, FETCH_FAILED, "FETCH_FAILED", 0, errbuf);
		return -1;
	}
	if (setup(h, u, &pins, timeout_ms) ||
	    curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, errbuf)) {
		curl_slist_free_all(pins);
		fail(h->r, FETCH_FAILED, "INTERNAL_ERROR", 0, "cannot set up libcurl");
		return -1;
	}
	cc = curl_easy_perform(h->curl);
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &h->r->http_status);
	if (!curl_easy_getinfo(h->curl, CURLINFO_PRIMARY_IP, &ip) && ip)
		snprintf(h->r->primary_ip, sizeof(h->r->primary_ip), "%s", ip);
	timings(h->curl, &h->r->t);
	if (h->https)
		cert_facts(h->curl, &h->r->tls);
	curl_slist_free_all(pins);
	if (cc != CURLE_OK && h->r->truncated)
		cc = CURLE_OK; /* a capped body: its first bytes are the result */
	if (cc != CURLE_OK)
		transfer_error(h, cc, errbuf);
	return cc == CURLE_OK ? 0 : -1;
}

static void tls_release(struct fetch_tls *t)
{
	free(t->subject);
	free(t->issuer);
	free(t->not_before);
	free(t->not_after);
	memset(t, 0, sizeof(*t));
}

/* The transfer of one hop within left_ms (0 or less: already too late). */
static int hop_transfer(struct hop *h, const struct netguard_url *u, long left_ms)
{
	int rc;

	if (left_ms < 1) {
		fail(h->r, FETCH_FAILED, "TIMEOUT", 1, "the fetch ran out of time between redirects");
		return -1;
	}
	h->curl = curl_easy_init();
	if (!h->curl) {
		fail(h->r, FETCH_FAILED, "INTERNAL_ERROR", 0, "cannot start libcurl");
		return -1;
	}
	rc = transfer(h, u, left_ms);
	curl_easy_cleanup(h->curl);
	return rc;
}

/* The URL Standard failed the URL (a Location when redirect): URL_INVALID. */
static void url_invalid(struct fetch_result *r, int redirect, const char *why)
{
	char msg[sizeof(r->msg)];

	snprintf(msg, sizeof(msg), "%s%s", redirect ? "Location: " : "", why);
	fail(r, FETCH_FAILED, "URL_INVALID", 0, msg);
}

/* Check and fetch one URL, read against base (NULL for the first). 0 done, -1 stopped (r set). */
static int one_hop(const struct fetch_opts *o, const char *url, const char *base,
		   struct fetch_result *r, double deadline)
{
	struct netguard_url u;
	struct netguard_block why;
	struct err e = ERR_INIT;
	struct hop h = { o, r, NULL, { 0, { 0 } }, 0, NULL, "", 0 };
	double t0 = now_ms();
	long left;
	int rc;

	free(r->final_url);
	r->final_url = xstrdup(url);
	rc = netguard_url_parse(url, base, &o->policy, &u, &why, &e);
	if (rc) {
		if (rc > 0)
			fail(r, FETCH_BLOCKED, why.code, 0, why.msg);
		else
			url_invalid(r, base != NULL, e.msg);
		return -1;
	}
	if (!base)
		r->url = xstrdup(u.full);
	r->had_userinfo |= u.had_userinfo;
	r->numeric_trick |= u.numeric_trick;
	r->downgrade |= base && !strncmp(base, "https:", 6) && !strcmp(u.scheme, "http");
	free(r->final_url);
	r->final_url = xstrdup(u.url);
	left = (long)(deadline - t0);
	if (left > o->connect_timeout_ms)
		left = o->connect_timeout_ms;
	rc = u.host_is_ip ? (h.pinned = u.ip, 0)
			  : resolve(o, u.host, u.port, left > 1 ? left : 1, &h.pinned, r);
	r->t.dns_ms += now_ms() - t0;
	if (!rc) {
		tls_release(&r->tls);
		rc = hop_transfer(&h, &u, (long)(deadline - now_ms()));
	}
	netguard_url_release(&u);
	return rc;
}

/* The Location of the last response (new, unresolved), or NULL. */
static char *redirect_target(struct fetch_result *r)
{
	const char *loc = fetch_header(r, "location");

	if (r->http_status < 300 || r->http_status > 399 || !loc)
		return NULL;
	return xstrdup(loc);
}

void fetch_run(const char *url, const struct fetch_opts *o,
	       struct fetch_result *r)
{
	double start = now_ms(), deadline = start + (double)o->timeout_ms;
	char *next = xstrdup(url), *base = NULL;

	memset(r, 0, sizeof(*r));
	strvec_init(&r->headers);
	buf_init(&r->body, o->max_body_bytes);
	while (!one_hop(o, next, base, r, deadline)) {
		free(next);
		next = redirect_target(r);
		if (!next)
			break;
		free(base);
		base = xstrdup(r->final_url);
		r->hops[r->nhops].url = xstrdup(r->final_url);
		r->hops[r->nhops++].status = r->http_status;
		if (r->nhops > (size_t)o->max_redirects || r->nhops >= FETCH_MAX_HOPS) {
			fail(r, FETCH_FAILED, "TOO_MANY_REDIRECTS", 0,
			     "more redirects than the limit");
			break;
		}
	}
	free(next);
	free(base);
	r->t.total_ms = now_ms() - start;
}

void fetch_result_release(struct fetch_result *r)
{
	size_t i;

	for (i = 0; i < r->nhops; i++)
		free(r->hops[i].url);
	free(r->final_url);
	free(r->url);
	strvec_clear(&r->headers);
	buf_release(&r->body);
	tls_release(&r->tls);
	memset(r, 0, sizeof(*r));
}

const char *fetch_header(const struct fetch_result *r, const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; i < r->headers.nr; i++)
		if (!strncmp(r->headers.items[i], name, n) &&
		    r->headers.items[i][n] == ':')
			return r->headers.items[i] + n + 2;
	return NULL;
}
