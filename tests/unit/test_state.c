/*
 * test_state.c - the state machine on real SQLite files (and on a real
 * tursodb server when SAFEURL_TEST_TURSODB is set): every move of the
 * table works, every other pair is refused and changes nothing, terminal
 * states are final, conflicts, ownership, takeover, renewal, atomic
 * completion, sweep; then several processes racing on the same rows and a
 * writer killed with SIGKILL mid-loop.
 */
#include "fmacros.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>

#include "store_fixture.h"

#define T0 1000000LL
#define LEASE 30000LL

static const struct state_queue_ref Q1 = { "bull:q1", "job-1" };
static const struct state_actor W1 = { "w1", T0, LEASE, &Q1 };

static struct state_result result;
static const struct state_change full = { "E_TEST", "test failure", &result };

/* How each state is reached from QUEUED through the table. */
static const enum state paths[STATE_COUNT][4] = {
	[STATE_QUEUED] = { STATE_NONE },
	[STATE_FETCHING] = { STATE_FETCHING, STATE_NONE },
	[STATE_ANALYZING] = { STATE_FETCHING, STATE_ANALYZING, STATE_NONE },
	[STATE_COMPLETED] = { STATE_FETCHING, STATE_ANALYZING,
			      STATE_COMPLETED, STATE_NONE },
	[STATE_FAILED] = { STATE_FAILED, STATE_NONE },
	[STATE_TIMED_OUT] = { STATE_FETCHING, STATE_TIMED_OUT, STATE_NONE },
};

static int setup(void **state)
{
	result = fixture_result();
	if (fixture_setup(state))
		return -1;
	fixture_open(*state);
	return 0;
}

/* Create id and move it along paths[target] as W1. */
static void reach(struct store *st, const char *id, enum state target,
		  struct state_job *job)
{
	struct err e = ERR_INIT;
	int i, created = -1;

	assert_int_equal(state_create(st, &W1, id, "https://example.com/a",
				      &created, &e), 0);
	assert_int_equal(created, 1);
	assert_int_equal(state_get_job(st, id, job, &e), 0);
	for (i = 0; paths[target][i] != STATE_NONE; i++)
		if (state_move(st, &W1, job, paths[target][i], &full, &e))
			fail_msg("reaching %s: %s", state_name(target), e.msg);
	assert_int_equal(job->state, target);
}

static void assert_same_job(const struct state_job *a,
			    const struct state_job *b)
{
	assert_string_equal(a->id, b->id);
	assert_string_equal(a->url, b->url);
	assert_int_equal(a->state, b->state);
	assert_int_equal(a->version, b->version);
	assert_int_equal(a->attempts, b->attempts);
	assert_true((!a->worker_id && !b->worker_id) ||
		    (a->worker_id && b->worker_id &&
		     !strcmp(a->worker_id, b->worker_id)));
	assert_int_equal(a->lease_expires_at, b->lease_expires_at);
	assert_true((!a->error_code && !b->error_code) ||
		    (a->error_code && b->error_code &&
		     !strcmp(a->error_code, b->error_code)));
	assert_int_equal(a->updated_at, b->updated_at);
}

static size_t audit_count(struct store *st, const char *id)
{
	struct state_audit_list list;
	struct err e = ERR_INIT;
	size_t n;

	assert_int_equal(state_get_audit(st, id, &list, &e), 0);
	n = list.nr;
	state_audit_list_release(&list);
	return n;
}

static void test_names(void **state)
{
	int s;

	(void)state;
	for (s = 0; s < STATE_COUNT; s++)
		assert_int_equal(state_parse(state_name((enum state)s)), s);
	assert_int_equal(state_parse("RUNNING"), STATE_NONE);
	assert_int_equal(state_parse(NULL), STATE_NONE);
	assert_false(state_is_terminal(STATE_QUEUED));
	assert_false(state_is_terminal(STATE_ANALYZING));
	assert_true(state_is_terminal(STATE_COMPLETED));
	assert_true(state_is_terminal(STATE_FAILED));
	assert_true(state_is_terminal(STATE_TIMED_OUT));
}

static void test_create_idempotent(void **state)
{
	struct fixture *f = *state;
	struct state_actor producer = { "producer", T0, 0, NULL };
	struct state_audit_list list;
	struct state_job job;
	struct err e = ERR_INIT;
	int created = -1;

	assert_int_equal(state_create(f->st, &producer, "j1", "https://a/",
				      &created, &e), 0);
	assert_int_equal(created, 1);
	producer.now += 5;
	assert_int_equal(state_create(f->st, &producer, "j1", "https://b/",
				      &created, &e), 0);
	assert_int_equal(created, 0);
	assert_int_equal(state_get_job(f->st, "j1", &job, &e), 0);
	assert_int_equal(job.state, STATE_QUEUED);
	assert_int_equal(job.version, 0);
	assert_int_equal(job.attempts, 0);
	assert_string_equal(job.url, "https://a/");
	assert_int_equal(job.created_at, T0);
	assert_null(state_job_violation(&job));
	assert_int_equal(state_get_audit(f->st, "j1", &list, &e), 0);
	assert_int_equal(list.nr, 1);
	assert_int_equal(list.items[0].from, STATE_NONE);
	assert_int_equal(list.items[0].to, STATE_QUEUED);
	assert_int_equal(list.items[0].version, 0);
	assert_string_equal(list.items[0].actor, "producer");
	assert_string_equal(list.items[0].detail, "{\"url\":\"https://a/\"}");
	state_audit_list_release(&list);
	state_job_release(&job);
}

