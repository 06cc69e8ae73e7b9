#!/usr/bin/env bash
# deps.sh - install every Debian package and pinned npm package that the
# build, the tests and the demo need. Idempotent: installs only what is
# missing. Debian 12, as root.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake pkg-config git curl ca-certificates iproute2 procps
  util-linux psmisc
  libhiredis-dev libcurl4-openssl-dev libsqlite3-dev sqlite3 libjansson-dev
  libmicrohttpd-dev libcmocka-dev libseccomp-dev libpsl-dev libidn2-dev
  libssl-dev clang libclang-rt-14-dev openssl python3-jsonschema
  redis-server docker.io python3
)

# The sandbox runtime's egress network (CONTAINER_NETWORK_MODE=bridge);
# the cgroup v2 test VM (t307: qemu, busybox and cpio for its initramfs).
PACKAGES+=(slirp4netns qemu-system-x86 busybox-static cpio)
# The egress network's nftables filter (libnftables); nft for the tests.
PACKAGES+=(libnftables-dev nftables)
# The fetcher's tests and benchmark: test CA, schema validation, peak RSS.
PACKAGES+=(openssl python3-jsonschema time)
missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
# Node.js and npm serve the tests only; keep an existing installation.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "deps: missing packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Pinned npm packages used by the interoperability tests and benchmarks.
if [ -f tests/interop/package-lock.json ]; then
  stamp=tests/interop/node_modules/.safeurl-lock
  if ! cmp -s tests/interop/package-lock.json "$stamp" 2>/dev/null; then
    echo "deps: installing pinned npm test packages"
    (cd tests/interop && npm ci --no-audit --no-fund --loglevel=error)
    cp tests/interop/package-lock.json "$stamp"
  fi
fi

# The kernel the cgroup v2 test VM boots (unpacked into a cache, not
# installed): Debian's cloud kernel package.
if ! scripts/vm-kernel.sh >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || { echo "deps: run as root to fetch the test VM's kernel" >&2; exit 1; }
  apt-get update -q
  scripts/vm-kernel.sh >/dev/null
fi
