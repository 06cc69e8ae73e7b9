# shellcheck shell=bash
# lib_redis_ha.sh - Redis behind Sentinel and Redis Cluster, all on
# loopback, for the failover tests (source after lib.sh). Each
# deployment exports what a worker needs to find it (REDIS_SENTINELS...,
# REDIS_CLUSTER_NODES...) and points REDIS_HOST/REDIS_PORT nowhere, so
# that only the sentinels or the cluster know where the master is.
command -v redis-server >/dev/null || die "redis-server is not installed (scripts/deps.sh)"
command -v redis-sentinel >/dev/null || die "redis-sentinel is not installed (scripts/deps.sh)"

# ha_node NAME PORT ARGS...: a redis-server (or sentinel: ARGS are its
# config file and --sentinel) daemon in $T/NAME.
ha_node() {
  local name=$1 port=$2; shift 2
  mkdir -p "$T/$name"
  redis-server "$@" --port "$port" --bind 127.0.0.1 --daemonize yes \
    --dir "$T/$name" --pidfile "$T/$name/pid" --logfile "$T/$name/log" \
    || die "$name did not start"
  wait_for "$name writes its pid" 20 test -s "$T/$name/pid" || die "$name wrote no pid"
  at_exit "kill -9 $(cat "$T/$name/pid")"
}

# ha_data_node NAME PORT ARGS...: a redis-server without persistence,
# answering.
ha_data_node() {
  ha_node "$@" --save '' --appendonly no
  wait_for "$1 answers" 20 redis-cli -p "$2" ping || die "$1 does not answer"
}

# ---- Sentinel: 1 master, 2 replicas, 3 sentinels with a password ----

HA_SPW=sentinel-pw-7
declare -A HA_SP

# ha_scli PORT ARGS...: redis-cli to a sentinel.
ha_scli() { redis-cli -a "$HA_SPW" --no-auth-warning -p "$@"; }

# ha_sentinel_up: the deployment, ready; MP is the master's port.
ha_sentinel_up() {
  local i port sentinels=
  MP=$(free_port)
  ha_data_node master "$MP"
  for i in 1 2; do ha_data_node "replica$i" "$(free_port)" --replicaof 127.0.0.1 "$MP"; done
  for i in 1 2 3; do
    port=$(free_port)
    mkdir -p "$T/s$i"
    cat >"$T/s$i/sentinel.conf" <<CONF
requirepass $HA_SPW
sentinel sentinel-pass $HA_SPW
sentinel monitor mymaster 127.0.0.1 $MP 2
sentinel down-after-milliseconds mymaster 1000
sentinel failover-timeout mymaster 10000
sentinel parallel-syncs mymaster 2
CONF
    ha_node "s$i" "$port" "$T/s$i/sentinel.conf" --sentinel
    sentinels=${sentinels:+$sentinels,}127.0.0.1:$port
    HA_SP[$i]=$port
  done
  wait_for "replicas in sync" 30 bash -c \
    "redis-cli -p $MP info replication | grep -q '^connected_slaves:2'" || die "the replicas did not sync"
  for i in 1 2 3; do
    wait_for "sentinel $i sees the replicas and the other sentinels" 60 bash -c \
      "[ \$(redis-cli -a $HA_SPW --no-auth-warning -p ${HA_SP[$i]} sentinel replicas mymaster | grep -c '^name\$') = 2 ] &&
       [ \$(redis-cli -a $HA_SPW --no-auth-warning -p ${HA_SP[$i]} sentinel sentinels mymaster | grep -c '^name\$') = 2 ]" ||
      die "sentinel $i did not discover the deployment"
  done
  export REDIS_SENTINELS=$sentinels REDIS_SENTINEL_MASTER=mymaster
  export REDIS_HOST=127.0.0.1 REDIS_PORT=1
}

ha_sentinel_master() { ha_scli "${HA_SP[1]}" sentinel get-master-addr-by-name mymaster | sed -n 2p; }
ha_failed_over() { local p; p=$(ha_sentinel_master); [ -n "$p" ] && [ "$p" != "$MP" ]; }

