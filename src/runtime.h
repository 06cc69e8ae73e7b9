/*
 * runtime - one locked-down container per scan, run by one of two
 * backends chosen by CONTAINER_RUNTIME behind the same contract:
 * `docker`, through the Docker Engine API on a unix socket (libcurl; never
 * the docker CLI; runtime_docker.c), or `sandbox`, namespaces, cgroups and
 * seccomp set up by the worker itself around a read-only copy of the
 * fetcher image's files (runtime_sandbox.c). Callers (scan.c, tests,
 * metrics) cannot tell which ran a scan: same spec, result, error kinds
 * and log events.
 *
 * For Docker, runtime_open() pings the engine, negotiates the API version and reads
 * its CPU count. runtime_run() is one blocking call per scan: create the
 * container with the SPEC section 6 settings, attach to its output, start
 * it, wait for it under the deadline, kill it when the deadline passes or
 * the run is cancelled, read OOM status, and remove it after every
 * outcome; a container the engine could not remove then (it was away) is
 * kept in a list that runtime_remove_unremoved() works through once the
 * engine is back. runtime_sweep() removes containers left by dead workers.
 *
 * Every call is a fresh HTTP request on its own curl handle, so calls are
 * safe from many threads at once and an engine restart only yields
 * ERR_UNAVAILABLE until the engine is back. This module does not parse the
 * fetcher's output, touch the queue or the database, or retry.
 *
 * Error kinds: engine unreachable, 5xx, missing image or network, or a run
 * cancelled -> ERR_UNAVAILABLE (retry later); deadline -> ERR_TIMEOUT;
 * non-zero exit, signal or OOM kill -> ERR_CRASH (exit code and stderr
 * tail in the message); stdout over the cap -> ERR_INVALID.
 *
 * Labels on every container: safeurl.job, safeurl.worker, safeurl.host,
 * safeurl.pid, safeurl.pidns (see RUNTIME_LABEL_*). The pid namespace
 * says where the pid means something: a worker in a container (its own
 * pid namespace, often pid 1) sharing the host's name and engine must
 * not judge a host worker's pid, nor the other way round. Each run logs two events with the job
 * id: container_start (spawn time) and container_exit (outcome, exit code,
 * duration).
 */
#ifndef SAFEURL_RUNTIME_H
#define SAFEURL_RUNTIME_H

#include <stdatomic.h>
#include <stddef.h>

#include "buf.h"

struct config;
struct err;
struct runtime;

#define RUNTIME_LABEL_JOB "safeurl.job"
#define RUNTIME_LABEL_WORKER "safeurl.worker"
#define RUNTIME_LABEL_HOST "safeurl.host"
#define RUNTIME_LABEL_PID "safeurl.pid"
#define RUNTIME_LABEL_PIDNS "safeurl.pidns" /* "pid:[<inode>]" */
#define RUNTIME_LABEL_ROLE "safeurl.role"   /* set on non-scan containers */
#define RUNTIME_ROLE_EGRESS "egress-holder" /* bridge mode's network holder */

#define RUNTIME_USER "65534:65534"   /* nobody: never root in a container */
#define RUNTIME_PIDS_LIMIT 64
#define RUNTIME_TMPFS_MB 16
#define RUNTIME_STDERR_TAIL 4096

enum runtime_kind { RUNTIME_DOCKER, RUNTIME_SANDBOX };

struct runtime_opts {
	enum runtime_kind kind;  /* CONTAINER_RUNTIME */
	const char *socket_path; /* DOCKER_SOCKET_PATH; borrowed, copied */
	const char *rootfs;      /* sandbox: FETCHER_ROOTFS; copied */
	const char *entrypoint;  /* sandbox: FETCHER_ENTRYPOINT; copied */
	const char *network_mode; /* copied; sandbox: refused at open when
				     unusable; Docker bridge: see
				     runtime_check_image() */
	const char *worker_id;   /* label safeurl.worker; required, copied */
	const char *host;        /* label safeurl.host; NULL = gethostname() */
	int pid;                 /* label safeurl.pid; 0 = getpid() */
	const char *pidns;       /* label safeurl.pidns; NULL = the link
				    /proc/self/ns/pid; copied */
	int request_timeout_ms;  /* per engine request; 0 = 30000 */
};

/*
 * Fill opts from cfg (borrowed: its strings must outlive opts): runtime
 * kind, socket, rootfs, entrypoint, network mode, worker id, and
 * ENGINE_TIMEOUT_MS as the per-request timeout.
 */
void runtime_opts_init(struct runtime_opts *opts, const struct config *cfg);

/*
 * Docker: connect to the engine: ping, GET /version (use min(its ApiVersion, ours),
 * refuse one older than we need), GET /info (CPU count). Sandbox: check
 * the kernel features, the rootfs and the network mode, build the seccomp
 * filter and the worker's parent cgroup. On success *out is new, caller
 * frees with runtime_free(). ERR_UNAVAILABLE when the engine does not
 * answer or is too old (or the sandbox cannot be set up), ERR_INVALID for
 * a setting the backend refuses.
 */
int runtime_open(struct runtime **out, const struct runtime_opts *opts,
		 struct err *e);
/* Free rt (NULL is fine). No run may still be using it. */
void runtime_free(struct runtime *rt);

