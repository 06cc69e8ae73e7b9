/*
 * url.c - the URL Standard's basic URL parser (https://url.spec.whatwg.org/)
 * for http and https, written as its state machine: one function per
 * state, in a table indexed by the state, each reading one code point
 * (here one byte: every byte of a multi-byte UTF-8 sequence is handled
 * alike in every state, so byte steps give the code-point result) and
 * moving the pointer exactly as the standard's prose does. Failures carry
 * the standard's validation error names. The host parser, the IPv4 and
 * IPv6 parsers and the serializers follow.
 */
#include "../fmacros.h"

#include <idn2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "url.h"
#include "../buf.h"
#include "../err.h"
#include "../xalloc.h"
#include "../banned.h"

#define EOF_CP (-1)

/* The standard's percent-encode sets, each one a superset of the last. */
enum pe_set { PE_FRAGMENT, PE_QUERY, PE_SPECIAL_QUERY, PE_PATH, PE_USERINFO };

/* Beyond the C0 control set (C0 controls and every byte above 0x7e). */
static const char *const pe_extra[] = {
	[PE_FRAGMENT] = " \"<>`",
	[PE_QUERY] = " \"#<>",
	[PE_SPECIAL_QUERY] = " \"#<>'",
	[PE_PATH] = " \"#<>?`{}",
	[PE_USERINFO] = " \"#<>?^`{}/:;=@[\\]|",
};

/* Forbidden host code points; a domain also refuses C0, "%" and DEL. */
static const char forbidden_host[] = " #/:<>?@[\\]^|\t\n\r";

static const char *const hex = "0123456789ABCDEF";

enum state {
	S_SCHEME_START,
	S_SCHEME,
	S_NO_SCHEME,
	S_SPECIAL_RELATIVE_OR_AUTHORITY,
	S_SPECIAL_AUTHORITY_SLASHES,
	S_SPECIAL_AUTHORITY_IGNORE_SLASHES,
	S_RELATIVE,
	S_RELATIVE_SLASH,
	S_AUTHORITY,
	S_HOST,
	S_PORT,
	S_PATH_START,
	S_PATH,
	S_QUERY,
	S_FRAGMENT,
	S_COUNT
};

struct parser {
	const unsigned char *s; /* preprocessed input */
	long n, i;              /* length and pointer */
	enum state state;
	struct buf buffer;
	int at_seen, inside_brackets, password_seen;
	const struct url *base;
	struct url *u;
	struct buf user, pass, path, query, frag;
	int has_query, has_frag;
	struct err *e;
	int unsupported;
	const char *failure;
};

static int fail(struct parser *p, const char *reason, const char *what)
{
	size_t n = strlen(what);

	p->failure = reason;
	return err_set(p->e, ERR_INVALID, "%s%s%.*s%s", reason,
		       n ? " in '" : "", (int)(n > 80 ? 80 : n), what, n ? "'" : "");
}

