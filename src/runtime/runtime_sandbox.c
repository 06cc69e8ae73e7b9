/*
 * runtime_sandbox.c - the sandbox backend: each run is the fetcher exec'd
 * in fresh namespaces around a read-only copy of the fetcher image's
 * files, in its own cgroup, with no privilege left, by the worker itself
 * (no daemon, no image store, no HTTP round trips).
 *
 * A run, in order:
 *
 *   cgroup s<seq> with limits -> pipes -> spawn (sandbox_child.c: the
 *   child joins the cgroup, builds its root, drops privileges, execs; or
 *   a warm sandbox made ahead by an earlier run, sandbox_slot.c, told to
 *   go; then warm ones are made up to the runs in flight) ->
 *   poll stdout, stderr and a pidfd until exit, deadline, cancel or the
 *   stdout cap -> kill the namespace's init (the kernel then kills every
 *   process of the pid namespace) -> reap -> OOM count -> remove the
 *   cgroup (killing any straggler)
 *
 * Output goes through the same capped stream as Docker's (raw feeds), and
 * every outcome is worded and logged by runtime_common.c, so a scan reads the
 * same from either backend. Network modes: bridge (the isolated egress
 * network of sandbox_egress.c, shared by every sandbox of the worker),
 * none (own namespace, loopback only) and host (tests); a named network
 * is refused, at open and per run. It does not parse the fetcher's
 * output.
 */
#include "fmacros.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "runtime.h"
#include "runtime_int.h"
#include "runtime_stream.h"
#include "sandbox.h"
#include "strvec.h"
#include "xalloc.h"
#include "banned.h"

#define SB_POLL_MS 50          /* cancel flags are looked at this often */
#define SB_READ_CHUNK 65536
#define SB_PATH "PATH=/usr/local/bin:/usr/bin:/bin"
#define SB_BUILD_HINT "build it with scripts/build-image.sh --rootfs DIR (and set FETCHER_ROOTFS)"

/* Directories the child mounts over: they must exist in the root. */
static const char *const mount_points[] = { "tmp", "proc", "dev" };

