/* scan_output.c - validate a fetcher document against its schema. */
#include "fmacros.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "scan_output.h"
#include "xalloc.h"
#include "banned.h"

#define URL_MAX 8192
#define TEXT_MAX 4096

static const char *const verdicts[] = { "safe", "suspicious", "malicious",
					"blocked", "error", NULL };

void scan_output_init(struct scan_output *out)
{
	memset(out, 0, sizeof(*out));
	out->content_length = -1;
}

void scan_output_release(struct scan_output *out)
{
	free(out->verdict);
	free(out->final_url);
	free(out->content_type);
	free(out->sha256);
	free(out->error_code);
	free(out->error_message);
	free(out->json);
	scan_output_init(out);
}

static int bad(struct err *e, const char *field, const char *what)
{
	return err_set(e, ERR_INVALID, "fetcher output: '%s' %s", field, what);
}

/* Optional string of at most max bytes: NULL/absent gives *dst = NULL. */
static int get_str(json_t *doc, const char *field, size_t max, int required,
		   char **dst, struct err *e)
{
	json_t *v = json_object_get(doc, field);

	if (!v || json_is_null(v))
		return required ? bad(e, field, "is missing") : 0;
	if (!json_is_string(v))
		return bad(e, field, "is not a string");
	if (json_string_length(v) > max || memchr(json_string_value(v), '\0',
						  json_string_length(v)))
		return bad(e, field, "is too long or has a NUL byte");
	*dst = xstrdup(json_string_value(v));
	return 0;
}

/* Optional integer in [min, max]: absent/null leaves *dst alone. */
static int get_int(json_t *doc, const char *field, long long min,
		   long long max, long long *dst, struct err *e)
{
	json_t *v = json_object_get(doc, field);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return bad(e, field, "is not an integer");
	if (json_integer_value(v) < min || json_integer_value(v) > max)
		return bad(e, field, "is out of range");
	*dst = json_integer_value(v);
	return 0;
}

static int one_of(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (!strcmp(s, *words))
			return 1;
	return 0;
}

static int all_chars(const char *s, const char *set)
{
	for (; *s; s++)
		if (!strchr(set, *s))
			return 0;
	return 1;
}

static int check_reasons(json_t *doc, struct err *e)
{
	json_t *rs = json_object_get(doc, "reasons"), *r;
	size_t i;

	if (!json_is_array(rs))
		return bad(e, "reasons", "is not an array");
	if (json_array_size(rs) > 256)
		return bad(e, "reasons", "has too many entries");
	json_array_foreach(rs, i, r) {
		if (!json_is_object(r) ||
		    !json_is_string(json_object_get(r, "code")) ||
		    !json_is_string(json_object_get(r, "message")))
			return bad(e, "reasons", "has an entry without code and message");
	}
	return 0;
}

static int parse_error(json_t *doc, struct scan_output *out, struct err *e)
{
	json_t *err = json_object_get(doc, "error"), *retry;

	if (!json_is_object(err))
		return bad(e, "error", "is missing although ok is false");
	if (get_str(err, "code", 64, 1, &out->error_code, e) ||
	    get_str(err, "message", TEXT_MAX, 1, &out->error_message, e))
		return err_prefix(e, "error");
	if (!*out->error_code ||
	    !all_chars(out->error_code, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"))
		return bad(e, "error.code", "is not an upper-case code");
	retry = json_object_get(err, "retryable");
	if (!json_is_boolean(retry))
		return bad(e, "error.retryable", "is not a boolean");
	out->retryable = json_is_true(retry);
	return 0;
}

static int parse_fields(json_t *doc, struct scan_output *out, struct err *e)
{
	json_t *ok = json_object_get(doc, "ok");
	long long score = -1, status = 0;
	char *url = NULL;
	int rc;

	if (!json_is_boolean(ok))
		return bad(e, "ok", "is not a boolean");
	out->ok = json_is_true(ok);
	rc = get_str(doc, "url", URL_MAX, 1, &url, e);
	free(url);
	if (rc || get_str(doc, "verdict", 16, 1, &out->verdict, e))
		return -1;
	if (!one_of(out->verdict, verdicts))
		return bad(e, "verdict", "is not safe, suspicious, malicious, blocked or error");
	if (get_int(doc, "riskScore", 0, 100, &score, e))
		return -1;
	if (score < 0)
		return bad(e, "riskScore", "is missing");
	out->risk_score = (int)score;
	if (get_int(doc, "httpStatus", 100, 599, &status, e) ||
	    get_int(doc, "contentLength", 0, (long long)1 << 50,
		    &out->content_length, e) ||
	    get_str(doc, "finalUrl", URL_MAX, 0, &out->final_url, e) ||
	    get_str(doc, "contentType", 256, 0, &out->content_type, e) ||
	    get_str(doc, "sha256", 64, 0, &out->sha256, e) ||
	    check_reasons(doc, e))
		return -1;
	out->http_status = (int)status;
	if (out->sha256 && (strlen(out->sha256) != 64 ||
			    !all_chars(out->sha256, "0123456789abcdef")))
		return bad(e, "sha256", "is not 64 lower-case hex digits");
	if (!json_is_array(json_object_get(doc, "redirects")))
		return bad(e, "redirects", "is not an array");
	return out->ok ? 0 : parse_error(doc, out, e);
}

int scan_output_parse(const char *text, size_t len, struct scan_output *out,
		      struct err *e)
{
	json_error_t jerr;
	json_t *doc;
	int rc;

	scan_output_init(out);
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc)
		return err_set(e, ERR_INVALID,
			       "fetcher output is not JSON: %s at byte %d",
			       jerr.text, jerr.position);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return err_set(e, ERR_INVALID,
			       "fetcher output is not a JSON object");
	}
	rc = parse_fields(doc, out, e);
	if (!rc)
		out->json = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	if (rc || !out->json) {
		scan_output_release(out);
		return rc ? -1 : err_set(e, ERR_INTERNAL, "cannot encode output");
	}
	return 0;
}
