/*
 * cli_prune.c - `safeurl prune --older-than DURATION [--dry-run]
 * [--batch N]`: retention on demand. Deletes terminal scans last changed
 * before now - DURATION with their results and audit rows, in batches of
 * N (default 500), each its own short transaction, then gives the freed
 * pages back where the database allows (store_prune.c); --dry-run counts
 * instead. What the worker does hourly with RETENTION_DAYS.
 *
 * Prints one line: what was (or would be) deleted, the cut-off, and the
 * longest batch, which is how long the write lock was held at most.
 */
#include "fmacros.h"

#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "cli.h"
#include "clock.h"
#include "config.h"
#include "err.h"
#include "store.h"
#include "banned.h"

#define PRUNE_USAGE "prune --older-than DURATION [--dry-run] [--batch N]"
#define PRUNE_BATCH_DEFAULT 500
#define PRUNE_BATCH_MAX 100000
#define PRUNE_VACUUM_PAGES 2000

static const struct {
	char unit;
	long long ms;
} units[] = {
	{ 's', 1000 }, { 'm', 60000 }, { 'h', 3600000 }, { 'd', 86400000 },
};

struct prune_opts {
	long long age_ms; /* -1 until --older-than */
	long long batch;
	int dry_run;
};

/* "45s", "30m", "2h", "30d": a whole number and one unit. */
static int parse_duration(const char *val, long long *ms)
{
	size_t len = strlen(val), i;
	long long n;
	char num[24];

	if (len < 2 || len >= sizeof(num))
		return -1;
	memcpy(num, val, len - 1);
	num[len - 1] = '\0';
	if (config_parse_int(num, 0, 36500LL * 86400, &n))
		return -1;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (units[i].unit == val[len - 1] &&
		    n <= 36500LL * 86400000 / units[i].ms) {
			*ms = n * units[i].ms;
			return 0;
		}
	return -1;
}

static int bad(const char *what, const char *val, const char *accepted)
{
	if (what)
		fprintf(stderr, "safeurl: prune: %s '%s': expected %s\n", what,
			val, accepted);
	fprintf(stderr, "usage: safeurl " PRUNE_USAGE "\n");
	return EX_USAGE;
}

static int parse_args(int argc, char **argv, struct prune_opts *o)
{
	int i;

	o->age_ms = -1;
	o->batch = PRUNE_BATCH_DEFAULT;
	o->dry_run = 0;
	for (i = 1; i < argc; i++) {
		const char *opt = argv[i];

		if (!strcmp(opt, "--dry-run")) {
			o->dry_run = 1;
			continue;
		}
		if (strcmp(opt, "--older-than") && strcmp(opt, "--batch"))
			return bad("option", opt, "--older-than, --batch or "
				   "--dry-run");
		if (i + 1 >= argc)
			return bad(NULL, NULL, NULL);
		i++;
		if (!strcmp(opt, "--batch")) {
			if (config_parse_int(argv[i], 1, PRUNE_BATCH_MAX,
					     &o->batch))
				return bad("--batch", argv[i],
					   "a number of scans 1..100000");
		} else if (parse_duration(argv[i], &o->age_ms)) {
			return bad("--older-than", argv[i], "a duration such "
				   "as 45s, 30m, 2h or 30d (at most 36500d)");
		}
	}
	if (o->age_ms < 0) {
		fprintf(stderr, "safeurl: prune: --older-than is required\n");
		return bad(NULL, NULL, NULL);
	}
	return 0;
}

static void iso(long long ms, char out[32])
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;

	if (!gmtime_r(&secs, &tm) ||
	    !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, 32, "%lld", ms);
}

static int dry_run(struct store *st, long long cutoff, const char *when,
		   struct err *e)
{
	struct store_prune_count c;

	if (store_prune_count(st, cutoff, &c, e))
		return -1;
	printf("would prune %lld scan(s) last changed before %s, with %lld "
	       "result(s) and %lld audit row(s)\n", c.scans, when, c.results,
	       c.audits);
	return 0;
}

static int prune(struct store *st, long long cutoff, int batch,
		 const char *when, struct err *e)
{
	long long n = 1, total = 0, batches = 0, t0, ms, longest = 0;
	int rc = 0;

	while (n > 0 && !rc) {
		t0 = clock_mono_ms();
		if ((rc = store_prune_batch(st, cutoff, batch, &n, e)))
			break;
		ms = clock_mono_ms() - t0;
		longest = ms > longest ? ms : longest;
		total += n;
		batches++;
		if (n > 0)
			rc = store_vacuum(st, PRUNE_VACUUM_PAGES, e);
	}
	printf("pruned %lld scan(s) last changed before %s in %lld "
	       "batch(es) of at most %d; longest batch %lld ms\n", total, when,
	       batches, batch, longest);
	return rc;
}

int cli_prune(const struct config *cfg, int argc, char **argv)
{
	struct prune_opts o;
	struct err e = ERR_INIT;
	struct store *st;
	long long cutoff;
	char when[32];
	int rc;

	if ((rc = parse_args(argc, argv, &o)))
		return rc;
	if (!(st = cli_open_store(cfg, &rc)))
		return rc;
	cutoff = clock_wall_ms() - o.age_ms;
	iso(cutoff, when);
	rc = o.dry_run ? dry_run(st, cutoff, when, &e) :
			 prune(st, cutoff, (int)o.batch, when, &e);
	store_close(st);
	if (rc) {
		fprintf(stderr, "safeurl: prune: %s\n", e.msg);
		return cli_exit_code(e.kind);
	}
	return 0;
}
