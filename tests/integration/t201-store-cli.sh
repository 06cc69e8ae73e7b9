#!/usr/bin/env bash
# t201: safeurl migrate/status/result on real SQLite files: outputs, exit
# codes for unknown ids (65), unusable databases (78, as the worker) and
# usage (64); relative and absolute file: URLs; an unreachable remote
# database (69); read commands never create or migrate a database, and a
# schema newer than the program is refused by every command.
. "$(dirname "$0")/lib.sh"
cd "$T"
command -v sqlite3 >/dev/null || die "sqlite3 is not installed (scripts/deps.sh)"

for cmd in "status x" "result x" "list" "stats" "history x" "cancel x" "retry x"; do
  TURSO_CONNECTION_URL=file:typo.db run "$B/safeurl" $cmd
  expect_eq "$cmd on a missing database exits 78" 78 "$RC"
  expect_match "$cmd names the missing path" "database 'typo.db' does not exist \(TURSO_CONNECTION_URL='file:typo.db'\)" "$ERR"
done
check "no read command created the database" test ! -e typo.db
sqlite3 empty.db 'CREATE TABLE t(x)'
TURSO_CONNECTION_URL=file:empty.db run "$B/safeurl" status x
expect_eq "a database without the schema exits 78" 78 "$RC"
expect_match "without the schema: says to migrate" "'file:empty.db' has no safeurl schema: create it with .safeurl migrate." "$ERR"
expect_eq "without the schema: not migrated" "t" "$(sqlite3 empty.db "SELECT group_concat(name) FROM sqlite_schema WHERE type='table'")"

run "$B/safeurl" migrate
expect_eq "migrate on a new database exits 0" 0 "$RC"
expect_match "migrate applies the schema" "^schema at version 3, 3 migrations applied$" "$OUT"
check "default URL file:./local.db is created" test -f local.db
run "$B/safeurl" migrate
expect_match "second migrate applies nothing" "^schema at version 3, 0 migrations applied$" "$OUT"
expect_eq "schema_migrations has one row per migration" 3 "$(sqlite3 local.db 'SELECT count(*) FROM schema_migrations')"
expect_eq "WAL journal" wal "$(sqlite3 local.db 'PRAGMA journal_mode')"

sqlite3 local.db <<'SQL'
INSERT INTO scan_jobs(id, url, state, version, attempts, worker_id, lease_expires_at,
  error_code, error_message, created_at, updated_at) VALUES ('job-fetch', 'https://example.com/a', 'FETCHING', 1, 1,
  'host:42', 1764371700000, NULL, NULL, 1764371656123, 1764371670000);
INSERT INTO scan_jobs(id, url, state, version, attempts, worker_id, lease_expires_at,
  error_code, error_message, created_at, updated_at) VALUES ('job-done', 'https://example.com/b', 'COMPLETED', 3, 1,
  'host:42', NULL, NULL, NULL, 1764371656123, 1764371680000);
INSERT INTO scan_results VALUES ('job-done', 'safe', 3, 200, 'https://example.com/b',
  'text/html', NULL, 10, '{"ok":true,"verdict":"safe","riskScore":3}', 1764371680000);
INSERT INTO scan_jobs(id, url, state, version, attempts, worker_id, lease_expires_at,
  error_code, error_message, created_at, updated_at) VALUES ('job-failed', 'https://example.com/c', 'FAILED', 2, 1,
  'host:42', NULL, 'CONTAINER_CRASH', 'exit 137', 1764371656123, 1764371690000);
SQL

run "$B/safeurl" status job-fetch
expect_eq "status exits 0" 0 "$RC"
expect_match "status shows the state" "^state: +FETCHING$" "$(grep '^state:' <<<"$OUT")"
expect_match "status shows the version" "^version: +1$" "$(grep '^version:' <<<"$OUT")"
expect_match "status shows the attempts" "^attempts: +1$" "$(grep '^attempts:' <<<"$OUT")"
expect_match "status shows the worker" "^worker: +host:42$" "$(grep '^worker:' <<<"$OUT")"
expect_match "status shows the lease in UTC" "^lease: +2025-11-28T23:15:00.000Z \(1764371700000\)$" "$(grep '^lease:' <<<"$OUT")"
expect_match "status shows creation time" "^created: +2025-11-28T23:14:16.123Z" "$(grep '^created:' <<<"$OUT")"
run "$B/safeurl" status job-failed
expect_match "status shows the error" "^error: +CONTAINER_CRASH: exit 137$" "$(grep '^error:' <<<"$OUT")"
expect_match "no lease on a terminal row" "^lease: +-$" "$(grep '^lease:' <<<"$OUT")"

