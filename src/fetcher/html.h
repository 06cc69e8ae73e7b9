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

#include "../buf.h"

#define HTML_MAX_LIST 16
#define HTML_MAX_URLS 32
#define HTML_TEXT_MAX 32768     /* visible text kept */
#define HTML_FORM_TEXT_MAX 4096 /* text inside forms kept */
#define HTML_MARKS_MAX 4096     /* identity marks kept */
#define HTML_SCRIPT_MAX 262144  /* inline script text kept */
#define HTML_EMBED_MAX 1048576  /* data: URLs kept */

struct html_form {
	char *action;  /* raw action attribute, "" when absent */
	int passwords; /* password inputs inside this form */
	int logins;    /* e-mail or user-name inputs inside this form */
	int cards;     /* payment-card inputs inside this form */
};

struct html_facts {
	char title[201];
	int forms, password_fields, iframes, hidden_iframes, meta_refresh;
	int scripts, inline_scripts;
	int js_redirects;     /* location.href=, location.replace(...) */
	int obfuscation;      /* distinct obfuscation markers seen */
	struct html_form form[HTML_MAX_LIST]; /* the first forms */
	size_t nform;
	char *script_src[HTML_MAX_LIST];      /* the first external scripts without integrity */
	size_t nscript_src;
	int sri_scripts;       /* external scripts with an integrity hash */
	int login_fields;      /* e-mail or user-name inputs (type email, or named so) */
	int card_fields;       /* payment-card inputs (cc-* autocomplete, card/cvv names) */
	int script_password;   /* inline scripts that build a password input */
	int tracker_iframes;   /* tiny or invisible frames in <noscript> or to trackers */
	int download_links;    /* links to programs, scripts or disk images (.exe, .msi, .hta...) */
	/*
	 * Text facts, capped (HTML_*_MAX), character references decoded and
	 * white space collapsed: visible text with alt, placeholder, aria-label
	 * and button values; the same inside forms; identity marks (logo image
	 * alt and src, icon hrefs, og:site_name, og:title, application-name);
	 * inline script text; data: URLs of meta refresh and frames, one a line.
	 */
	struct buf text, form_text, marks, script_text, embedded;
	char *url[HTML_MAX_URLS]; /* absolute resource URLs: img, link, script, og:image */
	size_t nurl;
};

/*
 * Scan data[0..len) (borrowed, need not be NUL-terminated) into *f, which
 * is reset first. Strings in *f are new; html_facts_release frees them.
 */
void html_scan(const char *data, size_t len, struct html_facts *f);
/*
 * Case-insensitive search of needle (lower-case ASCII) in s[0..n): the
 * first match in s (borrowed), or NULL. The page scanners share it.
 */
const char *html_find_ci(const char *s, size_t n, const char *needle);
void html_facts_release(struct html_facts *f);

/*
 * Add what a decoded document (from, borrowed) shows to *into: counts are
 * summed, text and lists appended within their caps, the title taken when
 * into has none. Forms and script sources are not moved.
 */
void html_facts_merge(struct html_facts *into, const struct html_facts *from);

/*
 * Obfuscation markers found in script text s[0..n): eval, unescape,
 * fromCharCode, atob, dense \x or %u escapes, very long unbroken strings.
 * Returns a bit set, one bit per marker kind.
 */
unsigned html_script_markers(const char *s, size_t n, int *js_redirect);

#endif
