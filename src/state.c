/*
 * state.c - the scan state machine: legal moves, guarded transitions with
 * their audit rows.
 *
 * Not here: the states' names (state_names.c) and reading jobs, results
 * and audit trails (state_read.c); both sit below this file, which calls
 * them and is called by neither.
 *
 *   create (NULL -> QUEUED, version 0)
 *      |
 *      v        claim             advance              complete
 *   QUEUED -------------> FETCHING ---------> ANALYZING ----------> COMPLETED
 *      ^                  |  ^  ^                 |  |
 *      |     release      |  |  +--- takeover ----+  |
 *      +------------------+  +--+ takeover           |
 *      |                  |  (both once the lease    |
 *      |                  |   has expired)           |
 *      | fail             | fail, timeout            | fail, timeout
 *      v                  v                          v
 *   FAILED           FAILED or TIMED_OUT        FAILED or TIMED_OUT
 *
 * The moves, FROM -> TO [function]; the table moves[] below is the only
 * source of legal moves and the tests iterate it:
 *
 *   QUEUED    -> FETCHING   [state_claim]     owner set, lease set, attempts+1
 *   FETCHING  -> FETCHING   [state_takeover]  only once the lease expired
 *   ANALYZING -> FETCHING   [state_takeover]  only once the lease expired
 *   FETCHING  -> ANALYZING  [state_advance]   by the owner
 *   ANALYZING -> COMPLETED  [state_complete]  by the owner, with the result
 *   FETCHING  -> TIMED_OUT  [state_timeout]   by the owner
 *   ANALYZING -> TIMED_OUT  [state_timeout]   by the owner
 *   QUEUED    -> FAILED     [state_fail]      by anyone (validation, sweep)
 *   FETCHING  -> FAILED     [state_fail]      by anyone
 *   ANALYZING -> FAILED     [state_fail]      by anyone
 *   FETCHING  -> QUEUED     [state_release]   by the owner, for a retry
 *   FETCHING  -> QUEUED     [state_requeue]   by anyone of the row's queue once
 *   ANALYZING -> QUEUED     [state_requeue]   the lease expired: the queue
 *                                             job is gone (reconciliation)
 *   QUEUED    -> QUEUED     [state_requeue]   by anyone of the row's queue:
 *                                             the queue job is gone
 *   FAILED    -> QUEUED     [state_retry]     by the operator (safeurl retry)
 *   TIMED_OUT -> QUEUED     [state_retry]     by the operator: error cleared
 *
 * The worker never moves a scan out of FAILED or TIMED_OUT: for it they are
 * terminal. Only an operator's `safeurl retry` starts a new attempt, through
 * the same guarded, audited move as every other (detail: the error it
 * clears), so the audit trail shows who retried what and why it had failed.
 *
 * Claim, takeover and requeue record the actor's queue and job in the row
 * (queue, queue_job_id); a takeover or requeue by anyone but the owner
 * needs the row to be of the actor's queue (or of none, for rows written
 * before migration 2), so a worker never moves another queue's scans.
 *
 * state_renew extends the owner's lease of a FETCHING or ANALYZING row; it
 * is not a move (same state, same version, no audit row).
 *
 * What each state guarantees (states[] below; state_check() asserts it):
 *
 *   QUEUED     no owner, no lease, no error; attempts = claims so far.
 *   FETCHING   an owner, a lease, attempts >= 1, no error.
 *   ANALYZING  an owner, a lease, attempts >= 1, no error.
 *   COMPLETED  terminal; no lease, no error; exactly one scan_results row.
 *   FAILED     terminal; no lease; error_code set.
 *   TIMED_OUT  terminal; no lease; error_code set (TIMEOUT).
 *
 * In every state: version = number of moves so far = number of audit rows
 * minus one, and the newest audit row's to_state and version match the
 * row, because each move is one guarded UPDATE plus its INSERT in one
 * batch.
 */
#include "fmacros.h"

#include <assert.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "state.h"
#include "state_int.h"
#include "store.h"
#include "banned.h"

enum rule { NEVER, MUST, MAY };

/* The states' names: state_names.c. */
static const struct state_info {
	unsigned char terminal;
	unsigned char owner, lease, error; /* enum rule */
} states[STATE_COUNT] = {
	[STATE_QUEUED] = { 0, NEVER, NEVER, NEVER },
	[STATE_FETCHING] = { 0, MUST, MUST, NEVER },
	[STATE_ANALYZING] = { 0, MUST, MUST, NEVER },
	[STATE_COMPLETED] = { 1, MAY, NEVER, NEVER },
	[STATE_FAILED] = { 1, MAY, NEVER, MUST },
	[STATE_TIMED_OUT] = { 1, MAY, NEVER, MUST },
};

