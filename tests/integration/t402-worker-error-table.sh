#!/usr/bin/env bash
# t402: each row of the error table, end to end. Timeout -> TIMED_OUT with
# the container gone; crash -> FAILED with the stderr tail; invalid,
# absurd or oversized output -> FAILED; bad payloads -> failed without
# retries; a fetcher error -> FAILED with its code; a retryable one ->
# released, retried, then RETRIES_EXHAUSTED; a live lease held by a
# renewing owner -> skipped as a version conflict; a database locked past
# the busy timeout -> retried, then completed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_worker.sh"
ensure_fetcher_image
start_fixture

add() { $BULL add "[{\"name\":\"scan\",\"data\":$1,\"opts\":${2:-{\}}}]"; }
bull_state() { bull_field "$1" 'j["state"]' | tr -d '"'; }
wait_bull() { wait_for "job $1 to be $2" "${3:-60}" bash -c "[ \"\$($BULL job $1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"state\"])')\" = $2 ]"; }
error_of() { sql "SELECT error_code FROM scan_jobs WHERE id='$1'"; }

# --- the real fetcher: deadline, fetch errors, bad payloads ---
RP=$(free_port)
# 10 s: the refused scan must end on its own even on a loaded machine,
# while /slow (200 s) still runs past the deadline.
start_worker real CONTAINER_TIMEOUT_MS=10000 FETCHER_ARGS="$FETCHER_ARGS,$RP --resolve shop.test:$RP:127.0.0.1"
slow=$($CLI submit "$SITE/slow")
refused=$($CLI submit "http://user:s3cret-T402-urlpass@shop.test:$RP/x?token=t0ken-T402-query")
add '{}' '{"jobId":"bad-empty","attempts":3}' >/dev/null
add '{"url":"ftp://shop.test/x"}' '{"jobId":"bad-scheme","attempts":3}' >/dev/null
add '{"jobId":"no-such-scan"}' '{"jobId":"bad-missing","attempts":3}' >/dev/null
add '"just a string"' '{"jobId":"bad-type","attempts":3}' >/dev/null
wait_terminal 60 "$slow" "$refused" || die "scans did not end"
expect_eq "deadline -> TIMED_OUT" "TIMED_OUT|TIMEOUT" "$(sql "SELECT state, error_code FROM scan_jobs WHERE id='$slow'")"
wait_bull "$slow" failed
expect_eq "deadline: failed without retries" '["TIMEOUT", 1]' \
  "$(bull_field "$slow" '[j["failedReason"].split(":")[0], j["attemptsMade"]]')"
expect_eq "deadline: audit ends FETCHING>TIMED_OUT" "FETCHING>TIMED_OUT@2" "$(audit_trail "$slow" | awk '{print $NF}')"
expect_eq "refused connection -> FAILED CONNECT_FAILED" "FAILED|CONNECT_FAILED" \
  "$(sql "SELECT state, error_code FROM scan_jobs WHERE id='$refused'")"
# The row keeps the URL; logs and stored messages lose its credentials and query values.
expect_eq "the row keeps the full URL" "http://user:s3cret-T402-urlpass@shop.test:$RP/x?token=t0ken-T402-query" \
  "$(sql "SELECT url FROM scan_jobs WHERE id='$refused'")"
expect_match "the log names the URL redacted" "starting fetcher for http://\*\*\*@shop.test:$RP/x\?token=\*\*\*" "$(cat "$T/real.log")"
expect_eq "no credential or query value in the log" 0 "$(grep -c 's3cret\|t0ken' "$T/real.log" || true)"
expect_eq "none in the stored message" 0 "$(sql "SELECT count(*) FROM scan_jobs WHERE id='$refused' AND (error_message LIKE '%s3cret%' OR error_message LIKE '%t0ken%')")"
for j in bad-empty bad-scheme bad-missing bad-type; do
  wait_bull $j failed
  expect_match "$j: VALIDATION_ERROR, no retry" '^\["VALIDATION_ERROR: .+", 1\]$' \
    "$(bull_field $j '[j["failedReason"], j["attemptsMade"]]')"
done
expect_match "missing row named" "scan 'no-such-scan' not found" "$(bull_field bad-missing 'j["failedReason"]')"
expect_eq "no row made from a bad URL" 0 "$(sql "SELECT count(*) FROM scan_jobs WHERE url LIKE 'ftp:%'")"

# A retryable fetcher error: released, retried, then exhausted.
stop_worker real
expect_eq "worker stops cleanly" 0 "$WRC"
start_worker real2 FETCHER_ARGS="$FETCHER_ARGS --timeout 700"
add "{\"url\":\"$SITE/slow?r\"}" '{"jobId":"retry-1","attempts":2,"backoff":{"type":"fixed","delay":200}}' >/dev/null
wait_bull retry-1 failed 60
expect_eq "retryable error: two attempts, then RETRIES_EXHAUSTED" '["RETRIES_EXHAUSTED", 2]' \
  "$(bull_field retry-1 '[j["failedReason"].split(":")[0], j["attemptsMade"]]')"
expect_eq "first attempt released the row, second failed it" \
  "NULL>QUEUED@0 QUEUED>FETCHING@1 FETCHING>QUEUED@2 QUEUED>FETCHING@3 FETCHING>FAILED@4" "$(audit_trail retry-1)"
