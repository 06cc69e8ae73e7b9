#!/usr/bin/env bash
# instr_cost.sh - what a job or a scan's store lifecycle costs, in
# instructions, counted by valgrind's callgrind: the figure does not move
# with the machine's load, as the timed benches' (queue_bench.py,
# bench_store) do, so a change of a few per cent shows.
#
#   queue [JOBS]  (2000) Redis's and the worker's instructions per job:
#     each subject drains 500 and then 500+JOBS preloaded jobs (bull.js
#     fill) at concurrency 16 against a redis-server run under callgrind;
#     the difference divided by JOBS is one job's cost, start-up left out.
#     Subjects: ours (this tree's release safeurl-worker, noop processor,
#     under callgrind too), base (BENCH_BASE's, the same way, if set) and
#     bullmq (the pinned Node Worker; Redis's count only). All keep
#     BullMQ's per-minute metrics (maxDataPoints 20160), as ours does by
#     default.
#   store [N]     (2000) bench_store's lifecycles (create, read, claim,
#     advance, complete) on a tmpfs database: 1000 and then 1000+N, only
#     the instructions inside the store's loop (callgrind
#     --toggle-collect=bench_store), for this tree and BENCH_BASE.
#
# BENCH_BASE: a release build directory of an earlier commit.
# usage: [BENCH_BASE=DIR] bench/instr_cost.sh queue|store [N]
#   (queue: tests/interop needs `npm ci`: scripts/deps.sh test does it)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
jobs=${2:-2000}
case $mode in
  queue) small=500 ;;
  store) small=1000 ;;
  *) echo "usage: [BENCH_BASE=DIR] $0 queue|store [N]" >&2; exit 64 ;;
esac
base=${BENCH_BASE:-}
[ -z "$base" ] || [ -x "$base/safeurl-worker" ] ||
  { echo "bench: BENCH_BASE='$base': no safeurl-worker there" >&2; exit 64; }
command -v valgrind >/dev/null || { echo "bench: valgrind is not installed" >&2; exit 1; }
cmake --preset release >/dev/null
cmake --build --preset release >/dev/null
T=$(mktemp -d /dev/shm/safeurl-cost.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
export QUEUE_NAME=bench BULLMQ_PREFIX=bull BULL_METRICS_MAX=20160 WORKER_METRICS_MAX_DATA_POINTS=20160

# total_ir FILE: the instructions a callgrind profile counted.
total_ir() { callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ && !n++ { gsub(",", "", $1); print $1 }'; }

# drain SUBJECT N: drain N jobs; sets IR to "REDIS_IR WORKER_IR" (worker
# "-" for bullmq).
drain() {
  local who=$1 n=$2 d=$T/$1-$2 port wp done=0 i
  mkdir -p "$d"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  valgrind --tool=callgrind --callgrind-out-file="$d/redis.cg" redis-server --port "$port" \
    --bind 127.0.0.1 --save '' --appendonly no --dir "$d" >"$d/redis.log" 2>&1 &
  local rp=$!
  pids+=("$rp")
  for i in $(seq 1 300); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  export REDIS_HOST=127.0.0.1 REDIS_PORT=$port
  node tests/interop/bull.js fill "$n" >/dev/null
  case $who in
    bullmq) node tests/interop/bull.js worker 16 "$n" >/dev/null & ;;
    *) local bin=build/release/safeurl-worker
       [ "$who" = base ] && bin=$base/safeurl-worker
       WORKER_CONCURRENCY=16 LOG_FORMAT=json valgrind --tool=callgrind \
         --callgrind-out-file="$d/worker.cg" "$bin" --processor=noop >"$d/worker.log" 2>&1 & ;;
  esac
  wp=$!
  pids+=("$wp")
  for i in $(seq 1 6000); do
    done=$(redis-cli -p "$port" zcard bull:bench:completed)
    [ "$done" -ge "$n" ] && break
    sleep 0.1
  done
  [ "$done" -ge "$n" ] || { echo "bench: $who drained $done of $n jobs in 600 s" >&2; exit 1; }
  kill -TERM "$wp" 2>/dev/null || true
  wait "$wp" 2>/dev/null || true
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  wait "$rp" 2>/dev/null || true
  IR="$(total_ir "$d/redis.cg") -"
  [ "$who" = bullmq ] || IR="$(total_ir "$d/redis.cg") $(total_ir "$d/worker.cg")"
}

ratio() { python3 -c "import sys; print(f'{int(sys.argv[1]) / int(sys.argv[2]):.3f}x')" "$1" "$2"; }

# lifecycles SUBJECT N: sets IR to the instructions of N lifecycles.
lifecycles() {
  local bin=build/release/bench_store d=$T/$1-$2
  [ "$1" = base ] && bin=$base/bench_store
  mkdir -p "$d"
  valgrind --tool=callgrind --callgrind-out-file="$d/store.cg" --toggle-collect=bench_store \
    "$bin" "$2" "$d" >"$d/out" 2>&1 || { cat "$d/out" >&2; exit 1; }
  IR=$(total_ir "$d/store.cg")
}

if [ "$mode" = store ]; then
  echo "instructions per store lifecycle, the cost of $jobs beyond the first $small"
  declare -A per
  for who in ours ${base:+base}; do
    lifecycles "$who" "$small"; r1=$IR
    lifecycles "$who" $((small + jobs)); r2=$IR
    per[$who]=$(( (r2 - r1) / jobs ))
    printf '%-7s %14s\n' "$who" "${per[$who]}"
  done
  [ -z "$base" ] || echo "ours/base: $(ratio "${per[ours]}" "${per[base]}")"
  exit 0
fi

subjects=(ours)
[ -z "$base" ] || subjects+=(base)
subjects+=(bullmq)
echo "instructions per job, the cost of $jobs jobs beyond the first $small, concurrency 16"
printf '%-7s %14s %15s\n' subject "redis Ir/job" "worker Ir/job"
declare -A redis worker
for who in "${subjects[@]}"; do
  drain "$who" "$small"
  read -r r1 w1 <<<"$IR"
  drain "$who" $((small + jobs))
  read -r r2 w2 <<<"$IR"
  redis[$who]=$(( (r2 - r1) / jobs ))
  worker[$who]=-
  [ "$w1" = - ] || worker[$who]=$(( (w2 - w1) / jobs ))
  printf '%-7s %14s %15s\n' "$who" "${redis[$who]}" "${worker[$who]}"
done
echo "ours/bullmq redis: $(ratio "${redis[ours]}" "${redis[bullmq]}")"
if [ -n "$base" ]; then
  echo "ours/base   redis: $(ratio "${redis[ours]}" "${redis[base]}")  worker: $(ratio "${worker[ours]}" "${worker[base]}")"
fi
