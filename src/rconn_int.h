/*
 * rconn_int.h - shared by rconn.c and rconn_tls.c only.
 */
#ifndef SAFEURL_RCONN_INT_H
#define SAFEURL_RCONN_INT_H

#include <stddef.h>

struct err;
struct rconn_addr;
struct rconn_params;

/*
 * Connect to a over TLS (p's CA, client certificate), handshake within
 * timeout_ms, and start a relay thread; the unix socket path hiredis must
 * connect to (within 10 s, from this process) is copied into path. The
 * relay ends by itself when either side closes. ERR_INVALID when the
 * server's certificate is not trusted or a TLS file cannot be used (the
 * message names the variable), ERR_UNAVAILABLE when the node is down.
 */
int rconn_tls_relay(const struct rconn_params *p, const struct rconn_addr *a,
		    long timeout_ms, char *path, size_t pathsz, struct err *e);

#endif
