#!/usr/bin/env bash
# t419: no scan lost or ended twice when Redis fails over behind Sentinel
# (1 master, 2 replicas, 3 sentinels, on loopback). 500 real scans by two
# workers; the master is SIGKILLed a quarter of the way in while the last
# 100 are still being submitted; every scan the CLI created ends in a
# terminal state exactly once and none stays QUEUED (lib_redis_ha.sh,
# ha_scans). Queue jobs lost with the master are found again by the
# workers' reconciliation.
. "$(dirname "$0")/lib.sh"
require_test_hooks
# the sandbox runtime: 500 scans take seconds, not minutes of dockerd
export CONTAINER_RUNTIME=${CONTAINER_RUNTIME:-sandbox}
. "$(dirname "$0")/lib_worker.sh"
. "$(dirname "$0")/lib_redis_ha.sh"
ensure_fetcher_image
start_fixture
ha_sentinel_up
export REDIS_SENTINEL_PASSWORD=$HA_SPW
ha_scans ha_sentinel_kill
for w in a b; do
  check "worker $w located the new master" grep -q "the master is at 127.0.0.1:$NP" "$T/$w.log"
done
finish
