/*
 * cli_report.c - the text an operator reads: one scan's report, its row as
 * JSON, progress lines and the summary table (see cli_report.h).
 *
 * The report reads the fetcher's document as docs/fetcher-output.schema.json
 * describes it and shows what is there; a field that is missing or of
 * another type shows as "-", never as an error, so that documents stored
 * by older or newer fetchers still render.
 */
#include "fmacros.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "cli_report.h"
#include "err.h"
#include "banned.h"

#define KEY_WIDTH 10
#define PAGE_WIDTH 44

/* ---- small helpers ---- */

static const char *str_field(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int int_field(const json_t *obj, const char *key, long long *out)
{
	const json_t *v = json_object_get(obj, key);

	if (!json_is_integer(v))
		return -1;
	*out = (long long)json_integer_value(v);
	return 0;
}

static void key_line(struct buf *out, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void key_line(struct buf *out, const char *key, const char *fmt, ...)
{
	va_list ap;

	buf_addf(out, NULL, "%-*s ", KEY_WIDTH, key);
	va_start(ap, fmt);
	buf_vaddf(out, NULL, fmt, ap);
	va_end(ap);
	buf_addch(out, '\n', NULL);
}

static void iso_time(long long ms, char *out, size_t n)
{
	struct tm tm;
	time_t secs = (time_t)(ms / 1000);
	char when[32];

	if (ms <= 0 || !gmtime_r(&secs, &tm) ||
	    !strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm)) {
		snprintf(out, n, "-");
		return;
	}
	snprintf(out, n, "%s.%03lldZ", when, ms % 1000);
}

/* Drop the spaces at the end of out. */
static void trim_end(struct buf *out)
{
	size_t len = out->len;

	while (len && out->data[len - 1] == ' ')
		len--;
	buf_truncate(out, len);
}

/* Append s padded with spaces (or cut) to exactly width bytes. */
static void add_cell(struct buf *out, const char *s, size_t width)
{
	size_t len = strlen(s);

	if (len > width)
		len = width;
	buf_add(out, s, len, NULL);
	for (; len < width; len++)
		buf_addch(out, ' ', NULL);
}

/* ---- reasons ---- */

size_t cli_report_evidence(const char *message, const char **evidence,
			   size_t *evlen)
{
	size_t len = strlen(message), i;
	int depth = 0;

	*evidence = NULL;
	*evlen = 0;
	if (len < 4 || message[len - 1] != ')')
		return len;
	for (i = len; i-- > 0;) {
		if (message[i] == ')')
			depth++;
		else if (message[i] == '(' && --depth == 0)
			break;
	}
	if (depth != 0 || i < 2 || message[i - 1] != ' ')
		return len;
	*evidence = message + i + 1;
	*evlen = len - i - 2;
	return i - 1;
}

/*
 * A reason's parts: its code, its message cut before the evidence, and
 * the evidence (an "evidence" member wins over the message's parenthesis;
 * then the message stays whole). Absent strings are "-".
 */
struct reason_parts {
	const char *code, *msg, *ev;
	size_t mlen, elen;
};

static void reason_parts(const json_t *r, struct reason_parts *p)
{
	const char *ev = str_field(r, "evidence");

	p->code = str_field(r, "code");
	if (!p->code)
		p->code = "-";
	p->msg = str_field(r, "message");
	if (!p->msg)
		p->msg = "-";
	p->mlen = cli_report_evidence(p->msg, &p->ev, &p->elen);
	if (ev) {
		p->ev = ev;
		p->elen = strlen(ev);
		p->mlen = strlen(p->msg);
	}
	if (!p->ev || !p->elen) {
		p->ev = "-";
		p->elen = 1;
	}
}

/* One row per reason: code, weight, message, evidence. */
static void add_reasons(struct buf *out, const json_t *reasons)
{
	size_t i, n = json_array_size(reasons), wcode = 4, wmsg = 7;
	struct reason_parts p;
	long long weight;
	const json_t *r;

	buf_addf(out, NULL, "\nreasons (%zu)\n", n);
	if (!n) {
		buf_addstr(out, "  none\n", NULL);
		return;
	}
	json_array_foreach(reasons, i, r) {
		reason_parts(r, &p);
		if (strlen(p.code) > wcode)
			wcode = strlen(p.code);
		if (p.mlen > wmsg)
			wmsg = p.mlen;
	}
	buf_addf(out, NULL, "  %-*s %6s  %-*s  %s\n", (int)wcode, "CODE",
		 "WEIGHT", (int)wmsg, "MESSAGE", "EVIDENCE");
	json_array_foreach(reasons, i, r) {
		reason_parts(r, &p);
		buf_addf(out, NULL, "  %-*s ", (int)wcode, p.code);
		if (!int_field(r, "weight", &weight))
			buf_addf(out, NULL, "%6lld  ", weight);
		else
			buf_addf(out, NULL, "%6s  ", "-");
		buf_addf(out, NULL, "%-*.*s  %.*s\n", (int)wmsg, (int)p.mlen,
			 p.msg, (int)p.elen, p.ev);
	}
}

/* ---- redirects ---- */

/*
 * Each hop is a URL that answered with a redirect, in order; the final
 * URL and its status close the chain.
 */
static void add_redirects(struct buf *out, const json_t *doc)
{
	const json_t *hops = json_object_get(doc, "redirects"), *h;
	const char *final = str_field(doc, "finalUrl"), *url;
	long long status;
	size_t i, n = json_array_size(hops);

	buf_addf(out, NULL, "\nredirects (%zu)\n", n);
	if (!n) {
		buf_addstr(out, "  none\n", NULL);
		return;
	}
	buf_addstr(out, "  HOP  STATUS  URL\n", NULL);
	json_array_foreach(hops, i, h) {
		url = str_field(h, "url");
		buf_addf(out, NULL, "  %3zu  ", i + 1);
		if (!int_field(h, "status", &status))
			buf_addf(out, NULL, "%6lld  ", status);
		else
			buf_addf(out, NULL, "%6s  ", "-");
		buf_addf(out, NULL, "%s\n", url ? url : "-");
	}
	buf_addstr(out, "  end  ", NULL);
	if (!int_field(doc, "httpStatus", &status))
		buf_addf(out, NULL, "%6lld  ", status);
	else
		buf_addf(out, NULL, "%6s  ", "-");
	buf_addf(out, NULL, "%s\n", final ? final : "-");
}

/* ---- the document's other parts ---- */

static void add_timings(struct buf *out, const json_t *t)
{
	static const struct {
		const char *key, *label;
	} parts[] = {
		{ "dnsMs", "dns" },
		{ "connectMs", "connect" },
		{ "tlsMs", "tls" },
		{ "firstByteMs", "first byte" },
		{ "totalMs", "total" },
	};
	const json_t *v;
	size_t i;
	int any = 0;

	buf_addf(out, NULL, "%-*s", KEY_WIDTH, "timings");
	for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		v = json_object_get(t, parts[i].key);
		if (!json_is_number(v))
			continue;
		buf_addf(out, NULL, "%s %s %.1f ms", any ? "," : "",
			 parts[i].label, json_number_value(v));
		any = 1;
	}
	buf_addstr(out, any ? "\n" : " -\n", NULL);
}

