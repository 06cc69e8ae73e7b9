/*
 * sandbox_child.c - the child's side of a sandbox spawn: from the clone to
 * the exec of the fetcher.
 *
 * The clone is vfork-like (CLONE_VM | CLONE_VFORK): no page tables are
 * copied, which keeps a spawn in the sub-millisecond range even from a
 * large worker, and the parent thread waits until the child has exec'd or
 * failed. The price is the rule of this file: the child shares the
 * parent's memory, so it makes only system calls (raw ones where libc
 * would touch shared state: set*id broadcast to the parent's threads), on
 * its own stack, with every signal blocked until its handlers are reset,
 * and it reports a failure by writing two fields of struct sandbox_child.
 *
 * Steps, in order (each failure names its step):
 *   (egress: join its net namespace) -> join cgroups -> private mounts ->
 *   bind the root, tmpfs /tmp (noexec), /proc of the new pid namespace, a
 *   read-only /dev with null, zero, random, urandom (egress: and a
 *   resolv.conf written there, bound read-only over the root's; host:
 *   the host's bound there) -> root read-only -> pivot_root
 *   and detach the old root -> hostname -> loopback up (own net
 *   namespace) -> stdio on the pipes, every other fd closed -> (warm:
 *   wait for the go byte; the scan's argv is then in place) -> rlimits ->
 *   no capabilities (bounding and ambient sets too, locked securebits) ->
 *   non-root uid/gid, no groups -> no_new_privs -> parent death kills
 *   it (set after the uid change, which clears it) -> seccomp -> exec.
 * The mounts live in the child's mount namespace only: they vanish with
 * its last process, so nothing needs unmounting on the host.
 */
#include "fmacros.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <linux/securebits.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "sandbox.h"
#include "banned.h"

#define CHILD_STACK (64 * 1024)
#define CHILD_NOFILE 256
#define CHILD_FN __attribute__((no_sanitize("address", "undefined")))
#define GO_FD 3
#define RESOLV "etc/resolv.conf"
#define RESOLV_TMP "dev/.resolv.conf"  /* on the sandbox's /dev tmpfs */

/* Device nodes of the read-only /dev: {name, major, minor}. */
static const struct dev_node {
	const char *path;
	unsigned major, minor;
} dev_nodes[] = {
	{ "dev/null", 1, 3 },
	{ "dev/zero", 1, 5 },
	{ "dev/random", 1, 8 },
	{ "dev/urandom", 1, 9 },
};

/* Resource limits: {resource, soft = hard}; FSIZE comes from the child. */
static const struct limit {
	int resource;
	rlim_t value;
} limits[] = {
	{ RLIMIT_CORE, 0 },
	{ RLIMIT_NOFILE, CHILD_NOFILE },
	{ RLIMIT_MEMLOCK, 0 },
	{ RLIMIT_MSGQUEUE, 0 },
};

CHILD_FN static int fail(struct sandbox_child *c, const char *step)
{
	c->fail_step = step;
	c->fail_errno = errno;
	return -1;
}

CHILD_FN static int join_cgroups(struct sandbox_child *c)
{
	int i;

	for (i = 0; i < SANDBOX_CG_MAX && c->cg_fds[i] >= 0; i++)
		if (write(c->cg_fds[i], "0", 1) != 1)
			return fail(c, "join cgroup");
	return 0;
}

/* Mount at path relative to the root being built (cwd). */
CHILD_FN static int mount_in(struct sandbox_child *c, const char *type,
			     const char *path, unsigned long flags,
			     const char *opts)
{
	if (mount(type, path, type, flags, opts) < 0)
		return fail(c, path);
	return 0;
}

/* Bind the file src over dst (in the root being built), read-only. */
CHILD_FN static int bind_ro(struct sandbox_child *c, const char *src,
			    const char *dst)
{
	if (mount(src, dst, NULL, MS_BIND, NULL) < 0 ||
	    mount(NULL, dst, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID |
		  MS_NODEV | MS_NOEXEC, NULL) < 0)
		return fail(c, "bind resolv.conf");
	return 0;
}

