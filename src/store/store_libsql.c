/*
 * store_libsql.c - the remote libSQL backend of struct store_ops: the
 * libSQL remote protocol ("Hrana over HTTP", `POST /v2/pipeline`) over one
 * persistent libcurl handle per store.
 *
 * Every operation is ONE HTTP request holding one `batch` whose steps are
 * conditioned on the step before, so nothing waits on the network inside
 * a transaction. A server that keeps the stream (sqld answers with a
 * baton) gets the baton back on the next request, so one store uses one
 * server-side connection, and a close at store_close(); tursodb keeps
 * none (baton null). The steps:
 *
 *   batch:  BEGIN IMMEDIATE; stmt; [check]; ...; COMMIT; ROLLBACK
 *           each step runs only if the one before succeeded. After each
 *           STORE_GUARD statement a check step fails when it changed
 *           nothing (`json('')` raises "malformed JSON" when changes() is
 *           0), so COMMIT is skipped; ROLLBACK runs only when BEGIN ran
 *           and COMMIT did not (it fails harmlessly where the server has
 *           already ended the transaction, as tursodb does after some
 *           errors; its outcome is not read). The client
 *           reads the guard's RETURNING rows (the server reports
 *           affected_row_count 0 for them) to return 0 for a guard miss.
 *   query:  the one statement.
 *   script: its statements, each after the one before, then the same
 *           conditional ROLLBACK.
 *
 * HTTP errors: no answer, 5xx, 408 or 429 -> ERR_UNAVAILABLE (store_exec.c
 * retries); 401/403 -> ERR_INVALID naming the token; other 4xx ->
 * ERR_INVALID with the server's text. The token is sent as
 * `Authorization: Bearer` and never logged or put in an error message.
 *
 * A retry after a lost reply is not idempotent: if the server committed
 * the batch before the connection dropped, the retried guard misses and
 * the caller sees a version conflict for its own transition.
 *
 * Not here: the JSON (store_libsql_wire.c), retries (store_exec.c), SQL text
 * (store_schema.c).
 */
#include "fmacros.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "store_libsql_int.h"
#include "strvec.h"
#include "xalloc.h"
#include "banned.h"

#define CONNECT_TIMEOUT_MS 5000L
#define REQUEST_TIMEOUT_MS 30000L
#define ERROR_BODY_MAX 200 /* bytes of a server's error text we quote */

static const char begin_sql[] = "BEGIN IMMEDIATE";
static const char commit_sql[] = "COMMIT";
static const char rollback_sql[] = "ROLLBACK";
/* Fails (malformed JSON) when the statement before changed no row. */
static const char check_sql[] =
	"SELECT CASE WHEN changes() = 0 THEN json('') END";

struct libsql_store {
	CURL *curl;
	struct curl_slist *headers;
	char *endpoint; /* the pipeline URL, query string dropped */
	char *baton;    /* the stream the server keeps for us, or NULL */
	long status;    /* HTTP status of the last answer, 0 for none */
	struct buf body;
	char errbuf[CURL_ERROR_SIZE];
};

static struct libsql_store *impl(struct store *st)
{
	return st->impl;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct libsql_store *s = arg;

	return buf_add(&s->body, data, size * n, NULL) ? 0 : size * n;
}

/* The server's error text, shortened, for a message. */
static const char *body_text(struct libsql_store *s)
{
	if (s->body.len > ERROR_BODY_MAX)
		buf_truncate(&s->body, ERROR_BODY_MAX);
	return s->body.len ? s->body.data : "(no text)";
}

/* 5xx, 408 and 429 are worth another try; other statuses are not. */
static int http_status_fail(struct libsql_store *s, long status,
			    struct err *e)
{
	int again = status >= 500 || status == 408 || status == 429;

	if (status == 401 || status == 403)
		return err_set(e, ERR_INVALID, "store: '%s' refused the "
			       "credentials (HTTP %ld): check TURSO_AUTH_TOKEN: "
			       "%s", s->endpoint, status, body_text(s));
	return err_set(e, again ? ERR_UNAVAILABLE : ERR_INVALID,
		       "store: '%s' answered HTTP %ld: %s", s->endpoint,
		       status, body_text(s));
}

static int transfer_fail(struct libsql_store *s, CURLcode rc,
			 struct err *e)
{
	if (rc == CURLE_WRITE_ERROR)
		return err_set(e, ERR_INVALID, "store: reply from '%s' is "
			       "larger than %u bytes", s->endpoint,
			       LIBSQL_MAX_REPLY);
	return err_set(e, ERR_UNAVAILABLE, "store: cannot reach '%s': %s",
		       s->endpoint, s->errbuf[0] ? s->errbuf :
		       curl_easy_strerror(rc));
}

/* POST req; the reply body is left in s->body. */
static int post(struct libsql_store *s, const struct buf *req,
		struct err *e)
{
	CURLcode rc;

