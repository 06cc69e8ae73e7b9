/*
 * fetcher_main.c - safeurl-fetcher: one URL in, one JSON document out.
 *
 * Runs inside the scan container. Options come from the command line
 * only; the environment is ignored (proxy variables included). Exit
 * codes: 0 a document was written (ok or not), 64 usage, 70 internal
 * failure.
 */
#include "../fmacros.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "analyze.h"
#include "fetch.h"
#include "report.h"
#include "../err.h"
#include "../banned.h"

struct cli {
	struct fetch_opts fetch;
	struct analyze_lists lists;
	const char *url;
};

static int set_resolve(struct cli *c, const char *arg, long n, struct err *e)
{
	(void)n;
	return fetch_opts_add_resolve(&c->fetch, arg, e);
}

static int set_allow_loopback(struct cli *c, const char *arg, long n, struct err *e)
{
	(void)arg, (void)n;
	return netguard_policy_allow(&c->fetch.policy, "127.0.0.0/8", e) ||
	       netguard_policy_allow(&c->fetch.policy, "::1/128", e) ? -1 : 0;
}

static int set_allow_addr(struct cli *c, const char *arg, long n, struct err *e)
{
	(void)n;
	return netguard_policy_allow(&c->fetch.policy, arg, e);
}

static int set_ports(struct cli *c, const char *arg, long n, struct err *e)
{
	(void)n;
	return netguard_policy_ports(&c->fetch.policy, arg, e);
}

#define SET_LONG(fn, field)                                                \
	static int fn(struct cli *c, const char *arg, long n, struct err *e) \
	{                                                                  \
		(void)arg, (void)e;                                        \
		c->fetch.field = n;                                        \
		return 0;                                                  \
	}
#define SET_SIZE(fn, field)                                                \
	static int fn(struct cli *c, const char *arg, long n, struct err *e) \
	{                                                                  \
		(void)arg, (void)e;                                        \
		c->fetch.field = (size_t)n;                                \
		return 0;                                                  \
	}

SET_LONG(set_max_redirects, max_redirects)
SET_LONG(set_connect_timeout, connect_timeout_ms)
SET_LONG(set_timeout, timeout_ms)
SET_SIZE(set_max_header, max_header_bytes)
SET_SIZE(set_max_body, max_body_bytes)
SET_SIZE(set_max_download, max_download_bytes)

static int set_ca_file(struct cli *c, const char *arg, long n, struct err *e)
{
	(void)n, (void)e;
	c->fetch.ca_file = arg;
	return 0;
}

static int set_user_agent(struct cli *c, const char *arg, long n, struct err *e)
{
	(void)n, (void)e;
	c->fetch.user_agent = arg;
	return 0;
}

static int list_domains(struct cli *c, const char *arg, long n, struct err *e)
{
	(void)n;
	return analyze_lists_load(&c->lists, "domains", arg, e);
}

static int list_urls(struct cli *c, const char *arg, long n, struct err *e)
{
	(void)n;
	return analyze_lists_load(&c->lists, "urls", arg, e);
}

static int list_sha256(struct cli *c, const char *arg, long n, struct err *e)
{
	(void)n;
	return analyze_lists_load(&c->lists, "sha256", arg, e);
}

enum arg_kind { ARG_NONE, ARG_STR, ARG_NUM };

/* The options: one row each; --help prints this table. */
static const struct option_row {
	const char *name;
	enum arg_kind kind;
	long min, max;
	int (*fn)(struct cli *, const char *, long, struct err *);
	const char *help;
} options[] = {
	{ "resolve", ARG_STR, 0, 0, set_resolve, "HOST:PORT:ADDR  use ADDR for HOST:PORT, no DNS (repeatable; test hook)" },
	{ "allow-loopback", ARG_NONE, 0, 0, set_allow_loopback, "let 127.0.0.0/8 and ::1 through (test hook)" },
	{ "allow-addr", ARG_STR, 0, 0, set_allow_addr, "CIDR  let this range through (repeatable; test hook)" },
	{ "ports", ARG_STR, 0, 0, set_ports, "LIST  allowed ports (default 80,443,8080,8443)" },
	{ "max-redirects", ARG_NUM, 0, 20, set_max_redirects, "N  redirects followed (default 5)" },
	{ "connect-timeout", ARG_NUM, 100, 60000, set_connect_timeout, "MS  per connection (default 5000)" },
	{ "timeout", ARG_NUM, 100, 600000, set_timeout, "MS  whole fetch, redirects included (default 20000)" },
	{ "max-header-bytes", ARG_NUM, 1024, 1048576, set_max_header, "N  response headers (default 65536)" },
	{ "max-body-bytes", ARG_NUM, 1024, 268435456, set_max_body, "N  decompressed body (default 5242880)" },
	{ "max-download-bytes", ARG_NUM, 1024, 268435456, set_max_download, "N  body on the wire (default 5242880)" },
	{ "ca-file", ARG_STR, 0, 0, set_ca_file, "PATH  trust these CAs instead of the system bundle" },
	{ "user-agent", ARG_STR, 0, 0, set_user_agent, "TEXT  User-Agent header" },
	{ "blocklist-domains", ARG_STR, 0, 0, list_domains, "PATH  domains, one a line (subdomains match)" },
	{ "blocklist-urls", ARG_STR, 0, 0, list_urls, "PATH  URLs, one a line" },
	{ "blocklist-sha256", ARG_STR, 0, 0, list_sha256, "PATH  SHA-256 digests (hex), one a line" },
};