# ha_sentinel_kill: SIGKILL the master, wait for the sentinels to promote
# a replica; NP is the new master's port.
ha_sentinel_kill() {
  kill -9 "$(cat "$T/master/pid")"
  echo "# $SECONDS s: master killed"
  wait_for "the sentinels promote a replica" 60 ha_failed_over || die "no failover"
  NP=$(ha_sentinel_master)
  echo "# $SECONDS s: new master on port $NP"
}

# ---- Cluster: 3 masters, 3 replicas; the queue's slot is {scan}'s ----

declare -A HA_PORT

# ha_slot_owner SLOT: the port of the master serving SLOT, as the
# cluster nodes output on stdin says.
ha_slot_owner() {
  python3 -c "
import sys
for line in sys.stdin:
    f = line.split()
    if len(f) > 8 and 'master' in f[2] and 'fail' not in f[2]:
        for r in f[8:]:
            a, _, b = r.partition('-')
            if a.isdigit() and int(a) <= $1 <= int(b or a):
                print(f[1].split('@')[0].split(':')[1])
"
}

ha_cluster_ok() {
  local i
  for i in 1 2 3 4 5 6; do
    redis-cli -p "${HA_PORT[$i]}" cluster info | grep -q '^cluster_state:ok' || return 1
  done
}

# ha_cluster_up: the cluster, formed; SLOT is {scan}'s and OWNER the
# port of its master. BULLMQ_PREFIX is left to the caller.
ha_cluster_up() {
  local i p nodes=
  for i in 1 2 3 4 5 6; do
    p=$(free_port)
    # the cluster bus gets a free port of its own (default: port + 10000)
    ha_data_node "n$i" "$p" --cluster-port "$(free_port)" --cluster-enabled yes \
      --cluster-config-file "$T/n$i/nodes.conf" --cluster-node-timeout 2000
    HA_PORT[$i]=$p
    nodes=${nodes:+$nodes,}127.0.0.1:$p
  done
  # shellcheck disable=SC2046
  redis-cli --cluster create $(tr ',' ' ' <<<"$nodes") --cluster-replicas 1 --cluster-yes >"$T/create.log" 2>&1 ||
    { cat "$T/create.log" >&2; die "redis-cli --cluster create failed"; }
  wait_for "cluster state ok on every node" 60 ha_cluster_ok || die "the cluster did not form"
  SLOT=$(redis-cli -p "${HA_PORT[1]}" cluster keyslot '{scan}')
  OWNER=$(redis-cli -p "${HA_PORT[1]}" cluster nodes | ha_slot_owner "$SLOT")
  [ -n "$OWNER" ] || die "no owner for slot $SLOT"
  echo "# $SECONDS s: slot $SLOT of {scan} on port $OWNER"
  export REDIS_CLUSTER_NODES=$nodes REDIS_HOST=127.0.0.1 REDIS_PORT=1
}

# ha_new_owner: NP, a surviving master that now serves SLOT.
ha_new_owner() {
  local i p o
  for i in 1 2 3 4 5 6; do
    p=${HA_PORT[$i]}
    [ "$p" = "$OWNER" ] && continue
    o=$(redis-cli -p "$p" cluster nodes 2>/dev/null | ha_slot_owner "$SLOT")
    [ -n "$o" ] && [ "$o" != "$OWNER" ] && { NP=$o; return 0; }
  done
  return 1
}

# ha_cluster_kill: SIGKILL the slot's owner, wait for its replica to take
# the slot over; NP is the new owner's port.
ha_cluster_kill() {
  local i
  for i in 1 2 3 4 5 6; do
    [ "${HA_PORT[$i]}" = "$OWNER" ] && kill -9 "$(cat "$T/n$i/pid")"
  done
  echo "# $SECONDS s: owner killed"
  wait_for "a replica takes the slot over" 60 ha_new_owner || die "no failover"
  ha_new_owner
  echo "# $SECONDS s: new owner on port $NP"
}

# ---- scans through a failover (source lib_worker.sh first) ----

HA_TERMINAL="'COMPLETED','FAILED','TIMED_OUT'"