/* Every (from, to) pair of the table works: version+1, one audit row. */
static void test_allowed_moves(void **state)
{
	struct fixture *f = *state;
	struct state_actor late = { "w1", T0 + LEASE, LEASE, NULL };
	struct state_audit_list list;
	struct state_job job, stored;
	struct err e = ERR_INIT;
	char id[32];
	int from, to, n = 0;

	for (from = 0; from < STATE_COUNT; from++)
		for (to = 0; to < STATE_COUNT; to++) {
			if (!state_allowed(from, to))
				continue;
			snprintf(id, sizeof(id), "ok-%d-%d", from, to);
			reach(f->st, id, from, &job);
			if (state_move(f->st, &late, &job, to, &full, &e))
				fail_msg("%s -> %s: %s", state_name(from),
					 state_name(to), e.msg);
			assert_int_equal(job.state, to);
			assert_int_equal(state_get_job(f->st, id, &stored, &e), 0);
			assert_same_job(&job, &stored);
			assert_int_equal(state_get_audit(f->st, id, &list, &e), 0);
			assert_int_equal(list.nr, (size_t)stored.version + 1);
			assert_int_equal(list.items[list.nr - 1].from, from);
			assert_int_equal(list.items[list.nr - 1].to, to);
			assert_int_equal(list.items[list.nr - 1].version,
					 stored.version);
			assert_null(state_job_violation(&stored));
			state_audit_list_release(&list);
			state_job_release(&stored);
			state_job_release(&job);
			n++;
		}
	assert_int_equal(n, 15);
}

/* Every pair not in the table is refused and changes nothing. */
static void test_forbidden_moves(void **state)
{
	struct fixture *f = *state;
	struct state_actor late = { "w1", T0 + LEASE, LEASE, NULL };
	struct state_job job, before, after;
	struct err e = ERR_INIT;
	size_t audits;
	char id[32];
	int from, to, n = 0;

	for (from = 0; from < STATE_COUNT; from++)
		for (to = 0; to < STATE_COUNT; to++) {
			if (state_allowed(from, to))
				continue;
			snprintf(id, sizeof(id), "no-%d-%d", from, to);
			reach(f->st, id, from, &job);
			assert_int_equal(state_get_job(f->st, id, &before, &e), 0);
			audits = audit_count(f->st, id);
			assert_int_equal(state_move(f->st, &late, &job, to, &full,
						    &e), -1);
			assert_int_equal(e.kind, ERR_NOT_ALLOWED);
			assert_int_equal(job.state, from);
			assert_int_equal(state_get_job(f->st, id, &after, &e), 0);
			assert_same_job(&before, &after);
			assert_int_equal(audit_count(f->st, id), audits);
			state_job_release(&before);
			state_job_release(&after);
			state_job_release(&job);
			n++;
		}
	assert_int_equal(n, STATE_COUNT * STATE_COUNT - 15);
	assert_int_equal(fixture_inconsistencies(f->path), 0);
}

/*
 * The operator's retry: FAILED and TIMED_OUT go back to QUEUED with the
 * error cleared (kept in the audit detail) and attempts kept; from any
 * other state it is refused.
 */
static void test_retry(void **state)
{
	struct fixture *f = *state;
	struct state_actor cli = { "cli", T0 + 10 * LEASE, 0, NULL };
	const enum state from[] = { STATE_FAILED, STATE_TIMED_OUT };
	struct state_audit_list list;
	struct state_job job;
	struct err e = ERR_INIT;
	char id[32];
	size_t i;
	int attempts;

	for (i = 0; i < 2; i++) {
		snprintf(id, sizeof(id), "retry-%zu", i);
		reach(f->st, id, from[i], &job);
		attempts = job.attempts;
		assert_int_equal(state_retry(f->st, &cli, &job, &e), 0);
		assert_int_equal(job.state, STATE_QUEUED);
		assert_null(job.error_code);
		assert_null(job.error_message);
		assert_null(job.worker_id);
		assert_int_equal(job.attempts, attempts);
		assert_null(state_job_violation(&job));
		assert_int_equal(state_get_audit(f->st, id, &list, &e), 0);
		assert_string_equal(list.items[list.nr - 1].actor, "cli");
		assert_non_null(strstr(list.items[list.nr - 1].detail,
				       "\"cleared_error_code\":\""));
		state_audit_list_release(&list);
		assert_int_equal(state_retry(f->st, &cli, &job, &e), -1);
		assert_int_equal(e.kind, ERR_NOT_ALLOWED);
		state_job_release(&job);
	}
	reach(f->st, "retry-done", STATE_COMPLETED, &job);
	assert_int_equal(state_retry(f->st, &cli, &job, &e), -1);
	assert_int_equal(e.kind, ERR_NOT_ALLOWED);
	state_job_release(&job);
}

