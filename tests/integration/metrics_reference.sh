#!/usr/bin/env bash
# The metrics reference (docs/12-metrics.md) is true:
#  1. it is what tests/tools/metrics_reference.py generates from the sources today;
#  2. every metric a running all-in-one exposes (demo routers with SNMP, the console queried)
#     is in it, with the labels it lists.
source "$(dirname "$0")/../tools/lib.sh"
DOC="$ROOT/docs/12-metrics.md"
python3 "$ROOT/tests/tools/metrics_reference.py" --check "$DOC" || fail "docs/12-metrics.md is stale"
pass "docs/12-metrics.md is generated from the sources"

start_demo
curl -sf -X POST -H 'Content-Type: application/json' "http://127.0.0.1:$HTTP_PORT/api/v0/console/graph/line" \
  -d '{"start":"2000-01-01T00:00:00Z","end":"2000-01-01T06:00:00Z","dimensions":["SrcAS"],"limit":5,"points":24}' \
  > /dev/null || fail "graph"
curl -sf "http://127.0.0.1:$HTTP_PORT/api/v0/metrics" > "$TMP/metrics"
python3 "$ROOT/tests/tools/metrics_reference.py" --exposed "$TMP/metrics" "$DOC" ||
  fail "metrics missing from docs/12-metrics.md"
pass "every metric the all-in-one exposes is in the reference, with its labels"
