/*
 * cli_submit.c - the CLI's producer commands: submit URLs as scans (and
 * with --wait follow them to their end), and re-enqueue QUEUED scans that
 * lost their queue entry.
 *
 * A scan is created as a QUEUED row (actor "cli") and then enqueued with
 * its id as the BullMQ jobId, so submitting or requeueing twice is a no-op
 * on the queue. Not here: the store's SQL, the queue's Lua.
 */
#include "fmacros.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "cli_report.h"
#include "clock.h"
#include "config.h"
#include "err.h"
#include "queue.h"
#include "reconcile.h"
#include "scan.h"
#include "state.h"
#include "store.h"
#include "xalloc.h"
#include "banned.h"


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

int cli_enqueue(struct queue_producer *qp, const char *bull_id,
		   const char *id, const char *url, int *added, struct err *e)
{
	return reconcile_enqueue(qp, bull_id, id, url, added, e);
}

/* "prefix:name" of cfg's queue, new string. */
static char *queue_of(const struct config *cfg)
{
	struct buf q = BUF_INIT;

	buf_addf(&q, NULL, "%s:%s", cfg->bullmq_prefix, cfg->queue_name);
	return buf_detach(&q, NULL);
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

/* ---- submit --wait ---- */

/*
 * Each open scan's row is read once per round: every 200 ms, slower with
 * many scans (20 ms a scan, at most 2 s) so that a remote database sees a
 * bounded request rate.
 */
#define WAIT_POLL_MS 200
#define WAIT_POLL_PER_SCAN_MS 20
#define WAIT_POLL_MAX_MS 2000
#define WAIT_MAX_S 604800

/* Exit codes of submit --wait beyond 0 (cli_main.c's --help lists them). */
enum {
	WAIT_EXIT_SCAN_FAILED = 2, /* a scan ended FAILED or TIMED_OUT */
	WAIT_EXIT_TIMEOUT = 3,     /* --timeout passed first */
	WAIT_EXIT_FAIL_ON = 4,     /* a verdict at or above --fail-on */
};

struct submit_opts {
	int wait;
	long long timeout_s; /* 0 = wait for ever */
	int fail_on;         /* cli_report_verdict_rank(); -1 = off */
	int summary;
};

/* One scan being waited for; job and res own what view points into. */
struct waited {
	char id[37];
	struct state_job job;
	struct state_result res;
	struct cli_scan view;
};

static const struct {
	const char *name;
	int rank;
} fail_on_levels[] = {
	{ "suspicious", 1 },
	{ "malicious", 2 },
};

static void sleep_ms(long long ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

#define SUBMIT_USAGE "usage: safeurl submit [--wait [--timeout S] " \
	"[--fail-on suspicious|malicious] [--summary]] URL...\n"

/* Option handlers: 0, or -1 after naming the bad value on stderr. */
static int opt_wait(struct submit_opts *o, const char *val)
{
	(void)val;
	o->wait = 1;
	return 0;
}

static int opt_summary(struct submit_opts *o, const char *val)
{
	(void)val;
	o->summary = 1;
	return 0;
}

static int opt_timeout(struct submit_opts *o, const char *val)
{
	if (!config_parse_int(val, 1, WAIT_MAX_S, &o->timeout_s))
		return 0;
	fprintf(stderr, "safeurl: submit: --timeout '%s': expected whole "
		"seconds 1..%d\n", val, WAIT_MAX_S);
	return -1;
}

static int opt_fail_on(struct submit_opts *o, const char *val)
{
	size_t k;

	for (k = 0; k < sizeof(fail_on_levels) / sizeof(fail_on_levels[0]); k++)
		if (!strcmp(val, fail_on_levels[k].name)) {
			o->fail_on = fail_on_levels[k].rank;
			return 0;
		}
	fprintf(stderr, "safeurl: submit: --fail-on '%s': expected "
		"suspicious or malicious\n", val);
	return -1;
}

static const struct {
	const char *name;
	int takes_value;
	int (*set)(struct submit_opts *o, const char *val);
} submit_options[] = {
	{ "--wait", 0, opt_wait },
	{ "--summary", 0, opt_summary },
	{ "--timeout", 1, opt_timeout },
	{ "--fail-on", 1, opt_fail_on },
};

#define NSUBMIT_OPTIONS (sizeof(submit_options) / sizeof(submit_options[0]))

/*
 * Options anywhere among the URLs (all URLs after "--"); the URLs are
 * moved to argv[1..*nurls] in their order. An exit code (64, message on
 * stderr) on a bad option, or -1 after printing the usage for --help.
 */
static int submit_args(int argc, char **argv, struct submit_opts *o, int *nurls)
{
	int i, n = 0, rest = 0;
	size_t k;

	memset(o, 0, sizeof(*o));
	o->fail_on = -1;
	for (i = 1; i < argc; i++) {
		if (rest || strncmp(argv[i], "--", 2)) {
			argv[++n] = argv[i];
			continue;
		}
		if (!strcmp(argv[i], "--")) {
			rest = 1;
			continue;
		}
		if (!strcmp(argv[i], "--help")) {
			fputs(SUBMIT_USAGE, stdout);
			return -1;
		}
		for (k = 0; k < NSUBMIT_OPTIONS; k++)
			if (!strcmp(argv[i], submit_options[k].name))
				break;
		if (k == NSUBMIT_OPTIONS) {
			fprintf(stderr, "safeurl: submit: unknown option "
				"'%s'\n" SUBMIT_USAGE, argv[i]);
			return EX_USAGE;
		}
		if (submit_options[k].takes_value && i + 1 == argc) {
			fprintf(stderr, "safeurl: submit: %s needs a value\n",
				argv[i]);
			return EX_USAGE;
		}
		if (submit_options[k].set(o, submit_options[k].takes_value ?
					  argv[++i] : NULL))
			return EX_USAGE;
	}
	*nurls = n;
	if (!o->wait && (o->timeout_s || o->fail_on >= 0 || o->summary)) {
		fprintf(stderr, "safeurl: submit: --timeout, --fail-on and "
			"--summary need --wait\n");
		return EX_USAGE;
	}
	if (!n) {
		fputs(SUBMIT_USAGE, stderr);
		return EX_USAGE;
	}
	return 0;
}

static int ended(enum state s)
{
	return s == STATE_COMPLETED || s == STATE_FAILED || s == STATE_TIMED_OUT;
}

/*
 * Read w's row again; *changed is 1 when its state moved. A COMPLETED
 * scan's result is read once, for its verdict.
 */
static int poll_one(struct store *st, struct waited *w, long long now,
		    int *changed, struct err *e)
{
	enum state before = w->view.state;

	*changed = 0;
	state_job_release(&w->job);
	if (state_get_job(st, w->id, &w->job, e))
		return -1;
	w->view.state = w->job.state;
	w->view.error_code = w->job.error_code;
	if (w->job.state == STATE_COMPLETED && !w->view.verdict) {
		if (state_get_result(st, w->id, &w->res, e))
			return -1;
		w->view.verdict = w->res.verdict;
		w->view.risk = w->res.risk_score;
	}
	if (ended(w->job.state) && !w->view.ended_ms)
		w->view.ended_ms = now;
	*changed = w->view.state != before;
	return 0;
}

/* The terminal's columns less one (79 when unknown) and rows (0 unknown). */
static size_t term_size(size_t *rows)
{
	struct winsize ws;

	*rows = 0;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws))
		return 79;
	*rows = ws.ws_row;
	return ws.ws_col > 1 ? ws.ws_col - 1u : 79;
}

