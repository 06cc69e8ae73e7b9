/*
 * brand.c - the brand table (parse, built-in copy) and the claim score.
 */
#include "../fmacros.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "brand.h"
#include "html.h"
#include "../buf.h"
#include "../err.h"
#include "../xalloc.h"
#include "../banned.h"

/* data/brands.tsv, generated into the build tree (NUL-terminated). */
extern const char brand_default_data[];

void brand_table_init(struct brand_table *t)
{
	memset(t, 0, sizeof(*t));
}

void brand_table_release(struct brand_table *t)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		free(t->v[i].name);
		strvec_clear(&t->v[i].words);
		strvec_clear(&t->v[i].domains);
	}
	free(t->v);
	memset(t, 0, sizeof(*t));
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Push the comma-separated items of s (lower-cased, trimmed); count. */
static size_t split_into(struct strvec *v, char *s)
{
	char *item, *end, *p;
	size_t n = 0;

	for (item = s; item; item = end ? end + 1 : NULL) {
		end = strchr(item, ',');
		if (end)
			*end = '\0';
		while (*item == ' ')
			item++;
		for (p = item + strlen(item); p > item && p[-1] == ' ';)
			*--p = '\0';
		for (p = item; *p; p++)
			*p = lower(*p);
		if (*item) {
			strvec_push(v, item);
			n++;
		}
	}
	return n;
}

static int parse_row(struct brand_table *t, char *line, const char *origin,
		     size_t lineno, struct err *e)
{
	char *f1 = strchr(line, '\t'), *f2 = f1 ? strchr(f1 + 1, '\t') : NULL;
	struct brand b;

	if (!f1 || !f2 || strchr(f2 + 1, '\t'))
		return err_set(e, ERR_INVALID,
			       "brands: %s:%zu: '%.60s': expected 3 tab-separated fields "
			       "(name, words, domains)", origin, lineno, line);
	*f1 = *f2 = '\0';
	memset(&b, 0, sizeof(b));
	strvec_init(&b.words);
	strvec_init(&b.domains);
	if (!*line || !split_into(&b.words, f1 + 1) || !split_into(&b.domains, f2 + 1)) {
		strvec_clear(&b.words);
		strvec_clear(&b.domains);
		return err_set(e, ERR_INVALID,
			       "brands: %s:%zu: brand '%s': name, words and domains "
			       "must not be empty", origin, lineno, line);
	}
	b.name = xstrdup(line);
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 64;
		t->v = xrealloc(t->v, t->cap * sizeof(*t->v));
	}
	t->v[t->n++] = b;
	return 0;
}

int brand_table_parse(struct brand_table *t, const char *text, size_t len,
		      const char *origin, struct err *e)
{
	const char *p = text, *end = text + len, *nl;
	char line[2048];
	size_t lineno = 0, n;

	for (; p < end; p = nl ? nl + 1 : end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		n = (size_t)((nl ? nl : end) - p);
		lineno++;
		if (n && p[n - 1] == '\r')
			n--;
		if (!n || p[0] == '#')
			continue;
		if (n >= sizeof(line))
			return err_set(e, ERR_INVALID, "brands: %s:%zu: line longer than %zu bytes",
				       origin, lineno, sizeof(line) - 1);
		memcpy(line, p, n);
		line[n] = '\0';
		if (parse_row(t, line, origin, lineno, e))
			return -1;
	}
	return 0;
}

int brand_table_load(struct brand_table *t, const char *path, struct err *e)
{
	struct buf b = BUF_INIT;
	char chunk[4096];
	size_t n;
	int rc;
	FILE *f = fopen(path, "r");

	if (!f)
		return err_set_errno(e, ERR_INVALID, errno, "cannot open brands file '%s'", path);
	buf_init(&b, 4 * 1024 * 1024);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_add(&b, chunk, n, NULL)) {
			fclose(f);
			buf_release(&b);
			return err_set(e, ERR_INVALID, "brands file '%s': larger than 4 MiB", path);
		}
	fclose(f);
	rc = brand_table_parse(t, b.data, b.len, path, e);
	buf_release(&b);
	return rc;
}

const struct brand_table *brand_default(void)
{
	static struct brand_table t;
	static int done;
	struct err e;

	if (!done) {
		brand_table_init(&t);
		if (brand_table_parse(&t, brand_default_data, strlen(brand_default_data),
				      "built-in", &e))
			abort(); /* the build checks the file: a bug */
		done = 1;
	}
	return &t;
}

static int domain_match(const char *host, const char *d)
{
	size_t hl = strlen(host), dl = strlen(d);

	return hl >= dl && !strcasecmp(host + hl - dl, d) &&
	       (hl == dl || host[hl - dl - 1] == '.');
}

int brand_owns(const struct brand *b, const char *host, const char *reg)
{
	size_t i;

	for (i = 0; i < b->domains.nr; i++)
		if ((reg[0] && !strcasecmp(reg, b->domains.items[i])) ||
		    domain_match(host, b->domains.items[i]))
			return 1;
	return 0;
}

