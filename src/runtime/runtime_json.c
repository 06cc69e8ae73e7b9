/*
 * runtime_json.c - the engine's JSON replies in, our values out, and the
 * container create body out. Pure: no sockets, no clock (jansson only), so
 * the tests feed it replies captured from a real engine.
 */
#include "fmacros.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "runtime.h"
#include "runtime_int.h"
#include "sandbox.h"
#include "xalloc.h"
#include "banned.h"

static json_t *parse_object(const char *text, size_t len, const char *what,
			    struct err *e)
{
	json_error_t je;
	json_t *doc = json_loadb(text, len, 0, &je);

	if (!doc) {
		err_set(e, ERR_UNAVAILABLE, "runtime: %s reply is not JSON: %s",
			what, je.text);
		return NULL;
	}
	if (!json_is_object(doc)) {
		json_decref(doc);
		err_set(e, ERR_UNAVAILABLE, "runtime: %s reply is not an object",
			what);
		return NULL;
	}
	return doc;
}

static int missing(json_t *doc, const char *what, const char *field,
		   struct err *e)
{
	json_decref(doc);
	return err_set(e, ERR_UNAVAILABLE, "runtime: %s reply lacks '%s'",
		       what, field);
}

int runtime_json_api_number(const char *s)
{
	char *end;
	long major, minor;

	if (!s || *s < '0' || *s > '9')
		return -1;
	major = strtol(s, &end, 10);
	if (*end != '.' || end[1] < '0' || end[1] > '9')
		return -1;
	minor = strtol(end + 1, &end, 10);
	if (*end || major > 99 || minor > 999)
		return -1;
	return (int)(major * 1000 + minor);
}

int runtime_api_choose(int server_max, int server_min)
{
	int api = server_max < RT_API_WANT ? server_max : RT_API_WANT;

	if (api < RT_API_NEED || api < server_min)
		return -1;
	return api;
}

int runtime_json_version(const char *text, size_t len, int *api_max,
			 int *api_min, struct err *e)
{
	json_t *doc = parse_object(text, len, "version", e);
	const char *max, *min;

	if (!doc)
		return -1;
	max = json_string_value(json_object_get(doc, "ApiVersion"));
	min = json_string_value(json_object_get(doc, "MinAPIVersion"));
	*api_max = runtime_json_api_number(max);
	*api_min = min ? runtime_json_api_number(min) : 0;
	if (*api_max < 0 || *api_min < 0)
		return missing(doc, "version", "ApiVersion", e);
	json_decref(doc);
	return 0;
}

int runtime_json_info(const char *text, size_t len, int *ncpu, struct err *e)
{
	json_t *doc = parse_object(text, len, "info", e);
	json_t *v;

	if (!doc)
		return -1;
	v = json_object_get(doc, "NCPU");
	if (!json_is_integer(v) || json_integer_value(v) < 1)
		return missing(doc, "info", "NCPU", e);
	*ncpu = (int)json_integer_value(v);
	json_decref(doc);
	return 0;
}

int runtime_json_created(const char *text, size_t len, char *id, size_t size,
			 struct err *e)
{
	json_t *doc = parse_object(text, len, "create", e);
	const char *v;

	if (!doc)
		return -1;
	v = json_string_value(json_object_get(doc, "Id"));
	if (!v || !*v || strlen(v) >= size || strspn(v, "0123456789abcdef") != strlen(v))
		return missing(doc, "create", "Id", e);
	snprintf(id, size, "%s", v);
	json_decref(doc);
	return 0;
}

int runtime_json_wait(const char *text, size_t len, int *status_code,
		      struct err *e)
{
	json_t *doc = parse_object(text, len, "wait", e);
	json_t *code;
	const char *msg;

	if (!doc)
		return -1;
	msg = json_string_value(json_object_get(json_object_get(doc, "Error"),
						"Message"));
	if (msg && *msg) {
		err_set(e, ERR_UNAVAILABLE, "runtime: wait failed: %s", msg);
		json_decref(doc);
		return -1;
	}
	code = json_object_get(doc, "StatusCode");
	if (!json_is_integer(code))
		return missing(doc, "wait", "StatusCode", e);
	*status_code = (int)json_integer_value(code);
	json_decref(doc);
	return 0;
}

