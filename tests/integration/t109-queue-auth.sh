#!/usr/bin/env bash
# t109: a Redis that requires a password: with REDIS_PASSWORD the worker
# authenticates both connections and processes jobs; with a wrong one it
# logs the refusal, keeps retrying, never prints the password, and still
# stops cleanly.
. "$(dirname "$0")/lib.sh"
. "$S/tests/interop/queue_lib.sh"
cd "$T"
start_redis
redis-cli -p "$REDIS_PORT" config set requirepass 's3cret-pw' >/dev/null
export QUEUE_NAME=auth
bull_auth() { REDIS_PASSWORD=s3cret-pw node "$S/tests/interop/bull.js" "$@"; }

REDIS_PASSWORD=wrong-pw start_worker bad.log --processor=noop
wait_for "refusal logged" 10 grep -q 'rejected the password' bad.log
stop_worker
expect_eq "exit 0 with a wrong password" 0 "$WRC"
check "password not logged" bash -c "! grep -q -e wrong-pw -e s3cret-pw bad.log"

REDIS_PASSWORD=s3cret-pw start_worker good.log --processor=noop
bull_auth add '[{"name":"scan","data":{},"opts":{"jobId":"a1"}}]' >/dev/null
wait_for "job completed" 10 grep -q '"job":"a1","event":"complete"' good.log
stop_worker
expect_eq "exit 0" 0 "$WRC"
check "password not logged" bash -c "! grep -q s3cret-pw good.log"
finish
