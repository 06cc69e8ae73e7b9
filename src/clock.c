/* clock.c - monotonic and wall milliseconds, timed waits on the monotonic
 * clock; the wall-clock test hook. */
#include "fmacros.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "clock.h"
#include "banned.h"

static long long ms_of(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long clock_mono_ms(void)
{
	return ms_of(CLOCK_MONOTONIC);
}

long long clock_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#ifdef SAFEURL_TEST
#include <stdatomic.h>

static _Atomic long long offset_ms, offset_read_at;

/* The offset in SAFEURL_TEST_WALL_OFFSET_FILE, re-read every 100 ms. */
static long long test_offset(void)
{
	const char *path = getenv("SAFEURL_TEST_WALL_OFFSET_FILE");
	long long now, v = 0;
	FILE *f;

	if (!path)
		return 0;
	now = clock_mono_ms();
	if (atomic_load(&offset_read_at) &&
	    now - atomic_load(&offset_read_at) < 100)
		return atomic_load(&offset_ms);
	if ((f = fopen(path, "r"))) {
		if (fscanf(f, "%lld", &v) != 1)
			v = 0;
		fclose(f);
	}
	atomic_store(&offset_ms, v);
	atomic_store(&offset_read_at, now);
	return v;
}
#endif

long long clock_wall_ms(void)
{
#ifdef SAFEURL_TEST
	return ms_of(CLOCK_REALTIME) + test_offset();
#else
	return ms_of(CLOCK_REALTIME);
#endif
}

void clock_cond_init(pthread_cond_t *cv)
{
	pthread_condattr_t attr;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &attr);
	pthread_condattr_destroy(&attr);
}

void clock_mono_deadline(struct timespec *at, long long ms)
{
	clock_gettime(CLOCK_MONOTONIC, at);
	at->tv_sec += (time_t)(ms / 1000);
	at->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (at->tv_nsec >= 1000000000L) {
		at->tv_sec++;
		at->tv_nsec -= 1000000000L;
	}
}

int clock_cond_pause(pthread_cond_t *cv, pthread_mutex_t *mu, const int *stop,
		     long long ms)
{
	struct timespec until;
	int stopped;

	clock_mono_deadline(&until, ms);
	pthread_mutex_lock(mu);
	while (!*stop && pthread_cond_timedwait(cv, mu, &until) != ETIMEDOUT)
		;
	stopped = *stop;
	pthread_mutex_unlock(mu);
	return stopped;
}