/* Negotiated API version, e.g. "1.41" ("sandbox" for the sandbox):
 * borrowed, valid until free. */
const char *runtime_api_version(const struct runtime *rt);
/* The engine's (sandbox: this machine's) CPU count, read at open. */
int runtime_ncpu(const struct runtime *rt);
/*
 * SPEC section 2: CONTAINER_CPU_LIMIT may not pass the engine's CPU count.
 * -1 with ERR_INVALID and a one-line config message when it does.
 */
int runtime_check_cpu(const struct runtime *rt, double cpus, struct err *e);
/* Does the engine answer GET /_ping now (sandbox: is the rootfs there)?
 * 0 or -1 ERR_UNAVAILABLE. */
int runtime_ping(struct runtime *rt, struct err *e);
/*
 * Does image (borrowed) exist on the engine (sandbox: is the entrypoint an
 * executable in the rootfs; image is not used)? -1 with ERR_UNAVAILABLE and
 * one line saying how to build it when it does not. Docker in network
 * mode bridge: also bring the worker's egress network up (its holder
 * container runs image), -1 ERR_UNAVAILABLE naming what it lacks.
 */
int runtime_check_image(struct runtime *rt, const char *image,
			struct err *e);
/*
 * Remove (force) containers labelled with our worker id, and those
 * labelled with our host name and a pid that no longer runs in our pid
 * namespace (same safeurl.pidns label, or none: containers made before
 * that label); never those of a live worker, nor judge a pid of another
 * pid namespace. Sandbox: the same for the per-scan cgroups of dead
 * workers (their processes killed first). *removed (may be NULL) counts
 * them.
 */
int runtime_sweep(struct runtime *rt, int *removed, struct err *e);
/*
 * The periodic form, safe while our own scans run: containers of this
 * host's dead workers, and our own that the engine created but never
 * started longer ago than a run waits for a start (a create it carried
 * out after the run gave up). Docker only; the sandbox's sweep runs at
 * start. *removed (may be NULL) counts them.
 */
int runtime_sweep_dead(struct runtime *rt, int *removed, struct err *e);
/*
 * Try again to remove the containers whose removal failed after their run
 * (the engine was away): those removed are forgotten, the others kept for
 * the next call. *removed (may be NULL) counts the removed; -1 with the
 * last failure in e when any is left. Safe from any thread.
 */
int runtime_remove_unremoved(struct runtime *rt, int *removed, struct err *e);
/*
 * Cancel every run in flight and refuse new ones (graceful shutdown past
 * its grace): each kills and removes its container within about 50 ms and
 * returns ERR_UNAVAILABLE with res->cancelled set. Safe from any thread.
 */
void runtime_cancel_all(struct runtime *rt);

/* What to run; every pointer is borrowed for the duration of the run. */
struct runtime_spec {
	const char *image;
	const char *const *cmd;  /* NULL-terminated: fetcher args + URL */
	const char *const *env;  /* NULL-terminated "K=V", or NULL */
	const char *job_id;      /* label safeurl.job */
	const char *network_mode;
	const char *user;
	int timeout_ms;          /* from start to exit */
	int engine_timeout_ms;   /* create sent -> start acknowledged; missing
				    it is ERR_UNAVAILABLE; 0 = the request
				    timeout per step */
	int memory_mb;           /* memory limit; swap is off */
	double cpus;             /* NanoCpus = cpus * 1e9 */
	int pids_limit;
	int tmpfs_mb;            /* size of the noexec /tmp */
	size_t max_stdout;       /* more is ERR_INVALID; must be > 0 */
	size_t stderr_tail;      /* keep the last bytes of stderr */
	const atomic_int *cancel; /* optional: non-zero cancels this run */
	const char *role;        /* optional: label safeurl.role (not a scan) */
	const char *const *dns;  /* optional: NULL-terminated resolvers */
};

/*
 * Fill spec with the settings of cfg (borrowed: its strings must outlive
 * the spec; the image is FETCHER_IMAGE) and the module's fixed limits
 * (RUNTIME_USER, RUNTIME_PIDS_LIMIT, RUNTIME_TMPFS_MB, RUNTIME_STDERR_TAIL).
 * cmd and job_id are left for the caller.
 */
void runtime_spec_init(struct runtime_spec *spec, const struct config *cfg);

struct runtime_result {
	char container_id[72]; /* empty when create failed */
	int exit_code;        /* -1 when unknown (killed, engine failure) */
	int timed_out;
	int oom_killed;
	int cancelled;
	int output_too_large;
	struct buf out;       /* stdout, at most spec->max_stdout bytes */
	struct buf err_tail;  /* last spec->stderr_tail bytes of stderr */
	double spawn_ms;      /* create sent -> start acknowledged */
	double total_ms;      /* create sent -> container removed */
};

/* Empty result. Does not allocate. */
void runtime_result_init(struct runtime_result *res);
/* Free the buffers; res can be reused after runtime_result_init(). */
void runtime_result_release(struct runtime_result *res);

/*
 * Run one container to completion and remove it, whatever happens. res
 * (initialised by the caller, owned by the caller) is filled as far as the
 * run got, also on failure. Returns 0 when the container exited 0 with
 * stdout within the cap, else -1 with the kind described above.
 */
int runtime_run(struct runtime *rt, const struct runtime_spec *spec,
		struct runtime_result *res, struct err *e);

#endif
