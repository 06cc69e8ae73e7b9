#!/usr/bin/env bash
# build-image.sh - build the safeurl-fetcher:latest image (or, with
# --target worker, safeurl-worker:latest) with no network.
#
# Usage: scripts/build-image.sh [--target fetcher|worker] [--binary PATH]
#                               [--tag NAME] [--rootfs DIR] [--yara-rules FILE.yar]
# With --rootfs DIR the same file set goes into DIR (replaced whole) as
# the sandbox runtime's read-only root (FETCHER_ROOTFS), plus the dev and
# proc mount points, and no image is built (no docker needed).
# Without --binary it builds the release preset's safeurl-fetcher (the
# image never carries a sanitizer build). The image is FROM scratch: the
# fetcher, exactly the shared libraries ldd lists (with the dynamic
# loader), the CA bundle, the public suffix list, /etc/passwd and
# /etc/group with the unprivileged user 10001, nsswitch.conf. It prints
# the image size. The docker CLI is used here only, never by the product.
# --target worker builds the worker's own image the same way from the
# release safeurl-worker (contrib/docker/worker.Dockerfile: user 10001,
# working directory /data; docs/deployment.md says how to run it).
# --yara-rules FILE.yar compiles YARA rules with yarac into the fetcher's
# /etc/safeurl/rules.yarc (the worker runs them with FETCHER_YARA_RULES=
# /etc/safeurl/rules.yarc); without it the image carries no rules.
set -euo pipefail
cd "$(dirname "$0")/.."
# Tests run in parallel and may all ask for the image: one build at a time.
exec 9>/tmp/safeurl-build-image.lock
flock 9

bin="" tag="" rootfs="" target=fetcher yara=""

while [ $# -gt 0 ]; do
  case $1 in
    --binary) bin=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --yara-rules) yara=$2; shift 2 ;;
    --rootfs) rootfs=$2; shift 2 ;;
    --target) target=$2; shift 2 ;;
    *) echo "usage: $0 [--target fetcher|worker] [--binary PATH] [--tag NAME] [--rootfs DIR] [--yara-rules FILE.yar]" >&2; exit 64 ;;
  esac
done
# Per target: the program, its default tag, its Dockerfile, its user.
case $target in
  fetcher) prog=safeurl-fetcher dockerfile=src/fetcher/Dockerfile
           user=fetcher desc="safeurl fetcher"
           : "${tag:=${FETCHER_IMAGE:-safeurl-fetcher:latest}}" ;;
  worker) prog=safeurl-worker dockerfile=contrib/docker/worker.Dockerfile
          user=safeurl desc="safeurl worker"
          : "${tag:=safeurl-worker:latest}"
          [ -z "$rootfs" ] || { echo "build-image: --rootfs is for the fetcher target only" >&2; exit 64; } ;;
  *) echo "build-image: --target '$target': expected 'fetcher' or 'worker'" >&2; exit 64 ;;
esac
if [ -z "$bin" ]; then
  cmake --preset release >/dev/null
  cmake --build --preset release --target "$prog"
  bin=build/release/$prog
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
mkdir -p "$root/usr/bin" "$root/etc/ssl/certs" "$root/tmp"
chmod 1777 "$root/tmp"
strip -o "$root/usr/bin/$prog" "$bin"

# Exactly the libraries the loader would map, at the same paths.
ldd "$bin" | awk '/=> \//{print $3} /^\t\/.*ld-linux/{print $1}' | sort -u |
while read -r lib; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
ls "$root"/lib64/ld-linux-* >/dev/null 2>&1 || {
  echo "build-image: the dynamic loader is missing from ldd's list" >&2; exit 1; }

cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
if [ "$target" = fetcher ]; then
  mkdir -p "$root/usr/share/publicsuffix"
fi
if [ -n "$yara" ]; then
  [ "$target" = fetcher ] || { echo "build-image: --yara-rules is for the fetcher target only" >&2; exit 64; }
  command -v yarac >/dev/null || { echo "build-image: yarac is missing (scripts/deps.sh installs yara)" >&2; exit 1; }
  mkdir -p "$root/etc/safeurl"
  yarac "$yara" "$root/etc/safeurl/rules.yarc" ||
    { echo "build-image: --yara-rules '$yara': yarac could not compile it" >&2; exit 1; }
fi
if [ "$target" = fetcher ] && [ -f /usr/share/publicsuffix/public_suffix_list.dafsa ]; then
  cp /usr/share/publicsuffix/public_suffix_list.dafsa "$root/usr/share/publicsuffix/"
fi
printf 'root:x:0:0:root:/root:/sbin/nologin\n%s:x:10001:10001:%s:/nonexistent:/sbin/nologin\n' "$user" "$desc" > "$root/etc/passwd"
printf 'root:x:0:\n%s:x:10001:\n' "$user" > "$root/etc/group"
printf 'hosts: files dns\n' > "$root/etc/nsswitch.conf"
# Mount points: the engine (or the sandbox runtime's egress network) binds
# its resolver configuration over this file.
: > "$root/etc/resolv.conf"
# The worker's working directory (.env, the default file:./local.db),
# given to its user by the Dockerfile.
[ "$target" = worker ] && mkdir -p "$ctx/data"
if [ -n "$rootfs" ]; then
  mkdir -p "$root/dev" "$root/proc"
  rm -rf "$rootfs.new"
  cp -a "$root" "$rootfs.new"
  rm -rf "$rootfs"
  mv "$rootfs.new" "$rootfs"
  echo "build-image: sandbox root in $rootfs ($(du -sk "$rootfs" | cut -f1) KiB)"
  exit 0
fi
cp "$dockerfile" "$ctx/Dockerfile"

DOCKER_BUILDKIT=0 docker build --network none --pull=false -q -t "$tag" "$ctx" >/dev/null
size=$(docker image inspect -f '{{.Size}}' "$tag")
echo "build-image: $tag built, $size bytes ($((size / 1024 / 1024)) MiB)"
