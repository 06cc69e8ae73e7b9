/*
 * runtime_http.c - HTTP exchanges with the engine over its unix socket.
 *
 * Each request gets its own curl easy handle, so any number of threads can
 * talk to the engine at once with nothing shared. Short requests block in
 * rt_call(); the long ones of a run (attach, wait, start) share one curl
 * multi handle that rt_drive() runs until a condition, a deadline or a
 * cancel flag. Error replies become classified errors here.
 */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "runtime_int.h"
#include "runtime_stream.h"
#include "xalloc.h"
#include "banned.h"

#define RT_TICK_MS 50           /* how often a run looks at cancel flags */
#define RT_CONNECT_TIMEOUT_MS 5000

double rt_now_ms(void)
{
	return (double)clock_mono_us() / 1e3;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct rt_req *r = arg;

	if (r->stream) {
		if (runtime_stream_feed(r->stream, p, size * n, &r->werr) < 0)
			return 0;
		return size * n;
	}
	if (buf_add(&r->reply, p, size * n, &r->werr) < 0)
		return 0;
	return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct rt_req *r = arg;

	if (n == 2 && p[0] == '\r' && p[1] == '\n') {
		curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &r->status);
		r->headers_done = 1;
	}
	return size * n;
}

#ifdef SAFEURL_TEST
static atomic_int test_fail_at; /* requests to go before the failing one */

void runtime_test_fail_request(int n)
{
	atomic_store(&test_fail_at, n);
}

/* The socket to use: a dead one for the armed request. */
static const char *test_socket(const char *socket_path)
{
	int left = atomic_load(&test_fail_at);

	while (left > 0 && !atomic_compare_exchange_weak(&test_fail_at, &left,
							 left - 1))
		;
	return left == 1 ? "/nonexistent/safeurl-test-fault.sock" : socket_path;
}
#else
#define test_socket(path) (path)
#endif

void rt_req_init(struct rt_req *r, const struct runtime *rt,
		 const char *method, const char *path, const char *payload)
{
	char url[1024];

	memset(r, 0, sizeof(*r));
	buf_init(&r->reply, RT_REPLY_MAX);
	r->h = curl_easy_init();
	if (!r->h) {
		log_error("runtime: out of memory creating a curl handle");
		abort();
	}
	snprintf(url, sizeof(url), "http://docker%s%s", rt->prefix, path);
	r->payload = xstrdup(payload ? payload : "");
	r->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	r->hdrs = curl_slist_append(r->hdrs, "Expect:");
	curl_easy_setopt(r->h, CURLOPT_URL, url);
	curl_easy_setopt(r->h, CURLOPT_UNIX_SOCKET_PATH,
			 test_socket(rt->socket_path));
	curl_easy_setopt(r->h, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "GET") && strcmp(method, "DELETE"))
		curl_easy_setopt(r->h, CURLOPT_POSTFIELDS, r->payload);
	curl_easy_setopt(r->h, CURLOPT_HTTPHEADER, r->hdrs);
	curl_easy_setopt(r->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(r->h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(r->h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(r->h, CURLOPT_PRIVATE, r);
	curl_easy_setopt(r->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->h, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)RT_CONNECT_TIMEOUT_MS);
}

void rt_req_release(struct rt_req *r)
{
	if (r->h)
		curl_easy_cleanup(r->h);
	curl_slist_free_all(r->hdrs);
	free(r->payload);
	buf_release(&r->reply);
	memset(r, 0, sizeof(*r));
}

int rt_transport_error(const struct runtime *rt, const struct rt_req *r,
		       const char *what, struct err *e)
{
	if (r->werr.kind != ERR_NONE) {
		*e = r->werr;
		return err_prefix(e, what);
	}
	if (r->rc == CURLE_OPERATION_TIMEDOUT)
		return err_set(e, ERR_UNAVAILABLE,
			       "runtime: %s: engine at '%s' did not answer "
			       "within %d ms (ENGINE_TIMEOUT_MS)", what,
			       rt->socket_path, rt->request_timeout_ms);
	return err_set(e, ERR_UNAVAILABLE,
		       "runtime: %s: engine at '%s' unreachable: %s", what,
		       rt->socket_path, curl_easy_strerror(r->rc));
}

int rt_call(const struct runtime *rt, const char *method, const char *path,
	    const char *payload, struct buf *reply, long *status,
	    struct err *e)
{
	struct rt_req r;
	int rc = 0;

	rt_req_init(&r, rt, method, path, payload);
	curl_easy_setopt(r.h, CURLOPT_TIMEOUT_MS, (long)rt->request_timeout_ms);
	r.rc = curl_easy_perform(r.h);
	if (r.rc != CURLE_OK) {
		rc = rt_transport_error(rt, &r, path, e);
	} else {
		curl_easy_getinfo(r.h, CURLINFO_RESPONSE_CODE, status);
		buf_add(reply, r.reply.data, r.reply.len, NULL);
	}
	rt_req_release(&r);
	return rc;
}

static const struct {
	long lo, hi;
	enum err_kind kind;
} status_kinds[] = {
	{ 400, 400, ERR_INTERNAL },   /* we sent a bad request: a bug */
	{ 404, 404, ERR_NOT_FOUND },
	{ 409, 409, ERR_CONFLICT },
	{ 500, 599, ERR_UNAVAILABLE },
};

int rt_engine_error(long status, const struct buf *reply, const char *what,
		    struct err *e)
{
	enum err_kind kind = ERR_UNAVAILABLE;
	char msg[200];
	size_t i;

	for (i = 0; i < sizeof(status_kinds) / sizeof(status_kinds[0]); i++)
		if (status >= status_kinds[i].lo && status <= status_kinds[i].hi)
			kind = status_kinds[i].kind;
	runtime_json_message(reply->data, reply->len, msg, sizeof(msg));
	return err_set(e, kind, "runtime: %s: engine answered %ld: %s", what,
		       status, msg[0] ? msg : "(no message)");
}

/* Mark the transfers that finished with their outcome. */
static void collect(CURLM *multi)
{
	struct rt_req *r;
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		r->rc = msg->data.result;
		r->done = 1;
		curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &r->status);
	}
}

static int cancelled(const atomic_int *a, const atomic_int *b)
{
	return (a && atomic_load(a)) || (b && atomic_load(b));
}

int rt_drive(CURLM *multi, int (*met)(void *), void *arg, double deadline_ms,
	     const atomic_int *cancel1, const atomic_int *cancel2,
	     struct err *e)
{
	int running, wait_ms;
	double now;
	CURLMcode mc;

	for (;;) {
		mc = curl_multi_perform(multi, &running);
		if (mc != CURLM_OK)
			return err_set(e, ERR_INTERNAL, "runtime: curl: %s",
				       curl_multi_strerror(mc));
		collect(multi);
		if (met(arg))
			return RT_MET;
		if (cancelled(cancel1, cancel2))
			return RT_CANCELLED;
		now = rt_now_ms();
		if (deadline_ms > 0 && now >= deadline_ms)
			return RT_DEADLINE;
		wait_ms = RT_TICK_MS;
		if (deadline_ms > 0 && deadline_ms - now < wait_ms)
			wait_ms = (int)(deadline_ms - now) + 1;
		curl_multi_poll(multi, NULL, 0, wait_ms, NULL);
	}
}
