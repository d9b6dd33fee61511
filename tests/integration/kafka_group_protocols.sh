#!/usr/bin/env bash
# The outlets' consumer group on a real Kafka 4 broker with the rebalance protocols other than
# the default (classic, eager roundrobin, which kafka_e2e runs):
#  1. Kafka 4's consumer protocol (KIP-848, kafka.options {group.protocol: consumer}): two
#     outlets share the 4 partitions, a capture through them equals tshark's; outlet2 stops
#     (SIGTERM) and outlet1 takes its partitions while keeping its own; the capture again;
#  2. the classic protocol with a cooperative assignor (cooperative-sticky), in the same group,
#     which Kafka 4 converts back once its consumer-protocol members are gone (the committed
#     offsets carry over: nothing is read twice): the same.
source "$(dirname "$0")/../tools/lib.sh"
source "$ROOT/tests/tools/kafka_lib.sh"
start_kafka

ORCH_HTTP=$(free_port); IN_HTTP=$(free_port); IN_UDP=$(free_port)
OUT1_HTTP=$(free_port); OUT2_HTTP=$(free_port)
BASE="kafka: {brokers: [127.0.0.1:$KAFKA_PORT], topic-configuration: {num-partitions: 4}, max-workers: 2, partitioning: random"
KAFKA="$BASE}"
orchestrator_config  # $CONFIG: embedded store, $KAFKA, HTTP on $ORCH_HTTP
netflow_inlet_config "$TMP/inlet.yaml" "$IN_HTTP" "$IN_UDP"
start_role orch orchestrator "$CONFIG" "$ORCH_HTTP"
start_role inlet inlet "$TMP/inlet.yaml" "$IN_HTTP"
CAP="$ROOT/../shared/testdata/netflow/nfv5.pcap"
want=$(tshark_totals "$CAP" 9990)
# times N: the capture's totals N times over.
times() { awk -F'\t' -v n="$1" '{ printf "%d\t%d\t%d", n * $1, n * $2, n * $3 }' <<< "$want"; }
assigned() { metric "$1" akvo_outlet_kafka_assigned_partitions; }

# group NAME ROUND OPTIONS: two outlets (logs NAME_1 and NAME_2) of the consumer group
# "outlets" with these kafka options share the partitions; the capture goes through them
# (ROUND times in the store in all); outlet2 stops and outlet1 ends with all four partitions,
# never having given up its own.
group() {
  local name=$1 round=$2 options=$3 a b
  KAFKA="$BASE, consumer-group: outlets, options: $options}"
  outlet_config "$TMP/$name-1.yaml" "$OUT1_HTTP"
  outlet_config "$TMP/$name-2.yaml" "$OUT2_HTTP"
  start_role "${name}_1" outlet "$TMP/$name-1.yaml" "$OUT1_HTTP"
  start_role "${name}_2" outlet "$TMP/$name-2.yaml" "$OUT2_HTTP"
  for _ in $(seq 1 200); do
    a=$(assigned "$OUT1_HTTP"); b=$(assigned "$OUT2_HTTP")
    [[ $((a + b)) -eq 4 && $a -gt 0 && $b -gt 0 ]] && break
    sleep 0.2
  done
  [[ $((a + b)) -eq 4 && $a -gt 0 && $b -gt 0 ]] ||
    { tail -5 "$TMP/${name}_1.log" "$TMP/${name}_2.log" >&2; fail "$name: partitions not spread over both outlets ($a, $b)"; }
  pass "$name: outlet1 has $a partitions, outlet2 has $b"
  python3 "$ROOT/tests/tools/pcap_send.py" "127.0.0.1:$IN_UDP" "$CAP" >/dev/null
  wait_for "SELECT count(), sum(Bytes), sum(Packets) FROM flows" "$(times "$round")" 30
  pass "$name: the capture through both outlets equals tshark's decode"
  local lines t0
  lines=$(wc -l < "$TMP/${name}_1.log")
  stop_role "${name}_2"
  t0=$(date +%s%N)
  for _ in $(seq 1 300); do [[ $(assigned "$OUT1_HTTP") -eq 4 ]] && break; sleep 0.05; done
  [[ $(assigned "$OUT1_HTTP") -eq 4 ]] || fail "$name: outlet1 holds $(assigned "$OUT1_HTTP") partitions"
  local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  # Incremental: outlet1 was added outlet2's partitions, none of its own was revoked.
  tail -n +$((lines + 1)) "$TMP/${name}_1.log" > "$TMP/${name}_1.after"
  grep -q "kafka: added partitions" "$TMP/${name}_1.after" || fail "$name: no partitions added to outlet1"
  ! grep -q "revoked" "$TMP/${name}_1.after" || fail "$name: outlet1 gave partitions up: $(grep revoked "$TMP/${name}_1.after")"
  python3 "$ROOT/tests/tools/pcap_send.py" "127.0.0.1:$IN_UDP" "$CAP" >/dev/null
  wait_for "SELECT count(), sum(Bytes), sum(Packets) FROM flows" "$(times $((round + 1)))" 30
  stop_role "${name}_1"
  pass "$name: outlet2 stopped, outlet1 took all 4 partitions $ms ms after its exit without giving its own up, the capture again"
}

group kip848 1 "{group.protocol: consumer}"
grep -q "group outlets, consumer protocol" "$TMP/kip848_1.log" || fail "the outlet does not say its protocol"
group coop 3 "{partition.assignment.strategy: cooperative-sticky}"
grep -q "group outlets, classic protocol" "$TMP/coop_1.log" || fail "the outlet does not say its protocol"
stop_role inlet
stop_role orch
pass "clean exits"
