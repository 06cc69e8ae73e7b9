/*
 * sandbox_seccomp.c - the seccomp filter of every sandbox, built once at
 * open with libseccomp and kept as a BPF program, so that the child only
 * has to hand it to the kernel (it may not allocate).
 *
 * An allow-list: every call not named below fails with EPERM, so a
 * probe sees a clean error, and so does a call this libseccomp or this
 * build does not know (a newer kernel's). A call of another architecture
 * kills the process. The list is what the fetcher (glibc, libcurl,
 * OpenSSL, the threaded resolver) calls in traces of scans of every
 * fixture (HTTP, TLS, DNS, redirects, limits, failures; t508 replays
 * them under this filter) plus the few calls of its failure and thread
 * exit paths, and what the test suite's static testbox needs to start.
 *
 * Argument checks compare the low 32 bits only (the kernel reads an int
 * argument from the low half of the register, seccomp sees all 64), so
 * that a value with high bits set cannot slip past a comparison:
 *   socket      AF_UNIX stream, AF_INET and AF_INET6 stream or datagram,
 *               protocol 0 or the type's own (no netlink, vsock, packet,
 *               ping or raw sockets)
 *   socketpair  AF_UNIX stream
 *   setsockopt  a short table of (level, option) pairs: no output
 *               interface, no broadcast, no multicast
 *   ioctl       FIONREAD, FIONBIO, TCGETS
 *   clone       no namespace flag (clone3 fails with ENOSYS: its flags
 *               sit in memory seccomp cannot read; libc falls back)
 *   prlimit64   the caller's own limits
 * bind, listen and accept are not allowed: a fetcher is a client, and in
 * the shared egress namespace no sandbox may serve another.
 * The Docker runtime hands the engine the same lists as a seccomp profile
 * (sandbox_seccomp_profile), so a container and a sandbox run under one
 * filter.
 * It does not decide which addresses are reached: that is the egress
 * network's and the fetcher's own guard's business.
 */
#include "fmacros.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "err.h"
#include "sandbox.h"
#include "xalloc.h"
#include "banned.h"

/* Allowed whatever the arguments; names unknown to this libseccomp or
 * architecture are skipped (they stay refused). */
static const char *const allowed[] = {
	/* program start: the loader, libc, thread-local storage */
	"execve", "brk", "mmap", "munmap", "mremap", "mprotect", "madvise",
	"arch_prctl", "set_tid_address", "set_robust_list", "rseq",
	"getrandom", "uname", "sysinfo", "readlink", "readlinkat",
	/* files: the root is read-only, /tmp a small noexec tmpfs */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "open",
	"openat", "close", "newfstatat", "fstat", "stat", "lstat", "statx",
	"lseek", "access", "faccessat", "faccessat2", "getdents64", "fcntl",
	"dup", "dup2", "dup3", "pipe", "pipe2", "getcwd",
	/* network, as a client (socket and setsockopt are checked below) */
	"connect", "getsockname", "getpeername", "getsockopt", "sendto",
	"recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "shutdown",
	"poll", "ppoll", "select", "pselect6",
	/* threads (the resolver's), time, signals, exit */
	"futex", "sched_yield", "sched_getaffinity", "nanosleep",
	"clock_nanosleep", "clock_gettime", "clock_getres", "gettimeofday",
	"time", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn",
	"sigaltstack", "restart_syscall", "pause", "exit", "exit_group",
	"getpid", "getppid", "gettid", "getuid", "geteuid", "getgid",
	"getegid", "kill", "tgkill", "tkill", "wait4", "waitid", "setsid",
	/* runc (the Docker runtime's) checks /proc/self/fd after loading it */
	"fstatfs",
};

/* One comparison: (argument & mask) == value; mask within the low 32 bits. */
struct cmp {
	unsigned int arg;
	scmp_datum_t mask, value;
};

#define LOW32 0xffffffffULL
#define SOCK_TYPE_BITS 0xfULL
/* Every namespace flag clone(2) takes (CLONE_NEWTIME is clone3's only:
 * in clone's flags that bit belongs to the exit signal). */
#define CLONE_NS_BITS (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | \
		       CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET)

/* Allowed when every comparison holds (up to three). */
static const struct {
	const char *name;
	unsigned int n;
	struct cmp cmp[3];
} checked[] = {
#define SOCK(fam, type, proto)                                                  \
	{ "socket", 3, { { 0, LOW32, fam }, { 1, SOCK_TYPE_BITS, type },        \
			 { 2, LOW32, proto } } }
	SOCK(AF_UNIX, SOCK_STREAM, 0),
	SOCK(AF_INET, SOCK_STREAM, 0),   SOCK(AF_INET, SOCK_STREAM, IPPROTO_TCP),
	SOCK(AF_INET, SOCK_DGRAM, 0),    SOCK(AF_INET, SOCK_DGRAM, IPPROTO_UDP),
	SOCK(AF_INET6, SOCK_STREAM, 0),  SOCK(AF_INET6, SOCK_STREAM, IPPROTO_TCP),
	SOCK(AF_INET6, SOCK_DGRAM, 0),   SOCK(AF_INET6, SOCK_DGRAM, IPPROTO_UDP),
#undef SOCK
	{ "socketpair", 2, { { 0, LOW32, AF_UNIX }, { 1, SOCK_TYPE_BITS, SOCK_STREAM } } },
#define SOCKOPT(level, opt)                                                     \
	{ "setsockopt", 2, { { 1, LOW32, level }, { 2, LOW32, opt } } }
	SOCKOPT(IPPROTO_TCP, TCP_NODELAY),  SOCKOPT(SOL_SOCKET, SO_KEEPALIVE),
	SOCKOPT(IPPROTO_TCP, TCP_KEEPIDLE), SOCKOPT(IPPROTO_TCP, TCP_KEEPINTVL),
	SOCKOPT(IPPROTO_TCP, TCP_KEEPCNT),  SOCKOPT(SOL_SOCKET, SO_SNDTIMEO),
	SOCKOPT(SOL_SOCKET, SO_RCVTIMEO),   SOCKOPT(IPPROTO_IP, IP_RECVERR),
	SOCKOPT(IPPROTO_IPV6, IPV6_RECVERR), SOCKOPT(IPPROTO_IPV6, IPV6_V6ONLY),
#undef SOCKOPT
	{ "ioctl", 1, { { 1, LOW32, FIONREAD } } },
	{ "ioctl", 1, { { 1, LOW32, FIONBIO } } },
	{ "ioctl", 1, { { 1, LOW32, TCGETS } } },
	{ "clone", 1, { { 0, CLONE_NS_BITS, 0 } } },
	{ "prlimit64", 1, { { 0, LOW32, 0 } } },
};

