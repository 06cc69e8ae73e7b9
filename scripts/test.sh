#!/usr/bin/env bash
# test.sh - install what is missing, build the sanitizer (debug) preset and
# run every test. Usage: scripts/test.sh [ctest arguments, e.g. -L unit]
#
# Every process the run starts carries SAFEURL_TEST_RUN in its
# environment (services this script starts do not: dockerd is shared).
# After ctest, a process still carrying it is a leak: it is listed,
# killed, and the run fails. Then every log the tests wrote is searched
# for the tests' secrets (tests/integration/grep_secrets.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh test
# shellcheck source=services.sh
. ./scripts/services.sh
ensure_dockerd

cmake --preset debug >/dev/null
cmake --build --preset debug
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

run_id=$$.$(date +%s%N)
export SAFEURL_TEST_RUN=$run_id
# Each test script records its directory here (tests/integration/lib.sh).
SAFEURL_TEST_RUN_DIR=$(mktemp -d /tmp/safeurl-run.XXXXXX)
export SAFEURL_TEST_RUN_DIR
trap 'rm -rf "$SAFEURL_TEST_RUN_DIR"' EXIT

# run_pids: the processes of this run still alive: those that carry the
# run's marker, and those whose working directory is a test's directory
# (redis-server overwrites its environment area with its process title).
# Bash builtins only.
run_pids() {
  local f pid e cwd t
  local -a scopes=()
  [ -f "$SAFEURL_TEST_RUN_DIR/scopes" ] && mapfile -t scopes <"$SAFEURL_TEST_RUN_DIR/scopes"
  for f in /proc/[0-9]*/environ; do
    pid=${f#/proc/}; pid=${pid%/environ}
    [ "$pid" = $$ ] && continue
    cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null) || cwd=""
    for t in "${scopes[@]}"; do
      case $cwd in "$t"|"$t"/*) echo "$pid"; continue 2 ;; esac
    done
    while IFS= read -r -d '' e; do
      [ "$e" = "SAFEURL_TEST_RUN=$run_id" ] && { echo "$pid"; break; }
    done 2>/dev/null <"$f"
  done
  return 0
}

set +e
ctest --preset debug "$@"
rc=$?
set -e

# A test's watchdog outlives its script by up to a second: give what is
# shutting down 10 s before calling it a leak.
left=""
for _ in $(seq 1 100); do
  left=$(run_pids)
  [ -z "$left" ] && break
  sleep 0.1
done
if [ -n "$left" ]; then
  echo "test.sh: the run left $(echo "$left" | wc -l) process(es) behind:" >&2
  # shellcheck disable=SC2086
  ps -o pid,ppid,etime,args -p "$(echo $left | tr ' ' ,)" >&2 || true
  # shellcheck disable=SC2086
  kill -KILL $left 2>/dev/null || true
  [ "$rc" -ne 0 ] || rc=1
fi
# No test secret (tests/integration/secrets.txt) in any log the run wrote
# (lib.sh copied each test's logs here before removing its directory).
mkdir -p "$SAFEURL_TEST_RUN_DIR/logs"
tests/integration/grep_secrets.sh "$SAFEURL_TEST_RUN_DIR/logs" || { [ "$rc" -ne 0 ] || rc=1; }
exit "$rc"