/* No worker operation leaves a terminal state (only state_retry does). */
static void test_terminal_final(void **state)
{
	struct fixture *f = *state;
	struct state_actor late = { "w1", T0 + 10 * LEASE, LEASE, NULL };
	struct state_job job;
	struct err e = ERR_INIT;
	const enum state terminals[] = { STATE_COMPLETED, STATE_FAILED,
					 STATE_TIMED_OUT };
	char id[32];
	size_t i;

	for (i = 0; i < 3; i++) {
		snprintf(id, sizeof(id), "term-%zu", i);
		reach(f->st, id, terminals[i], &job);
		assert_int_equal(state_claim(f->st, &late, &job, &e), -1);
		assert_int_equal(e.kind, ERR_NOT_ALLOWED);
		assert_int_equal(state_takeover(f->st, &late, &job, &e), -1);
		assert_int_equal(e.kind, ERR_NOT_ALLOWED);
		assert_int_equal(state_renew(f->st, &late, &job, &e), -1);
		assert_int_equal(e.kind, ERR_NOT_ALLOWED);
		assert_int_equal(state_advance(f->st, &late, &job, &e), -1);
		assert_int_equal(e.kind, ERR_NOT_ALLOWED);
		assert_int_equal(state_complete(f->st, &late, &job, &result, &e), -1);
		assert_int_equal(e.kind, ERR_NOT_ALLOWED);
		assert_int_equal(state_fail(f->st, &late, &job, "X", "x", &e), -1);
		assert_int_equal(e.kind, ERR_NOT_ALLOWED);
		assert_int_equal(state_timeout(f->st, &late, &job, "x", &e), -1);
		assert_int_equal(e.kind, ERR_NOT_ALLOWED);
		assert_int_equal(state_release(f->st, &late, &job, "X", "x", &e), -1);
		assert_int_equal(e.kind, ERR_NOT_ALLOWED);
		assert_int_equal(job.state, terminals[i]);
		state_job_release(&job);
	}
}

/* Two readers of version 0: the second claim is a conflict. */
static void test_conflict_and_not_found(void **state)
{
	struct fixture *f = *state;
	struct state_actor w2 = { "w2", T0, LEASE, NULL };
	struct state_job a, b, ghost;
	struct err e = ERR_INIT;

	reach(f->st, "race", STATE_QUEUED, &a);
	assert_int_equal(state_get_job(f->st, "race", &b, &e), 0);
	assert_int_equal(state_claim(f->st, &W1, &a, &e), 0);
	assert_int_equal(a.version, 1);
	assert_string_equal(a.worker_id, "w1");
	assert_int_equal(a.attempts, 1);
	assert_int_equal(a.lease_expires_at, T0 + LEASE);
	assert_int_equal(state_claim(f->st, &w2, &b, &e), -1);
	assert_int_equal(e.kind, ERR_CONFLICT);
	assert_int_equal(b.version, 0);
	assert_int_equal(audit_count(f->st, "race"), 2);

	state_job_init(&ghost);
	ghost.id = strdup("ghost");
	ghost.state = STATE_QUEUED;
	assert_int_equal(state_claim(f->st, &W1, &ghost, &e), -1);
	assert_int_equal(e.kind, ERR_NOT_FOUND);
	state_job_release(&ghost);
	state_job_release(&a);
	state_job_release(&b);
}

/* Owner-only moves refuse other workers; fail is open to anyone. */
static void test_owner_rules(void **state)
{
	struct fixture *f = *state;
	struct state_actor w2 = { "w2", T0 + 1, LEASE, NULL };
	struct state_job job;
	struct err e = ERR_INIT;

	reach(f->st, "own", STATE_FETCHING, &job);
	assert_int_equal(state_advance(f->st, &w2, &job, &e), -1);
	assert_int_equal(e.kind, ERR_NOT_ALLOWED);
	assert_int_equal(state_release(f->st, &w2, &job, "X", "x", &e), -1);
	assert_int_equal(e.kind, ERR_NOT_ALLOWED);
	assert_int_equal(state_timeout(f->st, &w2, &job, "late", &e), -1);
	assert_int_equal(e.kind, ERR_NOT_ALLOWED);
	assert_int_equal(job.version, 1);
	assert_int_equal(state_fail(f->st, &w2, &job, "ABANDONED", "gone", &e), 0);
	assert_int_equal(job.state, STATE_FAILED);
	assert_string_equal(job.error_code, "ABANDONED");
	assert_string_equal(job.worker_id, "w1");
	assert_int_equal(job.lease_expires_at, 0);
	state_job_release(&job);
}