#define NOPTIONS (sizeof(options) / sizeof(options[0]))

static void usage(FILE *out)
{
	size_t i;

	fprintf(out,
		"usage: safeurl-fetcher [options] URL\n"
		"\n"
		"Fetches URL without ever reaching an internal address, analyses\n"
		"it and prints one JSON document on stdout. Options come from the\n"
		"command line only (--name VALUE or --name=VALUE).\n\n");
	for (i = 0; i < NOPTIONS; i++)
		fprintf(out, "  --%-20s %s\n", options[i].name, options[i].help);
	fprintf(out,
		"  --%-20s %s\n  --%-20s %s\n\n"
		"exit codes: 0 document written (verdict or fetch error), 64 usage,\n"
		"70 internal failure\n",
		"help", "show this help", "version", "show the version");
}

static int number(const struct option_row *o, const char *arg, long *n,
		  struct err *e)
{
	char *end;

	*n = strtol(arg, &end, 10);
	if (end == arg || *end || *n < o->min || *n > o->max)
		return err_set(e, ERR_INVALID, "--%s '%s': expected an integer %ld..%ld",
			       o->name, arg, o->min, o->max);
	return 0;
}

/* Apply argv[*i] (and maybe its value). 0, or -1 with e set. */
static int one_option(struct cli *c, int argc, char **argv, int *i, struct err *e)
{
	const char *name = argv[*i] + 2, *eq = strchr(name, '='), *arg = NULL;
	size_t nl = eq ? (size_t)(eq - name) : strlen(name), k;
	long n = 0;

	for (k = 0; k < NOPTIONS; k++)
		if (strlen(options[k].name) == nl && !strncmp(options[k].name, name, nl))
			break;
	if (k == NOPTIONS)
		return err_set(e, ERR_INVALID, "unknown option '%s'", argv[*i]);
	if (options[k].kind != ARG_NONE) {
		arg = eq ? eq + 1 : *i + 1 < argc ? argv[++*i] : NULL;
		if (!arg)
			return err_set(e, ERR_INVALID, "--%s needs a value", options[k].name);
	} else if (eq) {
		return err_set(e, ERR_INVALID, "--%s takes no value", options[k].name);
	}
	if (options[k].kind == ARG_NUM && number(&options[k], arg, &n, e))
		return -1;
	return options[k].fn(c, arg, n, e);
}

static int parse(struct cli *c, int argc, char **argv, struct err *e)
{
	int i, rest = 0;

	for (i = 1; i < argc; i++) {
		if (!rest && !strcmp(argv[i], "--")) {
			rest = 1;
		} else if (!rest && !strncmp(argv[i], "--", 2)) {
			if (one_option(c, argc, argv, &i, e))
				return -1;
		} else if (c->url) {
			return err_set(e, ERR_INVALID, "more than one URL given");
		} else {
			c->url = argv[i];
		}
	}
	return c->url ? 0 : err_set(e, ERR_INVALID, "no URL given");
}

static int run(struct cli *c)
{
	struct fetch_result r;
	struct analysis a;
	int rc;

	fetch_run(c->url, &c->fetch, &r);
	memset(&a, 0, sizeof(a));
	if (r.outcome == FETCH_DONE)
		analyze_run(&r, c->url, &c->lists, &a);
	rc = report_write(stdout, c->url, &r, &a);
	analyze_release(&a);
	fetch_result_release(&r);
	return rc ? EX_SOFTWARE : 0;
}

int main(int argc, char **argv)
{
	struct cli c;
	struct err e = ERR_INIT;
	int rc;

	if (argc == 2 && !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "--version")) {
		printf("safeurl-fetcher %s\n", SAFEURL_VERSION);
		return 0;
	}
	memset(&c, 0, sizeof(c));
	fetch_opts_init(&c.fetch);
	analyze_lists_init(&c.lists);
	if (parse(&c, argc, argv, &e)) {
		fprintf(stderr, "safeurl-fetcher: %s (try --help)\n", e.msg);
		rc = EX_USAGE;
	} else if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		fprintf(stderr, "safeurl-fetcher: libcurl cannot start\n");
		report_write_internal(stdout, c.url, "libcurl cannot start");
		rc = EX_SOFTWARE;
	} else {
		rc = run(&c);
		curl_global_cleanup();
	}
	fetch_opts_release(&c.fetch);
	analyze_lists_release(&c.lists);
	return rc;
}
