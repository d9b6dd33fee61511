#!/usr/bin/env bash
# 2,500 exporters (one NetFlow v5 datagram each, from 127.1.x.y): every flow is stored, the
# per-exporter metric labels stay bounded (1,000 per worker, the rest under exporter="other"),
# and SIGTERM does not wait for the 2,500 queued SNMP polls.
source "$(dirname "$0")/../tools/lib.sh"
CONFIG="$TMP/akvo.yaml"
write_config "$CONFIG" "" "receive-buffer: 8388608"
start_akvo "$CONFIG"
N=2500
python3 - "$NETFLOW_PORT" "$N" <<'PY'
import socket, struct, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
now = int(time.time())
for i in range(n):
    src = "127.1.%d.%d" % (i // 250, i % 250 + 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    header = struct.pack("!HHIIIIBBH", 5, 1, 1000, now, 0, i, 0, 0, 0)
    record = struct.pack("!4s4s4sHHIIIIHHBBBBHHBBH", socket.inet_aton("10.0.0.1"),
                         socket.inet_aton("10.0.0.2"), bytes(4), 1, 2, 1, 100, 0, 0,
                         1234, 80, 0, 0, 6, 0, 0, 0, 24, 24, 0)
    s.sendto(header + record, ("127.0.0.1", port))
    s.close()
PY
got=""
for _ in $(seq 1 150); do got=$(sql "SELECT count() FROM flows"); [[ "$got" == "$N" ]] && break; sleep 0.2; done
[[ "$got" == "$N" ]] || fail "$got flows of $N; inlet drops: $(curl -s "http://127.0.0.1:$HTTP_PORT/api/v0/metrics" | grep -E "^akvo_inlet.*dropped" | tr "\n" " ")"
curl -s "http://127.0.0.1:$HTTP_PORT/api/v0/metrics" > "$TMP/metrics.txt"
labels=$(grep '^akvo_outlet_decoder_packets_total{' "$TMP/metrics.txt" | grep -o 'exporter="[^"]*"' | sort -u | wc -l)
grep -q 'akvo_outlet_decoder_packets_total{exporter="other"}' "$TMP/metrics.txt" ||
  fail "no exporter=\"other\" label with $N exporters ($labels labels)"
[[ $labels -le 2001 ]] || fail "$labels exporter labels"
pass "$N exporters: every flow stored, $labels exporter labels (bounded)"
t0=$(date +%s)
stop_akvo
[[ $(( $(date +%s) - t0 )) -lt 15 ]] || fail "SIGTERM took $(( $(date +%s) - t0 )) s with SNMP polls queued"
pass "SIGTERM with $N exporters' SNMP polls queued: stopped in $(( $(date +%s) - t0 )) s"