static void add_tls(struct buf *out, const json_t *doc)
{
	const json_t *t = json_object_get(doc, "tls");
	const char *v, *c, *s, *i, *nb, *na;

	if (!json_is_object(t)) {
		key_line(out, "tls", "none");
		return;
	}
	v = str_field(t, "version");
	c = str_field(t, "cipher");
	s = str_field(t, "subject");
	i = str_field(t, "issuer");
	nb = str_field(t, "notBefore");
	na = str_field(t, "notAfter");
	key_line(out, "tls", "%s %s", v ? v : "-", c ? c : "-");
	if (s || i)
		key_line(out, "", "subject %s, issuer %s", s ? s : "-",
			 i ? i : "-");
	if (nb || na)
		key_line(out, "", "valid from %s to %s", nb ? nb : "-",
			 na ? na : "-");
}

static void add_content(struct buf *out, const json_t *doc)
{
	const char *ct = str_field(doc, "contentType");
	const char *sha = str_field(doc, "sha256");
	long long status, len;
	const json_t *facts = json_object_get(doc, "facts");
	const char *sniffed = str_field(facts, "sniffedType");

	if (!int_field(doc, "httpStatus", &status))
		key_line(out, "http", "%lld", status);
	else
		key_line(out, "http", "-");
	buf_addf(out, NULL, "%-*s %s", KEY_WIDTH, "content", ct ? ct : "-");
	if (!int_field(doc, "contentLength", &len))
		buf_addf(out, NULL, ", %lld byte%s", len, len == 1 ? "" : "s");
	if (sniffed)
		buf_addf(out, NULL, " (looks like %s)", sniffed);
	buf_addch(out, '\n', NULL);
	if (sha)
		key_line(out, "sha256", "%s", sha);
}

