/*
 * config.c - the variable table, the .env reader and validation.
 *
 * One row per variable: its name, how to parse it, where it lands in
 * struct config, its default and its bounds. Adding a setting means adding
 * a field and a row; documentation lives in .env.example and
 * docs/configuration.md.
 */
#include "fmacros.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "useragent.h"
#include "err.h"
#include "strvec.h"
#include "xalloc.h"
#include "banned.h"

#define DOTENV_MAX (1024 * 1024)

enum cfg_type { CFG_STR, CFG_INT, CFG_DOUBLE, CFG_ENUM };

enum cfg_flags {
	CFG_SECRET = 1 << 0,   /* never printed */
	CFG_WORD = 1 << 1,     /* no whitespace or control bytes */
	CFG_DB_URL = 1 << 2,   /* file:, libsql://, https://, http:// */
	CFG_NETWORK = 1 << 3,  /* bridge, none, host or a network name */
	CFG_OPTIONAL = 1 << 4, /* empty = off (numbers become 0) */
	CFG_IP = 1 << 5,       /* an IPv4 or IPv6 address literal */
	CFG_TEXT = 1 << 6,     /* printable, at most 512 bytes, no control bytes */
};

struct cfg_var {
	const char *name;
	enum cfg_type type;
	size_t offset;
	const char *def;
	double min, max;
	unsigned flags;
	const char *const *words; /* CFG_ENUM: names, index = value */
};

static const char *const level_words[] = { "debug", "info", "warn", "error",
					   NULL };
static const char *const format_words[] = { "json", "text", NULL };
/* Index = enum runtime_kind (runtime.h). */
static const char *const runtime_words[] = { "docker", "sandbox", NULL };
static const char *const bool_words[] = { "0", "1", NULL };

#define F(field) offsetof(struct config, field)

