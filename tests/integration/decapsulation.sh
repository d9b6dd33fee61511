#!/usr/bin/env bash
# An input's decapsulation-protocol from the configuration to the table: an IPFIX message
# whose records carry the sampled frame (dataLinkFrameSection, IE 315), one VXLAN-encapsulated
# and one not, sent to an input with `decapsulation-protocol: vxlan`, stores the inner flow of
# the first and drops and counts the second (tshark reads the crafted frames the same way).
source "$(dirname "$0")/../tools/lib.sh"
CONFIG="$TMP/akvo.yaml"
write_config "$CONFIG" "" "decapsulation-protocol: vxlan"
start_akvo "$CONFIG"

# One IPFIX message (RFC 7011): template 256 = ingressInterface, egressInterface,
# samplingInterval, dataLinkFrameSection (variable length); two records. The frames are also
# written to a pcap for tshark.
python3 - "$NETFLOW_PORT" "$TMP/frames.pcap" <<'PY'
import socket, struct, sys
def eth(dst, src, etype, payload):
    return dst.to_bytes(6, "big") + src.to_bytes(6, "big") + struct.pack(">H", etype) + payload
def ipv4(src, dst, proto, payload):
    return struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, 64, proto, 0,
                       socket.inet_aton(src), socket.inet_aton(dst)) + payload
def udp(sport, dport, payload):
    return struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload
def tcp(sport, dport, flags):
    return struct.pack(">HHIIBBHHH", sport, dport, 1, 0, 0x50, flags, 65535, 0, 0)
def vxlan(vni, frame):
    return struct.pack(">II", 0x08000000, vni << 8) + frame
inner = eth(0x020000000002, 0x020000000001, 0x0800,
            ipv4("192.0.2.1", "198.51.100.1", 6, tcp(443, 51000, 0x10)))
tunnel = eth(0xAAAA, 0xBBBB, 0x0800,
             ipv4("10.0.0.1", "10.0.0.2", 17, udp(49152, 4789, vxlan(100, inner))))
plain = eth(0xAAAA, 0xBBBB, 0x0800, ipv4("10.0.0.3", "10.0.0.4", 6, tcp(1, 2, 0)))
template = struct.pack(">10H", 256, 4, 10, 4, 14, 4, 34, 4, 315, 0xFFFF)
records = b"".join(struct.pack(">IIIB", 3, 4, 100, len(f)) + f for f in (tunnel, plain))
sets = (struct.pack(">HH", 2, 4 + len(template)) + template +
        struct.pack(">HH", 256, 4 + len(records)) + records)
msg = struct.pack(">HHIII", 10, 16 + len(sets), 1700000000, 0, 1) + sets
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(msg, ("127.0.0.1", int(sys.argv[1])))
with open(sys.argv[2], "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for fr in (tunnel, plain):
        f.write(struct.pack("<IIII", 1700000000, 0, len(fr), len(fr)) + fr)
PY

# tshark reads the tunnel's inner packet as we expect it.
inner=$(tshark -r "$TMP/frames.pcap" -Y vxlan -T fields -E occurrence=l \
  -e ip.src -e ip.dst -e tcp.dstport 2>/dev/null)
[[ "$inner" == $'192.0.2.1\t198.51.100.1\t51000' ]] ||
  fail "tshark reads the crafted tunnel as '$inner'"

wait_for "SELECT count() FROM flows" "1"
got=$(sql "SELECT replaceRegexpOne(toString(SrcAddr), '^::ffff:', ''),
  replaceRegexpOne(toString(DstAddr), '^::ffff:', ''), Proto, SrcPort, DstPort, Bytes, Packets,
  SamplingRate FROM flows")
[[ "$got" == $'192.0.2.1\t198.51.100.1\t6\t443\t51000\t40\t1\t100' ]] || fail "stored flow: $got"
pass "the VXLAN-encapsulated record is stored from its inner packet"
metric() {
  curl -s "http://127.0.0.1:$HTTP_PORT/api/v0/metrics" |
    awk -v m="$1" 'index($0, m) == 1 {s += $NF} END {print s + 0}'
}
dropped=$(metric 'akvo_outlet_decoder_not_encapsulated_total{exporter="127.0.0.1"}')
[[ "$dropped" == 1 ]] || fail "not_encapsulated counter: $dropped"
pass "the record not so encapsulated is dropped and counted"
stop_akvo
