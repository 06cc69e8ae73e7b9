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
#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

struct err;
struct runtime_spec;

#define SANDBOX_CG_ROOT "safeurl"   /* parent cgroup of every worker's */
#define SANDBOX_CG_MAX 4            /* controllers (v1) or 1 (v2) */
#define SANDBOX_HOSTNAME "sandbox"
#define SANDBOX_WARM_MAX 8          /* warm sandboxes kept, at most */

/* The cgroup hierarchy in use: v1 (one mount per controller) or v2. */
struct sandbox_cg {
	int version;                    /* 1 or 2 */
	char mount[SANDBOX_CG_MAX][256]; /* v1: /sys/fs/cgroup/memory...; v2: one */
	int n;
	char worker[160];               /* "w<pid>-<worker id>" */
};

struct sandbox_slot;

/* ---- sandbox_egress.c ---- */

#define SANDBOX_EGRESS_DNS "10.0.2.3"  /* slirp's DNS forwarder */
/* The /etc/resolv.conf of a sandbox on the egress network. */
#define SANDBOX_EGRESS_RESOLV "nameserver " SANDBOX_EGRESS_DNS "\n"

/* Which network a sandbox gets (CONTAINER_NETWORK_MODE). */
enum sandbox_net {
	SANDBOX_NET_NONE,    /* none: its own namespace, loopback only */
	SANDBOX_NET_HOST,    /* host: the worker's (tests only) */
	SANDBOX_NET_EGRESS,  /* bridge: the shared egress namespace */
};

/* The egress namespace and its helper; fields guarded by lock. */
struct sandbox_egress {
	int netns;            /* the namespace, or -1 until first use */
	int log;              /* memfd: the helper's stderr */
	pid_t helper;         /* slirp4netns, or -1 */
	int exit_w;           /* its --exit-fd pipe: closing it ends it */
	int routes, host_addrs; /* prohibit routes; of them host addresses */
	const char *who;      /* static: the runtime named in its log lines */
	pthread_mutex_t lock;
};

void sandbox_egress_init(struct sandbox_egress *eg);
/*
 * Make sure the egress network is up: at first use, make the namespace
 * (loopback, prohibit routes for the refused ranges and this host's IPv4
 * addresses); start slirp4netns when it is not
 * running (first use, or it died) and wait until it is ready. Safe from
 * any thread. -1 ERR_UNAVAILABLE naming what failed (slirp4netns missing
 * included).
 */
int sandbox_egress_ready(struct sandbox_egress *eg, struct err *e);
/*
 * The same egress network in a namespace made elsewhere (the Docker
 * runtime's holder container): stop the helper and let go of any
 * namespace held before, enter netns (borrowed: the caller closes its
 * fd; eg keeps a copy of its own), equip it exactly as one made here and
 * start slirp4netns for it. The next sandbox_egress_ready() keeps that
 * helper running. -1 ERR_UNAVAILABLE naming what failed.
 */
int sandbox_egress_adopt(struct sandbox_egress *eg, int netns, struct err *e);
/* Stop the helper and let go of the namespace; eg can adopt again. */
void sandbox_egress_drop(struct sandbox_egress *eg);
/* Has the namespace been made (a later failure restarts the helper)? */
int sandbox_egress_opened(struct sandbox_egress *eg);
/* Stop the helper and close the namespace (sandboxes in it must be gone). */
void sandbox_egress_close(struct sandbox_egress *eg);
/* The IPv4 ranges refused in the namespace, as CIDR text (static). */
const char *const *sandbox_egress_refused(size_t *n);

struct sandbox {
	char *rootfs;          /* absolute path of the read-only root */
	char *entrypoint;      /* program inside the root */
	struct sandbox_cg cg;
	struct sock_fprog filter; /* seccomp program; filter.filter owned */
	struct sandbox_egress egress;
	int has_resolv;        /* the root has /etc/resolv.conf to bind over */
	int host_resolv;       /* the host has one to bind (network host) */
	int cap_last;          /* highest capability number of the kernel */
	atomic_uint seq;       /* per-scan cgroup names */
	pthread_mutex_t lock;  /* guards warm, nwarm, refilling, running */
	struct sandbox_slot *warm[SANDBOX_WARM_MAX]; /* made ahead, one key */
	int nwarm;
	int refilling;         /* warm slots being made */
	int running;           /* runs between their slot and its drop */
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

/* ---- sandbox_nft.c ---- */

#define SANDBOX_NFT_TABLE "safeurl_egress"

/*
 * The egress filter's ruleset as nft text, appended to out: refused
 * holds n IPv4 CIDRs ("a.b.c.d/len", borrowed), oif the interface out,
 * dns the forwarder's IPv4 address (the one private destination left,
 * port 53 only). Pure: tests read it.
 */
struct buf;
void sandbox_nft_ruleset(const char *const *refused, size_t n, const char *oif,
			 const char *dns, struct buf *out);
/*
 * Load a ruleset into the calling thread's network namespace. 0, or -1
 * with e naming what nft said (ERR_UNAVAILABLE).
 */
int sandbox_nft_load(const char *ruleset, struct err *e);

/* ---- sandbox_seccomp.c ---- */

/*
 * Build the filter every sandbox gets: an allow-list of the calls a
 * fetcher makes (table in sandbox_seccomp.c), socket, setsockopt, ioctl,
 * clone and prlimit64 only with the arguments listed there (compared on
 * their low 32 bits); every other call fails with EPERM, clone3 with
 * ENOSYS (libc falls back to clone), other architectures' calls kill.
 * prog->filter is new, caller frees with sandbox_seccomp_release().
 */
int sandbox_seccomp_build(struct sock_fprog *prog, struct err *e);
/*
 * The same filter as a seccomp profile in the engine's JSON format (what
 * `docker run --security-opt seccomp=FILE` sends), appended to out: the
 * Docker runtime's containers get it. Other architectures' calls are
 * killed there too (the profile names none).
 */
int sandbox_seccomp_profile(struct buf *out, struct err *e);
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
	int go_fd;                   /* >= 0: wait for a byte here first */
	int new_net;                 /* network none: own net namespace */
	int join_net;                /* >= 0: join this net namespace */
	const char *resolv;          /* /etc/resolv.conf's text, or NULL */
	size_t resolv_len;
	const char *resolv_path;     /* or the file to bind there, or NULL */
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
 * namespaces, or with join_net in that net namespace; it joins the
 * cgroups, builds its root (with resolv, a read-only /etc/resolv.conf
 * of that text), drops every
 * privilege and execs. With go_fd, it waits after building its root for
 * one byte on go_fd (EOF: it exits 127), then reads argv and envp: a
 * warm child, made ahead of its scan, whose spawner thread stays blocked
 * here until the exec. Returns when it has exec'd or failed (vfork
 * semantics): the child's pid (reap it), with c->fail_step set when the
 * setup failed (the child has then exited 127); -1 with errno when the
 * clone itself failed.
 */
