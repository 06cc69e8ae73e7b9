/*
 * runtime_egress.c - the Docker backend's network in bridge mode (the
 * default): the same egress network as the sandbox runtime's, in a
 * network namespace the engine makes and the worker equips.
 *
 *   fetcher ... fetcher --(NetworkMode container:<holder>)--> holder's netns
 *        holder's netns: lo + tap0 --> slirp4netns (worker's) --> world
 *
 * Each worker runs one "holder" container: the fetcher image with
 * --hold (a process that only waits), created with NetworkMode none, so
 * its namespace has loopback alone and no link to any engine bridge, and
 * labelled like the scans' containers plus safeurl.role=egress-holder.
 * The worker enters that namespace (/proc/<State.Pid>/ns/net) and equips
 * it with sandbox_egress_adopt(), the sandbox's own code: prohibit routes
 * for every range the fetcher's guard blocks and this host's addresses,
 * the nftables filter (only TCP and UDP to public unicast addresses and
 * slirp's DNS out; only replies in), slirp4netns for the way out. Every
 * fetcher container joins it with NetworkMode container:<holder id>, so
 * fetchers of one worker share that namespace and nothing else: no
 * engine bridge, no host gateway, no other worker's containers. They do
 * share its loopback and tap address, which the filter refuses as
 * destinations (127.0.0.0/8 and 10.0.0.0/8 are refused ranges; input
 * takes replies only), so no fetcher can reach another's listener.
 * Containers joined this way share the holder's resolv.conf, which names
 * slirp's DNS forwarder (HostConfig.Dns).
 *
 * Why not a dedicated engine network with host nftables rules: those
 * rules would live in the host's tables beside the engine's own
 * iptables chains (which the engine rewrites on restart), would depend
 * on the engine's bridge configuration, and the bridge would still be
 * shared with the host's gateway address; this way there is one egress
 * design and one test suite for both runtimes and nothing on the host.
 *
 * The holder is made at the first bridge run, checked before each (a
 * pidfd: one poll, no request) and made again when it died (an engine
 * restart kills it); it is removed when the runtime is freed, and a dead
 * worker's holder is a leftover container for the sweep like any other
 * (the sweep spares our own live holder). The worker must see the
 * engine's pids (share its pid namespace) and may enter namespaces
 * (root): a holder whose pid is not what we can see is refused.
 */
#include "fmacros.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "runtime.h"
#include "runtime_int.h"
#include "sandbox.h"
#include "xalloc.h"
#include "banned.h"

#define EG_HOLD_ARG "--hold"
#define EG_HOLD_MEMORY_MB 32
#define EG_CMDLINE_MAX 4096
/* how long the holder's init may take to exec the holder (a loaded host) */
#define EG_EXEC_WAIT_MS 10000

struct rt_egress {
	pthread_mutex_t lock;     /* guards everything below */
	char id[72];              /* the holder, "" when none */
	long pid;                 /* its process, as the engine says */
	int pidfd;                /* readable once it exited; -1 */
	int up;                   /* holder running and its network equipped */
	struct sandbox_egress net;
};

static struct rt_egress *state_of(struct runtime *rt)
{
	struct rt_egress *eg;

	pthread_mutex_lock(&rt->lock);
	if (!rt->egress) {
		eg = xcalloc(1, sizeof(*eg));
		pthread_mutex_init(&eg->lock, NULL);
		eg->pidfd = -1;
		sandbox_egress_init(&eg->net);
		eg->net.who = "runtime";
		rt->egress = eg;
	}
	eg = rt->egress;
	pthread_mutex_unlock(&rt->lock);
	return eg;
}

/* One request expecting ok or ok2; reply kept in out (may be NULL). */
static int call(struct runtime *rt, const char *method, const char *path,
		const char *payload, long ok, long ok2, struct buf *out,
		const char *what, struct err *e)
{
	struct buf reply = BUF_INIT;
	long status = 0;
	int rc = rt_call(rt, method, path, payload, &reply, &status, e);

	if (!rc && status != ok && status != ok2)
		rc = rt_engine_error(status, &reply, what, e);
	if (!rc && out)
		buf_addstr(out, reply.data, NULL);
	buf_release(&reply);
	return rc;
}

