#!/usr/bin/env bash
# t102: queue_add_job (the enqueue behind `safeurl submit`) writes jobs a
# stock BullMQ Worker processes: custom id kept, data intact, a second add
# of the same id is a no-op; delay and priority land where BullMQ expects
# them; an id BullMQ would mangle (':' or empty) is refused.
. "$(dirname "$0")/lib.sh"
. "$S/tests/interop/queue_lib.sh"
cd "$T"
start_redis
export QUEUE_NAME=submit
tool=$B/tests/queue-add-tool

expect_eq "first add" "added scan-7f9c" "$($tool scan-7f9c '{"jobId":"scan-7f9c","url":"https://example.com/"}' 3)"
expect_eq "second add is a no-op" "exists scan-7f9c" "$($tool scan-7f9c '{"jobId":"other"}')"
expect_eq "delayed add" "added later-1" "$($tool later-1 '{}' 0 300)"
expect_eq "prioritized add" "added prio-1" "$($tool prio-1 '{}' 0 0 2)"
expect_match "counts before processing" '"delayed":1.*"prioritized":1.*"waiting":1' "$(bull counts)"
set +e; out=$($tool 'a:b' '{}' 2>&1); rc=$?; set -e
expect_eq "id with ':' refused" 69 "$rc"
expect_match "refusal names the id" "job id 'a:b'" "$out"

timeout 30 node "$S/tests/interop/bull.js" worker-test 3 done.ids
expect_eq "Node worker processed all three" "3" "$(sort -u done.ids | wc -l)"
expect_eq "data kept (second add ignored)" '{"jobId": "scan-7f9c", "url": "https://example.com/"}' "$(job_field scan-7f9c data)"
expect_eq "returnvalue from the Node worker" '{"ok": true, "jobId": "scan-7f9c"}' "$(job_field scan-7f9c returnvalue)"
expect_eq "completed by BullMQ" '"completed"' "$(job_field scan-7f9c state)"
expect_eq "opts readable by BullMQ" 3 "$(bull job scan-7f9c >/dev/null; redis-cli -p "$REDIS_PORT" hget bull:submit:scan-7f9c opts | python3 -c 'import json,sys; print(json.load(sys.stdin)["attempts"])')"
finish
