#!/usr/bin/env bash
# services.sh - start what the demo and the tests need, if it is not running.
# Source it and call ensure_dockerd / ensure_redis PORT, or run it directly
# to start both (Redis on REDIS_PORT, default 6379).

docker_socket() { echo "${DOCKER_SOCKET_PATH:-/var/run/docker.sock}"; }

docker_answers() {
  curl -fsS --max-time 3 --unix-socket "$(docker_socket)" http://localhost/_ping >/dev/null 2>&1
}

ensure_dockerd() {
  docker_answers && return 0
  if [ "$(docker_socket)" != /var/run/docker.sock ]; then
    echo "services: the Docker engine at $(docker_socket) does not answer" >&2
    return 1
  fi
  if ! command -v dockerd >/dev/null; then
    echo "services: dockerd is not installed (run scripts/deps.sh)" >&2
    return 1
  fi
  # A dockerd that was killed leaves its pid file behind and then refuses
  # to start: remove a pid file whose process is gone.
  local pidf=/var/run/docker.pid
  if [ -f "$pidf" ] && ! kill -0 "$(cat "$pidf" 2>/dev/null)" 2>/dev/null; then
    rm -f "$pidf"
  fi
  local cpidf=/var/run/docker/containerd/containerd.pid
  if [ -f "$cpidf" ] && ! kill -0 "$(cat "$cpidf" 2>/dev/null)" 2>/dev/null; then
    rm -f "$cpidf"
  fi
  echo "services: starting dockerd (log: /var/log/safeurl-dockerd.log)"
  # A session of its own (setsid -f): the daemon is no child of the caller,
  # so a script that waits for its children does not wait for it, and it
  # outlives the caller's terminal. It carries no test-run marker either.
  env -u SAFEURL_TEST_RUN -u SAFEURL_TEST_SCOPE \
    setsid -f dockerd --iptables=false >>/var/log/safeurl-dockerd.log 2>&1 </dev/null
  local i
  for i in $(seq 1 120); do
    docker_answers && return 0
    sleep 0.5
  done
  echo "services: dockerd did not answer within 60 s; last lines of /var/log/safeurl-dockerd.log:" >&2
  tail -n 15 /var/log/safeurl-dockerd.log >&2
  return 1
}

ensure_redis() {
  local port=${1:-6379}
  if redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then
    return 0
  fi
  echo "services: starting redis-server on 127.0.0.1:$port"
  mkdir -p /var/lib/safeurl-redis
  env -u SAFEURL_TEST_RUN -u SAFEURL_TEST_SCOPE \
    redis-server --port "$port" --bind 127.0.0.1 --daemonize yes \
    --dir /var/lib/safeurl-redis --save '' --appendonly no \
    --logfile /var/log/safeurl-redis.log
  local i
  for i in $(seq 1 50); do
    redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG && return 0
    sleep 0.1
  done
  echo "services: redis-server did not answer on port $port; see /var/log/safeurl-redis.log" >&2
  return 1
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  ensure_redis "${REDIS_PORT:-6379}"
  ensure_dockerd
fi
