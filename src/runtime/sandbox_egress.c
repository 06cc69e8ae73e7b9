/*
 * sandbox_egress.c - the isolated egress network of the sandbox runtime
 * (network mode bridge): one network namespace per worker, made at first
 * use and joined by every sandbox, whose only way out is a user-mode
 * network stack (slirp4netns) and whose routing table refuses the host.
 *
 *   sandbox --(tap0, 10.0.2.100)--> slirp4netns --(host sockets)--> world
 *
 * slirp4netns runs in the host's network namespace and opens ordinary
 * sockets there for the sandboxes' connections, so what they may reach is
 * decided before a packet leaves the namespace:
 *
 *   - prohibit routes (connect fails with EACCES) for every IPv4 range a
 *     public fetch never needs (table below: the fetcher's blocked ranges,
 *     which a unit test keeps in step) and for each address the host had
 *     when the namespace was made (getifaddrs);
 *   - the host's loopback, which slirp maps to 10.0.2.2, is refused by
 *     slirp itself (--disable-host-loopback);
 *   - no IPv6 at all (slirp without --enable-ipv6: no route);
 *   - 10.0.2.3, slirp's DNS forwarder to the host's resolver, is the one
 *     private address left open: sandboxes get a resolv.conf naming it
 *     (sandbox_child.c writes it).
 *
 * The namespace is made by a short-lived thread (unshare affects only the
 * calling thread) and held by an fd; slirp4netns gets that fd and a pipe
 * whose write end only we hold (--exit-fd), so it ends with the worker,
 * crash included, and the namespace with it and its last sandbox. A
 * helper that died is started again by the next run (routes stay: they
 * belong to the namespace).
 *
 * Beside the routes, an nftables filter (sandbox_nft.c) lets out only
 * TCP and UDP to public unicast addresses and slirp's DNS, and lets in
 * only replies: it holds whatever route, source or interface a socket
 * picks.
 *
 * The Docker runtime equips its fetchers' namespace with the same code
 * (sandbox_egress_adopt: a namespace made by the engine, entered instead
 * of made; runtime_egress.c).
 *
 * The fetcher's own SSRF guard stays on: this is the layer beneath it.
 */
#include "fmacros.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "sandbox.h"
#include "banned.h"

#define EG_HELPER "slirp4netns"
#define EG_TAP "tap0"
#define EG_READY_MS 5000         /* for slirp4netns to configure tap0 */
#define EG_STOP_MS 1000          /* for it to exit on its exit fd */
#define EG_MAX_HOST 64           /* host addresses refused, at most */
#define EG_LOG_TAIL 512
#define EG_DNS "10.0.2.3"        /* slirp's DNS forwarder */
/* Where the spawned helper finds its fds (see spawn_helper). */
#define EG_FD_READY 3
#define EG_FD_EXIT 4
#define EG_FD_NETNS 5

/* IPv4 ranges with a prohibit route in the egress namespace: the
 * fetcher's blocked IPv4 ranges (src/fetcher/netguard.c), whole. */
static const char *const refused[] = {
	"0.0.0.0/8",       "10.0.0.0/8",      "100.64.0.0/10",
	"127.0.0.0/8",     "168.63.129.16/32", "169.254.0.0/16",
	"172.16.0.0/12",   "192.0.0.0/24",    "192.0.2.0/24",
	"192.88.99.0/24",  "192.168.0.0/16",  "198.18.0.0/15",
	"198.51.100.0/24", "203.0.113.0/24",  "224.0.0.0/4",
	"240.0.0.0/4",
};

#define EG_MAX_ROUTES (sizeof(refused) / sizeof(refused[0]) + EG_MAX_HOST)

const char *const *sandbox_egress_refused(size_t *n)
{
	*n = sizeof(refused) / sizeof(refused[0]);
	return refused;
}

/* ---- the namespace and its routes ---- */

struct route {
	struct in_addr dst;
	int plen;
};

struct ns_job {
	const struct route *routes;
	int nroutes;
	int enter;           /* in: a namespace to equip, or -1: a new one */
	int fd;              /* out: the namespace */
	const char *step;    /* out: what failed */
	int err;
	struct err nft;      /* out: why the filter was refused */
};

