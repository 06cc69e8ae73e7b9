/*
 * store_libsql_int.h - private to store_libsql*.c and their tests: the pure
 * JSON side of the libSQL remote protocol (store_libsql_wire.c).
 *
 * A request is a list of steps, each one SQL text with typed arguments
 * and a condition on the step before it. A reply is kept as parsed JSON;
 * step results and errors are read from it by index.
 */
#ifndef SAFEURL_STORE_LIBSQL_INT_H
#define SAFEURL_STORE_LIBSQL_INT_H

#include <jansson.h>

#include "err.h"
#include "store_int.h"

struct buf;
struct strvec;

#define LIBSQL_MAX_REPLY (64u << 20) /* bytes of one reply, and of a blob */

enum libsql_cond {
	LIBSQL_ALWAYS,
	LIBSQL_IF_OK,     /* the step before succeeded */
	LIBSQL_IF_FAILED, /* rollback: step 0 ran, the step before did not
			     succeed (no `is_autocommit`: Hrana 3 only,
			     and sqld refuses it on /v2) */
};

/* One step; everything borrowed for the call. */
struct libsql_step {
	const char *sql;
	const struct store_val *args;
	size_t nargs;
	enum libsql_cond cond;
};

/*
 * The pipeline URL for a database URL: libsql:// means https://; query
 * string and trailing slashes dropped; /v2/pipeline appended. New, caller
 * frees.
 */
char *store_libsql_endpoint(const char *url);

/*
 * Append the pipeline request carrying steps as one batch to out, on the
 * stream named by baton (borrowed; NULL: a new stream).
 */
int store_libsql_encode(struct buf *out, const char *baton,
			const struct libsql_step *steps, size_t n,
			struct err *e);
/* Append the request that closes the stream named by baton. */
int store_libsql_encode_close(struct buf *out, const char *baton,
			      struct err *e);

struct libsql_reply {
	json_t *root;    /* owned */
	json_t *results; /* borrowed from root: step results, null if not run */
	json_t *errors;  /* borrowed from root: step errors, null if none */
	const char *baton; /* borrowed from root: the stream kept, or NULL */
	size_t nsteps;
};

/*
 * Parse the reply to a request of nsteps steps into r (release it with
 * store_libsql_reply_release() whatever the result). -1 when the body is
 * not such a reply (ERR_UNAVAILABLE) or the server refused the whole
 * request (its message, kind from its code).
 */
int store_libsql_decode(struct libsql_reply *r, const char *body,
			size_t len, size_t nsteps, struct err *e);
void store_libsql_reply_release(struct libsql_reply *r);

/*
 * 0 when step i ran and succeeded; -1 with the server's message prefixed
 * by what (kind from its code) when it failed, ERR_INTERNAL when it did
 * not run.
 */
int store_libsql_step_failed(const struct libsql_reply *r, size_t i,
			     const char *what, struct err *e);

/*
 * Hand each row of step i to fn (may be NULL), numbering them from *seq
 * on. Returns the number of rows, or -1 (bad value, or fn failed).
 */
long long store_libsql_rows(const struct libsql_reply *r, size_t i,
			    store_row_fn fn, void *arg, size_t *seq,
			    struct err *e);

/*
 * One typed value into out. Text is borrowed from v; a blob is decoded
 * into blob (reset first) and out points into it.
 */
int store_libsql_value(const json_t *v, struct store_val *out,
		       struct buf *blob, struct err *e);

/* Decode standard base64 (padding optional) and append to out. */
int store_libsql_base64(struct buf *out, const char *s, struct err *e);

/* A server error code -> kind: busy/locked/I/O are ERR_UNAVAILABLE. */
enum err_kind store_libsql_code_kind(const char *code);

/* Split a script into statements (copies) at ';' outside quotes. */
void store_libsql_split(const char *sql, struct strvec *out);

#ifdef SAFEURL_TEST
/*
 * Test builds: run sql (borrowed) on a remote store st, unguarded and
 * outside any batch; *first gets the first column of the first row as an
 * integer, -1 when there is none.
 */
int store_libsql_test_sql(struct store *st, const char *sql,
			  long long *first, struct err *e);
#endif

#endif