static void add_document(struct buf *out, const json_t *doc)
{
	const char *verdict = str_field(doc, "verdict");
	const char *final = str_field(doc, "finalUrl");
	const char *ip = str_field(doc, "primaryIp");
	const char *version = str_field(doc, "fetcherVersion");
	const json_t *error = json_object_get(doc, "error");
	long long score;

	if (int_field(doc, "riskScore", &score))
		key_line(out, "verdict", "%s", verdict ? verdict : "-");
	else
		key_line(out, "verdict", "%s, risk %lld/100",
			 verdict ? verdict : "-", score);
	if (json_is_object(error)) {
		const char *code = str_field(error, "code");
		const char *msg = str_field(error, "message");

		key_line(out, "error", "%s: %s%s", code ? code : "-",
			 msg ? msg : "-",
			 json_is_true(json_object_get(error, "retryable")) ?
			 " (retryable)" : "");
	}
	key_line(out, "final url", "%s", final ? final : "-");
	add_content(out, doc);
	key_line(out, "address", "%s", ip ? ip : "-");
	add_tls(out, doc);
	add_timings(out, json_object_get(doc, "timings"));
	if (version)
		key_line(out, "fetcher", "%s", version);
	add_redirects(out, doc);
	add_reasons(out, json_object_get(doc, "reasons"));
}

int cli_report_text(const struct state_job *job, const char *result_json,
		    struct buf *out, struct err *e)
{
	json_error_t jerr;
	json_t *doc;
	char when[40];

	if (job) {
		key_line(out, "scan", "%s", job->id);
		key_line(out, "url", "%s", job->url);
		key_line(out, "state", "%s (attempts %d)",
			 state_name(job->state), job->attempts);
		iso_time(job->updated_at, when, sizeof(when));
		key_line(out, "updated", "%s", when);
		if (job->error_code)
			key_line(out, "error", "%s: %s", job->error_code,
				 job->error_message ? job->error_message : "");
	}
	if (!result_json) {
		key_line(out, "result", "none stored");
		return 0;
	}
	doc = json_loads(result_json, 0, &jerr);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return err_set(e, ERR_INVALID, "report: stored result of "
			       "'%s' is not a JSON object: %s",
			       job ? job->id : "?", jerr.text);
	}
	add_document(out, doc);
	json_decref(doc);
	return 0;
}

/* ---- status as JSON ---- */

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *ms_or_null(long long ms)
{
	return ms ? json_integer((json_int_t)ms) : json_null();
}

