/*
 * store_libsql_wire.c - the libSQL remote protocol's JSON, pure: steps in,
 * request text out; reply text in, typed rows and step errors out.
 *
 * A request is one pipeline (`POST /v2/pipeline`) holding one `batch`
 * request whose steps carry conditions on earlier steps. Arguments travel
 * typed: integers as decimal strings (64-bit exact), text, null. Reply
 * values come back the same way, plus floats (JSON numbers, truncated to
 * integers as the embedded backend's sqlite3_column_int64 does) and blobs
 * (base64, handed over as text); a float beyond the integer range is refused.
 *
 * Not here: HTTP, retries, which steps make a transaction
 * (store_libsql.c).
 */
#include "fmacros.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "store_libsql_int.h"
#include "strvec.h"
#include "banned.h"

/* Server error codes that mean "try again"; any other is not retried. */
static const char *const transient_codes[] = {
	"SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR", "SQLITE_FULL",
	"SQLITE_PROTOCOL",
};

enum err_kind store_libsql_code_kind(const char *code)
{
	size_t i, len;

	for (i = 0; code && i < sizeof(transient_codes) /
				       sizeof(transient_codes[0]); i++) {
		len = strlen(transient_codes[i]);
		if (!strncmp(code, transient_codes[i], len))
			return ERR_UNAVAILABLE;
	}
	return ERR_INTERNAL;
}

/* ---- request ---- */

char *store_libsql_endpoint(const char *url)
{
	struct buf b = BUF_INIT;
	size_t len;

	if (!strncmp(url, "libsql://", 9)) {
		buf_addstr(&b, "https://", NULL);
		url += 9;
	}
	len = strcspn(url, "?#");
	while (len && url[len - 1] == '/')
		len--;
	buf_add(&b, url, len, NULL);
	buf_addstr(&b, "/v2/pipeline", NULL);
	return buf_detach(&b, NULL);
}


static int add_str(struct buf *b, const char *s, struct err *e)
{
	if (buf_addch(b, '"', e) || buf_add_json_str(b, s, strlen(s), e))
		return -1;
	return buf_addch(b, '"', e);
}

static int add_value(struct buf *b, const struct store_val *v, struct err *e)
{
	if (v->type == STORE_INT)
		return buf_addf(b, e, "{\"type\":\"integer\",\"value\":\"%lld\"}",
				v->i);
	if (v->type == STORE_NULL)
		return buf_addstr(b, "{\"type\":\"null\"}", e);
	if (buf_addstr(b, "{\"type\":\"text\",\"value\":", e) ||
	    add_str(b, v->s, e))
		return -1;
	return buf_addch(b, '}', e);
}

/* The step's condition on step prev: none, prev ok, or the rollback's. */
static int add_cond(struct buf *b, enum libsql_cond c, size_t prev,
		    struct err *e)
{
	if (c == LIBSQL_IF_OK)
		return buf_addf(b, e, ",\"condition\":{\"type\":\"ok\","
				"\"step\":%zu}", prev);
	if (c == LIBSQL_IF_FAILED)
		return buf_addf(b, e, ",\"condition\":{\"type\":\"and\","
				"\"conds\":[{\"type\":\"ok\",\"step\":0},"
				"{\"type\":\"not\",\"cond\":{\"type\":\"ok\","
				"\"step\":%zu}}]}", prev);
	return 0;
}

static int add_step(struct buf *b, const struct libsql_step *s, size_t i,
		    struct err *e)
{
	size_t k;

	if (buf_addstr(b, i ? ",{\"stmt\":{\"sql\":" : "{\"stmt\":{\"sql\":", e) ||
	    add_str(b, s->sql, e) ||
	    buf_addstr(b, ",\"args\":[", e))
		return -1;
	for (k = 0; k < s->nargs; k++)
		if ((k && buf_addch(b, ',', e)) || add_value(b, &s->args[k], e))
			return -1;
	if (buf_addstr(b, "]}", e) || add_cond(b, s->cond, i ? i - 1 : 0, e))
		return -1;
	return buf_addch(b, '}', e);
}