# ha_scans_at_least N: N scan rows terminal.
ha_scans_at_least() {
  [ "$(sql "SELECT count(*) FROM scan_jobs WHERE state IN ($HA_TERMINAL)")" -ge "$1" ]
}
ha_scans_all_ended() {
  [ "$(sql "SELECT count(*) FROM scan_jobs WHERE state NOT IN ($HA_TERMINAL)")" = 0 ]
}

# ha_scans KILL: HA_SCANS (500) real scans by two workers (concurrency 8),
# KILL (ha_sentinel_kill or ha_cluster_kill) a quarter of the way in
# while the last 100 are still being submitted, one CLI call each. Some
# of those never reach a queue (no master), some may reach the dying
# master only, and completions on it are lost with it; the lease and
# stall timers are shortened and reconciliation runs every second. Then
# every scan row the CLI created ends in a terminal state exactly once
# (one terminal move in the audit trail) and none stays QUEUED or leased.
ha_scans() {
  local kill=$1 n=${HA_SCANS:-500} late=100 i w
  export SAFEURL_TEST_LOCK_MS=1500 SAFEURL_TEST_STALLED_MS=700 RECONCILE_INTERVAL_MS=1000
  # the fetcher's container gets time to spare on a loaded machine
  export CONTAINER_TIMEOUT_MS=120000
  local urls=()
  for i in $(seq 1 $((n - late))); do urls+=("$SITE/benign?s=$i"); done
  $CLI submit "${urls[@]}" >"$T/first.ids" ||
    die "submitting the first $((n - late)) scans failed"
  for w in a b; do start_worker "$w" WORKER_CONCURRENCY=8; done
  wait_for "a quarter of the scans ended" 300 ha_scans_at_least $((n / 4)) ||
    die "the workers made no progress"
  (
    for i in $(seq 1 "$late"); do
      $CLI submit "$SITE/benign?late=$i" >>"$T/late.ids" 2>>"$T/late.err" || true
      sleep 0.05
    done
  ) &
  local submitter=$!
  sleep 0.5
  "$kill"
  wait "$submitter"
  local created unqueued
  created=$(sql "SELECT count(*) FROM scan_jobs WHERE url LIKE '%late=%'")
  unqueued=$(grep -c "created but not enqueued" "$T/late.err" || true)
  echo "# late submits: $(wc -l <"$T/late.ids") enqueued, $unqueued created but not enqueued, $((late - created)) refused"
  expect_eq "every late scan created is printed or reported unqueued" "$created" \
    "$(( $(wc -l <"$T/late.ids") + unqueued ))"
  check "some late submits ran after the failover" test "$(wc -l <"$T/late.ids")" -gt 0
  wait_for "every scan ended" 300 ha_scans_all_ended ||
    sql "SELECT state, count(*) FROM scan_jobs GROUP BY state" >&2
  local total
  total=$(sql "SELECT count(*) FROM scan_jobs")
  expect_eq "every scan created is in the database" "$((n - late + created))" "$total"
  expect_eq "none left QUEUED, FETCHING or ANALYZING" 0 \
    "$(sql "SELECT count(*) FROM scan_jobs WHERE state NOT IN ($HA_TERMINAL)")"
  expect_eq "every scan ended exactly once" 0 "$(sql "SELECT count(*) FROM scan_jobs s WHERE
    (SELECT count(*) FROM audit_logs a WHERE a.job_id = s.id AND a.to_state IN ($HA_TERMINAL)) != 1")"
  expect_eq "every scan completed or was abandoned (SPEC §5)" 0 \
    "$(sql "SELECT count(*) FROM scan_jobs WHERE state != 'COMPLETED' AND COALESCE(error_code, '') != 'ABANDONED'")"
  echo "# outcomes: $(sql "SELECT state || ' ' || COALESCE(error_code, '') || ' ' || count(*) FROM scan_jobs GROUP BY state, error_code" | tr '\n' ' ')"
  echo "# reconciled: $(grep -h '"event":"reconcile"' "$T/a.log" "$T/b.log" | grep -c '"level":"warn"' || true)"
  for w in a b; do
    stop_worker "$w"
    expect_eq "worker $w exits 0" 0 "$WRC"
  done
  check "no sanitizer report" logs_clean a b
}

