/* test_config.c - the variable table, validation and the .env parser. */
#include "fmacros.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "buf.h"
#include "config.h"
#include "err.h"
#include "strvec.h"

/* Load with the given NULL-terminated env; returns the number of errors. */
static size_t load(struct config *cfg, const char **env, const char *dotenv,
		   struct strvec *errors)
{
	config_load(cfg, (char *const *)(void *)env, dotenv, errors);
	return errors->nr;
}

static void test_defaults(void **state)
{
	const char *env[] = { NULL };
	struct strvec errors = STRVEC_INIT;
	struct config cfg;
	char host[256], prefix[300];

	(void)state;
	assert_int_equal(load(&cfg, env, NULL, &errors), 0);
	assert_string_equal(cfg.turso_url, "file:./local.db");
	assert_string_equal(cfg.turso_auth_token, "");
	assert_string_equal(cfg.redis_host, "localhost");
	assert_int_equal(cfg.redis_port, 6379);
	assert_string_equal(cfg.redis_password, "");
	assert_string_equal(cfg.docker_socket, "/var/run/docker.sock");
	assert_string_equal(cfg.fetcher_image, "safeurl-fetcher:latest");
	assert_int_equal(cfg.worker_concurrency, 5);
	assert_int_equal(cfg.container_timeout_ms, 30000);
	assert_int_equal(cfg.container_memory_mb, 512);
	assert_true(cfg.container_cpu_limit == 0.5);
	assert_string_equal(cfg.queue_name, "scan-jobs");
	assert_string_equal(cfg.bullmq_prefix, "bull");
	assert_int_equal(cfg.log_level, LOG_INFO);
	assert_int_equal(cfg.log_format, LOG_FORMAT_JSON);
	assert_string_equal(cfg.container_network_mode, "bridge");
	assert_int_equal(cfg.shutdown_grace_ms, 30000);
	assert_int_equal(cfg.health_port, 0);
	assert_string_equal(cfg.health_addr, "127.0.0.1");
	assert_int_equal(cfg.fetcher_max_output_bytes, 1048576);
	assert_non_null(strstr(cfg.fetcher_user_agent, "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"));
	assert_non_null(strstr(cfg.fetcher_user_agent, " Chrome/"));
	gethostname(host, sizeof(host));
	snprintf(prefix, sizeof(prefix), "%s:%ld", host, (long)getpid());
	assert_string_equal(cfg.worker_id, prefix);
	config_release(&cfg);
	strvec_clear(&errors);
}

static void test_valid_values(void **state)
{
	const char *env[] = {
		"TURSO_CONNECTION_URL=libsql://db.example.turso.io",
		"REDIS_PORT=65535", "WORKER_CONCURRENCY=1024",
		"CONTAINER_CPU_LIMIT=0.01", "LOG_LEVEL=debug", "LOG_FORMAT=text",
		"CONTAINER_NETWORK_MODE=scan-net_1.a", "HEALTH_PORT=1", "HEALTH_ADDR=::1",
		"SHUTDOWN_GRACE_MS=0", "WORKER_ID=w-1", "BULLMQ_PREFIX={bull}",
		"FETCHER_MAX_OUTPUT_BYTES=4096", NULL
	};
	struct strvec errors = STRVEC_INIT;
	struct config cfg;

	(void)state;
	assert_int_equal(load(&cfg, env, NULL, &errors), 0);
	assert_string_equal(cfg.turso_url, "libsql://db.example.turso.io");
	assert_int_equal(cfg.redis_port, 65535);
	assert_int_equal(cfg.worker_concurrency, 1024);
	assert_true(cfg.container_cpu_limit == 0.01);
	assert_int_equal(cfg.log_level, LOG_DEBUG);
	assert_int_equal(cfg.log_format, LOG_FORMAT_TEXT);
	assert_string_equal(cfg.container_network_mode, "scan-net_1.a");
	assert_int_equal(cfg.health_port, 1);
	assert_string_equal(cfg.health_addr, "::1");
	assert_int_equal(cfg.shutdown_grace_ms, 0);
	assert_string_equal(cfg.worker_id, "w-1");
	assert_string_equal(cfg.bullmq_prefix, "{bull}");
	assert_int_equal(cfg.fetcher_max_output_bytes, 4096);
	config_release(&cfg);
	strvec_clear(&errors);
}

