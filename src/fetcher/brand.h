/*
 * brand - which brand a page presents itself as, and whether the page's
 * domain is one of that brand's.
 *
 * The table is data (data/brands.tsv, built into the fetcher, extended
 * with --brands FILE): a brand, the words that name it, and its
 * registrable domains (sites and static-asset hosts). A page "claims" a
 * brand when the brand's words appear in its title, identity marks (logo
 * image, icon, og:site_name), form text, hot-linked images or text, with
 * enough weight (see brand_claim); mentions such as "sign in with Google"
 * do not count. Pure apart from brand_table_load, which reads a file.
 */
#ifndef SAFEURL_BRAND_H
#define SAFEURL_BRAND_H

#include <stddef.h>

#include "../strvec.h"

struct err;
struct html_facts;

struct brand {
	char *name;
	struct strvec words;   /* lower-case */
	struct strvec domains; /* lower-case registrable domains */
};

struct brand_table {
	struct brand *v;
	size_t n, cap;
};

void brand_table_init(struct brand_table *t);
void brand_table_release(struct brand_table *t);

/*
 * Add the rows of text[0..len) (borrowed; the brands.tsv format) to *t.
 * origin names the source in errors ("FILE:LINE: ..."). 0 or -1 (e set,
 * ERR_INVALID; rows before the bad one are kept).
 */
int brand_table_parse(struct brand_table *t, const char *text, size_t len,
		      const char *origin, struct err *e);
/* brand_table_parse on the contents of path. */
int brand_table_load(struct brand_table *t, const char *path, struct err *e);

/* The built-in table (data/brands.tsv), parsed once; static. */
const struct brand_table *brand_default(void);

/* Is host (with its registrable domain reg, "" for an IP) the brand's? */
int brand_owns(const struct brand *b, const char *host, const char *reg);

struct brand_hit {
	const struct brand *brand; /* borrowed from the table */
	int strength;              /* 3 or more: claimed */
	char evidence[128];        /* where the brand was seen */
};

/*
 * The brand that the page facts f (borrowed) claim most strongly among
 * those that do not own host/reg: 1 with *hit filled, or 0. Strength:
 * title 3, identity marks 3, form text 2, hot-linked images or styles
 * from the brand's domains 2, text 1 per mention up to 2; a claim needs
 * 3 or more with the title, a mark or a hot-linked image among them
 * (form and text alone name providers of "sign in with" buttons).
 */
int brand_claim(const struct brand_table *t, const struct html_facts *f,
		const char *host, const char *reg, struct brand_hit *hit);

/* Whole-word, case-insensitive, look-alike-folded mentions of word in s. */
int brand_mentions(const char *s, size_t n, const char *word, int skip_referrals);

#endif