static int add_checked(scmp_filter_ctx ctx, size_t i)
{
	struct scmp_arg_cmp c[3];
	unsigned int k;

	for (k = 0; k < checked[i].n; k++)
		c[k] = (struct scmp_arg_cmp){ .arg = checked[i].cmp[k].arg,
					      .op = SCMP_CMP_MASKED_EQ,
					      .datum_a = checked[i].cmp[k].mask,
					      .datum_b = checked[i].cmp[k].value };
	return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW,
				      seccomp_syscall_resolve_name(checked[i].name),
				      checked[i].n, c);
}

static int add_rules(scmp_filter_ctx ctx)
{
	size_t i;
	int nr;

	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		nr = seccomp_syscall_resolve_name(allowed[i]);
		if (nr != __NR_SCMP_ERROR &&
		    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) < 0)
			return -1;
	}
	for (i = 0; i < sizeof(checked) / sizeof(checked[0]); i++)
		if (add_checked(ctx, i) < 0)
			return -1;
	return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
}
/* The engine's profile format: a rule of action ALLOW for names. */
static json_t *profile_rule(json_t *names, json_t *args)
{
	json_t *r = json_pack("{s:o, s:s}", "names", names, "action", "SCMP_ACT_ALLOW");

	if (args)
		json_object_set_new(r, "args", args);
	return r;
}

int sandbox_seccomp_profile(struct buf *out, struct err *e)
{
	json_t *rules = json_array(), *names = json_array(), *profile;
	size_t i;
	unsigned int k;
	char *text;
	int rc;

	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		json_array_append_new(names, json_string(allowed[i]));
	json_array_append_new(rules, profile_rule(names, NULL));
	for (i = 0; i < sizeof(checked) / sizeof(checked[0]); i++) {
		json_t *args = json_array();

		/* SCMP_CMP_MASKED_EQ: value is the mask, valueTwo the datum. */
		for (k = 0; k < checked[i].n; k++)
			json_array_append_new(args, json_pack("{s:I, s:I, s:I, s:s}",
				"index", (json_int_t)checked[i].cmp[k].arg,
				"value", (json_int_t)checked[i].cmp[k].mask,
				"valueTwo", (json_int_t)checked[i].cmp[k].value,
				"op", "SCMP_CMP_MASKED_EQ"));
		json_array_append_new(rules, profile_rule(json_pack("[s]", checked[i].name), args));
	}
	json_array_append_new(rules, json_pack("{s:[s], s:s, s:i}", "names", "clone3",
					       "action", "SCMP_ACT_ERRNO", "errnoRet", ENOSYS));
	profile = json_pack("{s:s, s:i, s:o}", "defaultAction", "SCMP_ACT_ERRNO",
			    "defaultErrnoRet", EPERM, "syscalls", rules);
	text = profile ? json_dumps(profile, JSON_COMPACT) : NULL;
	json_decref(profile);
	if (!text)
		return err_set(e, ERR_INTERNAL, "sandbox: cannot encode the seccomp profile");
	rc = buf_addstr(out, text, e);
	free(text);
	return rc;
}

/* The program libseccomp exports, read back from a memory file. */
static int export_prog(scmp_filter_ctx ctx, struct sock_fprog *prog)
{
	int fd = memfd_create("safeurl-seccomp", MFD_CLOEXEC);
	struct stat st;
	void *mem;

	if (fd < 0)
		return -1;
	if (seccomp_export_bpf(ctx, fd) < 0 || fstat(fd, &st) < 0 ||
	    st.st_size <= 0 || st.st_size % sizeof(struct sock_filter)) {
		close(fd);
		return -1;
	}
	mem = xmalloc((size_t)st.st_size);
	if (pread(fd, mem, (size_t)st.st_size, 0) != st.st_size) {
		free(mem);
		close(fd);
		return -1;
	}
	close(fd);
	prog->filter = mem;
	prog->len = (unsigned short)(st.st_size / sizeof(struct sock_filter));
	return 0;
}

int sandbox_seccomp_build(struct sock_fprog *prog, struct err *e)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	int rc = -1;

	memset(prog, 0, sizeof(*prog));
	if (!ctx)
		return err_set(e, ERR_UNAVAILABLE, "sandbox: seccomp_init failed");
	/* No-new-privs is set by the child itself, after the uid change. */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0) == 0 &&
	    seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) == 0 &&
	    add_rules(ctx) == 0)
		rc = export_prog(ctx, prog);
	seccomp_release(ctx);
	if (rc < 0)
		return err_set(e, ERR_UNAVAILABLE,
			       "sandbox: cannot build the seccomp filter");
	return 0;
}

void sandbox_seccomp_release(struct sock_fprog *prog)
{
	free(prog->filter);
	prog->filter = NULL;
	prog->len = 0;
}
