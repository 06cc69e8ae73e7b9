/*
 * worker_main.c - safeurl-worker: arguments, configuration, signals.
 *
 * Exit codes: 0 clean shutdown, 64 usage, 69 a dependency unavailable at
 * start, 70 internal error, 78 bad configuration.
 */
#include "fmacros.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "log.h"
#include "strvec.h"
#include "worker.h"
#include "banned.h"

extern char **environ;

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
	stop_requested = sig;
	worker_request_stop();
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: safeurl-worker [--processor=NAME] [--check-config] [--help]\n"
		"                      [--version]\n"
		"\n"
		"Consumes scan jobs from the BullMQ queue QUEUE_NAME on Redis, runs\n"
		"each scan in a locked-down fetcher container and stores the result.\n"
		"Configuration comes from the environment and ./.env (see\n"
		"docs/configuration.md).\n"
		"\n"
		"  --processor=NAME  what to do with each job: scan (default),\n"
		"                  noop (complete each job at once, for queue\n"
		"                  tests and benchmarks)\n"
		"  --check-config  print the effective configuration (secrets\n"
		"                  masked) and exit\n"
		"  --help          show this help\n"
		"  --version       show the version\n"
		"\n"
		"exit codes: 0 stopped cleanly, 64 usage, 69 dependency unavailable\n"
		"(Redis, engine or database unreachable past the retry bounds),\n"
		"70 internal error, 78 bad configuration (including a remote\n"
		"database refusing TURSO_AUTH_TOKEN)\n");
}

static int load_config(struct config *cfg)
{
	struct strvec errors = STRVEC_INIT;
	size_t i;
	int rc = config_load(cfg, environ, ".env", &errors);

	for (i = 0; i < errors.nr; i++)
		fprintf(stderr, "safeurl-worker: %s\n", errors.items[i]);
	strvec_clear(&errors);
	return rc;
}

static void log_config(const struct config *cfg)
{
	struct buf dump = BUF_INIT;
	char *line, *next;

	config_dump(cfg, &dump);
	for (line = dump.data; *line; line = next) {
		next = strchr(line, '\n');
		*next++ = '\0';
		log_event(LOG_INFO, NULL, "config", "%s", line);
	}
	buf_release(&dump);
}

static void catch_stop_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* sysexits code for a start-up failure of this kind. */
static int exit_code(enum err_kind kind)
{
	static const struct {
		enum err_kind kind;
		int code;
	} codes[] = {
		{ ERR_UNAVAILABLE, EX_UNAVAILABLE },
		{ ERR_INVALID, EX_CONFIG },
	};
	size_t i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i].kind == kind)
			return codes[i].code;
	return EX_SOFTWARE;
}

int main(int argc, char **argv)
{
	const struct worker_processor *proc;
	const char *proc_name = "scan";
	struct err e = ERR_INIT;
	struct config cfg;
	int check_only = 0, i, rc = 0;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--version")) {
			printf("safeurl-worker %s\n", SAFEURL_VERSION);
			return 0;
		} else if (!strncmp(argv[i], "--processor=", 12)) {
			proc_name = argv[i] + 12;
		} else if (!strcmp(argv[i], "--check-config")) {
			check_only = 1;
		} else {
			fprintf(stderr, "safeurl-worker: unknown argument '%s'\n",
				argv[i]);
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (!(proc = worker_processor_find(proc_name))) {
		fprintf(stderr, "safeurl-worker: --processor='%s': unknown "
			"processor\n", proc_name);
		return EX_USAGE;
	}
	if (load_config(&cfg)) {
		config_release(&cfg);
		return EX_CONFIG;
	}
	if (check_only) {
		struct buf dump = BUF_INIT;

		config_dump(&cfg, &dump);
		fputs(dump.data, stdout);
		buf_release(&dump);
		config_release(&cfg);
		return 0;
	}
	log_init(cfg.log_level, cfg.log_format, cfg.worker_id);
	log_event(LOG_INFO, NULL, "start", "safeurl-worker %s starting",
		  SAFEURL_VERSION);
	log_config(&cfg);
	catch_stop_signals();
	if (worker_run(&cfg, proc, &e)) {
		log_event(LOG_ERROR, NULL, "stop", "%s", e.msg);
		rc = exit_code(e.kind);
	}
	config_release(&cfg);
	log_shutdown();
	return rc;
}
