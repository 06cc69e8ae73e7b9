#!/usr/bin/env bash
# t309: the Docker runtime's egress network (CONTAINER_NETWORK_MODE=bridge,
# the production default), end to end, on a real engine of the test's own.
#
# As t306 does for the sandbox: everything runs in a fresh network (and
# mount) namespace, "the host", whose only links are loopback and one
# veth pair to "the world" (tests/fixtures/world_ns.sh), which holds a DNS
# server and a web site at a public address and listeners on an internal
# address and on the metadata address; the host has listeners on its own
# addresses and loopback. A private dockerd runs in the host namespace
# (tests/fixtures/private_dockerd.sh: no bridge, no iptables) with the
# fetcher and testbox images loaded into it.
#
# In bridge mode every container of a worker joins its network holder's
# namespace, equipped as the sandbox's egress network. Through it a
# fetcher resolves a name and fetches the public page; with the fetcher's
# guard lowered (--allow-addr 0.0.0.0/0) it still reaches none of: the
# host's loopback (slirp's 10.0.2.2) and own address, an internal address
# beyond the host, the metadata address, other private ranges, IPv6, and
# a listener of another fetcher of the same worker (the namespace's own
# loopback and tap address); no trap listener sees a connection. The
# routes, filter and links are read in the holder's namespace; multicast
# and UDP past the routes are refused by the filter. A worker on it
# completes scans, makes its holder again when it dies, removes it at
# exit, and a killed worker's holder is swept by the next worker.
if [ -z "${SAFEURL_IN_NETNS:-}" ]; then
  command -v unshare >/dev/null || { echo "FATAL: unshare is not installed" >&2; exit 1; }
  exec unshare --net --mount env SAFEURL_IN_NETNS=1 bash -c \
    'mount --make-rprivate / && ip link set lo up && exec bash "$0" "$@"' "$0"
fi
. "$(dirname "$0")/lib.sh"
command -v slirp4netns >/dev/null || die "slirp4netns is not installed (scripts/deps.sh installs it)"
[ "$(id -u)" = 0 ] || die "t309 needs root (namespaces, a private dockerd)"
. "$S/tests/fixtures/world_ns.sh"
. "$S/tests/fixtures/private_dockerd.sh"

make_world
at_exit "kill $WORLD"
expect_eq "the host has only loopback and the veth" "lo sfu0" "$(links)"
start_private_dockerd
# Every engine client of this script (the worker, the driver, the image
# builds, lib_runtime's helpers) talks to the private engine.
export DOCKER_SOCKET_PATH=$PRIV_SOCK DOCKER_HOST=unix://$PRIV_SOCK
. "$(dirname "$0")/lib_worker.sh"
if [ -n "${SAFEURL_FETCHER_IMAGE:-}" ]; then
  load_image "$SAFEURL_FETCHER_IMAGE"
else
  ensure_fetcher_image # built from this tree, in the private engine
fi
export CONTAINER_NETWORK_MODE=bridge
unset CONTAINER_ALLOW_HOST_NETWORK

world_site_and_traps
for a in "$INSIDE_ADDR" "$HOST_ADDR"; do
  curl -s -o /dev/null --max-time 2 "http://$a:8080/" || true
done
expect_eq "the world's listener sees the host" 1 "$(wc -l < "$T/world-trap")"
expect_eq "the host's listener sees the host" 1 "$(wc -l < "$T/host-trap")"
: > "$T/world-trap"
: > "$T/host-trap"

fetch() { drv run --image "$FETCHER_IMAGE" -- "$@"; }
box() { drv run --image "$TESTBOX_IMAGE" -- "$@"; }
doc() { jget "$1" stdout; }
jpath() {
  python3 -c 'import json,sys
v=json.loads(sys.argv[1])
for k in sys.argv[2].split("."): v=v[int(k)] if isinstance(v,list) else v.get(k)
print(v)' "$1" "$2"
}
holders() { containers_with "safeurl.worker=$1" "safeurl.role=egress-holder"; }