static void test_takeover(void **state)
{
	struct fixture *f = *state;
	struct state_actor w2 = { "w2", T0 + LEASE - 1, LEASE, NULL };
	struct state_audit_list list;
	struct state_job job, old;
	struct err e = ERR_INIT;

	reach(f->st, "tk", STATE_ANALYZING, &job);
	assert_int_equal(state_get_job(f->st, "tk", &old, &e), 0);
	/* live lease: refused, nothing changes */
	assert_int_equal(state_takeover(f->st, &w2, &job, &e), -1);
	assert_int_equal(e.kind, ERR_NOT_ALLOWED);
	assert_non_null(strstr(e.msg, "live"));
	assert_int_equal(audit_count(f->st, "tk"), 3);
	/* expired: taken over, audited as such */
	w2.now = T0 + LEASE;
	assert_int_equal(state_takeover(f->st, &w2, &job, &e), 0);
	assert_int_equal(job.state, STATE_FETCHING);
	assert_string_equal(job.worker_id, "w2");
	assert_int_equal(job.attempts, 2);
	assert_int_equal(job.version, 3);
	assert_int_equal(job.lease_expires_at, T0 + 2 * LEASE);
	assert_int_equal(state_get_audit(f->st, "tk", &list, &e), 0);
	assert_int_equal(list.nr, 4);
	assert_string_equal(list.items[3].actor, "w2");
	assert_non_null(strstr(list.items[3].detail, "\"takeover\":true"));
	assert_non_null(strstr(list.items[3].detail,
			       "\"previous_owner\":\"w1\""));
	state_audit_list_release(&list);
	/* the old owner's view is stale now */
	assert_int_equal(state_renew(f->st, &W1, &old, &e), -1);
	assert_int_equal(e.kind, ERR_CONFLICT);
	assert_int_equal(state_complete(f->st, &W1, &old, &result, &e), -1);
	assert_int_equal(e.kind, ERR_CONFLICT);
	state_job_release(&old);
	state_job_release(&job);
}

/* Renewal: owner only, no version change, no audit row, keeps it live. */
static void test_renew(void **state)
{
	struct fixture *f = *state;
	struct state_actor w1 = { "w1", T0 + LEASE - 10, LEASE, NULL };
	struct state_actor w2 = { "w2", T0 + LEASE - 10, LEASE, NULL };
	struct state_job job;
	struct err e = ERR_INIT;

	reach(f->st, "rn", STATE_FETCHING, &job);
	assert_int_equal(state_renew(f->st, &w2, &job, &e), -1);
	assert_int_equal(e.kind, ERR_NOT_ALLOWED);
	assert_int_equal(state_renew(f->st, &w1, &job, &e), 0);
	assert_int_equal(job.version, 1);
	assert_int_equal(job.lease_expires_at, T0 + 2 * LEASE - 10);
	assert_int_equal(audit_count(f->st, "rn"), 2);
	w2.now = T0 + LEASE + 5; /* past the first lease, within the new */
	assert_int_equal(state_takeover(f->st, &w2, &job, &e), -1);
	assert_int_equal(e.kind, ERR_NOT_ALLOWED);
	state_job_release(&job);
}

/* The result and the move commit together or not at all. */
static void test_complete_atomic(void **state)
{
	struct fixture *f = *state;
	struct state_result stored;
	struct state_job job;
	struct err e = ERR_INIT;

	reach(f->st, "cx", STATE_ANALYZING, &job);
	assert_int_equal(raw_exec(f->path, "INSERT INTO scan_results VALUES"
				  "('cx','x',0,NULL,NULL,NULL,NULL,NULL,'{}',0)"),
			 SQLITE_OK);
	assert_int_equal(state_complete(f->st, &W1, &job, &result, &e), -1);
	assert_int_equal(e.kind, ERR_INTERNAL);
	assert_int_equal(job.state, STATE_ANALYZING);
	assert_int_equal(audit_count(f->st, "cx"), 3);
	assert_int_equal(raw_int(f->path, "SELECT version FROM scan_jobs"
				 " WHERE id='cx'"), 2);
	assert_int_equal(raw_exec(f->path, "DELETE FROM scan_results"), 0);
	assert_int_equal(state_complete(f->st, &W1, &job, &result, &e), 0);
	assert_int_equal(state_get_result(f->st, "cx", &stored, &e), 0);
	assert_string_equal(stored.verdict, "safe");
	assert_int_equal(stored.risk_score, 7);
	assert_int_equal(stored.http_status, 200);
	assert_int_equal(stored.content_length, 1234);
	assert_null(stored.content_sha256);
	assert_string_equal(stored.result_json, result.result_json);
	assert_int_equal(stored.created_at, T0);
	state_result_release(&stored);
	assert_int_equal(state_get_result(f->st, "nope", &stored, &e), -1);
	assert_int_equal(e.kind, ERR_NOT_FOUND);
	state_result_release(&stored);
	state_job_release(&job);
}

static void test_sweep(void **state)
{
	struct fixture *f = *state;
	struct state_job_list list;
	struct state_job job;
	struct err e = ERR_INIT;

	reach(f->st, "sw-fetch", STATE_FETCHING, &job);
	state_job_release(&job);
	reach(f->st, "sw-analyze", STATE_ANALYZING, &job);
	state_job_release(&job);
	reach(f->st, "sw-queued", STATE_QUEUED, &job);
	state_job_release(&job);
	/* leases end at T0+LEASE; abandoned only past T0+2*LEASE */
	assert_int_equal(state_sweep(f->st, "bull:q1", T0 + 2 * LEASE, LEASE,
				     10, &list, &e), 0);
	assert_int_equal(list.nr, 0);
	state_job_list_release(&list);
	assert_int_equal(state_sweep(f->st, "bull:q1", T0 + 2 * LEASE + 1,
				     LEASE, 10, &list, &e), 0);
	assert_int_equal(list.nr, 2);
	assert_true(list.items[0].state == STATE_FETCHING ||
		    list.items[0].state == STATE_ANALYZING);
	state_job_list_release(&list);
	assert_int_equal(state_sweep(f->st, "bull:q1", T0 + 2 * LEASE + 1,
				     LEASE, 1, &list, &e), 0);
	assert_int_equal(list.nr, 1);
	state_job_list_release(&list);
	/* another queue's sweep sees none of them */
	assert_int_equal(state_sweep(f->st, "bull:q2", T0 + 2 * LEASE + 1,
				     LEASE, 10, &list, &e), 0);
	assert_int_equal(list.nr, 0);
	state_job_list_release(&list);
}

