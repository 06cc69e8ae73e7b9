/*
 * sandbox_slot.c - a sandbox made ready up to its exec, cold (made and
 * launched by the scan's own thread) or warm (made ahead by the previous
 * scan, its child waiting behind a go pipe).
 *
 * Why warm: on cgroup v1 the child's join of its cgroup takes the
 * kernel's cgroup threadgroup lock for writing, which waits for an RCU
 * grace period unless another join happened within the last one: several
 * milliseconds that a lone scan would spend in its spawn. A warm child
 * has paid it, and built its root, before its scan arrives; the scan
 * hands it argv and envp (shared memory: the child is vfork'd) and one
 * byte. Each launch refills the warm slots up to the number of runs in
 * flight (at most SANDBOX_WARM_MAX), so that at any concurrency the next
 * runs find one; they serve a spec with the same key (limits, user,
 * network), others go cold.
 *
 * It does not follow, kill or reap a child, nor remove its cgroup, except
 * for the warm slot nobody took (sandbox_warm_close).
 */
#include "fmacros.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "runtime.h"
#include "sandbox.h"
#include "xalloc.h"
#include "banned.h"

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* CONTAINER_NETWORK_MODE as the sandbox reads it. */
static const struct {
	const char *mode;
	enum sandbox_net net;
} nets[] = {
	{ "bridge", SANDBOX_NET_EGRESS },
	{ "none", SANDBOX_NET_NONE },
	{ "host", SANDBOX_NET_HOST },
};

int sandbox_net_of(const char *mode, enum sandbox_net *net, struct err *e)
{
	size_t i;

	for (i = 0; i < sizeof(nets) / sizeof(nets[0]); i++)
		if (mode && !strcmp(mode, nets[i].mode)) {
			*net = nets[i].net;
			return 0;
		}
	return err_set(e, ERR_INVALID,
		       "config: CONTAINER_NETWORK_MODE='%s': the sandbox runtime accepts bridge (its isolated egress network), none or host",
		       mode ? mode : "");
}

int sandbox_key_of(const struct runtime_spec *spec, struct sandbox_key *key,
		   struct err *e)
{
	const char *user = spec->user ? spec->user : "";
	char *end;
	long u = strtol(user, &end, 10), g = -1;

	if (end != user && *end == ':')
		g = strtol(end + 1, &end, 10);
	if (u <= 0 || g <= 0 || *end)
		return err_set(e, ERR_INVALID,
			       "runtime: user '%s': expected uid:gid, not root", user);
	memset(key, 0, sizeof(*key));
	key->uid = (uid_t)u;
	key->gid = (gid_t)g;
	key->memory_mb = spec->memory_mb;
	key->pids_limit = spec->pids_limit;
	key->tmpfs_mb = spec->tmpfs_mb;
	key->cpus = spec->cpus;
	return sandbox_net_of(spec->network_mode, &key->net, e);
}

static int same_key(const struct sandbox_key *a, const struct sandbox_key *b)
{
	return a->memory_mb == b->memory_mb && a->pids_limit == b->pids_limit &&
	       a->tmpfs_mb == b->tmpfs_mb && a->net == b->net &&
	       a->cpus == b->cpus && a->uid == b->uid && a->gid == b->gid;
}

static int make_pipes(struct sandbox_slot *slot, struct err *e)
{
	int out[2], err[2];

	if (pipe2(out, O_CLOEXEC) < 0)
		return err_set(e, ERR_UNAVAILABLE, "runtime: pipe: %s", strerror(errno));
	if (pipe2(err, O_CLOEXEC) < 0) {
		close(out[0]);
		close(out[1]);
		return err_set(e, ERR_UNAVAILABLE, "runtime: pipe: %s", strerror(errno));
	}
	slot->fds[0] = out[0];
	slot->fds[1] = err[0];
	slot->child.out_fd = out[1];
	slot->child.err_fd = err[1];
	return 0;
}

static void child_init(struct sandbox_child *c, const struct sandbox *sb,
		       const struct sandbox_key *key)
{
	c->rootfs = sb->rootfs;
	c->path = sb->entrypoint;
	c->filter = &sb->filter;
	c->cap_last = sb->cap_last;
	c->new_net = key->net == SANDBOX_NET_NONE;
	c->join_net = key->net == SANDBOX_NET_EGRESS ? sb->egress.netns : -1;
	if (key->net == SANDBOX_NET_EGRESS && sb->has_resolv) {
		c->resolv = SANDBOX_EGRESS_RESOLV;
		c->resolv_len = sizeof(SANDBOX_EGRESS_RESOLV) - 1;
	}
	if (key->net == SANDBOX_NET_HOST && sb->has_resolv && sb->host_resolv)
		c->resolv_path = "/etc/resolv.conf";
	c->uid = key->uid;
	c->gid = key->gid;
	c->fsize = (long)key->tmpfs_mb << 20;
	snprintf(c->tmpfs_opts, sizeof(c->tmpfs_opts), "size=%dm,mode=1777",
		 key->tmpfs_mb);
	c->out_fd = c->err_fd = c->go_fd = -1;
}

