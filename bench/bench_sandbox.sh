#!/usr/bin/env bash
# bench_sandbox.sh - the sandbox runtime against the Docker runtime, in the
# same run, at concurrency 1, 4 and 8:
#  1. spawn latency (p50, p95) and lifecycles per second through
#     runtime_run(), the testbox printing a small JSON document, 64 MiB
#     (bench_runtime with BENCH_SANDBOX=1); Docker on network none (its
#     cheapest), the sandbox on bridge, its egress network (the production
#     default; slirp4netns);
#  2. end to end: safeurl-worker scans per second of a local page (the
#     fixture site on loopback, host network mode, the real fetcher; from
#     the first claim to the last COMPLETED in the audit trail), with
#     CONTAINER_RUNTIME=docker and then sandbox. The sandbox gets 5x the
#     scans so that its run is not all start-up.
# Loopback only: a private Redis, the fixture site. Needs root and dockerd.
#   bench/bench_sandbox.sh [RUNS_PER_BATCH] [SCANS_PER_LEVEL]  (12, 24)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-12} n=${2:-24}
. bench/bench_lib.sh
./scripts/build-image.sh --rootfs "$T/fetcher-root" >/dev/null
tests/fixtures/testbox/build.sh >/dev/null
tests/fixtures/testbox/build.sh --rootfs "$T/testbox-root"

echo "== runtime_run: docker (network none) vs sandbox (network bridge: the egress network)"
BENCH_SANDBOX=1 BENCH_SANDBOX_NETWORK=bridge FETCHER_ROOTFS=$T/testbox-root FETCHER_ENTRYPOINT=/testbox \
  "$B/bench/bench_runtime" "$runs"

export LOG_LEVEL=warn LOG_FORMAT=json FETCHER_ROOTFS=$T/fetcher-root

. bench/bench_scans.sh

echo "== end to end: safeurl-worker, $n docker scans and $((5 * n)) sandbox scans per level"
printf 'conc | docker scans/s | sandbox scans/s | ratio\n'
for c in 1 4 8; do
  d=$(scans docker "$c" "$n" "$url" CONTAINER_RUNTIME=docker)
  s=$(scans sandbox "$c" $((5 * n)) "$url" CONTAINER_RUNTIME=sandbox)
  python3 -c 'import sys; c, d, s = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]); print("%4d | %14.1f | %15.1f | %5.1f" % (c, d, s, s / d))' "$c" "$d" "$s"
done