static void remove_holder(struct runtime *rt, struct rt_egress *eg)
{
	struct err e = ERR_INIT;
	char path[128];

	if (eg->pidfd >= 0)
		close(eg->pidfd);
	eg->pidfd = -1;
	eg->up = 0;
	if (!eg->id[0])
		return;
	snprintf(path, sizeof(path), "/containers/%s?force=1&v=1", eg->id);
	if (call(rt, "DELETE", path, NULL, 204, 404, NULL, "remove the network holder", &e) < 0)
		log_warn("runtime: network holder '%.12s' not removed (the sweep will): %s",
			 eg->id, e.msg);
	eg->id[0] = '\0';
}

/* Has the holder's process exited (or can we not tell)? */
static int holder_gone(const struct rt_egress *eg)
{
	struct pollfd p = { eg->pidfd, POLLIN, 0 };

	if (eg->pidfd < 0)
		return kill((pid_t)eg->pid, 0) < 0 && errno == ESRCH;
	return poll(&p, 1, 0) != 0;
}

/* Is pid, as we see it, the holder's --hold process? */
static int is_holder_process(long pid)
{
	char path[64], cmd[EG_CMDLINE_MAX];
	ssize_t n;
	int fd;
	char *arg;

	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, cmd, sizeof(cmd) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	cmd[n] = '\0';
	arg = cmd + strlen(cmd) + 1;
	return arg < cmd + n && !strcmp(arg, EG_HOLD_ARG);
}

/*
 * The engine says a container runs once runc has started its init
 * process, which execs the entrypoint a moment later (longer on a loaded
 * host): until then the pid's command line is runc's. 1 once it is the
 * holder, 0 when it is not within EG_EXEC_WAIT_MS (another pid namespace,
 * or the holder died).
 */
static int await_holder_process(long pid)
{
	const struct timespec tick = { 0, 10 * 1000000L };
	long long until = clock_mono_ms() + EG_EXEC_WAIT_MS;

	while (!is_holder_process(pid)) {
		if (clock_mono_ms() >= until)
			return 0;
		nanosleep(&tick, NULL);
	}
	return 1;
}

static int create_holder(struct runtime *rt, struct rt_egress *eg,
			 const struct runtime_spec *scan, struct err *e)
{
	static const char *const cmd[] = { EG_HOLD_ARG, NULL };
	static const char *const dns[] = { SANDBOX_EGRESS_DNS, NULL };
	struct runtime_spec spec = *scan;
	struct buf body = BUF_INIT, reply = BUF_INIT;
	int rc;

	spec.cmd = cmd;
	spec.env = NULL;
	spec.job_id = "";
	spec.role = RUNTIME_ROLE_EGRESS;
	spec.dns = dns;
	spec.network_mode = "none";
	spec.memory_mb = EG_HOLD_MEMORY_MB;
	spec.cpus = scan->cpus < 0.1 ? scan->cpus : 0.1;
	spec.pids_limit = 4;
	rc = runtime_json_create_body(rt, &spec, &body, e);
	if (!rc)
		rc = call(rt, "POST", "/containers/create", body.data, 201, 201,
			  &reply, "create the network holder", e);
	if (!rc)
		rc = runtime_json_created(reply.data, reply.len, eg->id,
					  sizeof(eg->id), e);
	buf_release(&body);
	buf_release(&reply);
	return rc;
}

/* Start the holder and learn its pid; refused when it is not running. */
static int start_holder(struct runtime *rt, struct rt_egress *eg,
			const char *image, struct err *e)
{
	struct buf path = BUF_INIT, reply = BUF_INIT;
	int running = 0, code = 0, rc;

	buf_addf(&path, NULL, "/containers/%s/start", eg->id);
	rc = call(rt, "POST", path.data, NULL, 204, 304, NULL,
		  "start the network holder", e);
	buf_reset(&path);
	buf_addf(&path, NULL, "/containers/%s/json", eg->id);
	if (!rc)
		rc = call(rt, "GET", path.data, NULL, 200, 200, &reply,
			  "inspect the network holder", e);
	if (!rc)
		rc = runtime_json_state(reply.data, reply.len, &running,
					&eg->pid, &code, e);
	if (!rc && (!running || eg->pid <= 0))
		rc = err_set(e, ERR_UNAVAILABLE,
			     "runtime: CONTAINER_NETWORK_MODE=bridge: the network holder (image '%s' " EG_HOLD_ARG ") exited with code %d: an image older than " EG_HOLD_ARG "? rebuild it with scripts/build-image.sh",
			     image, code);
	buf_release(&path);
	buf_release(&reply);
	return rc;
}