expect_eq "attempts counted on the row" 2 "$(sql "SELECT attempts FROM scan_jobs WHERE id='retry-1'")"

# A live lease whose owner keeps renewing: skipped as a version conflict.
stop_worker real2
held=$($CLI submit "$SITE/benign?held")
now=$(date +%s%3N)
sql "UPDATE scan_jobs SET state='FETCHING', version=1, worker_id='other', lease_expires_at=$((now + 1500)) WHERE id='$held'"
( while :; do sql "UPDATE scan_jobs SET lease_expires_at=$(( $(date +%s%3N) + 1500 )) WHERE id='$held'"; sleep 0.3; done ) &
renewer=$!
at_exit "kill $renewer"
start_worker real3 DB_BUSY_TIMEOUT_MS=200 DB_RETRY_ATTEMPTS=100 FETCHER_USER_AGENT="Example Agent/2.0 (t402)"
wait_bull "$held" completed 30
expect_eq "renewing owner: skipped as version_conflict" '["version_conflict", true]' \
  "$(bull_field "$held" '[j["returnvalue"]["reason"], j["returnvalue"]["skipped"]]')"
expect_eq "the owner's row untouched" "FETCHING|other" "$(sql "SELECT state, worker_id FROM scan_jobs WHERE id='$held'")"
kill $renewer

# The database locked past the busy timeout: retried, then completed.
# The locker waits out any writer of the moment (the killed renewer's last
# statement, the worker's own), then says when it holds the lock.
( sqlite3 "$DB" <<SQL
.timeout 10000
BEGIN EXCLUSIVE;
SELECT 'locked';
.shell touch $T/locked
.shell sleep 3
COMMIT;
SQL
) >/dev/null &
locker=$!
wait_for "the locker to hold the database" 15 test -e "$T/locked" || die "the locker never got the lock"
$BULL add "[{\"name\":\"scan\",\"data\":{\"url\":\"$SITE/benign?locked\"},\"opts\":{\"jobId\":\"locked-1\",\"attempts\":3}}]" >/dev/null
wait $locker
wait_terminal 60 locked-1 || die "locked-1 did not end"
expect_eq "locked database: completed once released" COMPLETED "$(state_of locked-1)"
expect_match "FETCHER_USER_AGENT reaches the site" "^shop.test:$HP /benign\?locked Example Agent/2.0 \(t402\)$" "$(grep locked "$T/requests.log")"
check "db retries were logged" grep -q '"event":"db_retry"' "$T/real3.log"
stop_worker real3
expect_eq "worker stops cleanly" 0 "$WRC"

# FETCHER_YARA_RULES reaches the fetcher: rules its image does not hold
# fail the scan, with the fetcher's own words naming the file.
start_worker yara FETCHER_YARA_RULES=/etc/safeurl/t402-missing.yarc
yara=$($CLI submit "$SITE/benign?yara")
wait_terminal 60 "$yara" || die "the scan with missing rules did not end"
expect_eq "missing rules file -> FAILED CONTAINER_CRASH" "FAILED|CONTAINER_CRASH" \
  "$(sql "SELECT state, error_code FROM scan_jobs WHERE id='$yara'")"
expect_match "the error names the rules file" "t402-missing.yarc" \
  "$(sql "SELECT error_message FROM scan_jobs WHERE id='$yara'")"
stop_worker yara

# --- hostile fetchers (the testbox image) ---
crash=$(run_box crash "exit 3 boom-on-stderr" crash)
expect_eq "crash -> FAILED CONTAINER_CRASH" "FAILED|CONTAINER_CRASH" "$(sql "SELECT state, error_code FROM scan_jobs WHERE id='$crash'")"
expect_match "crash keeps the stderr tail" "boom-on-stderr" "$(sql "SELECT error_message FROM scan_jobs WHERE id='$crash'")"
expect_match "crash: failedReason names code and tail" '^"CONTAINER_CRASH: .*boom-on-stderr' "$(bull_field "$crash" 'j["failedReason"]')"
bad=$(run_box badjson badjson badjson)
expect_eq "invalid JSON -> FAILED INVALID_OUTPUT" "FAILED|INVALID_OUTPUT" "$(sql "SELECT state, error_code FROM scan_jobs WHERE id='$bad'")"
absurd=$(run_box absurd 'json {"ok":true,"url":"x","finalUrl":"x","redirects":[],"httpStatus":200,"verdict":"safe","riskScore":1000,"reasons":[]}' absurd)
expect_eq "absurd values -> FAILED INVALID_OUTPUT" "FAILED|INVALID_OUTPUT" "$(sql "SELECT state, error_code FROM scan_jobs WHERE id='$absurd'")"
expect_match "the schema error names the field" "riskScore" "$(sql "SELECT error_message FROM scan_jobs WHERE id='$absurd'")"
flood=$(run_box flood "flood 1000000" flood)
expect_eq "oversized output -> FAILED OUTPUT_TOO_LARGE" "FAILED|OUTPUT_TOO_LARGE" "$(sql "SELECT state, error_code FROM scan_jobs WHERE id='$flood'")"
expect_eq "no result row for failed scans" 0 "$(sql "SELECT count(*) FROM scan_results r JOIN scan_jobs j ON j.id=r.job_id WHERE j.state!='COMPLETED'")"
expect_eq "no container left" 0 "$(ours_left_prefix)"
check "no sanitizer report" logs_clean real real2 real3 yara crash badjson absurd flood
finish