/* Each bad value is reported on its own line naming variable and value. */
static const struct bad_case {
	const char *assignment, *expect;
} bad_cases[] = {
	{ "TURSO_CONNECTION_URL=ftp://x", "expected a URL starting with file:" },
	{ "TURSO_CONNECTION_URL=file:", "TURSO_CONNECTION_URL='file:'" },
	{ "TURSO_CONNECTION_URL=https://", "TURSO_CONNECTION_URL='https://'" },
	{ "TURSO_CONNECTION_URL=./local.db", "TURSO_CONNECTION_URL='./local.db'" },
	{ "REDIS_HOST=a b", "REDIS_HOST='a b'" },
	{ "REDIS_PORT=0", "REDIS_PORT='0' (from environment): expected an integer 1..65535" },
	{ "REDIS_PORT=65536", "REDIS_PORT='65536'" },
	{ "REDIS_PORT=6379x", "REDIS_PORT='6379x'" },
	{ "REDIS_PORT= 6379", "REDIS_PORT=' 6379'" },
	{ "REDIS_PORT=+1", "REDIS_PORT='+1'" },
	{ "REDIS_PORT=0x10", "REDIS_PORT='0x10'" },
	{ "FETCHER_IMAGE=my image", "FETCHER_IMAGE='my image'" },
	{ "WORKER_CONCURRENCY=abc", "WORKER_CONCURRENCY='abc' (from environment): expected an integer 1..1024" },
	{ "WORKER_CONCURRENCY=0", "WORKER_CONCURRENCY='0'" },
	{ "WORKER_CONCURRENCY=1025", "WORKER_CONCURRENCY='1025'" },
	{ "WORKER_CONCURRENCY=99999999999999999999", "WORKER_CONCURRENCY='99999999999999999999'" },
	{ "WORKER_CONCURRENCY=1.5", "WORKER_CONCURRENCY='1.5'" },
	{ "CONTAINER_TIMEOUT_MS=999", "expected an integer 1000..3600000" },
	{ "CONTAINER_TIMEOUT_MS=3600001", "CONTAINER_TIMEOUT_MS='3600001'" },
	{ "CONTAINER_MEMORY_LIMIT_MB=15", "expected an integer 16..65536" },
	{ "CONTAINER_MEMORY_LIMIT_MB=65537", "CONTAINER_MEMORY_LIMIT_MB='65537'" },
	{ "CONTAINER_CPU_LIMIT=0.009", "expected a number 0.01..64" },
	{ "CONTAINER_CPU_LIMIT=65", "CONTAINER_CPU_LIMIT='65'" },
	{ "CONTAINER_CPU_LIMIT=nan", "CONTAINER_CPU_LIMIT='nan'" },
	{ "CONTAINER_CPU_LIMIT=inf", "CONTAINER_CPU_LIMIT='inf'" },
	{ "CONTAINER_CPU_LIMIT=1e1000", "CONTAINER_CPU_LIMIT='1e1000'" },
	{ "CONTAINER_CPU_LIMIT=0.5cpu", "CONTAINER_CPU_LIMIT='0.5cpu'" },
	{ "QUEUE_NAME=a\tb", "QUEUE_NAME='a\tb'" },
	{ "WORKER_ID=has space", "WORKER_ID='has space'" },
	{ "LOG_LEVEL=verbose", "expected one of debug, info, warn, error" },
	{ "LOG_LEVEL=INFO", "LOG_LEVEL='INFO'" },
	{ "LOG_FORMAT=xml", "expected one of json, text" },
	{ "CONTAINER_NETWORK_MODE=-bad", "CONTAINER_NETWORK_MODE='-bad'" },
	{ "CONTAINER_NETWORK_MODE=container:abc", "CONTAINER_NETWORK_MODE='container:abc'" },
	{ "CONTAINER_NETWORK_MODE=host", "CONTAINER_NETWORK_MODE='host' needs CONTAINER_ALLOW_HOST_NETWORK=1" },
	{ "CONTAINER_ALLOW_HOST_NETWORK=yes", "CONTAINER_ALLOW_HOST_NETWORK='yes' (from environment): expected one of 0, 1" },
	{ "SHUTDOWN_GRACE_MS=-1", "expected an integer 0..3600000" },
	{ "SHUTDOWN_GRACE_MS=3600001", "SHUTDOWN_GRACE_MS='3600001'" },
	{ "HEALTH_PORT=0", "expected an integer 1..65535 or empty for off" },
	{ "HEALTH_PORT=70000", "HEALTH_PORT='70000'" },
	{ "HEALTH_ADDR=localhost", "HEALTH_ADDR='localhost' (from environment): expected an IPv4 or IPv6 address" },
	{ "HEALTH_ADDR=1.2.3.256", "HEALTH_ADDR='1.2.3.256'" },
	{ "FETCHER_MAX_OUTPUT_BYTES=4095", "expected an integer 4096..67108864" },
	{ "FETCHER_MAX_OUTPUT_BYTES=67108865", "FETCHER_MAX_OUTPUT_BYTES='67108865'" },
	{ "FETCHER_USER_AGENT=a\rX-Injected: 1", "expected printable text of at most 512 bytes, no control characters" },
};

