/*
 * lifecycle - the in-memory lifecycles of a queue job held by the worker
 * (worker.c) and of a scan task in the pipeline (scan.c): their phases and
 * the tables of legal moves. Pure: no I/O, no locks. Each owner changes a
 * phase only through its own move function, which checks the move here,
 * logs it, and asserts in debug builds on a move the table does not list.
 *
 * Not here: the scan row's database states (state.h).
 */
#ifndef SAFEURL_LIFECYCLE_H
#define SAFEURL_LIFECYCLE_H

/*
 * A job the worker took from the queue, from adoption to being freed:
 *
 *   NEW --start--> RUNNING --report--> REPORTED --settled--> DONE
 *    |               |
 *    | given back    | grace over: released
 *    v               v
 *   RELEASE_REPORTED <--report-- RELEASING
 *    |                              |
 *    | release settled              | release settled first
 *    v                              v
 *   DONE <----------report----- RELEASED_AWAITING
 *
 * REPORTED -> DONE also when the outcome cannot be settled (abandoned to
 * the stalled check) and at exit for outcomes left unsent.
 */
enum job_phase {
	JOB_NEW,               /* adopted from a step, not started */
	JOB_RUNNING,           /* the processor has it */
	JOB_REPORTED,          /* outcome reported, to settle */
	JOB_RELEASING,         /* released at shutdown, processor not done */
	JOB_RELEASE_REPORTED,  /* released; the processor's report came */
	JOB_RELEASED_AWAITING, /* release settled; waiting for the report */
	JOB_DONE,              /* settled and reported: freed */
	JOB_PHASE_COUNT
};

/*
 * A scan task, from the processor's start call to being freed:
 *
 *   QUEUED --thread takes it--> WORKING <--row leaves us-- OWNED
 *                                 |  \-----claimed / advanced---^  |
 *                                 v                                | lease taken
 *                                DONE <------------------- LOST <--/
 *
 * OWNED: the row is ours and FETCHING or ANALYZING, so the keeper renews
 * its lease at the version the task published. LOST: the keeper found the
 * lease taken by another worker. OWNED -> DONE when a state operation
 * failed while the row was ours (the report is made, the task dropped).
 */
enum task_phase {
	TASK_QUEUED,  /* on the pending list */
	TASK_WORKING, /* a thread runs it; the row is not ours to renew */
	TASK_OWNED,   /* the row is ours: the keeper renews the lease */
	TASK_LOST,    /* another worker took the lease: stop the scan */
	TASK_DONE,    /* reported; being freed */
	TASK_PHASE_COUNT
};

/* 1 when the table lists from -> to, else 0 (out of range: 0). */
int lifecycle_job_allowed(enum job_phase from, enum job_phase to);
int lifecycle_task_allowed(enum task_phase from, enum task_phase to);

/* Upper-case names for logs; "?" out of range. Static strings. */
const char *lifecycle_job_name(enum job_phase p);
const char *lifecycle_task_name(enum task_phase p);

#endif
