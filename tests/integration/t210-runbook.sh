#!/usr/bin/env bash
# t210: the day-one runbook of docs/operations.md, its commands run as
# written against a scratch SQLite database and queue: why a scan failed,
# retry by code, draining with pause/resume, a WAL backup taken while a
# writer holds the database (VACUUM INTO, .backup) and restored, a schema
# upgrade, the refusal of a newer schema, and the rollback by restoring.
. "$(dirname "$0")/lib.sh"
cd "$T"
command -v sqlite3 >/dev/null || die "sqlite3 is not installed (scripts/deps.sh)"
start_redis
export QUEUE_NAME=runbook TURSO_CONNECTION_URL=file:local.db
su() { "$B/safeurl" "$@"; }

run su migrate
expect_eq "migrate" 0 "$RC"
ids=$(su submit http://127.0.0.1:9/one http://127.0.0.1:9/two)
ID=$(sed -n 1p <<<"$ids"); ID2=$(sed -n 2p <<<"$ids")
su cancel "$ID" >/dev/null

# Why did this scan fail?
run su stats
expect_match "stats: the failing code" "FAILED +CANCELLED +1" "$OUT"
run su list --state FAILED --since 1h
expect_match "list: the failed scan" "^$ID +FAILED +CANCELLED" "$OUT"
run su history "$ID"
expect_match "history: who moved it" "QUEUED +FAILED +1 +cli +\{.*\"error_code\":\"CANCELLED\"" "$OUT"
run su retry --state FAILED --code CANCELLED --since 1h --dry-run
expect_eq "retry --dry-run names it" "would retry $ID" "$OUT"
run su retry --state FAILED --code CANCELLED --since 1h
expect_match "retry by code" "^retried $ID" "$OUT"

# Draining
run su pause
expect_eq "pause" 0 "$RC"
expect_match "stats: paused" "queue bull:runbook \(paused\)" "$(su stats)"
expect_match "stats: active 0" "active +0" "$(su stats)"
run su resume
expect_eq "resume" 0 "$RC"

# Backup in WAL mode, while another connection holds the database open
# with a transaction in the WAL that no checkpoint has copied yet
expect_eq "WAL mode" wal "$(sqlite3 local.db 'PRAGMA journal_mode')"
coproc HOLD { sqlite3 local.db; }
at_exit "kill $HOLD_PID"
echo "PRAGMA wal_autocheckpoint=0; BEGIN; SELECT count(*) FROM scan_jobs; " >&"${HOLD[1]}"
sleep 0.5
stamp=$(date -u +%Y%m%dT%H%M%SZ)
sqlite3 local.db "VACUUM INTO 'backup-$stamp.db'"
sqlite3 local.db ".backup 'backup.db'"
expect_eq "backup integrity" ok "$(sqlite3 backup.db 'PRAGMA integrity_check')"
expect_eq "VACUUM INTO integrity" ok "$(sqlite3 "backup-$stamp.db" 'PRAGMA integrity_check')"
expect_eq "the backup has both scans" 2 "$(sqlite3 backup.db 'SELECT count(*) FROM scan_jobs')"
echo "COMMIT;" >&"${HOLD[1]}"
exec {HOLD[1]}>&-
wait "$HOLD_PID" 2>/dev/null || true

# Restore: programs stopped, old files aside, the backup in place
mkdir aside
mv local.db* aside/
cp backup.db local.db
run su status "$ID2" --format json
expect_match "restored: the scan is there" "\"id\":\"$ID2\",.*\"state\":\"QUEUED\"" "$OUT"

# Schema upgrade: pause, wait for active 0, back up, migrate, resume
su pause >/dev/null
expect_match "upgrade: active 0" "active +0" "$(su stats)"
sqlite3 local.db "VACUUM INTO 'before-upgrade.db'"
run su migrate
expect_match "upgrade: migrate" "^schema at version [0-9]+, 0 migrations applied$" "$OUT"
su resume >/dev/null

# A newer program's schema is refused by this one; rollback = restore
sqlite3 local.db "INSERT INTO schema_migrations VALUES (999, 0)"
run su status "$ID2"
expect_eq "newer schema refused: exit 78" 78 "$RC"
expect_match "newer schema named" "schema version 999 is newer than this program's" "$ERR"
mv local.db local-newer.db; rm -f local.db-wal local.db-shm
cp before-upgrade.db local.db
run su status "$ID2"
expect_eq "rolled back: status works" 0 "$RC"

# Remote database (a self-hosted libSQL server: tursodb behind a proxy
# that checks the token as a provider would)
start_tursodb
OLD=t210-old-token-secret NEW=t210-new-token-secret
start_libsql_proxy "$OLD"
OLD_PORT=$PROXY_PORT
export TURSO_CONNECTION_URL=http://127.0.0.1:$OLD_PORT TURSO_AUTH_TOKEN=$OLD
run su migrate
expect_eq "remote: migrate" 0 "$RC"
RID=$(su submit http://127.0.0.1:9/remote)
run su status "$RID"
expect_eq "remote: status" 0 "$RC"

# Rotating TURSO_AUTH_TOKEN: the new token works while the old one does,
# then the old one is revoked and refused with exit 78 naming the variable
start_libsql_proxy "$NEW"
NEW_PORT=$PROXY_PORT
export TURSO_CONNECTION_URL=http://127.0.0.1:$NEW_PORT TURSO_AUTH_TOKEN=$NEW
run su stats --format json
expect_eq "rotation: stats with the new token" 0 "$RC"
expect_eq "rotation: the scan counted" 1 \
  "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["states"].get("QUEUED", 0))' <<<"$OUT")"
TURSO_AUTH_TOKEN=$OLD run su stats
expect_eq "rotation: the old token revoked: exit 78" 78 "$RC"
expect_match "rotation: the variable named" "TURSO_AUTH_TOKEN" "$ERR"
check "rotation: no token in the output" bash -c "! grep -q -e '$OLD' -e '$NEW' <<<\"\$1\"" _ "$OUT$ERR"
finish
