#!/usr/bin/env bash
# t306: the sandbox runtime's isolated egress network
# (CONTAINER_NETWORK_MODE=bridge, the production default), end to end.
#
# Everything runs in a fresh network (and mount) namespace, "the host",
# whose only links are loopback and one veth pair to a second fresh
# namespace, "the world", which has nothing else: no packet can leave the
# machine. The world holds a DNS server and a web site at a public
# address, and listeners on an internal address and on the metadata
# address; the host has listeners on its own addresses and loopback.
#
# Through the egress network a sandbox resolves a name (the resolver the
# runtime binds over /etc/resolv.conf, slirp's forwarder, the host's
# resolver) and fetches the public page; with the fetcher's guard lowered
# it still reaches none of: the host's loopback (slirp's 10.0.2.2), the
# host's own address, an internal address beyond the host, the metadata
# address, IPv6 — each refused in the namespace (EACCES: prohibit route;
# EPERM: the nftables filter), and no listener sees a connection. The
# filter holds where routes alone do not: a process in the namespace with
# no seccomp cannot send multicast from a bound socket, broadcast, or UDP
# to the host. The guard stays on by default.
# A worker on it completes scans, survives its slirp4netns being killed,
# and a killed worker leaves neither slirp4netns nor namespace behind.
export CONTAINER_RUNTIME=sandbox
if [ -z "${SAFEURL_IN_NETNS:-}" ]; then
  command -v unshare >/dev/null || { echo "FATAL: unshare is not installed" >&2; exit 1; }
  exec unshare --net --mount env SAFEURL_IN_NETNS=1 bash -c \
    'mount --make-rprivate / && ip link set lo up && exec bash "$0" "$@"' "$0"
fi
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_worker.sh"
command -v slirp4netns >/dev/null || die "slirp4netns is not installed (scripts/deps.sh installs it)"

. "$S/tests/fixtures/world_ns.sh"

make_world
at_exit "kill $WORLD"
expect_eq "the host has only loopback and the veth" "lo sfu0" "$(links)"
expect_eq "the world has only loopback and the veth" "lo sfu1" "$(inw bash -c "$(declare -f links); links")"
world_site_and_traps
# The listeners work: from the host itself each sees its connection.
for a in "$INSIDE_ADDR" "$META_ADDR" "$HOST_ADDR" 127.0.0.1; do
  curl -s -o /dev/null --max-time 2 "http://$a:8080/" || true
done
expect_eq "the world's listener sees the host" 2 "$(wc -l < "$T/world-trap")"
expect_eq "the host's listener sees the host" 2 "$(wc -l < "$T/host-trap")"
: > "$T/world-trap"
: > "$T/host-trap"

ensure_fetcher_image
FETCHER_ROOT=$FETCHER_ROOTFS
export CONTAINER_NETWORK_MODE=bridge
fetch() { FETCHER_ROOTFS=$FETCHER_ROOT FETCHER_ENTRYPOINT=/usr/bin/safeurl-fetcher drv run -- "$@"; }
box() { FETCHER_ROOTFS=$TESTBOX_ROOT FETCHER_ENTRYPOINT=/testbox drv run -- "$@"; }
doc() { jget "$1" stdout; }
# jpath JSON a.0.b: a nested field.
jpath() {
  python3 -c 'import json,sys
v=json.loads(sys.argv[1])
for k in sys.argv[2].split("."): v=v[int(k)] if isinstance(v,list) else v.get(k)
print(v)' "$1" "$2"
}

# A name resolved and a public page fetched, through the egress network.
out=$(doc "$(fetch --timeout 10000 http://site.test/)")
expect_eq "the public page is fetched" "true 200 safe" \
  "$(jget "$out" ok) $(jget "$out" httpStatus) $(jget "$out" verdict)"
check "the name went through slirp's DNS to the host's resolver" grep -q "^A site.test$" "$T/dns.log"
check "the site saw the fetch" grep -q '"GET / HTTP/1.1" 200' "$T/site.log"

# Network host (tests only) binds the host's resolv.conf, as Docker does.
out=$(doc "$(CONTAINER_NETWORK_MODE=host CONTAINER_ALLOW_HOST_NETWORK=1 fetch --timeout 10000 http://site.test/)")
expect_eq "network host: the name resolves with the host's resolver" "true 200" \
  "$(jget "$out" ok) $(jget "$out" httpStatus)"