static int listed(const struct state_job_list *l, const char *id)
{
	size_t i;

	for (i = 0; i < l->nr; i++)
		if (!strcmp(l->items[i].id, id))
			return 1;
	return 0;
}

/*
 * Migration 2: create, claim, takeover and requeue record the queue and
 * job; a worker of another queue can neither take a row over nor requeue
 * it, and the sweep and the QUEUED listing are scoped to one queue; rows
 * that record no queue are nobody's to reconcile.
 */
static void test_queue_scope(void **state)
{
	struct fixture *f = *state;
	const long long late = T0 + 2 * LEASE + 1;
	const struct state_queue_ref q1b = { "bull:q1", "job-2" },
				     q1c = { "bull:q1", "qs-a" },
				     q2 = { "bull:q2", "n-7" };
	const struct state_actor w2 = { "w2", late, LEASE, &q1b },
				 w3 = { "w3", late, LEASE, &q1c },
				 early = { "w3", T0 + 1, LEASE, &q1c },
				 other = { "o1", late, LEASE, &q2 },
				 producer = { "producer", T0, 0, NULL };
	struct state_audit_list audit;
	struct state_job_list list;
	struct state_job job;
	struct err e = ERR_INIT;

	reach(f->st, "qs-a", STATE_FETCHING, &job);
	assert_string_equal(job.queue, "bull:q1");
	assert_string_equal(job.queue_job_id, "job-1");
	/* another queue's worker may not take it over, even expired */
	assert_int_equal(state_takeover(f->st, &other, &job, &e), -1);
	assert_int_equal(e.kind, ERR_NOT_ALLOWED);
	assert_non_null(strstr(e.msg, "belongs to queue 'bull:q1'"));
	assert_int_equal(state_requeue(f->st, &other, &job, "QUEUE_JOB_LOST",
				       "x", &e), -1);
	assert_int_equal(e.kind, ERR_NOT_ALLOWED);
	/* our queue's may, and records the job that carries it now */
	assert_int_equal(state_takeover(f->st, &w2, &job, &e), 0);
	assert_string_equal(job.queue_job_id, "job-2");
	assert_int_equal(job.attempts, 2);
	/* requeue by a non-owner: only once the lease expired */
	assert_int_equal(state_requeue(f->st, &early, &job, "QUEUE_JOB_LOST",
				       "gone", &e), -1);
	assert_int_equal(e.kind, ERR_NOT_ALLOWED);
	job.lease_expires_at = 0;
	{
		struct state_job again;

		assert_int_equal(state_get_job(f->st, "qs-a", &again, &e), 0);
		state_job_release(&job);
		job = again;
	}
	assert_int_equal(state_requeue(f->st, &(struct state_actor){
		"w3", late + 2 * LEASE, LEASE, &q1c }, &job, "QUEUE_JOB_LOST",
		"gone", &e), 0);
	assert_int_equal(job.state, STATE_QUEUED);
	assert_null(job.worker_id);
	assert_int_equal(job.lease_expires_at, 0);
	assert_null(job.error_code);
	assert_string_equal(job.queue_job_id, "qs-a");
	assert_null(state_job_violation(&job));
	assert_int_equal(state_get_audit(f->st, "qs-a", &audit, &e), 0);
	assert_string_equal(audit.items[audit.nr - 1].actor, "w3");
	assert_non_null(strstr(audit.items[audit.nr - 1].detail,
			       "\"previous_owner\":\"w2\""));
	assert_non_null(strstr(audit.items[audit.nr - 1].detail,
			       "\"error_code\":\"QUEUE_JOB_LOST\""));
	assert_int_equal(audit.nr, (size_t)job.version + 1);
	state_audit_list_release(&audit);
	/* QUEUED -> QUEUED: ours may, another queue's may not */
	assert_int_equal(state_requeue(f->st, &other, &job, "QUEUE_JOB_LOST",
				       "x", &e), -1);
	assert_int_equal(e.kind, ERR_NOT_ALLOWED);
	assert_int_equal(state_requeue(f->st, &w3, &job, "QUEUE_JOB_LOST",
				       "again", &e), 0);
	assert_int_equal(job.state, STATE_QUEUED);
	state_job_release(&job);

	/* a row that records no queue (before migration 2) */
	assert_int_equal(state_create(f->st, &producer, "qs-legacy",
				      "https://example.com/l", NULL, &e), 0);
	assert_int_equal(state_list_queued(f->st, "bull:q1", late + 10 * LEASE,
					   NULL, 100, &list, &e), 0);
	assert_true(listed(&list, "qs-a"));
	assert_false(listed(&list, "qs-legacy"));
	state_job_list_release(&list);
	assert_int_equal(state_list_queued(f->st, "bull:q2", late + 10 * LEASE,
					   NULL, 100, &list, &e), 0);
	assert_false(listed(&list, "qs-a"));
	state_job_list_release(&list);
	/* paging: ids after "qs-a" only */
	assert_int_equal(state_list_queued(f->st, "bull:q1", late + 10 * LEASE,
					   "qs-a", 100, &list, &e), 0);
	assert_false(listed(&list, "qs-a"));
	state_job_list_release(&list);
	/* its claim records the claimer's queue */
	assert_int_equal(state_get_job(f->st, "qs-legacy", &job, &e), 0);
	assert_null(job.queue);
	assert_int_equal(state_claim(f->st, &other, &job, &e), 0);
	assert_string_equal(job.queue, "bull:q2");
	assert_string_equal(job.queue_job_id, "n-7");
	state_job_release(&job);
	assert_int_equal(fixture_inconsistencies(f->path), 0);
}

