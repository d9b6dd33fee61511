#!/usr/bin/env bash
# Real exporters from Debian fed a capture of known traffic (IPv4 and IPv6 TCP/UDP/ICMP),
# sent over UDP to akvo: softflowd (NetFlow v5, v9, IPFIX) and pmacctd (nfprobe v9 and
# IPFIX, sfprobe sFlow). For each, the bytes and packets stored per source/destination, with
# the sampling rate applied, must equal what the capture holds (tshark's count).
# softflowd 1.1 and pmacctd say "unsampled" (v5 header 0, read as 1; v9/IPFIX options with
# sampling interval 1). An exporter that says nothing (a real Cisco capture without its
# options, last check) gets outlet.core.default-sampling-rate (3 here), never zero.
source "$(dirname "$0")/../tools/lib.sh"
CONFIG="$TMP/akvo.yaml"
write_config "$CONFIG" "  core:
    default-sampling-rate: 3"
start_akvo "$CONFIG"
CAP="$TMP/traffic.pcap"
python3 "$ROOT/tests/tools/make_traffic.py" "$CAP" --packets 600 --v6 --seed 7
TOTALS="SELECT replaceRegexpOne(toString(SrcAddr), '^::ffff:', ''), replaceRegexpOne(toString(DstAddr), '^::ffff:', ''), sum(Bytes * SamplingRate), sum(Packets * SamplingRate) FROM flows GROUP BY 1, 2 ORDER BY 1, 2"
sql "$TOTALS" > "$TMP/before"

# check NAME SCALE: waits until the flows added since the last check equal the capture x SCALE.
check() {
  python3 "$ROOT/tests/tools/flow_totals.py" capture "$CAP" "$2" > "$TMP/want"
  for _ in $(seq 1 100); do
    sql "$TOTALS" > "$TMP/after" 2>/dev/null || true
    python3 "$ROOT/tests/tools/flow_totals.py" delta "$TMP/before" "$TMP/after" > "$TMP/got"
    cmp -s "$TMP/want" "$TMP/got" && break
    sleep 0.2
  done
  if ! cmp -s "$TMP/want" "$TMP/got"; then
    diff "$TMP/want" "$TMP/got" | head -20 >&2
    fail "$1: totals per source/destination differ from the capture"
  fi
  pass "$1: $(wc -l < "$TMP/want") source/destination pairs, bytes and packets equal the capture's (x$2)"
  cp "$TMP/after" "$TMP/before"
}

# softflowd -r FILE -n HOST:PORT exports every flow and exits at the end of the file (-d keeps
# it in the foreground; `timeout` guards against a hang).
for v in 5 9 10; do
  scale=1
  flows=$(timeout 30 softflowd -d -r "$CAP" -n "127.0.0.1:$NETFLOW_PORT" -v "$v" 2>&1 |
    sed -n 's/^Flows exported: \([0-9]*\).*/\1/p')
  [[ "$flows" -gt 0 ]] || fail "softflowd -v $v exported nothing"
  if [[ $v == 5 ]]; then
    # IPv6 does not fit NetFlow v5: softflowd skips it; compare the IPv4 part only.
    tshark -r "$CAP" -Y ip -w "$TMP/v4.pcap" 2>/dev/null
    saved="$CAP"; CAP="$TMP/v4.pcap"; check "softflowd NetFlow v5 ($flows flows)" 1; CAP="$saved"
  else
    check "softflowd -v $v ($flows flows)" "$scale"
  fi
done

# pmacctd reading the capture, nfprobe (v9 then IPFIX) and sfprobe (sFlow, every packet).
pmacct() {  # pmacct PLUGIN EXTRA-CONFIG
  cat > "$TMP/pmacctd.conf" <<CONF
daemonize: false
pcap_savefile: $CAP
pcap_savefile_wait: false
plugins: $1
$2
CONF
  timeout 30 pmacctd -f "$TMP/pmacctd.conf" > "$TMP/pmacctd.log" 2>&1 || true
}
pmacct nfprobe "nfprobe_receiver: 127.0.0.1:$NETFLOW_PORT
nfprobe_version: 9
nfprobe_timeouts: tcp=1:udp=1:icmp=1:general=1:maxlife=1:expint=1"
check "pmacctd nfprobe NetFlow v9" 1
pmacct nfprobe "nfprobe_receiver: 127.0.0.1:$NETFLOW_PORT
nfprobe_version: 10
nfprobe_timeouts: tcp=1:udp=1:icmp=1:general=1:maxlife=1:expint=1"
check "pmacctd nfprobe IPFIX" 1
# sfprobe drops its last few samples when pmacctd stops at the end of the file: the capture
# gets 40 more packets of a filler pair (192.0.2.250 > 192.0.2.251), left out of the check.
python3 - "$CAP" "$TMP/filled.pcap" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
out = open(sys.argv[2], "wb")
out.write(b)
for i in range(40):
    udp = struct.pack("!HHHH", 9, 9, 8 + 100, 0) + b"f" * 100
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i, 0, 64, 17, 0,
                     bytes([192, 0, 2, 250]), bytes([192, 0, 2, 251])) + udp
    frame = b"\x02\0\0\0\0\x01\x02\0\0\0\0\x02\x08\x00" + ip
    out.write(struct.pack("<IIII", 1700001000, i, len(frame), len(frame)) + frame)
PY
saved="$CAP"; CAP="$TMP/filled.pcap"
pmacct sfprobe "sfprobe_receiver: 127.0.0.1:$SFLOW_PORT
sampling_rate: 1"
CAP="$saved"
filler="WHERE SrcAddr != toIPv6('192.0.2.250')"
TOTALS="${TOTALS/FROM flows/FROM flows $filler}"
check "pmacctd sfprobe sFlow" 1

# No sampling information at all (a new exporter, 127.0.0.2, whose domain has no options):
# the configured default applies.
python3 "$ROOT/tests/tools/pcap_send.py" "127.0.0.1:$NETFLOW_PORT" "$ROOT/../shared/testdata/netflow/template.pcap" \
  "$ROOT/../shared/testdata/netflow/data.pcap" --source 127.0.0.2 >/dev/null
wait_for "SELECT count(), groupUniqArray(SamplingRate) FROM flows WHERE SrcAddr IN (toIPv6('198.38.121.178'), toIPv6('198.38.121.219'), toIPv6('173.194.190.106'), toIPv6('74.125.100.234'))" "4	[3]"
pass "flows without sampling information get default-sampling-rate"
# Per-exporter counters: packets and flows of 127.0.0.1, no sequence loss on loopback.
metrics=$(curl -sf "http://127.0.0.1:$HTTP_PORT/api/v0/metrics")
grep -q 'akvo_outlet_decoder_flows_total{exporter="127.0.0.1"}' <<< "$metrics" || fail "no per-exporter flow counter"  # (not echo | grep -q: pipefail and SIGPIPE)
lost=$(echo "$metrics" | sed -n 's/^akvo_outlet_decoder_sequence_lost_total{exporter="127.0.0.1"} //p')
pass "per-exporter counters exported (sequence gaps counted: ${lost:-0}, from the exporters restarting their sequences between runs)"