static int parse_cidr(const char *cidr, struct route *r)
{
	char addr[32], *end;
	const char *slash = strchr(cidr, '/');
	size_t n = slash ? (size_t)(slash - cidr) : 0;
	long plen;

	if (!slash || n >= sizeof(addr))
		return -1;
	memcpy(addr, cidr, n);
	addr[n] = '\0';
	plen = strtol(slash + 1, &end, 10);
	if (*end || plen < 0 || plen > 32)
		return -1;
	r->plen = (int)plen;
	return inet_pton(AF_INET, addr, &r->dst) == 1 ? 0 : -1;
}

/* One RTM_NEWROUTE of type prohibit, acknowledged. 0 or -1 with errno. */
static int add_prohibit(int nl, const struct route *r, unsigned seq)
{
	struct {
		struct nlmsghdr n;
		struct rtmsg r;
		char attrs[RTA_SPACE(sizeof(struct in_addr))];
	} req;
	struct {
		struct nlmsghdr n;
		struct nlmsgerr err;
		char rest[256];
	} ack;
	struct rtattr *rta;
	ssize_t got;

	memset(&req, 0, sizeof(req));
	req.n.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
	req.n.nlmsg_type = RTM_NEWROUTE;
	req.n.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
	req.n.nlmsg_seq = seq;
	req.r.rtm_family = AF_INET;
	req.r.rtm_dst_len = (unsigned char)r->plen;
	req.r.rtm_table = RT_TABLE_MAIN;
	req.r.rtm_protocol = RTPROT_STATIC;
	req.r.rtm_scope = RT_SCOPE_UNIVERSE;
	req.r.rtm_type = RTN_PROHIBIT;
	rta = (struct rtattr *)(void *)((char *)&req + NLMSG_ALIGN(req.n.nlmsg_len));
	rta->rta_type = RTA_DST;
	rta->rta_len = RTA_LENGTH(sizeof(struct in_addr));
	memcpy(RTA_DATA(rta), &r->dst, sizeof(struct in_addr));
	req.n.nlmsg_len = NLMSG_ALIGN(req.n.nlmsg_len) + RTA_ALIGN(rta->rta_len);
	if (send(nl, &req, req.n.nlmsg_len, 0) < 0)
		return -1;
	got = recv(nl, &ack, sizeof(ack), 0);
	if (got < (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr)) ||
	    ack.n.nlmsg_type != NLMSG_ERROR) {
		errno = EPROTO;
		return -1;
	}
	if (ack.err.error) {
		errno = -ack.err.error;
		return -1;
	}
	return 0;
}

static int loopback_up(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = -1;

	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "lo", 3);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
	return rc;
}

static void *ns_fail(struct ns_job *job, const char *step)
{
	job->step = step;
	job->err = errno;
	return NULL;
}

/* The nftables filter, refusing what the routes refuse. */
static int load_filter(struct ns_job *job)
{
	char cidr[EG_MAX_ROUTES][INET_ADDRSTRLEN + 4], addr[INET_ADDRSTRLEN];
	const char *list[EG_MAX_ROUTES];
	struct buf rules = BUF_INIT;
	int i, rc;

	for (i = 0; i < job->nroutes && i < (int)EG_MAX_ROUTES; i++) {
		inet_ntop(AF_INET, &job->routes[i].dst, addr, sizeof(addr));
		snprintf(cidr[i], sizeof(cidr[i]), "%s/%d", addr, job->routes[i].plen);
		list[i] = cidr[i];
	}
	sandbox_nft_ruleset(list, (size_t)i, EG_TAP, EG_DNS, &rules);
	rc = sandbox_nft_load(rules.data, &job->nft);
	buf_release(&rules);
	return rc;
}

/* Thread body: a new network namespace for this thread alone (or the
 * one job->enter names, entered), its fd kept, loopback up, the prohibit
 * routes and the filter in. */
