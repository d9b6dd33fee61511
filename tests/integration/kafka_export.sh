#!/usr/bin/env bash
# Export of enriched flows to a second Kafka topic (outlet.kafka-output), read back from a real
# Kafka 4 broker and decoded with protoc against the schema in the repository
# (src/transport/flow.proto): an independent protobuf decoder checks akvo's hand-written encoder.
source "$(dirname "$0")/../tools/lib.sh"
source "$ROOT/tests/tools/kafka_lib.sh"
TOOL="$(dirname "$AKVO")/akvo_kafka_tool"
command -v protoc >/dev/null || fail "protoc not installed (Debian: protobuf-compiler)"
start_kafka

ORCH_HTTP=$(free_port); OUT_HTTP=$(free_port); IN_HTTP=$(free_port); IN_UDP=$(free_port)
KAFKA="kafka: {brokers: [127.0.0.1:$KAFKA_PORT], topic-configuration: {num-partitions: 2}, max-workers: 2}"
orchestrator_config  # $CONFIG: embedded store, $KAFKA, HTTP on $ORCH_HTTP
# The orchestrator creates the enriched topic as configured (Akvorado's kafka-output).
echo "outlet: {kafka-output: {enabled: true, topic: enriched, num-partitions: 3, config-entries: {retention.ms: 3600000}}}" >> "$CONFIG"
outlet_config "$TMP/outlet.yaml" "$OUT_HTTP" "
  clickhouse: {maximum-wait-time: 300ms}
  kafka-output: {enabled: true, topic: enriched}
  metadata:
    providers:
      - type: static
        exporters:
          127.0.0.6/32:
            name: par-edge1
            region: europe
            default: {name: unknown, description: \"\", speed: 1000}
            ifindexes:
              1: {name: Gi0/1, description: \"Transit: Cogent\", speed: 10000, provider: cogent, connectivity: transit, boundary: external}"
netflow_inlet_config "$TMP/inlet.yaml" "$IN_HTTP" "$IN_UDP"
start_role orch orchestrator "$CONFIG" "$ORCH_HTTP"
grep -q "kafka output: created topic enriched-v1 (3 partitions, replication 1)" "$TMP/orch.log" || fail "enriched topic not created by the orchestrator"
"$(bash "$KAFKA_SH" java)" -cp "$(bash "$KAFKA_SH" libs)/*" kafka.admin.ConfigCommand \
  --bootstrap-server "127.0.0.1:$KAFKA_PORT" --entity-type topics --entity-name enriched-v1 --describe 2>/dev/null |
  grep -q "retention.ms=3600000" || fail "enriched topic without its retention"
pass "orchestrator created enriched-v1: 3 partitions, retention 1h"
start_role outlet outlet "$TMP/outlet.yaml" "$OUT_HTTP"
start_role inlet inlet "$TMP/inlet.yaml" "$IN_HTTP"
grep -q "kafka output: enriched flows to enriched-v1" "$TMP/outlet.log" || fail "export not started"

N=300
python3 "$ROOT/tests/tools/kafka_flowgen.py" --target "127.0.0.1:$IN_UDP" --flows $N --rate 3000 \
  --source 127.0.0.6 >/dev/null
wait_for "SELECT count() FROM flows WHERE ExporterAddress = toIPv6('::ffff:127.0.0.6')" "$N" 30
mkdir -p "$TMP/msgs"
got=$("$TOOL" consume "127.0.0.1:$KAFKA_PORT" enriched-v1 $N "$TMP/msgs" 30)
[[ $got -eq $N ]] || fail "read $got of $N exported flows"
for f in "$TMP"/msgs/*.bin; do
  protoc --proto_path="$ROOT/src/transport" --decode=akvo.flow.v1.Flow flow.proto < "$f" || fail "protoc cannot decode $f"
  echo "--"
done > "$TMP/decoded.txt"
# Every flow once, with the fields the flows carried and the enrichment added.
python3 - "$TMP/decoded.txt" "$N" <<'PY' || fail "exported flows differ"
import sys
text, n = open(sys.argv[1]).read(), int(sys.argv[2])
msgs = [m for m in text.split("--\n") if m.strip()]
assert len(msgs) == n, len(msgs)
ports = set()
for m in msgs:
    f = {}
    for line in m.strip().splitlines():
        k, v = line.split(": ", 1)
        f[k] = v.strip('"')
    i = int(f["src_port"]) - 1000
    ports.add(i)
    want = {"dst_port": "80", "proto": "6", "bytes": str(i + 1), "packets": "1", "in_if": "1",
            "out_if": "2", "sampling_rate": "1", "etype": "2048", "exporter_name": "par-edge1",
            "exporter_region": "europe", "in_if_name": "Gi0/1", "in_if_provider": "cogent",
            "in_if_connectivity": "transit", "in_if_boundary": "EXTERNAL", "in_if_speed": "10000",
            "out_if_name": "unknown", "out_if_speed": "1000"}
    for k, v in want.items():
        assert f.get(k) == v, (k, f.get(k), v, m)
    # 16-byte addresses, IPv4-mapped: protoc prints bytes with escapes.
    assert f["exporter_address"].endswith("\\377\\377\\177\\000\\000\\006"), f["exporter_address"]
    assert int(f["time_received"]) > 1700000000
assert ports == set(range(n)), sorted(set(range(n)) - ports)[:10]
print(f"ok: {n} exported flows decoded by protoc with their fields")
PY
[[ $(metric "$OUT_HTTP" akvo_outlet_kafka_output_sent_flows_total) -eq $N ]] || fail "sent counter"
[[ $(metric "$OUT_HTTP" akvo_outlet_kafka_output_dropped_flows_total) -eq 0 ]] || fail "dropped exported flows"
pass "$N enriched flows exported to enriched-v1 and decoded with protoc (flow.proto)"
for r in inlet outlet orch; do stop_role "$r"; done
pass "everyone exits 0 on SIGTERM"