# ha_no_overlap LEDGER: no job ran twice at once. LEDGER holds the test
# processors' "start ID PID" and "end ID PID" lines (safeurl-worker's and
# bull.js worker-test's), in the order they were written. Prints the
# runs, the processes that ran jobs and the jobs that ran more than once.
ha_no_overlap() {
  python3 - "$1" <<'PY'
import collections, sys
running = collections.Counter(); runs = collections.Counter()
pids = set(); overlaps = []
for line in open(sys.argv[1]):
    what, job, pid = line.split()
    pids.add(pid)
    if what == 'start':
        if running[job]:
            overlaps.append(job)
        running[job] += 1; runs[job] += 1
    else:
        running[job] -= 1
print('# ledger: %d runs of %d jobs by %d processes; %d ran more than once, %d ran twice at once: %s'
      % (sum(runs.values()), len(runs), len(pids), sum(1 for v in runs.values() if v > 1),
         len(overlaps), ' '.join(overlaps[:10])))
sys.exit(1 if overlaps else 0)
PY
}

# ha_replicated PORT: every replica of the master on PORT has acknowledged
# its whole replication stream (WAIT from a fresh connection proves
# nothing: that client wrote nothing).
ha_replicated() {
  redis-cli -p "$1" info replication | tr -d '\r' | awk -F'[:,=]' '
    /^master_repl_offset:/ { m = $2 }
    /^slave[0-9]+:/ { for (i = 1; i < NF; i++) if ($i == "offset") o[n++] = $(i + 1) }
    END { if (!n) exit 1; for (i = 0; i < n; i++) if (o[i] != m) exit 1 }'
}

# ha_cluster_move_slot TO_PORT: move SLOT from its owner NP to the master
# on TO_PORT the way redis-cli --cluster reshard does (IMPORTING and
# MIGRATING, MIGRATE of the keys, SETSLOT NODE), slowly (20 keys a tenth
# of a second), so that clients meet ASK and TRYAGAIN on the way and
# MOVED after it. NP becomes TO_PORT.
ha_cluster_move_slot() {
  local to=$1 from=$NP src dst keys i moved=0
  src=$(redis-cli -p "$from" cluster myid)
  dst=$(redis-cli -p "$to" cluster myid)
  redis-cli -p "$to" cluster setslot "$SLOT" importing "$src" >/dev/null
  redis-cli -p "$from" cluster setslot "$SLOT" migrating "$dst" >/dev/null
  while :; do
    keys=$(redis-cli -p "$from" cluster getkeysinslot "$SLOT" 20)
    [ -n "$keys" ] || break
    # shellcheck disable=SC2086
    redis-cli -p "$from" migrate 127.0.0.1 "$to" "" 0 5000 REPLACE KEYS $keys >/dev/null ||
      die "MIGRATE to $to failed"
    moved=$((moved + $(wc -w <<<"$keys")))
    sleep 0.1
  done
  redis-cli -p "$to" cluster setslot "$SLOT" node "$dst" >/dev/null
  redis-cli -p "$from" cluster setslot "$SLOT" node "$dst" >/dev/null
  for i in 1 2 3 4 5 6; do
    redis-cli -p "${HA_PORT[$i]}" cluster setslot "$SLOT" node "$dst" >/dev/null 2>&1 || true
  done
  echo "# $SECONDS s: slot $SLOT moved from $from to $to ($moved keys)"
  NP=$to
}

# ha_other_master: a live master's port other than NP's.
ha_other_master() {
  redis-cli -p "$NP" cluster nodes | awk -v np="$NP" '
    $3 ~ /master/ && $3 !~ /fail/ { split($2, a, "[:@]"); if (a[2] != np) { print a[2]; exit } }'
}

# ---- the mixed fleet of the queue failover tests (t116, t117) ----

declare -A HA_W