int runtime_json_inspect(const char *text, size_t len, int *oom_killed,
			 int *exit_code, struct err *e)
{
	json_t *doc = parse_object(text, len, "inspect", e);
	json_t *state, *oom, *code;

	if (!doc)
		return -1;
	state = json_object_get(doc, "State");
	oom = json_object_get(state, "OOMKilled");
	code = json_object_get(state, "ExitCode");
	if (!json_is_boolean(oom) || !json_is_integer(code))
		return missing(doc, "inspect", "State.OOMKilled", e);
	*oom_killed = json_is_true(oom);
	*exit_code = (int)json_integer_value(code);
	json_decref(doc);
	return 0;
}

int runtime_json_state(const char *text, size_t len, int *running, long *pid,
		       int *exit_code, struct err *e)
{
	json_t *doc = parse_object(text, len, "inspect", e);
	json_t *state, *run, *p, *code;

	if (!doc)
		return -1;
	state = json_object_get(doc, "State");
	run = json_object_get(state, "Running");
	p = json_object_get(state, "Pid");
	code = json_object_get(state, "ExitCode");
	if (!json_is_boolean(run) || !json_is_integer(p) || !json_is_integer(code))
		return missing(doc, "inspect", "State.Running", e);
	*running = json_is_true(run);
	*pid = (long)json_integer_value(p);
	*exit_code = (int)json_integer_value(code);
	json_decref(doc);
	return 0;
}

/* The string member key of o, or "" when o or the member is not there. */
static const char *member(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : "";
}

int runtime_json_has_event(const char *text, size_t len, const char *action)
{
	const char *p = text, *end = text + len, *nl;
	json_t *ev;
	int found = 0;

	for (; p < end && !found; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		ev = json_loadb(p, (size_t)(nl - p), 0, NULL);
		found = !strcmp(member(ev, "Action"), action);
		json_decref(ev);
	}
	return found;
}

static char *label(json_t *labels, const char *name)
{
	const char *v = json_string_value(json_object_get(labels, name));

	return v ? xstrdup(v) : NULL;
}

static void listed_fill(struct rt_listed *l, json_t *c)
{
	json_t *labels = json_object_get(c, "Labels");
	const char *pid = json_string_value(json_object_get(labels,
							    RUNTIME_LABEL_PID));
	char *end;

	l->id = xstrdup(json_string_value(json_object_get(c, "Id")));
	l->worker = label(labels, RUNTIME_LABEL_WORKER);
	l->host = label(labels, RUNTIME_LABEL_HOST);
	l->pidns = label(labels, RUNTIME_LABEL_PIDNS);
	l->state = json_is_string(json_object_get(c, "State"))
			   ? xstrdup(json_string_value(json_object_get(c, "State")))
			   : NULL;
	l->created = json_integer_value(json_object_get(c, "Created"));
	l->pid = pid ? strtol(pid, &end, 10) : 0;
	if (!pid || !*pid || *end || l->pid < 0)
		l->pid = 0;
}

int runtime_json_containers(const char *text, size_t len,
			    struct rt_listed **list, size_t *n, struct err *e)
{
	json_error_t je;
	json_t *doc = json_loadb(text, len, 0, &je), *c;
	size_t i;

	*list = NULL;
	*n = 0;
	if (!json_is_array(doc)) {
		json_decref(doc);
		return err_set(e, ERR_UNAVAILABLE,
			       "runtime: container list reply is not an array");
	}
	*list = xcalloc(json_array_size(doc) + 1, sizeof(**list));
	json_array_foreach(doc, i, c) {
		if (!json_is_string(json_object_get(c, "Id")))
			continue;
		listed_fill(&(*list)[(*n)++], c);
	}
	json_decref(doc);
	return 0;
}