static int alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Page character c stands for keyword character w (look-alikes folded). */
static int same(char c, char w)
{
	return lower(c) == w || (w == 'l' && (c == 'I' || c == '1' || c == '|')) ||
	       (w == 'o' && c == '0');
}

/* Words before a brand that make it a referral, not a claim. */
static const char *const referrals[] = { "with", "using", "via", "on" };

static int referral(const char *s, const char *at)
{
	const char *p = at, *w;
	size_t i, k;

	while (p > s && (p[-1] == ' ' || p[-1] == '\t'))
		p--;
	for (w = p; w > s && alnum(w[-1]); w--)
		;
	for (i = 0; i < sizeof(referrals) / sizeof(referrals[0]); i++) {
		k = strlen(referrals[i]);
		if ((size_t)(p - w) == k && !strncasecmp(w, referrals[i], k))
			return 1;
	}
	return 0;
}

int brand_mentions(const char *s, size_t n, const char *word, int skip_referrals)
{
	size_t k = strlen(word), i, j;
	int count = 0;

	for (i = 0; k && k <= n && i <= n - k; i++) {
		if (i && alnum(s[i - 1]))
			continue;
		for (j = 0; j < k && same(s[i + j], word[j]); j++)
			;
		if (j < k || (i + k < n && alnum(s[i + k])))
			continue;
		if (!skip_referrals || !referral(s, s + i))
			count++;
		i += k - 1;
	}
	return count;
}

static int mentions_any(const struct brand *b, const char *s, size_t n, int skip)
{
	size_t i;
	int c = 0;

	for (i = 0; i < b->words.nr; i++)
		c += brand_mentions(s, n, b->words.items[i], skip);
	return c;
}

/* Host of an absolute or scheme-relative URL into out; 0 or -1. */
static int url_host(const char *url, char *out, size_t n)
{
	CURLU *h = curl_url();
	char full[2048], *host = NULL;
	int rc = -1;

	snprintf(full, sizeof(full), "%s%s", url[0] == '/' ? "https:" : "", url);
	if (h && !curl_url_set(h, CURLUPART_URL, full, 0) &&
	    !curl_url_get(h, CURLUPART_HOST, &host, 0)) {
		snprintf(out, n, "%s", host);
		rc = 0;
	}
	curl_free(host);
	curl_url_cleanup(h);
	return rc;
}

static int hotlinked(const struct brand *b, const struct html_facts *f, char *which,
		     size_t n)
{
	char host[256];
	size_t i, j;

	for (i = 0; i < f->nurl; i++) {
		if (url_host(f->url[i], host, sizeof(host)))
			continue;
		for (j = 0; j < b->domains.nr; j++)
			if (domain_match(host, b->domains.items[j])) {
				snprintf(which, n, "%.100s", host);
				return 1;
			}
	}
	return 0;
}

static int score(const struct brand *b, const struct html_facts *f, char *ev, size_t n)
{
	char host[128] = "";
	int s = 0, text, strong = 0;
	size_t used = 0;

#define EVIDENCE(...) \
	(used < n ? used += (size_t)snprintf(ev + used, n - used, __VA_ARGS__) : 0)
	ev[0] = '\0';
	if (mentions_any(b, f->title, strlen(f->title), 0)) {
		s += 3;
		strong = 1;
		EVIDENCE("title");
	}
	if (mentions_any(b, f->marks.data, f->marks.len, 0)) {
		s += 3;
		strong = 1;
		EVIDENCE("%slogo or site name", used ? ", " : "");
	}
	if (mentions_any(b, f->form_text.data, f->form_text.len, 1)) {
		s += 2;
		EVIDENCE("%sform", used ? ", " : "");
	}
	if (hotlinked(b, f, host, sizeof(host))) {
		s += 2;
		strong = 1;
		EVIDENCE("%simages from %s", used ? ", " : "", host);
	}
	text = mentions_any(b, f->text.data, f->text.len, 1);
	if (text) {
		s += text > 1 ? 2 : 1;
		EVIDENCE("%stext x%d", used ? ", " : "", text);
	}
#undef EVIDENCE
	return strong ? s : 0;
}

int brand_claim(const struct brand_table *t, const struct html_facts *f,
		const char *host, const char *reg, struct brand_hit *hit)
{
	char ev[128];
	size_t i;
	int s;

	memset(hit, 0, sizeof(*hit));
	for (i = 0; i < t->n; i++) {
		if (brand_owns(&t->v[i], host, reg))
			continue;
		s = score(&t->v[i], f, ev, sizeof(ev));
		if (s >= 3 && s > hit->strength) {
			hit->brand = &t->v[i];
			hit->strength = s;
			snprintf(hit->evidence, sizeof(hit->evidence), "%s", ev);
		}
	}
	return hit->brand != NULL;
}
