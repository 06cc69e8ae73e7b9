/*
 * runtime_int.h - declarations shared only by the runtime's files:
 * runtime.c (the public API, dispatching to a backend), the Docker backend
 * (runtime_docker.c, runtime_http.c, runtime_json.c), the sandbox backend
 * (runtime_sandbox.c, sandbox_*.c), what both backends call during a run
 * (runtime_common.c) and their tests.
 */
#ifndef SAFEURL_RUNTIME_INT_H
#define SAFEURL_RUNTIME_INT_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "buf.h"
#include "err.h"
#include "strvec.h"

struct runtime;
struct runtime_opts;
struct runtime_result;
struct runtime_spec;
struct runtime_stream;
struct sandbox;

/*
 * What a backend implements; runtime.c does the rest (options, labels,
 * cancel flag, CPU check) the same for both. Each function keeps the
 * contract of the public function of the same name in runtime.h.
 */
struct runtime_ops {
	const char *name;
	int (*open)(struct runtime *rt, const struct runtime_opts *opts,
		    struct err *e);
	void (*release)(struct runtime *rt); /* backend state only */
	int (*ping)(struct runtime *rt, struct err *e);
	int (*check_image)(struct runtime *rt, const char *image,
			   struct err *e);
	int (*sweep)(struct runtime *rt, int *removed, struct err *e);
	int (*run)(struct runtime *rt, const struct runtime_spec *spec,
		   struct runtime_result *res, struct err *e);
	/* optional: the periodic sweep (runtime_sweep_dead) */
	int (*sweep_dead)(struct runtime *rt, int *removed, struct err *e);
};

extern const struct runtime_ops runtime_docker_ops;
extern const struct runtime_ops runtime_sandbox_ops;

/* API versions as major * 1000 + minor: 1.41 -> 1041. */
#define RT_API_WANT 1041 /* the newest we speak (Engine 20.10) */
#define RT_API_NEED 1030 /* wait?condition=next-exit */

#define RT_REPLY_MAX (4 << 20) /* cap on a JSON reply */

struct runtime {
	const struct runtime_ops *ops;
	char *worker_id;
	char *host;
	int pid;
	char *pidns;
	int ncpu;
	atomic_int cancel_all;
	/* Docker */
	char *socket_path;
	int api;              /* negotiated, 0 before /version */
	char api_str[16];     /* "1.41" */
	char prefix[24];      /* "/v1.41", "" before negotiation */
	int request_timeout_ms;
	pthread_mutex_t lock;    /* guards unremoved */
	struct strvec unremoved; /* ids whose removal failed, retried later */
	char *network_mode;   /* CONTAINER_NETWORK_MODE at open, or NULL */
	struct rt_egress *egress; /* bridge mode's network (runtime_egress.c) */
	/* sandbox */
	struct sandbox *sb;
};

/* ---- runtime_common.c: called by both backends during a run ---- */

/* The job id of spec, "" when it has none: borrowed. */
const char *rt_job_of(const struct runtime_spec *spec);
/* Is the run already cancelled (rt's flag or spec's)? */
int rt_cancel_set(const struct runtime *rt, const struct runtime_spec *spec);
/* Mark res cancelled; -1 with ERR_UNAVAILABLE. */
int rt_cancelled(const struct runtime_spec *spec, struct runtime_result *res,
		 struct err *e);
/* The deadline passed: mark res timed out; -1 with ERR_TIMEOUT. */
int rt_timed_out(const struct runtime_spec *spec, struct runtime_result *res,
		 struct err *e);
/*
 * A run that ended with res->exit_code != 0 (128 + signal when killed) or
 * res->oom_killed: -1 with ERR_CRASH, a message naming the cause and the
 * last line of the stderr kept by stream (borrowed).
 */
int rt_crash_error(const struct runtime_spec *spec,
		   const struct runtime_result *res,
		   const struct runtime_stream *stream, struct err *e);
/* The container_start event: id and spawn time of res. */
void rt_log_start(const struct runtime_spec *spec,
		  const struct runtime_result *res);
/* The container_exit event: outcome of rc/e, exit code, ms since start. */
void rt_log_exit(const struct runtime_spec *spec,
		 const struct runtime_result *res, int rc, const struct err *e,
		 double ms);
/*
 * The frame of a run, the same for both backends: stream (the caller's,
 * uninitialised) set up with spec's caps, a cancel before anything refused,
 * body(arg, e) for the backend's work, the output moved into res and
 * res->total_ms measured from entry. Returns body's result.
 */
int rt_run_frame(const struct runtime *rt, const struct runtime_spec *spec,
		 struct runtime_result *res, struct runtime_stream *stream,
		 int (*body)(void *arg, struct err *e), void *arg,
		 struct err *e);

/* ---- runtime_egress.c: the Docker backend's egress network ---- */

/*
 * The network mode of a run of spec into out (size bytes): spec's own,
 * except bridge: "container:<holder id>", the worker's holder container
 * whose network namespace is equipped as the sandbox's egress network,
 * made (again) when it is not running. -1 ERR_UNAVAILABLE naming what
 * failed. Safe from any thread.
 */
int rt_egress_network(struct runtime *rt, const struct runtime_spec *spec,
		      char *out, size_t size, struct err *e);
