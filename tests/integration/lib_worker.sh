# lib_worker.sh - end-to-end helpers for the t4NN worker scripts (source
# after lib.sh). Real Redis, real dockerd, the real fetcher image, the
# fixture site on loopback, containers in host network mode.
. "$(dirname "${BASH_SOURCE[0]}")/lib_runtime.sh"

start_redis
DB=$T/scan.db
export TURSO_CONNECTION_URL=file:$DB
export LOG_FORMAT=json LOG_LEVEL=debug CONTAINER_NETWORK_MODE=host CONTAINER_ALLOW_HOST_NETWORK=1
export FETCHER_IMAGE=${SAFEURL_FETCHER_IMAGE:-safeurl-fetcher:latest}
BULL="node $S/tests/interop/bull.js"
CLI=$B/safeurl
declare -A WPID

# ensure_fetcher_image: build the image (sandbox: the root) from this
# tree (offline).
ensure_fetcher_image() {
  if [ "$RUNTIME" = sandbox ]; then
    export FETCHER_ROOTFS=$T/fetcher-root FETCHER_ENTRYPOINT=/usr/bin/safeurl-fetcher
    "$S/scripts/build-image.sh" --rootfs "$FETCHER_ROOTFS" >"$T/image.log" 2>&1 ||
      { cat "$T/image.log" >&2; die "cannot build the fetcher root"; }
    return 0
  fi
  [ -n "${SAFEURL_FETCHER_IMAGE:-}" ] && return 0
  "$S/scripts/build-image.sh" >"$T/image.log" 2>&1 ||
    { cat "$T/image.log" >&2; die "cannot build the fetcher image"; }
}

# start_fixture: the fixture site on loopback; sets HP (http) and HSP. Its
# requests (Host, path, User-Agent) go to $T/requests.log.
start_fixture() {
  python3 "$S/tests/fixtures/fetcher_fixture.py" --port-file "$T/ports" \
    --request-log "$T/requests.log" &
  at_exit "kill $!"
  wait_for "fixture site" 60 test -s "$T/ports" || die "fixture site did not start"
  read -r HP HSP <"$T/ports"
  SITE="http://shop.test:$HP"
  export FETCHER_ARGS="--resolve shop.test:$HP:127.0.0.1 --allow-loopback --ports $HP"
}

# start_worker NAME [VAR=VALUE...]: a worker in the background, its log
# in $T/NAME.log, its pid in WPID[NAME]; killed at exit if still running.
start_worker() {
  local name=$1; shift
  env WORKER_ID="$WORKER_ID-$name" "$@" "$B/safeurl-worker" >"$T/$name.log" 2>&1 &
  WPID[$name]=$!
  at_exit "kill -9 ${WPID[$name]}"
  wait_for "worker $name to consume" 20 grep -q '"event":"start","msg":"consuming' "$T/$name.log" ||
    { cat "$T/$name.log" >&2; die "worker $name did not start"; }
}

# stop_worker NAME [SIGNAL]: signal (TERM) and wait; exit status in WRC.
stop_worker() {
  WRC=0
  kill -"${2:-TERM}" "${WPID[$1]}"
  wait "${WPID[$1]}" || WRC=$?
}

# run_box NAME ARGS URL-SUFFIX [VAR=VALUE...]: one scan by a worker whose
# fetcher is the testbox image behaving per ARGS; prints the scan id.
run_box() {
  local name=$1 args=$2 suffix=$3; shift 3
  ensure_testbox
  start_worker "$name" $TESTBOX_ENV FETCHER_ARGS="$args" \
    FETCHER_MAX_OUTPUT_BYTES=65536 "$@"
  local id; id=$($CLI submit "$SITE/$suffix")
  wait_terminal 60 "$id" || die "$name did not end"
  stop_worker "$name"
  echo "$id"
}

sql() { sqlite3 -cmd ".timeout 5000" "$DB" "$@"; }

state_of() { sql "SELECT state FROM scan_jobs WHERE id='$1'"; }

terminal() {
  case $(state_of "$1") in COMPLETED|FAILED|TIMED_OUT) return 0 ;; esac
  return 1
}

# wait_terminal SECS ID...: every scan reaches a terminal state.
wait_terminal() {
  local secs=$1 id; shift
  for id in "$@"; do
    wait_for "scan $id to end" "$secs" terminal "$id" || return 1
  done
}

# bull_field ID EXPR: a field of Job.fromId as JSON, via python EXPR on j.
bull_field() {
  $BULL job "$1" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(json.dumps(eval(sys.argv[1])))' "$2"
}

# audit_trail ID: "from>to@version" per audit row, oldest first.
audit_trail() {
  sql "SELECT ifnull(from_state,'NULL')||'>'||to_state||'@'||version FROM audit_logs WHERE job_id='$1' ORDER BY id" | paste -sd' '
}

# logs_clean NAME...: no sanitizer report in those worker logs.
logs_clean() {
  local n
  for n in "$@"; do
    if grep -qE "Sanitizer|runtime error:" "$T/$n.log"; then
      cat "$T/$n.log" >&2; return 1
    fi
  done
}

# ours_left_prefix: containers (any state) of any worker of this script.
ours_left_prefix() {
  [ "$RUNTIME" = sandbox ] && { sandbox_cgroups "$WORKER_ID" | wc -l; return; }
  api GET '/containers/json?all=1&filters=%7B%22label%22%3A%5B%22safeurl.worker%22%5D%7D' |
    python3 -c 'import json,sys; p=sys.argv[1]; print(sum(1 for c in json.load(sys.stdin) if c["Labels"].get("safeurl.worker","").startswith(p)))' "$WORKER_ID"
}

remove_ours_prefix() {
  local id
  [ "$RUNTIME" = sandbox ] && { remove_sandbox "$WORKER_ID"; return; }
  for id in $(api GET '/containers/json?all=1&filters=%7B%22label%22%3A%5B%22safeurl.worker%22%5D%7D' |
      python3 -c 'import json,sys; p=sys.argv[1]; [print(c["Id"]) for c in json.load(sys.stdin) if c["Labels"].get("safeurl.worker","").startswith(p)]' "$WORKER_ID"); do
    api DELETE "/containers/$id?force=1" >/dev/null
  done
}
at_exit remove_ours_prefix
