/*
 * rconn_tls.c - TLS to Redis for hiredis 0.14, which has none.
 *
 * A relay per connection: the TLS handshake with the node is made here,
 * synchronously, so that a wrong CA or a refused client certificate is
 * reported before anything else; then a private unix socket (in a fresh
 * 0700 directory) is handed to hiredis, and a detached thread accepts that
 * one connection (checking by SO_PEERCRED that it is this process) and
 * relays bytes between it and the TLS session until either side closes.
 * hiredis, its reader and our poll adapter stay unchanged: the consumer's
 * non-blocking connection simply talks to a unix socket. Why a relay
 * rather than feeding hiredis's redisReader ourselves: the consumer's
 * async context (callbacks, reconnects, the poll adapter) would have to
 * be rewritten around OpenSSL's WANT_READ/WANT_WRITE; a relay costs one
 * thread and one local copy per connection (two connections per worker).
 *
 * Not here: where the node is (rconn.c), what is sent (queue*.c).
 */
#include "fmacros.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "rconn.h"
#include "rconn_int.h"
#include "xalloc.h"
#include "banned.h"

#define ACCEPT_TIMEOUT_MS 10000
#define EXIT_WAIT_MS 2000

/* Relays alive: at exit, wait a moment for those whose local side was
 * just closed to finish (they free their TLS session as they go). */
static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t live_cv; /* clock_cond_init'ed by register_exit */
static int live;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static void wait_relays(void)
{
	struct timespec until;

	clock_mono_deadline(&until, EXIT_WAIT_MS);
	pthread_mutex_lock(&live_mu);
	while (live > 0 &&
	       pthread_cond_timedwait(&live_cv, &live_mu, &until) == 0)
		;
	pthread_mutex_unlock(&live_mu);
}

static void register_exit(void)
{
	clock_cond_init(&live_cv);
	atexit(wait_relays);
}

static void live_add(int d)
{
	pthread_mutex_lock(&live_mu);
	live += d;
	pthread_cond_broadcast(&live_cv);
	pthread_mutex_unlock(&live_mu);
}

struct relay {
	SSL_CTX *ctx;
	SSL *ssl;
	int tcp;       /* the TLS session's socket */
	int listener;  /* the unix socket hiredis connects to */
	char dir[64];
	char path[108];
};

static void relay_free(struct relay *r)
{
	if (r->ssl) {
		SSL_shutdown(r->ssl);
		SSL_free(r->ssl);
	}
	if (r->ctx)
		SSL_CTX_free(r->ctx);
	if (r->tcp >= 0)
		close(r->tcp);
	if (r->listener >= 0)
		close(r->listener);
	if (r->path[0])
		unlink(r->path);
	if (r->dir[0])
		rmdir(r->dir);
	free(r);
}

