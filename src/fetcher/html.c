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
	int in_noscript;
};

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

const char *html_find_ci(const char *s, size_t n, const char *needle)
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

/* Append s[0..n) to b, as much as its cap leaves room for. */
static void add_capped(struct buf *b, const char *s, size_t n)
{
	size_t room = !b->max ? n : b->max > b->len ? b->max - b->len : 0;

	buf_add(b, s, n < room ? n : room, NULL);
}

/*
 * Append text s[0..n) to b with character references decoded and white
 * space collapsed, separated from what is there by one space.
 */
static void add_text(struct buf *b, const char *s, size_t n)
{
	const char *p = s, *end = s + n;
	char c, last = ' ';
	size_t used;

	if (b->len && b->data[b->len - 1] != ' ' && n)
		add_capped(b, " ", 1);
	while (p < end && b->len < b->max) {
		c = *p++;
		if (c == '&') {
			c = entity(p, end, &used);
			p += used;
		}
		if (is_space(c))
			c = ' ';
		if (c == ' ' && (last == ' ' || !b->len || b->data[b->len - 1] == ' '))
			continue;
		add_capped(b, &c, 1);
		last = c;
	}
}

static void add_attr_text(struct buf *b, const struct attr *a)
{
	if (a && a->vlen)
		add_text(b, a->v, a->vlen);
}

/* Does the attribute's value contain needle (lower-case)? */
static int attr_has(const struct tag *t, const char *name, const char *needle)
{
	const struct attr *a = attr(t, name);

	return a && html_find_ci(a->v, a->vlen, needle) != NULL;
}

static int absolute_url(const struct attr *a)
{
	return a && ((a->vlen > 2 && !memcmp(a->v, "//", 2)) ||
		     (a->vlen > 7 && !strncasecmp(a->v, "http://", 7)) ||
		     (a->vlen > 8 && !strncasecmp(a->v, "https://", 8)));
}