static int is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int hexval(int c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int pe_needs(enum pe_set set, int c)
{
	return c < 0x20 || c > 0x7e || strchr(pe_extra[set], c);
}

static void pe_add(struct buf *b, enum pe_set set, int c)
{
	char esc[3] = { '%', hex[(c >> 4) & 15], hex[c & 15] };

	if (pe_needs(set, c))
		buf_add(b, esc, 3, NULL);
	else
		buf_addch(b, (char)c, NULL);
}

static int at(const struct parser *p, long i)
{
	return i >= 0 && i < p->n ? p->s[i] : EOF_CP;
}

static int special_slash(int c)
{
	return c == '/' || c == '\\';
}

/* EOF, "/", "?", "#" or "\": where an authority component ends. */
static int authority_end(int c)
{
	return c == EOF_CP || c == '/' || c == '?' || c == '#' || c == '\\';
}

/* ---- path list, kept serialized: "" is empty, else "/seg/seg" ---- */

static void path_shorten(struct buf *path)
{
	char *slash = strrchr(path->data, '/');

	if (slash)
		buf_truncate(path, (size_t)(slash - path->data));
}

static void path_append(struct buf *path, const char *seg, size_t n)
{
	buf_addch(path, '/', NULL);
	buf_add(path, seg, n, NULL);
}

static int dot_is(const char *s, const char *const *forms, size_t nforms)
{
	size_t i;

	for (i = 0; i < nforms; i++)
		if (!strcasecmp(s, forms[i]))
			return 1;
	return 0;
}

static int single_dot(const char *s)
{
	static const char *const forms[] = { ".", "%2e" };

	return dot_is(s, forms, 2);
}

static int double_dot(const char *s)
{
	static const char *const forms[] = { "..", ".%2e", "%2e.", "%2e%2e" };

	return dot_is(s, forms, 4);
}

/* Copy base's username, password, host and port into the url. */
static void copy_authority(struct parser *p)
{
	const struct url *b = p->base;

	buf_reset(&p->user);
	buf_reset(&p->pass);
	buf_addstr(&p->user, b->username, NULL);
	buf_addstr(&p->pass, b->password, NULL);
	free(p->u->host);
	p->u->host = xstrdup(b->host);
	p->u->host_type = b->host_type;
	memcpy(p->u->ip, b->ip, sizeof(p->u->ip));
	p->u->port = b->port;
	p->u->host_disguised = b->host_disguised;
}

/* ---- the states: each returns 0 to go on, -1 on failure ---- */

static int st_scheme_start(struct parser *p, int c)
{
	if (is_alpha(c)) {
		buf_addch(&p->buffer, (char)lower(c), NULL);
		p->state = S_SCHEME;
	} else {
		p->state = S_NO_SCHEME;
		p->i--;
	}
	return 0;
}

static int st_scheme(struct parser *p, int c)
{
	if (is_alpha(c) || is_digit(c) || c == '+' || c == '-' || c == '.') {
		buf_addch(&p->buffer, (char)lower(c), NULL);
		return 0;
	}
	if (c != ':') {
		buf_reset(&p->buffer);
		p->state = S_NO_SCHEME;
		p->i = -1;
		return 0;
	}
	if (strcmp(p->buffer.data, "http") && strcmp(p->buffer.data, "https")) {
		p->unsupported = 1;
		return err_set(p->e, ERR_INVALID, "scheme '%.*s' is not http or https",
			       (int)(p->buffer.len > 32 ? 32 : p->buffer.len),
			       p->buffer.data);
	}
	snprintf(p->u->scheme, sizeof(p->u->scheme), "%s", p->buffer.data);
	buf_reset(&p->buffer);
	if (p->base && !strcmp(p->base->scheme, p->u->scheme))
		p->state = S_SPECIAL_RELATIVE_OR_AUTHORITY;
	else
		p->state = S_SPECIAL_AUTHORITY_SLASHES;
	return 0;
}

static int st_no_scheme(struct parser *p, int c)
{
	(void)c;
	if (!p->base)
		return fail(p, "missing-scheme-non-relative-URL", "");
	p->state = S_RELATIVE;
	p->i--;
	return 0;
}

static int st_special_relative_or_authority(struct parser *p, int c)
{
	if (c == '/' && at(p, p->i + 1) == '/') {
		p->state = S_SPECIAL_AUTHORITY_IGNORE_SLASHES;
		p->i++;
	} else {
		p->state = S_RELATIVE;
		p->i--;
	}
	return 0;
}

static int st_special_authority_slashes(struct parser *p, int c)
{
	p->state = S_SPECIAL_AUTHORITY_IGNORE_SLASHES;
	if (c == '/' && at(p, p->i + 1) == '/')
		p->i++;
	else
		p->i--;
	return 0;
}

static int st_special_authority_ignore_slashes(struct parser *p, int c)
{
	if (!special_slash(c)) {
		p->state = S_AUTHORITY;
		p->i--;
	}
	return 0;
}

static int st_relative(struct parser *p, int c)
{
	snprintf(p->u->scheme, sizeof(p->u->scheme), "%s", p->base->scheme);
	if (special_slash(c)) {
		p->state = S_RELATIVE_SLASH;
		return 0;
	}
	copy_authority(p);
	buf_reset(&p->path);
	buf_addstr(&p->path, p->base->path, NULL);
	buf_reset(&p->query);
	p->has_query = p->base->query != NULL;
	if (p->has_query)
		buf_addstr(&p->query, p->base->query, NULL);
	if (c == '?') {
		buf_reset(&p->query);
		p->has_query = 1;
		p->state = S_QUERY;
	} else if (c == '#') {
		p->has_frag = 1;
		p->state = S_FRAGMENT;
	} else if (c != EOF_CP) {
		buf_reset(&p->query);
		p->has_query = 0;
		path_shorten(&p->path);
		p->state = S_PATH;
		p->i--;
	}
	return 0;
}

static int st_relative_slash(struct parser *p, int c)
{
	if (special_slash(c)) {
		p->state = S_SPECIAL_AUTHORITY_IGNORE_SLASHES;
		return 0;
	}
	copy_authority(p);
	p->state = S_PATH;
	p->i--;
	return 0;
}

/* The credentials in the buffer, at an "@". */
static void take_credentials(struct parser *p)
{
	struct buf b = BUF_INIT;
	size_t k;
	int cp;

	if (p->at_seen)
		buf_add(&b, "%40", 3, NULL);
	p->at_seen = 1;
	buf_add(&b, p->buffer.data, p->buffer.len, NULL);
	for (k = 0; k < b.len; k++) {
		cp = (unsigned char)b.data[k];
		if (cp == ':' && !p->password_seen) {
			p->password_seen = 1;
			continue;
		}
		pe_add(p->password_seen ? &p->pass : &p->user, PE_USERINFO, cp);
	}
	buf_release(&b);
	buf_reset(&p->buffer);
}

static int st_authority(struct parser *p, int c)
{
	if (c == '@') {
		take_credentials(p);
	} else if (authority_end(c)) {
		if (p->at_seen && !p->buffer.len)
			return fail(p, "host-missing", "");
		p->i -= (long)p->buffer.len + 1;
		buf_reset(&p->buffer);
		p->state = S_HOST;
	} else {
		buf_addch(&p->buffer, (char)c, NULL);
	}
	return 0;
}

static int set_host(struct parser *p)
{
	char *h;

	if (!p->buffer.len)
		return fail(p, "host-missing", "");
	h = url_host_parse(p->buffer.data, p->buffer.len, &p->u->host_type,
			   p->u->ip, &p->failure, p->e);
	if (!h)
		return -1;
	free(p->u->host);
	p->u->host = h;
	p->u->host_disguised = p->u->host_type != URL_HOST_DOMAIN &&
			       (p->buffer.len != strlen(h) || strncasecmp(p->buffer.data, h, p->buffer.len));
	buf_reset(&p->buffer);
	return 0;
}

static int st_host(struct parser *p, int c)
{
	if (c == ':' && !p->inside_brackets) {
		if (set_host(p))
			return -1;
		p->state = S_PORT;
	} else if (authority_end(c)) {
		p->i--;
		if (set_host(p))
			return -1;
		p->state = S_PATH_START;
	} else {
		if (c == '[')
			p->inside_brackets = 1;
		else if (c == ']')
			p->inside_brackets = 0;
		buf_addch(&p->buffer, (char)c, NULL);
	}
	return 0;
}

static int st_port(struct parser *p, int c)
{
	unsigned long port = 0;
	size_t k;

	if (is_digit(c)) {
		buf_addch(&p->buffer, (char)c, NULL);
		return 0;
	}
	if (!authority_end(c))
		return fail(p, "port-invalid", p->buffer.data);
	if (p->buffer.len) {
		for (k = 0; k < p->buffer.len && port <= 65535; k++)
			port = port * 10 + (unsigned long)(p->buffer.data[k] - '0');
		if (port > 65535)
			return fail(p, "port-out-of-range", p->buffer.data);
		p->u->port = (int)port;
		if (port == (strcmp(p->u->scheme, "https") ? 80UL : 443UL))
			p->u->port = -1;
		buf_reset(&p->buffer);
	}
	p->state = S_PATH_START;
	p->i--;
	return 0;
}

static int st_path_start(struct parser *p, int c)
{
	p->state = S_PATH;
	if (!special_slash(c))
		p->i--;
	return 0;
}

static int st_path(struct parser *p, int c)
{
	const char *seg = p->buffer.data;

	if (c != EOF_CP && !special_slash(c) && c != '?' && c != '#') {
		pe_add(&p->buffer, PE_PATH, c);
		return 0;
	}
	if (double_dot(seg)) {
		path_shorten(&p->path);
		if (!special_slash(c))
			path_append(&p->path, "", 0);
	} else if (single_dot(seg)) {
		if (!special_slash(c))
			path_append(&p->path, "", 0);
	} else {
		path_append(&p->path, seg, p->buffer.len);
	}
	buf_reset(&p->buffer);
	if (c == '?') {
		buf_reset(&p->query);
		p->has_query = 1;
		p->state = S_QUERY;
	} else if (c == '#') {
		p->has_frag = 1;
		p->state = S_FRAGMENT;
	}
	return 0;
}

static int st_query(struct parser *p, int c)
{
	size_t k;

	if (c != '#' && c != EOF_CP) {
		buf_addch(&p->buffer, (char)c, NULL);
		return 0;
	}
	for (k = 0; k < p->buffer.len; k++)
		pe_add(&p->query, PE_SPECIAL_QUERY, (unsigned char)p->buffer.data[k]);
	buf_reset(&p->buffer);
	if (c == '#') {
		p->has_frag = 1;
		p->state = S_FRAGMENT;
	}
	return 0;
}

static int st_fragment(struct parser *p, int c)
{
	if (c != EOF_CP)
		pe_add(&p->frag, PE_FRAGMENT, c);
	return 0;
}

static int (*const states[S_COUNT])(struct parser *, int) = {
	[S_SCHEME_START] = st_scheme_start,
	[S_SCHEME] = st_scheme,
	[S_NO_SCHEME] = st_no_scheme,
	[S_SPECIAL_RELATIVE_OR_AUTHORITY] = st_special_relative_or_authority,
	[S_SPECIAL_AUTHORITY_SLASHES] = st_special_authority_slashes,
	[S_SPECIAL_AUTHORITY_IGNORE_SLASHES] = st_special_authority_ignore_slashes,
	[S_RELATIVE] = st_relative,
	[S_RELATIVE_SLASH] = st_relative_slash,
	[S_AUTHORITY] = st_authority,
	[S_HOST] = st_host,
	[S_PORT] = st_port,
	[S_PATH_START] = st_path_start,
	[S_PATH] = st_path,
	[S_QUERY] = st_query,
	[S_FRAGMENT] = st_fragment,
};

/* ---- preprocessing ---- */

/* Length of the valid UTF-8 prefix of a sequence at s (0: invalid lead). */
static size_t utf8_valid(const unsigned char *s, size_t n, size_t *need)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t k;

	if (c < 0x80) {
		*need = 1;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf)
		*need = 2;
	else if (c >= 0xe0 && c <= 0xef)
		*need = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		*need = 4;
	else
		return *need = 1, 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	for (k = 1; k < *need; k++) {
		if (k >= n || s[k] < lo || s[k] > hi)
			return k;
		lo = 0x80;
		hi = 0xbf;
	}
	return k;
}