static void test_bad_values(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const char *env[] = { bad_cases[i].assignment, NULL };
		struct strvec errors = STRVEC_INIT;
		struct config cfg;

		if (load(&cfg, env, NULL, &errors) != 1 ||
		    !strstr(errors.items[0], bad_cases[i].expect))
			fail_msg("%s: got '%s'", bad_cases[i].assignment,
				 errors.nr ? errors.items[0] : "(no error)");
		assert_true(!strncmp(errors.items[0], "config: ", 8));
		config_release(&cfg);
		strvec_clear(&errors);
	}
}

/* host network: refused by default, taken with the explicit allowance. */
static void test_host_network(void **state)
{
	const char *allowed[] = { "CONTAINER_NETWORK_MODE=host",
				  "CONTAINER_ALLOW_HOST_NETWORK=1", NULL };
	const char *refused[] = { "CONTAINER_NETWORK_MODE=host",
				  "CONTAINER_ALLOW_HOST_NETWORK=0", NULL };
	struct strvec errors = STRVEC_INIT;
	struct config cfg;

	(void)state;
	assert_int_equal(load(&cfg, allowed, NULL, &errors), 0);
	assert_string_equal(cfg.container_network_mode, "host");
	assert_int_equal(cfg.container_allow_host_network, 1);
	config_release(&cfg);
	assert_int_equal(load(&cfg, refused, NULL, &errors), 1);
	assert_non_null(strstr(errors.items[0], "needs CONTAINER_ALLOW_HOST_NETWORK=1"));
	config_release(&cfg);
	strvec_clear(&errors);
}

