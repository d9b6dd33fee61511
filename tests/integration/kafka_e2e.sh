#!/usr/bin/env bash
# Scale-out end to end on a real Kafka 4 broker (KRaft, one node), with separate processes:
# 1 orchestrator (embedded store, shared over its ClickHouse endpoint), 2 outlets in one
# consumer group (HTTP store), 2 inlets, 1 console.
#  1. a real capture (nfv5.pcap) through Kafka: flows, bytes, packets equal tshark's;
#  2. 30000 distinct flows from 2 exporters over both inlets; kill -9 of one outlet in the
#     middle: the other takes its partitions over, every flow is stored (duplicates listed);
#  3. SIGTERM of everyone: clean exits.
source "$(dirname "$0")/../tools/lib.sh"
source "$ROOT/tests/tools/kafka_lib.sh"
start_kafka

ORCH_HTTP=$(free_port); OUT1_HTTP=$(free_port); OUT2_HTTP=$(free_port)
IN1_HTTP=$(free_port); IN2_HTTP=$(free_port); CONSOLE_HTTP=$(free_port)
IN1_UDP=$(free_port); IN2_UDP=$(free_port)
KAFKA="kafka: {brokers: [127.0.0.1:$KAFKA_PORT], topic-configuration: {num-partitions: 4}, max-workers: 2, partitioning: random}"
orchestrator_config  # $CONFIG: embedded store, $KAFKA, HTTP on $ORCH_HTTP
for i in 1 2; do
  port_var="OUT${i}_HTTP"
  outlet_config "$TMP/outlet$i.yaml" "${!port_var}"
  port_var="IN${i}_HTTP"; udp_var="IN${i}_UDP"
  netflow_inlet_config "$TMP/inlet$i.yaml" "${!port_var}" "${!udp_var}"
done
cat > "$TMP/console.yaml" <<YAML
clickhouse: {servers: ["127.0.0.1:$ORCH_HTTP/clickhouse"]}
http: {listen: 127.0.0.1:$CONSOLE_HTTP}
YAML

start_role orch orchestrator "$CONFIG" "$ORCH_HTTP"
grep -q "created topic flows-v1 (4 partitions" "$TMP/orch.log" || fail "orchestrator did not create the topic"
pass "orchestrator: schema and topic flows-v1 with 4 partitions"
start_role outlet1 outlet "$TMP/outlet1.yaml" "$OUT1_HTTP"
start_role outlet2 outlet "$TMP/outlet2.yaml" "$OUT2_HTTP"
start_role inlet1 inlet "$TMP/inlet1.yaml" "$IN1_HTTP"
start_role inlet2 inlet "$TMP/inlet2.yaml" "$IN2_HTTP"
start_role console console "$TMP/console.yaml" "$CONSOLE_HTTP"
# Both outlets hold partitions before we send.
for _ in $(seq 1 150); do
  a=$(metric "$OUT1_HTTP" akvo_outlet_kafka_assigned_partitions); b=$(metric "$OUT2_HTTP" akvo_outlet_kafka_assigned_partitions)
  [[ $((a + b)) -eq 4 && $a -gt 0 && $b -gt 0 ]] && break
  sleep 0.2
done
[[ $((a + b)) -eq 4 && $a -gt 0 && $b -gt 0 ]] || fail "partitions not spread over both outlets ($a, $b)"
pass "consumer group: outlet1 has $a partitions, outlet2 has $b"

# 1. A real exporter's capture, through inlet1 → Kafka → outlets → store.
CAP="$ROOT/../shared/testdata/netflow/nfv5.pcap"
want=$(tshark_totals "$CAP" 9990)
python3 "$ROOT/tests/tools/pcap_send.py" "127.0.0.1:$IN1_UDP" "$CAP" >/dev/null
wait_for "SELECT count(), sum(Bytes), sum(Packets) FROM flows" "$want" 30
pass "nfv5.pcap through Kafka equals tshark's decode ($want)"
got=$(curl -sf "http://127.0.0.1:$CONSOLE_HTTP/api/v0/sql" -d '{"query":"SELECT count() FROM flows"}')
[[ "$got" == "${want%%$'\t'*}" ]] || fail "console (HTTP store) sees $got flows"
pass "console reads the same store over HTTP ($got flows)"