/* Is id (a full container id) the live holder of rt? */
int rt_egress_holds(struct runtime *rt, const char *id);
/* Remove the holder, stop the helper, free the state (NULL is fine). */
void rt_egress_free(struct runtime *rt);

/* ---- runtime_http.c: one HTTP exchange with the engine ---- */

struct rt_req {
	CURL *h;
	struct curl_slist *hdrs;
	char *payload;                 /* copied request body */
	struct buf reply;              /* reply body, capped */
	struct runtime_stream *stream; /* borrowed: frames fed here instead */
	struct err werr;               /* why a callback stopped the transfer */
	long status;
	int headers_done;
	int done;
	CURLcode rc;
};

/* Outcomes of rt_drive besides -1. */
enum { RT_MET, RT_DEADLINE, RT_CANCELLED };

/*
 * Prepare r for `method path` (path without the version prefix; payload
 * copied, may be NULL). Does not send anything.
 */
void rt_req_init(struct rt_req *r, const struct runtime *rt,
		 const char *method, const char *path, const char *payload);
void rt_req_release(struct rt_req *r);

/*
 * Blocking request within the request timeout. Fills *status and reply
 * (borrowed, caller's buffer, appended). -1 with ERR_UNAVAILABLE when the
 * engine cannot be reached or the exchange breaks.
 */
int rt_call(const struct runtime *rt, const char *method, const char *path,
	    const char *payload, struct buf *reply, long *status,
	    struct err *e);

/*
 * Run the transfers of multi until met(arg) is true (RT_MET), the
 * monotonic deadline_ms passes (RT_DEADLINE; 0 = none) or a cancel flag
 * (either may be NULL) is set (RT_CANCELLED). -1 on a curl failure.
 */
int rt_drive(CURLM *multi, int (*met)(void *), void *arg, double deadline_ms,
	     const atomic_int *cancel1, const atomic_int *cancel2,
	     struct err *e);

/* Turn an engine failure reply into e: kind by status, engine's message. */
int rt_engine_error(long status, const struct buf *reply, const char *what,
		    struct err *e);
/* Curl failure of r (transport) into e as ERR_UNAVAILABLE. */
int rt_transport_error(const struct runtime *rt, const struct rt_req *r,
		       const char *what, struct err *e);

#ifdef SAFEURL_TEST
/*
 * Fault injection: the nth engine request from now (1 = the next) goes to
 * a socket that does not exist, as if the engine were gone for it alone.
 */
void runtime_test_fail_request(int n);
#endif

/* Monotonic clock in milliseconds. */
double rt_now_ms(void);

/* ---- runtime_json.c: pure parsers and builders of engine JSON ---- */

/* One container of a GET /containers/json reply; strings owned. */
struct rt_listed {
	char *id;
	char *worker; /* label values, NULL when absent */
	char *host;
	long pid;     /* 0 when absent or not a number */
	char *pidns;  /* NULL when absent */
	char *state;  /* "created", "running", "exited"...; NULL when absent */
	long long created; /* epoch seconds, 0 when absent */
};

/* Parse "1.41" into 1041; -1 when malformed. */
int runtime_json_api_number(const char *s);
/*
 * The API version to speak: min(server's, RT_API_WANT), or -1 when that is
 * below RT_API_NEED or below the server's oldest (server_min, 0 = none).
 */
int runtime_api_choose(int server_max, int server_min);
/* GET /version: ApiVersion and MinAPIVersion (0 when absent). */
int runtime_json_version(const char *text, size_t len, int *api_max,
			 int *api_min, struct err *e);
/* GET /info: NCPU. */
int runtime_json_info(const char *text, size_t len, int *ncpu,
		      struct err *e);
/* POST /containers/create: Id copied into id (size bytes). */
int runtime_json_created(const char *text, size_t len, char *id, size_t size,
			 struct err *e);
/* POST /containers/{id}/wait: StatusCode; an Error.Message fails. */
int runtime_json_wait(const char *text, size_t len, int *status_code,
		      struct err *e);
/* GET /containers/{id}/json: State.OOMKilled and State.ExitCode. */
int runtime_json_inspect(const char *text, size_t len, int *oom_killed,
			 int *exit_code, struct err *e);
/* GET /containers/{id}/json: State.Running, State.Pid, State.ExitCode. */
int runtime_json_state(const char *text, size_t len, int *running, long *pid,
		       int *exit_code, struct err *e);
/*
 * GET /events (one JSON object per line): does an event with this Action
 * appear? Lines that are not JSON are skipped.
 */
int runtime_json_has_event(const char *text, size_t len, const char *action);
/*
 * GET /containers/json: *list is new (caller frees with
 * runtime_json_listed_free), *n entries.
 */
int runtime_json_containers(const char *text, size_t len,
			    struct rt_listed **list, size_t *n,
			    struct err *e);
void runtime_json_listed_free(struct rt_listed *list, size_t n);
/* An engine error reply's "message" into out (size bytes), or "". */
void runtime_json_message(const char *text, size_t len, char *out,
			  size_t size);
/*
 * POST /containers/create body for spec (borrowed) with rt's labels,
 * appended to out.
 */
int runtime_json_create_body(const struct runtime *rt,
			     const struct runtime_spec *spec, struct buf *out,
			     struct err *e);

#endif
