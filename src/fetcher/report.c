/*
 * report.c - one JSON object per fetch: common fields, then the verdict
 * part that depends on the outcome (analysed, blocked or failed).
 */
#include "../fmacros.h"

#include <jansson.h>
#include <string.h>

#include "analyze.h"
#include "fetch.h"
#include "report.h"
#include "../banned.h"

static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

static json_t *reason(const char *code, const char *msg, int weight)
{
	return json_pack("{s:s, s:s, s:i}", "code", code, "message", msg,
			 "weight", weight);
}

static json_t *redirects(const struct fetch_result *r)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; i < r->nhops; i++)
		json_array_append_new(arr, json_pack("{s:s, s:i}", "url", r->hops[i].url,
						     "status", (int)r->hops[i].status));
	return arr;
}

static json_t *timings(const struct fetch_timings *t)
{
	return json_pack("{s:f, s:f, s:f, s:f, s:f}", "dnsMs", t->dns_ms,
			 "connectMs", t->connect_ms, "tlsMs", t->tls_ms,
			 "firstByteMs", t->first_byte_ms, "totalMs", t->total_ms);
}

static json_t *tls(const struct fetch_tls *t)
{
	if (!t->version[0])
		return json_null();
	return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o}", "version", t->version,
			 "cipher", t->cipher, "subject", str_or_null(t->subject),
			 "issuer", str_or_null(t->issuer),
			 "notBefore", str_or_null(t->not_before),
			 "notAfter", str_or_null(t->not_after));
}

static json_t *headers(const struct fetch_result *r)
{
	json_t *obj = json_object();
	size_t i;
	const char *line, *colon;

	for (i = 0; i < r->headers.nr; i++) {
		line = r->headers.items[i];
		colon = strchr(line, ':');
		if (colon) {
			char name[64];

			snprintf(name, sizeof(name), "%.*s", (int)(colon - line), line);
			json_object_set_new(obj, name, json_string(colon + 2));
		}
	}
	return obj;
}

static json_t *facts(const struct analysis *a)
{
	return json_pack("{s:s, s:o, s:s, s:o, s:o, s:i, s:i, s:i, s:i, s:i, s:i}",
			 "host", a->host, "registrableDomain", str_or_null(a->registrable),
			 "sniffedType", a->sniffed, "sniffedName", str_or_null(a->sniffed_name),
			 "title", str_or_null(a->html.title), "forms", a->html.forms,
			 "passwordFields", a->html.password_fields,
			 "iframes", a->html.iframes, "hiddenIframes", a->html.hidden_iframes,
			 "scripts", a->html.scripts, "inlineScripts", a->html.inline_scripts);
}

static void analysed(json_t *doc, const struct fetch_result *r,
		     const struct analysis *a)
{
	json_t *rs = json_array();
	char msg[400];
	size_t i;

	for (i = 0; i < a->nreasons; i++) {
		snprintf(msg, sizeof(msg), a->reasons[i].detail[0] ? "%s (%s)" : "%s",
			 a->reasons[i].rule->sentence, a->reasons[i].detail);
		json_array_append_new(rs, reason(a->reasons[i].rule->code, msg,
						 a->reasons[i].rule->weight));
	}
	json_object_set_new(doc, "verdict", json_string(a->verdict));
	json_object_set_new(doc, "riskScore", json_integer(a->score));
	json_object_set_new(doc, "reasons", rs);
	json_object_set_new(doc, "contentLength", json_integer((json_int_t)r->body.len));
	json_object_set_new(doc, "sha256", json_string(a->sha256));
	json_object_set_new(doc, "facts", facts(a));
}

static void refused(json_t *doc, const struct fetch_result *r)
{
	json_t *rs = json_array();

	json_array_append_new(rs, reason(r->code, r->msg, 100));
	json_object_set_new(doc, "verdict", json_string("blocked"));
	json_object_set_new(doc, "riskScore", json_integer(100));
	json_object_set_new(doc, "reasons", rs);
}

static void failed(json_t *doc, const char *code, const char *msg, int retryable)
{
	json_object_set_new(doc, "verdict", json_string("error"));
	json_object_set_new(doc, "riskScore", json_integer(0));
	json_object_set_new(doc, "reasons", json_array());
	json_object_set_new(doc, "error",
			    json_pack("{s:s, s:s, s:b}", "code", code, "message", msg,
				      "retryable", retryable));
}

static json_t *common(const char *input_url, const struct fetch_result *r)
{
	const char *ct = fetch_header(r, "content-type");

	return json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:s}",
			 "url", input_url, "finalUrl", str_or_null(r->final_url),
			 "redirects", redirects(r),
			 "httpStatus", r->http_status ? json_integer(r->http_status) : json_null(),
			 "contentType", str_or_null(ct), "contentLength", json_null(),
			 "sha256", json_null(), "timings", timings(&r->t),
			 "tls", tls(&r->tls), "headers", headers(r),
			 "primaryIp", str_or_null(r->primary_ip),
			 "fetcherVersion", SAFEURL_VERSION);
}

static int emit(FILE *out, json_t *doc)
{
	int rc = doc ? json_dumpf(doc, out, JSON_COMPACT | JSON_REAL_PRECISION(6)) : -1;

	if (!rc && (fputc('\n', out) == EOF || fflush(out)))
		rc = -1;
	json_decref(doc);
	return rc ? -1 : 0;
}

int report_write(FILE *out, const char *input_url,
		 const struct fetch_result *r, const struct analysis *a)
{
	json_t *doc = json_object(), *rest = common(input_url, r);

	if (!doc || !rest || json_object_set_new(doc, "ok", json_boolean(r->outcome != FETCH_FAILED)) ||
	    json_object_update(doc, rest)) {
		json_decref(doc);
		json_decref(rest);
		return -1;
	}
	json_decref(rest);
	if (r->outcome == FETCH_DONE)
		analysed(doc, r, a);
	else if (r->outcome == FETCH_BLOCKED)
		refused(doc, r);
	else
		failed(doc, r->code, r->msg, r->retryable);
	return emit(out, doc);
}

int report_write_internal(FILE *out, const char *input_url, const char *msg)
{
	struct fetch_result r;

	memset(&r, 0, sizeof(r));
	r.outcome = FETCH_FAILED;
	r.code = "INTERNAL_ERROR";
	snprintf(r.msg, sizeof(r.msg), "%s", msg);
	return report_write(out, input_url, &r, NULL);
}
