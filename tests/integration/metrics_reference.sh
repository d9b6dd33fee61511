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
python3 - "$TMP/metrics" "$DOC" <<'PY' || fail "metrics missing from docs/12-metrics.md"
import re, sys
text, doc = open(sys.argv[1]).read(), open(sys.argv[2]).read()
rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `(akvo_[a-z0-9_]+)` \| [a-z]+ \| ([^|]*) \|", doc, re.M)}
families, labels = set(), {}
for line in text.splitlines():
    if line.startswith("# TYPE "):
        families.add(line.split()[2])
    elif line and not line.startswith("#"):
        name = re.match(r"[a-z0-9_]+", line).group(0)
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and name[: -len(suffix)] in families:
                name = name[: -len(suffix)]
        labels.setdefault(name, set()).update(l for l in re.findall(r'([a-z_]+)="', line) if l != "le")
bad = 0
for name in sorted(families):
    if name not in rows:
        print(f"{name}: not in the reference"); bad += 1
        continue
    listed = set(re.findall(r"`([a-z_]+)`", rows[name]))
    if labels.get(name, set()) != listed:
        print(f"{name}: labels {sorted(labels.get(name, set()))}, the reference says {sorted(listed)}"); bad += 1
print(f"{len(families)} metrics exposed, {len(rows)} in the reference")
sys.exit(1 if bad else 0)
PY
pass "every metric the all-in-one exposes is in the reference, with its labels"