/*
 * The input as the standard sees it: invalid UTF-8 replaced by U+FFFD
 * (as a decoder does), leading and trailing C0 controls and spaces
 * trimmed, tabs and newlines removed.
 */
static void preprocess(const char *input, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)input;
	size_t n = strlen(input), k, v, need;

	while (n && s[n - 1] <= 0x20)
		n--;
	while (n && *s <= 0x20)
		s++, n--;
	for (k = 0; k < n; k += v ? v : 1) {
		v = utf8_valid(s + k, n - k, &need);
		if (v == need) {
			if (s[k] != '\t' && s[k] != '\n' && s[k] != '\r')
				buf_add(out, s + k, v, NULL);
		} else {
			buf_add(out, "\xef\xbf\xbd", 3, NULL);
		}
	}
}

/* ---- serializer ---- */

static void serialize(struct url *u)
{
	struct buf b = BUF_INIT;

	buf_addf(&b, NULL, "%s://", u->scheme);
	if (u->username[0] || u->password[0]) {
		buf_addstr(&b, u->username, NULL);
		if (u->password[0])
			buf_addf(&b, NULL, ":%s", u->password);
		buf_addch(&b, '@', NULL);
	}
	buf_addstr(&b, u->host, NULL);
	if (u->port >= 0)
		buf_addf(&b, NULL, ":%d", u->port);
	buf_addstr(&b, u->path, NULL);
	if (u->query)
		buf_addf(&b, NULL, "?%s", u->query);
	if (u->fragment)
		buf_addf(&b, NULL, "#%s", u->fragment);
	u->href = buf_detach(&b, NULL);
}

