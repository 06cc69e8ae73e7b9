/*
 * analyze.c - the rule table and the checks behind each rule. Every rule
 * is one row: code, weight, decisive flag, sentence, check. The checks
 * read a context built once per analysis (hosts, registrable domains,
 * sniffed type, HTML facts); none of them does I/O.
 */
#include "../fmacros.h"

#include <errno.h>
#include <idn2.h>
#include <libpsl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "analyze.h"
#include "decode.h"
#include "fetch.h"
#include "lure.h"
#include "yrules.h"
#include "netguard.h"
#include "url.h"
#include "../err.h"
#include "../xalloc.h"
#include "../banned.h"

struct ctx {
	const struct fetch_result *r;
	const char *input_url;
	const struct analyze_lists *l;
	struct analysis *a;
	const char *final_url;
	char scheme[8];
	char path[2048]; /* path and query of the final URL */
	int port, host_is_ip;
	char first_host[256], first_reg[256];
	unsigned obfuscation;
};

typedef int (*check_fn)(const struct ctx *c, char *detail, size_t n);

/* Words that phishing pages borrow; a hit outside the registrable domain. */
static const char *const brands[] = {
	"paypal", "apple", "icloud", "microsoft", "office365", "outlook",
	"google", "amazon", "netflix", "facebook", "instagram", "linkedin",
	"wellsfargo", "chase", "bankofamerica", "dropbox", "docusign",
	"coinbase", "binance", "metamask",
};