/* BullMQ's limiter {max, duration}: both or neither. */
static void test_limiter_pair(void **state)
{
	const char *both[] = { "WORKER_LIMITER_MAX=3",
			       "WORKER_LIMITER_DURATION_MS=1000", NULL };
	const char *half[] = { "WORKER_LIMITER_MAX=3", NULL };
	const char *zero[] = { "WORKER_LIMITER_MAX=0",
			       "WORKER_LIMITER_DURATION_MS=1000", NULL };
	struct strvec errors = STRVEC_INIT;
	struct config cfg;

	(void)state;
	assert_int_equal(load(&cfg, both, NULL, &errors), 0);
	assert_int_equal(cfg.worker_limiter_max, 3);
	assert_int_equal(cfg.worker_limiter_duration_ms, 1000);
	config_release(&cfg);
	assert_int_equal(load(&cfg, half, NULL, &errors), 1);
	assert_non_null(strstr(errors.items[0], "config: WORKER_LIMITER_MAX and WORKER_LIMITER_DURATION_MS: expected both set"));
	config_release(&cfg);
	strvec_clear(&errors);
	/* 0 is out of range (1..1000000): one line for it; the default (off)
	 * then leaves a lone duration, a second line */
	assert_int_equal(load(&cfg, zero, NULL, &errors), 2);
	assert_non_null(strstr(errors.items[0], "WORKER_LIMITER_MAX='0'"));
	config_release(&cfg);
	strvec_clear(&errors);
}

/* The Redis deployment's shape: Sentinel needs a master name, Cluster a
 * {hash tag} prefix, not both; node lists; TLS files need REDIS_TLS=1. */
static void test_redis_shape(void **state)
{
	const char *sentinel[] = { "REDIS_SENTINELS=127.0.0.1:26379,h:26380",
				   "REDIS_SENTINEL_MASTER=mymaster", NULL };
	const char *nomaster[] = { "REDIS_SENTINELS=127.0.0.1:26379", NULL };
	const char *cluster[] = { "REDIS_CLUSTER_NODES=h:7000",
				  "BULLMQ_PREFIX={scan}", NULL };
	const char *notag[] = { "REDIS_CLUSTER_NODES=h:7000", NULL };
	const char *emptytag[] = { "REDIS_CLUSTER_NODES=h:7000",
				   "BULLMQ_PREFIX={}x", NULL };
	const char *badlist[] = { "REDIS_CLUSTER_NODES=h:70000",
				  "BULLMQ_PREFIX={scan}", NULL };
	const char *both[] = { "REDIS_SENTINELS=h:1", "REDIS_SENTINEL_MASTER=m",
			       "REDIS_CLUSTER_NODES=h:2", "BULLMQ_PREFIX={q}",
			       NULL };
	const char *tlsoff[] = { "REDIS_TLS_CA_FILE=/ca.pem", NULL };
	const char *halfcert[] = { "REDIS_TLS=1", "REDIS_TLS_CERT_FILE=/c.pem",
				   NULL };
	struct strvec errors = STRVEC_INIT;
	struct config cfg;

	(void)state;
	assert_int_equal(load(&cfg, sentinel, NULL, &errors), 0);
	assert_string_equal(cfg.redis_sentinel_master, "mymaster");
	config_release(&cfg);
	assert_int_equal(load(&cfg, cluster, NULL, &errors), 0);
	config_release(&cfg);
	assert_int_equal(load(&cfg, nomaster, NULL, &errors), 1);
	assert_non_null(strstr(errors.items[0], "REDIS_SENTINEL_MASTER=''"));
	config_release(&cfg);
	strvec_clear(&errors);
	assert_int_equal(load(&cfg, notag, NULL, &errors), 1);
	assert_non_null(strstr(errors.items[0], "BULLMQ_PREFIX='bull': expected a {hash tag}"));
	config_release(&cfg);
	strvec_clear(&errors);
	assert_int_equal(load(&cfg, emptytag, NULL, &errors), 1);
	config_release(&cfg);
	strvec_clear(&errors);
	assert_int_equal(load(&cfg, badlist, NULL, &errors), 1);
	assert_non_null(strstr(errors.items[0], "REDIS_CLUSTER_NODES='h:70000'"));
	config_release(&cfg);
	strvec_clear(&errors);
	assert_int_equal(load(&cfg, both, NULL, &errors), 1);
	config_release(&cfg);
	strvec_clear(&errors);
	assert_int_equal(load(&cfg, tlsoff, NULL, &errors), 1);
	assert_non_null(strstr(errors.items[0], "REDIS_TLS='0'"));
	config_release(&cfg);
	strvec_clear(&errors);
	assert_int_equal(load(&cfg, halfcert, NULL, &errors), 1);
	assert_non_null(strstr(errors.items[0], "REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE"));
	config_release(&cfg);
	strvec_clear(&errors);
}