static const struct cfg_var vars[] = {
	{ "TURSO_CONNECTION_URL", CFG_STR, F(turso_url), "file:./local.db", 0, 0, CFG_DB_URL, NULL },
	{ "TURSO_AUTH_TOKEN", CFG_STR, F(turso_auth_token), "", 0, 0, CFG_SECRET, NULL },
	{ "REDIS_HOST", CFG_STR, F(redis_host), "localhost", 0, 0, CFG_WORD, NULL },
	{ "REDIS_PORT", CFG_INT, F(redis_port), "6379", 1, 65535, 0, NULL },
	{ "REDIS_PASSWORD", CFG_STR, F(redis_password), "", 0, 0, CFG_SECRET, NULL },
	{ "REDIS_USERNAME", CFG_STR, F(redis_username), "", 0, 0, CFG_WORD | CFG_OPTIONAL, NULL },
	{ "REDIS_SENTINELS", CFG_STR, F(redis_sentinels), "", 0, 0, CFG_WORD | CFG_OPTIONAL, NULL },
	{ "REDIS_SENTINEL_MASTER", CFG_STR, F(redis_sentinel_master), "", 0, 0, CFG_WORD | CFG_OPTIONAL, NULL },
	{ "REDIS_SENTINEL_PASSWORD", CFG_STR, F(redis_sentinel_password), "", 0, 0, CFG_SECRET, NULL },
	{ "REDIS_CLUSTER_NODES", CFG_STR, F(redis_cluster_nodes), "", 0, 0, CFG_WORD | CFG_OPTIONAL, NULL },
	{ "REDIS_TLS", CFG_ENUM, F(redis_tls), "0", 0, 0, 0, bool_words },
	{ "REDIS_TLS_CA_FILE", CFG_STR, F(redis_tls_ca_file), "", 0, 0, CFG_OPTIONAL, NULL },
	{ "REDIS_TLS_CERT_FILE", CFG_STR, F(redis_tls_cert_file), "", 0, 0, CFG_OPTIONAL, NULL },
	{ "REDIS_TLS_KEY_FILE", CFG_STR, F(redis_tls_key_file), "", 0, 0, CFG_OPTIONAL, NULL },
	{ "DOCKER_SOCKET_PATH", CFG_STR, F(docker_socket), "/var/run/docker.sock", 0, 0, 0, NULL },
	{ "FETCHER_IMAGE", CFG_STR, F(fetcher_image), "safeurl-fetcher:latest", 0, 0, CFG_WORD, NULL },
	{ "CONTAINER_RUNTIME", CFG_ENUM, F(container_runtime), "docker", 0, 0, 0, runtime_words },
	{ "FETCHER_ROOTFS", CFG_STR, F(fetcher_rootfs), "/var/lib/safeurl/fetcher-rootfs", 0, 0, CFG_WORD, NULL },
	{ "FETCHER_ENTRYPOINT", CFG_STR, F(fetcher_entrypoint), "/usr/bin/safeurl-fetcher", 0, 0, CFG_WORD, NULL },
	{ "WORKER_CONCURRENCY", CFG_INT, F(worker_concurrency), "5", 1, 1024, 0, NULL },
	{ "CONTAINER_TIMEOUT_MS", CFG_INT, F(container_timeout_ms), "30000", 1000, 3600000, 0, NULL },
	{ "CONTAINER_MEMORY_LIMIT_MB", CFG_INT, F(container_memory_mb), "512", 16, 65536, 0, NULL },
	{ "CONTAINER_CPU_LIMIT", CFG_DOUBLE, F(container_cpu_limit), "0.5", 0.01, 64, 0, NULL },
	{ "QUEUE_NAME", CFG_STR, F(queue_name), "scan-jobs", 0, 0, CFG_WORD, NULL },
	{ "BULLMQ_PREFIX", CFG_STR, F(bullmq_prefix), "bull", 0, 0, CFG_WORD, NULL },
	{ "WORKER_ID", CFG_STR, F(worker_id), "", 0, 0, CFG_WORD | CFG_OPTIONAL, NULL },
	{ "LOG_LEVEL", CFG_ENUM, F(log_level), "info", 0, 0, 0, level_words },
	{ "LOG_FORMAT", CFG_ENUM, F(log_format), "json", 0, 0, 0, format_words },
	{ "CONTAINER_NETWORK_MODE", CFG_STR, F(container_network_mode), "bridge", 0, 0, CFG_NETWORK, NULL },
	{ "CONTAINER_ALLOW_HOST_NETWORK", CFG_ENUM, F(container_allow_host_network), "0", 0, 0, 0, bool_words },
	{ "SHUTDOWN_GRACE_MS", CFG_INT, F(shutdown_grace_ms), "30000", 0, 3600000, 0, NULL },
	{ "RECONCILE_INTERVAL_MS", CFG_INT, F(reconcile_interval_ms), "60000", 0, 86400000, 0, NULL },
	{ "ENGINE_TIMEOUT_MS", CFG_INT, F(engine_timeout_ms), "20000", 1000, 600000, 0, NULL },
	{ "INFRA_RETRY_MAX_MS", CFG_INT, F(infra_retry_max_ms), "600000", 0, 86400000, 0, NULL },
	{ "HEALTH_PORT", CFG_INT, F(health_port), "", 1, 65535, CFG_OPTIONAL, NULL },
	{ "HEALTH_ADDR", CFG_STR, F(health_addr), "127.0.0.1", 0, 0, CFG_IP, NULL },
	{ "FETCHER_MAX_OUTPUT_BYTES", CFG_INT, F(fetcher_max_output_bytes), "1048576", 4096, 67108864, 0, NULL },
	{ "FETCHER_ARGS", CFG_STR, F(fetcher_args), "", 0, 0, CFG_OPTIONAL, NULL },
	{ "FETCHER_USER_AGENT", CFG_STR, F(fetcher_user_agent), SAFEURL_BROWSER_UA, 0, 0, CFG_TEXT, NULL },
	{ "FETCHER_YARA_RULES", CFG_STR, F(fetcher_yara_rules), "", 0, 0, CFG_OPTIONAL, NULL },
	{ "DB_BUSY_TIMEOUT_MS", CFG_INT, F(db_busy_timeout_ms), "5000", 0, 600000, 0, NULL },
	{ "DB_RETRY_ATTEMPTS", CFG_INT, F(db_retry_attempts), "8", 1, 100, 0, NULL },
	{ "DB_RETRY_MAX_MS", CFG_INT, F(db_retry_max_ms), "30000", 0, 3600000, 0, NULL },
	{ "WORKER_LIMITER_MAX", CFG_INT, F(worker_limiter_max), "", 1, 1000000, CFG_OPTIONAL, NULL },
	{ "WORKER_LIMITER_DURATION_MS", CFG_INT, F(worker_limiter_duration_ms), "", 1, 86400000, CFG_OPTIONAL, NULL },
	{ "WORKER_METRICS_MAX_DATA_POINTS", CFG_INT, F(worker_metrics_max_points), "20160", 0, 1000000, 0, NULL },
	{ "RETENTION_DAYS", CFG_INT, F(retention_days), "", 1, 36500, CFG_OPTIONAL, NULL },
};

