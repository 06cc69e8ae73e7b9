/*
 * test_lifecycle.c - the in-memory lifecycles of the worker's jobs and the
 * pipeline's scan tasks: each table allows exactly the moves listed here
 * (the diagrams of lifecycle.h), DONE is final, nothing re-enters the
 * initial phase, every phase is reachable and can end, and the paths the
 * worker and the pipeline take walk through the table.
 */
#include "fmacros.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "lifecycle.h"

struct move {
	int from, to;
};

static const struct move job_listed[] = {
	{ JOB_NEW, JOB_RUNNING },
	{ JOB_NEW, JOB_RELEASE_REPORTED },
	{ JOB_RUNNING, JOB_REPORTED },
	{ JOB_RUNNING, JOB_RELEASING },
	{ JOB_REPORTED, JOB_DONE },
	{ JOB_RELEASING, JOB_RELEASE_REPORTED },
	{ JOB_RELEASING, JOB_RELEASED_AWAITING },
	{ JOB_RELEASE_REPORTED, JOB_DONE },
	{ JOB_RELEASED_AWAITING, JOB_DONE },
};

static const struct move task_listed[] = {
	{ TASK_QUEUED, TASK_WORKING },
	{ TASK_WORKING, TASK_OWNED },
	{ TASK_WORKING, TASK_DONE },
	{ TASK_OWNED, TASK_WORKING },
	{ TASK_OWNED, TASK_LOST },
	{ TASK_OWNED, TASK_DONE },
	{ TASK_LOST, TASK_DONE },
};

typedef int (*allowed_fn)(int from, int to);

static int job_allowed(int from, int to)
{
	return lifecycle_job_allowed((enum job_phase)from, (enum job_phase)to);
}

static int task_allowed(int from, int to)
{
	return lifecycle_task_allowed((enum task_phase)from,
				      (enum task_phase)to);
}

static int listed(const struct move *m, size_t n, int from, int to)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (m[i].from == from && m[i].to == to)
			return 1;
	return 0;
}

/* Every pair: allowed exactly when listed. */
static void check_exact(allowed_fn ok, int count, const struct move *m,
			size_t n)
{
	int from, to;

	for (from = 0; from < count; from++)
		for (to = 0; to < count; to++) {
			if (ok(from, to) != listed(m, n, from, to))
				fail_msg("move %d -> %d: table says %d, "
					 "listing says %d", from, to,
					 ok(from, to), listed(m, n, from, to));
		}
	/* out of range on either side is refused */
	assert_int_equal(ok(count, 0), 0);
	assert_int_equal(ok(0, count), 0);
	assert_int_equal(ok(-1, 0), 0);
}

/* From `start` every phase is reachable, and `done` from every phase. */
static void check_graph(allowed_fn ok, int count, int start, int done)
{
	int reach[16] = { 0 }, ends[16] = { 0 };
	int changed = 1, p, q;

	assert_true(count <= 16);
	reach[start] = 1;
	ends[done] = 1;
	while (changed) {
		changed = 0;
		for (p = 0; p < count; p++)
			for (q = 0; q < count; q++) {
				if (!ok(p, q))
					continue;
				if (reach[p] && !reach[q])
					reach[q] = changed = 1;
				if (ends[q] && !ends[p])
					ends[p] = changed = 1;
			}
	}
	for (p = 0; p < count; p++) {
		if (!reach[p])
			fail_msg("phase %d is not reachable", p);
		if (!ends[p])
			fail_msg("phase %d never reaches its end", p);
		/* nothing leaves the end, nothing re-enters the start,
		 * no move stays in place */
		assert_int_equal(ok(done, p), 0);
		assert_int_equal(ok(p, start), 0);
		assert_int_equal(ok(p, p), 0);
	}
}

static void walk(allowed_fn ok, const int *path)
{
	for (; path[1] >= 0; path++)
		if (!ok(path[0], path[1]))
			fail_msg("path move %d -> %d refused", path[0], path[1]);
}