static void parser_release(struct parser *p)
{
	buf_release(&p->buffer);
	buf_release(&p->user);
	buf_release(&p->pass);
	buf_release(&p->path);
	buf_release(&p->query);
	buf_release(&p->frag);
}

int url_parse(struct url *u, const char *input, const struct url *base,
	      struct err *e)
{
	struct buf in = BUF_INIT;
	struct parser p;
	int rc = 0;

	memset(u, 0, sizeof(*u));
	u->port = -1;
	u->failure = "";
	if (strlen(input) > URL_MAX_INPUT)
		return err_set(e, ERR_INVALID,
			       "url-too-long: more than %d bytes", URL_MAX_INPUT);
	preprocess(input, &in);
	memset(&p, 0, sizeof(p));
	p.s = (const unsigned char *)in.data;
	p.n = (long)in.len;
	p.base = base;
	p.u = u;
	p.e = e;
	buf_init(&p.buffer, 0);
	buf_init(&p.user, 0);
	buf_init(&p.pass, 0);
	buf_init(&p.path, 0);
	buf_init(&p.query, 0);
	buf_init(&p.frag, 0);
	for (;;) {
		rc = states[p.state](&p, at(&p, p.i));
		if (rc || p.i >= p.n)
			break;
		p.i++;
	}
	buf_release(&in);
	if (!rc) {
		u->username = buf_detach(&p.user, NULL);
		u->password = buf_detach(&p.pass, NULL);
		u->path = buf_detach(&p.path, NULL);
		u->query = p.has_query ? buf_detach(&p.query, NULL) : NULL;
		u->fragment = p.has_frag ? buf_detach(&p.frag, NULL) : NULL;
		serialize(u);
	}
	parser_release(&p);
	if (rc) {
		url_release(u);
		u->failure = p.failure ? p.failure : "";
		return p.unsupported ? URL_UNSUPPORTED : -1;
	}
	return 0;
}