# ha_fleet_up NAME JOBS: two safeurl-workers (test processor, concurrency
# 8, logs $T/a.log and $T/b.log) consuming, then a stock bullmq Worker
# (bull.js worker-test: ioredis with the same Sentinel or Cluster
# options) whose completed ids go to $T/bull.ids. Ours start first, so
# that all three share the jobs added after.
ha_fleet_up() {
  local name=$1 jobs=$2 w
  for w in a b; do
    WORKER_ID=$name-$w WORKER_CONCURRENCY=8 LOG_FORMAT=json "$B/safeurl-worker" --processor=test 2>"$T/$w.log" &
    HA_W[$w]=$!
    at_exit "kill -9 ${HA_W[$w]}"
    wait_for "worker $w consuming" 30 grep -q '"msg":"consuming' "$T/$w.log" || die "worker $w did not start"
  done
  BULL_READY_FILE=$T/bull.ready node "$S/tests/interop/bull.js" worker-test "$((jobs * 2))" "$T/bull.ids" >"$T/bull.log" 2>&1 &
  HA_BPID=$!
  at_exit "kill -9 $HA_BPID"
  wait_for "the bullmq worker connected" 60 test -s "$T/bull.ready" || die "the bullmq worker did not start"
}

# ha_add_jobs ID-PREFIX COUNT SLEEP-MS: COUNT test jobs (ids PREFIX-0...)
# that sleep and write the ledger $T/ledger.
ha_add_jobs() {
  bull add "$(python3 -c "import json, sys; print(json.dumps([{'name': 'scan',
    'data': {'sleepMs': int(sys.argv[3]), 'ledger': sys.argv[4]},
    'opts': {'jobId': '%s-%d' % (sys.argv[1], i)}} for i in range(int(sys.argv[2]))]))" "$@" "$T/ledger")" >/dev/null
}

# ha_fleet_down: once each of our workers has found the master on NP
# (an idle one finds it on its next reconnect), SIGTERM it (exit 0), then
# stop the bullmq Worker.
ha_fleet_down() {
  local w
  for w in a b; do
    check "worker $w located the master on $NP" wait_for "worker $w to find the master on $NP" 60 \
      grep -q "redis command connection: the master is at 127.0.0.1:$NP" "$T/$w.log"
    kill -TERM "${HA_W[$w]}"
    set +e; wait "${HA_W[$w]}"; WRC=$?; set -e
    expect_eq "worker $w exits 0" 0 "$WRC"
  done
  kill -KILL "$HA_BPID" 2>/dev/null || true
  set +e; wait "$HA_BPID"; set -e
}

# ha_completions ID-PREFIX COUNT: "missing twice bullmq": jobs PREFIX-i
# (i < COUNT) no worker completed, jobs completed more than once, and
# completions by the bullmq Worker; from the workers' logs and bull.ids.
ha_completions() {
  { cat "$T/a.log" "$T/b.log"; sed 's/^/bullmq /' "$T/bull.ids" 2>/dev/null; } | python3 -c "
import json, sys, collections
c = collections.Counter(); b = 0
for line in sys.stdin:
    if line.startswith('bullmq '):
        c[line.split()[1]] += 1; b += 1; continue
    try: d = json.loads(line)
    except ValueError: continue
    if d.get('event') == 'complete': c[d.get('job')] += 1
print(sum(1 for i in range($2) if c['$1-%d' % i] == 0), sum(1 for v in c.values() if v > 1), b)"
}

# ha_fleet_checks ID-PREFIX COUNT: every job completed, all three workers
# took part, none ran twice at once; sets TWICE (jobs completed more than
# once: BullMQ runs a job at least once).
ha_fleet_checks() {
  local missing bullmq w
  # shellcheck disable=SC2034 # TWICE is for the caller
  read -r missing TWICE bullmq <<<"$(ha_completions "$1" "$2")"
  expect_eq "every job completed by a worker" 0 "$missing"
  check "the bullmq worker took part ($bullmq jobs)" test "$bullmq" -gt 0
  for w in a b; do
    check "worker $w took part" grep -q '"event":"complete"' "$T/$w.log"
  done
  check "no job ran twice at once" ha_no_overlap "$T/ledger"
}