enum column_mode { KEEP, SET, CLEAR }; /* matches STORE_SQL_JOB_MOVE */

/* Who may make a move (by_owner; matches STORE_SQL_JOB_MOVE ?14). */
enum { ANYONE, OWNER, OWNER_OR_EXPIRED };

struct move {
	enum state from, to;
	unsigned char owner;    /* enum column_mode for worker_id */
	unsigned char lease;    /* enum column_mode for lease_expires_at */
	unsigned char attempt;  /* attempts increment */
	unsigned char error;    /* SET: error_code and error_message from the
				 * change; CLEAR: both NULL; 0 keeps them */
	unsigned char by_owner; /* ANYONE, OWNER, OWNER_OR_EXPIRED */
	unsigned char expired;  /* only once the lease expired */
	unsigned char result;   /* inserts the scan_results row */
	unsigned char queue;    /* records the actor's queue and job; by a
				 * non-owner only on a row of that queue */
};

static const struct move moves[] = {
	/* from, to, owner, lease, attempt, error, by_owner, expired, result,
	 * queue */
	{ STATE_QUEUED, STATE_FETCHING, SET, SET, 1, 0, ANYONE, 0, 0, 1 },
	{ STATE_FETCHING, STATE_FETCHING, SET, SET, 1, 0, ANYONE, 1, 0, 1 },
	{ STATE_ANALYZING, STATE_FETCHING, SET, SET, 1, 0, ANYONE, 1, 0, 1 },
	{ STATE_FETCHING, STATE_ANALYZING, KEEP, KEEP, 0, 0, OWNER, 0, 0, 0 },
	{ STATE_ANALYZING, STATE_COMPLETED, KEEP, CLEAR, 0, 0, OWNER, 0, 1, 0 },
	{ STATE_FETCHING, STATE_TIMED_OUT, KEEP, CLEAR, 0, 1, OWNER, 0, 0, 0 },
	{ STATE_ANALYZING, STATE_TIMED_OUT, KEEP, CLEAR, 0, 1, OWNER, 0, 0, 0 },
	{ STATE_QUEUED, STATE_FAILED, KEEP, CLEAR, 0, 1, ANYONE, 0, 0, 0 },
	{ STATE_FETCHING, STATE_FAILED, KEEP, CLEAR, 0, 1, ANYONE, 0, 0, 0 },
	{ STATE_ANALYZING, STATE_FAILED, KEEP, CLEAR, 0, 1, ANYONE, 0, 0, 0 },
	{ STATE_FETCHING, STATE_QUEUED, CLEAR, CLEAR, 0, 0, OWNER_OR_EXPIRED,
	  0, 0, 1 },
	{ STATE_ANALYZING, STATE_QUEUED, CLEAR, CLEAR, 0, 0, OWNER_OR_EXPIRED,
	  0, 0, 1 },
	{ STATE_QUEUED, STATE_QUEUED, CLEAR, CLEAR, 0, 0, ANYONE, 0, 0, 1 },
	{ STATE_FAILED, STATE_QUEUED, CLEAR, CLEAR, 0, CLEAR, ANYONE, 0, 0, 0 },
	{ STATE_TIMED_OUT, STATE_QUEUED, CLEAR, CLEAR, 0, CLEAR, ANYONE, 0, 0,
	  0 },
};

#define NMOVES (sizeof(moves) / sizeof(moves[0]))

int state_is_terminal(enum state s)
{
	return (unsigned)s < STATE_COUNT && states[s].terminal;
}

/* FETCHING and ANALYZING: an owner holds a lease. */
static int leased(enum state s)
{
	return (unsigned)s < STATE_COUNT && states[s].lease == MUST;
}

static const struct move *find_move(enum state from, enum state to)
{
	size_t i;

	for (i = 0; i < NMOVES; i++)
		if (moves[i].from == from && moves[i].to == to)
			return &moves[i];
	return NULL;
}

int state_allowed(enum state from, enum state to)
{
	return find_move(from, to) != NULL;
}

/* ---- invariants ---- */

enum rule_col { COL_OWNER, COL_LEASE, COL_ERROR };