void url_release(struct url *u)
{
	free(u->username);
	free(u->password);
	free(u->host);
	free(u->path);
	free(u->query);
	free(u->fragment);
	free(u->href);
	memset(u, 0, sizeof(*u));
	u->port = -1;
}

int url_port(const struct url *u)
{
	if (u->port >= 0)
		return u->port;
	return strcmp(u->scheme, "https") ? 80 : 443;
}

/* ---- host parser ---- */

/* Where a host failure goes: the caller's err and the failure's name. */
struct host_err {
	struct err *e;
	const char *failure;
};

static int hfail(struct host_err *h, const char *reason, const char *raw, size_t n)
{
	h->failure = reason;
	return err_set(h->e, ERR_INVALID, "%s in host '%.*s'", reason,
		       (int)(n > 80 ? 80 : n), raw);
}

/* IPv6 parser over s[0..n) (inside the brackets). 0 or -1 (e set). */
static int ipv6_parse(const char *s, size_t n, uint16_t a[8], struct host_err *e)
{
	size_t i = 0, len;
	int piece = 0, compress = -1, swaps, seen, v4, value;
#define C (i < n ? (unsigned char)s[i] : EOF_CP)

	memset(a, 0, 8 * sizeof(*a));
	if (C == ':') {
		if (i + 1 >= n || s[i + 1] != ':')
			return hfail(e, "IPv6-invalid-compression", s, n);
		i += 2;
		compress = ++piece;
	}
	while (C != EOF_CP) {
		if (piece == 8)
			return hfail(e, "IPv6-too-many-pieces", s, n);
		if (C == ':') {
			if (compress >= 0)
				return hfail(e, "IPv6-multiple-compression", s, n);
			i++;
			compress = ++piece;
			continue;
		}
		value = 0;
		for (len = 0; len < 4 && hexval(C) >= 0; len++, i++)
			value = value * 16 + hexval(C);
		if (C == '.') {
			if (!len)
				return hfail(e, "IPv4-in-IPv6-invalid-code-point", s, n);
			i -= len;
			if (piece > 6)
				return hfail(e, "IPv4-in-IPv6-too-many-pieces", s, n);
			for (seen = 0; C != EOF_CP; seen++) {
				v4 = -1;
				if (seen > 0) {
					if (C == '.' && seen < 4)
						i++;
					else
						return hfail(e, "IPv4-in-IPv6-invalid-code-point", s, n);
				}
				if (!is_digit(C))
					return hfail(e, "IPv4-in-IPv6-invalid-code-point", s, n);
				for (; is_digit(C); i++) {
					if (v4 == 0)
						return hfail(e, "IPv4-in-IPv6-invalid-code-point", s, n);
					v4 = (v4 < 0 ? 0 : v4 * 10) + (C - '0');
					if (v4 > 255)
						return hfail(e, "IPv4-in-IPv6-out-of-range-part", s, n);
				}
				a[piece] = (uint16_t)(a[piece] * 0x100 + v4);
				if (seen == 1 || seen == 3)
					piece++;
			}
			if (seen != 4)
				return hfail(e, "IPv4-in-IPv6-too-few-parts", s, n);
			break;
		} else if (C == ':') {
			i++;
			if (C == EOF_CP)
				return hfail(e, "IPv6-invalid-code-point", s, n);
		} else if (C != EOF_CP) {
			return hfail(e, "IPv6-invalid-code-point", s, n);
		}
		a[piece++] = (uint16_t)value;
	}
#undef C
	if (compress >= 0) {
		uint16_t t;

		swaps = piece - compress;
		for (piece = 7; piece != 0 && swaps > 0; piece--, swaps--) {
			t = a[piece];
			a[piece] = a[compress + swaps - 1];
			a[compress + swaps - 1] = t;
		}
	} else if (piece != 8) {
		return hfail(e, "IPv6-too-few-pieces", s, n);
	}
	return 0;
}

