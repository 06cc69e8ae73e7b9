#!/usr/bin/env bash
# t405: safeurl submit creates QUEUED rows and BullMQ jobs under the scan
# id; bad URLs and an unreachable Redis are refused with sysexits codes;
# requeue --stale re-enqueues QUEUED rows whose queue job is gone or
# finished, leaves pending ones alone, and the scans then complete.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_worker.sh"
ensure_fetcher_image
start_fixture

a=$($CLI submit "$SITE/benign?a")
ids=$($CLI submit "$SITE/benign?b" "$SITE/benign?c")
b=$(sed -n 1p <<<"$ids")
c=$(sed -n 2p <<<"$ids")
expect_eq "rows created QUEUED by cli" "QUEUED|cli" \
  "$(sql "SELECT j.state, a.actor FROM scan_jobs j JOIN audit_logs a ON a.job_id=j.id WHERE j.id='$a'")"
expect_eq "BullMQ job under the scan id, payload names the row" "[\"waiting\", \"$a\", 3]" \
  "$(bull_field "$a" '[j["state"], j["data"]["jobId"], 3]')"
set +e
$CLI submit "ftp://shop.test/x" 2>"$T/err"; rc=$?
set -e
expect_eq "a bad URL exits 65" 65 "$rc"
expect_match "and names it" "'ftp://shop.test/x': not an absolute http\(s\) URL" "$(cat "$T/err")"
expect_eq "no row for it" 0 "$(sql "SELECT count(*) FROM scan_jobs WHERE url LIKE 'ftp:%'")"
set +e
REDIS_PORT=$(free_port) $CLI submit "$SITE/x" 2>"$T/err"; rc=$?
set -e
expect_eq "Redis unreachable exits 69" 69 "$rc"

out=$($CLI requeue --stale --older-than 0 2>"$T/err")
expect_eq "pending jobs are not requeued" "" "$out"
expect_match "summary on stderr" "0 scan\(s\) re-enqueued" "$(cat "$T/err")"
set +e
$CLI requeue 2>/dev/null; rc=$?
set -e
expect_eq "requeue without --stale is a usage error" 64 "$rc"

# Lose a's queue job; finish b's and c's jobs without touching the rows
# (the noop processor).
redis-cli -p "$REDIS_PORT" EVAL "redis.call('LREM', KEYS[1], 0, ARGV[1]); return redis.call('DEL', KEYS[2])" \
  2 "bull:scan-jobs:wait" "bull:scan-jobs:$a" "$a" >/dev/null
redis-cli -p "$REDIS_PORT" EVAL "redis.call('LREM', KEYS[1], 0, ARGV[1]); redis.call('LPUSH', KEYS[1], ARGV[1]); return 1" \
  1 "bull:scan-jobs:wait" "$b" >/dev/null
"$B/safeurl-worker" --processor=noop >"$T/noop.log" 2>&1 &
np=$!
at_exit "kill -9 $np"
wait_for "b's job to finish under the noop processor" 20 bash -c "[ \"\$($BULL job $b | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"state\"])')\" = completed ]"
kill -TERM $np; wait $np || true
expect_eq "b's row untouched" QUEUED "$(state_of "$b")"
out=$($CLI requeue --stale --older-than 0 | sort | paste -sd' ')
expect_eq "requeue prints the rows it re-enqueued" "$(printf '%s\n' "$a" "$b" "$c" | sort | paste -sd' ')" "$out"
expect_eq "a requeued under its own id" waiting "$(bull_field "$a" 'j["state"]' | tr -d '"')"
expect_eq "b requeued under a new id" waiting "$(bull_field "$b-requeue-v0" 'j["state"]' | tr -d '"')"
expect_eq "a second requeue finds nothing" "" "$($CLI requeue --stale --older-than 0 2>/dev/null)"
start_worker scan
wait_terminal 60 "$a" "$b" "$c" || die "requeued scans did not finish"
expect_eq "requeued scans completed" "COMPLETED COMPLETED COMPLETED" "$(state_of "$a") $(state_of "$b") $(state_of "$c")"
stop_worker scan
check "no sanitizer report" logs_clean scan noop
finish
