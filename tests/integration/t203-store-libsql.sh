#!/usr/bin/env bash
# t203: the remote libSQL store against a real tursodb server: migrations
# over HTTP, one request per transition (counted at a recording proxy),
# one kept-alive connection per store when the server keeps it,
# the bearer token sent (tursodb checks none: a loopback proxy refuses
# requests without it), and clear start-up failures: wrong or missing
# token -> exit 78 from the worker and the CLI alike with the server's answer and no
# token in the log; unreachable server -> 69 after logged retries.
. "$(dirname "$0")/lib.sh"
cd "$T"
require_docker
start_redis
start_tursodb
TOKEN=t203-secret-token-value

run "$B/safeurl" migrate
expect_eq "migrate over HTTP exits 0" 0 "$RC"
expect_match "migrate applies the schema remotely" "^schema at version 3, 3 migrations applied$" "$OUT"
run "$B/safeurl" migrate
expect_match "second migrate applies nothing" "^schema at version 3, 0 migrations applied$" "$OUT"
expect_eq "tables on the server" "audit_logs scan_jobs scan_results schema_migrations" \
  "$(turso_sql "SELECT name FROM sqlite_schema WHERE type='table' ORDER BY name" | paste -sd' ')"

mkdir "$T/rec"
start_libsql_proxy "$TOKEN" "$T/rec"
PROXY_URL=http://127.0.0.1:$PROXY_PORT
count() { cat "$T/rec/count" 2>/dev/null || echo 0; }

TURSO_CONNECTION_URL=$PROXY_URL TURSO_AUTH_TOKEN=$TOKEN run "$B/safeurl" migrate
expect_eq "the right bearer token passes the proxy" 0 "$RC"
# opening a migrated store: the migrations table, the version (2);
# `migrate` then checks both again (2)
expect_eq "requests of a migrate on a migrated database" 4 "$(count)"
# 10 lifecycles (create, read, claim, advance, complete) through the proxy
TURSO_AUTH_TOKEN=$TOKEN run "$B/bench_store" 1 "$T" "$PROXY_URL" 10
expect_eq "bench lifecycles through the proxy" 0 "$RC"
expect_eq "one request per transition: open (2) + 5 per lifecycle" $((4 + 2 + 50)) "$(count)"
expect_eq "the lifecycles landed" 10 \
  "$(turso_sql "SELECT count(*) FROM scan_jobs WHERE state='COMPLETED'")"
expect_eq "with their audit rows" 40 \
  "$(turso_sql "SELECT count(*) FROM audit_logs WHERE job_id LIKE 'scan-%'")"

# keep-alive: a server that keeps the connection gets every request of a
# store on one connection (tursodb closes each; bench/latency_proxy.py at
# 0 ms keeps the client side open and counts connections and requests)
KA_PORT=$(free_port)
python3 "$S/bench/latency_proxy.py" "$KA_PORT" "$TURSO_PORT" 0 "$T/ka-stats" >>"$T/ka.log" 2>&1 &
at_exit "kill $!"
wait_for "keep-alive proxy" 30 test -s "$T/ka-stats" || die "keep-alive proxy did not start"
TURSO_CONNECTION_URL=http://127.0.0.1:$KA_PORT run "$B/safeurl" migrate
expect_eq "migrate through the keep-alive proxy" 0 "$RC"
expect_eq "its 4 requests on one connection" "connections 1 requests 4" "$(cat "$T/ka-stats")"

# worker start-up failures
worker_exit() {
  set +e
  env "$@" WORKER_ID=t203 LOG_FORMAT=text "$B/safeurl-worker" >"$T/w.log" 2>&1; RC=$?
  set -e
  LOG=$(cat "$T/w.log")
}
worker_exit TURSO_CONNECTION_URL="$PROXY_URL" TURSO_AUTH_TOKEN=wrong-token-value
expect_eq "wrong token: worker exits 78" 78 "$RC"
expect_match "wrong token: the server's answer" "refused the credentials \(HTTP 401\): check TURSO_AUTH_TOKEN: .*invalid token" "$LOG"
check "wrong token: never logged" bash -c "! grep -q wrong-token-value '$T/w.log'"
check "wrong token: not retried" bash -c "! grep -q db_retry '$T/w.log'"
worker_exit TURSO_CONNECTION_URL="$PROXY_URL" TURSO_AUTH_TOKEN=
expect_eq "no token: worker exits 78" 78 "$RC"
TURSO_CONNECTION_URL=$PROXY_URL TURSO_AUTH_TOKEN=wrong-token-value run "$B/safeurl" status x
expect_eq "wrong token: CLI exits 78" 78 "$RC"
nobody=$(free_port)
worker_exit TURSO_CONNECTION_URL="http://127.0.0.1:$nobody" DB_RETRY_ATTEMPTS=3 DB_RETRY_MAX_MS=2000
expect_eq "unreachable server: worker exits 69" 69 "$RC"
expect_match "unreachable server: named" "cannot reach 'http://127.0.0.1:$nobody/v2/pipeline'" "$LOG"
expect_eq "unreachable server: each retry logged" 3 "$(grep -c db_retry "$T/w.log")"
worker_exit TURSO_CONNECTION_URL="$TURSO_CONNECTION_URL/wrong/path"
expect_eq "a 4xx answer: worker exits 78" 78 "$RC"
expect_match "a 4xx answer: status and text" "answered HTTP 404: Not Found" "$LOG"
finish
