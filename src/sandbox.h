/*
 * sandbox.h - the pieces of the sandbox backend (runtime_sandbox.c), one
 * file each: cgroups (sandbox_cgroup.c), the seccomp filter
 * (sandbox_seccomp.c) and the child's side of a spawn (sandbox_child.c).
 * Private to the runtime: nothing outside runtime_sandbox.c and the tests
 * uses these.
 */
#ifndef SAFEURL_SANDBOX_H
#define SAFEURL_SANDBOX_H

#include <linux/filter.h>
#include <stdatomic.h>
#include <sys/types.h>

struct err;
struct runtime_spec;

#define SANDBOX_CG_ROOT "safeurl"   /* parent cgroup of every worker's */
#define SANDBOX_CG_MAX 4            /* controllers (v1) or 1 (v2) */
#define SANDBOX_HOSTNAME "sandbox"

/* The cgroup hierarchy in use: v1 (one mount per controller) or v2. */
struct sandbox_cg {
	int version;                    /* 1 or 2 */
	char mount[SANDBOX_CG_MAX][256]; /* v1: /sys/fs/cgroup/memory...; v2: one */
	int n;
	char worker[160];               /* "w<pid>-<worker id>" */
};

struct sandbox {
	char *rootfs;          /* absolute path of the read-only root */
	char *entrypoint;      /* program inside the root */
	struct sandbox_cg cg;
	struct sock_fprog filter; /* seccomp program; filter.filter owned */
	int cap_last;          /* highest capability number of the kernel */
	atomic_uint seq;       /* per-scan cgroup names */
};

/* ---- sandbox_cgroup.c ---- */

/*
 * Find the hierarchy (v2 when /sys/fs/cgroup is cgroup2 with the memory,
 * cpu and pids controllers, else v1 with memory, cpu and pids mounted) and
 * create the worker's parent cgroup SANDBOX_CG_ROOT/cg->worker (worker_id
 * borrowed, copied into the name with '/' and spaces replaced).
 * ERR_UNAVAILABLE when neither is usable.
 */
int sandbox_cg_open(struct sandbox_cg *cg, const char *worker_id, int pid,
		    struct err *e);
/* Remove the worker's parent cgroup (its scans must be gone). */
void sandbox_cg_close(const struct sandbox_cg *cg);
/*
 * Create the scan cgroup name (borrowed) with spec's memory (swap off),
 * CPU and pids limits, and open its cgroup.procs files into fds (-1 past
 * cg->n) for the child to join with "0". -1 ERR_UNAVAILABLE.
 */
int sandbox_cg_create(const struct sandbox_cg *cg, const char *name,
		      const struct runtime_spec *spec, int fds[SANDBOX_CG_MAX],
		      struct err *e);
/* OOM kills counted in scan cgroup name (memory.events / oom_control). */
long sandbox_cg_oom_kills(const struct sandbox_cg *cg, const char *name);
/*
 * Kill every process of scan cgroup name, wait until it is empty and
 * remove it. -1 ERR_INTERNAL when it would not go.
 */
int sandbox_cg_remove(const struct sandbox_cg *cg, const char *name,
		      struct err *e);
/*
 * Remove the parent cgroups (and their scans, processes killed) left by
 * dead workers of this machine and by earlier runs with our worker id;
 * never ours or a live worker's. *removed counts scan cgroups.
 */
int sandbox_cg_sweep(const struct sandbox_cg *cg, int *removed,
		     struct err *e);

/* ---- sandbox_seccomp.c ---- */

/*
 * Build the filter every sandbox gets: the calls a fetcher never needs
 * fail with EPERM (table in sandbox_seccomp.c), clone with CLONE_NEWUSER
 * too, clone3 with ENOSYS (its flags cannot be read, libc falls back to
 * clone), other architectures' calls kill. prog->filter is new, caller
 * frees with sandbox_seccomp_release().
 */
int sandbox_seccomp_build(struct sock_fprog *prog, struct err *e);
void sandbox_seccomp_release(struct sock_fprog *prog);

/* ---- sandbox_child.c ---- */

/*
 * Everything the child needs, prepared by the parent: after the clone the
 * child only makes system calls (it shares the parent's memory until it
 * execs), so nothing here is allocated or formatted by the child.
 */
struct sandbox_child {
	const char *rootfs;
	const char *path;            /* entrypoint, inside the root */
	const char *const *argv;
	const char *const *envp;
	const struct sock_fprog *filter;
	int cg_fds[SANDBOX_CG_MAX];  /* cgroup.procs files to join, or -1 */
	int out_fd, err_fd;          /* write ends of the pipes */
	int new_net;                 /* network none: own net namespace */
	uid_t uid;
	gid_t gid;
	int cap_last;
	long fsize;                  /* RLIMIT_FSIZE */
	char tmpfs_opts[48];         /* "size=16m,mode=1777" */
	/* Written by the child when the setup fails, read after the spawn. */
	const char *fail_step;
	int fail_errno;
};

/*
 * Start the child in new pid, mount, ipc, uts (and with new_net, net)
 * namespaces; it joins the cgroups, builds its root, drops every
 * privilege and execs. Returns when it has exec'd or failed (vfork
 * semantics): the child's pid (reap it), with c->fail_step set when the
 * setup failed (the child has then exited 127); -1 with errno when the
 * clone itself failed.
 */
pid_t sandbox_child_spawn(struct sandbox_child *c);

#endif
