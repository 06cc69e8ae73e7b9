# bench_scans.sh - one end-to-end measurement, shared by the benchmarks
# (source it; needs B, T and the Redis and runtime settings exported).
#
# scans NAME CONC COUNT URL [VAR=VALUE...]: submit COUNT scans of URL?i to
# a queue of their own, run one safeurl-worker with WORKER_CONCURRENCY=CONC
# and the VAR=VALUE settings until every scan is terminal, stop it, and
# print scans per second from the first claim to the last COMPLETED in the
# audit trail. Fails unless every scan COMPLETED.
scans() {
  local name=$1 conc=$2 count=$3 url=$4 db=$T/e2e-$1-$2.db w i
  shift 4
  export TURSO_CONNECTION_URL=file:$db QUEUE_NAME=bench-$name-$conc
  "$B/safeurl" submit $(for i in $(seq 1 "$count"); do echo "$url?$i"; done) >/dev/null
  env WORKER_CONCURRENCY="$conc" "$@" "$B/safeurl-worker" 2>"$T/worker-$name-$conc.log" &
  w=$!
  until [ "$(sqlite3 "$db" "SELECT count(*) FROM scan_jobs WHERE state IN ('COMPLETED','FAILED','TIMED_OUT')")" = "$count" ]; do
    sleep 0.1
    kill -0 $w 2>/dev/null || { cat "$T/worker-$name-$conc.log" >&2; exit 1; }
  done
  kill -TERM $w
  wait $w
  [ "$(sqlite3 "$db" "SELECT count(*) FROM scan_jobs WHERE state='COMPLETED'")" = "$count" ] ||
    { echo "bench: $name: not every scan completed: $(sqlite3 "$db" "SELECT state, error_code, count(*) FROM scan_jobs GROUP BY 1, 2")" >&2; exit 1; }
  sqlite3 "$db" "SELECT $count * 1000.0 / (max(created_at) - min(created_at)) FROM audit_logs WHERE to_state IN ('FETCHING','COMPLETED')"
}
