/*
 * fetch - one bounded HTTP(S) fetch that never reaches an internal address.
 *
 * Every URL (the first and each redirect target, read against the URL
 * that sent it) goes through netguard: read as a browser reads it (url.c),
 * scheme and port checked, the host resolved here (or by a
 * --resolve entry), every address checked, and libcurl told to use that
 * one address (CURLOPT_RESOLVE) while an open-socket callback refuses any
 * other. Redirects are followed by hand, up to a limit. Connect time,
 * total time, header bytes, and body bytes on the wire and decompressed
 * are all capped.
 *
 * It does not judge the content: analyze.c does.
 */
#ifndef SAFEURL_FETCH_H
#define SAFEURL_FETCH_H

#include <stddef.h>

#include "../buf.h"
#include "../strvec.h"
#include "netguard.h"

struct err;

struct fetch_opts {
	struct netguard_policy policy;
	struct strvec resolve; /* "HOST:PORT:ADDR" entries (test hook) */
	long max_redirects;
	long connect_timeout_ms;
	long timeout_ms; /* whole fetch, redirects included */
	size_t max_header_bytes;
	size_t max_body_bytes;     /* decompressed */
	size_t max_download_bytes; /* on the wire */
	const char *ca_file;       /* borrowed; NULL = system bundle */
	const char *user_agent;    /* borrowed */
};

enum fetch_outcome { FETCH_DONE, FETCH_BLOCKED, FETCH_FAILED };

struct fetch_hop {
	char *url;   /* the URL requested */
	long status; /* its 3xx answer */
};

#define FETCH_MAX_HOPS 32

struct fetch_tls {
	char version[32]; /* "TLSv1.3"; empty when not https */
	char cipher[64];
	char *subject, *issuer, *not_before, *not_after; /* leaf certificate */
};

struct fetch_timings {
	double dns_ms, connect_ms, tls_ms, first_byte_ms, total_ms;
};

struct fetch_result {
	enum fetch_outcome outcome;
	const char *code;  /* static: error or BLOCKED_* code */
	char msg[256];     /* human explanation when not FETCH_DONE */
	int retryable;
	char *url;         /* the input URL's serialization; NULL when it fails */
	char *final_url;   /* last URL requested or refused (a serialization,
			      or the text as given when it cannot be read) */
	struct fetch_hop hops[FETCH_MAX_HOPS];
	size_t nhops;
	long http_status;  /* last status received, 0 when none */
	struct strvec headers; /* final response: "name: value", names lower-case */
	struct buf body;   /* final response body, decompressed */
	size_t wire_bytes;
	char primary_ip[64];
	int had_userinfo, numeric_trick, downgrade; /* seen on any hop */
	int truncated;     /* the body passed a cap: body holds its first bytes */
	struct fetch_tls tls;
	struct fetch_timings t;
};

/* Defaults: ports 80,443,8080,8443, 5 redirects, 5 s connect, 20 s total... */
void fetch_opts_init(struct fetch_opts *o);
void fetch_opts_release(struct fetch_opts *o);
/* Check and add one "HOST:PORT:ADDR" entry (copied). */
int fetch_opts_add_resolve(struct fetch_opts *o, const char *spec,
			   struct err *e);

/*
 * Fetch url (borrowed) under o; *r tells the outcome (done, blocked or
 * failed, with a code). Release *r with fetch_result_release.
 * curl_global_init must have been called.
 */
void fetch_run(const char *url, const struct fetch_opts *o,
	       struct fetch_result *r);
void fetch_result_release(struct fetch_result *r);

/* Value of header name (lower-case) in r->headers, borrowed, or NULL. */
const char *fetch_header(const struct fetch_result *r, const char *name);

#endif
