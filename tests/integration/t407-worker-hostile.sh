#!/usr/bin/env bash
# t407: hostile fetchers through the worker (t402 covers crash, invalid,
# absurd and oversized output). A fork bomb stops at the pids limit and
# the scan still completes; a memory hog is killed by the memory limit
# and reported FAILED CONTAINER_OOM; a process that ignores SIGTERM is
# killed at the deadline, TIMED_OUT; writes to the root filesystem fail
# (read-only root). Each leaves no container behind.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_worker.sh"
start_fixture
row() { sql "SELECT state, ifnull(error_code,'') FROM scan_jobs WHERE id='$1'"; }
probe() { sql "SELECT json_extract(result_json,'\$.probe.$2') FROM scan_results WHERE job_id='$1'"; }

bomb=$(run_box forkbomb "fetcher forkbomb" forkbomb)
expect_eq "fork bomb: the scan completes" "COMPLETED|" "$(row "$bomb")"
expect_eq "fork bomb: fork refused with EAGAIN" EAGAIN "$(probe "$bomb" error)"
check "fork bomb: stopped below the pids limit (64)" test "$(probe "$bomb" forked)" -lt 64
expect_eq "fork bomb: no container left" 0 "$(ours_left_prefix)"

oom=$(run_box oom oom oom CONTAINER_MEMORY_LIMIT_MB=16)
expect_eq "memory hog -> FAILED CONTAINER_OOM" "FAILED|CONTAINER_OOM" "$(row "$oom")"
expect_match "OOM message names the limit" "out of memory \\(limit 16 MiB\\)" \
  "$(sql "SELECT error_message FROM scan_jobs WHERE id='$oom'")"
expect_match "OOM: failedReason names the code" '^"CONTAINER_OOM: ' "$(bull_field "$oom" 'j["failedReason"]')"
expect_eq "memory hog: no container left" 0 "$(ours_left_prefix)"

sleeper=$(run_box sleep sleep sleep CONTAINER_TIMEOUT_MS=1500)
expect_eq "SIGTERM ignored -> TIMED_OUT at the deadline" "TIMED_OUT|TIMEOUT" "$(row "$sleeper")"
took=$(sql "SELECT max(created_at)-min(created_at) FROM audit_logs WHERE job_id='$sleeper' AND to_state IN ('FETCHING','TIMED_OUT')")
check "SIGTERM ignored: ended within deadline + 10 s ($took ms)" test "$took" -lt 11500
expect_eq "SIGTERM ignored: audit ends FETCHING>TIMED_OUT" "FETCHING>TIMED_OUT@2" "$(audit_trail "$sleeper" | awk '{print $NF}')"
expect_eq "SIGTERM ignored: no container left" 0 "$(ours_left_prefix)"

ro=$(run_box probe "fetcher probe" probe)
expect_eq "probe: the scan completes" "COMPLETED|" "$(row "$ro")"
expect_eq "root filesystem is read-only" EROFS "$(probe "$ro" root_write)"
expect_eq "no capabilities" 0000000000000000 "$(probe "$ro" cap_eff)"
check "not root" test "$(probe "$ro" uid)" -ne 0
expect_eq "probe: no container left" 0 "$(ours_left_prefix)"
check "no sanitizer report" logs_clean forkbomb oom sleep probe
finish