/*
 * The sandbox's resolv.conf: the host's file (network host), or the
 * egress network's text written on the new /dev tmpfs (still writable),
 * bound over the root's etc/resolv.conf and unlinked from /dev (the bind
 * keeps it): no file on the host.
 */
CHILD_FN static int set_resolv(struct sandbox_child *c)
{
	int fd;

	if (c->resolv_path)
		return bind_ro(c, c->resolv_path, RESOLV);
	if (!c->resolv)
		return 0;
	fd = open(RESOLV_TMP, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	if (fd < 0 || write(fd, c->resolv, c->resolv_len) != (ssize_t)c->resolv_len)
		return fail(c, "write resolv.conf");
	close(fd);
	if (bind_ro(c, RESOLV_TMP, RESOLV) < 0)
		return -1;
	if (unlink(RESOLV_TMP) < 0)
		return fail(c, "unlink the resolv.conf source");
	return 0;
}

CHILD_FN static int make_dev(struct sandbox_child *c)
{
	size_t i;

	if (mount_in(c, "tmpfs", "dev", MS_NOSUID | MS_NOEXEC,
		     "size=64k,mode=755") < 0)
		return -1;
	for (i = 0; i < sizeof(dev_nodes) / sizeof(dev_nodes[0]); i++)
		if (mknod(dev_nodes[i].path, S_IFCHR | 0666,
			  makedev(dev_nodes[i].major, dev_nodes[i].minor)) < 0 ||
		    chmod(dev_nodes[i].path, 0666) < 0)
			return fail(c, dev_nodes[i].path);
	if (set_resolv(c) < 0)
		return -1;
	return mount_in(c, NULL, "dev",
			MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC,
			NULL);
}

CHILD_FN static int build_root(struct sandbox_child *c)
{
	const unsigned long nse = MS_NOSUID | MS_NODEV | MS_NOEXEC;

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return fail(c, "make mounts private");
	if (mount(c->rootfs, c->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
		return fail(c, "bind the root");
	if (chdir(c->rootfs) < 0)
		return fail(c, "enter the root");
	if (mount_in(c, "tmpfs", "tmp", nse, c->tmpfs_opts) < 0 ||
	    mount_in(c, "proc", "proc", nse, NULL) < 0 || make_dev(c) < 0)
		return -1;
	if (mount(NULL, ".", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY |
		  MS_NOSUID | MS_NODEV, NULL) < 0)
		return fail(c, "make the root read-only");
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return fail(c, "pivot_root");
	if (umount2(".", MNT_DETACH) < 0)
		return fail(c, "detach the old root");
	if (chdir("/") < 0)
		return fail(c, "chdir /");
	return 0;
}

CHILD_FN static int loopback_up(struct sandbox_child *c)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return fail(c, "loopback socket");
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "lo", 3);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return fail(c, "read loopback flags");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		return fail(c, "loopback up");
	close(fd);
	return 0;
}

/*
 * Stdio on /dev/null and the pipes, the go pipe (if any) on GO_FD, every
 * other fd closed: the parent's, other sandboxes' pipes included.
 */
CHILD_FN static int set_stdio(struct sandbox_child *c)
{
	int in = open("/dev/null", O_RDONLY);

	if (in < 0 || dup2(in, 0) < 0 || dup2(c->out_fd, 1) < 0 ||
	    dup2(c->err_fd, 2) < 0 ||
	    (c->go_fd >= 0 && dup2(c->go_fd, GO_FD) < 0))
		return fail(c, "stdio");
	if (syscall(SYS_close_range, c->go_fd >= 0 ? GO_FD + 1U : GO_FD,
		    ~0U, 0U) < 0)
		return fail(c, "close fds");
	return 0;
}

CHILD_FN static int set_limits(struct sandbox_child *c)
{
	struct rlimit rl;
	size_t i;

	for (i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		rl.rlim_cur = rl.rlim_max = limits[i].value;
		if (setrlimit(limits[i].resource, &rl) < 0)
			return fail(c, "setrlimit");
	}
	rl.rlim_cur = rl.rlim_max = (rlim_t)c->fsize;
	if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
		return fail(c, "setrlimit fsize");
	return 0;
}

/*
 * No capability left anywhere: bounding and ambient sets emptied while we
 * still hold CAP_SETPCAP, securebits locked so that uid 0 never means
 * privilege again, then the uid change clears the permitted and effective
 * sets and capset the inheritable one. Raw set*id calls: libc's would
 * signal the parent's threads.
 */
CHILD_FN static int drop_privileges(struct sandbox_child *c)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	int cap;

	if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED |
		  SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED) < 0)
		return fail(c, "securebits");
	for (cap = 0; cap <= c->cap_last; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			return fail(c, "drop bounding set");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return fail(c, "clear ambient set");
	if (syscall(SYS_setgroups, 0, NULL) < 0 ||
	    syscall(SYS_setresgid, c->gid, c->gid, c->gid) < 0 ||
	    syscall(SYS_setresuid, c->uid, c->uid, c->uid) < 0)
		return fail(c, "set uid/gid");
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data) < 0)
		return fail(c, "capset");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return fail(c, "no_new_privs");
	return 0;
}