static char *ipv6_serialize(const uint16_t a[8])
{
	struct buf b = BUF_INIT;
	int i, best = -1, bestlen = 1, run, ignore0 = 0;

	for (i = 0; i < 8; i += run ? run : 1) {
		for (run = 0; i + run < 8 && !a[i + run]; run++)
			;
		if (run > bestlen) {
			best = i;
			bestlen = run;
		}
	}
	buf_addch(&b, '[', NULL);
	for (i = 0; i < 8; i++) {
		if (ignore0 && !a[i])
			continue;
		ignore0 = 0;
		if (i == best) {
			buf_addstr(&b, i == 0 ? "::" : ":", NULL);
			ignore0 = 1;
			continue;
		}
		buf_addf(&b, NULL, "%x", a[i]);
		if (i != 7)
			buf_addch(&b, ':', NULL);
	}
	buf_addch(&b, ']', NULL);
	return buf_detach(&b, NULL);
}

/* The IPv4 number parser: 0 with *v (capped above 2^32), -1 failure. */
static int ipv4_number(const char *s, size_t n, uint64_t *v)
{
	unsigned base = 10;
	int d;

	if (!n)
		return -1;
	if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		n -= 2;
	} else if (n >= 2 && s[0] == '0') {
		base = 8;
		s++;
		n--;
	}
	*v = 0;
	for (; n; s++, n--) {
		d = hexval((unsigned char)*s);
		if (d < 0 || (unsigned)d >= base)
			return -1;
		*v = *v * base + (unsigned)d;
		if (*v > 0xffffffffULL)
			*v = 0x100000000ULL;
	}
	return 0;
}