# 2. Distinct flows from two exporters over both inlets; kill -9 one outlet in the middle.
N=30000
python3 "$ROOT/tests/tools/kafka_flowgen.py" --target "127.0.0.1:$IN1_UDP" --target "127.0.0.1:$IN2_UDP" \
  --flows $((N / 2)) --rate 1500 --source 127.0.0.2 --first 0 > "$TMP/gen1.out" &
G1=$!
python3 "$ROOT/tests/tools/kafka_flowgen.py" --target "127.0.0.1:$IN2_UDP" --target "127.0.0.1:$IN1_UDP" \
  --flows $((N / 2)) --rate 1500 --source 127.0.0.3 --first $((N / 2)) > "$TMP/gen2.out" &
G2=$!
sleep 4
before=$(sql "SELECT count() FROM flows WHERE DstPort = 80 AND Proto = 6")
kill -KILL "$PID_outlet2"; wait "$PID_outlet2" 2>/dev/null || true
pass "outlet2 killed with SIGKILL after $before of $N flows were stored"
wait "$G1" "$G2"
sent=$(( $(cat "$TMP/gen1.out") + $(cat "$TMP/gen2.out") ))
[[ $sent -eq $N ]] || fail "flowgen sent $sent"
received=$(( $(metric "$IN1_HTTP" akvo_inlet_kafka_delivered_datagrams_total) + $(metric "$IN2_HTTP" akvo_inlet_kafka_delivered_datagrams_total) ))
# Every distinct flow arrives; the survivor took every partition.
Q="SELECT uniqExact(SrcAddr, SrcPort) FROM flows WHERE DstPort = 80 AND Proto = 6 AND SrcAddr >= toIPv6('::ffff:10.0.0.0') AND SrcAddr <= toIPv6('::ffff:10.255.255.255')"
wait_for "$Q" "$N" 50
[[ $(metric "$OUT1_HTTP" akvo_outlet_kafka_assigned_partitions) -eq 4 ]] || fail "outlet1 did not take every partition"
total=$(sql "SELECT count() FROM flows WHERE DstPort = 80 AND Proto = 6 AND SrcAddr >= toIPv6('::ffff:10.0.0.0') AND SrcAddr <= toIPv6('::ffff:10.255.255.255')")
dups=$((total - N))
pass "every one of $N flows stored after kill -9 ($received datagrams delivered to Kafka); duplicates: $dups"
if [[ $dups -gt 0 ]]; then
  sql "SELECT ExporterAddress, min(SrcPort), max(SrcPort), count() FROM (SELECT ExporterAddress, SrcAddr, SrcPort, count() c FROM flows WHERE DstPort = 80 AND Proto = 6 GROUP BY ALL HAVING c > 1) GROUP BY ExporterAddress" | sed 's/^/  duplicated: /'
fi
# Duplicates are bounded by what outlet2 had consumed without committing: at most a few batches.
[[ $dups -le $((N / 2)) ]] || fail "too many duplicates ($dups)"

# Each role's metrics are in the reference (docs/12-metrics.md), with their labels.
for port in $IN1_HTTP $OUT1_HTTP $CONSOLE_HTTP $ORCH_HTTP; do
  curl -sf "http://127.0.0.1:$port/api/v0/metrics" > "$TMP/metrics-$port"
  python3 "$ROOT/tests/tools/metrics_reference.py" --exposed "$TMP/metrics-$port" "$ROOT/docs/12-metrics.md" ||
    fail "metrics of the role on port $port missing from docs/12-metrics.md"
done
pass "inlet, outlet, console and orchestrator metrics are in the reference"

# 3. Everyone stops cleanly.
for r in inlet1 inlet2 outlet1 console orch; do stop_role "$r"; done
pass "inlets, outlet, console and orchestrator exit 0 on SIGTERM"