struct sandbox_slot *sandbox_slot_new(struct sandbox *sb,
				      const struct runtime_spec *spec,
				      const struct sandbox_key *key,
				      struct err *e)
{
	struct sandbox_slot *slot;

	/* Never the host's network for want of the egress namespace. */
	if (key->net == SANDBOX_NET_EGRESS && sb->egress.netns < 0) {
		err_set(e, ERR_UNAVAILABLE, "sandbox: the egress network is not up");
		return NULL;
	}
	slot = xcalloc(1, sizeof(*slot));
	slot->seq = atomic_fetch_add(&sb->seq, 1) + 1;
	snprintf(slot->cg_name, sizeof(slot->cg_name), "s%u", slot->seq);
	slot->key = *key;
	slot->fds[0] = slot->fds[1] = slot->go = -1;
	slot->pid = -1;
	child_init(&slot->child, sb, key);
	if (sandbox_cg_create(&sb->cg, slot->cg_name, spec, slot->child.cg_fds,
			      e) < 0) {
		free(slot);
		return NULL;
	}
	if (make_pipes(slot, e) < 0) {
		sandbox_cg_remove(&sb->cg, slot->cg_name, NULL);
		sandbox_slot_free(slot);
		return NULL;
	}
	return slot;
}

/* The parent's copies of what only the child needs, once it has cloned. */
static void close_child_ends(struct sandbox_slot *slot)
{
	struct sandbox_child *c = &slot->child;
	int i;

	close_fd(&c->out_fd);
	close_fd(&c->err_fd);
	close_fd(&c->go_fd);
	for (i = 0; i < SANDBOX_CG_MAX; i++)
		close_fd(&c->cg_fds[i]);
}

/* Warm: wait until the spawner's clone has returned. */
static void wait_spawned(struct sandbox_slot *slot)
{
	pthread_mutex_lock(&slot->lock);
	while (!slot->spawned)
		pthread_cond_wait(&slot->cond, &slot->lock);
	pthread_mutex_unlock(&slot->lock);
}

static void end_spawner(struct sandbox_slot *slot)
{
	pthread_mutex_lock(&slot->lock);
	slot->released = 1;
	pthread_cond_signal(&slot->cond);
	pthread_mutex_unlock(&slot->lock);
	pthread_join(slot->th, NULL);
	pthread_mutex_destroy(&slot->lock);
	pthread_cond_destroy(&slot->cond);
}

void sandbox_slot_free(struct sandbox_slot *slot)
{
	if (!slot)
		return;
	if (slot->warm)
		end_spawner(slot);
	close_child_ends(slot);
	close_fd(&slot->fds[0]);
	close_fd(&slot->fds[1]);
	close_fd(&slot->go);
	free(slot);
}

void sandbox_slot_launch(struct sandbox_slot *slot, const char *const *argv,
			 const char *const *envp)
{
	slot->child.argv = argv;
	slot->child.envp = envp;
	if (slot->go < 0) {
		slot->pid = sandbox_child_spawn(&slot->child);
	} else {
		/* The byte is the barrier: argv is in place before it. Closing
		 * at once: a child that missed the byte sees EOF and exits. */
		if (write(slot->go, "g", 1) != 1)
			log_warn("sandbox: cannot wake the warm sandbox: %s",
				 strerror(errno));
		close_fd(&slot->go);
		wait_spawned(slot);
	}
	close_child_ends(slot);
}

/* ---- the warm slot ---- */

static void *spawner(void *arg)
{
	struct sandbox_slot *slot = arg;
	pid_t pid = sandbox_child_spawn(&slot->child);

	pthread_mutex_lock(&slot->lock);
	slot->pid = pid;
	slot->spawned = 1;
	pthread_cond_broadcast(&slot->cond);
	while (!slot->released)
		pthread_cond_wait(&slot->cond, &slot->lock);
	pthread_mutex_unlock(&slot->lock);
	return NULL;
}

