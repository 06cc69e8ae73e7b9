/*
 * scan_task.c - a scan task's phase (lifecycle.h), moved only here. Below
 * both scan.c and scan_keeper.c, which move tasks from their own threads.
 */
#include "fmacros.h"

#include <assert.h>

#include "lifecycle.h"
#include "log.h"
#include "scan_int.h"
#include "banned.h"

enum task_phase scan_task_phase(struct scan_task *t)
{
	return (enum task_phase)atomic_load(&t->phase);
}

/*
 * Never t->job here: the last move (to DONE) comes after the task reported,
 * and the loop thread may have freed the job by then. t->id lives until
 * the task is freed.
 */
int scan_task_move(struct scan_task *t, enum task_phase from,
		   enum task_phase to)
{
	int expected = (int)from;

	if (!lifecycle_task_allowed(from, to)) {
		log_event(LOG_ERROR, t->id,
			  "bug", "task lifecycle: illegal move %s -> %s",
			  lifecycle_task_name(from), lifecycle_task_name(to));
		assert(!"illegal task lifecycle move");
		return -1;
	}
	if (!atomic_compare_exchange_strong(&t->phase, &expected, (int)to))
		return -1;
	log_event(LOG_DEBUG, t->id, "task",
		  "task %s -> %s", lifecycle_task_name(from),
		  lifecycle_task_name(to));
	return 0;
}
