/*
 * sandbox_seccomp.c - the seccomp filter of every sandbox, built once at
 * open with libseccomp and kept as a BPF program, so that the child only
 * has to hand it to the kernel (it may not allocate).
 *
 * Default allow, with a deny list: what a fetcher (libcurl, TLS, DNS,
 * threads) never calls and what a process that broke out of the
 * fetcher's logic would want: mounts and namespaces, tracing, BPF, kernel
 * keys, modules, clocks, reboot, swap, perf, userfaultfd, cross-process
 * memory, io_uring. Those fail with EPERM, so a probe sees a clean error.
 * It does not decide anything else: file and network access are the
 * mounts', namespaces' and the fetcher's own guard's business.
 */
#include "fmacros.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "sandbox.h"
#include "xalloc.h"
#include "banned.h"

/* Denied with EPERM; names unknown to this libseccomp or arch are skipped. */
static const char *const denied[] = {
	"mount", "umount", "umount2", "pivot_root", "chroot", "move_mount",
	"open_tree", "fsopen", "fsconfig", "fsmount", "fspick",
	"mount_setattr", "unshare", "setns", "ptrace", "process_vm_readv",
	"process_vm_writev", "kcmp", "bpf", "perf_event_open", "userfaultfd",
	"keyctl", "add_key", "request_key", "kexec_load", "kexec_file_load",
	"init_module", "finit_module", "delete_module", "clock_settime",
	"clock_adjtime", "settimeofday", "adjtimex", "stime", "reboot",
	"swapon", "swapoff", "acct", "quotactl", "quotactl_fd", "syslog",
	"iopl", "ioperm", "vhangup", "lookup_dcookie", "open_by_handle_at",
	"name_to_handle_at", "sethostname", "setdomainname", "uselib",
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	"nfsservctl",
	/* A fetcher is a client: no server in the shared egress namespace. */
	"listen", "accept", "accept4",
};

/*
 * setsockopt (level, option) pairs refused with EPERM: each picks an
 * output interface or allows broadcast, which lets a packet skip the
 * egress network's routing table (multicast and broadcast need no route).
 */
static const struct {
	int level, option;
} sockopts[] = {
	{ SOL_SOCKET, SO_BINDTODEVICE },   { SOL_SOCKET, SO_BINDTOIFINDEX },
	{ SOL_SOCKET, SO_BROADCAST },      { IPPROTO_IP, IP_MULTICAST_IF },
	{ IPPROTO_IP, IP_UNICAST_IF },     { IPPROTO_IPV6, IPV6_MULTICAST_IF },
	{ IPPROTO_IPV6, IPV6_UNICAST_IF },
};

/* Socket options, and the socket diagnostics that would list the other
 * sandboxes' connections in the shared egress namespace. */
static int add_socket_rules(scmp_filter_ctx ctx)
{
	size_t i;

	for (i = 0; i < sizeof(sockopts) / sizeof(sockopts[0]); i++)
		if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(setsockopt), 2,
				     SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)sockopts[i].level),
				     SCMP_A2(SCMP_CMP_EQ, (scmp_datum_t)sockopts[i].option)) < 0)
			return -1;
	return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket), 2,
				SCMP_A0(SCMP_CMP_EQ, AF_NETLINK),
				SCMP_A2(SCMP_CMP_EQ, NETLINK_SOCK_DIAG));
}

static int add_rules(scmp_filter_ctx ctx)
{
	size_t i;
	int nr;

	for (i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
		nr = seccomp_syscall_resolve_name(denied[i]);
		if (nr != __NR_SCMP_ERROR &&
		    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0) < 0)
			return -1;
	}
	if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
			     SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER,
				     CLONE_NEWUSER)) < 0)
		return -1;
	if (add_socket_rules(ctx) < 0)
		return -1;
	return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
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
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
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