static void *make_ns(void *arg)
{
	struct ns_job *job = arg;
	int nl, i;

	if (job->enter >= 0 && setns(job->enter, CLONE_NEWNET) < 0)
		return ns_fail(job, "enter the network namespace");
	if (job->enter < 0 && unshare(CLONE_NEWNET) < 0)
		return ns_fail(job, "unshare a network namespace");
	job->fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (job->fd < 0)
		return ns_fail(job, "open the namespace");
	if (loopback_up() < 0)
		return ns_fail(job, "loopback up");
	nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (nl < 0)
		return ns_fail(job, "netlink socket");
	for (i = 0; i < job->nroutes; i++)
		if (add_prohibit(nl, &job->routes[i], (unsigned)i + 1) < 0) {
			close(nl);
			return ns_fail(job, "add a prohibit route");
		}
	close(nl);
	if (load_filter(job) < 0)
		return ns_fail(job, "nftables");
	return NULL;
}

/* The refused table, then the host's own IPv4 addresses, as /32s. */
static int collect_routes(struct route *out, int max, int *nhost,
			  struct err *e)
{
	struct ifaddrs *ifs, *ifa;
	size_t i, nref = sizeof(refused) / sizeof(refused[0]);
	int n = 0;

	for (i = 0; i < nref; i++)
		if (parse_cidr(refused[i], &out[n++]) < 0)
			return err_set(e, ERR_INTERNAL, "egress: bad range '%s'",
				       refused[i]);
	if (getifaddrs(&ifs) < 0)
		return err_set(e, ERR_UNAVAILABLE, "egress: getifaddrs: %s",
			       strerror(errno));
	*nhost = 0;
	for (ifa = ifs; ifa; ifa = ifa->ifa_next) {
		if (!ifa->ifa_addr || ifa->ifa_addr->sa_family != AF_INET)
			continue;
		if (n == max) {
			log_warn("egress: this host has more than %d IPv4 addresses: '%s' and later ones get no prohibit route",
				 EG_MAX_HOST, ifa->ifa_name);
			break;
		}
		out[n].dst = ((const struct sockaddr_in *)(const void *)ifa->ifa_addr)->sin_addr;
		out[n++].plen = 32;
		(*nhost)++;
	}
	freeifaddrs(ifs);
	return n;
}

/* The egress namespace: a new one (enter -1) or the one enter names
 * (borrowed; the kept fd is our own), equipped. */
static int make_namespace(struct sandbox_egress *eg, int enter, struct err *e)
{
	struct route routes[EG_MAX_ROUTES];
	struct ns_job job;
	pthread_t th;
	int n = collect_routes(routes, (int)(sizeof(routes) / sizeof(routes[0])),
			       &eg->host_addrs, e);

	if (n < 0)
		return -1;
	memset(&job, 0, sizeof(job));
	job.routes = routes;
	job.nroutes = n;
	job.enter = enter;
	job.fd = -1;
	if (pthread_create(&th, NULL, make_ns, &job) != 0)
		return err_set(e, ERR_UNAVAILABLE, "egress: cannot start a thread");
	pthread_join(th, NULL);
	if (job.step) {
		if (job.fd >= 0)
			close(job.fd);
		if (job.nft.kind != ERR_NONE) {
			*e = job.nft;
			return -1;
		}
		return err_set(e, ERR_UNAVAILABLE,
			       "egress: egress namespace: %s: %s", job.step,
			       strerror(job.err));
	}
	eg->netns = job.fd;
	eg->routes = n;
	return 0;
}

/* ---- the helper ---- */

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Up to EG_LOG_TAIL bytes of what the helper wrote on stderr. */
static void helper_log(const struct sandbox_egress *eg, char *out, size_t size)
{
	off_t len = lseek(eg->log, 0, SEEK_END);
	off_t from = len > (off_t)size - 1 ? len - (off_t)size + 1 : 0;
	ssize_t n = pread(eg->log, out, size - 1, from);
	char *p;

	out[n > 0 ? n : 0] = '\0';
	for (p = out; *p; p++)
		if (*p == '\n')
			*p = ' ';
}

/* A copy of fd at 10 or above: never one of the helper's own numbers. */
static int high_dup(int fd)
{
	return fcntl(fd, F_DUPFD_CLOEXEC, 10);
}

