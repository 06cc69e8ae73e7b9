#!/usr/bin/env bash
# t602: the worker's own image (scripts/build-image.sh --target worker),
# run as docs/deployment.md says: host network, the host's engine socket
# mounted, the database directory mounted, user 10001 with the socket's
# group. It scans pages of the loopback fixture site submitted by the
# host's `safeurl submit`; the verdicts are read back from the database
# and `safeurl result`; `docker stop` (SIGTERM) ends it with exit 0 and
# no fetcher container left. Its sweep, run with the host's name but its
# own pid namespace, leaves a live host worker's container alone.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_worker.sh"
ensure_fetcher_image
start_fixture
command -v docker >/dev/null || die "the docker CLI is missing (scripts/deps.sh installs docker.io)"

# An image of our own, removed at exit: other trees may be building and
# testing safeurl-worker:latest on the same engine.
IMG=safeurl-worker-test:$$-$RANDOM
"$S/scripts/build-image.sh" --target worker --tag "$IMG" >"$T/image.log" 2>&1 ||
  { cat "$T/image.log" >&2; die "cannot build the worker image"; }
at_exit "docker rmi -f $IMG"
expect_match "the image listens for health beyond its own loopback" 'HEALTH_ADDR=0\.0\.0\.0' \
  "$(docker image inspect -f '{{json .Config.Env}}' "$IMG")"
expect_eq "the image runs as user 10001 in /data" "10001:10001 /data" \
  "$(docker image inspect -f '{{.Config.User}} {{.Config.WorkingDir}}' "$IMG")"

# The database: a directory the container's user owns, shared with the
# host's CLI (same kernel: SQLite's WAL locking works across the mount).
mkdir "$T/data"
DB=$T/data/scan.db
export TURSO_CONNECTION_URL=file:$DB
$CLI migrate >/dev/null || die "safeurl migrate failed"
chown -R 10001:10001 "$T/data"

# A live worker of this host, as far as labels go: this host's name and
# this script's pid. A worker whose sweep judged that pid in its own pid
# namespace would find it gone and remove the container.
decoy=$(docker create --label safeurl.job=t602-decoy --label "safeurl.worker=t602-live-$$" \
  --label "safeurl.host=$(hostname)" --label "safeurl.pid=$$" \
  --label "safeurl.pidns=$(readlink /proc/self/ns/pid)" --network none "$TESTBOX_IMAGE" sleep) ||
  die "cannot create the decoy container"
at_exit "docker rm -f $decoy"

HEALTH=$(free_port)
NAME=t602-worker-$$-$RANDOM
gid=$(stat -c %g "$SOCK")
# Health on the host's loopback: with the host network the image's
# default 0.0.0.0 would open the port on every address of this machine.
docker run -d --name "$NAME" --network host --group-add "$gid" \
  -v "$SOCK:/var/run/docker.sock" -v "$T/data:/data" \
  -e REDIS_HOST=127.0.0.1 -e REDIS_PORT="$REDIS_PORT" \
  -e TURSO_CONNECTION_URL=file:/data/scan.db \
  -e WORKER_ID="$WORKER_ID-img" -e FETCHER_IMAGE="$FETCHER_IMAGE" \
  -e CONTAINER_NETWORK_MODE=host -e CONTAINER_ALLOW_HOST_NETWORK=1 -e FETCHER_ARGS="$FETCHER_ARGS" \
  -e LOG_FORMAT=json -e LOG_LEVEL=debug -e SHUTDOWN_GRACE_MS=10000 \
  -e HEALTH_PORT="$HEALTH" -e HEALTH_ADDR=127.0.0.1 \
  "$IMG" >"$T/cid" || die "docker run of the worker image failed"
at_exit "docker rm -f $NAME"
# A script killed outright (ctest's timeout) runs no trap: a watchdog
# outside its process tree removes the container, the fetcher containers
# it left, the decoy and the image once this shell is gone. The normal
# exit stops it first, by pid.
( setsid bash -c "while kill -0 $$; do sleep 1; done; docker rm -f $NAME $decoy;
    docker ps -aq --filter label=safeurl.worker=$WORKER_ID-img | xargs -r docker rm -f; docker rmi -f $IMG" \
    </dev/null >/dev/null 2>&1 & echo $! >"$T/watchdog.pid" )
at_exit "kill $(cat "$T/watchdog.pid")"
wlog() { docker logs "$NAME" 2>&1; }
consuming() { wlog | grep -q '"event":"start","msg":"consuming'; }
wait_for "the worker in its container to consume" 60 consuming ||
  { wlog >&2; die "the worker image did not start"; }

benign=$($CLI submit "$SITE/benign")
phish=$($CLI submit "$SITE/phish")
wait_terminal 120 "$benign" "$phish" || { wlog >&2; die "scans did not finish"; }
expect_eq "benign page COMPLETED, safe" "COMPLETED|safe" \
  "$(sql "SELECT state, verdict FROM scan_jobs JOIN scan_results ON job_id=id WHERE id='$benign'")"
expect_eq "phishing page COMPLETED, malicious" "COMPLETED|malicious" \
  "$(sql "SELECT state, verdict FROM scan_jobs JOIN scan_results ON job_id=id WHERE id='$phish'")"
expect_eq "the host's safeurl result reads the verdict" malicious \
  "$($CLI result "$phish" | python3 -c 'import json,sys; print(json.load(sys.stdin)["verdict"])')"
expect_eq "the worker in the image moved the scan" "$WORKER_ID-img" \
  "$(sql "SELECT actor FROM audit_logs WHERE job_id='$benign' AND to_state='COMPLETED'")"
health=$(curl -s --max-time 10 "http://127.0.0.1:$HEALTH/healthz")
expect_match "healthz: Redis, database and engine up" '"status":"ok"' "$health"
check "the sweep kept a live host worker's container" bash -c "docker inspect $decoy >/dev/null"

docker stop -t 30 "$NAME" >/dev/null
expect_eq "docker stop (SIGTERM): exit 0" 0 "$(docker inspect -f '{{.State.ExitCode}}' "$NAME")"
check "the worker logged a clean stop" bash -c "docker logs $NAME 2>&1 | grep -q '\"event\":\"stop\",\"msg\":\"worker stopped'"
expect_eq "no fetcher container left" 0 "$(ours_left_prefix)"
finish