/* "Ends in a number": the last label (a trailing dot ignored). */
static int ends_in_number(const char *h, size_t n)
{
	const char *last;
	size_t k;
	uint64_t v;

	if (n && h[n - 1] == '.')
		n--;
	for (k = n; k && h[k - 1] != '.'; k--)
		;
	last = h + k;
	n -= k;
	for (k = 0; k < n && is_digit((unsigned char)last[k]); k++)
		;
	if (n && k == n)
		return 1;
	return ipv4_number(last, n, &v) == 0;
}

/* The IPv4 parser; 0 with ip[0..3], -1 failure (e set). */
static int ipv4_parse(const char *h, size_t n, unsigned char ip[16], struct host_err *e)
{
	uint64_t parts[4], v;
	size_t np = 0, k, start = 0, end = n;
	int i;

	if (n && h[n - 1] == '.')
		end = n - 1;
	for (k = 0; k <= end; k++) {
		if (k < end && h[k] != '.')
			continue;
		if (np == 4)
			return hfail(e, "IPv4-too-many-parts", h, n);
		if (ipv4_number(h + start, k - start, &parts[np++]))
			return hfail(e, "IPv4-non-numeric-part", h, n);
		start = k + 1;
	}
	for (i = 0; i < (int)np - 1; i++)
		if (parts[i] > 255)
			return hfail(e, "IPv4-out-of-range-part", h, n);
	if (parts[np - 1] >= (1ULL << (8 * (5 - np))))
		return hfail(e, "IPv4-out-of-range-part", h, n);
	v = parts[np - 1];
	for (i = 0; i < (int)np - 1; i++)
		v += parts[i] << (8 * (3 - i));
	memset(ip, 0, 16);
	ip[0] = (unsigned char)(v >> 24);
	ip[1] = (unsigned char)(v >> 16);
	ip[2] = (unsigned char)(v >> 8);
	ip[3] = (unsigned char)v;
	return 0;
}

/* ASCII and no label starting with "xn--": lower-casing is all UTS #46 does. */
static int ascii_fast_path(const char *s, size_t n)
{
	size_t k;

	for (k = 0; k < n; k++)
		if ((unsigned char)s[k] >= 0x80)
			return 0;
	for (k = 0; k < n; k++)
		if ((k == 0 || s[k - 1] == '.') && n - k >= 4 &&
		    !strncasecmp(s + k, "xn--", 4))
			return 0;
	return 1;
}

/* Is s valid UTF-8 (after percent-decoding the host must be)? */
static int utf8_ok(const unsigned char *s, size_t n)
{
	size_t k, v, need;

	for (k = 0; k < n; k += v) {
		v = utf8_valid(s + k, n - k, &need);
		if (v != need)
			return 0;
	}
	return 1;
}

/*
 * Domain to ASCII with beStrict false: UTS #46 ToASCII with
 * CheckHyphens=false, CheckBidi=true, CheckJoiners=true,
 * UseSTD3ASCIIRules=false, Transitional_Processing=false,
 * VerifyDnsLength=false. libidn2's lookup with non-transitional UTS #46
 * processing is the closest it offers; where it is stricter (IDNA2008
 * rules on top), the host is refused, never read differently.
 */
