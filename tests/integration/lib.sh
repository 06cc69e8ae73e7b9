# lib.sh - shared helpers for the integration scripts (source it).
#
# Each script runs in its own mktemp directory ($T), starts the real
# services it needs on free loopback ports and cleans up through a trap.
# A test that cannot start a component it needs fails; it never skips.
set -euo pipefail

: "${SAFEURL_BUILD_DIR:?run through ctest (SAFEURL_BUILD_DIR unset)}"
: "${SAFEURL_SOURCE_DIR:?run through ctest (SAFEURL_SOURCE_DIR unset)}"
B=$SAFEURL_BUILD_DIR
S=$SAFEURL_SOURCE_DIR
T=$(mktemp -d /tmp/safeurl-test.XXXXXX)
CLEANUP=()
FAILS=0
PASSES=0
# Every program this script starts inherits SAFEURL_TEST_SCOPE, daemons
# included (redis-server --daemonize keeps its environment): cleanup stops
# by it whatever a cleanup step missed (reap_scope.sh), a watchdog in a
# session of its own does the same when ctest kills the script, and
# scripts/test.sh checks at its end that no process of the whole run
# (SAFEURL_TEST_RUN) is left. The watchdog starts before the marker is
# exported, so that it and its sleeps carry none.
setsid -f bash "$S/tests/integration/reap_scope.sh" --after $$ "$T" </dev/null >/dev/null 2>&1
[ -z "${SAFEURL_TEST_RUN_DIR:-}" ] || echo "$T" >>"$SAFEURL_TEST_RUN_DIR/scopes"
export SAFEURL_TEST_SCOPE=$T
reap_scope() { bash "$S/tests/integration/reap_scope.sh" "$T"; }

