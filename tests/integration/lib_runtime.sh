# lib_runtime.sh - shared by the t3NN runtime scripts (source after lib.sh).
#
# CONTAINER_RUNTIME picks the backend under test (docker by default;
# ctest runs some scripts a second time with sandbox). Docker: needs the
# real engine and builds the testbox image (offline, FROM scratch).
# Sandbox: needs root and builds the testbox as a sandbox root in $T.
# Every container a script makes carries WORKER_ID, unique per script
# run, so `ours_left` can prove nothing of ours is left and the exit trap
# can clean up after a failed assertion.
RUNTIME=${CONTAINER_RUNTIME:-docker}
export CONTAINER_RUNTIME=$RUNTIME
# The Docker testbox image under a name of its own, tagged after its
# source, as well as safeurl-testbox:latest, so that trees with another
# testbox.c testing on the same engine at the same time cannot swap the
# image under a running test, nor delete it with their previous :latest.
TESTBOX_IMAGE=safeurl-testbox-src:$(cat "$S/tests/fixtures/testbox/testbox.c" "$S/tests/fixtures/testbox/build.sh" | sha256sum | cut -c1-12)
export TESTBOX_IMAGE
if [ "$RUNTIME" = sandbox ]; then
  [ "$(id -u)" = 0 ] || die "the sandbox runtime tests need root"
  TESTBOX_ROOT=$T/testbox-root
  "$S/tests/fixtures/testbox/build.sh" --rootfs "$TESTBOX_ROOT" || die "cannot build the testbox root"
  export FETCHER_ROOTFS=$TESTBOX_ROOT FETCHER_ENTRYPOINT=/testbox
  # The testbox for one worker: FETCHER_IMAGE for Docker, the root here.
  TESTBOX_ENV="FETCHER_ROOTFS=$TESTBOX_ROOT FETCHER_ENTRYPOINT=/testbox"
else
  require_docker
  "$S/tests/fixtures/testbox/build.sh" >/dev/null || die "cannot build the testbox image"
  TESTBOX_ENV="FETCHER_IMAGE=$TESTBOX_IMAGE"
fi
# ensure_testbox: (re)build what TESTBOX_ENV names if it is gone (cheap
# when it is there).
ensure_testbox() {
  [ "$RUNTIME" = sandbox ] && return 0
  "$S/tests/fixtures/testbox/build.sh" "$TESTBOX_IMAGE" >/dev/null || die "cannot build the testbox image"
}
ensure_testbox

SOCK=${DOCKER_SOCKET_PATH:-/var/run/docker.sock}
DRV=$B/tests/runtime_driver
[ -x "$DRV" ] || die "runtime_driver is not built ($DRV)"
export FETCHER_IMAGE=$TESTBOX_IMAGE CONTAINER_NETWORK_MODE=none
# Unique even across pid namespaces sharing the engine.
export WORKER_ID="t3-$(basename "$0" .sh)-$$-$RANDOM$RANDOM"

# api METHOD PATH: one request to the engine, reply on stdout.
api() { curl -sS --unix-socket "$SOCK" -X "$1" "http://docker/v1.41$2"; }

# containers_with LABEL=VALUE...: ids of containers (any state) with all.
containers_with() {
  local f
  f=$(python3 -c 'import json,sys,urllib.parse; print(urllib.parse.quote(json.dumps({"label":sys.argv[1:]})))' "$@")
  api GET "/containers/json?all=1&filters=$f" |
    python3 -c 'import json,sys; [print(c["Id"]) for c in json.load(sys.stdin)]'
}

# Sandbox: the cgroup trees (v2: one; v1: one per controller) and the
# cgroups, worker parents and scans, of workers whose id starts with $1.
SB_TREES=$(ls -d /sys/fs/cgroup/safeurl /sys/fs/cgroup/{memory,cpu,pids}/safeurl 2>/dev/null || true)
sandbox_cgroups() {
  local t
  for t in $SB_TREES; do
    find "$t" -mindepth 1 -maxdepth 2 -type d -path "$t/w*-$1*" 2>/dev/null
  done
}
# Processes in those cgroups (none may outlive a run).
sandbox_procs() { sandbox_cgroups "$1" | sed 's|$|/cgroup.procs|' | xargs -r cat 2>/dev/null | sort -u; }
remove_sandbox() {
  local d p
  for p in $(sandbox_procs "$1"); do kill -9 "$p" 2>/dev/null || true; done
  sleep 0.1
  for d in $(sandbox_cgroups "$1" | sort -r); do rmdir "$d" 2>/dev/null || true; done
}

if [ "$RUNTIME" = sandbox ]; then
  ours_left() { sandbox_cgroups "$WORKER_ID" | wc -l; }
  # ours_with JOB: the sandbox has no labels: every scan cgroup of ours.
  ours_with() { sandbox_cgroups "$WORKER_ID" | grep '/s[0-9]*$' || true; }
  remove_ours() { remove_sandbox "$WORKER_ID"; }
else
  ours_left() { containers_with "safeurl.worker=$WORKER_ID" | wc -l; }
  # ours_with JOB: ids of our containers labelled with job id JOB (other
  # runs of the same script may share the engine, never our WORKER_ID).
  ours_with() { containers_with "safeurl.worker=$WORKER_ID" "safeurl.job=$1"; }
  remove_ours() {
    local id
    for id in $(containers_with "safeurl.worker=$WORKER_ID"); do
      api DELETE "/containers/$id?force=1" >/dev/null
    done
  }
fi
at_exit remove_ours

# The host label of our containers: unique, so that the sweep of another
# worker or test on this machine never takes a leftover this script is
# about to look at (their pids are dead once the driver exits).
TEST_HOST="host-$WORKER_ID"

# drv ARGS...: run the driver, print its JSON whatever its exit status.
# Its stderr is kept; sanitizer reports fail the script at sanitizer_clean.
drv() {
  "$DRV" --host "$TEST_HOST" "$@" 2>>"$T/driver.err" || true
}
sanitizer_clean() {
  ! grep -qE "Sanitizer|runtime error:" "$T/driver.err" 2>/dev/null ||
    { cat "$T/driver.err" >&2; return 1; }
}

# jget JSON KEY: a top-level field of a JSON object (booleans as true/false).
jget() {
  python3 -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print(json.dumps(v) if isinstance(v,(bool,dict,list)) or v is None else v)' "$1" "$2"
}

# jlen JSON KEY: length of a string field.
jlen() { python3 -c 'import json,sys; print(len(json.loads(sys.argv[1])[sys.argv[2]]))' "$1" "$2"; }

# expect_probe JSON: the lockdown as the testbox's probe mode saw it
# (network mode none), the same for both runtimes.
expect_probe() {
  local probe=$1
  expect_eq "runs as nobody" 65534 "$(jget "$probe" uid)"
  expect_eq "no capabilities" 0000000000000000 "$(jget "$probe" cap_eff)"
  expect_eq "no_new_privs set" 1 "$(jget "$probe" no_new_privs)"
  expect_eq "root filesystem is read-only" EROFS "$(jget "$probe" root_write)"
  expect_eq "/tmp is writable" ok "$(jget "$probe" tmp_write)"
  expect_eq "/tmp is noexec" EACCES "$(jget "$probe" tmp_exec)"
  expect_eq "network mode none: loopback only" '["lo"]' "$(jget "$probe" links)"
}