static void test_violations(void **state)
{
	struct state_job j;
	char id[] = "v", url[] = "https://v/", w[] = "w", code[] = "X";

	(void)state;
	state_job_init(&j);
	j.id = id;
	j.url = url;
	j.state = STATE_FETCHING;
	j.attempts = 1;
	j.worker_id = w;
	j.lease_expires_at = 5;
	assert_null(state_job_violation(&j));
	j.worker_id = NULL;
	assert_non_null(state_job_violation(&j));
	j.worker_id = w;
	j.attempts = 0;
	assert_non_null(state_job_violation(&j));
	j.state = STATE_QUEUED;
	assert_non_null(state_job_violation(&j)); /* owner and lease */
	j.state = STATE_FAILED;
	j.lease_expires_at = 0;
	assert_non_null(state_job_violation(&j)); /* no error code */
	j.error_code = code;
	assert_null(state_job_violation(&j));
	j.state = STATE_COMPLETED;
	assert_non_null(state_job_violation(&j));
}

/* ---- torture: every backend call of a lifecycle fails in turn ---- */

typedef int (*step_fn)(struct store *st, const char *id,
		       struct state_job *job, struct err *e);

static int step_create(struct store *st, const char *id,
		       struct state_job *job, struct err *e)
{
	(void)job;
	return state_create(st, &W1, id, "https://t/", NULL, e);
}

static int step_read(struct store *st, const char *id, struct state_job *job,
		     struct err *e)
{
	state_job_release(job);
	return state_get_job(st, id, job, e);
}

static int step_claim(struct store *st, const char *id,
		      struct state_job *job, struct err *e)
{
	(void)id;
	return state_claim(st, &W1, job, e);
}

static int step_advance(struct store *st, const char *id,
			struct state_job *job, struct err *e)
{
	(void)id;
	return state_advance(st, &W1, job, e);
}

static int step_complete(struct store *st, const char *id,
			 struct state_job *job, struct err *e)
{
	(void)id;
	return state_complete(st, &W1, job, &result, e);
}

/* A lifecycle, one backend call per step. */
static const step_fn steps[] = { step_create, step_read, step_claim,
				 step_advance, step_complete };
#define NSTEPS ((int)(sizeof(steps) / sizeof(steps[0])))

/* Run steps from *done on; returns -1 at the first failure. */
static int run_steps(struct store *st, const char *id, struct state_job *job,
		     int *done, struct err *e)
{
	for (; *done < NSTEPS; (*done)++)
		if (steps[*done](st, id, job, e))
			return -1;
	return 0;
}

/*
 * SAFEURL_TEST_FAIL_STORE_CALL=n with more failures than attempts: step n
 * fails for good with ERR_UNAVAILABLE after its retries, having changed
 * nothing (the same job view finishes the scan on a clean handle) and
 * leaving every row with its audit trail.
 */
static void test_torture_lifecycle(void **state)
{
	struct fixture *f = *state;
	struct state_job job;
	struct err e = ERR_INIT;
	struct store *st;
	char id[16], n_s[16];
	int n, done;

	f->cfg.db_retry_attempts = 2;
	f->cfg.db_retry_max_ms = 50;
	for (n = 1; n <= NSTEPS; n++) {
		snprintf(id, sizeof(id), "t%d", n);
		snprintf(n_s, sizeof(n_s), "%d", n);
		setenv("SAFEURL_TEST_FAIL_STORE_CALL", n_s, 1);
		setenv("SAFEURL_TEST_FAIL_STORE_COUNT", "1000", 1);
		st = store_open(&f->cfg, &e);
		assert_non_null(st);
		state_job_init(&job);
		done = 0;
		assert_int_equal(run_steps(st, id, &job, &done, &e), -1);
		assert_int_equal(e.kind, ERR_UNAVAILABLE);
		assert_int_equal(done, n - 1);
		store_close(st);
		unsetenv("SAFEURL_TEST_FAIL_STORE_CALL");
		unsetenv("SAFEURL_TEST_FAIL_STORE_COUNT");
		assert_int_equal(fixture_inconsistencies(f->path), 0);
		st = store_open(&f->cfg, &e);
		assert_non_null(st);
		if (run_steps(st, id, &job, &done, &e))
			fail_msg("finishing after failed call %d: %s", n, e.msg);
		assert_int_equal(job.state, STATE_COMPLETED);
		assert_int_equal(job.version, 3);
		state_job_release(&job);
		store_close(st);
	}
	assert_int_equal(fixture_inconsistencies(f->path), 0);
}

