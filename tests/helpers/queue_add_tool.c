/*
 * queue_add_tool - test helper: enqueue one job with queue_add_job(), the
 * call `safeurl submit` uses. Usage: queue-add-tool JOB_ID DATA_JSON
 * [ATTEMPTS [DELAY_MS [PRIORITY]]]. Reads REDIS_*, QUEUE_NAME and
 * BULLMQ_PREFIX like the programs; prints "added ID" or "exists ID".
 */
#include "fmacros.h"

#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>

#include "config.h"
#include "err.h"
#include "queue.h"
#include "strvec.h"
#include "banned.h"

extern char **environ;

static long long arg_num(int argc, char **argv, int i)
{
	long long v = 0;

	if (i < argc && config_parse_int(argv[i], 0, 1000000000, &v)) {
		fprintf(stderr, "queue-add-tool: bad number '%s'\n", argv[i]);
		exit(EX_USAGE);
	}
	return v;
}

int main(int argc, char **argv)
{
	struct strvec errors = STRVEC_INIT;
	struct queue_params p = { 0 };
	struct queue_add add = { 0 };
	struct queue_producer *prod;
	struct err e = ERR_INIT;
	struct config cfg;
	char *id = NULL;
	int added = 0, rc;

	if (argc < 3)
		return EX_USAGE;
	if (config_load(&cfg, environ, NULL, &errors))
		return EX_CONFIG;
	queue_params_from_config(&p, &cfg);
	add.job_id = argv[1];
	add.name = "scan";
	add.data = argv[2];
	add.attempts = (int)arg_num(argc, argv, 3);
	add.delay = arg_num(argc, argv, 4);
	add.priority = (int)arg_num(argc, argv, 5);
	rc = queue_producer_open(&prod, &p, &e);
	if (!rc) {
		rc = queue_add_job(prod, &add, &added, &id, &e);
		queue_producer_close(prod);
	}
	if (rc)
		fprintf(stderr, "queue-add-tool: %s\n", e.msg);
	else
		printf("%s %s\n", added ? "added" : "exists", id);
	free(id);
	config_release(&cfg);
	strvec_clear(&errors);
	return rc ? EX_UNAVAILABLE : 0;
}
