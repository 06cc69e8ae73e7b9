#!/usr/bin/env bash
# t405: no scan stays non-terminal without a live owner (SPEC §5). A row
# left FETCHING by a dead owner whose lease lapsed long ago and whose queue
# job is gone is failed ABANDONED by a running worker's sweep; one whose
# queue job still waits (in a paused queue) is left alone, then taken over
# and completed once the queue is resumed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_worker.sh"
ensure_fetcher_image
start_fixture
export SAFEURL_TEST_LOCK_MS=1000 SAFEURL_TEST_STALLED_MS=1000
dead_owner() { # ID: FETCHING, owned by a worker whose lease ended 10 s ago
  sql "UPDATE scan_jobs SET state='FETCHING', version=1, attempts=1, worker_id='gone:1',
       lease_expires_at=$(( $(date +%s%3N) - 10000 )) WHERE id='$1'"
}
$BULL pause
gone=$(QUEUE_NAME=elsewhere $CLI submit "$SITE/benign?gone")
held=$($CLI submit "$SITE/benign?held")
dead_owner "$gone"; dead_owner "$held"
start_worker w1
wait_for "the orphan to be swept" 20 bash -c "[ \"\$(sqlite3 $DB \"SELECT state FROM scan_jobs WHERE id='$gone'\")\" = FAILED ]"
expect_eq "no queue job left: FAILED ABANDONED" "FAILED|ABANDONED" \
  "$(sql "SELECT state, error_code FROM scan_jobs WHERE id='$gone'")"
expect_eq "the sweep is audited" "FETCHING>FAILED@2 $WORKER_ID-w1" \
  "$(sql "SELECT from_state||'>'||to_state||'@'||version||' '||actor FROM audit_logs WHERE job_id='$gone' ORDER BY id DESC LIMIT 1")"
expect_eq "a row whose job still waits is left alone" "FETCHING|gone:1" \
  "$(sql "SELECT state, worker_id FROM scan_jobs WHERE id='$held'")"
$BULL resume
wait_terminal 30 "$held" || die "held scan did not finish"
expect_eq "resumed: taken over and completed" "COMPLETED|$WORKER_ID-w1" \
  "$(sql "SELECT state, worker_id FROM scan_jobs WHERE id='$held'")"
expect_eq "takeover audited" 1 \
  "$(sql "SELECT count(*) FROM audit_logs WHERE job_id='$held' AND from_state='FETCHING' AND to_state='FETCHING'")"
check "the sweep logged the abandoned row" grep -q '"event":"sweep".*ABANDONED' "$T/w1.log"
stop_worker w1
expect_eq "worker stops cleanly" 0 "$WRC"
expect_eq "no container left" 0 "$(ours_left_prefix)"
check "no sanitizer report" logs_clean w1
finish