/* Magic bytes, first match wins. */
static const struct {
	const char *magic;
	size_t len;
	const char *kind, *name;
} magics[] = {
	{ "MZ", 2, "executable", "Windows PE executable" },
	{ "\x7f" "ELF", 4, "executable", "ELF executable" },
	{ "\xfe\xed\xfa\xce", 4, "executable", "Mach-O executable" },
	{ "\xfe\xed\xfa\xcf", 4, "executable", "Mach-O executable" },
	{ "\xce\xfa\xed\xfe", 4, "executable", "Mach-O executable" },
	{ "\xcf\xfa\xed\xfe", 4, "executable", "Mach-O executable" },
	{ "\xca\xfe\xba\xbe", 4, "executable", "Mach-O universal or Java class" },
	{ "dex\n", 4, "executable", "Android DEX" },
	{ "\0asm", 4, "executable", "WebAssembly module" },
	{ "#!", 2, "script", "script with interpreter line" },
	{ "PK\x03\x04", 4, "archive", "ZIP archive" },
	{ "Rar!\x1a\x07", 6, "archive", "RAR archive" },
	{ "7z\xbc\xaf\x27\x1c", 6, "archive", "7-Zip archive" },
	{ "\x1f\x8b", 2, "archive", "gzip data" },
	{ "BZh", 3, "archive", "bzip2 data" },
	{ "\xfd" "7zXZ\0", 6, "archive", "xz data" },
	{ "%PDF-", 5, "document", "PDF document" },
	{ "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8, "document", "OLE document (Office, MSI)" },
	{ "{\\rtf", 5, "document", "RTF document" },
	{ "\x89PNG", 4, "image", "PNG image" },
	{ "GIF8", 4, "image", "GIF image" },
	{ "\xff\xd8\xff", 3, "image", "JPEG image" },
};

static const char *const html_starts[] = {
	"<!doctype html", "<html", "<head", "<body", "<script", "<iframe",
	"<title", "<meta", "<form", "<!--",
};

const char *analyze_sniff(const unsigned char *p, size_t n, const char **name)
{
	size_t i, skip = 0;

	for (i = 0; i < sizeof(magics) / sizeof(magics[0]); i++)
		if (n >= magics[i].len && !memcmp(p, magics[i].magic, magics[i].len)) {
			*name = magics[i].name;
			return magics[i].kind;
		}
	if (n >= 3 && !memcmp(p, "\xef\xbb\xbf", 3))
		skip = 3;
	while (skip < n && (p[skip] == ' ' || p[skip] == '\n' || p[skip] == '\r' ||
			    p[skip] == '\t'))
		skip++;
	for (i = 0; i < sizeof(html_starts) / sizeof(html_starts[0]); i++)
		if (n - skip >= strlen(html_starts[i]) &&
		    !strncasecmp((const char *)p + skip, html_starts[i], strlen(html_starts[i]))) {
			*name = "HTML document";
			return "html";
		}
	*name = n ? "unrecognised data" : "empty";
	return n ? "unknown" : "empty";
}

int analyze_is_eicar(const char *p, size_t n)
{
	/* Split so that this source file is not itself the test file. */
	static const char head[] = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$";
	static const char tail[] = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
	size_t hl = sizeof(head) - 1, tl = sizeof(tail) - 1, i;

	if (n < hl + tl || n > 128 || memcmp(p, head, hl) || memcmp(p + hl, tail, tl))
		return 0;
	for (i = hl + tl; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n' &&
		    p[i] != 0x1a)
			return 0;
	return 1;
}

static const psl_ctx_t *psl(void)
{
	static const psl_ctx_t *ctx;

	if (!ctx)
		ctx = psl_builtin();
	return ctx;
}

/* Registrable domain of host into out ("" for an IP or unknown). */
static void registrable(const char *host, char *out, size_t n)
{
	struct netguard_addr a;
	const char *d;

	out[0] = '\0';
	if (!host[0] || netguard_addr_parse(host, &a) == 0 || !psl())
		return;
	d = psl_registrable_domain(psl(), host);
	snprintf(out, n, "%s", d ? d : host);
}

/* Host (no brackets), port, scheme and path of url read against base (may be NULL). 0 or -1. */
static int url_split(const char *url, const char *base, char *host, size_t hn,
		     int *port, char *scheme, size_t sn, char *path, size_t pn)
{
	struct url b, u;
	struct netguard_addr a;
	struct err e = ERR_INIT;
	int rc;

	if (base && url_parse(&b, base, NULL, &e))
		return -1;
	rc = url_parse(&u, url, base ? &b : NULL, &e);
	if (base)
		url_release(&b);
	if (rc)
		return -1;
	if (u.host_type == URL_HOST_IPV6) {
		a.family = 6;
		memcpy(a.a, u.ip, 16);
		netguard_addr_format(&a, host, hn);
	} else {
		snprintf(host, hn, "%s", u.host);
	}
	*port = url_port(&u);
	snprintf(scheme, sn, "%s", u.scheme);
	snprintf(path, pn, "%s%s%s", u.path, u.query ? "?" : "", u.query ? u.query : "");
	url_release(&u);
	return 0;
}

/* url's serialization without credentials and fragment (the form blocklists compare), into out. */
static void url_key(const char *url, char *out, size_t n)
{
	struct url u;
	struct err e = ERR_INIT;
	char port[16] = "";

	if (url_parse(&u, url, NULL, &e)) {
		snprintf(out, n, "%s", url);
		return;
	}
	if (u.port >= 0)
		snprintf(port, sizeof(port), ":%d", u.port);
	snprintf(out, n, "%s://%s%s%s%s%s", u.scheme, u.host, port, u.path,
		 u.query ? "?" : "", u.query ? u.query : "");
	url_release(&u);
}

/* ---- URL rules ---- */

static int hit_ip_host(const struct ctx *c, char *d, size_t n)
{
	if (c->host_is_ip)
		snprintf(d, n, "%s", c->a->host);
	return c->host_is_ip;
}

static int hit_numeric_trick(const struct ctx *c, char *d, size_t n)
{
	(void)d, (void)n;
	return c->r->numeric_trick;
}

static int hit_userinfo(const struct ctx *c, char *d, size_t n)
{
	(void)d, (void)n;
	return c->r->had_userinfo;
}

static int hit_punycode(const struct ctx *c, char *d, size_t n)
{
	int hit = !strncmp(c->a->host, "xn--", 4) || strstr(c->a->host, ".xn--");

	if (hit)
		snprintf(d, n, "%s", c->a->host);
	return hit;
}

/* Script of a code point: 0 none, 1 Latin, 2 Greek, 3 Cyrillic, 4 other. */
static int script_of(unsigned cp)
{
	if ((cp >= 'a' && cp <= 'z') || (cp >= 0xc0 && cp < 0x250))
		return 1;
	if (cp >= 0x370 && cp < 0x400)
		return 2;
	if (cp >= 0x400 && cp < 0x530)
		return 3;
	return cp >= 0x530 ? 4 : 0;
}

/* Decode one UTF-8 sequence at s; returns its length (1 on bad bytes). */
static size_t utf8_next(const unsigned char *s, unsigned *cp)
{
	size_t len = *s < 0x80 ? 1 : *s >= 0xf0 ? 4 : *s >= 0xe0 ? 3 : *s >= 0xc0 ? 2 : 1;
	size_t i;

	*cp = len == 1 ? *s : *s & (0x3f >> (len - 1));
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			*cp = 0xfffd;
			return 1;
		}
		*cp = (*cp << 6) | (s[i] & 0x3f);
	}
	return len;
}

static int label_mixed(const unsigned char *s, const unsigned char *end)
{
	unsigned cp, seen = 0;
	int sc;

	while (s < end) {
		s += utf8_next(s, &cp);
		sc = script_of(cp);
		if (sc)
			seen |= 1u << sc;
	}
	return seen & (seen - 1) ? 1 : 0;
}

static int hit_mixed_scripts(const struct ctx *c, char *d, size_t n)
{
	char *u = NULL;
	const char *p, *dot;
	int hit = 0;

	if (!strstr(c->a->host, "xn--") ||
	    idn2_to_unicode_8z8z(c->a->host, &u, 0) != IDN2_OK)
		return 0;
	for (p = u; !hit && *p; p = dot ? dot + 1 : p + strlen(p)) {
		dot = strchr(p, '.');
		hit = label_mixed((const unsigned char *)p,
				  (const unsigned char *)(dot ? dot : p + strlen(p)));
		if (!dot)
			break;
	}
	if (hit)
		snprintf(d, n, "%s", u);
	idn2_free(u);
	return hit;
}

