#!/usr/bin/env bash
# t416: what Prometheus and Grafana get. A live worker's /metrics passes
# `promtool check metrics` and carries every metric SPEC §8 names (a
# completed scan, a validation failure, a malformed job, the queue depth
# and the dependencies' up gauges read off the HTTP thread); every metric
# the alert rules and the Grafana dashboard query is one the worker really
# exports; contrib/prometheus/alerts.yml passes `promtool check rules` and
# its unit tests (`promtool test rules`: each alert fires on its trouble,
# none on a healthy fleet); the dashboard JSON is valid against the
# dashboard model it needs (no runnable Grafana in Debian 12 or npm).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_worker.sh"
command -v promtool >/dev/null || die "promtool is not installed (Debian package prometheus; scripts/deps.sh test)"
ALERTS=$S/contrib/prometheus/alerts.yml
DASH=$S/contrib/grafana/safeurl.json

run promtool check rules "$ALERTS"
expect_eq "promtool check rules passes" 0 "$RC"
expect_match "six rules" "SUCCESS: 6 rules found" "$OUT"
run bash -c "cd '$S/tests/prometheus' && promtool test rules alerts_test.yml"
expect_eq "promtool test rules passes" 0 "$RC"
[ "$RC" = 0 ] || echo "$OUT $ERR" >&2
run python3 -c '
import json, sys, jsonschema
d = json.load(open(sys.argv[1]))
jsonschema.validate(d, json.load(open(sys.argv[2])))
ids = [p["id"] for p in d["panels"]]
assert len(ids) == len(set(ids)), "panel ids repeat"
for p in d["panels"]:
    g = p["gridPos"]
    assert g["x"] + g["w"] <= 24, "panel %s wider than the grid" % p["title"]
print(len(ids), "panels")' "$DASH" "$S/tests/prometheus/grafana-dashboard.schema.json"
expect_eq "the dashboard JSON is valid" 0 "$RC"
[ "$RC" = 0 ] || echo "$ERR" >&2

ensure_fetcher_image
start_fixture
HEALTH=$(free_port)
# A generous container deadline: on a loaded machine the benign scan
# must still complete, or the failed count below is off by one.
start_worker w1 HEALTH_PORT="$HEALTH" HEALTH_ADDR=127.0.0.1 CONTAINER_TIMEOUT_MS=120000
ok=$($CLI submit "$SITE/benign")
$BULL add '[{"name":"scan","data":{"url":"ftp://shop.test/x"},"opts":{"jobId":"bad-url"}}]' >/dev/null
redis-cli -p "$REDIS_PORT" hset bull:scan-jobs:bad-opts name scan data '{}' opts 'attempts=3' \
  timestamp "$(date +%s%3N)" >/dev/null
redis-cli -p "$REDIS_PORT" lpush bull:scan-jobs:wait bad-opts >/dev/null
redis-cli -p "$REDIS_PORT" zadd bull:scan-jobs:marker 0 0 >/dev/null
wait_terminal 180 "$ok" || die "the scan did not finish"
expect_eq "the benign scan completed" "COMPLETED|" \
  "$(sqlite3 -cmd '.timeout 5000' "$DB" "SELECT state, error_code || ' ' || error_message FROM scan_jobs WHERE id='$ok'")"
scrape() { curl -s "http://127.0.0.1:$HEALTH/metrics" >"$T/metrics.txt"; }
settled() {
  scrape && grep -q '^safeurl_queue_jobs{state="failed"} 2$' "$T/metrics.txt" &&
    grep -q '^safeurl_up{dependency="engine"} 1$' "$T/metrics.txt" &&
    grep -q '^safeurl_up{dependency="database"} 1$' "$T/metrics.txt"
}
wait_for "the gauges to show both failed jobs and the dependencies up" 60 settled ||
  grep -E '^safeurl_(queue_jobs|up)\{' "$T/metrics.txt" >&2
scrape
m=$(cat "$T/metrics.txt")

run promtool check metrics <"$T/metrics.txt"
expect_eq "promtool check metrics finds nothing to fix" "0 " "$RC $OUT$ERR"
expect_match "build info" '^safeurl_build_info\{version="[0-9.]+",runtime="docker",queue="bull:scan-jobs"\} 1$' "$m"
expect_match "the completed scan" '^safeurl_jobs_total\{outcome="completed"\} 1$' "$m"
expect_match "the validation failure, by code" '^safeurl_scan_failures_total\{error_code="VALIDATION_ERROR"\} 1$' "$m"
expect_match "the malformed job, failed by the loop" '^safeurl_loop_failed_total\{reason="malformed"\} 1$' "$m"
expect_match "histograms carry the runtime" '^safeurl_scan_duration_seconds_count\{runtime="docker"\} 2$' "$m"
expect_match "spawn histogram with the runtime" '^safeurl_container_spawn_seconds_count\{runtime="docker"\} 1$' "$m"
expect_match "redis up" '^safeurl_up\{dependency="redis"\} 1$' "$m"
expect_match "queue depth: nothing waiting" '^safeurl_queue_jobs\{state="waiting"\} 0$' "$m"
for c in abandoned infra_retries engine_stalls db_retries redis_reconnects reconciled; do
  expect_match "counter safeurl_${c}_total" "^safeurl_${c}_total 0$" "$m"
done
check "every metric has a HELP text" python3 -c '
import re, sys
t = open(sys.argv[1]).read()
types = set(re.findall(r"^# TYPE (\S+)", t, re.M))
helps = set(re.findall(r"^# HELP (\S+) \S", t, re.M))
sys.exit(0 if types and types == helps else 1)' "$T/metrics.txt"

# Every metric the alerts and the dashboard name is exported (up is
# Prometheus's own per-target series).
run python3 -c '
import json, re, sys
exported = set(re.findall(r"^# TYPE (\S+)", open(sys.argv[1]).read(), re.M))
exprs = [t["expr"] for p in json.load(open(sys.argv[2]))["panels"] for t in p["targets"]]
exprs.append(open(sys.argv[3]).read())
bad = set()
named = set()
for e in exprs:
    for n in re.findall(r"\b(safeurl_[a-z0-9_]+)", e):
        base = re.sub(r"_(bucket|sum|count)$", "", n) if n not in exported else n
        named.add(base)
        if base not in exported:
            bad.add(n)
print(len(named), "metrics named;", "missing:", " ".join(sorted(bad)) or "none")
sys.exit(1 if bad or len(named) < 10 else 0)' "$T/metrics.txt" "$DASH" "$ALERTS"
echo "# $OUT"
expect_eq "the alerts and the dashboard query only exported metrics" 0 "$RC"

stop_worker w1
expect_eq "worker exits 0" 0 "$WRC"
check "no sanitizer report" logs_clean w1
finish
