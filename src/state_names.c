/*
 * state_names.c - the states' names ("QUEUED"...), to print a state and to
 * read one back from a row or an argument.
 *
 * The bottom of the state module: state.c (moves) and state_read.c (rows)
 * both use it, and it uses neither. Not here: what each state guarantees
 * and the legal moves (state.c).
 */
#include "fmacros.h"

#include <string.h>

#include "state.h"
#include "banned.h"

static const char *const names[STATE_COUNT] = {
	[STATE_QUEUED] = "QUEUED",
	[STATE_FETCHING] = "FETCHING",
	[STATE_ANALYZING] = "ANALYZING",
	[STATE_COMPLETED] = "COMPLETED",
	[STATE_FAILED] = "FAILED",
	[STATE_TIMED_OUT] = "TIMED_OUT",
};

const char *state_name(enum state s)
{
	return (unsigned)s < STATE_COUNT ? names[s] : "?";
}

enum state state_parse(const char *name)
{
	int i;

	for (i = 0; name && i < STATE_COUNT; i++)
		if (!strcmp(name, names[i]))
			return (enum state)i;
	return STATE_NONE;
}