static void test_all_errors_reported(void **state)
{
	const char *env[] = { "REDIS_PORT=x", "LOG_LEVEL=x", "HEALTH_PORT=x",
			      NULL };
	struct strvec errors = STRVEC_INIT;
	struct config cfg;

	(void)state;
	assert_int_equal(load(&cfg, env, NULL, &errors), 3);
	/* bad values fall back to defaults, so cfg is still usable */
	assert_int_equal(cfg.redis_port, 6379);
	config_release(&cfg);
	strvec_clear(&errors);
}

static void test_empty_means_default(void **state)
{
	const char *env[] = { "WORKER_CONCURRENCY=", "REDIS_HOST=",
			      "HEALTH_PORT=", NULL };
	struct strvec errors = STRVEC_INIT;
	struct config cfg;

	(void)state;
	assert_int_equal(load(&cfg, env, NULL, &errors), 0);
	assert_int_equal(cfg.worker_concurrency, 5);
	assert_string_equal(cfg.redis_host, "localhost");
	assert_int_equal(cfg.health_port, 0);
	config_release(&cfg);
	strvec_clear(&errors);
}

/*
 * An empty environment value does not blank a .env value; each value's
 * origin is shown by config_dump_origins, which leaves out the
 * per-process default WORKER_ID.
 */
static char *write_temp(const char *text);

static void test_empty_env_keeps_dotenv(void **state)
{
	const char *env[] = { "QUEUE_NAME=", "REDIS_HOST=from-env", NULL };
	struct strvec errors = STRVEC_INIT;
	struct buf dump = BUF_INIT;
	struct config cfg;
	char *path = write_temp("QUEUE_NAME=from-dotenv\nREDIS_PORT=7000\n");

	(void)state;
	assert_int_equal(load(&cfg, env, path, &errors), 0);
	assert_string_equal(cfg.queue_name, "from-dotenv");
	config_dump_origins(&cfg, &dump);
	assert_non_null(strstr(dump.data, "QUEUE_NAME=from-dotenv  # .env\n"));
	assert_non_null(strstr(dump.data, "REDIS_HOST=from-env  # environment\n"));
	assert_non_null(strstr(dump.data, "REDIS_PORT=7000  # .env\n"));
	assert_non_null(strstr(dump.data, "WORKER_CONCURRENCY=5  # default\n"));
	assert_null(strstr(dump.data, "WORKER_ID="));
	buf_release(&dump);
	config_release(&cfg);
	strvec_clear(&errors);
	unlink(path);
	free(path);
}

static void test_secret_never_printed(void **state)
{
	const char *env[] = { "REDIS_PASSWORD=hunter2", "TURSO_AUTH_TOKEN=tok9",
			      NULL };
	struct strvec errors = STRVEC_INIT;
	struct buf dump = BUF_INIT;
	struct config cfg;

	(void)state;
	assert_int_equal(load(&cfg, env, NULL, &errors), 0);
	assert_string_equal(cfg.redis_password, "hunter2");
	config_dump(&cfg, &dump);
	assert_null(strstr(dump.data, "hunter2"));
	assert_null(strstr(dump.data, "tok9"));
	assert_non_null(strstr(dump.data, "REDIS_PASSWORD=<redacted>\n"));
	assert_non_null(strstr(dump.data, "TURSO_AUTH_TOKEN=<redacted>\n"));
	assert_non_null(strstr(dump.data, "WORKER_CONCURRENCY=5\n"));
	buf_release(&dump);
	config_release(&cfg);
	strvec_clear(&errors);
}

