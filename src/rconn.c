/*
 * rconn.c - locate the current Redis master (direct, Sentinel, Cluster),
 * connect and authenticate; see rconn.h.
 *
 * Discovery is blocking, with a short timeout per node asked, like
 * ioredis's sentinel and cluster connectors: it runs only when a
 * connection is (re)made, which is when the queue cannot be used anyway.
 */
#include "fmacros.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "config.h"
#include "err.h"
#include "rconn.h"
#include "rconn_int.h"
#include "xalloc.h"
#include "banned.h"

#define NODES_MAX 32
#define ASK_TIMEOUT_MS 1000

void rconn_params_from_config(struct rconn_params *p,
			      const struct config *cfg)
{
	memset(p, 0, sizeof(*p));
	p->host = cfg->redis_host;
	p->port = cfg->redis_port;
	p->username = cfg->redis_username;
	p->password = cfg->redis_password;
	p->sentinels = cfg->redis_sentinels;
	p->sentinel_master = cfg->redis_sentinel_master;
	p->sentinel_password = cfg->redis_sentinel_password;
	p->cluster_nodes = cfg->redis_cluster_nodes;
	p->key = "";
	p->tls = cfg->redis_tls;
	p->tls_ca_file = cfg->redis_tls_ca_file;
	p->tls_cert_file = cfg->redis_tls_cert_file;
	p->tls_key_file = cfg->redis_tls_key_file;
	p->mode = *p->sentinels ? RCONN_SENTINEL
		  : *p->cluster_nodes ? RCONN_CLUSTER : RCONN_DIRECT;
}

static const char *dup_or_empty(const char *s)
{
	return xstrdup(s ? s : "");
}

void rconn_params_copy(struct rconn_params *dst,
		       const struct rconn_params *src)
{
	*dst = *src;
	dst->host = dup_or_empty(src->host);
	dst->username = dup_or_empty(src->username);
	dst->password = dup_or_empty(src->password);
	dst->sentinels = dup_or_empty(src->sentinels);
	dst->sentinel_master = dup_or_empty(src->sentinel_master);
	dst->sentinel_password = dup_or_empty(src->sentinel_password);
	dst->cluster_nodes = dup_or_empty(src->cluster_nodes);
	dst->key = dup_or_empty(src->key);
	dst->tls_ca_file = dup_or_empty(src->tls_ca_file);
	dst->tls_cert_file = dup_or_empty(src->tls_cert_file);
	dst->tls_key_file = dup_or_empty(src->tls_key_file);
	dst->owned = 1;
}

static void free_const(const char *s)
{
	free((void *)(size_t)s);
}

void rconn_params_release(struct rconn_params *p)
{
	if (!p->owned)
		return;
	free_const(p->host);
	free_const(p->username);
	free_const(p->password);
	free_const(p->sentinels);
	free_const(p->sentinel_master);
	free_const(p->sentinel_password);
	free_const(p->cluster_nodes);
	free_const(p->key);
	free_const(p->tls_ca_file);
	free_const(p->tls_cert_file);
	free_const(p->tls_key_file);
	memset(p, 0, sizeof(*p));
}

/* ---- pure helpers ---- */

int rconn_parse_nodes(const char *list, const char *what,
		      struct rconn_addr *out, int max, struct err *e)
{
	const char *s = list;
	int n = 0;

	while (*s) {
		const char *end = strchr(s, ','), *colon;
		size_t len = end ? (size_t)(end - s) : strlen(s);
		char num[8];
		char *stop;
		long port;

		colon = memrchr(s, ':', len);
		if (!colon || colon == s || (size_t)(colon - s) >= sizeof(out->host) ||
		    len - (size_t)(colon - s) - 1 == 0 ||
		    len - (size_t)(colon - s) - 1 >= sizeof(num))
			return err_set(e, ERR_INVALID, "config: %s='%s': "
				       "expected host:port[,host:port...]",
				       what, list);
		memcpy(num, colon + 1, len - (size_t)(colon - s) - 1);
		num[len - (size_t)(colon - s) - 1] = '\0';
		port = strtol(num, &stop, 10);
		if (*stop || port < 1 || port > 65535)
			return err_set(e, ERR_INVALID, "config: %s='%s': port "
				       "'%s' is not 1..65535", what, list, num);
		if (n == max)
			return err_set(e, ERR_INVALID, "config: %s='%s': at "
				       "most %d nodes", what, list, max);
		memcpy(out[n].host, s, (size_t)(colon - s));
		out[n].host[colon - s] = '\0';
		out[n].port = (int)port;
		n++;
		s += len;
		if (*s == ',')
			s++;
	}
	if (!n)
		return err_set(e, ERR_INVALID, "config: %s='': expected "
			       "host:port[,host:port...]", what);
	return n;
}

