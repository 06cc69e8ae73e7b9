/*
 * sandbox_cgroup.c - one cgroup per sandbox, on cgroup v2 or v1.
 *
 * Layout, under each hierarchy in use (v2: one; v1: the memory, cpu and
 * pids mounts, each its own tree with the same names):
 *
 *   <mount>/safeurl/w<pid>-<worker id>/s<seq>
 *
 * The worker's parent cgroup names its pid, so the sweep can tell a dead
 * worker's leftovers from a live one's. Limits are one table per version:
 * memory with swap off, CPU quota per 100 ms period, pids. OOM kills are
 * read from memory.events (v2) or memory.oom_control (v1). Removing a
 * cgroup kills what is left in it (cgroup.kill on v2, SIGKILL to each
 * member on v1), waits for it to empty and removes the directory.
 *
 * It does not start processes: the child joins its cgroup itself by
 * writing "0" to the cgroup.procs files opened here.
 */
#include "fmacros.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "err.h"
#include "log.h"
#include "runtime.h"
#include "sandbox.h"
#include "banned.h"

#define CG_FS "/sys/fs/cgroup"
#define CG_PERIOD_US 100000
#define CG_PATH 1024             /* mount (255) + names (worker 159, d_name 255) */
#define CG_EMPTY_TRIES 2000      /* 1 ms apart: 2 s for a cgroup to empty */

enum cg_value { V_MEM, V_ZERO, V_CPU_V1, V_CPU_V2, V_PIDS };

/* Limits written into every scan cgroup: {version, controller, file,
 * value, optional (a kernel without the file: skip)}. */
static const struct cg_limit {
	int version;
	const char *ctrl;
	const char *file;
	enum cg_value value;
	int optional;
} limits[] = {
	{ 1, "memory", "memory.limit_in_bytes", V_MEM, 0 },
	{ 1, "memory", "memory.memsw.limit_in_bytes", V_MEM, 1 },
	{ 1, "memory", "memory.swappiness", V_ZERO, 1 },
	{ 1, "cpu", "cpu.cfs_quota_us", V_CPU_V1, 0 },
	{ 1, "pids", "pids.max", V_PIDS, 0 },
	{ 2, NULL, "memory.max", V_MEM, 0 },
	{ 2, NULL, "memory.swap.max", V_ZERO, 1 },
	{ 2, NULL, "cpu.max", V_CPU_V2, 0 },
	{ 2, NULL, "pids.max", V_PIDS, 0 },
};

/* The v1 controllers, in the order of cg->mount. */
static const char *const v1_ctrls[] = { "memory", "cpu", "pids" };

static int write_file(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, value, strlen(value));
	close(fd);
	return n == (ssize_t)strlen(value) ? 0 : -1;
}

/* Read up to size-1 bytes of path into out; -1 when it cannot be read. */
static int read_file(const char *path, char *out, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, out, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	out[n] = '\0';
	return 0;
}

/* Has the space-separated word list text the word w? */
static int has_word(const char *text, const char *w, const char *seps)
{
	size_t n = strlen(w);
	const char *p = text;

	while ((p = strstr(p, w)) != NULL) {
		if ((p == text || strchr(seps, p[-1])) &&
		    (p[n] == '\0' || strchr(seps, p[n])))
			return 1;
		p += n;
	}
	return 0;
}

static int v2_usable(void)
{
	char ctl[512];

	return read_file(CG_FS "/cgroup.controllers", ctl, sizeof(ctl)) == 0 &&
	       has_word(ctl, "memory", " \n") && has_word(ctl, "cpu", " \n") &&
	       has_word(ctl, "pids", " \n");
}

