#!/usr/bin/env bash
# t307: the sandbox runtime on cgroup v2. This host runs cgroup v1, so the
# test boots a small virtual machine (qemu, emulated)
# with Debian's cloud kernel and cgroup2 mounted at /sys/fs/cgroup, its
# whole userland an initramfs: busybox, runtime_driver with its libraries,
# the testbox root. No network device: nothing can leave the machine.
# Inside, as t305 does on v1: the worker's parent cgroup with the memory,
# cpu and pids controllers delegated, a scan's limits as the kernel holds
# them (memory.max, swap off, cpu.max, pids.max), the memory limit
# OOM-killing and counted from memory.events, the pids limit stopping a
# fork bomb, the deadline killing the whole cgroup (cgroup.kill), a killed
# driver's cgroups swept by the next one, and nothing left after.
export CONTAINER_RUNTIME=sandbox
. "$(dirname "$0")/lib.sh"

KERNEL=$("$S/scripts/vm-kernel.sh") || die "no kernel for the test VM (scripts/deps.sh fetches it)"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 is not installed (scripts/deps.sh installs it)"
BUSYBOX=$(command -v busybox) || die "busybox is not installed (scripts/deps.sh installs busybox-static)"
DRV=$B/tests/runtime_driver
[ -x "$DRV" ] || die "runtime_driver is not built ($DRV)"

# The VM's root: busybox, the driver and exactly the libraries it maps,
# the testbox root.
R=$T/initramfs
mkdir -p "$R"/{bin,proc,sys,dev,tmp,newroot,etc}
cp "$BUSYBOX" "$R/bin/busybox"
cp "$DRV" "$R/bin/runtime_driver"
ldd "$DRV" | awk '/=> \//{print $3} /^\t\/.*ld-linux/{print $1}' | sort -u | while read -r lib; do
  mkdir -p "$R$(dirname "$lib")"
  cp -L "$lib" "$R$lib"
done
"$S/tests/fixtures/testbox/build.sh" --rootfs "$R/testbox-root" || die "cannot build the testbox root"
echo "root:x:0:0:root:/:/bin/sh" > "$R/etc/passwd"

