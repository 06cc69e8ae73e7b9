/*
 * clock - the process's two clocks, in milliseconds.
 *
 * clock_mono_ms (CLOCK_MONOTONIC) schedules every timer, deadline and
 * duration: it never steps. clock_wall_ms (CLOCK_REALTIME) is only for
 * values other processes read: lease expiries and audit times stored in
 * the database, BullMQ timestamps, log times. Never schedule on it: a
 * wall-clock step back would stall the timer for the length of the step.
 *
 * Test hook (-DSAFEURL_TEST builds): SAFEURL_TEST_WALL_OFFSET_FILE names a
 * file holding a signed number of ms added to clock_wall_ms (read again at
 * most every 100 ms; missing or unreadable: 0), so a test can step this
 * process's wall clock while it runs.
 */
#ifndef SAFEURL_CLOCK_H
#define SAFEURL_CLOCK_H

#include <pthread.h>
#include <time.h>

long long clock_mono_ms(void);
long long clock_mono_us(void); /* the same clock in microseconds */
long long clock_wall_ms(void);

/*
 * Timed waits, all on CLOCK_MONOTONIC. A condition variable a thread
 * waits on with a timeout is made by clock_cond_init (pthread's default
 * counts timeouts on the wall clock); clock_mono_deadline is the absolute
 * time ms from now for pthread_cond_timedwait on it. clock_cond_pause
 * sleeps ms on cv (mu not held by the caller) unless *stop, read under mu,
 * is or becomes set; it returns *stop.
 */
void clock_cond_init(pthread_cond_t *cv);
void clock_mono_deadline(struct timespec *at, long long ms);
int clock_cond_pause(pthread_cond_t *cv, pthread_mutex_t *mu, const int *stop,
		     long long ms);

#endif