static const char *rule_violation(enum rule r, int present, enum rule_col c)
{
	static const char *const msgs[][2] = {
		[COL_OWNER] = { "worker_id must be NULL in this state",
				"worker_id must be set in this state" },
		[COL_LEASE] = { "lease_expires_at must be NULL in this state",
				"lease_expires_at must be set in this state" },
		[COL_ERROR] = { "error_code must be NULL in this state",
				"error_code must be set in this state" },
	};

	if (r == NEVER && present)
		return msgs[c][0];
	if (r == MUST && !present)
		return msgs[c][1];
	return NULL;
}

const char *state_job_violation(const struct state_job *job)
{
	const struct state_info *si;
	const char *v;

	if (!job->id || !job->url)
		return "id and url must be set";
	if ((unsigned)job->state >= STATE_COUNT)
		return "state must be one of the six states";
	if (job->version < 0 || job->attempts < 0)
		return "version and attempts must not be negative";
	if (job->updated_at < job->created_at)
		return "updated_at must not precede created_at";
	si = &states[job->state];
	if ((v = rule_violation(si->owner, job->worker_id != NULL, COL_OWNER)) ||
	    (v = rule_violation(si->lease, job->lease_expires_at != 0, COL_LEASE)) ||
	    (v = rule_violation(si->error, job->error_code != NULL, COL_ERROR)))
		return v;
	if (leased(job->state) && job->attempts < 1)
		return "a leased scan must have made an attempt";
	return NULL;
}

void state_check(const struct state_job *job)
{
	assert(state_job_violation(job) == NULL);
	(void)job;
}

/* ---- audit detail JSON ---- */

static void detail_key(struct buf *b, const char *key)
{
	buf_addf(b, NULL, "%s\"%s\":", b->len > 1 ? "," : "", key);
}

static void detail_str(struct buf *b, const char *key, const char *val)
{
	detail_key(b, key);
	if (!val) {
		buf_addstr(b, "null", NULL);
		return;
	}
	buf_addch(b, '"', NULL);
	buf_add_json_str(b, val, strlen(val), NULL);
	buf_addch(b, '"', NULL);
}

static void detail_int(struct buf *b, const char *key, long long val)
{
	detail_key(b, key);
	buf_addf(b, NULL, "%lld", val);
}

static void build_detail(struct buf *b, const struct move *m,
			 const struct state_job *job,
			 const struct state_actor *who,
			 const struct state_change *chg)
{
	long long lease = who->now + who->lease_ms;

	buf_addch(b, '{', NULL);
	if (m->expired) {
		detail_key(b, "takeover");
		buf_addstr(b, "true", NULL);
		detail_str(b, "previous_owner", job->worker_id);
	}
	if (m->lease == SET) {
		detail_int(b, "lease_expires_at", lease);
		detail_int(b, "attempt", job->attempts + m->attempt);
	}
	if (m->to == STATE_QUEUED && m->owner == CLEAR && job->worker_id &&
	    (!who->id || strcmp(job->worker_id, who->id)))
		detail_str(b, "previous_owner", job->worker_id);
	if (m->queue && who->queue) {
		detail_str(b, "queue", who->queue->queue);
		detail_str(b, "queue_job", who->queue->job_id);
	}
	if (m->error == CLEAR) {
		detail_str(b, "cleared_error_code", job->error_code);
		detail_str(b, "cleared_error_message", job->error_message);
	}
	if (chg->error_code) {
		detail_str(b, "error_code", chg->error_code);
		detail_str(b, "error_message", chg->error_message);
	}
	if (m->result) {
		detail_str(b, "verdict", chg->result->verdict);
		detail_int(b, "risk_score", chg->result->risk_score);
	}
	buf_addch(b, '}', NULL);
}

/* ---- transitions ---- */

static int owned_by(const struct state_job *cur, const struct state_actor *who)
{
	return cur->worker_id && who->id && !strcmp(cur->worker_id, who->id);
}

/* The row is of another queue than the actor's (rows of none are anyone's). */
static int other_queue(const struct state_job *cur,
		       const struct state_actor *who)
{
	return who->queue && who->queue->queue && cur->queue &&
	       strcmp(cur->queue, who->queue->queue);
}

/*
 * The guard returned no row: read the row again to say why. flags as in
 * struct move (by_owner, expired, queue).
 */
