/*
 * lifecycle.c - the tables of legal moves of the worker's jobs and the
 * pipeline's scan tasks (diagrams in lifecycle.h). The tables are the only
 * source of legal moves; tests/unit/test_lifecycle.c iterates them.
 */
#include "fmacros.h"

#include "lifecycle.h"
#include "banned.h"

static const char *const job_names[JOB_PHASE_COUNT] = {
	[JOB_NEW] = "NEW",
	[JOB_RUNNING] = "RUNNING",
	[JOB_REPORTED] = "REPORTED",
	[JOB_RELEASING] = "RELEASING",
	[JOB_RELEASE_REPORTED] = "RELEASE_REPORTED",
	[JOB_RELEASED_AWAITING] = "RELEASED_AWAITING",
	[JOB_DONE] = "DONE",
};

/* job_moves[from][to]: 1 when legal. */
static const unsigned char job_moves[JOB_PHASE_COUNT][JOB_PHASE_COUNT] = {
	[JOB_NEW] = { [JOB_RUNNING] = 1, [JOB_RELEASE_REPORTED] = 1 },
	[JOB_RUNNING] = { [JOB_REPORTED] = 1, [JOB_RELEASING] = 1 },
	[JOB_REPORTED] = { [JOB_DONE] = 1 },
	[JOB_RELEASING] = { [JOB_RELEASE_REPORTED] = 1,
			    [JOB_RELEASED_AWAITING] = 1 },
	[JOB_RELEASE_REPORTED] = { [JOB_DONE] = 1 },
	[JOB_RELEASED_AWAITING] = { [JOB_DONE] = 1 },
	[JOB_DONE] = { 0 },
};

static const char *const task_names[TASK_PHASE_COUNT] = {
	[TASK_QUEUED] = "QUEUED",
	[TASK_WORKING] = "WORKING",
	[TASK_OWNED] = "OWNED",
	[TASK_LOST] = "LOST",
	[TASK_DONE] = "DONE",
};

static const unsigned char task_moves[TASK_PHASE_COUNT][TASK_PHASE_COUNT] = {
	[TASK_QUEUED] = { [TASK_WORKING] = 1 },
	[TASK_WORKING] = { [TASK_OWNED] = 1, [TASK_DONE] = 1 },
	[TASK_OWNED] = { [TASK_WORKING] = 1, [TASK_LOST] = 1, [TASK_DONE] = 1 },
	[TASK_LOST] = { [TASK_DONE] = 1 },
	[TASK_DONE] = { 0 },
};

int lifecycle_job_allowed(enum job_phase from, enum job_phase to)
{
	if ((unsigned)from >= JOB_PHASE_COUNT || (unsigned)to >= JOB_PHASE_COUNT)
		return 0;
	return job_moves[from][to];
}

int lifecycle_task_allowed(enum task_phase from, enum task_phase to)
{
	if ((unsigned)from >= TASK_PHASE_COUNT ||
	    (unsigned)to >= TASK_PHASE_COUNT)
		return 0;
	return task_moves[from][to];
}

const char *lifecycle_job_name(enum job_phase p)
{
	return (unsigned)p < JOB_PHASE_COUNT ? job_names[p] : "?";
}

const char *lifecycle_task_name(enum task_phase p)
{
	return (unsigned)p < TASK_PHASE_COUNT ? task_names[p] : "?";
}
