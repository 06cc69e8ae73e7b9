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
#include <stdlib.h>
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
#include "xalloc.h"
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

/*
 * Enqueue scan id for url as BullMQ job bull_id; a no-op when the queue
 * has that job id already (*added 0).
 */
static int enqueue(struct queue_producer *qp, const char *bull_id,
		   const char *id, const char *url, int *added, struct err *e)
{
	struct buf data = BUF_INIT;
	struct queue_add add;
	int rc;

	buf_addstr(&data, "{\"jobId\":\"", NULL);
	buf_add_json_str(&data, id, strlen(id), NULL);
	buf_addstr(&data, "\",\"url\":\"", NULL);
	buf_add_json_str(&data, url, strlen(url), NULL);
	buf_addstr(&data, "\"}", NULL);
	memset(&add, 0, sizeof(add));
	add.job_id = bull_id;
	add.name = "scan";
	add.data = data.data;
	add.attempts = SUBMIT_ATTEMPTS;
	add.backoff = QUEUE_BACKOFF_EXPONENTIAL;
	add.backoff_delay = SUBMIT_BACKOFF_MS;
	rc = queue_add_job(qp, &add, added, NULL, e);
	buf_release(&data);
	return rc;
}

static int open_both(const struct config *cfg, struct store **st,
		     struct queue_producer **qp, struct err *e)
{
	struct queue_params params;

	queue_params_from_config(&params, cfg);
	params.worker_name = "cli";
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
	struct state_actor who = { "cli", 0, 0, NULL };
	struct queue_producer *qp;
	struct err e = ERR_INIT;
	struct store *st;
	int i, rc = 0, added;

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
		} else if (enqueue(qp, id, id, argv[i], &added, &e)) {
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

#define REQUEUE_PAGE 200
#define REQUEUE_DEFAULT_AGE_S 60

/*
 * Give one stale QUEUED row a queue job again: under its own id when the
 * queue has no such job, else under "<id>-requeue-v<version>" (its first
 * job finished without moving the row), unless either is still pending.
 * *done is 1 when a job was added.
 */
static int requeue_one(struct queue_producer *qp, const struct state_job *row,
		       int *done, struct err *e)
{
	enum queue_job_place where[2];
	struct buf alt = BUF_INIT;
	const char *ids[2];
	int rc = 0, i;

	*done = 0;
	buf_addf(&alt, NULL, "%s-requeue-v%lld", row->id, row->version);
	ids[0] = row->id;
	ids[1] = alt.data;
	for (i = 0; i < 2 && !rc; i++)
		rc = queue_job_where(qp, ids[i], &where[i], e);
	if (rc || where[0] == QUEUE_JOB_PENDING || where[1] == QUEUE_JOB_PENDING)
		;
	else if (where[0] == QUEUE_JOB_GONE || where[1] == QUEUE_JOB_GONE)
		rc = enqueue(qp, ids[where[0] == QUEUE_JOB_GONE ? 0 : 1], row->id,
			     row->url, done, e);
	else
		fprintf(stderr, "safeurl: requeue: '%s': jobs '%s' and '%s' both "
			"finished without moving the scan; left QUEUED\n",
			row->id, ids[0], ids[1]);
	buf_release(&alt);
	return rc;
}

static int requeue_args(int argc, char **argv, long long *age_s)
{
	int i;

	*age_s = REQUEUE_DEFAULT_AGE_S;
	if (argc < 2 || strcmp(argv[1], "--stale"))
		return -1;
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--older-than") && i + 1 < argc &&
		    !config_parse_int(argv[i + 1], 0, 31536000, age_s))
			i++;
		else
			return -1;
	}
	return 0;
}

int cli_requeue(const struct config *cfg, int argc, char **argv)
{
	struct state_job_list page = { NULL, 0 };
	struct queue_producer *qp;
	struct err e = ERR_INIT;
	struct store *st;
	char *after = NULL;
	long long age_s, now = now_ms();
	int rc = 0, requeued = 0, done;
	size_t i;

	if (requeue_args(argc, argv, &age_s)) {
		fprintf(stderr, "usage: safeurl requeue --stale [--older-than SECONDS]\n");
		return EX_USAGE;
	}
	if (open_both(cfg, &st, &qp, &e)) {
		fprintf(stderr, "safeurl: requeue: %s\n", e.msg);
		return cli_exit_code(e.kind);
	}
	do {
		rc = state_list_queued(st, now - age_s * 1000, after,
				       REQUEUE_PAGE, &page, &e);
		for (i = 0; !rc && i < page.nr; i++) {
			rc = requeue_one(qp, &page.items[i], &done, &e);
			if (!rc && done) {
				printf("%s\n", page.items[i].id);
				requeued++;
			}
		}
		free(after);
		after = page.nr ? xstrdup(page.items[page.nr - 1].id) : NULL;
		i = page.nr;
		state_job_list_release(&page);
	} while (!rc && i == REQUEUE_PAGE);
	free(after);
	if (rc)
		fprintf(stderr, "safeurl: requeue: %s\n", e.msg);
	else
		fprintf(stderr, "safeurl: requeue: %d scan(s) re-enqueued\n", requeued);
	queue_producer_close(qp);
	store_close(st);
	return rc ? cli_exit_code(e.kind) : 0;
}