# /init: copy itself onto a tmpfs and switch to it (pivot_root, which
# every sandbox does, cannot leave the initramfs), then run the checks.
cat > "$R/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
if [ "$$" = 1 ] && [ ! -e /switched ]; then
  mount -t tmpfs -o size=900m root /newroot
  cp -a $(ls -d /* | grep -v -e '^/newroot$' -e '^/proc$') /newroot/
  mkdir -p /newroot/proc /newroot/newroot
  touch /newroot/switched
  umount /proc
  exec switch_root /newroot /init
fi
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t cgroup2 cgroup2 /sys/fs/cgroup
export ASAN_OPTIONS=detect_leaks=1 WORKER_ID=t307 CONTAINER_NETWORK_MODE=none CONTAINER_RUNTIME=sandbox
export FETCHER_ROOTFS=/testbox-root FETCHER_ENTRYPOINT=/testbox LOG_LEVEL=warn
say() { echo "T307 $*"; }
drv() { runtime_driver --host vm "$@" 2>>/tmp/driver.err; }
say controllers "$(cat /sys/fs/cgroup/cgroup.controllers)"

CONTAINER_CPU_LIMIT=0.25 drv run --memory-mb 64 --pids 40 --timeout-ms 20000 --cancel-after-ms 8000 -- sleep t307-live >/tmp/live.json &
# The live scan's cgroup: the one with a process in it.
i=0 dir=
while [ -z "$dir" ] && [ $i -lt 600 ]; do
  for d in /sys/fs/cgroup/safeurl/w*/s*; do
    grep -q . "$d/cgroup.procs" 2>/dev/null && dir=$d
  done
  i=$((i + 1))
  sleep 0.05
done
say scan_cgroup "$dir"
say memory.max "$(cat $dir/memory.max)"
say memory.swap.max "$(cat $dir/memory.swap.max 2>/dev/null || echo absent)"
say cpu.max "$(cat $dir/cpu.max)"
say pids.max "$(cat $dir/pids.max)"
say parent_subtree "$(cat $dir/../cgroup.subtree_control)"
wait
say live "$(cat /tmp/live.json)"

say oom "$(drv run --memory-mb 32 -- oom 0)"
say forkbomb "$(drv run --pids 16 -- forkbomb)"
say timeout "$(drv run --timeout-ms 1500 -- sleep t307-deadline)"
say deadline_left "$(cat /sys/fs/cgroup/safeurl/w*/s*/cgroup.procs 2>/dev/null | wc -l)"

# A driver killed mid-run: its scan dies with it (parent-death signal),
# its cgroups stay until another worker's sweep.
runtime_driver --host vm run --timeout-ms 60000 -- sleep t307-crash 2>>/tmp/driver.err >/dev/null &
crashed=$!
i=0
until cat /sys/fs/cgroup/safeurl/w$crashed-*/s*/cgroup.procs 2>/dev/null | grep -q .; do
  i=$((i + 1)); [ $i -gt 600 ] && break; sleep 0.05
done
kill -9 $crashed
sleep 0.5
say crash_left_cgroups "$(find /sys/fs/cgroup/safeurl -mindepth 1 -maxdepth 1 -type d -name "w$crashed-*" | wc -l)"
say sweep "$(WORKER_ID=t307-other drv sweep)"
say after "$(find /sys/fs/cgroup/safeurl -mindepth 1 -type d | wc -l)"
say procs_after "$(ps -o comm | grep -c testbox)"
say sanitizer "$(grep -c -E 'Sanitizer|runtime error:' /tmp/driver.err)"
grep -E 'Sanitizer|runtime error:' -A5 /tmp/driver.err | head -40
say done
poweroff -f
INIT
chmod +x "$R/init"
(cd "$R" && find . | cpio -o -H newc --quiet | gzip -1) > "$T/initramfs.gz"

# Emulated (TCG): nested KVM is not dependable on virtual build machines,
# and the whole run takes seconds either way.
timeout 240 qemu-system-x86_64 -accel tcg -cpu max -m 1024 -smp 2 -nographic -no-reboot \
  -nic none -kernel "$KERNEL" -initrd "$T/initramfs.gz" \
  -append "console=ttyS0 panic=-1 quiet systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all" \
  > "$T/console.log" 2>&1 || true
tr -d '\r' < "$T/console.log" | sed 's/.*T307 /T307 /' > "$T/console.txt"
got() { sed -n "s/^T307 $1 //p" "$T/console.txt" | head -1; }
grep -q '^T307 done' "$T/console.txt" || { tail -40 "$T/console.txt" >&2; die "the test VM did not finish"; }

for c in memory cpu pids; do
  expect_match "cgroup v2 offers $c" "(^| )$c( |$)" "$(got controllers)"
done
expect_match "the scan has its own cgroup under the worker's" "^/sys/fs/cgroup/safeurl/w[0-9]+-t307/s[0-9]+$" "$(got scan_cgroup)"
expect_match "the worker's cgroup delegates memory, cpu and pids" "cpu.*memory.*pids|memory.*cpu.*pids|cpu.*pids.*memory" "$(got parent_subtree)"
expect_eq "memory.max" 67108864 "$(got memory.max)"
expect_eq "swap off" 0 "$(got memory.swap.max)"
expect_eq "cpu.max: 0.25 of each 100 ms" "25000 100000" "$(got cpu.max)"
expect_eq "pids.max" 40 "$(got pids.max)"
jf() { python3 -c 'import json,sys; v=json.loads(sys.argv[1]); [v := v.get(k) if isinstance(v, dict) else None for k in sys.argv[2].split(".")]; print(json.dumps(v) if isinstance(v, (bool, dict, list)) or v is None else v)' "$1" "$2"; }
expect_eq "the live scan was cancelled" true "$(jf "$(got live)" cancelled)"
oom=$(got oom)
expect_eq "memory limit: OOM-killed, read from memory.events" "true crash" "$(jf "$oom" oom_killed) $(jf "$oom" kind)"
expect_eq "pids limit: the fork bomb is refused" EAGAIN "$(jf "$(jf "$(got forkbomb)" stdout)" error)"
expect_eq "the deadline ends the run" "true timeout" "$(jf "$(got timeout)" timed_out) $(jf "$(got timeout)" kind)"
expect_eq "the deadline killed the sandbox" 0 "$(got deadline_left)"
check "a killed driver leaves its cgroup" test "$(got crash_left_cgroups)" -ge 1
check "the next driver's sweep removes it" test "$(jf "$(got sweep)" removed)" -ge 1
expect_eq "no cgroup is left" 0 "$(got after)"
expect_eq "no sandbox process is left" 0 "$(got procs_after)"
expect_eq "the driver ran clean under the sanitizers" 0 "$(got sanitizer)"
finish
