#!/usr/bin/env bash
# t301: hostile containers are contained and reported as such: a process
# ignoring SIGTERM is killed at the deadline, one that closes its output and
# hangs too, a memory hog is OOM-killed and reported as OOM, a stdout flood
# is cut at the cap (ERR_INVALID) without waiting for the deadline, a fork
# bomb hits the pids limit, invalid output is passed through untouched (the
# caller's parser judges it). The seccomp allow-list (the sandbox's
# filter, handed to the engine as the container's profile) refuses each
# escape and bypass the testbox tries. Every container is removed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_runtime.sh"

out=$(drv run --job t301-sleep --timeout-ms 1500 -- sleep)
expect_eq "deadline is a timeout" timeout "$(jget "$out" kind)"
expect_eq "timed_out set" true "$(jget "$out" timed_out)"
expect_match "timeout message names the deadline" "ran past 1500 ms: killed" "$(jget "$out" error)"
check "SIGTERM-ignoring process killed soon after the deadline" \
  python3 -c "assert 1500 <= $(jget "$out" total_ms) < 20000"
expect_eq "output before the deadline is kept" sleeping "$(jget "$out" stdout)"
expect_eq "timed-out container removed" 0 "$(ours_with "t301-sleep" | wc -l)"

out=$(drv run --timeout-ms 10000 -- delay 1000 '{"slow":true}')
expect_eq "a slow container within the deadline succeeds" '{"slow":true}' "$(jget "$out" stdout)"

out=$(drv run --timeout-ms 1500 -- close-sleep)
expect_eq "closed output and hanging is still a timeout" timeout "$(jget "$out" kind)"

out=$(drv run --job t301-oom --memory-mb 16 -- oom)
expect_eq "memory hog is a crash" crash "$(jget "$out" kind)"
expect_eq "OOM kill reported as such" true "$(jget "$out" oom_killed)"
expect_match "OOM message names the limit" "out of memory \(limit 16 MiB\)" "$(jget "$out" error)"

out=$(drv run --job t301-flood --max-out 4096 --timeout-ms 60000 -- flood)
expect_eq "stdout flood is invalid output" invalid "$(jget "$out" kind)"
expect_match "flood message says output too large" "output too large: more than 4096 bytes" "$(jget "$out" error)"
expect_eq "output_too_large set" true "$(jget "$out" output_too_large)"
expect_eq "stdout kept up to the cap exactly" 4096 "$(jget "$out" stdout_len)"
check "flood stopped at once, not at the deadline" python3 -c "assert $(jget "$out" total_ms) < 15000"
out=$(drv run --max-out 4096 -- flood 4096)
expect_eq "output of exactly the cap passes" true "$(jget "$out" ok)"
out=$(drv run --max-out 4096 -- flood 4097)
expect_eq "output of the cap plus one fails" invalid "$(jget "$out" kind)"

out=$(drv run --job t301-forkbomb --pids 32 -- forkbomb)
bomb=$(jget "$out" stdout)
expect_eq "fork bomb refused by the pids limit" EAGAIN "$(jget "$bomb" error)"
check "fork bomb stopped below the limit" test "$(jget "$bomb" forked)" -lt 32

# One filter for both runtimes: each call refused with EPERM.
esc=$(jget "$(drv run -- escape 1 1)" stdout)
for call in mount chroot ptrace setuid userns netns bpf keyctl perf module clock hostname \
            listen bindtodevice sockdiag vsock netlink_hi broadcast_hi listmount statmount mseal \
            personality pidfd_getfd process_madvise fanotify_init mbind set_mempolicy move_pages \
            udp_bind unix_dgram_bind unix_bind; do
  expect_eq "$RUNTIME: $call refused" EPERM "$(jget "$esc" "$call")"
done

out=$(drv run -- badjson)
expect_eq "invalid JSON is passed through with exit 0" true "$(jget "$out" ok)"
expect_eq "invalid JSON kept byte for byte" '{"ok": tru' "$(jget "$out" stdout)"

expect_eq "no container of ours is left" 0 "$(ours_left)"
check "driver ran clean under the sanitizers" sanitizer_clean
finish