/* Handlers of the parent would run on shared memory: default them all. */
CHILD_FN static void reset_signals(void)
{
	struct sigaction sa;
	sigset_t none;
	int sig;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL); /* SIGKILL, SIGSTOP: EINVAL */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* A warm child waits here for its scan; argv and envp are set by then. */
CHILD_FN static int wait_go(struct sandbox_child *c)
{
	char go;

	if (c->go_fd < 0)
		return 0;
	while (read(GO_FD, &go, 1) < 0)
		if (errno != EINTR)
			return fail(c, "wait for the scan");
	close(GO_FD);
	return 0;
}

CHILD_FN static int child_setup(struct sandbox_child *c)
{
	if (c->join_net >= 0 && setns(c->join_net, CLONE_NEWNET) < 0)
		return fail(c, "join the egress network");
	if (join_cgroups(c) < 0 || build_root(c) < 0)
		return -1;
	if (sethostname(SANDBOX_HOSTNAME, sizeof(SANDBOX_HOSTNAME) - 1) < 0)
		return fail(c, "hostname");
	if ((c->new_net && loopback_up(c) < 0) || set_stdio(c) < 0 ||
	    wait_go(c) < 0)
		return -1;
	if (c->go_fd >= 0 && !c->argv)
		return fail(c, "no scan came");
	if (set_limits(c) < 0 || drop_privileges(c) < 0)
		return -1;
	/* After the uid change, which clears it. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return fail(c, "parent death signal");
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, c->filter) < 0)
		return fail(c, "seccomp");
	return 0;
}

CHILD_FN static int child_main(void *arg)
{
	struct sandbox_child *c = arg;
	union { const char *const *in; char *const *out; } argv, envp;

	if (child_setup(c) == 0) {
		argv.in = c->argv;
		envp.in = c->envp;
		reset_signals();
		execve(c->path, argv.out, envp.out);
		fail(c, "exec the entrypoint");
	}
	_exit(127);
}

pid_t sandbox_child_spawn(struct sandbox_child *c)
{
	int flags = CLONE_VM | CLONE_VFORK | CLONE_NEWPID | CLONE_NEWNS |
		    CLONE_NEWIPC | CLONE_NEWUTS | SIGCHLD;
	sigset_t all, old;
	void *stack;
	pid_t pid;
	int saved;

	if (c->new_net)
		flags |= CLONE_NEWNET;
	stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED)
		return -1;
	c->fail_step = NULL;
	c->fail_errno = 0;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = clone(child_main, (char *)stack + CHILD_STACK, flags, c);
	saved = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	munmap(stack, CHILD_STACK);
	errno = saved;
	return pid;
}