/* ---- contention: processes racing on the same rows ---- */

#define RACE_PROCS 4
#define RACE_ROWS 600
#define RACE_PASSES 3

struct race_counts {
	long claims, releases, completes, conflicts, refused;
};

/* Count one failed attempt; anything but a lost race is a bug. */
static void race_lost(struct race_counts *c, const struct err *e)
{
	if (e->kind == ERR_CONFLICT)
		c->conflicts++;
	else if (e->kind == ERR_NOT_ALLOWED)
		c->refused++;
	else
		_exit(10 + (int)e->kind);
}

/*
 * Try to claim job as read; then release every third row on its first
 * attempt, else finish it.
 */
static void race_job(struct store *st, const struct state_actor *me,
		     struct state_job *job, struct race_counts *c)
{
	struct err e = ERR_INIT;
	unsigned n = (unsigned)strtoul(job->id + 1, NULL, 10);

	if (job->state != STATE_QUEUED)
		return;
	if (state_claim(st, me, job, &e)) {
		race_lost(c, &e);
		return;
	}
	c->claims++;
	if (n % 3 == 0 && job->attempts == 1) {
		if (state_release(st, me, job, "RETRY", "test", &e))
			_exit(3);
		c->releases++;
	} else if (state_advance(st, me, job, &e) ||
		   state_complete(st, me, job, &result, &e)) {
		_exit(4);
	} else {
		c->completes++;
	}
}

static void race_read(struct store *st, int i, struct state_job *job)
{
	struct err e = ERR_INIT;
	char id[16];

	snprintf(id, sizeof(id), "r%d", i);
	if (state_get_job(st, id, job, &e))
		_exit(2);
}

/*
 * Read every row, pass the start barrier (opened once every process has
 * read), then claim them all from
 * that stale view (every process tries every row at version 0: one wins
 * each), then pass again with fresh reads to finish the released rows.
 */
/* Start barrier: each child writes one byte to ready, then reads go. */
struct race_sync {
	int ready, go;
};

static void race_child(struct fixture *f, int k, struct race_sync sync,
		       int out)
{
	struct state_actor me = { NULL, T0, 60 * LEASE, NULL };
	struct race_counts c = { 0, 0, 0, 0, 0 };
	struct state_job *snap = calloc(RACE_ROWS, sizeof(*snap));
	struct state_job job;
	struct err e = ERR_INIT;
	struct store *st;
	char wid[16], ch;
	int pass, i;

	snprintf(wid, sizeof(wid), "w%d", k);
	me.id = wid;
	/* Generous: on a loaded machine a writer can hold the lock for seconds. */
	f->cfg.db_busy_timeout_ms = 60000;
	if (!snap || !(st = store_open(&f->cfg, &e)))
		_exit(1);
	for (i = 0; i < RACE_ROWS; i++)
		race_read(st, i, &snap[i]);
	if (write(sync.ready, "r", 1) != 1 || read(sync.go, &ch, 1) != 1)
		_exit(6);
	for (i = 0; i < RACE_ROWS; i++, me.now++)
		race_job(st, &me, &snap[i], &c);
	for (pass = 1; pass < RACE_PASSES; pass++)
		for (i = 0; i < RACE_ROWS; i++, me.now++) {
			race_read(st, i, &job);
			race_job(st, &me, &job, &c);
			state_job_release(&job);
		}
	store_close(st);
	if (write(out, &c, sizeof(c)) != (ssize_t)sizeof(c))
		_exit(5);
	_exit(0);
}

/* Replay a row's audit trail: contiguous versions, legal moves, owners. */
static void check_trail(struct store *st, const char *id, long *claims,
			long *releases)
{
	struct state_audit_list l;
	struct err e = ERR_INIT;
	const char *owner = NULL;
	size_t i;

	assert_int_equal(state_get_audit(st, id, &l, &e), 0);
	assert_true(l.nr >= 4);
	assert_int_equal(l.items[0].from, STATE_NONE);
	for (i = 0; i < l.nr; i++) {
		assert_int_equal(l.items[i].version, (long long)i);
		if (i == 0)
			continue;
		assert_int_equal(l.items[i].from, l.items[i - 1].to);
		assert_true(state_allowed(l.items[i].from, l.items[i].to));
		if (l.items[i].from == STATE_QUEUED) {
			assert_null(owner); /* one claim per lease */
			owner = l.items[i].actor;
			(*claims)++;
		} else {
			assert_non_null(owner);
			assert_string_equal(l.items[i].actor, owner);
		}
		if (l.items[i].to == STATE_QUEUED) {
			owner = NULL;
			(*releases)++;
		}
	}
	assert_int_equal(l.items[l.nr - 1].to, STATE_COMPLETED);
	state_audit_list_release(&l);
}

