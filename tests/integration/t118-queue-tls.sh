#!/usr/bin/env bash
# t118: TLS to Redis (REDIS_TLS=1, REDIS_TLS_CA_FILE) with an ACL user, as
# managed Redis services require, against Debian's redis-server with only
# a --tls-port open (certificates made here by openssl, the server's for
# IP 127.0.0.1). The producer adds jobs and the worker consumes them over
# TLS; the server then requires client certificates and the worker
# presents one (REDIS_TLS_CERT_FILE, REDIS_TLS_KEY_FILE). A CA that did
# not sign the server's certificate stops the worker and `safeurl
# submit` with exit 78 naming REDIS_TLS_CA_FILE; so does a wrong password
# (naming REDIS_PASSWORD); plain TCP to the TLS port never consumes.
. "$(dirname "$0")/lib.sh"
. "$S/tests/interop/queue_lib.sh"
cd "$T"
command -v openssl >/dev/null || die "openssl is not installed (scripts/deps.sh)"
command -v redis-server >/dev/null || die "redis-server is not installed (scripts/deps.sh)"
export QUEUE_NAME=tls

# CA, server certificate for 127.0.0.1, a client certificate, a stranger CA.
mkcert() { # NAME CA SUBJ [EXT]
  openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -subj "/CN=$3" -out "$1.csr" 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial -days 2 \
    ${4:+-extfile "$4"} -out "$1.crt" 2>/dev/null
}
for ca in ca stranger; do
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$ca.key" -subj "/CN=$ca test CA" \
    -days 2 -out "$ca.crt" 2>/dev/null || die "openssl could not make a CA"
done
printf 'subjectAltName=IP:127.0.0.1\n' >san.ext
mkcert server ca 127.0.0.1 san.ext
mkcert client ca t118-client
[ -s server.crt ] && [ -s client.crt ] || die "openssl could not sign the certificates"

P=$(free_port)
mkdir -p redis
redis_up() { # tls-auth-clients: no | yes
  redis-server --port 0 --tls-port "$P" --bind 127.0.0.1 --daemonize yes \
    --tls-cert-file "$T/server.crt" --tls-key-file "$T/server.key" --tls-ca-cert-file "$T/ca.crt" \
    --tls-auth-clients "$1" --dir "$T/redis" --save '' --appendonly no \
    --pidfile "$T/redis/pid" --logfile "$T/redis/log" || die "redis-server did not start"
  wait_for "redis pid" 20 test -s "$T/redis/pid" || die "redis wrote no pid"
  at_exit "kill -9 $(cat "$T/redis/pid")"
  wait_for "redis answers over TLS" 20 rcli PING || die "redis does not answer over TLS"
}
rcli() { redis-cli --tls --cacert "$T/ca.crt" --cert "$T/client.crt" --key "$T/client.key" \
  --user scanner --pass tls-pw-1 --no-auth-warning -h 127.0.0.1 -p "$P" "$@"; }
redis_up no
redis-cli --tls --cacert "$T/ca.crt" -h 127.0.0.1 -p "$P" ACL SETUSER scanner on '>tls-pw-1' '~*' '&*' '+@all' >/dev/null
redis-cli --tls --cacert "$T/ca.crt" -h 127.0.0.1 -p "$P" ACL SETUSER default off >/dev/null
export REDIS_HOST=127.0.0.1 REDIS_PORT=$P REDIS_USERNAME=scanner REDIS_PASSWORD=tls-pw-1
export REDIS_TLS=1 REDIS_TLS_CA_FILE=$T/ca.crt

# Wrong CA: configuration (78), named; for the worker and the producer.
set +e
REDIS_TLS_CA_FILE=$T/stranger.crt LOG_FORMAT=json timeout 60 "$B/safeurl-worker" --processor=noop 2>badca.log; WRC=$?
REDIS_TLS_CA_FILE=$T/stranger.crt TURSO_CONNECTION_URL="file:$T/cli.db" "$B/safeurl" submit http://example.test/ >/dev/null 2>badca-submit.log; SRC=$?
set -e
expect_eq "worker exits 78 with a wrong CA" 78 "$WRC"
expect_match "worker names REDIS_TLS_CA_FILE" "certificate is not trusted.*check REDIS_TLS_CA_FILE" "$(cat badca.log)"
check "never consuming with a wrong CA" bash -c "! grep -q consuming badca.log"
expect_eq "submit exits 78 with a wrong CA" 78 "$SRC"
expect_match "submit names REDIS_TLS_CA_FILE" "check REDIS_TLS_CA_FILE" "$(cat badca-submit.log)"
set +e
REDIS_TLS_CA_FILE=$T/missing.crt timeout 60 "$B/safeurl-worker" --processor=noop 2>noca.log; WRC=$?
REDIS_PASSWORD=wrong-pw LOG_FORMAT=json timeout 60 "$B/safeurl-worker" --processor=noop 2>badpw.log; PRC=$?
set -e
expect_eq "exit 78 with a missing CA file" 78 "$WRC"
expect_match "the missing file named" "REDIS_TLS_CA_FILE='$T/missing.crt'" "$(cat noca.log)"
expect_eq "exit 78 with a wrong password over TLS" 78 "$PRC"
expect_match "password refusal named" "WRONGPASS.*check REDIS_USERNAME and REDIS_PASSWORD" "$(cat badpw.log)"
check "no secret logged" bash -c "! grep -q -e wrong-pw -e tls-pw-1 badca.log noca.log badpw.log"

# The producer and the worker over TLS.
for i in 1 2 3 4 5; do
  "$B/tests/queue-add-tool" "t-$i" '{}' >/dev/null || die "queue-add-tool could not add over TLS"
done
start_worker good.log --processor=noop
completed() { [ "$(rcli zcard "bull:$QUEUE_NAME:completed")" = "$1" ]; }
wait_for "5 jobs completed over TLS" 60 completed 5
expect_eq "completed over TLS" 5 "$(rcli zcard "bull:$QUEUE_NAME:completed")"
acl_clients() { rcli CLIENT LIST | grep -v 'cmd=client' | grep -q 'user=scanner'; }
check "the worker's connections are the ACL user's" acl_clients
stop_worker
expect_eq "exit 0" 0 "$WRC"

# Client certificates required: the worker presents its own.
kill "$(cat "$T/redis/pid")"
wait_for "redis stopped" 20 bash -c "! kill -0 $(cat "$T/redis/pid") 2>/dev/null"
rm -f "$T/redis/pid"
redis_up yes
rcli ACL SETUSER scanner on '>tls-pw-1' '~*' '&*' '+@all' >/dev/null
rcli ACL SETUSER default off >/dev/null
export REDIS_TLS_CERT_FILE=$T/client.crt REDIS_TLS_KEY_FILE=$T/client.key
"$B/tests/queue-add-tool" t-6 '{}' >/dev/null || die "queue-add-tool could not add with a client certificate"
start_worker cert.log --processor=noop
wait_for "the job completed with a client certificate" 60 completed 1
expect_eq "completed with a client certificate" 1 "$(rcli zcard "bull:$QUEUE_NAME:completed")"
stop_worker
expect_eq "exit 0 (client certificate)" 0 "$WRC"
check "no secret logged" bash -c "! grep -q tls-pw-1 good.log cert.log"
finish