static struct sandbox_slot *warm_new(struct sandbox *sb,
				     const struct runtime_spec *spec,
				     const struct sandbox_key *key)
{
	struct err e = ERR_INIT;
	struct sandbox_slot *slot = sandbox_slot_new(sb, spec, key, &e);
	int go[2];

	if (slot && pipe2(go, O_CLOEXEC) == 0) {
		slot->child.go_fd = go[0];
		slot->go = go[1]; /* the child closes its copy (close_range) */
		pthread_mutex_init(&slot->lock, NULL);
		pthread_cond_init(&slot->cond, NULL);
		if (pthread_create(&slot->th, NULL, spawner, slot) == 0) {
			slot->warm = 1;
			return slot;
		}
		pthread_mutex_destroy(&slot->lock);
		pthread_cond_destroy(&slot->cond);
		close_fd(&slot->go);
	}
	if (slot) {
		sandbox_cg_remove(&sb->cg, slot->cg_name, NULL);
		sandbox_slot_free(slot);
	}
	log_warn("sandbox: no warm sandbox made: %s", e.msg[0] ? e.msg : strerror(errno));
	return NULL;
}

/* Index of a warm slot with key, or -1; sb->lock held. */
static int warm_find(const struct sandbox *sb, const struct sandbox_key *key)
{
	int i;

	for (i = 0; i < sb->nwarm; i++)
		if (same_key(&sb->warm[i]->key, key))
			return i;
	return -1;
}

struct sandbox_slot *sandbox_warm_take(struct sandbox *sb,
				       const struct sandbox_key *key)
{
	struct sandbox_slot *slot = NULL;
	int i;

	pthread_mutex_lock(&sb->lock);
	sb->running++;
	i = warm_find(sb, key);
	if (i >= 0) {
		slot = sb->warm[i];
		sb->warm[i] = sb->warm[--sb->nwarm];
	}
	pthread_mutex_unlock(&sb->lock);
	return slot;
}

void sandbox_warm_done(struct sandbox *sb)
{
	pthread_mutex_lock(&sb->lock);
	sb->running--;
	pthread_mutex_unlock(&sb->lock);
}

/* Drop a warm slot nobody took: its child sees EOF and exits. */
static void warm_drop(struct sandbox *sb, struct sandbox_slot *slot)
{
	int status;

	close_fd(&slot->go);
	wait_spawned(slot);
	if (slot->pid > 0)
		while (waitpid(slot->pid, &status, __WALL) < 0 && errno == EINTR)
			;
	sandbox_cg_remove(&sb->cg, slot->cg_name, NULL);
	sandbox_slot_free(slot);
}

/* More warm slots of key wanted? Then count one as being made. */
static int want_one(struct sandbox *sb, const struct sandbox_key *key)
{
	int want, have, go;

	pthread_mutex_lock(&sb->lock);
	want = sb->running < SANDBOX_WARM_MAX ? sb->running : SANDBOX_WARM_MAX;
	have = sb->nwarm > 0 && !same_key(&sb->warm[0]->key, key) ? 0 : sb->nwarm;
	go = have + sb->refilling < (want > 0 ? want : 1);
	sb->refilling += go;
	pthread_mutex_unlock(&sb->lock);
	return go;
}

/* Keep slot warm; slots of another key go into old[] (returns how many). */
static int warm_keep(struct sandbox *sb, struct sandbox_slot *slot,
		     struct sandbox_slot **old)
{
	int nold = 0;

	pthread_mutex_lock(&sb->lock);
	sb->refilling--;
	if (slot && sb->nwarm && !same_key(&sb->warm[0]->key, &slot->key)) {
		memcpy(old, sb->warm, (size_t)sb->nwarm * sizeof(*old));
		nold = sb->nwarm;
		sb->nwarm = 0;
	}
	if (slot && sb->nwarm < SANDBOX_WARM_MAX)
		sb->warm[sb->nwarm++] = slot;
	else if (slot)
		old[nold++] = slot;
	pthread_mutex_unlock(&sb->lock);
	return nold;
}

void sandbox_warm_refill(struct sandbox *sb, const struct runtime_spec *spec,
			 const struct sandbox_key *key)
{
	struct sandbox_slot *old[SANDBOX_WARM_MAX + 1];
	int i, n;

	while (want_one(sb, key)) {
		struct sandbox_slot *slot = warm_new(sb, spec, key);

		n = warm_keep(sb, slot, old);
		for (i = 0; i < n; i++)
			warm_drop(sb, old[i]);
		if (!slot)
			return;
	}
}

void sandbox_warm_close(struct sandbox *sb)
{
	struct sandbox_slot *slots[SANDBOX_WARM_MAX];
	int i, n;

	pthread_mutex_lock(&sb->lock);
	n = sb->nwarm;
	memcpy(slots, sb->warm, (size_t)n * sizeof(*slots));
	sb->nwarm = 0;
	pthread_mutex_unlock(&sb->lock);
	for (i = 0; i < n; i++)
		warm_drop(sb, slots[i]);
}