# 4. The orchestrator grows the topic when num-partitions is raised (never shrinks it).
sed -i 's/num-partitions: 4/num-partitions: 6/' "$CONFIG"
start_role orch orchestrator "$CONFIG" "$ORCH_HTTP"
grep -q "topic flows-v1: partitions 4 -> 6" "$TMP/orch.log" || fail "topic not grown to 6 partitions"
stop_role orch
pass "orchestrator grew flows-v1 from 4 to 6 partitions"

# 5. A topic that differs from the configuration in what cannot be changed: said, left alone.
sed -i 's/num-partitions: 6/num-partitions: 4, replication-factor: 2/' "$CONFIG"
start_role orch orchestrator "$CONFIG" "$ORCH_HTTP"
grep -q "topic flows-v1 has a replication factor of 1, 2 configured" "$TMP/orch.log" || fail "no warning for the replication factor"
grep -q "topic flows-v1 has 6 partitions, more than the 4 configured" "$TMP/orch.log" || fail "no warning for the partitions"
stop_role orch
pass "orchestrator warns that flows-v1 has 6 partitions (4 configured) and replication 1 (2 configured)"

# 6. manage-topic: false: the orchestrator creates no topic (here, a new base name).
sed -i 's/topic-configuration:/manage-topic: false, topic: unmanaged, topic-configuration:/' "$CONFIG"
start_role orch orchestrator "$CONFIG" "$ORCH_HTTP"
grep -q "manage-topic is false: topics unmanaged-v1 and unmanaged-v1-templates are left as they are" "$TMP/orch.log" || fail "manage-topic: false not said"
! grep -q "created topic unmanaged" "$TMP/orch.log" || fail "manage-topic: false created a topic"
stop_role orch
pass "manage-topic: false: no topic created"

# 7. Topic properties (config-entries, retention) kept on the existing topic; with strict sync,
#    a property set by hand and not listed is removed. Read back with Kafka's own tool.
describe_topic() {
  "$(bash "$KAFKA_SH" java)" -cp "$(bash "$KAFKA_SH" libs)/*" kafka.admin.ConfigCommand \
    --bootstrap-server "127.0.0.1:$KAFKA_PORT" --entity-type topics --entity-name flows-v1 --describe 2>/dev/null
}
"$(bash "$KAFKA_SH" java)" -cp "$(bash "$KAFKA_SH" libs)/*" kafka.admin.ConfigCommand \
  --bootstrap-server "127.0.0.1:$KAFKA_PORT" --entity-type topics --entity-name flows-v1 --alter \
  --add-config max.message.bytes=2000000 >/dev/null 2>&1 || fail "kafka-configs --alter failed"
describe_topic | grep -q "max.message.bytes=2000000" || fail "the hand-set property is not there"
KAFKA="kafka: {brokers: [127.0.0.1:$KAFKA_PORT], topic-configuration: {num-partitions: 6, retention: 12h, config-entries: {segment.bytes: 104857600}}}"
orchestrator_config
start_role orch orchestrator "$CONFIG" "$ORCH_HTTP"
grep -q "topic flows-v1: properties .*retention.ms: 21600000 -> 43200000" "$TMP/orch.log" || fail "retention not synced"
grep -q "topic flows-v1: properties .*segment.bytes=104857600" "$TMP/orch.log" || fail "segment.bytes not set"
grep -q "topic flows-v1: properties .*max.message.bytes removed (was 2000000)" "$TMP/orch.log" || fail "strict sync did not remove max.message.bytes"
stop_role orch
d=$(describe_topic)
grep -q "retention.ms=43200000" <<< "$d" && grep -q "segment.bytes=104857600" <<< "$d" && ! grep -q "max.message.bytes=2000000" <<< "$d" ||
  fail "the topic's properties are not as configured: $d"
lines=$(grep -c "topic flows-v1: properties" "$TMP/orch.log")
start_role orch orchestrator "$CONFIG" "$ORCH_HTTP"
stop_role orch
[[ $(grep -c "topic flows-v1: properties" "$TMP/orch.log") -eq $lines ]] || fail "properties changed again though in sync"
pass "orchestrator keeps flows-v1's properties as configured (retention 12h, segment.bytes), removes the unlisted one"