static char *write_temp(const char *text)
{
	char *path = strdup("/tmp/safeurl-dotenv.XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_dotenv_precedence(void **state)
{
	char *path = write_temp("WORKER_CONCURRENCY=9\nQUEUE_NAME=dot\n"
				"QUEUE_NAME=dot-later\nLOG_LEVEL=warn\n");
	const char *env[] = { "LOG_LEVEL=error", NULL };
	struct strvec errors = STRVEC_INIT;
	struct config cfg;

	(void)state;
	assert_int_equal(load(&cfg, env, path, &errors), 0);
	assert_int_equal(cfg.worker_concurrency, 9);
	assert_string_equal(cfg.queue_name, "dot-later");
	assert_int_equal(cfg.log_level, LOG_ERROR);
	config_release(&cfg);
	strvec_clear(&errors);
	unlink(path);
	free(path);
}

static void test_dotenv_bad_value_names_origin(void **state)
{
	char *path = write_temp("REDIS_PORT=abc\n");
	const char *env[] = { NULL };
	struct strvec errors = STRVEC_INIT;
	struct config cfg;

	(void)state;
	assert_int_equal(load(&cfg, env, path, &errors), 1);
	assert_non_null(strstr(errors.items[0], "REDIS_PORT='abc' (from .env)"));
	config_release(&cfg);
	strvec_clear(&errors);
	unlink(path);
	free(path);
}

static void test_dotenv_missing_file_is_fine(void **state)
{
	const char *env[] = { NULL };
	struct strvec errors = STRVEC_INIT;
	struct config cfg;

	(void)state;
	assert_int_equal(load(&cfg, env, "/nonexistent/.env", &errors), 0);
	config_release(&cfg);
	strvec_clear(&errors);
}

/* .env syntax: each text and the assignments it must produce. */
static const struct dotenv_case {
	const char *text;
	const char *expect[4];
} dotenv_cases[] = {
	{ "", { NULL } },
	{ "# only a comment\n\n   \n", { NULL } },
	{ "A=1", { "A=1", NULL } },
	{ "A=1\nB=2\n", { "A=1", "B=2", NULL } },
	{ "A=1\r\nB=2\r\n", { "A=1", "B=2", NULL } },
	{ "export A=1\n", { "A=1", NULL } },
	{ "  export\tA = spaced  \n", { "A=spaced", NULL } },
	{ "A=value # comment\n", { "A=value", NULL } },
	{ "A=val#ue\n", { "A=val#ue", NULL } },
	{ "A='single # not comment'\n", { "A=single # not comment", NULL } },
	{ "A='lit\\n'\n", { "A=lit\\n", NULL } },
	{ "A=\"dq\\n\\t\\\"x\\\\\"\n", { "A=dq\n\t\"x\\", NULL } },
	{ "A=\"multi\nline\"\nB=2", { "A=multi\nline", "B=2", NULL } },
	{ "A=\"x\" # c\n", { "A=x", NULL } },
	{ "A=\n", { "A=", NULL } },
	{ "A=\"\"\n", { "A=", NULL } },
	{ "_A1=x\n", { "_A1=x", NULL } },
	{ "A==b\n", { "A==b", NULL } },
	{ "exported=1\n", { "exported=1", NULL } },
};

static void test_dotenv_syntax(void **state)
{
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(dotenv_cases) / sizeof(dotenv_cases[0]); i++) {
		const struct dotenv_case *c = &dotenv_cases[i];
		struct strvec out = STRVEC_INIT;
		struct err e = ERR_INIT;

		if (config_parse_dotenv(c->text, strlen(c->text), &out, &e))
			fail_msg("case %zu: unexpected error %s", i, e.msg);
		for (j = 0; c->expect[j]; j++) {
			if (j >= out.nr || strcmp(out.items[j], c->expect[j]))
				fail_msg("case %zu: item %zu: got '%s'", i, j,
					 j < out.nr ? out.items[j] : "(none)");
		}
		assert_int_equal(out.nr, j);
		strvec_clear(&out);
	}
}

static const struct dotenv_error {
	const char *text, *expect;
} dotenv_errors[] = {
	{ "A=1\nBROKEN LINE\n", "line 2: expected '=' after 'BROKEN'" },
	{ "=x\n", "line 1: expected NAME=value" },
	{ "1A=x\n", "line 1: expected NAME=value" },
	{ "A=\"open\n", "line 1: unterminated double-quoted value" },
	{ "\n\nA='open\n", "line 3: unterminated single-quoted value" },
	{ "A=\"x\" y\n", "line 1: unexpected text after the value" },
	{ "A-B=1\n", "line 1: expected '=' after 'A'" },
	{ "export\n", "line 1: expected '=' after 'export'" },
};

static void test_dotenv_errors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(dotenv_errors) / sizeof(dotenv_errors[0]); i++) {
		const char *text = dotenv_errors[i].text;
		struct strvec out = STRVEC_INIT;
		struct err e = ERR_INIT;

		assert_int_equal(config_parse_dotenv(text, strlen(text), &out, &e), -1);
		assert_int_equal(e.kind, ERR_INVALID);
		if (strcmp(e.msg, dotenv_errors[i].expect))
			fail_msg("case %zu: got '%s'", i, e.msg);
		strvec_clear(&out);
	}
}