/*
 * posix_spawnp slirp4netns with its fds at EG_FD_*, stdin and stdout on
 * /dev/null, stderr into the log memfd, default signals, its own process
 * group (a terminal's ^C is the worker's to handle), no other fd of ours
 * and only PATH in its environment.
 */
static int spawn_helper(struct sandbox_egress *eg, int ready_w, int exit_r,
			pid_t *pid)
{
	static const char *const argv[] = {
		EG_HELPER, "--configure", "--mtu=65520", "--disable-host-loopback",
		"--enable-sandbox", "--enable-seccomp", "--netns-type=path",
		"--ready-fd=3", "--exit-fd=4", "/proc/self/fd/5", EG_TAP, NULL,
	};
	int src[4] = { high_dup(ready_w), high_dup(exit_r), high_dup(eg->netns),
		       high_dup(eg->log) };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t all, none;
	char path[4096];
	const char *const envp[] = { path, NULL };
	union { const char *const *in; char *const *out; } av = { argv }, ev = { envp };
	int rc, i;

	/* Its own environment holds nothing of ours (tokens, passwords). */
	snprintf(path, sizeof(path), "PATH=%s",
		 getenv("PATH") ? getenv("PATH") : "/usr/local/bin:/usr/bin:/bin");

	sigfillset(&all);
	sigemptyset(&none);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
				      POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawn_file_actions_adddup2(&fa, src[3], 2);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, src[0], EG_FD_READY);
	posix_spawn_file_actions_adddup2(&fa, src[1], EG_FD_EXIT);
	posix_spawn_file_actions_adddup2(&fa, src[2], EG_FD_NETNS);
	/* Nothing else of ours: libraries' sockets (Redis, the database)
	 * are not all close-on-exec. */
	posix_spawn_file_actions_addclosefrom_np(&fa, EG_FD_NETNS + 1);
	rc = src[0] < 0 || src[1] < 0 || src[2] < 0 || src[3] < 0 ? errno :
	     posix_spawnp(pid, EG_HELPER, &fa, &at, av.out, ev.out);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	for (i = 0; i < 4; i++)
		close_fd(&src[i]);
	return rc;
}

/* Wait up to ms for the helper to exit; 1 when it did (reaped). */
static int reap_within(pid_t pid, int ms, int *status)
{
	const struct timespec tick = { 0, 5000000L };
	int waited = 0;
	pid_t got;

	while ((got = waitpid(pid, status, WNOHANG)) == 0 && waited < ms) {
		nanosleep(&tick, NULL);
		waited += 5;
	}
	return got == pid;
}

static void stop_helper(struct sandbox_egress *eg)
{
	int status;

	close_fd(&eg->exit_w);
	if (eg->helper > 0 && !reap_within(eg->helper, EG_STOP_MS, &status)) {
		kill(eg->helper, SIGKILL);
		while (waitpid(eg->helper, &status, 0) < 0 && errno == EINTR)
			;
	}
	eg->helper = -1;
}

/* Wait for the ready byte; 0, or -1 with what the helper said in e. */
static int await_ready(struct sandbox_egress *eg, int ready_r, struct err *e)
{
	struct pollfd p = { ready_r, POLLIN, 0 };
	char byte, said[EG_LOG_TAIL];
	int rc;

	do
		rc = poll(&p, 1, EG_READY_MS);
	while (rc < 0 && errno == EINTR);
	if (rc == 1 && read(ready_r, &byte, 1) == 1)
		return 0;
	stop_helper(eg);
	helper_log(eg, said, sizeof(said));
	return err_set(e, ERR_UNAVAILABLE,
		       "egress: " EG_HELPER " did not bring up the egress network%s: %s",
		       rc == 0 ? " within 5 s" : "", said[0] ? said : "(it said nothing)");
}

