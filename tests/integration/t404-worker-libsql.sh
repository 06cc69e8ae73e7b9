#!/usr/bin/env bash
# t404: the whole flow with the scan database on a tursodb server over the
# libSQL HTTP protocol, two workers sharing it: scans end to end (states,
# verdicts, audit trail on the server); then the server is stopped while
# scans are in flight and started again on the same file: nothing is lost,
# every scan completes once with a consistent trail, retries are logged.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_worker.sh"
ensure_fetcher_image
start_fixture
start_tursodb
sql() { turso_sql "$1"; }
start_worker w1 DB_RETRY_ATTEMPTS=100 DB_RETRY_MAX_MS=30000
start_worker w2 DB_RETRY_ATTEMPTS=100 DB_RETRY_MAX_MS=30000

benign=$($CLI submit "$SITE/benign")
phish=$($CLI submit "$SITE/phish")
wait_terminal 60 "$benign" "$phish" || die "scans did not finish"
expect_eq "benign COMPLETED on the server" COMPLETED "$(state_of "$benign")"
expect_eq "phish verdict malicious" malicious "$(sql "SELECT verdict FROM scan_results WHERE job_id='$phish'")"
expect_eq "audit trail on the server" "NULL>QUEUED@0 QUEUED>FETCHING@1 FETCHING>ANALYZING@2 ANALYZING>COMPLETED@3" \
  "$(audit_trail "$benign")"
expect_match "row owner, attempts, version" "^$WORKER_ID-w[12]\|1\|3$" \
  "$(sql "SELECT worker_id, attempts, version FROM scan_jobs WHERE id='$phish'")"

# the server goes away mid-run and comes back on the same file; the pages
# take 4 s each, so that the claim is seen however slow the machine is
read -r -a ids <<<"$($CLI submit "$SITE/delay/4000?r1" "$SITE/delay/4000?r2" "$SITE/delay/4000?r3" "$SITE/phish?r4" | paste -sd' ')"
fetching() { [ "$(sql "SELECT count(*) FROM scan_jobs WHERE state='FETCHING'")" -ge 1 ]; }
wait_for "a claim" 60 fetching
stop_tursodb
# Down for longer than a page takes: the scans' next transitions meet the
# stopped server and are retried until it is back.
sleep 6
start_tursodb "$TURSO_PORT"
wait_terminal 90 "${ids[@]}" || die "scans did not finish after the restart"
for id in "${ids[@]}"; do
  expect_eq "scan $id COMPLETED after the restart" COMPLETED "$(state_of "$id")"
done
expect_eq "one claim per scan: no scan ran twice" 6 \
  "$(sql "SELECT count(*) FROM audit_logs WHERE to_state='FETCHING'")"
expect_eq "every row's trail matches its version, every COMPLETED has a result" 0 \
  "$(sql "SELECT count(*) FROM scan_jobs j WHERE (SELECT count(*) FROM audit_logs a WHERE a.job_id = j.id) != j.version + 1 OR (j.state = 'COMPLETED') != EXISTS (SELECT 1 FROM scan_results r WHERE r.job_id = j.id)")"
check "retries against the stopped server logged" grep -q '"event":"db_retry".*cannot reach' "$T/w1.log" "$T/w2.log"

stop_worker w1
expect_eq "SIGTERM exits 0" 0 "$WRC"
stop_worker w2
expect_eq "second worker: SIGTERM exits 0" 0 "$WRC"
check "no sanitizer report" logs_clean w1 w2
finish