/* v1: the mount point of each controller from /proc/self/mounts. */
static int v1_find(struct sandbox_cg *cg)
{
	char line[1024], dir[256], type[32], opts[512];
	FILE *f = fopen("/proc/self/mounts", "re");
	size_t i;

	if (!f)
		return -1;
	cg->n = 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*s %255s %31s %511s", dir, type, opts) != 3 ||
		    strcmp(type, "cgroup"))
			continue;
		for (i = 0; i < sizeof(v1_ctrls) / sizeof(v1_ctrls[0]); i++)
			if (has_word(opts, v1_ctrls[i], ","))
				snprintf(cg->mount[i], sizeof(cg->mount[i]), "%.200s", dir);
	}
	fclose(f);
	for (i = 0; i < sizeof(v1_ctrls) / sizeof(v1_ctrls[0]); i++)
		if (!cg->mount[i][0])
			return -1;
	cg->n = (int)i;
	return 0;
}

/* Path of name (NULL: the worker's dir; "": the safeurl root) under
 * mount i, with file (may be NULL) appended. */
static void cg_path(const struct sandbox_cg *cg, int i, const char *worker,
		    const char *name, const char *file, char *out, size_t size)
{
	snprintf(out, size, "%s/" SANDBOX_CG_ROOT "%s%s%s%s%s%s", cg->mount[i],
		 worker ? "/" : "", worker ? worker : "",
		 name ? "/" : "", name ? name : "", file ? "/" : "",
		 file ? file : "");
}

static int make_dir(const char *path, struct err *e)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return err_set(e, ERR_UNAVAILABLE, "sandbox: cannot create cgroup '%s': %s",
			       path, strerror(errno));
	return 0;
}

/* v2: let the controllers reach the children of path. */
static int v2_delegate(const char *dir, struct err *e)
{
	char path[CG_PATH];

	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", dir);
	if (write_file(path, "+memory +cpu +pids") < 0)
		return err_set(e, ERR_UNAVAILABLE,
			       "sandbox: cannot enable memory, cpu and pids in '%s': %s",
			       path, strerror(errno));
	return 0;
}

static void worker_dir_name(struct sandbox_cg *cg, const char *worker_id,
			    int pid)
{
	char *p;

	snprintf(cg->worker, sizeof(cg->worker), "w%d-%s", pid, worker_id);
	for (p = cg->worker; *p; p++)
		if (*p == '/' || *p == ' ' || *p == '\n')
			*p = '_';
}

int sandbox_cg_open(struct sandbox_cg *cg, const char *worker_id, int pid,
		    struct err *e)
{
	char path[CG_PATH];
	int i;

	memset(cg, 0, sizeof(*cg));
	worker_dir_name(cg, worker_id, pid);
	if (v2_usable()) {
		cg->version = 2;
		cg->n = 1;
		snprintf(cg->mount[0], sizeof(cg->mount[0]), CG_FS);
		cg_path(cg, 0, NULL, NULL, NULL, path, sizeof(path));
		if (v2_delegate(CG_FS, e) < 0 || make_dir(path, e) < 0 ||
		    v2_delegate(path, e) < 0)
			return -1;
		cg_path(cg, 0, cg->worker, NULL, NULL, path, sizeof(path));
		return make_dir(path, e) < 0 ? -1 : v2_delegate(path, e);
	}
	cg->version = 1;
	if (v1_find(cg) < 0)
		return err_set(e, ERR_UNAVAILABLE,
			       "sandbox: no usable cgroups: need cgroup v2 with memory, cpu and pids at " CG_FS
			       " or the v1 memory, cpu and pids hierarchies mounted");
	for (i = 0; i < cg->n; i++) {
		cg_path(cg, i, NULL, NULL, NULL, path, sizeof(path));
		if (make_dir(path, e) < 0)
			return -1;
		cg_path(cg, i, cg->worker, NULL, NULL, path, sizeof(path));
		if (make_dir(path, e) < 0)
			return -1;
	}
	return 0;
}

void sandbox_cg_close(const struct sandbox_cg *cg)
{
	char path[CG_PATH];
	int i;

	for (i = 0; i < cg->n; i++) {
		cg_path(cg, i, cg->worker, NULL, NULL, path, sizeof(path));
		if (rmdir(path) < 0 && errno != ENOENT)
			log_warn("sandbox: cgroup '%s' not removed: %s", path,
				 strerror(errno));
	}
}

