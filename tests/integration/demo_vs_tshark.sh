#!/usr/bin/env bash
# The demo exporter's NetFlow v9 and IPFIX, captured as a router's export would be: tshark's
# independent decode of every flow (addresses, ports, protocol, bytes, packets) equals
# `akvo decode`'s, and every flow the demo counted as sent is in the capture.
source "$(dirname "$0")/../tools/lib.sh"
for protocol in netflow-v9 ipfix; do
  PORT=$(free_port); HTTP=$(free_port)
  python3 "$ROOT/tests/tools/udp_to_pcap.py" "$PORT" 4 "$TMP/$protocol.pcap" > "$TMP/$protocol.count" &
  CAP=$!
  sleep 0.5
  cat > "$TMP/$protocol.yaml" <<YAML
http: {listen: 127.0.0.1:$HTTP}
demo-exporter: {enabled: true, target: 127.0.0.1:$PORT, protocol: $protocol, flows-per-second: 400, snmp-port: 0}
YAML
  "$AKVO" demo-exporter -c "$TMP/$protocol.yaml" > "$TMP/$protocol.log" 2>&1 &
  DEMO=$!; PIDS+=("$DEMO")
  sleep 2.5
  sent=$(curl -sf "http://127.0.0.1:$HTTP/api/v0/metrics" | awk '$1 ~ /^akvo_demo_exporter_flows_total/ { s += $2 } END { print s + 0 }')
  kill -TERM "$DEMO"; wait "$DEMO" || fail "$protocol: demo exited with an error"
  wait "$CAP"
  [[ $(cat "$TMP/$protocol.count") -gt 5 ]] || fail "$protocol: too few datagrams captured"
  want=$(python3 "$ROOT/tests/tools/tshark_flows.py" "$TMP/$protocol.pcap")
  got=$("$AKVO" decode --pcap "$TMP/$protocol.pcap" --format json 2>/dev/null | python3 -c 'import sys, json
rows = []
for l in sys.stdin:
    j = json.loads(l)
    rows.append(" ".join(str(j[k]) for k in ("SrcAddr","DstAddr","SrcPort","DstPort","Proto","Bytes","Packets")))
print("\n".join(sorted(rows)))')
  [[ -n "$want" ]] || fail "$protocol: tshark found no flow"
  if [[ "$got" != "$want" ]]; then
    diff <(echo "$want") <(echo "$got") >&2 || true
    fail "$protocol: akvo decode differs from tshark"
  fi
  n=$(echo "$got" | wc -l)
  [[ $n -ge $sent && $sent -gt 0 ]] || fail "$protocol: $n flows captured, the demo counted $sent sent"
  grep -q ":" <<< "$got" || fail "$protocol: no IPv6 flow"
  pass "$protocol: $n flows (IPv4 and IPv6) from the demo, tshark's decode equals akvo's"
done