/* CRC16-CCITT (XMODEM), the checksum Redis Cluster slots keys with. */
static unsigned crc16(const char *buf, size_t len)
{
	unsigned crc = 0;
	size_t i;
	int b;

	for (i = 0; i < len; i++) {
		crc ^= (unsigned)(unsigned char)buf[i] << 8;
		for (b = 0; b < 8; b++)
			crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff
					   : (crc << 1) & 0xffff;
	}
	return crc;
}

unsigned rconn_key_slot(const char *key, size_t len)
{
	const char *open = memchr(key, '{', len), *close;

	if (open) {
		close = memchr(open + 1, '}', len - (size_t)(open + 1 - key));
		if (close && close > open + 1)
			return crc16(open + 1, (size_t)(close - open - 1)) &
			       16383;
	}
	return crc16(key, len) & 16383;
}

int rconn_auth_refused(const char *reply)
{
	return !strncmp(reply, "WRONGPASS", 9) || !strncmp(reply, "NOAUTH", 6) ||
	       strstr(reply, "invalid password") != NULL ||
	       strstr(reply, "invalid username-password") != NULL;
}

int rconn_redirected(const char *reply)
{
	static const char *const words[] = { "READONLY", "MOVED ", "ASK ",
					     "UNBLOCKED", "LOADING",
					     "MASTERDOWN", "CLUSTERDOWN",
					     "TRYAGAIN", NULL };
	size_t i;

	for (i = 0; words[i]; i++)
		if (!strncmp(reply, words[i], strlen(words[i])))
			return 1;
	return 0;
}

int rconn_role_is_master(const char *role)
{
	return role && !strcmp(role, "master");
}

int rconn_auth_argv(const struct rconn_params *p, const char **argv,
		    size_t *len)
{
	int n = 0;

	if (!p->password || !*p->password)
		return 0;
	argv[n++] = "AUTH";
	if (p->username && *p->username)
		argv[n++] = p->username;
	argv[n++] = p->password;
	for (int i = 0; i < n; i++)
		len[i] = strlen(argv[i]);
	return n;
}

int rconn_refusal(const struct rconn_params *p, const struct rconn_addr *a,
		  const char *reply, struct err *e)
{
	return err_set(e, ERR_INVALID, "redis: '%s:%d' refused the password: "
		       "%s (check %s)", a->host, a->port, reply,
		       p->username && *p->username
			       ? "REDIS_USERNAME and REDIS_PASSWORD"
			       : "REDIS_PASSWORD");
}

/* ---- asking nodes ---- */

/* A blocking connection to one node (over the TLS relay when p->tls). */
static redisContext *node_open(const struct rconn_params *p,
			       const struct rconn_addr *a, long timeout_ms,
			       struct err *e)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	char path[128];
	redisContext *c;

	if (p->tls) {
		if (rconn_tls_relay(p, a, timeout_ms, path, sizeof(path), e))
			return NULL;
		c = redisConnectUnixWithTimeout(path, tv);
	} else {
		c = redisConnectWithTimeout(a->host, a->port, tv);
	}
	if (!c || c->err) {
		err_set(e, ERR_UNAVAILABLE, "redis: cannot connect to "
			"'%s:%d': %s", a->host, a->port,
			c ? c->errstr : "out of memory");
		if (c)
			redisFree(c);
		return NULL;
	}
	redisSetTimeout(c, tv);
	return c;
}

/* One reply, or NULL with e set (the context's error). */
static redisReply *ask(redisContext *c, const struct rconn_addr *a,
		       int argc, const char **argv, const size_t *len,
		       struct err *e)
{
	redisReply *r = redisCommandArgv(c, argc, argv, len);

	if (!r)
		err_set(e, ERR_UNAVAILABLE, "redis: '%s:%d': %s", a->host,
			a->port, c->errstr[0] ? c->errstr : "no reply");
	return r;
}

/* Authenticate a sentinel; -1 with ERR_INVALID naming the variable when
 * refused, ERR_UNAVAILABLE when it does not answer. */