/* Index of the v1 mount of ctrl (0 on v2). */
static int mount_of(const struct sandbox_cg *cg, const char *ctrl)
{
	size_t i;

	if (cg->version == 2)
		return 0;
	for (i = 0; ctrl && i < sizeof(v1_ctrls) / sizeof(v1_ctrls[0]); i++)
		if (!strcmp(ctrl, v1_ctrls[i]))
			return (int)i;
	return 0;
}

static void limit_value(enum cg_value v, const struct runtime_spec *spec,
			char *out, size_t size)
{
	long long quota = (long long)(spec->cpus * CG_PERIOD_US);

	quota = quota < 1000 ? 1000 : quota;
	if (v == V_MEM)
		snprintf(out, size, "%lld", (long long)spec->memory_mb << 20);
	else if (v == V_ZERO)
		snprintf(out, size, "0");
	else if (v == V_CPU_V1)
		snprintf(out, size, "%lld", quota);
	else if (v == V_CPU_V2)
		snprintf(out, size, "%lld %d", quota, CG_PERIOD_US);
	else
		snprintf(out, size, "%d", spec->pids_limit);
}

static int set_limits(const struct sandbox_cg *cg, const char *name,
		      const struct runtime_spec *spec, struct err *e)
{
	char path[CG_PATH], value[64];
	size_t i;

	for (i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		if (limits[i].version != cg->version)
			continue;
		cg_path(cg, mount_of(cg, limits[i].ctrl), cg->worker, name,
			limits[i].file, path, sizeof(path));
		limit_value(limits[i].value, spec, value, sizeof(value));
		if (write_file(path, value) < 0 &&
		    !(limits[i].optional && errno == ENOENT))
			return err_set(e, ERR_UNAVAILABLE,
				       "sandbox: cannot set '%s' to %s: %s", path,
				       value, strerror(errno));
	}
	return 0;
}

int sandbox_cg_create(const struct sandbox_cg *cg, const char *name,
		      const struct runtime_spec *spec, int fds[SANDBOX_CG_MAX],
		      struct err *e)
{
	char path[CG_PATH];
	int i;

	for (i = 0; i < SANDBOX_CG_MAX; i++)
		fds[i] = -1;
	for (i = 0; i < cg->n; i++) {
		cg_path(cg, i, cg->worker, name, NULL, path, sizeof(path));
		if (make_dir(path, e) < 0)
			goto fail;
	}
	if (set_limits(cg, name, spec, e) < 0)
		goto fail;
	for (i = 0; i < cg->n; i++) {
		cg_path(cg, i, cg->worker, name, "cgroup.procs", path, sizeof(path));
		fds[i] = open(path, O_WRONLY | O_CLOEXEC);
		if (fds[i] < 0) {
			err_set(e, ERR_UNAVAILABLE, "sandbox: cannot open '%s': %s",
				path, strerror(errno));
			goto fail;
		}
	}
	return 0;
fail:
	for (i = 0; i < SANDBOX_CG_MAX; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	sandbox_cg_remove(cg, name, NULL);
	return -1;
}

long sandbox_cg_oom_kills(const struct sandbox_cg *cg, const char *name)
{
	char path[CG_PATH], text[1024];
	const char *p;

	cg_path(cg, mount_of(cg, "memory"), cg->worker, name,
		cg->version == 2 ? "memory.events" : "memory.oom_control",
		path, sizeof(path));
	if (read_file(path, text, sizeof(text)) < 0)
		return 0;
	p = strstr(text, "oom_kill ");
	return p ? strtol(p + 9, NULL, 10) : 0;
}

/* Kill the members of a cgroup; 1 when there were any, 0 when empty. */
static int kill_members(const struct sandbox_cg *cg, const char *worker,
			const char *name)
{
	char path[CG_PATH], text[4096], *p, *end;
	long pid;
	int any = 0;

	cg_path(cg, mount_of(cg, "pids"), worker, name, "cgroup.procs", path,
		sizeof(path));
	if (read_file(path, text, sizeof(text)) < 0)
		return 0;
	for (p = text; *p; p = end) {
		pid = strtol(p, &end, 10);
		if (end == p)
			break;
		if (pid > 0 && kill((pid_t)pid, SIGKILL) == 0)
			any = 1;
	}
	if (any && cg->version == 2) {
		cg_path(cg, 0, worker, name, "cgroup.kill", path, sizeof(path));
		write_file(path, "1");
	}
	return any || text[0] != '\0';
}

static int remove_scan(const struct sandbox_cg *cg, const char *worker,
		       const char *name, struct err *e)
{
	const struct timespec ms = { 0, 1000000L };
	char path[CG_PATH];
	int i, tries = 0, left = 0;

	for (i = 0; i < cg->n; i++) {
		cg_path(cg, i, worker, name, NULL, path, sizeof(path));
		while (rmdir(path) < 0 && errno == EBUSY &&
		       tries++ < CG_EMPTY_TRIES) {
			kill_members(cg, worker, name);
			nanosleep(&ms, NULL);
		}
		if (access(path, F_OK) == 0)
			left = 1;
	}
	if (left)
		return err_set(e, ERR_INTERNAL,
			       "sandbox: cgroup '%s/%s' did not empty: not removed",
			       worker, name);
	return 0;
}

int sandbox_cg_remove(const struct sandbox_cg *cg, const char *name,
		      struct err *e)
{
	struct err ignored = ERR_INIT;

