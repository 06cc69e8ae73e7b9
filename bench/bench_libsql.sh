#!/usr/bin/env bash
# bench_libsql.sh - scan lifecycles per second through the store's remote
# libSQL backend against a tursodb server on loopback, and through the
# embedded file backend, in the same run (bench_store with a remote URL);
# then the round trips per lifecycle, counted at a recording proxy.
#   bench/bench_libsql.sh [FILE_LIFECYCLES [REMOTE_LIFECYCLES]]
#   (defaults 20000 and 500; release preset)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20000}
m=${2:-500}
cmake --preset release >/dev/null
cmake --build --preset release -j2 >/dev/null
export SAFEURL_BUILD_DIR=$PWD/build/release SAFEURL_SOURCE_DIR=$PWD
. tests/integration/lib.sh

start_tursodb
echo "== tursodb $("$TURSODB" --version) on $TURSO_CONNECTION_URL, database $T/turso.db"
"$B/bench_store" "$n" "$T" "$TURSO_CONNECTION_URL" "$m"

echo "== round trips (10 lifecycles through a recording proxy)"
stop_tursodb
rm -f "$T"/turso.db*
start_tursodb
mkdir "$T/rec"
start_libsql_proxy bench "$T/rec"
TURSO_AUTH_TOKEN=bench "$B/bench_store" 1 "$T" "http://127.0.0.1:$PROXY_PORT" 10 >/dev/null
total=$(cat "$T/rec/count")
opens=$(grep -l 'schema_migrations' "$T"/rec/*-req.json | wc -l)
echo "requests: $total in all, $opens to open the store (migrations)," \
  "$(( (total - opens) / 10 )) per lifecycle (create, read, claim, advance, complete)"
