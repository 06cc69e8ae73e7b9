/*
 * fuzz_jobhash - libFuzzer target for the BullMQ job hash reader
 * (queue_job.c): a job hash and its option JSON in, struct queue_job out.
 *
 * Input: the first byte picks the shape. Even: the rest is the opts JSON
 * of an otherwise well-formed job. Odd: the rest is a whole hash, fields
 * split on '\n' as name, value, name, value...
 *
 * Properties checked (abort on violation): parsing never crashes or casts
 * out of range (the build adds -fsanitize=float-cast-overflow); a job is
 * either runnable (malformed NULL) or carries a reason with one of the
 * known prefixes; what a failure becomes gives a delay 0 .. 2^53-1 ms; the
 * stacktrace after a failure is a JSON array no longer than the limit.
 */
#include "fmacros.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXF 64

static const char *const reasons[] = { "malformed job: ", "VALIDATION_ERROR: ",
				       "UNSUPPORTED_OPTION: " };

static void check(struct queue_job *job, int rc)
{
	long long delay = -1;
	size_t i, ok = 0;
	char *st;
	json_t *arr;

	if (rc == 0 && job->malformed)
		abort();
	if (rc != 0) {
		if (!job->malformed)
			abort();
		for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
			if (!strncmp(job->malformed, reasons[i],
				     strlen(reasons[i])))
				ok = 1;
		if (!ok)
			abort();
		return;
	}
	queue_job_on_failure(job, 0, 0.5, &delay);
	if (delay < 0 || delay > 9007199254740991LL)
		abort();
	st = queue_job_stacktrace(job, "boom");
	arr = json_loads(st, 0, NULL);
	if (!json_is_array(arr) ||
	    (job->stack_limit >= 0 &&
	     json_array_size(arr) > (size_t)job->stack_limit))
		abort();
	json_decref(arr);
	free(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *f[MAXF];
	size_t len[MAXF], n = 0;
	struct queue_job job;
	char *copy;
	int rc;

	if (size < 1)
		return 0;
	copy = malloc(size);
	if (!copy)
		return 0;
	memcpy(copy, data + 1, size - 1);
	copy[size - 1] = '\0';
	if (!(data[0] & 1)) {
		static const char *const base[] = {
			"name", "scan", "data", "{}", "timestamp", "1700000000000",
			"atm", "3", "opts" };

		for (n = 0; n < sizeof(base) / sizeof(base[0]); n++) {
			f[n] = base[n];
			len[n] = strlen(base[n]);
		}
		f[n] = copy;
		len[n++] = size - 1;
	} else {
		char *p = copy, *end = copy + size - 1;

		while (n < MAXF && p <= end) {
			char *nl = memchr(p, '\n', (size_t)(end - p));

			f[n] = p;
			len[n++] = nl ? (size_t)(nl - p) : (size_t)(end - p);
			if (!nl)
				break;
			*nl = '\0';
			p = nl + 1;
		}
		n &= ~(size_t)1;
	}
	queue_job_init(&job);
	rc = queue_job_parse(&job, "1", f, len, n);
	check(&job, rc);
	queue_job_release(&job);
	free(copy);
	return 0;
}