# A name resolved (the holder's resolv.conf names slirp's DNS) and the
# public page fetched, through the egress network.
out=$(fetch --timeout 10000 http://site.test/)
expect_eq "the public page is fetched" "true 200 safe" \
  "$(jget "$(doc "$out")" ok) $(jget "$(doc "$out")" httpStatus) $(jget "$(doc "$out")" verdict)"
check "the name went through slirp's DNS to the host's resolver" grep -q "^A site.test$" "$T/dns.log"
check "the site saw the fetch" grep -q '"GET / HTTP/1.1" 200' "$T/site.log"
check "the driver made a network holder" grep -q "network holder '[0-9a-f]*' up" "$T/driver.err"
expect_eq "the driver removed its holder when it ended" 0 "$(holders "$WORKER_ID" | wc -l)"

# The guard lowered: the network itself refuses the rest.
for url in "http://10.0.2.2:8080/" "http://$HOST_ADDR:8080/" "http://$INSIDE_ADDR:8080/" \
           "http://$META_ADDR:8080/" "http://127.0.0.1:8080/" "http://[::1]:8080/"; do
  out=$(doc "$(fetch --allow-addr 0.0.0.0/0 --allow-addr ::/0 --timeout 4000 "$url")")
  expect_eq "guard off: $url is not reached" "false CONNECT_FAILED" \
    "$(jget "$out" ok) $(jpath "$out" error.code)"
done

# While one container holds the holder up (until it is killed below,
# however slow the machine), a root listener in its
# namespace stands for another fetcher's: loopback and the tap address.
token="t309-live-$$-$RANDOM"
drv run --image "$TESTBOX_IMAGE" --timeout-ms 900000 -- sleep "$token" >"$T/live.json" &
live=$!
wait_for "the live container" 90 pgrep -f "testbox [s]leep $token" ||
  die "the container did not start: $(cat "$T/live.json") $(tail -3 "$T/driver.err")"
holder=$(holders "$WORKER_ID")
hpid=$(api GET "/containers/$holder/json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["State"]["Pid"])')
check "the holder is not in the host's namespace" test "$(readlink "/proc/$hpid/ns/net")" != "$(readlink /proc/self/ns/net)"
: > "$T/peer-trap"
nsenter -t "$hpid" -n python3 "$S/tests/fixtures/trap_listener.py" "$T/peer-trap" 8080 &
peer=$!
at_exit "kill $peer"
wait_for "the peer listener" 20 test -e "$T/peer-trap.ready" || die "the peer listener did not start"
conn=$(doc "$(box connect "10.0.2.2,8080" "$HOST_ADDR,8080" "$INSIDE_ADDR,8080" "$META_ADDR,8080" \
  "10.1.2.3,8080" "172.17.0.1,8080" "192.168.1.1,8080" "100.64.0.1,8080" "224.0.0.251,8080" \
  "127.0.0.1,8080" "10.0.2.100,8080" "$SITE_ADDR,80" "::1,8080" "2001:4860::1,80" \
  "10.0.2.3,80" "10.0.2.4,80")")
expect_eq "the host's loopback (slirp's gateway) is refused by the filter" ECONNREFUSED "$(jget "$conn" "10.0.2.2,8080")"
for a in "$HOST_ADDR" "$INSIDE_ADDR" "$META_ADDR" 10.1.2.3 172.17.0.1 192.168.1.1 100.64.0.1; do
  expect_eq "$a: prohibit route" EACCES "$(jget "$conn" "$a,8080")"
done
expect_match "multicast is refused" "^(EACCES|ECONNREFUSED|ENETUNREACH)$" "$(jget "$conn" "224.0.0.251,8080")"
expect_eq "another fetcher's listener on loopback is refused" ECONNREFUSED "$(jget "$conn" "127.0.0.1,8080")"
expect_eq "another fetcher's listener on the tap address is refused" ECONNREFUSED "$(jget "$conn" "10.0.2.100,8080")"
expect_eq "slirp's DNS address serves DNS only" ECONNREFUSED "$(jget "$conn" "10.0.2.3,80")"
expect_eq "nothing else of slirp's network is let out" ECONNREFUSED "$(jget "$conn" "10.0.2.4,80")"
expect_eq "the public site connects" ok "$(jget "$conn" "$SITE_ADDR,80")"
# The engine turns IPv6 off in the holder's namespace (network none);
# the filter would refuse it too.
expect_match "no IPv6 way out" '^(ENETUNREACH|ECONNREFUSED|EADDRNOTAVAIL|EAFNOSUPPORT|other)$' "$(jget "$conn" "2001:4860::1,80")"
expect_match "no IPv6 loopback" '^(ENETUNREACH|ECONNREFUSED|EADDRNOTAVAIL|EAFNOSUPPORT|other)$' "$(jget "$conn" "::1,8080")"

routes=$(nsenter -t "$hpid" -n ip -4 route)
for r in "default via 10.0.2.2 dev tap0" "prohibit 10.0.0.0/8" "prohibit 127.0.0.0/8" \
         "prohibit 169.254.0.0/16" "prohibit $HOST_ADDR" "prohibit 240.0.0.0/4"; do
  expect_match "route: $r" "$r" "$routes"
done
expect_eq "links: loopback and slirp's tap, no engine bridge" "lo tap0" "$(nsenter -t "$hpid" -n bash -c "$(declare -f links); links")"
rules=$(nsenter -t "$hpid" -n nft list table inet safeurl_egress)
expect_match "filter: output policy drop" "hook output priority filter; policy drop" "$rules"
expect_match "filter: the host's address refused" "$HOST_ADDR" "$rules"
probe=$(nsenter -t "$hpid" -n python3 "$S/tests/fixtures/egress_probe.py" 10.0.2.4)
for k in multicast_bound udp_gateway "udp 10.0.2.4"; do
  expect_eq "routes bypassed as root: $k refused by the filter" EPERM "$(jget "$probe" "$k")"
done
expect_eq "the live container shares the holder's namespace" "$(readlink "/proc/$hpid/ns/net")" \
  "$(readlink "/proc/$(pgrep -f "testbox [s]leep $token" | head -1)/ns/net")"
kill "$peer"
kill -9 "$(pgrep -f "testbox [s]leep $token" | head -1)"
wait "$live" || true
expect_eq "no listener of the world saw a fetcher" "" "$(cat "$T/world-trap")"
expect_eq "no listener of the host saw a fetcher" "" "$(cat "$T/host-trap")"
expect_eq "no peer listener saw a fetcher" "" "$(cat "$T/peer-trap")"

# A worker on the egress network, the fetcher's guard lowered.
start_worker w1 FETCHER_ARGS="--allow-addr 0.0.0.0/0 --allow-addr ::/0" WORKER_CONCURRENCY=2
check "the worker brought its egress network up at start" grep -q "network holder '[0-9a-f]*' up" "$T/w1.log"
scan() {
  local id
  id=$("$CLI" submit "$1") || die "submit $1 failed"
  wait_terminal 90 "$id" || die "scan $id did not end: $(state_of "$id")"
  echo "$(state_of "$id") $(sql "SELECT ifnull(verdict || ' ' || ifnull(http_status, '-'), '') FROM scan_results WHERE job_id='$id'")$(sql "SELECT ifnull(error_code, '') FROM scan_jobs WHERE id='$id'")"
}
expect_eq "worker: the public page" "COMPLETED safe 200" "$(scan http://site.test/)"
expect_eq "worker: an internal address is not reached" "FAILED CONNECT_FAILED" "$(scan "http://$INSIDE_ADDR:8080/")"
expect_eq "worker: the metadata address is not reached" "FAILED CONNECT_FAILED" "$(scan "http://$META_ADDR:8080/")"
first=$(holders "$WORKER_ID-w1")
expect_eq "the worker has one holder" 1 "$(wc -w <<<"$first")"
api POST "/containers/$first/kill" >/dev/null
expect_eq "worker: a scan after its holder died" "COMPLETED safe 200" "$(scan http://site.test/)"
check "the worker said it made the holder again" grep -q "network holder '${first:0:12}' is gone: making it again" "$T/w1.log"
second=$(holders "$WORKER_ID-w1" | grep -v "$first" || true)
check "a new holder runs" test -n "$second"
expect_eq "no listener saw a scan" "" "$(cat "$T/world-trap" "$T/host-trap")"
stop_worker w1
expect_eq "the worker exits 0 on SIGTERM" 0 "$WRC"
expect_eq "the worker removed its holders at exit" 0 "$(holders "$WORKER_ID-w1" | wc -l)"

# A killed worker leaves its holder; the next worker's sweep removes it.
start_worker w2 FETCHER_ARGS=
expect_eq "worker w2: the public page" "COMPLETED safe 200" "$(scan http://site.test/)"
left=$(holders "$WORKER_ID-w2")
check "w2 has a holder" test -n "$left"
stop_worker w2 KILL
check "the killed worker's holder is left" test -n "$(holders "$WORKER_ID-w2")"
start_worker w3 FETCHER_ARGS=
wait_for "the sweep" 30 test -z "$(holders "$WORKER_ID-w2")"
expect_eq "the next worker swept the dead worker's holder" "" "$(holders "$WORKER_ID-w2")"
stop_worker w3

expect_eq "no container is left on the engine" 0 \
  "$(api GET "/containers/json?all=1" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
check "driver ran clean under the sanitizers" sanitizer_clean
finish