	return remove_scan(cg, cg->worker, name, e ? e : &ignored);
}

/* Is the worker dir d (w<pid>-<id>) a leftover to sweep? */
static int leftover(const struct sandbox_cg *cg, const char *d)
{
	const char *ours = strchr(cg->worker, '-') + 1;
	char *end;
	long pid;

	if (d[0] != 'w' || !strcmp(d, cg->worker))
		return 0;
	pid = strtol(d + 1, &end, 10);
	if (end == d + 1 || *end != '-' || pid <= 0)
		return 0;
	if (!strcmp(end + 1, ours))
		return 1;
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* Remove the scans of worker dir w, then w itself, in every mount. */
static int sweep_worker(const struct sandbox_cg *cg, const char *w,
			int *removed, struct err *e)
{
	char path[CG_PATH];
	struct dirent *d;
	DIR *dir;
	int i, rc = 0;

	cg_path(cg, 0, w, NULL, NULL, path, sizeof(path));
	dir = opendir(path);
	while (dir && (d = readdir(dir)) != NULL && !rc) {
		if (d->d_type != DT_DIR || d->d_name[0] != 's')
			continue;
		rc = remove_scan(cg, w, d->d_name, e);
		if (!rc)
			(*removed)++;
	}
	if (dir)
		closedir(dir);
	for (i = 0; i < cg->n && !rc; i++) {
		cg_path(cg, i, w, NULL, NULL, path, sizeof(path));
		if (rmdir(path) < 0 && errno != ENOENT)
			rc = err_set(e, ERR_INTERNAL, "sandbox: cannot remove cgroup '%s': %s",
				     path, strerror(errno));
	}
	if (!rc)
		log_info("sandbox: removed leftover cgroup '%s'", w);
	return rc;
}

int sandbox_cg_sweep(const struct sandbox_cg *cg, int *removed,
		     struct err *e)
{
	char path[CG_PATH];
	struct dirent *d;
	DIR *dir;
	int rc = 0;

	cg_path(cg, 0, NULL, NULL, NULL, path, sizeof(path));
	dir = opendir(path);
	if (!dir)
		return err_set(e, ERR_UNAVAILABLE, "sandbox: cannot list '%s': %s",
			       path, strerror(errno));
	while ((d = readdir(dir)) != NULL && !rc)
		if (d->d_type == DT_DIR && leftover(cg, d->d_name))
			rc = sweep_worker(cg, d->d_name, removed, e);
	closedir(dir);
	return rc;
}
