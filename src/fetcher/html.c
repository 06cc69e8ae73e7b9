/*
 * html.c - tokenizer: text, comments, declarations, start and end tags
 * with attributes, and the raw-text elements (script, style, title,
 * textarea) whose content runs to their end tag. Start tags go through a
 * handler table; everything else is skipped.
 */
#include "../fmacros.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "html.h"
#include "../xalloc.h"
#include "../banned.h"

#define MAX_ATTRS 24
#define NAME_MAX_LEN 24

struct attr {
	char name[NAME_MAX_LEN];
	const char *v;
	size_t vlen;
};

struct tag {
	char name[NAME_MAX_LEN];
	struct attr a[MAX_ATTRS];
	size_t na;
};

struct scan {
	const char *p, *end;
	struct html_facts *f;
	int cur_form; /* index into f->form, -1 outside a form */
};

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Case-insensitive search of needle (lower-case) in s[0..n). */
static const char *find_ci(const char *s, size_t n, const char *needle)
{
	size_t k = strlen(needle), i, j;

	for (i = 0; k <= n && i <= n - k; i++) {
		for (j = 0; j < k && lower(s[i + j]) == needle[j]; j++)
			;
		if (j == k)
			return s + i;
	}
	return NULL;
}

/* Copy a name (lower-cased, truncated) while it continues. */
static const char *read_name(const char *p, const char *end, char *out)
{
	size_t n = 0;

	while (p < end && !is_space(*p) && *p != '>' && *p != '/' && *p != '=') {
		if (n < NAME_MAX_LEN - 1)
			out[n++] = lower(*p);
		p++;
	}
	out[n] = '\0';
	return p;
}

static const char *read_value(const char *p, const char *end, struct attr *a)
{
	char q;

	while (p < end && is_space(*p))
		p++;
	if (p < end && (*p == '"' || *p == '\'')) {
		q = *p++;
		a->v = p;
		while (p < end && *p != q)
			p++;
		a->vlen = (size_t)(p - a->v);
		return p < end ? p + 1 : p;
	}
	a->v = p;
	while (p < end && !is_space(*p) && *p != '>')
		p++;
	a->vlen = (size_t)(p - a->v);
	return p;
}

/* Attributes up to '>' (consumed). */
static const char *read_attrs(const char *p, const char *end, struct tag *t)
{
	struct attr tmp, *a;
	const char *q;

	while (p < end && *p != '>') {
		if (is_space(*p) || *p == '/') {
			p++;
			continue;
		}
		a = t->na < MAX_ATTRS ? &t->a[t->na++] : &tmp;
		a->v = "";
		a->vlen = 0;
		q = read_name(p, end, a->name);
		p = q == p ? p + 1 : q; /* a stray '=' is skipped */
		while (p < end && is_space(*p))
			p++;
		if (p < end && *p == '=')
			p = read_value(p + 1, end, a);
	}
	return p < end ? p + 1 : p;
}

static const struct attr *attr(const struct tag *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->na; i++)
		if (!strcmp(t->a[i].name, name))
			return &t->a[i];
	return NULL;
}

/* Named references worth decoding: those that can hide URL syntax. */
static const struct {
	const char *name;
	char c;
} entities[] = {
	{ "amp;", '&' },   { "lt;", '<' },     { "gt;", '>' },     { "quot;", '"' },
	{ "apos;", '\'' }, { "colon;", ':' },  { "sol;", '/' },    { "period;", '.' },
	{ "quest;", '?' }, { "num;", '#' },    { "commat;", '@' }, { "Tab;", '\t' },
	{ "NewLine;", '\n' },
};