/*
 * Show the progress: on a terminal every line again in place (cursor up,
 * clear line), cut to the width so that none wraps; otherwise one plain
 * line per scan whose state changed.
 */
static void show_progress(struct waited *ws, size_t n, const int *changed,
			  int tty, int first, long long now)
{
	struct buf out = BUF_INIT;
	size_t i, rows, width = tty ? term_size(&rows) : 0;

	if (tty && !first)
		buf_addf(&out, NULL, "\033[%zuA", n);
	for (i = 0; i < n; i++) {
		if (!tty && !changed[i])
			continue;
		if (tty)
			buf_addstr(&out, "\r\033[2K", NULL);
		cli_report_progress(&ws[i].view, now, width, &out);
		buf_addch(&out, '\n', NULL);
	}
	fputs(out.data, stdout);
	fflush(stdout);
	buf_release(&out);
}

/* The exit code for how the scans ended (see cli_main.c's --help). */
static int wait_outcome(const struct waited *ws, size_t n, int fail_on)
{
	int failed = 0, unfinished = 0, hit = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		const struct cli_scan *v = &ws[i].view;

		if (v->state == STATE_FAILED || v->state == STATE_TIMED_OUT)
			failed = 1;
		else if (!ended(v->state))
			unfinished = 1;
		else if (fail_on >= 0 &&
			 cli_report_verdict_rank(v->verdict) >= fail_on)
			hit = 1;
	}
	if (hit)
		return WAIT_EXIT_FAIL_ON;
	if (failed)
		return WAIT_EXIT_SCAN_FAILED;
	return unfinished ? WAIT_EXIT_TIMEOUT : 0;
}