/* `{"baton":"…",` or `{` when there is no stream to go on with. */
static int add_head(struct buf *b, const char *baton, struct err *e)
{
	if (buf_addch(b, '{', e))
		return -1;
	if (!baton)
		return 0;
	if (buf_addstr(b, "\"baton\":", e) || add_str(b, baton, e))
		return -1;
	return buf_addch(b, ',', e);
}

int store_libsql_encode(struct buf *out, const char *baton,
			const struct libsql_step *steps, size_t n,
			struct err *e)
{
	size_t i;

	if (add_head(out, baton, e) ||
	    buf_addstr(out, "\"requests\":[{\"type\":\"batch\","
			    "\"batch\":{\"steps\":[", e))
		return -1;
	for (i = 0; i < n; i++)
		if (add_step(out, &steps[i], i, e))
			return -1;
	return buf_addstr(out, "]}}]}", e);
}

int store_libsql_encode_close(struct buf *out, const char *baton,
			      struct err *e)
{
	if (add_head(out, baton, e))
		return -1;
	return buf_addstr(out, "\"requests\":[{\"type\":\"close\"}]}", e);
}

/* ---- reply ---- */

static int bad_reply(struct err *e, const char *what)
{
	return err_set(e, ERR_UNAVAILABLE, "store: malformed reply from the "
		       "remote database: %s", what);
}

/* Message and code of a Hrana error object. */
static int hrana_error(const json_t *err, const char *what, struct err *e)
{
	const char *msg = json_string_value(json_object_get(err, "message"));
	const char *code = json_string_value(json_object_get(err, "code"));

	return err_set(e, store_libsql_code_kind(code), "store: %s: %s%s%s%s",
		       what, msg ? msg : "unknown error", code ? " (" : "",
		       code ? code : "", code ? ")" : "");
}

int store_libsql_decode(struct libsql_reply *r, const char *body,
			size_t len, size_t nsteps, struct err *e)
{
	json_t *res, *batch;

	memset(r, 0, sizeof(*r));
	r->root = json_loadb(body, len, 0, NULL);
	r->baton = json_string_value(json_object_get(r->root, "baton"));
	res = json_array_get(json_object_get(r->root, "results"), 0);
	if (!res)
		return bad_reply(e, "no result");
	if (json_is_string(json_object_get(res, "type")) &&
	    !strcmp(json_string_value(json_object_get(res, "type")), "error"))
		return hrana_error(json_object_get(res, "error"), "request", e);
	batch = json_object_get(json_object_get(json_object_get(res,
			"response"), "result"), "step_results");
	r->results = batch;
	r->errors = json_object_get(json_object_get(json_object_get(res,
			"response"), "result"), "step_errors");
	if (json_array_size(r->results) != nsteps ||
	    json_array_size(r->errors) != nsteps)
		return bad_reply(e, "wrong number of steps");
	r->nsteps = nsteps;
	return 0;
}

void store_libsql_reply_release(struct libsql_reply *r)
{
	json_decref(r->root);
	memset(r, 0, sizeof(*r));
}

int store_libsql_step_failed(const struct libsql_reply *r, size_t i,
			     const char *what, struct err *e)
{
	json_t *err = json_array_get(r->errors, i);

	if (json_is_object(err))
		return hrana_error(err, what, e);
	if (!json_is_object(json_array_get(r->results, i)))
		return err_set(e, ERR_INTERNAL, "store: %s: step %zu did not "
			       "run", what, i);
	return 0;
}

/* ---- values ---- */

static int b64_digit(unsigned char c)
{
	static const char set[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c ? strchr(set, c) : NULL;

	return p ? (int)(p - set) : -1;
}

int store_libsql_base64(struct buf *out, const char *s, struct err *e)
{
	unsigned acc = 0;
	int bits = 0, d;

	for (; *s && *s != '='; s++) {
		if ((d = b64_digit((unsigned char)*s)) < 0)
			return bad_reply(e, "bad base64 in a blob");
		acc = (acc << 6) | (unsigned)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (buf_addch(out, (char)((acc >> bits) & 0xff), e))
				return -1;
		}
	}
	return 0;
}

