#!/usr/bin/env bash
# t120: the differential conformance suite (tests/conformance): every
# scenario runs once through bullmq's own Node Worker and once through
# safeurl-worker on a freshly emptied Redis; job hashes, key membership and
# per-job QueueEvents must match. CONFORMANCE_FILTER narrows the scenarios.
. "$(dirname "$0")/lib.sh"
require_test_hooks
. "$S/tests/interop/queue_lib.sh"
cd "$T"
start_redis
run timeout 1500 node "$S/tests/conformance/run.js" "$REDIS_PORT" "$B/safeurl-worker" "${CONFORMANCE_FILTER:-}"
echo "$OUT"
[ -z "$ERR" ] || echo "$ERR" | tail -20
expect_eq "every scenario matches the stock worker" 0 "$RC"
if [ -z "${CONFORMANCE_FILTER:-}" ]; then
  check "at least 40 scenarios ran" test "$(grep -c '^ok - ' <<<"$OUT")" -ge 40
fi
finish