/* Each scan's report (or the summary table), then the exit code. */
static int wait_report(struct waited *ws, size_t n, const struct submit_opts *o)
{
	struct buf out = BUF_INIT;
	struct cli_scan *views = xcalloc(n, sizeof(*views));
	struct err e = ERR_INIT;
	size_t i;
	int rc = 0;

	for (i = 0; i < n && !o->summary; i++) {
		buf_addch(&out, '\n', NULL);
		if (cli_report_text(&ws[i].job, ws[i].view.verdict ?
				    ws[i].res.result_json : NULL, &out, &e)) {
			fprintf(stderr, "safeurl: submit: %s\n", e.msg);
			rc = EX_DATAERR;
		}
	}
	for (i = 0; i < n; i++)
		views[i] = ws[i].view;
	if (o->summary || n > 1) {
		buf_addch(&out, '\n', NULL);
		cli_report_summary(views, n, &out);
	}
	fputs(out.data, stdout);
	fflush(stdout);
	buf_release(&out);
	free(views);
	return rc ? rc : wait_outcome(ws, n, o->fail_on);
}

/* Poll the scans until all ended or the timeout passed; the exit code. */
static int wait_scans(struct store *st, struct waited *ws, size_t n,
		      const struct submit_opts *o, long long started)
{
	int *changed = xcalloc(n, sizeof(*changed));
	int tty = isatty(STDOUT_FILENO), first = 1, open_scans, rc = 0;
	size_t rows;
	long long now, pause, deadline = o->timeout_s ? started + o->timeout_s * 1000 : 0;
	struct err e = ERR_INIT;
	size_t i, left = 0;

	/* More lines than the screen has cannot be redrawn in place. */
	if (tty && (term_size(&rows), rows && n >= rows))
		tty = 0;
	for (;;) {
		now = clock_mono_ms();
		open_scans = 0;
		for (i = 0; i < n && !rc; i++) {
			if (ws[i].view.ended_ms) {
				changed[i] = 0;
				continue;
			}
			if (poll_one(st, &ws[i], now, &changed[i], &e))
				rc = -1;
			changed[i] |= first;
			open_scans += !ws[i].view.ended_ms;
		}
		if (rc)
			break;
		show_progress(ws, n, changed, tty, first, now);
		first = 0;
		if (!open_scans || (deadline && now >= deadline))
			break;
		pause = open_scans * WAIT_POLL_PER_SCAN_MS;
		pause = pause < WAIT_POLL_MS ? WAIT_POLL_MS :
			pause > WAIT_POLL_MAX_MS ? WAIT_POLL_MAX_MS : pause;
		sleep_ms(deadline && deadline - now < pause ? deadline - now : pause);
	}
	free(changed);
	if (rc) {
		fprintf(stderr, "safeurl: submit: %s\n", e.msg);
		return cli_exit_code(e.kind);
	}
	for (i = 0; i < n; i++)
		left += !ws[i].view.ended_ms;
	if (left)
		fprintf(stderr, "safeurl: submit: --timeout %lld passed with "
			"%zu of %zu scan(s) not finished\n", o->timeout_s, left, n);
	return wait_report(ws, n, o);
}

