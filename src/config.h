/*
 * config - the worker's settings: one table, one struct, loaded once.
 *
 * Sources, strongest first: the process environment, a .env file, the
 * defaults. Every value is validated; all bad ones are reported together,
 * one line each naming the variable, the value (secrets masked) and what is
 * accepted, and the program then exits 78 (EX_CONFIG). After loading, the
 * struct is passed around as `const struct config *` and never changes.
 */
#ifndef SAFEURL_CONFIG_H
#define SAFEURL_CONFIG_H

#include "log.h"

struct buf;
struct err;
struct strvec;

struct config {
	char *turso_url;
	char *turso_auth_token;
	char *redis_host;
	int redis_port;
	char *redis_password;
	char *redis_username;          /* ACL user, "" = default user */
	char *redis_sentinels;         /* "host:port,...", "" = no Sentinel */
	char *redis_sentinel_master;
	char *redis_sentinel_password;
	char *redis_cluster_nodes;     /* "host:port,...", "" = no Cluster */
	int redis_tls;                 /* 1: TLS to Redis */
	char *redis_tls_ca_file;
	char *redis_tls_cert_file;
	char *redis_tls_key_file;
	char *docker_socket;
	char *fetcher_image;
	int container_runtime;   /* enum runtime_kind: 0 docker, 1 sandbox */
	char *fetcher_rootfs;
	char *fetcher_entrypoint;
	int worker_concurrency;
	int container_timeout_ms;
	int container_memory_mb;
	double container_cpu_limit;
	char *queue_name;
	char *bullmq_prefix;
	char *worker_id;
	enum log_level log_level;
	enum log_format log_format;
	char *container_network_mode;
	int container_allow_host_network; /* 1: CONTAINER_NETWORK_MODE=host allowed */
	int shutdown_grace_ms;
	int reconcile_interval_ms; /* QUEUED rows without a job; 0 = off */
	int engine_timeout_ms;   /* bound on creating + starting one container */
	int infra_retry_max_ms;  /* infrastructure faults delay a scan at most this long */
	int health_port; /* 0 = off */
	char *health_addr;
	int fetcher_max_output_bytes;
	char *fetcher_args;
	char *fetcher_user_agent; /* FETCHER_USER_AGENT, passed as --user-agent */
	char *fetcher_yara_rules; /* FETCHER_YARA_RULES, "" = none; passed as
				     --yara-rules (a path inside the fetcher's root) */
	int db_busy_timeout_ms;
	int db_retry_attempts;
	int db_retry_max_ms;
	int worker_limiter_max;         /* 0 = no worker limiter */
	int worker_limiter_duration_ms; /* set with worker_limiter_max */
	int worker_metrics_max_points;  /* BullMQ's metrics.maxDataPoints, 0 = off */
	int retention_days; /* 0 = keep every scan */
	/* Where each variable's value came from, by its row in the table:
	 * "environment", ".env" or "default" (static strings). */
	const char *origin[64];
};

/*
 * Load cfg from envp (NULL-terminated "NAME=value" strings, borrowed) over
 * the .env file at dotenv_path (NULL or a missing file: none) over the
 * defaults. On failure returns -1 and pushes one line per problem onto
 * errors; cfg then holds defaults where values were bad. Either way,
 * release cfg with config_release().
 */
int config_load(struct config *cfg, char *const *envp, const char *dotenv_path,
		struct strvec *errors);
void config_release(struct config *cfg);

/* Append "NAME=value" lines of the effective settings, secrets masked. */
void config_dump(const struct config *cfg, struct buf *out);
/*
 * The same for `safeurl config`: each line followed by "  # " and where
 * the value came from (environment, .env, default); values that differ
 * per process (WORKER_ID when not set) are left out.
 */
void config_dump_origins(const struct config *cfg, struct buf *out);

/*
 * Pure .env parser: pushes each "NAME=value" assignment of text onto out,
 * in order. Handles comments, blank lines, `export ` prefixes, single
 * quotes (literal), double quotes (\n \t \r \" \\ \$ escapes; may span
 * lines), inline comments after unquoted values, CRLF. On a malformed line
 * returns -1 with an error naming the line number.
 */
int config_parse_dotenv(const char *text, size_t len, struct strvec *out,
			struct err *e);

/* Strict parsers shared with other modules: whole string, base 10. */
int config_parse_int(const char *s, long long min, long long max,
		     long long *out);
int config_parse_double(const char *s, double min, double max, double *out);

#endif