pid_t sandbox_child_spawn(struct sandbox_child *c);

/* ---- sandbox_slot.c ---- */

/* What a sandbox is made for: a warm one serves a spec with equal keys. */
struct sandbox_key {
	int memory_mb, pids_limit, tmpfs_mb;
	enum sandbox_net net;
	double cpus;
	uid_t uid;
	gid_t gid;
};

/*
 * A sandbox made ready up to its exec: its cgroup (with limits), its
 * pipes, and for a warm one, a child that has joined the cgroup and built
 * its root and waits for the go byte, its spawner thread blocked in the
 * vfork. Joining a cgroup can wait for an RCU grace period (cgroup v1);
 * a warm sandbox takes that wait off the scan's path.
 */
struct sandbox_slot {
	struct sandbox_child child;
	struct sandbox_key key;
	char cg_name[32];
	unsigned seq;
	int fds[2];      /* read ends of stdout and stderr */
	int go;          /* warm: write end of the go pipe; else -1 */
	/*
	 * Warm: the spawner thread, blocked in the vfork until the exec,
	 * then kept until the slot is freed: the child's parent-death
	 * signal fires when the thread that cloned it ends.
	 */
	int warm;
	pthread_t th;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int spawned, released;
	pid_t pid;       /* the child, once launched; -1 on a failed clone */
};

/*
 * CONTAINER_NETWORK_MODE mode as a sandbox network: bridge (the isolated
 * egress network), none or host. -1 ERR_INVALID naming what is accepted.
 */
int sandbox_net_of(const char *mode, enum sandbox_net *net, struct err *e);
/*
 * The key of spec: user "uid:gid" (not root) and network (none, host,
 * bridge = egress). -1 ERR_INVALID for a bad user or another network.
 */
int sandbox_key_of(const struct runtime_spec *spec, struct sandbox_key *key,
		   struct err *e);
/*
 * A cold slot for spec (borrowed): cgroup s<seq> with spec's limits and
 * the pipes. New, caller frees with sandbox_slot_free(); NULL and e when
 * the cgroup cannot be made.
 */
struct sandbox_slot *sandbox_slot_new(struct sandbox *sb,
				      const struct runtime_spec *spec,
				      const struct sandbox_key *key,
				      struct err *e);
/*
 * Start the slot's child with argv and envp (borrowed until it has
 * exec'd, which this waits for). slot->pid is the child (reap it), -1
 * with errno when the clone failed; child.fail_step names a failed setup.
 */
void sandbox_slot_launch(struct sandbox_slot *slot, const char *const *argv,
			 const char *const *envp);
/*
 * Close the slot's fds, end a warm slot's spawner thread and free it;
 * reap the child first (the cgroup is the caller's too).
 */
void sandbox_slot_free(struct sandbox_slot *slot);
/*
 * A warm slot whose key equals key (the caller owns it), or NULL. Counts
 * the caller as running until sandbox_warm_done().
 */
struct sandbox_slot *sandbox_warm_take(struct sandbox *sb,
				       const struct sandbox_key *key);
/* A run that called sandbox_warm_take() has dropped its slot. */
void sandbox_warm_done(struct sandbox *sb);
/*
 * Make warm slots for spec until there are as many as runs in flight
 * (at most SANDBOX_WARM_MAX), so that each of them finds one next time;
 * slots of another key are dropped (the newest spec wins). Errors are
 * only logged.
 */
void sandbox_warm_refill(struct sandbox *sb, const struct runtime_spec *spec,
			 const struct sandbox_key *key);
/* Let the warm children go (they exit 127), reap them, remove their
 * cgroups. */
void sandbox_warm_close(struct sandbox *sb);

#endif
