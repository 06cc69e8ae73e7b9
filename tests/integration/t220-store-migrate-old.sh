#!/usr/bin/env bash
# t220: databases written by earlier releases upgrade in place, on an
# embedded file and on a tursodb server: schema version 1 (the release
# before migration 2, dumps in tests/fixtures/schema-v1) and version 2
# (the release before migration 3, schema-v2), both made by
# tests/fixtures/schema_dumps.sh with that release's safeurl. `migrate`
# applies only the missing migrations, the rows keep their states and
# audit trails (version 1 rows gain empty queue columns), the indexes are
# those of a new database, and a worker then finishes them all (the
# QUEUED ones by a claim, the one a dead worker held by a takeover),
# recording its queue and job in each.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_worker.sh"
command -v sqlite3 >/dev/null || die "sqlite3 is not installed (scripts/deps.sh)"
ensure_fetcher_image
Q=bull:scan-jobs

# ids as the old release wrote them; their queue jobs were in a Redis that
# is gone: add them again as that release's submit did (job id = scan id).
readd_jobs() {
  local id
  for id in $ids; do
    $BULL add "[{\"name\":\"scan\",\"data\":{\"jobId\":\"$id\"},\"opts\":{\"jobId\":\"$id\",\"attempts\":3}}]" >/dev/null
  done
}

# upgrade NAME FROM: migrate a database at schema version FROM, check,
# run a worker until every scan is done.
upgrade() {
  local name=$1 from=$2 id applied
  ids=$(sql "SELECT id FROM scan_jobs ORDER BY id")
  expect_eq "$name: three scans in the old database" 3 "$(wc -w <<<"$ids")"
  legacy=$(sql "SELECT id FROM scan_jobs WHERE state='FETCHING'")
  before=$(sql "SELECT id, state, version, attempts, worker_id FROM scan_jobs ORDER BY id")
  run "$B/safeurl" migrate
  expect_eq "$name: migrate exits 0" 0 "$RC"
  applied=$((3 - from))
  expect_match "$name: the missing migrations applied in place" \
    "^schema at version 3, $applied migrations? applied$" "$OUT"
  expect_eq "$name: rows unchanged by the migration" "$before" \
    "$(sql "SELECT id, state, version, attempts, worker_id FROM scan_jobs ORDER BY id")"
  if [ "$from" = 1 ]; then
    expect_eq "$name: old rows record no queue" "3|3" \
      "$(sql "SELECT sum(queue IS NULL), sum(queue_job_id IS NULL) FROM scan_jobs")"
  else
    expect_eq "$name: rows keep the queue submit recorded" "3|3" \
      "$(sql "SELECT sum(queue = '$Q'), sum(queue_job_id = id) FROM scan_jobs")"
  fi
  expect_eq "$name: the indexes of a new database" \
    "audit_logs_job scan_jobs_queue_lease scan_jobs_queue_queued" \
    "$(sql "SELECT name FROM sqlite_schema WHERE type='index' AND sql IS NOT NULL ORDER BY name" | paste -sd' ')"
  run "$B/safeurl" status "$legacy"
  expect_match "$name: status reads an old row" "FETCHING" "$OUT"
  readd_jobs
  start_worker "$name" SAFEURL_TEST_LOCK_MS=1000
  # shellcheck disable=SC2086
  wait_terminal 90 $ids || { cat "$T/$name.log" >&2; die "$name: old scans did not finish"; }
  stop_worker "$name"
  expect_eq "$name: every old scan completed" "COMPLETED COMPLETED COMPLETED" \
    "$(sql "SELECT state FROM scan_jobs ORDER BY id" | paste -sd' ')"
  expect_eq "$name: the dead worker's scan was taken over" \
    "NULL>QUEUED@0 QUEUED>FETCHING@1 FETCHING>FETCHING@2 FETCHING>ANALYZING@3 ANALYZING>COMPLETED@4" \
    "$(audit_trail "$legacy")"
  for id in $ids; do
    expect_eq "$name: claim recorded queue and job of $id" "$Q|$id" \
      "$(sql "SELECT queue||'|'||queue_job_id FROM scan_jobs WHERE id='$id'")"
  done
  expect_eq "$name: worker stopped cleanly" 0 "$WRC"
  check "$name: no sanitizer report" logs_clean "$name"
}

start_fixture
# The fixture's URLs point at example.com; the worker may not leave
# loopback: send them to the fixture site instead (the row's url wins).
point_at_fixture() {
  sql "UPDATE scan_jobs SET url = replace(url, 'https://example.com/', '$SITE/benign?')"
}

# load_file FROM / load_libsql FROM: the old release's database, from its
# dump, as a file and on a fresh tursodb server.
load_file() {
  redis-cli -p "$REDIS_PORT" FLUSHALL >/dev/null
  export TURSO_CONNECTION_URL=file:$DB
  rm -f "$DB" "$DB"-wal "$DB"-shm
  sqlite3 "$DB" <"$S/tests/fixtures/schema-v$1/file.sql"
  point_at_fixture
}
load_libsql() {
  redis-cli -p "$REDIS_PORT" FLUSHALL >/dev/null
  rm -f "$T"/turso.db*
  start_tursodb
  python3 - "$S/tests/fixtures/schema-v$1/libsql.sql" <<'PY' | while IFS= read -r -d '' stmt; do turso_sql "$stmt" >/dev/null; done
import sys
text = open(sys.argv[1]).read()
for stmt in text.split(";\n"):
    s = stmt.strip()
    if not s or s.upper().startswith(("BEGIN", "COMMIT", "PRAGMA")):
        continue
    sys.stdout.write(s + "\0")
PY
  expect_eq "libsql v$1: the old schema is loaded" "$1" "$(sql "SELECT max(version) FROM schema_migrations")"
  point_at_fixture
}

file_sql() { sqlite3 -cmd ".timeout 5000" "$DB" "$1"; }
for from in 1 2; do
  sql() { file_sql "$1"; }
  load_file "$from"
  upgrade "file-v$from" "$from"
  sql() { turso_sql "$1"; }
  load_libsql "$from"
  upgrade "libsql-v$from" "$from"
  stop_tursodb
done
finish
