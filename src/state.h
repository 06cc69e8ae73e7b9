/*
 * state - the scan state machine over the store (SPEC §5).
 *
 * Every move is one statement guarded by the version the caller read
 * (`WHERE id=? AND version=?`, version+1) and writes its audit_logs row in
 * the same batch; the legal moves are one table in state.c, which opens
 * with the diagram. Each transition takes the job as the caller read it
 * and, when done, updates it in place to the row as now stored.
 *
 * Outcomes of a transition: 0 done (job->version is the new version), or
 * -1 with e->kind ERR_CONFLICT (someone else moved the row first: skip),
 * ERR_NOT_ALLOWED (the table or the row forbids it: terminal state, not the
 * owner, a live lease), ERR_NOT_FOUND (no such row), ERR_UNAVAILABLE (the
 * database stayed busy or unreachable past the retry bounds) or
 * ERR_INTERNAL (constraint or logic error). On -1 nothing changed.
 *
 * Times are Unix epoch milliseconds passed by the caller, so that tests
 * control the clock. Not here: queue semantics, containers, SQL text.
 */
#ifndef SAFEURL_STATE_H
#define SAFEURL_STATE_H

#include <stddef.h>

struct err;
struct store;

enum state {
	STATE_NONE = -1, /* before creation (audit from_state NULL) */
	STATE_QUEUED,
	STATE_FETCHING,
	STATE_ANALYZING,
	STATE_COMPLETED,
	STATE_FAILED,
	STATE_TIMED_OUT,
	STATE_COUNT
};

/* Static upper-case name ("QUEUED"...), "?" for a bad value. */
const char *state_name(enum state s);
/* Parse a name; STATE_NONE when unknown or NULL. */
enum state state_parse(const char *name);
int state_is_terminal(enum state s);
/* Is from -> to a move of the table? (also used by the tests) */
int state_allowed(enum state from, enum state to);

/* A scan_jobs row; strings owned by the struct. */
struct state_job {
	char *id;
	char *url;
	enum state state;
	long long version;
	int attempts;
	char *worker_id;            /* NULL when unowned */
	long long lease_expires_at; /* 0 when no lease */
	char *error_code;           /* NULL unless FAILED/TIMED_OUT */
	char *error_message;
	long long created_at;
	long long updated_at;
	char *queue;                /* "prefix:name"; NULL before migration 2
				     * or from a producer that did not say */
	char *queue_job_id;         /* BullMQ job id last recorded; may be NULL */
};

void state_job_init(struct state_job *job);
void state_job_release(struct state_job *job);

/*
 * NULL when job keeps the invariants of its state (see state.c), else a
 * static sentence naming the broken one. state_check() asserts it in
 * debug builds.
 */
const char *state_job_violation(const struct state_job *job);
void state_check(const struct state_job *job);

/*
 * The BullMQ job that carries a scan: its queue as "prefix:name" (e.g.
 * "bull:scan-jobs") and its job id. Strings borrowed.
 */
struct state_queue_ref {
	const char *queue;
	const char *job_id;
};

/* Who acts and when. Strings borrowed for the call. */
struct state_actor {
	const char *id;     /* worker id, or "cli" / "producer" */
	long long now;      /* Unix epoch ms */
	long long lease_ms; /* lease length for claim, takeover, renew */
	/*
	 * The queue the actor serves and the job at hand, or NULL. Recorded
	 * in the row (columns queue, queue_job_id) by create, claim, takeover
	 * and requeue, and in their audit detail; a takeover or requeue by a
	 * non-owner then needs the row to be of this queue (or of none).
	 */
	const struct state_queue_ref *queue;
};

/* A scan_results row; strings owned by the struct. */
struct state_result {
	char *job_id;
	char *verdict;         /* safe | suspicious | malicious | blocked | error */
	int risk_score;        /* 0..100 */
	int http_status;       /* 0 = none */
	char *final_url;       /* may be NULL */
	char *content_type;    /* may be NULL */
	char *content_sha256;  /* may be NULL */
	long long content_length; /* -1 = unknown */
	char *result_json;     /* the fetcher's document, as stored */
	long long created_at;
};

void state_result_init(struct state_result *res);
void state_result_release(struct state_result *res);

/* One audit_logs row; strings owned. from is STATE_NONE for creation. */
struct state_audit {
	long long id;
	char *job_id;
	enum state from;
	enum state to;
	long long version;
	char *actor;
	char *detail; /* JSON */
	long long created_at;
};

struct state_audit_list {
	struct state_audit *items;
	size_t nr;
};

void state_audit_list_release(struct state_audit_list *list);

struct state_job_list {
	struct state_job *items;
	size_t nr;
};

void state_job_list_release(struct state_job_list *list);

/*
 * Create the row (QUEUED, version 0) with its NULL -> QUEUED audit row,
 * unless a row with this id exists. id and url copied. *created (may be
 * NULL) is 1 when this call created it, 0 when it existed.
 */
int state_create(struct store *st, const struct state_actor *who,
		 const char *id, const char *url, int *created,
		 struct err *e);

/* QUEUED -> FETCHING: owner = who->id, lease = now + lease_ms, attempts+1. */
int state_claim(struct store *st, const struct state_actor *who,
		struct state_job *job, struct err *e);
/*
 * FETCHING/ANALYZING -> FETCHING for who->id, only when the lease has
 * expired at who->now (else ERR_NOT_ALLOWED); attempts+1; audited with
 * {"takeover":true,"previous_owner":...}.
 */
