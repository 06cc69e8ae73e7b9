#!/usr/bin/env bash
# t406: Redis restarted without persistence (the queue emptied) while a
# scan runs and others wait. The worker reconnects and goes on; the scan
# in flight still ends in the database (the row, not the queue, is the
# record); the waiting scans stay QUEUED with no queue job until
# `safeurl requeue --stale` enqueues them again (only them: a second
# requeue adds nothing), and the worker then completes them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_worker.sh"
ensure_fetcher_image
start_fixture
export SAFEURL_TEST_LOCK_MS=2000 SAFEURL_TEST_STALLED_MS=1000
start_worker w1 WORKER_CONCURRENCY=1
run=$($CLI submit "$SITE/delay/3000")
wait_for "scan running" 15 bash -c "[ \"\$(sqlite3 $DB \"SELECT state FROM scan_jobs WHERE id='$run'\")\" = FETCHING ]"
w1=$($CLI submit "$SITE/benign?a")
w2=$($CLI submit "$SITE/phish?b")
redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
wait_for "redis down" 10 bash -c "! redis-cli -p $REDIS_PORT ping"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --dir "$T/redis" \
  --save '' --appendonly no --logfile "$T/redis/redis.log" >/dev/null
wait_for "redis back" 10 redis-cli -p "$REDIS_PORT" ping
expect_eq "the queue is empty after the restart" 0 "$(redis-cli -p "$REDIS_PORT" dbsize)"
wait_terminal 30 "$run" || die "the running scan did not end"
expect_eq "the scan in flight still ends in the database" COMPLETED "$(state_of "$run")"
sleep 2
expect_eq "waiting scans lost their jobs: still QUEUED" "QUEUED QUEUED" "$(state_of "$w1") $(state_of "$w2")"
check "the worker is still running" kill -0 "${WPID[w1]}"
out=$($CLI requeue --stale 2>"$T/requeue.err")
expect_eq "requeue --stale enqueues exactly the lost ones" "$(printf '%s\n' "$w1" "$w2" | sort)" "$(sort <<<"$out")"
expect_match "requeue prints a summary" "2 QUEUED scans, 2 enqueued again" "$(cat "$T/requeue.err")"
expect_eq "a second requeue adds nothing: the queue holds their jobs" "" "$($CLI requeue --stale 2>/dev/null)"
wait_terminal 30 "$w1" "$w2" || die "requeued scans did not end"
expect_eq "requeued scans completed" "COMPLETED COMPLETED" "$(state_of "$w1") $(state_of "$w2")"
expect_eq "requeue usage" 64 "$($CLI requeue 2>/dev/null; echo $?)"
stop_worker w1
expect_eq "worker stops cleanly" 0 "$WRC"
expect_eq "no container left" 0 "$(ours_left_prefix)"
check "no sanitizer report" logs_clean w1
finish
