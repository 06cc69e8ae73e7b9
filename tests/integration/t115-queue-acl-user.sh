#!/usr/bin/env bash
# t115: an ACL user (REDIS_USERNAME, as managed Redis services hand out):
# the worker and `safeurl submit` authenticate with AUTH user password and
# work on a Redis whose default user is disabled; a wrong password stops
# the worker at start with exit 78 naming REDIS_USERNAME and
# REDIS_PASSWORD, without printing the password.
. "$(dirname "$0")/lib.sh"
. "$S/tests/interop/queue_lib.sh"
cd "$T"
start_redis
# (the default user is switched off below: stop the server by its pid)
at_exit "kill $(cat "$T/redis/redis.pid")"
# The user may run what BullMQ needs (every command on the queue's keys);
# the default user is switched off, so nothing works without the user.
redis-cli -p "$REDIS_PORT" ACL SETUSER scanner on '>acl-pw-1' '~*' '&*' '+@all' >/dev/null
redis-cli -p "$REDIS_PORT" ACL SETUSER default off >/dev/null
export QUEUE_NAME=acl REDIS_USERNAME=scanner

set +e
REDIS_PASSWORD=wrong-pw LOG_FORMAT=json timeout 60 "$B/safeurl-worker" --processor=noop 2>bad.log; WRC=$?
set -e
expect_eq "exit 78 with a wrong password" 78 "$WRC"
expect_match "refusal names the user and password variables" \
  "refused the password: WRONGPASS.*check REDIS_USERNAME and REDIS_PASSWORD" "$(cat bad.log)"
check "never consuming" bash -c "! grep -q consuming bad.log"
check "password not logged" bash -c "! grep -q -e wrong-pw -e acl-pw-1 bad.log"

set +e
REDIS_PASSWORD=wrong-pw TURSO_CONNECTION_URL="file:$T/cli.db" "$B/safeurl" submit http://example.test/ >submit.out 2>submit.err; SRC=$?
set -e
expect_eq "submit exits 78 with a wrong password" 78 "$SRC"
expect_match "submit names the variables" "WRONGPASS.*check REDIS_USERNAME and REDIS_PASSWORD" "$(cat submit.err)"

export REDIS_PASSWORD=acl-pw-1
start_worker good.log --processor=noop
for i in 1 2 3; do
  bull add "[{\"name\":\"scan\",\"data\":{},\"opts\":{\"jobId\":\"u$i\"}}]" >/dev/null
done
wait_for "3 jobs completed" 30 settled 3
expect_eq "completed by the ACL user's worker" 3 "$(counts_field completed)"
TURSO_CONNECTION_URL="file:$T/cli.db" "$B/safeurl" migrate >/dev/null
run env TURSO_CONNECTION_URL="file:$T/cli.db" "$B/safeurl" submit http://example.test/
expect_eq "submit with the ACL user" 0 "$RC"
wait_for "the submitted job completed" 30 settled 4
check "the connections run as the ACL user" bash -c \
  "redis-cli --user scanner --pass acl-pw-1 --no-auth-warning -p $REDIS_PORT CLIENT LIST | grep -v 'cmd=client' | grep -q 'user=scanner'"
check "no connection as the default user" bash -c \
  "! redis-cli --user scanner --pass acl-pw-1 --no-auth-warning -p $REDIS_PORT CLIENT LIST | grep -v 'cmd=client' | grep -q 'user=default'"
stop_worker
expect_eq "exit 0" 0 "$WRC"
check "password not logged" bash -c "! grep -q acl-pw-1 good.log"
finish