static int hit_many_subdomains(const struct ctx *c, char *d, size_t n)
{
	size_t hl = strlen(c->a->host), rl = strlen(c->a->registrable), i;
	int dots = 0;

	if (c->host_is_ip || !rl || hl <= rl)
		return 0;
	for (i = 0; i < hl - rl; i++)
		dots += c->a->host[i] == '.';
	if (dots >= 4)
		snprintf(d, n, "%d labels before %s", dots, c->a->registrable);
	return dots >= 4;
}

static int hit_long_url(const struct ctx *c, char *d, size_t n)
{
	size_t len = strlen(c->final_url);

	if (len > 150)
		snprintf(d, n, "%zu characters", len);
	return len > 150;
}

static int hit_suspicious_chars(const struct ctx *c, char *d, size_t n)
{
	const char *p;
	int pct = 0;

	for (p = c->path; *p; p++)
		pct += *p == '%';
	if (strchr(c->path, '@') || strstr(c->path, "//") || pct > 10) {
		snprintf(d, n, "%s", strchr(c->path, '@') ? "'@' in the path"
				   : pct > 10 ? "many percent-escapes" : "'//' in the path");
		return 1;
	}
	return 0;
}

/* Is word in s but not in the registrable domain? */
static int brand_outside(const char *s, const char *reg, char *d, size_t n)
{
	size_t i;

	for (i = 0; i < sizeof(brands) / sizeof(brands[0]); i++)
		if (strstr(s, brands[i]) && !strstr(reg, brands[i])) {
			snprintf(d, n, "'%s'", brands[i]);
			return 1;
		}
	return 0;
}

static int hit_brand(const struct ctx *c, char *d, size_t n)
{
	char sub[256], lowpath[2048];
	size_t hl = strlen(c->a->host), rl = strlen(c->a->registrable), i;

	snprintf(sub, sizeof(sub), "%.*s", (int)(hl > rl ? hl - rl : 0), c->a->host);
	for (i = 0; c->path[i] && i < sizeof(lowpath) - 1; i++)
		lowpath[i] = (char)((c->path[i] >= 'A' && c->path[i] <= 'Z')
					    ? c->path[i] - 'A' + 'a' : c->path[i]);
	lowpath[i] = '\0';
	if (c->host_is_ip)
		sub[0] = '\0';
	return brand_outside(sub, c->a->registrable, d, n) ||
	       brand_outside(lowpath, c->a->registrable, d, n);
}

static int hit_unusual_port(const struct ctx *c, char *d, size_t n)
{
	int hit = c->port != 80 && c->port != 443;

	if (hit)
		snprintf(d, n, "port %d", c->port);
	return hit;
}

/* ---- HTTP and TLS rules ---- */

static int hit_no_tls(const struct ctx *c, char *d, size_t n)
{
	(void)d, (void)n;
	return strcmp(c->scheme, "https") != 0;
}

static int hit_downgrade(const struct ctx *c, char *d, size_t n)
{
	(void)d, (void)n;
	return c->r->downgrade;
}

static int hit_long_chain(const struct ctx *c, char *d, size_t n)
{
	if (c->r->nhops >= 3)
		snprintf(d, n, "%zu redirects", c->r->nhops);
	return c->r->nhops >= 3;
}

static int hit_cross_site_redirect(const struct ctx *c, char *d, size_t n)
{
	const char *a = c->first_reg[0] ? c->first_reg : c->first_host;
	const char *b = c->a->registrable[0] ? c->a->registrable : c->a->host;
	int hit = c->r->nhops && strcmp(a, b);

	if (hit)
		snprintf(d, n, "from %s to %s", a, b);
	return hit;
}

static int hit_old_tls(const struct ctx *c, char *d, size_t n)
{
	const char *v = c->r->tls.version;
	int hit = !strcmp(v, "TLSv1") || !strcmp(v, "TLSv1.1") || !strcmp(v, "SSLv3");

	if (hit)
		snprintf(d, n, "%s", v);
	return hit;
}

/* ---- content rules ---- */

static int kind_is(const struct ctx *c, const char *kind, char *d, size_t n)
{
	int hit = !strcmp(c->a->sniffed, kind);

	if (hit)
		snprintf(d, n, "%s", c->a->sniffed_name);
	return hit;
}

static int hit_executable(const struct ctx *c, char *d, size_t n)
{
	return kind_is(c, "executable", d, n);
}

static int hit_script(const struct ctx *c, char *d, size_t n)
{
	return kind_is(c, "script", d, n);
}

static int hit_archive(const struct ctx *c, char *d, size_t n)
{
	return kind_is(c, "archive", d, n);
}

