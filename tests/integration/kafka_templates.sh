#!/usr/bin/env bash
# NetFlow v9 templates and sampling rates shared between outlets through the compacted topic
# flows-v1-templates, on a real Kafka 4 broker: 1 orchestrator (embedded store), 2 outlets in
# one group, random partitioning (the default).
#  1. an exporter's data on partitions 1-3 and its templates (with the sampling options) on
#     partition 0, *after* the data: every flow is decoded and stored exactly once, with the
#     sampling rate; data arrived before its template waited for it;
#  2. through a real inlet (random partitioning), templates sent once then data: same;
#  3. a fresh outlet (new process, no saved state), after both outlets stopped, decodes data
#     whose templates were sent before it started, at once (nothing held).
source "$(dirname "$0")/../tools/lib.sh"
source "$ROOT/tests/tools/kafka_lib.sh"
TOOL="$(dirname "$AKVO")/akvo_kafka_tool"
[[ -x "$TOOL" ]] || fail "$TOOL not built"
start_kafka

ORCH_HTTP=$(free_port); OUT1_HTTP=$(free_port); OUT2_HTTP=$(free_port); OUT3_HTTP=$(free_port)
IN_HTTP=$(free_port); IN_UDP=$(free_port)
KAFKA="kafka: {brokers: [127.0.0.1:$KAFKA_PORT], topic-configuration: {num-partitions: 4}, max-workers: 2}"
orchestrator_config  # $CONFIG: embedded store, $KAFKA, HTTP on $ORCH_HTTP
for i in 1 2 3; do
  port_var="OUT${i}_HTTP"
  outlet_config "$TMP/outlet$i.yaml" "${!port_var}"
done
netflow_inlet_config "$TMP/inlet.yaml" "$IN_HTTP" "$IN_UDP" "receive-buffer: 8388608"

start_role orch orchestrator "$CONFIG" "$ORCH_HTTP"
grep -q "created topic flows-v1-templates (compacted)" "$TMP/orch.log" || fail "orchestrator did not create the templates topic"
start_role outlet1 outlet "$TMP/outlet1.yaml" "$OUT1_HTTP"
start_role outlet2 outlet "$TMP/outlet2.yaml" "$OUT2_HTTP"
for _ in $(seq 1 150); do
  a=$(metric "$OUT1_HTTP" akvo_outlet_kafka_assigned_partitions); b=$(metric "$OUT2_HTTP" akvo_outlet_kafka_assigned_partitions)
  [[ $((a + b)) -eq 4 && $a -gt 0 && $b -gt 0 ]] && break
  sleep 0.2
done
[[ $((a + b)) -eq 4 && $a -gt 0 && $b -gt 0 ]] || fail "partitions not spread over both outlets ($a, $b)"
pass "orchestrator created flows-v1-templates; outlet1 has $a partitions, outlet2 has $b"

# exactly_once SQL WANT: still WANT two seconds later (no late duplicate).
exactly_once() { wait_for "$1" "$2" 30; sleep 2; wait_for "$1" "$2" 1; }

# 1. Data first on partitions 1-3, then the templates on partition 0.
N1=6000
python3 "$ROOT/tests/tools/v9_flowgen.py" --flows $N1 --first 0 --out "$TMP/gen1.txt" \
  --template-partition 0 --data-partitions 1,2,3 --templates last >/dev/null
produced=$("$TOOL" produce "127.0.0.1:$KAFKA_PORT" flows-v1 192.0.2.50 "$TMP/gen1.txt")
[[ $produced -eq $((N1 / 20 + 1)) ]] || fail "produced $produced datagrams"
want="$N1	$N1	$N1"
exactly_once "SELECT count(), uniqExact(SrcAddr, SrcPort), countIf(SamplingRate = 100) FROM flows WHERE ExporterAddress = toIPv6('::ffff:192.0.2.50') AND Proto = 17" "$want"
held=$(( $(metric "$OUT1_HTTP" akvo_outlet_decoder_template_waits_total) + $(metric "$OUT2_HTTP" akvo_outlet_decoder_template_waits_total) ))
expired=$(( $(metric "$OUT1_HTTP" akvo_outlet_decoder_template_wait_expired_total) + $(metric "$OUT2_HTTP" akvo_outlet_decoder_template_wait_expired_total) ))
[[ $held -gt 0 ]] || fail "no datagram waited for its template"
[[ $expired -eq 0 ]] || fail "$expired datagrams decoded without their template"
# Both outlets decoded some of it: the template learned by one was used by the other.
f1=$(metric "$OUT1_HTTP" akvo_outlet_decoder_flows_total); f2=$(metric "$OUT2_HTTP" akvo_outlet_decoder_flows_total)
[[ $f1 -gt 0 && $f2 -gt 0 ]] || fail "one outlet decoded nothing ($f1, $f2)"
pass "templates on partition 0 after the data on 1-3: $N1 flows stored once with sampling rate 100 (outlets decoded $f1 + $f2; $held datagrams waited)"

