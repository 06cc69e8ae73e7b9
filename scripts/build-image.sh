#!/usr/bin/env bash
# build-image.sh - build the safeurl-fetcher:latest image with no network.
#
# Usage: scripts/build-image.sh [--binary PATH] [--tag NAME] [--rootfs DIR]
# With --rootfs DIR the same file set goes into DIR (replaced whole) as
# the sandbox runtime's read-only root (FETCHER_ROOTFS), plus the dev and
# proc mount points, and no image is built (no docker needed).
# Without --binary it builds the release preset's safeurl-fetcher (the
# image never carries a sanitizer build). The image is FROM scratch: the
# fetcher, exactly the shared libraries ldd lists (with the dynamic
# loader), the CA bundle, the public suffix list, /etc/passwd and
# /etc/group with the unprivileged user 10001, nsswitch.conf. It prints
# the image size. The docker CLI is used here only, never by the product.
set -euo pipefail
cd "$(dirname "$0")/.."
# Tests run in parallel and may all ask for the image: one build at a time.
exec 9>/tmp/safeurl-build-image.lock
flock 9

bin="" tag=${FETCHER_IMAGE:-safeurl-fetcher:latest} rootfs=""

while [ $# -gt 0 ]; do
  case $1 in
    --binary) bin=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --rootfs) rootfs=$2; shift 2 ;;
    *) echo "usage: $0 [--binary PATH] [--tag NAME] [--rootfs DIR]" >&2; exit 64 ;;
  esac
done
if [ -z "$bin" ]; then
  cmake --preset release >/dev/null
  cmake --build --preset release --target safeurl-fetcher
  bin=build/release/safeurl-fetcher
fi
if ldd "$bin" | grep -Eq 'libasan|libubsan'; then
  echo "build-image: $bin is a sanitizer build; use the release preset" >&2
  exit 1
fi
[ -n "$rootfs" ] || command -v docker >/dev/null ||
  { echo "build-image: the docker CLI is missing" >&2; exit 1; }

ctx=$(mktemp -d /tmp/safeurl-image.XXXXXX)
trap 'rm -rf "$ctx"' EXIT
root=$ctx/rootfs
mkdir -p "$root/usr/bin" "$root/etc/ssl/certs" "$root/tmp" "$root/usr/share/publicsuffix"
chmod 1777 "$root/tmp"
strip -o "$root/usr/bin/safeurl-fetcher" "$bin"

# Exactly the libraries the loader would map, at the same paths.
ldd "$bin" | awk '/=> \//{print $3} /^\t\/.*ld-linux/{print $1}' | sort -u |
while read -r lib; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
ls "$root"/lib64/ld-linux-* >/dev/null 2>&1 || {
  echo "build-image: the dynamic loader is missing from ldd's list" >&2; exit 1; }

cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
if [ -f /usr/share/publicsuffix/public_suffix_list.dafsa ]; then
  cp /usr/share/publicsuffix/public_suffix_list.dafsa "$root/usr/share/publicsuffix/"
fi
printf 'root:x:0:0:root:/root:/sbin/nologin\nfetcher:x:10001:10001:safeurl fetcher:/nonexistent:/sbin/nologin\n' > "$root/etc/passwd"
printf 'root:x:0:\nfetcher:x:10001:\n' > "$root/etc/group"
printf 'hosts: files dns\n' > "$root/etc/nsswitch.conf"
# Mount points: the engine (or the sandbox runtime's egress network) binds
# its resolver configuration over this file.
: > "$root/etc/resolv.conf"
if [ -n "$rootfs" ]; then
  mkdir -p "$root/dev" "$root/proc"
  rm -rf "$rootfs.new"
  cp -a "$root" "$rootfs.new"
  rm -rf "$rootfs"
  mv "$rootfs.new" "$rootfs"
  echo "build-image: sandbox root in $rootfs ($(du -sk "$rootfs" | cut -f1) KiB)"
  exit 0
fi
cp src/fetcher/Dockerfile "$ctx/Dockerfile"

DOCKER_BUILDKIT=0 docker build --network none --pull=false -q -t "$tag" "$ctx" >/dev/null
size=$(docker image inspect -f '{{.Size}}' "$tag")
echo "build-image: $tag built, $size bytes ($((size / 1024 / 1024)) MiB)"