static int hit_document(const struct ctx *c, char *d, size_t n)
{
	return kind_is(c, "document", d, n);
}

static int hit_type_mismatch(const struct ctx *c, char *d, size_t n)
{
	const char *s = c->a->sniffed, *t = c->a->declared;
	int risky = !strcmp(s, "executable") || !strcmp(s, "archive") ||
		    !strcmp(s, "script");
	int benign = !strncmp(t, "text/", 5) || !strncmp(t, "image/", 6);

	if (risky && benign)
		snprintf(d, n, "declared %s, content is %s", t, c->a->sniffed_name);
	return risky && benign;
}

static int hit_attachment(const struct ctx *c, char *d, size_t n)
{
	const char *v = fetch_header(c->r, "content-disposition");
	int hit = v && !strncasecmp(v, "attachment", 10);

	if (hit)
		snprintf(d, n, "%s", v);
	return hit;
}

static int hit_eicar(const struct ctx *c, char *d, size_t n)
{
	(void)d, (void)n;
	return analyze_is_eicar(c->r->body.data, c->r->body.len);
}

/* ---- HTML rules ---- */

/* Does the form action (read against the final URL) leave the origin? */
static int action_cross_origin(const struct ctx *c, const char *action,
			       char *d, size_t n)
{
	char host[256], scheme[8], path[8];
	int port, cross = 0;

	if (action[0] && !url_split(action, c->final_url, host, sizeof(host), &port,
				    scheme, sizeof(scheme), path, sizeof(path))) {
		cross = strcasecmp(host, c->a->host) || port != c->port ||
			strcmp(scheme, c->scheme);
		if (cross)
			snprintf(d, n, "posts to %s://%s:%d", scheme, host, port);
	}
	return cross;
}

static int hit_password(const struct ctx *c, char *d, size_t n)
{
	(void)d, (void)n;
	return c->a->html.password_fields > 0;
}

static int forms_cross_origin(const struct ctx *c, int need_password,
			      char *d, size_t n)
{
	size_t i;

	for (i = 0; i < c->a->html.nform; i++)
		if ((!need_password || c->a->html.form[i].passwords) &&
		    action_cross_origin(c, c->a->html.form[i].action, d, n))
			return 1;
	return 0;
}

static int hit_cross_origin_form(const struct ctx *c, char *d, size_t n)
{
	return forms_cross_origin(c, 0, d, n);
}

static int hit_credentials_cross_origin(const struct ctx *c, char *d, size_t n)
{
	return forms_cross_origin(c, 1, d, n);
}

static int hit_hidden_iframe(const struct ctx *c, char *d, size_t n)
{
	if (c->a->html.hidden_iframes)
		snprintf(d, n, "%d", c->a->html.hidden_iframes);
	return c->a->html.hidden_iframes > 0;
}

static int hit_meta_refresh(const struct ctx *c, char *d, size_t n)
{
	(void)d, (void)n;
	return c->a->html.meta_refresh > 0 || fetch_header(c->r, "refresh") != NULL;
}

static int hit_js_redirect(const struct ctx *c, char *d, size_t n)
{
	(void)d, (void)n;
	return c->a->html.js_redirects > 0;
}

/* Public script CDNs: a library from one of them is not the page's own code. */
static const char *const known_cdns[] = {
	"cdn.jsdelivr.net", "cdnjs.cloudflare.com", "unpkg.com", "code.jquery.com",
	"ajax.googleapis.com", "stackpath.bootstrapcdn.com", "maxcdn.bootstrapcdn.com",
	"cdn.datatables.net", "use.fontawesome.com", "kit.fontawesome.com",
	"ajax.aspnetcdn.com", "cdn.tailwindcss.com", "polyfill.io", "esm.sh",
};

static int known_cdn(const char *src)
{
	const char *h = strstr(src, "//");
	size_t i, k;

	for (i = 0; h && i < sizeof(known_cdns) / sizeof(known_cdns[0]); i++) {
		k = strlen(known_cdns[i]);
		if (!strncasecmp(h + 2, known_cdns[i], k) && (h[2 + k] == '/' || h[2 + k] == ':'))
			return 1;
	}
	return 0;
}

static int hit_external_script(const struct ctx *c, char *d, size_t n)
{
	size_t i;

	for (i = 0; i < c->a->html.nscript_src; i++)
		if (!known_cdn(c->a->html.script_src[i]) &&
		    action_cross_origin(c, c->a->html.script_src[i], d, n)) {
			snprintf(d, n, "loads %.140s", c->a->html.script_src[i]);
			return 1;
		}
	return 0;
}

/* ---- brand, credential, decoded-content and behaviour rules ---- */

static int hit_brand_page(const struct ctx *c, char *d, size_t n)
{
	const struct brand_hit *b = &c->a->brand;

	if (b->brand)
		snprintf(d, n, "%s (%s) on %s", b->brand->name, b->evidence,
			 c->a->registrable[0] ? c->a->registrable : c->a->host);
	return b->brand != NULL;
}