static int start_helper(struct sandbox_egress *eg, struct err *e)
{
	int ready[2], ex[2], rc;

	if (pipe2(ready, O_CLOEXEC) < 0)
		return err_set(e, ERR_UNAVAILABLE, "egress: pipe: %s", strerror(errno));
	if (pipe2(ex, O_CLOEXEC) < 0) {
		close(ready[0]);
		close(ready[1]);
		return err_set(e, ERR_UNAVAILABLE, "egress: pipe: %s", strerror(errno));
	}
	if (ftruncate(eg->log, 0) < 0 || lseek(eg->log, 0, SEEK_SET) < 0)
		log_debug("egress: helper log not emptied: %s", strerror(errno));
	rc = spawn_helper(eg, ready[1], ex[0], &eg->helper);
	close(ready[1]);
	close(ex[0]);
	eg->exit_w = ex[1];
	if (rc) {
		eg->helper = -1;
		close(ready[0]);
		close_fd(&eg->exit_w);
		return err_set(e, ERR_UNAVAILABLE,
			       "egress: CONTAINER_NETWORK_MODE=bridge needs " EG_HELPER
			       " (apt-get install " EG_HELPER "): %s",
			       rc == ENOENT ? "not found in PATH" : strerror(rc));
	}
	rc = await_ready(eg, ready[0], e);
	close(ready[0]);
	if (!rc)
		log_info("%s: egress network up: " EG_HELPER " pid %d, %d ranges refused (%d of them this host's addresses)",
			 eg->who, (int)eg->helper, eg->routes, eg->host_addrs);
	return rc;
}

/* Has the helper died since we looked? Reaps it and says how. */
static int helper_gone(struct sandbox_egress *eg)
{
	int status;

	if (eg->helper <= 0 || waitpid(eg->helper, &status, WNOHANG) != eg->helper)
		return eg->helper <= 0;
	log_warn("%s: egress network: " EG_HELPER " pid %d %s %d: starting it again",
		 eg->who, (int)eg->helper, WIFSIGNALED(status) ? "killed by signal" : "exited",
		 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	eg->helper = -1;
	close_fd(&eg->exit_w);
	return 1;
}

/* ---- the interface ---- */

void sandbox_egress_init(struct sandbox_egress *eg)
{
	memset(eg, 0, sizeof(*eg));
	eg->netns = eg->log = eg->exit_w = -1;
	eg->helper = -1;
	eg->who = "sandbox";
	pthread_mutex_init(&eg->lock, NULL);
}

static int open_locked(struct sandbox_egress *eg, struct err *e)
{
	if (eg->netns < 0) {
		if (eg->log < 0)
			eg->log = memfd_create("safeurl-egress-log", MFD_CLOEXEC);
		if (eg->log < 0)
			return err_set(e, ERR_UNAVAILABLE, "egress: memfd: %s",
				       strerror(errno));
		if (make_namespace(eg, -1, e) < 0)
			return -1;
	}
	return helper_gone(eg) ? start_helper(eg, e) : 0;
}

int sandbox_egress_ready(struct sandbox_egress *eg, struct err *e)
{
	int rc;

	pthread_mutex_lock(&eg->lock);
	rc = open_locked(eg, e);
	pthread_mutex_unlock(&eg->lock);
	return rc;
}

int sandbox_egress_adopt(struct sandbox_egress *eg, int netns, struct err *e)
{
	int rc = 0;

	pthread_mutex_lock(&eg->lock);
	stop_helper(eg);
	close_fd(&eg->netns);
	if (eg->log < 0)
		eg->log = memfd_create("safeurl-egress-log", MFD_CLOEXEC);
	if (eg->log < 0)
		rc = err_set(e, ERR_UNAVAILABLE, "egress: memfd: %s", strerror(errno));
	if (!rc)
		rc = make_namespace(eg, netns, e);
	if (!rc)
		rc = start_helper(eg, e);
	pthread_mutex_unlock(&eg->lock);
	return rc;
}

void sandbox_egress_drop(struct sandbox_egress *eg)
{
	pthread_mutex_lock(&eg->lock);
	stop_helper(eg);
	close_fd(&eg->netns);
	pthread_mutex_unlock(&eg->lock);
}

int sandbox_egress_opened(struct sandbox_egress *eg)
{
	int opened;

	pthread_mutex_lock(&eg->lock);
	opened = eg->netns >= 0;
	pthread_mutex_unlock(&eg->lock);
	return opened;
}

void sandbox_egress_close(struct sandbox_egress *eg)
{
	stop_helper(eg);
	close_fd(&eg->netns);
	close_fd(&eg->log);
	pthread_mutex_destroy(&eg->lock);
}
