#!/usr/bin/env bash
# reap_scope.sh [--after PID] DIR - stop every process whose environment
# holds SAFEURL_TEST_SCOPE=DIR (the marker lib.sh exports for one test
# script), and every daemon named by a pid file under DIR (redis-server
# rewrites its environment area for its process title, so the marker is
# not seen there): TERM, up to 5 s to exit, then KILL.
#
# With --after PID it first waits for PID to exit, then reaps and removes
# DIR (unless SAFEURL_TEST_KEEP=1): lib.sh starts it so, in a session of
# its own, as the watchdog of a script that ctest may kill with SIGKILL
# (ctest kills the script's whole process group; daemons such as a
# redis-server that forked away would outlive it).
# Bash builtins only in the scan, so that it starts no marked process.
set -u
after=""
if [ "${1:-}" = --after ]; then after=$2; shift 2; fi
dir=$1

scope_pids() {
  local f pid e
  for f in /proc/[0-9]*/environ; do
    pid=${f#/proc/}; pid=${pid%/environ}
    [ "$pid" = $$ ] && continue
    while IFS= read -r -d '' e; do
      [ "$e" = "SAFEURL_TEST_SCOPE=$dir" ] && { echo "$pid"; break; }
    done 2>/dev/null <"$f"
  done
  for f in $(find "$dir" -name '*.pid' 2>/dev/null); do
    read -r pid 2>/dev/null <"$f" || continue
    [ -n "$pid" ] && [ -e "/proc/$pid" ] && echo "$pid"
  done
  return 0
}

if [ -n "$after" ]; then
  trap '' INT TERM HUP
  while kill -0 "$after" 2>/dev/null; do sleep 1; done
fi
pids=$(scope_pids)
if [ -n "$pids" ]; then
  # shellcheck disable=SC2086
  kill -TERM $pids 2>/dev/null
  for _ in $(seq 1 50); do
    pids=$(scope_pids)
    [ -n "$pids" ] || break
    sleep 0.1
  done
  # shellcheck disable=SC2086
  [ -z "$pids" ] || kill -KILL $pids 2>/dev/null
fi
if [ -n "$after" ] && [ "${SAFEURL_TEST_KEEP:-0}" != 1 ]; then rm -rf "$dir"; fi
exit 0
