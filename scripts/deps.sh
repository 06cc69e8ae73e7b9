#!/usr/bin/env bash
# deps.sh - install the Debian and pinned npm packages a profile needs.
# Idempotent: installs only what is missing. Debian 12, as root.
#   scripts/deps.sh demo   build the programs, the fetcher image, run the demo
#   scripts/deps.sh test   the demo's packages plus everything the test
#                          suite and benchmarks use (the default)
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-test}
case $profile in
  demo|test) ;;
  *) echo "usage: $0 [demo|test]" >&2; exit 64 ;;
esac

# Building the programs and the fetcher image, running a worker and the
# demo site: compiler and libraries, Redis, the Docker engine, the CA
# bundle and public suffix list the image ships, setsid (util-linux).
PACKAGES=(
  build-essential cmake pkg-config ca-certificates publicsuffix procps util-linux
  libhiredis-dev libcurl4-openssl-dev libsqlite3-dev libjansson-dev
  libmicrohttpd-dev libseccomp-dev libpsl-dev libidn2-dev libssl-dev
  libnftables-dev redis-server docker.io python3
)
# User YARA rules in the fetcher: libyara to link, yarac to compile rules.
PACKAGES+=(libyara-dev yara)
if [ "$profile" = test ]; then
  # Unit tests, fuzz targets (clang), sanitizer runtimes, shell tools the
  # integration scripts call, schema validation, peak RSS (time).
  PACKAGES+=(libcmocka-dev clang libclang-rt-14-dev git curl iproute2 psmisc
    sqlite3 openssl python3-jsonschema time stress-ng valgrind)
  # The sandbox runtime's egress network (CONTAINER_NETWORK_MODE=bridge);
  # the cgroup v2 test VM (t307: qemu, busybox and cpio for its initramfs).
  PACKAGES+=(slirp4netns qemu-system-x86 busybox-static cpio)
  # The systemd unit's test (t601): systemd-analyze verify and security.
  PACKAGES+=(systemd)
  # nft, to read the egress network's filter as the kernel holds it.
  PACKAGES+=(nftables)
  # Redis Sentinel for the failover tests (t116 runs redis-server --sentinel).
  PACKAGES+=(redis-sentinel)
  # Bull Board rendered in a real browser (t415): Debian's chromium.
  PACKAGES+=(chromium)
  # promtool (t416): lints /metrics, checks and unit-tests the alert rules.
  PACKAGES+=(prometheus)
fi
missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
# Node.js and npm serve the tests only; keep an existing installation.
if [ "$profile" = test ]; then
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
fi
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
[ "$profile" = test ] || exit 0
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