static int sentinel_auth(redisContext *c, const struct rconn_params *p,
			 const struct rconn_addr *a, struct err *e)
{
	const char *argv[2] = { "AUTH", p->sentinel_password };
	size_t len[2] = { 4, strlen(p->sentinel_password) };
	redisReply *r;

	if (!*p->sentinel_password)
		return 0;
	if (!(r = ask(c, a, 2, argv, len, e)))
		return -1;
	if (r->type == REDIS_REPLY_ERROR) {
		if (rconn_auth_refused(r->str) || strstr(r->str, "AUTH"))
			err_set(e, ERR_INVALID, "redis: sentinel '%s:%d' "
				"refused the password: %s (check "
				"REDIS_SENTINEL_PASSWORD)", a->host, a->port,
				r->str);
		else
			err_set(e, ERR_UNAVAILABLE, "redis: sentinel '%s:%d': "
				"%s", a->host, a->port, r->str);
		freeReplyObject(r);
		return -1;
	}
	freeReplyObject(r);
	return 0;
}

static int sentinel_ask(const struct rconn_params *p,
			const struct rconn_addr *s, struct rconn_addr *out,
			struct err *e)
{
	const char *argv[3] = { "SENTINEL", "get-master-addr-by-name",
				p->sentinel_master };
	size_t len[3] = { 8, 23, strlen(p->sentinel_master) };
	redisContext *c = node_open(p, s, ASK_TIMEOUT_MS, e);
	redisReply *r;
	int rc = -1;

	if (!c)
		return -1;
	if (sentinel_auth(c, p, s, e) ||
	    !(r = ask(c, s, 3, argv, len, e))) {
		redisFree(c);
		return -1;
	}
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
	    r->element[0]->type == REDIS_REPLY_STRING &&
	    r->element[1]->type == REDIS_REPLY_STRING &&
	    r->element[0]->len < sizeof(out->host)) {
		snprintf(out->host, sizeof(out->host), "%s",
			 r->element[0]->str);
		out->port = (int)strtol(r->element[1]->str, NULL, 10);
		rc = out->port > 0 ? 0 : -1;
	}
	if (rc)
		err_set(e, ERR_UNAVAILABLE, "redis: sentinel '%s:%d' knows no "
			"master named '%s' (check REDIS_SENTINEL_MASTER): %s",
			s->host, s->port, p->sentinel_master,
			r->type == REDIS_REPLY_ERROR ? r->str : "nil");
	freeReplyObject(r);
	redisFree(c);
	return rc;
}

/* The master serving slot in a CLUSTER SLOTS reply; asked = the node
 * that answered (an empty ip means that node). */
static int slots_owner(const redisReply *r, unsigned slot,
		       const struct rconn_addr *asked, struct rconn_addr *out)
{
	size_t i;

	if (r->type != REDIS_REPLY_ARRAY)
		return -1;
	for (i = 0; i < r->elements; i++) {
		const redisReply *range = r->element[i], *node;

		if (range->type != REDIS_REPLY_ARRAY || range->elements < 3 ||
		    range->element[0]->type != REDIS_REPLY_INTEGER ||
		    range->element[1]->type != REDIS_REPLY_INTEGER)
			continue;
		if ((long long)slot < range->element[0]->integer ||
		    (long long)slot > range->element[1]->integer)
			continue;
		node = range->element[2];
		if (node->type != REDIS_REPLY_ARRAY || node->elements < 2 ||
		    node->element[0]->type != REDIS_REPLY_STRING ||
		    node->element[1]->type != REDIS_REPLY_INTEGER ||
		    node->element[0]->len >= sizeof(out->host))
			return -1;
		/* an empty host: the node that answered (Redis's own rule) */
		if (node->element[0]->len)
			memcpy(out->host, node->element[0]->str,
			       node->element[0]->len + 1);
		else
			memcpy(out->host, asked->host, sizeof(out->host));
		out->port = (int)node->element[1]->integer;
		return 0;
	}
	return -1;
}

static int cluster_ask(const struct rconn_params *p,
		       const struct rconn_addr *n, struct rconn_addr *out,
		       struct err *e)
{
	const char *argv[3], *cs[2] = { "CLUSTER", "SLOTS" };
	size_t len[3], cl[2] = { 7, 5 };
	redisContext *c = node_open(p, n, ASK_TIMEOUT_MS, e);
	redisReply *r;
	int argc, rc;
	unsigned slot = rconn_key_slot(p->key, strlen(p->key));