int cli_submit(const struct config *cfg, int argc, char **argv)
{
	struct state_queue_ref ref = { NULL, NULL };
	char *qname;
	struct state_actor who = { "cli", 0, 0, &ref };
	struct queue_producer *qp;
	struct err e = ERR_INIT;
	struct submit_opts o;
	struct waited *ws, *w;
	struct store *st;
	size_t nw = 0, k;
	long long started;
	int i, nurls, rc, added;

	if ((rc = submit_args(argc, argv, &o, &nurls)))
		return rc < 0 ? 0 : rc;
	for (i = 1; i <= nurls; i++) {
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
	ws = xcalloc((size_t)nurls, sizeof(*ws));
	ref.queue = qname = queue_of(cfg);
	started = clock_mono_ms();
	for (i = 1; i <= nurls && !rc; i++) {
		w = &ws[nw];
		who.now = clock_wall_ms();
		ref.job_id = w->id;
		if (new_scan_id(w->id, &e) ||
		    state_create(st, &who, w->id, argv[i], NULL, &e)) {
			rc = -1;
		} else if (cli_enqueue(qp, w->id, w->id, argv[i], &added, &e)) {
			err_prefix(&e, "scan created but not enqueued (run "
				       "'safeurl requeue --stale' later)");
			rc = -1;
		} else if (o.wait) {
			state_job_init(&w->job);
			state_result_init(&w->res);
			w->view.id = w->id;
			w->view.url = argv[i];
			w->view.state = STATE_NONE;
			w->view.risk = -1;
			w->view.started_ms = clock_mono_ms();
			nw++;
		} else {
			printf("%s\n", w->id);
			fflush(stdout);
		}
	}
	queue_producer_close(qp);
	free(qname);
	if (rc) {
		fprintf(stderr, "safeurl: submit: %s\n", e.msg);
		rc = cli_exit_code(e.kind);
	} else if (o.wait) {
		rc = wait_scans(st, ws, nw, &o, started);
	}
	for (k = 0; k < nw; k++) {
		state_job_release(&ws[k].job);
		state_result_release(&ws[k].res);
	}
	free(ws);
	store_close(st);
	return rc;
}

#define REQUEUE_DEFAULT_AGE_S 60
/* The lease the worker holds (SPEC §5): leased rows are looked at once it
 * lapsed more than this long ago. */
#define REQUEUE_LEASE_MS 30000
#define REQUEUE_CHECKS 200

static void print_requeued(void *arg, const char *id)
{
	int *n = arg;

	printf("%s\n", id);
	fflush(stdout);
	(*n)++;
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
	struct reconcile_stats stats = { 0, 0, 0 };
	struct reconcile_cursor cur;
	struct reconcile_opts o;
	struct queue_producer *qp;
	struct err e = ERR_INIT;
	struct store *st;
	long long age_s;
	int rc = 0, requeued = 0, wrapped = 0;
	char *qname;

	if (requeue_args(argc, argv, &age_s)) {
		fprintf(stderr, "usage: safeurl requeue --stale [--older-than SECONDS]\n");
		return EX_USAGE;
	}
	if (open_both(cfg, &st, &qp, &e)) {
		fprintf(stderr, "safeurl: requeue: %s\n", e.msg);
		return cli_exit_code(e.kind);
	}
	memset(&o, 0, sizeof(o));
	o.queue = qname = queue_of(cfg);
	o.actor = "cli";
	o.now = clock_wall_ms();
	o.lease_ms = REQUEUE_LEASE_MS;
	o.grace_ms = age_s * 1000;
	o.leased = 1;
	o.queued = 1;
	o.max_actions = (size_t)-1;
	o.max_checks = REQUEUE_CHECKS;
	o.on_requeue = print_requeued;
	o.arg = &requeued;
	reconcile_cursor_init(&cur);
	/* the leased rows once, then the QUEUED rows page by page */
	do {
		rc = reconcile_pass(st, qp, &o, &cur, &stats, &wrapped, &e);
		o.leased = 0;
	} while (!rc && !wrapped);
	reconcile_cursor_release(&cur);
	if (rc)
		fprintf(stderr, "safeurl: requeue: %s\n", e.msg);
	else
		fprintf(stderr, "safeurl: requeue: %d scan(s) re-enqueued, "
			"%zu failed ABANDONED\n", requeued, stats.abandoned);
	free(qname);
	queue_producer_close(qp);
	store_close(st);
	return rc ? cli_exit_code(e.kind) : 0;
}
