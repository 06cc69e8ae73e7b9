/*
 * html - a small, careful HTML tokenizer that extracts the facts the
 * analyser scores: title, forms and where they post, password fields,
 * hidden iframes, meta refresh, external scripts, and redirect or
 * obfuscation markers inside inline scripts.
 *
 * Pure: bytes in, facts out; it never builds a tree, never runs scripts,
 * never fetches, and reads at most len bytes whatever the input holds
 * (unterminated tags, comments and quotes end at the end of the input).
 * It does not resolve URLs; analyze.c compares origins.
 */
#ifndef SAFEURL_HTML_H
#define SAFEURL_HTML_H

#include <stddef.h>

#define HTML_MAX_LIST 16

struct html_form {
	char *action;  /* raw action attribute, "" when absent */
	int passwords; /* password inputs inside this form */
};

struct html_facts {
	char title[201];
	int forms, password_fields, iframes, hidden_iframes, meta_refresh;
	int scripts, inline_scripts;
	int js_redirects;     /* location.href=, location.replace(...) */
	int obfuscation;      /* distinct obfuscation markers seen */
	struct html_form form[HTML_MAX_LIST]; /* the first forms */
	size_t nform;
	char *script_src[HTML_MAX_LIST];      /* the first external scripts */
	size_t nscript_src;
};

/*
 * Scan data[0..len) (borrowed, need not be NUL-terminated) into *f, which
 * is reset first. Strings in *f are new; html_facts_release frees them.
 */
void html_scan(const char *data, size_t len, struct html_facts *f);
void html_facts_release(struct html_facts *f);

/*
 * Obfuscation markers found in script text s[0..n): eval, unescape,
 * fromCharCode, atob, dense \x or %u escapes, very long unbroken strings.
 * Returns a bit set, one bit per marker kind.
 */
unsigned html_script_markers(const char *s, size_t n, int *js_redirect);

#endif
