#!/usr/bin/env bash
# The metrics reference (docs/12-metrics.md) is true:
#  1. it is what tests/tools/metrics_reference.py generates from the sources today;
#  2. every metric a running all-in-one exposes (demo routers with SNMP, the console queried)
#     is in it, with the labels it lists.
source "$(dirname "$0")/../tools/lib.sh"
DOC="$ROOT/docs/12-metrics.md"
python3 "$ROOT/tests/tools/metrics_reference.py" --check "$DOC" || fail "docs/12-metrics.md is stale"
pass "docs/12-metrics.md is generated from the sources"

SNMP_PORT=$(free_port)
CONFIG="$TMP/akvo.yaml"
write_config "$CONFIG" "demo-exporter:
  enabled: true
  target: 127.0.0.1:$NETFLOW_PORT
  flows-per-second: 400
  routers: 2
  snmp-port: $SNMP_PORT"
add_demo_enrichment "$CONFIG" "$SNMP_PORT"
start_akvo "$CONFIG"
wait_for "SELECT uniqExact(ExporterName) FROM flows WHERE ExporterName != ''" "2" 40
curl -sf -X POST -H 'Content-Type: application/json' "http://127.0.0.1:$HTTP_PORT/api/v0/console/graph/line" \
  -d '{"start":"2000-01-01T00:00:00Z","end":"2000-01-01T06:00:00Z","dimensions":["SrcAS"],"limit":5,"points":24}' \
  > /dev/null || fail "graph"
curl -sf "http://127.0.0.1:$HTTP_PORT/api/v0/metrics" > "$TMP/metrics"
python3 "$ROOT/tests/tools/metrics_reference.py" --exposed "$TMP/metrics" "$DOC" ||
  fail "metrics missing from docs/12-metrics.md"
pass "every metric the all-in-one exposes is in the reference, with its labels"