/* Words around a log-in form that mark e-mail-first sign-in. */
static const char *const signin_words[] = {
	"sign in", "signin", "sign-in", "log in", "login", "log-in", "logon", "password",
	"next", "continue", "verify", "account",
};

/* What the page asks for: password, card, or an e-mail-first log-in. */
static const char *credential_kind(const struct html_facts *f)
{
	size_t i, j;

	if (f->password_fields)
		return "password";
	if (f->script_password)
		return "password input built by a script";
	if (f->card_fields)
		return "payment card";
	for (i = 0; i < f->nform; i++)
		if (f->form[i].logins)
			for (j = 0; j < sizeof(signin_words) / sizeof(signin_words[0]); j++)
				if (brand_mentions(f->form_text.data, f->form_text.len,
						   signin_words[j], 0))
					return "e-mail-first log-in";
	return NULL;
}

static int hit_brand_credentials(const struct ctx *c, char *d, size_t n)
{
	const char *kind = c->a->brand.brand ? credential_kind(&c->a->html) : NULL;

	if (kind)
		snprintf(d, n, "%s for %s", kind, c->a->brand.brand->name);
	return kind != NULL;
}

static int hit_card_fields(const struct ctx *c, char *d, size_t n)
{
	if (c->a->html.card_fields)
		snprintf(d, n, "%d", c->a->html.card_fields);
	return c->a->html.card_fields > 0;
}

static int hit_script_password(const struct ctx *c, char *d, size_t n)
{
	(void)d, (void)n;
	return c->a->html.script_password > 0 && !c->a->html.forms;
}

static int hit_encoded_document(const struct ctx *c, char *d, size_t n)
{
	if (c->a->decoded)
		snprintf(d, n, "%d payloads", c->a->decoded);
	return c->a->decoded > 0;
}

static int hit_clipboard_command(const struct ctx *c, char *d, size_t n)
{
	return lure_clipboard_command(&c->a->html, d, n);
}

static int hit_clickfix(const struct ctx *c, char *d, size_t n)
{
	return lure_clickfix(&c->a->html, d, n);
}

static int hit_fake_update(const struct ctx *c, char *d, size_t n)
{
	return lure_fake_update(&c->a->html, d, n);
}

static int hit_smuggling(const struct ctx *c, char *d, size_t n)
{
	return lure_smuggling(&c->a->html, d, n);
}

static int hit_truncated(const struct ctx *c, char *d, size_t n)
{
	if (c->r->truncated)
		snprintf(d, n, "first %zu bytes analysed", c->r->body.len);
	return c->r->truncated;
}

static int hit_obfuscation(const struct ctx *c, char *d, size_t n)
{
	int bits = __builtin_popcount(c->obfuscation);

	if (bits >= 2)
		snprintf(d, n, "%d markers", bits);
	return bits >= 2;
}

/* ---- blocklists ---- */

static int listed(const struct strvec *v, const char *s, int suffix)
{
	size_t i, sl = strlen(s), el;

	while (suffix && sl && s[sl - 1] == '.')
		sl--; /* "evil.test." is the name "evil.test" */
	for (i = 0; i < v->nr; i++) {
		el = strlen(v->items[i]);
		if ((sl == el && !strncasecmp(s, v->items[i], sl)) ||
		    (suffix && sl > el && s[sl - el - 1] == '.' &&
		     !strcasecmp(s + sl - el, v->items[i])))
			return 1;
	}
	return 0;
}

static int hit_list_domain(const struct ctx *c, char *d, size_t n)
{
	int hit = c->l && (listed(&c->l->domains, c->a->host, 1) ||
			   listed(&c->l->domains, c->first_host, 1));

	if (hit)
		snprintf(d, n, "%s", c->a->host);
	return hit;
}

static int hit_list_url(const struct ctx *c, char *d, size_t n)
{
	char key[4096];
	size_t i;

	if (!c->l)
		return 0;
	url_key(c->input_url, key, sizeof(key));
	if (listed(&c->l->urls, key, 0))
		return 1;
	url_key(c->final_url, key, sizeof(key));
	if (listed(&c->l->urls, key, 0))
		return 1;
	for (i = 0; i < c->r->nhops; i++)
		if (url_key(c->r->hops[i].url, key, sizeof(key)),
		    listed(&c->l->urls, key, 0)) {
			snprintf(d, n, "%s", c->r->hops[i].url);
			return 1;
		}
	return 0;
}

static int hit_list_sha256(const struct ctx *c, char *d, size_t n)
{
	(void)d, (void)n;
	return c->l && listed(&c->l->sha256, c->a->sha256, 0);
}

#define RULE(code, w, dec, sentence, fn) { { code, w, dec, sentence }, fn }

