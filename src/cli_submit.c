/*
 * cli_submit.c - the CLI's producer commands: submit URLs as scans, and
 * re-enqueue QUEUED scans that lost their queue entry.
 *
 * A scan is created as a QUEUED row (actor "cli") and then enqueued with
 * its id as the BullMQ jobId, so submitting or requeueing twice is a no-op
 * on the queue. Not here: the store's SQL, the queue's Lua.
 */
#include "fmacros.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sysexits.h>
#include <time.h>

#include "buf.h"
#include "cli.h"
#include "config.h"
#include "err.h"
#include "queue.h"
#include "scan.h"
#include "state.h"
#include "store.h"
#include "banned.h"

#define SUBMIT_ATTEMPTS 3
#define SUBMIT_BACKOFF_MS 2000

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A random (version 4) UUID in out[37]. */
static int new_scan_id(char out[37], struct err *e)
{
	unsigned char r[16];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return err_set_errno(e, ERR_INTERNAL, 0, "no random bytes");
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9],
		 r[10], r[11], r[12], r[13], r[14], r[15]);
	return 0;
}

static void params_from(const struct config *cfg, struct queue_params *qp)
{
	memset(qp, 0, sizeof(*qp));
	qp->host = cfg->redis_host;
	qp->port = cfg->redis_port;
	qp->password = cfg->redis_password;
	qp->prefix = cfg->bullmq_prefix;
	qp->name = cfg->queue_name;
	qp->worker_name = "cli";
}

/* Enqueue scan id for url; no-op when the queue has the id already. */
static int enqueue(struct queue_producer *qp, const char *id, const char *url,
		   struct err *e)
{
	struct buf data = BUF_INIT;
	struct queue_add add;
	int rc, added;

	buf_addstr(&data, "{\"jobId\":\"", NULL);
	buf_add_json_str(&data, id, strlen(id), NULL);
	buf_addstr(&data, "\",\"url\":\"", NULL);
	buf_add_json_str(&data, url, strlen(url), NULL);
	buf_addstr(&data, "\"}", NULL);
	memset(&add, 0, sizeof(add));
	add.job_id = id;
	add.name = "scan";
	add.data = data.data;
	add.attempts = SUBMIT_ATTEMPTS;
	add.backoff = QUEUE_BACKOFF_EXPONENTIAL;
	add.backoff_delay = SUBMIT_BACKOFF_MS;
	rc = queue_add_job(qp, &add, &added, NULL, e);
	buf_release(&data);
	return rc;
}

static int open_both(const struct config *cfg, struct store **st,
		     struct queue_producer **qp, struct err *e)
{
	struct queue_params params;

	params_from(cfg, &params);
	*qp = NULL;
	if (!(*st = store_open(cfg, e)))
		return -1;
	if (queue_producer_open(qp, &params, e)) {
		store_close(*st);
		*st = NULL;
		return -1;
	}
	return 0;
}

int cli_submit(const struct config *cfg, int argc, char **argv)
{
	struct state_actor who = { "cli", 0, 0 };
	struct queue_producer *qp;
	struct err e = ERR_INIT;
	struct store *st;
	int i, rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: safeurl submit URL...\n");
		return EX_USAGE;
	}
	for (i = 1; i < argc; i++) {
		if (!scan_url_valid(argv[i])) {
			fprintf(stderr, "safeurl: submit: '%s': not an absolute "
					"http(s) URL\n", argv[i]);
			return EX_DATAERR;
		}
	}
	if (open_both(cfg, &st, &qp, &e)) {
		fprintf(stderr, "safeurl: submit: %s\n", e.msg);
		return cli_exit_code(e.kind);
	}
	for (i = 1; i < argc && !rc; i++) {
		char id[37];

		who.now = now_ms();
		if (new_scan_id(id, &e) ||
		    state_create(st, &who, id, argv[i], NULL, &e)) {
			rc = -1;
		} else if (enqueue(qp, id, argv[i], &e)) {
			err_prefix(&e, "scan created but not enqueued (run "
				       "'safeurl requeue --stale' later)");
			rc = -1;
		} else {
			printf("%s\n", id);
			fflush(stdout);
		}
	}
	if (rc)
		fprintf(stderr, "safeurl: submit: %s\n", e.msg);
	queue_producer_close(qp);
	store_close(st);
	return rc ? cli_exit_code(e.kind) : 0;
}