static char *domain_to_ascii(const char *d, size_t n, struct host_err *e)
{
	char *out, *z;
	size_t k;
	int rc;

	if (ascii_fast_path(d, n)) {
		out = xstrndup(d, n);
		for (k = 0; k < n; k++)
			out[k] = (char)lower((unsigned char)out[k]);
		return out;
	}
	if (!utf8_ok((const unsigned char *)d, n)) {
		hfail(e, "domain-to-ASCII", d, n);
		return NULL;
	}
	z = xstrndup(d, n);
	rc = idn2_lookup_u8((const uint8_t *)z, (uint8_t **)&out,
			    IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
	free(z);
	if (rc != IDN2_OK) {
		hfail(e, "domain-to-ASCII", d, n);
		return NULL;
	}
	z = xstrdup(out);
	idn2_free(out);
	return z;
}

static char *host_parse(const char *raw, size_t n, enum url_host_type *type,
		       unsigned char ip[16], struct host_err *e)
{
	struct buf dec = BUF_INIT;
	uint16_t a6[8];
	char *ascii;
	size_t k, alen;
	int i;

	memset(ip, 0, 16);
	if (n && raw[0] == '[') {
		if (raw[n - 1] != ']') {
			hfail(e, "IPv6-unclosed", raw, n);
			return NULL;
		}
		if (ipv6_parse(raw + 1, n - 2, a6, e))
			return NULL;
		for (i = 0; i < 8; i++) {
			ip[2 * i] = (unsigned char)(a6[i] >> 8);
			ip[2 * i + 1] = (unsigned char)a6[i];
		}
		*type = URL_HOST_IPV6;
		return ipv6_serialize(a6);
	}
	for (k = 0; k < n; k++) {
		if (raw[k] == '%' && k + 2 < n && hexval((unsigned char)raw[k + 1]) >= 0 &&
		    hexval((unsigned char)raw[k + 2]) >= 0) {
			buf_addch(&dec, (char)(hexval((unsigned char)raw[k + 1]) * 16 +
					       hexval((unsigned char)raw[k + 2])), NULL);
			k += 2;
		} else {
			buf_addch(&dec, raw[k], NULL);
		}
	}
	/* A NUL is a forbidden domain code point whatever UTS #46 maps. */
	ascii = memchr(dec.data, '\0', dec.len) ? NULL : domain_to_ascii(dec.data, dec.len, e);
	if (!ascii && memchr(dec.data, '\0', dec.len))
		hfail(e, "domain-invalid-code-point", raw, n);
	buf_release(&dec);
	if (!ascii)
		return NULL;
	alen = strlen(ascii);
	for (k = 0; k < alen; k++)
		if ((unsigned char)ascii[k] < 0x20 || ascii[k] == '%' || ascii[k] == 0x7f ||
		    strchr(forbidden_host, ascii[k]))
			break;
	if (!alen || k < alen) {
		hfail(e, alen ? "domain-invalid-code-point" : "domain-to-ASCII", raw, n);
		free(ascii);
		return NULL;
	}
	n = alen;
	*type = URL_HOST_DOMAIN;
	if (!ends_in_number(ascii, n))
		return ascii;
	if (ipv4_parse(ascii, n, ip, e)) {
		free(ascii);
		return NULL;
	}
	free(ascii);
	*type = URL_HOST_IPV4;
	ascii = xmalloc(16);
	snprintf(ascii, 16, "%u.%u.%u.%u", ip[0], ip[1], ip[2], ip[3]);
	return ascii;
}

char *url_host_parse(const char *raw, size_t n, enum url_host_type *type,
		     unsigned char ip[16], const char **failure, struct err *err)
{
	struct host_err he = { err, NULL }, *e = &he;
	char *out = host_parse(raw, n, type, ip, e);

	if (!out && failure)
		*failure = he.failure;
	return out;
}