static int tcp_connect(const struct rconn_addr *a, long timeout_ms,
		       struct err *e)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	char port[8];
	int fd = -1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%d", a->port);
	rc = getaddrinfo(a->host, port, &hints, &res);
	if (rc) {
		err_set(e, ERR_UNAVAILABLE, "redis: cannot resolve '%s': %s",
			a->host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (!connect(fd, ai->ai_addr, ai->ai_addrlen))
			break;
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		err_set_errno(e, ERR_UNAVAILABLE, errno, "redis: cannot connect "
			      "to '%s:%d'", a->host, a->port);
	freeaddrinfo(res);
	return fd;
}

/* The first OpenSSL error as text (the queue is cleared). */
static const char *ssl_reason(char *buf, size_t len)
{
	unsigned long code = ERR_get_error();

	if (!code)
		return "connection closed during the handshake";
	ERR_error_string_n(code, buf, len);
	ERR_clear_error();
	return buf;
}

static int make_ctx(struct relay *r, const struct rconn_params *p,
		    struct err *e)
{
	char why[256];

	ERR_clear_error();
	r->ctx = SSL_CTX_new(TLS_client_method());
	if (!r->ctx)
		return err_set(e, ERR_INTERNAL, "redis: TLS: cannot create a "
			       "context: %s", ssl_reason(why, sizeof(why)));
	SSL_CTX_set_min_proto_version(r->ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(r->ctx, SSL_VERIFY_PEER, NULL);
	/* A read that only consumed a handshake record returns instead of
	 * blocking for application data the relay may not get. */
	SSL_CTX_clear_mode(r->ctx, SSL_MODE_AUTO_RETRY);
	if (*p->tls_ca_file) {
		if (SSL_CTX_load_verify_locations(r->ctx, p->tls_ca_file,
						  NULL) != 1)
			return err_set(e, ERR_INVALID, "config: "
				       "REDIS_TLS_CA_FILE='%s': cannot load "
				       "CA certificates: %s", p->tls_ca_file,
				       ssl_reason(why, sizeof(why)));
	} else if (SSL_CTX_set_default_verify_paths(r->ctx) != 1) {
		return err_set(e, ERR_INTERNAL, "redis: TLS: cannot load the "
			       "system CA certificates: %s",
			       ssl_reason(why, sizeof(why)));
	}
	if (*p->tls_cert_file) {
		if (SSL_CTX_use_certificate_chain_file(r->ctx,
						       p->tls_cert_file) != 1)
			return err_set(e, ERR_INVALID, "config: "
				       "REDIS_TLS_CERT_FILE='%s': %s",
				       p->tls_cert_file,
				       ssl_reason(why, sizeof(why)));
		if (SSL_CTX_use_PrivateKey_file(r->ctx, p->tls_key_file,
						SSL_FILETYPE_PEM) != 1)
			return err_set(e, ERR_INVALID, "config: "
				       "REDIS_TLS_KEY_FILE='%s': %s",
				       p->tls_key_file,
				       ssl_reason(why, sizeof(why)));
	}
	return 0;
}

static int handshake(struct relay *r, const struct rconn_params *p,
		     const struct rconn_addr *a, struct err *e)
{
	struct in6_addr ip6;
	struct in_addr ip4;
	struct timeval zero = { 0, 0 };
	char why[256];
	long verify;
	int is_ip = inet_pton(AF_INET, a->host, &ip4) == 1 ||
		    inet_pton(AF_INET6, a->host, &ip6) == 1;

	r->ssl = SSL_new(r->ctx);
	if (!r->ssl || SSL_set_fd(r->ssl, r->tcp) != 1)
		return err_set(e, ERR_INTERNAL, "redis: TLS: %s",
			       ssl_reason(why, sizeof(why)));
	if (is_ip) {
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(r->ssl), a->host);
	} else {
		SSL_set_tlsext_host_name(r->ssl, a->host);
		SSL_set1_host(r->ssl, a->host);
	}
	ERR_clear_error();
	if (SSL_connect(r->ssl) != 1) {
		verify = SSL_get_verify_result(r->ssl);
		if (verify != X509_V_OK)
			return err_set(e, ERR_INVALID, "redis: TLS to '%s:%d': "
				       "the server's certificate is not "
				       "trusted: %s (check REDIS_TLS_CA_FILE%s)",
				       a->host, a->port,
				       X509_verify_cert_error_string(verify),
				       *p->tls_ca_file ? "" : ", unset: the "
				       "system's CAs");
		return err_set(e, ERR_UNAVAILABLE, "redis: TLS to '%s:%d' "
			       "failed: %s", a->host, a->port,
			       ssl_reason(why, sizeof(why)));
	}
	/* relaying: no timeouts, the peers' own decide */
	setsockopt(r->tcp, SOL_SOCKET, SO_RCVTIMEO, &zero, sizeof(zero));
	setsockopt(r->tcp, SOL_SOCKET, SO_SNDTIMEO, &zero, sizeof(zero));
	return 0;
}

static int make_listener(struct relay *r, struct err *e)
{
	struct sockaddr_un sa;
	const char *tmp = getenv("TMPDIR");

	snprintf(r->dir, sizeof(r->dir), "%s/safeurl-rtls.XXXXXX",
		 tmp && *tmp && strlen(tmp) < 32 ? tmp : "/tmp");
	if (!mkdtemp(r->dir)) {
		r->dir[0] = '\0';
		return err_set_errno(e, ERR_UNAVAILABLE, errno, "redis: TLS "
				     "relay: mkdtemp");
	}
	snprintf(r->path, sizeof(r->path), "%s/s", r->dir);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", r->path);
	r->listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (r->listener < 0 ||
	    bind(r->listener, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(r->listener, 1))
		return err_set_errno(e, ERR_UNAVAILABLE, errno, "redis: TLS "
				     "relay: unix socket '%s'", r->path);
	return 0;
}

/* Write all of buf to fd (blocking). */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The one local peer, or -1: it must be this process. */
static int accept_own(struct relay *r)
{
	struct pollfd pfd = { r->listener, POLLIN, 0 };
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd;

	if (poll(&pfd, 1, ACCEPT_TIMEOUT_MS) != 1)
		return -1;
	fd = accept4(r->listener, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) ||
	    cred.pid != getpid()) {
		close(fd);
		return -1;
	}
	return fd;
}

static void *relay_run(void *arg)
{
	struct relay *r = arg;
	char buf[16384];
	int local = accept_own(r);

	/* nobody else may connect: the path goes at once */
	unlink(r->path);
	r->path[0] = '\0';
	rmdir(r->dir);
	r->dir[0] = '\0';
	while (local >= 0) {
		struct pollfd pfd[2] = { { local, POLLIN, 0 },
					 { r->tcp, POLLIN, 0 } };
		int n;

		if (!SSL_pending(r->ssl) && poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t got = read(local, buf, sizeof(buf));

			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0 || SSL_write(r->ssl, buf, (int)got) <= 0)
				break;
		}
		if (SSL_pending(r->ssl) ||
		    (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			n = SSL_read(r->ssl, buf, sizeof(buf));
			if (n <= 0) {
				int why = SSL_get_error(r->ssl, n);

				if (why == SSL_ERROR_WANT_READ ||
				    why == SSL_ERROR_WANT_WRITE)
					continue;
				break;
			}
			if (write_all(local, buf, (size_t)n))
				break;
		}
	}
	if (local >= 0)
		close(local);
	relay_free(r);
	OPENSSL_thread_stop();
	live_add(-1);
	return NULL;
}

int rconn_tls_relay(const struct rconn_params *p, const struct rconn_addr *a,
		    long timeout_ms, char *path, size_t pathsz, struct err *e)
{
	struct relay *r = xcalloc(1, sizeof(*r));
	pthread_attr_t attr;
	pthread_t tid;
	int rc;

	r->tcp = r->listener = -1;
	if (make_ctx(r, p, e) ||
	    (r->tcp = tcp_connect(a, timeout_ms, e)) < 0 ||
	    handshake(r, p, a, e) || make_listener(r, e)) {
		relay_free(r);
		return -1;
	}
	snprintf(path, pathsz, "%s", r->path);
	pthread_once(&exit_once, register_exit);
	live_add(1);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&tid, &attr, relay_run, r);
	pthread_attr_destroy(&attr);
	if (rc) {
		live_add(-1);
		relay_free(r);
		return err_set(e, ERR_INTERNAL, "redis: TLS relay thread: %s",
			       strerror(rc));
	}
	return 0;
}