static int check_root(const struct sandbox *sb, struct err *e)
{
	char path[4096];
	struct stat st;
	size_t i;

	for (i = 0; i < sizeof(mount_points) / sizeof(mount_points[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", sb->rootfs, mount_points[i]);
		if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
			return err_set(e, ERR_UNAVAILABLE,
				       "runtime: sandbox root '%s' has no /%s directory: " SB_BUILD_HINT,
				       sb->rootfs, mount_points[i]);
	}
	return 0;
}

static int read_cap_last(void)
{
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	int n = 63;

	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = 63;
		fclose(f);
	}
	return n;
}

static void sb_free(struct sandbox *sb)
{
	if (!sb)
		return;
	sandbox_egress_close(&sb->egress);
	sandbox_seccomp_release(&sb->filter);
	pthread_mutex_destroy(&sb->lock);
	free(sb->rootfs);
	free(sb->entrypoint);
	free(sb);
}

/* The root is there, and so is the egress network once in use. */
static int sb_ping(struct runtime *rt, struct err *e)
{
	struct stat st;

	if (stat(rt->sb->rootfs, &st) < 0 || !S_ISDIR(st.st_mode))
		return err_set(e, ERR_UNAVAILABLE,
			       "runtime: sandbox root '%s' not found: " SB_BUILD_HINT,
			       rt->sb->rootfs);
	if (sandbox_egress_opened(&rt->sb->egress))
		return sandbox_egress_ready(&rt->sb->egress, e);
	return 0;
}

/* Does the root have a regular /etc/resolv.conf to bind over? */
static int root_has_resolv(const struct sandbox *sb)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/etc/resolv.conf", sb->rootfs);
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int sb_check_image(struct runtime *rt, const char *image,
			  struct err *e)
{
	char path[4096];

	(void)image;
	snprintf(path, sizeof(path), "%s%s", rt->sb->rootfs, rt->sb->entrypoint);
	if (sb_ping(rt, e) < 0 || check_root(rt->sb, e) < 0)
		return -1;
	if (access(path, X_OK) < 0)
		return err_set(e, ERR_UNAVAILABLE,
			       "runtime: entrypoint '%s' not found in the sandbox root '%s': " SB_BUILD_HINT,
			       rt->sb->entrypoint, rt->sb->rootfs);
	return 0;
}

static int sb_open(struct runtime *rt, const struct runtime_opts *opts,
		   struct err *e)
{
	struct sandbox *sb = xcalloc(1, sizeof(*sb));
	char *real = realpath(opts->rootfs ? opts->rootfs : "", NULL);
	enum sandbox_net net = SANDBOX_NET_NONE;

	rt->sb = sb;
	sandbox_egress_init(&sb->egress);
	snprintf(rt->api_str, sizeof(rt->api_str), "sandbox");
	rt->ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	sb->rootfs = real ? xstrdup(real) : xstrdup(opts->rootfs ? opts->rootfs : "");
	free(real);
	sb->entrypoint = xstrdup(opts->entrypoint ? opts->entrypoint : "");
	sb->cap_last = read_cap_last();
	atomic_init(&sb->seq, 0);
	pthread_mutex_init(&sb->lock, NULL);
	if (opts->network_mode && sandbox_net_of(opts->network_mode, &net, e) < 0)
		return -1;
	if (geteuid() != 0)
		return err_set(e, ERR_UNAVAILABLE,
			       "runtime: the sandbox runtime needs root (namespaces, cgroups, pivot_root)");
	if (sb_ping(rt, e) < 0 || check_root(sb, e) < 0 ||
	    sandbox_seccomp_build(&sb->filter, e) < 0)
		return -1;
	sb->has_resolv = root_has_resolv(sb);
	sb->host_resolv = access("/etc/resolv.conf", R_OK) == 0;
	if (net == SANDBOX_NET_EGRESS && sandbox_egress_ready(&sb->egress, e) < 0)
		return -1;
	if (net == SANDBOX_NET_EGRESS && !sb->has_resolv)
		log_warn("sandbox: root '%s' has no /etc/resolv.conf to bind over: fetches on the egress network cannot resolve names (" SB_BUILD_HINT ")",
			 sb->rootfs);
	return sandbox_cg_open(&sb->cg, rt->worker_id, rt->pid, e);
}

static void sb_release(struct runtime *rt)
{
	if (rt->sb)
		sandbox_warm_close(rt->sb);
	if (rt->sb && rt->sb->cg.version)
		sandbox_cg_close(&rt->sb->cg);
	sb_free(rt->sb);
	rt->sb = NULL;
}

static int sb_sweep(struct runtime *rt, int *removed, struct err *e)
{
	return sandbox_cg_sweep(&rt->sb->cg, removed, e);
}

/* ---- one run ---- */

struct sb_run {
	struct runtime *rt;
	const struct runtime_spec *spec;
	struct runtime_result *res;
	struct runtime_stream stream;
	struct sandbox_slot *slot;
	struct strvec argv, envp;
	int pidfd;
	int counted;     /* in the warm pool's count of runs in flight */
	int exited;
	int status;
	double t0;
};

static void run_args(struct sb_run *run)
{
	const struct runtime_spec *spec = run->spec;
	size_t i;

	strvec_push(&run->argv, run->rt->sb->entrypoint);
	for (i = 0; spec->cmd && spec->cmd[i]; i++)
		strvec_push(&run->argv, spec->cmd[i]);
	strvec_push(&run->envp, SB_PATH);
	strvec_push(&run->envp, "HOSTNAME=" SANDBOX_HOSTNAME);
	for (i = 0; spec->env && spec->env[i]; i++)
		strvec_push(&run->envp, spec->env[i]);
}

/* A warm slot for this spec, else a cold one. */
static int run_slot(struct sb_run *run, struct err *e)
{
	struct sandbox *sb = run->rt->sb;
	struct sandbox_key key;

	if (sandbox_key_of(run->spec, &key, e) < 0)
		return -1;
	if (key.net == SANDBOX_NET_EGRESS && sandbox_egress_ready(&sb->egress, e) < 0)
		return -1;
	run->slot = sandbox_warm_take(sb, &key);
	run->counted = 1;
	if (!run->slot)
		run->slot = sandbox_slot_new(sb, run->spec, &key, e);
	if (!run->slot)
		return -1;
	snprintf(run->res->container_id, sizeof(run->res->container_id),
		 "s%u.%.40s", run->slot->seq, sb->cg.worker);
	return 0;
}

static int run_spawn(struct sb_run *run, struct err *e)
{
	struct sandbox_slot *slot = run->slot;
	struct sandbox_key key = slot->key;

	sandbox_slot_launch(slot, run->argv.items, run->envp.items);
	if (slot->pid < 0)
		return err_set(e, ERR_UNAVAILABLE, "runtime: job '%s': clone: %s",
			       rt_job_of(run->spec), strerror(errno));
	if (slot->child.fail_step)
		return err_set(e, ERR_UNAVAILABLE,
			       "runtime: job '%s': sandbox setup failed at '%s': %s",
			       rt_job_of(run->spec), slot->child.fail_step,
			       strerror(slot->child.fail_errno));
	run->pidfd = (int)syscall(SYS_pidfd_open, slot->pid, 0);
	if (run->pidfd < 0)
		return err_set(e, ERR_UNAVAILABLE, "runtime: pidfd_open: %s",
			       strerror(errno));
	run->res->spawn_ms = rt_now_ms() - run->t0;
	rt_log_start(run->spec, run->res);
	sandbox_warm_refill(run->rt->sb, run->spec, &key);
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Read what pipe i has; 0 at EOF closes it. -1 past the stdout cap. */
static int drain(struct sb_run *run, int i, struct err *e)
{
	char chunk[SB_READ_CHUNK];
	int *fd = &run->slot->fds[i];
	ssize_t n = read(*fd, chunk, sizeof(chunk));

	if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
		close_fd(fd);
		return 0;
	}
	if (n < 0)
		return 0;
	return runtime_stream_feed_raw(&run->stream, i, chunk, (size_t)n, e);
}

/* One poll round: 1 when the sandbox is done, 0 to go on, -1 on a cap. */
static int poll_once(struct sb_run *run, int timeout_ms, struct err *e)
{
	const int *fds = run->slot->fds;
	struct pollfd p[3] = { { fds[0], POLLIN, 0 }, { fds[1], POLLIN, 0 },
			       { run->exited ? -1 : run->pidfd, POLLIN, 0 } };
	int i, was_exited = run->exited, any = 0;

	/* Once the init is gone, so is every process of the namespace: what
	 * is left is in the pipes (another sandbox being cloned may hold a
	 * copy of their write ends for a moment: no EOF to wait for). */
	if (poll(p, 3, was_exited ? 0 : timeout_ms) < 0 && errno != EINTR)
		return err_set(e, ERR_INTERNAL, "runtime: poll: %s", strerror(errno));
	for (i = 0; i < 2; i++) {
		any |= p[i].revents != 0;
		if (p[i].revents && drain(run, i, e) < 0)
			return -1;
	}
	if (p[2].revents)
		run->exited = 1;
	return was_exited && (!any || (fds[0] < 0 && fds[1] < 0));
}

static int run_follow(struct sb_run *run, struct err *e)
{
	double deadline = run->t0 + run->spec->timeout_ms, left;
	int rc = 0;

	while (rc == 0) {
		if (rt_cancel_set(run->rt, run->spec))
			return rt_cancelled(run->spec, run->res, e);
		left = deadline - rt_now_ms();
		if (left <= 0)
			return rt_timed_out(run->spec, run->res, e);
		rc = poll_once(run, left < SB_POLL_MS ? (int)left + 1 : SB_POLL_MS, e);
	}
	if (rc < 0)
		run->res->output_too_large =
			run->stream.out_total > run->spec->max_stdout;
	return rc < 0 ? -1 : 0;
}

/* The init exited on its own: its status decides. */
static int run_exited(struct sb_run *run, struct err *e)
{
	struct runtime_result *res = run->res;
	int st = run->status;

	res->exit_code = WIFEXITED(st) ? WEXITSTATUS(st) :
			 WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
	if (res->exit_code == 0)
		return 0;
	res->oom_killed =
		sandbox_cg_oom_kills(&run->rt->sb->cg, run->slot->cg_name) > 0;
	return rt_crash_error(run->spec, res, &run->stream, e);
}

/* Kill the namespace (unless its init is gone) and reap it. */
static void run_end(struct sb_run *run)
{
	pid_t pid = run->slot ? run->slot->pid : -1;

	if (pid > 0) {
		if (!run->exited)
			kill(pid, SIGKILL);
		while (waitpid(pid, &run->status, __WALL) < 0 && errno == EINTR)
			;
	}
	close_fd(&run->pidfd);
}

static void run_drop_slot(struct sb_run *run)
{
	struct err e = ERR_INIT;

	if (!run->slot)
		return;
	if (sandbox_cg_remove(&run->rt->sb->cg, run->slot->cg_name, &e) < 0)
		log_event(LOG_WARN, run->spec->job_id, "container",
			  "runtime: %s (the next sweep will)", e.msg);
	sandbox_slot_free(run->slot);
	run->slot = NULL;
}

static int run_sandbox(void *arg, struct err *e)
{
	struct sb_run *run = arg;
	int rc = run_slot(run, e);

	if (rc < 0) {
		if (run->counted)
			sandbox_warm_done(run->rt->sb);
		return -1;
	}
	rc = run_spawn(run, e);
	if (!rc)
		rc = run_follow(run, e);
	run_end(run);
	if (!rc)
		rc = run_exited(run, e);
	run_drop_slot(run);
	sandbox_warm_done(run->rt->sb);
	rt_log_exit(run->spec, run->res, rc, e, rt_now_ms() - run->t0);
	return rc;
}

static int sb_run(struct runtime *rt, const struct runtime_spec *spec,
		  struct runtime_result *res, struct err *e)
{
	struct sb_run run;
	int rc;

	memset(&run, 0, sizeof(run));
	run.rt = rt;
	run.spec = spec;
	run.res = res;
	run.pidfd = -1;
	strvec_init(&run.argv);
	strvec_init(&run.envp);
	run.t0 = rt_now_ms();
	run_args(&run);
	rc = rt_run_frame(rt, spec, res, &run.stream, run_sandbox, &run, e);
	strvec_clear(&run.argv);
	strvec_clear(&run.envp);
	return rc;
}

const struct runtime_ops runtime_sandbox_ops = {
	"sandbox", sb_open, sb_release, sb_ping, sb_check_image, sb_sweep,
	sb_run, NULL,
};
