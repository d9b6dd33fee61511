#!/usr/bin/env bash
# The demo exporter's BMP speaker: with routing from BMP and the demo on, the demo's routes
# reach the RIB and the demo's flows get AS paths and communities whose origin is the flow's AS.
source "$(dirname "$0")/../tools/lib.sh"
BMP_PORT=$(free_port)
CONFIG="$TMP/akvo.yaml"
write_config "$CONFIG" "demo-exporter:
  enabled: true
  flows-per-second: 200"
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
metric() { curl -sf "http://127.0.0.1:$HTTP_PORT/api/v0/metrics" | awk -v m="$1" '$1==m {print $2}'; }
for _ in $(seq 1 100); do [[ "$(metric akvo_outlet_routing_rib_routes)" == 332 ]] && break; sleep 0.1; done
[[ "$(metric akvo_outlet_routing_rib_routes)" == 332 ]] ||
  fail "RIB has $(metric akvo_outlet_routing_rib_routes) routes, want the demo's 332"
pass "the demo's 332 routes are in the RIB"
# Flows sent after the routes arrived: their AS path ends with their destination AS.
wait_for "SELECT count() > 0 FROM flows WHERE length(DstASPath) > 0" "1" 30
got=$(sql "SELECT countIf(DstASPath[-1] != DstAS), countIf(length(DstCommunities) = 0), countIf(DstASPath[1] != 64497) FROM flows WHERE length(DstASPath) > 0")
[[ "$got" == $'0\t0\t0' ]] || fail "AS path / communities inconsistent: $got"
pass "demo flows carry AS paths ending with their DstAS, from peer AS 64497, with communities"
