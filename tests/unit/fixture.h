/*
 * fixture.h - read a file of tests/fixtures into memory, for the unit
 * tests (header-only: each test is its own executable).
 */
#ifndef SAFEURL_TEST_FIXTURE_H
#define SAFEURL_TEST_FIXTURE_H

#include <stdio.h>

#include "xalloc.h"

/* New NUL-terminated copy of fixtures/<name>, caller frees; *len its size. */
static char *fixture(const char *name, size_t *len)
{
	char path[512];
	FILE *f;
	char *data;
	long n;

	snprintf(path, sizeof(path), "%s/%s", SAFEURL_FIXTURES, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	data = xmalloc((size_t)n + 1);
	assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
	data[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return data;
}

#endif