static int explain_miss(struct store *st, const struct state_actor *who,
			const struct state_job *job, int by_owner,
			int expired, int same_queue, struct err *e)
{
	struct state_job cur;

	if (state_get_job(st, job->id, &cur, e))
		return -1;
	if (by_owner == OWNER_OR_EXPIRED && !owned_by(&cur, who)) {
		by_owner = ANYONE;
		expired = 1;
	}
	if (cur.version != job->version || cur.state != job->state)
		err_set(e, ERR_CONFLICT,
			"state: scan '%s' is at version %lld (%s), not %lld (%s)",
			job->id, cur.version, state_name(cur.state),
			job->version, state_name(job->state));
	else if (same_queue && other_queue(&cur, who))
		err_set(e, ERR_NOT_ALLOWED,
			"state: scan '%s' belongs to queue '%s', not '%s'",
			job->id, cur.queue, who->queue->queue);
	else if (by_owner == OWNER && !owned_by(&cur, who))
		err_set(e, ERR_NOT_ALLOWED,
			"state: scan '%s' is owned by '%s', not '%s'", job->id,
			cur.worker_id ? cur.worker_id : "", who->id ? who->id : "");
	else if (expired && cur.lease_expires_at > who->now)
		err_set(e, ERR_NOT_ALLOWED,
			"state: lease of '%s' on scan '%s' is live for %lld ms",
			cur.worker_id ? cur.worker_id : "", job->id,
			cur.lease_expires_at - who->now);
	else
		err_set(e, ERR_INTERNAL,
			"state: scan '%s' refused the move for no known reason",
			job->id);
	state_job_release(&cur);
	return -1;
}

static int check_change(const struct move *m, const struct state_job *job,
			const struct state_change *chg, struct err *e)
{
	const struct state_result *r = chg->result;

	if (m->error == SET && !chg->error_code)
		return err_set(e, ERR_INVALID,
			       "state: scan '%s': %s needs an error code",
			       job->id, state_name(m->to));
	if (m->result && (!r || !r->verdict || !r->result_json))
		return err_set(e, ERR_INVALID,
			       "state: scan '%s': COMPLETED needs a result "
			       "with a verdict and its JSON", job->id);
	return 0;
}

static int refuse(const struct state_job *job, enum state to, struct err *e)
{
	return err_set(e, ERR_NOT_ALLOWED, "state: scan '%s': %s -> %s is not "
		       "allowed%s", job->id ? job->id : "",
		       state_name(job->state), state_name(to),
		       state_is_terminal(job->state) ?
			       " (terminal state)" : "");
}

/* An operation that does not apply to the state the job is in. */
static int wrong_from(const struct state_job *job, const char *what,
		      struct err *e)
{
	return err_set(e, ERR_NOT_ALLOWED, "state: scan '%s': no %s from %s",
		       job->id ? job->id : "", what, state_name(job->state));
}

/*
 * Run the batch whose first statement guards job; on success replace job
 * by the returned row. by_owner/expired/same_queue explain a guard miss.
 */
static int run_guarded(struct store *st, const struct state_actor *who,
		       struct state_job *job, const struct store_stmt *stmts,
		       size_t n, int by_owner, int expired, int same_queue,
		       struct err *e)
{
	struct state_job now;
	int rc;

	state_job_init(&now);
	rc = store_batch(st, job->id, stmts, n, state_job_row, &now, e);
	if (rc == 1) {
		state_job_release(job);
		*job = now;
		state_check(job);
		return 0;
	}
	state_job_release(&now);
	if (rc == 0)
		return explain_miss(st, who, job, by_owner, expired,
				    same_queue, e);
	return -1;
}

static void result_args(struct store_val *a, const struct state_job *job,
			const struct state_result *r, long long now)
{
	a[0] = STORE_VAL_TEXT(job->id);
	a[1] = STORE_VAL_TEXT(r->verdict);
	a[2] = STORE_VAL_INT(r->risk_score);
	a[3] = r->http_status ? STORE_VAL_INT(r->http_status) : STORE_VAL_NULL;
	a[4] = STORE_VAL_TEXT(r->final_url);
	a[5] = STORE_VAL_TEXT(r->content_type);
	a[6] = STORE_VAL_TEXT(r->content_sha256);
	a[7] = r->content_length >= 0 ? STORE_VAL_INT(r->content_length) :
					STORE_VAL_NULL;
	a[8] = STORE_VAL_TEXT(r->result_json);
	a[9] = STORE_VAL_INT(now);
}