static void test_dotenv_nul_and_binary(void **state)
{
	static const char text[] = "A=x\0y\nB=\xff\xfe\n";
	struct strvec out = STRVEC_INIT;
	struct err e = ERR_INIT;

	(void)state;
	/* must not crash or read past the end; values stop at the NUL */
	assert_int_equal(config_parse_dotenv(text, sizeof(text) - 1, &out, &e), 0);
	assert_int_equal(out.nr, 2);
	assert_string_equal(out.items[0], "A=x");
	strvec_clear(&out);
}

static void test_parse_numbers(void **state)
{
	long long n;
	double d;

	(void)state;
	assert_int_equal(config_parse_int("42", 0, 100, &n), 0);
	assert_int_equal(n, 42);
	assert_int_equal(config_parse_int("-5", -10, 0, &n), 0);
	assert_int_equal(n, -5);
	assert_int_equal(config_parse_int("", 0, 100, &n), -1);
	assert_int_equal(config_parse_int("-", 0, 100, &n), -1);
	assert_int_equal(config_parse_int("101", 0, 100, &n), -1);
	assert_int_equal(config_parse_double("1.25", 0, 2, &d), 0);
	assert_true(d == 1.25);
	assert_int_equal(config_parse_double(".5", 0, 2, &d), 0);
	assert_int_equal(config_parse_double("2.0001", 0, 2, &d), -1);
	assert_int_equal(config_parse_double("", 0, 2, &d), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_valid_values),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_host_network),
		cmocka_unit_test(test_all_errors_reported),
		cmocka_unit_test(test_limiter_pair),
		cmocka_unit_test(test_redis_shape),
		cmocka_unit_test(test_empty_means_default),
		cmocka_unit_test(test_empty_env_keeps_dotenv),
		cmocka_unit_test(test_secret_never_printed),
		cmocka_unit_test(test_dotenv_precedence),
		cmocka_unit_test(test_dotenv_bad_value_names_origin),
		cmocka_unit_test(test_dotenv_missing_file_is_fine),
		cmocka_unit_test(test_dotenv_syntax),
		cmocka_unit_test(test_dotenv_errors),
		cmocka_unit_test(test_dotenv_nul_and_binary),
		cmocka_unit_test(test_parse_numbers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