	if (!c)
		return -1;
	if ((argc = rconn_auth_argv(p, argv, len)) > 0) {
		if (!(r = ask(c, n, argc, argv, len, e))) {
			redisFree(c);
			return -1;
		}
		rc = r->type == REDIS_REPLY_ERROR
			     ? (rconn_auth_refused(r->str)
					? rconn_refusal(p, n, r->str, e)
					: err_set(e, ERR_UNAVAILABLE,
						  "redis: '%s:%d': %s",
						  n->host, n->port, r->str))
			     : 0;
		freeReplyObject(r);
		if (rc) {
			redisFree(c);
			return -1;
		}
	}
	if (!(r = ask(c, n, 2, cs, cl, e))) {
		redisFree(c);
		return -1;
	}
	rc = slots_owner(r, slot, n, out);
	if (rc)
		err_set(e, ERR_UNAVAILABLE, "redis: cluster node '%s:%d' "
			"names no owner of slot %u: %s", n->host, n->port,
			slot, r->type == REDIS_REPLY_ERROR ? r->str
							   : "not covered");
	freeReplyObject(r);
	redisFree(c);
	return rc;
}

int rconn_locate(const struct rconn_params *p, struct rconn_addr *out,
		 struct err *e)
{
	struct rconn_addr nodes[NODES_MAX];
	struct err last = ERR_INIT;
	int n, i;

	if (p->mode == RCONN_DIRECT) {
		snprintf(out->host, sizeof(out->host), "%s", p->host);
		out->port = p->port;
		return 0;
	}
	n = p->mode == RCONN_SENTINEL
		    ? rconn_parse_nodes(p->sentinels, "REDIS_SENTINELS", nodes,
					NODES_MAX, e)
		    : rconn_parse_nodes(p->cluster_nodes, "REDIS_CLUSTER_NODES",
					nodes, NODES_MAX, e);
	if (n < 0)
		return -1;
	for (i = 0; i < n; i++) {
		int rc = p->mode == RCONN_SENTINEL
				 ? sentinel_ask(p, &nodes[i], out, &last)
				 : cluster_ask(p, &nodes[i], out, &last);

		if (!rc)
			return 0;
		if (last.kind == ERR_INVALID) /* a refused password */
			break;
	}
	*e = last;
	return -1;
}

struct redisAsyncContext *rconn_async_connect(const struct rconn_params *p,
					      const struct rconn_addr *a,
					      struct err *e)
{
	char path[128];

	if (!p->tls)
		return redisAsyncConnect(a->host, a->port);
	if (rconn_tls_relay(p, a, 3000, path, sizeof(path), e))
		return NULL;
	return redisAsyncConnectUnix(path);
}

/* ---- a blocking connection ---- */

int rconn_connect(redisContext **out, const struct rconn_params *p,
		  long timeout_ms, struct rconn_addr *at, struct err *e)
{
	struct rconn_addr a;
	const char *argv[3];
	size_t len[3];
	redisContext *c;
	redisReply *r;
	int argc;

	*out = NULL;
	if (rconn_locate(p, &a, e)) {
		if (e->kind == ERR_INVALID)
			e->kind = ERR_NOT_ALLOWED;
		return -1;
	}
	if (at)
		*at = a;
	if (!(c = node_open(p, &a, timeout_ms, e)))
		return -1;
	argc = rconn_auth_argv(p, argv, len);
	if (!argc) { /* PING: a server that wants a password says NOAUTH */
		argv[0] = "PING";
		len[0] = 4;
		argc = 1;
	}
	{
		if (!(r = ask(c, &a, argc, argv, len, e))) {
			redisFree(c);
			return -1;
		}
		if (r->type == REDIS_REPLY_ERROR) {
			if (rconn_auth_refused(r->str)) {
				rconn_refusal(p, &a, r->str, e);
				e->kind = ERR_NOT_ALLOWED;
			} else {
				err_set(e, ERR_UNAVAILABLE, "redis: '%s:%d': "
					"%s failed: %s", a.host, a.port,
					argv[0], r->str);
			}
			freeReplyObject(r);
			redisFree(c);
			return -1;
		}
		freeReplyObject(r);
	}
	if (p->mode != RCONN_DIRECT) {
		const char *role[1] = { "ROLE" };
		size_t rl[1] = { 4 };
		int master;

		if (!(r = ask(c, &a, 1, role, rl, e))) {
			redisFree(c);
			return -1;
		}
		master = r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
			 r->element[0]->type == REDIS_REPLY_STRING &&
			 rconn_role_is_master(r->element[0]->str);
		freeReplyObject(r);
		if (!master) {
			redisFree(c);
			return err_set(e, ERR_UNAVAILABLE, "redis: '%s:%d' "
				       "is not a master (yet): failover in "
				       "progress", a.host, a.port);
		}
	}
	*out = c;
	return 0;
}
