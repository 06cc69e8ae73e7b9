/*
 * state_int.h - private to state*.c: what the transitions (state.c) share
 * with the rows and reads (state_read.c).
 */
#ifndef SAFEURL_STATE_INT_H
#define SAFEURL_STATE_INT_H

struct err;
struct store_row;

/*
 * Row callback: parse a scan_jobs row (STORE_SQL_JOB_* column order) into
 * arg, a struct state_job, releasing what it held.
 */
int state_job_row(void *arg, const struct store_row *row, struct err *e);

#endif
