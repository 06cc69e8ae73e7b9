/*
 * queue_admin - the operator's view of and hand on a BullMQ queue, for the
 * `safeurl` commands stats, history, retry, cancel, pause and resume.
 *
 * Every change is made the way BullMQ's own Queue and Job methods make it
 * (Queue.pause/resume, Job.retry, Job.remove): the same keys, fields,
 * marker and events, so Node observers see what they would see from a
 * Node operator. One blocking hiredis connection, opened per command.
 *
 * Not here: consuming jobs (queue.c), adding them (queue_producer.c), and
 * anything about scans or the database.
 */
#ifndef SAFEURL_QUEUE_ADMIN_H
#define SAFEURL_QUEUE_ADMIN_H

struct err;
struct queue_params;
struct queue_admin;

/*
 * Connect (blocking, 5 s timeout) and authenticate. New handle in *out,
 * caller closes it with queue_admin_close(). ERR_UNAVAILABLE when Redis
 * does not answer; ERR_NOT_ALLOWED when it refuses the password
 * (WRONGPASS, NOAUTH): configuration, not an outage. params copied from.
 */
int queue_admin_open(struct queue_admin **out,
		     const struct queue_params *params, struct err *e);
void queue_admin_close(struct queue_admin *qa);

/* The queue's job counts, as Queue.getJobCounts() names them. */
struct queue_admin_counts {
	long long waiting, prioritized, active, delayed, failed, completed;
	int paused; /* Queue.isPaused() */
};

int queue_admin_counts(struct queue_admin *qa, struct queue_admin_counts *c,
		       struct err *e);

/* One job as Job.fromId() and Job.getState() see it. */
struct queue_admin_job {
	const char *state; /* static: waiting, prioritized, active, delayed,
			    * failed, completed, unknown (no such job) */
	long long attempts_made;    /* "atm" */
	long long attempts_started; /* "ats" */
	char *failed_reason;        /* owned; NULL when none */
};

void queue_admin_job_release(struct queue_admin_job *j);
/* id borrowed; *j filled (release it whatever the outcome). */
int queue_admin_job(struct queue_admin *qa, const char *id,
		    struct queue_admin_job *j, struct err *e);

/*
 * Job.remove() for a job that no worker holds: its hash, logs and its
 * place in wait, prioritized or delayed; a "removed" event. *removed is 1
 * when removed, 0 when there was no such job waiting (gone, finished, or
 * active: a worker holds it and will find its scan moved on).
 */
int queue_admin_remove(struct queue_admin *qa, const char *id, int *removed,
		       struct err *e);

/*
 * Job.retry() for a failed or completed job: back to wait (or prioritized),
 * attempts counters reset, "waiting" event. *moved: 1 done, 0 the job is
 * still pending (nothing to do), -1 there is no such job (add a new one).
 */
int queue_admin_retry(struct queue_admin *qa, const char *id, int *moved,
		      struct err *e);

/* Queue.pause() (pause = 1) or Queue.resume() (pause = 0). */
int queue_admin_pause(struct queue_admin *qa, int pause, struct err *e);

#endif
