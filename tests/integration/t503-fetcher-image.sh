#!/usr/bin/env bash
# t503: the safeurl-fetcher:latest image, built offline by
# scripts/build-image.sh, runs as a non-root user from a read-only root
# with every capability dropped. With --network none it refuses internal
# destinations (verdict blocked); with --network host it fetches a
# loopback fixture only when the test hooks allow it, and reports TLS and
# registrable-domain facts (CA bundle and public suffix data in the image).
. "$(dirname "$0")/fetcher_lib.sh"
. "$(dirname "$0")/lib.sh"
require_docker

IMG=safeurl-fetcher:latest
out=$("$S/scripts/build-image.sh")
echo "$out"
size=$(docker image inspect -f '{{.Size}}' "$IMG")
# 22 MB: libyara (user YARA rules) and the libraries it maps add about 1.8 MB.
check "image is under 22 MB ($size bytes)" test "$size" -lt 22000000
expect_eq "image runs as the unprivileged user" 10001:10001 "$(docker image inspect -f '{{.Config.User}}' "$IMG")"
check "image has no shell" bash -c "! docker run --rm --network none --entrypoint /bin/sh $IMG -c true 2>/dev/null"

run() { # run NETWORK ARGS...: the fetcher in a locked-down container
  local net=$1; shift
  set +e
  docker run --rm --network "$net" --read-only --cap-drop ALL \
    --security-opt no-new-privileges --pids-limit 64 --memory 256m \
    -v "$T:/fixture:ro" "$IMG" "$@" >"$T/out.json" 2>"$T/err.txt"
  RC=$?
  set -e
  expect_eq "container exit 0 ($*)" 0 "$RC"
  check "schema-valid ($*)" valid_doc
}

for url in http://169.254.169.254/latest/meta-data/ http://2130706433/ \
           "http://[::ffff:10.0.0.1]/" http://metadata.google.internal/ ; do
  run none "$url"
  expect_match "none: $url blocked" "^true blocked BLOCKED_" "$(field ok verdict reasons.code)"
done
expect_match "version" "^safeurl-fetcher [0-9.]+$" "$(docker run --rm --network none "$IMG" --version)"

make_test_ca
chmod a+rx "$T" && chmod a+r "$T/ca.pem" # read by the container's user
start_fixture
run host "http://127.0.0.1:$HP/benign"
expect_eq "host network, no hooks: loopback refused" "blocked BLOCKED_LOOPBACK" "$(field verdict reasons.code)"
run host --allow-loopback --ports 1024-65535 --ca-file /fixture/ca.pem \
  --resolve "secure.test:$SP:127.0.0.1" "https://secure.test:$SP/benign"
expect_eq "host network, hooks: safe page over TLS" "true safe 200" "$(field ok verdict httpStatus)"
expect_match "TLS facts in the image" "^TLSv1\.[23] .*safeurl test CA" "$(field tls.version tls.issuer)"
expect_eq "registrable domain in the image" "secure.test" "$(field facts.registrableDomain)"
run host --allow-loopback --ports 1024-65535 --resolve "benign.test:$HP:127.0.0.1" \
  "http://benign.test:$HP/eicar.com"
expect_eq "EICAR through the image" "malicious" "$(field verdict)"
finish
