#!/usr/bin/env bash
# t305: the sandbox runtime against a hostile program trying to get out:
# host processes unseen and unreachable, the host's loopback services
# unreachable in network mode none (reachable in host mode: the probe can
# tell; bridge, the egress network, is t306's), mount, chroot, ptrace,
# setuid(0), new namespaces, bpf, keyctl,
# perf, modules, the clock, the hostname, listening, picking an output
# interface and socket diagnostics refused; the seccomp allow-list's
# bypasses refused too (AF_VSOCK, bit 32 set in a socket family or a
# socket option level, calls newer than libseccomp, personality and the
# cross-process and NUMA calls, UDP and unix binds); the sandbox as the
# program sees it (uid, capabilities, read-only root, noexec /tmp) and as
# the kernel holds it (cgroup limits, rlimits, seccomp, namespaces). A
# daemon left behind dies with the sandbox. A worker killed mid-scan
# leaves no process; its cgroups go at the next sweep, which keeps a live
# worker's. A named network is a config error. No cgroup,
# mount or process of ours is left.
export CONTAINER_RUNTIME=sandbox
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_runtime.sh"

# A loopback service of the host, for the sandbox to try.
PORT=$(free_port)
python3 -c 'import socket,sys,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64); time.sleep(600)' "$PORT" &
at_exit "kill $!"
wait_for "the loopback service" 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT" || die "no loopback service"

esc=$(jget "$(drv run -- escape "$PORT" $$)" stdout)
expect_eq "no other process visible" 0 "$(jget "$esc" procs)"
expect_eq "host pid cannot be signalled" ESRCH "$(jget "$esc" kill_host)"
expect_eq "network none: host loopback service unreachable" ECONNREFUSED "$(jget "$esc" loopback)"
for call in mount chroot ptrace setuid userns netns bpf keyctl perf module clock hostname listen \
            bindtodevice sockdiag vsock netlink_hi broadcast_hi listmount statmount mseal \
            personality pidfd_getfd process_madvise fanotify_init mbind set_mempolicy move_pages \
            udp_bind unix_dgram_bind unix_bind; do
  expect_eq "$call refused" EPERM "$(jget "$esc" "$call")"
done
esc=$(jget "$(drv --network host run -- escape "$PORT" $$)" stdout)
expect_eq "network host (tests only): the same service answers" ok "$(jget "$esc" loopback)"

expect_probe "$(jget "$(drv run -- probe)" stdout)"

# The limits and lockdown as the kernel holds them, read while a sandbox
# runs: its cgroups, rlimits, capability sets, seccomp, namespaces.
token="t305-live-$$-$RANDOM"
CONTAINER_CPU_LIMIT=0.25 drv run --memory-mb 64 --pids 40 --timeout-ms 20000 \
  --cancel-after-ms 4000 -- sleep "$token" >/dev/null &
live=$!
wait_for "the live sandbox" 20 pgrep -f "testbox [s]leep $token" || die "the sandbox did not start"
pid=$(pgrep -f "testbox [s]leep $token" | head -1)
cg_of() { awk -F: -v c="$1" '$2 == c {print $3}' "/proc/$pid/cgroup"; }
limit() { cat "/sys/fs/cgroup/$1$(cg_of "$1")/$2"; }
if [ -d /sys/fs/cgroup/memory ]; then
  expect_eq "memory limit" 67108864 "$(limit memory memory.limit_in_bytes)"
  expect_eq "swap off (memory+swap = memory)" 67108864 "$(limit memory memory.memsw.limit_in_bytes)"
  expect_eq "CPU quota: 0.25 of each 100 ms" 25000 "$(limit cpu cpu.cfs_quota_us)"
  expect_eq "pids limit" 40 "$(limit pids pids.max)"
else
  dir=/sys/fs/cgroup$(awk -F: '$1 == 0 {print $3}' "/proc/$pid/cgroup")
  expect_eq "memory limit" 67108864 "$(cat "$dir/memory.max")"
  expect_eq "swap off" 0 "$(cat "$dir/memory.swap.max")"
  expect_eq "CPU quota: 0.25 of each 100 ms" "25000 100000" "$(cat "$dir/cpu.max")"
  expect_eq "pids limit" 40 "$(cat "$dir/pids.max")"