static void test_job_table(void **state)
{
	(void)state;
	check_exact(job_allowed, JOB_PHASE_COUNT, job_listed,
		    sizeof(job_listed) / sizeof(job_listed[0]));
	check_graph(job_allowed, JOB_PHASE_COUNT, JOB_NEW, JOB_DONE);
}

static void test_task_table(void **state)
{
	(void)state;
	check_exact(task_allowed, TASK_PHASE_COUNT, task_listed,
		    sizeof(task_listed) / sizeof(task_listed[0]));
	check_graph(task_allowed, TASK_PHASE_COUNT, TASK_QUEUED, TASK_DONE);
}

/* The paths worker.c takes, as its comments describe them. */
static void test_job_paths(void **state)
{
	static const int settled[] = { JOB_NEW, JOB_RUNNING, JOB_REPORTED,
				       JOB_DONE, -1 };
	static const int release_first[] = { JOB_NEW, JOB_RUNNING,
		JOB_RELEASING, JOB_RELEASED_AWAITING, JOB_DONE, -1 };
	static const int report_first[] = { JOB_NEW, JOB_RUNNING,
		JOB_RELEASING, JOB_RELEASE_REPORTED, JOB_DONE, -1 };
	static const int given_back[] = { JOB_NEW, JOB_RELEASE_REPORTED,
					  JOB_DONE, -1 };

	(void)state;
	walk(job_allowed, settled);
	walk(job_allowed, release_first);
	walk(job_allowed, report_first);
	walk(job_allowed, given_back);
	/* a reported job is never released: its outcome is settled */
	assert_int_equal(job_allowed(JOB_REPORTED, JOB_RELEASING), 0);
	/* a released job is never settled as reported */
	assert_int_equal(job_allowed(JOB_RELEASING, JOB_REPORTED), 0);
}

/* The paths scan.c takes: claim, advance, end; lease lost; skipped. */
static void test_task_paths(void **state)
{
	static const int completed[] = { TASK_QUEUED, TASK_WORKING,
		TASK_OWNED, TASK_WORKING, TASK_OWNED, TASK_WORKING,
		TASK_DONE, -1 };
	static const int lost[] = { TASK_QUEUED, TASK_WORKING, TASK_OWNED,
				    TASK_LOST, TASK_DONE, -1 };
	static const int skipped[] = { TASK_QUEUED, TASK_WORKING, TASK_DONE,
				       -1 };

	(void)state;
	walk(task_allowed, completed);
	walk(task_allowed, lost);
	walk(task_allowed, skipped);
	/* a lost lease is never renewed again */
	assert_int_equal(task_allowed(TASK_LOST, TASK_OWNED), 0);
	assert_int_equal(task_allowed(TASK_LOST, TASK_WORKING), 0);
	/* only an owned row can be lost */
	assert_int_equal(task_allowed(TASK_WORKING, TASK_LOST), 0);
}

static void test_names(void **state)
{
	int i, j;

	(void)state;
	for (i = 0; i < JOB_PHASE_COUNT; i++) {
		assert_string_not_equal(lifecycle_job_name((enum job_phase)i), "?");
		for (j = 0; j < i; j++)
			assert_string_not_equal(lifecycle_job_name((enum job_phase)i),
						lifecycle_job_name((enum job_phase)j));
	}
	for (i = 0; i < TASK_PHASE_COUNT; i++) {
		assert_string_not_equal(lifecycle_task_name((enum task_phase)i), "?");
		for (j = 0; j < i; j++)
			assert_string_not_equal(lifecycle_task_name((enum task_phase)i),
						lifecycle_task_name((enum task_phase)j));
	}
	assert_string_equal(lifecycle_job_name(JOB_PHASE_COUNT), "?");
	assert_string_equal(lifecycle_task_name(TASK_PHASE_COUNT), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_job_table),
		cmocka_unit_test(test_task_table),
		cmocka_unit_test(test_job_paths),
		cmocka_unit_test(test_task_paths),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
