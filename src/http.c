/* http.c - libmicrohttpd server with a route table: /livez, /healthz,
 * /metrics. */
#include "fmacros.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "buf.h"
#include "err.h"
#include "http.h"
#include "metrics.h"
#include "xalloc.h"
#include "banned.h"

struct http_server {
	struct MHD_Daemon *daemon;
	const struct http_probe *probes;
	size_t nprobes;
	struct metrics *metrics;
};

struct reply {
	unsigned status;
	const char *content_type;
	struct buf body;
};

struct route {
	const char *path;
	void (*handle)(struct http_server *srv, struct reply *r);
};

/* Run the probes (only the live ones when live_only) into r. */
static void run_probes(struct http_server *srv, struct reply *r,
		       int live_only)
{
	size_t i, n = 0;
	int healthy = 1;

	buf_addstr(&r->body, "{\"checks\":{", NULL);
	for (i = 0; i < srv->nprobes; i++) {
		const struct http_probe *p = &srv->probes[i];
		struct err e = ERR_INIT;
		int ok;

		if (live_only && !p->live)
			continue;
		ok = p->check(p->ctx, &e) == 0;
		healthy &= ok;
		buf_addf(&r->body, NULL, "%s\"%s\":{\"status\":\"%s\"",
			 n++ ? "," : "", p->name, ok ? "up" : "down");
		if (p->age_ms) {
			long long age = p->age_ms(p->ctx);

			if (age >= 0)
				buf_addf(&r->body, NULL, ",\"age_ms\":%lld", age);
			else
				buf_addstr(&r->body, ",\"age_ms\":null", NULL);
		}
		if (!ok) {
			buf_addstr(&r->body, ",\"error\":\"", NULL);
			buf_add_json_str(&r->body, e.msg, strlen(e.msg), NULL);
			buf_addch(&r->body, '"', NULL);
		}
		buf_addch(&r->body, '}', NULL);
	}
	buf_addf(&r->body, NULL, "},\"status\":\"%s\"}\n",
		 healthy ? "ok" : "unavailable");
	r->status = healthy ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
	r->content_type = "application/json";
}

static void handle_healthz(struct http_server *srv, struct reply *r)
{
	run_probes(srv, r, 0);
}

static void handle_livez(struct http_server *srv, struct reply *r)
{
	run_probes(srv, r, 1);
}

static void handle_metrics(struct http_server *srv, struct reply *r)
{
	metrics_render(srv->metrics, &r->body);
	r->status = MHD_HTTP_OK;
	r->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

static const struct route routes[] = {
	{ "/livez", handle_livez },
	{ "/healthz", handle_healthz },
	{ "/metrics", handle_metrics },
};

static void route(struct http_server *srv, const char *method,
		  const char *url, struct reply *r)
{
	size_t i;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(url, routes[i].path))
			continue;
		if (strcmp(method, MHD_HTTP_METHOD_GET) &&
		    strcmp(method, MHD_HTTP_METHOD_HEAD)) {
			r->status = MHD_HTTP_METHOD_NOT_ALLOWED;
			buf_addstr(&r->body, "{\"error\":\"method not allowed\"}\n", NULL);
			return;
		}
		routes[i].handle(srv, r);
		return;
	}
	r->status = MHD_HTTP_NOT_FOUND;
	buf_addstr(&r->body, "{\"error\":\"not found\"}\n", NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct reply r = { 0, "application/json", BUF_INIT };
	struct MHD_Response *resp;
	enum MHD_Result ret;

	(void)version;
	(void)upload;
	if (!*con_cls) { /* first call: headers only */
		*con_cls = conn;
		return MHD_YES;
	}
	if (*upload_size) { /* ignore request bodies */
		*upload_size = 0;
		return MHD_YES;
	}
	route(cls, method, url, &r);
	resp = MHD_create_response_from_buffer(r.body.len, r.body.data,
					       MHD_RESPMEM_MUST_COPY);
	buf_release(&r.body);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				r.content_type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = MHD_queue_response(conn, r.status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Fill ss from an IP literal and port; returns its length or 0. */
static socklen_t make_addr(const char *addr, int port,
			   struct sockaddr_storage *ss)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		return sizeof(*in4);
	}
	if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		return sizeof(*in6);
	}
	return 0;
}

struct http_server *http_start(const char *addr, int port,
			       const struct http_probe *probes, size_t n,
			       struct metrics *m, struct err *e)
{
	struct sockaddr_storage ss;
	struct http_server *srv;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;

	if (!make_addr(addr, port, &ss)) {
		err_set(e, ERR_INVALID, "http: '%s' is not an IP address", addr);
		return NULL;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	srv = xcalloc(1, sizeof(*srv));
	srv->probes = probes;
	srv->nprobes = n;
	srv->metrics = m;
	srv->daemon = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL,
				       on_request, srv, MHD_OPTION_SOCK_ADDR,
				       (struct sockaddr *)&ss,
				       MHD_OPTION_CONNECTION_TIMEOUT, 10u,
				       MHD_OPTION_CONNECTION_LIMIT, 64u,
				       MHD_OPTION_END);
	if (!srv->daemon) {
		err_set_errno(e, ERR_UNAVAILABLE, errno,
			      "http: cannot listen on %s port %d", addr, port);
		free(srv);
		return NULL;
	}
	return srv;
}

int http_port(const struct http_server *srv)
{
	const union MHD_DaemonInfo *info =
		MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);

	return info ? info->port : -1;
}

void http_stop(struct http_server *srv)
{
	if (!srv)
		return;
	MHD_stop_daemon(srv->daemon);
	free(srv);
}