int state_takeover(struct store *st, const struct state_actor *who,
		   struct state_job *job, struct err *e);
/*
 * Extend the owner's lease to now + lease_ms. Not a state change: the
 * version stays and no audit row is written. ERR_NOT_ALLOWED for anyone
 * but the owner, ERR_CONFLICT when the row moved.
 */
int state_renew(struct store *st, const struct state_actor *who,
		struct state_job *job, struct err *e);
/* FETCHING -> ANALYZING, by the owner. */
int state_advance(struct store *st, const struct state_actor *who,
		  struct state_job *job, struct err *e);
/*
 * ANALYZING -> COMPLETED by the owner, inserting res (copied from; its
 * job_id and created_at are ignored) in the same batch.
 */
int state_complete(struct store *st, const struct state_actor *who,
		   struct state_job *job, const struct state_result *res,
		   struct err *e);
/* Any non-terminal -> FAILED with code and message (copied), by anyone. */
int state_fail(struct store *st, const struct state_actor *who,
	       struct state_job *job, const char *code, const char *message,
	       struct err *e);
/* FETCHING/ANALYZING -> TIMED_OUT (error_code TIMEOUT), by the owner. */
int state_timeout(struct store *st, const struct state_actor *who,
		  struct state_job *job, const char *message, struct err *e);
/*
 * FETCHING -> QUEUED for a retry, by the owner: owner and lease cleared;
 * code and message (copied) go into the audit detail only.
 */
int state_release(struct store *st, const struct state_actor *who,
		  struct state_job *job, const char *code, const char *message,
		  struct err *e);

/*
 * Give a scan whose queue job is gone back to the queue (reconciliation):
 * QUEUED -> QUEUED, or FETCHING/ANALYZING -> QUEUED once the lease has
 * expired at who->now (else ERR_NOT_ALLOWED), by anyone serving the row's
 * queue. Owner and lease cleared; who->queue (required) is recorded as the
 * scan's queue and the job that will carry it; code and message (copied)
 * say why, in the audit detail only.
 */
int state_requeue(struct store *st, const struct state_actor *who,
		  struct state_job *job, const char *code, const char *message,
		  struct err *e);

/*
 * FAILED/TIMED_OUT -> QUEUED, by the operator (who->id "cli"): a new
 * attempt; error_code and error_message cleared (kept in the audit
 * detail), attempts kept. ERR_NOT_ALLOWED from any other state.
 */
int state_retry(struct store *st, const struct state_actor *who,
		struct state_job *job, struct err *e);

/* The change a generic move carries; unused fields NULL. */
struct state_change {
	const char *error_code;
	const char *error_message;
	const struct state_result *result; /* required for COMPLETED */
};

/*
 * The generic move behind the functions above: job->state -> to, with the
 * rules of the table row for that pair. ERR_NOT_ALLOWED for a pair not in
 * the table.
 */
int state_move(struct store *st, const struct state_actor *who,
	       struct state_job *job, enum state to,
	       const struct state_change *chg, struct err *e);

/*
 * Read a job into *job (initialised here, its strings new; release it with
 * state_job_release() whatever the outcome). ERR_NOT_FOUND when missing.
 */
int state_get_job(struct store *st, const char *id, struct state_job *job,
		  struct err *e);
/* The same for a job's result; ERR_NOT_FOUND when there is none. */
int state_get_result(struct store *st, const char *id,
		     struct state_result *res, struct err *e);
/*
 * A job's audit trail, oldest first, into *list (initialised here; release
 * with state_audit_list_release()). Empty for an unknown id.
 */
int state_get_audit(struct store *st, const char *id,
		    struct state_audit_list *list, struct err *e);

/*
 * Abandoned rows of queue (borrowed, "prefix:name"): FETCHING/ANALYZING
 * whose lease expired before now - lease_ms (more than one lease ago),
 * oldest first, at most limit. The caller checks the queue before acting
 * on them (reconcile.h). Rows of other queues, or of none, are never
 * listed.
 */
int state_sweep(struct store *st, const char *queue, long long now,
		long long lease_ms, size_t limit, struct state_job_list *list,
		struct err *e);

/*
 * QUEUED rows of queue (borrowed) last changed before `before` (epoch ms)
 * whose id sorts after `after` (borrowed; NULL = from the start), by id,
 * at most limit: pages for reconciliation and `safeurl requeue --stale`.
 */
int state_list_queued(struct store *st, const char *queue, long long before,
		      const char *after, size_t limit,
		      struct state_job_list *list, struct err *e);

/* What `safeurl list` selects; strings borrowed. */
struct state_filter {
	enum state state;       /* STATE_NONE = any */
	const char *error_code; /* NULL = any */
	long long since;        /* changed at or after (epoch ms); 0 = ever */
};

/*
 * Rows matching f, most recently changed first, at most limit, into *list
 * (initialised here; release with state_job_list_release()).
 */
int state_list(struct store *st, const struct state_filter *f,
	       size_t limit, struct state_job_list *list, struct err *e);

/* How many rows are in one state with one error code (NULL = none). */
struct state_count {
	enum state state;
	char *error_code; /* owned */
	long long count;
};

struct state_count_list {
	struct state_count *items;
	size_t nr;
};

void state_count_list_release(struct state_count_list *list);
/* Counts by state and error code into *list (initialised here). */
int state_counts(struct store *st, struct state_count_list *list,
		 struct err *e);

#endif
