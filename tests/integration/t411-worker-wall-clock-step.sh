#!/usr/bin/env bash
# t411: lease renewal runs on the monotonic clock. With the wall clock of
# every worker stepped back ten minutes in the middle of a scan (the
# -DSAFEURL_TEST hook SAFEURL_TEST_WALL_OFFSET_FILE), the owner keeps
# renewing its lease every half lease; another worker handed the same scan
# skips it instead of taking it over, both when it was handed the scan
# before the step (it read a lease written by the unstepped clock, which
# now reads ten minutes away: it still waits at most one lease, on the
# monotonic clock) and after it; and the scan completes once, by its
# owner, on its first attempt.
. "$(dirname "$0")/lib.sh"
require_test_hooks
. "$(dirname "$0")/lib_worker.sh"
ensure_fetcher_image
start_fixture
export SAFEURL_TEST_LOCK_MS=2000 SAFEURL_TEST_WALL_OFFSET_FILE=$T/wall-offset
echo 0 >"$SAFEURL_TEST_WALL_OFFSET_FILE"

lease_of() { sql "SELECT lease_expires_at FROM scan_jobs WHERE id='$1'"; }

start_worker owner WORKER_CONCURRENCY=1
id=$($CLI submit "$SITE/delay/15000")
wait_for "the owner fetching" 30 bash -c "[ \"\$(sqlite3 -cmd '.timeout 5000' '$DB' \"SELECT state FROM scan_jobs WHERE id='$id'\")\" = FETCHING ]" ||
  die "the scan did not start"
before=$(lease_of "$id")

# Another worker is handed the same scan (a second BullMQ job for it)
# and waits on the owner's live lease.
start_worker other
$BULL add "[{\"name\":\"scan\",\"data\":{\"jobId\":\"$id\"}}]" >/dev/null
wait_for "the other worker waiting on the lease" 30 grep -q '"event":"wait"' "$T/other.log" ||
  die "the other worker did not wait on the live lease"

# Step every process's wall clock back ten minutes, then hand the scan
# to the other worker a second time.
echo -600000 >"$SAFEURL_TEST_WALL_OFFSET_FILE"
$BULL add "[{\"name\":\"scan\",\"data\":{\"jobId\":\"$id\"}}]" >/dev/null

# Renewals continue: over 5 s (two and a half leases) the owner writes
# the lease again every second, each time from the stepped clock (earlier
# than the lease written before the step). A process reads the offset
# file at most 100 ms late, so one renewal may still come from the old
# clock: counting starts at the first stepped one (within a lease).
seen=()
stepped_at=$(date +%s%3N)
for _ in $(seq 1 150); do
  v=$(lease_of "$id")
  if [ "${#seen[@]}" = 0 ]; then
    [ "$v" -lt "$before" ] && { seen+=("$v"); stepped_at=$(date +%s%3N); }
  elif [[ " ${seen[*]} " != *" $v "* ]]; then
    seen+=("$v")
  fi
  [ "${#seen[@]}" -gt 0 ] && [ $(( $(date +%s%3N) - stepped_at )) -ge 5000 ] && break
  sleep 0.1
done
check "lease renewed at least 3 times after the step (got ${#seen[@]})" [ "${#seen[@]}" -ge 3 ]
for v in "${seen[@]}"; do
  check "renewal $v written from the stepped clock" [ "$v" -lt "$before" ]
done

wait_terminal 60 "$id" || die "the scan did not end"
expect_eq "completed on the first attempt" "COMPLETED|1|$WORKER_ID-owner" \
  "$(sql "SELECT state, attempts, worker_id FROM scan_jobs WHERE id='$id'")"
expect_eq "one claim, no takeover" "1|0" \
  "$(sql "SELECT SUM(to_state='FETCHING' AND from_state='QUEUED'), SUM(from_state IN ('FETCHING','ANALYZING') AND to_state='FETCHING') FROM audit_logs WHERE job_id='$id'")"
skips() { grep -c '"event":"skip"' "$T/other.log"; }
wait_for "the other worker's two jobs settled" 30 bash -c "[ \$(grep -c '\"event\":\"skip\"' '$T/other.log') -ge 2 ]" ||
  die "the other worker did not settle both jobs ($(skips) skipped)"
check "the other worker skipped the live scan" grep -q '"reason":"version_conflict"\|scan skipped: version_conflict' "$T/other.log"
check "no takeover logged" bash -c "! grep -q '\"event\":\"takeover\"' '$T/owner.log' '$T/other.log'"
check "no lease lost" bash -c "! grep -q 'lease lost' '$T/owner.log'"
stop_worker other
expect_eq "other worker stops cleanly" 0 "$WRC"
stop_worker owner
expect_eq "owner stops cleanly" 0 "$WRC"
check "no sanitizer report" logs_clean owner other
finish
