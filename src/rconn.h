/*
 * rconn - how the worker, the producer and the operator commands reach
 * "the current Redis master": one place that knows the deployment shape.
 *
 *  - direct: REDIS_HOST:REDIS_PORT;
 *  - Sentinel: REDIS_SENTINELS are asked (SENTINEL get-master-addr-by-name
 *    REDIS_SENTINEL_MASTER, authenticated with REDIS_SENTINEL_PASSWORD)
 *    for the master's address, and the node's ROLE must say master;
 *  - Cluster: REDIS_CLUSTER_NODES are asked (CLUSTER SLOTS) which master
 *    owns the slot of the queue's hash tag (every key of the queue shares
 *    it, so one node serves the whole queue).
 *
 * Every connection then authenticates (AUTH [REDIS_USERNAME]
 * REDIS_PASSWORD). A refusal is configuration (the caller exits 78 naming
 * the variable), anything else an outage the caller retries with backoff.
 *
 * Not here: the queue's commands (queue*.c) and the poll loop that drives
 * the consumer's non-blocking connections (queue.c asks this module where
 * to connect and what to send first).
 */
#ifndef SAFEURL_RCONN_H
#define SAFEURL_RCONN_H

#include <stddef.h>

struct config;
struct err;
struct redisAsyncContext;
struct redisContext;

enum rconn_mode { RCONN_DIRECT, RCONN_SENTINEL, RCONN_CLUSTER };

/* Strings are borrowed (rconn_params_from_config) or owned
 * (rconn_params_copy); "" = not set. */
struct rconn_params {
	enum rconn_mode mode;
	const char *host;
	int port;
	const char *username;
	const char *password;
	const char *sentinels;         /* "host:port,host:port" */
	const char *sentinel_master;
	const char *sentinel_password;
	const char *cluster_nodes;     /* "host:port,host:port" */
	const char *key;               /* a queue key: its slot's owner serves */
	int tls;
	const char *tls_ca_file;
	const char *tls_cert_file;
	const char *tls_key_file;
	int owned;                     /* set by rconn_params_copy */
};

/* From the configuration; strings borrowed from cfg. key is left "". */
void rconn_params_from_config(struct rconn_params *p,
			      const struct config *cfg);
/* Deep copy of src into dst (its strings freed by rconn_params_release). */
void rconn_params_copy(struct rconn_params *dst,
		       const struct rconn_params *src);
void rconn_params_release(struct rconn_params *p);

/* Where to connect: a master's address. */
struct rconn_addr {
	char host[256];
	int port;
};

/*
 * Find the current master (blocking; each node asked with a short
 * timeout): the configured address, the sentinels' answer, or the owner
 * of p->key's slot. ERR_UNAVAILABLE when no node answered usefully (retry
 * with backoff); ERR_INVALID when a sentinel refused its password (names
 * REDIS_SENTINEL_PASSWORD): configuration.
 */
int rconn_locate(const struct rconn_params *p, struct rconn_addr *out,
		 struct err *e);

/*
 * The command to send first on a new connection: AUTH with the ACL user
 * and password, or nothing (returns 0). argv/len have room for 3 entries;
 * strings borrowed from p.
 */
int rconn_auth_argv(const struct rconn_params *p, const char **argv,
		    size_t *len);

/* Does an error reply (borrowed) refuse the credentials (WRONGPASS,
 * NOAUTH, invalid password)? */
int rconn_auth_refused(const char *reply);
/* Fill e (ERR_INVALID) for a refused AUTH: names the variables to check.
 * Returns -1. */
int rconn_refusal(const struct rconn_params *p, const struct rconn_addr *a,
		  const char *reply, struct err *e);

/*
 * Does an error reply (borrowed) say this node no longer serves the
 * queue: READONLY (a demoted master), MOVED or ASK (the slot lives
 * elsewhere), UNBLOCKED (role change), LOADING, MASTERDOWN, CLUSTERDOWN?
 * The caller drops the connection and locates the master again.
 */
int rconn_redirected(const char *reply);

/*
 * Pure: does a ROLE reply's first element (borrowed) name a master?
 */
int rconn_role_is_master(const char *role);

/*
 * A blocking connection to the current master, authenticated and (with
 * Sentinel or Cluster) checked to be a master, with timeout_ms on every
 * call. New context in *out, caller frees it with redisFree(); the master's
 * address in *at when at is not NULL. ERR_UNAVAILABLE (retry),
 * ERR_NOT_ALLOWED for refused credentials (configuration: e names the
 * variable).
 */
int rconn_connect(struct redisContext **out, const struct rconn_params *p,
		  long timeout_ms, struct rconn_addr *at, struct err *e);

/*
 * A non-blocking hiredis context to a (the caller authenticates): plain
 * TCP, or with p->tls a unix socket to a TLS relay whose handshake has
 * been made here (blocking, within a few seconds). NULL with e set when
 * TLS failed (ERR_INVALID: an untrusted certificate or unusable TLS file,
 * the message names the variable; ERR_UNAVAILABLE otherwise); else a new
 * context the caller frees as hiredis says (it may carry ac->err).
 */
struct redisAsyncContext *rconn_async_connect(const struct rconn_params *p,
					      const struct rconn_addr *a,
					      struct err *e);

/* Pure: the Redis Cluster slot of a key (CRC16 of its {hash tag}). */
unsigned rconn_key_slot(const char *key, size_t len);

/*
 * Pure: split "host:port,host:port" (borrowed) into up to max addresses.
 * Returns how many, or -1 with e naming what is wrong (what = the
 * variable's name, for the message).
 */
int rconn_parse_nodes(const char *list, const char *what,
		      struct rconn_addr *out, int max, struct err *e);

#endif