void runtime_json_listed_free(struct rt_listed *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(list[i].id);
		free(list[i].worker);
		free(list[i].host);
		free(list[i].pidns);
		free(list[i].state);
	}
	free(list);
}

void runtime_json_message(const char *text, size_t len, char *out,
			  size_t size)
{
	json_t *doc = json_loadb(text, len, 0, NULL);
	const char *msg = json_string_value(json_object_get(doc, "message"));

	snprintf(out, size, "%s", msg ? msg : "");
	json_decref(doc);
}

static json_t *string_array(const char *const *v)
{
	json_t *a = json_array();

	for (; v && *v; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

static json_t *labels(const struct runtime *rt, const struct runtime_spec *spec)
{
	char pid[24];

	json_t *l;

	snprintf(pid, sizeof(pid), "%d", rt->pid);
	l = json_pack("{s:s, s:s, s:s, s:s, s:s}",
		      RUNTIME_LABEL_JOB, spec->job_id ? spec->job_id : "",
		      RUNTIME_LABEL_WORKER, rt->worker_id,
		      RUNTIME_LABEL_HOST, rt->host, RUNTIME_LABEL_PID, pid,
		      RUNTIME_LABEL_PIDNS, rt->pidns);
	if (l && spec->role)
		json_object_set_new(l, RUNTIME_LABEL_ROLE, json_string(spec->role));
	return l;
}

/* seccomp: the sandbox's allow-list, as a profile (sandbox_seccomp.c). */
static json_t *host_config(const struct runtime_spec *spec, const char *seccomp)
{
	json_int_t mem = (json_int_t)spec->memory_mb << 20;
	char tmpfs[96];

	snprintf(tmpfs, sizeof(tmpfs), "rw,noexec,nosuid,nodev,size=%dm",
		 spec->tmpfs_mb);
	return json_pack(
		"{s:I, s:I, s:I, s:I, s:b, s:[s], s:[s, s], s:{s:s}, s:s,"
		" s:b, s:b, s:{s:s, s:{}}}",
		"Memory", mem, "MemorySwap", mem,
		"NanoCpus", (json_int_t)(spec->cpus * 1e9 + 0.5),
		"PidsLimit", (json_int_t)spec->pids_limit,
		"ReadonlyRootfs", 1, "CapDrop", "ALL",
		"SecurityOpt", "no-new-privileges", seccomp, "Tmpfs", "/tmp", tmpfs,
		"NetworkMode", spec->network_mode, "AutoRemove", 0,
		"Privileged", 0, "LogConfig", "Type", "none", "Config");
}

int runtime_json_create_body(const struct runtime *rt,
			     const struct runtime_spec *spec, struct buf *out,
			     struct err *e)
{
	struct buf seccomp = BUF_INIT;
	json_t *body;
	char *text;
	int rc;

	if (buf_addstr(&seccomp, "seccomp=", e) < 0 ||
	    sandbox_seccomp_profile(&seccomp, e) < 0) {
		buf_release(&seccomp);
		return -1;
	}
	body = json_pack("{s:s, s:o, s:s, s:o, s:b, s:b, s:b, s:b, s:o}",
			 "Image", spec->image, "Cmd", string_array(spec->cmd),
			 "User", spec->user, "Labels", labels(rt, spec),
			 "AttachStdout", 1, "AttachStderr", 1, "Tty", 0,
			 "OpenStdin", 0, "HostConfig", host_config(spec, seccomp.data));
	buf_release(&seccomp);
	if (!body)
		return err_set(e, ERR_INTERNAL,
			       "runtime: cannot build the create request");
	if (spec->env)
		json_object_set_new(body, "Env", string_array(spec->env));
	if (spec->dns)
		json_object_set_new(json_object_get(body, "HostConfig"), "Dns",
				    string_array(spec->dns));
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (!text)
		return err_set(e, ERR_INTERNAL,
			       "runtime: cannot encode the create request");
	rc = buf_addstr(out, text, e);
	free(text);
	return rc;
}