/* Enter the running holder's namespace and equip it. */
static int equip_holder(struct rt_egress *eg, struct err *e)
{
	char path[64];
	int ns, rc;

	if (!await_holder_process(eg->pid))
		return err_set(e, ERR_UNAVAILABLE,
			       "runtime: CONTAINER_NETWORK_MODE=bridge: the engine's pid %ld of the network holder is not its process here: the worker must share the engine's pid namespace (or use CONTAINER_RUNTIME=sandbox)",
			       eg->pid);
	eg->pidfd = (int)syscall(SYS_pidfd_open, (pid_t)eg->pid, 0);
	snprintf(path, sizeof(path), "/proc/%ld/ns/net", eg->pid);
	ns = open(path, O_RDONLY | O_CLOEXEC);
	if (ns < 0)
		return err_set(e, ERR_UNAVAILABLE,
			       "runtime: CONTAINER_NETWORK_MODE=bridge: cannot open the network holder's namespace '%s': %s (the worker needs root)",
			       path, strerror(errno));
	rc = sandbox_egress_adopt(&eg->net, ns, e);
	close(ns);
	return rc;
}

static int make_holder(struct runtime *rt, struct rt_egress *eg,
		       const struct runtime_spec *scan, struct err *e)
{
	if (eg->id[0])
		log_warn("runtime: network holder '%.12s' is gone: making it again",
			 eg->id);
	remove_holder(rt, eg);
	sandbox_egress_drop(&eg->net);
	if (create_holder(rt, eg, scan, e) < 0 ||
	    start_holder(rt, eg, scan->image, e) < 0 || equip_holder(eg, e) < 0) {
		remove_holder(rt, eg);
		sandbox_egress_drop(&eg->net);
		return -1;
	}
	eg->up = 1;
	log_info("runtime: network holder '%.12s' up: pid %ld, fetchers join it (CONTAINER_NETWORK_MODE=bridge)",
		 eg->id, eg->pid);
	return 0;
}

int rt_egress_network(struct runtime *rt, const struct runtime_spec *spec,
		      char *out, size_t size, struct err *e)
{
	struct rt_egress *eg;
	int rc = 0;

	if (!spec->network_mode || strcmp(spec->network_mode, "bridge")) {
		snprintf(out, size, "%s", spec->network_mode ? spec->network_mode : "none");
		return 0;
	}
	eg = state_of(rt);
	pthread_mutex_lock(&eg->lock);
	if (!eg->up || holder_gone(eg))
		rc = make_holder(rt, eg, spec, e);
	if (!rc)
		rc = sandbox_egress_ready(&eg->net, e); /* slirp4netns died? */
	if (!rc)
		snprintf(out, size, "container:%s", eg->id);
	pthread_mutex_unlock(&eg->lock);
	return rc;
}

int rt_egress_holds(struct runtime *rt, const char *id)
{
	struct rt_egress *eg;
	int holds;

	pthread_mutex_lock(&rt->lock);
	eg = rt->egress;
	pthread_mutex_unlock(&rt->lock);
	if (!eg)
		return 0;
	pthread_mutex_lock(&eg->lock);
	holds = eg->id[0] && !strcmp(eg->id, id);
	pthread_mutex_unlock(&eg->lock);
	return holds;
}

void rt_egress_free(struct runtime *rt)
{
	struct rt_egress *eg = rt->egress;

	if (!eg)
		return;
	remove_holder(rt, eg);
	sandbox_egress_close(&eg->net);
	pthread_mutex_destroy(&eg->lock);
	free(eg);
	rt->egress = NULL;
}