cleanup() {
  local i
  for ((i = ${#CLEANUP[@]} - 1; i >= 0; i--)); do
    eval "${CLEANUP[$i]}" >/dev/null 2>&1 || true
  done
  reap_scope
  # Under scripts/test.sh: keep the logs for its closing secret grep.
  if [ -n "${SAFEURL_TEST_RUN_DIR:-}" ]; then
    mkdir -p "$SAFEURL_TEST_RUN_DIR/logs/${T##*/}"
    find "$T" -type f \( -name '*.log' -o -name '*.err' \) \
      -exec cp -t "$SAFEURL_TEST_RUN_DIR/logs/${T##*/}" {} + 2>/dev/null || true
  fi
  # SAFEURL_TEST_KEEP=1 keeps the logs and files for a post-mortem.
  if [ "${SAFEURL_TEST_KEEP:-0}" = 1 ]; then echo "# kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# at_exit CMD: run CMD (a string) at exit, last registered first.
at_exit() { CLEANUP+=("$1"); }

die() { echo "FATAL: $*" >&2; exit 1; }

# require_test_hooks: the script drives fault-injection hooks and the test
# processor, which only the debug preset builds (-DSAFEURL_TEST).
require_test_hooks() {
  grep -q '^SAFEURL_TEST_HOOKS:BOOL=ON$' "$B/CMakeCache.txt" 2>/dev/null ||
    die "needs the debug preset (test hooks): $B was built without SAFEURL_TEST_HOOKS"
}

# check NAME CMD...: run CMD, count and report the outcome.
check() {
  local name=$1; shift
  if "$@"; then
    PASSES=$((PASSES + 1)); echo "ok - $name"
  else
    FAILS=$((FAILS + 1)); echo "not ok - $name" >&2
  fi
}

# expect_eq NAME EXPECTED ACTUAL
expect_eq() {
  if [ "$2" = "$3" ]; then
    PASSES=$((PASSES + 1)); echo "ok - $1"
  else
    FAILS=$((FAILS + 1)); echo "not ok - $1: expected '$2', got '$3'" >&2
  fi
}

# expect_match NAME REGEX TEXT
expect_match() {
  if grep -Eq -- "$2" <<<"$3"; then
    PASSES=$((PASSES + 1)); echo "ok - $1"
  else
    FAILS=$((FAILS + 1)); echo "not ok - $1: /$2/ not found in: $3" >&2
  fi
}

# finish: print the summary line and exit non-zero on any failure.
finish() {
  echo "$PASSES passed, $FAILS failed"
  [ "$FAILS" -eq 0 ] && [ "$PASSES" -gt 0 ]
}

# run CMD...: run CMD; its stdout in OUT, stderr in ERR, exit code in RC.
run() {
  set +e
  OUT=$("$@" 2>"$T/stderr"); RC=$?
  set -e
  ERR=$(cat "$T/stderr")
}

free_port() {
  python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

# start_redis: a private redis-server on a free loopback port; sets
# REDIS_PORT and exports REDIS_HOST/REDIS_PORT for the programs.
start_redis() {
  command -v redis-server >/dev/null || die "redis-server is not installed (scripts/deps.sh)"
  REDIS_PORT=$(free_port)
  mkdir -p "$T/redis"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes \
    --dir "$T/redis" --save '' --appendonly no \
    --pidfile "$T/redis/redis.pid" --logfile "$T/redis/redis.log" \
    || die "redis-server did not start"
  at_exit "redis-cli -p $REDIS_PORT shutdown nosave"
  local i
  for i in $(seq 1 100); do
    redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && break
    sleep 0.05
  done
  redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG || die "redis-server on port $REDIS_PORT does not answer"
  export REDIS_HOST=127.0.0.1 REDIS_PORT
}

# TURSODB: the pinned tursodb binary (npm package in tests/interop).
TURSODB=$S/tests/interop/node_modules/@tursodatabase/cli-linux-x64-gnu/tursodb

# start_tursodb [PORT]: tursodb serving $T/turso.db over the libSQL HTTP
# protocol on a free (or the given) loopback port; sets TURSO_PORT and
# TURSO_PID, exports TURSO_CONNECTION_URL; killed at exit. After
# stop_tursodb, start_tursodb $TURSO_PORT restarts the same database.
start_tursodb() {
  [ -x "$TURSODB" ] || die "tursodb is not installed at $TURSODB (scripts/deps.sh runs npm ci in tests/interop)"
  TURSO_PORT=${1:-$(free_port)}
  "$TURSODB" "$T/turso.db" --sync-server "127.0.0.1:$TURSO_PORT" >>"$T/tursodb.log" 2>&1 &
  TURSO_PID=$!
  at_exit "kill $TURSO_PID"
  wait_for "tursodb on port $TURSO_PORT" 20 turso_sql "SELECT 1" ||
    { cat "$T/tursodb.log" >&2; die "tursodb did not answer on port $TURSO_PORT"; }
  export TURSO_CONNECTION_URL=http://127.0.0.1:$TURSO_PORT
}

stop_tursodb() {
  kill "$TURSO_PID"
  wait "$TURSO_PID" 2>/dev/null || true
}

# turso_sql SQL: rows of SQL on the tursodb server, as the sqlite3 shell
# prints them (a|b, NULL empty).
turso_sql() { python3 "$S/tests/integration/libsql_sql.py" "$TURSO_PORT" "$1"; }

# start_libsql_proxy TOKEN [RECORD_DIR]: a loopback proxy in front of
# tursodb that refuses requests without "Authorization: Bearer TOKEN"
# (tursodb checks no token); sets PROXY_PORT; killed at exit.
start_libsql_proxy() {
  PROXY_PORT=$(free_port)
  python3 "$S/tests/integration/libsql_proxy.py" "$PROXY_PORT" "$TURSO_PORT" "$1" \
    ${2:+--record "$2"} >>"$T/proxy.log" 2>&1 &
  at_exit "kill $!"
  wait_for "libsql proxy" 60 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PROXY_PORT" ||
    die "libsql proxy did not start"
}

# require_docker: the engine must answer (scripts/test.sh starts it).
require_docker() {
  curl -fsS --max-time 5 --unix-socket "${DOCKER_SOCKET_PATH:-/var/run/docker.sock}" \
    http://localhost/_ping >/dev/null 2>&1 || die "the Docker engine does not answer (scripts/services.sh starts it)"
}

# wait_for DESCRIPTION SECONDS CMD...: poll CMD until it succeeds.
wait_for() {
  local what=$1 secs=$2; shift 2
  local end=$((SECONDS + secs))
  while ! "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $end ] || { echo "timed out waiting for $what" >&2; return 1; }
    sleep 0.1
  done
}
