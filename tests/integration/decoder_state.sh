#!/usr/bin/env bash
# outlet.flow.state-persist-file: templates learned before a restart decode data after it.
source "$(dirname "$0")/../tools/lib.sh"
CONFIG="$TMP/akvo.yaml"
write_config "$CONFIG" "  flow:
    state-persist-file: $TMP/decoder-state.json"
D="$ROOT/../shared/testdata/netflow"
start_akvo "$CONFIG"
python3 "$ROOT/tests/tools/pcap_send.py" "127.0.0.1:$NETFLOW_PORT" "$D/options-template.pcap" \
  "$D/options-data.pcap" "$D/template.pcap" --source 127.0.0.3 >/dev/null
for _ in $(seq 1 50); do  # the outlet has seen them once its counter moved
  curl -sf "http://127.0.0.1:$HTTP_PORT/api/v0/metrics" |
    grep -q 'akvo_outlet_decoder_packets_total{exporter="127.0.0.3"} 3' && break
  sleep 0.1
done
stop_akvo
[[ -s "$TMP/decoder-state.json" ]] || fail "no state file written on stop"
grep -q '"exporter":"127.0.0.3"' "$TMP/decoder-state.json" || fail "state without the exporter"
pass "state saved on stop"
start_akvo "$CONFIG"
grep -q "decoder state loaded" "$TMP/akvo.log" || fail "state not loaded"
python3 "$ROOT/tests/tools/pcap_send.py" "127.0.0.1:$NETFLOW_PORT" "$D/data.pcap" --source 127.0.0.3 >/dev/null
wait_for "SELECT count(), sum(Bytes), any(SamplingRate) FROM flows" "4	5848	30000"
pass "data after the restart decoded with the saved templates and sampling rate"

# A state file past the decoders' bounds (300 domains of one exporter, 1,100 templates in one
# domain) loads within them: what is past them is counted and logged, and the outlet runs.
stop_akvo
python3 - "$TMP/decoder-state.json" <<'PY'
import json, sys
tmpl = lambda i: {"id": i, "options": False, "refreshed": 1, "fields": [[8, 4, 0, False]]}
domains = [{"exporter": "127.0.0.9", "version": 10, "domain": d, "sampling": [],
            "templates": [tmpl(256 + i) for i in range(1100 if d == 1 else 1)]}
           for d in range(1, 301)]
json.dump({"domains": domains, "version": 1}, open(sys.argv[1], "w"))
PY
start_akvo "$CONFIG"
grep -q "refused past the bounds: 76 template ids, 0 sampler ids, 44 domains" "$TMP/akvo.log" ||
  fail "state file bounds not applied on load"
METRICS=$(curl -sf "http://127.0.0.1:$HTTP_PORT/api/v0/metrics")
grep -q 'akvo_outlet_decoder_state_refused_total{kind="domain"} [1-9]' <<<"$METRICS" ||
  fail "refused domains not counted"
pass "a state file past the bounds loads within them (refusals logged and counted)"