run "$B/safeurl" result job-done
expect_eq "result exits 0" 0 "$RC"
expect_eq "result prints the stored JSON" '{"ok":true,"verdict":"safe","riskScore":3}' "$OUT"

run "$B/safeurl" status nope
expect_eq "unknown id: status exits 65" 65 "$RC"
expect_match "unknown id is named" "scan 'nope' not found" "$ERR"
run "$B/safeurl" result nope
expect_eq "unknown id: result exits 65" 65 "$RC"
expect_match "unknown id is named by result" "scan 'nope' not found" "$ERR"
run "$B/safeurl" result job-fetch
expect_eq "no result yet exits 65" 65 "$RC"
expect_match "no result names the state" "scan 'job-fetch' has no result \(state FETCHING\)" "$ERR"
expect_eq "nothing on stdout without a result" "" "$OUT"

run "$B/safeurl" status
expect_eq "status without an id exits 64" 64 "$RC"
run "$B/safeurl" result a b
expect_eq "result with two ids exits 64" 64 "$RC"

mkdir sub
TURSO_CONNECTION_URL="file:$T/sub/abs.db" run "$B/safeurl" migrate
expect_eq "absolute file: URL works" 0 "$RC"
check "absolute path created" test -f "$T/sub/abs.db"
(cd sub && TURSO_CONNECTION_URL=file:rel.db run "$B/safeurl" migrate)
check "relative file: URL is relative to the working directory" test -f "$T/sub/rel.db"

echo "hello, not a database" > junk.db
TURSO_CONNECTION_URL=file:junk.db run "$B/safeurl" status x
expect_eq "non-database file exits 78" 78 "$RC"
expect_match "non-database file is named" "cannot open 'file:junk.db': file is not a database" "$ERR"
check "non-database file left alone" grep -q "hello" junk.db

cp local.db corrupt.db
sqlite3 corrupt.db 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
dd if=/dev/urandom of=corrupt.db bs=4096 seek=1 count=6 conv=notrunc status=none
TURSO_CONNECTION_URL=file:corrupt.db run "$B/safeurl" status job-fetch
expect_eq "corrupt database exits 78" 78 "$RC"
expect_match "corrupt database is said so" "malformed|not a database" "$ERR"

TURSO_CONNECTION_URL=file:sub run "$B/safeurl" status x
expect_eq "a directory as database exits 78" 78 "$RC"
expect_match "unopenable database is named" "cannot open 'file:sub'" "$ERR"

nobody=$(free_port)
TURSO_CONNECTION_URL=http://127.0.0.1:$nobody DB_RETRY_ATTEMPTS=2 run "$B/safeurl" status x
expect_eq "unreachable remote database exits 69" 69 "$RC"
expect_match "unreachable remote database is named" "cannot reach 'http://127.0.0.1:$nobody/v2/pipeline'" "$ERR"

run "$B/safeurl" --help
expect_match "--help documents 65" "65 +bad input" "$OUT"
expect_match "--help documents 78" "78 +configuration: a bad variable, or what it names" "$OUT"
expect_match "--help documents 69" "69 +service unavailable" "$OUT"

# a schema newer than this program: refused by reads and by migrate alike
cp local.db newer.db
sqlite3 newer.db "INSERT INTO schema_migrations VALUES (99, 0)"
for cmd in "status job-done" "migrate"; do
  TURSO_CONNECTION_URL=file:newer.db run "$B/safeurl" $cmd
  expect_eq "newer schema: $cmd exits 78" 78 "$RC"
  expect_match "newer schema: $cmd says so" "schema version 99 is newer than this program's 3" "$ERR"
done
finish
