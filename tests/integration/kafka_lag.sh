#!/usr/bin/env bash
# akvo_outlet_kafka_consumergroup_lag_messages on a real Kafka 4 broker (topic of 2 partitions):
#  1. akvo's consumer (KafkaConsumer, through akvo_kafka_tool lag) in the outlets' group reads
#     the N messages produced as lag before it takes any, then N - 30 once it took 30 and
#     committed them as a stored batch does;
#  2. an outlet of the same group during its startup delay (it takes nothing) reads what the
#     group left: N - 30 plus the M messages produced since;
#  3. the outlet without delay consumes and stores everything: the lag falls to 0;
#  4. datagrams that give no rows (not NetFlow) are committed too: the lag falls to 0 again.
source "$(dirname "$0")/../tools/lib.sh"
source "$ROOT/tests/tools/kafka_lib.sh"
TOOL="$(dirname "$AKVO")/akvo_kafka_tool"
[[ -x "$TOOL" ]] || fail "$TOOL not built"
start_kafka
BROKER="127.0.0.1:$KAFKA_PORT"
ORCH_HTTP=$(free_port); OUT_HTTP=$(free_port)
KAFKA="kafka: {brokers: [$BROKER], topic-configuration: {num-partitions: 2}, max-workers: 1}"
orchestrator_config  # $CONFIG: embedded store, $KAFKA, HTTP on $ORCH_HTTP
lag_outlet_config() {  # lag_outlet_config STARTUP_DELAY
  outlet_config "$TMP/outlet.yaml" "$OUT_HTTP" "{clickhouse: {maximum-wait-time: 500ms}, core: {startup-delay: $1}}"
}
start_role orch orchestrator "$CONFIG" "$ORCH_HTTP"
LAG=akvo_outlet_kafka_consumergroup_lag_messages
# wait_lag WANT SECONDS: the outlet's gauge reads WANT within SECONDS.
wait_lag() {
  local v=""
  for _ in $(seq 1 $(($2 * 5))); do
    v=$(curl -sf "http://127.0.0.1:$OUT_HTTP/api/v0/metrics" | awk -v n=$LAG '$1 == n { print $2 }')
    [[ "$v" == "$1" ]] && return 0
    sleep 0.2
  done
  fail "outlet lag $v, not $1"
}

# 1. N datagrams over both partitions: the template datagram, then 100 of 20 flows each.
python3 "$ROOT/tests/tools/v9_flowgen.py" --flows 2000 --first 0 --out "$TMP/gen1.txt" \
  --template-partition 0 --data-partitions 0,1 >/dev/null
N=$("$TOOL" produce "$BROKER" flows-v1 192.0.2.60 "$TMP/gen1.txt")
[[ $N -eq 101 ]] || fail "produced $N datagrams"
out=$("$TOOL" lag "$BROKER" flows akvo-outlet 30 "$N" $((N - 30)) 60 | grep -E "^(lag|took) ") ||
  fail "lag: $out"
pass "akvo's consumer: lag $N before it took anything, $((N - 30)) once 30 were taken and committed ($(echo $out | tr '\n' ' '))"

# 2. M more, their template first (it may be that of the first ones too: the consumer may have
# taken the first template; the outlet must not hold their data for ever, its offsets would
# wait), then an outlet that takes nothing yet.
python3 "$ROOT/tests/tools/v9_flowgen.py" --flows 400 --first 100000 --out "$TMP/gen2.txt" \
  --template-partition 0 --data-partitions 0,1 >/dev/null
M=$("$TOOL" produce "$BROKER" flows-v1 192.0.2.60 "$TMP/gen2.txt")
[[ $M -eq 21 ]] || fail "produced $M datagrams"
lag_outlet_config 1h
start_role outlet outlet "$TMP/outlet.yaml" "$OUT_HTTP"
wait_lag $((N - 30 + M)) 30
pass "an outlet in its startup delay: lag $((N - 30 + M)) (what the group left)"
stop_role outlet

# 3. The outlet consumes: everything is committed once stored.
lag_outlet_config 0s
start_role outlet outlet "$TMP/outlet.yaml" "$OUT_HTTP"
wait_lag 0 60
# (The second batch's flows: SrcAddr from 10.1.134.160, flow 100000; the first ones are 10.0.x.x.)
wait_for "SELECT count() FROM flows WHERE SrcAddr >= toIPv6('::ffff:10.1.0.0')" 400 30
pass "the outlet consumed and stored: lag 0"

# 4. Datagrams that give no rows (not NetFlow at all): counted as errors, and their offsets
# committed all the same once the outlet is idle. Before, they waited for the next flow and the
# lag stayed at K. The gauge is refreshed every 10 s: after 12 s it has been asked since.
for i in $(seq 1 7); do echo "$((i % 2)) 0063000100000000"; done > "$TMP/junk.txt"
K=$("$TOOL" produce "$BROKER" flows-v1 192.0.2.60 "$TMP/junk.txt")
[[ $K -eq 7 ]] || fail "produced $K datagrams"
for _ in $(seq 1 100); do
  (( $(metric "$OUT_HTTP" akvo_outlet_decoder_errors_total) >= K )) && break
  sleep 0.2
done
(( $(metric "$OUT_HTTP" akvo_outlet_decoder_errors_total) >= K )) || fail "the outlet did not read the $K datagrams"
sleep 12
wait_lag 0 2
pass "$K datagrams without flows: counted as errors, committed, lag 0"
stop_role outlet
stop_role orch
pass "clean exits"