static void keep_url(struct html_facts *f, const struct attr *a)
{
	if (absolute_url(a) && f->nurl < HTML_MAX_URLS)
		f->url[f->nurl++] = attr_text(a);
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

/* Name, id and autocomplete hints that mark a log-in or card input. */
static const char *const login_hints[] = {
	"email", "e-mail", "username", "user_name", "userid", "user_id", "login",
	"loginfmt", "identifier", "account", "phone",
};
static const char *const card_hints[] = {
	"cc-number", "cc-csc", "cc-exp", "cardnumber", "card_number", "card-number",
	"ccnum", "cvv", "cvc", "csc", "expir",
};

static int input_hinted(const struct tag *t, const char *const *hints, size_t n)
{
	static const char *const names[] = { "name", "id", "autocomplete" };
	size_t i, j;

	for (i = 0; i < n; i++)
		for (j = 0; j < sizeof(names) / sizeof(names[0]); j++)
			if (attr_has(t, names[j], hints[i]))
				return 1;
	return 0;
}

static void on_input(struct scan *s, const struct tag *t)
{
	struct html_form *fm = s->cur_form >= 0 ? &s->f->form[s->cur_form] : NULL;
	const struct attr *ty = attr(t, "type");
	int text_like = !ty || attr_is(t, "type", "text") || attr_is(t, "type", "email") ||
			attr_is(t, "type", "tel") || attr_is(t, "type", "number");

	add_attr_text(&s->f->text, attr(t, "placeholder"));
	add_attr_text(&s->f->text, attr(t, "aria-label"));
	if (fm) {
		add_attr_text(&s->f->form_text, attr(t, "placeholder"));
		add_attr_text(&s->f->form_text, attr(t, "aria-label"));
	}
	if (attr_is(t, "type", "submit") || attr_is(t, "type", "button")) {
		add_attr_text(&s->f->text, attr(t, "value"));
		if (fm)
			add_attr_text(&s->f->form_text, attr(t, "value"));
	}
	if (attr_is(t, "type", "password")) {
		s->f->password_fields++;
		if (fm)
			fm->passwords++;
	} else if (text_like && input_hinted(t, card_hints,
					    sizeof(card_hints) / sizeof(card_hints[0]))) {
		s->f->card_fields++;
		if (fm)
			fm->cards++;
	} else if (attr_is(t, "type", "email") ||
		   (text_like && input_hinted(t, login_hints,
					     sizeof(login_hints) / sizeof(login_hints[0])))) {
		s->f->login_fields++;
		if (fm)
			fm->logins++;
	}
}

/* Frames that analytics snippets copy along with a page. */
static const char *const trackers[] = {
	"googletagmanager.com", "doubleclick.net", "facebook.com/tr",
	"google-analytics.com", "bat.bing.com", "analytics.",
};

static int tracker_src(const struct attr *a)
{
	size_t i;

	for (i = 0; a && i < sizeof(trackers) / sizeof(trackers[0]); i++)
		if (html_find_ci(a->v, a->vlen, trackers[i]))
			return 1;
	return 0;
}

static int is_data_url(const struct attr *a)
{
	size_t i = 0;

	while (a && i < a->vlen && is_space(a->v[i]))
		i++;
	return a && a->vlen - i > 5 && !strncasecmp(a->v + i, "data:", 5);
}

static void keep_embedded(struct html_facts *f, const struct attr *a)
{
	char *v = attr_text(a);

	add_capped(&f->embedded, v, strlen(v));
	add_capped(&f->embedded, "\n", 1);
	free(v);
}

static void on_img(struct scan *s, const struct tag *t)
{
	const struct attr *alt = attr(t, "alt"), *src = attr(t, "src");

	add_attr_text(&s->f->text, alt);
	if (s->cur_form >= 0)
		add_attr_text(&s->f->form_text, alt);
	if (attr_has(t, "src", "logo") || attr_has(t, "alt", "logo") ||
	    attr_has(t, "class", "logo") || attr_has(t, "id", "logo")) {
		add_attr_text(&s->f->marks, alt);
		if (src && !is_data_url(src))
			add_attr_text(&s->f->marks, src);
	}
	keep_url(s->f, src);
}

/* File types a fake update or captcha page hands out. */
static const char *const risky_ext[] = {
	".exe", ".msi", ".msix", ".hta", ".js", ".jse", ".vbs", ".vbe", ".wsf", ".bat",
	".cmd", ".ps1", ".scr", ".lnk", ".iso", ".img", ".vhd", ".apk", ".dmg", ".pkg",
};

static void on_a(struct scan *s, const struct tag *t)
{
	const struct attr *h = attr(t, "href");
	size_t i, n, k;

	if (!h)
		return;
	for (n = 0; n < h->vlen && h->v[n] != '?' && h->v[n] != '#'; n++)
		;
	for (i = 0; i < sizeof(risky_ext) / sizeof(risky_ext[0]); i++) {
		k = strlen(risky_ext[i]);
		if (n > k && !strncasecmp(h->v + n - k, risky_ext[i], k)) {
			s->f->download_links++;
			return;
		}
	}
}

static void on_link(struct scan *s, const struct tag *t)
{
	if (attr_has(t, "rel", "icon"))
		add_attr_text(&s->f->marks, attr(t, "href"));
	keep_url(s->f, attr(t, "href"));
}

static void on_iframe(struct scan *s, const struct tag *t)
{
	const struct attr *st = attr(t, "style");

	s->f->iframes++;
	if (is_data_url(attr(t, "src")))
		keep_embedded(s->f, attr(t, "src"));
	if (!(attr(t, "hidden") || tiny(attr(t, "width")) || tiny(attr(t, "height")) ||
	      (st && (style_has(st, "display:none") || style_has(st, "visibility:hidden")))))
		return;
	if (s->in_noscript || tracker_src(attr(t, "src")))
		s->f->tracker_iframes++;
	else
		s->f->hidden_iframes++;
}

static void on_noscript(struct scan *s, const struct tag *t)
{
	(void)t;
	s->in_noscript = 1;
}

/* meta names and properties whose content names the site. */
static const char *const mark_metas[] = {
	"og:site_name", "og:title", "application-name", "apple-mobile-web-app-title",
};

static void on_meta(struct scan *s, const struct tag *t)
{
	const struct attr *content = attr(t, "content");
	size_t i;

	if (attr_is(t, "http-equiv", "refresh")) {
		s->f->meta_refresh++;
		if (content && html_find_ci(content->v, content->vlen, "data:"))
			keep_embedded(s->f, content);
	}
	for (i = 0; i < sizeof(mark_metas) / sizeof(mark_metas[0]); i++)
		if (attr_is(t, "property", mark_metas[i]) || attr_is(t, "name", mark_metas[i]))
			add_attr_text(&s->f->marks, content);
	if (attr_is(t, "property", "og:image") || attr_is(t, "name", "twitter:image"))
		keep_url(s->f, content);
}

static void on_script(struct scan *s, const struct tag *t)
{
	const struct attr *a = attr(t, "src");
	struct html_facts *f = s->f;

	f->scripts++;
	if (a && attr(t, "integrity"))
		f->sri_scripts++;
	else if (a && f->nscript_src < HTML_MAX_LIST)
		f->script_src[f->nscript_src++] = attr_text(a);
}

static void on_button(struct scan *s, const struct tag *t)
{
	add_attr_text(&s->f->text, attr(t, "aria-label"));
	if (s->cur_form >= 0)
		add_attr_text(&s->f->form_text, attr(t, "aria-label"));
}

static const struct {
	const char *name;
	void (*fn)(struct scan *, const struct tag *);
} tag_handlers[] = {
	{ "form", on_form },     { "input", on_input }, { "iframe", on_iframe },
	{ "frame", on_iframe },  { "meta", on_meta },   { "script", on_script },
	{ "img", on_img },       { "link", on_link },   { "noscript", on_noscript },
	{ "button", on_button },    { "a", on_a },
};

static const char *const raw_text[] = { "script", "style", "title", "textarea" };

/* The title, character references decoded, white space collapsed. */
static void copy_title(struct html_facts *f, const char *s, size_t n)
{
	size_t i, k = 0, used;
	int space = 1;
	char c;

	for (i = 0; i < n && k < sizeof(f->title) - 1; i++) {
		c = s[i];
		if (c == '&') {
			c = entity(s + i + 1, s + n, &used);
			i += used;
		}
		if (is_space(c)) {
			if (!space)
				f->title[k++] = ' ';
			space = 1;
		} else {
			f->title[k++] = c;
			space = 0;
		}
	}
	while (k && f->title[k - 1] == ' ')
		k--;
	f->title[k] = '\0';
}

/* Does script text build a password input (no <form> in the markup)? */
static int builds_password(const char *p, size_t n)
{
	static const char *const pw[] = {
		"type=\"password\"", "type='password'", "type=\\\"password\\\"",
		"type = \"password\"", ".type=\"password\"", ".type = \"password\"",
		".type='password'", ".type = 'password'", "type: \"password\"",
		"type:\"password\"", "type: 'password'",
	};
	size_t i;

	for (i = 0; i < sizeof(pw) / sizeof(pw[0]); i++)
		if (html_find_ci(p, n, pw[i]))
			return html_find_ci(p, n, "createelement(") || html_find_ci(p, n, "<input") ||
			       html_find_ci(p, n, "innerhtml") || html_find_ci(p, n, "insertadjacenthtml") ||
			       html_find_ci(p, n, "document.write(");
	return 0;
}

/* Content of a raw-text element up to its end tag; returns past it. */
static const char *raw_content(struct scan *s, const char *p, const char *name,
			       int has_src)
{
	char endtag[NAME_MAX_LEN + 2] = "</";
	const char *close;
	size_t n;

	memcpy(endtag + 2, name, strlen(name) + 1);
	close = html_find_ci(p, (size_t)(s->end - p), endtag);
	n = (size_t)((close ? close : s->end) - p);
	if (!strcmp(name, "title") && !s->f->title[0])
		copy_title(s->f, p, n);
	if (!strcmp(name, "script") && !has_src && n) {
		s->f->inline_scripts++;
		s->f->obfuscation |= (int)html_script_markers(p, n, &s->f->js_redirects);
		s->f->script_password += builds_password(p, n);
		add_capped(&s->f->script_text, p, n);
		add_capped(&s->f->script_text, "\n", 1);
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
	if (strcmp(t.name, "img") && (attr_has(&t, "class", "logo") || attr_has(&t, "id", "logo"))) {
		add_attr_text(&s->f->marks, attr(&t, "aria-label"));
		add_attr_text(&s->f->marks, attr(&t, "title"));
	}
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
	const char *q = html_find_ci(p, (size_t)(end - p), what);

	return q ? q + strlen(what) : end;
}

static const char *end_tag(struct scan *s, const char *p)
{
	char name[NAME_MAX_LEN];

	p = read_name(p, s->end, name);
	if (!strcmp(name, "form"))
		s->cur_form = -1;
	if (!strcmp(name, "noscript"))
		s->in_noscript = 0;
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
	struct scan s = { data, data + len, f, -1, 0 };
	const char *p = data, *q;

	memset(f, 0, sizeof(*f));
	buf_init(&f->text, HTML_TEXT_MAX);
	buf_init(&f->form_text, HTML_FORM_TEXT_MAX);
	buf_init(&f->marks, HTML_MARKS_MAX);
	buf_init(&f->script_text, HTML_SCRIPT_MAX);
	buf_init(&f->embedded, HTML_EMBED_MAX);
	while (p < s.end) {
		q = memchr(p, '<', (size_t)(s.end - p));
		add_text(&f->text, p, (size_t)((q ? q : s.end) - p));
		if (s.cur_form >= 0)
			add_text(&f->form_text, p, (size_t)((q ? q : s.end) - p));
		if (!q)
			break;
		p = markup(&s, q);
	}
}

static void merge_buf(struct buf *into, const struct buf *from)
{
	if (!from->len)
		return;
	add_capped(into, " ", into->len ? 1 : 0);
	add_capped(into, from->data, from->len);
}

void html_facts_merge(struct html_facts *into, const struct html_facts *from)
{
	size_t i;

	if (!into->title[0])
		memcpy(into->title, from->title, sizeof(into->title));
	into->forms += from->forms;
	into->password_fields += from->password_fields;
	into->iframes += from->iframes;
	into->hidden_iframes += from->hidden_iframes;
	into->meta_refresh += from->meta_refresh;
	into->scripts += from->scripts;
	into->inline_scripts += from->inline_scripts;
	into->js_redirects += from->js_redirects;
	into->obfuscation |= from->obfuscation;
	into->login_fields += from->login_fields;
	into->card_fields += from->card_fields;
	into->script_password += from->script_password;
	into->tracker_iframes += from->tracker_iframes;
	into->download_links += from->download_links;
	merge_buf(&into->text, &from->text);
	merge_buf(&into->form_text, &from->form_text);
	merge_buf(&into->marks, &from->marks);
	merge_buf(&into->script_text, &from->script_text);
	for (i = 0; i < from->nurl && into->nurl < HTML_MAX_URLS; i++)
		into->url[into->nurl++] = xstrdup(from->url[i]);
}

void html_facts_release(struct html_facts *f)
{
	size_t i;

	for (i = 0; i < f->nform; i++)
		free(f->form[i].action);
	for (i = 0; i < f->nscript_src; i++)
		free(f->script_src[i]);
	for (i = 0; i < f->nurl; i++)
		free(f->url[i]);
	buf_release(&f->text);
	buf_release(&f->form_text);
	buf_release(&f->marks);
	buf_release(&f->script_text);
	buf_release(&f->embedded);
	memset(f, 0, sizeof(*f));
}

/* Count occurrences of needle (lower-case) in s[0..n), up to limit. */
static int count_ci(const char *s, size_t n, const char *needle, int limit)
{
	const char *q, *end = s + n;
	int c = 0;

	while (c < limit && (q = html_find_ci(s, (size_t)(end - s), needle))) {
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
	"window.location", "document.location", "top.location", "self.location",
};

/* A marker at s[at..at+k) navigates: a call, or an assignment (not ==). */
static int navigates(const char *s, size_t n, size_t at, size_t k)
{
	size_t i = at + k;

	if (s[i - 1] == '(')
		return 1;
	while (i < n && is_space(s[i]))
		i++;
	if (i + 5 < n && !strncasecmp(s + i, ".href", 5))
		return navigates(s, n, i, 5);
	return i + 1 < n && s[i] == '=' && s[i + 1] != '=';
}

/* Blocks that scripts open to run something on load or after a delay. */
static const char *const on_load[] = {
	"settimeout(", "setinterval(", "onload", "domcontentloaded", "'load'",
	"\"load\"", "ready(", "(function", "(()",
};

/* Does the statement before s[at] hold a condition? */
static int conditional_statement(const char *s, size_t at)
{
	size_t i = at;

	while (i > 0 && s[i - 1] != ';' && s[i - 1] != '{' && s[i - 1] != '}' &&
	       s[i - 1] != '\n')
		i--;
	return html_find_ci(s + i, at - i, "if(") || html_find_ci(s + i, at - i, "if (") ||
	       memchr(s + i, '?', at - i) || html_find_ci(s + i, at - i, "&&") ||
	       html_find_ci(s + i, at - i, "||");
}

/*
 * Does the code at s[at] run whenever the script does: at top level, or
 * in a block opened by a timer or load handler, outside a condition?
 * Strings and comments are skipped on the way; a click or submit
 * handler, a named function or an if block makes it conditional.
 */
static int unconditional(const char *s, size_t at)
{
	size_t open[32], i, from;
	int depth = 0;
	char q = 0, c;

	for (i = 0; i < at; i++) {
		c = s[i];
		if (q) {
			if (c == '\\')
				i++;
			else if (c == q)
				q = 0;
		} else if (c == '"' || c == '\'' || c == '`')
			q = c;
		else if (c == '/' && i + 1 < at && s[i + 1] == '/') {
			while (i < at && s[i] != '\n')
				i++;
		} else if (c == '{') {
			if (depth < 32)
				open[depth] = i;
			depth++;
		} else if (c == '}' && depth)
			depth--;
	}
	if (conditional_statement(s, at))
		return 0;
	if (!depth)
		return 1;
	if (depth > 32)
		return 0;
	from = open[depth - 1] > 60 ? open[depth - 1] - 60 : 0;
	for (i = 0; i < sizeof(on_load) / sizeof(on_load[0]); i++)
		if (html_find_ci(s + from, open[depth - 1] - from, on_load[i]))
			return !html_find_ci(s + from, open[depth - 1] - from, "if") &&
			       !html_find_ci(s + from, open[depth - 1] - from, "click") &&
			       !html_find_ci(s + from, open[depth - 1] - from, "submit");
	return 0;
}

/* Unconditional navigations in s[0..n): 1 when there is one. */
static int redirects(const char *s, size_t n)
{
	const char *q;
	size_t i, k, at;

	for (i = 0; i < sizeof(redirect_markers) / sizeof(redirect_markers[0]); i++) {
		k = strlen(redirect_markers[i]);
		for (at = 0; at < n && (q = html_find_ci(s + at, n - at, redirect_markers[i]));
		     at = (size_t)(q - s) + k)
			if (navigates(s, n, (size_t)(q - s), k) && unconditional(s, (size_t)(q - s)))
				return 1;
	}
	return 0;
}

static const char *const obfuscation_markers[] = {
	"eval(", "unescape(", "fromcharcode(", "atob(", "document.write(",
	"escape(", "new function(",
};

unsigned html_script_markers(const char *s, size_t n, int *js_redirect)
{
	unsigned bits = 0;
	size_t i, nm = sizeof(obfuscation_markers) / sizeof(obfuscation_markers[0]);

	*js_redirect += redirects(s, n);
	for (i = 0; i < nm; i++)
		if (html_find_ci(s, n, obfuscation_markers[i]))
			bits |= 1u << i;
	if (count_ci(s, n, "\\x", 20) >= 20 || count_ci(s, n, "%u", 20) >= 20)
		bits |= 1u << nm;
	if (longest_run(s, n) >= 300)
		bits |= 1u << (nm + 1);
	return bits;
}