	buf_reset(&s->body);
	s->errbuf[0] = '\0';
	s->status = 0;
	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, req->data);
	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE, (long)req->len);
	rc = curl_easy_perform(s->curl);
	if (rc != CURLE_OK)
		return transfer_fail(s, rc, e);
	curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->status);
	if (s->status != 200)
		return http_status_fail(s, s->status, e);
	return 0;
}

/* Go on with the stream the server kept (sqld), or with none. */
static void keep_baton(struct libsql_store *s, const char *baton)
{
	free(s->baton);
	s->baton = baton ? xstrdup(baton) : NULL;
}

/* One request on the kept stream; a failure forgets the stream. */
static int send_once(struct libsql_store *s, const struct libsql_step *steps,
		     size_t n, struct libsql_reply *r, struct err *e)
{
	struct buf req = BUF_INIT;
	int rc;

	memset(r, 0, sizeof(*r));
	rc = store_libsql_encode(&req, s->baton, steps, n, e);
	if (!rc)
		rc = post(s, &req, e);
	buf_release(&req);
	if (!rc)
		rc = store_libsql_decode(r, s->body.data, s->body.len, n, e);
	keep_baton(s, rc ? NULL : r->baton);
	return rc;
}

/*
 * Send steps as one request and parse the reply into r (release it). A
 * kept stream that the server refuses at the HTTP level (expired,
 * unknown: nothing ran) is dropped and the request sent once more at
 * once on a new stream.
 */
static int send_steps(struct store *st, const struct libsql_step *steps,
		      size_t n, struct libsql_reply *r, struct err *e)
{
	struct libsql_store *s = impl(st);
	int kept = s->baton != NULL;
	int rc = send_once(s, steps, n, r, e);

	if (rc && kept && s->status >= 400) {
		store_libsql_reply_release(r);
		rc = send_once(s, steps, n, r, e);
	}
	return rc;
}

/* Tell the server it may drop the stream it keeps for us, if any. */
static void close_stream(struct libsql_store *s)
{
	struct buf req = BUF_INIT;

	if (s->baton && !store_libsql_encode_close(&req, s->baton, NULL))
		post(s, &req, NULL);
	buf_release(&req);
	keep_baton(s, NULL);
}

static struct libsql_step step(const char *sql, const struct store_stmt *q,
			       enum libsql_cond cond)
{
	struct libsql_step s = { sql, NULL, 0, cond };

	if (q) {
		s.args = q->args;
		s.nargs = q->nargs;
	}
	return s;
}

static int check_stmts(const struct store_stmt *stmts, size_t n,
		       struct err *e)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!store_sql_text(stmts[i].sql))
			return err_set(e, ERR_INTERNAL,
				       "store: bad statement %d",
				       (int)stmts[i].sql);
	return 0;
}

/*
 * The steps of a batch into steps (room for 2n + 3); *commit gets the
 * COMMIT step's index. Returns the number of steps.
 */
static size_t plan_batch(const struct store_stmt *stmts, size_t n,
			 struct libsql_step *steps, size_t *commit)
{
	size_t i, k = 0;

	steps[k++] = step(begin_sql, NULL, LIBSQL_ALWAYS);
	for (i = 0; i < n; i++) {
		steps[k++] = step(store_sql_text(stmts[i].sql), &stmts[i],
				  LIBSQL_IF_OK);
		if (stmts[i].flags & STORE_GUARD)
			steps[k++] = step(check_sql, NULL, LIBSQL_IF_OK);
	}
	*commit = k;
	steps[k++] = step(commit_sql, NULL, LIBSQL_IF_OK);
	steps[k++] = step(rollback_sql, NULL, LIBSQL_IF_FAILED);
	return k;
}

/*
 * Read a batch reply the way the embedded backend runs it: rows of each
 * statement in order, 0 at the first guard that returned none, -1 at the
 * first failed statement, else COMMIT's outcome.
 */
static int read_batch(const struct libsql_reply *r,
		      const struct store_stmt *stmts, size_t n,
		      size_t commit, store_row_fn fn, void *arg,
		      struct err *e)
{
	size_t i, k = 1, seq = 0;
	long long rows;

	if (store_libsql_step_failed(r, 0, "begin", e))
		return -1;
	for (i = 0; i < n; i++, k++) {
		if (store_libsql_step_failed(r, k, "statement", e) ||
		    (rows = store_libsql_rows(r, k, fn, arg, &seq, e)) < 0)
			return -1;
		if (!(stmts[i].flags & STORE_GUARD))
			continue;
		if (!rows)
			return 0;
		k++; /* its check step */
	}
	return store_libsql_step_failed(r, commit, "commit", e) ? -1 : 1;
}

