/*
 * report - the fetcher's one JSON document (SPEC section 7), built with
 * jansson from a fetch result and its analysis. The shape is fixed by
 * docs/fetcher-output.schema.json. It does not decide anything: the
 * verdict and reasons come from analyze.c, the error codes from fetch.c.
 */
#ifndef SAFEURL_REPORT_H
#define SAFEURL_REPORT_H

#include <stdio.h>

struct fetch_result;
struct analysis;

/*
 * Write the document for input_url to out as one line. r and a are
 * borrowed; a is read only when r->outcome is FETCH_DONE. Returns 0, or
 * -1 when the document cannot be built or written.
 */
int report_write(FILE *out, const char *input_url,
		 const struct fetch_result *r, const struct analysis *a);

/* Write an ok:false document with an internal error (code, message). */
int report_write_internal(FILE *out, const char *input_url, const char *msg);

#endif
