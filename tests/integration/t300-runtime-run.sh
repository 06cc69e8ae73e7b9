#!/usr/bin/env bash
# t300: the runtime against the real engine: version negotiation and CPU
# count, the CPU-limit check, a missing image named with how to build it,
# an unreachable socket, output captured from both streams, exit code and
# stderr tail on a crash, and the container's lockdown (settings seen by
# the engine and by the process inside). Nothing of ours is left after.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_runtime.sh"

out=$(drv open)
expect_eq "open negotiates API 1.41" "1.41" "$(jget "$out" api)"
ncpu=$(jget "$out" ncpu)
check "open reads the engine's CPU count" test "$ncpu" -ge 1
out=$(drv --cpus $((ncpu + 1)) open)
expect_eq "CPU limit over the engine's count is a config error" invalid "$(jget "$out" kind)"
expect_match "CPU message names the variable and the count" \
  "CONTAINER_CPU_LIMIT='$((ncpu + 1))'.*$ncpu CPUs" "$(jget "$out" error)"
out=$(drv --cpus "$ncpu" open)
expect_eq "CPU limit equal to the count is accepted" true "$(jget "$out" ok)"

out=$(drv image safeurl-missing-image:latest)
expect_eq "missing image is unavailable" unavailable "$(jget "$out" kind)"
expect_match "missing image says how to build it" \
  "image 'safeurl-missing-image:latest' not found.*scripts/build-image.sh" "$(jget "$out" error)"
out=$(drv run --image safeurl-missing-image:latest -- json '{}')
expect_match "run with a missing image says how to build it" \
  "unavailable.*build-image.sh" "$(jget "$out" kind) $(jget "$out" error)"
out=$(DOCKER_SOCKET_PATH=$T/nothing.sock drv open)
expect_eq "unreachable socket is unavailable" unavailable "$(jget "$out" kind)"
expect_match "unreachable socket is named" "nothing.sock' unreachable" "$(jget "$out" error)"

doc='{"ok":true,"verdict":"safe","url":"http://127.0.0.1/"}'
out=$(drv run --job t300-json -- json "$doc")
expect_eq "exit 0 is success" true "$(jget "$out" ok)"
expect_eq "stdout captured byte for byte" "$doc" "$(jget "$out" stdout)"
expect_eq "exit code 0 reported" 0 "$(jget "$out" exit_code)"
check "spawn time measured" python3 -c "import sys; assert 0 < $(jget "$out" spawn_ms) <= $(jget "$out" total_ms)"

LOG_FORMAT=json "$DRV" run --job t300-log -- exit 4 >/dev/null 2>"$T/log" || true
expect_match "container_start logged with job id" \
  '"job":"t300-log","event":"container_start".*started in' "$(cat "$T/log")"
expect_match "container_exit logged with outcome and exit code" \
  '"job":"t300-log","event":"container_exit".*ended: crash, exit code 4' "$(cat "$T/log")"

out=$(drv run -- mixed 300)
expect_eq "stdout of interleaved streams is whole" 300 "$(jget "$out" stdout | grep -c '^out ')"
expect_match "stderr tail ends with the last line" "err 299$" "$(jget "$out" stderr_tail)"

out=$(drv run --job t300-crash -- exit 3 "fatal: cannot parse config")
expect_eq "non-zero exit is a crash" crash "$(jget "$out" kind)"
expect_eq "exit code reported" 3 "$(jget "$out" exit_code)"
expect_match "crash message has exit code and stderr tail" \
  "exited with code 3: fatal: cannot parse config" "$(jget "$out" error)"
out=$(drv run -- errflood 100000)
expect_eq "stderr tail is bounded to 4 KiB" 4096 "$(jlen "$out" stderr_tail)"
expect_match "stderr tail keeps the end" "END$" "$(jget "$out" stderr_tail)"

# The sandbox as the process inside sees it.
expect_probe "$(jget "$(drv run -- probe)" stdout)"

# The settings as the engine holds them, read while a container runs
# (labelled with the real host name: no --host here).
"$DRV" run --job t300-live --timeout-ms 20000 --memory-mb 64 --pids 40 -- sleep >"$T/live.json" 2>>"$T/driver.err" &
live=$!
wait_for "the live container" 20 test -n "$(ours_with "t300-live")"
id=$(ours_with "t300-live" | head -1)
api GET "/containers/$id/json" >"$T/inspect.json"
api POST "/containers/$id/kill" >/dev/null
wait "$live" || true
check_inspect() {
  python3 - "$T/inspect.json" "$WORKER_ID" "$(hostname)" "$(readlink /proc/self/ns/pid)" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); h = c["HostConfig"]; l = c["Config"]["Labels"]
want = {
  "Memory": 64 << 20, "MemorySwap": 64 << 20, "NanoCpus": 500000000,
  "PidsLimit": 40, "ReadonlyRootfs": True, "CapDrop": ["ALL"],
  "NetworkMode": "none",
  "AutoRemove": False, "Privileged": False,
  "Tmpfs": {"/tmp": "rw,noexec,nosuid,nodev,size=16m"},
}
bad = {k: h.get(k) for k, v in want.items() if h.get(k) != v}
opts = h.get("SecurityOpt") or []
if len(opts) != 2 or opts[0] != "no-new-privileges" or not opts[1].startswith("seccomp="):
    bad["SecurityOpt"] = [o[:40] for o in opts]
elif json.loads(opts[1][8:]).get("defaultAction") != "SCMP_ACT_ERRNO":
    bad["seccomp"] = opts[1][:80]
if c["Config"]["User"] != "65534:65534": bad["User"] = c["Config"]["User"]
if l.get("safeurl.job") != "t300-live": bad["job"] = l
if l.get("safeurl.worker") != sys.argv[2]: bad["worker"] = l
if l.get("safeurl.host") != sys.argv[3]: bad["host"] = l
if not l.get("safeurl.pid", "").isdigit(): bad["pid"] = l
if l.get("safeurl.pidns") != sys.argv[4]: bad["pidns"] = l
if bad: print(bad); sys.exit(1)
PY
}
check "container created with every SPEC section 6 setting and label" check_inspect
expect_eq "a container killed from outside is a crash" crash "$(jget "$(cat "$T/live.json")" kind)"

expect_eq "no container of ours is left" 0 "$(ours_left)"
check "driver ran clean under the sanitizers" sanitizer_clean
finish