static void audit_args(struct store_val *a, const char *id, enum state from,
		       enum state to, long long version,
		       const struct state_actor *who, const char *detail)
{
	a[0] = STORE_VAL_TEXT(id);
	a[1] = from == STATE_NONE ? STORE_VAL_NULL :
				    STORE_VAL_TEXT(state_name(from));
	a[2] = STORE_VAL_TEXT(state_name(to));
	a[3] = STORE_VAL_INT(version);
	a[4] = STORE_VAL_TEXT(who->id);
	a[5] = STORE_VAL_TEXT(detail);
	a[6] = STORE_VAL_INT(who->now);
}

/* Does move m by who write the row's queue and job id? */
static int record_queue(const struct move *m, const struct state_actor *who)
{
	return m->queue && who->queue && who->queue->queue;
}

/* Must the row be of who's queue? Moves that record it, but a claim. */
static int same_queue(const struct move *m, const struct state_actor *who)
{
	return record_queue(m, who) &&
	       !(m->from == STATE_QUEUED && m->to == STATE_FETCHING);
}

/* Parameters of STORE_SQL_JOB_MOVE for move m of job. */
static void move_args(struct store_val *a, const struct move *m,
		      const struct state_job *job,
		      const struct state_actor *who,
		      const struct state_change *chg)
{
	a[0] = STORE_VAL_TEXT(state_name(m->to));
	a[1] = STORE_VAL_INT(who->now);
	a[2] = STORE_VAL_INT(m->owner);
	a[3] = STORE_VAL_TEXT(who->id);
	a[4] = STORE_VAL_INT(m->lease);
	a[5] = STORE_VAL_INT(who->now + who->lease_ms);
	a[6] = STORE_VAL_INT(m->attempt);
	a[7] = STORE_VAL_INT(m->error != 0);
	a[8] = m->error == CLEAR ? STORE_VAL_NULL :
				   STORE_VAL_TEXT(chg->error_code);
	a[9] = m->error == CLEAR ? STORE_VAL_NULL :
				   STORE_VAL_TEXT(chg->error_message);
	a[10] = STORE_VAL_TEXT(job->id);
	a[11] = STORE_VAL_INT(job->version);
	a[12] = STORE_VAL_TEXT(state_name(job->state));
	a[13] = STORE_VAL_INT(m->by_owner);
	a[14] = STORE_VAL_INT(m->expired);
	a[15] = STORE_VAL_INT(record_queue(m, who));
	a[16] = STORE_VAL_TEXT(who->queue ? who->queue->queue : NULL);
	a[17] = STORE_VAL_TEXT(who->queue ? who->queue->job_id : NULL);
	a[18] = STORE_VAL_INT(same_queue(m, who));
}

/* One batch: the guarded move, its audit row, the result if any. */
static int do_move(struct store *st, const struct state_actor *who,
		   struct state_job *job, const struct move *m,
		   const struct state_change *chg, struct err *e)
{
	struct store_val mv[19], au[7], rs[10];
	struct store_stmt stmts[3] = {
		{ STORE_SQL_JOB_MOVE, mv, 19, STORE_GUARD },
		{ STORE_SQL_AUDIT_ADD, au, 7, 0 },
		{ STORE_SQL_RESULT_ADD, rs, 10, 0 },
	};
	struct buf detail = BUF_INIT;
	int rc;

	build_detail(&detail, m, job, who, chg);
	move_args(mv, m, job, who, chg);
	audit_args(au, job->id, m->from, m->to, job->version + 1, who,
		   detail.data);
	if (m->result)
		result_args(rs, job, chg->result, who->now);
	rc = run_guarded(st, who, job, stmts, m->result ? 3 : 2, m->by_owner,
			 m->expired, same_queue(m, who), e);
	buf_release(&detail);
	return rc;
}

int state_move(struct store *st, const struct state_actor *who,
	       struct state_job *job, enum state to,
	       const struct state_change *chg, struct err *e)
{
	static const struct state_change none;
	const struct move *m = find_move(job->state, to);

	if (!m)
		return refuse(job, to, e);
	if (!chg)
		chg = &none;
	if (check_change(m, job, chg, e))
		return -1;
	return do_move(st, who, job, m, chg, e);
}

int state_claim(struct store *st, const struct state_actor *who,
		struct state_job *job, struct err *e)
{
	if (job->state != STATE_QUEUED)
		return wrong_from(job, "claim", e);
	return state_move(st, who, job, STATE_FETCHING, NULL, e);
}

int state_takeover(struct store *st, const struct state_actor *who,
		   struct state_job *job, struct err *e)
{
	if (job->state == STATE_QUEUED)
		return wrong_from(job, "takeover", e);
	return state_move(st, who, job, STATE_FETCHING, NULL, e);
}