#undef F

int config_parse_int(const char *s, long long min, long long max,
		     long long *out)
{
	const char *p = s;
	long long v;
	char *end;

	if (*p == '-')
		p++;
	if (!isdigit((unsigned char)*p))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int config_parse_double(const char *s, double min, double max, double *out)
{
	const char *p = s;
	double v;
	char *end;

	if (*p == '-')
		p++;
	if (!isdigit((unsigned char)*p) && *p != '.')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int has_space_or_ctl(const char *s)
{
	for (; *s; s++)
		if (isspace((unsigned char)*s) || iscntrl((unsigned char)*s))
			return 1;
	return 0;
}

static int has_ctl(const char *s)
{
	for (; *s; s++)
		if (iscntrl((unsigned char)*s))
			return 1;
	return 0;
}

static int valid_db_url(const char *s)
{
	static const char *const remote[] = { "libsql://", "https://",
					      "http://" };
	size_t i, n;

	if (!strncmp(s, "file:", 5))
		return s[5] != '\0';
	for (i = 0; i < sizeof(remote) / sizeof(remote[0]); i++) {
		n = strlen(remote[i]);
		if (!strncmp(s, remote[i], n))
			return s[n] != '\0' && s[n] != '/' &&
			       !has_space_or_ctl(s);
	}
	return 0;
}

static int valid_network(const char *s)
{
	const char *p;

	if (!isalnum((unsigned char)*s))
		return 0;
	for (p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_.-", *p))
			return 0;
	return 1;
}

static int valid_ip(const char *s)
{
	unsigned char addr[16];

	return inet_pton(AF_INET, s, addr) == 1 ||
	       inet_pton(AF_INET6, s, addr) == 1;
}

static void describe(const struct cfg_var *v, struct buf *out)
{
	size_t i;

	switch (v->type) {
	case CFG_INT:
		buf_addf(out, NULL, "an integer %.0f..%.0f%s", v->min, v->max,
			 v->flags & CFG_OPTIONAL ? " or empty for off" : "");
		return;
	case CFG_DOUBLE:
		buf_addf(out, NULL, "a number %g..%g", v->min, v->max);
		return;
	case CFG_ENUM:
		buf_addstr(out, "one of", NULL);
		for (i = 0; v->words[i]; i++)
			buf_addf(out, NULL, "%s %s", i ? "," : "", v->words[i]);
		return;
	case CFG_STR:
		break;
	}
	if (v->flags & CFG_DB_URL)
		buf_addstr(out, "a URL starting with file:, libsql://, https:// or http://", NULL);
	else if (v->flags & CFG_NETWORK)
		buf_addstr(out, "bridge, none, host or a network name ([A-Za-z0-9][A-Za-z0-9_.-]*)", NULL);
	else if (v->flags & CFG_IP)
		buf_addstr(out, "an IPv4 or IPv6 address", NULL);
	else if (v->flags & CFG_WORD)
		buf_addstr(out, "a non-empty value without whitespace", NULL);
	else if (v->flags & CFG_TEXT)
		buf_addstr(out, "printable text of at most 512 bytes, no control characters", NULL);
	else
		buf_addstr(out, "a non-empty value", NULL);
}

/* Parse one value into cfg; -1 if it is not acceptable. */
static int set_value(const struct cfg_var *v, const char *s, struct config *cfg)
{
	void *dst = (char *)cfg + v->offset;
	long long n;
	double d;
	size_t i;

	switch (v->type) {
	case CFG_INT:
		if (!*s && (v->flags & CFG_OPTIONAL)) {
			*(int *)dst = 0;
			return 0;
		}
		if (config_parse_int(s, (long long)v->min, (long long)v->max, &n))
			return -1;
		*(int *)dst = (int)n;
		return 0;
	case CFG_DOUBLE:
		if (config_parse_double(s, v->min, v->max, &d))
			return -1;
		*(double *)dst = d;
		return 0;
	case CFG_ENUM:
		for (i = 0; v->words[i]; i++) {
			if (!strcmp(s, v->words[i])) {
				*(int *)dst = (int)i;
				return 0;
			}
		}
		return -1;
	case CFG_STR:
		break;
	}
	if ((v->flags & CFG_WORD) && has_space_or_ctl(s))
		return -1;
	if ((v->flags & CFG_TEXT) && (has_ctl(s) || strlen(s) > 512))
		return -1;
	if ((v->flags & CFG_DB_URL) && !valid_db_url(s))
		return -1;
	if ((v->flags & CFG_NETWORK) && !valid_network(s))
		return -1;
	if ((v->flags & CFG_IP) && !valid_ip(s))
		return -1;
	free(*(char **)dst);
	*(char **)dst = xstrdup(s);
	return 0;
}

static const char *lookup(char *const *envp, const char *name)
{
	size_t n = strlen(name);

	for (; envp && *envp; envp++)
		if (!strncmp(*envp, name, n) && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

static void report(struct strvec *errors, const struct cfg_var *v,
		   const char *value, const char *origin)
{
	struct buf why = BUF_INIT;

	describe(v, &why);
	if (v->flags & CFG_SECRET)
		strvec_pushf(errors, "config: %s (from %s): expected %s",
			     v->name, origin, why.data);
	else
		strvec_pushf(errors, "config: %s='%s' (from %s): expected %s",
			     v->name, value, origin, why.data);
	buf_release(&why);
}

static int read_dotenv(const char *path, struct strvec *kv,
		       struct strvec *errors)
{
	struct buf text = BUF_INIT;
	struct err e = ERR_INIT;
	char chunk[4096];
	FILE *f;
	size_t n;
	int rc = 0;

	if (!path || !(f = fopen(path, "r"))) {
		if (path && errno != ENOENT) {
			strvec_pushf(errors, "config: cannot read '%s': %s", path,
				     strerror(errno));
			return -1;
		}
		return 0;
	}
	text.max = DOTENV_MAX;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && !rc)
		rc = buf_add(&text, chunk, n, &e);
	if (ferror(f) && !rc)
		rc = err_set_errno(&e, ERR_UNAVAILABLE, errno, "read error");
	fclose(f);
	if (!rc)
		rc = config_parse_dotenv(text.data, text.len, kv, &e);
	if (rc)
		strvec_pushf(errors, "config: %s: %s", path, e.msg);
	buf_release(&text);
	return rc;
}

static void default_worker_id(struct config *cfg)
{
	struct buf id = BUF_INIT;
	char host[256];

	if (gethostname(host, sizeof(host)) || !host[0])
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	buf_addf(&id, NULL, "%s:%ld", host, (long)getpid());
	free(cfg->worker_id);
	cfg->worker_id = buf_detach(&id, NULL);
}

/*
 * The host network gives a scan the host's own network: its loopback
 * services, its addresses, everything the egress network refuses. Only
 * with CONTAINER_ALLOW_HOST_NETWORK=1 (tests, the demo).
 */
static void check_host_network(const struct config *cfg, struct strvec *errors)
{
	if (!strcmp(cfg->container_network_mode, "host") &&
	    !cfg->container_allow_host_network)
		strvec_pushf(errors, "config: CONTAINER_NETWORK_MODE='host' needs "
			     "CONTAINER_ALLOW_HOST_NETWORK=1 (tests and demos only: "
			     "scans would reach the host's own services); expected "
			     "bridge, none or a network name");
}

/* "host:port[,host:port...]", each port 1..65535. */
static int node_list_ok(const char *s)
{
	while (*s) {
		const char *end = strchr(s, ','), *colon;
		size_t len = end ? (size_t)(end - s) : strlen(s), i;

		colon = memrchr(s, ':', len);
		if (!colon || colon == s || colon + 1 == s + len ||
		    s + len - colon - 1 > 5)
			return 0;
		for (i = 1; colon + i < s + len; i++)
			if (!isdigit((unsigned char)colon[i]))
				return 0;
		if (strtol(colon + 1, NULL, 10) < 1 ||
		    strtol(colon + 1, NULL, 10) > 65535)
			return 0;
		s += len;
		if (*s == ',' && !*++s)
			return 0;
	}
	return 1;
}

/*
 * The Redis deployment's shape: Sentinel needs its master's name, Cluster
 * a prefix whose {hash tag} puts every queue key in one slot (BullMQ's
 * rule), the two exclude each other, TLS files only with REDIS_TLS=1.
 */
static void check_redis(const struct config *cfg, struct strvec *errors)
{
	const char *tag = strchr(cfg->bullmq_prefix, '{');

	if (*cfg->redis_sentinels && !node_list_ok(cfg->redis_sentinels))
		strvec_pushf(errors, "config: REDIS_SENTINELS='%s': expected "
			     "host:port[,host:port...]", cfg->redis_sentinels);
	if (*cfg->redis_cluster_nodes && !node_list_ok(cfg->redis_cluster_nodes))
		strvec_pushf(errors, "config: REDIS_CLUSTER_NODES='%s': "
			     "expected host:port[,host:port...]",
			     cfg->redis_cluster_nodes);
	if (*cfg->redis_sentinels && !*cfg->redis_sentinel_master)
		strvec_pushf(errors, "config: REDIS_SENTINEL_MASTER='': "
			     "expected the master's name the sentinels "
			     "monitor (REDIS_SENTINELS is set)");
	if (*cfg->redis_sentinels && *cfg->redis_cluster_nodes)
		strvec_pushf(errors, "config: REDIS_SENTINELS and "
			     "REDIS_CLUSTER_NODES: expected one of them, not "
			     "both");
	if (*cfg->redis_cluster_nodes &&
	    (!tag || !strchr(tag + 1, '}') || strchr(tag + 1, '}') == tag + 1))
		strvec_pushf(errors, "config: BULLMQ_PREFIX='%s': expected a "
			     "{hash tag} such as '{bull}' with Redis Cluster "
			     "(REDIS_CLUSTER_NODES is set), so that every key "
			     "of the queue lives in one slot",
			     cfg->bullmq_prefix);
	if (!cfg->redis_tls && (*cfg->redis_tls_ca_file ||
				*cfg->redis_tls_cert_file ||
				*cfg->redis_tls_key_file))
		strvec_pushf(errors, "config: REDIS_TLS='0': the REDIS_TLS_*_FILE "
			     "variables are set; expected REDIS_TLS=1 with them");
	if (!*cfg->redis_tls_cert_file != !*cfg->redis_tls_key_file)
		strvec_pushf(errors, "config: REDIS_TLS_CERT_FILE and "
			     "REDIS_TLS_KEY_FILE: expected both set (a client "
			     "certificate) or both empty");
}

int config_load(struct config *cfg, char *const *envp, const char *dotenv_path,
		struct strvec *errors)
{
	struct strvec dotenv = STRVEC_INIT;
	size_t i, before = errors->nr;

	memset(cfg, 0, sizeof(*cfg));
	read_dotenv(dotenv_path, &dotenv, errors);
	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const struct cfg_var *v = &vars[i];
		const char *origin = "environment";
		const char *s = lookup(envp, v->name);

		/*
		 * An empty environment value counts as unset: it does not
		 * blank a value .env gives (an empty `VAR=` left in a
		 * container's or unit's environment is a common accident;
		 * to use the default, remove the line from .env).
		 */
		if (!s || !*s) {
			s = NULL;
			/* later assignments in .env win, as in a shell */
			size_t j = dotenv.nr, n = strlen(v->name);

			while (j-- > 0 && !s)
				if (!strncmp(dotenv.items[j], v->name, n) &&
				    dotenv.items[j][n] == '=')
					s = dotenv.items[j] + n + 1;
			origin = ".env";
		}
		if (!s || !*s) {
			s = v->def;
			origin = "default";
		}
		cfg->origin[i] = origin;
		if (set_value(v, s, cfg)) {
			report(errors, v, s, origin);
			set_value(v, v->def, cfg);
		}
	}
	if (!cfg->worker_limiter_max != !cfg->worker_limiter_duration_ms)
		strvec_pushf(errors, "config: WORKER_LIMITER_MAX and "
			     "WORKER_LIMITER_DURATION_MS: expected both set "
			     "(BullMQ's limiter {max, duration}) or both empty");
	if (!*cfg->worker_id)
		default_worker_id(cfg);
	check_host_network(cfg, errors);
	check_redis(cfg, errors);
	strvec_clear(&dotenv);
	return errors->nr > before ? -1 : 0;
}

void config_release(struct config *cfg)
{
	size_t i;

	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		if (vars[i].type == CFG_STR) {
			char **p = (char **)((char *)cfg + vars[i].offset);

			free(*p);
			*p = NULL;
		}
	}
}

_Static_assert(sizeof(vars) / sizeof(vars[0]) <=
	       sizeof(((struct config *)0)->origin) /
	       sizeof(((struct config *)0)->origin[0]),
	       "struct config's origin[] must have a slot per variable");

/* Values that differ per process when left at their default. */
static int per_process(const struct cfg_var *v)
{
	return !strcmp(v->name, "WORKER_ID");
}

static void dump(const struct config *cfg, struct buf *out, int origins)
{
	size_t i;

	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const struct cfg_var *v = &vars[i];
		const void *src = (const char *)cfg + v->offset;
		const char *origin = cfg->origin[i] ? cfg->origin[i] : "default";

		if (origins && per_process(v) && !strcmp(origin, "default"))
			continue;

		buf_addf(out, NULL, "%s=", v->name);
		switch (v->type) {
		case CFG_INT:
			if (*(const int *)src || !(v->flags & CFG_OPTIONAL))
				buf_addf(out, NULL, "%d", *(const int *)src);
			break;
		case CFG_DOUBLE:
			buf_addf(out, NULL, "%g", *(const double *)src);
			break;
		case CFG_ENUM:
			buf_addstr(out, v->words[*(const int *)src], NULL);
			break;
		case CFG_STR:
			if ((v->flags & CFG_SECRET) && **(char *const *)src)
				buf_addstr(out, "<redacted>", NULL);
			else
				buf_addstr(out, *(char *const *)src, NULL);
			break;
		}
		if (origins)
			buf_addf(out, NULL, "  # %s", origin);
		buf_addch(out, '\n', NULL);
	}
}

void config_dump(const struct config *cfg, struct buf *out)
{
	dump(cfg, out, 0);
}

void config_dump_origins(const struct config *cfg, struct buf *out)
{
	dump(cfg, out, 1);
}

/* ---- .env parsing ---- */

struct cursor {
	const char *p, *end;
	int line;
};

static int at_end(const struct cursor *c)
{
	return c->p >= c->end;
}

static void skip_blanks(struct cursor *c)
{
	while (!at_end(c) && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
}

static void skip_line(struct cursor *c)
{
	while (!at_end(c) && *c->p != '\n')
		c->p++;
	if (!at_end(c)) {
		c->p++;
		c->line++;
	}
}

/* After a value: only blanks, an optional comment, then end of line. */
static int finish_line(struct cursor *c, struct err *e)
{
	skip_blanks(c);
	if (!at_end(c) && *c->p == '\r')
		c->p++;
	if (!at_end(c) && *c->p == '#') {
		skip_line(c);
		return 0;
	}
	if (!at_end(c) && *c->p != '\n')
		return err_set(e, ERR_INVALID,
			       "line %d: unexpected text after the value", c->line);
	skip_line(c);
	return 0;
}

static int parse_quoted(struct cursor *c, char quote, struct buf *val,
			struct err *e)
{
	static const char escapes[] = "n\nt\tr\r\"\"\\\\$$";
	int start = c->line;

	c->p++;
	while (!at_end(c) && *c->p != quote) {
		char ch = *c->p++;
		const char *esc;

		if (ch == '\n')
			c->line++;
		if (quote == '"' && ch == '\\' && !at_end(c) &&
		    (esc = strchr(escapes, *c->p)) && (esc - escapes) % 2 == 0) {
			ch = esc[1];
			c->p++;
		}
		buf_addch(val, ch, NULL);
	}
	if (at_end(c))
		return err_set(e, ERR_INVALID,
			       "line %d: unterminated %s-quoted value", start,
			       quote == '"' ? "double" : "single");
	c->p++;
	return finish_line(c, e);
}

static void parse_bare(struct cursor *c, struct buf *val)
{
	const char *start = c->p, *stop;

	while (!at_end(c) && *c->p != '\n') {
		if (*c->p == '#' && c->p > start &&
		    (c->p[-1] == ' ' || c->p[-1] == '\t'))
			break;
		c->p++;
	}
	stop = c->p;
	while (stop > start && isspace((unsigned char)stop[-1]))
		stop--;
	buf_add(val, start, (size_t)(stop - start), NULL);
	skip_line(c);
}

static int parse_assignment(struct cursor *c, struct strvec *out,
			    struct err *e)
{
	struct buf val = BUF_INIT;
	const char *key;
	size_t keylen;
	int rc = 0;

	if ((size_t)(c->end - c->p) > 7 && !strncmp(c->p, "export", 6) &&
	    (c->p[6] == ' ' || c->p[6] == '\t')) {
		c->p += 6;
		skip_blanks(c);
	}
	key = c->p;
	if (at_end(c) || !(isalpha((unsigned char)*c->p) || *c->p == '_'))
		return err_set(e, ERR_INVALID,
			       "line %d: expected NAME=value", c->line);
	while (!at_end(c) && (isalnum((unsigned char)*c->p) || *c->p == '_'))
		c->p++;
	keylen = (size_t)(c->p - key);
	skip_blanks(c);
	if (at_end(c) || *c->p != '=')
		return err_set(e, ERR_INVALID,
			       "line %d: expected '=' after '%.*s'", c->line,
			       (int)(keylen > 64 ? 64 : keylen), key);
	c->p++;
	skip_blanks(c);
	if (!at_end(c) && (*c->p == '"' || *c->p == '\''))
		rc = parse_quoted(c, *c->p, &val, e);
	else
		parse_bare(c, &val);
	if (!rc)
		strvec_pushf(out, "%.*s=%s", (int)keylen, key, val.data);
	buf_release(&val);
	return rc;
}

int config_parse_dotenv(const char *text, size_t len, struct strvec *out,
			struct err *e)
{
	struct cursor c = { text, text + len, 1 };

	while (!at_end(&c)) {
		while (!at_end(&c) && isspace((unsigned char)*c.p)) {
			if (*c.p == '\n')
				c.line++;
			c.p++;
		}
		if (at_end(&c))
			break;
		if (*c.p == '#') {
			skip_line(&c);
			continue;
		}
		if (parse_assignment(&c, out, e))
			return -1;
	}
	return 0;
}