fi
expect_match "no core dumps" "Max core file size +0 +0" "$(cat "/proc/$pid/limits")"
expect_match "open files capped" "Max open files +256 +256" "$(cat "/proc/$pid/limits")"
expect_match "empty bounding set" "CapBnd:.0000000000000000" "$(cat "/proc/$pid/status")"
expect_match "seccomp filter on" "Seccomp:.2" "$(cat "/proc/$pid/status")"
for ns in pid mnt ipc uts net; do
  check "own $ns namespace" test "$(readlink "/proc/$pid/ns/$ns")" != "$(readlink "/proc/self/ns/$ns")"
done
wait "$live" || true

token="t305-orphan-$$-$RANDOM"
out=$(drv run -- orphan "$token")
expect_eq "the program exits 0 after leaving a daemon" true "$(jget "$out" ok)"
check "the daemon died with the sandbox" bash -c "! pgrep -f 'testbox [s]leep $token'"

# A worker killed mid-scan: the kernel kills its sandboxes (parent-death
# signal on the namespace's init), its cgroups stay until a sweep.
token="t305-crash-$$-$RANDOM"
"$DRV" --host "$TEST_HOST" run --timeout-ms 60000 -- sleep "$token" >/dev/null 2>>"$T/driver.err" &
crashed=$!
wait_for "the sandbox to run" 20 pgrep -f "testbox [s]leep $token" || die "the sandbox did not start"
kill -9 "$crashed"
wait "$crashed" 2>/dev/null || true
check "no process outlives its killed worker" wait_for "the sandbox to die" 10 bash -c "! pgrep -f 'testbox [s]leep $token'"
check "the dead worker's cgroups are still there" test "$(sandbox_cgroups "$WORKER_ID" | wc -l)" -ge 1
# Leftovers of other workers: a live one (our shell's pid) and a dead one.
sleep 0 & dead=$!
wait "$dead" || true
for t in $SB_TREES; do mkdir -p "$t/w$$-t305-live-$$/s1" "$t/w$dead-t305-dead-$$/s1"; done
at_exit "remove_sandbox t305-live-$$"
# The killed worker's scans: its own and the warm one made ahead, in one tree.
first=$(echo "$SB_TREES" | head -1)
scans=$(find "$first" -mindepth 2 -maxdepth 2 -type d -path "$first/w*-$WORKER_ID*/s*" -o -path "$first/w$dead-t305-dead-$$/s*" | wc -l)
check "the killed worker left a scan cgroup" test "$scans" -ge 2
out=$(drv --worker "t305-other-$$" sweep)
expect_eq "sweep removes the dead workers' scan cgroups" "$scans" "$(jget "$out" removed)"
expect_eq "the killed worker's cgroups are gone" 0 "$(sandbox_cgroups "$WORKER_ID" | wc -l)"
expect_eq "the other dead worker's are gone" 0 "$(sandbox_cgroups "t305-dead-$$" | wc -l)"
check "a live worker's cgroups are kept" test "$(sandbox_cgroups "t305-live-$$" | wc -l)" -ge 2
remove_sandbox "t305-live-$$"

out=$(CONTAINER_NETWORK_MODE=mynet drv open)
expect_eq "a named network with the sandbox is a config error" invalid "$(jget "$out" kind)"
expect_match "the error names the variable and what is accepted" \
  "CONTAINER_NETWORK_MODE='mynet'.*accepts bridge.*none or host" "$(jget "$out" error)"
out=$(FETCHER_ROOTFS=$T/nothing drv open)
expect_match "a missing root says how to build it" "unavailable.*build-image.sh --rootfs" \
  "$(jget "$out" kind) $(jget "$out" error)"

expect_eq "no cgroup of ours is left" 0 "$(ours_left)"
expect_eq "no process of ours is left" "" "$(sandbox_procs "$WORKER_ID")"
expect_eq "no mount of the root is left on the host" 0 "$(grep -c "$TESTBOX_ROOT" /proc/self/mountinfo)"
check "driver ran clean under the sanitizers" sanitizer_clean
finish