static int digit(char c, int base)
{
	int d = c >= '0' && c <= '9' ? c - '0'
		: (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10 : 99;

	return d < base ? d : -1;
}

/* "#65;" or "#x41;" at s; ASCII comes out as itself, the rest as '?'. */
static char numeric_ref(const char *s, const char *end, size_t *used)
{
	const char *p = s + 1, *first;
	unsigned long v = 0;
	int base = 10, d;

	if (p < end && (*p == 'x' || *p == 'X')) {
		base = 16;
		p++;
	}
	for (first = p; p < end && (d = digit(*p, base)) >= 0; p++)
		if (v < 0x110000)
			v = v * (unsigned long)base + (unsigned long)d;
	if (p == first) {
		*used = 0;
		return '&';
	}
	if (p < end && *p == ';')
		p++;
	*used = (size_t)(p - s);
	return v > 0 && v < 0x80 ? (char)v : '?';
}

/* One character reference at s (after '&'); *used gets its length. */
static char entity(const char *s, const char *end, size_t *used)
{
	size_t i, k;

	if (s < end && *s == '#')
		return numeric_ref(s, end, used);
	for (i = 0; i < sizeof(entities) / sizeof(entities[0]); i++) {
		k = strlen(entities[i].name);
		if ((size_t)(end - s) >= k && !memcmp(s, entities[i].name, k)) {
			*used = k;
			return entities[i].c;
		}
	}
	*used = 0;
	return '&';
}

/*
 * The attribute value as a browser would use it: character references
 * decoded (non-ASCII as '?'), tabs and newlines dropped (URL parsers
 * drop them too). New string, caller frees.
 */
static char *attr_text(const struct attr *a)
{
	char *out = xmalloc(a->vlen + 1), c;
	const char *p = a->v, *end = a->v + a->vlen;
	size_t n = 0, used;

	while (p < end) {
		c = *p++;
		if (c == '&') {
			c = entity(p, end, &used);
			p += used;
		}
		if (c != '\t' && c != '\n' && c != '\r')
			out[n++] = c;
	}
	out[n] = '\0';
	return out;
}

static int attr_is(const struct tag *t, const char *name, const char *value)
{
	const struct attr *a = attr(t, name);
	char *v;
	int same;

	if (!a)
		return 0;
	v = attr_text(a);
	same = !strcasecmp(v, value);
	free(v);
	return same;
}

/* A style value with spaces removed contains needle? */
static int style_has(const struct attr *a, const char *needle)
{
	char buf[256];
	size_t i, n = 0;

	for (i = 0; i < a->vlen && n < sizeof(buf) - 1; i++)
		if (!is_space(a->v[i]))
			buf[n++] = lower(a->v[i]);
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

static int tiny(const struct attr *a)
{
	return a && a->vlen && (a->v[0] == '0' || a->v[0] == '1') &&
	       (a->vlen == 1 || !strncasecmp(a->v + 1, "px", a->vlen - 1));
}

static void on_form(struct scan *s, const struct tag *t)
{
	const struct attr *a = attr(t, "action");
	struct html_facts *f = s->f;

	f->forms++;
	s->cur_form = -1;
	if (f->nform >= HTML_MAX_LIST)
		return;
	f->form[f->nform].action = a ? attr_text(a) : xstrdup("");
	s->cur_form = (int)f->nform++;
}

static void on_input(struct scan *s, const struct tag *t)
{
	if (!attr_is(t, "type", "password"))
		return;
	s->f->password_fields++;
	if (s->cur_form >= 0)
		s->f->form[s->cur_form].passwords++;
}

static void on_iframe(struct scan *s, const struct tag *t)
{
	const struct attr *st = attr(t, "style");

	s->f->iframes++;
	if (attr(t, "hidden") || tiny(attr(t, "width")) || tiny(attr(t, "height")) ||
	    (st && (style_has(st, "display:none") || style_has(st, "visibility:hidden"))))
		s->f->hidden_iframes++;
}

static void on_meta(struct scan *s, const struct tag *t)
{
	if (attr_is(t, "http-equiv", "refresh"))
		s->f->meta_refresh++;
}

static void on_script(struct scan *s, const struct tag *t)
{
	const struct attr *a = attr(t, "src");
	struct html_facts *f = s->f;

	f->scripts++;
	if (a && f->nscript_src < HTML_MAX_LIST)
		f->script_src[f->nscript_src++] = attr_text(a);
}

static const struct {
	const char *name;
	void (*fn)(struct scan *, const struct tag *);
} tag_handlers[] = {
	{ "form", on_form },     { "input", on_input }, { "iframe", on_iframe },
	{ "frame", on_iframe },  { "meta", on_meta },   { "script", on_script },
};

static const char *const raw_text[] = { "script", "style", "title", "textarea" };

static void copy_title(struct html_facts *f, const char *s, size_t n)
{
	size_t i, k = 0;
	int space = 1;

	for (i = 0; i < n && k < sizeof(f->title) - 1; i++) {
		if (is_space(s[i])) {
			if (!space)
				f->title[k++] = ' ';
			space = 1;
		} else {
			f->title[k++] = s[i];
			space = 0;
		}
	}
	while (k && f->title[k - 1] == ' ')
		k--;
	f->title[k] = '\0';
}

/* Content of a raw-text element up to its end tag; returns past it. */
static const char *raw_content(struct scan *s, const char *p, const char *name,
			       int has_src)
{
	char endtag[NAME_MAX_LEN + 2] = "</";
	const char *close;
	size_t n;

	memcpy(endtag + 2, name, strlen(name) + 1);
	close = find_ci(p, (size_t)(s->end - p), endtag);
	n = (size_t)((close ? close : s->end) - p);
	if (!strcmp(name, "title") && !s->f->title[0])
		copy_title(s->f, p, n);
	if (!strcmp(name, "script") && !has_src && n) {
		s->f->inline_scripts++;
		s->f->obfuscation |= (int)html_script_markers(p, n, &s->f->js_redirects);
	}
	if (!close)
		return s->end;
	close = memchr(close, '>', (size_t)(s->end - close));
	return close ? close + 1 : s->end;
}

static const char *start_tag(struct scan *s, const char *p)
{
	struct tag t;
	size_t i;

	t.na = 0;
	p = read_attrs(read_name(p, s->end, t.name), s->end, &t);
	for (i = 0; i < sizeof(tag_handlers) / sizeof(tag_handlers[0]); i++)
		if (!strcmp(t.name, tag_handlers[i].name))
			tag_handlers[i].fn(s, &t);
	for (i = 0; i < sizeof(raw_text) / sizeof(raw_text[0]); i++)
		if (!strcmp(t.name, raw_text[i]))
			return raw_content(s, p, t.name, attr(&t, "src") != NULL);
	return p;
}

static const char *skip_past(const char *p, const char *end, const char *what)
{
	const char *q = find_ci(p, (size_t)(end - p), what);

	return q ? q + strlen(what) : end;
}

static const char *end_tag(struct scan *s, const char *p)
{
	char name[NAME_MAX_LEN];

	p = read_name(p, s->end, name);
	if (!strcmp(name, "form"))
		s->cur_form = -1;
	return skip_past(p, s->end, ">");
}

/* One markup construct starting at p ('<'); returns where scanning resumes. */
static const char *markup(struct scan *s, const char *p)
{
	size_t left = (size_t)(s->end - p);

	if (left >= 4 && !memcmp(p, "<!--", 4))
		return skip_past(p + 4, s->end, "-->");
	if (left >= 2 && (p[1] == '!' || p[1] == '?'))
		return skip_past(p + 2, s->end, ">");
	if (left >= 3 && p[1] == '/' &&
	    ((p[2] | 0x20) >= 'a' && (p[2] | 0x20) <= 'z'))
		return end_tag(s, p + 2);
	if (left >= 2 && ((p[1] | 0x20) >= 'a' && (p[1] | 0x20) <= 'z'))
		return start_tag(s, p + 1);
	return p + 1; /* a lone '<' is text */
}

void html_scan(const char *data, size_t len, struct html_facts *f)
{
	struct scan s = { data, data + len, f, -1 };
	const char *p = data;

	memset(f, 0, sizeof(*f));
	while (p < s.end) {
		p = memchr(p, '<', (size_t)(s.end - p));
		if (!p)
			break;
		p = markup(&s, p);
	}
}

void html_facts_release(struct html_facts *f)
{
	size_t i;

	for (i = 0; i < f->nform; i++)
		free(f->form[i].action);
	for (i = 0; i < f->nscript_src; i++)
		free(f->script_src[i]);
	memset(f, 0, sizeof(*f));
}

/* Count occurrences of needle (lower-case) in s[0..n), up to limit. */
static int count_ci(const char *s, size_t n, const char *needle, int limit)
{
	const char *q, *end = s + n;
	int c = 0;

	while (c < limit && (q = find_ci(s, (size_t)(end - s), needle))) {
		c++;
		s = q + 1;
	}
	return c;
}

static size_t longest_run(const char *s, size_t n)
{
	size_t best = 0, cur = 0, i;

	for (i = 0; i < n; i++) {
		cur = is_space(s[i]) || s[i] == '"' || s[i] == '\'' ? 0 : cur + 1;
		if (cur > best)
			best = cur;
	}
	return best;
}

static const char *const redirect_markers[] = {
	"location.href", "location.replace(", "location.assign(",
	"window.location=", "window.location =", "document.location",
};

static const char *const obfuscation_markers[] = {
	"eval(", "unescape(", "fromcharcode(", "atob(", "document.write(",
	"escape(", "new function(",
};

unsigned html_script_markers(const char *s, size_t n, int *js_redirect)
{
	unsigned bits = 0;
	size_t i, nm = sizeof(obfuscation_markers) / sizeof(obfuscation_markers[0]);

	for (i = 0; i < sizeof(redirect_markers) / sizeof(redirect_markers[0]); i++)
		if (find_ci(s, n, redirect_markers[i]))
			(*js_redirect)++;
	for (i = 0; i < nm; i++)
		if (find_ci(s, n, obfuscation_markers[i]))
			bits |= 1u << i;
	if (count_ci(s, n, "\\x", 20) >= 20 || count_ci(s, n, "%u", 20) >= 20)
		bits |= 1u << nm;
	if (longest_run(s, n) >= 300)
		bits |= 1u << (nm + 1);
	return bits;
}
