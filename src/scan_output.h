/*
 * scan_output - the strict reader of one fetcher document.
 *
 * The worker trusts nothing from the container but this one JSON object,
 * and checks it against the fetcher's schema (docs/fetcher-output.schema.json)
 * before anything is stored: types, enums, ranges and string sizes. A
 * document that fails any check is invalid output (ERR_INVALID) and the scan
 * fails; nothing of it is stored. Pure: bytes in, values out.
 */
#ifndef SAFEURL_SCAN_OUTPUT_H
#define SAFEURL_SCAN_OUTPUT_H

#include <stddef.h>

struct err;

/* What the worker keeps of a fetcher document; strings owned. */
struct scan_output {
	int ok;                   /* the fetch formed a verdict */
	char *verdict;            /* safe|suspicious|malicious|blocked|error */
	int risk_score;           /* 0..100 */
	int http_status;          /* 0 = none */
	char *final_url;          /* NULL = none */
	char *content_type;       /* NULL = none */
	char *sha256;             /* 64 lower-case hex, NULL = none */
	long long content_length; /* -1 = unknown */
	char *error_code;         /* when !ok: [A-Z0-9_]+ */
	char *error_message;      /* when !ok */
	int retryable;            /* when !ok */
	char *json;               /* the document, compact, as stored */
};

void scan_output_init(struct scan_output *out);
void scan_output_release(struct scan_output *out);

/*
 * Parse and validate len bytes of text. On failure returns -1 with
 * ERR_INVALID and a message naming the field and what was wrong, and out
 * holds nothing (still release it).
 */
int scan_output_parse(const char *text, size_t len, struct scan_output *out,
		      struct err *e);

#endif
