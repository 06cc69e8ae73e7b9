/*
 * analyze - turns one fetch into facts, scored indicators and a verdict.
 *
 * Indicators come from one rule table {code, weight, sentence}: URL
 * lexical features, HTTP and TLS facts, content sniffed by magic bytes,
 * HTML facts (html.c), the EICAR test file and optional local blocklists.
 * The score is the sum of the weights, capped at 100; the verdict follows
 * the table documented in docs/fetcher.md. It performs no I/O except
 * analyze_lists_load, which reads the blocklist files.
 */
#ifndef SAFEURL_ANALYZE_H
#define SAFEURL_ANALYZE_H

#include <stddef.h>

#include "../strvec.h"
#include "brand.h"
#include "html.h"

struct err;
struct fetch_result;
struct yrules;

/* One rule of the table (static). */
struct analyze_rule {
	const char *code;
	int weight;
	int decisive; /* a hit makes the verdict malicious whatever the score */
	const char *sentence;
};

/*
 * Local blocklists, one entry per line, lower-cased; brands added to the
 * built-in brand table (--brands).
 */
struct analyze_lists {
	struct strvec domains, urls, sha256;
	struct brand_table brands;
	struct yrules *yara; /* user YARA rules (--yara-rules), NULL when none */
};

#define ANALYZE_MAX_REASONS 40
#define ANALYZE_MAX_YARA 8 /* YARA_MATCH reasons at most */

struct analyze_reason {
	const struct analyze_rule *rule;
	char detail[160]; /* may be empty */
};

struct analysis {
	const char *verdict; /* "safe", "suspicious", "malicious" */
	int score;
	struct analyze_reason reasons[ANALYZE_MAX_REASONS];
	size_t nreasons;
	char sha256[65];        /* hex, of the decompressed body */
	const char *sniffed;    /* "html", "executable", ... or "unknown" */
	const char *sniffed_name; /* "PE executable", ... */
	char declared[128];     /* content type without parameters */
	char host[256];         /* final host */
	char registrable[256];  /* final registrable domain, "" for an IP */
	struct html_facts html; /* with what decoded payloads showed merged in */
	int decoded;            /* encoded payloads that decoded to markup */
	struct brand_hit brand; /* the brand the page claims, brand NULL when none */
	struct buf decoded_text; /* what the decoders produced, for YARA */
	struct analyze_rule yara[ANALYZE_MAX_YARA]; /* rows of the YARA_MATCH reasons */
};

/* The rule table (static) and its length. */
const struct analyze_rule *analyze_rules(size_t *n);

void analyze_lists_init(struct analyze_lists *l);
void analyze_lists_release(struct analyze_lists *l);
/* Load compiled YARA rules from path into l->yara (replacing any). */
int analyze_lists_load_yara(struct analyze_lists *l, const char *path, struct err *e);
/* Read path into which ("domains", "urls" or "sha256"). */
int analyze_lists_load(struct analyze_lists *l, const char *which,
		       const char *path, struct err *e);

/*
 * Analyse a finished fetch (r->outcome == FETCH_DONE; borrowed) against
 * the lists (borrowed, may be NULL). *a is overwritten; release with
 * analyze_release.
 */
void analyze_run(const struct fetch_result *r, const char *input_url,
		 const struct analyze_lists *l, struct analysis *a);
void analyze_release(struct analysis *a);

/* Score to verdict, per docs/fetcher.md. decisive: a decisive rule hit. */
const char *analyze_verdict(int score, int decisive);

/* Kind of content by magic bytes: *name gets a human name. Static. */
const char *analyze_sniff(const unsigned char *p, size_t n, const char **name);

/* Is p[0..n) the EICAR anti-virus test file? */
int analyze_is_eicar(const char *p, size_t n);

#endif
