/*
 * seccomp-exec - test helper: run PROGRAM under the sandbox's seccomp
 * filter, exactly as a sandbox child loads it (no_new_privs, then the
 * filter, then exec), but without the rest of the sandbox, so that the
 * fetcher's own tests can replay every fixture scan under the filter.
 * Usage: seccomp-exec PROGRAM [ARGS...]. Exit 127 when PROGRAM cannot
 * run, 70 when the filter cannot be built or loaded.
 */
#include "fmacros.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sysexits.h>
#include <unistd.h>

#include "err.h"
#include "sandbox.h"
#include "banned.h"

int main(int argc, char **argv)
{
	struct sock_fprog prog;
	struct err e = ERR_INIT;

	if (argc < 2) {
		fprintf(stderr, "usage: seccomp-exec PROGRAM [ARGS...]\n");
		return EX_USAGE;
	}
	if (sandbox_seccomp_build(&prog, &e) < 0) {
		fprintf(stderr, "seccomp-exec: %s\n", e.msg);
		return EX_SOFTWARE;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
		fprintf(stderr, "seccomp-exec: cannot load the filter: %s\n", strerror(errno));
		return EX_SOFTWARE;
	}
	execv(argv[1], argv + 1);
	fprintf(stderr, "seccomp-exec: cannot run '%s': %s\n", argv[1], strerror(errno));
	return 127;
}