int state_advance(struct store *st, const struct state_actor *who,
		  struct state_job *job, struct err *e)
{
	return state_move(st, who, job, STATE_ANALYZING, NULL, e);
}

int state_complete(struct store *st, const struct state_actor *who,
		   struct state_job *job, const struct state_result *res,
		   struct err *e)
{
	struct state_change chg = { NULL, NULL, res };

	return state_move(st, who, job, STATE_COMPLETED, &chg, e);
}

/* A move that carries an error code and message (copied). */
static int move_error(struct store *st, const struct state_actor *who,
		      struct state_job *job, enum state to, const char *code,
		      const char *message, struct err *e)
{
	struct state_change chg = { code, message, NULL };

	return state_move(st, who, job, to, &chg, e);
}

int state_fail(struct store *st, const struct state_actor *who,
	       struct state_job *job, const char *code, const char *message,
	       struct err *e)
{
	return move_error(st, who, job, STATE_FAILED, code, message, e);
}

int state_timeout(struct store *st, const struct state_actor *who,
		  struct state_job *job, const char *message, struct err *e)
{
	return move_error(st, who, job, STATE_TIMED_OUT, "TIMEOUT", message, e);
}

int state_release(struct store *st, const struct state_actor *who,
		  struct state_job *job, const char *code, const char *message,
		  struct err *e)
{
	if (job->state != STATE_FETCHING)
		return wrong_from(job, "release", e);
	return move_error(st, who, job, STATE_QUEUED, code, message, e);
}

int state_requeue(struct store *st, const struct state_actor *who,
		  struct state_job *job, const char *code, const char *message,
		  struct err *e)
{
	struct state_change chg = { code, message, NULL };

	if (!who->queue || !who->queue->queue || !who->queue->job_id)
		return err_set(e, ERR_INVALID, "state: scan '%s': a requeue "
			       "needs the queue and job that will carry it",
			       job->id ? job->id : "");
	if (state_is_terminal(job->state))
		return wrong_from(job, "requeue", e);
	return state_move(st, who, job, STATE_QUEUED, &chg, e);
}

int state_retry(struct store *st, const struct state_actor *who,
		struct state_job *job, struct err *e)
{
	if (job->state != STATE_FAILED && job->state != STATE_TIMED_OUT)
		return wrong_from(job, "retry", e);
	return state_move(st, who, job, STATE_QUEUED, NULL, e);
}

int state_renew(struct store *st, const struct state_actor *who,
		struct state_job *job, struct err *e)
{
	struct store_val a[5] = {
		STORE_VAL_INT(who->now + who->lease_ms), STORE_VAL_INT(who->now),
		STORE_VAL_TEXT(job->id), STORE_VAL_INT(job->version),
		STORE_VAL_TEXT(who->id),
	};
	struct store_stmt q = { STORE_SQL_JOB_RENEW, a, 5, STORE_GUARD };

	if (!leased(job->state))
		return wrong_from(job, "lease renewal", e);
	return run_guarded(st, who, job, &q, 1, OWNER, 0, 0, e);
}

int state_create(struct store *st, const struct state_actor *who,
		 const char *id, const char *url, int *created,
		 struct err *e)
{
	const struct state_queue_ref *q = who->queue;
	struct store_val job[5] = {
		STORE_VAL_TEXT(id), STORE_VAL_TEXT(url), STORE_VAL_INT(who->now),
		STORE_VAL_TEXT(q ? q->queue : NULL),
		STORE_VAL_TEXT(q ? q->job_id : NULL),
	};
	struct store_val au[7];
	struct store_stmt stmts[2] = {
		{ STORE_SQL_JOB_CREATE, job, 5, STORE_GUARD },
		{ STORE_SQL_AUDIT_ADD, au, 7, 0 },
	};
	struct buf detail = BUF_INIT;
	int rc;

	buf_addch(&detail, '{', NULL);
	detail_str(&detail, "url", url);
	if (q && q->queue) {
		detail_str(&detail, "queue", q->queue);
		detail_str(&detail, "queue_job", q->job_id);
	}
	buf_addch(&detail, '}', NULL);
	audit_args(au, id, STATE_NONE, STATE_QUEUED, 0, who, detail.data);
	rc = store_batch(st, id, stmts, 2, NULL, NULL, e);
	buf_release(&detail);
	if (rc < 0)
		return -1;
	if (created)
		*created = rc;
	return 0;
}
