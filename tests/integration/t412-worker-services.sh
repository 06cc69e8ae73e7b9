#!/usr/bin/env bash
# t412: the worker serves /livez, /healthz and /metrics for every
# processor (noop included), /healthz reports each dependency with the
# age of its last probe, and a database that stops answering (its libSQL
# server frozen with SIGSTOP) delays neither /livez nor /healthz: both
# answer in under a second while the database probe waits, and /healthz
# turns 503 naming the database once the probe gives up.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_worker.sh"
ensure_fetcher_image

# code_and_time PORT PATH: "HTTP-code seconds" of one GET.
code_and_time() { curl -s -o "$T/body.json" -w '%{http_code} %{time_total}' --max-time 10 "http://127.0.0.1:$1$2"; }
# quick PORT PATH: the code when the answer took under a second.
quick() {
  local r; r=$(code_and_time "$1" "$2")
  awk -v t="${r#* }" 'BEGIN { exit !(t < 1.0) }' || { echo "slow: $2 took ${r#* } s" >&2; echo slow; return; }
  echo "${r% *}"
}

# noop: no database or engine of its own; the worker's probes still serve.
H1=$(free_port)
LOG_FORMAT=json HEALTH_PORT=$H1 "$B/safeurl-worker" --processor=noop >"$T/noop.log" 2>&1 &
NOOP=$!
at_exit "kill -9 $NOOP"
wait_for "noop healthz ready" 20 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$H1/healthz)\" = 200 ]" ||
  { cat "$T/noop.log" >&2; die "noop worker not ready"; }
expect_eq "noop: livez" 200 "$(quick "$H1" /livez)"
expect_eq "noop: healthz" 200 "$(quick "$H1" /healthz)"
expect_match "noop: redis up with the age of its probe" '"redis":\{"status":"up","age_ms":[0-9]+\}' "$(cat "$T/body.json")"
expect_eq "noop: metrics" 200 "$(quick "$H1" /metrics)"
check "noop: metrics exposition" grep -q '^safeurl_jobs_in_flight' "$T/body.json"
kill -TERM "$NOOP"; WRC=0; wait "$NOOP" || WRC=$?
expect_eq "noop worker stops cleanly" 0 "$WRC"

# scan on a remote database that freezes.
start_tursodb
H2=$(free_port)
start_worker scan HEALTH_PORT="$H2" DB_RETRY_ATTEMPTS=1
wait_for "scan healthz ready" 30 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$H2/healthz)\" = 200 ]" ||
  { cat "$T/scan.log" >&2; die "scan worker not ready"; }
expect_match "scan: every dependency up with its age" \
  '"redis":\{"status":"up","age_ms":[0-9]+\},"database":\{"status":"up","age_ms":[0-9]+\},"engine":\{"status":"up","age_ms":[0-9]+\}' \
  "$(curl -s "http://127.0.0.1:$H2/healthz")"

kill -STOP "$TURSO_PID"
at_exit "kill -CONT $TURSO_PID"
# While the probe waits on the frozen server, every answer is quick.
for _ in 1 2 3 4 5; do
  expect_eq "frozen database: livez quick" 200 "$(quick "$H2" /livez)"
  r=$(quick "$H2" /healthz)
  check "frozen database: healthz quick ($r)" [ "$r" != slow ]
  sleep 1
done
wait_for "healthz names the database down" 60 bash -c "curl -s http://127.0.0.1:$H2/healthz | grep -q '\"database\":{\"status\":\"down\"'" ||
  die "healthz never reported the frozen database"
expect_eq "frozen database: healthz 503" 503 "$(quick "$H2" /healthz)"
expect_eq "frozen database: livez still 200" 200 "$(quick "$H2" /livez)"
kill -CONT "$TURSO_PID"
wait_for "healthz ready again" 60 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$H2/healthz)\" = 200 ]" ||
  die "healthz did not recover"
stop_worker scan
expect_eq "scan worker stops cleanly" 0 "$WRC"
check "no sanitizer report" logs_clean noop scan
finish