/* The rule table; docs/fetcher.md lists the same rows. */
static const struct {
	struct analyze_rule rule;
	check_fn hit;
} rules[] = {
	RULE("URL_IP_HOST", 20, 0, "the host is an IP address, not a name", hit_ip_host),
	RULE("URL_NUMERIC_TRICK", 25, 0, "the host is an IP address written in a disguised form", hit_numeric_trick),
	RULE("URL_USERINFO", 20, 0, "the URL carries a user name before the host, which can disguise it", hit_userinfo),
	RULE("URL_PUNYCODE", 10, 0, "the host has an internationalised (punycode) label", hit_punycode),
	RULE("URL_MIXED_SCRIPTS", 30, 0, "a host label mixes letters of different scripts (look-alike domain)", hit_mixed_scripts),
	RULE("URL_MANY_SUBDOMAINS", 10, 0, "the host has many subdomain levels", hit_many_subdomains),
	RULE("URL_LONG", 5, 0, "the URL is unusually long", hit_long_url),
	RULE("URL_SUSPICIOUS_CHARS", 10, 0, "the URL path has characters used to mislead", hit_suspicious_chars),
	RULE("URL_BRAND_OUTSIDE_DOMAIN", 25, 0, "a well-known brand name appears outside the registrable domain", hit_brand),
	RULE("URL_UNUSUAL_PORT", 5, 0, "the server uses a non-standard port", hit_unusual_port),
	RULE("HTTP_NO_TLS", 5, 0, "the final page is not served over HTTPS", hit_no_tls),
	RULE("HTTP_TLS_DOWNGRADE", 15, 0, "a redirect went from HTTPS to plain HTTP", hit_downgrade),
	RULE("HTTP_LONG_REDIRECT_CHAIN", 10, 0, "the URL went through three or more redirects", hit_long_chain),
	RULE("HTTP_CROSS_SITE_REDIRECT", 10, 0, "redirects led to a different site", hit_cross_site_redirect),
	RULE("TLS_OLD_VERSION", 20, 0, "the server negotiated an obsolete TLS version", hit_old_tls),
	RULE("CONTENT_EXECUTABLE", 45, 0, "the content is an executable program", hit_executable),
	RULE("CONTENT_SCRIPT", 15, 0, "the content is a script for an interpreter", hit_script),
	RULE("CONTENT_ARCHIVE", 10, 0, "the content is a compressed archive", hit_archive),
	RULE("CONTENT_DOCUMENT", 5, 0, "the content is a document format that can carry macros or scripts", hit_document),
	RULE("CONTENT_TYPE_MISMATCH", 20, 0, "the declared content type hides what the content really is", hit_type_mismatch),
	RULE("CONTENT_ATTACHMENT", 10, 0, "the server forces a download", hit_attachment),
	RULE("CONTENT_EICAR", 100, 1, "the content is the EICAR anti-virus test file", hit_eicar),
	RULE("HTML_PASSWORD_FIELD", 15, 0, "the page asks for a password", hit_password),
	RULE("HTML_CROSS_ORIGIN_FORM", 10, 0, "a form on the page submits to another origin", hit_cross_origin_form),
	RULE("HTML_CREDENTIALS_CROSS_ORIGIN", 40, 0, "a password form submits to another origin", hit_credentials_cross_origin),
	RULE("HTML_HIDDEN_IFRAME", 30, 0, "the page embeds an invisible frame", hit_hidden_iframe),
	RULE("HTML_META_REFRESH", 10, 0, "the page redirects itself with a refresh", hit_meta_refresh),
	RULE("HTML_JS_REDIRECT", 10, 0, "a script on the page changes the location", hit_js_redirect),
	RULE("HTML_EXTERNAL_SCRIPT", 5, 0, "the page loads scripts from another origin", hit_external_script),
	RULE("HTML_OBFUSCATED_SCRIPT", 30, 0, "an inline script uses obfuscation techniques", hit_obfuscation),
	RULE("BRAND_IMPERSONATION", 15, 0, "the page presents itself as a brand whose domains do not include this one", hit_brand_page),
	RULE("BRAND_CREDENTIALS", 55, 0, "the page asks for credentials on behalf of a brand it does not belong to", hit_brand_credentials),
	RULE("HTML_CARD_FIELDS", 20, 0, "the page asks for a payment card", hit_card_fields),
	RULE("HTML_SCRIPT_PASSWORD", 20, 0, "a script builds a password input outside any form in the markup", hit_script_password),
	RULE("HTML_ENCODED_DOCUMENT", 25, 0, "the page carries content in encoded form (data: URL, unescape, atob, fromCharCode)", hit_encoded_document),
	RULE("JS_CLIPBOARD_COMMAND", 35, 0, "a script puts a command on the clipboard", hit_clipboard_command),
	RULE("JS_CLICKFIX", 40, 0, "the page tells the visitor to paste and run what it copied (ClickFix)", hit_clickfix),
	RULE("HTML_FAKE_UPDATE", 40, 0, "the page claims an update or check is needed and links a program to download", hit_fake_update),
	RULE("JS_HTML_SMUGGLING", 40, 0, "a script assembles a file inside the browser (HTML smuggling)", hit_smuggling),
	RULE("BODY_TRUNCATED", 0, 0, "the body was larger than the cap; its first bytes were analysed", hit_truncated),
	RULE("BLOCKLIST_DOMAIN", 100, 1, "the domain is on the local blocklist", hit_list_domain),
	RULE("BLOCKLIST_URL", 100, 1, "the URL is on the local blocklist", hit_list_url),
	RULE("BLOCKLIST_SHA256", 100, 1, "the content's SHA-256 is on the local blocklist", hit_list_sha256),
};

