#!/usr/bin/env bash
# Routing from BMP with a real BGP speaker: gobgpd (Debian) exports its Loc-RIB over BMP to
# akvo; routes are injected with the gobgp CLI; NetFlow flows towards those prefixes must be
# stored with the routes' AS path, communities, large communities, origin AS and net mask.
# Then a withdrawal: flows to the withdrawn prefix fall back to the covering route.
source "$(dirname "$0")/../tools/lib.sh"
command -v gobgpd >/dev/null || fail "gobgpd not installed (scripts/deps.sh --test)"
BMP_PORT=$(free_port); GOBGP_API=$(free_port)
CONFIG="$TMP/akvo.yaml"
write_config "$CONFIG" "" 
# outlet.routing goes inside the outlet section written by write_config.
python3 - "$CONFIG" "$BMP_PORT" <<'PY'
import sys
path, port = sys.argv[1], sys.argv[2]
text = open(path).read().replace("outlet:\n", f"""outlet:
  routing:
    provider:
      type: bmp
      listen: 127.0.0.1:{port}
""", 1)
open(path, "w").write(text)
PY
start_akvo "$CONFIG"

cat > "$TMP/gobgpd.toml" <<TOML
[global.config]
  as = 64500
  router-id = "192.0.2.254"
  port = -1
[[bmp-servers]]
  [bmp-servers.config]
    address = "127.0.0.1"
    port = $BMP_PORT
    route-monitoring-policy = "local-rib"
TOML
gobgpd -f "$TMP/gobgpd.toml" --api-hosts "127.0.0.1:$GOBGP_API" --pprof-disable \
  >> "$TMP/gobgpd.log" 2>&1 &
PIDS+=("$!")
gobgp() { command gobgp -p "$GOBGP_API" "$@"; }
for _ in $(seq 1 100); do gobgp global >/dev/null 2>&1 && break; sleep 0.1; done
gobgp global >/dev/null || fail "gobgpd did not start: $(cat "$TMP/gobgpd.log")"

gobgp global rib add -a ipv4 198.51.100.0/24 nexthop 192.0.2.10 aspath 64501,174,64476 \
  community 64500:100,64500:200 large-community 64500:1:2
gobgp global rib add -a ipv4 198.51.100.128/25 nexthop 192.0.2.11 aspath 64502,3356,396919 \
  community 64500:300
gobgp global rib add -a ipv6 2001:db8:77::/48 nexthop 2001:db8::10 aspath 64501,6939,64499 \
  community 64500:600
metric() { curl -sf "http://127.0.0.1:$HTTP_PORT/api/v0/metrics" | awk -v m="$1" '$1==m {print $2}'; }
for _ in $(seq 1 100); do [[ "$(metric akvo_outlet_routing_rib_routes)" == 3 ]] && break; sleep 0.1; done
[[ "$(metric akvo_outlet_routing_rib_routes)" == 3 ]] ||
  fail "RIB has $(metric akvo_outlet_routing_rib_routes) routes, want 3 ($(tail -5 "$TMP/gobgpd.log"))"
pass "gobgpd's 3 routes are in the RIB over BMP"

# Flows from 127.0.0.1 (NetFlow v5 carries no AS path; the AS fields set to 0).
python3 - "$NETFLOW_PORT" <<'PY'
import socket, struct, sys, time
port = int(sys.argv[1])
def v5(flows):
    now = int(time.time())
    h = struct.pack("!HHIIIIBBH", 5, len(flows), 1000, now, 0, 1, 0, 0, 0)
    body = b""
    for src, dst in flows:
        body += struct.pack("!4s4s4sHHIIIIHHBBBBHHBBH", socket.inet_aton(src), socket.inet_aton(dst),
                            b"\0\0\0\0", 1, 2, 10, 1000, 0, 0, 1234, 443, 0, 0x18, 6, 0, 0, 0, 0, 0, 0)
    return h + body
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(v5([("203.0.113.5", "198.51.100.10"), ("203.0.113.5", "198.51.100.200")]), ("127.0.0.1", port))
PY
wait_for "SELECT count() FROM flows" "2"
got=$(sql "SELECT DstAS, DstASPath, DstCommunities, DstNetMask FROM flows WHERE DstAddr = toIPv6('198.51.100.10')")
want="64476	[64501,174,64476]	[$((64500 << 16 | 100)),$((64500 << 16 | 200))]	24"
[[ "$got" == "$want" ]] || fail "198.51.100.10: got '$got', want '$want'"
got=$(sql "SELECT DstAS, DstASPath, DstCommunities, DstNetMask FROM flows WHERE DstAddr = toIPv6('198.51.100.200')")
want="396919	[64502,3356,396919]	[$((64500 << 16 | 300))]	25"
[[ "$got" == "$want" ]] || fail "198.51.100.200: got '$got', want '$want'"
pass "flows carry the AS path, communities, origin AS and mask of the longest prefix"
got=$(sql "SELECT toString(DstLargeCommunities) FROM flows WHERE DstAddr = toIPv6('198.51.100.10')")
want=$(python3 -c 'print("[%d]" % (64500 << 64 | 1 << 32 | 2))')
[[ "$got" == "$want" ]] || fail "large communities: got '$got', want '$want'"
pass "large community 64500:1:2 stored"

# Withdraw the /25: the /24 answers for .200.
gobgp global rib del -a ipv4 198.51.100.128/25
for _ in $(seq 1 100); do [[ "$(metric akvo_outlet_routing_rib_routes)" == 2 ]] && break; sleep 0.1; done
[[ "$(metric akvo_outlet_routing_rib_routes)" == 2 ]] || fail "withdrawal not applied"
python3 - "$NETFLOW_PORT" <<'PY'
import socket, struct, sys, time
port = int(sys.argv[1])
now = int(time.time())
h = struct.pack("!HHIIIIBBH", 5, 1, 1000, now, 0, 2, 0, 0, 0)
body = struct.pack("!4s4s4sHHIIIIHHBBBBHHBBH", socket.inet_aton("203.0.113.6"), socket.inet_aton("198.51.100.201"),
                   b"\0\0\0\0", 1, 2, 10, 1000, 0, 0, 1234, 443, 0, 0x18, 6, 0, 0, 0, 0, 0, 0)
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(h + body, ("127.0.0.1", port))
PY
wait_for "SELECT DstAS, DstNetMask FROM flows WHERE DstAddr = toIPv6('198.51.100.201')" $'64476\t24'
pass "after the withdrawal, the covering /24 answers"
errors=$(curl -sf "http://127.0.0.1:$HTTP_PORT/api/v0/metrics" |
  awk '/^akvo_outlet_routing_bmp_errors_total/ {s += $2} END {print s + 0}')
[[ "$errors" == 0 ]] || fail "$errors BMP messages failed to decode"
pass "no BMP decoding error"