# The fetcher's own guard is on in this mode too.
out=$(doc "$(fetch "http://$INSIDE_ADDR:8080/")")
expect_eq "guard on: an internal address is blocked" "blocked BLOCKED_PRIVATE" \
  "$(jget "$out" verdict) $(jpath "$out" reasons.0.code)"

# The guard lowered (test hook): the network itself refuses the rest.
for url in "http://10.0.2.2:8080/" "http://$HOST_ADDR:8080/" "http://$INSIDE_ADDR:8080/" \
           "http://$META_ADDR:8080/" "http://[::1]:8080/"; do
  out=$(doc "$(fetch --allow-addr 0.0.0.0/0 --allow-addr ::/0 --timeout 4000 "$url")")
  expect_eq "guard off: $url is not reached" "false CONNECT_FAILED" \
    "$(jget "$out" ok) $(jpath "$out" error.code)"
done
conn=$(doc "$(box connect "10.0.2.2,8080" "$HOST_ADDR,8080" "$INSIDE_ADDR,8080" "$META_ADDR,8080" \
  "10.1.2.3,8080" "192.168.1.1,8080" "$SITE_ADDR,80" "::1,8080" "2001:4860::1,80" \
  "10.0.2.3,80" "10.0.2.4,80")")
expect_eq "the host's loopback (slirp's gateway) is refused by the filter" ECONNREFUSED "$(jget "$conn" "10.0.2.2,8080")"
for a in "$HOST_ADDR" "$INSIDE_ADDR" "$META_ADDR" 10.1.2.3 192.168.1.1; do
  expect_eq "$a: prohibit route" EACCES "$(jget "$conn" "$a,8080")"
done
expect_eq "slirp's DNS address serves DNS only" ECONNREFUSED "$(jget "$conn" "10.0.2.3,80")"
expect_eq "nothing else of slirp's network is let out" ECONNREFUSED "$(jget "$conn" "10.0.2.4,80")"
expect_eq "the public site connects" ok "$(jget "$conn" "$SITE_ADDR,80")"
expect_eq "no IPv6 way out" ENETUNREACH "$(jget "$conn" "2001:4860::1,80")"
expect_eq "IPv6 is refused by the filter, loopback too" ECONNREFUSED "$(jget "$conn" "::1,8080")"
expect_eq "no listener of the world saw a sandbox" "" "$(cat "$T/world-trap")"
expect_eq "no listener of the host saw a sandbox" "" "$(cat "$T/host-trap")"

# The namespace as the kernel holds it, read while a sandbox runs.
token="t306-live-$$-$RANDOM"
# It lives until killed below, however slow the machine (a loaded one
# took more than 10 s to read all of it).
FETCHER_ROOTFS=$TESTBOX_ROOT FETCHER_ENTRYPOINT=/testbox drv run --timeout-ms 600000 \
  --cancel-after-ms 300000 -- sleep "$token" >/dev/null &
live=$!
wait_for "the live sandbox" 20 pgrep -f "testbox [s]leep $token" || die "the sandbox did not start"
pid=$(pgrep -f "testbox [s]leep $token" | head -1)
check "the sandbox is not in the host's namespace" test "$(readlink "/proc/$pid/ns/net")" != "$(readlink /proc/self/ns/net)"
routes=$(nsenter -t "$pid" -n ip -4 route)
for r in "default via 10.0.2.2 dev tap0" "prohibit 10.0.0.0/8" "prohibit 127.0.0.0/8" \
         "prohibit 169.254.0.0/16" "prohibit $HOST_ADDR" "prohibit 240.0.0.0/4"; do
  expect_match "route: $r" "$r" "$routes"
done
expect_eq "no IPv6 route" "" "$(nsenter -t "$pid" -n ip -6 route | grep -v '^fe80::/64' || true)"
expect_eq "links: loopback and slirp's tap" "lo tap0" "$(nsenter -t "$pid" -n bash -c "$(declare -f links); links")"
rules=$(nsenter -t "$pid" -n nft list table inet safeurl_egress)
expect_match "filter: output policy drop" "hook output priority filter; policy drop" "$rules"
expect_match "filter: input only replies" "hook input priority filter; policy drop;.*ct state established,related accept" "$(tr -d '\n\t' <<<"$rules")"
expect_match "filter: the host's address refused" "$HOST_ADDR" "$rules"
probe=$(nsenter -t "$pid" -n python3 "$S/tests/fixtures/egress_probe.py" 10.0.2.4)
for k in multicast_bound udp_gateway "udp 10.0.2.4"; do
  expect_eq "no seccomp, routes bypassed: $k refused by the filter" EPERM "$(jget "$probe" "$k")"
done
helper=$(pgrep -f "slirp4netns .*/proc/self/fd/5 tap0" | head -1)
check "slirp4netns serves that namespace" test -n "$helper"
check "slirp4netns is in its own process group" test "$(ps -o pgid= -p "$helper" | xargs)" = "$helper"
expect_match "slirp4netns's environment is PATH alone (no tokens)" "^PATH=[^ ]*$" "$(tr '\0' ' ' < "/proc/$helper/environ" | xargs)"
kill -9 "$pid"
wait "$live" || true

# A killed driver leaves no slirp4netns: its exit fd closes with it.
token="t306-crash-$$-$RANDOM"
FETCHER_ROOTFS=$TESTBOX_ROOT FETCHER_ENTRYPOINT=/testbox "$DRV" --host "$TEST_HOST" run \
  --timeout-ms 60000 -- sleep "$token" >/dev/null 2>>"$T/driver.err" &
crashed=$!
wait_for "the sandbox to run" 20 pgrep -f "testbox [s]leep $token" || die "the sandbox did not start"
helper=$(pgrep -P "$crashed" -f slirp4netns | head -1)
check "the driver has its slirp4netns" test -n "$helper"
kill -9 "$crashed"
wait "$crashed" 2>/dev/null || true
check "slirp4netns ends with its worker" wait_for "slirp4netns to exit" 10 bash -c "! kill -0 $helper 2>/dev/null"
check "the sandbox ends with its worker" wait_for "the sandbox to die" 10 bash -c "! pgrep -f 'testbox [s]leep $token'"
remove_ours

# Without slirp4netns the mode says what to install.
out=$(PATH=/nonexistent drv open)
expect_match "slirp4netns missing: named, with the package" \
  "unavailable .*CONTAINER_NETWORK_MODE=bridge needs slirp4netns \(apt-get install slirp4netns\): not found" \
  "$(jget "$out" kind) $(jget "$out" error)"
out=$(CONTAINER_NETWORK_MODE=mynet drv open)
expect_match "a named network is a config error naming what is accepted" \
  "invalid .*CONTAINER_NETWORK_MODE='mynet'.*accepts bridge.*none or host" \
  "$(jget "$out" kind) $(jget "$out" error)"

# A worker on the egress network, the fetcher's guard at its defaults.
start_worker w1 CONTAINER_NETWORK_MODE=bridge FETCHER_ARGS= WORKER_CONCURRENCY=2
wait_for "the worker's egress network" 20 grep -q "egress network up" "$T/w1.log" ||
  die "the worker did not bring up its egress network: $(tail -5 "$T/w1.log")"
# scan URL: submit, wait, print "STATE VERDICT HTTP_STATUS".
scan() {
  local id
  id=$("$CLI" submit "$1") || die "submit $1 failed"
  wait_terminal 60 "$id" || die "scan $id did not end: $(state_of "$id")"
  echo "$(state_of "$id") $(sql "SELECT verdict || ' ' || ifnull(http_status, '-') FROM scan_results WHERE job_id='$id'")"
}
expect_eq "worker: the public page" "COMPLETED safe 200" "$(scan http://site.test/)"
expect_eq "worker: an internal address is blocked" "COMPLETED blocked -" "$(scan "http://$INSIDE_ADDR:8080/")"
helper=$(pgrep -P "${WPID[w1]}" -f slirp4netns | head -1)
check "the worker has its slirp4netns" test -n "$helper"
kill -9 "$helper"
expect_eq "worker: a scan after slirp4netns died" "COMPLETED safe 200" "$(scan http://site.test/)"
check "the worker said it started slirp4netns again" grep -q "slirp4netns pid $helper killed by signal 9: starting it again" "$T/w1.log"
expect_eq "no listener saw a scan" "" "$(cat "$T/world-trap" "$T/host-trap")"
helper=$(pgrep -P "${WPID[w1]}" -f slirp4netns | head -1)
stop_worker w1
expect_eq "the worker exits 0 on SIGTERM" 0 "$WRC"
check "the worker stopped its slirp4netns before exiting" bash -c "! kill -0 $helper 2>/dev/null"

expect_eq "no cgroup of ours is left" 0 "$(ours_left)"
check "driver ran clean under the sanitizers" sanitizer_clean
finish
