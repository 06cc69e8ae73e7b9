# lib_runtime.sh - shared by the t3NN runtime scripts (source after lib.sh).
#
# Needs the real engine and builds the testbox image (offline, FROM
# scratch). Every container a script makes carries WORKER_ID, unique per
# script run, so `ours_left` can prove nothing of ours is left and the exit
# trap can clean up after a failed assertion.
require_docker
# The image under a name of its own, tagged after its source, as well as
# safeurl-testbox:latest, so that trees with another testbox.c testing on
# the same engine at the same time cannot swap the image under a running
# test, nor delete it with their previous :latest (removing an image by id
# untags it only when no other repository names it).
TESTBOX_IMAGE=safeurl-testbox-src:$(cat "$S/tests/fixtures/testbox/testbox.c" "$S/tests/fixtures/testbox/build.sh" | sha256sum | cut -c1-12)
export TESTBOX_IMAGE
# ensure_testbox: (re)build it if it is not there (cheap when it is).
ensure_testbox() {
  "$S/tests/fixtures/testbox/build.sh" "$TESTBOX_IMAGE" >/dev/null || die "cannot build the testbox image"
}
"$S/tests/fixtures/testbox/build.sh" >/dev/null || die "cannot build the testbox image"
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
