#!/usr/bin/env bash
# vm-kernel.sh - print the path of a Linux kernel image for the test VM
# (t307 boots it to test the sandbox on cgroup v2), fetching Debian's
# cloud kernel package into /var/cache/safeurl/vm-kernel once: the
# package is only unpacked there, never installed on this machine.
set -euo pipefail
dir=/var/cache/safeurl/vm-kernel
found=$(ls "$dir"/boot/vmlinuz-* 2>/dev/null | head -1 || true)
if [ -z "$found" ]; then
  pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')
  [ -n "$pkg" ] || { echo "vm-kernel: apt knows no linux-image-cloud-amd64 (apt-get update?)" >&2; exit 1; }
  tmp=$(mktemp -d /tmp/safeurl-vm-kernel.XXXXXX)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && apt-get download -q "$pkg" >/dev/null 2>"$tmp/log") ||
    { cat "$tmp/log" >&2; echo "vm-kernel: cannot download $pkg" >&2; exit 1; }
  mkdir -p "$dir"
  dpkg-deb -x "$tmp"/*.deb "$tmp/x"
  mkdir -p "$dir/boot"
  cp "$tmp"/x/boot/vmlinuz-* "$dir/boot/"
  found=$(ls "$dir"/boot/vmlinuz-* | head -1)
fi
echo "$found"
