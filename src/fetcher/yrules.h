/*
 * yrules - user YARA rules (libyara) over the body and decoded content.
 *
 * Rules come compiled (yarac, or yr_rules_save): the fetcher never
 * compiles source. Each matching rule becomes one reason named after the
 * rule, its weight taken from the rule's integer metadata "weight"
 * (0 … 100; YRULES_DEFAULT_WEIGHT when absent). No rules are loaded
 * unless --yara-rules names a file.
 */
#ifndef SAFEURL_YRULES_H
#define SAFEURL_YRULES_H

#include <stddef.h>

struct err;
struct yrules;

#define YRULES_DEFAULT_WEIGHT 50
#define YRULES_TIMEOUT_S 5

struct yrules_match {
	char rule[64];
	int weight;
};

/* Load compiled rules from path: *out new, free with yrules_free. 0 or -1 (e set). */
int yrules_load(struct yrules **out, const char *path, struct err *e);
void yrules_free(struct yrules *y);

/*
 * Compile YARA rule source src into dst (what yarac does), for
 * `safeurl rules compile`. 0, or -1 with e naming the file, line and
 * libyara's message for the first error (ERR_INVALID), or the file that
 * cannot be read or written.
 */
int yrules_compile(const char *src, const char *dst, struct err *e);

/*
 * Scan data[0..n) (borrowed), appending matches to m[*nm..max) without
 * repeating a rule already there. Returns 0, or -1 when the scan failed
 * (timeout, libyara error): the matches found so far are kept.
 */
int yrules_scan(const struct yrules *y, const char *data, size_t n,
		struct yrules_match *m, size_t *nm, size_t max);

#endif