static void test_contention(void **state)
{
	struct fixture *f = *state;
	struct state_actor producer = { "producer", T0, 0, NULL };
	struct race_counts c, sum = { 0, 0, 0, 0, 0 };
	struct err e = ERR_INIT;
	long claims = 0, releases = 0;
	int fds[2], ready[2], go[2], i, status;
	pid_t pids[RACE_PROCS];
	char id[16];

	for (i = 0; i < RACE_ROWS; i++) {
		snprintf(id, sizeof(id), "r%d", i);
		assert_int_equal(state_create(f->st, &producer, id,
					      "https://example.com/", NULL, &e), 0);
	}
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	for (i = 0; i < RACE_PROCS; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0)
			race_child(f, i, (struct race_sync){ ready[1], go[0] },
				   fds[1]);
	}
	close(fds[1]);
	close(ready[1]);
	close(go[0]);
	for (i = 0; i < RACE_PROCS; i++)
		assert_int_equal(read(ready[0], id, 1), 1);
	close(ready[0]);
	for (i = 0; i < RACE_PROCS; i++)
		assert_int_equal(write(go[1], "g", 1), 1);
	close(go[1]);
	for (i = 0; i < RACE_PROCS; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
		assert_int_equal(read(fds[0], &c, sizeof(c)), sizeof(c));
		sum.claims += c.claims;
		sum.releases += c.releases;
		sum.completes += c.completes;
		sum.conflicts += c.conflicts;
		sum.refused += c.refused;
	}
	close(fds[0]);
	for (i = 0; i < RACE_ROWS; i++) {
		snprintf(id, sizeof(id), "r%d", i);
		check_trail(f->st, id, &claims, &releases);
	}
	assert_int_equal(sum.completes, RACE_ROWS);
	assert_int_equal(sum.releases, RACE_ROWS / 3);
	assert_int_equal(sum.claims, RACE_ROWS + RACE_ROWS / 3);
	assert_int_equal(claims, sum.claims);
	assert_int_equal(releases, sum.releases);
	/* every process tried every row from version 0: one won each */
	assert_true(sum.conflicts >= (long)(RACE_PROCS - 1) * RACE_ROWS);
	assert_int_equal(sum.refused, 0);
	assert_int_equal(fixture_inconsistencies(f->path), 0);
	print_message("contention: %ld claim attempts, %ld won, %ld lost\n",
		      sum.claims + sum.conflicts, sum.claims, sum.conflicts);
}

/* ---- crash safety: SIGKILL a writer in the middle of its loop ---- */

static void crash_writer(struct fixture *f, int ready)
{
	struct state_actor me = { "w-crash", T0, LEASE, NULL };
	struct state_job job;
	struct err e = ERR_INIT;
	struct store *st = store_open(&f->cfg, &e);
	char id[32];
	long i;

	if (!st)
		_exit(1);
	for (i = 0;; i++) {
		snprintf(id, sizeof(id), "c%ld", i);
		me.now++;
		if (state_create(st, &me, id, "https://c/", NULL, &e) ||
		    state_get_job(st, id, &job, &e) ||
		    state_claim(st, &me, &job, &e) ||
		    state_advance(st, &me, &job, &e) ||
		    (i % 2 ? state_complete(st, &me, &job, &result, &e) :
			     state_fail(st, &me, &job, "E", "e", &e)))
			_exit(2);
		state_job_release(&job);
		if (i == 20 && write(ready, "r", 1) != 1)
			_exit(3);
	}
}

static void test_crash_safety(void **state)
{
	struct fixture *f = *state;
	const long delays_us[] = { 1000, 20000, 70000 };
	int fds[2], status;
	size_t i;
	pid_t pid;
	char c;

	for (i = 0; i < sizeof(delays_us) / sizeof(delays_us[0]); i++) {
		assert_int_equal(pipe(fds), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			crash_writer(f, fds[1]);
		close(fds[1]);
		assert_int_equal(read(fds[0], &c, 1), 1);
		usleep((useconds_t)delays_us[i]);
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));
		close(fds[0]);
		/* file-level integrity: the embedded backend only */
		if (!fixture_is_url(f->path))
			assert_int_equal(raw_int(f->path, "SELECT count(*) FROM"
						 " pragma_integrity_check WHERE"
						 " integrity_check = 'ok'"), 1);
		assert_int_equal(fixture_inconsistencies(f->path), 0);
		assert_true(raw_int(f->path, "SELECT count(*) FROM scan_jobs") > 20);
		/* the next writer starts over on the same file */
		assert_int_equal(raw_exec(f->path, "DELETE FROM audit_logs;"
					  "DELETE FROM scan_results;"
					  "DELETE FROM scan_jobs"), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_violations),
		cmocka_unit_test_setup_teardown(test_create_idempotent, setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_allowed_moves, setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_forbidden_moves, setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_terminal_final, setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_retry, setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_conflict_and_not_found, setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_owner_rules, setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_takeover, setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_renew, setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_complete_atomic, setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_sweep, setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_queue_scope, setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_torture_lifecycle, setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_contention, setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_crash_safety, setup, fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