static int ld_batch(struct store *st, const struct store_stmt *stmts,
		    size_t n, store_row_fn fn, void *arg, struct err *e)
{
	struct libsql_step *steps;
	struct libsql_reply r;
	size_t nsteps, commit;
	int rc = -1;

	if (check_stmts(stmts, n, e))
		return -1;
	steps = xcalloc(2 * n + 3, sizeof(*steps));
	nsteps = plan_batch(stmts, n, steps, &commit);
	if (!send_steps(st, steps, nsteps, &r, e))
		rc = read_batch(&r, stmts, n, commit, fn, arg, e);
	store_libsql_reply_release(&r);
	free(steps);
	return rc;
}

/* Send the one step s and hand its rows to fn. */
static int run_one(struct store *st, const struct libsql_step *s,
		   store_row_fn fn, void *arg, struct err *e)
{
	struct libsql_reply r;
	size_t seq = 0;
	int rc = -1;

	if (!send_steps(st, s, 1, &r, e) &&
	    !store_libsql_step_failed(&r, 0, "query", e) &&
	    store_libsql_rows(&r, 0, fn, arg, &seq, e) >= 0)
		rc = 0;
	store_libsql_reply_release(&r);
	return rc;
}

static int ld_query(struct store *st, const struct store_stmt *q,
		    store_row_fn fn, void *arg, struct err *e)
{
	struct libsql_step s;

	if (check_stmts(q, 1, e))
		return -1;
	s = step(store_sql_text(q->sql), q, LIBSQL_ALWAYS);
	return run_one(st, &s, fn, arg, e);
}

#ifdef SAFEURL_TEST
static int first_int(void *arg, const struct store_row *row, struct err *e)
{
	(void)e;
	if (!row->seq && row->ncols)
		*(long long *)arg = store_col_int(row, 0, -1);
	return 0;
}

int store_libsql_test_sql(struct store *st, const char *sql,
			  long long *first, struct err *e)
{
	struct libsql_step s = step(sql, NULL, LIBSQL_ALWAYS);

	*first = -1;
	return run_one(st, &s, first_int, first, e);
}
#endif

/* Each statement of the script after the one before; rollback if cut. */
static int ld_script(struct store *st, const char *sql, struct err *e)
{
	struct strvec parts = STRVEC_INIT;
	struct libsql_step *steps;
	struct libsql_reply r;
	size_t i;
	int rc;

	store_libsql_split(sql, &parts);
	if (!parts.nr)
		return 0;
	steps = xcalloc(parts.nr + 1, sizeof(*steps));
	for (i = 0; i < parts.nr; i++)
		steps[i] = step(parts.items[i], NULL,
				i ? LIBSQL_IF_OK : LIBSQL_ALWAYS);
	steps[i] = step(rollback_sql, NULL, LIBSQL_IF_FAILED);
	rc = send_steps(st, steps, parts.nr + 1, &r, e);
	for (i = 0; !rc && i < parts.nr; i++)
		rc = store_libsql_step_failed(&r, i, "script", e);
	store_libsql_reply_release(&r);
	free(steps);
	strvec_clear(&parts);
	return rc;
}

static void ld_close(struct store *st)
{
	struct libsql_store *s = impl(st);

	if (!s)
		return;
	close_stream(s);
	curl_easy_cleanup(s->curl);
	curl_slist_free_all(s->headers);
	buf_release(&s->body);
	free(s->endpoint);
	free(s);
	st->impl = NULL;
	curl_global_cleanup();
}

static struct curl_slist *make_headers(const char *token)
{
	struct curl_slist *h;
	struct buf auth = BUF_INIT;

	h = curl_slist_append(NULL, "Content-Type: application/json");
	/* no "Expect: 100-continue" wait before large bodies */
	h = curl_slist_append(h, "Expect:");
	if (token && *token) {
		buf_addf(&auth, NULL, "Authorization: Bearer %s", token);
		h = curl_slist_append(h, auth.data);
		buf_release(&auth);
	}
	return h;
}

static void set_options(struct libsql_store *s)
{
	CURL *c = s->curl;

	curl_easy_setopt(c, CURLOPT_URL, s->endpoint);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, s->headers);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, s->errbuf);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, REQUEST_TIMEOUT_MS);
}

/* No traffic here: the migration that store_open runs next is the probe. */
static int ld_open(struct store *st, const char *url, struct err *e)
{
	struct libsql_store *s;

	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		return err_set(e, ERR_INTERNAL, "store: cannot start libcurl");
	s = xcalloc(1, sizeof(*s));
	st->impl = s;
	buf_init(&s->body, LIBSQL_MAX_REPLY);
	s->endpoint = store_libsql_endpoint(url);
	s->headers = make_headers(st->auth_token);
	s->curl = curl_easy_init();
	if (!s->curl || !s->headers) {
		ld_close(st);
		return err_set(e, ERR_INTERNAL, "store: cannot set up libcurl");
	}
	set_options(s);
	return 0;
}

const struct store_ops store_libsql_ops = {
	.name = "libsql",
	.rowid_only = 1,
	.open = ld_open,
	.batch = ld_batch,
	.query = ld_query,
	.script = ld_script,
	.close = ld_close,
};
