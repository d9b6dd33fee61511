#!/usr/bin/env bash
# An inlet input's rate-limit (Akvorado 2.x's key) reaches the outlet with each datagram: the
# capture's 29 flows, sent within a second to an input limited to 5 flows/s, keep at most 5.
source "$(dirname "$0")/../tools/lib.sh"
CONFIG="$TMP/akvo.yaml"
write_config "$CONFIG" "" "rate-limit: 5"
start_akvo "$CONFIG"
CAP="$ROOT/../shared/testdata/netflow/nfv5.pcap"
sent=$(python3 "$ROOT/tests/tools/pcap_send.py" "127.0.0.1:$NETFLOW_PORT" "$CAP")
[[ "$sent" -gt 0 ]] || fail "nothing sent"
metric() { curl -s "http://127.0.0.1:$HTTP_PORT/api/v0/metrics" | awk -v m="$1" 'index($0, m) == 1 {s += $NF} END {print s + 0}'; }
for _ in $(seq 1 50); do
  dropped=$(metric 'akvo_outlet_core_flows_dropped_by_reason_total{reason="rate_limit"}')
  kept=$(metric 'akvo_outlet_core_flows_total')
  [[ $((dropped + kept)) -ge 29 ]] && break
  sleep 0.2
done
[[ "$kept" -ge 1 && "$kept" -le 5 && $((dropped + kept)) -eq 29 ]] ||
  fail "rate-limit 5: kept $kept, dropped $dropped of 29"
wait_for "SELECT count() FROM flows" "$kept"
pass "input rate-limit: kept $kept of 29 flows sent in one second, $dropped dropped and counted"
stop_akvo