#define NRULES (sizeof(rules) / sizeof(rules[0]))

static struct analyze_rule rule_view[NRULES];

const struct analyze_rule *analyze_rules(size_t *n)
{
	size_t i;

	for (i = 0; i < NRULES; i++)
		rule_view[i] = rules[i].rule;
	*n = NRULES;
	return rule_view;
}

const char *analyze_verdict(int score, int decisive)
{
	if (decisive || score >= 70)
		return "malicious";
	return score >= 30 ? "suspicious" : "safe";
}

static void sha256_hex(const void *p, size_t n, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0, i;

	out[0] = '\0';
	if (!EVP_Digest(p, n, md, &len, EVP_sha256(), NULL))
		return;
	for (i = 0; i < len && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void declared_type(const struct fetch_result *r, char *out, size_t n)
{
	const char *v = fetch_header(r, "content-type");
	size_t i;

	snprintf(out, n, "%.*s", v ? (int)strcspn(v, ";") : 0, v ? v : "");
	for (i = 0; out[i]; i++)
		if (out[i] >= 'A' && out[i] <= 'Z')
			out[i] = (char)(out[i] - 'A' + 'a');
	while (i && out[i - 1] == ' ')
		out[--i] = '\0';
}

#define DECODE_DEPTH 2
#define DECODE_BYTES (1024 * 1024)

/*
 * Decode what f hides (decode.c), scan it as HTML and merge its facts
 * into f; then the same on what that showed, DECODE_DEPTH levels and
 * DECODE_BYTES of decoded text per level at most. Returns the payloads
 * that decoded to markup (a document hidden in the page).
 */
static int analyze_decoded(struct html_facts *f, struct buf *keep)
{
	struct html_facts inner, next;
	struct buf out;
	int depth, markup = 0, k;
	const struct html_facts *from = f;

	memset(&inner, 0, sizeof(inner));
	for (depth = 0; depth < DECODE_DEPTH; depth++) {
		buf_init(&out, DECODE_BYTES);
		k = decode_payloads(from->embedded.data, from->embedded.len,
				    from->script_text.data, from->script_text.len, &out, &markup);
		if (k) {
			html_scan(out.data, out.len, &next);
			buf_add(keep, out.data,
				out.len < keep->max - keep->len ? out.len : keep->max - keep->len, NULL);
		}
		buf_release(&out);
		if (from == &inner)
			html_facts_release(&inner);
		if (!k)
			break;
		html_facts_merge(f, &next);
		inner = next;
		from = &inner;
	}
	if (from == &inner)
		html_facts_release(&inner);
	return markup;
}

static void claim_brand(struct ctx *c)
{
	struct analysis *a = c->a;
	struct brand_hit user;

	brand_claim(brand_default(), &a->html, a->host, a->registrable, &a->brand);
	if (c->l && c->l->brands.n &&
	    brand_claim(&c->l->brands, &a->html, a->host, a->registrable, &user) &&
	    user.strength > a->brand.strength)
		a->brand = user;
}

static void context(struct ctx *c, const struct fetch_result *r)
{
	struct analysis *a = c->a;
	struct netguard_addr ip;
	char scheme[8], path[8];
	int port;

	c->final_url = r->final_url ? r->final_url : c->input_url;
	if (url_split(c->final_url, NULL, a->host, sizeof(a->host), &c->port, c->scheme,
		      sizeof(c->scheme), c->path, sizeof(c->path)))
		a->host[0] = '\0';
	c->host_is_ip = netguard_addr_parse(a->host, &ip) == 0;
	registrable(a->host, a->registrable, sizeof(a->registrable));
	if (!r->nhops || url_split(r->hops[0].url, NULL, c->first_host, sizeof(c->first_host),
				   &port, scheme, sizeof(scheme), path, sizeof(path)))
		snprintf(c->first_host, sizeof(c->first_host), "%s", a->host);
	registrable(c->first_host, c->first_reg, sizeof(c->first_reg));
	sha256_hex(r->body.data, r->body.len, a->sha256);
	a->sniffed = analyze_sniff((const unsigned char *)r->body.data, r->body.len,
				   &a->sniffed_name);
	declared_type(r, a->declared, sizeof(a->declared));
	if (!strcmp(a->sniffed, "html") || !strcmp(a->declared, "text/html")) {
		html_scan(r->body.data, r->body.len, &a->html);
		a->decoded = analyze_decoded(&a->html, &a->decoded_text);
		claim_brand(c);
	}
	c->obfuscation = (unsigned)a->html.obfuscation;
}

/* User YARA rules over the body and the decoded content: one reason each. */
static void yara_reasons(const struct yrules *y, const struct fetch_result *r,
			 struct analysis *a)
{
	struct yrules_match m[ANALYZE_MAX_YARA];
	struct analyze_reason *why;
	size_t nm = 0, i;

	yrules_scan(y, r->body.data, r->body.len, m, &nm, ANALYZE_MAX_YARA);
	if (a->decoded_text.len)
		yrules_scan(y, a->decoded_text.data, a->decoded_text.len, m, &nm,
			    ANALYZE_MAX_YARA);
	for (i = 0; i < nm && a->nreasons < ANALYZE_MAX_REASONS; i++) {
		a->yara[i].code = "YARA_MATCH";
		a->yara[i].weight = m[i].weight;
		a->yara[i].decisive = 0;
		a->yara[i].sentence = "a user YARA rule matched";
		why = &a->reasons[a->nreasons++];
		why->rule = &a->yara[i];
		snprintf(why->detail, sizeof(why->detail), "%.63s", m[i].rule);
		a->score += m[i].weight;
	}
}

void analyze_run(const struct fetch_result *r, const char *input_url,
		 const struct analyze_lists *l, struct analysis *a)
{
	struct ctx c;
	struct analyze_reason *why;
	size_t i;
	int decisive = 0;

	memset(a, 0, sizeof(*a));
	buf_init(&a->decoded_text, DECODE_DEPTH * DECODE_BYTES);
	memset(&c, 0, sizeof(c));
	c.r = r;
	c.input_url = input_url;
	c.l = l;
	c.a = a;
	context(&c, r);
	for (i = 0; i < NRULES && a->nreasons < ANALYZE_MAX_REASONS; i++) {
		why = &a->reasons[a->nreasons];
		why->detail[0] = '\0';
		if (!rules[i].hit(&c, why->detail, sizeof(why->detail)))
			continue;
		why->rule = &rules[i].rule;
		a->nreasons++;
		a->score += rules[i].rule.weight;
		decisive |= rules[i].rule.decisive;
	}
	if (l && l->yara)
		yara_reasons(l->yara, r, a);
	if (a->score > 100)
		a->score = 100;
	a->verdict = analyze_verdict(a->score, decisive);
}

void analyze_release(struct analysis *a)
{
	html_facts_release(&a->html);
	buf_release(&a->decoded_text);
}

void analyze_lists_init(struct analyze_lists *l)
{
	strvec_init(&l->domains);
	strvec_init(&l->urls);
	strvec_init(&l->sha256);
	brand_table_init(&l->brands);
	l->yara = NULL;
}

void analyze_lists_release(struct analyze_lists *l)
{
	strvec_clear(&l->domains);
	strvec_clear(&l->urls);
	strvec_clear(&l->sha256);
	brand_table_release(&l->brands);
	yrules_free(l->yara);
	l->yara = NULL;
}

int analyze_lists_load_yara(struct analyze_lists *l, const char *path, struct err *e)
{
	struct yrules *y;

	if (yrules_load(&y, path, e))
		return -1;
	yrules_free(l->yara);
	l->yara = y;
	return 0;
}

/* Trim a line in place; NULL for blank lines and comments. */
static char *list_entry(char *line)
{
	char *end;

	while (*line == ' ' || *line == '\t')
		line++;
	end = line + strlen(line);
	while (end > line && (end[-1] == '\n' || end[-1] == '\r' ||
			      end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return *line && *line != '#' ? line : NULL;
}

/* One entry, in the form it is compared in: a URL or a host as url.c reads it. */
static void list_add(struct strvec *v, const char *which, const char *s)
{
	char key[4096], *h;
	enum url_host_type type;
	unsigned char ip[16];
	struct err e = ERR_INIT;
	size_t n;

	if (!strcmp(which, "urls")) {
		url_key(s, key, sizeof(key));
		strvec_push(v, key);
	} else if (!strcmp(which, "domains") &&
		   (h = url_host_parse(s, strlen(s), &type, ip, NULL, &e))) {
		n = strlen(h);
		while (n && h[n - 1] == '.')
			h[--n] = '\0';
		strvec_push(v, h);
		free(h);
	} else {
		strvec_push(v, s);
	}
}

int analyze_lists_load(struct analyze_lists *l, const char *which,
		       const char *path, struct err *e)
{
	struct strvec *v = !strcmp(which, "domains") ? &l->domains
			   : !strcmp(which, "urls")  ? &l->urls
						     : &l->sha256;
	char line[4096], *s;
	FILE *f = fopen(path, "r");

	if (!f)
		return err_set_errno(e, ERR_INVALID, errno, "cannot open blocklist '%s'", path);
	while (fgets(line, sizeof(line), f))
		if ((s = list_entry(line)))
			list_add(v, which, s);
	fclose(f);
	return 0;
}
