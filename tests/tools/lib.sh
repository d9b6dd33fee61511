# Shared helpers for the integration tests (sourced). Each test gets its own temporary folder,
# its own store and free loopback ports, and stops everything it started on exit.
set -euo pipefail
AKVO="${1:?usage: $0 path/to/akvo}"
AKVO="$(realpath "$AKVO")"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TMP="$(mktemp -d /tmp/akvo-it.XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [[ -n "$p" ]] && kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]:-}"; do [[ -n "$p" ]] && wait "$p" 2>/dev/null || true; done
  [[ "${KEEP_TMP:-}" == 1 ]] || rm -rf "$TMP"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; [[ -f "$TMP/akvo.log" ]] && tail -30 "$TMP/akvo.log" >&2; exit 1; }
pass() { echo "ok: $*"; }

free_port() {  # a free port (UDP and TCP) on loopback, never one this test was already given
  # The kernel may hand the same ephemeral port to two calls in a row once the first probe
  # socket is closed (CI once got PLAINTEXT and CONTROLLER on one port), so every port given
  # out is remembered in $TMP/.ports and skipped.
  PORTS_FILE="$TMP/.ports" python3 -c 'import os, socket
f=os.environ["PORTS_FILE"]
used=set(open(f).read().split()) if os.path.exists(f) else set()
while True:
    s=socket.socket(); s.bind(("127.0.0.1",0)); p=s.getsockname()[1]
    u=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1",p))
    except OSError: continue
    if str(p) in used: continue
    open(f,"a").write("%d\n" % p); print(p); break'
}

# write_config FILE [extra yaml] [netflow input options]: a config on free ports with the store in
# $TMP/data.
NETFLOW_PORT=$(free_port); SFLOW_PORT=$(free_port); HTTP_PORT=$(free_port)
write_config() {
  cat > "$1" <<YAML
clickhouse:
  path: $TMP/data
http:
  listen: 127.0.0.1:$HTTP_PORT
inlet:
  flow:
    inputs:
      - {decoder: netflow, listen: "127.0.0.1:$NETFLOW_PORT"${3:+, $3}}
      - {decoder: sflow, listen: "127.0.0.1:$SFLOW_PORT"}
outlet:
  clickhouse:
    maximum-wait-time: 1s
${2:-}
YAML
}

AKVO_PID=""
start_akvo() {  # start_akvo CONFIG: runs all-in-one in the background, waits for its API
  "$AKVO" -c "$1" >> "$TMP/akvo.log" 2>&1 &
  AKVO_PID=$!
  PIDS+=("$AKVO_PID")
  for _ in $(seq 1 300); do
    curl -sf "http://127.0.0.1:$HTTP_PORT/api/v0/healthcheck" >/dev/null 2>&1 && return 0
    kill -0 "$AKVO_PID" 2>/dev/null || fail "akvo exited at start"
    sleep 0.1
  done
  fail "akvo did not answer on port $HTTP_PORT"
}
stop_akvo() {  # SIGTERM and wait: must exit 0
  kill -TERM "$AKVO_PID"
  local rc=0
  wait "$AKVO_PID" || rc=$?
  [[ $rc -eq 0 ]] || fail "akvo exited with $rc on SIGTERM"
}
sql() { "$AKVO" sql -c "$CONFIG" "$@"; }

# wait_for SQL EXPECTED [seconds]: polls until the query prints EXPECTED.
wait_for() {
  local got=""
  for _ in $(seq 1 $((${3:-30} * 5))); do
    got=$(sql "$1" 2>/dev/null || true)
    [[ "$got" == "$2" ]] && return 0
    sleep 0.2
  done
  fail "$1: expected $2, got $got"
}

# tshark_totals CAPTURE PORT: "flows<TAB>bytes<TAB>packets" of the NetFlow in CAPTURE as tshark
# (an independent decoder) reads it, the datagrams being sent to PORT.
tshark_totals() {
  tshark -r "$1" -d "udp.port==$2,cflow" -T fields -e cflow.octets -e cflow.packets 2>/dev/null |
    python3 -c 'import sys
o=p=n=0
for line in sys.stdin:
    a,b=line.rstrip("\n").split("\t")
    for x,y in zip(a.split(","),b.split(",")):
        o+=int(x); p+=int(y); n+=1
print(f"{n}\t{o}\t{p}")'
}

# add_demo_enrichment CONFIG SNMP_PORT: the enrichment `make run` uses for the demo routers
# (SNMP on SNMP_PORT, Akvorado's shipped classifiers), added to the outlet section of CONFIG.
add_demo_enrichment() {
  python3 - "$1" "$2" <<'PY'
import sys
p, port = sys.argv[1], sys.argv[2]
text = open(p).read()
text = text.replace("outlet:\n", f"""outlet:
  metadata:
    providers:
      - type: snmp
        ports: {{127.0.0.0/8: {port}}}
        poller-timeout: 500ms
  core:
    exporter-classifiers:
      - ClassifySiteRegex(Exporter.Name, "^([^-]+)-", "$1")
    interface-classifiers:
      - ClassifyConnectivityRegex(Interface.Description, "(?i)(transit|pni|ppni|ix):? ", "$1") && ClassifyProviderRegex(Interface.Description, "[^ ]+ ([^ ]+)", "$1") && ClassifyExternal()
      - ClassifyInternal()
""", 1)
open(p, "w").write(text)
PY
}

# start_demo: all-in-one ($CONFIG) with 2 demo routers answering SNMP on $SNMP_PORT and the
# enrichment of `make run`, until flows with both routers' names are stored.
start_demo() {
  SNMP_PORT=$(free_port)
  CONFIG="$TMP/akvo.yaml"
  write_config "$CONFIG" "demo-exporter:
  enabled: true
  target: 127.0.0.1:$NETFLOW_PORT
  flows-per-second: 400
  routers: 2
  snmp-port: $SNMP_PORT"
  add_demo_enrichment "$CONFIG" "$SNMP_PORT"
  start_akvo "$CONFIG"
  wait_for "SELECT uniqExact(ExporterName) FROM flows WHERE ExporterName != ''" "2" 40
}