# 2. Through a real inlet, random partitioning: templates once, then data.
start_role inlet inlet "$TMP/inlet.yaml" "$IN_HTTP"
lost_before=$(( $(metric "$OUT1_HTTP" akvo_outlet_decoder_sequence_lost_total) + $(metric "$OUT2_HTTP" akvo_outlet_decoder_sequence_lost_total) ))
N2=8000
python3 "$ROOT/tests/tools/v9_flowgen.py" --flows $N2 --first 0 --domain 9 --target "127.0.0.1:$IN_UDP" \
  --rate 4000 --source 127.0.0.4 >/dev/null
# (A CI run lost 11 datagrams of 400 here on a loaded machine: the inlet's socket buffer is now
# 8 MB, and drops in the inlet or datagrams given up on after flow.template-wait are printed if
# it happens again.)
sleep 1
kernel=$(metric "$IN_HTTP" akvo_inlet_flow_input_udp_in_dropped_packets_total)
queue=$(metric "$IN_HTTP" akvo_inlet_flow_input_udp_dropped_packets_total)
[[ $kernel -eq 0 && $queue -eq 0 ]] || echo "note: the inlet dropped datagrams: $kernel in the kernel, $queue in its queue"
expired2=$(( $(metric "$OUT1_HTTP" akvo_outlet_decoder_template_wait_expired_total) + $(metric "$OUT2_HTTP" akvo_outlet_decoder_template_wait_expired_total) ))
[[ $expired2 -eq $expired ]] || echo "note: $((expired2 - expired)) datagrams waited longer than flow.template-wait for their template"
exactly_once "SELECT count(), uniqExact(SrcAddr, SrcPort), countIf(SamplingRate = 100) FROM flows WHERE ExporterAddress = toIPv6('::ffff:127.0.0.4') AND Proto = 17" "$N2	$N2	$N2"
pass "inlet (random partitioning) → 2 outlets: $N2 flows stored once with sampling rate 100"
# Each outlet saw part of the sequence: the inlet marked the datagrams spread, so no gap counts.
lost_after=$(( $(metric "$OUT1_HTTP" akvo_outlet_decoder_sequence_lost_total) + $(metric "$OUT2_HTTP" akvo_outlet_decoder_sequence_lost_total) ))
[[ $lost_after -eq $lost_before ]] || fail "sequence losses counted for spread datagrams: $((lost_after - lost_before))"
pass "no sequence loss counted for datagrams spread over the outlets"

# What sharing cost: records published and the produce-to-apply delay seen by the outlets.
pub=$(( $(metric "$OUT1_HTTP" akvo_outlet_kafka_templates_published_total) + $(metric "$OUT2_HTTP" akvo_outlet_kafka_templates_published_total) ))
fol=$(( $(metric "$OUT1_HTTP" akvo_outlet_kafka_templates_followed_total) + $(metric "$OUT2_HTTP" akvo_outlet_kafka_templates_followed_total) ))
dms=$(( $(metric "$OUT1_HTTP" akvo_outlet_kafka_templates_delay_milliseconds_total) + $(metric "$OUT2_HTTP" akvo_outlet_kafka_templates_delay_milliseconds_total) ))
[[ $fol -gt 0 ]] || fail "no template record followed"
echo "  template records published: $pub; followed: $fol; mean produce-to-apply delay: $((dms / fol)) ms"

# 3. A fresh outlet decodes data whose templates were sent before it started.
stop_role inlet
stop_role outlet1
stop_role outlet2
start_role outlet3 outlet "$TMP/outlet3.yaml" "$OUT3_HTTP"
grep -Eq "[1-9][0-9]* templates and [1-9][0-9]* sampling rates read from flows-v1-templates" "$TMP/outlet3.log" ||
  fail "outlet3 did not read the templates topic"
N3=3000
python3 "$ROOT/tests/tools/v9_flowgen.py" --flows $N3 --first $N1 --out "$TMP/gen3.txt" \
  --data-partitions 0,1,2,3 --templates none >/dev/null
"$TOOL" produce "127.0.0.1:$KAFKA_PORT" flows-v1 192.0.2.50 "$TMP/gen3.txt" >/dev/null
exactly_once "SELECT count(), uniqExact(SrcAddr, SrcPort), countIf(SamplingRate = 100) FROM flows WHERE ExporterAddress = toIPv6('::ffff:192.0.2.50') AND Proto = 17" "$((N1 + N3))	$((N1 + N3))	$((N1 + N3))"
[[ $(metric "$OUT3_HTTP" akvo_outlet_decoder_template_waits_total) -eq 0 ]] || fail "the fresh outlet had to wait"
[[ $(metric "$OUT3_HTTP" akvo_outlet_decoder_missing_template_total) -eq 0 ]] || fail "the fresh outlet missed templates"
pass "fresh outlet: $N3 flows of templates sent before it started decoded at once"
stop_role outlet3
stop_role orch
pass "everyone exits 0 on SIGTERM"