static int parse_int(const char *s, long long *out, struct err *e)
{
	char *end;

	errno = 0;
	*out = s ? strtoll(s, &end, 10) : 0;
	if (!s || !*s || *end || errno)
		return bad_reply(e, "bad integer value");
	return 0;
}

/* Truncated toward zero like sqlite3_column_int64; out of range refused. */
static int float_value(double d, struct store_val *out, struct err *e)
{
	if (!(d > -9223372036854775808.0 && d < 9223372036854775808.0))
		return bad_reply(e, "float value out of integer range");
	*out = STORE_VAL_INT((long long)d);
	return 0;
}

int store_libsql_value(const json_t *v, struct store_val *out,
		       struct buf *blob, struct err *e)
{
	const char *type = json_string_value(json_object_get(v, "type"));
	const json_t *val = json_object_get(v, "value");

	*out = STORE_VAL_NULL;
	if (!type)
		return bad_reply(e, "value without a type");
	if (!strcmp(type, "null"))
		return 0;
	if (!strcmp(type, "integer")) {
		out->type = STORE_INT;
		return parse_int(json_string_value(val), &out->i, e);
	}
	if (!strcmp(type, "float") && json_is_number(val))
		return float_value(json_number_value(val), out, e);
	if (!strcmp(type, "text") && json_is_string(val)) {
		*out = STORE_VAL_TEXT(json_string_value(val));
		return 0;
	}
	if (!strcmp(type, "blob") &&
	    json_is_string(json_object_get(v, "base64"))) {
		buf_reset(blob);
		if (store_libsql_base64(blob, json_string_value(
				json_object_get(v, "base64")), e))
			return -1;
		*out = STORE_VAL_TEXT(blob->data);
		return 0;
	}
	return bad_reply(e, "unknown value type");
}

static int deliver(const json_t *cells, size_t seq, store_row_fn fn,
		   void *arg, struct err *e)
{
	struct store_val cols[STORE_MAX_COLS];
	struct buf blobs[STORE_MAX_COLS];
	struct store_row row = { cols, json_array_size(cells), seq };
	size_t i;
	int rc = 0;

	if (!json_is_array(cells) || row.ncols > STORE_MAX_COLS)
		return bad_reply(e, "bad row");
	for (i = 0; i < row.ncols; i++)
		buf_init(&blobs[i], LIBSQL_MAX_REPLY);
	for (i = 0; i < row.ncols && !rc; i++)
		rc = store_libsql_value(json_array_get(cells, i), &cols[i],
					&blobs[i], e);
	if (!rc && fn)
		rc = fn(arg, &row, e);
	for (i = 0; i < row.ncols; i++)
		buf_release(&blobs[i]);
	return rc;
}

long long store_libsql_rows(const struct libsql_reply *r, size_t i,
			    store_row_fn fn, void *arg, size_t *seq,
			    struct err *e)
{
	const json_t *rows = json_object_get(json_array_get(r->results, i),
					     "rows");
	size_t k;

	if (!json_is_array(rows))
		return bad_reply(e, "step without rows");
	for (k = 0; k < json_array_size(rows); k++, (*seq)++)
		if (deliver(json_array_get(rows, k), *seq, fn, arg, e))
			return -1;
	return (long long)k;
}

/* ---- scripts ---- */

/* Length of the statement at sql, up to and without its ';'. */
static size_t stmt_len(const char *sql)
{
	const char *p = sql;
	char quote = 0;

	for (; *p && (quote || *p != ';'); p++) {
		if (quote && *p == quote)
			quote = 0;
		else if (!quote && (*p == '\'' || *p == '"'))
			quote = *p;
	}
	return (size_t)(p - sql);
}

void store_libsql_split(const char *sql, struct strvec *out)
{
	size_t len;

	while (*sql) {
		sql += strspn(sql, " \t\r\n");
		len = stmt_len(sql);
		if (len)
			strvec_pushf(out, "%.*s", (int)len, sql);
		sql += len;
		if (*sql == ';')
			sql++;
	}
}
