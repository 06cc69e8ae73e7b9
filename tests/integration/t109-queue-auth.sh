#!/usr/bin/env bash
# t109: a Redis that requires a password: with REDIS_PASSWORD the worker
# authenticates both connections and processes jobs; with a wrong or
# missing one it stops at start with exit 78 naming REDIS_PASSWORD (a
# refusal is configuration, not an outage), never prints the password and
# never claims to be consuming; `safeurl submit` exits 78 the same way.
. "$(dirname "$0")/lib.sh"
. "$S/tests/interop/queue_lib.sh"
cd "$T"
start_redis
redis-cli -p "$REDIS_PORT" config set requirepass 's3cret-pw' >/dev/null
export QUEUE_NAME=auth
bull_auth() { REDIS_PASSWORD=s3cret-pw node "$S/tests/interop/bull.js" "$@"; }

set +e
REDIS_PASSWORD=wrong-pw LOG_FORMAT=json timeout 60 "$B/safeurl-worker" --processor=noop 2>bad.log; WRC=$?
set -e
expect_eq "exit 78 with a wrong password" 78 "$WRC"
expect_match "refusal named" "refused the password: WRONGPASS.*check REDIS_PASSWORD" "$(cat bad.log)"
check "never consuming" bash -c "! grep -q consuming bad.log"
check "password not logged" bash -c "! grep -q -e wrong-pw -e s3cret-pw bad.log"
set +e
REDIS_PASSWORD= LOG_FORMAT=json timeout 60 "$B/safeurl-worker" --processor=noop 2>none.log; WRC=$?
set -e
expect_eq "exit 78 without a password" 78 "$WRC"
expect_match "NOAUTH named" "refused the password: NOAUTH" "$(cat none.log)"

# safeurl submit likewise: a refused password is configuration (78).
for pw in wrong-pw ""; do
  set +e
  REDIS_PASSWORD=$pw TURSO_CONNECTION_URL="file:$T/cli.db" "$B/safeurl" submit http://example.test/ >submit.out 2>submit.err; SRC=$?
  set -e
  expect_eq "submit exits 78 (password '${pw:-none}')" 78 "$SRC"
  expect_match "submit names REDIS_PASSWORD (password '${pw:-none}')" "(WRONGPASS|NOAUTH).*check REDIS_PASSWORD" "$(cat submit.err)"
  check "submit prints no password" bash -c "! grep -q -e wrong-pw -e s3cret-pw submit.out submit.err"
done

REDIS_PASSWORD=s3cret-pw start_worker good.log --processor=noop
bull_auth add '[{"name":"scan","data":{},"opts":{"jobId":"a1"}}]' >/dev/null
wait_for "job completed" 10 grep -q '"job":"a1","event":"complete"' good.log
stop_worker
expect_eq "exit 0" 0 "$WRC"
check "password not logged" bash -c "! grep -q s3cret-pw good.log"
finish
