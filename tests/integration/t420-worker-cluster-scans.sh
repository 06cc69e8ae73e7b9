#!/usr/bin/env bash
# t420: no scan lost or ended twice when the Redis Cluster master serving
# the queue's slot fails over (3 masters, 3 replicas, on loopback,
# BULLMQ_PREFIX '{scan}'). 500 real scans by two workers; the slot's
# owner is SIGKILLed a quarter of the way in while the last 100 are still
# being submitted; every scan the CLI created ends in a terminal state
# exactly once and none stays QUEUED (lib_redis_ha.sh, ha_scans).
. "$(dirname "$0")/lib.sh"
require_test_hooks
# the sandbox runtime: 500 scans take seconds, not minutes of dockerd
export CONTAINER_RUNTIME=${CONTAINER_RUNTIME:-sandbox}
. "$(dirname "$0")/lib_worker.sh"
. "$(dirname "$0")/lib_redis_ha.sh"
ensure_fetcher_image
start_fixture
ha_cluster_up
export BULLMQ_PREFIX='{scan}'
ha_scans ha_cluster_kill
for w in a b; do
  check "worker $w located the new owner" grep -q "the master is at 127.0.0.1:$NP" "$T/$w.log"
done
finish
