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
#include <poll.h>
#include <stddef.h>
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

static int set_resolve(struct cli *c, const char *name, const char *arg,
		       struct err *e)
{
	(void)name;
	return fetch_opts_add_resolve(&c->fetch, arg, e);
}

static int set_allow_loopback(struct cli *c, const char *name, const char *arg,
			      struct err *e)
{
	(void)name, (void)arg;
	return netguard_policy_allow(&c->fetch.policy, "127.0.0.0/8", e) ||
	       netguard_policy_allow(&c->fetch.policy, "::1/128", e) ? -1 : 0;
}

static int set_allow_addr(struct cli *c, const char *name, const char *arg,
			  struct err *e)
{
	(void)name;
	return netguard_policy_allow(&c->fetch.policy, arg, e);
}

static int set_ports(struct cli *c, const char *name, const char *arg,
		     struct err *e)
{
	(void)name;
	return netguard_policy_ports(&c->fetch.policy, arg, e);
}

/* --blocklist-WHICH PATH */
static int set_blocklist(struct cli *c, const char *name, const char *arg,
			 struct err *e)
{
	return analyze_lists_load(&c->lists, name + strlen("blocklist-"), arg, e);
}

/* --brands PATH: more rows for the brand table */
static int set_brands(struct cli *c, const char *name, const char *arg,
		      struct err *e)
{
	(void)name;
	return brand_table_load(&c->lists.brands, arg, e);
}

/* --yara-rules PATH: compiled YARA rules */
static int set_yara(struct cli *c, const char *name, const char *arg, struct err *e)
{
	(void)name;
	return analyze_lists_load_yara(&c->lists, arg, e);
}

/* Without fn, ARG_LONG, ARG_SIZE and ARG_STR store into struct fetch_opts at off. */
enum arg_kind { ARG_NONE, ARG_STR, ARG_LONG, ARG_SIZE };

#define OPT_FIELD(name, kind, min, max, field, help) \
	{ name, kind, min, max, offsetof(struct fetch_opts, field), NULL, help }
#define OPT_CALL(name, kind, fn, help) { name, kind, 0, 0, 0, fn, help }

/* The options: one row each; --help prints this table. */
static const struct option_row {
	const char *name;
	enum arg_kind kind; /* of the value; ARG_NONE: a flag for fn */
	long min, max;
	size_t off;
	int (*fn)(struct cli *, const char *name, const char *arg, struct err *);
	const char *help;
} options[] = {
	OPT_CALL("resolve", ARG_STR, set_resolve, "HOST:PORT:ADDR  use ADDR for HOST:PORT, no DNS (repeatable; test hook)"),
	OPT_CALL("allow-loopback", ARG_NONE, set_allow_loopback, "let 127.0.0.0/8 and ::1 through (test hook)"),
	OPT_CALL("allow-addr", ARG_STR, set_allow_addr, "CIDR  let this range through (repeatable; test hook)"),
	OPT_CALL("ports", ARG_STR, set_ports, "LIST  allowed ports (default 80,443,8080,8443)"),
	OPT_FIELD("max-redirects", ARG_LONG, 0, 20, max_redirects, "N  redirects followed (default 5)"),
	OPT_FIELD("connect-timeout", ARG_LONG, 100, 60000, connect_timeout_ms, "MS  per connection (default 5000)"),
	OPT_FIELD("timeout", ARG_LONG, 100, 600000, timeout_ms, "MS  whole fetch, redirects included (default 20000)"),
	OPT_FIELD("max-header-bytes", ARG_SIZE, 1024, 1048576, max_header_bytes, "N  response headers (default 65536)"),
	OPT_FIELD("max-body-bytes", ARG_SIZE, 1024, 268435456, max_body_bytes, "N  decompressed body (default 5242880)"),
	OPT_FIELD("max-download-bytes", ARG_SIZE, 1024, 268435456, max_download_bytes, "N  body on the wire (default 5242880)"),
	OPT_FIELD("ca-file", ARG_STR, 0, 0, ca_file, "PATH  trust these CAs instead of the system bundle"),
	OPT_FIELD("user-agent", ARG_STR, 0, 0, user_agent, "TEXT  User-Agent header"),
	OPT_CALL("blocklist-domains", ARG_STR, set_blocklist, "PATH  domains, one a line (subdomains match)"),
	OPT_CALL("blocklist-urls", ARG_STR, set_blocklist, "PATH  URLs, one a line"),
	OPT_CALL("blocklist-sha256", ARG_STR, set_blocklist, "PATH  SHA-256 digests (hex), one a line"),
	OPT_CALL("brands", ARG_STR, set_brands, "PATH  more brands for impersonation checks (data/brands.tsv format)"),
	OPT_CALL("yara-rules", ARG_STR, set_yara, "PATH  compiled YARA rules (yarac) run over the body and decoded content"),
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
		"  --%-20s %s\n  --%-20s %s\n  --%-20s %s\n\n"
		"exit codes: 0 document written (verdict or fetch error), 64 usage,\n"
		"70 internal failure\n",
		"help", "show this help", "version", "show the version",
		"hold", "wait until killed (the worker's network holder container)");
}

/* Store arg as o says: a checked number or a borrowed string. */
static int store(struct cli *c, const struct option_row *o, const char *arg,
		 struct err *e)
{
	char *end, *field = (char *)&c->fetch + o->off;
	long n;
	size_t size;

	if (o->fn)
		return o->fn(c, o->name, arg, e);
	if (o->kind == ARG_STR) {
		memcpy(field, &arg, sizeof(arg));
		return 0;
	}
	n = strtol(arg, &end, 10);
	if (end == arg || *end || n < o->min || n > o->max)
		return err_set(e, ERR_INVALID, "--%s '%s': expected an integer %ld..%ld",
			       o->name, arg, o->min, o->max);
	size = (size_t)n;
	if (o->kind == ARG_LONG)
		memcpy(field, &n, sizeof(n));
	else
		memcpy(field, &size, sizeof(size));
	return 0;
}

/* Apply argv[*i] (and maybe its value). 0, or -1 with e set. */
static int one_option(struct cli *c, int argc, char **argv, int *i, struct err *e)
{
	const char *name = argv[*i] + 2, *eq = strchr(name, '='), *arg = NULL;
	size_t nl = eq ? (size_t)(eq - name) : strlen(name), k;

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
	return store(c, &options[k], arg, e);
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
	for (i = 0; c->fetch.user_agent[i]; i++)
		if ((unsigned char)c->fetch.user_agent[i] < 0x20 || c->fetch.user_agent[i] == 0x7f)
			return err_set(e, ERR_INVALID,
				       "--user-agent: control byte 0x%02x at offset %d: printable text expected",
				       (unsigned char)c->fetch.user_agent[i], i);
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
		analyze_run(&r, r.url ? r.url : c->url, &c->lists, &a);
	rc = report_write(stdout, r.url ? r.url : c->url, &r, &a);
	analyze_release(&a);
	fetch_result_release(&r);
	return rc ? EX_SOFTWARE : 0;
}

/*
 * --hold: do nothing until killed. The worker's network holder container
 * (Docker runtime, bridge mode) runs this so that its network namespace
 * lives; the fetchers join that namespace. The worker removes it (kill).
 */
static int hold(void)
{
	for (;;)
		poll(NULL, 0, -1);
	return 0; /* not reached */
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
	if (argc == 2 && !strcmp(argv[1], "--hold"))
		return hold();
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