void cli_report_status_json(const struct state_job *job, struct buf *out)
{
	json_t *o = json_object();
	char *text;

	json_object_set_new(o, "id", str_or_null(job->id));
	json_object_set_new(o, "url", str_or_null(job->url));
	json_object_set_new(o, "state", json_string(state_name(job->state)));
	json_object_set_new(o, "version", json_integer((json_int_t)job->version));
	json_object_set_new(o, "attempts", json_integer(job->attempts));
	json_object_set_new(o, "workerId", str_or_null(job->worker_id));
	json_object_set_new(o, "leaseExpiresAt", ms_or_null(job->lease_expires_at));
	json_object_set_new(o, "createdAt", ms_or_null(job->created_at));
	json_object_set_new(o, "updatedAt", ms_or_null(job->updated_at));
	json_object_set_new(o, "errorCode", str_or_null(job->error_code));
	json_object_set_new(o, "errorMessage", str_or_null(job->error_message));
	text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	buf_addstr(out, text ? text : "{}", NULL);
	buf_addch(out, '\n', NULL);
	free(text);
	json_decref(o);
}

/* ---- progress and summary ---- */

static int terminal(enum state s)
{
	return s == STATE_COMPLETED || s == STATE_FAILED || s == STATE_TIMED_OUT;
}

void cli_report_progress(const struct cli_scan *s, long long now_ms,
			 size_t width, struct buf *out)
{
	size_t start = out->len;
	char detail[64];
	long long end = s->ended_ms ? s->ended_ms : now_ms;
	long long tenths = (end - s->started_ms) / 100;

	if (tenths < 0)
		tenths = 0;
	if (s->state == STATE_COMPLETED && s->verdict)
		snprintf(detail, sizeof(detail), "%s %d", s->verdict, s->risk);
	else if (terminal(s->state) && s->error_code)
		snprintf(detail, sizeof(detail), "%s", s->error_code);
	else
		snprintf(detail, sizeof(detail), "%lld.%llds", tenths / 10,
			 tenths % 10);
	buf_addf(out, NULL, "%s  %-10s %-15s %s", s->id, state_name(s->state),
		 detail, s->url);
	if (width && out->len - start > width)
		buf_truncate(out, start + width);
}

/* Length of "scheme://authority" at the start of url, 0 when none. */
static size_t origin_len(const char *url)
{
	const char *p = strstr(url, "://");

	if (!p)
		return 0;
	p += 3;
	return (size_t)(p - url) + strcspn(p, "/?#");
}

void cli_report_summary(const struct cli_scan *scans, size_t n,
			struct buf *out)
{
	size_t i, olen = n ? origin_len(scans[0].url) : 0, width = 4;
	const char *page;
	char risk[16];

	for (i = 0; i < n && olen; i++)
		if (origin_len(scans[i].url) != olen ||
		    strncmp(scans[i].url, scans[0].url, olen))
			olen = 0;
	if (olen)
		buf_addf(out, NULL, "scans of %.*s\n", (int)olen, scans[0].url);
	for (i = 0; i < n; i++) {
		page = scans[i].url + olen;
		if (strlen(page) > width)
			width = strlen(page);
	}
	if (width > PAGE_WIDTH)
		width = PAGE_WIDTH;
	add_cell(out, "PAGE", width);
	buf_addf(out, NULL, " %-10s %-11s %5s  %s\n", "STATE", "VERDICT",
		 "RISK", "ERROR");
	for (i = 0; i < n; i++) {
		page = scans[i].url + olen;
		add_cell(out, *page ? page : "/", width);
		if (scans[i].risk >= 0)
			snprintf(risk, sizeof(risk), "%d", scans[i].risk);
		else
			snprintf(risk, sizeof(risk), "-");
		buf_addf(out, NULL, " %-10s %-11s %5s  %s",
			 state_name(scans[i].state),
			 scans[i].verdict ? scans[i].verdict : "-", risk,
			 scans[i].error_code ? scans[i].error_code : "");
		trim_end(out);
		buf_addch(out, '\n', NULL);
	}
}

int cli_report_verdict_rank(const char *verdict)
{
	static const struct {
		const char *name;
		int rank;
	} ranks[] = {
		{ "safe", 0 },
		{ "suspicious", 1 },
		{ "malicious", 2 },
		{ "blocked", 2 },
	};
	size_t i;

	for (i = 0; verdict && i < sizeof(ranks) / sizeof(ranks[0]); i++)
		if (!strcmp(verdict, ranks[i].name))
			return ranks[i].rank;
	return -1;
}
