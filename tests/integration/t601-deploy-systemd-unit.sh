#!/usr/bin/env bash
# t601: the systemd unit (contrib/systemd) as an operator installs it:
# `cmake --install` into an empty root, the unit, its environment file
# and the sandbox drop-in copied where docs/deployment.md says, then
# `systemd-analyze verify --root` (ExecStart must name the installed
# program) with not one warning, and `systemd-analyze security
# --offline` under a bound. The unit's stop timeout stays above the
# shutdown grace, 78 is never restarted, and the example environment file
# is accepted by the worker itself. No systemd runs the unit here: what
# is checked is what systemd would load, not a running service.
. "$(dirname "$0")/lib.sh"
command -v systemd-analyze >/dev/null ||
  die "systemd-analyze is not installed (scripts/deps.sh installs the systemd package)"
[ -d /usr/lib/systemd/system ] || die "/usr/lib/systemd/system is missing (package systemd)"

R=$T/root
UNIT=safeurl-worker.service
# Into the empty root (DESTDIR), as a package build would.
DESTDIR=$R cmake --install "$B" --prefix /usr/local >"$T/install.log" 2>&1 ||
  { cat "$T/install.log" >&2; die "cmake --install into $R failed"; }
check "the programs are installed under /usr/local/bin" \
  test -x "$R/usr/local/bin/safeurl-worker" -a -x "$R/usr/local/bin/safeurl" -a -x "$R/usr/local/bin/safeurl-fetcher"
check "the deployment doc named by Documentation= is installed" \
  test -f "$R/usr/local/share/doc/safeurl/deployment.md"
SHARE=$R/usr/local/share/safeurl/systemd
# systemd's own units (sysinit.target...), which verify resolves in the root.
mkdir -p "$R/usr/lib/systemd"
cp -a /usr/lib/systemd/system "$R/usr/lib/systemd/"
install -D -m 0644 "$SHARE/$UNIT" "$R/etc/systemd/system/$UNIT"
install -D -m 0640 "$SHARE/worker.env.example" "$R/etc/safeurl/worker.env"

# verify: exit 0 is not enough (an unknown key or a bad value is only a
# warning): the output must be empty.
verify() { systemd-analyze verify --root="$R" "$UNIT" 2>&1; }
expect_eq "systemd-analyze verify: no error, no warning" "" "$(verify)"
out=$(systemd-analyze security --offline=true --threshold=20 --root="$R" "$UNIT" 2>&1) ||
  { echo "$out" >&2; false; }
expect_match "security exposure of the Docker-runtime unit at most 2.0" \
  'Overall exposure level for safeurl-worker.service: ((0|1)\.[0-9]|2\.0) ' "$out"

# The check sees mistakes: the same unit with a misspelt key, and one
# whose ExecStart names a program that is not installed.
cp "$R/etc/systemd/system/$UNIT" "$T/unit.good"
printf '\n[Service]\nRestartPreventExitStatuss=78\n' >>"$R/etc/systemd/system/$UNIT"
expect_match "verify reports a misspelt key" "Unknown key 'RestartPreventExitStatuss'" "$(verify)"
sed 's|^ExecStart=.*|ExecStart=/usr/local/bin/safeurl-workerr|' "$T/unit.good" >"$R/etc/systemd/system/$UNIT"
expect_match "verify reports an ExecStart that is not installed" "safeurl-workerr is not executable" "$(verify)"
cp "$T/unit.good" "$R/etc/systemd/system/$UNIT"

# The sandbox drop-in, where docs/deployment.md puts it.
install -D -m 0644 "$SHARE/safeurl-worker-sandbox.conf" "$R/etc/systemd/system/$UNIT.d/sandbox.conf"
expect_eq "verify with the sandbox drop-in: no error, no warning" "" "$(verify)"
out=$(systemd-analyze security --offline=true --root="$R" "$UNIT" 2>&1 || true)
expect_match "the drop-in grants the sandbox's capabilities" 'CapabilityBoundingSet=~CAP_SYS_ADMIN +Service has administrator privileges' "$out"
expect_match "the drop-in runs the worker as root" 'User=/DynamicUser= +Service runs as root user' "$out"
rm -r "$R/etc/systemd/system/$UNIT.d"

# What the unit promises, read from the installed file.
key() { sed -n "s/^$1=//p" "$R/etc/systemd/system/$UNIT" | tail -1; }
expect_eq "ExecStart is the installed worker" /usr/local/bin/safeurl-worker "$(key ExecStart)"
expect_eq "exit 78 (configuration) is never restarted" 78 "$(key RestartPreventExitStatus)"
run bash -c "cd '$T' && exec env -i PATH=/usr/bin:/bin WORKER_CONCURRENCY=abc '$R/usr/local/bin/safeurl-worker'"
expect_eq "the installed worker exits 78 on a configuration error" 78 "$RC"
expect_eq "restarted on failure" on-failure "$(key Restart)"
expect_eq "stopped with SIGTERM" SIGTERM "$(key KillSignal)"
expect_eq "environment from /etc/safeurl/worker.env" /etc/safeurl/worker.env "$(key EnvironmentFile)"
stop=$(key TimeoutStopSec); stop=${stop%s}
grace=$(sed -n 's/^SHUTDOWN_GRACE_MS=//p' "$R/etc/safeurl/worker.env")
check "TimeoutStopSec (${stop}s) above SHUTDOWN_GRACE_MS (${grace} ms) by 10 s or more" \
  test $((stop * 1000)) -ge $((grace + 10000))

# The example environment file is a configuration the worker accepts,
# as its .env (same KEY=value syntax as EnvironmentFile).
mkdir "$T/wd"
cp "$R/etc/safeurl/worker.env" "$T/wd/.env"
run bash -c "cd '$T/wd' && exec env -i PATH=/usr/bin:/bin '$R/usr/local/bin/safeurl-worker' --check-config"
expect_eq "the worker accepts the example environment file" 0 "$RC"
expect_match "its database is in the unit's StateDirectory" '^TURSO_CONNECTION_URL=file:/var/lib/safeurl/' "$OUT"
expect_match "its health server stays on loopback" 'HEALTH_ADDR=127\.0\.0\.1' "$OUT"
finish
